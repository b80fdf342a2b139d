// Crossbow channels on the QEMU side: each <channel> of an Arrow is a
// virtserialport on the virtio-serial bus the console and Anotify use (no
// further virtio-mmio transport), its chardev a Unix socket the launcher
// prepares and passes to QEMU as an fd, so that QEMU opens no host path
// itself (it may run unprivileged and sandboxed):
//   bind     a socket listening at the channel's path (QEMU accepts one
//            peer at a time and listens again when it leaves);
//   connect  a socket connected to the path when the Arrow starts.
// QEMU stops reading a peer while the guest's port is full and the guest's
// writes wait while no peer is connected, so no byte is dropped on the way.
#pragma once

#include <string>
#include <vector>

#include "domain-xml/arrow_def.h"
#include "util/fd.h"
#include "util/result.h"

namespace arrow {

// The socket of channel INDEX when its <source> names no path: in the
// Arrow's runtime directory RUN_DIR (0700, so only the daemon's user
// reaches it, as it reaches the console).
std::string channel_default_path(const std::string& run_dir, size_t index);
// C's path: its own, or the default in RUN_DIR.
std::string channel_path(const Channel& c, const std::string& run_dir, size_t index);

// Adebug's port (`arrow exec`, kernel/ainit_exec.c): every Arrow has it,
// its host end a socket in the runtime directory that only the daemon
// reaches (virDomainOpenChannel with kExecChannel on a read-write
// connection).
inline constexpr const char* kExecPortName = "org.arrow.exec.0";

// The -chardev/-device pairs of Adebug's port (its listening socket at fd
// EXEC_FD) and of DEF's channels, the socket of channel i being fd
// FIRST_FD + i in QEMU: chardev charchannelI, device channelI (libvirt's
// names; VSERPORT_CHANGE events carry the device's).
void add_channel_devices(std::vector<std::string>& argv, const ArrowDef& def, int exec_fd, int first_fd);

// The host end of channel C at PATH, for QEMU:
// - bind: listens at PATH (0600). A file there that is no socket, or a
//   socket something listens on already, is an error naming the path and
//   the channel; a stale socket is replaced.
// - connect: a socket connected to PATH without waiting (a peer that does
//   not accept at once, or none, is an error naming both).
Result<UniqueFd> open_channel_socket(const Channel& c, const std::string& path);

// A connection to a bound channel's socket from the host (the daemon's end
// of virDomainOpenChannel and of the guest agent), non-blocking; refused
// for a connect channel, whose other end is its peer's.
Result<UniqueFd> connect_channel(const Channel& c, const std::string& path);

}  // namespace arrow
