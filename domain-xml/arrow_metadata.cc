// Reading and writing <metadata> elements (see arrow_metadata.h).
#include "domain-xml/arrow_metadata.h"

#include <libxml/parser.h>

#include <memory>
#include <utility>

#include "util/i18n.h"

namespace arrow {

namespace {

const xmlChar* xml_chars(std::string_view s) { return reinterpret_cast<const xmlChar*>(s.data()); }

bool equals(const xmlChar* a, std::string_view b) {
  return a && std::string_view(reinterpret_cast<const char*>(a)) == b;
}

bool in_namespace(const xmlNode* n, std::string_view uri) { return n->ns && equals(n->ns->href, uri); }

struct XmlBufferFree {
  void operator()(xmlBuffer* b) const { xmlBufferFree(b); }
};

// Drops whitespace-only text between elements so that libxml2 indents the
// subtree the same way whatever the input's layout; text inside mixed
// content is left alone.
void strip_blank_text(xmlNode* n) {
  bool has_element = false;
  for (xmlNode* c = n->children; c; c = c->next) has_element = has_element || c->type == XML_ELEMENT_NODE;
  for (xmlNode* c = n->children; c;) {
    xmlNode* next = c->next;
    if (c->type == XML_ELEMENT_NODE) {
      strip_blank_text(c);
    } else if (has_element && c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) {
      xmlUnlinkNode(c);
      xmlFreeNode(c);
    }
    c = next;
  }
}

// Calls FN for N and every element below it.
template <typename Fn>
void for_each_element(xmlNode* n, const Fn& fn) {
  if (n->type != XML_ELEMENT_NODE) return;
  fn(n);
  for (xmlNode* c = n->children; c; c = c->next) for_each_element(c, fn);
}

// Whether an attribute of N or below is in namespace NS (whose declaration
// must then stay).
bool attribute_uses(xmlNode* n, const xmlNs* ns) {
  bool used = false;
  for_each_element(n, [&](xmlNode* e) {
    for (const xmlAttr* a = e->properties; a; a = a->next) used = used || a->ns == ns;
  });
  return used;
}

// N serialised by libxml2 at indent LEVEL, after dropping blank text.
Result<std::string> dump(xmlDoc* doc, xmlNode* n, int level) {
  std::unique_ptr<xmlBuffer, XmlBufferFree> buf(xmlBufferCreate());
  if (!buf) return make_error(VIR_ERR_NO_MEMORY, _("out of memory serialising <metadata>"));
  strip_blank_text(n);
  if (xmlNodeDump(buf.get(), doc, n, level, 1) < 0)
    return make_error(VIR_ERR_INTERNAL_ERROR, _("cannot serialise <metadata>"));
  return std::string(reinterpret_cast<const char*>(xmlBufferContent(buf.get())));
}

// libvirt's wording of a malformed metadata element: libxml2's reason, then
// the line at fault and a pointer to the column.
std::string syntax_detail(std::string_view text, const XmlSyntaxError& e) {
  size_t start = 0;
  for (int line = 1; line < e.line; line++) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  size_t end = text.find_first_of("\r\n", start);
  std::string context(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
  std::string pointer;
  for (size_t i = 0; i + 1 < static_cast<size_t>(e.column > 0 ? e.column : 1) && i < context.size(); i++)
    pointer += context[i] == '\t' ? '\t' : '-';
  pointer += '^';
  return fmt(_("(metadata_xml):%1$d: %2$s\n%3$s\n%4$s"), e.line, e.message.c_str(), context.c_str(),
             pointer.c_str());
}

}  // namespace

Result<MetadataElement> MetadataElement::parse(std::string_view text) {
  XmlDocPtr doc = TRY(xml_parse_untrusted(text));
  return MetadataElement(std::move(doc));
}

bool MetadataElement::is(std::string_view uri, std::string_view name) const {
  const xmlNode* n = node();
  return n && in_namespace(n, uri) && (name.empty() || equals(n->name, name));
}

std::optional<std::string> MetadataElement::attr(const char* name) const {
  std::string value;
  if (!node() || !xml_get_attr(node(), name, &value)) return std::nullopt;
  return value;
}

std::optional<MetadataElement> metadata_find(const std::vector<std::string>& metadata, std::string_view uri,
                                             std::string_view name) {
  for (const std::string& text : metadata) {
    Result<MetadataElement> el = MetadataElement::parse(text);
    if (el.ok() && el->is(uri, name)) return std::move(el.value());
  }
  return std::nullopt;
}

Result<std::string> metadata_serialise(const xmlNode* n) {
  XmlDocPtr doc(xmlNewDoc(xml_chars("1.0")));
  xmlNode* copy = doc ? xmlDocCopyNode(const_cast<xmlNode*>(n), doc.get(), 1) : nullptr;
  if (!copy) return make_error(VIR_ERR_NO_MEMORY, _("out of memory copying <metadata>"));
  xmlDocSetRootElement(doc.get(), copy);
  xmlReconciliateNs(doc.get(), copy);
  return dump(doc.get(), copy, 2);
}

std::optional<std::string> metadata_get_element(const std::vector<std::string>& metadata, std::string_view uri) {
  for (const std::string& text : metadata) {
    Result<XmlDocPtr> doc = xml_parse_untrusted(text);
    if (!doc.ok()) continue;
    xmlNode* root = xmlDocGetRootElement(doc->get());
    if (!root || !in_namespace(root, uri)) continue;
    for_each_element(root, [&](xmlNode* e) {
      if (in_namespace(e, uri)) xmlSetNs(e, nullptr);
    });
    // The declaration goes too, unless an attribute still needs it.
    for (xmlNs** link = &root->nsDef; *link; link = &(*link)->next) {
      xmlNs* ns = *link;
      if (!equals(ns->href, uri) || attribute_uses(root, ns)) continue;
      *link = ns->next;
      xmlFreeNs(ns);
      break;
    }
    Result<std::string> out = dump(doc->get(), root, 0);
    if (out.ok()) return std::move(out.value());
  }
  return std::nullopt;
}

Result<std::vector<std::string>> metadata_set_element(const std::vector<std::string>& metadata,
                                                      const std::optional<std::string>& element,
                                                      std::string_view key, std::string_view uri) {
  std::optional<std::string> added;
  if (element) {
    XmlSyntaxError syntax;
    Result<XmlDocPtr> doc = xml_parse_untrusted(*element, &syntax);
    if (!doc.ok() && syntax.line > 0) return make_error(VIR_ERR_XML_DETAIL, syntax_detail(*element, syntax));
    if (!doc.ok()) return doc.error();
    xmlNode* root = xmlDocGetRootElement(doc->get());
    const std::string key_text(key), uri_text(uri);
    if (xmlValidateNCName(xml_chars(key_text), 0) != 0)
      return make_error(VIR_ERR_INTERNAL_ERROR, _("failed to validate prefix for a new XML namespace"));
    xmlNs* ns = xmlNewNs(root, xml_chars(uri_text), xml_chars(key_text));
    if (!ns) return make_error(VIR_ERR_INTERNAL_ERROR, _("failed to create a new XML namespace"));
    for_each_element(root, [&](xmlNode* e) {
      if (!e->ns) xmlSetNs(e, ns);
    });
    added = TRY(metadata_serialise(root));
  }
  std::vector<std::string> out;
  for (const std::string& text : metadata) {
    Result<MetadataElement> el = MetadataElement::parse(text);
    if (el.ok() && el->is(uri)) continue;
    out.push_back(text);
  }
  if (added) out.push_back(std::move(*added));
  return out;
}

}  // namespace arrow
