// Reads virtarrowd.conf (see daemon_conf.h).
#include "driver/daemon/daemon_conf.h"

#include <glib.h>
#include <grp.h>

#include <cerrno>
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
  unsigned long n = std::strtoul(s.value.c_str(), &end, 10);
  if (!s.value.empty() && *end == '\0') return static_cast<gid_t>(n);
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
    } else {
      conf.ignored.push_back(s.key);
    }
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
