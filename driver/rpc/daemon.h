// virtarrowd's main program, shared by the shipped daemon and the test daemon
// (which passes a fake driver): options, paths, sockets, main loop.
#pragma once

#include <functional>
#include <memory>

#include "driver/daemon_paths.h"
#include "driver/rpc/daemon_conf.h"

namespace arrow::rpc {

// The driver gets the paths and virtarrowd.conf (its own keys: user, boot_timeout).
using DriverFactory = std::function<Result<std::unique_ptr<DriverApi>>(const DaemonPaths&, const DaemonConf&)>;

// Parses --root DIR, --timeout SECS (or --timeout=SECS), --verbose; serves
// the sockets systemd passed (LISTEN_FDS) or, when not activated, creates its
// own; returns the process exit status.
int run_daemon(int argc, char** argv, const DriverFactory& make_driver);

}  // namespace arrow::rpc
