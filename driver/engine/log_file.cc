// Log rotation and the log channel's reader (see log_file.h).
#include "driver/engine/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "util/fd.h"
#include "util/i18n.h"

namespace arrow {

namespace {

Error log_error(const char* what, const std::string& path, int err) {
  return make_error(VIR_ERR_SYSTEM_ERROR, fmt(_("cannot %1$s log file '%2$s': %3$s"), what, path.c_str(),
                                              std::strerror(err)));
}

}  // namespace

Result<bool> log_rotate_if_needed(const std::string& path, const LogPolicy& policy) {
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) return errno == ENOENT ? Result<bool>(false) : Result<bool>(log_error("inspect", path, errno));
  if (static_cast<uint64_t>(st.st_size) <= policy.max_bytes) return false;
  TRY(log_rotate(path, policy));
  return true;
}

Status log_rotate(const std::string& path, const LogPolicy& policy) {
  if (policy.keep == 0) {
    if (::truncate(path.c_str(), 0) < 0) return log_error("truncate", path, errno);
    return {};
  }
  for (unsigned n = policy.keep; n > 1; n--) {
    const std::string older = fmt("%s.%u", path.c_str(), n - 1), newer = fmt("%s.%u", path.c_str(), n);
    if (::rename(older.c_str(), newer.c_str()) < 0 && errno != ENOENT) return log_error("rotate", older, errno);
  }
  const std::string first = path + ".1";
  if (::rename(path.c_str(), first.c_str()) < 0) return log_error("rotate", path, errno);
  return {};
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
  // At most this much per call: a large log reaches the client over several
  // ticks instead of piling up in its connection's queue at once.
  size_t budget = kPumpMax;
  for (;;) {
    if (!fd_.valid()) fd_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_.valid()) break;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd_.get(), buf, std::min(sizeof buf, budget))) > 0) {
      peer_->send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)));
      if (!peer_) return false;
      budget -= static_cast<size_t>(n);
      if (budget == 0) return true;  // the next tick goes on from here
    }
    // Read to its end: if the log was rotated meanwhile, the rest is in the
    // new file at PATH; the file read so far is now NAME.log.1.
    struct stat now, mine;
    if (::stat(path_.c_str(), &now) < 0 || ::fstat(fd_.get(), &mine) < 0 || now.st_ino == mine.st_ino) break;
    fd_.reset();
  }
  if (more_may_come) return true;
  std::shared_ptr<StreamPeer> peer = std::move(peer_);
  peer_.reset();
  peer->send_eof();
  return false;
}

}  // namespace arrow
