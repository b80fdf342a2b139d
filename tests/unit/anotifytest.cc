// Anotify host decoder and encoder: byte fixtures in tests/data/anotify/
// (NAME.bin decoded to NAME.events), every fixture also fed one byte at a
// time, and the exact bytes of host->guest frames.
#include <cppunit/extensions/HelperMacros.h>

#include "anotify/anotify_decoder.h"
#include "anotify/anotify_proto.h"
#include "tests/unit/testutil.h"
#include "util/i18n.h"

namespace arrow {

namespace {

std::string describe_all(const std::vector<AnotifyEvent>& events, const AnotifyDecoder& d) {
  std::string out;
  for (const AnotifyEvent& ev : events) out += anotify_event_describe(ev) + "\n";
  const AnotifyDecoderStats& s = d.stats();
  out += fmt("# frames=%llu skipped=%llu unknown=%llu rejected=%llu buffered=%zu\n",
             static_cast<unsigned long long>(s.frames), static_cast<unsigned long long>(s.skipped_bytes),
             static_cast<unsigned long long>(s.unknown_frames), static_cast<unsigned long long>(s.rejected_frames),
             d.buffered());
  return out;
}

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

class AnotifyTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(AnotifyTest);
  CPPUNIT_TEST(test_fixtures);
  CPPUNIT_TEST(test_event_fields);
  CPPUNIT_TEST(test_encode_shutdown);
  CPPUNIT_TEST(test_encode_signal);
  CPPUNIT_TEST(test_oom_who);
  CPPUNIT_TEST(test_encode_instructions);
  CPPUNIT_TEST(test_templates);
  CPPUNIT_TEST(test_buffer_bounded);
  CPPUNIT_TEST(test_frames_between_garbage_blocks);
  CPPUNIT_TEST_SUITE_END();

 public:
  void test_fixtures() {
    test::check_goldens("anotify", ".bin", 8, [](const std::string& dir, const std::string& name) {
      const std::string bin = name + ".bin";
      const std::vector<uint8_t> input = bytes_of(test::read_file(dir + "/" + bin));
      AnotifyDecoder whole;
      const std::string actual = describe_all(whole.feed(input), whole);
      const std::string diff = test::compare_golden(dir + "/" + name + ".events", actual);
      CPPUNIT_ASSERT_MESSAGE(bin + ": " + diff, diff.empty());

      // Any split of the stream gives the same events.
      AnotifyDecoder bytewise;
      std::vector<AnotifyEvent> events;
      for (uint8_t b : input) {
        auto more = bytewise.feed(std::span<const uint8_t>(&b, 1));
        events.insert(events.end(), more.begin(), more.end());
      }
      CPPUNIT_ASSERT_EQUAL_MESSAGE(bin + " fed byte by byte", actual, describe_all(events, bytewise));
      return std::vector<std::string>{name + ".events"};
    });
  }

  void test_event_fields() {
    const std::vector<uint8_t> input = bytes_of(test::read_file(test::data_dir("anotify") + "/signalled.bin"));
    AnotifyDecoder d;
    const auto events = d.feed(input);
    CPPUNIT_ASSERT_EQUAL(size_t(3), events.size());
    CPPUNIT_ASSERT_EQUAL(uint32_t(1), std::get<AnotifyAppStarted>(events[0]).pid);
    CPPUNIT_ASSERT_EQUAL(uint32_t(42), std::get<AnotifyOutOfMemory>(events[1]).pid);
    CPPUNIT_ASSERT_EQUAL(int32_t(-1), std::get<AnotifyAppExited>(events[2]).status);
    CPPUNIT_ASSERT_EQUAL(int32_t(9), std::get<AnotifyAppExited>(events[2]).signal);
  }

  void test_encode_shutdown() {
    const std::vector<uint8_t> expected = {'A', 'N', 1, ANOTIFY_SHUTDOWN, 4, 0, 0xf8, 0xfb, 0x88, 0x13, 0, 0};
    CPPUNIT_ASSERT(expected == anotify_encode_shutdown(5000));
    CPPUNIT_ASSERT_EQUAL(anotify_check(ANOTIFY_SHUTDOWN, 4), static_cast<uint16_t>(0xfbf8));
  }

  void test_encode_signal() {
    const std::vector<uint8_t> frame = anotify_encode_signal(15);
    CPPUNIT_ASSERT_EQUAL(size_t(ANOTIFY_HEADER_SIZE + 4), frame.size());
    CPPUNIT_ASSERT_EQUAL(uint8_t(ANOTIFY_SIGNAL), frame[3]);
    CPPUNIT_ASSERT_EQUAL(uint8_t(15), frame[8]);
    // A guest-bound frame is well formed: our own decoder skips it whole as
    // a type it never receives, losing no byte of what follows.
    std::vector<uint8_t> stream = frame;
    const std::vector<uint8_t> booted = anotify_encode_frame(ANOTIFY_BOOTED, std::vector<uint8_t>(8, 0));
    stream.insert(stream.end(), booted.begin(), booted.end());
    AnotifyDecoder d;
    CPPUNIT_ASSERT_EQUAL(size_t(1), d.feed(stream).size());
    CPPUNIT_ASSERT_EQUAL(uint64_t(0), d.stats().skipped_bytes);
  }

  // OOM's second field: who ended the process; a pid alone means the kernel.
  void test_oom_who() {
    const std::vector<uint8_t> input = bytes_of(test::read_file(test::data_dir("anotify") + "/oom-who.bin"));
    AnotifyDecoder d;
    const auto events = d.feed(input);
    CPPUNIT_ASSERT_EQUAL(size_t(7), events.size());
    const uint32_t expected[][2] = {{41, ANOTIFY_OOM_BY_KERNEL}, {42, ANOTIFY_OOM_BY_KERNEL},
                                    {40, ANOTIFY_OOM_BY_INIT}, {43, 7}, {44, ANOTIFY_OOM_BY_INIT}};
    for (size_t i = 0; i < 5; i++) {
      const auto& oom = std::get<AnotifyOutOfMemory>(events[i + 1]);
      CPPUNIT_ASSERT_EQUAL(expected[i][0], oom.pid);
      CPPUNIT_ASSERT_EQUAL(expected[i][1], oom.by);
    }
  }

  // Templates: INSTRUCTIONS_WANTED with ANOTIFY_WANT_ALL and READY decode;
  // the answer is an empty TEXT (a set begins), the tokens split in frames of
  // at most ANOTIFY_MAX_PAYLOAD bytes, ENTROPY, then the environment.
  void test_templates() {
    AnotifyDecoder d;
    const uint8_t all = ANOTIFY_WANT_ALL;
    std::vector<uint8_t> in = anotify_encode_frame(ANOTIFY_INSTRUCTIONS_WANTED, std::span<const uint8_t>(&all, 1));
    const std::vector<uint8_t> plain = anotify_encode_frame(ANOTIFY_INSTRUCTIONS_WANTED, {});
    const std::vector<uint8_t> ready = anotify_encode_frame(ANOTIFY_READY, {});
    in.insert(in.end(), plain.begin(), plain.end());
    in.insert(in.end(), ready.begin(), ready.end());
    const std::vector<AnotifyEvent> events = d.feed(in);
    CPPUNIT_ASSERT_EQUAL(size_t(3), events.size());
    CPPUNIT_ASSERT(std::get<AnotifyInstructionsWanted>(events[0]).all);
    CPPUNIT_ASSERT(!std::get<AnotifyInstructionsWanted>(events[1]).all);
    CPPUNIT_ASSERT(std::holds_alternative<AnotifyReady>(events[2]));

    const std::string tokens(ANOTIFY_MAX_PAYLOAD + 10, 't');
    const std::vector<uint8_t> entropy(32, 0xee);
    const std::vector<std::string> env = {"A=1"};
    const std::vector<uint8_t> bytes = anotify_encode_all_instructions(tokens, entropy, env);
    std::vector<uint8_t> expected = anotify_encode_frame(ANOTIFY_INSTRUCTIONS_TEXT, {});
    for (const auto& part : {anotify_encode_frame(ANOTIFY_INSTRUCTIONS_TEXT, bytes_of(tokens.substr(0, ANOTIFY_MAX_PAYLOAD))),
                             anotify_encode_frame(ANOTIFY_INSTRUCTIONS_TEXT, bytes_of(std::string(10, 't'))),
                             anotify_encode_frame(ANOTIFY_ENTROPY, entropy), anotify_encode_instructions(env)})
      expected.insert(expected.end(), part.begin(), part.end());
    CPPUNIT_ASSERT(expected == bytes);
  }

  // ainit's private instructions (the answer to INSTRUCTIONS_WANTED, decoded
  // in instructions.bin): one SETENV frame per variable, its bytes verbatim,
  // then an empty INSTRUCTIONS_END; our own decoder skips them whole (they
  // only travel to the guest).
  void test_encode_instructions() {
    const std::vector<std::string> env = {"A=1", "API_TOKEN=s3cret value"};
    const std::vector<uint8_t> bytes = anotify_encode_instructions(env);
    std::vector<uint8_t> expected = {'A', 'N', 1, ANOTIFY_SETENV, 3, 0};
    const uint16_t check1 = anotify_check(ANOTIFY_SETENV, 3);
    expected.insert(expected.end(), {uint8_t(check1 & 0xff), uint8_t(check1 >> 8), 'A', '=', '1'});
    const std::vector<uint8_t> second = anotify_encode_frame(ANOTIFY_SETENV, bytes_of(env[1]));
    expected.insert(expected.end(), second.begin(), second.end());
    const uint16_t check3 = anotify_check(ANOTIFY_INSTRUCTIONS_END, 0);
    expected.insert(expected.end(), {'A', 'N', 1, ANOTIFY_INSTRUCTIONS_END, 0, 0, uint8_t(check3 & 0xff), uint8_t(check3 >> 8)});
    CPPUNIT_ASSERT(expected == bytes);
    CPPUNIT_ASSERT_EQUAL(size_t(3 * ANOTIFY_HEADER_SIZE + 3 + 22), bytes.size());
    CPPUNIT_ASSERT(anotify_encode_instructions({}) == anotify_encode_frame(ANOTIFY_INSTRUCTIONS_END, {}));
    AnotifyDecoder d;
    CPPUNIT_ASSERT(d.feed(bytes).empty());
    CPPUNIT_ASSERT_EQUAL(uint64_t(3), d.stats().unknown_frames);
    CPPUNIT_ASSERT_EQUAL(uint64_t(0), d.stats().skipped_bytes + d.stats().rejected_frames);
  }

  // Endless garbage never grows the buffer past one header.
  void test_buffer_bounded() {
    AnotifyDecoder d;
    std::vector<uint8_t> junk(100000, 'A');
    CPPUNIT_ASSERT(d.feed(junk).empty());
    CPPUNIT_ASSERT(d.buffered() <= static_cast<size_t>(ANOTIFY_HEADER_SIZE));
    std::vector<uint8_t> magic_junk;
    for (int i = 0; i < 5000; i++) magic_junk.insert(magic_junk.end(), {'A', 'N', 1, 2, 0xff, 0xff, 0, 0});
    CPPUNIT_ASSERT(d.feed(magic_junk).empty());
    CPPUNIT_ASSERT(d.buffered() <= static_cast<size_t>(ANOTIFY_HEADER_SIZE + ANOTIFY_MAX_PAYLOAD));
  }

  // 200 KB blocks of garbage (the hostile guest of SECURITY.md) between real
  // frames, fed in one piece and in odd-sized pieces: every frame comes out,
  // every garbage byte is counted once, nothing stays buffered.
  void test_frames_between_garbage_blocks() {
    const std::vector<uint8_t> hb = anotify_encode_frame(ANOTIFY_HEARTBEAT, std::vector<uint8_t>(8, 7));
    std::vector<uint8_t> stream;
    for (int i = 0; i < 5; i++) {
      stream.insert(stream.end(), 200000, i % 2 ? 'A' : ANOTIFY_MAGIC0);
      stream.insert(stream.end(), hb.begin(), hb.end());
    }
    for (size_t piece : {stream.size(), size_t(4093)}) {
      AnotifyDecoder d;
      size_t events = 0, feeds = 0;
      for (size_t off = 0; off < stream.size(); off += piece, feeds++)
        events += d.feed(std::span<const uint8_t>(stream).subspan(off, std::min(piece, stream.size() - off))).size();
      CPPUNIT_ASSERT_EQUAL(size_t(5), events);
      CPPUNIT_ASSERT_EQUAL(uint64_t(5 * 200000), d.stats().skipped_bytes);
      CPPUNIT_ASSERT_EQUAL(size_t(0), d.buffered());
      // Linear: at most one partial frame is carried over per feed, never
      // the garbage (the old decoder moved the buffer once per skipped run).
      CPPUNIT_ASSERT(d.stats().moved_bytes <= feeds * static_cast<uint64_t>(ANOTIFY_HEADER_SIZE + ANOTIFY_MAX_PAYLOAD));
    }
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AnotifyTest);

}  // namespace arrow
