// Deterministic randomness for the fuzz targets. The code under test asks the
// kernel for random bytes (uuid_generate: the UUID of a domain XML without
// <uuid>, the fake driver's), and random bytes take different branches on
// each run: coverage would then differ between two runs of the same inputs
// with the same -seed, and so would the inputs libFuzzer derives from it,
// and a finding could not be replayed exactly. This getrandom(), defined in
// the fuzz binary, overrides libc's for the code linked into it; it returns
// a fixed stream (splitmix64) that fuzz_random_reset() restarts, which each
// target does at the start of every input.
//
// Include this from exactly one file of each fuzz binary.
#pragma once

#include <sys/random.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace arrow::fuzz {

inline uint64_t fuzz_random_state = 0;

inline void fuzz_random_reset() { fuzz_random_state = 0x9e3779b97f4a7c15ULL; }

inline uint64_t fuzz_random_next() {
  uint64_t z = (fuzz_random_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace arrow::fuzz

extern "C" ssize_t getrandom(void* buf, size_t len, unsigned int /*flags*/) {
  auto* out = static_cast<unsigned char*>(buf);
  for (size_t i = 0; i < len; i += 8) {
    uint64_t v = arrow::fuzz::fuzz_random_next();
    std::memcpy(out + i, &v, len - i < 8 ? len - i : 8);
  }
  return static_cast<ssize_t>(len);
}
