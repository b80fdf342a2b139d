// libFuzzer target: the domain XML parser on untrusted bytes. Beyond "no
// crash, no sanitizer report", it checks the round-trip contract of
// arrow_xml.h: whatever parses formats to XML that parses again to the same
// formatted text.
//
// Each input runs the same way whatever ran before it and whenever it runs,
// so that a seeded run (make fuzz-smoke) is the same on every machine and a
// finding replays exactly: random bytes (the UUID of a domain without
// <uuid>) come from a fixed stream restarted for each input
// (fuzz/fuzz_random.h); libxml2 is initialised once up front, and the copy
// of the last error it keeps in a global is dropped after each input (else
// the next input frees it, and libFuzzer, seeing mallocs and frees differ,
// runs that input again for its leak check).
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "domain-xml/arrow_xml.h"
#include "fuzz/fuzz_random.h"

namespace {

int test_one(const uint8_t* data, size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  arrow::Result<arrow::ArrowDef> def = arrow::parse_domain_xml(xml);
  if (!def.ok()) {
    if (def.error().message.empty()) std::abort();  // every refusal says why
    return 0;
  }
  const std::string once = arrow::format_domain_xml(def.value());
  arrow::Result<arrow::ArrowDef> again = arrow::parse_domain_xml(once);
  if (!again.ok() || arrow::format_domain_xml(again.value()) != once) std::abort();
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  xmlInitParser();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  arrow::fuzz::fuzz_random_reset();
  int r = test_one(data, size);
  xmlResetLastError();
  return r;
}
