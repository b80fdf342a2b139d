// cgroup v2 parent and per-Arrow leaves (see cgroup.h).
#include "driver/engine/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr const char* kParentName = "arrow";

Error cgroup_error(const std::string& path, int err) {
  return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot write '%1$s': %2$s"), path.c_str(), std::strerror(err)));
}

// One write of TEXT, as cgroupfs wants a control value. O_CREAT only matters
// for the plain directories of unit tests: cgroupfs never creates a file.
Status write_control(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return cgroup_error(path, errno);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) return cgroup_error(path, errno);
  return {};
}

bool lists_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  for (std::string w; in >> w;)
    if (w == word) return true;
  return false;
}

// Enables memory and cpu for DIR's children unless they already are.
Status enable_controllers(const std::string& dir) {
  const std::string path = dir + "/cgroup.subtree_control";
  Result<std::string> now = read_whole_file(path);
  if (now.ok() && lists_word(now.value(), "memory") && lists_word(now.value(), "cpu")) return {};
  return write_control(path, "+memory +cpu");
}

}  // namespace

CgroupLimits cgroup_limits(const ArrowDef& def) {
  CgroupLimits limits;
  limits.memory_max_bytes = def.memory_kib * 1024 + kQemuMemoryOverheadBytes;
  limits.cpu_quota_us = uint64_t(def.vcpus ? def.vcpus : 1) * limits.cpu_period_us;
  return limits;
}

Result<std::string> find_cgroup2_mount() {
  Result<std::string> text = read_whole_file("/proc/self/mountinfo");
  if (!text.ok()) return text.error();
  // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS
  std::istringstream in(text.value());
  for (std::string line; std::getline(in, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, mountpoint;
    if (fields >> id >> parent >> dev >> root >> mountpoint) return mountpoint;
  }
  return make_error(VIR_ERR_OPERATION_UNSUPPORTED, _("no cgroup v2 hierarchy is mounted"));
}

Result<std::string> prepare_cgroup_parent(const std::string& root) {
  Result<std::string> controllers = read_whole_file(root + "/cgroup.controllers");
  if (!controllers.ok()) return controllers.error();
  for (const char* needed : {"memory", "cpu"}) {
    if (!lists_word(controllers.value(), needed)) {
      return make_error(VIR_ERR_OPERATION_UNSUPPORTED,
                        fmt(_("the cgroup v2 hierarchy at '%1$s' offers no '%2$s' controller (controllers: '%3$s')"),
                            root.c_str(), needed, controllers.value().c_str()));
    }
  }
  TRY(enable_controllers(root));
  const std::string parent = root + "/" + kParentName;
  if (::mkdir(parent.c_str(), 0755) < 0 && errno != EEXIST) return cgroup_error(parent, errno);
  TRY(enable_controllers(parent));
  return parent;
}

Result<std::unique_ptr<CgroupLeaf>> CgroupLeaf::create(const std::string& parent, const std::string& name,
                                                        const CgroupLimits& limits) {
  const std::string dir = parent + "/arrow-" + name;
  // A leaf left by a QEMU that died with the daemon is empty: replace it.
  if (::mkdir(dir.c_str(), 0755) < 0 && (errno != EEXIST || ::rmdir(dir.c_str()) < 0 || ::mkdir(dir.c_str(), 0755) < 0))
    return cgroup_error(dir, errno);
  std::unique_ptr<CgroupLeaf> leaf(new CgroupLeaf(dir));
  TRY(write_control(dir + "/memory.max", fmt("%llu\n", static_cast<unsigned long long>(limits.memory_max_bytes))));
  TRY(write_control(dir + "/cpu.max", fmt("%llu %llu\n", static_cast<unsigned long long>(limits.cpu_quota_us),
                                          static_cast<unsigned long long>(limits.cpu_period_us))));
  const std::string procs = dir + "/cgroup.procs";
  UniqueFd opened(::open(procs.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!opened.valid()) return cgroup_error(procs, errno);
  // Above the fds the spawn assigns to QEMU (3-8), which the child's steps
  // run after: a low number would be overwritten before the child writes it.
  leaf->procs_fd_.reset(::fcntl(opened.get(), F_DUPFD_CLOEXEC, 10));
  if (!leaf->procs_fd_.valid()) return cgroup_error(procs, errno);
  return leaf;
}

std::unique_ptr<CgroupLeaf> CgroupLeaf::existing(const std::string& parent, const std::string& name) {
  const std::string dir = parent + "/arrow-" + name;
  struct stat st;
  if (::stat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) return nullptr;
  return std::unique_ptr<CgroupLeaf>(new CgroupLeaf(dir));
}

CgroupLeaf::~CgroupLeaf() {
  procs_fd_.reset();
  // Best effort: it fails only while a process is still inside, and an
  // empty leaf found later is replaced by create().
  if (!dir_.empty()) ::rmdir(dir_.c_str());
}

Status CgroupLeaf::add_pid(pid_t pid) {
  return write_control(dir_ + "/cgroup.procs", fmt("%d\n", static_cast<int>(pid)));
}

}  // namespace arrow
