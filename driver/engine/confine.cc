// QEMU's account and the child's steps before exec (see confine.h).
#include "driver/engine/confine.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "util/i18n.h"

namespace arrow {

namespace {

void write_all(int fd, const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

Result<QemuUser> resolve_qemu_user(const std::string& name) {
  char* end = nullptr;
  const unsigned long number = std::strtoul(name.c_str(), &end, 10);
  const bool numeric = !name.empty() && *end == '\0';
  const struct passwd* pw = numeric ? ::getpwuid(static_cast<uid_t>(number)) : ::getpwnam(name.c_str());
  if (!pw) {
    return make_error(VIR_ERR_CONF_SYNTAX,
                      fmt(_("virtarrowd.conf: 'user': no user '%1$s' on this host"), name.c_str()));
  }
  QemuUser user{pw->pw_name, pw->pw_uid, pw->pw_gid, {}};
  int count = 32;
  for (int tries = 0; tries < 4; tries++) {
    user.groups.assign(static_cast<size_t>(count), 0);
    int n = count;
    if (::getgrouplist(pw->pw_name, pw->pw_gid, user.groups.data(), &n) >= 0) {
      user.groups.resize(static_cast<size_t>(n));
      return user;
    }
    count = n > count ? n : count * 2;
  }
  user.groups = {pw->pw_gid};
  return user;
}

Result<QemuUserChoice> choose_qemu_user(const std::optional<std::string>& configured, uid_t euid,
                                        bool default_account) {
  QemuUserChoice choice;
  std::optional<QemuUser> user;
  if (configured) {
    user = TRY(resolve_qemu_user(*configured));
  } else if (!default_account) {
    // No fallback account, but a root daemon still says whom QEMU runs as.
    if (euid == 0)
      choice.warning = _("no 'user' in virtarrowd.conf, and a --root daemon has no default account: QEMU runs as "
                         "root");
    return choice;
  } else if (Result<QemuUser> fallback = resolve_qemu_user(kDefaultQemuUser); fallback.ok()) {
    user = fallback.value();
  }
  if (euid != 0) {
    if (configured && user->uid != euid) {
      choice.warning = fmt(_("virtarrowd.conf sets user '%1$s', but only a daemon running as root can switch "
                             "to it: QEMU runs as the daemon's user"),
                           configured->c_str());
    }
    return choice;
  }
  if (!user || user->uid == 0) {
    choice.warning = user ? _("virtarrowd.conf sets user 'root': QEMU runs as root, unconfined by its account")
                          : fmt(_("no user '%1$s' on this host and no 'user' in virtarrowd.conf: QEMU runs as root"),
                                kDefaultQemuUser);
    return choice;
  }
  choice.user = std::move(user);
  return choice;
}

std::vector<ShareAccess> share_access_list(const ArrowDef& def) {
  std::vector<ShareAccess> out;
  for (const Share& s : def.shares) {
    out.push_back(ShareAccess{s.source_dir, !s.readonly && !s.shadow()});
    if (!s.upper_dir.empty()) out.push_back(ShareAccess{s.upper_dir, true});
  }
  return out;
}

ChildConfinement ChildConfinement::prepare(const std::optional<QemuUser>& user, int cgroup_procs_fd,
                                           const std::vector<ShareAccess>& shares) {
  ChildConfinement c;
  c.cgroup_procs_fd_ = cgroup_procs_fd;
  c.cgroup_failed_ = std::string(_("virtarrowd: cannot move QEMU into its cgroup")) + "\n";
  if (!user) return c;
  c.drop_ = true;
  c.uid_ = user->uid;
  c.gid_ = user->gid;
  c.groups_ = user->groups;
  c.drop_failed_ = fmt(_("virtarrowd: cannot switch QEMU to user '%1$s'"), user->name.c_str()) + "\n";
  for (const ShareAccess& s : shares) {
    const std::string message =
        s.write ? fmt(_("virtarrowd: QEMU's user '%1$s' cannot write to the share '%2$s': make that user its owner, "
                        "or add <readonly/>"),
                      user->name.c_str(), s.path.c_str())
                : fmt(_("virtarrowd: QEMU's user '%1$s' cannot read the share '%2$s': make it readable and "
                        "searchable by that user"),
                      user->name.c_str(), s.path.c_str());
    c.checks_.push_back(Check{s.path, R_OK | X_OK | (s.write ? W_OK : 0), message + "\n"});
  }
  return c;
}

void ChildConfinement::apply_in_child() const noexcept {
  // Joined while still privileged: the leaf belongs to root.
  if (cgroup_procs_fd_ >= 0 && ::write(cgroup_procs_fd_, "0", 1) != 1) {
    write_all(2, cgroup_failed_);
    ::_exit(126);
  }
  if (!drop_) return;
  // Groups first, then gid, then uid: after setuid nothing else may change.
  // setuid() from root to another uid sets all of real, effective and saved
  // ids and clears every capability; the check proves there is no way back.
  if (::setgroups(groups_.size(), groups_.data()) < 0 || ::setgid(gid_) < 0 || ::setuid(uid_) < 0 ||
      ::setuid(0) == 0 || ::getegid() != gid_) {
    write_all(2, drop_failed_);
    ::_exit(126);
  }
  for (const Check& check : checks_) {
    if (::access(check.path.c_str(), check.mode) < 0) {
      write_all(2, check.message);
      ::_exit(126);
    }
  }
}

}  // namespace arrow
