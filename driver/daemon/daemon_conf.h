// virtarrowd.conf: the daemon's own settings, in libvirt's daemon config
// syntax (`key = "string"` or `key = number`, `#` comments). A missing file
// means every default.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  std::vector<std::string> ignored;      // unknown keys, for a warning
};

// Parses TEXT (the file's content); NAME is the file, for messages. An error
// names the line and the key at fault.
Result<DaemonConf> parse_daemon_conf(std::string_view text, const std::string& name);
// Reads and parses PATH; the defaults when it does not exist.
Result<DaemonConf> load_daemon_conf(const std::string& path);

}  // namespace arrow::daemon
