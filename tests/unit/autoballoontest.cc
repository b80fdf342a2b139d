// Unit tests of AutoBalloon's policy and settings (driver/arrow/arrow_autoballoon)
// and of the balloon's statistics as QEMU gives them (driver/engine/qemu_balloon):
// each rule of autoballoon_next_target on a sample written out here, the
// <arrow:autoballoon> attributes with their errors, libvirt's units and
// QEMU's "not reported" values.
#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "domain-xml/arrow_xml.h"
#include "driver/arrow/arrow_autoballoon.h"
#include "driver/engine/json.h"
#include "driver/engine/qemu_balloon.h"

using namespace arrow;

namespace {

constexpr uint64_t MiB = 1024;  // in KiB

AutoBalloonConf on() {
  AutoBalloonConf c;
  c.enabled = true;  // margin 16 MiB, floor 24 MiB
  return c;
}

// A 256 MiB Arrow whose balloon reached TARGET, with USABLE available, on fresh statistics.
AutoBalloonSample sample(uint64_t target_mib, uint64_t usable_mib) {
  AutoBalloonSample s;
  s.max_kib = 256 * MiB;
  s.actual_kib = target_mib * MiB;
  s.target_kib = target_mib * MiB;
  s.usable_kib = usable_mib * MiB;
  s.fresh = true;
  return s;
}

ArrowDef def_with(const std::string& element) {
  std::string xml = "<domain type='arrow'><name>a</name><metadata>" + element +
                    "</metadata><os><type>exe</type><init>/bin/true</init></os></domain>";
  Result<ArrowDef> def = parse_domain_xml(xml);
  CPPUNIT_ASSERT_MESSAGE(xml, def.ok());
  return def.value();
}

}  // namespace

class AutoBalloonTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(AutoBalloonTest);
  CPPUNIT_TEST(idle_guest_inflates_to_use_plus_margin);
  CPPUNIT_TEST(never_below_floor_nor_above_memory);
  CPPUNIT_TEST(small_steps_stale_statistics_and_moving_balloons_wait);
  CPPUNIT_TEST(short_of_margin_deflates_at_once);
  CPPUNIT_TEST(pressure_deflates_to_memory);
  CPPUNIT_TEST(hold_after_start_only_stops_inflation);
  CPPUNIT_TEST(settings_from_metadata);
  CPPUNIT_TEST(guest_stats_in_libvirt_units);
  CPPUNIT_TEST(balloon_device_and_default);
  CPPUNIT_TEST_SUITE_END();

 public:
  void idle_guest_inflates_to_use_plus_margin() {
    // 256 MiB, 216 available: the guest uses 40, so 40 + 16.
    std::optional<uint64_t> t = autoballoon_next_target(on(), sample(256, 216));
    CPPUNIT_ASSERT(t);
    CPPUNIT_ASSERT_EQUAL(uint64_t(56 * MiB), *t);
  }

  void never_below_floor_nor_above_memory() {
    CPPUNIT_ASSERT_EQUAL(uint64_t(24 * MiB), *autoballoon_next_target(on(), sample(256, 250)));  // uses 6: floor
    AutoBalloonConf c = on();
    c.floor_kib = 512 * MiB;  // a floor above <memory> means <memory>: nothing to do at 256
    CPPUNIT_ASSERT(!autoballoon_next_target(c, sample(256, 250)));
    AutoBalloonSample s = sample(240, 2);  // short of margin near the top: capped at <memory>
    CPPUNIT_ASSERT_EQUAL(uint64_t(256 * MiB), *autoballoon_next_target(on(), s));
  }

  void small_steps_stale_statistics_and_moving_balloons_wait() {
    CPPUNIT_ASSERT(!autoballoon_next_target(on(), sample(60, 18)));  // wants 58: under a quarter margin
    AutoBalloonSample stale = sample(256, 216);
    stale.fresh = false;
    CPPUNIT_ASSERT(!autoballoon_next_target(on(), stale));
    AutoBalloonSample moving = sample(256, 216);
    moving.target_kib = 128 * MiB;  // still on its way down
    CPPUNIT_ASSERT(!autoballoon_next_target(on(), moving));
    AutoBalloonSample no_stats = sample(256, 0);
    no_stats.usable_kib.reset();
    CPPUNIT_ASSERT(!autoballoon_next_target(on(), no_stats));
  }

  void short_of_margin_deflates_at_once() {
    // 56 MiB, 4 available (under 3/4 of 16): uses 52 → 52 + 16 + 8, stale or moving alike.
    AutoBalloonSample s = sample(56, 4);
    s.fresh = false;
    CPPUNIT_ASSERT_EQUAL(uint64_t(76 * MiB), *autoballoon_next_target(on(), s));
    CPPUNIT_ASSERT(!autoballoon_next_target(on(), sample(56, 13)));  // 13 of 16: enough
  }

  void pressure_deflates_to_memory() {
    AutoBalloonSample s = sample(56, 40);
    s.pressure = true;
    CPPUNIT_ASSERT_EQUAL(uint64_t(256 * MiB), *autoballoon_next_target(on(), s));
    AutoBalloonSample top = sample(256, 216);
    top.pressure = true;  // there already, and no inflation while it lasts
    CPPUNIT_ASSERT(!autoballoon_next_target(on(), top));
  }

  void hold_after_start_only_stops_inflation() {
    AutoBalloonSample s = sample(256, 216);
    s.hold = true;
    CPPUNIT_ASSERT(!autoballoon_next_target(on(), s));
    AutoBalloonSample short_of = sample(56, 4);
    short_of.hold = true;
    CPPUNIT_ASSERT(autoballoon_next_target(on(), short_of));
  }

  void settings_from_metadata() {
    const std::string ns = "xmlns:arrow='urn:x-arrow:domain:1'";
    AutoBalloonConf defaults;
    Result<AutoBalloonConf> c = metadata_autoballoon(def_with("<arrow:autoballoon " + ns +
                                                              " state='on' margin='32' floor='48'/>"), defaults);
    CPPUNIT_ASSERT(c.ok());
    CPPUNIT_ASSERT(c->enabled);
    CPPUNIT_ASSERT_EQUAL(uint64_t(32 * MiB), c->margin_kib);
    CPPUNIT_ASSERT_EQUAL(uint64_t(48 * MiB), c->floor_kib);
    defaults.enabled = true;  // virtarrowd.conf on, the Arrow says off
    c = metadata_autoballoon(def_with("<arrow:autoballoon " + ns + " state='off'/>"), defaults);
    CPPUNIT_ASSERT(c.ok() && !c->enabled);
    c = metadata_autoballoon(def_with("<other xmlns='urn:x-other'/>"), defaults);
    CPPUNIT_ASSERT(c.ok() && c->enabled && c->margin_kib == defaults.margin_kib);
    c = metadata_autoballoon(def_with("<arrow:autoballoon " + ns + " state='yes'/>"), defaults);
    CPPUNIT_ASSERT(!c.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("invalid value 'yes' for attribute 'state' of <arrow:autoballoon>: expected "
                                     "'on' or 'off'"),
                         c.error().message);
    c = metadata_autoballoon(def_with("<arrow:autoballoon " + ns + " margin='16M'/>"), defaults);
    CPPUNIT_ASSERT(!c.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("invalid value '16M' for attribute 'margin' of <arrow:autoballoon>: expected MiB "
                                     "from 0 to 1048576"),
                         c.error().message);
  }

  void guest_stats_in_libvirt_units() {
    // As QEMU 7.2 answers qom-get guest-stats (a guest without hugetlb).
    Result<JsonValue> v = json_parse(
        R"({"stats": {"stat-swap-out": 0, "stat-available-memory": 245309440, "stat-free-memory": 248274944,)"
        R"( "stat-minor-faults": 1204, "stat-major-faults": 47, "stat-total-memory": 254918656,)"
        R"( "stat-swap-in": 0, "stat-disk-caches": 10080256, "stat-htlb-pgalloc": 18446744073709551615,)"
        R"( "stat-htlb-pgfail": -1}, "last-update": 1796033333})");
    CPPUNIT_ASSERT(v.ok());
    BalloonGuestStats g = parse_balloon_guest_stats(*v);
    CPPUNIT_ASSERT_EQUAL(uint64_t(239560), *g.usable_kib);
    CPPUNIT_ASSERT_EQUAL(uint64_t(242456), *g.unused_kib);
    CPPUNIT_ASSERT_EQUAL(uint64_t(248944), *g.available_kib);
    CPPUNIT_ASSERT_EQUAL(uint64_t(9844), *g.disk_caches_kib);
    CPPUNIT_ASSERT_EQUAL(uint64_t(1204), *g.minor_faults);
    CPPUNIT_ASSERT_EQUAL(uint64_t(47), *g.major_faults);
    CPPUNIT_ASSERT_EQUAL(uint64_t(0), *g.swap_in_kib);
    CPPUNIT_ASSERT_EQUAL(uint64_t(1796033333), *g.last_update);
    CPPUNIT_ASSERT(!g.hugetlb_pgalloc);  // not reported
    CPPUNIT_ASSERT(!g.hugetlb_pgfail);
    // Before the guest's first report.
    g = parse_balloon_guest_stats(*json_parse(R"({"stats": {"stat-free-memory": -1}, "last-update": 0})"));
    CPPUNIT_ASSERT(!g.unused_kib && !g.last_update && !g.usable_kib);
  }

  void balloon_device_and_default() {
    MemBalloon b;
    CPPUNIT_ASSERT_EQUAL(std::string("virtio-balloon-device,id=balloon0,deflate-on-oom=on,free-page-reporting=on"),
                         balloon_device_option(b));
    ArrowDef def;
    CPPUNIT_ASSERT(balloon_wanted(def, 1));
    CPPUNIT_ASSERT(!balloon_wanted(def, 0));  // the default needs a free transport
    def.balloon.specified = true;
    CPPUNIT_ASSERT(balloon_wanted(def, 0));  // a given one is counted by the caller
    def.balloon.model = BalloonModel::None;
    CPPUNIT_ASSERT(!balloon_wanted(def, 5));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AutoBalloonTest);
