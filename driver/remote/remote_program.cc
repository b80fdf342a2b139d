// The REMOTE program's dispatcher and sessions (see remote_program.h).
#include "driver/remote/remote_program.h"

#include "driver/remote/remote_procs.h"
#include "util/i18n.h"

namespace arrow::remote {

RemoteSession::RemoteSession(RemoteProgram& program, Client& client)
    : client(client),
      readonly(client.readonly_socket()),
      max_event_callbacks(program.max_event_callbacks()),
      daemon_uri(program.uri()),
      program_(program) {
  program_.add_session(this);
}

RemoteSession::~RemoteSession() { program_.remove_session(this); }

RemoteProgram::RemoteProgram(DriverApi& driver, std::string uri) : driver_(driver), uri_(std::move(uri)) {
  subscribe_events();
}

RemoteProgram::~RemoteProgram() = default;

std::unique_ptr<rpc::Session> RemoteProgram::open_session(Client& client) {
  return std::make_unique<RemoteSession>(*this, client);
}

void RemoteProgram::dispatch(Client& client, const MessageHeader& h, XdrReader& args) {
  const ProcRow* row = h.prog == kRemoteProgram && h.vers == rpc::kProgramVersion ? find_callable_proc(h.proc) : nullptr;
  if (!row) {
    // libvirtd's answer; the client turns it into VIR_ERR_NO_SUPPORT.
    Responder(client.weak_from_this(), h, ErrorDomain::Rpc)
        .error(make_error(VIR_ERR_RPC, fmt(_("unknown procedure: %1$d"), h.proc)));
    return;
  }
  Responder responder(client.weak_from_this(), h, error_domain_of(*row));
  auto& conn = static_cast<RemoteSession&>(client.session());
  if (!conn.opened && !allowed_before_open(*row)) {
    responder.error(make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: hypervisor connection not open")));
    return;
  }
  if (conn.readonly && row->access == Access::Write) {
    responder.error(make_error(VIR_ERR_OPERATION_DENIED,
                               fmt(_("operation forbidden: read only access prevents %1$s"), row->api)));
    return;
  }
  if (!row->handler) {
    responder.error(make_error(
        VIR_ERR_NO_SUPPORT, fmt(_("this function is not supported by the connection driver: %1$s"), row->api)));
    return;
  }
  Call call(driver_, conn, *row, args, responder);
  XdrWriter ret;
  Status st = row->handler(call, ret);
  if (call.deferred()) return;
  if (!st.ok()) {
    responder.error(st.error());
  } else if (!args.ok()) {
    responder.error(args.error());
  } else {
    responder.ok_bytes(ret.bytes());
  }
}

}  // namespace arrow::remote
