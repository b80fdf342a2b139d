// FdStream: a non-blocking byte stream (socket or pipe) driven by the GLib
// main loop, with a read callback, buffered writes and one close callback.
// The transport under the QMP client, the Anotify channel and the console.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace arrow {

class FdStream {
 public:
  using DataFn = std::function<void(std::span<const uint8_t>)>;
  // errno_value is 0 on an orderly end of stream.
  using ClosedFn = std::function<void(int errno_value)>;

  // Takes FD, makes it non-blocking and watches it on the thread-default
  // main context. Callbacks run from the main loop and may destroy the
  // stream; after on_closed the fd is already closed.
  FdStream(UniqueFd fd, DataFn on_data, ClosedFn on_closed);
  ~FdStream();
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  bool is_open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  // Queues BYTES and flushes what the fd accepts now; the rest is written as
  // the peer reads. Fails once the stream is closed, and when the queue
  // would pass its limit (a peer that does not read — a guest ignoring its
  // port — never grows the daemon): nothing of BYTES is queued then.
  Status write(std::span<const uint8_t> bytes);
  // The queue's limit (default kWriteQueueMax).
  void set_write_limit(size_t bytes) { write_limit_ = bytes; }
  size_t queued() const { return out_.size() - out_off_; }

  static constexpr size_t kWriteQueueMax = 1 << 20;
  // Reads whatever is readable right now, delivering it (and a close, if the
  // peer is gone) before returning: used when the peer process has exited so
  // its last words are not lost behind the exit notification.
  void drain();
  // Closes without calling on_closed.
  void close();

 private:
  static gboolean on_readable(gint fd, GIOCondition cond, gpointer self);
  static gboolean on_writable(gint fd, GIOCondition cond, gpointer self);
  // One read(); false once the stream closed (or was destroyed).
  bool read_once();
  void flush();
  void fail(int errno_value);
  void remove_sources();

  UniqueFd fd_;
  DataFn on_data_;
  ClosedFn on_closed_;
  std::vector<uint8_t> out_;
  size_t out_off_ = 0;  // bytes of out_ already written
  size_t write_limit_ = kWriteQueueMax;
  guint read_source_ = 0;
  guint write_source_ = 0;
  // Lets a dispatch notice that a callback destroyed this object.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace arrow
