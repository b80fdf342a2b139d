// virtarrowd: the Arrow libvirt driver daemon. It builds the Arrow driver
// from the daemon's paths and virtarrowd.conf, and runs it (daemon.cc builds
// the RPC server and the D-Bus front end beside it).
#include <glib.h>
#include <unistd.h>

#include <cstdio>

#include "driver/arrow/arrow_driver.h"
#include "driver/daemon/daemon.h"

namespace arrow {
namespace {

Result<std::unique_ptr<DriverApi>> make_arrow_driver(const daemon::DaemonPaths& paths, const daemon::DaemonConf& daemon_conf) {
  ArrowConf conf = arrow_conf_new(paths.config_dir, paths.state_dir, paths.log_dir);
  conf.uri = paths.uri;
  // virtarrowd.conf's boot_timeout; the environment still overrides it (tests).
  if (daemon_conf.boot_timeout_s) conf.boot_timeout_s = *daemon_conf.boot_timeout_s;
  if (daemon_conf.log_max_size) conf.log_policy.max_bytes = *daemon_conf.log_max_size;
  conf.save_dir = paths.lib_dir + "/save";
  bool templates = daemon_conf.boot_templates.value_or(true);
  if (const char* t = g_getenv("ARROW_BOOT_TEMPLATES"); t && *t) templates = std::string_view(t) != "0";
  if (templates) conf.template_dir = paths.lib_dir + "/templates";
  if (daemon_conf.log_max_backups) conf.log_policy.keep = *daemon_conf.log_max_backups;
  if (daemon_conf.autoballoon) conf.autoballoon.enabled = *daemon_conf.autoballoon;
  if (daemon_conf.autoballoon_margin_mib) conf.autoballoon.margin_kib = *daemon_conf.autoballoon_margin_mib * 1024;
  if (daemon_conf.autoballoon_floor_mib) conf.autoballoon.floor_kib = *daemon_conf.autoballoon_floor_mib * 1024;
  // The system account (arrow-qemu) is the default of the system daemon
  // only: a --root instance runs QEMU as itself unless its config names a user.
  TRY(arrow_conf_confine(conf, daemon_conf.user, ::geteuid(),
                         log_to_stderr,
                         !paths.private_root));
  if (const char* t = g_getenv("ARROW_BOOT_TIMEOUT"); t && g_ascii_strtoull(t, nullptr, 10) > 0)
    conf.boot_timeout_s = static_cast<unsigned>(g_ascii_strtoull(t, nullptr, 10));
  DriverOptions options;
  options.launcher_factory = make_process_launcher_factory();
  auto driver = std::make_unique<ArrowDriver>(std::move(conf), std::move(options));
  return std::unique_ptr<DriverApi>(std::move(driver));
}

}  // namespace
}  // namespace arrow

int main(int argc, char** argv) { return arrow::daemon::run_daemon(argc, argv, arrow::make_arrow_driver); }
