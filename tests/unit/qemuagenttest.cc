// The guest agent client (driver/engine/qemu_agent.h) against a scripted
// agent on a socketpair: sync then command, a stale sync answer skipped,
// the agent's error, garbage, an over-long answer, silence (each a clear
// error, the connection dropped and made afresh), a queue of commands in
// order. Also ainit's JSON reader and writer (kernel/ainit_json.h), which
// the guest's agent parses requests with.
#include <cppunit/extensions/HelperMacros.h>
#include <glib.h>
#include <libvirt/virterror.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "driver/engine/json.h"
#include "driver/engine/qemu_agent.h"
#include "kernel/ainit_json.h"

namespace arrow {

namespace {

// The guest's end: reads what the client sent, answers as told.
class Guest {
 public:
  void attach(int fd) { fd_ = fd; }
  ~Guest() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Runs the main loop until the client sent a whole line (after an
  // optional 0xFF); returns it parsed.
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
    if (!line.empty() && line[0] == '\xff') line.erase(0, 1);
    Result<JsonValue> v = json_parse(line);
    CPPUNIT_ASSERT_MESSAGE(line, v.ok());
    return v.value();
  }
  void send(const std::string& text) {
    const ssize_t n = ::write(fd_, text.data(), text.size());
    CPPUNIT_ASSERT_EQUAL(static_cast<ssize_t>(text.size()), n);
  }
  // Answers the sync that comes next; returns its id.
  int64_t answer_sync() {
    JsonValue sync = expect();
    CPPUNIT_ASSERT_EQUAL(std::string("guest-sync-delimited"), sync["execute"].as_string());
    const int64_t id = sync["arguments"]["id"].as_int();
    send("\xff{\"return\": " + std::to_string(id) + "}\n");
    return id;
  }
  bool closed_by_client() {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    char b[256];
    ssize_t n;
    while ((n = ::recv(fd_, b, sizeof b, MSG_DONTWAIT)) > 0) {
    }
    return n == 0;
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

struct Outcome {
  std::optional<Result<JsonValue>> result;
};

void run_until(const Outcome& o, int max_ms = 5000) {
  for (int waited = 0; !o.result && waited < max_ms; waited += 5) {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    if (!o.result) g_usleep(5000);
  }
  CPPUNIT_ASSERT_MESSAGE("no answer", o.result.has_value());
}

}  // namespace

class QemuAgentTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(QemuAgentTest);
  CPPUNIT_TEST(sync_then_command);
  CPPUNIT_TEST(stale_sync_answer_is_skipped);
  CPPUNIT_TEST(agent_error_is_reported);
  CPPUNIT_TEST(garbage_is_a_clear_error_and_reconnects);
  CPPUNIT_TEST(overlong_answer_is_bounded);
  CPPUNIT_TEST(silence_times_out);
  CPPUNIT_TEST(commands_run_in_order);
  CPPUNIT_TEST(unreachable_channel);
  CPPUNIT_TEST(guest_json_reader);
  CPPUNIT_TEST(guest_json_writer);
  CPPUNIT_TEST_SUITE_END();

  std::unique_ptr<Guest> guest_holder_;
  Guest* guest = nullptr;  // the end of the latest connection
  int connects_ = 0;
  std::unique_ptr<QemuAgent> agent_;

 public:
  void setUp() override {
    connects_ = 0;
    agent_ = std::make_unique<QemuAgent>(
        [this]() -> Result<UniqueFd> {
          int sv[2];
          CPPUNIT_ASSERT_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
          connects_++;
          guest_holder_ = std::make_unique<Guest>();
          guest = guest_holder_.get();
          guest->attach(sv[1]);
          return UniqueFd(sv[0]);
        },
        300);
  }
  void tearDown() override {
    agent_.reset();
    guest_holder_.reset();
  }

  Outcome* run(const std::string& cmd, JsonValue args = JsonValue()) {
    auto* o = new Outcome();
    agent_->execute(cmd, std::move(args), [o](Result<JsonValue> r) { o->result = std::move(r); });
    return o;
  }

  void sync_then_command() {
    std::unique_ptr<Outcome> o(run("guest-get-host-name"));
    guest->answer_sync();
    JsonValue cmd = guest->expect();
    CPPUNIT_ASSERT_EQUAL(std::string("guest-get-host-name"), cmd["execute"].as_string());
    CPPUNIT_ASSERT(!cmd.has("arguments"));
    guest->send("{\"return\": {\"host-name\": \"web\"}}\n");
    run_until(*o);
    CPPUNIT_ASSERT(o->result->ok());
    CPPUNIT_ASSERT_EQUAL(std::string("web"), (*o->result)->operator[]("host-name").as_string());
    CPPUNIT_ASSERT(agent_->last_ok());
  }

  void stale_sync_answer_is_skipped() {
    std::unique_ptr<Outcome> o(run("guest-ping"));
    JsonValue sync = guest->expect();
    const int64_t id = sync["arguments"]["id"].as_int();
    // An earlier command's late answer and an old sync's, then the right one.
    guest->send("{\"return\": {}}\n\xff{\"return\": " + std::to_string(id - 1) + "}\n\xff{\"return\": " +
                std::to_string(id) + "}\n");
    JsonValue cmd = guest->expect();
    CPPUNIT_ASSERT_EQUAL(std::string("guest-ping"), cmd["execute"].as_string());
    guest->send("{\"return\": {}}\n");
    run_until(*o);
    CPPUNIT_ASSERT(o->result->ok());
  }

  void agent_error_is_reported() {
    std::unique_ptr<Outcome> o(run("guest-set-time", JsonValue::object({{"time", JsonValue::number(5)}})));
    guest->answer_sync();
    JsonValue cmd = guest->expect();
    CPPUNIT_ASSERT_EQUAL(int64_t{5}, cmd["arguments"]["time"].as_int());
    guest->send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"no clock\"}}\n");
    run_until(*o);
    CPPUNIT_ASSERT(!o->result->ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INTERNAL_ERROR), int(o->result->error().code));
    CPPUNIT_ASSERT(o->result->error().message.find("'guest-set-time': no clock") != std::string::npos);
  }

  void garbage_is_a_clear_error_and_reconnects() {
    std::unique_ptr<Outcome> o(run("guest-ping"));
    guest->answer_sync();
    guest->expect();
    guest->send("\x01\x02 not json at all }}}\n");
    run_until(*o);
    CPPUNIT_ASSERT(!o->result->ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_AGENT_UNRESPONSIVE), int(o->result->error().code));
    CPPUNIT_ASSERT(o->result->error().message.find("Guest agent is not responding") != std::string::npos);
    CPPUNIT_ASSERT(guest->closed_by_client());
    // The next command connects afresh and works.
    std::unique_ptr<Outcome> o2(run("guest-ping"));
    guest->answer_sync();
    guest->expect();
    guest->send("{\"return\": {}}\n");
    run_until(*o2);
    CPPUNIT_ASSERT(o2->result->ok());
    CPPUNIT_ASSERT_EQUAL(2, connects_);
  }

  void overlong_answer_is_bounded() {
    std::unique_ptr<Outcome> o(run("guest-get-fsinfo"));
    guest->answer_sync();
    guest->expect();
    const std::string chunk(1 << 16, 'x');
    for (size_t sent = 0; sent <= QemuAgent::kReplyMax && !o->result; sent += chunk.size()) {
      guest->send(chunk);
      while (g_main_context_iteration(nullptr, FALSE)) {
      }
    }
    run_until(*o);
    CPPUNIT_ASSERT(!o->result->ok());
    CPPUNIT_ASSERT(o->result->error().message.find("too long") != std::string::npos);
  }

  void silence_times_out() {
    std::unique_ptr<Outcome> o(run("guest-ping"));
    guest->expect();  // the sync, never answered
    const gint64 t0 = g_get_monotonic_time();
    run_until(*o);
    const gint64 ms = (g_get_monotonic_time() - t0) / 1000;
    CPPUNIT_ASSERT(!o->result->ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_AGENT_UNRESPONSIVE), int(o->result->error().code));
    CPPUNIT_ASSERT(o->result->error().message.find("no answer within 300 ms") != std::string::npos);
    CPPUNIT_ASSERT(ms < 3000);
    CPPUNIT_ASSERT(!agent_->last_ok());
  }

  void commands_run_in_order() {
    std::unique_ptr<Outcome> a(run("guest-ping")), b(run("guest-get-time"));
    guest->answer_sync();
    CPPUNIT_ASSERT_EQUAL(std::string("guest-ping"), guest->expect()["execute"].as_string());
    guest->send("{\"return\": {}}\n");
    guest->answer_sync();
    CPPUNIT_ASSERT_EQUAL(std::string("guest-get-time"), guest->expect()["execute"].as_string());
    guest->send("{\"return\": 1234}\n");
    run_until(*b);
    CPPUNIT_ASSERT(a->result && a->result->ok());
    CPPUNIT_ASSERT_EQUAL(int64_t{1234}, b->result->value().as_int());
  }

  void unreachable_channel() {
    QemuAgent agent([]() -> Result<UniqueFd> { return make_error(VIR_ERR_OPERATION_FAILED, "no socket"); }, 300);
    Outcome o;
    agent.execute("guest-ping", JsonValue(), [&o](Result<JsonValue> r) { o.result = std::move(r); });
    run_until(o);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_AGENT_UNRESPONSIVE), int(o.result->error().code));
  }

  void guest_json_reader() {
    const char* msg = R"( {"execute": "guest-exec", "arguments": {"path": "/bin/ls", "arg": ["-l", "a\"b\u00e9"],
                       "capture-output": true, "n": -42, "nested": {"x": [1, {"y": null}]}}} )";
    const char* args = json_member(msg, "arguments");
    CPPUNIT_ASSERT(args);
    char buf[64];
    CPPUNIT_ASSERT_EQUAL(0, json_string(json_member(msg, "execute"), buf, sizeof buf));
    CPPUNIT_ASSERT_EQUAL(std::string("guest-exec"), std::string(buf));
    CPPUNIT_ASSERT_EQUAL(0, json_string(json_element(json_member(args, "arg"), 1), buf, sizeof buf));
    CPPUNIT_ASSERT_EQUAL(std::string("a\"b\xc3\xa9"), std::string(buf));
    CPPUNIT_ASSERT(!json_element(json_member(args, "arg"), 2));
    CPPUNIT_ASSERT_EQUAL(1, json_bool(json_member(args, "capture-output")));
    int64_t n = 0;
    CPPUNIT_ASSERT_EQUAL(0, json_int(json_member(args, "n"), &n));
    CPPUNIT_ASSERT_EQUAL(int64_t{-42}, n);
    CPPUNIT_ASSERT(!json_member(args, "missing"));
    CPPUNIT_ASSERT(json_member(args, "nested"));
    // Too long for the buffer, malformed, unterminated, too deep: refused.
    CPPUNIT_ASSERT_EQUAL(-1, json_string("\"abcdef\"", buf, 4));
    CPPUNIT_ASSERT_EQUAL(-1, json_string("\"a\\u0000b\"", buf, sizeof buf));
    CPPUNIT_ASSERT(!json_member("{\"a\": [1, 2", "b"));
    CPPUNIT_ASSERT(!json_skip(std::string(40, '[').c_str()));
    CPPUNIT_ASSERT_EQUAL(-1, json_int("99999999999999999999", &n));
    // Framing: complete, incomplete, not an object.
    const std::string two = "{\"a\": \"}\"}{\"b\": 1}";
    CPPUNIT_ASSERT_EQUAL(10L, json_object_end(two.data(), two.size()));
    CPPUNIT_ASSERT_EQUAL(0L, json_object_end("{\"a\": {", 7));
    CPPUNIT_ASSERT_EQUAL(-1L, json_object_end("garbage", 7));
  }

  void guest_json_writer() {
    char buf[64];
    json_out o{buf, 0, sizeof buf, 0};
    buf[0] = 0;
    json_raw(&o, "[");
    json_str(&o, "a\"\n\x01");
    json_raw(&o, ",");
    json_num(&o, -9223372036854775807LL - 1);
    json_raw(&o, ",");
    json_base64(&o, reinterpret_cast<const unsigned char*>("hi!?"), 4);
    json_raw(&o, "]");
    CPPUNIT_ASSERT_EQUAL(std::string("[\"a\\\"\\u000a\\u0001\",-9223372036854775808,\"aGkhPw==\"]"), std::string(buf));
    unsigned char dec[8];
    CPPUNIT_ASSERT_EQUAL(4L, base64_decode("aGkhPw==", dec, sizeof dec));
    CPPUNIT_ASSERT_EQUAL(0, memcmp(dec, "hi!?", 4));
    CPPUNIT_ASSERT_EQUAL(-1L, base64_decode("a*b", dec, sizeof dec));
    CPPUNIT_ASSERT_EQUAL(-1L, base64_decode("aGkhPw==", dec, 2));
    // Past the buffer: flagged, never written beyond.
    json_out small{buf, 0, 8, 0};
    json_str(&small, "0123456789");
    CPPUNIT_ASSERT(small.overflow);
    CPPUNIT_ASSERT(small.len < 8);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(QemuAgentTest);

}  // namespace arrow
