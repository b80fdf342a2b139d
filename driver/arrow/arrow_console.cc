// Console sessions and the console mode of an Arrow (see arrow_console.h).
#include "driver/arrow/arrow_console.h"

#include <libvirt/libvirt.h>

#include "domain-xml/arrow_metadata.h"
#include "driver/api/arrow_names.h"
#include "driver/arrow/arrow_events.h"
#include "util/i18n.h"

namespace arrow {

namespace {

struct ModeName {
  ConsoleMode mode;
  const char* name;
};
constexpr ModeName kModeNames[] = {{ConsoleMode::Tty, "tty"}, {ConsoleMode::Pipe, "pipe"}};

}  // namespace

const char* console_mode_name(ConsoleMode mode) {
  for (const ModeName& m : kModeNames)
    if (m.mode == mode) return m.name;
  return "tty";
}

Result<ConsoleMode> console_mode_parse(std::string_view name) {
  for (const ModeName& m : kModeNames)
    if (name == m.name) return m.mode;
  return make_error(VIR_ERR_XML_ERROR, fmt(_("invalid value '%1$.*2$s' for attribute 'mode' of <arrow:console>: "
                                             "expected 'tty' or 'pipe'"),
                                           name.data(), static_cast<int>(name.size())));
}

Result<ConsoleMode> metadata_console_mode(const ArrowDef& def) {
  std::optional<MetadataElement> el = metadata_find(def.metadata, kArrowMetadataNs, kArrowElementConsole);
  std::string mode = el ? el->attr("mode").value_or("") : "";
  return mode.empty() ? ConsoleMode::Tty : console_mode_parse(mode);
}

// One attached stream. It forwards the client's bytes to the Arrow while it
// is the Arrow's current session and the hub exists.
class ConsoleHub::Session final : public StreamSink {
 public:
  Session(std::weak_ptr<Table> table, std::string key, std::shared_ptr<StreamPeer> peer, InputFn input)
      : table_(std::move(table)), key_(std::move(key)), peer_(std::move(peer)), input_(std::move(input)) {}

  void on_data(std::span<const uint8_t> bytes) override {
    if (!current()) return;
    Entry& entry = (*table_.lock())[key_];
    if (!entry.app_running) {
      entry.typeahead.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      if (entry.typeahead.size() > kBacklogMax) entry.typeahead.resize(kBacklogMax);
      return;
    }
    // Typed while the Arrow restarts (no QEMU): lost, as on a real console.
    (void)input_(bytes);
  }

  void flush_typeahead(Entry& entry) {
    std::string held = std::move(entry.typeahead);
    entry.typeahead.clear();
    if (!held.empty() && peer_) (void)input_(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(held.data()), held.size()));
  }

  void on_closed() override {
    if (auto table = table_.lock(); table && current()) {
      auto it = table->find(key_);
      it->second.session.reset();
    }
    peer_.reset();
  }

  StreamPeer* peer() { return peer_.get(); }
  // Ends this session from the hub's side; the client hears of it through
  // its peer, and the session is no one's current one any more.
  void end(const Error* error) {
    std::shared_ptr<StreamPeer> peer = std::move(peer_);
    peer_.reset();
    if (!peer) return;
    if (error)
      peer->abort(*error);
    else
      peer->send_eof();
  }

 private:
  bool current() const {
    auto table = table_.lock();
    if (!table || !peer_) return false;
    auto it = table->find(key_);
    return it != table->end() && it->second.session.get() == this;
  }

  std::weak_ptr<Table> table_;
  std::string key_;
  std::shared_ptr<StreamPeer> peer_;
  InputFn input_;
};

ConsoleHub::ConsoleHub() : table_(std::make_shared<Table>()) {}

ConsoleHub::~ConsoleHub() {
  // Streams still open see their console end.
  for (auto& [key, entry] : *table_)
    if (entry.session) entry.session->end(nullptr);
}

Result<std::shared_ptr<StreamSink>> ConsoleHub::attach(const std::string& key, const std::string& name, unsigned flags,
                                                       std::shared_ptr<StreamPeer> peer, InputFn input) {
  Entry& entry = (*table_)[key];
  if (entry.session && !(flags & VIR_DOMAIN_CONSOLE_FORCE))
    return make_error(VIR_ERR_OPERATION_FAILED, _("operation failed: Active console session exists for this domain"));
  if (std::shared_ptr<Session> old = std::move(entry.session)) {
    entry.session.reset();
    Error taken = make_error(VIR_ERR_OPERATION_ABORTED,
                             fmt(_("the console of Arrow '%1$s' was taken over by another client"), name.c_str()));
    old->end(&taken);
  }
  auto session = std::make_shared<Session>(table_, key, std::move(peer), std::move(input));
  entry.session = session;
  if (!entry.backlog.empty()) {
    std::string backlog = std::move(entry.backlog);
    entry.backlog.clear();
    session->peer()->send(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(backlog.data()), backlog.size()));
  }
  return std::shared_ptr<StreamSink>(session);
}

void ConsoleHub::output(const std::string& key, std::span<const uint8_t> bytes) {
  Entry& entry = (*table_)[key];
  if (entry.session && entry.session->peer()) {
    entry.session->peer()->send(bytes);
    return;
  }
  entry.backlog.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (entry.backlog.size() > kBacklogMax) entry.backlog.erase(0, entry.backlog.size() - kBacklogMax);
}

void ConsoleHub::set_app_running(const std::string& key, bool running) {
  Entry& entry = (*table_)[key];
  entry.app_running = running;
  if (!running) entry.typeahead.clear();
  if (running && entry.session) entry.session->flush_typeahead(entry);
}

void ConsoleHub::stopped(const std::string& key) {
  auto it = table_->find(key);
  if (it == table_->end()) return;
  std::shared_ptr<Session> session = std::move(it->second.session);
  table_->erase(it);
  if (session) session->end(nullptr);
}

bool ConsoleHub::attached(const std::string& key) const {
  auto it = table_->find(key);
  return it != table_->end() && it->second.session != nullptr;
}

}  // namespace arrow
