// cgroup v2 confinement of each Arrow's QEMU: a parent directory the daemon
// prepares once (memory and cpu controllers enabled for its children) and a
// leaf per running Arrow, arrow-NAME, holding memory.max and cpu.max derived
// from the domain XML. Where the host offers no usable cgroup v2 the parent
// cannot be prepared and Arrows run unconfined (the caller logs why once).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "domain-xml/arrow_def.h"
#include "util/fd.h"
#include "util/result.h"

namespace arrow {

// QEMU's own memory on top of the guest's RAM, charged to the same leaf:
// the TCG translation cache, device and 9p buffers, slirp, the binary's
// pages. Measured under TCG with a 64 MiB python http.server Arrow (QEMU
// 7.2): about 95 MiB resident beyond the guest's pages; rounded up so a
// busy guest is never OOM-killed for QEMU's sake.
inline constexpr uint64_t kQemuMemoryOverheadBytes = 256ull << 20;
// cpu.max's period; the quota is one period per vCPU.
inline constexpr uint64_t kCpuPeriodUs = 100000;

struct CgroupLimits {
  uint64_t memory_max_bytes = 0;  // memory.max
  uint64_t cpu_quota_us = 0;      // cpu.max: QUOTA PERIOD
  uint64_t cpu_period_us = kCpuPeriodUs;
};

// DEF's <memory> plus kQemuMemoryOverheadBytes; <vcpu> periods per period.
CgroupLimits cgroup_limits(const ArrowDef& def);

// The directory of the host's cgroup v2 hierarchy from /proc/self/mountinfo
// (the unified mount of a hybrid host too); an error when there is none.
Result<std::string> find_cgroup2_mount();

// Prepares ROOT/arrow as the parent of the Arrows' leaves: ROOT must list
// the memory and cpu controllers in cgroup.controllers; both are enabled in
// ROOT's and the parent's cgroup.subtree_control. ROOT is a cgroup v2
// directory (a temporary directory with the same files in unit tests).
// Returns the parent; the error says why Arrows cannot be confined here.
Result<std::string> prepare_cgroup_parent(const std::string& root);

// One Arrow's leaf. Removed (rmdir: the kernel refuses while a process is
// in it) when destroyed, unless released.
class CgroupLeaf {
 public:
  // Creates PARENT/arrow-NAME (a stale empty one is replaced) and writes
  // LIMITS. Nothing is left behind on error.
  static Result<std::unique_ptr<CgroupLeaf>> create(const std::string& parent, const std::string& name,
                                                     const CgroupLimits& limits);
  // The leaf of NAME made by an earlier daemon, for a QEMU being adopted;
  // null when it does not exist.
  static std::unique_ptr<CgroupLeaf> existing(const std::string& parent, const std::string& name);

  ~CgroupLeaf();
  CgroupLeaf(const CgroupLeaf&) = delete;
  CgroupLeaf& operator=(const CgroupLeaf&) = delete;

  const std::string& dir() const { return dir_; }
  // cgroup.procs, open for writing: a forked child writes "0" to it before
  // exec to join the leaf (async-signal-safe), so QEMU's first allocation
  // is already charged here. -1 for an existing() leaf.
  int procs_fd() const { return procs_fd_.get(); }
  // Moves PID into the leaf.
  Status add_pid(pid_t pid);
  // Keeps the directory when this object goes (the QEMU in it outlives the
  // daemon; the next daemon takes it over with existing()).
  void release() { dir_.clear(); }

 private:
  explicit CgroupLeaf(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  UniqueFd procs_fd_;
};

}  // namespace arrow
