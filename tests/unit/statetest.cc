// Unit tests of the lifecycle state table (driver/arrow/arrow_state): every
// operation in every state, against an expectation written out here
// independently, with libvirt's error code and wording for each refusal.
#include <cppunit/extensions/HelperMacros.h>
#include <libvirt/libvirt.h>

#include <string>

#include "driver/arrow/arrow_state.h"

using namespace arrow;

namespace {

const ArrowState kStates[] = {ArrowState::Shutoff, ArrowState::Running, ArrowState::Paused,
                              ArrowState::ShuttingDown};
const DomainOp kOps[] = {DomainOp::Define,  DomainOp::Undefine, DomainOp::Start,
                         DomainOp::Destroy, DomainOp::Shutdown, DomainOp::Reboot,
                         DomainOp::Suspend, DomainOp::Resume,   DomainOp::SetAutostart};

// One character per state (shutoff, running, paused, shutdown):
// a = allowed, d = already done (ok, nothing to do), n = "domain is not
// running", r = "domain is already running".
struct Expect {
  DomainOp op;
  const char* cells;
};
const Expect kExpected[] = {
    {DomainOp::Define, "aaaa"},   {DomainOp::Undefine, "aaaa"}, {DomainOp::Start, "arrr"},
    {DomainOp::Destroy, "naaa"},  {DomainOp::Shutdown, "nand"}, {DomainOp::Reboot, "nann"},
    {DomainOp::Suspend, "nadn"},  {DomainOp::Resume, "ndan"},   {DomainOp::SetAutostart, "aaaa"},
};

}  // namespace

class StateTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(StateTest);
  CPPUNIT_TEST(every_cell);
  CPPUNIT_TEST(refusals_word_as_libvirt);
  CPPUNIT_TEST(states_map_to_libvirt);
  CPPUNIT_TEST(names_round_trip);
  CPPUNIT_TEST_SUITE_END();

 public:
  void every_cell() {
    int checked = 0;
    for (const Expect& e : kExpected) {
      for (int s = 0; s < kArrowStateCount; ++s) {
        std::string where = std::string(domain_op_name(e.op)) + " in " + arrow_state_name(kStates[s]);
        bool done = true;
        Status st = check_state(e.op, kStates[s], &done);
        switch (e.cells[s]) {
          case 'a':
            CPPUNIT_ASSERT_MESSAGE(where, st.ok() && !done);
            CPPUNIT_ASSERT_MESSAGE(where, state_verdict(e.op, kStates[s]) == StateVerdict::Allow);
            break;
          case 'd':
            CPPUNIT_ASSERT_MESSAGE(where, st.ok() && done);
            break;
          case 'n':
            CPPUNIT_ASSERT_MESSAGE(where, !st.ok());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("domain is not running"), st.error().message);
            break;
          case 'r':
            CPPUNIT_ASSERT_MESSAGE(where, !st.ok());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(where, std::string("domain is already running"), st.error().message);
            break;
          default:
            CPPUNIT_FAIL("bad expectation");
        }
        if (!st.ok()) CPPUNIT_ASSERT_EQUAL_MESSAGE(where, int(VIR_ERR_OPERATION_INVALID), st.error().code);
        ++checked;
      }
    }
    CPPUNIT_ASSERT_EQUAL(kDomainOpCount * kArrowStateCount, checked);
    CPPUNIT_ASSERT_EQUAL(int(sizeof kOps / sizeof kOps[0]), kDomainOpCount);
  }

  // The two sentences clients print and tests grep for.
  void refusals_word_as_libvirt() {
    Status twice = check_state(DomainOp::Start, ArrowState::Running);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_OPERATION_INVALID), twice.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("domain is already running"), twice.error().message);
    Status off = check_state(DomainOp::Destroy, ArrowState::Shutoff);
    CPPUNIT_ASSERT_EQUAL(std::string("domain is not running"), off.error().message);
  }

  void states_map_to_libvirt() {
    CPPUNIT_ASSERT_EQUAL(int(VIR_DOMAIN_SHUTOFF), arrow_state_to_vir(ArrowState::Shutoff));
    CPPUNIT_ASSERT_EQUAL(int(VIR_DOMAIN_RUNNING), arrow_state_to_vir(ArrowState::Running));
    CPPUNIT_ASSERT_EQUAL(int(VIR_DOMAIN_PAUSED), arrow_state_to_vir(ArrowState::Paused));
    CPPUNIT_ASSERT_EQUAL(int(VIR_DOMAIN_SHUTDOWN), arrow_state_to_vir(ArrowState::ShuttingDown));
  }

  void names_round_trip() {
    for (ArrowState s : kStates) {
      Result<ArrowState> back = arrow_state_parse(arrow_state_name(s));
      CPPUNIT_ASSERT(back.ok() && back.value() == s);
    }
    CPPUNIT_ASSERT(!arrow_state_parse("exploded").ok());
    for (DomainOp op : kOps) CPPUNIT_ASSERT(std::string(domain_op_name(op)).size() > 0);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StateTest);
