// UUID parse, format and generation (see uuid.h).
#include "domain-xml/uuid.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <random>

#include "util/i18n.h"

namespace arrow {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::string uuid_format(const Uuid& uuid) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < uuid.size(); i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += digits[uuid[i] >> 4];
    out += digits[uuid[i] & 0xf];
  }
  return out;
}

Result<Uuid> uuid_parse(std::string_view text) {
  auto bad = [&] {
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for <uuid>: expected 32 hexadecimal digits, optionally with dashes"),
                          std::string(text).c_str()));
  };
  size_t i = 0;
  while (i < text.size() && is_blank(text[i])) i++;
  size_t end = text.size();
  while (end > i && is_blank(text[end - 1])) end--;
  Uuid uuid{};
  size_t n = 0;
  for (; i < end; i++) {
    if (text[i] == '-') {
      // Dashes only between digit pairs, never leading, trailing or doubled.
      if (n == 0 || n == 16 || i + 1 == end || text[i + 1] == '-') return bad();
      continue;
    }
    int hi = hex_value(text[i]);
    int lo = i + 1 < end ? hex_value(text[i + 1]) : -1;
    if (hi < 0 || lo < 0 || n == 16) return bad();
    uuid[n++] = static_cast<uint8_t>(hi << 4 | lo);
    i++;
  }
  if (n != 16) return bad();
  bool zero = true;
  for (uint8_t b : uuid) zero = zero && b == 0;
  if (zero)
    return make_error(VIR_ERR_XML_ERROR, fmt(_("invalid value '%1$s' for <uuid>: the nil UUID is not allowed"),
                                             std::string(text).c_str()));
  return uuid;
}

Uuid uuid_generate() {
  Uuid uuid{};
  size_t got = 0;
  while (got < uuid.size()) {
    ssize_t r = getrandom(uuid.data() + got, uuid.size() - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r < 0 && errno != EINTR) {
      // getrandom cannot fail on Linux >= 3.17 once the pool is seeded;
      // fall back to std::random_device rather than returning a weak UUID.
      std::random_device rd;
      for (auto& b : uuid) b = static_cast<uint8_t>(rd());
      break;
    }
  }
  uuid[6] = static_cast<uint8_t>((uuid[6] & 0x0f) | 0x40);  // version 4
  uuid[8] = static_cast<uint8_t>((uuid[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return uuid;
}

}  // namespace arrow
