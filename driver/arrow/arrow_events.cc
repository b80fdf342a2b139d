// The daemon's event type, its fan-out, the heartbeat watch and the Arrow
// metadata namespace (see arrow_events.h).
#include "driver/arrow/arrow_events.h"

#include <libvirt/libvirt.h>
#include <libxml/tree.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "domain-xml/xml_util.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// Missing this many periods in a row raises HeartbeatMissed (issue 4).
constexpr int64_t kMissedPeriods = 3;

// The Arrow-namespace element LINE holds (serialised metadata child), or
// nullptr when it is another application's. The element lives in DOC.
const xmlNode* arrow_element(const std::string& line, XmlDocPtr& doc) {
  Result<XmlDocPtr> parsed = xml_parse_untrusted(line);
  if (!parsed.ok()) return nullptr;
  doc = std::move(parsed.value());
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root || !root->ns || !root->ns->href) return nullptr;
  if (std::strcmp(reinterpret_cast<const char*>(root->ns->href), kArrowMetadataNs) != 0) return nullptr;
  return root;
}

bool named(const xmlNode* n, const char* name) { return std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0; }

}  // namespace

void EventBus::publish(const ArrowEvent& ev) const {
  for (const Listener& listener : listeners_) listener(ev);
}

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
  for (const std::string& line : def.metadata) {
    XmlDocPtr doc;
    const xmlNode* el = arrow_element(line, doc);
    if (!el || !named(el, kArrowElementAnotify)) continue;
    xmlChar* value = xmlGetNoNsProp(el, reinterpret_cast<const xmlChar*>("heartbeat"));
    if (!value) return std::optional<unsigned>();
    std::string text(reinterpret_cast<const char*>(value));
    xmlFree(value);
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
  return std::optional<unsigned>();
}

std::vector<std::string> metadata_with_status(const ArrowDef& def, std::optional<int> exit_status, int exit_signal) {
  std::vector<std::string> out;
  for (const std::string& line : def.metadata) {
    XmlDocPtr doc;
    const xmlNode* el = arrow_element(line, doc);
    if (el && named(el, kArrowElementStatus)) continue;
    out.push_back(line);
  }
  if (exit_status)
    out.push_back(fmt("<arrow:%s xmlns:arrow=\"%s\" exit-status=\"%d\" signal=\"%d\"/>", kArrowElementStatus,
                      kArrowMetadataNs, *exit_status, exit_signal));
  return out;
}

}  // namespace arrow
