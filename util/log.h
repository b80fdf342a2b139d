// The daemon's log sink, as every part receives it: one line, no newline.
#pragma once

#include <functional>
#include <string>

namespace arrow {

using LogFn = std::function<void(const std::string& line)>;

}  // namespace arrow
