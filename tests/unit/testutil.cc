// Golden-file helpers shared by the unit tests.
#include "tests/unit/testutil.h"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace arrow::test {

std::string data_dir(const std::string& subdir) {
  const char* src = std::getenv("ARROW_SRCDIR");
  std::string base = src && *src ? src : ARROW_TEST_SRCDIR;
  return base + "/tests/data/" + subdir;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> list_files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
        out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string compare_golden(const std::string& path, const std::string& actual) {
  const char* regen = std::getenv("ARROW_REGENERATE");
  if (regen && std::string(regen) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return {};
  }
  std::ifstream probe(path);
  if (!probe) return "golden file missing: " + path + " (run with ARROW_REGENERATE=1)";
  std::string expected = read_file(path);
  if (expected == actual) return {};
  return "output differs from " + path + "\n--- expected\n" + expected + "\n--- actual\n" + actual;
}

GoldenSet::GoldenSet(std::string dir) : dir_(std::move(dir)) {}

std::vector<std::string> GoldenSet::unused() const {
  std::vector<std::string> out;
  for (const auto& n : list_files(dir_, "")) {
    if (n == "." || n == "..") continue;
    if (!used_.count(n)) out.push_back(n);
  }
  return out;
}

}  // namespace arrow::test
