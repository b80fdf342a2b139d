// The engine behind the driver's launcher interface (see arrow_domain.h,
// ArrowLauncher): one engine ArrowProcess per start or adoption.
#include "driver/arrow/arrow_console.h"
#include "driver/arrow/arrow_debug.h"
#include "driver/arrow/arrow_domain.h"
#include "driver/engine/cgroup.h"
#include "driver/engine/qemu_channel.h"
#include "driver/engine/qemu_process.h"
#include "util/i18n.h"

#include <map>

namespace arrow {

namespace {

// The engine's ArrowProcess behind the driver's launcher interface: the
// cgroup leaf, the confinement and the command context around it. Anotify
// messages go from the engine's channel straight to the driver's handler;
// the engine decides what an exit means (ExitCause).
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
    process_->set_log_policy(spec_.log_policy);
  }

  void adopt(int pid, std::function<void(Status)> done) override {
    Result<std::unique_ptr<ArrowProcess>> process =
        ArrowProcess::adopt(pid, spec_.def.name, RuntimePaths{spec_.run_dir}, spec_.log_path, callbacks(done));
    if (!process.ok()) return done(process.error());
    process_ = std::move(process.value());
    process_->set_log_policy(spec_.log_policy);
    std::vector<std::string> bound = {RuntimePaths{spec_.run_dir}.exec_port()};
    for (size_t i = 0; i < spec_.def.channels.size(); i++)
      if (spec_.def.channels[i].mode == ChannelMode::Bind)
        bound.push_back(channel_path(spec_.def.channels[i], spec_.run_dir, i));
    process_->own_channel_sockets(bound);
    // Sent only if its ainit still waits for them (a restart during its boot).
    // A def whose instructions cannot be built (a variable over the limit,
    // saved by an older daemon) is adopted all the same: the running QEMU is
    // not lost, and an ainit still waiting gets none and says so on ttyS0.
    Result<std::vector<uint8_t>> instructions = build_private_instructions(spec_.def);
    if (instructions.ok()) process_->set_private_instructions(std::move(instructions.value()));
    // The adopted QEMU's leaf is ours to remove when it exits.
    if (!spec_.cgroup_parent.empty()) leaf_ = CgroupLeaf::existing(spec_.cgroup_parent, spec_.def.name);
  }

  void detach() override {
    if (process_) process_->detach();
    if (leaf_) leaf_->release();
  }

  Status request_shutdown() override {
    if (!process_ || process_->exited()) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    return process_->shutdown(spec_.shutdown_grace_ms);
  }

  void kill() override {
    if (process_) process_->destroy(1000, 1000);
  }

  void suspend(std::function<void(Status)> done) override { qmp("stop", std::move(done)); }
  void resume(std::function<void(Status)> done) override { qmp("cont", std::move(done)); }
  int pid() const override { return process_ ? process_->pid() : 0; }

  Status console_write(std::span<const uint8_t> bytes) override {
    if (!process_ || process_->exited()) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    return process_->console_write(bytes);
  }

  std::optional<bool> channel_open(size_t index) const override {
    auto it = channel_open_.find(fmt("channel%zu", index));
    if (it == channel_open_.end()) return std::nullopt;
    return it->second;
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
    std::optional<unsigned> gdbstub = TRY(metadata_gdbstub_port(spec_.def));
    ctx.gdbstub_port = gdbstub.value_or(0);
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
      if (st.ok()) query_channels();
      done(st);
    };
    cb.qmp_event = [this](const QmpEvent& ev) {
      // The guest opened or closed a channel's port (device id channelN).
      if (ev.name == "VSERPORT_CHANGE") channel_open_[ev.data["id"].as_string()] = ev.data["open"].as_bool();
    };
    cb.anotify = events_.anotify;
    cb.console = [this](std::span<const uint8_t> bytes) {
      if (events_.console) events_.console(bytes);
    };
    cb.exited = [this](const ProcessExit& exit) {
      leaf_.reset();  // QEMU is reaped: the leaf is empty
      if (!start_failed_ && events_.exited) events_.exited(exit.cause);
    };
    return cb;
  }

  // Each channel port's state now (chardev charchannelN's frontend-open),
  // for a QEMU adopted or started before the guest opened any; events keep
  // it current afterwards.
  void query_channels() {
    QmpMonitor* monitor = process_ ? process_->monitor() : nullptr;
    if (!monitor || spec_.def.channels.empty()) return;
    std::weak_ptr<bool> alive = alive_;
    monitor->execute("query-chardev", [this, alive](Result<JsonValue> r) {
      if (alive.expired() || !r.ok()) return;
      for (const JsonValue& chardev : r.value().items()) {
        const std::string label = chardev["label"].as_string();
        if (label.rfind("charchannel", 0) != 0) continue;
        const std::string id = label.substr(4);  // "channelN"
        if (!channel_open_.count(id)) channel_open_[id] = chardev["frontend-open"].as_bool();
      }
    });
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
  std::map<std::string, bool> channel_open_;  // by device id (channelN)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

LauncherFactory make_process_launcher_factory() {
  return [](const LaunchSpec& spec, LaunchEvents events) -> std::unique_ptr<ArrowLauncher> {
    return std::make_unique<ProcessLauncher>(spec, std::move(events));
  };
}

}  // namespace arrow
