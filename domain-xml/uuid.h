// UUIDs as libvirt writes and reads them: 16 bytes, formatted as
// 8-4-4-4-12 lowercase hex, parsed with or without the dashes.
#pragma once

#include <string>
#include <string_view>

#include "domain-xml/arrow_def.h"
#include "util/result.h"

namespace arrow {

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase.
std::string uuid_format(const Uuid& uuid);

// Accepts 32 hex digits, optionally with dashes between any pair of digits
// (libvirt's virUUIDParse rule), surrounding blanks ignored. Refuses the
// all-zero UUID. Error: VIR_ERR_XML_ERROR naming <uuid>.
Result<Uuid> uuid_parse(std::string_view text);

// A random version-4 UUID from the kernel's CSPRNG (getrandom).
Uuid uuid_generate();

}  // namespace arrow
