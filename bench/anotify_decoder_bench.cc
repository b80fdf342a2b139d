// The Anotify decoder's throughput on what a hostile guest sends (200 KB
// blocks of garbage, garbage made of magic bytes, a flood of valid frames),
// fed in the 64 KiB reads the channel makes, beside a plain copy of the same
// bytes (the least any consumer of them costs) measured in the same run.
// Prints MB/s, the ratio to the copy, and the target.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "anotify/anotify_decoder.h"
#include "anotify/anotify_proto.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBlock = 200 * 1000;
constexpr size_t kRead = 64 * 1024;
constexpr size_t kTotal = 64u << 20;  // per pattern
constexpr double kTargetMBs = 100;    // far above what virtio-serial under TCG delivers

std::vector<uint8_t> pattern(const std::string& name) {
  std::vector<uint8_t> block;
  if (name == "garbage 'A'") {
    block.assign(kBlock, 'A');
  } else if (name == "garbage of magic bytes") {
    for (size_t i = 0; i < kBlock; i += 2) block.insert(block.end(), {ANOTIFY_MAGIC0, ANOTIFY_MAGIC1});
  } else {  // valid heartbeat frames
    const std::vector<uint8_t> hb = arrow::anotify_encode_frame(ANOTIFY_HEARTBEAT, std::vector<uint8_t>(8, 1));
    while (block.size() + hb.size() <= kBlock) block.insert(block.end(), hb.begin(), hb.end());
  }
  return block;
}

// Seconds to push kTotal bytes of BLOCK through CONSUME in kRead pieces.
template <typename Consume>
double run(const std::vector<uint8_t>& block, Consume consume) {
  const auto start = Clock::now();
  for (size_t done = 0; done < kTotal; done += block.size()) {
    for (size_t off = 0; off < block.size(); off += kRead)
      consume(std::span<const uint8_t>(block).subspan(off, std::min(kRead, block.size() - off)));
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main() {
  std::printf("Anotify decoder, %zu MiB per pattern in %zu-byte blocks, read %zu bytes at a time\n", kTotal >> 20,
              kBlock, kRead);
  std::printf("%-26s %12s %12s %8s %10s %14s\n", "input", "decoder MB/s", "copy MB/s", "ratio", "target", "breakdown");
  for (const char* name : {"garbage 'A'", "garbage of magic bytes", "valid heartbeat frames"}) {
    const std::vector<uint8_t> block = pattern(name);
    arrow::AnotifyDecoder decoder;
    size_t events = 0;
    const double t_dec = run(block, [&](std::span<const uint8_t> piece) { events += decoder.feed(piece).size(); });
    std::vector<uint8_t> sink(kRead);
    volatile uint8_t keep = 0;
    const double t_copy = run(block, [&](std::span<const uint8_t> piece) {
      std::memcpy(sink.data(), piece.data(), piece.size());
      keep = keep + sink[piece.size() - 1];
    });
    const double mb = static_cast<double>(kTotal) / 1e6;
    const auto& s = decoder.stats();
    std::printf("%-26s %12.0f %12.0f %7.2fx %9s %s\n", name, mb / t_dec, mb / t_copy, t_copy / t_dec,
                (mb / t_dec >= kTargetMBs ? ">=100 ok" : ">=100 MISS"),
                (std::to_string(events) + " events, " + std::to_string(s.skipped_bytes) + " skipped, " +
                 std::to_string(s.moved_bytes) + " moved bytes")
                    .c_str());
  }
  return 0;
}
