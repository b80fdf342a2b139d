// Text from an untrusted peer, made safe for a log line: control characters
// (newlines included, which would forge lines) and bytes >= 0x7f become
// \n, \t, \\ or \xHH; at most MAX bytes of input are kept.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace arrow {

inline std::string escape_control(std::string_view text, size_t max = 1024) {
  std::string out;
  const bool cut = text.size() > max;
  for (unsigned char c : text.substr(0, max)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (cut) out += "...";
  return out;
}

}  // namespace arrow
