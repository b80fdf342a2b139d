// Shared by the domain-XML parser files (arrow_xml_parse.cc, arrow_xml_os.cc,
// arrow_xml_devices.cc) and the formatter; not part of the public API.
#pragma once

#include <libxml/tree.h>

#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "domain-xml/arrow_def.h"
#include "util/i18n.h"
#include "util/result.h"

namespace arrow {

// The LifecycleAction string table's reverse lookup.
std::optional<LifecycleAction> lifecycle_action_from_name(std::string_view name);
// The InterfaceType string table's reverse lookup.
std::optional<InterfaceType> interface_type_from_name(std::string_view name);

namespace xmlparse {

inline constexpr uint64_t kMinMemoryKiB = 16 * 1024;             // kernel, ainit and a small application
inline constexpr uint64_t kMaxMemoryKiB = 1024ULL * 1024 * 1024;  // 1 TiB
inline constexpr unsigned kMaxVcpus = 8;                         // the kernel is built with NR_CPUS=8
inline constexpr unsigned kMaxForwardedPorts = 256;              // each port becomes one QEMU hostfwd rule
inline constexpr unsigned kMaxBalloonStatsPeriod = 86400;        // <memballoon><stats period=>: a day
// virtio-serial-device has 31 ports: the console, Anotify and stdout take 3.
inline constexpr size_t kMaxChannels = 16;
inline constexpr size_t kMaxChannelName = 64;

const char* name_of(const xmlNode* n);
std::string written_name(const xmlNode* n);  // with its namespace prefix
bool is_element(const xmlNode* n, const char* name);  // an element NAME in no namespace
std::string trim(std::string_view s);
bool parse_u64(const std::string& s, uint64_t* out);  // decimal digits only

// Refuses (CONFIG_UNSUPPORTED) any attribute of N not in ALLOWED.
Status check_attrs(const xmlNode* n, std::initializer_list<const char*> allowed);
// The text of an element that must have no element children.
Result<std::string> leaf_text(const xmlNode* n);
Result<std::string> required_attr(const xmlNode* n, const char* attr);
// Absolute, no control characters, and with NO_DOTDOT no '..' component.
// ATTR names the attribute of ELEM holding V, or is null for ELEM's text.
Status check_path(const char* elem, const char* attr, const std::string& v, bool no_dotdot);
// An element whose text is an absolute path.
Result<std::string> path_element(const xmlNode* n);

// The children a container element accepts.
template <typename T>
struct Rule {
  const char* name;
  bool once;  // may appear at most once
  Status (*parse)(const xmlNode*, T&);
};

// Runs each child element through its rule; an element without a rule is
// refused, naming it and its parent.
template <typename T>
Status parse_children(const xmlNode* parent, std::span<const Rule<T>> rules, T& target) {
  std::set<std::string> seen;
  for (const xmlNode* c = parent->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    const Rule<T>* rule = nullptr;
    for (const auto& r : rules)
      if (is_element(c, r.name)) rule = &r;
    if (!rule)
      return make_error(VIR_ERR_CONFIG_UNSUPPORTED, fmt(_("element <%1$s> in <%2$s> is not supported by Arrow"),
                                                        written_name(c).c_str(), name_of(parent)));
    if (rule->once && !seen.insert(rule->name).second)
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("element <%1$s> may appear only once in <%2$s>"), rule->name, name_of(parent)));
    TRY(rule->parse(c, target));
  }
  return {};
}

template <typename T, size_t N>
Status parse_children(const xmlNode* parent, const Rule<T> (&rules)[N], T& target) {
  return parse_children(parent, std::span<const Rule<T>>(rules, N), target);
}

// Element parsers of the other files.
Status parse_os(const xmlNode* n, ArrowDef& def);
Status parse_metadata(const xmlNode* n, ArrowDef& def);
Status parse_devices(const xmlNode* n, ArrowDef& def);
// <channel type='unix'> (arrow_xml_channel.cc) and its name rule.
Status parse_channel(const xmlNode* n, ArrowDef& def);
Status check_channel_name(const std::string& name);
// Unique channel names and bind paths.
Status check_channels(const ArrowDef& def);
// Rules spanning elements: <currentMemory> within <memory>, unique share
// targets and forwarded ports, at most one interface and console.
Status check_def(const ArrowDef& def);
// Gives each bridge <interface> without <mac> one, as libvirt does, so that
// two Arrows on one bridge never share QEMU's default MAC; derived from the
// (random) UUID so that it is stable for a defined Arrow.
void assign_bridge_macs(ArrowDef& def);

}  // namespace xmlparse

}  // namespace arrow
