// Domain XML → ArrowDef for <os> (the application: init, arguments,
// environment, directory, user, group, kernel) and <metadata>.
#include <libxml/tree.h>

#include <cstring>
#include <utility>

#include "domain-xml/arrow_metadata.h"
#include "domain-xml/arrow_xml_internal.h"
#include "domain-xml/xml_util.h"

namespace arrow::xmlparse {

namespace {

Status parse_type(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {"arch", "machine"}));
  std::string arch, machine;
  if (xml_get_attr(n, "arch", &arch) && arch != def.arch)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'arch' of <type>: Arrow supports only 'x86_64'"),
                          arch.c_str()));
  if (xml_get_attr(n, "machine", &machine) && machine != def.machine)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'machine' of <type>: Arrow supports only 'microvm'"),
                          machine.c_str()));
  std::string text = TRY(leaf_text(n));
  std::string type = trim(text);
  if (type != "exe")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for <type>: an Arrow runs an application, expected 'exe'"),
                          type.c_str()));
  return {};
}

Status parse_init(const xmlNode* n, ArrowDef& def) {
  def.init = TRY(path_element(n));
  return {};
}

// Arguments are kept verbatim: spaces, quotes and empty strings included.
Status parse_initarg(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {}));
  std::string arg = TRY(leaf_text(n));
  def.initargs.push_back(std::move(arg));
  return {};
}

bool valid_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

Status parse_initenv(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {"name"}));
  // (Not TRY: g++ 12 then warns, wrongly, that name may be uninitialised.)
  Result<std::string> attr = required_attr(n, "name");
  if (!attr) return attr.error();
  const std::string& name = attr.value();
  if (!valid_env_name(name))
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'name' of <initenv>: expected letters, digits and "
                            "'_', not starting with a digit"),
                          name.c_str()));
  for (const auto& e : def.initenv)
    if (e.name == name)
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("invalid value '%1$s' for attribute 'name' of <initenv>: the variable is set twice"),
                            name.c_str()));
  // The value first, into a variable of its own: a TRY inside the EnvVar
  // initializer would return with the copy of NAME already made, and leak it.
  std::string value = TRY(leaf_text(n));
  def.initenv.push_back(EnvVar{name, std::move(value)});
  return {};
}

Status parse_initdir(const xmlNode* n, ArrowDef& def) {
  def.initdir = TRY(path_element(n));
  return {};
}

// A user or group as LXC takes it: a number, or a name in the portable
// character set (letters, digits, '.', '_', '-', not starting with '-').
Result<std::string> parse_id(const xmlNode* n) {
  TRY(check_attrs(n, {}));
  std::string text = TRY(leaf_text(n));
  std::string v = trim(text);
  bool ok = !v.empty() && v.size() <= 32 && v[0] != '-';
  for (char c : v)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                c == '_' || c == '-');
  uint64_t number = 0;
  if (ok && parse_u64(v, &number) && number > 0xfffffffeULL) ok = false;
  if (!ok)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for <%2$s>: expected a name or a number"), v.c_str(), name_of(n)));
  return v;
}

Status parse_inituser(const xmlNode* n, ArrowDef& def) {
  def.inituser = TRY(parse_id(n));
  return {};
}

Status parse_initgroup(const xmlNode* n, ArrowDef& def) {
  def.initgroup = TRY(parse_id(n));
  return {};
}

Status parse_kernel(const xmlNode* n, ArrowDef& def) {
  def.kernel = TRY(path_element(n));
  return {};
}

const Rule<ArrowDef> kOsChildren[] = {
    {"type", true, parse_type},         {"init", true, parse_init},       {"initarg", false, parse_initarg},
    {"initenv", false, parse_initenv},  {"initdir", true, parse_initdir}, {"inituser", true, parse_inituser},
    {"initgroup", true, parse_initgroup}, {"kernel", true, parse_kernel},
};

bool has_child(const xmlNode* n, const char* name) {
  for (const xmlNode* c = n->children; c; c = c->next)
    if (is_element(c, name)) return true;
  return false;
}

}  // namespace

Status parse_os(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {}));
  TRY(parse_children(n, kOsChildren, def));
  if (!has_child(n, "type")) return make_error(VIR_ERR_XML_ERROR, _("missing required element <type> in <os>"));
  if (!has_child(n, "init")) return make_error(VIR_ERR_XML_ERROR, _("missing required element <init> in <os>"));
  return {};
}

// Each child must be in a namespace of its own application, as libvirt
// requires; the content is the application's business and kept verbatim.
Status parse_metadata(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {}));
  for (const xmlNode* c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (!c->ns || !c->ns->href)
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("element <%1$s> in <metadata> must be in an XML namespace of its application"),
                            written_name(c).c_str()));
    std::string child = TRY(metadata_serialise(c));
    def.metadata.push_back(std::move(child));
  }
  return {};
}

}  // namespace arrow::xmlparse
