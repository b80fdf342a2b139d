// Asynchronous QMP client (see qemu_monitor.h). QEMU ends every QMP message
// with CRLF and never puts a raw newline inside one, so messages are framed
// by lines and each line is parsed as one JSON value.
#include "driver/engine/qemu_monitor.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "util/i18n.h"

namespace arrow {

namespace {

struct EventName {
  QmpEventKind kind;
  const char* name;
};

// The one table used both ways.
constexpr EventName kEventNames[] = {
    {QmpEventKind::Shutdown, "SHUTDOWN"},
    {QmpEventKind::Stop, "STOP"},
    {QmpEventKind::Resume, "RESUME"},
    {QmpEventKind::GuestPanicked, "GUEST_PANICKED"},
    {QmpEventKind::Reset, "RESET"},
    {QmpEventKind::Other, ""},
};

// A QMP line longer than this is not something QEMU sends us.
constexpr size_t kMaxMessage = 1 << 20;

}  // namespace

const char* qmp_event_kind_to_string(QmpEventKind kind) {
  for (const auto& e : kEventNames)
    if (e.kind == kind) return e.name;
  return "";
}

QmpEventKind qmp_event_kind_from_string(std::string_view name) {
  for (const auto& e : kEventNames)
    if (e.kind != QmpEventKind::Other && name == e.name) return e.kind;
  return QmpEventKind::Other;
}

std::string QmpEvent::shutdown_reason() const {
  if (kind != QmpEventKind::Shutdown) return {};
  return data["reason"].as_string();
}

QmpMonitor::QmpMonitor(UniqueFd fd, Callbacks callbacks) : callbacks_(std::move(callbacks)) {
  stream_ = std::make_unique<FdStream>(
      std::move(fd), [this](std::span<const uint8_t> b) { on_data(b); }, [this](int e) { on_closed(e); });
}

QmpMonitor::~QmpMonitor() { *alive_ = false; }

void QmpMonitor::execute(const std::string& command, JsonValue arguments, Reply done) {
  if (closed_) {
    done(make_error(VIR_ERR_OPERATION_FAILED, fmt(_("cannot send '%1$s': the QEMU monitor is closed"), command.c_str())));
    return;
  }
  if (!ready_) {
    queued_.push_back({command, {std::move(arguments), std::move(done)}});
    return;
  }
  send(command, arguments, std::move(done));
}

void QmpMonitor::send(const std::string& command, const JsonValue& arguments, Reply done) {
  const uint64_t id = next_id_++;
  JsonValue msg = JsonValue::object();
  msg.set("execute", JsonValue::string(command));
  if (!arguments.is_null()) msg.set("arguments", arguments);
  msg.set("id", JsonValue::number(static_cast<int64_t>(id)));
  std::string line = msg.to_string() + "\r\n";
  pending_[id] = Pending{command, std::move(done)};
  // A failed write closes the stream, which fails every pending command.
  (void)stream_->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(line.data()), line.size()));
}

void QmpMonitor::pass_fd(const std::string& name, int fd, Reply done) {
  if (!ready_ || !stream_ || !stream_->is_open() || stream_->queued() != 0)
    return done(make_error(VIR_ERR_OPERATION_INVALID, _("QEMU's monitor is busy: cannot pass it a file")));
  const uint64_t id = next_id_++;
  JsonValue msg = JsonValue::object({{"execute", JsonValue::string("getfd")},
                                     {"arguments", JsonValue::object({{"fdname", JsonValue::string(name)}})},
                                     {"id", JsonValue::number(static_cast<int64_t>(id))}});
  const std::string line = msg.to_string() + "\r\n";
  iovec iov{const_cast<char*>(line.data()), line.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  do n = ::sendmsg(stream_->fd(), &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return done(make_error(VIR_ERR_OPERATION_FAILED, fmt(_("cannot pass a file to QEMU: %1$s"), std::strerror(errno))));
  pending_[id] = Pending{"getfd", std::move(done)};
  // The file went with the first byte; the rest of the line, if the socket
  // took less, follows as any write.
  if (static_cast<size_t>(n) < line.size())
    (void)stream_->write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(line.data()) + n, line.size() - static_cast<size_t>(n)));
}

void QmpMonitor::drain() {
  if (stream_) stream_->drain();
}

void QmpMonitor::on_data(std::span<const uint8_t> bytes) {
  inbuf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::shared_ptr<bool> alive = alive_;
  // Lines are taken from POS on and the consumed prefix erased once, so a
  // read holding many messages costs linear time.
  size_t pos = 0, nl;
  while (!closed_ && (nl = inbuf_.find('\n', pos)) != std::string::npos) {
    std::string line = inbuf_.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) handle_message(line);
    if (!*alive) return;  // a callback destroyed the monitor
  }
  inbuf_.erase(0, pos);
  if (*alive && !closed_ && inbuf_.size() > kMaxMessage) {
    stream_->close();
    on_closed(EMSGSIZE);
  }
}

void QmpMonitor::handle_message(const std::string& line) {
  Result<JsonValue> parsed = json_parse(line);
  if (!parsed.ok() || !parsed->is_object()) {
    // A monitor that speaks garbage cannot be trusted with later replies.
    stream_->close();
    on_closed(EPROTO);
    return;
  }
  const JsonValue& msg = parsed.value();
  if (msg.has("QMP")) {
    greeting_ = msg;
    send("qmp_capabilities", JsonValue(), [this](Result<JsonValue> r) {
      if (!r.ok()) {
        fail_all(r.error());
        return;
      }
      ready_ = true;
      auto queued = std::move(queued_);
      queued_.clear();
      for (auto& [cmd, rest] : queued) send(cmd, rest.first, std::move(rest.second));
      if (callbacks_.ready) callbacks_.ready();
    });
  } else if (msg.has("event")) {
    QmpEvent ev;
    ev.name = msg["event"].as_string();
    ev.kind = qmp_event_kind_from_string(ev.name);
    ev.data = msg["data"];
    ev.seconds = msg["timestamp"]["seconds"].as_int();
    ev.microseconds = msg["timestamp"]["microseconds"].as_int();
    if (callbacks_.event) callbacks_.event(ev);
  } else {
    handle_reply(msg);
  }
}

void QmpMonitor::handle_reply(const JsonValue& msg) {
  const auto it = pending_.find(static_cast<uint64_t>(msg["id"].as_int(-1)));
  if (it == pending_.end()) return;  // a reply to nothing we sent: ignore
  Pending p = std::move(it->second);
  pending_.erase(it);
  if (msg.has("return")) {
    p.done(msg["return"]);
    return;
  }
  const JsonValue& err = msg["error"];
  p.done(make_error(VIR_ERR_OPERATION_FAILED,
                    fmt(_("QEMU refused '%1$s': %2$s (%3$s)"), p.command.c_str(), err["desc"].as_string().c_str(),
                        err["class"].as_string().c_str())));
}

void QmpMonitor::on_closed(int errno_value) {
  if (closed_) return;
  std::string reason = errno_value ? std::strerror(errno_value) : std::string(_("end of file"));
  fail_all(make_error(VIR_ERR_OPERATION_FAILED, fmt(_("the QEMU monitor closed: %1$s"), reason.c_str())));
}

// Fails every pending and queued command, then reports the close once.
void QmpMonitor::fail_all(const Error& error) {
  if (closed_) return;
  closed_ = true;
  ready_ = false;
  if (stream_) stream_->close();
  std::shared_ptr<bool> alive = alive_;
  auto pending = std::move(pending_);
  pending_.clear();
  auto queued = std::move(queued_);
  queued_.clear();
  for (auto& [id, p] : pending) {
    p.done(error);
    if (!*alive) return;
  }
  for (auto& q : queued) {
    q.second.second(error);
    if (!*alive) return;
  }
  if (callbacks_.closed) callbacks_.closed(error);
}

}  // namespace arrow
