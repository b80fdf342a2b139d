// The procedures that open streams (DOMAIN_OPEN_CONSOLE, DOMAIN_OPEN_CHANNEL)
// and DOMAIN_SEND_PROCESS_SIGNAL. A stream is registered on the connection
// under the opening call's serial; the REPLY goes out before any of its data.
#include "driver/remote/remote_procs.h"
#include "driver/remote/remote_handlers.h"
#include "driver/rpc/stream.h"
#include "util/i18n.h"

namespace arrow::remote::procs {

namespace {

using OpenFn = Result<std::shared_ptr<StreamSink>> (DriverApi::*)(const DomainRef&, const std::optional<std::string>&,
                                                                   unsigned, std::shared_ptr<StreamPeer>);

// Args {dom, str? name, u32 flags}; no ret.
Status open_stream(Call& call, OpenFn open) {
  DomainRef dom = read_domain(call.args);
  std::optional<std::string> name = call.args.optional_string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  auto stream = std::make_shared<rpc::ServerStream>(call.conn.client.weak_from_this(), kRemoteProgram, call.proc.number,
                                                   call.header().serial, ErrorDomain::Domain);
  std::shared_ptr<StreamSink> sink = TRY((call.driver.*open)(dom, name, flags, stream));
  stream->set_sink(std::move(sink));
  if (!call.conn.client.add_stream(call.header().serial, stream)) {
    // The transport refuses calls on an open stream's serial before they get
    // here, so only a closing connection ends up here.
    return make_error(VIR_ERR_RPC, fmt(_("serial %1$u is in use by an open stream on this connection"),
                                       call.header().serial));
  }
  call.defer().ok();
  stream->start();
  return {};
}

}  // namespace

Status domain_open_console(Call& call, XdrWriter&) { return open_stream(call, &DriverApi::domain_open_console); }

Status domain_open_channel(Call& call, XdrWriter&) { return open_stream(call, &DriverApi::domain_open_channel); }

Status domain_send_process_signal(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  int64_t pid = call.args.i64();
  unsigned signum = call.args.u32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  return call.driver.domain_send_process_signal(dom, pid, signum, flags);
}

}  // namespace arrow::remote::procs
