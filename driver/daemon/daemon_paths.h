// Where virtarrowd keeps its sockets, configs, runtime state and logs, for the
// system daemon, the session daemon, and --root DIR.
#pragma once

#include <string>

#include "util/result.h"

namespace arrow::daemon {

struct DaemonPaths {
  bool privileged = false;  // system daemon (root, or --root): arrow:///system
  std::string uri;          // "arrow:///system" or "arrow:///session"
  std::string socket_rw;    // read-write socket
  std::string socket_ro;    // read-only socket; empty for the session daemon
  std::string config_dir;   // persistent Arrow configs (NAME.xml)
  std::string state_dir;    // runtime status of running Arrows, their sockets
  std::string log_dir;      // application and QEMU logs
  std::string lib_dir;      // templates/ (boot templates) and save/ (managed saves)
  std::string config_file;  // virtarrowd.conf (may not exist)
  bool private_root = false;  // --root: tests and side-by-side instances
};

// ROOT non-empty: everything under ROOT (ROOT/virtarrowd-sock, -sock-ro,
// ROOT/config, ROOT/run, ROOT/log, ROOT/virtarrowd.conf), system URI. Otherwise system paths as
// root, XDG session paths for other users. Creates nothing.
Result<DaemonPaths> daemon_paths(const std::string& root);

// Creates the directories of PATHS (0700 for the session, 0755 otherwise).
Status make_daemon_dirs(const DaemonPaths& paths);

}  // namespace arrow::daemon
