// ServerStream: libvirt's stream protocol, server side (see stream.h).
#include "driver/rpc/stream.h"

#include "driver/rpc/server.h"

namespace arrow::rpc {

namespace {

// libvirtd's chunk size for stream data it sends (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX).
constexpr size_t kChunkMax = 262120;

}  // namespace

ServerStream::ServerStream(std::weak_ptr<Client> client, uint32_t program, int proc, uint32_t serial,
                           ErrorDomain error_domain)
    : client_(std::move(client)), program_(program), proc_(proc), serial_(serial), error_domain_(error_domain) {}

void ServerStream::emit(MessageStatus status, std::string_view payload) {
  auto client = client_.lock();
  if (!client || client->closed()) return;
  MessageHeader h{program_, kProgramVersion, proc_, MessageType::Stream, serial_, status};
  client->send(encode_frame(h, payload));
}

void ServerStream::send(std::span<const uint8_t> bytes) {
  if (ended_ || held_eof_ || held_error_ || bytes.empty()) return;
  std::string_view data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (!started_) {
    held_.append(data);
    return;
  }
  // An empty CONTINUE means EOF, so data always goes in non-empty chunks.
  // A chunk may close the client (its queue over the bound), which drops the
  // last owner of this stream: hold it, and stop once the client is gone.
  std::shared_ptr<ServerStream> self = shared_from_this();
  for (size_t off = 0; off < data.size(); off += kChunkMax) {
    auto client = client_.lock();
    if (ended_ || !client || client->closed()) return;
    emit(MessageStatus::Continue, data.substr(off, kChunkMax));
  }
}

void ServerStream::send_eof() {
  if (ended_) return;
  if (!started_) {
    held_eof_ = true;
    return;
  }
  ended_ = true;
  emit(MessageStatus::Continue, {});
}

void ServerStream::abort(const Error& error) {
  if (ended_) return;
  if (!started_) {
    held_error_ = error;
    return;
  }
  ended_ = true;
  std::shared_ptr<ServerStream> self = shared_from_this();  // the erase below may drop the last owner
  XdrWriter w;
  write_error(w, error, error_domain_);
  emit(MessageStatus::Error, w.bytes());
  // The error is terminal: the client answers nothing, late packets for
  // this serial find no stream and are dropped.
  if (auto client = client_.lock()) client->remove_stream(serial_);
  close_sink();
}

size_t ServerStream::backlog() const {
  auto client = client_.lock();
  return client && !client->closed() ? client->queued_output() : 0;
}

std::string ServerStream::describe() const {
  auto client = client_.lock();
  return client ? client->describe() : "a client that left";
}

void ServerStream::hold_input(bool hold) {
  if (hold == holding_ || (hold && ended_)) return;
  holding_ = hold;
  if (auto client = client_.lock()) client->hold_input(hold);
}

void ServerStream::start() {
  if (started_) return;
  started_ = true;
  std::string held = std::move(held_);
  held_.clear();
  std::optional<Error> error = std::move(held_error_);
  held_error_.reset();
  const bool eof = held_eof_;
  held_eof_ = false;
  send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(held.data()), held.size()));
  if (error)
    abort(*error);
  else if (eof)
    send_eof();
}

void ServerStream::close_sink() {
  hold_input(false);
  std::shared_ptr<StreamSink> sink = std::move(sink_);
  sink_.reset();
  if (sink) sink->on_closed();
}

bool ServerStream::on_client_frame(const MessageHeader& h, std::span<const uint8_t> payload) {
  if (h.type != MessageType::Stream) return false;  // holes never come on consoles; dropped
  switch (h.status) {
    case MessageStatus::Continue:
      if (!ended_ && sink_ && !payload.empty()) sink_->on_data(payload);
      return false;
    case MessageStatus::Ok:     // finish: virsh's Ctrl-], or the answer to our EOF
    case MessageStatus::Error:  // abort
      // libvirtd confirms both with an empty STREAM OK, even after its EOF.
      emit(MessageStatus::Ok, {});
      ended_ = true;
      close_sink();
      return true;
  }
  return false;
}

void ServerStream::on_connection_closed() {
  holding_ = false;  // the client is gone with its holds
  ended_ = true;
  close_sink();
}

}  // namespace arrow::rpc
