// Per-Arrow state and its job queue (see arrow_domain.h).
#include "driver/arrow/arrow_domain.h"

#include <libvirt/libvirt.h>
#include <sys/wait.h>

#include "driver/engine/cgroup.h"
#include "driver/arrow/arrow_console.h"
#include "driver/engine/qemu_process.h"
#include "util/i18n.h"

namespace arrow {

ArrowDomain::ArrowDomain(ArrowDef d, bool is_persistent)
    : def(std::move(d)), persistent(is_persistent), reason(VIR_DOMAIN_SHUTOFF_UNKNOWN) {}

// virConnectListAllDomains' filter groups: within a group the bits are ORed,
// a group with no bit set does not filter.
bool ArrowDomain::matches_list_flags(unsigned flags) const {
  auto group = [flags](unsigned yes, unsigned no, bool value) {
    if (!(flags & (yes | no))) return true;
    return ((flags & yes) && value) || ((flags & no) && !value);
  };
  if (!group(VIR_CONNECT_LIST_DOMAINS_ACTIVE, VIR_CONNECT_LIST_DOMAINS_INACTIVE, active())) return false;
  if (!group(VIR_CONNECT_LIST_DOMAINS_PERSISTENT, VIR_CONNECT_LIST_DOMAINS_TRANSIENT, persistent)) return false;
  if (!group(VIR_CONNECT_LIST_DOMAINS_AUTOSTART, VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART, autostart)) return false;
  // No managed save, snapshots or checkpoints exist for an Arrow.
  if (!group(VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE, VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE, false)) return false;
  if (!group(VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT, VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT, false)) return false;
  if (!group(VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT, VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT, false)) return false;
  unsigned state_bits = VIR_CONNECT_LIST_DOMAINS_RUNNING | VIR_CONNECT_LIST_DOMAINS_PAUSED |
                        VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_OTHER;
  if (flags & state_bits) {
    unsigned bit = 0;
    switch (state) {
      case ArrowState::Shutoff: bit = VIR_CONNECT_LIST_DOMAINS_SHUTOFF; break;
      case ArrowState::Running: bit = VIR_CONNECT_LIST_DOMAINS_RUNNING; break;
      case ArrowState::Paused: bit = VIR_CONNECT_LIST_DOMAINS_PAUSED; break;
      case ArrowState::ShuttingDown: bit = VIR_CONNECT_LIST_DOMAINS_OTHER; break;
    }
    if (!(flags & bit)) return false;
  }
  return true;
}

void ArrowDomain::begin_job(DomainOp op, std::function<void()> run) {
  if (job_) {
    waiting_.emplace_back(op, std::move(run));
    return;
  }
  job_ = op;
  run();
}

void ArrowDomain::end_job() {
  job_.reset();
  if (waiting_.empty()) return;
  auto [op, run] = std::move(waiting_.front());
  waiting_.pop_front();
  job_ = op;
  run();
}

namespace {

// The engine's ArrowProcess behind the driver's launcher interface. It turns
// the process's raw signals (Anotify messages, QMP events, the wait status)
// into an ExitCause. A guest reset with neither an application exit report
// nor a shutdown request is taken for a kernel panic: the single-task kernel
// has no ACPI, so pvpanic rarely reports one, and panic=-1 resets the guest.
class ProcessLauncher final : public ArrowLauncher {
 public:
  ProcessLauncher(LaunchSpec spec, LaunchEvents events) : spec_(std::move(spec)), events_(std::move(events)) {}

  void start(std::function<void(Status)> done) override {
    Result<CommandContext> ctx = context();
    if (!ctx.ok()) return done(ctx.error());
    if (!spec_.cgroup_parent.empty()) {
      Result<std::unique_ptr<CgroupLeaf>> leaf =
          CgroupLeaf::create(spec_.cgroup_parent, spec_.def.name, cgroup_limits(spec_.def));
      if (!leaf.ok()) return done(leaf.error());
      leaf_ = std::move(leaf.value());
    }
    const ChildConfinement confinement =
        ChildConfinement::prepare(spec_.qemu_user, leaf_ ? leaf_->procs_fd() : -1, share_access_list(spec_.def));
    Result<std::unique_ptr<ArrowProcess>> process =
        ArrowProcess::start(spec_.def, std::move(ctx.value()), spec_.run_dir, callbacks(done), &confinement);
    if (!process.ok()) {
      leaf_.reset();
      return done(process.error());
    }
    process_ = std::move(process.value());
  }

  void adopt(int pid, std::function<void(Status)> done) override {
    Result<std::unique_ptr<ArrowProcess>> process =
        ArrowProcess::adopt(pid, spec_.def.name, RuntimePaths{spec_.run_dir}, spec_.log_path, callbacks(done));
    if (!process.ok()) return done(process.error());
    process_ = std::move(process.value());
    // The adopted QEMU's leaf is ours to remove when it exits.
    if (!spec_.cgroup_parent.empty()) leaf_ = CgroupLeaf::existing(spec_.cgroup_parent, spec_.def.name);
  }

  void detach() override {
    if (process_) process_->detach();
    if (leaf_) leaf_->release();
  }

  Status request_shutdown() override {
    if (!process_ || process_->exited()) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    shutdown_requested_ = true;
    return process_->shutdown(spec_.shutdown_grace_ms);
  }

  void kill() override {
    kill_requested_ = true;
    if (process_) process_->destroy(1000, 1000);
  }

  void suspend(std::function<void(Status)> done) override { qmp("stop", std::move(done)); }
  void resume(std::function<void(Status)> done) override { qmp("cont", std::move(done)); }
  int pid() const override { return process_ ? process_->pid() : 0; }

  Status console_write(std::span<const uint8_t> bytes) override {
    if (!process_ || process_->exited()) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    return process_->console_write(bytes);
  }

  Status signal_application(int signum) override {
    if (!process_ || process_->exited()) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    return process_->signal_application(signum);
  }

 private:
  Result<CommandContext> context() const {
    CommandContext ctx;
    ctx.emulator = spec_.emulator;
    ctx.kernel = spec_.kernel;
    ctx.initramfs = spec_.initramfs;
    ctx.log_path = spec_.log_path;
    ctx.kvm = kvm_usable();
    ctx.heartbeat_s = spec_.heartbeat_s;
    ConsoleMode console = TRY(metadata_console_mode(spec_.def));
    ctx.console_pipe = console == ConsoleMode::Pipe;
    if (!spec_.def.inituser.empty()) ctx.user = TRY(resolve_init_user(spec_.def.inituser));
    if (!spec_.def.initgroup.empty()) ctx.group = TRY(resolve_init_group(spec_.def.initgroup));
    return ctx;
  }

  ArrowProcess::Callbacks callbacks(std::function<void(Status)> done) {
    ArrowProcess::Callbacks cb;
    cb.started = [this, done](const Status& st) {
      if (!st.ok()) start_failed_ = true;
      done(st);
    };
    cb.anotify = [this](const AnotifyEvent& ev) {
      if (const auto* exited = std::get_if<AnotifyAppExited>(&ev)) {
        app_exited_ = true;
        if (events_.app_exited) events_.app_exited(exited->status, exited->signal);
      } else if (events_.anotify) {
        events_.anotify(ev);
      }
    };
    cb.qmp_event = [this](const QmpEvent& ev) { note_qmp_event(ev); };
    cb.console = [this](std::span<const uint8_t> bytes) {
      if (events_.console) events_.console(bytes);
    };
    cb.exited = [this](const ProcessExit& exit) {
      leaf_.reset();  // QEMU is reaped: the leaf is empty
      if (!start_failed_ && events_.exited) events_.exited(cause_of(exit));
    };
    return cb;
  }

  void note_qmp_event(const QmpEvent& ev) {
    if (ev.kind == QmpEventKind::GuestPanicked) panicked_ = true;
    if (ev.kind != QmpEventKind::Shutdown) return;
    std::string reason = ev.shutdown_reason();
    if (reason == "guest-panic") panicked_ = true;
    if (reason == "guest-reset") guest_reset_ = true;
  }

  ExitCause cause_of(const ProcessExit& exit) const {
    if (kill_requested_) return ExitCause::Killed;
    // Decided at exit, not at the QMP event: the Anotify report may be read
    // after the event (ArrowProcess drains it before reporting the exit).
    if (panicked_ || (guest_reset_ && !app_exited_ && !shutdown_requested_)) return ExitCause::Panicked;
    // An adopted QEMU is no child of ours: its status is unknown, and the
    // application's exit report is what tells a power-off from a crash.
    bool clean = exit.status_known ? WIFEXITED(exit.wait_status) && WEXITSTATUS(exit.wait_status) == 0 : app_exited_;
    return clean ? ExitCause::Poweroff : ExitCause::Failed;
  }

  void qmp(const char* command, std::function<void(Status)> done) {
    QmpMonitor* monitor = process_ ? process_->monitor() : nullptr;
    if (!monitor) return done(make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running")));
    monitor->execute(command, [done](Result<JsonValue> r) { done(r.ok() ? Status() : Status(r.error())); });
  }

  LaunchSpec spec_;
  LaunchEvents events_;
  // Before process_: a QEMU still running is killed and reaped first, so
  // the leaf is empty when it goes.
  std::unique_ptr<CgroupLeaf> leaf_;
  std::unique_ptr<ArrowProcess> process_;
  bool start_failed_ = false;
  bool app_exited_ = false;
  bool shutdown_requested_ = false;
  bool kill_requested_ = false;
  bool panicked_ = false;
  bool guest_reset_ = false;
};

}  // namespace

LauncherFactory make_process_launcher_factory() {
  return [](const LaunchSpec& spec, LaunchEvents events) -> std::unique_ptr<ArrowLauncher> {
    return std::make_unique<ProcessLauncher>(spec, std::move(events));
  };
}

}  // namespace arrow
