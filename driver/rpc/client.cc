// One client connection: reads frames, hands calls to the program and stream
// frames to their stream, queues replies, keepalive; and the Responder that
// answers a call. A malformed frame closes only this client. The bounds
// (ServerOptions): a client with max_client_requests calls in flight, or more
// than max_client_output bytes queued, is not read until that drains; one
// whose output does not move, that never opens, or that stays silent, is
// dropped.
#include <glib-unix.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "driver/rpc/server.h"
#include "driver/rpc/stream.h"
#include "util/i18n.h"

namespace arrow::rpc {

namespace {

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

Client::Client(Server& server, UniqueFd fd, bool readonly, uint64_t id)
    : server_(server), fd_(std::move(fd)), id_(id), readonly_(readonly) {
  connected_us_ = last_rx_us_ = last_tx_us_ = g_get_monotonic_time();
}

Client::~Client() {
  if (read_source_) g_source_remove(read_source_);
  if (write_source_) g_source_remove(write_source_);
  if (resume_source_) g_source_remove(resume_source_);
  if (hup_source_) g_source_remove(hup_source_);
}

void Client::start() {
  session_ = server_.program().open_session(*this);
  read_source_ = g_unix_fd_add(fd_.get(), static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR),
                               &Client::on_readable, this);
}

void Client::set_opened() {
  if (opened_ || closed_) return;
  opened_ = true;
  server_.client_opened(*this);
}

void Client::close(const char* why) {
  if (closed_) return;
  closed_ = true;
  server_.log("client %llu: closing: %s", ull(id_), why);
  if (read_source_) g_source_remove(read_source_);
  if (write_source_) g_source_remove(write_source_);
  if (resume_source_) g_source_remove(resume_source_);
  if (hup_source_) g_source_remove(hup_source_);
  read_source_ = write_source_ = resume_source_ = hup_source_ = 0;
  fd_.reset();
  outq_.clear();
  queued_bytes_ = queued_other_bytes_ = 0;
  session_.reset();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [serial, stream] : streams) stream->on_connection_closed();
  server_.forget(id_);  // may destroy *this once the caller's reference goes
}

gboolean Client::on_readable(gint, GIOCondition, gpointer data) {
  auto self = static_cast<Client*>(data)->shared_from_this();  // survives close()
  if (!self->read_some()) {
    self->read_source_ = 0;
    return G_SOURCE_REMOVE;
  }
  // Throttling removed this source (read_source_ is 0 then).
  return self->read_source_ ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

gboolean Client::on_writable(gint, GIOCondition, gpointer data) {
  auto self = static_cast<Client*>(data)->shared_from_this();
  if (!self->flush() || self->outq_.empty()) {
    self->write_source_ = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

gboolean Client::on_resume(gpointer data) {
  auto self = static_cast<Client*>(data)->shared_from_this();
  self->resume_source_ = 0;
  if (self->closed_ || self->throttled()) return G_SOURCE_REMOVE;
  // The frames read before the throttle first (take_frames reads the socket
  // again once they are done).
  self->take_frames();
  return G_SOURCE_REMOVE;
}

gboolean Client::on_hangup(gint, GIOCondition, gpointer data) {
  auto self = static_cast<Client*>(data)->shared_from_this();
  self->hup_source_ = 0;
  self->close("hung up while throttled");
  return G_SOURCE_REMOVE;
}

bool Client::throttled() const {
  const ServerOptions& o = server_.options();
  return requests_ >= o.max_client_requests || queued_bytes_ > o.max_client_output || input_holds_ > 0;
}

std::string Client::describe() const {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
    return fmt("client %llu (uid %u, pid %d)", ull(id_), cred.uid, cred.pid);
  return fmt("client %llu", ull(id_));
}

void Client::hold_input(bool hold) {
  if (closed_) return;
  if (hold) {
    input_holds_++;
  } else if (input_holds_ > 0) {
    input_holds_--;
  }
  update_reading();
}

void Client::update_reading() {
  if (closed_) return;
  if (throttled()) {
    if (read_source_) {
      g_source_remove(read_source_);
      read_source_ = 0;
    }
    if (resume_source_) {
      g_source_remove(resume_source_);
      resume_source_ = 0;
    }
    // Not read, but a client that has gone is noticed (and its place freed).
    if (!hup_source_) {
      hup_source_ = g_unix_fd_add(fd_.get(), static_cast<GIOCondition>(G_IO_HUP | G_IO_ERR), &Client::on_hangup, this);
    }
    return;
  }
  if (hup_source_) {
    g_source_remove(hup_source_);
    hup_source_ = 0;
  }
  if (read_source_ || resume_source_ || in_take_frames_) return;  // reading, or the loop in take_frames goes on
  bool whole_frame = false;
  if (inbuf_.size() >= kLenWord) {
    XdrReader len_reader(inbuf_.data(), kLenWord);
    whole_frame = inbuf_.size() >= len_reader.u32();
  }
  if (whole_frame) {
    // Buffered frames first, from the main loop: never inside whatever call
    // (a reply, an event) made room.
    resume_source_ = g_idle_add(&Client::on_resume, this);
  } else {
    read_source_ = g_unix_fd_add(fd_.get(), static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR),
                                 &Client::on_readable, this);
  }
}

// Returns false once the connection is closed.
bool Client::read_some() {
  char buf[65536];
  ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
  if (n == 0) {
    close("end of file");
    return false;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    close(std::strerror(errno));
    return false;
  }
  last_rx_us_ = g_get_monotonic_time();
  inbuf_.append(buf, static_cast<size_t>(n));
  return take_frames();
}

// Dispatches the complete frames in inbuf_ while not throttled; false once
// closed. What stays buffered is at most one read and one partial frame.
bool Client::take_frames() {
  size_t off = 0;
  size_t pending = 0;  // the length of the partial frame at off, once known
  in_take_frames_ = true;
  while (!closed_ && !throttled() && inbuf_.size() - off >= kLenWord) {
    XdrReader len_reader(inbuf_.data() + off, kLenWord);
    uint32_t len = len_reader.u32();
    if (len < kLenWord + kHeaderSize || len > kLenWord + kMessageMax) {
      server_.warn("client %llu: bad frame length %u", ull(id_), len);
      close("malformed frame");
      break;
    }
    if (!opened_ && len > server_.options().max_anonymous_frame) {
      server_.warn_limited("anonymous frame",
                           "client %llu: a frame of %u bytes before the connection is open (at most %zu)", ull(id_),
                           len, server_.options().max_anonymous_frame);
      close("frame too large before open");
      break;
    }
    if (inbuf_.size() - off < len) {
      pending = len;
      break;
    }
    handle_frame(reinterpret_cast<const uint8_t*>(inbuf_.data()) + off + kLenWord, len - kLenWord);
    off += len;
  }
  in_take_frames_ = false;
  if (closed_) return false;
  inbuf_.erase(0, off);
  if (pending > inbuf_.capacity()) {
    inbuf_.reserve(pending);  // once, not doubling as it arrives
  } else if (inbuf_.capacity() > 4 * 65536 && inbuf_.size() < inbuf_.capacity() / 4 &&
             pending < inbuf_.capacity() / 4) {
    std::string(inbuf_).swap(inbuf_);  // give back a large frame's buffer
  }
  update_reading();
  return true;
}

void Client::handle_frame(const uint8_t* data, size_t len) {
  XdrReader in(data, len);
  MessageHeader h = decode_header(in);
  if (h.prog == kKeepaliveProgram) {
    handle_keepalive(h);
    return;
  }
  if (h.type == MessageType::Stream || h.type == MessageType::StreamHole) {
    // Packets for a stream that ended (or never was) are dropped, as libvirtd does.
    auto it = streams_.find(h.serial);
    if (it == streams_.end() || it->second->program() != h.prog) return;
    std::shared_ptr<ServerStream> stream = it->second;
    if (stream->on_client_frame(h, std::span<const uint8_t>(data + (len - in.remaining()), in.remaining())))
      streams_.erase(h.serial);
    return;
  }
  if (h.type != MessageType::Call || h.status != MessageStatus::Ok) {
    server_.warn("client %llu: unexpected message type %d", ull(id_), static_cast<int>(h.type));
    close("malformed frame");
    return;
  }
  requests_++;  // until its REPLY is written out (request_done)
  if (streams_.count(h.serial)) {
    // Its REPLY could not be told from the stream's frames, and a stream it
    // opened would orphan the open one: refused, the stream goes on.
    server_.log("client %llu: call with the serial %u of an open stream refused", ull(id_), h.serial);
    Responder(weak_from_this(), h, ErrorDomain::Rpc)
        .error(make_error(VIR_ERR_RPC, fmt(_("serial %1$u is in use by an open stream on this connection"), h.serial)));
    return;
  }
  server_.program().dispatch(*this, h, in);
}

void Client::handle_keepalive(const MessageHeader& h) {
  if (h.type != MessageType::Message) {
    close("malformed keepalive message");
    return;
  }
  if (h.proc == kKeepalivePing) {
    MessageHeader pong{kKeepaliveProgram, kProgramVersion, kKeepalivePong, MessageType::Message, 0,
                       MessageStatus::Ok};
    send(encode_frame(pong, {}));
  }
  // PONG: receiving it already counted as traffic.
}

bool Client::add_stream(uint32_t serial, std::shared_ptr<ServerStream> stream) {
  if (closed_ || streams_.count(serial)) {
    stream->on_connection_closed();
    return false;
  }
  streams_[serial] = std::move(stream);
  return true;
}

void Client::send_reply(const MessageHeader& call, MessageStatus status, std::string_view payload) {
  MessageHeader h = call;
  h.type = MessageType::Reply;
  h.status = status;
  enqueue(encode_frame(h, payload), true);
}

void Client::send(std::string frame) { enqueue(std::move(frame), false); }

void Client::request_done() {
  if (requests_ > 0) requests_--;
  update_reading();
}

void Client::release_request() {
  if (!closed_) request_done();
}

void Client::enqueue(std::string frame, bool reply) {
  if (closed_) return;
  if (frame.size() > kLenWord + kMessageMax) {
    server_.warn("client %llu: dropping an oversized %s (%zu bytes)", ull(id_), reply ? "reply" : "message",
                 frame.size());
    if (reply) request_done();
    return;
  }
  const ServerOptions& o = server_.options();
  // Replies are bounded by max_client_requests; the rest (events, stream
  // data, keepalive) by this.
  if (!reply && queued_other_bytes_ + frame.size() > 4 * o.max_client_output) {
    server_.warn_limited("output overflow",
                         "client %llu: %zu bytes of output queued, it does not read them: dropping it", ull(id_),
                         queued_bytes_ + frame.size());
    close("output queue overflow");
    return;
  }
  if (outq_.empty()) last_tx_us_ = g_get_monotonic_time();
  queued_bytes_ += frame.size();
  if (!reply) queued_other_bytes_ += frame.size();
  outq_.push_back(OutFrame{std::move(frame), reply});
  if (outq_.size() == 1 && !flush()) return;
  if (!outq_.empty() && !write_source_) {
    write_source_ = g_unix_fd_add(fd_.get(), G_IO_OUT, &Client::on_writable, this);
  }
  if (queued_bytes_ > o.max_client_output && !over_output_) {
    over_output_ = true;
    server_.log("client %llu: %zu bytes of output queued (max_client_output %zu): not reading it until it drains",
                ull(id_), queued_bytes_, o.max_client_output);
  }
  update_reading();
}

// Writes queued frames until the socket would block; false once closed.
bool Client::flush() {
  bool moved = false;
  while (!outq_.empty()) {
    const std::string& f = outq_.front().bytes;
    ssize_t n = ::send(fd_.get(), f.data() + out_off_, f.size() - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      close(std::strerror(errno));
      return false;
    }
    moved = true;
    out_off_ += static_cast<size_t>(n);
    queued_bytes_ -= static_cast<size_t>(n);
    if (out_off_ == f.size()) {
      if (outq_.front().reply) {
        if (requests_ > 0) requests_--;
      } else {
        queued_other_bytes_ -= f.size();
      }
      outq_.pop_front();
      out_off_ = 0;
    }
  }
  if (moved) {
    last_tx_us_ = g_get_monotonic_time();
    if (over_output_ && queued_bytes_ <= server_.options().max_client_output) over_output_ = false;
    update_reading();
  }
  return true;
}

void Client::tick(gint64 now_us) {
  if (closed_) return;
  const ServerOptions& o = server_.options();
  if (!outq_.empty() && now_us - last_tx_us_ >= gint64{o.client_output_timeout_s} * G_USEC_PER_SEC) {
    server_.warn_limited("output timeout", "client %llu: %zu bytes of output have not moved for %lld s: dropping it",
                         ull(id_), queued_bytes_, static_cast<long long>((now_us - last_tx_us_) / G_USEC_PER_SEC));
    close("not reading its output");
    return;
  }
  if (!opened_ && o.anonymous_timeout_s && now_us - connected_us_ >= gint64{o.anonymous_timeout_s} * G_USEC_PER_SEC) {
    server_.log("client %llu: not opened %u s after connecting", ull(id_), o.anonymous_timeout_s);
    close("not opened in time");
    return;
  }
  // While we do not read the client, its silence is ours.
  if (throttled()) last_rx_us_ = now_us;
  const gint64 silent = now_us - last_rx_us_;
  if (o.client_idle_timeout_s && silent >= gint64{o.client_idle_timeout_s} * G_USEC_PER_SEC) {
    server_.log("client %llu: silent for %lld s", ull(id_), static_cast<long long>(silent / G_USEC_PER_SEC));
    close("idle timeout");
    return;
  }
  if (!keepalive_ || o.keepalive_interval_s < 0) return;
  const gint64 interval = gint64{o.keepalive_interval_s} * G_USEC_PER_SEC;
  if (silent >= interval * (o.keepalive_count + 1)) {
    server_.warn("client %llu: no traffic for %lld s", ull(id_), static_cast<long long>(silent / G_USEC_PER_SEC));
    close("keepalive timeout");
    return;
  }
  if (silent >= interval && now_us - last_ping_us_ >= interval) {
    last_ping_us_ = now_us;
    MessageHeader ping{kKeepaliveProgram, kProgramVersion, kKeepalivePing, MessageType::Message, 0,
                       MessageStatus::Ok};
    send(encode_frame(ping, {}));
  }
}

Responder::State::~State() {
  if (answered) return;
  if (auto c = client.lock()) c->release_request();
}

void Responder::ok(const std::function<void(XdrWriter&)>& encode) const {
  XdrWriter w;
  if (encode) encode(w);
  ok_bytes(w.bytes());
}

void Responder::ok_bytes(std::string_view payload) const {
  if (state_->answered) return;
  state_->answered = true;
  auto client = state_->client.lock();
  if (!client || client->closed()) return;
  client->send_reply(state_->call, MessageStatus::Ok, payload);
}

void Responder::error(const Error& err) const {
  if (state_->answered) return;
  state_->answered = true;
  auto client = state_->client.lock();
  if (!client || client->closed()) return;
  XdrWriter w;
  write_error(w, err, err.code == VIR_ERR_RPC ? ErrorDomain::Rpc : state_->domain);
  client->send_reply(state_->call, MessageStatus::Error, w.bytes());
}

void Responder::status(const Status& st) const {
  if (st.ok())
    ok();
  else
    error(st.error());
}

}  // namespace arrow::rpc
