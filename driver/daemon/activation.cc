// systemd socket activation (see activation.h). The protocol is sd_listen_fds(3)'s;
// we read it ourselves rather than link libsystemd for three variables.
#include "driver/daemon/activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "util/i18n.h"

namespace arrow::daemon {

namespace {

constexpr int kFirstListenFd = 3;  // SD_LISTEN_FDS_START
constexpr long kMaxListenFds = 16;  // we expect two; anything beyond this is a misconfiguration

// A decimal environment value, or -1 when absent or not a number.
long env_number(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v, &end, 10);
  return errno || *end || n < 0 ? -1 : n;
}

Result<std::string> listening_unix_path(int fd) {
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
    return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("socket activation: fd %1$d is not a stream socket"), fd));
  }
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
    return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("socket activation: fd %1$d is not listening"), fd));
  }
  sockaddr_un addr{};
  len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sun_family != AF_UNIX ||
      len <= offsetof(sockaddr_un, sun_path) || addr.sun_path[0] == '\0') {
    return make_error(VIR_ERR_SYSTEM_ERROR,
                      fmt(_("socket activation: fd %1$d is not a unix socket bound to a path"), fd));
  }
  size_t n = len - offsetof(sockaddr_un, sun_path);
  return std::string(addr.sun_path, strnlen(addr.sun_path, n));
}

}  // namespace

Result<std::vector<ActivatedSocket>> take_activated_sockets() {
  long pid = env_number("LISTEN_PID");
  long count = env_number("LISTEN_FDS");
  bool present = std::getenv("LISTEN_PID") || std::getenv("LISTEN_FDS");
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  std::vector<ActivatedSocket> out;
  if (!present || pid != static_cast<long>(::getpid())) return out;  // meant for another process
  if (count < 0 || count > kMaxListenFds) {
    return make_error(VIR_ERR_SYSTEM_ERROR, _("socket activation: LISTEN_FDS is not a small number"));
  }
  // Own every passed fd first, so that an error below closes them all.
  for (int fd = kFirstListenFd; fd < kFirstListenFd + count; fd++) {
    ActivatedSocket s;
    s.fd = UniqueFd(fd);
    out.push_back(std::move(s));
  }
  for (ActivatedSocket& s : out) {
    if (::fcntl(s.fd.get(), F_SETFD, FD_CLOEXEC) != 0) {
      return make_error(VIR_ERR_SYSTEM_ERROR,
                        fmt(_("socket activation: fd %1$d: %2$s"), s.fd.get(), std::strerror(errno)));
    }
    s.path = TRY(listening_unix_path(s.fd.get()));
  }
  return out;
}

}  // namespace arrow::daemon
