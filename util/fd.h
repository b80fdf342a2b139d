// RAII owners for raw OS resources: file descriptors and socket paths.
#pragma once

#include <unistd.h>

#include <string>
#include <utility>

namespace arrow {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Unlinks a filesystem path (a socket, a pid file, a temporary file) when it
// goes out of scope, unless released.
class UniquePath {
 public:
  UniquePath() = default;
  explicit UniquePath(std::string path) : path_(std::move(path)) {}
  UniquePath(const UniquePath&) = delete;
  UniquePath& operator=(const UniquePath&) = delete;
  UniquePath(UniquePath&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  UniquePath& operator=(UniquePath&& o) noexcept {
    if (this != &o) {
      reset();
      path_ = std::exchange(o.path_, {});
    }
    return *this;
  }
  ~UniquePath() { reset(); }

  const std::string& get() const { return path_; }
  std::string release() { return std::exchange(path_, {}); }
  void reset() {
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
  }

 private:
  std::string path_;
};

}  // namespace arrow
