// Reconnecting to the Arrows an earlier virtarrowd left running (see
// arrow_reconnect.h): status files parsed back, processes verified, QEMUs
// adopted, and the remains of those that died while no daemon ran removed.
#include "driver/arrow/arrow_reconnect.h"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "domain-xml/arrow_xml.h"
#include "domain-xml/xml_util.h"
#include "driver/arrow/arrow_conf.h"
#include "driver/arrow/arrow_driver.h"
#include "driver/engine/qemu_process.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

Error status_error(const char* what) {
  return make_error(VIR_ERR_XML_ERROR, fmt(_("invalid runtime status: %1$s"), what));
}

// A decimal attribute of <domstatus> in [MIN, MAX].
Result<long long> number_attr(const xmlNode* node, const char* name, long long min, long long max) {
  std::string text;
  if (!xml_get_attr(node, name, &text))
    return make_error(VIR_ERR_XML_ERROR, fmt(_("runtime status lacks attribute '%1$s'"), name));
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' of attribute '%2$s' in the runtime status"), text.c_str(), name));
  return v;
}

std::string dump_node(xmlDoc* doc, xmlNode* node) {
  xmlBuffer* buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, node, 0, 0);
  std::string out(reinterpret_cast<const char*>(xmlBufferContent(buf)), static_cast<size_t>(xmlBufferLength(buf)));
  xmlBufferFree(buf);
  return out;
}

// The names of DIR/*.xml (files only), sorted.
std::vector<std::string> status_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const std::string& n : list_dir(dir)) {
    if (ends_with(n, ".xml") && n.size() > 4) names.push_back(n.substr(0, n.size() - 4));
  }
  return names;
}

}  // namespace

Result<RuntimeStatus> parse_runtime_status(const std::string& xml) {
  XmlDocPtr doc = TRY(xml_parse_untrusted(xml));
  xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root || xmlStrcmp(root->name, BAD_CAST "domstatus") != 0) return status_error("no <domstatus> element");
  RuntimeStatus st;
  std::string state;
  if (!xml_get_attr(root, "state", &state)) return status_error("no 'state' attribute");
  Result<ArrowState> parsed = arrow_state_parse(state);
  if (!parsed.ok())
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' of attribute '%2$s' in the runtime status"), state.c_str(), "state"));
  st.state = parsed.value();
  if (st.state == ArrowState::Shutoff) return status_error("an Arrow that is shut off has no runtime status");
  long long reason = TRY(number_attr(root, "reason", 0, 1000));
  long long pid = TRY(number_attr(root, "pid", 1, 0x7fffffff));
  long long pid_start = TRY(number_attr(root, "pidstart", 0, INT64_MAX));
  st.reason = static_cast<int>(reason);
  st.pid = static_cast<int>(pid);
  st.pid_start = static_cast<uint64_t>(pid_start);
  xml_get_attr(root, "image", &st.image);  // absent: booted cold, or written by an older daemon
  xmlNode* dom = nullptr;
  for (xmlNode* n = root->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST "domain") == 0) dom = n;
  if (!dom) return status_error("no <domain> element");
  long long id = TRY(number_attr(dom, "id", 1, 0x7fffffff));
  st.id = static_cast<int>(id);
  st.def = TRY(parse_domain_xml(dump_node(doc.get(), dom)));
  return st;
}

bool same_process(int pid, uint64_t start_ticks) {
  if (pid <= 0) return false;
  Result<ProcStat> ps = read_proc_stat(pid);
  return ps.ok() && !ps->dead() && ps->start_ticks == start_ticks;
}

bool kill_unmanaged_qemu(int pid, uint64_t start_ticks, const std::string& name) {
  // The pidfd pins the process, so the checks after it concern the one
  // signalled. Without pidfds (ENOSYS before Linux 5.3) the start time is
  // checked again right before kill().
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  const bool no_pidfds = fd < 0 && errno == ENOSYS;
  UniqueFd pidfd(fd);
  if ((!pidfd.valid() && !no_pidfds) || !same_process(pid, start_ticks)) return false;
  Result<std::string> cmdline = read_whole_file(fmt("/proc/%d/cmdline", pid));
  if (!cmdline.ok() || cmdline->find("guest=" + name + std::string(1, '\0')) == std::string::npos) return false;
  if (no_pidfds) return same_process(pid, start_ticks) && ::kill(pid, SIGKILL) == 0;
  return ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) == 0;
}

void remove_runtime_leftovers(const std::string& run_dir) {
  RuntimePaths paths{run_dir};
  for (const std::string& path : paths.files()) ::unlink(path.c_str());
  ::rmdir(run_dir.c_str());
}

// --- The driver's side -------------------------------------------------------

void ArrowDriver::reconnect_all() {
  for (const std::string& name : status_files(conf_.run_dir)) {
    const std::string path = status_path(name);
    Result<std::string> text = read_whole_file(path);
    Result<RuntimeStatus> st = text.ok() ? parse_runtime_status(text.value()) : Result<RuntimeStatus>(text.error());
    if (st.ok() && st->def.name != name)
      st = make_error(VIR_ERR_XML_ERROR, fmt(_("it describes Arrow '%1$s'"), st->def.name.c_str()));
    if (!st.ok()) {
      // Never written torn (write_file_atomic): whatever made it bad, keep it
      // for a human and go on with the others.
      log(fmt(_("cannot use the runtime status '%1$s': %2$s; moved to '%1$s.invalid'"), path.c_str(),
              st.error().message.c_str()));
      if (::rename(path.c_str(), (path + ".invalid").c_str()) < 0) ::unlink(path.c_str());
      continue;
    }
    next_id_ = std::max(next_id_, st->id + 1);
    reconnect(name, std::move(st.value()));
  }
}

// One Arrow: adopt its QEMU when it is still the one recorded, else report it
// shut off and clean up after it.
void ArrowDriver::reconnect(const std::string& name, RuntimeStatus st) {
  const std::string run_dir = conf_.run_dir + "/" + name;
  DomainPtr dom = find_by_name(name);
  if (dom && dom->def.uuid != st.def.uuid) {
    log(fmt(_("the runtime status of Arrow '%1$s' names another UUID (%2$s) than its config; not adopted"),
            name.c_str(), uuid_format(st.def.uuid).c_str()));
    kill_unmanaged_qemu(st.pid, st.pid_start, name);
    remove_runtime_leftovers(run_dir);
    return (void)remove_file_durable(status_path(name));
  }
  if (!same_process(st.pid, st.pid_start)) {
    log(fmt(_("Arrow '%1$s' (QEMU pid %2$d) stopped while virtarrowd was not running"), name.c_str(), st.pid));
    remove_runtime_leftovers(run_dir);
    (void)remove_file_durable(status_path(name));
    if (dom) dom->set_state(ArrowState::Shutoff, VIR_DOMAIN_SHUTOFF_UNKNOWN);
    return;
  }
  if (!dom) {
    dom = std::make_shared<ArrowDomain>(st.def, false);
    domains_[name] = dom;
  } else {
    dom->next_def = std::move(dom->def);  // the config, for the next start
    dom->def = st.def;
  }
  dom->id = st.id;
  dom->set_state(st.state, st.reason);
  dom->qemu_pid = st.pid;
  dom->qemu_start_ticks = st.pid_start;
  Result<std::unique_ptr<ArrowLauncher>> launcher = make_launcher(dom, st.id);
  if (launcher.ok()) dom->launcher = std::move(launcher.value());
  if (dom->launcher) dom->launcher->set_image_source(st.image);
  dom->anotify.started_emitted = true;  // STARTED went out before the restart
  auto fail = [this, dom, st](const Error& error) {
    log(fmt(_("cannot reconnect to Arrow '%1$s' (QEMU pid %2$d): %3$s; stopping it"), dom->name().c_str(), st.pid,
            error.message.c_str()));
    retire_launcher(dom);
    kill_unmanaged_qemu(st.pid, st.pid_start, dom->name());
    remove_runtime_leftovers(conf_.run_dir + "/" + dom->name());
    stopped(dom, VIR_DOMAIN_SHUTOFF_FAILED, VIR_DOMAIN_EVENT_STOPPED_FAILED);
  };
  if (!launcher.ok()) return fail(launcher.error());
  log(fmt(_("Arrow '%1$s': reconnecting to QEMU pid %2$d (id %3$d, %4$s)"), name.c_str(), st.pid, st.id,
          arrow_state_name(st.state)));
  dom->launcher->adopt(st.pid, [this, dom, fail](Status result) {
    if (!result.ok()) {
      if (dom->active()) fail(result.error());
      return;
    }
    balloon_start(dom, true);
    // ainit kept beating while no daemon listened: watch it again.
    std::weak_ptr<ArrowDomain> weak = dom;
    dom->anotify.watch.start(dom->anotify.heartbeat_s, [this, weak] {
      if (DomainPtr d = weak.lock()) on_heartbeat_missed(d);
    });
  });
}

}  // namespace arrow
