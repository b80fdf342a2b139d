// QemuAgent: the host's client of the QEMU guest agent protocol on an
// Arrow's org.qemu.guest_agent.0 channel (ainit answers it, kernel/
// ainit_agent.c). One command at a time, queued: each is preceded by
// guest-sync-delimited with a fresh id (the 0xFF sentinel resets the
// agent's parser and marks the start of the sync answer), so a late answer
// to an earlier command is never taken for this one. A guest that does not
// answer within the timeout, answers garbage, or more than kReplyMax bytes
// costs the caller VIR_ERR_AGENT_UNRESPONSIVE and the connection (the next
// command connects afresh); the daemon never waits on it.
#pragma once

#include <glib.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "driver/engine/fd_stream.h"
#include "driver/engine/json.h"
#include "util/fd.h"
#include "util/result.h"

namespace arrow {

class QemuAgent {
 public:
  using Reply = std::function<void(Result<JsonValue>)>;  // the "return" member
  using Connect = std::function<Result<UniqueFd>()>;
  static constexpr size_t kReplyMax = 4 << 20;
  static constexpr size_t kQueueMax = 16;

  // CONNECT opens the channel's socket when a command needs it.
  QemuAgent(Connect connect, unsigned timeout_ms);
  ~QemuAgent();
  QemuAgent(const QemuAgent&) = delete;
  QemuAgent& operator=(const QemuAgent&) = delete;

  // Runs COMMAND with ARGUMENTS (null: none); DONE runs once, later, on the
  // main loop: the return value, or the agent's error
  // (VIR_ERR_AGENT_COMMAND_FAILED-like VIR_ERR_INTERNAL_ERROR naming the
  // command), or VIR_ERR_AGENT_UNRESPONSIVE.
  void execute(const std::string& command, JsonValue arguments, Reply done);

  // For inspection: whether the last command got its answer, and when
  // (g_get_real_time µs; 0: never).
  bool last_ok() const { return last_ok_; }
  int64_t last_answer_us() const { return last_answer_us_; }

 private:
  struct Pending {
    std::string command;
    JsonValue arguments;
    Reply done;
  };
  enum class Phase { Idle, Syncing, Waiting };
  void next();
  void on_data(std::span<const uint8_t> bytes);
  void parse();
  void finish(Result<JsonValue> result);
  void fail_connection(const std::string& why);
  void send_line(const std::string& text, bool sentinel);
  static gboolean on_timeout(gpointer self);

  Connect connect_;
  unsigned timeout_ms_;
  std::unique_ptr<FdStream> stream_;
  std::deque<Pending> queue_;
  Phase phase_ = Phase::Idle;
  int64_t sync_id_ = 0;
  std::string in_;
  guint timer_ = 0;
  bool last_ok_ = false;
  int64_t last_answer_us_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace arrow
