// Unit tests of the driver's durable files (driver/arrow/arrow_persist): atomic
// replacement, loading a config directory where torn or invalid files are
// moved aside while the rest loads, leftovers of interrupted writes, and the
// autostart links.
#include <cppunit/extensions/HelperMacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>

#include "driver/arrow/arrow_persist.h"
#include "tests/unit/testutil.h"
#include "util/i18n.h"

using namespace arrow;
using arrow::test::exists;

class PersistTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(PersistTest);
  CPPUNIT_TEST(atomic_write_replaces);
  CPPUNIT_TEST(atomic_write_failure_leaves_old);
  CPPUNIT_TEST(load_moves_bad_files_aside);
  CPPUNIT_TEST(load_removes_interrupted_temps);
  CPPUNIT_TEST(reload_after_write);
  CPPUNIT_TEST(autostart_links);
  CPPUNIT_TEST(make_dirs_nested);
  CPPUNIT_TEST_SUITE_END();

 public:
  void atomic_write_replaces() {
    test::TempDir dir("persisttest");
    std::string path = dir.path + "/web.xml";
    CPPUNIT_ASSERT(write_file_atomic(path, "one").ok());
    CPPUNIT_ASSERT_EQUAL(std::string("one"), read_whole_file(path).value());
    CPPUNIT_ASSERT(write_file_atomic(path, "two, longer").ok());
    CPPUNIT_ASSERT_EQUAL(std::string("two, longer"), read_whole_file(path).value());
    struct stat st;
    CPPUNIT_ASSERT(::stat(path.c_str(), &st) == 0);
    CPPUNIT_ASSERT_EQUAL(0600u, unsigned(st.st_mode & 07777));
    // Nothing but the file itself is left in the directory.
    LoadReport r = load_config_dir(dir.path, [](const std::string&, const std::string&) { return Status(); },
                                   [](const std::string&) {});
    CPPUNIT_ASSERT_EQUAL(size_t(1), r.loaded.size());
    CPPUNIT_ASSERT(r.removed_temps.empty());
  }

  void atomic_write_failure_leaves_old() {
    test::TempDir dir("persisttest");
    std::string path = dir.path + "/web.xml";
    CPPUNIT_ASSERT(write_file_atomic(path, "old").ok());
    // A directory in place of the target makes the rename fail.
    std::string blocked = dir.path + "/blocked.xml";
    CPPUNIT_ASSERT(::mkdir(blocked.c_str(), 0700) == 0);
    test::write_file(blocked + "/x", "x");
    Status st = write_file_atomic(blocked, "new");
    CPPUNIT_ASSERT(!st.ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_SYSTEM_ERROR), st.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("old"), read_whole_file(path).value());
    // The temporary file was cleaned up.
    LoadReport r = load_config_dir(dir.path, [](const std::string&, const std::string&) { return Status(); },
                                   [](const std::string&) {});
    CPPUNIT_ASSERT(r.removed_temps.empty());
    // Writing into a missing directory fails cleanly.
    CPPUNIT_ASSERT(!write_file_atomic(dir.path + "/missing/x.xml", "x").ok());
  }

  void load_moves_bad_files_aside() {
    test::TempDir dir("persisttest");
    test::write_file(dir.path + "/a.xml", "<good/>");
    test::write_file(dir.path + "/b.xml", "<dom");  // torn
    test::write_file(dir.path + "/c.xml", "<good/>");
    test::write_file(dir.path + "/b.xml.invalid", "an older casualty");
    test::write_file(dir.path + "/notes.txt", "not a config");
    std::map<std::string, std::string> accepted;
    std::vector<std::string> logged;
    LoadReport r = load_config_dir(
        dir.path,
        [&](const std::string& name, const std::string& content) -> Status {
          if (content != "<good/>") return make_error(VIR_ERR_XML_ERROR, "bad config");
          accepted[name] = content;
          return {};
        },
        [&](const std::string& line) { logged.push_back(line); });
    CPPUNIT_ASSERT_EQUAL(size_t(2), accepted.size());
    CPPUNIT_ASSERT(accepted.count("a") && accepted.count("c"));
    CPPUNIT_ASSERT_EQUAL(size_t(1), r.moved_aside.size());
    CPPUNIT_ASSERT_EQUAL(dir.path + "/b.xml.invalid.1", r.moved_aside[0]);
    CPPUNIT_ASSERT(!exists(dir.path + "/b.xml"));
    CPPUNIT_ASSERT_EQUAL(std::string("<dom"), read_whole_file(dir.path + "/b.xml.invalid.1").value());
    CPPUNIT_ASSERT_EQUAL(size_t(1), logged.size());
    CPPUNIT_ASSERT(logged[0].find("b.xml") != std::string::npos);
    CPPUNIT_ASSERT(logged[0].find("bad config") != std::string::npos);
    // A second load sees only the good ones.
    LoadReport again = load_config_dir(dir.path, [](const std::string&, const std::string&) { return Status(); },
                                       [](const std::string&) {});
    CPPUNIT_ASSERT_EQUAL(size_t(2), again.loaded.size());
  }

  void load_removes_interrupted_temps() {
    test::TempDir dir("persisttest");
    test::write_file(dir.path + "/a.xml", "<good/>");
    test::write_file(dir.path + "/a.xml.tmp-Ab12Cd", "<half");  // a crash before the rename
    LoadReport r = load_config_dir(dir.path, [](const std::string&, const std::string&) { return Status(); },
                                   [](const std::string&) {});
    CPPUNIT_ASSERT_EQUAL(size_t(1), r.loaded.size());
    CPPUNIT_ASSERT_EQUAL(size_t(1), r.removed_temps.size());
    CPPUNIT_ASSERT(!exists(dir.path + "/a.xml.tmp-Ab12Cd"));
    CPPUNIT_ASSERT(r.moved_aside.empty());
  }

  void reload_after_write() {
    test::TempDir dir("persisttest");
    for (int i = 0; i < 20; ++i)
      CPPUNIT_ASSERT(write_file_atomic(dir.path + "/" + std::to_string(i) + ".xml", std::to_string(i * i)).ok());
    std::map<std::string, std::string> seen;
    LoadReport r = load_config_dir(
        dir.path,
        [&](const std::string& name, const std::string& content) {
          seen[name] = content;
          return Status();
        },
        [](const std::string&) {});
    CPPUNIT_ASSERT_EQUAL(size_t(20), r.loaded.size());
    CPPUNIT_ASSERT_EQUAL(std::string("49"), seen["7"]);
    CPPUNIT_ASSERT(load_config_dir(dir.path + "/none", [](const std::string&, const std::string&) { return Status(); },
                                   [](const std::string&) {})
                       .loaded.empty());
  }

  void autostart_links() {
    test::TempDir dir("persisttest");
    test::write_file(dir.path + "/web.xml", "<x/>");
    CPPUNIT_ASSERT(!autostart_link_exists(dir.path, "web"));
    CPPUNIT_ASSERT(set_autostart_link(dir.path, "web", true).ok());
    CPPUNIT_ASSERT(set_autostart_link(dir.path, "web", true).ok());  // idempotent
    CPPUNIT_ASSERT(autostart_link_exists(dir.path, "web"));
    char target[256] = {};
    CPPUNIT_ASSERT(::readlink(autostart_link_path(dir.path, "web").c_str(), target, sizeof target - 1) > 0);
    CPPUNIT_ASSERT_EQUAL(std::string("../web.xml"), std::string(target));
    CPPUNIT_ASSERT_EQUAL(std::string("<x/>"), read_whole_file(autostart_link_path(dir.path, "web")).value());
    CPPUNIT_ASSERT(set_autostart_link(dir.path, "web", false).ok());
    CPPUNIT_ASSERT(set_autostart_link(dir.path, "web", false).ok());
    CPPUNIT_ASSERT(!autostart_link_exists(dir.path, "web"));
  }

  void make_dirs_nested() {
    test::TempDir dir("persisttest");
    CPPUNIT_ASSERT(make_dirs(dir.path + "/a/b/c", 0700).ok());
    CPPUNIT_ASSERT(exists(dir.path + "/a/b/c"));
    CPPUNIT_ASSERT(make_dirs(dir.path + "/a/b/c", 0700).ok());
    test::write_file(dir.path + "/file", "x");
    CPPUNIT_ASSERT(!make_dirs(dir.path + "/file", 0700).ok());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PersistTest);
