// Unit tests of the XDR encoder/decoder: round trips, the libvirt-specific
// layouts (typed parameters, char arrays), bounds and malformed input, and a
// micro-benchmark of encode/decode speed.
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <cstdio>

#include "driver/remote/remote_types.h"
#include "driver/rpc/protocol.h"
#include "driver/rpc/xdr.h"
#include "tests/unit/testutil.h"

using namespace arrow;
using namespace arrow::rpc;
using namespace arrow::remote;
using arrow::test::hex;


class XdrTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(XdrTest);
  CPPUNIT_TEST(scalars_round_trip);
  CPPUNIT_TEST(strings_are_padded);
  CPPUNIT_TEST(optional_string_distinguishes_null_and_empty);
  CPPUNIT_TEST(typed_param_matches_libvirt);
  CPPUNIT_TEST(domain_round_trip);
  CPPUNIT_TEST(char_array_carries_nul);
  CPPUNIT_TEST(truncated_input_fails);
  CPPUNIT_TEST(limits_are_enforced);
  CPPUNIT_TEST(errors_are_sticky);
  CPPUNIT_TEST(benchmark);
  CPPUNIT_TEST_SUITE_END();

 public:
  void scalars_round_trip() {
    XdrWriter w;
    w.u32(0xdeadbeef);
    w.i32(-2);
    w.u64(0x0102030405060708ull);
    w.i64(-3);
    w.f64(2.5);
    w.boolean(true);
    CPPUNIT_ASSERT_EQUAL(std::string("deadbeeffffffffe0102030405060708fffffffffffffffd400400000000000000000001"),
                         hex(w.bytes()));
    XdrReader r(w.bytes().data(), w.size());
    CPPUNIT_ASSERT_EQUAL(0xdeadbeefu, r.u32());
    CPPUNIT_ASSERT_EQUAL(-2, r.i32());
    CPPUNIT_ASSERT_EQUAL(0x0102030405060708ull, static_cast<unsigned long long>(r.u64()));
    CPPUNIT_ASSERT_EQUAL(int64_t{-3}, r.i64());
    CPPUNIT_ASSERT_EQUAL(2.5, r.f64());
    CPPUNIT_ASSERT(r.boolean());
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT_EQUAL(size_t{0}, r.remaining());
  }

  void strings_are_padded() {
    XdrWriter w;
    w.string("vm1");
    w.string("abcd");
    w.string("");
    CPPUNIT_ASSERT_EQUAL(std::string("00000003766d31000000000461626364" "00000000"), hex(w.bytes()));
    XdrReader r(w.bytes().data(), w.size());
    CPPUNIT_ASSERT_EQUAL(std::string("vm1"), r.string(kStringMax));
    CPPUNIT_ASSERT_EQUAL(std::string("abcd"), r.string(kStringMax));
    CPPUNIT_ASSERT_EQUAL(std::string(""), r.string(kStringMax));
    CPPUNIT_ASSERT(r.ok());
  }

  void optional_string_distinguishes_null_and_empty() {
    XdrWriter w;
    w.optional_string(std::nullopt);
    w.optional_string(std::string());
    w.optional_string(std::string("arrow:///system"));
    XdrReader r(w.bytes().data(), w.size());
    CPPUNIT_ASSERT(!r.optional_string(kStringMax).has_value());
    CPPUNIT_ASSERT_EQUAL(std::string(), r.optional_string(kStringMax).value());
    CPPUNIT_ASSERT_EQUAL(std::string("arrow:///system"), r.optional_string(kStringMax).value());
    CPPUNIT_ASSERT(r.ok());
  }

  // The reference's example: state.state = INT 1.
  void typed_param_matches_libvirt() {
    XdrWriter w;
    write_typed_param(w, TypedParam{"state.state", TypedParam::Type::Int, 1});
    CPPUNIT_ASSERT_EQUAL(std::string("0000000b73746174652e73746174650000000001" "00000001"), hex(w.bytes()));
    write_typed_param(w, TypedParam{"cpu.time", TypedParam::Type::ULLong, int64_t{1} << 40});
    write_typed_param(w, TypedParam{"x", TypedParam::Type::String, 0, 0, "text"});
    write_typed_param(w, TypedParam{"d", TypedParam::Type::Double, 0, 0.25});
    XdrReader r(w.bytes().data(), w.size());
    CPPUNIT_ASSERT_EQUAL(int64_t{1}, read_typed_param(r).i);
    CPPUNIT_ASSERT_EQUAL(int64_t{1} << 40, read_typed_param(r).i);
    CPPUNIT_ASSERT_EQUAL(std::string("text"), read_typed_param(r).s);
    CPPUNIT_ASSERT_EQUAL(0.25, read_typed_param(r).d);
    CPPUNIT_ASSERT(r.ok());
  }

  void domain_round_trip() {
    DomainRef d{"vm1", {}, 1};
    d.uuid.fill(0xaa);
    XdrWriter w;
    write_domain(w, d);
    CPPUNIT_ASSERT_EQUAL(std::string("00000003766d3100") + std::string(32, 'a') + "00000001", hex(w.bytes()));
    XdrReader r(w.bytes().data(), w.size());
    DomainRef back = read_domain(r);
    CPPUNIT_ASSERT(r.ok());
    CPPUNIT_ASSERT_EQUAL(d.name, back.name);
    CPPUNIT_ASSERT(d.uuid == back.uuid);
    CPPUNIT_ASSERT_EQUAL(1, back.id);
  }

  void char_array_carries_nul() {
    XdrWriter w;
    w.char_array_with_nul("");
    w.char_array_with_nul("ab");
    CPPUNIT_ASSERT_EQUAL(std::string("0000000100000000" "00000003000000610000006200000000"), hex(w.bytes()));
  }

  void truncated_input_fails() {
    XdrWriter w;
    w.string("hello");
    for (size_t len = 0; len < w.size(); len++) {
      XdrReader r(w.bytes().data(), len);
      r.string(kStringMax);
      CPPUNIT_ASSERT_MESSAGE("length " + std::to_string(len), !r.ok());
    }
    XdrReader r(w.bytes().data(), 6);
    r.u64();
    CPPUNIT_ASSERT(!r.ok());
  }

  void limits_are_enforced() {
    XdrWriter w;
    w.string("0123456789");
    XdrReader r(w.bytes().data(), w.size());
    r.string(9);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_RPC), r.error().code);

    XdrWriter big;
    big.u32(0xffffffff);  // a huge string length with no data behind it
    XdrReader r2(big.bytes().data(), big.size());
    r2.string(kStringMax);
    CPPUNIT_ASSERT(!r2.ok());

    XdrWriter arr;
    arr.u32(kDomainListMax + 1);
    XdrReader r3(arr.bytes().data(), arr.size());
    r3.array_count(kDomainListMax);
    CPPUNIT_ASSERT(!r3.ok());

    XdrWriter lying;  // a count that cannot fit in what follows
    lying.u32(1000);
    lying.u32(0);
    XdrReader r4(lying.bytes().data(), lying.size());
    r4.array_count(kDomainListMax, 24);
    CPPUNIT_ASSERT(!r4.ok());

    XdrWriter marker;
    marker.u32(2);  // an optional pointer is 0 or 1
    XdrReader r5(marker.bytes().data(), marker.size());
    r5.optional_string(kStringMax);
    CPPUNIT_ASSERT(!r5.ok());

    XdrWriter tp;
    tp.string("f");
    tp.i32(8);  // no such typed-parameter type
    tp.u32(0);
    XdrReader r6(tp.bytes().data(), tp.size());
    read_typed_param(r6);
    CPPUNIT_ASSERT(!r6.ok());

    XdrWriter field;
    field.string(std::string(kTypedParamFieldMax + 1, 'x'));
    field.i32(1);
    field.i32(1);
    XdrReader r7(field.bytes().data(), field.size());
    read_typed_param(r7);
    CPPUNIT_ASSERT(!r7.ok());
  }

  void errors_are_sticky() {
    XdrWriter w;
    w.u32(7);
    XdrReader r(w.bytes().data(), 2);
    CPPUNIT_ASSERT_EQUAL(0u, r.u32());
    XdrReader r2(w.bytes().data(), w.size());
    r2.u64();
    CPPUNIT_ASSERT_EQUAL(0u, r2.u32());
    CPPUNIT_ASSERT(!r2.ok());
  }

  // Encode and decode a LIST_ALL_DOMAINS-sized reply; prints the rate.
  void benchmark() {
    std::vector<DomainRef> doms(1000);
    for (size_t i = 0; i < doms.size(); i++) doms[i] = DomainRef{"domain-" + std::to_string(i), {}, int(i)};
    const int rounds = 200;
    auto t0 = std::chrono::steady_clock::now();
    size_t bytes = 0;
    for (int k = 0; k < rounds; k++) {
      XdrWriter w;
      w.u32(static_cast<uint32_t>(doms.size()));
      for (const auto& d : doms) write_domain(w, d);
      bytes = w.size();
      benchmark_sink_ += w.bytes()[bytes - 1];
    }
    auto t1 = std::chrono::steady_clock::now();
    XdrWriter w;
    w.u32(static_cast<uint32_t>(doms.size()));
    for (const auto& d : doms) write_domain(w, d);
    for (int k = 0; k < rounds; k++) {
      XdrReader r(w.bytes().data(), w.size());
      uint32_t n = r.array_count(kDomainListMax, 24);
      for (uint32_t i = 0; i < n; i++) benchmark_sink_ += read_domain(r).id;
      CPPUNIT_ASSERT(r.ok());
    }
    auto t2 = std::chrono::steady_clock::now();
    double enc = std::chrono::duration<double>(t1 - t0).count(), dec = std::chrono::duration<double>(t2 - t1).count();
    double n = double(rounds) * doms.size();
    std::fprintf(stderr, "\nxdr: remote_nonnull_domain encode %.0f ns, decode %.0f ns; %.0f MB/s / %.0f MB/s\n",
                 enc / n * 1e9, dec / n * 1e9, bytes * rounds / enc / 1e6, bytes * rounds / dec / 1e6);
  }

 private:
  long benchmark_sink_ = 0;
};

CPPUNIT_TEST_SUITE_REGISTRATION(XdrTest);
