// Durable config and status files (see arrow_persist.h).
#include "driver/arrow/arrow_persist.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// PATH.invalid, or PATH.invalid.N for the first free N.
std::string free_aside_name(const std::string& path) {
  std::string candidate = path + ".invalid";
  for (int n = 1; ::access(candidate.c_str(), F_OK) == 0; ++n) candidate = fmt("%s.invalid.%d", path.c_str(), n);
  return candidate;
}


}  // namespace

LoadReport load_config_dir(const std::string& dir, const ConfigAcceptor& accept, const LogFn& log) {
  LoadReport report;
  for (const std::string& entry : list_dir(dir)) {
    std::string path = dir + "/" + entry;
    if (entry.find(kTempInfix) != std::string::npos) {
      // A write that never reached its rename: the real file is intact.
      if (::unlink(path.c_str()) == 0) report.removed_temps.push_back(path);
      continue;
    }
    if (!ends_with(entry, ".xml")) continue;
    std::string name = entry.substr(0, entry.size() - 4);
    Result<std::string> content = read_whole_file(path);
    Status accepted = content.ok() ? accept(name, content.value()) : Status(content.error());
    if (accepted.ok()) {
      report.loaded.push_back(name);
      continue;
    }
    std::string aside = free_aside_name(path);
    if (::rename(path.c_str(), aside.c_str()) == 0) {
      report.moved_aside.push_back(aside);
      log(fmt(_("cannot load Arrow config '%1$s', moved it to '%2$s': %3$s"), path.c_str(), aside.c_str(),
              accepted.error().message.c_str()));
    } else {
      log(fmt(_("cannot load Arrow config '%1$s': %2$s"), path.c_str(), accepted.error().message.c_str()));
    }
  }
  return report;
}

std::string autostart_link_path(const std::string& config_dir, const std::string& name) {
  return config_dir + "/autostart/" + name + ".xml";
}

bool autostart_link_exists(const std::string& config_dir, const std::string& name) {
  struct stat st;
  return ::lstat(autostart_link_path(config_dir, name).c_str(), &st) == 0;
}

Status set_autostart_link(const std::string& config_dir, const std::string& name, bool autostart) {
  std::string link = autostart_link_path(config_dir, name);
  if (!autostart) return remove_file_durable(link);
  if (autostart_link_exists(config_dir, name)) return {};
  TRY(make_dirs(config_dir + "/autostart"));
  std::string target = "../" + name + ".xml";
  if (::symlink(target.c_str(), link.c_str()) < 0) return system_error(_("create link"), link, errno);
  return fsync_dir(config_dir + "/autostart");
}

}  // namespace arrow
