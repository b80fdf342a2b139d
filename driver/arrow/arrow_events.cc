// The daemon's event type, its fan-out, the heartbeat watch and the Arrow
// metadata namespace (see arrow_events.h).
#include "driver/arrow/arrow_events.h"

#include <libvirt/libvirt.h>

#include <cerrno>
#include <cstdlib>

#include "domain-xml/arrow_metadata.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// Missing this many periods in a row raises HeartbeatMissed (issue 4).
constexpr int64_t kMissedPeriods = 3;

}  // namespace

// --- HeartbeatWatch ---------------------------------------------------------

void HeartbeatWatch::start(unsigned period_s, std::function<void()> missed) {
  stop();
  period_s_ = period_s;
  on_missed_ = std::move(missed);
  missed_ = false;
  last_us_ = g_get_monotonic_time();
  if (period_s_ == 0) return;
  // Checking every half period bounds the lateness of the event to half a period.
  source_ = g_timeout_add(period_s_ * 500, &HeartbeatWatch::on_tick, this);
}

bool HeartbeatWatch::beat() {
  last_us_ = g_get_monotonic_time();
  bool recovered = missed_;
  missed_ = false;
  return recovered;
}

void HeartbeatWatch::stop() {
  if (source_) g_source_remove(source_);
  source_ = 0;
}

gboolean HeartbeatWatch::on_tick(gpointer self) {
  auto* w = static_cast<HeartbeatWatch*>(self);
  int64_t silent_us = g_get_monotonic_time() - w->last_us_;
  if (!w->missed_ && silent_us > kMissedPeriods * int64_t(w->period_s_) * 1000000) {
    w->missed_ = true;
    if (w->on_missed_) w->on_missed_();  // may stop() the watch; the source then ends
    if (!w->source_) return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

// --- Metadata -------------------------------------------------------------

Result<std::optional<unsigned>> metadata_heartbeat(const ArrowDef& def) {
  std::optional<MetadataElement> el = metadata_find(def.metadata, kArrowMetadataNs, kArrowElementAnotify);
  std::optional<std::string> value = el ? el->attr("heartbeat") : std::nullopt;
  if (!value) return std::optional<unsigned>();
  const std::string& text = *value;
  char* end = nullptr;
  errno = 0;
  unsigned long n = std::strtoul(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || n > 86400 || text[0] == '-')
    return make_error(VIR_ERR_XML_ERROR,
                      fmt(_("invalid value '%1$s' for attribute 'heartbeat' of <arrow:anotify>: expected seconds "
                            "from 0 to 86400"),
                          text.c_str()));
  return std::optional<unsigned>(static_cast<unsigned>(n));
}

std::vector<std::string> metadata_with_status(const ArrowDef& def, std::optional<int> exit_status, int exit_signal) {
  std::vector<std::string> out;
  for (const std::string& line : def.metadata) {
    Result<MetadataElement> el = MetadataElement::parse(line);
    if (el.ok() && el->is(kArrowMetadataNs, kArrowElementStatus)) continue;
    out.push_back(line);
  }
  if (exit_status)
    out.push_back(fmt("<arrow:%s xmlns:arrow=\"%s\" exit-status=\"%d\" signal=\"%d\"/>", kArrowElementStatus,
                      kArrowMetadataNs, *exit_status, exit_signal));
  return out;
}

}  // namespace arrow
