// ArrowDriver's virDomainGetMetadata and virDomainSetMetadata: the title,
// the description and the <metadata> elements of an Arrow's live and
// persistent definitions, with libvirt's rules for VIR_DOMAIN_AFFECT_LIVE /
// _CONFIG / _CURRENT (virDomainObjUpdateModificationImpact) and its errors.
// The elements themselves are domain-xml/arrow_metadata's business.
#include <libvirt/libvirt.h>

#include "domain-xml/arrow_metadata.h"
#include "domain-xml/arrow_xml.h"
#include "driver/arrow/arrow_driver.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr unsigned kAffectFlags = VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG;

Error invalid_arg(std::string message) { return make_error(VIR_ERR_INVALID_ARG, std::move(message)); }

// The argument checks of libvirt's public virDomainGetMetadata, which its
// daemons run again on what a client sends.
Status check_get_args(int type, const std::optional<std::string>& uri, unsigned flags) {
  if ((flags & VIR_DOMAIN_AFFECT_LIVE) && (flags & VIR_DOMAIN_AFFECT_CONFIG))
    return invalid_arg(_("Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"));
  if ((type == VIR_DOMAIN_METADATA_TITLE || type == VIR_DOMAIN_METADATA_DESCRIPTION) && uri)
    return invalid_arg(_("uri in virDomainGetMetadata must be NULL"));
  if (type == VIR_DOMAIN_METADATA_ELEMENT && !uri)
    return invalid_arg(_("uri in virDomainGetMetadata must not be NULL"));
  return {};
}

// The same for virDomainSetMetadata.
Status check_set_args(int type, const std::optional<std::string>& metadata, const std::optional<std::string>& key,
                      const std::optional<std::string>& uri) {
  switch (type) {
    case VIR_DOMAIN_METADATA_TITLE:
      if (metadata && metadata->find('\n') != std::string::npos)
        return invalid_arg(_("metadata title can't contain newlines"));
      [[fallthrough]];
    case VIR_DOMAIN_METADATA_DESCRIPTION:
      if (uri) return invalid_arg(_("uri in virDomainSetMetadata must be NULL"));
      if (key) return invalid_arg(_("key in virDomainSetMetadata must be NULL"));
      return {};
    case VIR_DOMAIN_METADATA_ELEMENT:
      if (!uri) return invalid_arg(_("uri in virDomainSetMetadata must not be NULL"));
      if (metadata && !key) return invalid_arg(_("key in virDomainSetMetadata must not be NULL"));
      return {};
    default:
      return {};  // unknown types are refused once the domain is found, as libvirt does
  }
}

Status check_type(int type) {
  if (type >= VIR_DOMAIN_METADATA_DESCRIPTION && type <= VIR_DOMAIN_METADATA_ELEMENT) return {};
  return invalid_arg(fmt(_("unknown metadata type '%1$d'"), type));
}

// DEF with the change applied. The result is DEF formatted and parsed back,
// so that what is kept is exactly what a reload of the saved file gives; a
// value the domain XML cannot carry (a control character in the
// description, an element nested too deeply) is refused here.
Result<ArrowDef> with_metadata(const ArrowDef& def, int type, const std::optional<std::string>& value,
                               const std::optional<std::string>& key, const std::optional<std::string>& uri) {
  ArrowDef out = def;
  switch (type) {
    case VIR_DOMAIN_METADATA_DESCRIPTION:
      out.description = value.value_or("");
      break;
    case VIR_DOMAIN_METADATA_TITLE:
      out.title = value.value_or("");
      break;
    case VIR_DOMAIN_METADATA_ELEMENT:
      out.metadata = TRY(metadata_set_element(def.metadata, value, key.value_or(""), uri.value_or("")));
      break;
  }
  Result<ArrowDef> reparsed = parse_domain_xml(format_domain_xml(out, FORMAT_INACTIVE));
  if (!reparsed.ok())
    return make_error(reparsed.error().code,
                      fmt(_("the new metadata cannot be stored in the domain XML: %1$s"),
                          reparsed.error().message.c_str()));
  return reparsed;
}

}  // namespace

Result<std::string> ArrowDriver::domain_get_metadata(const DomainRef& ref, int type,
                                                     const std::optional<std::string>& uri, unsigned flags) {
  TRY(check_get_args(type, uri, flags));
  DomainPtr dom = TRY(find(ref));
  TRY(check_flags(flags, kAffectFlags, "virDomainGetMetadata"));
  TRY(check_type(type));
  const unsigned impact = TRY(domain_modification_impact(*dom, flags));
  const bool live = impact & VIR_DOMAIN_AFFECT_LIVE;
  const ArrowDef& def = live ? dom->def : dom->persistent_def();
  std::optional<std::string> value;
  switch (type) {
    case VIR_DOMAIN_METADATA_DESCRIPTION:
      if (!def.description.empty()) value = def.description;
      break;
    case VIR_DOMAIN_METADATA_TITLE:
      if (!def.title.empty()) value = def.title;
      break;
    case VIR_DOMAIN_METADATA_ELEMENT:
      // The live view is the live XML's, with the last exit (arrow_events.h).
      value = metadata_get_element(
          live ? metadata_with_status(def, dom->last_exit_status, dom->last_exit_signal) : def.metadata, *uri);
      break;
  }
  if (!value)
    return make_error(VIR_ERR_NO_DOMAIN_METADATA, _("Requested metadata element is not present"));
  return *value;
}

// Both definitions are worked out before either is kept, so a refusal
// changes nothing. The persistent one is saved (atomically) before it is
// kept; the live one goes into the runtime status, which a restarted daemon
// reads back. While the Arrow runs or starts, live and persistent are two
// definitions (def and next_def), as after a redefinition.
Status ArrowDriver::domain_set_metadata(const DomainRef& ref, int type, const std::optional<std::string>& metadata,
                                        const std::optional<std::string>& key,
                                        const std::optional<std::string>& uri, unsigned flags) {
  TRY(check_set_args(type, metadata, key, uri));
  TRY(check_flags(flags, kAffectFlags, "virDomainSetMetadata"));
  DomainPtr dom = TRY(find(ref));
  const unsigned impact = TRY(domain_modification_impact(*dom, flags));
  TRY(check_type(type));
  std::optional<ArrowDef> live, config;
  if (impact & VIR_DOMAIN_AFFECT_LIVE) live = TRY(with_metadata(dom->def, type, metadata, key, uri));
  if (impact & VIR_DOMAIN_AFFECT_CONFIG) config = TRY(with_metadata(dom->persistent_def(), type, metadata, key, uri));
  if (config) TRY(save_config(*config));
  if (dom->active() || dom->job()) {
    if (config)
      dom->next_def = std::move(*config);
    else if (dom->persistent && !dom->next_def)
      dom->next_def = dom->def;  // the persistent definition keeps what the live one had
    if (live) {
      dom->def = std::move(*live);
      write_status(dom);
      balloon_reconfigure(dom);  // <arrow:autoballoon> may have changed
    }
  } else if (config) {
    dom->def = std::move(*config);
  }
  ArrowEvent ev;
  ev.kind = ArrowEventKind::MetadataChange;
  ev.metadata_type = type;
  if (type == VIR_DOMAIN_METADATA_ELEMENT) ev.uri = uri;
  publish(dom, ev);
  return {};
}

}  // namespace arrow
