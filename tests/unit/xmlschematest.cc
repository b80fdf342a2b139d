// Every domain XML under tests/data/ (any folder, any depth) validates
// against domain-xml/arrow.rng, as libvirt's virschematest does. Excluded:
// tests/data/xmlerr/ and any NAME.xml beside a NAME.err (deliberately bad
// inputs), and files whose root element is not <domain> (capabilities ...).
#include <cppunit/extensions/HelperMacros.h>

#include <filesystem>

#include "domain-xml/arrow_xml.h"
#include "domain-xml/xml_util.h"
#include "tests/unit/testutil.h"

using namespace arrow;
namespace fs = std::filesystem;

class XmlSchemaTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(XmlSchemaTest);
  CPPUNIT_TEST(all_test_domains_validate);
  CPPUNIT_TEST(schema_refuses_what_parser_refuses);
  CPPUNIT_TEST_SUITE_END();

  static bool is_domain(const std::string& xml) {
    Result<XmlDocPtr> doc = xml_parse_untrusted(xml);
    if (!doc.ok()) return false;
    const xmlNode* root = xmlDocGetRootElement(doc.value().get());
    return root && std::string(reinterpret_cast<const char*>(root->name)) == "domain";
  }

 public:
  void all_test_domains_validate() {
    fs::path root = test::data_dir("");
    size_t validated = 0;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      fs::path p = entry.path();
      if (!entry.is_regular_file() || p.extension() != ".xml") continue;
      if (fs::relative(p, root).begin()->string() == "xmlerr") continue;
      if (fs::exists(fs::path(p).replace_extension(".err"))) continue;
      std::string xml = test::read_file(p.string());
      if (!is_domain(xml)) continue;
      Status valid = validate_with_schema(xml, domain_schema_path());
      CPPUNIT_ASSERT_MESSAGE(p.string() + ": " + (valid ? "" : valid.error().message), valid.ok());
      validated++;
    }
    CPPUNIT_ASSERT_MESSAGE("no domain XML found under " + root.string(), validated > 0);
  }

  // The schema is not looser than the grammar on the main points.
  void schema_refuses_what_parser_refuses() {
    const char* bad[] = {
        "<domain type='kvm'><name>a</name><os><type>exe</type><init>/a</init></os></domain>",
        "<domain type='arrow'><os><type>exe</type><init>/a</init></os></domain>",
        "<domain type='arrow'><name>a/b</name><os><type>exe</type><init>/a</init></os></domain>",
        "<domain type='arrow'><name>a</name><os><type>exe</type><init>a</init></os></domain>",
        "<domain type='arrow'><name>a</name><os><type>hvm</type><init>/a</init></os></domain>",
        "<domain type='arrow'><name>a</name><os><type>exe</type></os></domain>",
        "<domain type='arrow'><name>a</name><vcpu>9</vcpu><os><type>exe</type><init>/a</init></os></domain>",
        "<domain type='arrow'><name>a</name><os><type>exe</type><init>/a</init></os><devices>"
        "<interface type='user'><portForward proto='tcp' address='10.0.0.1'><range start='80'/></portForward>"
        "</interface></devices></domain>",
        "<domain type='arrow'><name>a</name><os><type>exe</type><init>/a</init></os><devices><disk/></devices>"
        "</domain>",
    };
    for (const char* xml : bad) {
      CPPUNIT_ASSERT_MESSAGE(std::string("schema accepted: ") + xml,
                             !validate_with_schema(xml, domain_schema_path()).ok());
      CPPUNIT_ASSERT_MESSAGE(std::string("parser accepted: ") + xml, !parse_domain_xml(xml).ok());
    }
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(XmlSchemaTest);
