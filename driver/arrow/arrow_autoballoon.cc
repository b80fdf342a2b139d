// The AutoBalloon policy and its settings (see arrow_autoballoon.h).
#include "driver/arrow/arrow_autoballoon.h"

#include <algorithm>

#include "domain-xml/arrow_metadata.h"
#include "driver/api/arrow_names.h"
#include "util/i18n.h"

namespace arrow {

namespace {

constexpr uint64_t kMaxMiB = 1024ULL * 1024;  // 1 TiB, the most memory an Arrow has

Result<uint64_t> mib_attr(const MetadataElement& el, const char* attr, uint64_t fallback_kib) {
  std::optional<std::string> v = el.attr(attr);
  if (!v) return fallback_kib;
  uint64_t n = 0;
  bool ok = !v->empty() && v->size() <= 7;
  for (char c : *v) ok = ok && c >= '0' && c <= '9';
  if (ok) n = std::stoull(*v);
  if (!ok || n > kMaxMiB)
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute '%2$s' of <arrow:autoballoon>: expected MiB from 0 "
                            "to %3$llu"),
                          v->c_str(), attr, static_cast<unsigned long long>(kMaxMiB)));
  return n * 1024;
}

}  // namespace

Result<AutoBalloonConf> metadata_autoballoon(const ArrowDef& def, const AutoBalloonConf& defaults) {
  AutoBalloonConf conf = defaults;
  std::optional<MetadataElement> el = metadata_find(def.metadata, kArrowMetadataNs, kArrowElementAutoBalloon);
  if (!el) return conf;
  if (std::optional<std::string> state = el->attr("state")) {
    if (*state != "on" && *state != "off")
      return make_error(VIR_ERR_XML_ERROR,
                        fmt(_("invalid value '%1$s' for attribute 'state' of <arrow:autoballoon>: expected 'on' or "
                              "'off'"),
                            state->c_str()));
    conf.enabled = *state == "on";
  }
  conf.margin_kib = TRY(mib_attr(*el, "margin", conf.margin_kib));
  conf.floor_kib = TRY(mib_attr(*el, "floor", conf.floor_kib));
  return conf;
}

std::optional<uint64_t> autoballoon_next_target(const AutoBalloonConf& conf, const AutoBalloonSample& s) {
  if (s.pressure) return s.target_kib == s.max_kib ? std::nullopt : std::optional<uint64_t>(s.max_kib);
  if (!s.usable_kib) return std::nullopt;
  const uint64_t usable = *s.usable_kib;
  const uint64_t used = s.actual_kib > usable ? s.actual_kib - usable : 0;
  const uint64_t low = std::min(s.max_kib, conf.floor_kib);
  const uint64_t want = std::clamp(used + conf.margin_kib, low, s.max_kib);
  const uint64_t step = std::max<uint64_t>(conf.margin_kib / 4, 1024);
  // Deflate: the guest is short of its margin. Half a margin more than the
  // bare need, so a growing guest is not deflated a few pages at a time.
  if (usable * 4 < conf.margin_kib * 3 && want > s.target_kib)
    return std::min(s.max_kib, want + conf.margin_kib / 2);
  const bool settled = s.actual_kib <= s.target_kib + 1024 && s.actual_kib + 1024 >= s.target_kib;
  if (want + step <= s.target_kib && s.fresh && settled && !s.hold) return want;
  return std::nullopt;
}

}  // namespace arrow
