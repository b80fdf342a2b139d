// The daemon's log sink, as every part receives it: one line, no newline.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

namespace arrow {

using LogFn = std::function<void(const std::string& line)>;

// The daemon's default sink: stderr (the journal under systemd).
inline void log_to_stderr(const std::string& line) { std::fprintf(stderr, "virtarrowd: %s\n", line.c_str()); }

}  // namespace arrow
