// The unprivileged account an Arrow's QEMU runs as, and the steps the forked
// child takes before it execs QEMU: join the Arrow's cgroup leaf, drop to
// that account (supplementary groups, gid, uid; for good: no way back), and
// check that the account reaches every share. The steps are prepared in the
// parent, since between fork and exec only async-signal-safe calls are
// allowed. QEMU's own `-runas` is no alternative: it switches user with
// setgid/setuid after its machine init, which its seccomp sandbox
// (elevateprivileges=deny) kills with SIGSYS (measured with QEMU 7.2).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "domain-xml/arrow_def.h"
#include "util/result.h"

namespace arrow {

// Used when virtarrowd.conf sets no `user` and this account exists
// (`make install` creates it).
inline constexpr const char* kDefaultQemuUser = "arrow-qemu";

struct QemuUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (getgrouplist), gid included
};

// NAME or number, from the passwd and group databases. An unknown name is
// VIR_ERR_CONF_SYNTAX naming `user`.
Result<QemuUser> resolve_qemu_user(const std::string& name);

// Whom QEMU runs as. CONFIGURED is virtarrowd.conf's `user` (nullopt: the
// default account when it exists); EUID the daemon's. A user is returned
// only when the daemon is root and the account is not root. WARNING is set
// (one line for the log) when a root daemon runs QEMU as root, or a
// configured user cannot be switched to by an unprivileged daemon.
struct QemuUserChoice {
  std::optional<QemuUser> user;
  std::string warning;
};
// DEFAULT_ACCOUNT false (a daemon on a private --root, i.e. tests and
// side-by-side instances): no fallback to the system account; QEMU runs as
// the daemon's user unless CONFIGURED names one (with the warning when that
// user is root).
Result<QemuUserChoice> choose_qemu_user(const std::optional<std::string>& configured, uid_t euid,
                                        bool default_account = true);

// What QEMU must reach in each share of DEF once it runs as USER: the source
// of a read-only share or a ShadowFS read (and search), a writable share and
// a ShadowFS's <upper dir> written too. The host /usr is left out: it is
// world-readable.
struct ShareAccess {
  std::string path;
  bool write = false;
};
std::vector<ShareAccess> share_access_list(const ArrowDef& def);

// The child's steps, all prepared by prepare(); apply_in_child() only makes
// async-signal-safe calls. On a failure it writes the prepared message to
// stderr (the Arrow's log) and _exit()s with 126, so QEMU never runs as root
// by accident and the start fails with that message.
class ChildConfinement {
 public:
  // USER: drop to it (nullopt: stay the daemon's user). CGROUP_PROCS_FD: the
  // leaf's cgroup.procs (-1: none). SHARES: checked with access() as USER.
  static ChildConfinement prepare(const std::optional<QemuUser>& user, int cgroup_procs_fd,
                                  const std::vector<ShareAccess>& shares);
  void apply_in_child() const noexcept;

 private:
  struct Check {
    std::string path;
    int mode = 0;         // for access()
    std::string message;  // written when it fails
  };
  bool drop_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::vector<gid_t> groups_;
  int cgroup_procs_fd_ = -1;
  std::string drop_failed_, cgroup_failed_;
  std::vector<Check> checks_;
};

}  // namespace arrow
