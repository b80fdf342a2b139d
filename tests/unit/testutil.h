// Helpers for golden-file tests, libvirt style: compare output with a file
// under tests/data, regenerate it when ARROW_REGENERATE=1 (review the diff),
// and fail on golden files no test used.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace arrow::test {

// Absolute path of tests/data/SUBDIR in the source tree (ARROW_SRCDIR or the
// configure-time source directory).
std::string data_dir(const std::string& subdir);

std::string read_file(const std::string& path);

// Lists the files in DIR whose name ends with SUFFIX, sorted, without the dir.
std::vector<std::string> list_files(const std::string& dir, const std::string& suffix);

// Empty string when ACTUAL matches the golden file at PATH (or the file was
// regenerated); otherwise a message with both texts for the assertion.
std::string compare_golden(const std::string& path, const std::string& actual);

// Records which files of a data directory a test consumed; unused() names the
// rest, so stale goldens fail the run.
class GoldenSet {
 public:
  explicit GoldenSet(std::string dir);
  void use(const std::string& name) { used_.insert(name); }
  std::vector<std::string> unused() const;

 private:
  std::string dir_;
  std::set<std::string> used_;
};

}  // namespace arrow::test
