// The host end of an <interface type='bridge'>: a TAP device that virtarrowd
// (root) creates, attaches to an existing bridge and brings up, then hands to
// QEMU as an open fd, so that QEMU itself needs no privilege. The TAP is not
// persistent: it disappears when the last fd (QEMU's) is closed.
#pragma once

#include <string>

#include "util/fd.h"
#include "util/result.h"

namespace arrow {

struct BridgeTap {
  UniqueFd fd;         // the /dev/net/tun fd, close-on-exec
  std::string ifname;  // the kernel's name for it ("arrowtapN")
};

// Creates the TAP (IFF_TAP | IFF_NO_PI), makes BRIDGE its master and sets it
// up. Errors: VIR_ERR_CONFIG_UNSUPPORTED when the daemon is not root;
// VIR_ERR_OPERATION_FAILED naming BRIDGE when it is missing or not a
// bridge; VIR_ERR_SYSTEM_ERROR with errno text for any ioctl that fails.
Result<BridgeTap> open_bridge_tap(const std::string& bridge);

}  // namespace arrow
