// Unit tests of the per-Arrow log (driver/engine/log_file): rotation by size that
// keeps N old files and leaves an O_APPEND writer writing at the start of
// the fresh log, and the log channel's reader (whole file then EOF; follow
// mode picking up appended and rotated output until the Arrow stops).
#include <cppunit/extensions/HelperMacros.h>
#include <fcntl.h>
#include <glib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "driver/engine/log_file.h"

using namespace arrow;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
}

struct FakePeer final : StreamPeer {
  std::string got;
  bool eof = false;
  void send(std::span<const uint8_t> b) override { got.append(reinterpret_cast<const char*>(b.data()), b.size()); }
  void send_eof() override { eof = true; }
  void abort(const Error&) override { eof = true; }
};

// Runs the main loop until DONE() or 5 s pass.
template <typename F>
void spin_until(F done) {
  const gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (!done() && g_get_monotonic_time() < end) g_main_context_iteration(nullptr, FALSE), g_usleep(10000);
}

}  // namespace

class LogTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(LogTest);
  CPPUNIT_TEST(rotates_by_size_keeping_n);
  CPPUNIT_TEST(appending_writer_survives_rotation);
  CPPUNIT_TEST(reader_whole_file);
  CPPUNIT_TEST(reader_follows_until_stopped);
  CPPUNIT_TEST_SUITE_END();

  std::string dir_, log_;

 public:
  void setUp() override {
    char tmpl[] = "/tmp/arrow-logtest-XXXXXX";
    dir_ = mkdtemp(tmpl);
    log_ = dir_ + "/a.log";
  }
  void tearDown() override {
    for (const char* suffix : {"", ".1", ".2", ".3"}) unlink((log_ + suffix).c_str());
    rmdir(dir_.c_str());
  }

  void rotates_by_size_keeping_n() {
    LogPolicy policy{100, 2};
    CPPUNIT_ASSERT(!log_rotate_if_needed(log_, policy).value());  // no file yet
    append(log_, std::string(100, 'a'));
    CPPUNIT_ASSERT(!log_rotate_if_needed(log_, policy).value());  // at the limit, not past it
    unlink(log_.c_str());
    for (char c : {'b', 'c', 'd'}) {
      append(log_, std::string(101, c));
      CPPUNIT_ASSERT(log_rotate_if_needed(log_, policy).value());
      CPPUNIT_ASSERT_EQUAL(std::string(), slurp(log_));
    }
    // Newest first; the oldest went past keep=2.
    CPPUNIT_ASSERT_EQUAL(std::string(101, 'd'), slurp(log_ + ".1"));
    CPPUNIT_ASSERT_EQUAL(std::string(101, 'c'), slurp(log_ + ".2"));
    CPPUNIT_ASSERT(access((log_ + ".3").c_str(), F_OK) != 0);
  }

  void appending_writer_survives_rotation() {
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);  // as QEMU holds it
    CPPUNIT_ASSERT(fd >= 0);
    CPPUNIT_ASSERT_EQUAL(ssize_t{20}, write(fd, "01234567890123456789", 20));
    CPPUNIT_ASSERT(log_rotate_if_needed(log_, LogPolicy{10, 1}).value());
    // The old descriptor writes on into the rotated file; the log is new.
    CPPUNIT_ASSERT_EQUAL(ssize_t{4}, write(fd, "next", 4));
    close(fd);
    CPPUNIT_ASSERT(access(log_.c_str(), F_OK) != 0);
    CPPUNIT_ASSERT_EQUAL(std::string("01234567890123456789next"), slurp(log_ + ".1"));
    append(log_, "x");
    CPPUNIT_ASSERT(!log_rotate_if_needed(log_, LogPolicy{10, 1}).value());
    CPPUNIT_ASSERT(log_rotate_if_needed(log_, LogPolicy{0, 0}).value());  // keep 0: truncated in place
    CPPUNIT_ASSERT_EQUAL(std::string(), slurp(log_));
  }

  void reader_whole_file() {
    std::string big;
    for (int i = 0; i < 20000; i++) big += std::to_string(i) + "\n";
    append(log_, big);
    auto peer = std::make_shared<FakePeer>();
    auto reader = LogReader::start(log_, false, nullptr, peer);
    CPPUNIT_ASSERT(peer->eof);
    CPPUNIT_ASSERT(peer->got == big);
  }

  void reader_follows_until_stopped() {
    append(log_, "one\n");
    bool running = true;
    auto peer = std::make_shared<FakePeer>();
    auto reader = LogReader::start(log_, true, [&] { return running; }, peer);
    CPPUNIT_ASSERT_EQUAL(std::string("one\n"), peer->got);
    append(log_, "two\n");
    spin_until([&] { return peer->got.size() == 8; });
    CPPUNIT_ASSERT_EQUAL(std::string("one\ntwo\n"), peer->got);
    CPPUNIT_ASSERT(log_rotate_if_needed(log_, LogPolicy{1, 1}).value());
    append(log_, "3\n");
    running = false;  // the last output before the stop still arrives
    spin_until([&] { return peer->eof; });
    CPPUNIT_ASSERT(peer->eof);
    CPPUNIT_ASSERT_EQUAL(std::string("one\ntwo\n3\n"), peer->got);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LogTest);
