// Unit tests of restart survival's pure parts (driver/arrow/arrow_reconnect):
// runtime status files parsed back, refused when they are not what the
// driver writes, and the pid + start time check that tells a recycled pid
// from the QEMU it once named.
#include <cppunit/extensions/HelperMacros.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "driver/arrow/arrow_conf.h"
#include "driver/arrow/arrow_reconnect.h"

using namespace arrow;

namespace {

const char* const kDomain =
    "  <domain type='arrow' id='7'>\n"
    "    <name>web</name>\n"
    "    <uuid>6f5c5c8e-3c07-4c33-9d0a-3bd1f1a7c001</uuid>\n"
    "    <memory unit='KiB'>65536</memory>\n"
    "    <vcpu>1</vcpu>\n"
    "    <os>\n"
    "      <type arch='x86_64' machine='microvm'>exe</type>\n"
    "      <init>/bin/sleep</init>\n"
    "      <initarg>600</initarg>\n"
    "    </os>\n"
    "  </domain>\n";

std::string status(const std::string& attrs, const std::string& domain = kDomain) {
  return "<domstatus " + attrs + ">\n" + domain + "</domstatus>\n";
}

uint64_t own_start_ticks() {
  Result<ProcStat> ps = read_proc_stat(::getpid());
  CPPUNIT_ASSERT(ps.ok());
  return ps->start_ticks;
}

}  // namespace

class ReconnectTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ReconnectTest);
  CPPUNIT_TEST(parses_what_the_driver_writes);
  CPPUNIT_TEST(refuses_bad_status);
  CPPUNIT_TEST(same_process_needs_the_start_time);
  CPPUNIT_TEST(leftovers_are_removed_by_name_only);
  CPPUNIT_TEST_SUITE_END();

 public:
  void parses_what_the_driver_writes() {
    Result<RuntimeStatus> st = parse_runtime_status(status("state='paused' reason='1' pid='1234' pidstart='98765'"));
    CPPUNIT_ASSERT_MESSAGE(st.ok() ? "" : st.error().message, st.ok());
    CPPUNIT_ASSERT(st->state == ArrowState::Paused);
    CPPUNIT_ASSERT_EQUAL(1, st->reason);
    CPPUNIT_ASSERT_EQUAL(1234, st->pid);
    CPPUNIT_ASSERT_EQUAL(uint64_t{98765}, st->pid_start);
    CPPUNIT_ASSERT_EQUAL(7, st->id);
    CPPUNIT_ASSERT_EQUAL(std::string("web"), st->def.name);
    CPPUNIT_ASSERT_EQUAL(uint64_t{65536}, st->def.memory_kib);
  }

  void refuses_bad_status() {
    const std::string ok_attrs = "state='running' reason='1' pid='1234' pidstart='5'";
    struct Case {
      std::string xml;
      const char* names;  // what the message must mention
    } cases[] = {
        {status("state='shutoff' reason='1' pid='1234' pidstart='5'"), "shut off"},
        {status("state='bogus' reason='1' pid='1234' pidstart='5'"), "bogus"},
        {status("state='running' reason='1' pidstart='5'"), "'pid'"},
        {status("state='running' reason='1' pid='-3' pidstart='5'"), "'pid'"},
        {status("state='running' reason='1' pid='12x' pidstart='5'"), "'pid'"},
        {status("state='running' reason='1' pid='1234' pidstart='99999999999999999999'"), "'pidstart'"},
        {status(ok_attrs, ""), "<domain>"},
        {status(ok_attrs, "<domain type='arrow'><name>x</name></domain>"), "'id'"},
        {"<domain type='arrow' id='1'/>", "<domstatus>"},
        {status(ok_attrs).substr(0, 60), ""},  // torn
        {"<!DOCTYPE d [<!ENTITY a 'aaaa'>]><domstatus/>", ""},
    };
    for (const Case& c : cases) {
      Result<RuntimeStatus> st = parse_runtime_status(c.xml);
      CPPUNIT_ASSERT_MESSAGE(c.xml, !st.ok());
      CPPUNIT_ASSERT_EQUAL_MESSAGE(c.xml, int(VIR_ERR_XML_ERROR), int(st.error().code));
      CPPUNIT_ASSERT_MESSAGE(st.error().message, st.error().message.find(c.names) != std::string::npos);
    }
  }

  void same_process_needs_the_start_time() {
    const uint64_t ticks = own_start_ticks();
    CPPUNIT_ASSERT(same_process(::getpid(), ticks));
    CPPUNIT_ASSERT(!same_process(::getpid(), ticks + 1));  // a recycled pid
    CPPUNIT_ASSERT(!same_process(0, ticks));
    pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int ws;
    ::waitpid(child, &ws, 0);
    CPPUNIT_ASSERT(!same_process(child, ticks));  // gone
    // Never a process that is not the named Arrow's QEMU.
    CPPUNIT_ASSERT(!kill_unmanaged_qemu(::getpid(), ticks, "web"));
  }

  void leftovers_are_removed_by_name_only() {
    char tmpl[] = "/tmp/reconnecttest-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    for (const char* f : {"/monitor.sock", "/console.sock", "/anotify.sock", "/qemu.pid"})
      std::fclose(std::fopen((dir + f).c_str(), "w"));
    remove_runtime_leftovers(dir);
    struct stat sb;
    CPPUNIT_ASSERT(::stat(dir.c_str(), &sb) < 0);
    CPPUNIT_ASSERT(::mkdir(dir.c_str(), 0700) == 0);
    std::fclose(std::fopen((dir + "/keep").c_str(), "w"));
    remove_runtime_leftovers(dir);
    CPPUNIT_ASSERT(::stat((dir + "/keep").c_str(), &sb) == 0);
    ::unlink((dir + "/keep").c_str());
    ::rmdir(dir.c_str());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ReconnectTest);
