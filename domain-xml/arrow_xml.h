// The Arrow domain XML: parse untrusted XML into an ArrowDef, format an
// ArrowDef back in canonical libvirt style, and validate a document against
// the RelaxNG schema domain-xml/arrow.rng. The grammar, and which libvirt
// elements are accepted, ignored or refused, is documented in
// domain-xml/README.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain-xml/arrow_def.h"
#include "domain-xml/uuid.h"
#include "util/result.h"

namespace arrow {

// Parses and validates a domain XML. Contract:
// - errors are VIR_ERR_XML_ERROR for malformed or invalid XML and
//   VIR_ERR_CONFIG_UNSUPPORTED for valid libvirt XML Arrow cannot honour;
//   every message names the element or attribute at fault;
// - an absent <uuid> is generated (random v4), so two parses of the same
//   uuid-less XML differ; everything else is deterministic;
// - live-only data of libvirt's output (<domain id=>, a running console's
//   <source>, <alias>, tty=) is accepted and ignored, as libvirt does when it
//   parses an inactive definition.
Result<ArrowDef> parse_domain_xml(std::string_view xml);

// The longest Arrow name: the guest's host name (HOST_NAME_MAX).
inline constexpr size_t kMaxNameLength = 64;

// Whether NAME may name an Arrow (the rule of <name>, README.md): 1 to 64
// ASCII letters, digits, '_', '-', '.', '+', '@', starting with a letter, a
// digit or '_', without '.tmp-', not ending in '.xml' nor containing
// '.xml.'. So no name can escape the daemon's directories, share a path
// with another Arrow, be skipped or deleted when the daemon starts, or
// change how QEMU parses -name guest=NAME. VIR_ERR_XML_ERROR naming the
// name and the rule otherwise.
Status check_arrow_name(std::string_view name);

// How the formatter writes a definition. The default is the whole
// definition, as the driver persists it. HIDE_SECRETS is libvirt's form
// without VIR_DOMAIN_XML_SECURE: each <initenv> keeps its name but loses its
// value (an environment variable may hold a password; libvirt omits a
// graphics password the same way). INACTIVE omits the live data.
enum FormatFlags : unsigned {
  FORMAT_INACTIVE = 1 << 1,      // VIR_DOMAIN_XML_INACTIVE
  FORMAT_HIDE_SECRETS = 1 << 2,  // no VIR_DOMAIN_XML_SECURE
};

// What a running Arrow's channel adds to its XML.
struct ChannelLiveData {
  std::string path;           // the socket the channel binds or connects to
  std::optional<bool> state;  // <target state='connected|disconnected'>: the guest has the port open
};

// What a running Arrow adds to its XML (dumpxml of an active domain).
struct DomainLiveData {
  int id = -1;              // <domain id='N'>; -1: none (shut off)
  std::string console_pty;  // the console's host pty, "" when not a pty
  // One per <channel>, in order, or empty (the def's own paths, no state).
  std::vector<ChannelLiveData> channels;
};

// Canonical libvirt-style XML: 2-space indent, single-quoted attributes,
// <memory unit='KiB'>, the uuid with dashes. parse_domain_xml(format(d))
// gives back d (a fixpoint), so formatted output round-trips byte for byte.
std::string format_domain_xml(const ArrowDef& def, unsigned flags = 0);

// The same, with live data: id='N' on <domain> and, for the console, the
// pty path and alias virt-manager and Nova look for. With FORMAT_INACTIVE,
// or live.id < 0, identical to the two-argument form.
std::string format_domain_xml(const ArrowDef& def, const DomainLiveData& live, unsigned flags = 0);

// Validates XML against a RelaxNG schema file. VIR_ERR_XML_ERROR with the
// first problem's line and libxml2's message, or VIR_ERR_INTERNAL_ERROR if
// the schema itself cannot be loaded.
Status validate_with_schema(const std::string& xml, const std::string& rng_path);

// Where arrow.rng lives: $ARROW_SCHEMA_DIR if set (the build tree's ./run
// sets it), else the installed pkgdatadir.
std::string schema_dir();
std::string domain_schema_path();  // schema_dir() + "/arrow.rng"

// The string table of LifecycleAction, shared by parse and format.
const char* lifecycle_action_name(LifecycleAction action);
// The string table of InterfaceType ('user', 'bridge'), shared by parse and format.
const char* interface_type_name(InterfaceType type);
// The string table of ChannelMode ('bind', 'connect'), shared by parse and format.
const char* channel_mode_name(ChannelMode mode);

}  // namespace arrow
