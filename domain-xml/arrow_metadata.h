// <metadata>: the one place that reads and writes its elements. ArrowDef keeps
// each child of <metadata> serialised (arrow_def.h); the domain-XML parser,
// the driver's Arrow-namespace elements (<arrow:console>, <arrow:anotify>,
// <arrow:status>) and virDomainGetMetadata / virDomainSetMetadata all come
// here, and every parse here is xml_parse_untrusted's.
#pragma once

#include <libxml/tree.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain-xml/xml_util.h"
#include "util/result.h"

namespace arrow {

// One <metadata> child parsed back from its serialised form (or a client's
// element), owning its document.
class MetadataElement {
 public:
  // VIR_ERR_XML_ERROR unless TEXT is one well-formed element within
  // xml_parse_untrusted's limits.
  static Result<MetadataElement> parse(std::string_view text);

  const xmlNode* node() const { return xmlDocGetRootElement(doc_.get()); }
  // In namespace URI and, when NAME is not empty, called NAME.
  bool is(std::string_view uri, std::string_view name = {}) const;
  // Its attribute NAME (in no namespace); nullopt when absent.
  std::optional<std::string> attr(const char* name) const;

 private:
  explicit MetadataElement(XmlDocPtr doc) : doc_(std::move(doc)) {}
  XmlDocPtr doc_;
};

// The first element of METADATA in namespace URI (and called NAME when NAME
// is not empty); nullopt when none.
std::optional<MetadataElement> metadata_find(const std::vector<std::string>& metadata, std::string_view uri,
                                             std::string_view name = {});

// Element N as ArrowDef keeps it: in a document of its own, so that the
// namespaces it uses are declared on it even when its source declared them
// higher up; whitespace-only text between elements dropped (mixed content is
// left alone) so that the result does not depend on the input's layout; and
// indented for its depth in the formatted domain (<domain><metadata>: 2).
Result<std::string> metadata_serialise(const xmlNode* n);

// virDomainGetMetadata(VIR_DOMAIN_METADATA_ELEMENT, URI): the first element
// of METADATA in namespace URI with that namespace taken off it and its
// descendants, formatted as libvirt returns it; nullopt when there is none.
std::optional<std::string> metadata_get_element(const std::vector<std::string>& metadata, std::string_view uri);

// virDomainSetMetadata(VIR_DOMAIN_METADATA_ELEMENT): METADATA without its
// elements in namespace URI and, when ELEMENT is given, with ELEMENT added
// last, its elements that have no namespace put in URI under the prefix KEY
// (libvirt's rule). Errors as libvirt's: a malformed ELEMENT is
// VIR_ERR_XML_DETAIL quoting the line at fault, an invalid KEY or one ELEMENT
// already declares is VIR_ERR_INTERNAL_ERROR.
Result<std::vector<std::string>> metadata_set_element(const std::vector<std::string>& metadata,
                                                      const std::optional<std::string>& element,
                                                      std::string_view key, std::string_view uri);

}  // namespace arrow
