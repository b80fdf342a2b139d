// systemd socket activation: takes the listening sockets systemd passed
// (LISTEN_PID, LISTEN_FDS, fds from 3) and names each by its bound path.
#pragma once

#include <string>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace arrow::daemon {

struct ActivatedSocket {
  UniqueFd fd;       // a listening AF_UNIX stream socket, close-on-exec
  std::string path;  // its bound path (getsockname)
};

// The sockets passed to this process: none when LISTEN_PID is unset or names
// another process. LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are removed from
// the environment in every case, so children (QEMU) never see them. An fd
// that is not a listening unix stream socket bound to a path is an error.
Result<std::vector<ActivatedSocket>> take_activated_sockets();

}  // namespace arrow::daemon
