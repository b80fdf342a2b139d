// What a procedure handler sees: the decoded call, the connection's state, the
// driver, and a Responder for answering later (asynchronous procedures).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "driver/arrow_driver_api.h"
#include "driver/rpc/protocol.h"
#include "driver/rpc/xdr.h"

namespace arrow::rpc {

class Client;
class ServerStream;
struct ProcRow;

// One event callback a client registered (CALLBACK_REGISTER_ANY, or the
// legacy REGISTER_ANY when `legacy`).
struct EventRegistration {
  int event_id = 0;
  std::optional<Uuid> dom;  // only events of this domain; none: all
  bool legacy = false;
};

// Per-connection protocol state, changed only by procedures (main loop only).
struct ConnectionState {
  bool opened = false;          // CONNECT_OPEN succeeded
  bool readonly = false;        // -ro socket or OPEN flag RO
  bool keepalive = false;       // feature 10 answered 1: the server pings
  bool close_callback = false;  // REGISTER_CLOSE_CALLBACK
  int next_callback_id = 0;     // monotonic, never reused on this connection
  std::map<int, EventRegistration> events;  // by callbackID
  std::string daemon_uri;       // arrow:///system or arrow:///session
  // Open streams (consoles, channels) by the serial of their opening call.
  std::map<uint32_t, std::shared_ptr<ServerStream>> streams;
};

// Answers one call exactly once, now or later. Copies share the call; the
// first answer wins and later ones are ignored. If the client has gone away
// meanwhile, the answer is dropped.
class Responder {
 public:
  struct State;
  explicit Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // REPLY OK; ENCODE writes the ret payload (none for void procedures).
  void ok(const std::function<void(XdrWriter&)>& encode = {}) const;
  void error(const Error& err) const;
  // OK with no payload, or the error of STATUS.
  void status(const Status& status) const;

 private:
  std::shared_ptr<State> state_;
};

struct Responder::State {
  std::weak_ptr<Client> client;
  MessageHeader call;
  ErrorDomain domain = ErrorDomain::None;
  bool answered = false;
};

class Call {
 public:
  Call(DriverApi& driver, ConnectionState& conn, const ProcRow& proc, XdrReader& args,
       std::shared_ptr<Responder::State> state)
      : driver(driver), conn(conn), proc(proc), args(args), state_(std::move(state)) {}

  DriverApi& driver;
  ConnectionState& conn;
  const ProcRow& proc;
  XdrReader& args;

  // Takes over the answer: the dispatcher sends nothing when the handler
  // returns, and the handler (or its callback) must answer through this.
  Responder defer() {
    deferred_ = true;
    return Responder(state_);
  }
  bool deferred() const { return deferred_; }
  // The call's header and connection, for procedures that open a stream.
  const MessageHeader& header() const { return state_->call; }
  std::weak_ptr<Client> client() const { return state_->client; }

 private:
  std::shared_ptr<Responder::State> state_;
  bool deferred_ = false;
};

// OK when every argument decoded; the decoder's error otherwise.
inline Status decoded(const XdrReader& in) {
  if (in.ok()) return {};
  return in.error();
}

// libvirt's answer to flag bits a call does not know (INVALID_ARG).
Status check_flags(unsigned flags, unsigned known, const char* api);

// A procedure: decode CALL.args, act, write the ret payload into RET and
// return OK, or return the error to send. Unless it calls defer().
using Handler = Status (*)(Call& call, XdrWriter& ret);

}  // namespace arrow::rpc
