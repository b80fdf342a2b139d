// What /proc says about a running QEMU, for the monitoring APIs: its vCPU
// threads (named "CPU N/TCG" or "CPU N/KVM" by -name debug-threads=on), each
// thread's CPU time, last host CPU and affinity, the process's user and
// system time, its cgroup v2 path, and the TAP devices whose fds it holds
// (with their counters from /proc/net/dev). Read-only and non-blocking (proc
// files answer at once). The parsers are pure, for unit tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace arrow {

// One thread's /proc/PID/task/TID/stat: CPU time and the CPU it last ran on.
struct ThreadStat {
  uint64_t user_ns = 0;    // utime (field 14)
  uint64_t system_ns = 0;  // stime (field 15)
  int processor = -1;      // field 39
};
Result<ThreadStat> parse_thread_stat(std::string_view line, long ticks_per_second);

// A vCPU thread of QEMU, from its comm: "CPU 3/TCG" gives 3. QEMU's single
// TCG thread ("ALL CPUs/TCG", without multi-threaded TCG) runs every vCPU:
// -2. Anything else: -1.
int vcpu_index_of_thread_name(std::string_view comm);

// "0-3,8,10-11" (Cpus_allowed_list) as one flag per CPU, NCPUS long; CPUs
// past NCPUS are dropped.
std::vector<bool> parse_cpu_list(std::string_view list, unsigned ncpus);

struct QemuThread {
  pid_t tid = 0;
  int vcpu = -1;  // vcpu_index_of_thread_name
  ThreadStat stat;
  std::vector<bool> affinity;
};

// Every thread of PID with its stat and affinity over NCPUS host CPUs; an
// error when PID's task directory cannot be read.
Result<std::vector<QemuThread>> read_qemu_threads(pid_t pid, unsigned ncpus);

// The affinity of PID (its main thread), over NCPUS host CPUs.
Result<std::vector<bool>> read_affinity(pid_t pid, unsigned ncpus);

// The cgroup v2 path of PID relative to the hierarchy's root ("0::PATH").
Result<std::string> read_cgroup_path(pid_t pid);
std::optional<std::string> parse_cgroup_v2_path(std::string_view proc_pid_cgroup);

// The names of the TAP devices PID holds open (/proc/PID/fdinfo's "iff:").
std::vector<std::string> read_tap_names(pid_t pid);

// One interface's counters from /proc/net/dev, the host's view.
struct NetDevCounters {
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errs = 0, rx_drop = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errs = 0, tx_drop = 0;
};
std::optional<NetDevCounters> parse_net_dev(std::string_view proc_net_dev, std::string_view ifname);
Result<NetDevCounters> read_net_dev(const std::string& ifname);

}  // namespace arrow
