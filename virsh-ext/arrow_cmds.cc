// `arrow ps`, `logs`, `stop`, `rm`, `inspect` and `events`: each a few calls
// of the stock libvirt API (the log is read through the "org.arrow.log"
// channel, so it works over any URI, remote ones included).
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "util/i18n.h"
#include "virsh-ext/arrow_cli.h"

namespace arrow::cli {

namespace {

bool has_flag(const std::vector<std::string>& args, const char* a, const char* b = nullptr) {
  for (const std::string& s : args)
    if (s == a || (b && s == b)) return true;
  return false;
}

// The one operand (the Arrow's name) among ARGS, or "" after complaining.
std::string operand(const std::vector<std::string>& args, const char* cmd) {
  std::string name;
  for (const std::string& s : args) {
    if (!s.empty() && s[0] == '-') continue;
    if (!name.empty()) {
      say(fmt(_("%1$s takes one Arrow name"), cmd));
      return "";
    }
    name = s;
  }
  if (name.empty()) say(fmt(_("usage: arrow %1$s NAME"), cmd));
  return name;
}

// "/usr/bin/python3 -m http.server" from the domain XML.
std::string command_of(virDomainPtr dom) {
  char* xml = virDomainGetXMLDesc(dom, 0);
  if (!xml) return "";
  std::string out;
  xmlDocPtr doc = xmlReadMemory(xml, static_cast<int>(std::strlen(xml)), "domain.xml", nullptr, XML_PARSE_NONET);
  std::free(xml);
  if (!doc) return "";
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathObjectPtr r = xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>("/domain/os/init|/domain/os/initarg"),
                                               ctx);
  for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr; i++) {
    xmlChar* text = xmlNodeGetContent(r->nodesetval->nodeTab[i]);
    std::string arg = text ? reinterpret_cast<const char*>(text) : "";
    xmlFree(text);
    if (arg.empty() || arg.find_first_of(" \t'\"") != std::string::npos) arg = "'" + arg + "'";
    out += (out.empty() ? "" : " ") + arg;
  }
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(ctx);
  xmlFreeDoc(doc);
  return out;
}

int stream_sink(virStreamPtr, const char* data, size_t n, void*) {
  size_t off = 0;
  while (off < n) {
    ssize_t w = ::write(STDOUT_FILENO, data + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += static_cast<size_t>(w);
  }
  return static_cast<int>(n);  // virStreamSinkFunc: the bytes consumed
}

}  // namespace

int cmd_ps(const Global& g, const std::vector<std::string>& args) {
  const bool all = has_flag(args, "-a", "--all");
  Connection c;
  if (!c.open(g)) return kExitFailure;
  virDomainPtr* doms = nullptr;
  const unsigned flags = all ? 0 : VIR_CONNECT_LIST_DOMAINS_ACTIVE;
  int n = virConnectListAllDomains(c.get(), &doms, flags);
  if (n < 0) return say_libvirt(_("cannot list the Arrows")), kExitFailure;
  std::printf("%-24s %-5s %-9s %-5s %s\n", "NAME", "ID", "STATE", "EXIT", "COMMAND");
  for (int i = 0; i < n; i++) {
    std::optional<int> code = last_exit_code(doms[i]);
    const int id = static_cast<int>(virDomainGetID(doms[i]));
    std::printf("%-24s %-5s %-9s %-5s %s\n", virDomainGetName(doms[i]), id > 0 ? std::to_string(id).c_str() : "-",
                state_text(doms[i]).c_str(), code ? std::to_string(*code).c_str() : "-",
                command_of(doms[i]).c_str());
    virDomainFree(doms[i]);
  }
  std::free(doms);
  return 0;
}

int cmd_logs(const Global& g, const std::vector<std::string>& args) {
  const bool follow = has_flag(args, "-f", "--follow");
  const std::string name = operand(args, "logs");
  if (name.empty()) return kExitFailure;
  Connection c;
  if (!c.open(g)) return kExitFailure;
  virDomainPtr dom = find_domain(c.get(), name);
  if (!dom) return kExitFailure;
  virStreamPtr st = virStreamNew(c.get(), 0);
  int rc = 0;
  if (!st || virDomainOpenChannel(dom, follow ? "org.arrow.log.follow" : "org.arrow.log", st, 0) < 0) {
    say_libvirt(_("cannot read the log"));
    rc = kExitFailure;
  } else if (virStreamRecvAll(st, stream_sink, nullptr) < 0) {
    virStreamAbort(st);
    rc = kExitFailure;
  } else if (virStreamFinish(st) < 0) {
    rc = kExitFailure;
  }
  if (st) virStreamFree(st);
  virDomainFree(dom);
  return rc;
}

int cmd_stop(const Global& g, const std::vector<std::string>& args) {
  const std::string name = operand(args, "stop");
  if (name.empty()) return kExitFailure;
  Connection c;
  if (!c.open(g)) return kExitFailure;
  virDomainPtr dom = find_domain(c.get(), name);
  if (!dom) return kExitFailure;
  int rc = 0;
  if (virDomainIsActive(dom) != 1) {
    say(fmt(_("the Arrow '%1$s' is not running"), name.c_str()));
  } else if (virDomainShutdown(dom) < 0) {
    say_libvirt(_("cannot stop it"));
    rc = kExitFailure;
  } else {
    // The daemon gives the application its grace (SIGTERM, then SIGKILL);
    // beyond that, and a margin, the Arrow is destroyed.
    int i = 0;
    for (; i < 300 && virDomainIsActive(dom) == 1; i++) ::usleep(100000);
    if (i == 300 && virDomainDestroy(dom) < 0) rc = (say_libvirt(_("cannot destroy it")), kExitFailure);
  }
  virDomainFree(dom);
  return rc;
}

int cmd_rm(const Global& g, const std::vector<std::string>& args) {
  const bool force = has_flag(args, "-f", "--force");
  const std::string name = operand(args, "rm");
  if (name.empty()) return kExitFailure;
  Connection c;
  if (!c.open(g)) return kExitFailure;
  virDomainPtr dom = find_domain(c.get(), name);
  if (!dom) return kExitFailure;
  int rc = 0;
  if (virDomainIsActive(dom) == 1 && !force) {
    say(fmt(_("the Arrow '%1$s' is running: arrow stop %1$s first, or arrow rm -f %1$s"), name.c_str()));
    rc = kExitFailure;
  } else {
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) say_libvirt(_("cannot destroy it"));
    if (virDomainIsPersistent(dom) == 1 && virDomainUndefine(dom) < 0)
      rc = (say_libvirt(_("cannot remove it")), kExitFailure);
  }
  virDomainFree(dom);
  return rc;
}

int cmd_inspect(const Global& g, const std::vector<std::string>& args) {
  const std::string name = operand(args, "inspect");
  if (name.empty()) return kExitFailure;
  Connection c;
  if (!c.open(g)) return kExitFailure;
  virDomainPtr dom = find_domain(c.get(), name);
  if (!dom) return kExitFailure;
  std::printf("# state: %s\n", state_text(dom).c_str());
  virDomainPtr doms[] = {dom, nullptr};
  virDomainStatsRecordPtr* records = nullptr;
  if (virDomainListGetStats(doms, 0, &records, 0) >= 0) {
    for (virDomainStatsRecordPtr* r = records; r && *r; r++) {
      for (int i = 0; i < (*r)->nparams; i++) {
        const virTypedParameter& p = (*r)->params[i];
        switch (p.type) {
          case VIR_TYPED_PARAM_INT: std::printf("# %s: %d\n", p.field, p.value.i); break;
          case VIR_TYPED_PARAM_UINT: std::printf("# %s: %u\n", p.field, p.value.ui); break;
          case VIR_TYPED_PARAM_LLONG: std::printf("# %s: %lld\n", p.field, p.value.l); break;
          case VIR_TYPED_PARAM_ULLONG: std::printf("# %s: %llu\n", p.field, p.value.ul); break;
          case VIR_TYPED_PARAM_DOUBLE: std::printf("# %s: %g\n", p.field, p.value.d); break;
          case VIR_TYPED_PARAM_BOOLEAN: std::printf("# %s: %s\n", p.field, p.value.b ? "yes" : "no"); break;
          case VIR_TYPED_PARAM_STRING: std::printf("# %s: %s\n", p.field, p.value.s); break;
        }
      }
    }
    virDomainStatsRecordListFree(records);
  }
  char* xml = virDomainGetXMLDesc(dom, 0);
  if (xml) std::fputs(xml, stdout);
  std::free(xml);
  virDomainFree(dom);
  return xml ? 0 : kExitFailure;
}

namespace {

volatile sig_atomic_t events_stop = 0;

const char* lifecycle_text(int event, int detail) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED: return detail == VIR_DOMAIN_EVENT_DEFINED_UPDATED ? "updated" : "defined";
    case VIR_DOMAIN_EVENT_UNDEFINED: return "removed";
    case VIR_DOMAIN_EVENT_STARTED: return detail == VIR_DOMAIN_EVENT_STARTED_BOOTED ? "started" : "starting";
    case VIR_DOMAIN_EVENT_SUSPENDED: return "paused";
    case VIR_DOMAIN_EVENT_RESUMED: return "resumed";
    case VIR_DOMAIN_EVENT_SHUTDOWN: return "exiting";
    case VIR_DOMAIN_EVENT_STOPPED:
      switch (detail) {
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: return "exited";
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: return "stopped";
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED: return "crashed";
        case VIR_DOMAIN_EVENT_STOPPED_FAILED: return "failed";
        default: return "stopped";
      }
    case VIR_DOMAIN_EVENT_CRASHED: return "panicked";
    default: return "event";
  }
}

void print_event(virDomainPtr dom, const std::string& what) {
  char stamp[32];
  const time_t t = ::time(nullptr);
  struct tm tm;
  ::localtime_r(&t, &tm);
  ::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::printf("%s %s %s\n", stamp, virDomainGetName(dom), what.c_str());
  std::fflush(stdout);
}

int on_lifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void*) {
  std::string what = lifecycle_text(event, detail);
  if (event == VIR_DOMAIN_EVENT_STOPPED) {
    if (std::optional<int> code = last_exit_code(dom)) what += fmt(" (exit status %d)", *code);
  }
  print_event(dom, what);
  return 0;
}

void on_watchdog(virConnectPtr, virDomainPtr dom, int, void*) { print_event(dom, "heartbeat-missed"); }

void on_reboot(virConnectPtr, virDomainPtr dom, void*) { print_event(dom, "restarted"); }

}  // namespace

int cmd_events(const Global& g, const std::vector<std::string>& args) {
  std::string name;
  for (const std::string& s : args)
    if (!s.empty() && s[0] != '-') name = s;
  Connection c;
  if (!c.open(g)) return kExitFailure;
  virDomainPtr dom = name.empty() ? nullptr : find_domain(c.get(), name);
  if (!name.empty() && !dom) return kExitFailure;
  int ids[3] = {
      virConnectDomainEventRegisterAny(c.get(), dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                       VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), nullptr, nullptr),
      virConnectDomainEventRegisterAny(c.get(), dom, VIR_DOMAIN_EVENT_ID_WATCHDOG,
                                       VIR_DOMAIN_EVENT_CALLBACK(on_watchdog), nullptr, nullptr),
      virConnectDomainEventRegisterAny(c.get(), dom, VIR_DOMAIN_EVENT_ID_REBOOT,
                                       VIR_DOMAIN_EVENT_CALLBACK(on_reboot), nullptr, nullptr)};
  if (ids[0] < 0) {
    say_libvirt(_("cannot watch events"));
    return kExitFailure;
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { events_stop = 1; };
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  // A timer wakes the loop so that a signal is noticed within half a second.
  int timer = virEventAddTimeout(500, [](int, void*) {}, nullptr, nullptr);
  while (!events_stop && virConnectIsAlive(c.get()) == 1 && virEventRunDefaultImpl() == 0) {
  }
  virEventRemoveTimeout(timer);
  for (int id : ids)
    if (id >= 0) virConnectDomainEventDeregisterAny(c.get(), id);
  if (dom) virDomainFree(dom);
  return 0;
}

}  // namespace arrow::cli
