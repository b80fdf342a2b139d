// Unit tests of the RPC server over a socketpair and the fake driver: the
// procedure table, byte-exact replies and events from the reference, errors
// (unknown, unsupported, read-only, before open), replies out of order behind a
// slow call, malformed frames, keepalive pings; and the bounds on what a
// client may make the server hold (calls in flight, queued output, client
// counts, timeouts, frames before open, event registrations, stream serials,
// accept back-off), driven by conditions and an injected clock, not sleeps.
#include <cppunit/extensions/HelperMacros.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>

#include "driver/remote/remote_procs.h"
#include "driver/remote/remote_program.h"
#include "driver/daemon/daemon_conf.h"
#include "driver/rpc/server.h"
#include "driver/rpc/stream.h"
#include "tests/unit/fake_driver.h"
#include "tests/unit/testutil.h"

using namespace arrow;
using namespace arrow::rpc;
using namespace arrow::remote;
using namespace arrow::daemon;
using arrow::test::hex;

namespace {

struct Frame {
  MessageHeader h;
  std::string payload;
  std::string raw;
};

// Runs the main loop until PRED holds; fails naming WHAT after 10 s (a
// safety net only: every condition is reached by the loop's own work).
void drive_until(const std::function<bool()>& pred, const char* what) {
  gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (!pred()) {
    CPPUNIT_ASSERT_MESSAGE(what, g_get_monotonic_time() < deadline);
    if (!g_main_context_iteration(nullptr, FALSE)) g_usleep(200);
  }
}

// Runs N non-blocking iterations of the main loop; how many dispatched something.
int spin(int n) {
  int busy = 0;
  for (int i = 0; i < n; i++) busy += g_main_context_iteration(nullptr, FALSE) ? 1 : 0;
  return busy;
}

// The test's end of a socketpair whose other end the Server serves (or of a
// connection to one of its listening sockets).
class Peer {
 public:
  // SERVER_SNDBUF: the server end's send buffer (0: the default); a small
  // one makes a peer that does not read fill up at once.
  Peer(Server& server, bool readonly, int server_sndbuf = 0) {
    int sv[2];
    CPPUNIT_ASSERT_EQUAL(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    fd_.reset(sv[0]);
    if (server_sndbuf) CPPUNIT_ASSERT_EQUAL(0, setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &server_sndbuf, sizeof(int)));
    client_ = server.add_client(UniqueFd(sv[1]), readonly);
  }
  // Connects to the unix socket PATH.
  explicit Peer(const std::string& path) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    CPPUNIT_ASSERT_EQUAL(0, ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr));
  }
  // The server's Client of a socketpair peer (null when it refused it).
  std::shared_ptr<Client> client() const { return client_.lock(); }
  void close() { fd_.reset(); }
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
      const int got = read_some();
      if (got > 0) continue;
      if (got == 0) return std::nullopt;
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
  // Reads what has arrived, without running the main loop; a whole frame or none.
  std::optional<Frame> poll() {
    for (;;) {
      if (auto f = take()) return f;
      if (read_some() <= 0) return std::nullopt;
    }
  }

 private:
  // Appends what the socket holds now to in_: 1 when bytes came, 0 at the
  // end of the stream (eof_ set), -1 when nothing is there yet.
  int read_some() {
    char buf[4096];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, size_t(n));
      return 1;
    }
    if (n == 0) eof_ = true;
    return n == 0 ? 0 : -1;
  }

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
  std::weak_ptr<Client> client_;
};

// A program of the tests' own for the transport alone: procedure 1 opens a
// stream on the call's serial (and says "hello" on it), any other answers OK.
class StreamProgram final : public Program {
 public:
  std::unique_ptr<Session> open_session(Client&) override { return std::make_unique<Session>(); }
  void dispatch(Client& client, const MessageHeader& h, XdrReader&) override {
    Responder r(client.weak_from_this(), h, ErrorDomain::Rpc);
    if (h.proc != 1) {
      r.ok();
      return;
    }
    auto stream = std::make_shared<ServerStream>(client.weak_from_this(), h.prog, h.proc, h.serial, ErrorDomain::Rpc);
    if (!client.add_stream(h.serial, stream)) {
      r.error(make_error(VIR_ERR_RPC, "stream refused"));
      return;
    }
    r.ok();
    stream->start();
    stream->send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("hello"), 5));
    streams.push_back(stream);
  }
  bool busy() override { return false; }
  std::vector<std::shared_ptr<ServerStream>> streams;
};

// A private directory with a socket path in it, removed at the end.
struct TempSocketDir {
  TempSocketDir() {
    gchar* d = g_dir_make_tmp("rpctest-XXXXXX", nullptr);
    CPPUNIT_ASSERT(d);
    dir = d;
    g_free(d);
    path = dir + "/sock";
  }
  ~TempSocketDir() {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
  std::string dir, path;
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
  CPPUNIT_TEST(host_and_monitoring_replies_are_byte_exact);
  CPPUNIT_TEST(slow_call_does_not_block_others);
  CPPUNIT_TEST(balloon_procedures_wire_layout);
  CPPUNIT_TEST(lifecycle_event_is_byte_exact);
  CPPUNIT_TEST(malformed_frame_closes_only_that_client);
  CPPUNIT_TEST(keepalive_pings_silent_client);
  CPPUNIT_TEST(daemon_conf_parses);
  CPPUNIT_TEST(daemon_conf_errors_name_line_and_key);
  CPPUNIT_TEST(daemon_conf_server_bounds);
  CPPUNIT_TEST(flood_stops_at_max_client_requests);
  CPPUNIT_TEST(queued_output_throttles_then_drops);
  CPPUNIT_TEST(output_that_does_not_move_drops_the_client);
  CPPUNIT_TEST(anonymous_and_idle_timeouts);
  CPPUNIT_TEST(large_frame_before_open_closes);
  CPPUNIT_TEST(client_limits_pause_accepting);
  CPPUNIT_TEST(accept_backs_off_when_out_of_descriptors);
  CPPUNIT_TEST(event_registrations_are_capped);
  CPPUNIT_TEST(reused_stream_serial_is_refused);
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

  // NODE_GET_CPU_STATS: a count query (nparams 0), then the values
  // ({field, value}<>, nparams); DOMAIN_INTERFACE_ADDRESSES: one interface
  // with one address; DOMAIN_GET_VCPUS: virVcpuInfo<> and maxinfo CPU maps;
  // DOMAIN_GET_BLOCK_INFO: an Arrow has no disks.
  void host_and_monitoring_replies_are_byte_exact() {
    Peer p(*server_, false);
    p.reply(1, 0, open_args(0));
    XdrWriter count;
    count.i32(-1), count.i32(0), count.u32(0);
    CPPUNIT_ASSERT_EQUAL(std::string("00000000" "00000004"), hex(p.reply(227, 1, count.bytes()).payload));
    XdrWriter two;
    two.i32(-1), two.i32(2), two.u32(0);
    CPPUNIT_ASSERT_EQUAL(std::string("00000002"
                                     "00000006" "6b65726e656c0000" "0000000000000001"  // "kernel", 1
                                     "00000004" "75736572" "0000000000000002"          // "user", 2
                                     "00000002"),
                         hex(p.reply(227, 2, two.bytes()).payload));
    XdrWriter bad;
    bad.i32(5), bad.i32(4), bad.u32(0);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INVALID_ARG), error_of(p.reply(227, 3, bad.bytes())).code);

    Frame def = p.reply(11, 4, args_str(domain_xml("mon", "44444444-4444-4444-4444-444444444444")));
    XdrReader rd(def.payload.data(), def.payload.size());
    DomainRef dom = read_domain(rd);
    XdrWriter addrs;
    write_domain(addrs, dom);
    addrs.u32(0), addrs.u32(0);  // source LEASE, flags
    CPPUNIT_ASSERT_EQUAL(std::string("00000001"                          // one interface
                                     "00000004" "65746830"               // "eth0"
                                     "00000001" "00000011" "35323a35343a30303a31323a33343a3536000000"  // hwaddr
                                     "00000001" "00000000"               // one address, IPv4
                                     "00000009" "31302e302e322e3135000000" "00000018"),  // "10.0.2.15", 24
                         hex(p.reply(353, 5, addrs.bytes()).payload));
    XdrWriter vcpus;
    write_domain(vcpus, dom);
    vcpus.i32(3), vcpus.i32(1);  // room for 3 vCPUs, 1 byte of CPU map each
    CPPUNIT_ASSERT_EQUAL(std::string("00000002"                                           // two virVcpuInfo
                                     "00000000" "00000001" "000000003b9aca00" "00000000"  // 0, running, 1 s, CPU 0
                                     "00000001" "00000001" "0000000077359400" "00000002"  // 1, running, 2 s, CPU 2
                                     "00000003" "05050000"),  // maps for maxinfo: CPUs 0 and 2, 0 and 2, none
                         hex(p.reply(20, 7, vcpus.bytes()).payload));
    XdrWriter blk;
    write_domain(blk, dom);
    blk.string("vda"), blk.u32(0);
    WireError e = error_of(p.reply(194, 6, blk.bytes()));
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INVALID_ARG), e.code);
    CPPUNIT_ASSERT_EQUAL(std::string("invalid argument: invalid path vda not assigned to domain (an Arrow has no disks)"),
                         e.message);
  }

  // remote_protocol.x: DOMAIN_MEMORY_STATS (159) {dom, u_int maxStats, u_int
  // flags} -> {remote_domain_memory_stat stats<1024>} with {int tag, unsigned
  // hyper val}; DOMAIN_SET_MEMORY (31) {dom, unsigned hyper memory};
  // DOMAIN_SET_MEMORY_FLAGS (204) {dom, unsigned hyper memory, u_int flags}.
  void balloon_procedures_wire_layout() {
    Peer p(*server_, false);
    p.reply(1, 0, open_args(0));
    Frame def = p.reply(11, 1, args_str(domain_xml("mem", "44444444-4444-4444-4444-444444444444")));
    XdrReader rd(def.payload.data(), def.payload.size());
    DomainRef dom = read_domain(rd);
    XdrWriter stats_args;
    write_domain(stats_args, dom);
    stats_args.u32(2);  // maxStats
    stats_args.u32(0);
    Frame r = p.reply(159, 2, stats_args.bytes());
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(r.h.status));
    const std::vector<uint8_t> expected = {0, 0, 0, 2,                                  // two of the three
                                           0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0x03, 0xe8,   // unused 1000
                                           0, 0, 0, 6, 0, 0, 0, 0, 0, 1, 0, 0};        // actual 65536
    CPPUNIT_ASSERT(std::vector<uint8_t>(r.payload.begin(), r.payload.end()) == expected);
    XdrWriter too_many;
    write_domain(too_many, dom);
    too_many.u32(1025);  // over REMOTE_DOMAIN_MEMORY_STATS_MAX
    too_many.u32(0);
    CPPUNIT_ASSERT_EQUAL(std::string("too many memory stats requested"), error_of(p.reply(159, 3, too_many.bytes())).message);
    XdrWriter set;
    write_domain(set, dom);
    set.u64(98304);
    set.u32(1);  // VIR_DOMAIN_AFFECT_LIVE
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(p.reply(204, 4, set.bytes()).h.status));
    CPPUNIT_ASSERT_EQUAL(uint64_t(98304), driver_->last_set_memory_kib);
    CPPUNIT_ASSERT_EQUAL(1u, driver_->last_set_memory_flags);
    XdrWriter plain;
    write_domain(plain, dom);
    plain.u64(65536);
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(p.reply(31, 5, plain.bytes()).h.status));
    CPPUNIT_ASSERT_EQUAL(uint64_t(65536), driver_->last_set_memory_kib);
    CPPUNIT_ASSERT_EQUAL(1u, driver_->last_set_memory_flags);  // virDomainSetMemory is LIVE
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
    auto balloon = parse_daemon_conf("autoballoon = 1\nautoballoon_margin = 32\nautoballoon_floor = 48\n", "v.conf");
    CPPUNIT_ASSERT(balloon.ok() && balloon.value().autoballoon && *balloon.value().autoballoon);
    CPPUNIT_ASSERT_EQUAL(uint64_t(32), *balloon.value().autoballoon_margin_mib);
    CPPUNIT_ASSERT_EQUAL(uint64_t(48), *balloon.value().autoballoon_floor_mib);
    CPPUNIT_ASSERT(!empty.value().autoballoon);  // unset: the driver's default (off)
  }

  void daemon_conf_errors_name_line_and_key() {
    test::check_refusals(
        {
        {"unix_sock_group\n", "c.conf:1: expected 'key = value'"},
        {"\nunix_sock_group = \"no-such-group-x\"\n",
         "c.conf:2: unknown group 'no-such-group-x' in 'unix_sock_group'"},
        {"unix_sock_rw_perms = 0660\n", "c.conf:1: 'unix_sock_rw_perms' must be an octal mode in quotes, like \"0660\""},
        {"unix_sock_rw_perms = \"0999\"\n",
         "c.conf:1: 'unix_sock_rw_perms' must be an octal mode in quotes, like \"0660\""},
        {"unix_sock_group = \"root\n", "c.conf:1: bad string value of 'unix_sock_group'"},
        {"autoballoon = 2\n", "c.conf:1: 'autoballoon' must be a number from 0 to 1"},
        {"autoballoon_floor = 8\n", "c.conf:1: 'autoballoon_floor' must be a number from 16 to 1048576"},
        },
        [](const char* text) { return parse_daemon_conf(text, "c.conf"); }, VIR_ERR_CONF_SYNTAX);
  }

  void daemon_conf_server_bounds() {
    auto conf = parse_daemon_conf("max_clients = 100\nmax_anonymous_clients = 10\nmax_client_requests = 2\n"
                                  "keepalive_interval = -1\nkeepalive_count = 0\nmax_client_output = 65536\n"
                                  "client_output_timeout = 5\nanonymous_timeout = 0\nclient_idle_timeout = 60\n"
                                  "max_client_event_callbacks = 8\n",
                                  "virtarrowd.conf");
    CPPUNIT_ASSERT_MESSAGE(conf.ok() ? "" : conf.error().message.c_str(), conf.ok());
    const ServerOptions& o = conf.value().server;
    CPPUNIT_ASSERT_EQUAL(size_t(100), o.max_clients);
    CPPUNIT_ASSERT_EQUAL(size_t(10), o.max_anonymous_clients);
    CPPUNIT_ASSERT_EQUAL(size_t(2), o.max_client_requests);
    CPPUNIT_ASSERT_EQUAL(-1, o.keepalive_interval_s);
    CPPUNIT_ASSERT_EQUAL(0u, o.keepalive_count);
    CPPUNIT_ASSERT_EQUAL(size_t(65536), o.max_client_output);
    CPPUNIT_ASSERT_EQUAL(5u, o.client_output_timeout_s);
    CPPUNIT_ASSERT_EQUAL(0u, o.anonymous_timeout_s);
    CPPUNIT_ASSERT_EQUAL(60u, o.client_idle_timeout_s);
    CPPUNIT_ASSERT(conf.value().max_client_event_callbacks == size_t(8));
    CPPUNIT_ASSERT(conf.value().ignored.empty());
    // The defaults: libvirtd.conf's where libvirt has the key.
    auto empty = parse_daemon_conf("", "virtarrowd.conf");
    const ServerOptions& d = empty.value().server;
    CPPUNIT_ASSERT_EQUAL(size_t(5000), d.max_clients);
    CPPUNIT_ASSERT_EQUAL(size_t(20), d.max_anonymous_clients);
    CPPUNIT_ASSERT_EQUAL(size_t(5), d.max_client_requests);
    CPPUNIT_ASSERT_EQUAL(5, d.keepalive_interval_s);
    CPPUNIT_ASSERT_EQUAL(5u, d.keepalive_count);
    CPPUNIT_ASSERT(!empty.value().max_client_event_callbacks);
    test::check_refusals(
        {
        {"max_clients = 0\n", "c.conf:1: 'max_clients' must be a number from 1 to 1000000"},
        {"max_client_requests = \"5\"\n", "c.conf:1: 'max_client_requests' must be a number from 1 to 10000"},
        {"\nmax_client_output = 1k\n", "c.conf:2: 'max_client_output' must be a number from 65536 to 1073741824"},
        {"keepalive_interval = 0\n", "c.conf:1: 'keepalive_interval' must be -1 (off) or a number of seconds from 1 "
                                     "to 86400"},
        {"max_clients = 10\n", "c.conf: 'max_anonymous_clients' (20) must not be greater than 'max_clients' (10)"},
        },
        [](const char* text) { return parse_daemon_conf(text, "c.conf"); });
  }

  // A client that sends calls and never reads: once max_client_requests
  // replies wait unwritten, it is not read; what it sent stays in the socket.
  // Once it reads, every call is answered in order.
  void flood_stops_at_max_client_requests() {
    Peer p(*server_, false, 1);  // the smallest send buffer the kernel allows
    p.reply(1, 0, open_args(0));
    auto c = p.client();
    const uint32_t calls = 400;
    std::string flood;  // in one write: a socket buffer holds few small ones
    for (uint32_t i = 1; i <= calls; i++) {
      flood += encode_frame(MessageHeader{kRemoteProgram, 1, 7, MessageType::Call, i, MessageStatus::Ok}, {});
    }
    p.send_raw(flood);  // CONNECT_GET_CAPABILITIES
    drive_until([&] { return !c->reading() && c->requests_in_flight() == 5; }, "throttled at 5 calls in flight");
    const size_t queued = c->queued_output();
    CPPUNIT_ASSERT(queued > 0 && queued < 5 * 400);  // five replies of ~300 bytes, at most
    spin(200);
    CPPUNIT_ASSERT(!c->reading());
    CPPUNIT_ASSERT_EQUAL(queued, c->queued_output());  // nothing more dispatched
    CPPUNIT_ASSERT_EQUAL(size_t(5), c->requests_in_flight());
    for (uint32_t i = 1; i <= calls; i++) {
      auto f = p.next();
      CPPUNIT_ASSERT(f.has_value());
      CPPUNIT_ASSERT_EQUAL(i, f->h.serial);
      CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(f->h.status));
    }
    drive_until([&] { return c->reading() && c->requests_in_flight() == 0; }, "reading again");
    // Throttled again, then the client goes: noticed although not read.
    p.send_raw(flood);
    drive_until([&] { return !c->reading(); }, "throttled again");
    p.close();
    drive_until([&] { return c->closed(); }, "a throttled client that hung up is closed");
  }

  // Events for a client that never reads: past max_client_output it is not
  // read, and at 4 times that it is dropped, the others served.
  void queued_output_throttles_then_drops() {
    ServerOptions o;
    o.max_client_output = 65536;
    restart(o);
    Peer victim(*server_, false, 1), writer(*server_, false);
    victim.reply(1, 0, open_args(0));
    writer.reply(1, 0, open_args(0));
    XdrWriter reg;
    reg.i32(0);  // LIFECYCLE, any domain
    reg.u32(0);
    for (uint32_t i = 1; i <= 200; i++) victim.reply(316, i, reg.bytes());
    auto c = victim.client();
    bool throttled_seen = false;
    size_t most = 0;
    std::string xml = args_str(domain_xml("ev", "44444444-4444-4444-4444-444444444444"));
    for (uint32_t i = 1; i <= 400 && !c->closed(); i++) {
      Frame f = writer.reply(11, i, xml);  // each define: 200 DEFINED events for the victim
      CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(f.h.status));
      most = std::max(most, c->queued_output());
      if (c->queued_output() > o.max_client_output) {
        throttled_seen = throttled_seen || !c->reading();
        CPPUNIT_ASSERT(!c->reading());
      }
    }
    CPPUNIT_ASSERT(throttled_seen);
    CPPUNIT_ASSERT(c->closed());
    CPPUNIT_ASSERT(most <= 4 * o.max_client_output);
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(writer.reply(3, 1000).h.status));
  }

  // Output that has not moved for client_output_timeout drops the client,
  // below max_client_output too; moving output keeps it.
  void output_that_does_not_move_drops_the_client() {
    Peer stuck(*server_, false, 1), fine(*server_, false);
    stuck.reply(1, 0, open_args(0));
    fine.reply(1, 0, open_args(0));
    std::string calls;
    for (uint32_t i = 1; i <= 40; i++) {
      calls += encode_frame(MessageHeader{kRemoteProgram, 1, 7, MessageType::Call, i, MessageStatus::Ok}, {});
    }
    stuck.send_raw(calls);
    auto c = stuck.client();
    drive_until([&] { return !c->reading(); }, "stuck client throttled");
    CPPUNIT_ASSERT(c->queued_output() < server_->options().max_client_output);
    gint64 now = g_get_monotonic_time();
    server_->tick(now + 29 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT(!c->closed());
    server_->tick(now + 31 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT(c->closed());
    CPPUNIT_ASSERT(!fine.client()->closed());
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(fine.reply(3, 1).h.status));
  }

  // A connection never opened goes after anonymous_timeout, traffic or not;
  // an opened silent one after client_idle_timeout; with keepalive -1 a
  // keepalive client is never pinged.
  void anonymous_and_idle_timeouts() {
    ServerOptions o;
    o.anonymous_timeout_s = 10;
    o.client_idle_timeout_s = 100;
    o.keepalive_interval_s = -1;
    restart(o);
    Peer anon(*server_, false), chatty_anon(*server_, false), opened(*server_, true), ka(*server_, false);
    opened.reply(1, 0, open_args(0));
    ka.reply(1, 0, open_args(0));
    XdrWriter feat;
    feat.i32(10);
    ka.reply(60, 1, feat.bytes());
    CPPUNIT_ASSERT_EQUAL(size_t(2), server_->anonymous_count());
    gint64 t0 = g_get_monotonic_time();
    chatty_anon.reply(66, 1);  // AUTH_LIST: traffic, but not open
    server_->tick(t0 + 9 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT_EQUAL(size_t(4), server_->client_count());
    server_->tick(t0 + 11 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT(anon.client() == nullptr && chatty_anon.client() == nullptr);
    CPPUNIT_ASSERT(!anon.next(500) && anon.eof());
    CPPUNIT_ASSERT_EQUAL(size_t(2), server_->client_count());
    CPPUNIT_ASSERT_EQUAL(size_t(0), server_->anonymous_count());
    server_->tick(t0 + 99 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT(!ka.poll().has_value());  // no PING with keepalive_interval -1
    CPPUNIT_ASSERT_EQUAL(size_t(2), server_->client_count());
    server_->tick(t0 + 101 * G_USEC_PER_SEC);
    CPPUNIT_ASSERT_EQUAL(size_t(0), server_->client_count());
    CPPUNIT_ASSERT(!opened.next(500) && opened.eof());
  }

  // Before CONNECT_OPEN a frame may be at most max_anonymous_frame bytes;
  // after it, up to libvirt's 32 MiB.
  void large_frame_before_open_closes() {
    Peer anon(*server_, false), opened(*server_, false);
    XdrWriter len;
    len.u32(100000);
    anon.send_raw(len.bytes());
    CPPUNIT_ASSERT(!anon.next(1000));
    CPPUNIT_ASSERT(anon.eof());
    opened.reply(1, 0, open_args(0));
    std::string big = args_str(std::string(100000, 'x'));
    Frame f = opened.reply(23, 1, big);  // LOOKUP_BY_NAME of a 100 kB name: an answer, not a close
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_NO_DOMAIN), error_of(f).code);
  }

  // At max_anonymous_clients (or max_clients) the listeners are not
  // accepted on: the next connection waits in the backlog, unanswered, until
  // a client opens or leaves.
  void client_limits_pause_accepting() {
    ServerOptions o;
    o.max_clients = 3;
    o.max_anonymous_clients = 2;
    restart(o);
    TempSocketDir tmp;
    CPPUNIT_ASSERT(server_->listen(tmp.path, 0600, false).ok());
    Peer a(tmp.path), b(tmp.path);
    drive_until([&] { return server_->client_count() == 2; }, "two accepted");
    CPPUNIT_ASSERT(!server_->accepting());
    Peer c(tmp.path);  // in the backlog
    c.call(66, 1);
    spin(100);
    CPPUNIT_ASSERT_EQUAL(size_t(2), server_->client_count());
    CPPUNIT_ASSERT(!c.poll().has_value());
    a.reply(1, 0, open_args(0));  // one anonymous less: c is accepted and answered
    auto fc = c.next();
    CPPUNIT_ASSERT(fc && fc->h.serial == 1);
    CPPUNIT_ASSERT_EQUAL(size_t(3), server_->client_count());
    CPPUNIT_ASSERT_EQUAL(size_t(2), server_->anonymous_count());
    CPPUNIT_ASSERT(!server_->accepting());  // max_clients now, and max_anonymous_clients
    b.reply(1, 0, open_args(0));
    c.reply(1, 2, open_args(0));
    CPPUNIT_ASSERT_EQUAL(size_t(0), server_->anonymous_count());
    CPPUNIT_ASSERT(!server_->accepting());  // still max_clients
    Peer d(tmp.path);
    d.call(66, 1);
    spin(100);
    CPPUNIT_ASSERT(!d.poll().has_value());
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(a.reply(3, 1).h.status));  // the others are served
    int sv[2];
    CPPUNIT_ASSERT_EQUAL(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    UniqueFd keep(sv[0]);
    CPPUNIT_ASSERT(server_->add_client(UniqueFd(sv[1]), false) == nullptr);  // over the limit: refused
    b.close();  // a slot frees: d is accepted
    auto fd = d.next();
    CPPUNIT_ASSERT(fd && fd->h.serial == 1);
    CPPUNIT_ASSERT_EQUAL(size_t(3), server_->client_count());
  }

  // accept() failing with EMFILE pauses accepting (no busy loop on the
  // readable listener) until a client leaves.
  void accept_backs_off_when_out_of_descriptors() {
    ServerOptions o;
    o.accept_backoff_ms = 600000;  // only a client leaving ends it here
    restart(o);
    TempSocketDir tmp;
    CPPUNIT_ASSERT(server_->listen(tmp.path, 0600, false).ok());
    Peer a(tmp.path), b(tmp.path), c(tmp.path);
    rlimit saved{};
    CPPUNIT_ASSERT_EQUAL(0, getrlimit(RLIMIT_NOFILE, &saved));
    int probe = ::dup(0);
    CPPUNIT_ASSERT(probe >= 0);
    ::close(probe);
    rlimit low = saved;
    low.rlim_cur = rlim_t(probe) + 1;  // room for one more descriptor
    CPPUNIT_ASSERT_EQUAL(0, setrlimit(RLIMIT_NOFILE, &low));
    drive_until([&] { return !server_->accepting(); }, "accept backing off");
    const size_t accepted = server_->client_count();
    const int busy = spin(200);
    CPPUNIT_ASSERT_EQUAL(0, setrlimit(RLIMIT_NOFILE, &saved));
    CPPUNIT_ASSERT_EQUAL(size_t(1), accepted);
    CPPUNIT_ASSERT(busy <= 2);  // at most the 1 s tick: nothing spins
    CPPUNIT_ASSERT(!server_->accepting());
    a.close();  // the accepted one leaves: accepting resumes at once
    drive_until([&] { return server_->client_count() == 2; }, "the other two accepted");
    CPPUNIT_ASSERT(server_->accepting());
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(c.reply(66, 1).h.status));
  }

  void event_registrations_are_capped() {
    program_->set_max_event_callbacks(3);
    Peer p(*server_, true);
    p.reply(1, 0, open_args(0));
    XdrWriter reg;
    reg.i32(0);
    reg.u32(0);
    for (uint32_t i = 1; i <= 3; i++) {
      CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(p.reply(316, i, reg.bytes()).h.status));
    }
    WireError e = error_of(p.reply(316, 4, reg.bytes()));
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_OPERATION_FAILED), e.code);
    CPPUNIT_ASSERT_EQUAL(std::string("operation failed: too many event callbacks on this connection (at most 3)"),
                         e.message);
    XdrWriter legacy;
    legacy.i32(1);  // REBOOT, legacy registration
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_OPERATION_FAILED), error_of(p.reply(167, 5, legacy.bytes())).code);
    XdrWriter dereg;
    dereg.i32(1);  // callbackID 1
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(p.reply(317, 6, dereg.bytes()).h.status));
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(p.reply(316, 7, reg.bytes()).h.status));
    CPPUNIT_ASSERT_EQUAL(int(MessageStatus::Ok), int(p.reply(3, 8).h.status));  // still connected
  }

  // A CALL on the serial of an open stream is refused; the stream goes on.
  void reused_stream_serial_is_refused() {
    StreamProgram prog;
    Server server(prog, ServerOptions{});
    Peer p(server, false);
    auto stream_call = [&](uint32_t serial) {
      MessageHeader h{0x1234, 1, 1, MessageType::Call, serial, MessageStatus::Ok};
      p.send_raw(encode_frame(h, {}));
    };
    stream_call(7);
    auto r = p.next();
    CPPUNIT_ASSERT(r && r->h.type == MessageType::Reply && r->h.serial == 7 && r->h.status == MessageStatus::Ok);
    auto data = p.next();
    CPPUNIT_ASSERT(data && data->h.type == MessageType::Stream && data->payload == "hello");
    stream_call(7);
    auto refused = p.next();
    CPPUNIT_ASSERT(refused && refused->h.type == MessageType::Reply && refused->h.serial == 7);
    WireError e = error_of(*refused);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_RPC), e.code);
    CPPUNIT_ASSERT_EQUAL(std::string("serial 7 is in use by an open stream on this connection"), e.message);
    CPPUNIT_ASSERT_EQUAL(size_t(1), prog.streams.size());
    prog.streams[0]->send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("again"), 5));
    auto more = p.next();
    CPPUNIT_ASSERT(more && more->h.type == MessageType::Stream && more->h.serial == 7 && more->payload == "again");
    // The client finishes the stream; then the serial is free again.
    MessageHeader fin{0x1234, 1, 1, MessageType::Stream, 7, MessageStatus::Ok};
    p.send_raw(encode_frame(fin, {}));
    auto ok = p.next();
    CPPUNIT_ASSERT(ok && ok->h.type == MessageType::Stream && ok->h.status == MessageStatus::Ok);
    stream_call(7);
    auto again = p.next();
    CPPUNIT_ASSERT(again && again->h.type == MessageType::Reply && again->h.status == MessageStatus::Ok);
  }

 private:
  void restart(const ServerOptions& o) {
    server_.reset();
    server_ = std::make_unique<Server>(*program_, o);
  }

  std::unique_ptr<test::FakeDriver> driver_;
  std::unique_ptr<remote::RemoteProgram> program_;
  std::unique_ptr<Server> server_;
};

CPPUNIT_TEST_SUITE_REGISTRATION(RpcTest);
