// The `arrow` command's shared pieces (see arrow_cli.h).
#include <libvirt/virterror.h>

#include <cstdio>
#include <cstring>

#include "driver/api/arrow_names.h"
#include "util/i18n.h"
#include "virsh-ext/arrow_cli.h"

namespace arrow::cli {

void say(const std::string& message) { std::fprintf(stderr, "arrow: %s\n", message.c_str()); }

void say_libvirt(const std::string& what) {
  virErrorPtr err = virGetLastError();
  say(what + ": " + (err && err->message ? err->message : _("unknown error")));
}

namespace {

// The one operand (the Arrow's name) among ARGS; "" when there is none and
// it is OPTIONAL; nothing after complaining.
std::optional<std::string> operand(const std::vector<std::string>& args, const char* cmd, bool optional) {
  std::string name;
  for (const std::string& s : args) {
    if (!s.empty() && s[0] == '-') continue;
    if (!name.empty()) {
      say(fmt(_("%1$s takes one Arrow name"), cmd));
      return std::nullopt;
    }
    name = s;
  }
  if (name.empty() && !optional) {
    say(fmt(_("usage: arrow %1$s NAME"), cmd));
    return std::nullopt;
  }
  return name;
}

}  // namespace

Owned<virConnect> open_connection(const Global& g) {
  Owned<virConnect> conn(virConnectOpen(g.uri.c_str()));
  if (conn) return conn;
  virErrorPtr err = virGetLastError();
  say(fmt(_("cannot connect to '%1$s': %2$s"), g.uri.c_str(), err && err->message ? err->message : "?"));
  say(_("is virtarrowd running? systemctl start virtarrowd.socket (or give another URI with -c)"));
  return nullptr;
}

Owned<virDomain> find_domain(virConnectPtr conn, const std::string& name) {
  Owned<virDomain> dom(virDomainLookupByName(conn, name.c_str()));
  if (!dom) say(fmt(_("no Arrow named '%1$s' (arrow ps -a lists them)"), name.c_str()));
  return dom;
}

bool open_target(const Global& g, const std::vector<std::string>& args, const char* cmd, Target& t, bool optional) {
  std::optional<std::string> name = operand(args, cmd, optional);
  if (!name) return false;
  t.name = *name;
  t.conn = open_connection(g);
  if (!t.conn) return false;
  if (t.name.empty()) return true;
  t.dom = find_domain(t.conn.get(), t.name);
  return t.dom != nullptr;
}

bool for_each_stat(virDomainPtr dom, unsigned stats, const std::function<void(const virTypedParameter&)>& fn) {
  virDomainPtr doms[] = {dom, nullptr};
  virDomainStatsRecordPtr* raw = nullptr;
  if (virDomainListGetStats(doms, stats, &raw, 0) < 0) return false;
  Owned<virDomainStatsRecordPtr> records(raw);
  for (virDomainStatsRecordPtr* r = records.get(); r && *r; r++)
    for (int i = 0; i < (*r)->nparams; i++) fn((*r)->params[i]);
  return true;
}

std::optional<int> last_exit_code(virDomainPtr dom) {
  std::optional<int> status;
  int signal = 0;
  for_each_stat(dom, VIR_DOMAIN_STATS_STATE, [&](const virTypedParameter& p) {
    if (std::strcmp(p.field, kStatExitStatus) == 0) status = p.value.i;
    if (std::strcmp(p.field, kStatExitSignal) == 0) signal = p.value.i;
  });
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
