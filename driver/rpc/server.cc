// Listening sockets, accepting clients within max_clients and
// max_anonymous_clients (and backing off when out of file descriptors), the
// once-a-second tick (keepalive, client timeouts, idle exit), and the main loop.
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
  if (backoff_source_) g_source_remove(backoff_source_);
  if (loop_) g_main_loop_unref(loop_);
}

namespace {

// One line on stderr (the journal under systemd).
void log_line(const char* format, va_list ap) {
  std::fputs("virtarrowd: ", stderr);
  std::vfprintf(stderr, format, ap);
  std::fputc('\n', stderr);
}

}  // namespace

void Server::log(const char* format, ...) const {
  if (!options_.verbose) return;
  va_list ap;
  va_start(ap, format);
  log_line(format, ap);
  va_end(ap);
}

void Server::warn(const char* format, ...) const {
  va_list ap;
  va_start(ap, format);
  log_line(format, ap);
  va_end(ap);
}

void Server::warn_limited(const char* kind, const char* format, ...) {
  Limited& l = limited_[kind];
  const gint64 now = g_get_monotonic_time();
  const bool speak = l.last_us == 0 || now - l.last_us >= 60 * G_USEC_PER_SEC;
  if (!speak && !options_.verbose) {
    l.held_back++;
    return;
  }
  va_list ap;
  va_start(ap, format);
  std::fputs("virtarrowd: ", stderr);
  std::vfprintf(stderr, format, ap);
  if (speak && l.held_back) std::fprintf(stderr, " (and %u more like it in the last minute)", l.held_back);
  std::fputc('\n', stderr);
  va_end(ap);
  if (speak) {
    l.last_us = now;
    l.held_back = 0;
  }
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
  // Bound and set up under a temporary name, then renamed into place: a
  // client (or a test waiting for the file) never finds PATH refusing
  // connections between bind() and listen(), nor with the wrong mode. A path
  // too long for the temporary name is bound in place.
  const std::string temp = path + ".new";
  Result<sockaddr_un> temp_addr = unix_address(temp);
  const std::string& bound = temp_addr.ok() ? temp : path;
  if (temp_addr.ok()) {
    addr = temp_addr.value();
    ::unlink(temp.c_str());
  }
  mode_t old = ::umask(0077);
  int rc = ::bind(l->fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old);
  if (rc != 0) {
    return make_error(VIR_ERR_SYSTEM_ERROR,
                      fmt(_("cannot bind socket '%1$s': %2$s"), bound.c_str(), std::strerror(bind_errno)));
  }
  UniquePath bound_file(bound);
  if (group && ::chown(bound.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot change the group of '%1$s' to %2$u: %3$s"), path.c_str(),
                                                static_cast<unsigned>(*group), std::strerror(errno)));
  }
  if (::chmod(bound.c_str(), mode) != 0 || ::listen(l->fd.get(), 64) != 0 ||
      (bound != path && ::rename(bound.c_str(), path.c_str()) != 0)) {
    return make_error(VIR_ERR_SYSTEM_ERROR,
                      fmt(_("cannot listen on '%1$s': %2$s"), path.c_str(), std::strerror(errno)));
  }
  bound_file.release();
  l->owned = UniquePath(path);
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
  if (accepting_) l->source = g_unix_fd_add(l->fd.get(), G_IO_IN, &Server::on_accept, this);
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
    int err = errno;
    if (err == EAGAIN || err == EINTR || err == ECONNABORTED) return;
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      // The connection stays in the backlog and the socket readable: pause
      // rather than spin, until a client leaves or the back-off ends.
      if (!backoff_logged_) {
        warn("accept failed: %s; pausing new connections (%zu clients)", std::strerror(err), clients_.size());
        backoff_logged_ = true;
      }
      if (!backoff_source_) backoff_source_ = g_timeout_add(options_.accept_backoff_ms, &Server::on_backoff_over, this);
      update_accepting();
      return;
    }
    warn("accept failed: %s", std::strerror(err));
    return;
  }
  if (backoff_logged_) {
    warn("accepting new connections again (%zu clients)", clients_.size());
    backoff_logged_ = false;
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

bool Server::at_client_limit() const {
  return clients_.size() >= options_.max_clients ||
         (options_.max_anonymous_clients && anonymous_ >= options_.max_anonymous_clients);
}

void Server::update_accepting() {
  const bool limited = at_client_limit();
  if (limited && !limit_logged_) {
    warn("%zu clients, %zu of them not opened (max_clients %zu, max_anonymous_clients %zu): "
         "accepting no new connection until one opens or leaves",
         clients_.size(), anonymous_, options_.max_clients, options_.max_anonymous_clients);
    limit_logged_ = true;
  } else if (!limited && limit_logged_) {
    warn("accepting new connections again (%zu clients, %zu not opened)", clients_.size(), anonymous_);
    limit_logged_ = false;
  }
  const bool want = !limited && !backoff_source_;
  accepting_ = want;
  for (auto& l : listeners_) {
    if (want && !l->source) {
      l->source = g_unix_fd_add(l->fd.get(), G_IO_IN, &Server::on_accept, this);
    } else if (!want && l->source) {
      g_source_remove(l->source);
      l->source = 0;
    }
  }
}

gboolean Server::on_backoff_over(gpointer data) {
  auto* self = static_cast<Server*>(data);
  self->backoff_source_ = 0;
  self->update_accepting();
  return G_SOURCE_REMOVE;
}

std::shared_ptr<Client> Server::add_client(UniqueFd fd, bool readonly) {
  uint64_t id = next_client_id_++;
  if (at_client_limit()) {
    // Only a socket not from our listeners gets here (they pause at the limit).
    update_accepting();
    log("client %llu: refused: too many clients", static_cast<unsigned long long>(id));
    return nullptr;
  }
  auto client = std::make_shared<Client>(*this, std::move(fd), readonly, id);
  clients_.emplace(id, client);
  anonymous_++;
  update_accepting();
  client->start();
  return client;
}

void Server::client_opened(const Client&) {
  if (anonymous_ > 0) anonymous_--;
  update_accepting();
}

void Server::forget(uint64_t client_id) {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return;
  if (!it->second->opened() && anonymous_ > 0) anonymous_--;
  clients_.erase(it);  // may destroy the client once its caller's reference goes
  // A client left: a descriptor is free, so try accepting at once.
  if (backoff_source_) {
    g_source_remove(backoff_source_);
    backoff_source_ = 0;
  }
  update_accepting();
}

gboolean Server::on_tick(gpointer data) {
  static_cast<Server*>(data)->tick(g_get_monotonic_time());
  return G_SOURCE_CONTINUE;
}

void Server::tick(gint64 now) {
  std::vector<std::shared_ptr<Client>> snapshot;
  for (auto& [id, c] : clients_) snapshot.push_back(c);
  for (auto& c : snapshot) c->tick(now);

  if (options_.timeout_s == 0) return;
  bool idle = clients_.empty() && !program_.busy();
  if (!idle) {
    idle_since_us_ = now;
  } else if (now - idle_since_us_ >= gint64{options_.timeout_s} * G_USEC_PER_SEC) {
    log("idle for %u s: exiting", options_.timeout_s);
    quit();
  }
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
