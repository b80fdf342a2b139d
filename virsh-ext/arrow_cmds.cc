// `arrow ps`, `logs`, `stop`, `rm`, `inspect` and `events`: each a few calls
// of the stock libvirt API (the log is read through the kLogChannel channel,
// driver/api/arrow_names.h, so it works over any URI, remote ones included).
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "driver/api/arrow_names.h"
#include "util/i18n.h"
#include "virsh-ext/arrow_cli.h"

namespace arrow::cli {

namespace {

bool has_flag(const std::vector<std::string>& args, const char* a, const char* b = nullptr) {
  for (const std::string& s : args)
    if (s == a || (b && s == b)) return true;
  return false;
}

// "/usr/bin/python3 -m http.server" from the domain XML.
std::string command_of(virDomainPtr dom) {
  Owned<char> xml(virDomainGetXMLDesc(dom, 0));
  if (!xml) return "";
  Owned<xmlDoc> doc(xmlReadMemory(xml.get(), static_cast<int>(std::strlen(xml.get())), "domain.xml", nullptr,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return "";
  Owned<xmlXPathContext> ctx(xmlXPathNewContext(doc.get()));
  if (!ctx) return "";
  Owned<xmlXPathObject> r(
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>("/domain/os/init|/domain/os/initarg"), ctx.get()));
  std::string out;
  for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr; i++) {
    Owned<xmlChar> text(xmlNodeGetContent(r->nodesetval->nodeTab[i]));
    std::string arg = text ? reinterpret_cast<const char*>(text.get()) : "";
    if (arg.empty() || arg.find_first_of(" \t'\"") != std::string::npos) arg = "'" + arg + "'";
    out += (out.empty() ? "" : " ") + arg;
  }
  return out;
}

// Every Arrow (ACTIVE: the running ones); nothing after saying why not.
std::optional<std::vector<Owned<virDomain>>> list_domains(virConnectPtr conn, bool active) {
  virDomainPtr* raw = nullptr;
  const int n = virConnectListAllDomains(conn, &raw, active ? VIR_CONNECT_LIST_DOMAINS_ACTIVE : 0);
  if (n < 0) return say_libvirt(_("cannot list the Arrows")), std::nullopt;
  Owned<virDomainPtr[]> array(raw);
  std::vector<Owned<virDomain>> doms;
  for (int i = 0; i < n; i++) doms.emplace_back(array[i]);
  return doms;
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
  Owned<virConnect> conn = open_connection(g);
  if (!conn) return kExitFailure;
  std::optional<std::vector<Owned<virDomain>>> doms = list_domains(conn.get(), !has_flag(args, "-a", "--all"));
  if (!doms) return kExitFailure;
  std::printf("%-24s %-5s %-9s %-5s %s\n", "NAME", "ID", "STATE", "EXIT", "COMMAND");
  for (const Owned<virDomain>& dom : *doms) {
    std::optional<int> code = last_exit_code(dom.get());
    const int id = static_cast<int>(virDomainGetID(dom.get()));
    std::printf("%-24s %-5s %-9s %-5s %s\n", virDomainGetName(dom.get()), id > 0 ? std::to_string(id).c_str() : "-",
                state_text(dom.get()).c_str(), code ? std::to_string(*code).c_str() : "-",
                command_of(dom.get()).c_str());
  }
  return 0;
}

int cmd_logs(const Global& g, const std::vector<std::string>& args) {
  Target t;
  if (!open_target(g, args, "logs", t)) return kExitFailure;
  Owned<virStream> st(virStreamNew(t.conn.get(), 0));
  const char* channel = has_flag(args, "-f", "--follow") ? kLogChannelFollow : kLogChannel;
  if (!st || virDomainOpenChannel(t.dom.get(), channel, st.get(), 0) < 0) {
    say_libvirt(_("cannot read the log"));
    return kExitFailure;
  }
  if (virStreamRecvAll(st.get(), stream_sink, nullptr) < 0) {
    virStreamAbort(st.get());
    return kExitFailure;
  }
  return virStreamFinish(st.get()) < 0 ? kExitFailure : 0;
}

int cmd_stop(const Global& g, const std::vector<std::string>& args) {
  Target t;
  if (!open_target(g, args, "stop", t)) return kExitFailure;
  virDomainPtr dom = t.dom.get();
  if (virDomainIsActive(dom) != 1) {
    say(fmt(_("the Arrow '%1$s' is not running"), t.name.c_str()));
    return 0;
  }
  if (virDomainShutdown(dom) < 0) return say_libvirt(_("cannot stop it")), kExitFailure;
  // The daemon gives the application its grace (SIGTERM, then SIGKILL);
  // beyond that, and a margin, the Arrow is destroyed.
  for (int i = 0; i < 300 && virDomainIsActive(dom) == 1; i++) ::usleep(100000);
  if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
    return say_libvirt(_("cannot destroy it")), kExitFailure;
  return 0;
}

int cmd_rm(const Global& g, const std::vector<std::string>& args) {
  Target t;
  if (!open_target(g, args, "rm", t)) return kExitFailure;
  const bool running = virDomainIsActive(t.dom.get()) == 1;
  if (running && !has_flag(args, "-f", "--force")) {
    say(fmt(_("the Arrow '%1$s' is running: arrow stop %1$s first, or arrow rm -f %1$s"), t.name.c_str()));
    return kExitFailure;
  }
  if (running && virDomainDestroy(t.dom.get()) < 0) say_libvirt(_("cannot destroy it"));
  if (virDomainIsPersistent(t.dom.get()) == 1 && virDomainUndefine(t.dom.get()) < 0)
    return say_libvirt(_("cannot remove it")), kExitFailure;
  return 0;
}

int cmd_inspect(const Global& g, const std::vector<std::string>& args) {
  Target t;
  if (!open_target(g, args, "inspect", t)) return kExitFailure;
  std::printf("# state: %s\n", state_text(t.dom.get()).c_str());
  for_each_stat(t.dom.get(), 0, [](const virTypedParameter& p) {
    switch (p.type) {
      case VIR_TYPED_PARAM_INT: std::printf("# %s: %d\n", p.field, p.value.i); break;
      case VIR_TYPED_PARAM_UINT: std::printf("# %s: %u\n", p.field, p.value.ui); break;
      case VIR_TYPED_PARAM_LLONG: std::printf("# %s: %lld\n", p.field, p.value.l); break;
      case VIR_TYPED_PARAM_ULLONG: std::printf("# %s: %llu\n", p.field, p.value.ul); break;
      case VIR_TYPED_PARAM_DOUBLE: std::printf("# %s: %g\n", p.field, p.value.d); break;
      case VIR_TYPED_PARAM_BOOLEAN: std::printf("# %s: %s\n", p.field, p.value.b ? "yes" : "no"); break;
      case VIR_TYPED_PARAM_STRING: std::printf("# %s: %s\n", p.field, p.value.s); break;
    }
  });
  Owned<char> xml(virDomainGetXMLDesc(t.dom.get(), 0));
  if (!xml) return say_libvirt(_("cannot read the domain XML")), kExitFailure;
  std::fputs(xml.get(), stdout);
  return 0;
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
  Target t;
  if (!open_target(g, args, "events", t, /*optional=*/true)) return kExitFailure;
  virConnectPtr conn = t.conn.get();
  int ids[3] = {
      virConnectDomainEventRegisterAny(conn, t.dom.get(), VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                       VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), nullptr, nullptr),
      virConnectDomainEventRegisterAny(conn, t.dom.get(), VIR_DOMAIN_EVENT_ID_WATCHDOG,
                                       VIR_DOMAIN_EVENT_CALLBACK(on_watchdog), nullptr, nullptr),
      virConnectDomainEventRegisterAny(conn, t.dom.get(), VIR_DOMAIN_EVENT_ID_REBOOT,
                                       VIR_DOMAIN_EVENT_CALLBACK(on_reboot), nullptr, nullptr)};
  int rc = 0;
  if (ids[0] < 0) {
    say_libvirt(_("cannot watch events"));
    rc = kExitFailure;
  } else {
    struct sigaction sa {};
    sa.sa_handler = [](int) { events_stop = 1; };
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    // A timer wakes the loop so that a signal is noticed within half a second.
    int timer = virEventAddTimeout(500, [](int, void*) {}, nullptr, nullptr);
    while (!events_stop && virConnectIsAlive(conn) == 1 && virEventRunDefaultImpl() == 0) {
    }
    virEventRemoveTimeout(timer);
  }
  for (int id : ids)
    if (id >= 0) virConnectDomainEventDeregisterAny(conn, id);
  return rc;
}

}  // namespace arrow::cli
