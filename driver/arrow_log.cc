// Log rotation and the log channel's reader (see arrow_log.h).
#include "driver/arrow_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/fd.h"
#include "util/i18n.h"

namespace arrow {

namespace {

Error log_error(const char* what, const std::string& path, int err) {
  return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot %1$s log file '%2$s': %3$s"), what, path.c_str(),
                                              std::strerror(err)));
}

// Copies all of FROM into a new file TO (replaced if there), in the kernel.
Status copy_file(int from, const std::string& to_path, uint64_t size) {
  const std::string tmp = to_path + ".tmp";
  UniqueFd to(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!to.valid()) return log_error("create", tmp, errno);
  loff_t in_off = 0;
  while (static_cast<uint64_t>(in_off) < size) {
    ssize_t n = ::copy_file_range(from, &in_off, to.get(), nullptr, size - in_off, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return log_error("copy", tmp, errno);
    if (n == 0) break;  // shrank meanwhile
  }
  if (::rename(tmp.c_str(), to_path.c_str()) < 0) return log_error("rename", tmp, errno);
  return {};
}

}  // namespace

Result<bool> log_rotate_if_needed(const std::string& path, const LogPolicy& policy) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return errno == ENOENT ? Result<bool>(false) : Result<bool>(log_error("open", path, errno));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return log_error("inspect", path, errno);
  if (static_cast<uint64_t>(st.st_size) <= policy.max_bytes) return false;
  if (policy.keep > 0) {
    for (unsigned n = policy.keep; n > 1; n--) {
      const std::string older = fmt("%s.%u", path.c_str(), n - 1), newer = fmt("%s.%u", path.c_str(), n);
      if (::rename(older.c_str(), newer.c_str()) < 0 && errno != ENOENT) return log_error("rotate", older, errno);
    }
    TRY(copy_file(fd.get(), path + ".1", static_cast<uint64_t>(st.st_size)));
  }
  if (::ftruncate(fd.get(), 0) < 0) return log_error("truncate", path, errno);
  return true;
}

// --- LogReader ----------------------------------------------------------------

std::shared_ptr<LogReader> LogReader::start(std::string path, bool follow, std::function<bool()> running,
                                            std::shared_ptr<StreamPeer> peer) {
  std::shared_ptr<LogReader> r(new LogReader());
  r->path_ = std::move(path);
  r->follow_ = follow;
  r->running_ = std::move(running);
  r->peer_ = std::move(peer);
  // The peer holds output until the open's reply is out, so reading now is safe.
  if (r->pump()) r->timer_ = g_timeout_add(200, &LogReader::on_tick, r.get());
  return r;
}

LogReader::~LogReader() {
  if (timer_) g_source_remove(timer_);
}

void LogReader::on_closed() {
  if (timer_) g_source_remove(timer_);
  timer_ = 0;
  peer_.reset();
}

gboolean LogReader::on_tick(gpointer self) {
  auto* r = static_cast<LogReader*>(self);
  std::shared_ptr<LogReader> keep = r->shared_from_this();
  if (r->pump()) return G_SOURCE_CONTINUE;
  r->timer_ = 0;
  return G_SOURCE_REMOVE;
}

bool LogReader::pump() {
  if (!peer_) return false;
  // Asked before reading, so that nothing written before the stop is missed.
  const bool more_may_come = follow_ && running_ && running_();
  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (fd.valid() && ::fstat(fd.get(), &st) == 0) {
    if (static_cast<uint64_t>(st.st_size) < offset_) offset_ = 0;  // rotated
    char buf[65536];
    for (ssize_t n; (n = ::pread(fd.get(), buf, sizeof buf, static_cast<off_t>(offset_))) > 0;) {
      offset_ += static_cast<uint64_t>(n);
      peer_->send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)));
      if (!peer_) return false;
    }
  }
  if (more_may_come) return true;
  std::shared_ptr<StreamPeer> peer = std::move(peer_);
  peer_.reset();
  peer->send_eof();
  return false;
}

}  // namespace arrow
