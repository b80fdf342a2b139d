// What the transport asks of the RPC program it serves (virtarrowd serves
// one: the REMOTE program, driver/remote/): per-connection state and the
// handling of calls. The transport itself knows no procedure, no domain and
// no driver.
#pragma once

#include <memory>

#include "driver/rpc/protocol.h"
#include "driver/rpc/xdr.h"

namespace arrow::rpc {

class Client;

// The program's state of one connection, owned by its Client and destroyed
// when the connection closes.
class Session {
 public:
  virtual ~Session() = default;
};

class Program {
 public:
  virtual ~Program() = default;
  // A client connected: its state for this program.
  virtual std::unique_ptr<Session> open_session(Client& client) = 0;
  // A CALL (any program number: the program answers the ones it does not
  // serve). It answers through a Responder, now or later.
  virtual void dispatch(Client& client, const MessageHeader& call, XdrReader& args) = 0;
  // True while the daemon must stay up although no client is connected.
  virtual bool busy() = 0;
};

}  // namespace arrow::rpc
