// What a REMOTE procedure handler sees: the decoded call, the connection's
// REMOTE state (RemoteSession), the driver, and a Responder for answering
// later (asynchronous procedures).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "driver/api/driver_api.h"
#include "driver/remote/remote_types.h"
#include "driver/rpc/server.h"

namespace arrow::remote {

// The handlers speak the wire types of the transport throughout.
using rpc::Client;
using rpc::ErrorDomain;
using rpc::MessageHeader;
using rpc::Responder;
using rpc::XdrReader;
using rpc::XdrWriter;
using rpc::kStringMax;

class RemoteProgram;
struct ProcRow;

// One event callback a client registered (CALLBACK_REGISTER_ANY, or the
// legacy REGISTER_ANY when `legacy`).
struct EventRegistration {
  int event_id = 0;
  std::optional<Uuid> dom;  // only events of this domain; none: all
  bool legacy = false;
};

// The REMOTE program's state of one connection, changed only by procedures
// (main loop only). Registered with its program while the connection lives.
class RemoteSession final : public rpc::Session {
 public:
  RemoteSession(RemoteProgram& program, Client& client);
  ~RemoteSession() override;
  RemoteSession(const RemoteSession&) = delete;
  RemoteSession& operator=(const RemoteSession&) = delete;

  Client& client;
  bool opened = false;          // CONNECT_OPEN succeeded
  bool readonly = false;        // -ro socket or OPEN flag RO
  bool close_callback = false;  // REGISTER_CLOSE_CALLBACK
  int next_callback_id = 0;     // monotonic, never reused on this connection
  std::map<int, EventRegistration> events;  // by callbackID
  size_t max_event_callbacks = 0;           // the program's limit on events.size()
  bool event_limit_logged = false;          // its first refusal was logged
  std::string daemon_uri;       // arrow:///system or arrow:///session

 private:
  RemoteProgram& program_;
};

class Call {
 public:
  Call(DriverApi& driver, RemoteSession& conn, const ProcRow& proc, XdrReader& args, Responder responder)
      : driver(driver), conn(conn), proc(proc), args(args), responder_(std::move(responder)) {}

  DriverApi& driver;
  RemoteSession& conn;
  const ProcRow& proc;
  XdrReader& args;

  // Takes over the answer: the dispatcher sends nothing when the handler
  // returns, and the handler (or its callback) must answer through this.
  Responder defer() {
    deferred_ = true;
    return responder_;
  }
  bool deferred() const { return deferred_; }
  // The call's header, for procedures that open a stream.
  const MessageHeader& header() const { return responder_.call(); }

 private:
  Responder responder_;
  bool deferred_ = false;
};

// OK when every argument decoded; the decoder's error otherwise.
inline Status decoded(const XdrReader& in) {
  if (in.ok()) return {};
  return in.error();
}

// A procedure: decode CALL.args, act, write the ret payload into RET and
// return OK, or return the error to send. Unless it calls defer().
using Handler = Status (*)(Call& call, XdrWriter& ret);

}  // namespace arrow::remote
