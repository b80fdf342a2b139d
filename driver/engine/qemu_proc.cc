// QEMU's threads, cgroup and TAP devices from /proc (see qemu_proc.h).
#include "driver/engine/qemu_proc.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// The value of "KEY:\tVALUE" in a /proc status-like TEXT.
std::optional<std::string> status_field(std::string_view text, std::string_view key) {
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == ':')
      return std::string(trim(std::string_view(line).substr(key.size() + 1)));
  }
  return std::nullopt;
}

long ticks_per_second() {
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? hz : 100;
}

}  // namespace

Result<ThreadStat> parse_thread_stat(std::string_view line, long hz) {
  // comm is in parentheses and may contain anything: fields resume after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string_view::npos) return make_error(VIR_ERR_INTERNAL_ERROR, _("cannot parse /proc/PID/task/TID/stat"));
  std::istringstream in{std::string(line.substr(close + 1))};
  ThreadStat st;
  const uint64_t ns_per_tick = 1000000000ull / uint64_t(hz > 0 ? hz : 100);
  std::string field;
  for (int index = 3; in >> field; ++index) {
    if (index == 14) st.user_ns = strtoull(field.c_str(), nullptr, 10) * ns_per_tick;
    if (index == 15) st.system_ns = strtoull(field.c_str(), nullptr, 10) * ns_per_tick;
    if (index == 39) {
      st.processor = atoi(field.c_str());
      return st;
    }
  }
  return make_error(VIR_ERR_INTERNAL_ERROR, _("cannot parse /proc/PID/task/TID/stat"));
}

int vcpu_index_of_thread_name(std::string_view comm) {
  comm = trim(comm);
  if (comm == "ALL CPUs/TCG") return -2;
  if (comm.substr(0, 4) != "CPU ") return -1;
  size_t slash = comm.find('/');
  if (slash == std::string_view::npos) return -1;
  std::string_view digits = comm.substr(4, slash - 4);
  if (digits.empty() || digits.size() > 4) return -1;
  int n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  std::string_view accel = comm.substr(slash + 1);
  return accel == "TCG" || accel == "KVM" ? n : -1;
}

std::vector<bool> parse_cpu_list(std::string_view list, unsigned ncpus) {
  std::vector<bool> out(ncpus, false);
  std::istringstream in{std::string(trim(list))};
  for (std::string part; std::getline(in, part, ',');) {
    unsigned lo = 0, hi = 0;
    char dash = 0;
    std::istringstream range(part);
    if (!(range >> lo)) continue;
    hi = lo;
    if (range >> dash && dash == '-' && !(range >> hi)) continue;
    for (unsigned c = lo; c <= hi && c < ncpus; c++) out[c] = true;
  }
  return out;
}

Result<std::vector<bool>> read_affinity(pid_t pid, unsigned ncpus) {
  std::string text = TRY(read_whole_file(fmt("/proc/%d/status", int(pid))));
  std::optional<std::string> list = status_field(text, "Cpus_allowed_list");
  if (!list) return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("no Cpus_allowed_list in /proc/%1$d/status"), int(pid)));
  return parse_cpu_list(*list, ncpus);
}

Result<std::vector<QemuThread>> read_qemu_threads(pid_t pid, unsigned ncpus) {
  const std::string task_dir = fmt("/proc/%d/task", int(pid));
  if (::access(task_dir.c_str(), R_OK) != 0)
    return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("cannot read the threads of QEMU (pid %1$d)"), int(pid)));
  std::vector<QemuThread> out;
  const long hz = ticks_per_second();
  for (const std::string& name : list_dir(task_dir)) {
    QemuThread t;
    t.tid = pid_t(atoi(name.c_str()));
    if (t.tid <= 0) continue;
    const std::string dir = task_dir + "/" + name;
    Result<std::string> comm = read_whole_file(dir + "/comm");
    Result<std::string> stat = read_whole_file(dir + "/stat");
    if (!comm.ok() || !stat.ok()) continue;  // the thread ended meanwhile
    t.vcpu = vcpu_index_of_thread_name(comm.value());
    Result<ThreadStat> ts = parse_thread_stat(stat.value(), hz);
    if (!ts.ok()) continue;
    t.stat = ts.value();
    Result<std::string> status = read_whole_file(dir + "/status");
    std::optional<std::string> list = status.ok() ? status_field(status.value(), "Cpus_allowed_list") : std::nullopt;
    t.affinity = list ? parse_cpu_list(*list, ncpus) : std::vector<bool>(ncpus, true);
    out.push_back(std::move(t));
  }
  return out;
}

std::optional<std::string> parse_cgroup_v2_path(std::string_view text) {
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, 3, "0::") == 0) return line.substr(3);
  }
  return std::nullopt;
}

Result<std::string> read_cgroup_path(pid_t pid) {
  std::string text = TRY(read_whole_file(fmt("/proc/%d/cgroup", int(pid))));
  std::optional<std::string> path = parse_cgroup_v2_path(text);
  if (!path) return make_error(VIR_ERR_OPERATION_UNSUPPORTED, fmt(_("QEMU (pid %1$d) is in no cgroup v2"), int(pid)));
  return *path;
}

std::vector<std::string> read_tap_names(pid_t pid) {
  std::vector<std::string> out;
  const std::string fd_dir = fmt("/proc/%d/fd", int(pid));
  for (const std::string& fd : list_dir(fd_dir)) {
    char target[64] = {};
    ssize_t n = ::readlink((fd_dir + "/" + fd).c_str(), target, sizeof target - 1);
    if (n <= 0 || std::string_view(target, size_t(n)) != "/dev/net/tun") continue;
    Result<std::string> info = read_whole_file(fmt("/proc/%d/fdinfo/%s", int(pid), fd.c_str()));
    if (!info.ok()) continue;
    if (std::optional<std::string> iff = status_field(info.value(), "iff"); iff && !iff->empty()) out.push_back(*iff);
  }
  return out;
}

std::optional<NetDevCounters> parse_net_dev(std::string_view text, std::string_view ifname) {
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || trim(std::string_view(line).substr(0, colon)) != ifname) continue;
    std::istringstream fields(line.substr(colon + 1));
    uint64_t v[16] = {};
    for (uint64_t& x : v) {
      if (!(fields >> x)) return std::nullopt;
    }
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop ...
    return NetDevCounters{v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11]};
  }
  return std::nullopt;
}

Result<NetDevCounters> read_net_dev(const std::string& ifname) {
  std::string text = TRY(read_whole_file("/proc/net/dev"));
  std::optional<NetDevCounters> c = parse_net_dev(text, ifname);
  if (!c) return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("no counters for interface '%1$s' in /proc/net/dev"), ifname.c_str()));
  return *c;
}

}  // namespace arrow
