// Per-Arrow log files (LOGDIR/NAME.log): size-based rotation that keeps the
// file usable by every writer (QEMU holds an O_APPEND descriptor on it: its
// stderr; the daemon appends the console, the serial port and its own
// lines), and the reader behind the log
// channel (kLogChannel, driver/api/arrow_names.h) that `arrow logs [-f]` opens.
//
// The log holds the application's console output as it was written, and
// lines the daemon writes about QEMU and the guest, each of them marked
// "== … ==" (kLogMark). QEMU's own messages (its stderr, and kernel messages
// on the serial console) follow the "== qemu started … ==" line.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "util/byte_stream.h"
#include "util/fd.h"
#include "util/result.h"

namespace arrow {

struct LogPolicy {
  uint64_t max_bytes = 8 * 1024 * 1024;  // rotate once the log grows past this
  unsigned keep = 3;                     // NAME.log.1 … NAME.log.KEEP; 0: truncate only
};

// The prefix of every line the daemon itself writes into an Arrow's log.
inline constexpr const char* kLogMark = "== ";

// Rotates PATH when it is larger than POLICY.max_bytes: NAME.log.N-1 →
// NAME.log.N …, NAME.log → NAME.log.1 (renames only: the daemon's main loop
// must not stall on a copy while QEMU's console output waits, since QEMU
// drops console output it cannot write at once). Returns true when it
// rotated; the caller then opens PATH afresh. Descriptors already open on
// the old file (QEMU's stderr) go on writing into it, now NAME.log.1. KEEP = 0 truncates in place instead.
Result<bool> log_rotate_if_needed(const std::string& path, const LogPolicy& policy);
// The same rotation, whatever PATH's size.
Status log_rotate(const std::string& path, const LogPolicy& policy);

// Streams a log file to a client: what it holds, then (when following) what
// is appended, polled every 200 ms, until RUNNING() says the Arrow stopped;
// then EOF. Across a rotation it reads the old file to its end, then the new.
class LogReader final : public StreamSink, public std::enable_shared_from_this<LogReader> {
 public:
  static std::shared_ptr<LogReader> start(std::string path, bool follow, std::function<bool()> running,
                                          std::shared_ptr<StreamPeer> peer);
  ~LogReader() override;
  void on_data(std::span<const uint8_t>) override {}  // the log is read-only
  void on_closed() override;

 private:
  LogReader() = default;
  static gboolean on_tick(gpointer self);
  // Sends what is new, at most kPumpMax bytes; false once done (EOF sent or
  // the peer gone).
  bool pump();
  static constexpr size_t kPumpMax = 1 << 20;

  std::string path_;
  bool follow_ = false;
  std::function<bool()> running_;
  std::shared_ptr<StreamPeer> peer_;
  UniqueFd fd_;  // the file being read (kept across a rotation until read out)
  guint timer_ = 0;
};

}  // namespace arrow
