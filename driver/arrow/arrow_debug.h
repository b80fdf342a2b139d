// Adebug's kernel-level debugging: an opt-in QEMU gdbstub, asked for in the
// Arrow's metadata as <arrow:debug gdbstub='PORT'/> (kArrowMetadataNs) and
// bound to 127.0.0.1:PORT only. Anyone on the host who can reach that port
// controls the guest (memory, registers), so it is off unless asked for.
#pragma once

#include <optional>

#include "domain-xml/arrow_def.h"
#include "util/result.h"

namespace arrow {

// The port DEF asks for; nullopt when none. VIR_ERR_XML_ERROR naming the
// attribute for a value that is no port (1-65535).
Result<std::optional<unsigned>> metadata_gdbstub_port(const ArrowDef& def);

}  // namespace arrow
