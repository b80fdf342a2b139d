// ChannelRelay: a channel's socket joined to a client's stream (see
// arrow_channel.h).
#include "driver/arrow/arrow_channel.h"

#include <errno.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "util/i18n.h"

namespace arrow {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// How often a relay whose client is behind looks at its backlog again.
constexpr unsigned kBacklogTickMs = 10;

}  // namespace

std::shared_ptr<ChannelRelay> ChannelRelay::start(UniqueFd fd, std::shared_ptr<StreamPeer> peer) {
  std::shared_ptr<ChannelRelay> r(new ChannelRelay());
  r->fd_ = std::move(fd);
  r->peer_ = std::move(peer);
  r->watch_read();
  return r;
}

ChannelRelay::~ChannelRelay() { remove_sources(); }

void ChannelRelay::remove_sources() {
  for (guint* id : {&read_source_, &write_source_, &tick_source_, &flush_timer_})
    if (*id) {
      g_source_remove(*id);
      *id = 0;
    }
}

void ChannelRelay::watch_read() {
  if (read_source_ || !fd_.valid() || !peer_) return;
  read_source_ = g_unix_fd_add(fd_.get(), static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR), on_readable, this);
}

void ChannelRelay::watch_write() {
  if (write_source_ || !fd_.valid()) return;
  write_source_ = g_unix_fd_add(fd_.get(), G_IO_OUT, on_writable, this);
}

gboolean ChannelRelay::on_readable(gint, GIOCondition, gpointer data) {
  auto* self = static_cast<ChannelRelay*>(data);
  std::shared_ptr<ChannelRelay> hold = self->shared_from_this();
  if (!self->peer_) {
    self->read_source_ = 0;
    return G_SOURCE_REMOVE;
  }
  uint8_t buf[kReadChunk];
  const ssize_t n = ::read(self->fd_.get(), buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return G_SOURCE_CONTINUE;
  if (n <= 0) {
    // The guest side went away (QEMU closed it: the Arrow stopped, or
    // another peer took over): end of data for the client.
    self->read_source_ = 0;
    self->finish(true);
    return G_SOURCE_REMOVE;
  }
  self->peer_->send(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
  if (self->peer_ && self->peer_->backlog() > kBacklogMax) {
    // The client is behind: leave the bytes in the socket (QEMU then stops
    // taking them from the guest) and look again shortly.
    self->read_source_ = 0;
    self->tick_source_ = g_timeout_add(kBacklogTickMs, on_backlog_tick, self);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

gboolean ChannelRelay::on_backlog_tick(gpointer data) {
  auto* self = static_cast<ChannelRelay*>(data);
  if (self->peer_ && self->peer_->backlog() > kBacklogMax / 2) return G_SOURCE_CONTINUE;
  self->tick_source_ = 0;
  self->watch_read();
  return G_SOURCE_REMOVE;
}

void ChannelRelay::on_data(std::span<const uint8_t> bytes) {
  if (!fd_.valid()) return;
  std::shared_ptr<ChannelRelay> keep = shared_from_this();  // an abort below drops the stream's reference
  if (first_line_fn_) {
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const size_t nl = text.find('\n');
    first_line_.append(text.substr(0, nl));
    if (nl != std::string_view::npos) {
      auto fn = std::move(first_line_fn_);
      first_line_fn_ = nullptr;
      fn(first_line_);
      first_line_.clear();
    } else if (first_line_.size() > kLineMax) {
      return abort(make_error(VIR_ERR_INVALID_ARG, _("invalid argument: the request line is too long")));
    }
  }
  pending_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (!flush()) return;
  if (pending_.size() - pending_off_ > kPendingMax && peer_ && !holding_) {
    holding_ = true;
    peer_->hold_input(true);
  }
}

bool ChannelRelay::flush() {
  while (pending_off_ < pending_.size()) {
    const ssize_t n =
        ::send(fd_.get(), pending_.data() + pending_off_, pending_.size() - pending_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {
      // The channel's socket failed (QEMU is gone): whatever waits for it
      // cannot be delivered, which the client learns as an end of stream.
      pending_.clear();
      pending_off_ = 0;
      finish(true);
      return false;
    }
    pending_off_ += static_cast<size_t>(n);
  }
  if (pending_off_ == pending_.size()) {
    pending_.clear();
    pending_off_ = 0;
  } else if (pending_off_ > kPendingMax) {
    pending_.erase(0, pending_off_);
    pending_off_ = 0;
  }
  const size_t left = pending_.size() - pending_off_;
  if (holding_ && left <= kPendingMax / 4) {
    holding_ = false;
    if (peer_) peer_->hold_input(false);
  }
  if (left > 0) {
    watch_write();
  } else if (!peer_) {
    finish(false);  // the client left and everything it sent is written
  }
  return true;
}

gboolean ChannelRelay::on_writable(gint, GIOCondition, gpointer data) {
  auto* self = static_cast<ChannelRelay*>(data);
  std::shared_ptr<ChannelRelay> hold = self->shared_from_this();
  self->write_source_ = 0;
  self->flush();
  return G_SOURCE_REMOVE;
}

void ChannelRelay::on_closed() {
  // The client finished or aborted (or its connection closed). What it sent
  // still goes to the channel; the relay keeps itself alive for that.
  peer_.reset();
  holding_ = false;
  if (fd_.valid() && !farewell_.empty()) pending_ += std::exchange(farewell_, {});
  if (pending_off_ < pending_.size() && fd_.valid()) {
    self_ = shared_from_this();
    flush_timer_ = g_timeout_add(kFlushMs, on_flush_timeout, this);
    flush();  // finishes once everything is written
    return;
  }
  finish(false);
}

gboolean ChannelRelay::on_flush_timeout(gpointer data) {
  auto* self = static_cast<ChannelRelay*>(data);
  self->flush_timer_ = 0;
  self->finish(false);
  return G_SOURCE_REMOVE;
}

void ChannelRelay::abort(const Error& error) {
  std::shared_ptr<StreamPeer> peer = std::move(peer_);
  peer_.reset();
  pending_.clear();
  pending_off_ = 0;
  if (fd_.valid() && !farewell_.empty()) {  // best effort: the socket is closed next
    const ssize_t n = ::send(fd_.get(), farewell_.data(), farewell_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
  }
  finish(false);
  if (peer) peer->abort(error);
}

// Closes the socket (QEMU then listens for the next peer) and, when asked,
// tells the client the data ended.
void ChannelRelay::finish(bool eof_to_client) {
  std::shared_ptr<ChannelRelay> keep = shared_from_this();
  remove_sources();
  fd_.reset();
  if (holding_ && peer_) peer_->hold_input(false);
  holding_ = false;
  std::shared_ptr<StreamPeer> peer = std::move(peer_);
  peer_.reset();
  if (eof_to_client && peer) peer->send_eof();
  self_.reset();
}

}  // namespace arrow
