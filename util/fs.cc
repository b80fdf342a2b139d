// Files, directories and socket paths (see fs.h).
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/fd.h"
#include "util/i18n.h"

namespace arrow {

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


Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return make_error(VIR_ERR_INVALID_ARG,
                      fmt(_("socket path '%1$s' is longer than %2$zu bytes"), path.c_str(), sizeof addr.sun_path - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

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

}  // namespace arrow
