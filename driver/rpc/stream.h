// Server side of libvirt's stream protocol (ARCHITECTURE.md, "The libvirt
// wire protocol"): one ServerStream per stream a client opened (console,
// channel), tied to the program, serial and procedure of the opening call. It carries the
// driver's output to the client as STREAM frames and hands the client's
// STREAM frames (data, finish, abort) to the driver's StreamSink.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "driver/rpc/protocol.h"
#include "util/byte_stream.h"

namespace arrow::rpc {

class Client;

class ServerStream final : public StreamPeer, public std::enable_shared_from_this<ServerStream> {
 public:
  // ERROR_DOMAIN: the virErrorDomain of an abort().
  ServerStream(std::weak_ptr<Client> client, uint32_t program, int proc, uint32_t serial, ErrorDomain error_domain);

  // StreamPeer. Output before start() is held back, so that it follows the
  // opening call's REPLY.
  void send(std::span<const uint8_t> bytes) override;
  void send_eof() override;
  void abort(const Error& error) override;
  size_t backlog() const override;
  void hold_input(bool hold) override;
  std::string describe() const override;

  // The driver's end; set once the open succeeded.
  void set_sink(std::shared_ptr<StreamSink> sink) { sink_ = std::move(sink); }
  // The REPLY is out: sends what was held back.
  void start();

  // A STREAM frame from the client for this stream. Returns true when the
  // stream ended with it (finish or abort, confirmed with STREAM OK), so the
  // connection can forget it.
  bool on_client_frame(const MessageHeader& h, std::span<const uint8_t> payload);
  // The connection closed: the sink hears of it once.
  void on_connection_closed();

  uint32_t serial() const { return serial_; }
  uint32_t program() const { return program_; }

 private:
  void emit(MessageStatus status, std::string_view payload);
  void close_sink();

  std::weak_ptr<Client> client_;
  uint32_t program_;
  int proc_;
  uint32_t serial_;
  ErrorDomain error_domain_;
  std::shared_ptr<StreamSink> sink_;
  bool started_ = false;
  bool ended_ = false;  // EOF or ERROR sent: nothing more goes out
  std::string held_;    // output before start()
  bool held_eof_ = false;
  std::optional<Error> held_error_;
  bool holding_ = false;  // holds the client's input (hold_input)
};

}  // namespace arrow::rpc
