// ArrowDef: the in-memory model of an Arrow's domain XML (see
// ARCHITECTURE.md, "The Arrow domain XML"). Plain data; parsing, validation and
// formatting live in arrow_xml.{h,cc}.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace arrow {

using Uuid = std::array<uint8_t, 16>;

// <on_poweroff>, <on_crash>: the subset of libvirt's actions an Arrow honours.
enum class LifecycleAction { Destroy, Restart };

// <filesystem type='mount' accessmode='passthrough'>: an Arrow Share over 9p.
// With <transient/> or <upper dir=> it is a ShadowFS: the source is shared
// read-only and an overlay in the guest sends every write to a per-Arrow
// upper layer (a tmpfs, discarded at power-off, or the host directory
// upper_dir, kept across restarts).
struct Share {
  std::string source_dir;  // absolute host path
  std::string target_dir;  // absolute guest mount point
  bool readonly = false;
  bool transient = false;  // <transient/>: ShadowFS with a tmpfs upper layer
  std::string upper_dir;   // <upper dir=>: ShadowFS with this host directory as upper layer
  bool shadow() const { return transient || !upper_dir.empty(); }
};

// <portForward proto='tcp' address='127.0.0.1'><range start= end= to=/>:
// host ports start..end forward to guest ports to..to+(end-start).
struct PortRange {
  unsigned start = 0;
  unsigned end = 0;  // 0: a single port
  unsigned to = 0;   // 0: same as start
};

struct PortForward {
  std::string proto = "tcp";  // "tcp" or "udp"
  std::string address;        // host address to bind; empty means 127.0.0.1
  std::vector<PortRange> ranges;
};

// <interface type=>: 'user' is QEMU user networking (slirp); 'bridge' is a
// TAP that virtarrowd (as root) creates and attaches to an existing host
// bridge. 'network' is refused at parse time (see domain-xml/README.md).
enum class InterfaceType { User, Bridge };

// <interface>. For a bridge the guest has no DHCP client, so its address is
// static: libvirt's <ip address= prefix=/> and <route gateway=/> (the
// grammar libvirt's LXC driver uses for the same purpose) are required and
// given to ainit as arrow.net.
struct Interface {
  InterfaceType type = InterfaceType::User;
  std::string mac;  // optional, "52:54:00:xx:xx:xx"
  std::vector<PortForward> port_forwards;  // user only
  std::string bridge;      // <source bridge=>: bridge only
  std::string ip_address;  // <ip address=>: IPv4, bridge only
  unsigned ip_prefix = 24; // <ip prefix=>
  std::string gateway;     // <route gateway=>: optional, empty: no default route
};

// <memballoon model=>: libvirt's balloon models an Arrow honours.
enum class BalloonModel { Virtio, None };

// <memballoon model='virtio' autodeflate='on' freePageReporting='on'>
// <stats period='N'/></memballoon>: QEMU's virtio-balloon-device. Absent, an
// Arrow gets the defaults below (a balloon with both features on, statistics
// every kDefaultStatsPeriod seconds) when microvm has a virtio
// transport left for it (domain-xml/README.md); given, it is required.
struct MemBalloon {
  static constexpr unsigned kDefaultStatsPeriod = 5;  // seconds
  bool specified = false;                  // written in the XML (and written back)
  BalloonModel model = BalloonModel::Virtio;
  bool autodeflate = true;                 // QEMU's deflate-on-oom
  bool free_page_reporting = true;         // QEMU's free-page-reporting
  unsigned stats_period = kDefaultStatsPeriod;  // <stats period=>, s; 0: off
  bool present() const { return model != BalloonModel::None; }
};

// <channel type='unix'><source mode= path=/><target type='virtio' name=/>:
// a Crossbow channel, a virtio-serial port NAME in the guest
// (/dev/virtio-ports/NAME) whose host end is a Unix socket. mode='bind':
// the socket listens at PATH (created when the Arrow starts, removed when it
// stops), or, without <source>, in the Arrow's runtime directory;
// mode='connect': the port is joined to a socket already listening at PATH
// (another Arrow's, or any program's) when the Arrow starts.
enum class ChannelMode { Bind, Connect };

struct Channel {
  std::string name;  // <target name=>: the port's name
  ChannelMode mode = ChannelMode::Bind;
  std::string path;  // <source path=>; empty: bind in the runtime directory
};

struct EnvVar {
  std::string name;
  std::string value;
};

struct ArrowDef {
  std::string name;
  Uuid uuid{};
  std::string title;
  std::string description;
  // <metadata>: each child element (application-defined, in its own XML
  // namespace, e.g. Nova's or libosinfo's) as libxml2 serialises it, kept
  // verbatim so that clients get back what they stored.
  std::vector<std::string> metadata;
  uint64_t memory_kib = 65536;          // <memory>, stored in KiB like libvirt
  std::optional<uint64_t> current_memory_kib;  // <currentMemory>, if given
  unsigned vcpus = 1;

  // <os>
  std::string arch = "x86_64";
  std::string machine = "microvm";
  std::string init;                      // <init>: absolute path in the guest
  std::vector<std::string> initargs;     // <initarg>
  std::vector<EnvVar> initenv;           // <initenv name=>
  std::string initdir;                   // <initdir>, empty: "/"
  std::string inituser;                  // <inituser>: name or number, empty: root
  std::string initgroup;                 // <initgroup>: name or number
  std::string kernel;                    // <kernel>, empty: the Arrow kernel

  LifecycleAction on_poweroff = LifecycleAction::Destroy;
  LifecycleAction on_crash = LifecycleAction::Destroy;

  // <devices>
  std::string emulator;                  // empty: the configured QEMU
  std::vector<Share> shares;
  std::vector<Interface> interfaces;
  bool console = false;                  // <console type='pty'/> present
  MemBalloon balloon;                    // <memballoon>
  std::vector<Channel> channels;         // <channel type='unix'>, in order
};

}  // namespace arrow
