// Listening sockets, accepting clients, the once-a-second tick (keepalive and
// idle timeout), and the main loop.
#include "driver/rpc/server.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "util/fs.h"
#include "util/i18n.h"

namespace arrow::rpc {

namespace {

// True when a daemon accepts connections on PATH.
bool someone_listens(const sockaddr_un& addr) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

Server::Server(Program& program, ServerOptions options) : program_(program), options_(std::move(options)) {
  loop_ = g_main_loop_new(nullptr, FALSE);
  idle_since_us_ = g_get_monotonic_time();
  tick_source_ = g_timeout_add_seconds(1, &Server::on_tick, this);
}

Server::~Server() {
  clients_.clear();
  for (auto& l : listeners_) {
    if (l->source) g_source_remove(l->source);
  }
  if (tick_source_) g_source_remove(tick_source_);
  if (loop_) g_main_loop_unref(loop_);
}

void Server::log(const char* format, ...) const {
  if (!options_.verbose) return;
  va_list ap;
  va_start(ap, format);
  std::fputs("virtarrowd: ", stderr);
  std::vfprintf(stderr, format, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

void Server::warn(const char* format, ...) const {
  va_list ap;
  va_start(ap, format);
  std::fputs("virtarrowd: ", stderr);
  std::vfprintf(stderr, format, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

Status Server::listen(const std::string& path, mode_t mode, bool readonly, std::optional<gid_t> group) {
  sockaddr_un addr = TRY(unix_address(path));
  if (someone_listens(addr)) {
    return make_error(VIR_ERR_OPERATION_INVALID,
                      fmt(_("another virtarrowd is already serving '%1$s'"), path.c_str()));
  }
  if (::unlink(path.c_str()) == 0) log("removed stale socket %s", path.c_str());
  auto l = std::make_unique<Listener>();
  l->fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!l->fd.valid()) {
    return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot create socket: %1$s"), std::strerror(errno)));
  }
  // Bind under a restrictive umask so no client connects before the chmod.
  mode_t old = ::umask(0077);
  int rc = ::bind(l->fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old);
  if (rc != 0) {
    return make_error(VIR_ERR_SYSTEM_ERROR,
                      fmt(_("cannot bind socket '%1$s': %2$s"), path.c_str(), std::strerror(bind_errno)));
  }
  l->owned = UniquePath(path);
  if (group && ::chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot change the group of '%1$s' to %2$u: %3$s"), path.c_str(),
                                                static_cast<unsigned>(*group), std::strerror(errno)));
  }
  if (::chmod(path.c_str(), mode) != 0 || ::listen(l->fd.get(), 64) != 0) {
    return make_error(VIR_ERR_SYSTEM_ERROR,
                      fmt(_("cannot listen on '%1$s': %2$s"), path.c_str(), std::strerror(errno)));
  }
  l->path = path;
  l->readonly = readonly;
  serve_listener(std::move(l));
  return {};
}

Status Server::adopt(UniqueFd fd, const std::string& path, bool readonly) {
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return make_error(VIR_ERR_SYSTEM_ERROR,
                      fmt(_("cannot use the socket passed for '%1$s': %2$s"), path.c_str(), std::strerror(errno)));
  }
  auto l = std::make_unique<Listener>();
  l->fd = std::move(fd);
  l->path = path;
  l->readonly = readonly;
  log("adopted socket-activated fd %d", l->fd.get());
  serve_listener(std::move(l));
  return {};
}

void Server::serve_listener(std::unique_ptr<Listener> l) {
  l->source = g_unix_fd_add(l->fd.get(), G_IO_IN, &Server::on_accept, this);
  log("listening on %s%s", l->path.c_str(), l->readonly ? " (read-only)" : "");
  listeners_.push_back(std::move(l));
}

gboolean Server::on_accept(gint fd, GIOCondition, gpointer data) {
  auto* self = static_cast<Server*>(data);
  for (auto& l : self->listeners_) {
    if (l->fd.get() == fd) self->accept_on(*l);
  }
  return G_SOURCE_CONTINUE;
}

void Server::accept_on(Listener& l) {
  UniqueFd fd(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd.valid()) {
    if (errno != EAGAIN && errno != EINTR) warn("accept failed: %s", std::strerror(errno));
    return;
  }
  if (options_.verbose) {
    // Who connected: the kernel's record of the peer, not anything it says.
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      log("client %llu connected on %s (uid %u, gid %u, pid %d)", static_cast<unsigned long long>(next_client_id_),
          l.path.c_str(), static_cast<unsigned>(cred.uid), static_cast<unsigned>(cred.gid), static_cast<int>(cred.pid));
    } else {
      log("client %llu connected on %s (peer unknown: %s)", static_cast<unsigned long long>(next_client_id_),
          l.path.c_str(), std::strerror(errno));
    }
  }
  add_client(std::move(fd), l.readonly);
}

void Server::add_client(UniqueFd fd, bool readonly) {
  uint64_t id = next_client_id_++;
  auto client = std::make_shared<Client>(*this, std::move(fd), readonly, id);
  clients_.emplace(id, client);
  client->start();
}

void Server::forget(uint64_t client_id) { clients_.erase(client_id); }

gboolean Server::on_tick(gpointer data) {
  auto* self = static_cast<Server*>(data);
  gint64 now = g_get_monotonic_time();
  std::vector<std::shared_ptr<Client>> snapshot;
  for (auto& [id, c] : self->clients_) snapshot.push_back(c);
  for (auto& c : snapshot) c->tick(now);

  if (self->options_.timeout_s == 0) return G_SOURCE_CONTINUE;
  bool idle = self->clients_.empty() && !self->program_.busy();
  if (!idle) {
    self->idle_since_us_ = now;
  } else if (now - self->idle_since_us_ >= gint64{self->options_.timeout_s} * G_USEC_PER_SEC) {
    self->log("idle for %u s: exiting", self->options_.timeout_s);
    self->quit();
  }
  return G_SOURCE_CONTINUE;
}

void Server::quit() { g_main_loop_quit(loop_); }

void Server::run() {
  idle_since_us_ = g_get_monotonic_time();
  auto on_signal = [](gpointer data) -> gboolean {
    static_cast<Server*>(data)->quit();
    return G_SOURCE_CONTINUE;
  };
  guint term = g_unix_signal_add(SIGTERM, on_signal, this);
  guint intr = g_unix_signal_add(SIGINT, on_signal, this);
  g_main_loop_run(loop_);
  g_source_remove(term);
  g_source_remove(intr);
}

}  // namespace arrow::rpc
