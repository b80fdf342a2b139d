// Per-Arrow state kept by the driver: definitions (live and next-start),
// persistence, id, lifecycle state and reason, autostart, the running
// launcher, and the job queue that lets one state-changing operation run on
// an Arrow at a time. Also the launcher interface the engine implements.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "domain-xml/arrow_def.h"
#include "anotify/anotify_decoder.h"
#include "driver/arrow/arrow_balloon.h"
#include "driver/arrow/arrow_boot_watch.h"
#include "driver/engine/confine.h"
#include "driver/engine/qemu_process.h"
#include "driver/api/driver_api.h"
#include "driver/arrow/arrow_events.h"
#include "driver/arrow/arrow_state.h"
#include "util/result.h"

namespace arrow {

// Everything the engine needs to run one Arrow.
struct LaunchSpec {
  ArrowDef def;
  int id = -1;
  std::string emulator;   // resolved: the def's <emulator> or the configured one
  std::string kernel;     // resolved: the def's <kernel> or the Arrow kernel
  std::string initramfs;
  std::string run_dir;    // per-Arrow directory for the QMP, console and Anotify sockets
  std::string log_path;   // console and QEMU output
  unsigned heartbeat_s = 0;
  unsigned shutdown_grace_ms = 0;
  std::optional<QemuUser> qemu_user;  // QEMU drops to it before exec; nullopt: stays the daemon's user
  std::string cgroup_parent;          // where its cgroup leaf goes; empty: no cgroup
  LogPolicy log_policy;               // the log's rotation
  // Where the guest comes from (ARCHITECTURE.md, "Templates"): the image
  // IMAGE_PATH (virsh restore, a managed save), else a boot template from
  // TEMPLATE_DIR (made there when missing), else a cold boot.
  std::string image_path;
  bool image_paused = false;  // a restore that leaves the vCPUs stopped
  std::string template_dir;
};

// Notifications from a running Arrow. Contract: invoked from the main loop,
// never synchronously from inside a launcher method; `exited` comes exactly
// once for a launcher whose start succeeded, after QEMU was reaped, and
// never for one whose start failed. Completions passed to the methods below
// run exactly once (with an error when QEMU went away first); start's may
// run before start() returns.
struct LaunchEvents {
  std::function<void(const AnotifyEvent&)> anotify;  // every Anotify message from the guest
  std::function<void(ExitCause cause)> exited;       // why QEMU went away (the engine decides)
  std::function<void(std::span<const uint8_t>)> console;  // guest console output (already logged)
};

// One QEMU process for one Arrow (the engine's ArrowProcess behind an
// adapter). Destroying it kills and reaps a QEMU still running.
class ArrowLauncher {
 public:
  virtual ~ArrowLauncher() = default;
  // Spawns QEMU; completes once the guest runs (QMP answered, vCPUs going).
  // On failure everything is cleaned up and no `exited` follows.
  virtual void start(std::function<void(Status)> done) = 0;
  // Asks ainit to end the application (Anotify SHUTDOWN); returns at once.
  virtual Status request_shutdown() = 0;
  // SIGKILLs QEMU; `exited(Killed)` follows once it is reaped.
  virtual void kill() = 0;
  virtual void suspend(std::function<void(Status)> done) = 0;  // QMP stop
  virtual void resume(std::function<void(Status)> done) = 0;   // QMP cont
  virtual int pid() const = 0;  // QEMU's pid; 0 before spawn
  // Input for the guest console; an error when it is not connected.
  virtual Status console_write(std::span<const uint8_t>) {
    return make_error(VIR_ERR_OPERATION_INVALID, _("the console is not connected"));
  }
  // SIGNUM to the application's process group (Anotify SIGNAL).
  virtual Status signal_application(int /*signum*/) {
    return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
  }
  // Takes over QEMU PID, started by an earlier daemon whose runtime status
  // named it (arrow_reconnect.h): reconnects its sockets and completes once
  // QMP answers, with start()'s failure contract.
  virtual void adopt(int /*pid*/, std::function<void(Status)> done) {
    done(make_error(VIR_ERR_NO_SUPPORT, _("this launcher cannot adopt a running QEMU")));
  }
  // Leaves QEMU running when the launcher is destroyed (daemon shutdown: the
  // next daemon adopts it).
  virtual void detach() {}
  // The saved image or template this guest was restored from ("" for a cold
  // boot), and whether its vCPUs have not run since (a paused restore): then
  // saving it is copying that image.
  virtual std::string image_source() const { return {}; }
  virtual void set_image_source(const std::string& /*path*/) {}  // an adopted QEMU's, from its runtime status
  virtual bool pristine() const { return false; }
  // The balloon (qemu_balloon.h): whether QEMU has one, its target, its
  // statistics period and a query of its size and the guest's statistics.
  virtual bool has_balloon() const { return false; }
  virtual void balloon_set_target(uint64_t /*kib*/, std::function<void(Status)> done) {
    done(make_error(VIR_ERR_OPERATION_INVALID, _("this launcher has no balloon")));
  }
  virtual void balloon_set_stats_period(unsigned /*period_s*/, std::function<void(Status)> done) {
    done(make_error(VIR_ERR_OPERATION_INVALID, _("this launcher has no balloon")));
  }
  virtual void balloon_query(std::function<void(Result<BalloonInfo>)> done) {
    done(make_error(VIR_ERR_OPERATION_INVALID, _("this launcher has no balloon")));
  }
  // Whether the guest has the port of <channel> INDEX open (QMP
  // VSERPORT_CHANGE); nullopt while unknown.
  virtual std::optional<bool> channel_open(size_t /*index*/) const { return std::nullopt; }
};

using LauncherFactory = std::function<std::unique_ptr<ArrowLauncher>(const LaunchSpec&, LaunchEvents)>;

// The factory the shipped daemon uses: one engine ArrowProcess per start
// (arrow_launcher.cc).
LauncherFactory make_process_launcher_factory();

// What a stop in progress was asked for, to tell the exit's meaning.
// BootTimeout: the boot watchdog stops a guest that never booted.
enum class StopIntent { None, Destroy, Shutdown, Reboot, BootTimeout, Save };

class ArrowDomain {
 public:
  explicit ArrowDomain(ArrowDef def, bool persistent);

  // The live def while active; otherwise the persistent (or transient) def.
  ArrowDef def;
  // The persistent def for the next start, when redefined while active.
  std::optional<ArrowDef> next_def;
  bool persistent = false;
  bool autostart = false;
  int id = -1;  // -1 when shut off
  ArrowState state = ArrowState::Shutoff;
  int reason = 0;  // the virDomain*Reason matching state
  StopIntent stop_intent = StopIntent::None;
  // The next start's guest: an image to restore ("" for a boot template or
  // a cold boot), and whether its vCPUs stay stopped (a paused start).
  std::string restore_from;
  bool restore_paused = false;
  bool restored_run = false;  // this run came from a saved image (STARTED/RESTORED)
  bool removed = false;  // dropped from the registry; queued jobs must fail

  // The QEMU of an active Arrow, and what its runtime status records.
  std::unique_ptr<ArrowLauncher> launcher;
  int qemu_pid = 0;
  uint64_t qemu_start_ticks = 0;
  std::optional<int> last_exit_status;  // the application's, from Anotify
  int last_exit_signal = 0;
  AnotifyState anotify;  // what Anotify said about the current run
  BootWatch boot_watch;  // armed from QEMU's start to the first Anotify message
  BalloonRun balloon;    // the running QEMU's balloon (arrow_driver_balloon.cc)
  // Completions waiting for QEMU to go (destroy).
  std::vector<std::function<void(Status)>> stop_waiters;

  bool active() const { return state != ArrowState::Shutoff; }
  const std::string& name() const { return def.name; }
  DomainRef ref() const { return DomainRef{def.name, def.uuid, id}; }
  // The def to save, show with INACTIVE, and start next time.
  const ArrowDef& persistent_def() const { return next_def ? *next_def : def; }
  // virConnectListAllDomains' filter (VIR_CONNECT_LIST_DOMAINS_* FLAGS).
  bool matches_list_flags(unsigned flags) const;
  void set_state(ArrowState new_state, int new_reason) {
    state = new_state;
    reason = new_reason;
  }

  // The job rule: one state-changing operation at a time. RUN is called now
  // when no job is active, else queued (FIFO) and called by end_job of the
  // job before it. RUN must end with end_job(), on every path.
  void begin_job(DomainOp op, std::function<void()> run);
  void end_job();
  std::optional<DomainOp> job() const { return job_; }
  size_t queued_jobs() const { return waiting_.size(); }

 private:
  std::optional<DomainOp> job_;
  std::deque<std::pair<DomainOp, std::function<void()>>> waiting_;
  bool draining_ = false;  // end_job is starting queued jobs
};

// libvirt's VIR_DOMAIN_AFFECT_* rule (virDomainObjUpdateModificationImpact):
// FLAGS with CURRENT resolved (live when running, else config), or its error
// for a definition DOM does not have.
Result<unsigned> domain_modification_impact(const ArrowDomain& dom, unsigned flags);

}  // namespace arrow
