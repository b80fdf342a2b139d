// The REMOTE program (libvirt's remote_protocol.x) over DriverApi: the
// dispatcher that checks each call against its row of the procedure table
// (remote_procs.cc) and runs its handler, each connection's RemoteSession,
// and the domain events it sends to the connections that registered for
// them (remote_events.cc).
#pragma once

#include <memory>
#include <set>
#include <string>

#include "driver/api/driver_api.h"
#include "driver/remote/remote_call.h"
#include "driver/rpc/program.h"

namespace arrow::remote {

inline constexpr size_t kDefaultMaxEventCallbacks = 256;

class RemoteProgram final : public rpc::Program {
 public:
  // Subscribes to DRIVER's events. URI: what GET_URI answers.
  RemoteProgram(DriverApi& driver, std::string uri);
  ~RemoteProgram() override;
  RemoteProgram(const RemoteProgram&) = delete;
  RemoteProgram& operator=(const RemoteProgram&) = delete;

  std::unique_ptr<rpc::Session> open_session(Client& client) override;
  void dispatch(Client& client, const MessageHeader& call, XdrReader& args) override;
  bool busy() override { return driver_.num_of_domains() > 0; }

  const std::string& uri() const { return uri_; }
  // Event registrations one connection may hold (virtarrowd.conf's
  // max_client_event_callbacks); past it REGISTER_ANY is refused.
  void set_max_event_callbacks(size_t n) { max_event_callbacks_ = n; }
  size_t max_event_callbacks() const { return max_event_callbacks_; }
  void add_session(RemoteSession* s) { sessions_.insert(s); }
  void remove_session(RemoteSession* s) { sessions_.erase(s); }

 private:
  // remote_events.cc: subscribes to the driver's events, and sends one
  // MESSAGE per registration that matches each.
  void subscribe_events();
  void deliver(const ArrowEvent& ev);

  DriverApi& driver_;
  std::string uri_;
  std::set<RemoteSession*> sessions_;
  size_t max_event_callbacks_ = kDefaultMaxEventCallbacks;
  std::shared_ptr<RemoteProgram*> alive_;  // the driver's subscription may outlive us
};

}  // namespace arrow::remote
