// Creates an Arrow's TAP on a host bridge with the tun and bridge ioctls
// (see tap.h); no netlink library, no helper process.
#include "driver/engine/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/i18n.h"

namespace arrow {

namespace {

Error tap_error(const char* what, const std::string& name, int err) {
  return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot %1$s '%2$s': %3$s"), what, name.c_str(), strerror(err)));
}

void set_name(ifreq& ifr, const std::string& name) {
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
}

// A bridge is an interface with a bridge/ directory in sysfs.
Status check_bridge(const std::string& bridge) {
  struct stat st{};
  if (if_nametoindex(bridge.c_str()) == 0)
    return make_error(VIR_ERR_OPERATION_FAILED,
                      fmt(_("bridge '%1$s' of <interface type='bridge'> does not exist on this host"), bridge.c_str()));
  if (::stat(("/sys/class/net/" + bridge + "/bridge").c_str(), &st) < 0)
    return make_error(VIR_ERR_OPERATION_FAILED,
                      fmt(_("interface '%1$s' of <source bridge=> is not a bridge"), bridge.c_str()));
  return {};
}

Status attach_and_up(int sock, const std::string& bridge, const std::string& tap) {
  ifreq ifr;
  set_name(ifr, bridge);
  ifr.ifr_ifindex = static_cast<int>(if_nametoindex(tap.c_str()));
  if (ifr.ifr_ifindex == 0) return tap_error("find the TAP device", tap, errno);
  if (::ioctl(sock, SIOCBRADDIF, &ifr) < 0) return tap_error("add a TAP device to bridge", bridge, errno);
  set_name(ifr, tap);
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return tap_error("read the flags of", tap, errno);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) return tap_error("bring up", tap, errno);
  return {};
}

}  // namespace

Result<BridgeTap> open_bridge_tap(const std::string& bridge) {
  if (::geteuid() != 0)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("bridge networking needs a root daemon: cannot attach to bridge '%1$s'"), bridge.c_str()));
  TRY(check_bridge(bridge));
  BridgeTap tap;
  tap.fd.reset(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!tap.fd.valid()) return tap_error("open", "/dev/net/tun", errno);
  ifreq ifr;
  set_name(ifr, "arrowtap%d");  // the kernel picks the first free number
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(tap.fd.get(), TUNSETIFF, &ifr) < 0) return tap_error("create a TAP device for bridge", bridge, errno);
  tap.ifname = ifr.ifr_name;
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return tap_error("create a socket for", tap.ifname, errno);
  TRY(attach_and_up(sock.get(), bridge, tap.ifname));
  return tap;
}

}  // namespace arrow
