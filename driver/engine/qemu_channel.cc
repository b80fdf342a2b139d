// Crossbow channels on the QEMU side (see qemu_channel.h).
#include "driver/engine/qemu_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// QEMU splits option values on ','; a channel name has none (its rule), a
// path may.
std::string qemu_escape_commas(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

Error channel_error(const Channel& c, const std::string& path, const char* what, int err) {
  return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("channel '%1$s': cannot %2$s '%3$s': %4$s"), c.name.c_str(), what,
                                                  path.c_str(), std::strerror(err)));
}

// Connects non-blocking: a Unix socket connects at once or not at all
// (EAGAIN: its backlog is full).
Result<UniqueFd> connect_now(const Channel& c, const std::string& path) {
  const sockaddr_un addr = TRY(unix_address(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return channel_error(c, path, "create a socket for", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
    return channel_error(c, path, "connect to", errno);
  return fd;
}

}  // namespace

std::string channel_default_path(const std::string& run_dir, size_t index) {
  return fmt("%s/channel%zu.sock", run_dir.c_str(), index);
}

std::string channel_path(const Channel& c, const std::string& run_dir, size_t index) {
  return c.path.empty() ? channel_default_path(run_dir, index) : c.path;
}

void add_channel_devices(std::vector<std::string>& argv, const ArrowDef& def, int exec_fd, int first_fd) {
  argv.emplace_back("-chardev");
  argv.push_back(fmt("socket,id=exec,fd=%d,server=on,wait=off", exec_fd));
  argv.emplace_back("-device");
  argv.push_back(fmt("virtserialport,chardev=exec,name=%s", kExecPortName));
  for (size_t i = 0; i < def.channels.size(); i++) {
    const Channel& c = def.channels[i];
    const int fd = first_fd + static_cast<int>(i);
    argv.emplace_back("-chardev");
    if (c.mode == ChannelMode::Bind) {
      argv.push_back(fmt("socket,id=charchannel%zu,fd=%d,server=on,wait=off", i, fd));
    } else {
      argv.push_back(fmt("socket,id=charchannel%zu,fd=%d", i, fd));
    }
    // The device's id names it in QMP's VSERPORT_CHANGE (the guest opened
    // or closed the port).
    argv.emplace_back("-device");
    argv.push_back(
        fmt("virtserialport,id=channel%zu,chardev=charchannel%zu,name=%s", i, i, qemu_escape_commas(c.name).c_str()));
  }
}

Result<UniqueFd> open_channel_socket(const Channel& c, const std::string& path) {
  if (c.mode == ChannelMode::Connect) return connect_now(c, path);
  const sockaddr_un addr = TRY(unix_address(path));
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(VIR_ERR_OPERATION_FAILED,
                        fmt(_("channel '%1$s': '%2$s' exists and is not a socket: it is left alone"), c.name.c_str(),
                            path.c_str()));
    Result<UniqueFd> probe = connect_now(c, path);
    if (probe.ok())
      return make_error(VIR_ERR_OPERATION_FAILED,
                        fmt(_("channel '%1$s': something listens on '%2$s' already (another Arrow's channel?)"),
                            c.name.c_str(), path.c_str()));
    ::unlink(path.c_str());  // stale: nobody listens
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return channel_error(c, path, "create a socket for", errno);
  // Created 0600 (the umask applies at bind), then listening.
  const mode_t old = ::umask(0177);
  const int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old);
  if (rc < 0) return channel_error(c, path, "bind", bind_errno);
  if (::listen(fd.get(), 4) < 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return channel_error(c, path, "listen on", err);
  }
  return fd;
}

Result<UniqueFd> connect_channel(const Channel& c, const std::string& path) {
  if (c.mode == ChannelMode::Connect)
    return make_error(VIR_ERR_OPERATION_INVALID,
                      fmt(_("channel '%1$s' connects to '%2$s': its host end is that socket's owner"), c.name.c_str(),
                          path.c_str()));
  return connect_now(c, path);
}

}  // namespace arrow
