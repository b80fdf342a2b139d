// Unit tests of the RPC server over a socketpair and the fake driver: the
// procedure table, byte-exact replies and events from the reference, errors
// (unknown, unsupported, read-only, before open), replies out of order behind a
// slow call, malformed frames, keepalive pings.
#include <cppunit/extensions/HelperMacros.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>

#include "driver/remote/remote_procs.h"
#include "driver/remote/remote_program.h"
#include "driver/daemon/daemon_conf.h"
#include "driver/rpc/server.h"
#include "tests/unit/fake_driver.h"

using namespace arrow;
using namespace arrow::rpc;
using namespace arrow::remote;
using namespace arrow::daemon;

namespace {

std::string hex(const std::string& bytes) {
  std::string out;
  char b[3];
  for (unsigned char c : bytes) {
    std::snprintf(b, sizeof b, "%02x", c);
    out += b;
  }
  return out;
}

struct Frame {
  MessageHeader h;
  std::string payload;
  std::string raw;
};

// The test's end of a socketpair whose other end the Server serves.
class Peer {
 public:
  Peer(Server& server, bool readonly) {
    int sv[2];
    CPPUNIT_ASSERT_EQUAL(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    fd_.reset(sv[0]);
    server.add_client(UniqueFd(sv[1]), readonly);
  }
  void send_raw(const std::string& bytes) {
    CPPUNIT_ASSERT_EQUAL(ssize_t(bytes.size()), ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL));
  }
  void call(int proc, uint32_t serial, const std::string& args = {}) {
    MessageHeader h{kRemoteProgram, 1, proc, MessageType::Call, serial, MessageStatus::Ok};
    send_raw(encode_frame(h, args));
  }
  // Runs the main loop until a whole frame arrived (or TIMEOUT_MS passed).
  std::optional<Frame> next(int timeout_ms = 3000) {
    gint64 deadline = g_get_monotonic_time() + gint64{timeout_ms} * 1000;
    while (g_get_monotonic_time() < deadline) {
      if (auto f = take()) return f;
      char buf[4096];
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, size_t(n));
        continue;
      }
      if (n == 0) {
        eof_ = true;
        return std::nullopt;
      }
      g_main_context_iteration(nullptr, FALSE);
      g_usleep(1000);
    }
    return std::nullopt;
  }
  Frame reply(int proc, uint32_t serial, const std::string& args = {}) {
    call(proc, serial, args);
    auto f = next();
    CPPUNIT_ASSERT(f.has_value());
    CPPUNIT_ASSERT_EQUAL(serial, f->h.serial);
    return *f;
  }
  bool eof() const { return eof_; }

 private:
  std::optional<Frame> take() {
    if (in_.size() < 4) return std::nullopt;
    XdrReader lr(in_.data(), 4);
    uint32_t len = lr.u32();
    if (in_.size() < len) return std::nullopt;
    Frame f;
    f.raw = in_.substr(0, len);
    XdrReader r(in_.data() + 4, len - 4);
    f.h = decode_header(r);
    f.payload = in_.substr(28, len - 28);
    in_.erase(0, len);
    return f;
  }
  UniqueFd fd_;
  std::string in_;
  bool eof_ = false;
};

struct WireError {
  int code, domain;
  std::string message;
};

WireError error_of(const Frame& f) {
  CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Error), int(f.h.status));
  XdrReader r(f.payload.data(), f.payload.size());
  WireError e;
  e.code = r.i32();
  e.domain = r.i32();
  e.message = r.optional_string(kStringMax).value_or("");
  return e;
}

std::string args_str(const std::string& s) {
  XdrWriter w;
  w.string(s);
  return w.bytes();
}

std::string open_args(unsigned flags) {
  XdrWriter w;
  w.optional_string(std::string("arrow:///system"));
  w.u32(flags);
  return w.bytes();
}

const char* kXml = "<domain type='arrow'><name>%s</name><uuid>%s</uuid></domain>";

std::string domain_xml(const char* name, const char* uuid) {
  char buf[256];
  std::snprintf(buf, sizeof buf, kXml, name, uuid);
  return buf;
}

}  // namespace

class RpcTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(RpcTest);
  CPPUNIT_TEST(table_is_sorted_and_complete);
  CPPUNIT_TEST(handshake_is_byte_exact);
  CPPUNIT_TEST(calls_before_open_fail);
  CPPUNIT_TEST(unknown_and_unsupported_procedures);
  CPPUNIT_TEST(read_only_connection_refuses_writes);
  CPPUNIT_TEST(read_only_refuses_every_write_procedure);
  CPPUNIT_TEST(every_procedure_answers_on_read_only);
  CPPUNIT_TEST(lookup_error_is_no_domain);
  CPPUNIT_TEST(slow_call_does_not_block_others);
  CPPUNIT_TEST(lifecycle_event_is_byte_exact);
  CPPUNIT_TEST(malformed_frame_closes_only_that_client);
  CPPUNIT_TEST(keepalive_pings_silent_client);
  CPPUNIT_TEST(daemon_conf_parses);
  CPPUNIT_TEST(daemon_conf_errors_name_line_and_key);
  CPPUNIT_TEST_SUITE_END();

 public:
  void setUp() override {
    driver_ = std::make_unique<test::FakeDriver>();
    program_ = std::make_unique<remote::RemoteProgram>(*driver_, "arrow:///system");
    ServerOptions o;
    o.keepalive_interval_s = 1;
    o.keepalive_count = 2;
    server_ = std::make_unique<Server>(*program_, o);
  }
  void tearDown() override {
    server_.reset();
    program_.reset();
    driver_.reset();
  }

  void table_is_sorted_and_complete() {
    auto t = proc_table();
    CPPUNIT_ASSERT_EQUAL(size_t(443), t.size());  // libvirt 9.0: procedures 1..443
    for (size_t i = 0; i < t.size(); i++) {
      CPPUNIT_ASSERT_EQUAL(int(i) + 1, t[i].number);
      CPPUNIT_ASSERT(t[i].name && *t[i].name);
      // Events are messages from the server: no API, never a handler.
      CPPUNIT_ASSERT_EQUAL(t[i].access == Access::Event, t[i].api == nullptr);
      CPPUNIT_ASSERT(t[i].access != Access::Event || !t[i].handler);
      CPPUNIT_ASSERT(!t[i].api || std::strncmp(t[i].api, "vir", 3) == 0);
    }
    CPPUNIT_ASSERT_EQUAL(std::string("DOMAIN_FD_ASSOCIATE"), std::string(find_proc(443)->name));
    CPPUNIT_ASSERT(find_proc(107)->access == Access::Event);  // DOMAIN_EVENT_LIFECYCLE
    CPPUNIT_ASSERT(!find_callable_proc(107) && find_callable_proc(106));
    CPPUNIT_ASSERT(!find_proc(0) && !find_proc(444) && !find_proc(-1));
    CPPUNIT_ASSERT(find_proc(273) && find_proc(273)->handler);
    CPPUNIT_ASSERT(find_proc(52) && !find_proc(52)->handler);
    CPPUNIT_ASSERT(!find_proc(9999));
    CPPUNIT_ASSERT(find_proc(11)->access == Access::Write);
    CPPUNIT_ASSERT(find_proc(316)->access == Access::ReadOnly);
  }

  // Appendix A of the reference: AUTH_LIST and OPEN replies.
  void handshake_is_byte_exact() {
    Peer p(*server_, false);
    CPPUNIT_ASSERT_EQUAL(std::string("0000002420008086000000010000004200000001000000000000000000000001" "00000000"),
                         hex(p.reply(66, 0).raw));
    CPPUNIT_ASSERT_EQUAL(std::string("0000001c20008086000000010000000100000001000000020000000" "0"),
                         hex(p.reply(1, 2, open_args(0)).raw));
    Frame f = p.reply(1, 3, open_args(0));  // a second OPEN fails, the connection stays
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INTERNAL_ERROR), error_of(f).code);
    Frame v = p.reply(157, 4);
    XdrReader r(v.payload.data(), v.payload.size());
    CPPUNIT_ASSERT(r.u64() >= 9000000);
  }

  void calls_before_open_fail() {
    Peer p(*server_, false);
    WireError e = error_of(p.reply(273, 0));
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INTERNAL_ERROR), e.code);
    CPPUNIT_ASSERT(e.domain != 7 && e.domain != 13);
    XdrWriter feat;
    feat.i32(10);
    Frame f = p.reply(60, 1, feat.bytes());
    CPPUNIT_ASSERT_EQUAL(std::string("00000001"), hex(f.payload));
  }

  void unknown_and_unsupported_procedures() {
    Peer p(*server_, false);
    p.reply(1, 0, open_args(0));
    WireError e = error_of(p.reply(9999, 1));
    CPPUNIT_ASSERT_EQUAL(39, e.code);
    CPPUNIT_ASSERT_EQUAL(7, e.domain);
    CPPUNIT_ASSERT_EQUAL(std::string("unknown procedure: 9999"), e.message);
    e = error_of(p.reply(52, 2));
    CPPUNIT_ASSERT_EQUAL(3, e.code);
    CPPUNIT_ASSERT_EQUAL(19, e.domain);
    CPPUNIT_ASSERT_EQUAL(
        std::string("this function is not supported by the connection driver: virConnectNumOfNetworks"), e.message);
    Frame ok = p.reply(3, 3);  // still connected
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(ok.h.status));
  }

  void read_only_connection_refuses_writes() {
    Peer ro(*server_, true);  // as if accepted on the -ro socket
    ro.reply(1, 0, open_args(0));
    WireError e = error_of(ro.reply(11, 1, args_str(domain_xml("a", "11111111-1111-1111-1111-111111111111"))));
    CPPUNIT_ASSERT_EQUAL(29, e.code);
    CPPUNIT_ASSERT_EQUAL(std::string("operation forbidden: read only access prevents virDomainDefineXML"), e.message);
    Peer rw(*server_, false);  // RO by the OPEN flag
    rw.reply(1, 0, open_args(1));
    Frame denied = rw.reply(11, 1, args_str(domain_xml("a", "11111111-1111-1111-1111-111111111111")));
    CPPUNIT_ASSERT_EQUAL(29, error_of(denied).code);
    XdrWriter list;
    list.i32(1);
    list.u32(0);
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(rw.reply(273, 2, list.bytes()).h.status));
  }

  // Every Write row, implemented or not, is refused on a read-only connection
  // before its arguments are looked at, with libvirt's message naming the API.
  void read_only_refuses_every_write_procedure() {
    Peer ro(*server_, true);
    ro.reply(1, 0, open_args(0));
    uint32_t serial = 1;
    int writes = 0;
    for (const ProcRow& row : proc_table()) {
      if (row.access != Access::Write) continue;
      writes++;
      WireError e = error_of(ro.reply(row.number, serial++));
      CPPUNIT_ASSERT_EQUAL_MESSAGE(row.name, int(VIR_ERR_OPERATION_DENIED), e.code);
      CPPUNIT_ASSERT_EQUAL_MESSAGE(row.name, "operation forbidden: read only access prevents " + std::string(row.api),
                                   e.message);
    }
    CPPUNIT_ASSERT(writes > 150);
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(ro.reply(3, serial).h.status));  // still connected
  }

  // The other rows on a read-only connection: unimplemented ones answer
  // NO_SUPPORT naming the API, events "unknown procedure"; none drops the
  // connection. (Implemented read procedures are covered by rpc_fake.py.)
  void every_procedure_answers_on_read_only() {
    Peer ro(*server_, true);
    ro.reply(1, 0, open_args(0));
    uint32_t serial = 1;
    for (const ProcRow& row : proc_table()) {
      if (row.access == Access::Write || row.handler) continue;
      WireError e = error_of(ro.reply(row.number, serial++));
      if (row.access == Access::Event) {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(row.name, int(VIR_ERR_RPC), e.code);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(row.name, "unknown procedure: " + std::to_string(row.number), e.message);
      } else {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(row.name, int(VIR_ERR_NO_SUPPORT), e.code);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(
            row.name, "this function is not supported by the connection driver: " + std::string(row.api), e.message);
      }
    }
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(ro.reply(3, serial).h.status));
  }

  void lookup_error_is_no_domain() {
    Peer p(*server_, false);
    p.reply(1, 0, open_args(0));
    WireError e = error_of(p.reply(23, 1, args_str("x")));
    CPPUNIT_ASSERT_EQUAL(42, e.code);
    CPPUNIT_ASSERT_EQUAL(20, e.domain);
    CPPUNIT_ASSERT_EQUAL(std::string("Domain not found: no domain with matching name 'x'"), e.message);
  }

  void slow_call_does_not_block_others() {
    Peer p(*server_, false);
    p.reply(1, 0, open_args(0));
    Frame slow = p.reply(11, 1, args_str(domain_xml("slow1", "22222222-2222-2222-2222-222222222222")));
    Frame fast = p.reply(11, 2, args_str(domain_xml("fast1", "33333333-3333-3333-3333-333333333333")));
    XdrReader rs(slow.payload.data(), slow.payload.size());
    DomainRef slow_dom = read_domain(rs);
    XdrReader rf(fast.payload.data(), fast.payload.size());
    DomainRef fast_dom = read_domain(rf);
    auto dom_args = [](const DomainRef& d) {
      XdrWriter w;
      write_domain(w, d);
      return w.bytes();
    };
    p.call(9, 10, dom_args(slow_dom));  // takes 1.5 s
    p.call(9, 11, dom_args(fast_dom));  // takes 20 ms
    p.call(157, 12);
    std::vector<uint32_t> order;
    for (int i = 0; i < 3; i++) {
      auto f = p.next();
      CPPUNIT_ASSERT(f.has_value());
      CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(f->h.status));
      order.push_back(f->h.serial);
    }
    CPPUNIT_ASSERT(order == (std::vector<uint32_t>{12, 11, 10}));
  }

  // Appendix A: LIFECYCLE event {callbackID 0, vm1, uuid aa.., id 1, STARTED, BOOTED}.
  void lifecycle_event_is_byte_exact() {
    Peer p(*server_, false);
    p.reply(1, 0, open_args(0));
    XdrWriter reg;
    reg.i32(0);
    reg.u32(0);
    Frame r = p.reply(316, 1, reg.bytes());
    CPPUNIT_ASSERT_EQUAL(std::string("00000000"), hex(r.payload));
    p.call(11, 2, args_str(domain_xml("vm1", "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa")));
    auto ev = p.next();  // DEFINED/ADDED comes first, as from libvirtd
    CPPUNIT_ASSERT(ev && ev->h.proc == 318 && ev->h.type == MessageType::Message);
    auto reply = p.next();
    CPPUNIT_ASSERT(reply && reply->h.serial == 2);
    Frame def = *reply;
    XdrReader rd(def.payload.data(), def.payload.size());
    XdrWriter start;
    write_domain(start, read_domain(rd));
    p.call(9, 3, start.bytes());
    auto started = p.next();  // the CREATE reply, then STARTED
    CPPUNIT_ASSERT(started && started->h.serial == 3 && started->h.type == MessageType::Reply);
    ev = p.next();
    CPPUNIT_ASSERT(ev.has_value());
    CPPUNIT_ASSERT_EQUAL(std::string("000000442000808600000001" "0000013e0000000200000001" "00000000"
                                     "00000000" "00000003766d3100" + std::string(32, 'a') +
                                     "00000001" "00000002" "00000000"),
                         hex(ev->raw));
  }

  void malformed_frame_closes_only_that_client() {
    Peer bad(*server_, false), good(*server_, false), huge(*server_, false);
    good.reply(1, 0, open_args(0));
    bad.send_raw(std::string("\x00\x00\x00\x08\x00\x00\x00\x00", 8));
    CPPUNIT_ASSERT(!bad.next(1000));
    CPPUNIT_ASSERT(bad.eof());
    huge.send_raw(std::string("\x02\x00\x00\x05", 4));  // 32 MiB + 5: over the maximum
    CPPUNIT_ASSERT(!huge.next(1000));
    CPPUNIT_ASSERT(huge.eof());
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(good.reply(3, 1).h.status));
  }

  void keepalive_pings_silent_client() {
    Peer p(*server_, false);
    XdrWriter feat;
    feat.i32(10);
    p.reply(60, 0, feat.bytes());
    auto ping = p.next(2500);
    CPPUNIT_ASSERT(ping.has_value());
    CPPUNIT_ASSERT_EQUAL(std::string("0000001c6b656570000000010000000100000002000000000000000" "0"),
                         hex(ping->raw));
    // Silent for interval*(count+1) = 3 s: dropped.
    gint64 deadline = g_get_monotonic_time() + 6 * G_USEC_PER_SEC;  // the tick is coarse
    while (!p.eof() && g_get_monotonic_time() < deadline) {
      auto f = p.next(500);
      CPPUNIT_ASSERT(!f || f->h.prog == kKeepaliveProgram);
    }
    CPPUNIT_ASSERT(p.eof());
  }

  void daemon_conf_parses() {
    auto conf = parse_daemon_conf("# comment\n\nunix_sock_group = \"0\"  # root\nunix_sock_rw_perms = \"0660\"\n"
                                  "log_level = 3\n",
                                  "virtarrowd.conf");
    CPPUNIT_ASSERT(conf.ok());
    CPPUNIT_ASSERT(conf.value().unix_sock_group && *conf.value().unix_sock_group == 0);
    CPPUNIT_ASSERT_EQUAL(mode_t(0660), conf.value().unix_sock_rw_perms);
    CPPUNIT_ASSERT(conf.value().ignored == std::vector<std::string>{"log_level"});
    auto empty = parse_daemon_conf("", "virtarrowd.conf");
    CPPUNIT_ASSERT(empty.ok() && !empty.value().unix_sock_group && empty.value().unix_sock_rw_perms == 0600);
    auto missing = load_daemon_conf("/nonexistent/virtarrowd.conf");
    CPPUNIT_ASSERT(missing.ok() && !missing.value().unix_sock_group);
  }

  void daemon_conf_errors_name_line_and_key() {
    struct {
      const char* text;
      const char* message;
    } cases[] = {
        {"unix_sock_group\n", "c.conf:1: expected 'key = value'"},
        {"\nunix_sock_group = \"no-such-group-x\"\n",
         "c.conf:2: unknown group 'no-such-group-x' in 'unix_sock_group'"},
        {"unix_sock_rw_perms = 0660\n", "c.conf:1: 'unix_sock_rw_perms' must be an octal mode in quotes, like \"0660\""},
        {"unix_sock_rw_perms = \"0999\"\n",
         "c.conf:1: 'unix_sock_rw_perms' must be an octal mode in quotes, like \"0660\""},
        {"unix_sock_group = \"root\n", "c.conf:1: bad string value of 'unix_sock_group'"},
    };
    for (const auto& c : cases) {
      auto conf = parse_daemon_conf(c.text, "c.conf");
      CPPUNIT_ASSERT_MESSAGE(c.text, !conf.ok());
      CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_CONF_SYNTAX), conf.error().code);
      CPPUNIT_ASSERT_EQUAL(std::string(c.message), conf.error().message);
    }
  }

 private:
  std::unique_ptr<test::FakeDriver> driver_;
  std::unique_ptr<remote::RemoteProgram> program_;
  std::unique_ptr<Server> server_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(RpcTest);
