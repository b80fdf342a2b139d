// QemuAgent: the QEMU guest agent client (see qemu_agent.h).
#include "driver/engine/qemu_agent.h"

#include <libvirt/virterror.h>

#include "util/i18n.h"

namespace arrow {

QemuAgent::QemuAgent(Connect connect, unsigned timeout_ms) : connect_(std::move(connect)), timeout_ms_(timeout_ms) {
  // Sync ids differ across daemons and agents (libvirt uses the clock too).
  sync_id_ = g_get_real_time();
}

QemuAgent::~QemuAgent() {
  *alive_ = false;
  if (timer_) g_source_remove(timer_);
  // Callers hear of their commands: the Arrow went away.
  std::deque<Pending> queue = std::move(queue_);
  for (Pending& p : queue)
    p.done(make_error(VIR_ERR_AGENT_UNRESPONSIVE, _("Guest agent is not responding: the domain stopped")));
}

void QemuAgent::execute(const std::string& command, JsonValue arguments, Reply done) {
  if (queue_.size() >= kQueueMax) {
    std::shared_ptr<bool> alive = alive_;
    g_idle_add_full(
        G_PRIORITY_DEFAULT,
        [](gpointer data) -> gboolean {
          auto* d = static_cast<Reply*>(data);
          (*d)(make_error(VIR_ERR_AGENT_UNRESPONSIVE,
                          _("Guest agent is not responding: too many commands are waiting for it")));
          return G_SOURCE_REMOVE;
        },
        new Reply(std::move(done)), [](gpointer data) { delete static_cast<Reply*>(data); });
    return;
  }
  queue_.push_back(Pending{command, std::move(arguments), std::move(done)});
  if (phase_ == Phase::Idle) next();
}

void QemuAgent::send_line(const std::string& text, bool sentinel) {
  std::string line = sentinel ? "\xff" + text + "\n" : text + "\n";
  Status st = stream_->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(line.data()), line.size()));
  if (!st.ok()) fail_connection(st.error().message);
}

// Starts the first queued command: connect if needed, then sync.
void QemuAgent::next() {
  if (queue_.empty() || phase_ != Phase::Idle) return;
  if (!stream_) {
    Result<UniqueFd> fd = connect_();
    if (!fd.ok()) {
      Error e = make_error(VIR_ERR_AGENT_UNRESPONSIVE,
                           fmt(_("Guest agent is not responding: %1$s"), fd.error().message.c_str()));
      return finish(e);
    }
    std::weak_ptr<bool> alive = alive_;
    stream_ = std::make_unique<FdStream>(
        std::move(fd).value(), [this](std::span<const uint8_t> b) { on_data(b); },
        [this, alive](int) {
          if (!alive.expired()) fail_connection(_("the agent's channel closed"));
        });
    stream_->set_write_limit(kReplyMax);
  }
  in_.clear();
  phase_ = Phase::Syncing;
  sync_id_++;
  timer_ = g_timeout_add(timeout_ms_, on_timeout, this);
  JsonValue args = JsonValue::object({{"id", JsonValue::number(sync_id_)}});
  JsonValue cmd = JsonValue::object({{"execute", JsonValue::string("guest-sync-delimited")}, {"arguments", args}});
  // The sentinel first resets a parser that holds half a request.
  send_line(cmd.to_string(), true);
}

void QemuAgent::on_data(std::span<const uint8_t> bytes) {
  if (phase_ == Phase::Idle) return;  // nobody asked: dropped
  in_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  parse();
}

// Answers are one JSON object per line. While syncing, everything up to the
// agent's 0xFF is an earlier command's leftovers.
void QemuAgent::parse() {
  std::shared_ptr<bool> alive = alive_;
  while (*alive && phase_ != Phase::Idle) {
    if (phase_ == Phase::Syncing) {
      const size_t ff = in_.find('\xff');
      if (ff == std::string::npos) {
        in_.clear();
        return;
      }
      in_.erase(0, ff + 1);
    }
    const size_t nl = in_.find('\n');
    if (nl == std::string::npos) {
      if (in_.size() > kReplyMax) fail_connection(_("its answer is too long"));
      return;
    }
    std::string line = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    Result<JsonValue> reply = json_parse(line);
    if (!reply.ok() || !reply->is_object()) {
      if (phase_ == Phase::Syncing) continue;  // look for the next sentinel
      return fail_connection(_("its answer is not JSON"));
    }
    if (phase_ == Phase::Syncing) {
      if ((*reply)["return"].as_int(-1) != sync_id_) continue;  // a stale sync answer
      phase_ = Phase::Waiting;
      in_.clear();
      const Pending& p = queue_.front();
      JsonValue cmd = JsonValue::object({{"execute", JsonValue::string(p.command)}});
      if (!p.arguments.is_null()) cmd.set("arguments", p.arguments);
      send_line(cmd.to_string(), false);
      continue;
    }
    if (reply->has("return")) return finish(JsonValue((*reply)["return"]));
    const JsonValue& err = (*reply)["error"];
    const std::string desc = err["desc"].as_string().substr(0, 512);
    return finish(make_error(VIR_ERR_INTERNAL_ERROR,
                             fmt(_("internal error: unable to execute QEMU agent command '%1$s': %2$s"),
                                 queue_.front().command.c_str(), desc.empty() ? "?" : desc.c_str())));
  }
}

void QemuAgent::finish(Result<JsonValue> result) {
  if (timer_) g_source_remove(timer_);
  timer_ = 0;
  phase_ = Phase::Idle;
  const bool answered = result.ok() || result.error().code != VIR_ERR_AGENT_UNRESPONSIVE;
  last_ok_ = answered;
  if (answered) last_answer_us_ = g_get_real_time();
  Pending p = std::move(queue_.front());
  queue_.pop_front();
  std::shared_ptr<bool> alive = alive_;
  p.done(std::move(result));
  if (*alive) next();
}

// Drops the connection (the agent's state is unknown) and fails the
// command in progress.
void QemuAgent::fail_connection(const std::string& why) {
  // The stream may be the caller: destroyed later, on the main loop.
  if (stream_) {
    stream_->close();
    FdStream* old = stream_.release();
    g_idle_add([](gpointer s) -> gboolean {
      delete static_cast<FdStream*>(s);
      return G_SOURCE_REMOVE;
    }, old);
  }
  if (phase_ == Phase::Idle) return;
  finish(make_error(VIR_ERR_AGENT_UNRESPONSIVE, fmt(_("Guest agent is not responding: %1$s"), why.c_str())));
}

gboolean QemuAgent::on_timeout(gpointer self) {
  auto* a = static_cast<QemuAgent*>(self);
  a->timer_ = 0;
  a->fail_connection(fmt(_("no answer within %1$u ms"), a->timeout_ms_));
  return G_SOURCE_REMOVE;
}

}  // namespace arrow
