// libFuzzer target: the domain XML parser on untrusted bytes. Beyond "no
// crash, no sanitizer report", it checks the round-trip contract of
// arrow_xml.h: whatever parses formats to XML that parses again to the same
// formatted text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "domain-xml/arrow_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
