// Helpers shared by the unit tests. Golden-file tests, libvirt style:
// compare output with a file under tests/data, regenerate it when
// ARROW_REGENERATE=1 (review the diff), and fail on golden files no test
// used. Also a temporary directory, files and hex dumps.
#pragma once

#include <cppunit/TestAssert.h>

#include <cstddef>
#include <functional>
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

// The golden tests of tests/data/SUBDIR: calls CHECK(dir, name) for every
// file NAME+SUFFIX there (DIR: the directory's absolute path), at least
// MIN_INPUTS of them; CHECK asserts and returns the other files it used (its
// goldens). Fails (CppUnit) when a file of the directory was used by none.
void check_goldens(const std::string& subdir, const std::string& suffix, size_t min_inputs,
                   const std::function<std::vector<std::string>(const std::string& dir,
                                                                const std::string& name)>& check);

// A private directory /tmp/PREFIX-XXXXXX, removed with its contents at the end.
struct TempDir {
  explicit TempDir(const std::string& prefix = "arrow-unittest");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

// Whether PATH names anything (lstat: a dangling link counts).
bool exists(const std::string& path);

// Writes CONTENT to PATH (replacing it); fails (CppUnit) when it cannot.
void write_file(const std::string& path, const std::string& content);

// BYTES as lowercase hex digits, two a byte.
std::string hex(const std::string& bytes);

// An input a parser must refuse, and the exact message it refuses it with.
struct Refusal {
  const char* text;
  const char* message;
};

// Asserts that PARSE(text), a Result, fails with the message of each case
// (and with CODE, unless 0).
template <typename Parse>
void check_refusals(const std::vector<Refusal>& cases, Parse parse, int code = 0) {
  for (const Refusal& c : cases) {
    auto r = parse(c.text);
    CPPUNIT_ASSERT_MESSAGE(c.text, !r.ok());
    if (code) CPPUNIT_ASSERT_EQUAL(code, r.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string(c.message), r.error().message);
  }
}

}  // namespace arrow::test
