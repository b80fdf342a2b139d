// Durable config and status files (see arrow_persist.h).
#include "driver/arrow_persist.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/fd.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr std::string_view kTempInfix = ".tmp-";

Error system_error(const char* what, const std::string& path, int err) {
  return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot %1$s '%2$s': %3$s"), what, path.c_str(), strerror(err)));
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes a rename or unlink in DIR durable.
Status fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return system_error(_("open directory"), dir, errno);
  if (::fsync(fd.get()) < 0) return system_error(_("sync directory"), dir, errno);
  return {};
}

Status write_all(int fd, std::string_view content, const std::string& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error(_("write"), path, errno);
    content.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// PATH.invalid, or PATH.invalid.N for the first free N.
std::string free_aside_name(const std::string& path) {
  std::string candidate = path + ".invalid";
  for (int n = 1; ::access(candidate.c_str(), F_OK) == 0; ++n) candidate = fmt("%s.invalid.%d", path.c_str(), n);
  return candidate;
}

}  // namespace

Status make_dirs(const std::string& dir, mode_t mode) {
  if (dir.empty()) return {};
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return system_error(_("create directory"), dir, ENOTDIR);
  }
  std::string parent = dir_of(dir);
  if (parent != dir) TRY(make_dirs(parent, mode));
  if (::mkdir(dir.c_str(), mode) < 0 && errno != EEXIST) return system_error(_("create directory"), dir, errno);
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode) {
  std::string tmpl = path + std::string(kTempInfix) + "XXXXXX";
  UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd.valid()) return system_error(_("create"), tmpl, errno);
  UniquePath temp(tmpl);  // removed unless the rename succeeds
  if (::fchmod(fd.get(), mode) < 0) return system_error(_("chmod"), tmpl, errno);
  TRY(write_all(fd.get(), content, tmpl));
  if (::fsync(fd.get()) < 0) return system_error(_("sync"), tmpl, errno);
  if (::close(fd.release()) < 0) return system_error(_("close"), tmpl, errno);
  if (::rename(tmpl.c_str(), path.c_str()) < 0) return system_error(_("rename"), path, errno);
  temp.release();
  return fsync_dir(dir_of(path));
}

Status remove_file_durable(const std::string& path) {
  if (::unlink(path.c_str()) < 0) {
    if (errno == ENOENT) return {};
    return system_error(_("remove"), path, errno);
  }
  return fsync_dir(dir_of(path));
}

Result<std::string> read_whole_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return system_error(_("open"), path, errno);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error(_("read"), path, errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

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
