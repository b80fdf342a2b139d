// The `arrow` command's shared pieces (see arrow_cli.h).
#include <libvirt/virterror.h>

#include <cstdio>
#include <cstring>

#include "util/i18n.h"
#include "virsh-ext/arrow_cli.h"

namespace arrow::cli {

void say(const std::string& message) { std::fprintf(stderr, "arrow: %s\n", message.c_str()); }

void say_libvirt(const std::string& what) {
  virErrorPtr err = virGetLastError();
  say(what + ": " + (err && err->message ? err->message : _("unknown error")));
}

Connection::~Connection() {
  if (conn_) virConnectClose(conn_);
}

bool Connection::open(const Global& g) {
  conn_ = virConnectOpen(g.uri.c_str());
  if (conn_) return true;
  virErrorPtr err = virGetLastError();
  say(fmt(_("cannot connect to '%1$s': %2$s"), g.uri.c_str(), err && err->message ? err->message : "?"));
  say(_("is virtarrowd running? systemctl start virtarrowd.socket (or give another URI with -c)"));
  return false;
}

virDomainPtr find_domain(virConnectPtr conn, const std::string& name) {
  virDomainPtr dom = virDomainLookupByName(conn, name.c_str());
  if (!dom) say(fmt(_("no Arrow named '%1$s' (arrow ps -a lists them)"), name.c_str()));
  return dom;
}

std::optional<int> last_exit_code(virDomainPtr dom) {
  virDomainPtr doms[] = {dom, nullptr};
  virDomainStatsRecordPtr* records = nullptr;
  if (virDomainListGetStats(doms, VIR_DOMAIN_STATS_STATE, &records, 0) < 0) return std::nullopt;
  std::optional<int> status;
  int signal = 0;
  for (virDomainStatsRecordPtr* r = records; r && *r; r++) {
    for (int i = 0; i < (*r)->nparams; i++) {
      const virTypedParameter& p = (*r)->params[i];
      if (std::strcmp(p.field, "arrow.exit.status") == 0) status = p.value.i;
      if (std::strcmp(p.field, "arrow.exit.signal") == 0) signal = p.value.i;
    }
  }
  virDomainStatsRecordListFree(records);
  if (!status) return std::nullopt;
  return signal ? 128 + signal : *status;
}

std::string state_text(virDomainPtr dom) {
  int state = 0, reason = 0;
  if (virDomainGetState(dom, &state, &reason, 0) < 0) return "unknown";
  switch (state) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "stopping";
    case VIR_DOMAIN_SHUTOFF:
      if (reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN) return "exited";
      if (reason == VIR_DOMAIN_SHUTOFF_DESTROYED) return "stopped";
      if (reason == VIR_DOMAIN_SHUTOFF_CRASHED || reason == VIR_DOMAIN_SHUTOFF_FAILED) return "failed";
      return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    default: return "unknown";
  }
}

}  // namespace arrow::cli
