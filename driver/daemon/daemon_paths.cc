// Computes virtarrowd's paths (see driver/daemon/daemon_paths.h).
#include "driver/daemon/daemon_paths.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/i18n.h"

namespace arrow::daemon {

namespace {

std::string join(const std::string& a, const char* b) { return a + "/" + b; }

}  // namespace

Result<DaemonPaths> daemon_paths(const std::string& root) {
  DaemonPaths p;
  if (!root.empty()) {
    if (root[0] != '/') {
      return make_error(VIR_ERR_INVALID_ARG, fmt(_("--root '%1$s' must be an absolute path"), root.c_str()));
    }
    p.privileged = true;
    p.uri = "arrow:///system";
    p.socket_rw = join(root, "virtarrowd-sock");
    p.socket_ro = join(root, "virtarrowd-sock-ro");
    p.config_dir = join(root, "config");
    p.state_dir = join(root, "run");
    p.log_dir = join(root, "log");
    p.lib_dir = join(root, "lib");
    p.config_file = join(root, "virtarrowd.conf");
    p.private_root = true;
    return p;
  }
  if (::geteuid() == 0) {
    // The client library looks for the sockets in /run/libvirt whatever our
    // prefix is, so they (and the runtime state next to them) live there.
    p.privileged = true;
    p.uri = "arrow:///system";
    p.socket_rw = "/run/libvirt/virtarrowd-sock";
    p.socket_ro = "/run/libvirt/virtarrowd-sock-ro";
    p.config_dir = std::string(ARROW_SYSCONFDIR) + "/libvirt/arrow";
    p.state_dir = "/run/libvirt/arrow";
    p.log_dir = std::string(ARROW_LOCALSTATEDIR) + "/log/libvirt/arrow";
    p.lib_dir = std::string(ARROW_LOCALSTATEDIR) + "/lib/libvirt/arrow";
    p.config_file = std::string(ARROW_SYSCONFDIR) + "/libvirt/virtarrowd.conf";
    return p;
  }
  // Session: where the client library looks ($XDG_RUNTIME_DIR, else ~/.cache).
  const char* runtime = g_getenv("XDG_RUNTIME_DIR");
  std::string run_base = runtime && *runtime ? std::string(runtime) : std::string(g_get_user_cache_dir());
  p.uri = "arrow:///session";
  p.socket_rw = run_base + "/libvirt/virtarrowd-sock";
  p.config_dir = std::string(g_get_user_config_dir()) + "/libvirt/arrow";
  p.state_dir = run_base + "/libvirt/arrow/run";
  p.log_dir = std::string(g_get_user_cache_dir()) + "/libvirt/arrow/log";
  p.lib_dir = std::string(g_get_user_data_dir()) + "/libvirt/arrow";
  p.config_file = std::string(g_get_user_config_dir()) + "/libvirt/virtarrowd.conf";
  return p;
}

Status make_daemon_dirs(const DaemonPaths& p) {
  const int mode = p.privileged ? 0755 : 0700;
  std::string sock_dir = p.socket_rw.substr(0, p.socket_rw.rfind('/'));
  const std::string* dirs[] = {&sock_dir, &p.config_dir, &p.state_dir, &p.log_dir, &p.lib_dir};
  for (const std::string* dir : dirs) {
    if (g_mkdir_with_parents(dir->c_str(), mode) != 0) {
      return make_error(VIR_ERR_SYSTEM_ERROR,
                        fmt(_("cannot create directory '%1$s': %2$s"), dir->c_str(), std::strerror(errno)));
    }
  }
  return {};
}

}  // namespace arrow::daemon
