// Host end of the Anotify wire format (anotify_proto.h): an incremental
// decoder for guest->host frames and an encoder for host->guest frames. Pure
// byte handling, no I/O, so it is unit-tested on byte fixtures.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace arrow {

// One message from the guest. A tagged union: the daemon fans it out.
struct AnotifyBooted { uint64_t uptime_ms = 0; };
struct AnotifyAppStarted { uint32_t pid = 0; };
// signal == 0: the application exited with status; otherwise it was killed by
// signal and status is -1.
struct AnotifyAppExited { int32_t status = 0; int32_t signal = 0; };
struct AnotifyError { std::string text; };
// by: who ended the process, ANOTIFY_OOM_BY_KERNEL (the kernel's OOM killer;
// also what a guest that sends the pid alone means) or ANOTIFY_OOM_BY_INIT
// (ainit's memory-pressure watch).
struct AnotifyOutOfMemory { uint32_t pid = 0; uint32_t by = 0; };
struct AnotifyHeartbeat { uint64_t uptime_ms = 0; };
// Everything the application wrote to stdout/stderr in pipe mode: BYTES in
// all on the stdout port. The host acknowledges once it has read them.
struct AnotifyOutputEnd { uint64_t bytes = 0; };
// ainit waits for its private instructions (the environment); the host
// answers with anotify_encode_instructions().
// all: ainit booted with arrow.wait=1 and waits for every instruction
// (a template), answered with anotify_encode_all_instructions().
struct AnotifyInstructionsWanted { bool all = false; };
// The application said READY=1 on $NOTIFY_SOCKET (the systemd notify protocol).
struct AnotifyReady {};
// The guest stalled on memory (a PSI trigger of ainit_pressure.c fired):
// its stall total (us) and MemAvailable/MemTotal (KiB) at that moment.
struct AnotifyMemoryPressure { uint64_t stall_total_us = 0; uint32_t available_kib = 0; uint32_t total_kib = 0; };

using AnotifyEvent = std::variant<AnotifyBooted, AnotifyAppStarted, AnotifyAppExited, AnotifyError,
                                  AnotifyOutOfMemory, AnotifyHeartbeat, AnotifyOutputEnd, AnotifyInstructionsWanted,
                                  AnotifyReady, AnotifyMemoryPressure>;

// A short English line for logs and arrow-launch, e.g. "exited status 3".
std::string anotify_event_describe(const AnotifyEvent& event);

// Counts of what the decoder had to throw away, for logs and tests.
struct AnotifyDecoderStats {
  uint64_t frames = 0;           // events produced
  uint64_t skipped_bytes = 0;    // bytes dropped while resynchronising
  uint64_t unknown_frames = 0;   // well-formed frames of a type or version we do not know
  uint64_t rejected_frames = 0;  // headers whose length exceeds ANOTIFY_MAX_PAYLOAD, or bad payloads
  // Bytes moved to the front of the buffer (an unfinished frame kept for the
  // next feed): the decoder's only copying, at most one partial frame per
  // feed(), which is what keeps it linear whatever the guest sends.
  uint64_t moved_bytes = 0;
};

// Incremental decoder. Contract: feed() accepts any split of the byte stream;
// a truncated frame stays buffered until the rest arrives; bytes that do not
// start a valid header (magic, check word) are skipped up to the next place
// the two magic bytes stand, in one search, and counted in skipped_bytes;
// frames of unknown type or version or with an ill-sized payload are skipped
// whole; a header announcing more than ANOTIFY_MAX_PAYLOAD is treated as
// garbage, so the buffer never exceeds one maximal frame. Linear in the
// input: at most one partial frame is moved per feed() (moved_bytes).
class AnotifyDecoder {
 public:
  std::vector<AnotifyEvent> feed(std::span<const uint8_t> bytes);
  const AnotifyDecoderStats& stats() const { return stats_; }
  size_t buffered() const { return buf_.size(); }

 private:
  // Length of the frame at buf_[POS]: >0 complete, 0 need more, -1 no
  // frame starts there.
  long frame_at(size_t pos) const;
  void decode_frame(uint8_t type, std::span<const uint8_t> payload, std::vector<AnotifyEvent>& out);

  std::vector<uint8_t> buf_;
  AnotifyDecoderStats stats_;
};

// Host->guest frames.
std::vector<uint8_t> anotify_encode_frame(uint8_t type, std::span<const uint8_t> payload);
std::vector<uint8_t> anotify_encode_shutdown(uint32_t grace_ms);
std::vector<uint8_t> anotify_encode_signal(int32_t signal);
std::vector<uint8_t> anotify_encode_output_ack();
// ainit's private instructions, the answer to INSTRUCTIONS_WANTED: one
// SETENV frame per "NAME=VALUE" (each at most ANOTIFY_MAX_PAYLOAD bytes; the
// caller checks), then INSTRUCTIONS_END.
std::vector<uint8_t> anotify_encode_instructions(std::span<const std::string> env);
// The answer to INSTRUCTIONS_WANTED with ANOTIFY_WANT_ALL: an empty TEXT (a
// set begins), TEXT (the arrow.* tokens, in frames of at most
// ANOTIFY_MAX_PAYLOAD bytes), ENTROPY, then the environment as above.
std::vector<uint8_t> anotify_encode_all_instructions(std::string_view tokens, std::span<const uint8_t> entropy,
                                                     std::span<const std::string> env);

}  // namespace arrow
