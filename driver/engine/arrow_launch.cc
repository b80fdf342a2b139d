// arrow-launch: runs one Arrow from a domain XML file in the foreground,
// streaming its console to stdout and its Anotify events to stderr, and exits
// with the application's exit status (128+N if killed by signal N, 125 when
// the Arrow could not be run, 124 on --timeout).
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "domain-xml/arrow_xml.h"
#include "driver/engine/qemu_command.h"
#include "driver/engine/qemu_process.h"
#include "util/i18n.h"

namespace {

using arrow::fmt;
using Clock = std::chrono::steady_clock;

constexpr int kExitLaunchError = 125;
constexpr int kExitTimeout = 124;
constexpr uint32_t kShutdownGraceMs = 3000;

struct Options {
  unsigned timeout_s = 0;  // 0: none
  std::string kernel_dir;
  std::string xml_path;
};

// State of the one run; callbacks reach it through captures.
struct Launch {
  GMainLoop* loop = nullptr;
  std::unique_ptr<arrow::ArrowProcess> process;
  Clock::time_point spawned;
  std::optional<int> app_status;  // from ANOTIFY_APP_EXITED
  std::string error;              // a launcher error, reported at the end
  bool timed_out = false;
  int interrupts = 0;
};

void usage() {
  fprintf(stderr, "%s", _("usage: arrow-launch [--timeout SECS] [--kernel-dir DIR] DOMAIN.xml\n"));
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if ((a == "--timeout" || a == "--kernel-dir") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--kernel-dir") {
        o.kernel_dir = v;
      } else {
        char* end = nullptr;
        o.timeout_s = static_cast<unsigned>(strtoul(v.c_str(), &end, 10));
        if (v.empty() || *end) return std::nullopt;
      }
    } else if (!a.empty() && a[0] != '-' && o.xml_path.empty()) {
      o.xml_path = a;
    } else {
      return std::nullopt;
    }
  }
  if (o.xml_path.empty()) return std::nullopt;
  if (o.kernel_dir.empty()) {
    const char* env = getenv("ARROW_KERNEL_DIR");
    o.kernel_dir = env && *env ? env : ARROW_PKGLIBDIR;
  }
  return o;
}

// $XDG_RUNTIME_DIR/arrow-launch, or a fresh directory under /tmp.
std::string base_dir() {
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg) return std::string(xdg) + "/arrow-launch";
  char tmpl[] = "/tmp/arrow-launch-XXXXXX";
  const char* made = mkdtemp(tmpl);
  return made ? made : "/tmp";
}

void on_event(Launch& l, const arrow::AnotifyEvent& ev) {
  const long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - l.spawned).count();
  std::string line = arrow::anotify_event_describe(ev);
  if (const auto* b = std::get_if<arrow::AnotifyBooted>(&ev)) {
    line = fmt("booted (guest uptime %llu ms, %ld ms after spawn)", static_cast<unsigned long long>(b->uptime_ms), ms);
  }
  if (std::holds_alternative<arrow::AnotifyAppStarted>(ev)) line += fmt(" (%ld ms after spawn)", ms);
  if (const auto* e = std::get_if<arrow::AnotifyAppExited>(&ev)) l.app_status = e->signal ? 128 + e->signal : e->status;
  fprintf(stderr, "arrow-launch: %s\n", line.c_str());
}

arrow::ArrowProcess::Callbacks make_callbacks(Launch& l) {
  arrow::ArrowProcess::Callbacks cb;
  cb.started = [&l](const arrow::Status& s) {
    if (!s.ok()) {
      l.error = s.error().message;
      return;
    }
    const long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - l.spawned).count();
    fprintf(stderr, "arrow-launch: running (%ld ms after spawn)\n", ms);
  };
  cb.anotify = [&l](const arrow::AnotifyEvent& ev) { on_event(l, ev); };
  cb.console = [](std::span<const uint8_t> bytes) {
    fwrite(bytes.data(), 1, bytes.size(), stdout);
    fflush(stdout);
  };
  cb.qmp_event = [](const arrow::QmpEvent& ev) {
    if (ev.kind == arrow::QmpEventKind::GuestPanicked) fprintf(stderr, "arrow-launch: guest kernel panicked\n");
  };
  cb.exited = [&l](const arrow::ProcessExit&) { g_main_loop_quit(l.loop); };
  return cb;
}

gboolean on_timeout(gpointer data) {
  auto* l = static_cast<Launch*>(data);
  l->timed_out = true;
  fprintf(stderr, "arrow-launch: timed out, destroying the Arrow\n");
  l->process->destroy(1000, 2000);
  return G_SOURCE_REMOVE;
}

// First ^C: ask the application to stop; second: destroy.
gboolean on_interrupt(gpointer data) {
  auto* l = static_cast<Launch*>(data);
  if (l->interrupts++ == 0 && l->process->shutdown(kShutdownGraceMs).ok()) {
    fprintf(stderr, "arrow-launch: stopping the application (again to force)\n");
  } else {
    l->process->destroy(1000, 2000);
  }
  return G_SOURCE_CONTINUE;
}

arrow::Result<arrow::ArrowDef> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return arrow::make_error(VIR_ERR_NO_SOURCE, fmt(_("cannot read '%1$s'"), path.c_str()));
  std::stringstream ss;
  ss << in.rdbuf();
  return arrow::parse_domain_xml(ss.str());
}

int finish(const Launch& l) {
  if (l.timed_out) return kExitTimeout;
  if (l.app_status) return *l.app_status;
  fprintf(stderr, "arrow-launch: %s\n",
          l.error.empty() ? _("QEMU exited without reporting the application's exit status") : l.error.c_str());
  return kExitLaunchError;
}

int run(const Options& o) {
  arrow::Result<arrow::ArrowDef> def = load(o.xml_path);
  if (!def.ok()) {
    fprintf(stderr, "arrow-launch: %s\n", def.error().message.c_str());
    return kExitLaunchError;
  }
  const std::string base = base_dir();
  const std::string log_path = base + "/" + def->name + ".log";
  if (g_mkdir_with_parents(base.c_str(), 0700) < 0) {
    fprintf(stderr, "arrow-launch: cannot create '%s': %s\n", base.c_str(), strerror(errno));
    return kExitLaunchError;
  }
  arrow::Result<arrow::CommandContext> ctx = arrow::make_command_context(def.value(), o.kernel_dir, log_path);
  if (!ctx.ok()) {
    fprintf(stderr, "arrow-launch: %s\n", ctx.error().message.c_str());
    return kExitLaunchError;
  }
  Launch l;
  l.loop = g_main_loop_new(nullptr, FALSE);
  l.spawned = Clock::now();
  auto p = arrow::ArrowProcess::start(def.value(), ctx.value(), base + "/" + def->name, make_callbacks(l));
  if (!p.ok()) {
    fprintf(stderr, "arrow-launch: %s\n", p.error().message.c_str());
    g_main_loop_unref(l.loop);
    return kExitLaunchError;
  }
  l.process = std::move(p.value());
  fprintf(stderr, "arrow-launch: log in %s\n", log_path.c_str());
  guint timer = o.timeout_s ? g_timeout_add_seconds(o.timeout_s, on_timeout, &l) : 0;
  guint sigint = g_unix_signal_add(SIGINT, on_interrupt, &l);
  guint sigterm = g_unix_signal_add(SIGTERM, on_interrupt, &l);
  g_main_loop_run(l.loop);
  for (guint id : {timer, sigint, sigterm})
    if (id && !(id == timer && l.timed_out)) g_source_remove(id);
  l.process.reset();
  g_main_loop_unref(l.loop);
  return finish(l);
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> o = parse_args(argc, argv);
  if (!o) {
    usage();
    return kExitLaunchError;
  }
  return run(*o);
}
