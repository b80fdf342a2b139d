// <arrow:debug gdbstub='PORT'/> (see arrow_debug.h).
#include "driver/arrow/arrow_debug.h"

#include <cerrno>
#include <cstdlib>

#include "domain-xml/arrow_metadata.h"
#include "driver/api/arrow_names.h"
#include "util/i18n.h"

namespace arrow {

Result<std::optional<unsigned>> metadata_gdbstub_port(const ArrowDef& def) {
  std::optional<MetadataElement> el = metadata_find(def.metadata, kArrowMetadataNs, kArrowElementDebug);
  std::optional<std::string> value = el ? el->attr("gdbstub") : std::nullopt;
  if (!value) return std::optional<unsigned>();
  const std::string& text = *value;
  char* end = nullptr;
  errno = 0;
  const unsigned long port = std::strtoul(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || port == 0 || port > 65535 || text[0] == '-' || text[0] == '+')
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'gdbstub' of <arrow:debug>: expected a TCP port "
                            "from 1 to 65535 (bound on 127.0.0.1)"),
                          text.c_str()));
  return std::optional<unsigned>(static_cast<unsigned>(port));
}

}  // namespace arrow
