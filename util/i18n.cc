// Formatting helper for translated messages.
#include "util/i18n.h"

#include <cstdarg>
#include <cstdio>

namespace arrow {

std::string fmt(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out;
  if (n > 0) {
    out.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(out.data(), out.size(), format, ap);
    out.resize(static_cast<size_t>(n));
  }
  va_end(ap);
  return out;
}

}  // namespace arrow
