// Anotify frame decoding (guest->host) and encoding (host->guest); see
// anotify_decoder.h for the resynchronisation contract.
#include "anotify/anotify_decoder.h"

#include <cstring>

#include "anotify/anotify_proto.h"
#include "util/i18n.h"

namespace arrow {

namespace {

uint16_t get_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

uint64_t get_u64(const uint8_t* p) { return get_u32(p) | (static_cast<uint64_t>(get_u32(p + 4)) << 32); }

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

std::string anotify_event_describe(const AnotifyEvent& event) {
  struct Describe {
    std::string operator()(const AnotifyBooted& e) const {
      return fmt("booted (uptime %llu ms)", static_cast<unsigned long long>(e.uptime_ms));
    }
    std::string operator()(const AnotifyAppStarted& e) const { return fmt("started pid %u", e.pid); }
    std::string operator()(const AnotifyAppExited& e) const {
      if (e.signal != 0) return fmt("killed by signal %d", e.signal);
      return fmt("exited status %d", e.status);
    }
    std::string operator()(const AnotifyError& e) const { return "error: " + e.text; }
    std::string operator()(const AnotifyOutOfMemory& e) const {
      if (e.by == ANOTIFY_OOM_BY_KERNEL) return fmt("out of memory, killed pid %u", e.pid);
      if (e.by == ANOTIFY_OOM_BY_INIT) return fmt("out of memory, killed pid %u (by ainit)", e.pid);
      return fmt("out of memory, killed pid %u (by %u)", e.pid, e.by);
    }
    std::string operator()(const AnotifyHeartbeat& e) const {
      return fmt("heartbeat (uptime %llu ms)", static_cast<unsigned long long>(e.uptime_ms));
    }
    std::string operator()(const AnotifyOutputEnd& e) const {
      return fmt("output ended (%llu bytes)", static_cast<unsigned long long>(e.bytes));
    }
    std::string operator()(const AnotifyInstructionsWanted& w) const {
      return w.all ? "asks for all of its instructions" : "asks for its instructions";
    }
    std::string operator()(const AnotifyReady&) const { return "application ready"; }
    std::string operator()(const AnotifyMemoryPressure& e) const {
      return fmt("memory pressure (%u of %u kB available)", e.available_kib, e.total_kib);
    }
  };
  return std::visit(Describe{}, event);
}

long AnotifyDecoder::frame_at(size_t pos) const {
  const uint8_t* f = buf_.data() + pos;
  const size_t have = buf_.size() - pos;
  if (have >= 1 && f[0] != ANOTIFY_MAGIC0) return -1;
  if (have >= 2 && f[1] != ANOTIFY_MAGIC1) return -1;
  if (have < static_cast<size_t>(ANOTIFY_HEADER_SIZE)) return 0;
  const uint8_t type = f[3];
  const uint16_t length = get_u16(&f[4]);
  // A wrong check word or an impossible length means these two bytes only
  // looked like magic: skip one and look again.
  if (get_u16(&f[6]) != anotify_check(type, length) || length > ANOTIFY_MAX_PAYLOAD) return -1;
  if (have < static_cast<size_t>(ANOTIFY_HEADER_SIZE + length)) return 0;
  return ANOTIFY_HEADER_SIZE + length;
}

// Linear in the input: POS walks the buffer and the consumed prefix is
// erased once per call, whatever the guest sends (a front erase per skipped
// byte made garbage quadratic).
std::vector<AnotifyEvent> AnotifyDecoder::feed(std::span<const uint8_t> bytes) {
  std::vector<AnotifyEvent> out;
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  size_t pos = 0;  // consumed prefix
  while (pos < buf_.size()) {
    const long n = frame_at(pos);
    if (n == 0) break;
    if (n < 0) {
      // Skip to the next place both magic bytes could start, in one search; a
      // last lone first magic byte may begin a frame that the next read ends.
      static constexpr uint8_t kMagic[2] = {ANOTIFY_MAGIC0, ANOTIFY_MAGIC1};
      const void* magic = ::memmem(buf_.data() + pos + 1, buf_.size() - pos - 1, kMagic, sizeof kMagic);
      size_t next = magic ? static_cast<size_t>(static_cast<const uint8_t*>(magic) - buf_.data()) : buf_.size();
      if (!magic && next - 1 > pos && buf_[next - 1] == ANOTIFY_MAGIC0) next--;
      stats_.skipped_bytes += next - pos;
      if (buf_[pos] == ANOTIFY_MAGIC0 && buf_.size() - pos >= 2 && buf_[pos + 1] == ANOTIFY_MAGIC1)
        stats_.rejected_frames++;
      pos = next;
      continue;
    }
    if (buf_[pos + 2] != ANOTIFY_VERSION) {
      stats_.unknown_frames++;
    } else {
      decode_frame(buf_[pos + 3],
                   std::span<const uint8_t>(buf_.data() + pos + ANOTIFY_HEADER_SIZE,
                                            static_cast<size_t>(n) - ANOTIFY_HEADER_SIZE),
                   out);
    }
    pos += static_cast<size_t>(n);
  }
  if (pos > 0) {
    stats_.moved_bytes += buf_.size() - pos;
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(pos));
  }
  stats_.frames += out.size();
  return out;
}

// Payloads may grow in later versions by appending fields, so a longer payload
// is accepted and its tail ignored; a shorter one is rejected.
void AnotifyDecoder::decode_frame(uint8_t type, std::span<const uint8_t> p, std::vector<AnotifyEvent>& out) {
  auto need = [&](size_t n) {
    if (p.size() >= n) return true;
    stats_.rejected_frames++;
    return false;
  };
  switch (static_cast<anotify_type>(type)) {
    case ANOTIFY_BOOTED:
      if (need(8)) out.emplace_back(AnotifyBooted{get_u64(p.data())});
      return;
    case ANOTIFY_APP_STARTED:
      if (need(4)) out.emplace_back(AnotifyAppStarted{get_u32(p.data())});
      return;
    case ANOTIFY_APP_EXITED:
      if (need(8)) {
        out.emplace_back(AnotifyAppExited{static_cast<int32_t>(get_u32(p.data())),
                                          static_cast<int32_t>(get_u32(p.data() + 4))});
      }
      return;
    case ANOTIFY_ERROR:
      out.emplace_back(AnotifyError{std::string(p.begin(), p.end())});
      return;
    case ANOTIFY_OOM:
      // The second field came later: a pid alone is the kernel's OOM killer.
      if (need(4))
        out.emplace_back(AnotifyOutOfMemory{get_u32(p.data()), p.size() >= 8 ? get_u32(p.data() + 4) : ANOTIFY_OOM_BY_KERNEL});
      return;
    case ANOTIFY_HEARTBEAT:
      if (need(8)) out.emplace_back(AnotifyHeartbeat{get_u64(p.data())});
      return;
    case ANOTIFY_OUTPUT_END:
      if (need(8)) out.emplace_back(AnotifyOutputEnd{get_u64(p.data())});
      return;
    case ANOTIFY_INSTRUCTIONS_WANTED:
      out.emplace_back(AnotifyInstructionsWanted{!p.empty() && p[0] == ANOTIFY_WANT_ALL});
      return;
    case ANOTIFY_READY:
      out.emplace_back(AnotifyReady{});
      return;
    case ANOTIFY_MEMORY_PRESSURE:
      if (need(16)) out.emplace_back(AnotifyMemoryPressure{get_u64(p.data()), get_u32(p.data() + 8), get_u32(p.data() + 12)});
      return;
    case ANOTIFY_SHUTDOWN:  // host->guest types never travel this way
    case ANOTIFY_SIGNAL:
    case ANOTIFY_OUTPUT_ACK:
    case ANOTIFY_SETENV:
    case ANOTIFY_INSTRUCTIONS_END:
    case ANOTIFY_INSTRUCTIONS_TEXT:
    case ANOTIFY_ENTROPY:
      break;
  }
  stats_.unknown_frames++;
}

std::vector<uint8_t> anotify_encode_frame(uint8_t type, std::span<const uint8_t> payload) {
  const auto length = static_cast<uint16_t>(payload.size());
  const uint16_t check = anotify_check(type, length);
  std::vector<uint8_t> out = {ANOTIFY_MAGIC0,
                              ANOTIFY_MAGIC1,
                              ANOTIFY_VERSION,
                              type,
                              static_cast<uint8_t>(length & 0xff),
                              static_cast<uint8_t>(length >> 8),
                              static_cast<uint8_t>(check & 0xff),
                              static_cast<uint8_t>(check >> 8)};
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> anotify_encode_shutdown(uint32_t grace_ms) {
  std::vector<uint8_t> payload;
  put_u32(payload, grace_ms);
  return anotify_encode_frame(ANOTIFY_SHUTDOWN, payload);
}

std::vector<uint8_t> anotify_encode_signal(int32_t signal) {
  std::vector<uint8_t> payload;
  put_u32(payload, static_cast<uint32_t>(signal));
  return anotify_encode_frame(ANOTIFY_SIGNAL, payload);
}

std::vector<uint8_t> anotify_encode_output_ack() { return anotify_encode_frame(ANOTIFY_OUTPUT_ACK, {}); }

std::vector<uint8_t> anotify_encode_instructions(std::span<const std::string> env) {
  std::vector<uint8_t> out;
  for (const std::string& var : env) {
    const std::vector<uint8_t> frame = anotify_encode_frame(
        ANOTIFY_SETENV, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(var.data()), var.size()));
    out.insert(out.end(), frame.begin(), frame.end());
  }
  const std::vector<uint8_t> end = anotify_encode_frame(ANOTIFY_INSTRUCTIONS_END, {});
  out.insert(out.end(), end.begin(), end.end());
  return out;
}

std::vector<uint8_t> anotify_encode_all_instructions(std::string_view tokens, std::span<const uint8_t> entropy,
                                                     std::span<const std::string> env) {
  std::vector<uint8_t> out = anotify_encode_frame(ANOTIFY_INSTRUCTIONS_TEXT, {});
  auto append = [&out](const std::vector<uint8_t>& frame) { out.insert(out.end(), frame.begin(), frame.end()); };
  for (size_t at = 0; at < tokens.size(); at += ANOTIFY_MAX_PAYLOAD) {
    const std::string_view chunk = tokens.substr(at, ANOTIFY_MAX_PAYLOAD);
    append(anotify_encode_frame(ANOTIFY_INSTRUCTIONS_TEXT,
                                std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size())));
  }
  if (!entropy.empty()) append(anotify_encode_frame(ANOTIFY_ENTROPY, entropy));
  append(anotify_encode_instructions(env));
  return out;
}

}  // namespace arrow
