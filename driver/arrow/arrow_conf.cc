// Driver configuration and host facts (see arrow_conf.h).
#include "driver/arrow/arrow_conf.h"

#include <glib.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#include "config.h"
#include "driver/engine/cgroup.h"
#include "driver/arrow/arrow_persist.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// The value after "KEY" and ':' on LINE, trimmed; empty when not that key.
std::string field_value(const std::string& line, const char* key) {
  size_t klen = strlen(key);
  if (line.compare(0, klen, key) != 0) return {};
  size_t colon = line.find(':', klen);
  if (colon == std::string::npos) return {};
  for (size_t i = klen; i < colon; ++i)
    if (line[i] != ' ' && line[i] != '\t') return {};
  size_t start = line.find_first_not_of(" \t", colon + 1);
  return start == std::string::npos ? std::string() : line.substr(start);
}

void read_cpuinfo(NodeInfo& info) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> packages;
  unsigned siblings = 0, cores = 0;
  while (std::getline(in, line)) {
    if (std::string v = field_value(line, "model name"); !v.empty() && info.model.empty()) info.model = v;
    if (std::string v = field_value(line, "cpu MHz"); !v.empty() && info.mhz == 0) info.mhz = unsigned(atof(v.c_str()));
    if (std::string v = field_value(line, "physical id"); !v.empty()) packages.insert(v);
    if (std::string v = field_value(line, "siblings"); !v.empty()) siblings = unsigned(atoi(v.c_str()));
    if (std::string v = field_value(line, "cpu cores"); !v.empty()) cores = unsigned(atoi(v.c_str()));
  }
  info.sockets = packages.empty() ? 1 : unsigned(packages.size());
  info.cores = cores ? cores : 1;
  info.threads = (cores && siblings >= cores) ? siblings / cores : 1;
}

uint64_t read_mem_total_kib() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (std::string v = field_value(line, "MemTotal"); !v.empty()) return strtoull(v.c_str(), nullptr, 10);
  return 0;
}

}  // namespace

std::string arrow_kernel_dir() {
  if (const char* dir = getenv("ARROW_KERNEL_DIR"); dir && *dir) return dir;
  return ARROW_PKGLIBDIR;
}

ArrowConf arrow_conf_new(std::string config_dir, std::string run_dir, std::string log_dir) {
  ArrowConf conf;
  conf.config_dir = std::move(config_dir);
  conf.run_dir = std::move(run_dir);
  conf.log_dir = std::move(log_dir);
  conf.emulator = QEMU_BINARY;
  std::string kdir = arrow_kernel_dir();
  conf.kernel = kdir + "/bzImage";
  conf.initramfs = kdir + "/initramfs.cpio";
  return conf;
}

Status arrow_conf_confine(ArrowConf& conf, const std::optional<std::string>& user, uid_t euid,
                          const std::function<void(const std::string&)>& log, bool default_account) {
  QemuUserChoice choice = TRY(choose_qemu_user(user, euid, default_account));
  conf.qemu_user = choice.user;
  if (!choice.warning.empty()) log(choice.warning);
  if (euid != 0) {
    log(_("not running as root: Arrows get no cgroup (memory.max, cpu.max)"));
    return {};
  }
  const char* forced = g_getenv("ARROW_CGROUP_ROOT");
  Result<std::string> root = forced && *forced ? Result<std::string>(std::string(forced)) : find_cgroup2_mount();
  Result<std::string> parent = root.ok() ? prepare_cgroup_parent(root.value()) : Result<std::string>(root.error());
  if (!parent.ok()) {
    log(fmt(_("Arrows get no cgroup (memory.max, cpu.max): %1$s"), parent.error().message.c_str()));
    return {};
  }
  conf.cgroup_parent = parent.value();
  return {};
}

Status arrow_conf_make_dirs(const ArrowConf& conf) {
  TRY(make_dirs(conf.config_dir, 0700));
  TRY(make_dirs(conf.config_dir + "/autostart", 0700));
  TRY(make_dirs(conf.run_dir, 0700));
  TRY(make_dirs(conf.log_dir, 0700));
  if (!conf.template_dir.empty()) TRY(make_dirs(conf.template_dir, 0700));
  if (!conf.save_dir.empty()) TRY(make_dirs(conf.save_dir, 0700));
  return {};
}

NodeInfo read_node_info() {
  NodeInfo info;
  read_cpuinfo(info);
  if (info.model.empty()) info.model = "x86_64";
  // libvirt's nodeinfo.model is a char[32]: the wire truncates, we do it here.
  if (info.model.size() > 31) info.model.resize(31);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  info.cpus = online > 0 ? unsigned(online) : 1;
  info.memory_kib = read_mem_total_kib();
  if (info.memory_kib == 0) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    info.memory_kib = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) / 1024 : 1;
  }
  // The topology must multiply out to the online CPUs, as libvirt checks.
  if (info.nodes * info.sockets * info.cores * info.threads != info.cpus) {
    info.nodes = info.sockets = info.threads = 1;
    info.cores = info.cpus;
  }
  return info;
}

std::string read_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) < 0 || !buf[0]) return "localhost";
  return buf;
}

std::string read_sysinfo_xml() {
  // SMBIOS facts the kernel exports; virsh sysinfo prints them as they are.
  auto dmi = [](const char* file) {
    Result<std::string> v = read_whole_file(std::string("/sys/class/dmi/id/") + file);
    std::string s = v.ok() ? v.value() : std::string();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    gchar* escaped = g_markup_escape_text(s.c_str(), -1);
    std::string out = escaped;
    g_free(escaped);
    return out;
  };
  std::string xml = "<sysinfo type='smbios'>\n  <bios>\n";
  xml += "    <entry name='vendor'>" + dmi("bios_vendor") + "</entry>\n";
  xml += "    <entry name='version'>" + dmi("bios_version") + "</entry>\n";
  xml += "    <entry name='date'>" + dmi("bios_date") + "</entry>\n  </bios>\n  <system>\n";
  xml += "    <entry name='manufacturer'>" + dmi("sys_vendor") + "</entry>\n";
  xml += "    <entry name='product'>" + dmi("product_name") + "</entry>\n";
  xml += "    <entry name='version'>" + dmi("product_version") + "</entry>\n  </system>\n</sysinfo>\n";
  return xml;
}

Result<uint64_t> parse_qemu_version(std::string_view text) {
  constexpr std::string_view kPrefix = "version ";
  size_t at = text.find(kPrefix);
  if (at == std::string_view::npos)
    return make_error(VIR_ERR_INTERNAL_ERROR, _("cannot find the version in the emulator's --version output"));
  unsigned major = 0, minor = 0, micro = 0;
  std::string rest(text.substr(at + kPrefix.size()));
  if (sscanf(rest.c_str(), "%u.%u.%u", &major, &minor, &micro) < 2)
    return make_error(VIR_ERR_INTERNAL_ERROR,
                      fmt(_("cannot parse the emulator version '%1$s'"), rest.substr(0, rest.find('\n')).c_str()));
  return uint64_t(major) * 1000000 + uint64_t(minor) * 1000 + micro;
}

Result<uint64_t> probe_qemu_version(const std::string& emulator) {
  const char* argv[] = {emulator.c_str(), "--version", nullptr};
  gchar* out = nullptr;
  gint status = 0;
  GError* err = nullptr;
  gboolean ran = g_spawn_sync(nullptr, const_cast<gchar**>(argv), nullptr, G_SPAWN_STDERR_TO_DEV_NULL, nullptr,
                              nullptr, &out, nullptr, &status, &err);
  if (!ran) {
    Error e = make_error(VIR_ERR_INTERNAL_ERROR,
                         fmt(_("cannot run '%1$s --version': %2$s"), emulator.c_str(), err->message));
    g_error_free(err);
    return e;
  }
  std::string text = out ? out : "";
  g_free(out);
  return parse_qemu_version(text);
}

}  // namespace arrow
