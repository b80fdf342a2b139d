// RelaxNG validation of domain XML (the schema domain-xml/arrow.rng), and
// where the schema is found at run time.
#include <libxml/relaxng.h>

#include <cstdlib>
#include <memory>

#include "domain-xml/arrow_xml.h"
#include "domain-xml/xml_util.h"
#include "util/i18n.h"

namespace arrow {

namespace {

struct RngParserFree {
  void operator()(xmlRelaxNGParserCtxt* p) const { xmlRelaxNGFreeParserCtxt(p); }
};
struct RngFree {
  void operator()(xmlRelaxNG* r) const { xmlRelaxNGFree(r); }
};
struct RngValidFree {
  void operator()(xmlRelaxNGValidCtxt* v) const { xmlRelaxNGFreeValidCtxt(v); }
};

// Keeps the first validity error instead of printing every one to stderr.
struct FirstError {
  std::string message;
  int line = 0;
};

void record_error(void* data, xmlErrorPtr err) {
  auto* first = static_cast<FirstError*>(data);
  if (!first->message.empty() || !err || !err->message) return;
  first->message = err->message;
  while (!first->message.empty() && first->message.back() == '\n') first->message.pop_back();
  first->line = err->line;
}

}  // namespace

std::string schema_dir() {
  const char* dir = std::getenv("ARROW_SCHEMA_DIR");
  if (dir && *dir) return dir;
  return ARROW_PKGDATADIR;
}

std::string domain_schema_path() { return schema_dir() + "/arrow.rng"; }

Status validate_with_schema(const std::string& xml, const std::string& rng_path) {
  FirstError schema_err;
  std::unique_ptr<xmlRelaxNGParserCtxt, RngParserFree> pctxt(xmlRelaxNGNewParserCtxt(rng_path.c_str()));
  if (pctxt) xmlRelaxNGSetParserStructuredErrors(pctxt.get(), record_error, &schema_err);
  std::unique_ptr<xmlRelaxNG, RngFree> schema(pctxt ? xmlRelaxNGParse(pctxt.get()) : nullptr);
  if (!schema)
    return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("cannot load the RelaxNG schema '%1$s': %2$s"), rng_path.c_str(),
                                                  schema_err.message.c_str()));
  XmlDocPtr doc = TRY(xml_parse_untrusted(xml));
  std::unique_ptr<xmlRelaxNGValidCtxt, RngValidFree> vctxt(xmlRelaxNGNewValidCtxt(schema.get()));
  if (!vctxt) return make_error(VIR_ERR_NO_MEMORY, _("out of memory creating the RelaxNG validator"));
  FirstError err;
  xmlRelaxNGSetValidStructuredErrors(vctxt.get(), record_error, &err);
  if (xmlRelaxNGValidateDoc(vctxt.get(), doc.get()) != 0)
    return make_error(VIR_ERR_XML_ERROR, fmt(_("XML does not match the schema '%1$s' at line %2$d: %3$s"),
                                             rng_path.c_str(), err.line, err.message.c_str()));
  return {};
}

}  // namespace arrow
