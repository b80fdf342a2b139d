// QmpMonitor: an asynchronous QMP client on the GLib main loop. It reads the
// greeting, negotiates capabilities, sends commands with ids and matches
// their replies, and reports events. It never spawns or kills anything.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "driver/engine/json.h"
#include "driver/engine/fd_stream.h"
#include "util/fd.h"
#include "util/result.h"

namespace arrow {

// The QMP events the engine acts on; others arrive as Other with their name.
enum class QmpEventKind { Shutdown, Stop, Resume, GuestPanicked, Reset, Other };

const char* qmp_event_kind_to_string(QmpEventKind kind);  // the QMP event name
QmpEventKind qmp_event_kind_from_string(std::string_view name);

struct QmpEvent {
  QmpEventKind kind = QmpEventKind::Other;
  std::string name;  // as QEMU sent it
  JsonValue data;    // null when the event has none
  int64_t seconds = 0;
  int64_t microseconds = 0;

  // SHUTDOWN: data.reason ("guest-shutdown", "guest-reset", "host-qmp-quit",
  // "host-signal", "guest-panic" ...). Under -no-reboot a guest reboot, which
  // is also how a panicking kernel with panic=-1 ends, arrives as
  // "guest-reset". Empty for other events.
  std::string shutdown_reason() const;
  bool shutdown_by_guest() const { return data["guest"].as_bool(); }
};

class QmpMonitor {
 public:
  using Reply = std::function<void(Result<JsonValue>)>;  // the "return" member
  struct Callbacks {
    std::function<void()> ready;                  // capabilities negotiated
    std::function<void(const QmpEvent&)> event;
    std::function<void(const Error&)> closed;     // connection lost (once)
  };

  // Takes a connected socket to QEMU's QMP chardev.
  QmpMonitor(UniqueFd fd, Callbacks callbacks);
  ~QmpMonitor();
  QmpMonitor(const QmpMonitor&) = delete;
  QmpMonitor& operator=(const QmpMonitor&) = delete;

  bool ready() const { return ready_; }
  bool is_open() const { return stream_ && stream_->is_open(); }
  const JsonValue& greeting() const { return greeting_; }

  // Sends COMMAND (queued until capabilities are negotiated). DONE runs once:
  // with the reply's "return" value, with VIR_ERR_OPERATION_FAILED carrying
  // QEMU's error description, or with VIR_ERR_OPERATION_FAILED when the
  // connection closes first (expected for "quit").
  void execute(const std::string& command, JsonValue arguments, Reply done);
  void execute(const std::string& command, Reply done) { execute(command, JsonValue(), std::move(done)); }

  // `getfd` with FD passed alongside (SCM_RIGHTS), naming it NAME in QEMU
  // (for "fd:NAME" migration URIs). Only once negotiated and with nothing
  // else queued to QEMU: otherwise DONE gets VIR_ERR_OPERATION_INVALID.
  void pass_fd(const std::string& name, int fd, Reply done);

  // Reads what QEMU wrote before it went away (see FdStream::drain).
  void drain();

 private:
  struct Pending {
    std::string command;
    Reply done;
  };
  void on_data(std::span<const uint8_t> bytes);
  void on_closed(int errno_value);
  void handle_message(const std::string& line);
  void handle_reply(const JsonValue& msg);
  void send(const std::string& command, const JsonValue& arguments, Reply done);
  void fail_all(const Error& error);

  std::unique_ptr<FdStream> stream_;
  Callbacks callbacks_;
  std::string inbuf_;
  JsonValue greeting_;
  bool ready_ = false;
  bool closed_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;
  std::vector<std::pair<std::string, std::pair<JsonValue, Reply>>> queued_;  // before ready
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace arrow
