// XDR encoder and bounds-checked decoder (see xdr.h).
#include "driver/rpc/xdr.h"

#include <cstring>

#include "util/i18n.h"

namespace arrow::rpc {

namespace {
size_t pad_of(size_t len) { return (4 - (len & 3)) & 3; }
}  // namespace

void XdrWriter::u32(uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  out_->append(b, 4);
}

void XdrWriter::u64(uint64_t v) {
  u32(static_cast<uint32_t>(v >> 32));
  u32(static_cast<uint32_t>(v));
}

void XdrWriter::f64(double v) {
  uint64_t bits;
  static_assert(sizeof bits == sizeof v);
  std::memcpy(&bits, &v, sizeof bits);
  u64(bits);
}

void XdrWriter::fixed_opaque(const void* data, size_t len) {
  out_->append(static_cast<const char*>(data), len);
  out_->append(pad_of(len), '\0');
}

void XdrWriter::opaque(std::string_view bytes) {
  u32(static_cast<uint32_t>(bytes.size()));
  fixed_opaque(bytes.data(), bytes.size());
}

void XdrWriter::optional_string(const std::optional<std::string>& s) {
  boolean(s.has_value());
  if (s) string(*s);
}

void XdrWriter::char_array_with_nul(std::string_view s) {
  u32(static_cast<uint32_t>(s.size() + 1));
  for (char c : s) i32(static_cast<signed char>(c));
  u32(0);
}

bool XdrReader::need(size_t n) {
  if (!ok()) return false;
  if (remaining() < n) {
    fail("message payload truncated");
    return false;
  }
  return true;
}

void XdrReader::fail(const char* what) {
  if (ok()) error_ = what;
  p_ = end_;
}

Error XdrReader::error() const {
  return make_error(VIR_ERR_RPC, fmt(_("Unable to decode message payload: %1$s"), error_.c_str()));
}

uint32_t XdrReader::u32() {
  if (!need(4)) return 0;
  uint32_t v = (uint32_t{p_[0]} << 24) | (uint32_t{p_[1]} << 16) | (uint32_t{p_[2]} << 8) | p_[3];
  p_ += 4;
  return v;
}

uint64_t XdrReader::u64() {
  uint64_t hi = u32();
  uint64_t lo = u32();
  return (hi << 32) | lo;
}

double XdrReader::f64() {
  uint64_t bits = u64();
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

void XdrReader::fixed_opaque(void* out, size_t len) {
  size_t padded = len + pad_of(len);
  if (!need(padded)) {
    std::memset(out, 0, len);
    return;
  }
  std::memcpy(out, p_, len);
  p_ += padded;
}

std::string XdrReader::opaque(size_t max) {
  uint32_t len = u32();
  if (!ok()) return {};
  if (len > max) {
    fail("string or opaque longer than its protocol limit");
    return {};
  }
  size_t padded = size_t{len} + pad_of(len);
  if (!need(padded)) return {};
  std::string s(reinterpret_cast<const char*>(p_), len);
  p_ += padded;
  return s;
}

std::optional<std::string> XdrReader::optional_string(size_t max) {
  uint32_t present = u32();
  if (!ok()) return std::nullopt;
  if (present > 1) {
    fail("bad optional-pointer marker");
    return std::nullopt;
  }
  if (present == 0) return std::nullopt;
  std::string s = string(max);
  if (!ok()) return std::nullopt;
  return s;
}

uint32_t XdrReader::array_count(size_t max, size_t min_elem_size) {
  uint32_t n = u32();
  if (!ok()) return 0;
  if (n > max) {
    fail("array longer than its protocol limit");
    return 0;
  }
  if (size_t{n} * min_elem_size > remaining()) {
    fail("array count larger than the payload");
    return 0;
  }
  return n;
}

}  // namespace arrow::rpc
