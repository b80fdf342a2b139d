// virtarrowd.conf: the daemon's own settings, in libvirt's daemon config
// syntax (`key = "string"` or `key = number`, `#` comments). A missing file
// means every default.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "driver/rpc/server.h"
#include "util/result.h"

namespace arrow::daemon {

struct DaemonConf {
  std::optional<gid_t> unix_sock_group;  // group of the sockets we create
  mode_t unix_sock_rw_perms = 0600;      // mode of the read-write socket we create
  // The driver's keys (make_arrow_driver): `user`, the account QEMU runs as
  // (a name or number; unset: the default system user when it exists), and
  // `boot_timeout`, seconds a guest may stay silent before it counts as
  // never booted (unset: the driver's default).
  std::optional<std::string> user;
  std::optional<unsigned> boot_timeout_s;
  // `boot_templates`: start Arrows by restoring a boot template (0: boot
  // every Arrow cold). Unset: the driver's default (on).
  std::optional<bool> boot_templates;
  // Each Arrow's log: `log_max_size`, the bytes after which NAME.log is
  // rotated, and `log_max_backups`, the rotated files kept (NAME.log.1 …),
  // as virtlogd's max_size and max_backups (unset: the engine's LogPolicy).
  std::optional<uint64_t> log_max_size;
  std::optional<unsigned> log_max_backups;
  // AutoBalloon for every Arrow whose XML does not say (<arrow:autoballoon>):
  // `autoballoon` 0/1, `autoballoon_margin` and `autoballoon_floor` in MiB.
  std::optional<bool> autoballoon;
  std::optional<uint64_t> autoballoon_margin_mib;
  std::optional<uint64_t> autoballoon_floor_mib;
  // The RPC server's bounds: max_clients, max_anonymous_clients,
  // max_client_requests, keepalive_interval, keepalive_count,
  // max_client_output, client_output_timeout, anonymous_timeout,
  // client_idle_timeout (rpc::ServerOptions has the defaults; verbose and
  // timeout_s come from the command line).
  rpc::ServerOptions server;
  // max_client_event_callbacks, for the REMOTE program (unset: its default).
  std::optional<size_t> max_client_event_callbacks;
  std::vector<std::string> ignored;      // unknown keys, for a warning
};

// Parses TEXT (the file's content); NAME is the file, for messages. An error
// names the line and the key at fault.
Result<DaemonConf> parse_daemon_conf(std::string_view text, const std::string& name);
// Reads and parses PATH; the defaults when it does not exist.
Result<DaemonConf> load_daemon_conf(const std::string& path);

}  // namespace arrow::daemon
