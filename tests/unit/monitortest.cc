// The QMP client against a scripted QMP peer on a socketpair: greeting and
// capabilities negotiation, commands queued before it, replies matched by id
// (also out of order), QEMU errors, events, split and garbled input, and the
// connection closing under pending commands. Also the JSON reader/writer.
#include <cppunit/extensions/HelperMacros.h>
#include <glib.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver/engine/fd_stream.h"
#include "driver/engine/json.h"
#include "driver/engine/qemu_monitor.h"

namespace arrow {

namespace {

const char kGreeting[] =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}})";

// The QEMU side of the socket, driven step by step by the test.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {}
  ~Peer() { close_peer(); }
  void send(const std::string& text) {
    const ssize_t n = ::write(fd_, text.data(), text.size());
    CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(text.size()), n);
  }
  void send_line(const std::string& json) { send(json + "\r\n"); }
  // Runs the main loop until the client sent a whole line; returns it parsed.
  JsonValue expect() {
    for (int spins = 0; buf_.find('\n') == std::string::npos; spins++) {
      CPPUNIT_ASSERT_MESSAGE("the client sent nothing", spins < 2000);
      while (g_main_context_iteration(nullptr, FALSE)) {
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5) == 1) {
        char b[4096];
        const ssize_t n = ::read(fd_, b, sizeof b);
        if (n > 0) buf_.append(b, static_cast<size_t>(n));
      }
    }
    const size_t nl = buf_.find('\n');
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    CPPUNIT_ASSERT_MESSAGE("QMP lines end with CRLF", !line.empty() && line.back() == '\r');
    Result<JsonValue> v = json_parse(line);
    CPPUNIT_ASSERT_MESSAGE(line, v.ok());
    return v.value();
  }
  void close_peer() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  std::string buf_;
};

void spin_until(const std::function<bool()>& done) {
  for (int i = 0; i < 2000 && !done(); i++) {
    g_main_context_iteration(nullptr, FALSE);
    g_usleep(1000);
  }
  CPPUNIT_ASSERT(done());
}

}  // namespace

// FdStream, under the QMP client, the Anotify channel and the console: a peer
// that never reads (a guest ignoring its port while the daemon acknowledges
// its OUTPUT_END frames) cannot make the queue grow past its limit; what was
// queued still arrives whole once the peer reads.
void stream_write_queue_is_bounded() {
  int sv[2];
  CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  UniqueFd reader(sv[1]);
  FdStream stream(UniqueFd(sv[0]), nullptr, nullptr);
  stream.set_write_limit(64 * 1024);
  const std::vector<uint8_t> ack(8, 0x41);
  size_t accepted = 0;
  Status refused;
  for (int i = 0; i < 1000000 && refused.ok(); i++) {
    refused = stream.write(ack);
    if (refused.ok()) accepted += ack.size();
  }
  CPPUNIT_ASSERT(!refused.ok());
  CPPUNIT_ASSERT(refused.error().message.find("not reading") != std::string::npos);
  CPPUNIT_ASSERT(stream.queued() <= 64 * 1024);
  size_t got = 0;
  char buf[65536];
  while (got < accepted) {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    pollfd p{reader.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) break;
    const ssize_t n = ::read(reader.get(), buf, sizeof buf);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  CPPUNIT_ASSERT_EQUAL(accepted, got);
  CPPUNIT_ASSERT_EQUAL(size_t(0), stream.queued());
}

class MonitorTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MonitorTest);
  CPPUNIT_TEST(test_json);
  CPPUNIT_TEST(test_negotiation_and_queue);
  CPPUNIT_TEST(test_replies_by_id_and_errors);
  CPPUNIT_TEST(test_events);
  CPPUNIT_TEST(test_close_fails_pending);
  CPPUNIT_TEST(test_garbage_closes);
  CPPUNIT_TEST(test_stream_write_queue_is_bounded);
  CPPUNIT_TEST_SUITE_END();

  std::unique_ptr<QmpMonitor> mon_;
  std::unique_ptr<Peer> peer_;
  int ready_ = 0;
  int closed_ = 0;
  std::string closed_message_;
  std::vector<QmpEvent> events_;

 public:
  void test_stream_write_queue_is_bounded() { stream_write_queue_is_bounded(); }

  void setUp() override {
    int sv[2];
    CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    peer_ = std::make_unique<Peer>(sv[1]);
    QmpMonitor::Callbacks cb;
    cb.ready = [this] { ready_++; };
    cb.event = [this](const QmpEvent& e) { events_.push_back(e); };
    cb.closed = [this](const Error& e) {
      closed_++;
      closed_message_ = e.message;
    };
    mon_ = std::make_unique<QmpMonitor>(UniqueFd(sv[0]), std::move(cb));
    ready_ = closed_ = 0;
    events_.clear();
  }

  void tearDown() override {
    mon_.reset();
    peer_.reset();
  }

  // Greeting, then capabilities; returns the id the client used.
  void negotiate() {
    peer_->send_line(kGreeting);
    JsonValue caps = peer_->expect();
    CPPUNIT_ASSERT_EQUAL(std::string("qmp_capabilities"), caps["execute"].as_string());
    peer_->send_line(R"({"return": {}, "id": )" + caps["id"].to_string() + "}");
    spin_until([this] { return ready_ == 1; });
  }

  void test_json() {
    Result<JsonValue> v = json_parse(R"( {"a": [1, -2, 3.5, true, false, null], "s": "x\"\\\n\u00e9\ud83d\ude00", "o": {}} )");
    CPPUNIT_ASSERT(v.ok());
    CPPUNIT_ASSERT_EQUAL(int64_t(-2), v.value()["a"].items()[1].as_int());
    CPPUNIT_ASSERT_EQUAL(3.5, v.value()["a"].items()[2].as_double());
    CPPUNIT_ASSERT_EQUAL(std::string("x\"\\\n\xc3\xa9\xf0\x9f\x98\x80"), v.value()["s"].as_string());
    CPPUNIT_ASSERT_EQUAL(std::string(R"({"a":[1,-2,3.5,true,false,null],"s":"x\"\\\n)" "\xc3\xa9\xf0\x9f\x98\x80" R"(","o":{}})"),
                         v.value().to_string());
    for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "\"\\x\"", "01x", "nul", "{\"a\":1} 2", "\"\x01\""})
      CPPUNIT_ASSERT_MESSAGE(bad, !json_parse(bad).ok());
    std::string deep(100, '[');
    CPPUNIT_ASSERT(!json_parse(deep + std::string(100, ']')).ok());
  }

  void test_negotiation_and_queue() {
    std::string got;
    mon_->execute("query-status", [&](Result<JsonValue> r) { got = r.ok() ? r.value()["status"].as_string() : "error"; });
    CPPUNIT_ASSERT(!mon_->ready());
    // The greeting arrives split in two writes.
    const std::string greeting = std::string(kGreeting) + "\r\n";
    peer_->send(greeting.substr(0, 20));
    peer_->send(greeting.substr(20));
    JsonValue caps = peer_->expect();
    CPPUNIT_ASSERT_EQUAL(std::string("qmp_capabilities"), caps["execute"].as_string());
    CPPUNIT_ASSERT_EQUAL(0, ready_);
    peer_->send_line(R"({"return": {}, "id": )" + caps["id"].to_string() + "}");
    JsonValue q = peer_->expect();  // the queued command goes out only now
    CPPUNIT_ASSERT_EQUAL(std::string("query-status"), q["execute"].as_string());
    CPPUNIT_ASSERT_EQUAL(1, ready_);
    CPPUNIT_ASSERT_EQUAL(int64_t(7), mon_->greeting()["QMP"]["version"]["qemu"]["major"].as_int());
    peer_->send_line(R"({"return": {"status": "running", "running": true}, "id": )" + q["id"].to_string() + "}");
    spin_until([&] { return !got.empty(); });
    CPPUNIT_ASSERT_EQUAL(std::string("running"), got);
  }

  void test_replies_by_id_and_errors() {
    negotiate();
    std::string first, second;
    JsonValue args = JsonValue::object();
    args.set("device", JsonValue::string("x,y"));
    mon_->execute("first", args, [&](Result<JsonValue> r) { first = r.ok() ? "ok" : r.error().message; });
    mon_->execute("second", [&](Result<JsonValue> r) { second = r.ok() ? r.value().as_string() : "error"; });
    JsonValue a = peer_->expect();
    JsonValue b = peer_->expect();
    CPPUNIT_ASSERT_EQUAL(std::string("x,y"), a["arguments"]["device"].as_string());
    CPPUNIT_ASSERT(!b.has("arguments"));
    // Answered in reverse order; the first with a QEMU error.
    peer_->send_line(R"({"return": "two", "id": )" + b["id"].to_string() + "}");
    peer_->send_line(R"({"error": {"class": "GenericError", "desc": "No such thing"}, "id": )" + a["id"].to_string() + "}");
    spin_until([&] { return !first.empty() && !second.empty(); });
    CPPUNIT_ASSERT_EQUAL(std::string("two"), second);
    CPPUNIT_ASSERT(first.find("No such thing") != std::string::npos);
    CPPUNIT_ASSERT(first.find("'first'") != std::string::npos);
  }

  void test_events() {
    negotiate();
    peer_->send_line(R"({"timestamp": {"seconds": 1700000000, "microseconds": 42}, "event": "STOP"})");
    peer_->send_line(R"({"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}})");
    peer_->send_line(R"({"event": "RESET", "data": {"guest": true, "reason": "guest-reset"}})");
    peer_->send_line(R"({"event": "GUEST_PANICKED", "data": {"action": "pause"}})");
    peer_->send_line(R"({"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-reset"}})");
    peer_->send_line(R"({"event": "NIC_RX_FILTER_CHANGED", "data": {}})");
    spin_until([this] { return events_.size() == 6; });
    const QmpEventKind kinds[] = {QmpEventKind::Stop, QmpEventKind::Resume, QmpEventKind::Reset,
                                  QmpEventKind::GuestPanicked, QmpEventKind::Shutdown, QmpEventKind::Other};
    for (size_t i = 0; i < 6; i++) CPPUNIT_ASSERT(kinds[i] == events_[i].kind);
    CPPUNIT_ASSERT_EQUAL(int64_t(1700000000), events_[0].seconds);
    CPPUNIT_ASSERT_EQUAL(int64_t(42), events_[0].microseconds);
    CPPUNIT_ASSERT_EQUAL(std::string("guest-reset"), events_[4].shutdown_reason());
    CPPUNIT_ASSERT(events_[4].shutdown_by_guest());
    CPPUNIT_ASSERT_EQUAL(std::string(""), events_[2].shutdown_reason());
    CPPUNIT_ASSERT_EQUAL(std::string("NIC_RX_FILTER_CHANGED"), events_[5].name);
    CPPUNIT_ASSERT_EQUAL(std::string("SHUTDOWN"), std::string(qmp_event_kind_to_string(QmpEventKind::Shutdown)));
  }

  void test_close_fails_pending() {
    negotiate();
    int failures = 0;
    mon_->execute("quit", [&](Result<JsonValue> r) { failures += !r.ok(); });
    peer_->expect();
    peer_->close_peer();
    spin_until([this] { return closed_ == 1; });
    CPPUNIT_ASSERT_EQUAL(1, failures);
    mon_->execute("late", [&](Result<JsonValue> r) { failures += !r.ok(); });
    CPPUNIT_ASSERT_EQUAL(2, failures);
    CPPUNIT_ASSERT_EQUAL(1, closed_);
    CPPUNIT_ASSERT(!mon_->is_open());
  }

  void test_garbage_closes() {
    negotiate();
    peer_->send_line("this is not json");
    spin_until([this] { return closed_ == 1; });
    CPPUNIT_ASSERT(!mon_->is_open());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MonitorTest);

}  // namespace arrow
