// One client connection: reads frames, hands calls to the program and stream
// frames to their stream, queues replies, keepalive; and the Responder that
// answers a call. A malformed frame closes only this client.
#include <glib-unix.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "driver/rpc/server.h"
#include "driver/rpc/stream.h"
#include "util/i18n.h"

namespace arrow::rpc {

Client::Client(Server& server, UniqueFd fd, bool readonly, uint64_t id)
    : server_(server), fd_(std::move(fd)), id_(id), readonly_(readonly) {
  last_rx_us_ = g_get_monotonic_time();
}

Client::~Client() {
  if (read_source_) g_source_remove(read_source_);
  if (write_source_) g_source_remove(write_source_);
}

void Client::start() {
  session_ = server_.program().open_session(*this);
  read_source_ = g_unix_fd_add(fd_.get(), static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR),
                               &Client::on_readable, this);
}

void Client::close(const char* why) {
  if (closed_) return;
  closed_ = true;
  server_.log("client %llu: closing: %s", static_cast<unsigned long long>(id_), why);
  if (read_source_) g_source_remove(read_source_);
  if (write_source_) g_source_remove(write_source_);
  read_source_ = write_source_ = 0;
  fd_.reset();
  outq_.clear();
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
  return G_SOURCE_CONTINUE;
}

gboolean Client::on_writable(gint, GIOCondition, gpointer data) {
  auto self = static_cast<Client*>(data)->shared_from_this();
  if (!self->flush() || self->outq_.empty()) {
    self->write_source_ = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
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

// Dispatches every complete frame in inbuf_; false once closed.
bool Client::take_frames() {
  size_t off = 0;
  while (!closed_ && inbuf_.size() - off >= kLenWord) {
    XdrReader len_reader(inbuf_.data() + off, kLenWord);
    uint32_t len = len_reader.u32();
    if (len < kLenWord + kHeaderSize || len > kLenWord + kMessageMax) {
      server_.warn("client %llu: bad frame length %u", static_cast<unsigned long long>(id_), len);
      close("malformed frame");
      return false;
    }
    if (inbuf_.size() - off < len) break;
    handle_frame(reinterpret_cast<const uint8_t*>(inbuf_.data()) + off + kLenWord, len - kLenWord);
    off += len;
  }
  if (closed_) return false;
  inbuf_.erase(0, off);
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
    server_.warn("client %llu: unexpected message type %d", static_cast<unsigned long long>(id_),
                static_cast<int>(h.type));
    close("malformed frame");
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

void Client::add_stream(uint32_t serial, std::shared_ptr<ServerStream> stream) {
  if (closed_) {
    stream->on_connection_closed();
    return;
  }
  streams_[serial] = std::move(stream);
}

void Client::send_reply(const MessageHeader& call, MessageStatus status, std::string_view payload) {
  MessageHeader h = call;
  h.type = MessageType::Reply;
  h.status = status;
  send(encode_frame(h, payload));
}

void Client::send(std::string frame) {
  if (closed_) return;
  if (frame.size() > kLenWord + kMessageMax) {
    server_.warn("client %llu: dropping an oversized reply (%zu bytes)", static_cast<unsigned long long>(id_),
                frame.size());
    return;
  }
  outq_.push_back(std::move(frame));
  if (outq_.size() == 1 && !flush()) return;
  if (!outq_.empty() && !write_source_) {
    write_source_ = g_unix_fd_add(fd_.get(), G_IO_OUT, &Client::on_writable, this);
  }
}

// Writes queued frames until the socket would block; false once closed.
bool Client::flush() {
  while (!outq_.empty()) {
    const std::string& f = outq_.front();
    ssize_t n = ::send(fd_.get(), f.data() + out_off_, f.size() - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      close(std::strerror(errno));
      return false;
    }
    out_off_ += static_cast<size_t>(n);
    if (out_off_ == f.size()) {
      outq_.pop_front();
      out_off_ = 0;
    }
  }
  return true;
}

void Client::tick(gint64 now_us) {
  if (closed_ || !keepalive_) return;
  const gint64 interval = gint64{server_.options().keepalive_interval_s} * G_USEC_PER_SEC;
  const gint64 silent = now_us - last_rx_us_;
  if (silent >= interval * (server_.options().keepalive_count + 1)) {
    server_.warn("client %llu: no traffic for %lld s", static_cast<unsigned long long>(id_),
                 static_cast<long long>(silent / G_USEC_PER_SEC));
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
