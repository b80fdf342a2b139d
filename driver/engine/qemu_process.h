// ArrowProcess: one running QEMU of an Arrow. The only code that forks,
// execs, waits for or kills a process. It creates the runtime directory and
// the QMP, console and Anotify listening sockets (passed to QEMU as fds 3-5,
// so a restarted daemon can reconnect by path), spawns QEMU in its own
// session with its output appended to the log, connects to all three sockets
// before letting the guest run, and reports everything through callbacks on
// the GLib main loop. It can also adopt a QEMU started by an earlier daemon.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "anotify/anotify_decoder.h"
#include "domain-xml/arrow_def.h"
#include "driver/engine/qemu_command.h"
#include "driver/engine/confine.h"
#include "driver/engine/log_file.h"
#include "driver/engine/qemu_monitor.h"
#include "util/result.h"

namespace arrow {

class AnotifyChannel;
class FdStream;

// The files of one running Arrow under its runtime directory.
struct RuntimePaths {
  std::string dir;
  std::string monitor() const { return dir + "/monitor.sock"; }
  std::string console() const { return dir + "/console.sock"; }
  std::string anotify() const { return dir + "/anotify.sock"; }
  std::string stdout_port() const { return dir + "/stdout.sock"; }
  std::string serial() const { return dir + "/serial.sock"; }
  std::string exec_port() const { return dir + "/exec.sock"; }  // Adebug's (qemu_channel.h)
  std::string pid_file() const { return dir + "/qemu.pid"; }
  // Every file above: what a QEMU that died while no daemon ran leaves.
  std::vector<std::string> files() const {
    return {monitor(), console(), anotify(), stdout_port(), serial(), exec_port(), pid_file()};
  }
};

// Process facts for stats, the runtime status and telling a process from a
// later one with the same pid: the state (field 3: 'Z' a zombie, 'X' dead),
// the start time (clock ticks since boot, field 22) and user+system CPU time
// (fields 14+15) of PID from /proc/PID/stat.
struct ProcStat {
  char state = '?';
  uint64_t start_ticks = 0;
  uint64_t cpu_time_ns = 0;
  bool dead() const { return state == 'Z' || state == 'X' || state == 'x'; }
};
Result<ProcStat> read_proc_stat(int pid);
// The pure parser of one /proc/PID/stat line (the comm field may hold spaces
// and parentheses).
Result<ProcStat> parse_proc_stat(std::string_view line);

// Why QEMU went away.
enum class ExitCause {
  Poweroff,  // the guest powered off (ainit, after the application ended)
  Killed,    // destroy() was asked for
  Failed,    // QEMU died on its own (signal, error exit, lost monitor)
  Panicked,  // the guest kernel panicked
};

// How QEMU ended. An adopted QEMU is not our child: its status is unknown.
struct ProcessExit {
  bool status_known = false;
  int wait_status = 0;  // waitpid() status when status_known
  // Decided at exit from everything the process saw: a guest reset with
  // neither an application exit report nor a shutdown request is taken for a
  // kernel panic (the single-task kernel has no ACPI, so pvpanic rarely
  // reports one, and panic=-1 resets the guest).
  ExitCause cause = ExitCause::Failed;
};

// How a start gets its guest (ARCHITECTURE.md, "Templates").
enum class StartMode {
  Cold,          // boot the kernel with ainit's instructions on its command line
  MakeTemplate,  // boot with arrow.wait=1, RAM shared in the image file; at
                 // ainit's INSTRUCTIONS_WANTED(all), stop and save the device
                 // state (x-ignore-shared: the RAM is already in the file)
  Restore,       // map the image's RAM copy-on-write, load its device state,
                 // then send ainit every instruction
};

struct StartImage {
  StartMode mode = StartMode::Cold;
  UniqueFd ram;     // the image, read-write (QEMU maps it; a restore never writes it)
  UniqueFd state;   // positioned at the device state: written (MakeTemplate) or read (Restore)
  bool paused = false;  // Restore: leave the vCPUs stopped (a paused start or restore)
};

class ArrowProcess {
 public:
  // How often an adopted QEMU is looked at when the kernel has no pidfds.
  static constexpr unsigned kExitPollMs = 250;

  struct Callbacks {
    // Once: OK when QMP is negotiated and the guest runs (after 'cont'; for
    // adopt(), once QMP is negotiated), or the error that stopped the start
    // (QEMU's own message from the log when it died). After an error QEMU is
    // being destroyed and `exited` follows.
    std::function<void(const Status&)> started;
    // Every Anotify message but OUTPUT_END (the process acknowledges that
    // itself), straight from the channel.
    std::function<void(const AnotifyEvent&)> anotify;
    // Guest console output, already appended to the log.
    std::function<void(std::span<const uint8_t>)> console;
    std::function<void(const QmpEvent&)> qmp_event;
    // Once, last: QEMU is gone, every socket and the pid file removed. The
    // object may be destroyed from here.
    std::function<void(const ProcessExit&)> exited;
    // MakeTemplate only: the device state is saved (OK) or could not be.
    // QEMU stays stopped; the owner destroys it.
    std::function<void(const Status&)> template_saved;
  };

  // Spawns QEMU for DEF. CTX.log_path is the log (created 0600, appended);
  // the fds in CTX are overridden to 3, 4, 5 and the log to 6 (QEMU opens
  // no host file of ours by path, so it may run unprivileged); a bridge
  // interface's TAP is created here (tap.h, root only) and passed at 8. The runtime
  // directory RUN_DIR is created 0700 if needed. CONFINEMENT, when given, is
  // applied in the child before exec (cgroup, user, share checks); it only
  // needs to live through this call. Errors before the spawn leave nothing
  // behind.
  static Result<std::unique_ptr<ArrowProcess>> start(const ArrowDef& def, CommandContext ctx,
                                                     const std::string& run_dir, Callbacks callbacks,
                                                     const ChildConfinement* confinement = nullptr,
                                                     StartImage image = {});

  // Takes over a QEMU started by an earlier instance: PID must be a live
  // process whose command line names guest=NAME; reconnects to the sockets
  // in PATHS. Exit is detected through a pidfd (no status); on a kernel
  // without pidfd_open (before Linux 5.3) by polling the pid every
  // kExitPollMs, which must still be alive, not a zombie, and have the start
  // time it had when adopted, and signals go by kill() after the same check.
  static Result<std::unique_ptr<ArrowProcess>> adopt(pid_t pid, const std::string& name, const RuntimePaths& paths,
                                                     const std::string& log_path, Callbacks callbacks);

  ~ArrowProcess();  // kills a QEMU still running (SIGKILL) and cleans up
  ArrowProcess(const ArrowProcess&) = delete;
  ArrowProcess& operator=(const ArrowProcess&) = delete;

  pid_t pid() const { return pid_; }
  const RuntimePaths& paths() const { return paths_; }
  bool exited() const { return exited_; }
  QmpMonitor* monitor() { return monitor_.get(); }  // null once QEMU exited

  // Graceful stop: asks ainit over Anotify to SIGTERM the application and
  // SIGKILL it after GRACE_MS; the guest then powers off. microvm has no ACPI
  // power button, so QMP system_powerdown would do nothing. The caller waits
  // for `exited` and calls destroy() if it does not come.
  Status shutdown(uint32_t grace_ms);

  // Forced stop: QMP 'quit', SIGTERM after TERM_AFTER_MS, SIGKILL after a
  // further KILL_AFTER_MS. `exited` reports the end. Idempotent.
  void destroy(unsigned term_after_ms = 3000, unsigned kill_after_ms = 3000);

  // Leaves QEMU running and its sockets and pid file in place when this
  // object is destroyed (daemon shutdown; a later adopt() takes over).
  // Without it the destructor kills a QEMU it started and removes its files.
  void detach();

  // ainit's private instructions for an adopted QEMU (build_private_instructions
  // of its live definition), sent only if its ainit asks: one that adoption
  // interrupted during its boot. start() builds them itself.
  void set_private_instructions(std::vector<uint8_t> frames) { instructions_ = std::move(frames); }
  // The same for an adopted QEMU restored from an image whose ainit still
  // waits for all of its instructions (arrow.wait=1): the arrow.* tokens
  // (build_instruction_tokens, without arrow.time) and the environment.
  void set_all_instructions(std::string tokens, std::vector<std::string> env) {
    instruction_tokens_ = std::move(tokens);
    env_ = std::move(env);
  }

  // The bound channel sockets of an adopted QEMU (qemu_channel.h), removed
  // when it exits as those of a QEMU this object started are.
  void own_channel_sockets(const std::vector<std::string>& paths) {
    for (const std::string& path : paths) channel_paths_.emplace_back(path);
  }

  // How the log is rotated from now on (default: LogPolicy's).
  void set_log_policy(const LogPolicy& policy) { log_policy_ = policy; }

  // Started from an image (Restore) and its vCPUs never ran since: the
  // guest is still the image's, so saving it is copying the image.
  bool pristine() const { return pristine_; }
  // Lets the vCPUs of a paused start run (QMP cont); ends pristine().
  void note_resumed() { pristine_ = false; }

  // Writes to the guest console (virsh console input).
  Status console_write(std::span<const uint8_t> bytes);
  // Asks ainit to send SIGNUM to the application's process group (Anotify
  // SIGNAL); fails when the channel is closed.
  Status signal_application(int signum);

 private:
  ArrowProcess() = default;
  Status connect_all();
  void on_qmp_ready();
  void on_child_exit(int wait_status, bool status_known);
  void note_qmp_event(const QmpEvent& ev);
  ExitCause cause_of(int wait_status, bool status_known) const;
  void fail_start(const Error& error);
  void append_log(std::string_view text);
  bool rotate_log();  // false when the log could not be rotated
  std::string log_tail() const;
  void send_signal(int sig);
  static gboolean on_start_timeout(gpointer self);
  static gboolean on_escalate(gpointer self);
  static void on_child_watch(GPid pid, gint wait_status, gpointer self);
  static gboolean on_pidfd(gint fd, GIOCondition cond, gpointer self);
  static gboolean on_exit_poll(gpointer self);
  bool still_running() const;  // an adopted QEMU without a pidfd
  void write_pid_file();

  std::string name_;
  RuntimePaths paths_;
  std::string log_path_;
  LogPolicy log_policy_;
  UniqueFd log_fd_;
  long log_start_ = 0;  // log size at spawn: QEMU's errors are after it
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  uint64_t start_ticks_ = 0;  // an adopted QEMU's start time (/proc/PID/stat)
  bool adopted_ = false;
  bool detached_ = false;
  bool exited_ = false;
  bool start_reported_ = false;
  int escalation_ = 0;  // 0 none, 1 quit sent, 2 SIGTERM sent, 3 SIGKILL sent
  // What the exit means (cause_of).
  bool shutdown_requested_ = false;
  bool kill_requested_ = false;
  bool panicked_ = false;
  bool guest_reset_ = false;
  bool app_exited_ = false;  // kept from the channel, which goes before the exit is reported
  unsigned kill_after_ms_ = 3000;
  guint child_watch_ = 0;
  guint pidfd_watch_ = 0;
  guint exit_poll_ = 0;  // instead of pidfd_watch_ when there is no pidfd
  guint start_timer_ = 0;
  guint escalate_timer_ = 0;
  Callbacks callbacks_;
  std::unique_ptr<QmpMonitor> monitor_;
  std::unique_ptr<AnotifyChannel> anotify_;
  std::unique_ptr<FdStream> console_;
  // The application's stdout/stderr in pipe mode: a flow-controlled
  // virtserialport (the console drops what the host cannot take at once).
  std::unique_ptr<FdStream> stdout_;
  std::unique_ptr<FdStream> serial_;  // ttyS0, appended to the log
  uint64_t stdout_bytes_ = 0;         // read from stdout_ since connecting
  std::optional<uint64_t> output_end_;  // ANOTIFY_OUTPUT_END not yet acknowledged
  void on_stdout(std::span<const uint8_t> bytes);
  void on_output_end(uint64_t bytes);
  // ainit's private instructions (SETENV frames, INSTRUCTIONS_END), sent
  // once when the guest asks (INSTRUCTIONS_WANTED).
  std::vector<uint8_t> instructions_;
  bool instructions_sent_ = false;
  void on_instructions_wanted(bool all);
  // Templates (StartImage).
  StartMode mode_ = StartMode::Cold;
  bool start_paused_ = false;
  bool pristine_ = false;
  bool template_reported_ = false;
  bool template_saving_ = false;
  std::string instruction_tokens_;  // Restore: ainit's arrow.* tokens
  guint migrate_poll_ = 0;
  UniqueFd state_fd_;  // the image's device state, handed to QEMU by getfd
  void restore_image();
  void save_template();
  void poll_migration(std::function<void(const Status&)> done);
  void send_all_instructions();
  void report_template(const Status& st);
  void report_started();
  std::function<void(const Status&)> migration_done_;
  std::vector<std::string> env_;  // Restore: "NAME=VALUE" of every <initenv>
  UniquePath monitor_path_, console_path_, anotify_path_, stdout_path_, serial_path_, pid_path_;
  std::vector<UniquePath> channel_paths_;  // bound channel sockets, and Adebug's
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace arrow
