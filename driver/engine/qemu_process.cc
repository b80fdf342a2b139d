// Spawning, watching, stopping and adopting an Arrow's QEMU (see
// qemu_process.h). Every child, fd, socket path and timer is owned by the
// ArrowProcess object and released in its destructor.
#include "driver/engine/qemu_process.h"

#include <errno.h>

#include <algorithm>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "driver/engine/anotify_channel.h"
#include "driver/engine/log_file.h"
#include "driver/engine/fd_stream.h"
#include "driver/engine/qemu_channel.h"
#include "driver/engine/tap.h"
#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// QEMU under TCG on a busy 2-core host reaches its main loop well within this.
constexpr unsigned kStartTimeoutMs = 30000;

// Where QEMU finds an image's RAM (StartImage): above the channels' fds.
constexpr int kImageRamFd = 64;

// A listening socket bound at PATH (a stale socket there is replaced).
Result<UniqueFd> listen_at(const std::string& path) {
  const sockaddr_un addr = TRY(unix_address(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return system_error("create socket", path, errno);
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) return system_error("bind", path, errno);
  if (::listen(fd.get(), 4) < 0) return system_error("listen on", path, errno);
  return fd;
}

Result<UniqueFd> connect_to(const std::string& path) {
  const sockaddr_un addr = TRY(unix_address(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return system_error("create socket", path, errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    return system_error("connect to", path, errno);
  }
  return fd;
}

std::string now_text() {
  char buf[64];
  const time_t t = ::time(nullptr);
  struct tm tm;
  ::localtime_r(&t, &tm);
  ::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link its
// declarations; the system calls are used directly.
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int pidfd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

void child_setup(gpointer confinement) {
  // Its own session: QEMU survives the daemon and its terminal signals.
  ::setsid();
  if (confinement) static_cast<const ChildConfinement*>(confinement)->apply_in_child();
}

}  // namespace

Result<ProcStat> parse_proc_stat(std::string_view line) {
  // comm is in parentheses and may contain anything: fields resume after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string_view::npos)
    return make_error(VIR_ERR_INTERNAL_ERROR, _("cannot parse /proc/PID/stat"));
  std::istringstream in{std::string(line.substr(close + 1))};
  std::string field;
  ProcStat stat;
  uint64_t utime = 0, stime = 0;
  // After ')': field 3 (state) is the first; utime is 14, stime 15, starttime 22.
  for (int index = 3; index <= 22 && (in >> field); ++index) {
    if (index == 3) stat.state = field[0];
    if (index == 14) utime = strtoull(field.c_str(), nullptr, 10);
    if (index == 15) stime = strtoull(field.c_str(), nullptr, 10);
    if (index == 22) {
      stat.start_ticks = strtoull(field.c_str(), nullptr, 10);
      long hz = sysconf(_SC_CLK_TCK);
      stat.cpu_time_ns = (utime + stime) * (1000000000ull / uint64_t(hz > 0 ? hz : 100));
      return stat;
    }
  }
  return make_error(VIR_ERR_INTERNAL_ERROR, _("cannot parse /proc/PID/stat"));
}

Result<ProcStat> read_proc_stat(int pid) {
  std::string path = fmt("/proc/%d/stat", pid);
  Result<std::string> text = read_whole_file(path);
  if (!text.ok()) return text.error();
  return parse_proc_stat(text.value());
}

ArrowProcess::~ArrowProcess() {
  *alive_ = false;
  for (guint* id : {&child_watch_, &pidfd_watch_, &exit_poll_, &start_timer_, &escalate_timer_, &migrate_poll_})
    if (*id) g_source_remove(*id);
  if (detached_) {
    for (UniquePath* path : {&monitor_path_, &console_path_, &anotify_path_, &stdout_path_, &serial_path_, &pid_path_}) path->release();
    for (UniquePath& path : channel_paths_) path.release();
    return;
  }
  if (!exited_ && pid_ > 0 && !adopted_) {
    // An owner that drops a running Arrow it started must not leak it; the
    // child is reaped here since its watch is gone (unreaped, its pid cannot
    // have been reused, so kill() is safe without a pidfd).
    if (pidfd_.valid()) {
      pidfd_send_signal(pidfd_.get(), SIGKILL);
    } else {
      ::kill(pid_, SIGKILL);
    }
    int status;
    ::waitpid(pid_, &status, 0);
  }
  for (UniquePath* path : {&monitor_path_, &console_path_, &anotify_path_, &stdout_path_, &serial_path_, &pid_path_}) path->reset();
  channel_paths_.clear();
  if (!paths_.dir.empty()) ::rmdir(paths_.dir.c_str());  // only when empty
}

void ArrowProcess::detach() {
  detached_ = true;
}

// Written up to the policy's size, the log rotated, then the rest: however
// much a guest writes at once, a file passes max_bytes only by QEMU's own
// stderr and the rotation note (log_file.h). Best effort: a full disk must
// not stop the Arrow.
void ArrowProcess::append_log(std::string_view text) {
  while (log_fd_.valid() && !text.empty()) {
    const off_t end = ::lseek(log_fd_.get(), 0, SEEK_END);
    const uint64_t size = end < 0 ? 0 : static_cast<uint64_t>(end);
    if (size >= log_policy_.max_bytes && rotate_log()) continue;
    const size_t room = size < log_policy_.max_bytes
                            ? static_cast<size_t>(std::min<uint64_t>(log_policy_.max_bytes - size, text.size()))
                            : text.size();  // the rotation failed: keep the text rather than lose it
    const ssize_t n = ::write(log_fd_.get(), text.data(), room);
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

bool ArrowProcess::rotate_log() {
  if (!log_rotate(log_path_, log_policy_).ok()) return false;
  log_fd_.reset(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  log_start_ = 0;
  const std::string note =
      fmt("== log rotated %s: QEMU's own messages of this run go on in the older file ==\n", now_text().c_str());
  const ssize_t n = log_fd_.valid() ? ::write(log_fd_.get(), note.data(), note.size()) : 0;
  (void)n;
  return log_fd_.valid();
}

std::string ArrowProcess::log_tail() const {
  UniqueFd fd(::open(log_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  std::string text;
  char buf[4096];
  ::lseek(fd.get(), log_start_, SEEK_SET);
  for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  // QEMU's own complaints are the lines naming it; else the last line.
  std::string picked;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    if (line.find("qemu-system") != std::string::npos) picked += (picked.empty() ? "" : "; ") + line;
    pos = end + 1;
  }
  if (picked.empty() && !text.empty()) {
    const size_t last = text.find_last_not_of('\n');
    const size_t begin = text.rfind('\n', last);
    picked = text.substr(begin == std::string::npos ? 0 : begin + 1, last - (begin == std::string::npos ? 0 : begin + 1) + 1);
  }
  return picked;
}

Result<std::unique_ptr<ArrowProcess>> ArrowProcess::start(const ArrowDef& def, CommandContext ctx,
                                                          const std::string& run_dir, Callbacks callbacks,
                                                          const ChildConfinement* confinement,
                                                          StartImage image) {
  std::unique_ptr<ArrowProcess> p(new ArrowProcess());
  p->name_ = def.name;
  p->mode_ = image.mode;
  p->start_paused_ = image.paused;
  p->paths_.dir = run_dir;
  p->log_path_ = ctx.log_path;
  p->callbacks_ = std::move(callbacks);
  TRY(make_dirs(run_dir, 0700));
  p->log_fd_.reset(::open(ctx.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!p->log_fd_.valid()) return system_error("open log file", ctx.log_path, errno);

  // Listeners are moved above the fds QEMU will see, so GLib's dup2 of
  // source onto target can never clobber another source.
  UniqueFd listeners[5];
  const std::string paths[5] = {p->paths_.monitor(), p->paths_.console(), p->paths_.anotify(),
                                p->paths_.stdout_port(), p->paths_.serial()};
  UniquePath* owners[5] = {&p->monitor_path_, &p->console_path_, &p->anotify_path_, &p->stdout_path_,
                           &p->serial_path_};
  for (int i = 0; i < 5; i++) {
    UniqueFd fd = TRY(listen_at(paths[i]));
    *owners[i] = UniquePath(paths[i]);
    listeners[i].reset(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 10));
    if (!listeners[i].valid()) return system_error("duplicate socket", paths[i], errno);
  }
  ctx.monitor_fd = 3;
  ctx.console_fd = 4;
  ctx.anotify_fd = 5;
  ctx.stdout_fd = 7;
  ctx.serial_fd = 6;
  ctx.tap_fd = 8;
  // A bridge interface's TAP, created here as root; QEMU gets the fd.
  UniqueFd tap_for_qemu;
  std::string tap_note;
  for (const Interface& iface : def.interfaces) {
    if (iface.type != InterfaceType::Bridge) continue;
    BridgeTap tap = TRY(open_bridge_tap(iface.bridge));
    tap_for_qemu.reset(::fcntl(tap.fd.get(), F_DUPFD_CLOEXEC, 10));
    if (!tap_for_qemu.valid()) return system_error("duplicate TAP device", tap.ifname, errno);
    tap_note = fmt("== %s on bridge %s ==\n", tap.ifname.c_str(), iface.bridge.c_str());
  }
  // An image's RAM at kImageRamFd (above every other fd QEMU gets: Adebug's
  // port at 9, the channels from 10); its device state goes through QMP
  // (getfd).
  UniqueFd image_ram;
  if (image.mode != StartMode::Cold) {
    ctx.wait = true;
    ctx.ram_fd = kImageRamFd;
    ctx.ram_shared = image.mode == StartMode::MakeTemplate;
    ctx.incoming = image.mode == StartMode::Restore;
    image_ram.reset(image.ram.valid() ? ::fcntl(image.ram.get(), F_DUPFD_CLOEXEC, kImageRamFd + 1) : -1);
    if (!image_ram.valid() || !image.state.valid())
      return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("no image file for Arrow '%1$s'"), def.name.c_str()));
    p->state_fd_ = std::move(image.state);
  }
  // Adebug's port and each channel's socket (qemu_channel.h), above the fds
  // QEMU will see.
  UniqueFd exec_fd = TRY(listen_at(p->paths_.exec_port()));
  p->channel_paths_.emplace_back(p->paths_.exec_port());
  UniqueFd exec_listener(::fcntl(exec_fd.get(), F_DUPFD_CLOEXEC, 10));
  if (!exec_listener.valid()) return system_error("duplicate socket", p->paths_.exec_port(), errno);
  std::vector<UniqueFd> channels;
  for (size_t i = 0; i < def.channels.size(); i++) {
    const std::string path = channel_path(def.channels[i], run_dir, i);
    UniqueFd fd = TRY(open_channel_socket(def.channels[i], path));
    if (def.channels[i].mode == ChannelMode::Bind) p->channel_paths_.emplace_back(path);
    channels.emplace_back(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 10));
    if (!channels.back().valid()) return system_error("duplicate socket", path, errno);
  }
  ctx.exec_fd = 9;
  ctx.first_channel_fd = 10;
  const std::vector<std::string> argv = TRY(build_qemu_argv(def, ctx));
  std::vector<uint8_t> instructions = TRY(build_private_instructions(def));
  if (image.mode == StartMode::Restore) {
    CommandContext tokens_ctx = ctx;
    tokens_ctx.wall_clock_ms = 0;  // the clock is read when the instructions are sent
    p->instruction_tokens_ = TRY(build_instruction_tokens(def, tokens_ctx));
    for (const EnvVar& var : def.initenv) p->env_.push_back(var.name + "=" + var.value);
  }

  std::string joined;
  std::vector<const char*> cargv;
  for (const std::string& a : argv) {
    joined += (joined.empty() ? "" : " ") + a;
    cargv.push_back(a.c_str());
  }
  cargv.push_back(nullptr);
  p->append_log(tap_note + fmt("== qemu started %s: %s ==\n", now_text().c_str(), joined.c_str()));
  p->log_start_ = ::lseek(p->log_fd_.get(), 0, SEEK_END);

  std::vector<gint> sources = {listeners[0].get(), listeners[1].get(), listeners[2].get(), listeners[4].get(),
                               listeners[3].get()};
  std::vector<gint> targets = {3, 4, 5, 6, 7};
  if (tap_for_qemu.valid()) sources.push_back(tap_for_qemu.get()), targets.push_back(8);
  if (image_ram.valid()) sources.push_back(image_ram.get()), targets.push_back(kImageRamFd);
  sources.push_back(exec_listener.get()), targets.push_back(ctx.exec_fd);
  for (size_t i = 0; i < channels.size(); i++)
    sources.push_back(channels[i].get()), targets.push_back(ctx.first_channel_fd + static_cast<int>(i));
  const gsize n_fds = sources.size();
  GError* gerr = nullptr;
  GPid pid = 0;
  if (!g_spawn_async_with_pipes_and_fds(nullptr, cargv.data(), nullptr, G_SPAWN_DO_NOT_REAP_CHILD, child_setup,
                                        const_cast<ChildConfinement*>(confinement), -1, p->log_fd_.get(),
                                        p->log_fd_.get(), sources.data(), targets.data(), n_fds, &pid,
                                        nullptr, nullptr, nullptr, &gerr)) {
    Error e = make_error(VIR_ERR_INTERNAL_ERROR,
                         fmt(_("cannot start '%1$s': %2$s"), argv[0].c_str(), gerr ? gerr->message : "?"));
    g_clear_error(&gerr);
    return e;
  }
  p->pid_ = pid;
  // A template is made beside running Arrows: it yields the CPU to them.
  if (image.mode == StartMode::MakeTemplate) ::setpriority(PRIO_PROCESS, static_cast<id_t>(pid), 10);
  p->pidfd_.reset(pidfd_open(pid));  // unreaped child: cannot fail but for ENOSYS
  p->child_watch_ = g_child_watch_add(pid, on_child_watch, p.get());
  p->write_pid_file();
  p->start_timer_ = g_timeout_add(kStartTimeoutMs, on_start_timeout, p.get());
  // The sockets already listen, so these connects complete before QEMU runs;
  // if one fails QEMU is killed by the destructor.
  TRY(p->connect_all());
  p->instructions_ = std::move(instructions);
  return p;
}

void ArrowProcess::write_pid_file() {
  const std::string path = paths_.pid_file();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return;  // only adoption after a daemon restart needs it
  pid_path_ = UniquePath(path);
  const std::string text = fmt("%d\n", static_cast<int>(pid_));
  const ssize_t n = ::write(fd.get(), text.data(), text.size());
  (void)n;
}

Status ArrowProcess::connect_all() {
  UniqueFd mon = TRY(connect_to(paths_.monitor()));
  UniqueFd con = TRY(connect_to(paths_.console()));
  UniqueFd ano = TRY(connect_to(paths_.anotify()));
  // An Arrow adopted from an older daemon may have no stdout or serial port.
  Result<UniqueFd> out = connect_to(paths_.stdout_port());
  if (!out.ok() && !adopted_) return out.error();
  Result<UniqueFd> serial = connect_to(paths_.serial());
  if (!serial.ok() && !adopted_) return serial.error();
  QmpMonitor::Callbacks mcb;
  mcb.ready = [this] { on_qmp_ready(); };
  mcb.event = [this](const QmpEvent& ev) {
    note_qmp_event(ev);
    if (callbacks_.qmp_event) callbacks_.qmp_event(ev);
  };
  mcb.closed = [this](const Error&) {
    // During the start QEMU closing its monitor means it is exiting: the
    // child's exit then reports the start failure with QEMU's own message.
    if (!start_reported_ && !exited_) destroy(0, 2000);
  };
  monitor_ = std::make_unique<QmpMonitor>(std::move(mon), std::move(mcb));
  console_ = std::make_unique<FdStream>(
      std::move(con),
      [this](std::span<const uint8_t> bytes) {
        append_log(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        if (callbacks_.console) callbacks_.console(bytes);
      },
      nullptr);
  if (serial.ok()) {
    serial_ = std::make_unique<FdStream>(
        std::move(serial).value(),
        [this](std::span<const uint8_t> bytes) {
          append_log(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        },
        nullptr);
  }
  if (out.ok()) {
    stdout_ = std::make_unique<FdStream>(
        std::move(out).value(), [this](std::span<const uint8_t> bytes) { on_stdout(bytes); }, nullptr);
  }
  anotify_ = std::make_unique<AnotifyChannel>(std::move(ano), callbacks_.anotify, nullptr);
  anotify_->on_output_end([this](uint64_t bytes) { on_output_end(bytes); });
  anotify_->on_instructions_wanted([this](bool all) { on_instructions_wanted(all); });
  // Garbage on the port is the guest's business: ignored, and noted in the log.
  anotify_->on_ignored([this](const AnotifyDecoderStats& s) {
    append_log(fmt("== anotify: ignored input from the guest (so far %llu bytes skipped, %llu unknown and %llu "
                   "malformed frames) ==\n",
                   static_cast<unsigned long long>(s.skipped_bytes), static_cast<unsigned long long>(s.unknown_frames),
                   static_cast<unsigned long long>(s.rejected_frames)));
  });
  return {};
}

// Pipe-mode output goes where console output goes (log, console sessions).
void ArrowProcess::on_stdout(std::span<const uint8_t> bytes) {
  stdout_bytes_ += bytes.size();
  append_log(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (callbacks_.console) callbacks_.console(bytes);
  if (output_end_ && stdout_bytes_ >= *output_end_) on_output_end(*output_end_);
}

// ainit holds the application's exit report until the host has read all the
// output: acknowledge once the count is reached (at once for an adopted
// QEMU, whose earlier output this daemon never counted).
void ArrowProcess::on_output_end(uint64_t bytes) {
  if (!adopted_ && stdout_ && stdout_bytes_ < bytes) {
    output_end_ = bytes;
    return;
  }
  output_end_.reset();
  if (anotify_ && anotify_->is_open()) (void)anotify_->send_output_ack();
}

// ainit asks for its private instructions once it has read arrow.nenv (and
// again if the host end it asked went away before answering: a daemon
// restart during the boot). One answer per connection: a guest that asks
// again gets nothing more. ainit that has them never asks, so an adopted
// QEMU is sent nothing, and a reboot's new QEMU asks anew.
void ArrowProcess::on_instructions_wanted(bool all) {
  if (all) {
    // A template being made has reached the point it is saved at; a restored
    // one asks again of a host end it had not seen (each ask, one whole set).
    if (mode_ == StartMode::MakeTemplate) return save_template();
    if (mode_ == StartMode::Restore && instructions_sent_) return send_all_instructions();
    if (adopted_ && !instruction_tokens_.empty()) return send_all_instructions();
    return;
  }
  if (instructions_sent_ || !anotify_ || !anotify_->is_open()) return;
  instructions_sent_ = true;
  const std::vector<uint8_t> frames =
      instructions_.empty() ? anotify_encode_instructions(std::span<const std::string>()) : instructions_;
  if (Status st = anotify_->send_instructions(frames); !st.ok())
    append_log(fmt("== anotify: cannot send the guest its instructions: %s ==\n", st.error().message.c_str()));
  else if (adopted_)
    append_log("== anotify: ainit asked the restarted daemon for its instructions: sent ==\n");
}

void ArrowProcess::send_all_instructions() {
  if (!anotify_ || !anotify_->is_open()) return;
  instructions_sent_ = true;
  // The host's clock and fresh randomness now, not when the image was made.
  const std::string tokens =
      instruction_tokens_ + fmt(" arrow.time=%llu", static_cast<unsigned long long>(g_get_real_time() / 1000));
  uint8_t entropy[32];
  // The kernel's CSPRNG (it does not fail for 32 bytes once the host booted;
  // if it did, the guest still gets its instructions, not reseeded).
  const bool fresh = ::getrandom(entropy, sizeof entropy, 0) == static_cast<ssize_t>(sizeof entropy);
  if (!fresh) append_log("== cannot read the host's randomness: the guest is not reseeded ==\n");
  const std::vector<uint8_t> frames = anotify_encode_all_instructions(
      tokens, fresh ? std::span<const uint8_t>(entropy) : std::span<const uint8_t>(), env_);
  std::memset(entropy, 0, sizeof entropy);
  if (Status st = anotify_->send_instructions(frames); !st.ok())
    append_log(fmt("== anotify: cannot send the guest its instructions: %s ==\n", st.error().message.c_str()));
}

// Repeats query-migrate every 10 ms until the migration has completed or failed.
void ArrowProcess::poll_migration(std::function<void(const Status&)> done) {
  if (!monitor_) return done(make_error(VIR_ERR_OPERATION_FAILED, _("QEMU's monitor is gone")));
  std::weak_ptr<bool> alive = alive_;
  monitor_->execute("query-migrate", [this, alive, done](Result<JsonValue> r) {
    if (alive.expired()) return;
    if (!r.ok()) return done(r.error());
    const std::string status = (*r)["status"].as_string();
    if (status == "completed") return done(Status());
    if (status == "failed" || status == "cancelled") {
      const std::string desc = (*r)["error-desc"].as_string();
      return done(make_error(VIR_ERR_OPERATION_FAILED,
                             fmt(_("QEMU could not %1$s the Arrow's device state: %2$s"),
                                 mode_ == StartMode::Restore ? "load" : "save", desc.empty() ? status.c_str() : desc.c_str())));
    }
    migrate_poll_ = g_timeout_add(10, +[](gpointer self) -> gboolean {
      auto* p = static_cast<ArrowProcess*>(self);
      p->migrate_poll_ = 0;
      p->poll_migration(p->migration_done_);
      return G_SOURCE_REMOVE;
    }, this);
    migration_done_ = done;
  });
}

static JsonValue ignore_shared_capability() {
  JsonValue cap = JsonValue::object({{"capability", JsonValue::string("x-ignore-shared")},
                                     {"state", JsonValue::boolean(true)}});
  return JsonValue::object({{"capabilities", JsonValue::array({cap})}});
}

void ArrowProcess::restore_image() {
  monitor_->execute("migrate-set-capabilities", ignore_shared_capability(), [this](Result<JsonValue> r) {
    if (!r.ok()) return fail_start(r.error());
    monitor_->pass_fd("state", state_fd_.get(), [this](Result<JsonValue> rfd) {
    state_fd_.reset();
    if (!rfd.ok()) return fail_start(rfd.error());
    monitor_->execute("migrate-incoming", JsonValue::object({{"uri", JsonValue::string("fd:state")}}), [this](Result<JsonValue> r2) {
      if (!r2.ok()) return fail_start(r2.error());
      poll_migration([this](const Status& st) {
        if (!st.ok()) return fail_start(st.error());
        send_all_instructions();
        pristine_ = true;
        if (start_paused_) return report_started();
        monitor_->execute("cont", [this](Result<JsonValue> r3) {
          if (!r3.ok()) return fail_start(r3.error());
          pristine_ = false;
          report_started();
        });
      });
    });
    });
  });
}

void ArrowProcess::save_template() {
  if (template_saving_ || !monitor_) return;  // a second ask (a reconnect) while saving
  template_saving_ = true;
  monitor_->execute("stop", [this](Result<JsonValue> r) {
    if (!r.ok()) return report_template(r.error());
    monitor_->execute("migrate-set-capabilities", ignore_shared_capability(), [this](Result<JsonValue> r2) {
      if (!r2.ok()) return report_template(r2.error());
      monitor_->pass_fd("state", state_fd_.get(), [this](Result<JsonValue> rfd) {
        state_fd_.reset();
        if (!rfd.ok()) return report_template(rfd.error());
        monitor_->execute("migrate", JsonValue::object({{"uri", JsonValue::string("fd:state")}}), [this](Result<JsonValue> r3) {
          if (!r3.ok()) return report_template(r3.error());
          poll_migration([this](const Status& st) { report_template(st); });
        });
      });
    });
  });
}

void ArrowProcess::report_template(const Status& st) {
  if (template_reported_) return;
  template_reported_ = true;
  if (callbacks_.template_saved) callbacks_.template_saved(st);
}

void ArrowProcess::report_started() {
  if (start_reported_) return;
  start_reported_ = true;
  if (start_timer_) g_source_remove(start_timer_);
  start_timer_ = 0;
  if (callbacks_.started) callbacks_.started(Status());
}

void ArrowProcess::on_qmp_ready() {
  if (mode_ == StartMode::Restore) return restore_image();
  if (adopted_) {
    start_reported_ = true;
    if (start_timer_) g_source_remove(start_timer_);
    start_timer_ = 0;
    if (callbacks_.started) callbacks_.started(Status());
    return;
  }
  monitor_->execute("cont", [this](Result<JsonValue> r) {
    if (!r.ok()) return fail_start(r.error());
    if (start_reported_) return;
    start_reported_ = true;
    if (start_timer_) g_source_remove(start_timer_);
    start_timer_ = 0;
    if (callbacks_.started) callbacks_.started(Status());
  });
}

void ArrowProcess::fail_start(const Error& error) {
  if (start_reported_) return;
  start_reported_ = true;
  if (start_timer_) g_source_remove(start_timer_);
  start_timer_ = 0;
  std::shared_ptr<bool> alive = alive_;
  if (callbacks_.started) callbacks_.started(error);
  if (*alive && !exited_) destroy(1000, 2000);
}

gboolean ArrowProcess::on_start_timeout(gpointer self) {
  auto* p = static_cast<ArrowProcess*>(self);
  p->start_timer_ = 0;
  p->fail_start(make_error(VIR_ERR_OPERATION_TIMEOUT,
                           fmt(_("QEMU of Arrow '%1$s' did not answer on its monitor within %2$u s"),
                               p->name_.c_str(), kStartTimeoutMs / 1000)));
  return G_SOURCE_REMOVE;
}

void ArrowProcess::on_child_watch(GPid, gint wait_status, gpointer self) {
  auto* p = static_cast<ArrowProcess*>(self);
  p->child_watch_ = 0;
  p->on_child_exit(wait_status, true);
}

gboolean ArrowProcess::on_pidfd(gint, GIOCondition, gpointer self) {
  auto* p = static_cast<ArrowProcess*>(self);
  p->pidfd_watch_ = 0;
  p->on_child_exit(0, false);
  return G_SOURCE_REMOVE;
}

// An adopted QEMU without a pidfd: gone once kill(pid, 0) finds no process,
// or the process is a zombie (its parent, not us, reaps it), or the pid now
// belongs to a process started at another time.
bool ArrowProcess::still_running() const {
  if (::kill(pid_, 0) < 0 && errno == ESRCH) return false;
  Result<ProcStat> st = read_proc_stat(pid_);
  return st.ok() && !st->dead() && st->start_ticks == start_ticks_;
}

gboolean ArrowProcess::on_exit_poll(gpointer self) {
  auto* p = static_cast<ArrowProcess*>(self);
  if (p->still_running()) return G_SOURCE_CONTINUE;
  p->exit_poll_ = 0;
  p->on_child_exit(0, false);
  return G_SOURCE_REMOVE;
}

void ArrowProcess::on_child_exit(int wait_status, bool status_known) {
  if (exited_) return;
  exited_ = true;
  std::shared_ptr<bool> alive = alive_;
  // QEMU is gone, so everything it wrote is in the socket buffers: deliver it
  // (the application's exit over Anotify above all) before the exit.
  if (anotify_) anotify_->drain();
  if (*alive && console_) console_->drain();
  if (*alive && stdout_) stdout_->drain();
  if (*alive && serial_) serial_->drain();
  if (*alive && monitor_) monitor_->drain();
  if (!*alive) return;
  if (!start_reported_) {
    const std::string tail = log_tail();
    fail_start(make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("QEMU of Arrow '%1$s' exited while starting: %2$s"),
                                                      name_.c_str(), tail.empty() ? "?" : tail.c_str())));
    if (!*alive) return;
  }
  for (guint* id : {&child_watch_, &pidfd_watch_, &exit_poll_, &start_timer_, &escalate_timer_, &migrate_poll_}) {
    if (*id) g_source_remove(*id);
    *id = 0;
  }
  app_exited_ = anotify_ && anotify_->app_exit_reported();
  monitor_.reset();
  anotify_.reset();
  console_.reset();
  stdout_.reset();
  serial_.reset();
  pidfd_.reset();
  for (UniquePath* path : {&monitor_path_, &console_path_, &anotify_path_, &stdout_path_, &serial_path_, &pid_path_}) path->reset();
  channel_paths_.clear();
  ::rmdir(paths_.dir.c_str());  // only when empty: the daemon may keep its status file there
  append_log(fmt("== qemu exited %s ==\n", now_text().c_str()));
  if (callbacks_.exited) callbacks_.exited(ProcessExit{status_known, wait_status, cause_of(wait_status, status_known)});
}

void ArrowProcess::note_qmp_event(const QmpEvent& ev) {
  if (ev.kind == QmpEventKind::GuestPanicked) panicked_ = true;
  if (ev.kind != QmpEventKind::Shutdown) return;
  std::string reason = ev.shutdown_reason();
  if (reason == "guest-panic") panicked_ = true;
  if (reason == "guest-reset") guest_reset_ = true;
}

ExitCause ArrowProcess::cause_of(int wait_status, bool status_known) const {
  if (kill_requested_) return ExitCause::Killed;
  // Decided at exit, not at the QMP event: the Anotify report may be read
  // after the event (the channel is drained before the exit is reported).
  if (panicked_ || (guest_reset_ && !app_exited_ && !shutdown_requested_)) return ExitCause::Panicked;
  // An adopted QEMU is no child of ours: its status is unknown, and the
  // application's exit report is what tells a power-off from a crash.
  bool clean = status_known ? WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0 : app_exited_;
  return clean ? ExitCause::Poweroff : ExitCause::Failed;
}

Status ArrowProcess::shutdown(uint32_t grace_ms) {
  shutdown_requested_ = true;
  if (exited_ || !anotify_ || !anotify_->is_open()) {
    return make_error(VIR_ERR_OPERATION_INVALID, fmt(_("Arrow '%1$s' is not running"), name_.c_str()));
  }
  return anotify_->send_shutdown(grace_ms);
}

void ArrowProcess::destroy(unsigned term_after_ms, unsigned kill_after_ms) {
  kill_requested_ = true;
  if (exited_ || escalation_ > 0) return;
  escalation_ = 1;
  kill_after_ms_ = kill_after_ms;
  if (monitor_ && monitor_->is_open()) {
    monitor_->execute("quit", [](Result<JsonValue>) {});  // the monitor may close before replying
  } else {
    term_after_ms = 0;
  }
  escalate_timer_ = g_timeout_add(term_after_ms, on_escalate, this);
}

gboolean ArrowProcess::on_escalate(gpointer self) {
  auto* p = static_cast<ArrowProcess*>(self);
  p->escalate_timer_ = 0;
  if (p->exited_) return G_SOURCE_REMOVE;
  if (p->escalation_ == 1) {
    p->escalation_ = 2;
    p->send_signal(SIGTERM);
    p->escalate_timer_ = g_timeout_add(p->kill_after_ms_, on_escalate, p);
  } else if (p->escalation_ == 2) {
    p->escalation_ = 3;
    p->send_signal(SIGKILL);
  }
  return G_SOURCE_REMOVE;
}

void ArrowProcess::send_signal(int sig) {
  // Through the pidfd, so a recycled pid is never signalled.
  if (pidfd_.valid()) {
    pidfd_send_signal(pidfd_.get(), sig);
    return;
  }
  // No pidfd (a kernel before 5.3). Our own child keeps its pid until we
  // reap it, which marks it exited; an adopted QEMU is signalled only while
  // its start time still matches (the window between the check and kill()
  // is the one libvirt accepts too).
  if (exited_ || pid_ <= 0 || (adopted_ && !still_running())) return;
  ::kill(pid_, sig);
}

Status ArrowProcess::console_write(std::span<const uint8_t> bytes) {
  if (!console_ || !console_->is_open()) {
    return make_error(VIR_ERR_OPERATION_INVALID, fmt(_("the console of Arrow '%1$s' is closed"), name_.c_str()));
  }
  return console_->write(bytes);
}

Status ArrowProcess::signal_application(int signum) {
  if (exited_ || !anotify_ || !anotify_->is_open()) {
    return make_error(VIR_ERR_OPERATION_INVALID, fmt(_("Arrow '%1$s' is not running"), name_.c_str()));
  }
  return anotify_->send_signal(signum);
}

Result<std::unique_ptr<ArrowProcess>> ArrowProcess::adopt(pid_t pid, const std::string& name,
                                                          const RuntimePaths& paths, const std::string& log_path,
                                                          Callbacks callbacks) {
  std::unique_ptr<ArrowProcess> p(new ArrowProcess());
  p->name_ = name;
  p->paths_ = paths;
  p->log_path_ = log_path;
  p->pid_ = pid;
  p->adopted_ = true;
  p->callbacks_ = std::move(callbacks);
  // Open the pidfd first: it pins this process, so the check below and every
  // later signal concern the same one. Without pidfds (ENOSYS before Linux
  // 5.3) the start time identifies the process instead, read before and
  // after its command line.
  const int pidfd = pidfd_open(pid);
  const int pidfd_errno = errno;
  p->pidfd_.reset(pidfd);
  Result<ProcStat> before = read_proc_stat(pid);
  if ((!p->pidfd_.valid() && pidfd_errno == ESRCH) || !before.ok() || before->dead()) {
    return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("QEMU of Arrow '%1$s' (pid %2$d) is gone"), name.c_str(), pid));
  }
  p->start_ticks_ = before->start_ticks;
  std::string cmdline;
  {
    UniqueFd fd(::open(fmt("/proc/%d/cmdline", pid).c_str(), O_RDONLY | O_CLOEXEC));
    char buf[4096];
    for (ssize_t n; fd.valid() && (n = ::read(fd.get(), buf, sizeof buf)) > 0;) cmdline.append(buf, static_cast<size_t>(n));
  }
  if (!p->pidfd_.valid() && !p->still_running()) {
    return make_error(VIR_ERR_OPERATION_FAILED, fmt(_("QEMU of Arrow '%1$s' (pid %2$d) is gone"), name.c_str(), pid));
  }
  if (cmdline.find(std::string("guest=") + name + '\0') == std::string::npos) {
    return make_error(VIR_ERR_OPERATION_FAILED,
                      fmt(_("pid %1$d is not the QEMU of Arrow '%2$s'"), pid, name.c_str()));
  }
  p->log_fd_.reset(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  p->log_start_ = p->log_fd_.valid() ? ::lseek(p->log_fd_.get(), 0, SEEK_END) : 0;
  TRY(p->connect_all());
  // Only now are the sockets ours to remove: a failed adoption leaves the
  // running QEMU reachable for the next attempt.
  p->monitor_path_ = UniquePath(paths.monitor());
  p->console_path_ = UniquePath(paths.console());
  p->anotify_path_ = UniquePath(paths.anotify());
  if (p->stdout_) p->stdout_path_ = UniquePath(paths.stdout_port());
  if (p->serial_) p->serial_path_ = UniquePath(paths.serial());
  p->pid_path_ = UniquePath(paths.pid_file());
  if (p->pidfd_.valid()) {
    p->pidfd_watch_ = g_unix_fd_add(p->pidfd_.get(), G_IO_IN, on_pidfd, p.get());
  } else {
    p->exit_poll_ = g_timeout_add(kExitPollMs, on_exit_poll, p.get());
  }
  p->start_timer_ = g_timeout_add(kStartTimeoutMs, on_start_timeout, p.get());
  return p;
}

}  // namespace arrow
