// Unit tests of the Arrow driver's registry and lifecycle logic
// (driver/arrow/arrow_driver) with a scripted fake launcher instead of QEMU: ids,
// states and reasons, events, persistence and reload, transient domains,
// redefinition while running, the job queue and libvirt's error codes.
#include <cppunit/extensions/HelperMacros.h>
#include <libvirt/libvirt.h>
#include <sys/stat.h>

#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "domain-xml/arrow_xml.h"
#include "domain-xml/arrow_metadata.h"
#include "driver/arrow/arrow_driver.h"
#include "tests/unit/testutil.h"

using namespace arrow;
using arrow::test::exists;

namespace {

// What the fake engine does; the test drives it.
struct FakeWorld {
  bool fail_start = false;  // start() reports an error
  bool hold_start = false;  // start() waits for complete_start()
  int starts = 0, shutdown_requests = 0, kills = 0;
  std::deque<std::function<void()>> queue;  // events and posted work, in order
  std::vector<std::function<void(Status)>> held_starts;
  struct Live {
    LaunchEvents events;
    LaunchSpec spec;
  };
  std::vector<std::shared_ptr<Live>> live;  // one per launcher still alive

  void pump() {
    while (!queue.empty()) {
      auto fn = std::move(queue.front());
      queue.pop_front();
      fn();
    }
  }
  Live& last() { return *live.back(); }
};

class FakeLauncher final : public ArrowLauncher {
 public:
  FakeLauncher(FakeWorld& world, const LaunchSpec& spec, LaunchEvents events) : world_(world) {
    me_ = std::make_shared<FakeWorld::Live>(FakeWorld::Live{std::move(events), spec});
    world_.live.push_back(me_);
  }
  ~FakeLauncher() override { std::erase(world_.live, me_); }
  void start(std::function<void(Status)> done) override {
    ++world_.starts;
    if (world_.fail_start) return done(make_error(VIR_ERR_INTERNAL_ERROR, "qemu said no"));
    if (world_.hold_start) return world_.held_starts.push_back(std::move(done));
    done({});
    // ainit's APP_STARTED, which the driver reports as STARTED/BOOTED.
    auto me = me_;
    world_.queue.push_back([me] {
      if (me->events.anotify) me->events.anotify(AnotifyAppStarted{42});
    });
  }
  Status request_shutdown() override {
    ++world_.shutdown_requests;
    return {};
  }
  void kill() override {
    ++world_.kills;
    auto me = me_;
    world_.queue.push_back([me] { me->events.exited(ExitCause::Killed); });
  }
  void suspend(std::function<void(Status)> done) override { done({}); }
  void resume(std::function<void(Status)> done) override { done({}); }
  int pid() const override { return getpid(); }  // a real process for /proc/PID/stat

 private:
  FakeWorld& world_;
  std::shared_ptr<FakeWorld::Live> me_;
};

std::string xml_of(const std::string& name, const std::string& uuid, const std::string& extra = "",
                   unsigned mem_mib = 64) {
  return "<domain type='arrow'><name>" + name + "</name><uuid>" + uuid + "</uuid><memory unit='MiB'>" +
         std::to_string(mem_mib) +
         "</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='microvm'>exe</type><init>/bin/true</init></os>" +
         extra + "</domain>";
}

const char* kUuidA = "11111111-2222-4333-8444-555555555555";
const char* kUuidB = "21111111-2222-4333-8444-555555555555";

}  // namespace

class DriverTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(DriverTest);
  CPPUNIT_TEST(define_lookup_update_clash);
  CPPUNIT_TEST(start_destroy_ids);
  CPPUNIT_TEST(shutdown_reports_application_exit);
  CPPUNIT_TEST(poweroff_restart_keeps_id);
  CPPUNIT_TEST(qemu_crash);
  CPPUNIT_TEST(suspend_resume);
  CPPUNIT_TEST(transient_lifecycle);
  CPPUNIT_TEST(define_over_running_transient);
  CPPUNIT_TEST(undefine_running_persistent);
  CPPUNIT_TEST(redefine_while_running);
  CPPUNIT_TEST(reload_and_autostart);
  CPPUNIT_TEST(jobs_queue_in_order);
  CPPUNIT_TEST(reboot_keeps_id_quietly);
  CPPUNIT_TEST(start_failure);
  CPPUNIT_TEST(lookups_and_errors);
  CPPUNIT_TEST(stats_and_listing);
  CPPUNIT_TEST(metadata_live_and_config);
  CPPUNIT_TEST(metadata_errors);
  CPPUNIT_TEST(guest_floods_are_bounded);
  CPPUNIT_TEST_SUITE_END();

 public:
  void setUp() override {
    dir_ = std::make_unique<test::TempDir>("drivertest");
    driver_ = make_driver(false);
  }
  void tearDown() override {
    driver_.reset();
    world_.pump();
    dir_.reset();
  }

  std::unique_ptr<ArrowDriver> make_driver(bool autostart) {
    ArrowConf conf = arrow_conf_new(dir_->path + "/config", dir_->path + "/run", dir_->path + "/log");
    DriverOptions options;
    options.launcher_factory = [this](const LaunchSpec& spec, LaunchEvents events) {
      return std::make_unique<FakeLauncher>(world_, spec, std::move(events));
    };
    options.post = [this](std::function<void()> fn) { world_.queue.push_back(std::move(fn)); };
    options.log = [this](const std::string& line) { logged_.push_back(line); };
    options.autostart = autostart;
    auto driver = std::make_unique<ArrowDriver>(std::move(conf), std::move(options));
    CPPUNIT_ASSERT(driver->load().ok());
    driver->subscribe([this](const ArrowEvent& ev) {
      if (ev.kind == ArrowEventKind::Heartbeat) heartbeats_++;
      if (ev.kind != ArrowEventKind::Lifecycle) return;
      events_.push_back(ev.event * 100 + ev.detail);
      event_ids_.push_back(ev.dom.id);
    });
    return driver;
  }

  DomainRef define(const std::string& xml) {
    Result<DomainRef> r = driver_->domain_define_xml(xml, 0);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    return r.value();
  }
  // Calls an asynchronous entry point and returns its (already delivered) result.
  Result<DomainRef> start(const DomainRef& dom, unsigned flags = 0) {
    std::optional<Result<DomainRef>> out;
    driver_->domain_create(dom, flags, [&](Result<DomainRef> r) { out = std::move(r); });
    world_.pump();
    CPPUNIT_ASSERT(out.has_value());
    return *out;
  }
  DomainRef must_start(const DomainRef& dom) {
    Result<DomainRef> r = start(dom);
    CPPUNIT_ASSERT_MESSAGE(r.ok() ? "" : r.error().message, r.ok());
    return r.value();
  }
  template <typename Call>
  Status run(Call call) {
    std::optional<Status> out;
    call([&](Status st) { out = st; });
    world_.pump();
    CPPUNIT_ASSERT(out.has_value());
    return *out;
  }
  DomainStateInfo state(const DomainRef& dom) { return driver_->domain_get_state(dom).value(); }
  void expect_state(const DomainRef& dom, int st, int reason) {
    DomainStateInfo s = state(dom);
    CPPUNIT_ASSERT_EQUAL(st, s.state);
    CPPUNIT_ASSERT_EQUAL(reason, s.reason);
  }
  int ev(int event, int detail) { return event * 100 + detail; }
  std::string config(const std::string& name) { return dir_->path + "/config/" + name + ".xml"; }
  std::string status(const std::string& name) { return dir_->path + "/run/" + name + ".xml"; }

  // virDomainGetMetadata / virDomainSetMetadata: libvirt's AFFECT rules, the
  // live and persistent definitions apart while the Arrow runs, each kept
  // where a restarted daemon reads it, one METADATA_CHANGE event per change.
  void metadata_live_and_config() {
    std::vector<ArrowEvent> changes;
    driver_->subscribe([&](const ArrowEvent& e) {
      if (e.kind == ArrowEventKind::MetadataChange) changes.push_back(e);
    });
    const std::string ns = "http://example.org/ns";
    DomainRef a = define(xml_of("web", kUuidA));
    auto get = [&](int type, unsigned flags, std::optional<std::string> uri = std::nullopt) {
      return driver_->domain_get_metadata(a, type, uri, flags);
    };
    auto set = [&](int type, std::optional<std::string> value, unsigned flags) {
      bool element = type == VIR_DOMAIN_METADATA_ELEMENT;
      std::optional<std::string> key, uri;
      if (element && value) key = "ex";
      if (element) uri = ns;
      return driver_->domain_set_metadata(a, type, value, key, uri, flags);
    };
    // Shut off: CURRENT is the persistent definition, LIVE is refused.
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_NO_DOMAIN_METADATA), get(VIR_DOMAIN_METADATA_TITLE, 0).error().code);
    CPPUNIT_ASSERT(set(VIR_DOMAIN_METADATA_TITLE, "T1", 0).ok());
    CPPUNIT_ASSERT(set(VIR_DOMAIN_METADATA_ELEMENT, "<conf0/>", VIR_DOMAIN_AFFECT_CONFIG).ok());
    CPPUNIT_ASSERT_EQUAL(std::string("T1"), get(VIR_DOMAIN_METADATA_TITLE, VIR_DOMAIN_AFFECT_CONFIG).value());
    Status live_off = set(VIR_DOMAIN_METADATA_DESCRIPTION, "d", VIR_DOMAIN_AFFECT_LIVE);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_OPERATION_INVALID), live_off.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("domain is not running"), live_off.error().message);
    CPPUNIT_ASSERT(test::read_file(config("web")).find("<title>T1</title>") != std::string::npos);
    CPPUNIT_ASSERT(test::read_file(config("web")).find("<ex:conf0 xmlns:ex=") != std::string::npos);
    CPPUNIT_ASSERT_EQUAL(size_t(2), changes.size());
    CPPUNIT_ASSERT_EQUAL(int(VIR_DOMAIN_METADATA_TITLE), changes[0].metadata_type);
    CPPUNIT_ASSERT(!changes[0].uri);
    CPPUNIT_ASSERT(changes[1].uri == ns && changes[1].dom.name == "web");
    // Running: live and config differ; CURRENT is live.
    must_start(a);
    CPPUNIT_ASSERT(set(VIR_DOMAIN_METADATA_ELEMENT, "<live/>", VIR_DOMAIN_AFFECT_LIVE).ok());
    CPPUNIT_ASSERT(set(VIR_DOMAIN_METADATA_ELEMENT, "<conf/>", VIR_DOMAIN_AFFECT_CONFIG).ok());
    const unsigned both = VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG;
    CPPUNIT_ASSERT(set(VIR_DOMAIN_METADATA_DESCRIPTION, "both", both).ok());
    CPPUNIT_ASSERT_EQUAL(std::string("<live/>"), get(VIR_DOMAIN_METADATA_ELEMENT, 0, ns).value());
    CPPUNIT_ASSERT_EQUAL(std::string("<conf/>"),
                         get(VIR_DOMAIN_METADATA_ELEMENT, VIR_DOMAIN_AFFECT_CONFIG, ns).value());
    CPPUNIT_ASSERT_EQUAL(std::string("both"), get(VIR_DOMAIN_METADATA_DESCRIPTION, VIR_DOMAIN_AFFECT_LIVE).value());
    CPPUNIT_ASSERT_EQUAL(std::string("both"), get(VIR_DOMAIN_METADATA_DESCRIPTION, VIR_DOMAIN_AFFECT_CONFIG).value());
    std::string live_xml = driver_->domain_get_xml_desc(a, 0).value();
    std::string inactive_xml = driver_->domain_get_xml_desc(a, VIR_DOMAIN_XML_INACTIVE).value();
    CPPUNIT_ASSERT(live_xml.find("<ex:live") != std::string::npos && live_xml.find("<ex:conf") == std::string::npos);
    CPPUNIT_ASSERT(inactive_xml.find("<ex:conf/>") == std::string::npos);
    CPPUNIT_ASSERT(inactive_xml.find("<ex:conf xmlns:ex") != std::string::npos);
    // On disk: the config file has the persistent one, the runtime status
    // (what a restarted daemon adopts) the live one.
    CPPUNIT_ASSERT(test::read_file(config("web")).find("<ex:conf xmlns:ex") != std::string::npos);
    Result<RuntimeStatus> st = parse_runtime_status(test::read_file(status("web")));
    CPPUNIT_ASSERT(st.ok() && st->def.description == "both");
    CPPUNIT_ASSERT_EQUAL(std::string("<live/>"), metadata_get_element(st->def.metadata, ns).value_or(""));
    // Removal of the live one; the persistent one stays.
    CPPUNIT_ASSERT(set(VIR_DOMAIN_METADATA_ELEMENT, std::nullopt, VIR_DOMAIN_AFFECT_LIVE).ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_NO_DOMAIN_METADATA), get(VIR_DOMAIN_METADATA_ELEMENT, 0, ns).error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("<conf/>"),
                         get(VIR_DOMAIN_METADATA_ELEMENT, VIR_DOMAIN_AFFECT_CONFIG, ns).value());
    CPPUNIT_ASSERT_EQUAL(size_t(6), changes.size());
    // Stopped, the Arrow has its persistent definition again.
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_destroy(a, 0, done); }).ok());
    CPPUNIT_ASSERT_EQUAL(std::string("<conf/>"), get(VIR_DOMAIN_METADATA_ELEMENT, 0, ns).value());
    CPPUNIT_ASSERT_EQUAL(std::string("T1"), get(VIR_DOMAIN_METADATA_TITLE, 0).value());
    // An empty value removes a title or description.
    CPPUNIT_ASSERT(set(VIR_DOMAIN_METADATA_TITLE, "", 0).ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_NO_DOMAIN_METADATA), get(VIR_DOMAIN_METADATA_TITLE, 0).error().code);
  }

  // libvirt's refusals, and a refused change leaves everything as it was.
  void metadata_errors() {
    const std::optional<std::string> none, ns = std::string("http://example.org/ns");
    DomainRef a = define(xml_of("web", kUuidA, "<title>kept</title>"));
    std::string before = test::read_file(config("web"));
    auto set_status = [&](int type, std::optional<std::string> value, std::optional<std::string> key,
                          std::optional<std::string> uri, unsigned flags) {
      return driver_->domain_set_metadata(a, type, value, key, uri, flags);
    };
    auto message = [](const Status& st) { return st.ok() ? std::string("ok") : st.error().message; };
    CPPUNIT_ASSERT_EQUAL(std::string("uri in virDomainGetMetadata must not be NULL"),
                         driver_->domain_get_metadata(a, VIR_DOMAIN_METADATA_ELEMENT, none, 0).error().message);
    CPPUNIT_ASSERT_EQUAL(
        std::string("Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"),
        driver_->domain_get_metadata(a, VIR_DOMAIN_METADATA_TITLE, none, 3).error().message);
    CPPUNIT_ASSERT_EQUAL(std::string("unknown metadata type '7'"),
                         driver_->domain_get_metadata(a, 7, none, 0).error().message);
    CPPUNIT_ASSERT_EQUAL(std::string("key in virDomainSetMetadata must not be NULL"),
                         message(set_status(VIR_DOMAIN_METADATA_ELEMENT, "<a/>", none, ns, 0)));
    CPPUNIT_ASSERT_EQUAL(std::string("metadata title can't contain newlines"),
                         message(set_status(VIR_DOMAIN_METADATA_TITLE, "a\nb", none, none, 0)));
    Status bad_xml = set_status(VIR_DOMAIN_METADATA_ELEMENT, "<a></b>", "k", ns, 0);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_XML_DETAIL), bad_xml.error().code);
    Status flags = set_status(VIR_DOMAIN_METADATA_TITLE, "x", none, none, 4);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INVALID_ARG), flags.error().code);
    // Nested deeper than a domain XML may be: refused rather than saved unloadable.
    std::string deep;
    for (int i = 0; i < 31; i++) deep += "<d>";
    for (int i = 0; i < 31; i++) deep += "</d>";
    CPPUNIT_ASSERT(!set_status(VIR_DOMAIN_METADATA_ELEMENT, deep, "k", ns, 0).ok());
    CPPUNIT_ASSERT(!set_status(VIR_DOMAIN_METADATA_DESCRIPTION, std::string("bell\a"), none, none, 0).ok());
    CPPUNIT_ASSERT_EQUAL(before, test::read_file(config("web")));
    CPPUNIT_ASSERT_EQUAL(std::string("kept"),
                         driver_->domain_get_metadata(a, VIR_DOMAIN_METADATA_TITLE, none, 0).value());
    // A transient Arrow has no persistent definition.
    std::optional<Result<DomainRef>> created;
    driver_->domain_create_xml(xml_of("tmp", kUuidB), 0, [&](Result<DomainRef> r) { created = r; });
    world_.pump();
    DomainRef t = created->value();
    Status config_only =
        driver_->domain_set_metadata(t, VIR_DOMAIN_METADATA_TITLE, "x", none, none, VIR_DOMAIN_AFFECT_CONFIG);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_OPERATION_INVALID), config_only.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("transient domains do not have any persistent config"),
                         config_only.error().message);
    CPPUNIT_ASSERT(driver_->domain_set_metadata(t, VIR_DOMAIN_METADATA_TITLE, "x", none, none, 0).ok());
    CPPUNIT_ASSERT_EQUAL(std::string("x"), driver_->domain_get_metadata(t, VIR_DOMAIN_METADATA_TITLE, none, 0).value());
    CPPUNIT_ASSERT(!exists(config("tmp")));
  }

  void define_lookup_update_clash() {
    DomainRef a = define(xml_of("web", kUuidA));
    CPPUNIT_ASSERT_EQUAL(-1, a.id);
    CPPUNIT_ASSERT(exists(config("web")));
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED), events_.back());
    CPPUNIT_ASSERT(driver_->lookup_by_name("web").ok());
    CPPUNIT_ASSERT(driver_->lookup_by_uuid(a.uuid).value().name == "web");
    expect_state(a, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_UNKNOWN);
    CPPUNIT_ASSERT(driver_->domain_is_persistent(a).value());
    define(xml_of("web", kUuidA, "", 128));
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED), events_.back());
    CPPUNIT_ASSERT_EQUAL(uint64_t(128 * 1024), driver_->domain_get_max_memory(a).value());
    Result<DomainRef> other_uuid = driver_->domain_define_xml(xml_of("web", kUuidB), 0);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_OPERATION_FAILED), other_uuid.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("domain 'web' already exists with uuid ") + kUuidA,
                         other_uuid.error().message);
    Result<DomainRef> other_name = driver_->domain_define_xml(xml_of("db", kUuidA), 0);
    CPPUNIT_ASSERT_EQUAL(std::string("domain 'web' is already defined with uuid ") + kUuidA,
                         other_name.error().message);
    CPPUNIT_ASSERT_EQUAL(size_t(1), driver_->list_all_domains(0).size());
    CPPUNIT_ASSERT_EQUAL(1, driver_->num_of_defined_domains());
  }

  void start_destroy_ids() {
    DomainRef a = define(xml_of("web", kUuidA));
    DomainRef s1 = start(a).value();
    CPPUNIT_ASSERT_EQUAL(1, s1.id);
    expect_state(a, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED), events_.back());
    CPPUNIT_ASSERT_EQUAL(1, event_ids_.back());
    CPPUNIT_ASSERT(exists(status("web")));
    CPPUNIT_ASSERT(driver_->lookup_by_id(1).ok());
    CPPUNIT_ASSERT_EQUAL(1, driver_->num_of_domains());
    CPPUNIT_ASSERT(driver_->domain_get_xml_desc(a, 0).value().find("id='1'") != std::string::npos);
    CPPUNIT_ASSERT(driver_->domain_get_xml_desc(a, VIR_DOMAIN_XML_INACTIVE).value().find("id=") ==
                   std::string::npos);
    // Start twice: libvirt's refusal.
    Result<DomainRef> twice = start(a);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_OPERATION_INVALID), twice.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("domain is already running"), twice.error().message);
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_destroy(a, 0, done); }).ok());
    expect_state(a, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED), events_.back());
    CPPUNIT_ASSERT_EQUAL(-1, event_ids_.back());
    CPPUNIT_ASSERT_EQUAL(-1, driver_->lookup_by_name("web").value().id);
    CPPUNIT_ASSERT(!exists(status("web")));
    CPPUNIT_ASSERT(world_.live.empty());  // the launcher was released
    Status again = run([&](auto done) { driver_->domain_destroy(a, 0, done); });
    CPPUNIT_ASSERT_EQUAL(std::string("domain is not running"), again.error().message);
    CPPUNIT_ASSERT_EQUAL(2, start(a).value().id);  // a new id per start
    CPPUNIT_ASSERT(!driver_->lookup_by_id(1).ok());
  }

  // A guest that floods Anotify with ERROR text (newlines in it to forge log
  // lines) and heartbeats gets a bounded number of log lines, each one line,
  // and a bounded number of events for the front ends (D-Bus signals); the
  // driver still takes in every heartbeat.
  void guest_floods_are_bounded() {
    DomainRef a = define(xml_of("web", kUuidA));
    must_start(a);
    const size_t logged_before = logged_.size();
    for (int i = 0; i < 5000; i++) {
      world_.last().events.anotify(AnotifyError{"bad\nvirtarrowd: forged line\x1b[2J"});
      world_.last().events.anotify(AnotifyHeartbeat{static_cast<uint64_t>(i)});
    }
    const size_t lines = logged_.size() - logged_before;
    CPPUNIT_ASSERT(lines >= 1);
    CPPUNIT_ASSERT(lines <= 20);  // the burst (10) and what a second of refill allows
    for (size_t i = logged_before; i < logged_.size(); i++) {
      CPPUNIT_ASSERT(logged_[i].find('\n') == std::string::npos);
      CPPUNIT_ASSERT(logged_[i].find('\x1b') == std::string::npos);
      CPPUNIT_ASSERT(logged_[i].find("bad\\nvirtarrowd: forged line\\x1b[2J") != std::string::npos);
    }
    CPPUNIT_ASSERT(heartbeats_ >= 1 && heartbeats_ <= 60);
    // Every beat still counts: the stats show the last one.
    Result<std::vector<DomainStatsRecord>> stats = driver_->get_all_domain_stats(0, 0);
    CPPUNIT_ASSERT(stats.ok());
    bool found = false;
    for (const TypedParam& p : stats.value()[0].params)
      found = found || (p.field == "arrow.heartbeat.last_ms" && p.i == 4999);
    CPPUNIT_ASSERT(found);
  }

  void shutdown_reports_application_exit() {
    DomainRef a = define(xml_of("web", kUuidA));
    must_start(a);
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_shutdown(a, 0, done); }).ok());
    CPPUNIT_ASSERT_EQUAL(1, world_.shutdown_requests);
    expect_state(a, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED);  // returns at once
    world_.last().events.anotify(AnotifyAppExited{0, 0});
    expect_state(a, VIR_DOMAIN_SHUTDOWN, VIR_DOMAIN_SHUTDOWN_USER);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_HOST), events_.back());
    world_.last().events.exited(ExitCause::Poweroff);
    world_.pump();
    expect_state(a, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SHUTDOWN);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN), events_.back());
    // The application ending by itself is a shutdown too.
    must_start(a);
    world_.last().events.anotify(AnotifyAppExited{3, 0});
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_GUEST), events_.back());
    world_.last().events.exited(ExitCause::Poweroff);
    world_.pump();
    expect_state(a, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SHUTDOWN);
    Status off = run([&](auto done) { driver_->domain_shutdown(a, 0, done); });
    CPPUNIT_ASSERT_EQUAL(std::string("domain is not running"), off.error().message);
  }

  void poweroff_restart_keeps_id() {
    DomainRef a = define(xml_of("loop", kUuidA, "<on_poweroff>restart</on_poweroff>"));
    int id = start(a).value().id;
    size_t n_events = events_.size();
    world_.last().events.anotify(AnotifyAppExited{0, 0});
    world_.last().events.exited(ExitCause::Poweroff);
    world_.pump();
    CPPUNIT_ASSERT_EQUAL(2, world_.starts);
    expect_state(a, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED);
    CPPUNIT_ASSERT_EQUAL(id, driver_->lookup_by_name("loop").value().id);
    CPPUNIT_ASSERT_EQUAL(size_t(1), world_.live.size());
    for (size_t i = n_events; i < events_.size(); ++i)
      CPPUNIT_ASSERT(events_[i] / 100 != VIR_DOMAIN_EVENT_STOPPED);
    // A user's shutdown stops it for good.
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_shutdown(a, 0, done); }).ok());
    world_.last().events.exited(ExitCause::Poweroff);
    world_.pump();
    expect_state(a, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SHUTDOWN);
  }

  void qemu_crash() {
    DomainRef a = define(xml_of("web", kUuidA));
    must_start(a);
    world_.last().events.exited(ExitCause::Failed);
    world_.pump();
    expect_state(a, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED), events_.back());
    must_start(a);
    world_.last().events.exited(ExitCause::Panicked);
    world_.pump();
    expect_state(a, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED),
                         events_[events_.size() - 2]);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED), events_.back());
  }

  void suspend_resume() {
    DomainRef a = define(xml_of("web", kUuidA));
    Status off = run([&](auto done) { driver_->domain_suspend(a, done); });
    CPPUNIT_ASSERT_EQUAL(std::string("domain is not running"), off.error().message);
    must_start(a);
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_suspend(a, done); }).ok());
    expect_state(a, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED), events_.back());
    size_t n = events_.size();
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_suspend(a, done); }).ok());  // no-op
    CPPUNIT_ASSERT_EQUAL(n, events_.size());
    Status reboot = run([&](auto done) { driver_->domain_reboot(a, 0, done); });
    CPPUNIT_ASSERT_EQUAL(std::string("domain is not running"), reboot.error().message);
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_resume(a, done); }).ok());
    expect_state(a, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_UNPAUSED);
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED), events_.back());
    // Started paused.
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_destroy(a, 0, done); }).ok());
    CPPUNIT_ASSERT(start(a, VIR_DOMAIN_START_PAUSED).ok());
    expect_state(a, VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER);
  }

  void transient_lifecycle() {
    std::optional<Result<DomainRef>> created;
    driver_->domain_create_xml(xml_of("tmp", kUuidB), 0, [&](Result<DomainRef> r) { created = r; });
    world_.pump();
    CPPUNIT_ASSERT(created && created->ok());
    DomainRef t = created->value();
    CPPUNIT_ASSERT(t.id > 0);
    CPPUNIT_ASSERT(!driver_->domain_is_persistent(t).value());
    CPPUNIT_ASSERT(!exists(config("tmp")));
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED), events_.back());
    Status undef = driver_->domain_undefine(t, 0);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_OPERATION_INVALID), undef.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("cannot undefine transient domain"), undef.error().message);
    CPPUNIT_ASSERT(!driver_->domain_set_autostart(t, true).ok());
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_destroy(t, 0, done); }).ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_NO_DOMAIN), driver_->lookup_by_name("tmp").error().code);
    CPPUNIT_ASSERT(driver_->list_all_domains(0).empty());
  }

  void define_over_running_transient() {
    std::optional<Result<DomainRef>> created;
    driver_->domain_create_xml(xml_of("vi", kUuidA), 0, [&](Result<DomainRef> r) { created = r; });
    world_.pump();
    DomainRef t = created->value();
    DomainRef d = define(xml_of("vi", kUuidA));
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED), events_.back());
    CPPUNIT_ASSERT_EQUAL(t.id, d.id);
    CPPUNIT_ASSERT(driver_->domain_is_persistent(t).value());
    CPPUNIT_ASSERT(driver_->domain_is_active(t).value());
    CPPUNIT_ASSERT(exists(config("vi")));
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_destroy(t, 0, done); }).ok());
    CPPUNIT_ASSERT(driver_->lookup_by_name("vi").ok());  // stays, now shut off
  }

  void undefine_running_persistent() {
    DomainRef a = define(xml_of("web", kUuidA));
    CPPUNIT_ASSERT(driver_->domain_set_autostart(a, true).ok());
    must_start(a);
    CPPUNIT_ASSERT(driver_->domain_undefine(a, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_NVRAM).ok());
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED), events_.back());
    CPPUNIT_ASSERT(!exists(config("web")));
    CPPUNIT_ASSERT(!autostart_link_exists(dir_->path + "/config", "web"));
    CPPUNIT_ASSERT(driver_->domain_is_active(a).value());
    CPPUNIT_ASSERT(!driver_->domain_is_persistent(a).value());
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_destroy(a, 0, done); }).ok());
    CPPUNIT_ASSERT(!driver_->lookup_by_name("web").ok());
    // Undefining a shut-off one removes it at once.
    DomainRef b = define(xml_of("db", kUuidB));
    CPPUNIT_ASSERT(driver_->domain_undefine(b, 0).ok());
    CPPUNIT_ASSERT(!driver_->lookup_by_name("db").ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INVALID_ARG), driver_->domain_undefine(b, 1u << 20).error().code);
  }

  void redefine_while_running() {
    DomainRef a = define(xml_of("web", kUuidA, "", 64));
    must_start(a);
    define(xml_of("web", kUuidA, "", 96));
    CPPUNIT_ASSERT_EQUAL(ev(VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED), events_.back());
    CPPUNIT_ASSERT_EQUAL(uint64_t(64 * 1024), driver_->domain_get_info(a).value().max_mem_kib);
    CPPUNIT_ASSERT(driver_->domain_get_xml_desc(a, VIR_DOMAIN_XML_INACTIVE).value().find("98304") !=
                   std::string::npos);
    CPPUNIT_ASSERT(driver_->domain_get_xml_desc(a, 0).value().find("65536") != std::string::npos);
    CPPUNIT_ASSERT(read_whole_file(config("web")).value().find("98304") != std::string::npos);
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_destroy(a, 0, done); }).ok());
    CPPUNIT_ASSERT_EQUAL(uint64_t(96 * 1024), driver_->domain_get_info(a).value().max_mem_kib);
  }

  void reload_and_autostart() {
    DomainRef a = define(xml_of("web", kUuidA));
    define(xml_of("db", kUuidB));
    CPPUNIT_ASSERT(driver_->domain_set_autostart(a, true).ok());
    CPPUNIT_ASSERT(driver_->domain_get_autostart(a).value());
    FILE* torn = fopen((dir_->path + "/config/torn.xml").c_str(), "w");
    fputs("<domain type='arrow'><name>torn</na", torn);
    fclose(torn);
    driver_.reset();
    world_.pump();
    driver_ = make_driver(false);
    CPPUNIT_ASSERT_EQUAL(size_t(2), driver_->list_all_domains(0).size());
    CPPUNIT_ASSERT(driver_->domain_get_autostart(driver_->lookup_by_name("web").value()).value());
    CPPUNIT_ASSERT(!driver_->domain_get_autostart(driver_->lookup_by_name("db").value()).value());
    CPPUNIT_ASSERT(exists(dir_->path + "/config/torn.xml.invalid"));
    CPPUNIT_ASSERT_EQUAL(size_t(1), logged_.size());
    CPPUNIT_ASSERT_EQUAL(size_t(1),
                         driver_->list_all_domains(VIR_CONNECT_LIST_DOMAINS_AUTOSTART).size());
    driver_.reset();
    world_.pump();
    driver_ = make_driver(true);
    world_.pump();
    CPPUNIT_ASSERT(driver_->domain_is_active(driver_->lookup_by_name("web").value()).value());
    CPPUNIT_ASSERT(!driver_->domain_is_active(driver_->lookup_by_name("db").value()).value());
  }

  void jobs_queue_in_order() {
    DomainRef a = define(xml_of("web", kUuidA));
    world_.hold_start = true;
    std::optional<Result<DomainRef>> started;
    std::optional<Status> destroyed, second_start;
    driver_->domain_create(a, 0, [&](Result<DomainRef> r) { started = r; });
    driver_->domain_destroy(a, 0, [&](Status st) { destroyed = st; });
    driver_->domain_create(a, 0, [&](Result<DomainRef> r) { second_start = r.ok() ? Status() : Status(r.error()); });
    world_.pump();
    CPPUNIT_ASSERT(!started && !destroyed && !second_start);  // all wait for the start
    CPPUNIT_ASSERT_EQUAL(size_t(1), world_.held_starts.size());
    // Undefine during the start: it becomes transient rather than vanish.
    CPPUNIT_ASSERT(driver_->domain_undefine(a, 0).ok());
    CPPUNIT_ASSERT(driver_->lookup_by_name("web").ok());
    world_.held_starts[0]({});
    world_.pump();
    CPPUNIT_ASSERT(started && started->ok());
    CPPUNIT_ASSERT(destroyed && destroyed->ok());
    // The queued start finds the transient Arrow gone.
    CPPUNIT_ASSERT(second_start && !second_start->ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_NO_DOMAIN), second_start->error().code);
    CPPUNIT_ASSERT(!driver_->lookup_by_name("web").ok());
  }

  void reboot_keeps_id_quietly() {
    DomainRef a = define(xml_of("web", kUuidA));
    int id = start(a).value().id;
    size_t n = events_.size();
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_reboot(a, 0, done); }).ok());
    CPPUNIT_ASSERT_EQUAL(1, world_.shutdown_requests);
    world_.last().events.anotify(AnotifyAppExited{0, 15});
    world_.last().events.exited(ExitCause::Poweroff);
    world_.pump();
    CPPUNIT_ASSERT_EQUAL(2, world_.starts);
    CPPUNIT_ASSERT_EQUAL(id, driver_->lookup_by_name("web").value().id);
    expect_state(a, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED);
    CPPUNIT_ASSERT_EQUAL(n, events_.size());
    // The reboot job has ended: another operation runs at once.
    CPPUNIT_ASSERT(run([&](auto done) { driver_->domain_destroy(a, 0, done); }).ok());
  }

  void start_failure() {
    DomainRef a = define(xml_of("web", kUuidA));
    world_.fail_start = true;
    Result<DomainRef> r = start(a);
    CPPUNIT_ASSERT_EQUAL(std::string("qemu said no"), r.error().message);
    expect_state(a, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_UNKNOWN);
    CPPUNIT_ASSERT_EQUAL(-1, driver_->lookup_by_name("web").value().id);
    std::optional<Result<DomainRef>> created;
    driver_->domain_create_xml(xml_of("tmp", kUuidB), 0, [&](Result<DomainRef> res) { created = res; });
    world_.pump();
    CPPUNIT_ASSERT(created && !created->ok());
    CPPUNIT_ASSERT(!driver_->lookup_by_name("tmp").ok());
    // create_xml over a shut-off persistent Arrow keeps its config on failure.
    driver_->domain_create_xml(xml_of("web", kUuidA, "", 32), 0, [&](Result<DomainRef> res) { created = res; });
    world_.pump();
    CPPUNIT_ASSERT_EQUAL(uint64_t(64 * 1024), driver_->domain_get_max_memory(a).value());
    CPPUNIT_ASSERT(world_.live.empty());
  }

  void lookups_and_errors() {
    Result<DomainRef> missing = driver_->lookup_by_name("nope");
    CPPUNIT_ASSERT_EQUAL(42, missing.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("no domain with matching name 'nope'"), missing.error().message);
    CPPUNIT_ASSERT_EQUAL(42, driver_->lookup_by_id(7).error().code);
    DomainRef ghost{"ghost", {1, 2, 3}, -1};
    CPPUNIT_ASSERT_EQUAL(42, driver_->domain_get_info(ghost).error().code);
    Result<DomainRef> bad = driver_->domain_define_xml("<domain type='arrow'><name>x</name>", 0);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_XML_ERROR), bad.error().code);
    CPPUNIT_ASSERT(!bad.error().message.empty());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INVALID_ARG), driver_->domain_define_xml(xml_of("a", kUuidA), 8).error().code);
    CPPUNIT_ASSERT(driver_->list_all_domains(0).empty());
    NodeInfo node = driver_->node_info();
    CPPUNIT_ASSERT(node.cpus > 0 && node.memory_kib > 0);
    CPPUNIT_ASSERT(!driver_->hostname().empty());
    CPPUNIT_ASSERT(driver_->capabilities_xml().find("<capabilities>") != std::string::npos);
    CPPUNIT_ASSERT(driver_->hypervisor_version() >= 1000000);
  }

  void stats_and_listing() {
    DomainRef a = define(xml_of("web", kUuidA));
    define(xml_of("db", kUuidB));
    must_start(a);
    CPPUNIT_ASSERT_EQUAL(size_t(1), driver_->list_all_domains(VIR_CONNECT_LIST_DOMAINS_ACTIVE).size());
    CPPUNIT_ASSERT_EQUAL(size_t(1), driver_->list_all_domains(VIR_CONNECT_LIST_DOMAINS_INACTIVE).size());
    CPPUNIT_ASSERT_EQUAL(size_t(2), driver_->list_all_domains(VIR_CONNECT_LIST_DOMAINS_ACTIVE |
                                                               VIR_CONNECT_LIST_DOMAINS_INACTIVE)
                                        .size());
    CPPUNIT_ASSERT(driver_->list_all_domains(VIR_CONNECT_LIST_DOMAINS_TRANSIENT).empty());
    CPPUNIT_ASSERT_EQUAL(size_t(1), driver_->list_all_domains(VIR_CONNECT_LIST_DOMAINS_SHUTOFF).size());
    CPPUNIT_ASSERT(driver_->list_all_domains(VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT).empty());
    auto stats = driver_->get_all_domain_stats(VIR_DOMAIN_STATS_STATE, VIR_CONNECT_LIST_DOMAINS_ACTIVE).value();
    CPPUNIT_ASSERT_EQUAL(size_t(1), stats.size());
    // state.state, state.reason, arrow.heartbeat.period, arrow.heartbeat.missed, arrow.ready
    CPPUNIT_ASSERT_EQUAL(size_t(5), stats[0].params.size());
    CPPUNIT_ASSERT_EQUAL(std::string("state.state"), stats[0].params[0].field);
    CPPUNIT_ASSERT_EQUAL(int64_t(VIR_DOMAIN_RUNNING), stats[0].params[0].i);
    auto all = driver_->get_all_domain_stats(0, 0).value();
    CPPUNIT_ASSERT_EQUAL(size_t(2), all.size());
    bool has_cpu = false, has_balloon = false;
    for (const TypedParam& p : all[1].params) {  // "web" sorts after "db"
      has_cpu |= p.field == "cpu.time";
      has_balloon |= p.field == "balloon.maximum" && p.i == 65536;
    }
    CPPUNIT_ASSERT(has_cpu && has_balloon);
    CPPUNIT_ASSERT(!driver_->get_all_domain_stats(VIR_DOMAIN_STATS_BLOCK,
                                                  VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS)
                        .ok());
    DomainInfo info = driver_->domain_get_info(a).value();
    CPPUNIT_ASSERT_EQUAL(int(VIR_DOMAIN_RUNNING), info.state);
    CPPUNIT_ASSERT_EQUAL(1u, info.nr_virt_cpu);
  }

 private:
  FakeWorld world_;
  std::unique_ptr<test::TempDir> dir_;
  std::unique_ptr<ArrowDriver> driver_;
  std::vector<int> events_;
  std::vector<int> event_ids_;
  std::vector<std::string> logged_;
  int heartbeats_ = 0;
};

CPPUNIT_TEST_SUITE_REGISTRATION(DriverTest);
