// The driver's configuration (where configs, runtime state and logs live, the
// default emulator, the kernel and initramfs, the heartbeat) and the host
// facts the driver reports (node info, hostname, QEMU version).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "driver/arrow/arrow_autoballoon.h"
#include "driver/engine/confine.h"
#include "driver/engine/log_file.h"
#include "driver/engine/qemu_process.h"  // ProcStat, read_proc_stat
#include "driver/api/driver_api.h"
#include "util/result.h"

namespace arrow {

struct ArrowConf {
  std::string uri = "arrow:///system";
  std::string config_dir;  // CONFIGDIR: NAME.xml and autostart/NAME.xml
  std::string run_dir;     // RUNDIR: NAME.xml runtime status, NAME/ sockets
  std::string log_dir;     // NAME.log: console and QEMU output
  std::string emulator;    // QEMU used when the def names none
  std::string kernel;      // the single-task kernel (bzImage)
  std::string initramfs;   // ainit's initramfs (initramfs.cpio)
  unsigned heartbeat_s = 10;         // expected Anotify heartbeat period
  unsigned shutdown_grace_ms = 10000;  // SIGTERM → SIGKILL grace given to ainit
  // A guest silent on Anotify this long after QEMU started never booted and
  // is stopped as failed. Generous: TCG on a busy host boots in seconds, not
  // minutes. $ARROW_BOOT_TIMEOUT (seconds) overrides it in the daemon.
  unsigned boot_timeout_s = 300;
  // The account QEMU runs as (confine.h); nullopt: the daemon's own.
  std::optional<QemuUser> qemu_user;
  // Parent of the Arrows' cgroup v2 leaves (cgroup.h); empty: none.
  std::string cgroup_parent;
  // Each Arrow's log: rotated past max_bytes, keep files kept (log_file.h).
  LogPolicy log_policy;
  // Saved images: boot templates (template_dir; empty: every Arrow boots
  // cold) and managed saves (save_dir/NAME.save).
  std::string template_dir;
  std::string save_dir;
  // AutoBalloon for Arrows whose XML does not say (arrow_autoballoon.h).
  AutoBalloonConf autoballoon;
};

// Where the kernel and initramfs are: $ARROW_KERNEL_DIR (the build tree, set
// by ./run) or else the installed pkglibdir (ARROW_PKGLIBDIR).
std::string arrow_kernel_dir();

// A config for the given directories with every other field at its default:
// emulator QEMU_BINARY, kernel and initramfs from arrow_kernel_dir().
ArrowConf arrow_conf_new(std::string config_dir, std::string run_dir, std::string log_dir);

// Fills CONF's confinement for a daemon with effective uid EUID: the QEMU
// user (choose_qemu_user with virtarrowd.conf's USER) and, for a root
// daemon, the cgroup parent under the cgroup v2 root ($ARROW_CGROUP_ROOT, a
// test hook, or the host's cgroup2 mount). LOG gets one line for each thing
// that leaves QEMU less confined (the reason why). Errors: an unknown user.
Status arrow_conf_confine(ArrowConf& conf, const std::optional<std::string>& user, uid_t euid,
                          const std::function<void(const std::string&)>& log, bool default_account = true);

// Creates config_dir, config_dir/autostart, run_dir and log_dir.
Status arrow_conf_make_dirs(const ArrowConf& conf);

// Host facts: /proc/cpuinfo, /proc/meminfo and sysconf. Never reports zero
// memory or CPUs (virt-manager divides by both).
NodeInfo read_node_info();
std::string read_hostname();
// virConnectGetSysinfo: the SMBIOS facts of /sys/class/dmi/id.
std::string read_sysinfo_xml();

// "QEMU emulator version 7.2.0 (Debian …)" → 7002000 (major*1e6 + minor*1e3 + micro).
Result<uint64_t> parse_qemu_version(std::string_view version_output);
// Runs EMULATOR --version; errors when it cannot run or says nothing parsable.
Result<uint64_t> probe_qemu_version(const std::string& emulator);

}  // namespace arrow
