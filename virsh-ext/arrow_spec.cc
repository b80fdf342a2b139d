// `arrow run`'s option values, program resolution and domain XML (see arrow_spec.h).
#include "virsh-ext/arrow_spec.h"

#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "domain-xml/arrow_xml.h"
#include "driver/api/arrow_names.h"
#include "util/i18n.h"

namespace arrow::cli {

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

bool parse_port(const std::string& s, unsigned& out) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = static_cast<unsigned>(std::stoul(s));
  return out >= 1 && out <= 65535;
}

std::string absolute(const std::string& path, const std::string& cwd) {
  if (!path.empty() && path[0] == '/') return path;
  std::string rel = path;
  while (rel.rfind("./", 0) == 0) rel.erase(0, 2);
  if (rel == ".") return cwd;
  return cwd + (cwd.size() > 1 ? "/" : "") + rel;
}

bool executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<uint64_t> parse_memory_kib(const std::string& text) {
  size_t digits = text.find_first_not_of("0123456789");
  std::string number = text.substr(0, digits), unit = digits == std::string::npos ? "" : text.substr(digits);
  uint64_t scale = 0;
  if (unit.empty() || unit == "M" || unit == "m" || unit == "MiB" || unit == "MB") scale = 1024;
  else if (unit == "G" || unit == "g" || unit == "GiB" || unit == "GB") scale = 1024 * 1024;
  else if (unit == "K" || unit == "k" || unit == "KiB" || unit == "KB") scale = 1;
  if (number.empty() || number.size() > 9 || scale == 0 || std::stoull(number) == 0)
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid memory size '%1$s' for --memory: expected a number with "
                                                 "K, M or G (e.g. 64M)"),
                                               text.c_str()));
  return std::stoull(number) * scale;
}

Result<Share> parse_share(const std::string& text, const std::string& cwd) {
  Share s;
  std::string rest = text;
  if (rest.size() > 3 && (rest.ends_with(":ro") || rest.ends_with(":rw"))) {
    s.readonly = rest.ends_with(":ro");
    rest.resize(rest.size() - 3);
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= rest.size() || rest[colon + 1] != '/')
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid volume '%1$s' for -v: expected HOST:GUEST[:ro] with an "
                                                 "absolute GUEST path"),
                                               text.c_str()));
  s.host = absolute(rest.substr(0, colon), cwd);
  s.guest = rest.substr(colon + 1);
  struct stat st;
  if (::stat(s.host.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(VIR_ERR_NO_SOURCE, fmt(_("volume source '%1$s' is not a directory on the host"),
                                             s.host.c_str()));
  return s;
}

Result<Forward> parse_forward(const std::string& text) {
  Forward f;
  size_t colon = text.find(':');
  if (colon == std::string::npos || !parse_port(text.substr(0, colon), f.host_port) ||
      !parse_port(text.substr(colon + 1), f.guest_port))
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid port forward '%1$s' for -p: expected HOSTPORT:GUESTPORT"),
                                               text.c_str()));
  return f;
}

Result<std::optional<std::pair<std::string, std::string>>> parse_env(const std::string& text) {
  size_t eq = text.find('=');
  std::string key = text.substr(0, eq);
  if (key.empty())
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid variable '%1$s' for -e: expected NAME=VALUE"),
                                               text.c_str()));
  if (eq != std::string::npos) return std::optional(std::make_pair(key, text.substr(eq + 1)));
  const char* host = std::getenv(key.c_str());
  if (!host) return std::optional<std::pair<std::string, std::string>>();
  return std::optional(std::make_pair(key, std::string(host)));
}

Result<std::string> resolve_program(const std::string& program, const std::string& path_env,
                                    const std::string& cwd) {
  if (program.empty())
    return make_error(VIR_ERR_INVALID_ARG, _("no program given: arrow run [OPTIONS] -- PROGRAM [ARGS...]"));
  if (program.find('/') != std::string::npos) {
    std::string path = absolute(program, cwd);
    if (executable_file(path)) return path;
    if (::access(path.c_str(), F_OK) == 0)
      return make_error(VIR_ERR_ACCESS_DENIED, fmt(_("'%1$s' is not an executable file on the host"), path.c_str()));
    return make_error(VIR_ERR_NO_SOURCE, fmt(_("'%1$s': program not found on the host"), path.c_str()));
  }
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t end = path_env.find(':', start);
    if (end == std::string::npos) end = path_env.size();
    std::string dir = path_env.substr(start, end - start);
    std::string candidate = absolute((dir.empty() ? "." : dir) + "/" + program, cwd);
    if (executable_file(candidate)) return candidate;
    start = end + 1;
  }
  return make_error(VIR_ERR_NO_SOURCE, fmt(_("'%1$s': program not found on the host (searched PATH; an Arrow runs "
                                             "programs installed on the host: install it, or give its path)"),
                                           program.c_str()));
}

bool visible_in_guest(const std::string& path) {
  for (const char* top : {"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/lib32/", "/libx32/"})
    if (path.rfind(top, 0) == 0) return true;
  return false;
}

std::string build_domain_xml(const RunSpec& spec) {
  std::string x = "<domain type='arrow'>\n  <name>" + xml_escape(spec.name) + "</name>\n";
  if (spec.pipe_console)
    x += fmt("  <metadata>\n    <arrow:%s xmlns:arrow='%s' mode='pipe'/>\n  </metadata>\n", kArrowElementConsole,
             kArrowMetadataNs);
  x += fmt("  <memory unit='KiB'>%llu</memory>\n  <vcpu>%u</vcpu>\n", static_cast<unsigned long long>(spec.memory_kib),
           spec.cpus);
  x += "  <os>\n    <type arch='x86_64' machine='microvm'>exe</type>\n";
  x += "    <init>" + xml_escape(spec.program) + "</init>\n";
  for (const std::string& a : spec.args) x += "    <initarg>" + xml_escape(a) + "</initarg>\n";
  for (const auto& [k, v] : spec.env) x += "    <initenv name='" + xml_escape(k) + "'>" + xml_escape(v) + "</initenv>\n";
  if (!spec.workdir.empty()) x += "    <initdir>" + xml_escape(spec.workdir) + "</initdir>\n";
  if (!spec.user.empty()) x += "    <inituser>" + xml_escape(spec.user) + "</inituser>\n";
  x += "  </os>\n  <on_poweroff>destroy</on_poweroff>\n  <on_crash>destroy</on_crash>\n  <devices>\n";
  for (const Share& s : spec.shares) {
    x += "    <filesystem type='mount' accessmode='passthrough'>\n";
    x += "      <source dir='" + xml_escape(s.host) + "'/>\n      <target dir='" + xml_escape(s.guest) + "'/>\n";
    if (s.readonly) x += "      <readonly/>\n";
    x += "    </filesystem>\n";
  }
  if (!spec.forwards.empty()) {
    x += "    <interface type='user'>\n";
    for (const Forward& f : spec.forwards)
      x += fmt("      <portForward proto='tcp' address='127.0.0.1'>\n        <range start='%u' to='%u'/>\n"
               "      </portForward>\n",
               f.host_port, f.guest_port);
    x += "    </interface>\n";
  }
  x += "    <console type='pty'/>\n  </devices>\n</domain>\n";
  return x;
}

std::string generated_name(const std::string& program) {
  std::string base = program.substr(program.rfind('/') + 1), name;
  for (char c : base)
    if (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') name += c;  // no '.': no ".tmp-", ".xml"
  if (name.empty() || !isalnum(static_cast<unsigned char>(name[0]))) name = "arrow";
  std::random_device rd;
  std::string out = fmt("%s-%06x", name.substr(0, 40).c_str(), static_cast<unsigned>(rd() & 0xffffff));
  // The daemon's own rule (domain-xml) decides; a program name it would
  // refuse falls back to the plain prefix.
  if (!check_arrow_name(out).ok()) out = fmt("arrow-%06x", static_cast<unsigned>(rd() & 0xffffff));
  return out;
}

}  // namespace arrow::cli
