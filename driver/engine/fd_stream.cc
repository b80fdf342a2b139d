// Non-blocking fd stream on the GLib main loop (see fd_stream.h).
#include "driver/engine/fd_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/i18n.h"

namespace arrow {

FdStream::FdStream(UniqueFd fd, DataFn on_data, ClosedFn on_closed)
    : fd_(std::move(fd)), on_data_(std::move(on_data)), on_closed_(std::move(on_closed)) {
  if (!fd_.valid()) return;
  const int flags = fcntl(fd_.get(), F_GETFL);
  fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
  read_source_ = g_unix_fd_add(fd_.get(), static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR), on_readable, this);
}

FdStream::~FdStream() {
  *alive_ = false;
  remove_sources();
}

void FdStream::remove_sources() {
  if (read_source_) g_source_remove(read_source_);
  if (write_source_) g_source_remove(write_source_);
  read_source_ = write_source_ = 0;
}

void FdStream::close() {
  remove_sources();
  fd_.reset();
  out_.clear();
  out_off_ = 0;
}

void FdStream::fail(int errno_value) {
  close();
  ClosedFn cb = std::move(on_closed_);
  on_closed_ = nullptr;
  if (cb) cb(errno_value);
}

bool FdStream::read_once() {
  // Large reads: QEMU drops console output it cannot write at once
  // (hw/char/virtio-console.c on EAGAIN), so one wakeup should empty the
  // socket. The shared buffer serves the outermost read; a read from inside
  // a callback (a drain) uses its own.
  static uint8_t shared[262144];
  static int depth = 0;
  uint8_t nested[16384];
  uint8_t* buf = depth == 0 ? shared : nested;
  const size_t size = depth == 0 ? sizeof shared : sizeof nested;
  const ssize_t n = ::read(fd_.get(), buf, size);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    fail(errno);
    return false;
  }
  if (n == 0) {
    fail(0);
    return false;
  }
  std::shared_ptr<bool> alive = alive_;
  depth++;
  if (on_data_) on_data_(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
  depth--;
  return *alive && fd_.valid();
}

gboolean FdStream::on_readable(gint, GIOCondition, gpointer self) {
  // When read_once() fails the stream closed or was destroyed, and either way
  // read_source_ was already cleared by remove_sources().
  return static_cast<FdStream*>(self)->read_once() ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void FdStream::drain() {
  std::shared_ptr<bool> alive = alive_;
  while (*alive && fd_.valid()) {
    uint8_t probe;
    // Peek first: read_once() treats "nothing now" as success, so stop when
    // nothing is pending and the peer is still there.
    const ssize_t n = ::recv(fd_.get(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK) {
      if (!read_once()) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (!read_once()) return;
  }
}

Status FdStream::write(std::span<const uint8_t> bytes) {
  if (!fd_.valid()) return make_error(VIR_ERR_OPERATION_INVALID, _("the stream is closed"));
  if (queued() + bytes.size() > write_limit_) {
    return make_error(VIR_ERR_OPERATION_FAILED,
                      fmt(_("the peer is not reading: %1$zu bytes already wait to be written"), queued()));
  }
  // The written prefix goes once it is the larger half: linear in the bytes.
  if (out_off_ > 0 && out_off_ >= out_.size() / 2) {
    out_.erase(out_.begin(), out_.begin() + static_cast<long>(out_off_));
    out_off_ = 0;
  }
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  flush();
  return {};
}

void FdStream::flush() {
  while (queued() > 0) {
    const uint8_t* data = out_.data() + out_off_;
    ssize_t n = ::send(fd_.get(), data, queued(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd_.get(), data, queued());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return fail(errno);
    }
    if (n == 0) break;  // nothing taken: wait for writability
    out_off_ += static_cast<size_t>(n);
  }
  if (queued() == 0) {
    out_.clear();
    out_off_ = 0;
  }
  if (queued() > 0 && !write_source_) {
    write_source_ = g_unix_fd_add(fd_.get(), G_IO_OUT, on_writable, this);
  } else if (queued() == 0 && write_source_) {
    g_source_remove(write_source_);
    write_source_ = 0;
  }
}

gboolean FdStream::on_writable(gint, GIOCondition, gpointer self) {
  // This watch always ends here; flush() adds a fresh one if output remains.
  auto* s = static_cast<FdStream*>(self);
  s->write_source_ = 0;
  s->flush();
  return G_SOURCE_REMOVE;
}

}  // namespace arrow
