// Domain XML → ArrowDef for <channel type='unix'> (Crossbow channels),
// libvirt's grammar: <source mode='bind|connect' path=/>, <target
// type='virtio' name=/>; the live data of libvirt's output (state=,
// <alias>, <address type='virtio-serial'>) is accepted and ignored.
#include <sys/un.h>

#include <set>

#include "domain-xml/arrow_xml.h"
#include "domain-xml/arrow_xml_internal.h"
#include "domain-xml/xml_util.h"

namespace arrow {

namespace {

struct ChannelModeName {
  ChannelMode mode;
  const char* name;
};

// The one string table of ChannelMode, for parse and format.
constexpr ChannelModeName kChannelModeNames[] = {
    {ChannelMode::Bind, "bind"},
    {ChannelMode::Connect, "connect"},
};

}  // namespace

const char* channel_mode_name(ChannelMode mode) {
  for (const auto& entry : kChannelModeNames)
    if (entry.mode == mode) return entry.name;
  return "bind";  // unreachable: the table covers every enumerator
}

namespace xmlparse {

namespace {

// What the parse of one <channel> collects before it is checked.
struct ChannelParse {
  Channel channel;
  bool has_source = false;
  bool has_mode = false;
  bool has_target = false;
};

std::optional<ChannelMode> channel_mode_from_name(std::string_view name) {
  for (const auto& entry : kChannelModeNames)
    if (name == entry.name) return entry.mode;
  return std::nullopt;
}

Status parse_channel_source(const xmlNode* n, ChannelParse& c) {
  TRY(check_attrs(n, {"mode", "path"}));
  c.has_source = true;
  std::string mode;
  if (xml_get_attr(n, "mode", &mode)) {
    std::optional<ChannelMode> parsed = channel_mode_from_name(mode);
    if (!parsed)
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("invalid value '%1$s' for attribute 'mode' of <source> in <channel>: expected 'bind' "
                              "or 'connect'"),
                            mode.c_str()));
    c.channel.mode = *parsed;
    c.has_mode = true;
  }
  if (xml_get_attr(n, "path", &c.channel.path)) {
    TRY(check_path("source", "path", c.channel.path, true));
    // sun_path holds the path and its NUL.
    if (c.channel.path.size() >= sizeof(sockaddr_un::sun_path))
      return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                        fmt(_("invalid value '%1$s' for attribute 'path' of <source> in <channel>: a Unix socket "
                              "path has at most %2$zu bytes"),
                            c.channel.path.c_str(), sizeof(sockaddr_un::sun_path) - 1));
  }
  return {};
}

Status parse_channel_target(const xmlNode* n, ChannelParse& c) {
  TRY(check_attrs(n, {"type", "name", "state"}));
  c.has_target = true;
  std::string type = TRY(required_attr(n, "type"));
  if (type != "virtio")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <target> in <channel>: an Arrow's channels "
                            "are 'virtio' serial ports"),
                          type.c_str()));
  c.channel.name = TRY(required_attr(n, "name"));
  TRY(check_channel_name(c.channel.name));
  return {};  // state= is live data
}

Status parse_channel_address(const xmlNode* n, ChannelParse&) {
  TRY(check_attrs(n, {"type", "controller", "bus", "port"}));
  std::string type = TRY(required_attr(n, "type"));
  if (type != "virtio-serial")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <address> in <channel>: expected "
                            "'virtio-serial'"),
                          type.c_str()));
  return {};  // the daemon numbers the ports itself
}

Status parse_channel_alias(const xmlNode* n, ChannelParse&) {
  TRY(check_attrs(n, {"name"}));
  return {};
}

const Rule<ChannelParse> kChannelChildren[] = {
    {"source", true, parse_channel_source},
    {"target", true, parse_channel_target},
    {"address", true, parse_channel_address},
    {"alias", true, parse_channel_alias},
};

}  // namespace

Status check_channel_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxChannelName && name[0] != '.' && name[0] != '-';
  for (size_t i = 0; ok && i < name.size(); i++) {
    const char c = name[i];
    ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
  }
  if (!ok)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'name' of <target> in <channel>: expected 1 to %2$zu "
                            "ASCII letters, digits, '.', '_' or '-', not starting with '.' or '-'"),
                          name.c_str(), kMaxChannelName));
  if (name.rfind("org.arrow.", 0) == 0)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'name' of <target> in <channel>: names starting with "
                            "'org.arrow.' are Arrow's own ports"),
                          name.c_str()));
  return {};
}

Status parse_channel(const xmlNode* n, ArrowDef& def) {
  TRY(check_attrs(n, {"type"}));
  std::string type = TRY(required_attr(n, "type"));
  if (type != "unix")
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("invalid value '%1$s' for attribute 'type' of <channel>: an Arrow's channels are 'unix' "
                            "sockets"),
                          type.c_str()));
  ChannelParse c;
  TRY(parse_children(n, kChannelChildren, c));
  if (!c.has_target) return make_error(VIR_ERR_XML_ERROR, _("missing required element <target> in <channel>"));
  // libvirt: a <source path=> without mode= connects; no path binds in the
  // runtime directory.
  if (c.has_source && !c.has_mode && !c.channel.path.empty()) c.channel.mode = ChannelMode::Connect;
  if (c.channel.mode == ChannelMode::Connect && c.channel.path.empty())
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("missing required attribute 'path' of <source mode='connect'> in <channel> '%1$s'"),
                          c.channel.name.c_str()));
  if (def.channels.size() >= kMaxChannels)
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("too many <channel> elements: an Arrow has at most %1$zu"), kMaxChannels));
  def.channels.push_back(std::move(c.channel));
  return {};
}

Status check_channels(const ArrowDef& def) {
  std::set<std::string> names, paths;
  for (const Channel& c : def.channels) {
    if (!names.insert(c.name).second)
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("invalid value '%1$s' for attribute 'name' of <target> in <channel>: two channels have "
                              "this name"),
                            c.name.c_str()));
    if (c.mode == ChannelMode::Bind && !c.path.empty() && !paths.insert(c.path).second)
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("invalid value '%1$s' for attribute 'path' of <source> in <channel>: two channels bind "
                              "this path"),
                            c.path.c_str()));
  }
  return {};
}

}  // namespace xmlparse

}  // namespace arrow
