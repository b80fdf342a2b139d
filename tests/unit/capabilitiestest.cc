// Golden tests of the host capabilities and domain capabilities XML
// (tests/data/caps/NAME.xml), plus the query checks and the host probe.
#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include "domain-xml/arrow_caps.h"
#include "domain-xml/arrow_xml.h"
#include "domain-xml/uuid.h"
#include "domain-xml/xml_util.h"
#include "tests/unit/testutil.h"

using namespace arrow;

namespace {

HostInfo two_cpu_host() {
  HostInfo h;
  h.uuid = uuid_parse("c7a5fdbd-cdaf-9455-926a-d65c16db1809").value();
  h.cpus = 2;
  h.cores = 2;
  h.memory_kib = 8167952;
  h.emulator = "/usr/bin/qemu-system-x86_64";
  return h;
}

// libvirt's own schemas (package libvirt0) check that the shape is libvirt's.
const char kLibvirtSchemas[] = "/usr/share/libvirt/schemas";

bool have_libvirt_schemas() {
  struct stat st {};
  return stat((std::string(kLibvirtSchemas) + "/capability.rng").c_str(), &st) == 0;
}

std::string root_name(const std::string& xml) {
  Result<XmlDocPtr> doc = xml_parse_untrusted(xml);
  if (!doc.ok()) return "(malformed: " + doc.error().message + ")";
  return reinterpret_cast<const char*>(xmlDocGetRootElement(doc.value().get())->name);
}

}  // namespace

class CapabilitiesTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(CapabilitiesTest);
  CPPUNIT_TEST(goldens);
  CPPUNIT_TEST(domcaps_refuses_other_hypervisors);
  CPPUNIT_TEST(probe);
  CPPUNIT_TEST_SUITE_END();

  std::string dir_ = test::data_dir("caps");
  test::GoldenSet golden_{dir_};

  void check(const std::string& name, const std::string& xml, const std::string& root) {
    golden_.use(name);
    CPPUNIT_ASSERT_EQUAL_MESSAGE(name, root, root_name(xml));
    std::string diff = test::compare_golden(dir_ + "/" + name, xml);
    CPPUNIT_ASSERT_MESSAGE(name + ": " + diff, diff.empty());
    if (!have_libvirt_schemas()) return;
    // libvirt's capability schema lists its own hypervisor types only; the
    // rest of the document must be exactly libvirt's shape.
    std::string as_libvirt = xml;
    if (size_t at = as_libvirt.find("<domain type='arrow'/>"); at != std::string::npos)
      as_libvirt.replace(at, 22, "<domain type='lxc'/>");
    std::string rng = std::string(kLibvirtSchemas) + (root == "capabilities" ? "/capability.rng" : "/domaincaps.rng");
    Status valid = validate_with_schema(as_libvirt, rng);
    CPPUNIT_ASSERT_MESSAGE(name + ": " + (valid ? "" : valid.error().message), valid.ok());
  }

 public:
  void goldens() {
    check("host-2cpu.xml", host_capabilities_xml(two_cpu_host()), "capabilities");

    HostInfo smt = two_cpu_host();
    smt.cpus = 8;
    smt.sockets = 2;
    smt.cores = 2;
    smt.threads = 2;
    smt.cpu_model = "Skylake-Client-IBRS";
    smt.cpu_vendor = "Intel";
    check("host-smt.xml", host_capabilities_xml(smt), "capabilities");

    HostInfo bare;  // nothing known: no uuid, no emulator, 1 cpu
    bare.cpus = 3;  // inconsistent with the 1x1x1x1 topology: one core per cpu
    check("host-bare.xml", host_capabilities_xml(bare), "capabilities");

    Result<std::string> dc = domain_capabilities_xml(two_cpu_host(), {});
    CPPUNIT_ASSERT(dc.ok());
    check("domcaps-default.xml", dc.value(), "domainCapabilities");
    // virt-manager's second call, with what the capabilities advertised.
    Result<std::string> dc2 = domain_capabilities_xml(
        two_cpu_host(), DomainCapsQuery{"/opt/qemu/bin/qemu-system-x86_64", "x86_64", "microvm", "arrow"});
    CPPUNIT_ASSERT(dc2.ok());
    check("domcaps-emulator.xml", dc2.value(), "domainCapabilities");

    auto unused = golden_.unused();
    CPPUNIT_ASSERT_MESSAGE("unused golden file in caps: " + (unused.empty() ? "" : unused[0]), unused.empty());
  }

  void domcaps_refuses_other_hypervisors() {
    const DomainCapsQuery bad[] = {
        {"", "", "", "kvm"},          // Nova's virt_type
        {"", "aarch64", "", ""},      // another arch
        {"", "", "pc", ""},           // Nova's default machine
        {"qemu-system-x86_64", "", "", ""},  // relative emulator
    };
    for (const auto& q : bad) {
      Result<std::string> r = domain_capabilities_xml(two_cpu_host(), q);
      CPPUNIT_ASSERT(!r.ok());
      CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_ERR_INVALID_ARG), r.error().code);
    }
  }

  // virt-manager closes the connection when memory or cpus is 0.
  void probe() {
    HostInfo h = probe_host_info("/usr/bin/qemu-system-x86_64");
    CPPUNIT_ASSERT(h.cpus > 0);
    CPPUNIT_ASSERT(h.memory_kib > 0);
    CPPUNIT_ASSERT(!h.arch.empty());
    CPPUNIT_ASSERT_EQUAL(std::string("capabilities"), root_name(host_capabilities_xml(h)));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CapabilitiesTest);
