// The engine behind the driver's launcher interface (see arrow_domain.h,
// ArrowLauncher): one engine ArrowProcess per start or adoption.
#include "driver/arrow/arrow_console.h"
#include "driver/arrow/arrow_domain.h"
#include "driver/engine/cgroup.h"
#include <fcntl.h>
#include <glib.h>
#include <unistd.h>

#include "domain-xml/arrow_xml.h"
#include "driver/engine/qemu_process.h"
#include "driver/engine/saved_image.h"
#include "util/fs.h"
#include "util/i18n.h"

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
        if (make_template(done)) return;
      } else {
        note(fmt("no boot template for this Arrow (%s): booting it cold", layout.error().message.c_str()));
      }
    }
    spawn(StartImage{}, done);
  }

  std::string image_source() const override { return image_source_; }
  bool pristine() const override { return process_ && process_->pristine(); }

  void adopt(int pid, std::function<void(Status)> done) override {
    Result<std::unique_ptr<ArrowProcess>> process =
        ArrowProcess::adopt(pid, spec_.def.name, RuntimePaths{spec_.run_dir}, spec_.log_path, callbacks(done));
    if (!process.ok()) return done(process.error());
    process_ = std::move(process.value());
    process_->set_log_policy(spec_.log_policy);
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
      leaf_.reset();
      if (boot_template) ::unlink(path.c_str());  // made again at the next start
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

  // Boots this Arrow's layout once with arrow.wait=1 and saves it as the
  // boot template, then restores from it. False when no template can be
  // made now (another start is making it): boot cold.
  bool make_template(std::function<void(Status)> done) {
    const std::string part = template_path_ + ".part";
    StartImage image;
    image.mode = StartMode::MakeTemplate;
    image.ram.reset(::open(part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!image.ram.valid()) return false;
    part_path_ = UniquePath(part);
    const uint64_t ram_size = spec_.def.memory_kib * 1024;
    if (::ftruncate(image.ram.get(), static_cast<off_t>(ram_size)) < 0 || !give_to_qemu(image.ram.get(), part).ok())
      return false;
    image.state.reset(::open(part.c_str(), O_WRONLY | O_CLOEXEC));
    if (!image.state.valid() || ::lseek(image.state.get(), static_cast<off_t>(ram_size), SEEK_SET) < 0) return false;
    const int image_fd = ::fcntl(image.ram.get(), F_DUPFD_CLOEXEC, 3);
    template_fd_.reset(image_fd);
    ArrowDef shown = spec_.def;  // what the image says it is: nothing of this Arrow's
    shown.name = "boot-template";
    shown.initenv.clear();
    shown.initargs.clear();
    shown.metadata.clear();
    shown.title.clear();
    shown.description.clear();
    const std::string xml = format_domain_xml(shown);
    ArrowProcess::Callbacks cb;
    cb.started = [this](const Status& st) {
      if (!st.ok()) note(fmt("cannot make a boot template: %s", st.error().message.c_str()));
    };
    cb.template_saved = [this, xml, ram_size](const Status& st) {
      Status done_st = st;
      if (st.ok()) done_st = finish_saved_image(template_fd_.get(), part_path_.get(), ram_size, xml, layout_);
      if (done_st.ok() && ::rename(part_path_.get().c_str(), template_path_.c_str()) == 0) {
        part_path_.release();
        template_made_ = true;
        note(fmt("boot template saved: %s", template_path_.c_str()));
      } else if (!done_st.ok()) {
        note(fmt("cannot make a boot template: %s", done_st.error().message.c_str()));
      }
      if (builder_) builder_->destroy(0, 2000);
    };
    cb.exited = [this, done](const ProcessExit&) {
      if (template_timer_) g_source_remove(template_timer_);
      template_timer_ = 0;
      template_fd_.reset();
      part_path_ = UniquePath();
      // The builder is destroyed later, never inside its own callback.
      g_idle_add(+[](gpointer self) -> gboolean {
        static_cast<ProcessLauncher*>(self)->builder_.reset();
        return G_SOURCE_REMOVE;
      }, this);
      if (template_made_) return restore(template_path_, spec_.image_paused, done);
      note("booting the Arrow cold");
      spawn(StartImage{}, done);
    };
    const ChildConfinement confinement =
        ChildConfinement::prepare(spec_.qemu_user, leaf_ ? leaf_->procs_fd() : -1, share_access_list(spec_.def));
    Result<std::unique_ptr<ArrowProcess>> builder = ArrowProcess::start(
        spec_.def, ctx_, spec_.run_dir + "/template", std::move(cb), &confinement, std::move(image));
    if (!builder.ok()) {
      note(fmt("cannot make a boot template: %s", builder.error().message.c_str()));
      part_path_ = UniquePath();
      template_fd_.reset();
      return false;
    }
    builder_ = std::move(builder.value());
    template_timer_ = g_timeout_add_seconds(kTemplateTimeoutS, +[](gpointer self) -> gboolean {
      auto* l = static_cast<ProcessLauncher*>(self);
      l->template_timer_ = 0;
      l->note(fmt("the boot template was not made within %u s", kTemplateTimeoutS));
      if (l->builder_) l->builder_->destroy(0, 2000);
      return G_SOURCE_REMOVE;
    }, this);
    return true;
  }

  // A template boots as far as ainit's wait: a cold boot's time, generously.
  static constexpr unsigned kTemplateTimeoutS = 120;

  LaunchSpec spec_;
  LaunchEvents events_;
  CommandContext ctx_;
  std::string layout_;          // template_layout() of this start, when templates are on
  std::string template_path_;   // this layout's boot template
  std::string image_source_;    // the image this guest was restored from
  UniquePath part_path_;        // a template being made
  UniqueFd template_fd_;
  bool template_made_ = false;
  guint template_timer_ = 0;
  std::unique_ptr<ArrowProcess> builder_;
  // Before process_: a QEMU still running is killed and reaped first, so
  // the leaf is empty when it goes.
  std::unique_ptr<CgroupLeaf> leaf_;
  std::unique_ptr<ArrowProcess> process_;
  bool start_failed_ = false;

 public:
  ~ProcessLauncher() override {
    if (template_timer_) g_source_remove(template_timer_);
    g_idle_remove_by_data(this);
  }
};

}  // namespace

LauncherFactory make_process_launcher_factory() {
  return [](const LaunchSpec& spec, LaunchEvents events) -> std::unique_ptr<ArrowLauncher> {
    return std::make_unique<ProcessLauncher>(spec, std::move(events));
  };
}

}  // namespace arrow
