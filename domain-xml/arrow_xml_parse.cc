// Domain XML → ArrowDef: walks the libxml2 tree of an untrusted document,
// refusing anything Arrow would otherwise silently drop, then checks the
// cross-element rules (README.md lists every rule and message).
#include <algorithm>
#include <cstring>

#include "domain-xml/arrow_xml.h"
#include "domain-xml/arrow_xml_internal.h"
#include "domain-xml/xml_util.h"
#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace xmlparse {

const char* name_of(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

// The element's name as written, with its namespace prefix if any.
std::string written_name(const xmlNode* n) {
  std::string s;
  if (n->ns && n->ns->prefix) s = std::string(reinterpret_cast<const char*>(n->ns->prefix)) + ":";
  return s + name_of(n);
}

bool is_element(const xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE && !n->ns && std::strcmp(name_of(n), name) == 0;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

Status check_attrs(const xmlNode* n, std::initializer_list<const char*> allowed) {
  for (const xmlAttr* a = n->properties; a; a = a->next) {
    bool ok = !a->ns;
    if (ok) {
      ok = false;
      for (const char* name : allowed) ok = ok || std::strcmp(name, reinterpret_cast<const char*>(a->name)) == 0;
    }
    if (!ok)
      return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                        fmt(_("attribute '%1$s' of <%2$s> is not supported by Arrow"),
                            reinterpret_cast<const char*>(a->name), written_name(n).c_str()));
  }
  return {};
}

Result<std::string> leaf_text(const xmlNode* n) {
  for (const xmlNode* c = n->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE)
      return make_error(VIR_ERR_XML_ERROR, fmt(_("element <%1$s> must contain only text, found <%2$s>"),
                                               name_of(n), written_name(c).c_str()));
  return xml_node_text(n);
}

Result<std::string> required_attr(const xmlNode* n, const char* attr) {
  std::string v;
  if (!xml_get_attr(n, attr, &v))
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("missing required attribute '%1$s' of <%2$s>"), attr, name_of(n)));
  return v;
}

// ---- scalar values ----

bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// libvirt's memory units: b/byte/bytes; a letter k m g t p e alone or with
// "iB" is a power of 1024, with "B" a power of 1000; case-insensitive.
bool unit_scale(const std::string& unit, uint64_t* scale) {
  std::string u;
  for (char c : unit) u += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (u == "b" || u == "byte" || u == "bytes") {
    *scale = 1;
    return true;
  }
  const char* letters = "kmgtpe";
  const char* p = u.empty() ? nullptr : std::strchr(letters, u[0]);
  if (!p || !*p) return false;
  std::string rest = u.substr(1);
  bool binary = rest.empty() || rest == "ib";
  if (!binary && rest != "b") return false;
  uint64_t s = 1;
  for (const char* q = letters; q <= p; q++) s *= binary ? 1024 : 1000;
  *scale = s;
  return true;
}

Result<uint64_t> parse_memory_kib(const xmlNode* n) {
  TRY(check_attrs(n, {"unit"}));
  std::string raw = TRY(leaf_text(n));
  std::string text = trim(raw);
  std::string unit;
  bool has_unit = xml_get_attr(n, "unit", &unit);
  uint64_t scale = 1024;
  if (has_unit && !unit_scale(unit, &scale))
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'unit' of <%2$s>: expected one of b, bytes, KB, k, "
                            "KiB, MB, M, MiB, GB, G, GiB, TB, T, TiB"),
                          unit.c_str(), name_of(n)));
  uint64_t v = 0;
  if (!parse_u64(text, &v))
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for <%2$s>: expected a number"), text.c_str(), name_of(n)));
  std::string shown = has_unit ? text + " " + unit : text + " KiB";
  if (v == 0)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for <%2$s>: must not be zero"), shown.c_str(), name_of(n)));
  if (v > kMaxMemoryKiB * 1024 / scale || (v * scale + 1023) / 1024 > kMaxMemoryKiB)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for <%2$s>: an Arrow has at most 1 TiB of memory"), shown.c_str(),
                          name_of(n)));
  uint64_t kib = (v * scale + 1023) / 1024;
  if (kib < kMinMemoryKiB)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for <%2$s>: an Arrow needs at least 16 MiB of memory"),
                          shown.c_str(), name_of(n)));
  return kib;
}

// Absolute, free of control characters and, for shares, of '..' components.
Status check_path(const char* elem, const char* attr, const std::string& v, bool no_dotdot) {
  const char* reason = nullptr;
  if (v.empty() || v[0] != '/') reason = _("expected an absolute path");
  for (unsigned char c : v)
    if (!reason && (c < 0x20 || c == 0x7f)) reason = _("control characters are not allowed");
  if (!reason && no_dotdot && ("/" + v + "/").find("/../") != std::string::npos)
    reason = _("'..' components are not allowed");
  if (!reason) return {};
  if (attr)
    return make_error(VIR_ERR_XML_ERROR, fmt(_("invalid value '%1$s' for attribute '%2$s' of <%3$s>: %4$s"),
                                             v.c_str(), attr, elem, reason));
  return make_error(VIR_ERR_XML_ERROR, fmt(_("invalid value '%1$s' for <%2$s>: %3$s"), v.c_str(), elem, reason));
}

Result<std::string> path_element(const xmlNode* n) {
  TRY(check_attrs(n, {}));
  std::string v = TRY(leaf_text(n));
  TRY(check_path(name_of(n), nullptr, v, false));
  return v;
}

}  // namespace xmlparse

// The name becomes file names (CONFIGDIR/NAME.xml, RUNDIR/NAME.xml and the
// directory RUNDIR/NAME/, LOGDIR/NAME.log), a cgroup (arrow-NAME), QEMU's
// -name guest=NAME (which adoption after a restart matches) and the guest's
// host name; the rules keep each of those unambiguous (README.md).
Status check_arrow_name(std::string_view name) {
  auto allowed = [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '+' || c == '@';
  };
  std::string reason;
  if (name.empty()) {
    reason = _("must not be empty");
  } else if (name.size() > kMaxNameLength) {
    reason = fmt(_("at most %1$zu characters are allowed (it is the guest's host name)"), kMaxNameLength);
  } else if (auto bad = std::find_if_not(name.begin(), name.end(), allowed); bad != name.end()) {
    unsigned char c = static_cast<unsigned char>(*bad);
    std::string shown = c >= 0x20 && c < 0x7f ? fmt("'%c'", c) : fmt(_("byte 0x%02x"), c);
    reason = fmt(_("%1$s is not allowed: a name has only ASCII letters, digits and '_', '-', '.', '+', '@'"),
                 shown.c_str());
  } else if (name[0] == '-' || name[0] == '.' || name[0] == '+' || name[0] == '@') {
    reason = _("it must start with a letter, a digit or '_'");
  } else if (name.find(kTempInfix) != std::string_view::npos) {
    reason = fmt(_("'%1$s' is reserved for the daemon's temporary files"), std::string(kTempInfix).c_str());
  } else if ((name.size() >= 4 && name.substr(name.size() - 4) == ".xml") ||
             name.find(".xml.") != std::string_view::npos) {
    reason = _("a name ending in '.xml' or containing '.xml.' would share a path with another Arrow's files");
  }
  if (reason.empty()) return {};
  return make_error(VIR_ERR_XML_ERROR,
                    fmt(_("invalid value '%1$s' for <name>: %2$s"), std::string(name).c_str(), reason.c_str()));
}

namespace {

using namespace xmlparse;

// ---- <domain> children ----

Status parse_name(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {}));
  def.name = TRY(leaf_text(n));
  return check_arrow_name(def.name);
}

Status parse_uuid_element(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {}));
  std::string text = TRY(leaf_text(n));
  def.uuid = TRY(uuid_parse(text));
  return {};
}

Status parse_title(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {}));
  def.title = TRY(leaf_text(n));
  if (def.title.find_first_of("\r\n") != std::string::npos)
    return make_error(VIR_ERR_XML_ERROR, _("invalid value for <title>: a title must be a single line"));
  return {};
}

Status parse_description(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {}));
  def.description = TRY(leaf_text(n));
  return {};
}

Status parse_memory(const xmlNode* n, ArrowDef& def) {
  def.memory_kib = TRY(parse_memory_kib(n));
  return {};
}

Status parse_current_memory(const xmlNode* n, ArrowDef& def) {
  def.current_memory_kib = TRY(parse_memory_kib(n));
  return {};
}

Status parse_vcpu(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {"placement"}));
  std::string placement;
  if (xml_get_attr(n, "placement", &placement) && placement != "static")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'placement' of <vcpu>: expected 'static'"),
                          placement.c_str()));
  std::string raw = TRY(leaf_text(n));
  std::string text = trim(raw);
  uint64_t v = 0;
  if (!parse_u64(text, &v) || v == 0)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for <vcpu>: expected a number from 1 to %2$u"), text.c_str(),
                          kMaxVcpus));
  if (v > kMaxVcpus)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for <vcpu>: an Arrow has at most %2$u vCPUs"), text.c_str(),
                          kMaxVcpus));
  def.vcpus = static_cast<unsigned>(v);
  return {};
}

Result<LifecycleAction> parse_lifecycle(const xmlNode* n) {
  TRY(check_attrs(n, {}));
  std::string raw = TRY(leaf_text(n));
  std::string v = trim(raw);
  if (auto action = lifecycle_action_from_name(v)) return *action;
  // libvirt's other actions are valid XML that Arrow cannot honour.
  static const char* const other[] = {"rename-restart", "preserve", "coredump-destroy", "coredump-restart"};
  for (const char* o : other)
    if (v == o)
      return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                        fmt(_("invalid value '%1$s' for <%2$s>: Arrow supports only 'destroy' and 'restart'"),
                            v.c_str(), name_of(n)));
  return make_error(VIR_ERR_XML_ERROR, fmt(_("invalid value '%1$s' for <%2$s>: expected 'destroy' or 'restart'"),
                                           v.c_str(), name_of(n)));
}

Status parse_on_poweroff(const xmlNode* n, ArrowDef& def) {
  def.on_poweroff = TRY(parse_lifecycle(n));
  return {};
}

Status parse_on_crash(const xmlNode* n, ArrowDef& def) {
  def.on_crash = TRY(parse_lifecycle(n));
  return {};
}

// A guest reboot ends an Arrow's application (reboot=t with -no-reboot), so
// virDomainReboot restarts it: 'restart' states that and is accepted.
Status parse_on_reboot(const xmlNode* n, ArrowDef&) {
  TRY(check_attrs(n, {}));
  std::string raw = TRY(leaf_text(n));
  std::string v = trim(raw);
  if (v == "restart") return {};
  return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                    fmt(_("invalid value '%1$s' for <on_reboot>: an Arrow always restarts on reboot"), v.c_str()));
}

const Rule<ArrowDef> kDomainChildren[] = {
    {"name", true, parse_name},
    {"uuid", true, parse_uuid_element},
    {"title", true, parse_title},
    {"description", true, parse_description},
    {"metadata", true, parse_metadata},
    {"memory", true, parse_memory},
    {"currentMemory", true, parse_current_memory},
    {"vcpu", true, parse_vcpu},
    {"os", true, parse_os},
    {"on_poweroff", true, parse_on_poweroff},
    {"on_reboot", true, parse_on_reboot},
    {"on_crash", true, parse_on_crash},
    {"devices", true, parse_devices},
};

Status check_root(const xmlNode* root) {
  if (!is_element(root, "domain"))
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("expected root element <domain>, found <%1$s>"), written_name(root).c_str()));
  // id= is live data of libvirt's output; it is ignored, as libvirt does.
  TRY(check_attrs(root, {"type", "id"}));
  std::string type = TRY(required_attr(root, "type"));
  if (type != "arrow")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <domain>: expected 'arrow'"), type.c_str()));
  return {};
}

bool has_child(const xmlNode* n, const char* name) {
  for (const xmlNode* c = n->children; c; c = c->next)
    if (is_element(c, name)) return true;
  return false;
}

}  // namespace

Result<ArrowDef> parse_domain_xml(std::string_view xml) {
  XmlDocPtr doc = TRY(xml_parse_untrusted(xml));
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  TRY(check_root(root));
  ArrowDef def;
  TRY(parse_children(root, kDomainChildren, def));
  if (!has_child(root, "name")) return make_error(VIR_ERR_XML_ERROR, _("missing required element <name>"));
  if (!has_child(root, "os")) return make_error(VIR_ERR_XML_ERROR, _("missing required element <os>"));
  TRY(check_def(def));
  if (!has_child(root, "uuid")) def.uuid = uuid_generate();
  xmlparse::assign_bridge_macs(def);
  return def;
}

}  // namespace arrow
