// The Arrow driver's entry points: registry, lifecycle jobs, persistence and
// events (see arrow_driver.h, and ARCHITECTURE.md, "Threads", for the shape every
// state-changing entry point follows).
#include "driver/arrow/arrow_driver.h"

#include <glib.h>
#include <libvirt/libvirt.h>
#include <unistd.h>

#include <cstdio>

#include "domain-xml/arrow_caps.h"
#include "domain-xml/arrow_xml.h"
#include "domain-xml/xml_util.h"
#include "driver/engine/qemu_command.h"
#include "util/i18n.h"

namespace arrow {

namespace {

Error no_domain(const DomainRef& ref) {
  return make_error(VIR_ERR_NO_DOMAIN, fmt(_("no domain with matching uuid '%1$s' (%2$s)"),
                                           uuid_format(ref.uuid).c_str(), ref.name.c_str()));
}

void default_post(std::function<void()> fn) {
  auto* heap = new std::function<void()>(std::move(fn));
  g_idle_add_full(
      G_PRIORITY_DEFAULT_IDLE,
      [](gpointer data) -> gboolean {
        (*static_cast<std::function<void()>*>(data))();
        return G_SOURCE_REMOVE;
      },
      heap, [](gpointer data) { delete static_cast<std::function<void()>*>(data); });
}

// Indents every line of TEXT by two spaces (a domain inside <domstatus>).
std::string indent(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += "  " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

constexpr unsigned kCreateFlags = VIR_DOMAIN_START_PAUSED | VIR_DOMAIN_START_BYPASS_CACHE |
                                  VIR_DOMAIN_START_FORCE_BOOT | VIR_DOMAIN_START_VALIDATE |
                                  VIR_DOMAIN_START_RESET_NVRAM;
constexpr unsigned kUndefineFlags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                    VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_KEEP_NVRAM |
                                    VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_TPM |
                                    VIR_DOMAIN_UNDEFINE_KEEP_TPM;
// Every shutdown/reboot mode reaches ainit the same way: over Anotify.
constexpr unsigned kShutdownModes = VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN | VIR_DOMAIN_SHUTDOWN_GUEST_AGENT |
                                    VIR_DOMAIN_SHUTDOWN_INITCTL | VIR_DOMAIN_SHUTDOWN_SIGNAL |
                                    VIR_DOMAIN_SHUTDOWN_PARAVIRT;
constexpr unsigned kXmlFlags = VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_UPDATE_CPU |
                               VIR_DOMAIN_XML_MIGRATABLE;
constexpr unsigned kSupportedStats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                                     VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE;

}  // namespace

// --- Construction and loading ---------------------------------------------

ArrowDriver::ArrowDriver(ArrowConf conf, DriverOptions options) : conf_(std::move(conf)), options_(std::move(options)) {
  if (!options_.post) options_.post = default_post;
  if (!options_.log) options_.log = log_to_stderr;
}

// Running QEMUs outlive the daemon: their launchers are detached, so QEMU,
// its sockets, pid file and the runtime status stay for the next daemon to
// adopt (reconnect_all). Dropping the launchers breaks the domain <->
// callback cycles.
ArrowDriver::~ArrowDriver() {
  for (auto& [name, dom] : domains_) {
    if (dom->launcher) dom->launcher->detach();
    dom->launcher.reset();
  }
}

Status ArrowDriver::load() {
  TRY(arrow_conf_make_dirs(conf_));
  LoadReport report = load_config_dir(
      conf_.config_dir, [this](const std::string& name, const std::string& xml) { return accept_config(name, xml); },
      options_.log);
  for (const std::string& name : report.loaded) {
    DomainPtr dom = find_by_name(name);
    if (dom) dom->autostart = autostart_link_exists(conf_.config_dir, name);
  }
  reconnect_all();  // before autostart: an adopted Arrow is not started again
  if (options_.autostart) autostart_all();
  return {};
}

Status ArrowDriver::accept_config(const std::string& file_name, const std::string& xml) {
  ArrowDef def = TRY(parse_domain_xml(xml));
  if (def.name != file_name)
    return make_error(VIR_ERR_XML_ERROR, fmt(_("domain config filename '%1$s' does not match domain name '%2$s'"),
                                             file_name.c_str(), def.name.c_str()));
  TRY(check_name_uuid_clash(def));
  std::string name = def.name;
  domains_[name] = std::make_shared<ArrowDomain>(std::move(def), true);
  return {};
}

void ArrowDriver::autostart_all() {
  for (auto& [name, dom] : domains_) {
    if (!dom->autostart || dom->active()) continue;
    std::string n = name;
    domain_create(dom->ref(), 0, [this, n](Result<DomainRef> r) {
      if (!r.ok()) log(fmt(_("cannot autostart Arrow '%1$s': %2$s"), n.c_str(), r.error().message.c_str()));
    });
  }
}

// --- Registry -------------------------------------------------------------

ArrowDriver::DomainPtr ArrowDriver::find_by_name(const std::string& name) const {
  auto it = domains_.find(name);
  return it == domains_.end() ? nullptr : it->second;
}

ArrowDriver::DomainPtr ArrowDriver::find_by_uuid(const Uuid& uuid) const {
  for (const auto& [name, dom] : domains_)
    if (dom->def.uuid == uuid) return dom;
  return nullptr;
}

Result<ArrowDriver::DomainPtr> ArrowDriver::find(const DomainRef& ref) const {
  DomainPtr dom = find_by_uuid(ref.uuid);
  if (!dom) return no_domain(ref);
  return dom;
}

// libvirt's rule (virDomainObjListAdd): a name and a UUID belong together.
Status ArrowDriver::check_name_uuid_clash(const ArrowDef& def) const {
  if (DomainPtr by_uuid = find_by_uuid(def.uuid); by_uuid && by_uuid->name() != def.name)
    return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("domain '%1$s' is already defined with uuid %2$s"),
                                                    by_uuid->name().c_str(), uuid_format(def.uuid).c_str()));
  if (DomainPtr by_name = find_by_name(def.name); by_name && by_name->def.uuid != def.uuid)
    return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("domain '%1$s' already exists with uuid %2$s"),
                                                    def.name.c_str(), uuid_format(by_name->def.uuid).c_str()));
  return {};
}

// A transient Arrow exists only while it runs or has work queued.
void ArrowDriver::forget_if_gone(const DomainPtr& dom) {
  if (!dom->job()) forget_if_transient_off(dom);
}

void ArrowDriver::forget_if_transient_off(const DomainPtr& dom) {
  if (dom->persistent || dom->active() || dom->removed) return;
  dom->removed = true;
  auto it = domains_.find(dom->name());
  if (it != domains_.end() && it->second == dom) domains_.erase(it);
}

Result<DomainRef> ArrowDriver::lookup_by_name(const std::string& name) {
  if (DomainPtr dom = find_by_name(name)) return dom->ref();
  return make_error(VIR_ERR_NO_DOMAIN, fmt(_("no domain with matching name '%1$s'"), name.c_str()));
}

Result<DomainRef> ArrowDriver::lookup_by_uuid(const Uuid& uuid) {
  if (DomainPtr dom = find_by_uuid(uuid)) return dom->ref();
  return make_error(VIR_ERR_NO_DOMAIN, fmt(_("no domain with matching uuid '%1$s'"), uuid_format(uuid).c_str()));
}

Result<DomainRef> ArrowDriver::lookup_by_id(int id) {
  for (const auto& [name, dom] : domains_)
    if (id > 0 && dom->id == id && dom->active()) return dom->ref();
  return make_error(VIR_ERR_NO_DOMAIN, fmt(_("no domain with matching id %1$d"), id));
}

int ArrowDriver::num_of_domains() {
  int n = 0;
  for (const auto& [name, dom] : domains_) n += dom->active();
  return n;
}

int ArrowDriver::num_of_defined_domains() {
  int n = 0;
  for (const auto& [name, dom] : domains_) n += dom->persistent && !dom->active();
  return n;
}

std::vector<DomainRef> ArrowDriver::list_all_domains(unsigned flags) {
  std::vector<DomainRef> out;
  for (const auto& [name, dom] : domains_)
    if (dom->matches_list_flags(flags)) out.push_back(dom->ref());
  return out;
}

// --- Host -----------------------------------------------------------------

std::string ArrowDriver::hostname() { return read_hostname(); }

NodeInfo ArrowDriver::node_info() { return read_node_info(); }

uint64_t ArrowDriver::hypervisor_version() {
  if (!hypervisor_version_) {
    Result<uint64_t> v = probe_qemu_version(conf_.emulator);
    if (!v.ok()) log(v.error().message);
    hypervisor_version_ = v.ok() ? v.value() : 0;
  }
  return *hypervisor_version_;
}

std::string ArrowDriver::sysinfo_xml() { return read_sysinfo_xml(); }

void ArrowDriver::subscribe(EventListener listener) { events_.subscribe(std::move(listener)); }

void ArrowDriver::emit(const DomainPtr& dom, int event, int detail) {
  ArrowEvent ev;
  ev.event = event;
  ev.detail = detail;
  publish(dom, ev);
}

void ArrowDriver::log(const std::string& line) const { options_.log(line); }

// --- Files ----------------------------------------------------------------

std::string ArrowDriver::config_path(const std::string& name) const { return conf_.config_dir + "/" + name + ".xml"; }

std::string ArrowDriver::status_path(const std::string& name) const { return conf_.run_dir + "/" + name + ".xml"; }

std::string ArrowDriver::log_path(const std::string& name) const { return conf_.log_dir + "/" + name + ".log"; }

Status ArrowDriver::save_config(const ArrowDef& def) {
  return write_file_atomic(config_path(def.name), format_domain_xml(def, FORMAT_INACTIVE), 0600);
}

// The runtime status: what a restarted daemon needs to find and trust the
// QEMU again (its pid and start time, the id, the state and the live def).
void ArrowDriver::write_status(const DomainPtr& dom) {
  DomainLiveData live;
  live.id = dom->id;
  const std::string image = dom->launcher ? dom->launcher->image_source() : std::string();
  std::string xml = fmt("<domstatus state='%s' reason='%d' pid='%d' pidstart='%llu'%s>\n",
                        arrow_state_name(dom->state), dom->reason, dom->qemu_pid,
                        static_cast<unsigned long long>(dom->qemu_start_ticks),
                        image.empty() ? "" : (" image='" + xml_escape(image, true) + "'").c_str());
  xml += indent(format_domain_xml(dom->def, live));
  xml += "</domstatus>\n";
  if (Status st = write_file_atomic(status_path(dom->name()), xml, 0600); !st.ok()) log(st.error().message);
}

void ArrowDriver::remove_status(const DomainPtr& dom) {
  if (Status st = remove_file_durable(status_path(dom->name())); !st.ok()) log(st.error().message);
}

// --- Definitions ----------------------------------------------------------

Result<DomainRef> ArrowDriver::domain_define_xml(const std::string& xml, unsigned flags) {
  TRY(check_flags(flags, VIR_DOMAIN_DEFINE_VALIDATE, "virDomainDefineXMLFlags"));
  if (flags & VIR_DOMAIN_DEFINE_VALIDATE) TRY(validate_with_schema(xml, domain_schema_path()));
  ArrowDef def = TRY(parse_domain_xml(xml));
  TRY(check_name_uuid_clash(def));
  TRY(check_init_environment(def));  // refused now rather than at every start
  DomainPtr dom = find_by_name(def.name);
  TRY(save_config(def));
  if (!dom) {
    std::string name = def.name;
    dom = std::make_shared<ArrowDomain>(std::move(def), true);
    domains_[name] = dom;
    emit(dom, VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED);
    return dom->ref();
  }
  // An active (or starting) Arrow keeps its live def; the new one applies at
  // the next start. Defining over a running transient Arrow makes it
  // persistent without stopping it (virt-install relies on this).
  bool was_persistent = dom->persistent;
  if (dom->active() || dom->job())
    dom->next_def = std::move(def);
  else
    dom->def = std::move(def);
  dom->persistent = true;
  emit(dom, VIR_DOMAIN_EVENT_DEFINED,
       was_persistent ? VIR_DOMAIN_EVENT_DEFINED_UPDATED : VIR_DOMAIN_EVENT_DEFINED_ADDED);
  return dom->ref();
}

Status ArrowDriver::domain_undefine(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, kUndefineFlags, "virDomainUndefineFlags"));
  DomainPtr dom = TRY(find(ref));
  TRY(check_state(DomainOp::Undefine, dom->state));
  if (!dom->persistent)
    return make_error(VIR_ERR_OPERATION_INVALID, _("cannot undefine transient domain"));
  if (const std::string managed = managed_save_path(dom->name()); !managed.empty() && ::access(managed.c_str(), F_OK) == 0) {
    if (!(flags & VIR_DOMAIN_UNDEFINE_MANAGED_SAVE))
      return make_error(VIR_ERR_OPERATION_INVALID, _("Refusing to undefine while domain managed save image exists"));
    if (::unlink(managed.c_str()) < 0 && errno != ENOENT) return system_error("remove", managed, errno);
  }
  TRY(set_autostart_link(conf_.config_dir, dom->name(), false));
  dom->autostart = false;  // the link is gone, whatever happens to the config
  TRY(remove_file_durable(config_path(dom->name())));
  dom->persistent = false;
  dom->next_def.reset();  // an active Arrow now lives on as transient and vanishes when it stops
  emit(dom, VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED);
  forget_if_gone(dom);
  return {};
}

// --- Lifecycle ------------------------------------------------------------

// A transient Arrow that is shut off when its job ends is forgotten before
// the next queued job runs, so that job finds it gone (NO_DOMAIN).
void ArrowDriver::finish_job(const DomainPtr& dom) {
  forget_if_transient_off(dom);
  dom->end_job();
}

void ArrowDriver::domain_create_xml(const std::string& xml, unsigned flags, Reply<DomainRef> done) {
  if (Status st = check_flags(flags, kCreateFlags, "virDomainCreateXML"); !st.ok()) return done(st.error());
  if (flags & VIR_DOMAIN_START_VALIDATE) {
    if (Status st = validate_with_schema(xml, domain_schema_path()); !st.ok()) return done(st.error());
  }
  Result<ArrowDef> def = parse_domain_xml(xml);
  if (!def.ok()) return done(def.error());
  if (Status st = check_name_uuid_clash(def.value()); !st.ok()) return done(st.error());
  DomainPtr dom = find_by_name(def->name);
  if (dom && (dom->active() || dom->job()))
    return done(make_error(VIR_ERR_OPERATION_INVALID,
                           fmt(_("domain '%1$s' is already active"), dom->name().c_str())));
  if (dom) {
    // Starting a shut-off persistent Arrow with another def: that def is the
    // live one for this run only.
    dom->next_def = std::move(dom->def);
    dom->def = std::move(def.value());
  } else {
    std::string name = def->name;
    dom = std::make_shared<ArrowDomain>(std::move(def.value()), false);
    domains_[name] = dom;
  }
  dom->begin_job(DomainOp::Start, [this, dom, flags, done] { start_job(dom, flags, done); });
}

void ArrowDriver::domain_create(const DomainRef& ref, unsigned flags, Reply<DomainRef> done) {
  if (Status st = check_flags(flags, kCreateFlags & ~VIR_DOMAIN_START_VALIDATE, "virDomainCreateWithFlags"); !st.ok())
    return done(st.error());
  Result<DomainPtr> found = find(ref);
  if (!found.ok()) return done(found.error());
  DomainPtr dom = found.value();
  dom->begin_job(DomainOp::Start, [this, dom, flags, done] { start_job(dom, flags, done); });
}

// Inside the Start job: check the state, spawn with a fresh id, report.
void ArrowDriver::start_job(const DomainPtr& dom, unsigned flags, Reply<DomainRef> done) {
  if (dom->removed) {
    finish_job(dom);
    return done(no_domain(dom->ref()));
  }
  if (Status st = check_state(DomainOp::Start, dom->state); !st.ok()) {
    finish_job(dom);
    return done(st.error());
  }
  bool paused = flags & VIR_DOMAIN_START_PAUSED;
  // A managed save image is where a start resumes from (then it is removed).
  const std::string managed = managed_save_path(dom->name());
  if (dom->restore_from.empty() && !managed.empty() && ::access(managed.c_str(), F_OK) == 0)
    prepare_managed_start(dom, managed, flags, paused);
  dom->restore_paused = paused;
  dom->last_exit_status.reset();
  dom->last_exit_signal = 0;
  launch(dom, next_id_++, [this, dom, paused, managed, done](Status st) {
    const std::string restored = std::exchange(dom->restore_from, std::string());
    dom->restore_paused = false;
    if (st.ok() && restored == managed) ::unlink(managed.c_str());
    if (!st.ok()) {
      if (dom->next_def) {  // a create_xml over a persistent Arrow: back to its config
        dom->def = std::move(*dom->next_def);
        dom->next_def.reset();
      }
      finish_job(dom);
      return done(st.error());
    }
    after_start(dom, paused, done);
  });
}

// Creates the launcher for DOM with ID and starts it; DONE gets the outcome
// once the guest runs (state RUNNING/BOOTED set, status file written).
void ArrowDriver::launch(const DomainPtr& dom, int id, std::function<void(Status)> done) {
  Result<std::unique_ptr<ArrowLauncher>> launcher = make_launcher(dom, id);
  if (!launcher.ok()) return done(launcher.error());
  dom->anotify.new_run(dom->anotify.heartbeat_s, dom->active() && id == dom->id);
  consoles_.set_app_running(uuid_format(dom->def.uuid), false);
  dom->launcher = std::move(launcher.value());
  dom->launcher->start([this, dom, id, done](Status st) {
    if (!st.ok()) {
      note_in_log(dom, fmt(_("cannot start Arrow '%1$s': %2$s"), dom->name().c_str(), st.error().message.c_str()));
      retire_launcher(dom);
      return done(st);
    }
    dom->id = id;
    dom->qemu_pid = dom->launcher->pid();
    Result<ProcStat> ps = read_proc_stat(dom->qemu_pid);
    dom->qemu_start_ticks = ps.ok() ? ps->start_ticks : 0;
    // virsh restore and a start from a managed save are libvirt's RESTORED.
    dom->restored_run = !dom->restore_from.empty();
    dom->set_state(ArrowState::Running, dom->restored_run ? VIR_DOMAIN_RUNNING_RESTORED : VIR_DOMAIN_RUNNING_BOOTED);
    write_status(dom);
    arm_boot_timer(dom);
    balloon_start(dom, false);
    done({});
  });
}

// The launcher for DOM's QEMU with ID (not started), its events wired to the
// driver. Sets the heartbeat period of this run in dom->anotify.
Result<std::unique_ptr<ArrowLauncher>> ArrowDriver::make_launcher(const DomainPtr& dom, int id) {
  LaunchSpec spec;
  spec.def = dom->def;
  spec.id = id;
  spec.emulator = dom->def.emulator.empty() ? conf_.emulator : dom->def.emulator;
  spec.kernel = dom->def.kernel.empty() ? conf_.kernel : dom->def.kernel;
  spec.initramfs = conf_.initramfs;
  spec.run_dir = conf_.run_dir + "/" + dom->name();
  spec.log_path = log_path(dom->name());
  std::optional<unsigned> heartbeat = TRY(metadata_heartbeat(dom->def));
  spec.heartbeat_s = heartbeat.value_or(conf_.heartbeat_s);
  spec.shutdown_grace_ms = conf_.shutdown_grace_ms;
  spec.qemu_user = conf_.qemu_user;
  spec.cgroup_parent = conf_.cgroup_parent;
  spec.log_policy = conf_.log_policy;
  spec.template_dir = conf_.template_dir;
  spec.image_path = dom->restore_from;
  spec.image_paused = dom->restore_paused;
  dom->anotify.heartbeat_s = spec.heartbeat_s;
  return options_.launcher_factory(spec, launch_events(dom));
}

// STARTED/BOOTED waits for the application (Anotify APP_STARTED), except
// for a paused start: libvirt's order there is STARTED then SUSPENDED.
void ArrowDriver::after_start(const DomainPtr& dom, bool paused, Reply<DomainRef> done) {
  if (paused) emit_started_once(dom);
  if (!paused || !dom->active()) {
    finish_job(dom);
    return done(dom->ref());
  }
  dom->launcher->suspend([this, dom, done](Status st) {
    if (st.ok()) mark_paused(dom);
    finish_job(dom);
    if (!st.ok()) return done(st.error());
    done(dom->ref());
  });
}

// The launcher is destroyed later, never inside its own callback.
void ArrowDriver::retire_launcher(const DomainPtr& dom) {
  balloon_stop(dom);
  // The guest agent's client goes with its QEMU (later: it answers the
  // commands still waiting).
  if (auto it = agents_.find(uuid_format(dom->def.uuid)); it != agents_.end()) {
    std::shared_ptr<QemuAgent> agent = std::move(it->second.second);
    agents_.erase(it);
    options_.post([agent] {});
  }
  if (!dom->launcher) return;
  std::shared_ptr<ArrowLauncher> old(std::move(dom->launcher));
  options_.post([old] {});
  dom->qemu_pid = 0;
  dom->qemu_start_ticks = 0;
}

// The shape of every state-changing entry point but start: look up REF →
// begin the OP job → (inside it) the Arrow still exists and the state table
// allows OP → ACT, which owns the job from then on (it calls finish_job and
// DONE). A refusal, or an IDEMPOTENT operation whose state is already
// reached, ends the job and answers at once.
void ArrowDriver::state_job(const DomainRef& ref, DomainOp op, bool idempotent, Reply<void> done,
                            std::function<void(const DomainPtr&)> act) {
  Result<DomainPtr> found = find(ref);
  if (!found.ok()) return done(found.error());
  DomainPtr dom = found.value();
  dom->begin_job(op, [this, dom, op, idempotent, done, act = std::move(act)] {
    bool already = false;
    Status st = dom->removed ? Status(no_domain(dom->ref())) : check_state(op, dom->state, idempotent ? &already : nullptr);
    if (!st.ok() || already) {
      finish_job(dom);
      return done(st);
    }
    act(dom);
  });
}

void ArrowDriver::domain_destroy(const DomainRef& ref, unsigned flags, Reply<void> done) {
  if (Status st = check_flags(flags, VIR_DOMAIN_DESTROY_GRACEFUL | VIR_DOMAIN_DESTROY_REMOVE_LOGS,
                              "virDomainDestroyFlags");
      !st.ok())
    return done(st.error());
  state_job(ref, DomainOp::Destroy, false, done, [this, done](const DomainPtr& dom) {
    // Completed by on_exited once QEMU is reaped.
    dom->stop_intent = StopIntent::Destroy;
    dom->stop_waiters.push_back([this, dom, done](Status result) {
      finish_job(dom);
      done(result);
    });
    dom->launcher->kill();
  });
}

void ArrowDriver::domain_shutdown(const DomainRef& ref, unsigned flags, Reply<void> done) {
  if (Status st = check_flags(flags, kShutdownModes, "virDomainShutdownFlags"); !st.ok()) return done(st.error());
  state_job(ref, DomainOp::Shutdown, true, done, [this, done](const DomainPtr& dom) {
    // Returns at once, as virDomainShutdown does; the exit comes later.
    Status st = dom->launcher->request_shutdown();
    if (st.ok()) dom->stop_intent = StopIntent::Shutdown;
    finish_job(dom);
    done(st);
  });
}

// Reboot: the application ends gracefully and the Arrow starts again in a
// new QEMU with the same id (libvirt keeps the id across a reboot). The reply
// comes once the request is made; the job lasts until the Arrow runs again.
void ArrowDriver::domain_reboot(const DomainRef& ref, unsigned flags, Reply<void> done) {
  if (Status st = check_flags(flags, kShutdownModes, "virDomainReboot"); !st.ok()) return done(st.error());
  state_job(ref, DomainOp::Reboot, false, done, [this, done](const DomainPtr& dom) {
    dom->stop_intent = StopIntent::Reboot;
    dom->stop_waiters.push_back([this, dom](Status) { finish_job(dom); });
    if (!dom->launcher->request_shutdown().ok()) dom->launcher->kill();
    done({});
  });
}

// QEMU's vCPUs stopped (a paused start, or virDomainSuspend): the state,
// its status file and libvirt's SUSPENDED event, unless the Arrow went away.
void ArrowDriver::mark_paused(const DomainPtr& dom) {
  if (!dom->active()) return;
  dom->set_state(ArrowState::Paused, VIR_DOMAIN_PAUSED_USER);
  write_status(dom);
  emit(dom, VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
}

void ArrowDriver::domain_suspend(const DomainRef& ref, Reply<void> done) {
  state_job(ref, DomainOp::Suspend, true, done, [this, done](const DomainPtr& dom) {
    dom->launcher->suspend([this, dom, done](Status result) {
      if (result.ok()) mark_paused(dom);
      finish_job(dom);
      done(result);
    });
  });
}

void ArrowDriver::domain_resume(const DomainRef& ref, Reply<void> done) {
  state_job(ref, DomainOp::Resume, true, done, [this, done](const DomainPtr& dom) {
    dom->launcher->resume([this, dom, done](Status result) {
      if (result.ok() && dom->active()) {
        dom->set_state(ArrowState::Running, VIR_DOMAIN_RUNNING_UNPAUSED);
        write_status(dom);
        dom->anotify.watch.reset();  // no heartbeat could come while paused
        emit(dom, VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
      }
      finish_job(dom);
      done(result);
    });
  });
}

// --- Events from the engine -------------------------------------------------

void ArrowDriver::on_app_exited(const DomainPtr& dom, int status, int signal) {
  dom->boot_watch.stop();
  dom->last_exit_status = status;
  dom->last_exit_signal = signal;
  dom->anotify.watch.stop();
  ArrowEvent ev;
  ev.kind = ArrowEventKind::AppExited;
  ev.status = status;
  ev.signal = signal;
  publish_guest(dom, ev);
  if (dom->stop_intent == StopIntent::Reboot) return;  // a reboot hides the stop
  if (dom->state != ArrowState::Running && dom->state != ArrowState::Paused) return;
  bool requested = dom->stop_intent == StopIntent::Shutdown;
  dom->set_state(ArrowState::ShuttingDown, requested ? VIR_DOMAIN_SHUTDOWN_USER : VIR_DOMAIN_SHUTDOWN_UNKNOWN);
  write_status(dom);
  emit(dom, VIR_DOMAIN_EVENT_SHUTDOWN, requested ? VIR_DOMAIN_EVENT_SHUTDOWN_HOST : VIR_DOMAIN_EVENT_SHUTDOWN_GUEST);
}

// QEMU is gone. Decide between restarting (reboot and on_poweroff keep the
// id; on_crash = restart stops the Arrow and starts it with a new id) and
// stopping, then complete whoever waited. An application the OOM killer
// ended is a crash of the Arrow: on_crash applies.
void ArrowDriver::on_exited(const DomainPtr& dom, ExitCause cause) {
  retire_launcher(dom);
  dom->boot_watch.stop();
  dom->anotify.watch.stop();
  StopIntent intent = dom->stop_intent;
  dom->stop_intent = StopIntent::None;
  if (cause == ExitCause::Panicked) emit(dom, VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED);
  if (cause == ExitCause::Poweroff && intent == StopIntent::None && dom->anotify.oom && dom->last_exit_signal != 0)
    cause = ExitCause::Panicked;  // handled as a crash below, without the PANICKED event
  if (intent == StopIntent::Reboot) {
    ArrowEvent ev;
    ev.kind = ArrowEventKind::Reboot;
    publish(dom, ev);
    return restart_in_place(dom, dom->id);
  }
  if (intent == StopIntent::None && cause == ExitCause::Poweroff && dom->def.on_poweroff == LifecycleAction::Restart)
    return restart_in_place(dom, dom->id);
  if (intent == StopIntent::None && cause == ExitCause::Panicked && dom->def.on_crash == LifecycleAction::Restart) {
    emit(dom, VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED);
    return restart_in_place(dom, next_id_++);
  }
  if (intent == StopIntent::BootTimeout)
    return stopped(dom, VIR_DOMAIN_SHUTOFF_FAILED, VIR_DOMAIN_EVENT_STOPPED_FAILED);
  if (intent == StopIntent::Save) return stopped(dom, VIR_DOMAIN_SHUTOFF_SAVED, VIR_DOMAIN_EVENT_STOPPED_SAVED);
  if (intent == StopIntent::Destroy || cause == ExitCause::Killed) {
    stopped(dom, VIR_DOMAIN_SHUTOFF_DESTROYED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
    return;
  }
  switch (cause) {
    case ExitCause::Poweroff:
      return stopped(dom, VIR_DOMAIN_SHUTOFF_SHUTDOWN, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN);
    case ExitCause::Killed:
      return stopped(dom, VIR_DOMAIN_SHUTOFF_DESTROYED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
    case ExitCause::Failed:
      return stopped(dom, VIR_DOMAIN_SHUTOFF_CRASHED, VIR_DOMAIN_EVENT_STOPPED_FAILED);
    case ExitCause::Panicked:
      return stopped(dom, VIR_DOMAIN_SHUTOFF_CRASHED, VIR_DOMAIN_EVENT_STOPPED_CRASHED);
  }
}

// Starts a new QEMU with ID; the Arrow stays active throughout.
void ArrowDriver::restart_in_place(const DomainPtr& dom, int id) {
  launch(dom, id, [this, dom](Status st) {
    if (!st.ok()) {
      log(fmt(_("cannot restart Arrow '%1$s': %2$s"), dom->name().c_str(), st.error().message.c_str()));
      // A destroy that arrived during the restart is what stopped it.
      bool destroyed = dom->stop_intent == StopIntent::Destroy;
      dom->stop_intent = StopIntent::None;
      if (destroyed) return stopped(dom, VIR_DOMAIN_SHUTOFF_DESTROYED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
      return stopped(dom, VIR_DOMAIN_SHUTOFF_FAILED, VIR_DOMAIN_EVENT_STOPPED_FAILED);
    }
    auto waiters = std::move(dom->stop_waiters);
    dom->stop_waiters.clear();
    for (auto& waiter : waiters) waiter({});
  });
}

// The Arrow is shut off: record why, apply a pending def, tell everyone.
void ArrowDriver::stopped(const DomainPtr& dom, int shutoff_reason, int event_detail) {
  remove_status(dom);
  dom->id = -1;
  dom->set_state(ArrowState::Shutoff, shutoff_reason);
  if (dom->next_def) {
    dom->def = std::move(*dom->next_def);
    dom->next_def.reset();
  }
  emit(dom, VIR_DOMAIN_EVENT_STOPPED, event_detail);
  consoles_.stopped(uuid_format(dom->def.uuid));  // after the event: a client seeing EOF finds it shut off
  auto waiters = std::move(dom->stop_waiters);
  dom->stop_waiters.clear();
  for (auto& waiter : waiters) waiter({});
  forget_if_gone(dom);
}

// --- Information ----------------------------------------------------------

Result<DomainInfo> ArrowDriver::domain_get_info(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  DomainInfo info;
  info.state = arrow_state_to_vir(dom->state);
  info.max_mem_kib = dom->def.memory_kib;
  info.memory_kib = balloon_actual_kib(*dom);  // what the balloon left the guest
  info.nr_virt_cpu = dom->def.vcpus;
  if (dom->active() && dom->qemu_pid > 0) {
    Result<ProcStat> ps = read_proc_stat(dom->qemu_pid);
    if (ps.ok()) info.cpu_time_ns = ps->cpu_time_ns;
  }
  return info;
}

Result<DomainStateInfo> ArrowDriver::domain_get_state(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  return DomainStateInfo{arrow_state_to_vir(dom->state), dom->reason};
}

Result<std::string> ArrowDriver::domain_get_xml_desc(const DomainRef& ref, unsigned flags) {
  TRY(check_flags(flags, kXmlFlags, "virDomainGetXMLDesc"));
  DomainPtr dom = TRY(find(ref));
  // <initenv> values only with SECURE, which the REMOTE program refuses on a
  // read-only connection (libvirt's rule for passwords).
  unsigned format_flags = (flags & VIR_DOMAIN_XML_SECURE) ? 0u : unsigned(FORMAT_HIDE_SECRETS);
  if (flags & VIR_DOMAIN_XML_INACTIVE) return format_domain_xml(dom->persistent_def(), format_flags | FORMAT_INACTIVE);
  DomainLiveData live;
  live.id = dom->active() ? dom->id : -1;
  live.channels = channel_live_data(dom);
  // The last exit of the application, readable without events (arrow_events.h).
  ArrowDef def = dom->def;
  def.metadata = metadata_with_status(dom->def, dom->last_exit_status, dom->last_exit_signal);
  return format_domain_xml(def, live, format_flags);
}

Result<bool> ArrowDriver::domain_get_autostart(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  return dom->autostart;
}

Status ArrowDriver::domain_set_autostart(const DomainRef& ref, bool autostart) {
  DomainPtr dom = TRY(find(ref));
  TRY(check_state(DomainOp::SetAutostart, dom->state));
  if (!dom->persistent)
    return make_error(VIR_ERR_OPERATION_INVALID, _("cannot set autostart for transient domain"));
  TRY(set_autostart_link(conf_.config_dir, dom->name(), autostart));
  dom->autostart = autostart;
  return {};
}

Result<bool> ArrowDriver::domain_is_active(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  return dom->active();
}

Result<bool> ArrowDriver::domain_is_persistent(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  return dom->persistent;
}

Result<uint64_t> ArrowDriver::domain_get_max_memory(const DomainRef& ref) {
  DomainPtr dom = TRY(find(ref));
  return dom->def.memory_kib;
}

Result<std::vector<DomainStatsRecord>> ArrowDriver::get_all_domain_stats(unsigned stats, unsigned flags) {
  if ((flags & VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS) && (stats & ~kSupportedStats))
    return make_error(VIR_ERR_ARGUMENT_UNSUPPORTED,
                      fmt(_("Stats types bits 0x%1$x are not supported by this daemon"), stats & ~kSupportedStats));
  if (stats == 0) stats = kSupportedStats;
  unsigned list_flags = flags & ~(VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT | VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING |
                                  VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS);
  std::vector<DomainStatsRecord> out;
  for (const auto& [name, dom] : domains_) {
    if (!dom->matches_list_flags(list_flags)) continue;
    DomainStatsRecord rec;
    rec.dom = dom->ref();
    if (stats & VIR_DOMAIN_STATS_STATE) {
      rec.params.push_back(typed_param("state.state", TypedParam::Type::Int, arrow_state_to_vir(dom->state)));
      rec.params.push_back(typed_param("state.reason", TypedParam::Type::Int, dom->reason));
      add_anotify_stats(*dom, rec.params);
      add_agent_stats(dom, rec.params);
    }
    if ((stats & VIR_DOMAIN_STATS_CPU_TOTAL) && dom->active() && dom->qemu_pid > 0) {
      if (Result<ProcStat> ps = read_proc_stat(dom->qemu_pid); ps.ok())
        rec.params.push_back(typed_param("cpu.time", TypedParam::Type::ULLong, static_cast<int64_t>(ps->cpu_time_ns)));
    }
    if (stats & VIR_DOMAIN_STATS_BALLOON) add_balloon_stats(*dom, rec.params);
    if (stats & VIR_DOMAIN_STATS_VCPU) {
      rec.params.push_back(typed_param("vcpu.current", TypedParam::Type::UInt, dom->def.vcpus));
      rec.params.push_back(typed_param("vcpu.maximum", TypedParam::Type::UInt, dom->def.vcpus));
    }
    add_monitor_stats(*dom, stats, rec.params);  // vcpu.N.*, net.* (arrow_driver_host.cc)
    out.push_back(std::move(rec));
  }
  return out;
}

// --- Capabilities -----------------------------------------------------------

// The host facts are read at every call: cheap, and always current.
std::string ArrowDriver::capabilities_xml() { return host_capabilities_xml(probe_host_info(conf_.emulator)); }

Result<std::string> ArrowDriver::domain_capabilities_xml(const std::string& emulator, const std::string& arch,
                                                         const std::string& machine, const std::string& virttype) {
  return arrow::domain_capabilities_xml(probe_host_info(conf_.emulator),
                                        DomainCapsQuery{emulator, arch, machine, virttype});
}

}  // namespace arrow
