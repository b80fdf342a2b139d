// Durable files of the driver: atomic replacement of a config or status file
// (temp file + fsync + rename + fsync of the directory), loading a directory
// of configs where one bad file is moved aside instead of stopping the rest,
// and the autostart links (CONFIGDIR/autostart/NAME.xml -> ../NAME.xml, as
// libvirt keeps them).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fs.h"
#include "util/log.h"
#include "util/result.h"

namespace arrow {

// What load_config_dir found.
struct LoadReport {
  std::vector<std::string> loaded;       // names accepted
  std::vector<std::string> moved_aside;  // new paths of refused files
  std::vector<std::string> removed_temps;  // leftovers of interrupted writes
};

// Accepts or refuses one config: NAME is the file name without ".xml".
using ConfigAcceptor = std::function<Status(const std::string& name, const std::string& content)>;

// Calls ACCEPT for every DIR/*.xml in name order. A file that cannot be read
// or that ACCEPT refuses is renamed to PATH.invalid (PATH.invalid.N when taken)
// and its error logged; the others still load. Temporary files left by an
// interrupted write_file_atomic are removed. A missing DIR loads nothing.
LoadReport load_config_dir(const std::string& dir, const ConfigAcceptor& accept, const LogFn& log);

// CONFIGDIR/autostart/NAME.xml
std::string autostart_link_path(const std::string& config_dir, const std::string& name);
bool autostart_link_exists(const std::string& config_dir, const std::string& name);
// Creates (pointing at ../NAME.xml) or removes the link; idempotent.
Status set_autostart_link(const std::string& config_dir, const std::string& name, bool autostart);

}  // namespace arrow
