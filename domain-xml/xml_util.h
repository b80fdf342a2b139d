// libxml2 plumbing shared by the domain-XML parser, formatter and schema
// check: hardened parsing of untrusted XML, RAII owners, and a small writer
// that produces libvirt-style output (2-space indent, single-quoted
// attributes).
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>
#include <string>
#include <string_view>

#include "util/result.h"

namespace arrow {

struct XmlDocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocFree>;

// Limits for untrusted input. A domain XML is a few KiB; 1 MiB leaves room
// for long argument lists while bounding memory. 32 levels is far deeper than
// the grammar (<domain><devices><interface><portForward><range> is 5) and
// leaves room for <metadata>.
inline constexpr size_t kXmlMaxBytes = 1024 * 1024;
inline constexpr int kXmlMaxDepth = 32;

// Parses XML from an untrusted source: no network, no DTD loading or
// validation, no entity substitution, no XInclude; any <!DOCTYPE> stops the
// parse (so no entity can be declared, let alone expanded); size and nesting
// are bounded. Errors are VIR_ERR_XML_ERROR with the line and libxml2's reason.
Result<XmlDocPtr> xml_parse_untrusted(std::string_view xml);

// Where and why libxml2 found XML malformed, for a caller that words the
// error itself (virDomainSetMetadata answers in libvirt's form, which quotes
// the line). LINE and COLUMN count from 1; MESSAGE is libxml2's, trimmed.
struct XmlSyntaxError {
  int line = 0;
  int column = 0;
  std::string message;
};

// The same parse; when the XML is malformed, SYNTAX (if not null) also gets
// the details (nothing is stored for the other refusals: size, depth, DOCTYPE).
Result<XmlDocPtr> xml_parse_untrusted(std::string_view xml, XmlSyntaxError* syntax);

// Escapes text for element content or a single-quoted attribute value, as
// libvirt's virBufferEscapeString does (< > & ' "), plus the whitespace that
// attribute-value normalisation or line-end handling would otherwise alter
// (tab/newline in attributes, carriage return everywhere), so that parsing
// the output yields the input again.
std::string xml_escape(std::string_view text, bool attribute);

// Builds an indented document: open("a").attr("x", v).children() ... close("a").
class XmlWriter {
 public:
  XmlWriter& open(std::string_view name);
  XmlWriter& attr(std::string_view name, std::string_view value);
  void children();                                   // ">\n", one level deeper
  void end_empty();                                  // "/>\n"
  void text_and_close(std::string_view name, std::string_view text);  // ">text</name>\n"
  void close(std::string_view name);                 // "</name>\n", one level up
  // <name>text</name> on one line.
  void element(std::string_view name, std::string_view text);
  // A line of already-serialised XML at the current indent.
  void raw_line(std::string_view line);
  void blank_line() { out_ += '\n'; }
  const std::string& str() const { return out_; }
  int depth() const { return depth_; }

 private:
  std::string out_;
  int depth_ = 0;
};

// The element's text content (its descendants' text concatenated).
std::string xml_node_text(const xmlNode* node);

// Stores the attribute's value in *value; false when the attribute is absent.
bool xml_get_attr(const xmlNode* node, const char* name, std::string* value);

}  // namespace arrow
