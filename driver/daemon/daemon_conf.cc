// Reads virtarrowd.conf (see daemon_conf.h).
#include "driver/daemon/daemon_conf.h"

#include <glib.h>
#include <grp.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "util/i18n.h"

namespace arrow::daemon {

namespace {

struct Setting {
  std::string key;
  std::string value;  // unquoted
  bool quoted = false;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// One `key = value` line (comments and blank lines already skipped).
Result<Setting> parse_line(std::string_view line, const std::string& name, int lineno) {
  size_t eq = line.find('=');
  Setting s;
  if (eq != std::string_view::npos) s.key = std::string(trim(line.substr(0, eq)));
  std::string_view v = eq == std::string_view::npos ? std::string_view{} : trim(line.substr(eq + 1));
  if (size_t hash = v.find('#'); hash != std::string_view::npos && (v.empty() || v.front() != '"')) {
    v = trim(v.substr(0, hash));
  }
  if (s.key.empty() || v.empty()) {
    return make_error(VIR_ERR_CONF_SYNTAX, fmt(_("%1$s:%2$d: expected 'key = value'"), name.c_str(), lineno));
  }
  if (v.front() == '"') {
    size_t close = v.find('"', 1);
    std::string_view rest = close == std::string_view::npos ? "x" : trim(v.substr(close + 1));
    if (!rest.empty() && rest.front() != '#') {
      return make_error(VIR_ERR_CONF_SYNTAX,
                        fmt(_("%1$s:%2$d: bad string value of '%3$s'"), name.c_str(), lineno, s.key.c_str()));
    }
    s.value = std::string(v.substr(1, close - 1));
    s.quoted = true;
  } else {
    s.value = std::string(v);
  }
  return s;
}

Result<gid_t> group_id(const Setting& s, const std::string& name, int lineno) {
  if (const group* g = ::getgrnam(s.value.c_str())) return g->gr_gid;
  char* end = nullptr;
  errno = 0;
  unsigned long n = std::strtoul(s.value.c_str(), &end, 10);
  // gid_t(-1) means "leave the group alone" to chown: never a group.
  if (!s.value.empty() && s.value[0] != '-' && *end == '\0' && errno == 0 && n < UINT32_MAX)
    return static_cast<gid_t>(n);
  return make_error(VIR_ERR_CONF_SYNTAX, fmt(_("%1$s:%2$d: unknown group '%3$s' in '%4$s'"), name.c_str(), lineno,
                                             s.value.c_str(), s.key.c_str()));
}

Result<mode_t> octal_mode(const Setting& s, const std::string& name, int lineno) {
  char* end = nullptr;
  unsigned long n = std::strtoul(s.value.c_str(), &end, 8);
  if (!s.quoted || s.value.empty() || *end != '\0' || n > 0777) {
    return make_error(VIR_ERR_CONF_SYNTAX, fmt(_("%1$s:%2$d: '%3$s' must be an octal mode in quotes, like \"0660\""),
                                               name.c_str(), lineno, s.key.c_str()));
  }
  return static_cast<mode_t>(n);
}

Result<std::string> account_name(const Setting& s, const std::string& name, int lineno) {
  if (!s.quoted || s.value.empty()) {
    return make_error(VIR_ERR_CONF_SYNTAX, fmt(_("%1$s:%2$d: '%3$s' must be a user name or number in quotes"),
                                               name.c_str(), lineno, s.key.c_str()));
  }
  return s.value;
}

Result<unsigned> seconds(const Setting& s, const std::string& name, int lineno) {
  char* end = nullptr;
  errno = 0;
  unsigned long n = std::strtoul(s.value.c_str(), &end, 10);
  if (s.quoted || s.value.empty() || s.value.front() == '-' || *end != '\0' || errno || n == 0 || n > 86400) {
    return make_error(VIR_ERR_CONF_SYNTAX, fmt(_("%1$s:%2$d: '%3$s' must be a number of seconds from 1 to 86400"),
                                               name.c_str(), lineno, s.key.c_str()));
  }
  return static_cast<unsigned>(n);
}

// A whole number from MIN to MAX, unquoted.
Result<long long> number(const Setting& s, const std::string& name, int lineno, long long min, long long max) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(s.value.c_str(), &end, 10);
  if (s.quoted || s.value.empty() || *end != '\0' || errno || n < min || n > max) {
    return make_error(VIR_ERR_CONF_SYNTAX, fmt(_("%1$s:%2$d: '%3$s' must be a number from %4$lld to %5$lld"),
                                               name.c_str(), lineno, s.key.c_str(), min, max));
  }
  return n;
}

// The RPC server's numeric keys and their ranges.
struct NumberKey {
  const char* key;
  long long min, max;
};
constexpr long long kDay = 86400;
constexpr NumberKey kServerKeys[] = {
    {"max_clients", 1, 1000000},
    {"max_anonymous_clients", 0, 1000000},
    {"max_client_requests", 1, 10000},
    {"keepalive_interval", -1, kDay},  // 0 refused below
    {"keepalive_count", 0, 1000},
    {"max_client_output", 65536, 1LL << 30},
    {"client_output_timeout", 1, kDay},
    {"anonymous_timeout", 0, kDay},
    {"client_idle_timeout", 0, 30 * kDay},
    {"max_client_event_callbacks", 1, 100000},
};

// One of kServerKeys into CONF; false when S is none of them.
Result<bool> server_setting(DaemonConf& conf, const Setting& s, const std::string& name, int lineno) {
  const NumberKey* k = nullptr;
  for (const NumberKey& candidate : kServerKeys) {
    if (s.key == candidate.key) k = &candidate;
  }
  if (!k) return false;
  const long long n = TRY(number(s, name, lineno, k->min, k->max));
  rpc::ServerOptions& o = conf.server;
  if (s.key == "max_clients") {
    o.max_clients = static_cast<size_t>(n);
  } else if (s.key == "max_anonymous_clients") {
    o.max_anonymous_clients = static_cast<size_t>(n);
  } else if (s.key == "max_client_requests") {
    o.max_client_requests = static_cast<size_t>(n);
  } else if (s.key == "keepalive_interval") {
    if (n == 0) {
      return make_error(VIR_ERR_CONF_SYNTAX, fmt(_("%1$s:%2$d: 'keepalive_interval' must be -1 (off) or a number "
                                                   "of seconds from 1 to 86400"), name.c_str(), lineno));
    }
    o.keepalive_interval_s = static_cast<int>(n);
  } else if (s.key == "keepalive_count") {
    o.keepalive_count = static_cast<unsigned>(n);
  } else if (s.key == "max_client_output") {
    o.max_client_output = static_cast<size_t>(n);
  } else if (s.key == "client_output_timeout") {
    o.client_output_timeout_s = static_cast<unsigned>(n);
  } else if (s.key == "anonymous_timeout") {
    o.anonymous_timeout_s = static_cast<unsigned>(n);
  } else if (s.key == "client_idle_timeout") {
    o.client_idle_timeout_s = static_cast<unsigned>(n);
  } else {
    conf.max_client_event_callbacks = static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<DaemonConf> parse_daemon_conf(std::string_view text, const std::string& name) {
  DaemonConf conf;
  int lineno = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    lineno++;
    if (line.empty() || line.front() == '#') continue;
    Setting s = TRY(parse_line(line, name, lineno));
    if (s.key == "unix_sock_group") {
      conf.unix_sock_group = TRY(group_id(s, name, lineno));
    } else if (s.key == "unix_sock_rw_perms") {
      conf.unix_sock_rw_perms = TRY(octal_mode(s, name, lineno));
    } else if (s.key == "user") {
      conf.user = TRY(account_name(s, name, lineno));
    } else if (s.key == "boot_timeout") {
      conf.boot_timeout_s = TRY(seconds(s, name, lineno));
    } else if (s.key == "boot_templates") {
      const long long on = TRY(number(s, name, lineno, 0, 1));
      conf.boot_templates = on != 0;
    } else if (s.key == "autoballoon") {
      const long long on = TRY(number(s, name, lineno, 0, 1));
      conf.autoballoon = on == 1;
    } else if (s.key == "autoballoon_margin") {
      const long long mib = TRY(number(s, name, lineno, 1, 1LL << 20));
      conf.autoballoon_margin_mib = static_cast<uint64_t>(mib);
    } else if (s.key == "autoballoon_floor") {
      const long long mib = TRY(number(s, name, lineno, 16, 1LL << 20));
      conf.autoballoon_floor_mib = static_cast<uint64_t>(mib);
    } else if (s.key == "log_max_size") {
      const long long bytes = TRY(number(s, name, lineno, 4096, 1LL << 40));
      conf.log_max_size = static_cast<uint64_t>(bytes);
    } else if (s.key == "log_max_backups") {
      const long long keep = TRY(number(s, name, lineno, 0, 100));
      conf.log_max_backups = static_cast<unsigned>(keep);
    } else {
      const bool known = TRY(server_setting(conf, s, name, lineno));
      if (!known) conf.ignored.push_back(s.key);
    }
  }
  if (conf.server.max_anonymous_clients > conf.server.max_clients) {
    return make_error(VIR_ERR_CONF_SYNTAX,
                      fmt(_("%1$s: 'max_anonymous_clients' (%2$zu) must not be greater than 'max_clients' (%3$zu)"),
                          name.c_str(), conf.server.max_anonymous_clients, conf.server.max_clients));
  }
  return conf;
}

Result<DaemonConf> load_daemon_conf(const std::string& path) {
  gchar* text = nullptr;
  gsize len = 0;
  GError* err = nullptr;
  if (!g_file_get_contents(path.c_str(), &text, &len, &err)) {
    bool missing = g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    std::string why = err->message;
    g_error_free(err);
    if (missing) return DaemonConf{};
    return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot read '%1$s': %2$s"), path.c_str(), why.c_str()));
  }
  Result<DaemonConf> conf = parse_daemon_conf(std::string_view(text, len), path);
  g_free(text);
  return conf;
}

}  // namespace arrow::daemon
