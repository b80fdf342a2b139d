// Hardened libxml2 parsing, escaping and the libvirt-style XML writer.
#include "domain-xml/xml_util.h"

#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include <optional>

#include "util/i18n.h"

namespace arrow {

namespace {

struct ParserCtxtFree {
  void operator()(xmlParserCtxt* ctxt) const { xmlFreeParserCtxt(ctxt); }
};

std::string trim_newline(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// What the hooks below learn during one parse (the context's _private).
struct ParseState {
  bool saw_doctype = false;
  std::optional<XmlSyntaxError> first_fatal;  // libxml2's first fatal error: the cause, not its echoes
};

// SAX hook for <!DOCTYPE ...>: a domain XML never needs a DTD, and refusing
// it before its internal subset is read means no entity is ever declared.
void stop_at_doctype(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
  auto* ctxt = static_cast<xmlParserCtxt*>(ctx);
  static_cast<ParseState*>(ctxt->_private)->saw_doctype = true;
  xmlStopParser(ctxt);
}

// Structured error hook: records the first fatal error, prints nothing.
void record_error(void* ctx, xmlError* err) {
  auto* ctxt = static_cast<xmlParserCtxt*>(ctx);
  auto* state = static_cast<ParseState*>(ctxt->_private);
  if (err && err->level == XML_ERR_FATAL && err->message && !state->first_fatal)
    state->first_fatal = XmlSyntaxError{err->line, err->int2, trim_newline(err->message)};
}

// Nesting depth of the element tree, iteratively (no recursion on input).
int max_depth(const xmlNode* root) {
  int depth = 0, deepest = 0;
  const xmlNode* n = root;
  while (n) {
    if (n->type == XML_ELEMENT_NODE && depth + 1 > deepest) deepest = depth + 1;
    if (n->type == XML_ELEMENT_NODE && n->children) {
      n = n->children;
      depth++;
      continue;
    }
    while (n && !n->next && n != root) {
      n = n->parent;
      depth--;
    }
    if (!n || n == root) break;
    n = n->next;
  }
  return deepest;
}

}  // namespace

Result<XmlDocPtr> xml_parse_untrusted(std::string_view xml) { return xml_parse_untrusted(xml, nullptr); }

Result<XmlDocPtr> xml_parse_untrusted(std::string_view xml, XmlSyntaxError* syntax) {
  if (xml.size() > kXmlMaxBytes)
    return make_error(VIR_ERR_XML_ERROR, fmt(_("XML document too large: %1$zu bytes, at most %2$zu are accepted"),
                                             xml.size(), kXmlMaxBytes));
  xmlInitParser();
  std::unique_ptr<xmlParserCtxt, ParserCtxtFree> ctxt(xmlNewParserCtxt());
  if (!ctxt || !ctxt->sax) return make_error(VIR_ERR_NO_MEMORY, _("out of memory creating the XML parser"));
  ParseState state;
  ctxt->_private = &state;
  ctxt->userData = ctxt.get();  // what libxml2 passes to serror
  ctxt->sax->internalSubset = stop_at_doctype;
  ctxt->sax->serror = record_error;
  // Deliberately absent: XML_PARSE_NOENT (entity substitution),
  // XML_PARSE_DTDLOAD / DTDATTR / DTDVALID, XML_PARSE_XINCLUDE, XML_PARSE_HUGE.
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
  XmlDocPtr doc(xmlCtxtReadMemory(ctxt.get(), xml.data(), static_cast<int>(xml.size()), "domain.xml", "UTF-8",
                                  options));
  if (state.saw_doctype)
    return make_error(VIR_ERR_XML_ERROR, _("malformed XML: <!DOCTYPE> declarations are not allowed"));
  if (!doc || !ctxt->wellFormed) {
    const xmlError* err = xmlCtxtGetLastError(ctxt.get());
    if (syntax && state.first_fatal) *syntax = *state.first_fatal;
    if (err && err->message)
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("malformed XML at line %1$d: %2$s"), err->line, trim_newline(err->message).c_str()));
    return make_error(VIR_ERR_XML_ERROR, _("malformed XML: the document could not be parsed"));
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root) return make_error(VIR_ERR_XML_ERROR, _("malformed XML: no root element"));
  if (max_depth(root) > kXmlMaxDepth)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("XML nested too deeply: at most %1$d levels of elements are accepted"), kXmlMaxDepth));
  return doc;
}

std::string xml_escape(std::string_view text, bool attribute) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      case '\r': out += "&#13;"; break;
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      default: out += c;
    }
  }
  return out;
}

XmlWriter& XmlWriter::open(std::string_view name) {
  out_.append(static_cast<size_t>(depth_) * 2, ' ');
  out_ += '<';
  out_ += name;
  return *this;
}

XmlWriter& XmlWriter::attr(std::string_view name, std::string_view value) {
  out_ += ' ';
  out_ += name;
  out_ += "='";
  out_ += xml_escape(value, true);
  out_ += '\'';
  return *this;
}

void XmlWriter::children() {
  out_ += ">\n";
  depth_++;
}

void XmlWriter::end_empty() { out_ += "/>\n"; }

void XmlWriter::text_and_close(std::string_view name, std::string_view text) {
  out_ += '>';
  out_ += xml_escape(text, false);
  out_ += "</";
  out_ += name;
  out_ += ">\n";
}

void XmlWriter::close(std::string_view name) {
  depth_--;
  out_.append(static_cast<size_t>(depth_) * 2, ' ');
  out_ += "</";
  out_ += name;
  out_ += ">\n";
}

void XmlWriter::element(std::string_view name, std::string_view text) {
  open(name);
  text_and_close(name, text);
}

void XmlWriter::raw_line(std::string_view line) {
  out_.append(static_cast<size_t>(depth_) * 2, ' ');
  out_ += line;
  out_ += '\n';
}

std::string xml_node_text(const xmlNode* node) {
  xmlChar* c = xmlNodeGetContent(node);
  std::string s = c ? reinterpret_cast<const char*>(c) : "";
  xmlFree(c);
  return s;
}

bool xml_get_attr(const xmlNode* node, const char* name, std::string* value) {
  xmlChar* v = xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name));
  if (!v) return false;
  *value = reinterpret_cast<const char*>(v);
  xmlFree(v);
  return true;
}

}  // namespace arrow
