// XDR (RFC 4506) encoder and bounds-checked decoder for the libvirt remote
// protocol: big-endian 4-byte units, 8-byte hypers, padded strings and
// opaques, counted arrays with limits from the protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace arrow::rpc {

// Appends XDR units to a byte string. Never fails: limits are the decoder's
// and the framing's business.
class XdrWriter {
 public:
  XdrWriter() = default;
  explicit XdrWriter(std::string* out) : out_(out) {}

  void u32(uint32_t v);
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v);
  void boolean(bool v) { u32(v ? 1 : 0); }
  // opaque[N]: raw bytes, padded, no count.
  void fixed_opaque(const void* data, size_t len);
  // opaque<N> and string<N>: count, bytes, padding.
  void opaque(std::string_view bytes);
  void string(std::string_view s) { opaque(s); }
  // remote_string: 0 = NULL, or 1 and the string.
  void optional_string(const std::optional<std::string>& s);
  // char x<N> as the client strcpy()s it: one 4-byte unit per char, with a
  // trailing NUL (so "" becomes [0]).
  void char_array_with_nul(std::string_view s);

  std::string& bytes() { return *out_; }
  size_t size() const { return out_->size(); }

 private:
  std::string own_;
  std::string* out_ = &own_;
};

// Reads XDR units from a buffer it does not own. Errors are sticky: after the
// first failure every read yields a zero value and ok() is false, so a handler
// decodes all its arguments and checks once.
class XdrReader {
 public:
  XdrReader(const void* data, size_t len) : p_(static_cast<const uint8_t*>(data)), end_(p_ + len) {}

  uint32_t u32();
  int32_t i32() { return static_cast<int32_t>(u32()); }
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64();
  bool boolean() { return u32() != 0; }
  // Fills LEN raw bytes (plus padding is skipped).
  void fixed_opaque(void* out, size_t len);
  std::string opaque(size_t max);
  std::string string(size_t max) { return opaque(max); }
  std::optional<std::string> optional_string(size_t max);
  // The count of a T<max> array; fails when above max or when fewer than
  // count*min_elem_size bytes remain (a cheap guard against huge allocations).
  uint32_t array_count(size_t max, size_t min_elem_size = 4);

  bool ok() const { return error_.empty(); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  // The first failure, as a libvirt RPC error.
  Error error() const;
  void fail(const char* what);

 private:
  bool need(size_t n);

  const uint8_t* p_;
  const uint8_t* end_;
  std::string error_;
};

}  // namespace arrow::rpc
