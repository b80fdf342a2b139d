// Helpers shared by the unit tests (golden files, temporary directories).
#include "tests/unit/testutil.h"

#include <cppunit/TestAssert.h>
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
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

void check_goldens(const std::string& subdir, const std::string& suffix, size_t min_inputs,
                   const std::function<std::vector<std::string>(const std::string& dir,
                                                                const std::string& name)>& check) {
  const std::string dir = data_dir(subdir);
  GoldenSet goldens(dir);
  const std::vector<std::string> inputs = list_files(dir, suffix);
  CPPUNIT_ASSERT_MESSAGE("inputs in tests/data/" + subdir, inputs.size() >= min_inputs);
  for (const std::string& file : inputs) {
    goldens.use(file);
    for (const std::string& golden : check(dir, file.substr(0, file.size() - suffix.size()))) goldens.use(golden);
  }
  const std::vector<std::string> unused = goldens.unused();
  CPPUNIT_ASSERT_MESSAGE("unused files in tests/data/" + subdir + ": " + (unused.empty() ? "" : unused[0]),
                         unused.empty());
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  CPPUNIT_ASSERT_MESSAGE("mkdtemp " + tmpl, ::mkdtemp(tmpl.data()) != nullptr);
  path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  CPPUNIT_ASSERT_MESSAGE("cannot write " + path, out.good());
  out << content;
}

std::string hex(const std::string& bytes) {
  std::string out;
  char b[3];
  for (unsigned char c : bytes) {
    std::snprintf(b, sizeof b, "%02x", c);
    out += b;
  }
  return out;
}

}  // namespace arrow::test
