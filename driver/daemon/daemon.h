// virtarrowd's main program, shared by the shipped daemon and the test daemon
// (which passes a fake driver): options, paths, sockets, and the parts built
// side by side over one DriverApi — the driver, the RPC server with the
// REMOTE program, the D-Bus front end — then the main loop.
#pragma once

#include <functional>
#include <memory>

#include "driver/api/driver_api.h"
#include "driver/daemon/daemon_conf.h"
#include "driver/daemon/daemon_paths.h"

namespace arrow::daemon {

// The driver gets the paths and virtarrowd.conf (its own keys: user, boot_timeout).
using DriverFactory = std::function<Result<std::unique_ptr<DriverApi>>(const DaemonPaths&, const DaemonConf&)>;

struct DaemonFeatures {
  bool dbus = true;  // publish org.libvirt.Arrow (see driver/dbus)
};

// Parses --root DIR, --timeout SECS (or --timeout=SECS), --verbose; serves
// the sockets systemd passed (LISTEN_FDS) or, when not activated, creates its
// own; returns the process exit status.
int run_daemon(int argc, char** argv, const DriverFactory& make_driver, DaemonFeatures features = {});

}  // namespace arrow::daemon
