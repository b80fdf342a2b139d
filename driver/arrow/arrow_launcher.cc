// The engine behind the driver's launcher interface (see arrow_domain.h,
// ArrowLauncher): one engine ArrowProcess per start or adoption.
#include "driver/arrow/arrow_console.h"
#include "driver/arrow/arrow_debug.h"
#include "driver/arrow/arrow_domain.h"
#include "driver/engine/cgroup.h"
#include <fcntl.h>
#include <glib.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>

#include "domain-xml/arrow_xml.h"
#include "driver/engine/qemu_balloon.h"
#include "driver/engine/qemu_channel.h"
#include "driver/engine/qemu_process.h"
#include "driver/engine/saved_image.h"
#include "util/fs.h"
#include "util/i18n.h"

#include <map>

namespace arrow {

namespace {

// The boot templates of one daemon (ARCHITECTURE.md, "Templates"). The
// first start of a layout boots cold while the cache makes the layout's
// template beside it, in a QEMU of its own (arrow.wait=1, RAM shared in the
// image file, saved at ainit's INSTRUCTIONS_WANTED); later starts restore it.
// A build outlives the start that asked for it; the cache outlives every
// launcher (the factory and each launcher hold it).
class TemplateCache {
 public:
  ~TemplateCache() {
    for (auto& [path, b] : builds_)
      if (b->timer) g_source_remove(b->timer);
    g_idle_remove_by_data(this);
  }

  bool building(const std::string& path) const { return builds_.count(path) != 0; }

  // Starts making the template PATH (layout LAYOUT) from SPEC's Arrow, unless
  // one is being made. LOG: the Arrow's log, for a line saying so.
  // DONE, when given, runs once the build has ended (true: the template is
  // there), or at once (false) when none could be started.
  void make(const std::string& path, const std::string& layout, const LaunchSpec& spec, const CommandContext& ctx,
            const std::function<void(const std::string&)>& log, std::function<void(bool)> done = nullptr) {
    if (auto it = builds_.find(path); it != builds_.end()) {
      if (done) it->second->waiters.push_back(std::move(done));
      return;
    }
    if (failed_.count(path)) {  // tried once in this daemon's life: Arrows of this layout boot cold
      if (done) done(false);
      return;
    }
    auto b = std::make_unique<Build>();
    if (done) b->waiters.push_back(done);
    auto failed = [&](const std::string& why) {
      log("cannot make a boot template: " + why);
      if (done) done(false);
    };
    b->path = path;
    const std::string part = path + ".part";
    ::unlink(part.c_str());  // a build of an earlier daemon, cut short
    StartImage image;
    image.mode = StartMode::MakeTemplate;
    image.ram.reset(::open(part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!image.ram.valid()) return failed(std::strerror(errno));
    b->part = UniquePath(part);
    const uint64_t ram_size = spec.def.memory_kib * 1024;
    if (::ftruncate(image.ram.get(), static_cast<off_t>(ram_size)) < 0 ||
        (spec.qemu_user && ::geteuid() == 0 && ::fchown(image.ram.get(), spec.qemu_user->uid, spec.qemu_user->gid) < 0))
      return failed(std::strerror(errno));
    image.state.reset(::open(part.c_str(), O_WRONLY | O_CLOEXEC));
    if (!image.state.valid() || ::lseek(image.state.get(), static_cast<off_t>(ram_size), SEEK_SET) < 0)
      return failed(std::strerror(errno));
    b->fd.reset(::fcntl(image.ram.get(), F_DUPFD_CLOEXEC, 3));
    ArrowDef shown = spec.def;  // what the image says it is: nothing of this Arrow's
    shown.name = "boot-template";
    shown.initenv.clear();
    shown.initargs.clear();
    shown.metadata.clear();
    shown.title.clear();
    shown.description.clear();
    const std::string xml = format_domain_xml(shown);
    Build* raw = b.get();
    ArrowProcess::Callbacks cb;
    cb.template_saved = [this, raw, xml, layout, ram_size](const Status& st) {
      Status done = st;
      if (st.ok()) done = finish_saved_image(raw->fd.get(), raw->part.get(), ram_size, xml, layout);
      if (done.ok() && ::rename(raw->part.get().c_str(), raw->path.c_str()) == 0) raw->part.release();
      if (raw->proc) raw->proc->destroy(0, 2000);
    };
    cb.exited = [this, raw](const ProcessExit&) { finish(raw->path); };
    CommandContext c = ctx;
    const std::string key = path.substr(path.rfind('/') + 1, 16);
    c.log_path = path.substr(0, path.rfind('/') + 1) + key + ".log";
    // QEMU as the Arrow's would run it, outside the Arrow's cgroup.
    const ChildConfinement confinement = ChildConfinement::prepare(spec.qemu_user, -1, share_access_list(spec.def));
    ArrowDef builder_def = spec.def;  // the Arrow's host ports and sockets stay the Arrow's
    for (Interface& iface : builder_def.interfaces) iface.port_forwards.clear();
    for (Channel& ch : builder_def.channels) {  // the same ports, on sockets of the build's own
      ch.mode = ChannelMode::Bind;
      ch.path.clear();
    }
    c.gdbstub_port = 0;
    Result<std::unique_ptr<ArrowProcess>> proc = ArrowProcess::start(
        builder_def, c, path.substr(0, path.rfind('/') + 1) + key + ".run", std::move(cb), &confinement, std::move(image));
    if (!proc.ok()) return failed(proc.error().message);
    b->proc = std::move(proc.value());
    b->timer = g_timeout_add_seconds(kTimeoutS, +[](gpointer data) -> gboolean {
      auto* build = static_cast<Build*>(data);
      build->timer = 0;
      if (build->proc) build->proc->destroy(0, 2000);
      return G_SOURCE_REMOVE;
    }, raw);
    log(fmt("making the boot template %s", path.c_str()));
    builds_[path] = std::move(b);
  }

 private:
  // A boot to ainit's wait takes a cold boot's time; generously.
  static constexpr unsigned kTimeoutS = 300;

  struct Build {
    std::string path;
    std::unique_ptr<ArrowProcess> proc;
    UniqueFd fd;      // the image being made
    UniquePath part;  // its temporary name, removed unless renamed
    guint timer = 0;
    std::vector<std::function<void(bool)>> waiters;
  };

  // The build's QEMU is gone: the build goes, later (never inside its own
  // callback).
  void finish(const std::string& path) {
    auto it = builds_.find(path);
    if (it == builds_.end()) return;
    if (it->second->timer) g_source_remove(it->second->timer);
    it->second->timer = 0;
    std::vector<std::function<void(bool)>> waiters = std::move(it->second->waiters);
    done_.push_back(std::move(it->second));
    builds_.erase(it);
    const bool made = ::access(path.c_str(), F_OK) == 0;
    if (!made) failed_.insert(path);
    for (auto& w : waiters) w(made);
    g_idle_add(+[](gpointer self) -> gboolean {
      static_cast<TemplateCache*>(self)->done_.clear();
      return G_SOURCE_REMOVE;
    }, this);
  }

  std::map<std::string, std::unique_ptr<Build>> builds_;
  std::vector<std::unique_ptr<Build>> done_;
  std::set<std::string> failed_;  // layouts whose template could not be made
};

// The engine's ArrowProcess behind the driver's launcher interface: the
// cgroup leaf, the confinement and the command context around it. Anotify
// messages go from the engine's channel straight to the driver's handler;
// the engine decides what an exit means (ExitCause).
class ProcessLauncher final : public ArrowLauncher {
 public:
  ProcessLauncher(LaunchSpec spec, LaunchEvents events, std::shared_ptr<TemplateCache> cache)
      : spec_(std::move(spec)), events_(std::move(events)), cache_(std::move(cache)) {}

  void start(std::function<void(Status)> done) override {
    Result<CommandContext> ctx = context();
    if (!ctx.ok()) return done(ctx.error());
    if (!spec_.cgroup_parent.empty()) {
      Result<std::unique_ptr<CgroupLeaf>> leaf =
          CgroupLeaf::create(spec_.cgroup_parent, spec_.def.name, cgroup_limits(spec_.def));
      if (!leaf.ok()) return done(leaf.error());
      leaf_ = std::move(leaf.value());
    }
    ctx_ = std::move(ctx.value());
    if (!spec_.image_path.empty()) return restore(spec_.image_path, spec_.image_paused, done);
    if (!spec_.template_dir.empty()) {
      Result<std::string> layout = template_layout(spec_.def, ctx_);
      if (layout.ok()) {
        layout_ = std::move(layout.value());
        gchar* hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, layout_.data(), static_cast<gssize>(layout_.size()));
        template_path_ = spec_.template_dir + "/" + std::string(hex).substr(0, 16) + ".img";
        g_free(hex);
        if (::access(template_path_.c_str(), F_OK) == 0) return restore(template_path_, spec_.image_paused, done);
        auto log = [this](const std::string& line) { note(line); };
        if (spec_.image_paused) {
          // A paused start waits for the template: its guest is then the
          // template's, and can be saved (a template of its own).
          std::weak_ptr<bool> alive = alive_;
          return cache_->make(template_path_, layout_, spec_, ctx_, log, [this, alive, done](bool made) {
            if (alive.expired()) return;
            if (made) return restore(template_path_, true, done);
            spawn(StartImage{}, done);
          });
        }
        // Made once this Arrow's application runs, so that it does not slow
        // this cold boot down (the build's QEMU also runs at a lower priority).
        template_wanted_ = true;
      } else {
        note(fmt("no boot template for this Arrow (%s): booting it cold", layout.error().message.c_str()));
      }
    }
    spawn(StartImage{}, done);
  }

  std::string image_source() const override { return image_source_; }
  void set_image_source(const std::string& path) override { image_source_ = path; }
  bool pristine() const override { return process_ && process_->pristine(); }

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
    // An Arrow restored from an image whose ainit still waits (a restart
    // between the restore and its instructions) asks for all of them.
    if (Result<CommandContext> ctx = context(); ctx.ok()) {
      ctx->wall_clock_ms = 0;
      if (Result<std::string> tokens = build_instruction_tokens(spec_.def, *ctx); tokens.ok()) {
        std::vector<std::string> env;
        for (const EnvVar& var : spec_.def.initenv) env.push_back(var.name + "=" + var.value);
        process_->set_all_instructions(std::move(tokens.value()), std::move(env));
      }
    }
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
  void resume(std::function<void(Status)> done) override {
    if (process_) process_->note_resumed();
    qmp("cont", std::move(done));
  }
  int pid() const override { return process_ ? process_->pid() : 0; }

  Status console_write(std::span<const uint8_t> bytes) override {
    if (!process_ || process_->exited()) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    return process_->console_write(bytes);
  }

  bool has_balloon() const override {
    Result<CommandContext> ctx = context();
    return ctx.ok() && arrow::has_balloon(spec_.def, ctx.value());
  }

  void balloon_set_target(uint64_t kib, std::function<void(Status)> done) override {
    QmpMonitor* monitor = process_ ? process_->monitor() : nullptr;
    if (!monitor) return done(make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running")));
    arrow::balloon_set_target(*monitor, kib, std::move(done));
  }

  void balloon_set_stats_period(unsigned period_s, std::function<void(Status)> done) override {
    QmpMonitor* monitor = process_ ? process_->monitor() : nullptr;
    if (!monitor) return done(make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running")));
    arrow::balloon_set_stats_period(*monitor, period_s, std::move(done));
  }

  void balloon_query(std::function<void(Result<BalloonInfo>)> done) override {
    QmpMonitor* monitor = process_ ? process_->monitor() : nullptr;
    if (!monitor) return done(make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running")));
    arrow::balloon_query(*monitor, std::move(done));
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
    ctx.tb_size_mib = tcg_tb_size_mib();
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
      if (!st.ok() && !template_path_.empty() && image_source_ == template_path_ && !retry_done_) {
        // A boot template QEMU cannot load is removed (made again later),
        // and this start boots cold once the failed QEMU is gone.
        ::unlink(template_path_.c_str());
        note(fmt("cannot restore the boot template (%s): removed; booting the Arrow cold", st.error().message.c_str()));
        image_source_.clear();
        retry_done_ = done;
        return;
      }
      if (!st.ok()) start_failed_ = true;
      if (st.ok()) query_channels();
      done(st);
    };
    cb.qmp_event = [this](const QmpEvent& ev) {
      // The guest opened or closed a channel's port (device id channelN).
      if (ev.name == "VSERPORT_CHANGE") channel_open_[ev.data["id"].as_string()] = ev.data["open"].as_bool();
    };
    cb.anotify = [this](const AnotifyEvent& ev) {
      if (template_wanted_ && std::holds_alternative<AnotifyAppStarted>(ev)) {
        template_wanted_ = false;
        cache_->make(template_path_, layout_, spec_, ctx_, [this](const std::string& line) { note(line); });
      }
      if (events_.anotify) events_.anotify(ev);
    };
    cb.console = [this](std::span<const uint8_t> bytes) {
      if (events_.console) events_.console(bytes);
    };
    cb.exited = [this](const ProcessExit& exit) {
      if (retry_done_) {
        // Not inside the failed process's own callback: it is replaced.
        g_idle_add(+[](gpointer self) -> gboolean {
          auto* l = static_cast<ProcessLauncher*>(self);
          std::function<void(Status)> retry = std::move(l->retry_done_);
          l->retry_done_ = nullptr;
          l->spawn(StartImage{}, std::move(retry));
          return G_SOURCE_REMOVE;
        }, this);
        return;
      }
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

  // The QEMU of this start, as MODE says (StartImage).
  void spawn(StartImage image, std::function<void(Status)> done) {
    const ChildConfinement confinement =
        ChildConfinement::prepare(spec_.qemu_user, leaf_ ? leaf_->procs_fd() : -1, share_access_list(spec_.def));
    Result<std::unique_ptr<ArrowProcess>> process = ArrowProcess::start(
        spec_.def, ctx_, spec_.run_dir, callbacks(done), &confinement, std::move(image));
    if (!process.ok()) {
      leaf_.reset();
      return done(process.error());
    }
    process_ = std::move(process.value());
    process_->set_log_policy(spec_.log_policy);
  }

  void note(const std::string& line) {
    UniqueFd fd(::open(spec_.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    const std::string text = "== " + line + " ==\n";
    if (fd.valid() && ::write(fd.get(), text.data(), text.size()) < 0) return;
  }

  // QEMU may run as another user: the image it maps must be its own.
  Status give_to_qemu(int fd, const std::string& path) {
    if (!spec_.qemu_user || ::geteuid() != 0) return {};
    if (::fchown(fd, spec_.qemu_user->uid, spec_.qemu_user->gid) < 0) return system_error("chown", path, errno);
    return {};
  }

  // Starts the guest from the image at PATH: its RAM mapped copy-on-write,
  // its device state loaded, then ainit's instructions sent.
  void restore(const std::string& path, bool paused, std::function<void(Status)> done) {
    StartImage image;
    image.mode = StartMode::Restore;
    image.paused = paused;
    const bool boot_template = path == template_path_;
    auto fail = [&](const Error& e) {
      if (boot_template) {  // removed (made again later); this start boots cold
        ::unlink(path.c_str());
        note(fmt("cannot use the boot template (%s): removed; booting the Arrow cold", e.message.c_str()));
        image_source_.clear();
        return spawn(StartImage{}, done);
      }
      leaf_.reset();
      done(e);
    };
    image.ram.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!image.ram.valid()) return fail(system_error("open the saved image", path, errno));
    Result<SavedImage> saved = read_saved_image(image.ram.get(), path);
    if (!saved.ok()) return fail(saved.error());
    Result<std::string> layout = template_layout(spec_.def, ctx_);
    if (!layout.ok()) return fail(layout.error());
    if (const std::string why = layout_mismatch(saved->layout, *layout); !why.empty()) {
      return fail(make_error(VIR_ERR_OPERATION_INVALID,
                             fmt(_("cannot restore Arrow '%1$s' from '%2$s': %3$s"), spec_.def.name.c_str(),
                                 path.c_str(), why.c_str())));
    }
    if (Status st = give_to_qemu(image.ram.get(), path); !st.ok()) return fail(st.error());
    image.state.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!image.state.valid() || ::lseek(image.state.get(), static_cast<off_t>(saved->state_offset()), SEEK_SET) < 0)
      return fail(system_error("open the saved image", path, errno));
    image_source_ = path;
    spawn(std::move(image), std::move(done));
  }

  LaunchSpec spec_;
  LaunchEvents events_;
  CommandContext ctx_;
  std::string layout_;          // template_layout() of this start, when templates are on
  std::string template_path_;   // this layout's boot template
  std::string image_source_;    // the image this guest was restored from
  std::shared_ptr<TemplateCache> cache_;
  std::function<void(Status)> retry_done_;  // a start that boots cold after a failed template restore
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool template_wanted_ = false;  // a cold start whose layout has no template yet
  // Before process_: a QEMU still running is killed and reaped first, so
  // the leaf is empty when it goes.
  std::unique_ptr<CgroupLeaf> leaf_;
  std::unique_ptr<ArrowProcess> process_;
  bool start_failed_ = false;
  std::map<std::string, bool> channel_open_;  // by device id (channelN)

 public:
  ~ProcessLauncher() override { g_idle_remove_by_data(this); }
};

}  // namespace

LauncherFactory make_process_launcher_factory() {
  auto cache = std::make_shared<TemplateCache>();
  return [cache](const LaunchSpec& spec, LaunchEvents events) -> std::unique_ptr<ArrowLauncher> {
    return std::make_unique<ProcessLauncher>(spec, std::move(events), cache);
  };
}

}  // namespace arrow
