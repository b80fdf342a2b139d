// Golden tests of the Arrow domain XML: every tests/data/xml2xml/NAME.xml
// parses, validates against arrow.rng and formats back to itself byte for
// byte (or to NAME-out.xml when the input is not canonical); every
// tests/data/xmlerr/NAME.xml fails with exactly the error in NAME.err.
#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include "domain-xml/arrow_xml.h"
#include "tests/unit/testutil.h"

using namespace arrow;

namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string code_name(int code) {
  switch (code) {
    case VIR_ERR_XML_ERROR: return "XML_ERROR";
    case VIR_ERR_CONFIG_UNSUPPORTED: return "CONFIG_UNSUPPORTED";
    default: return "code " + std::to_string(code);
  }
}

const char kMinimal[] =
    "<domain type='arrow'><name>t</name><os><type>exe</type><init>/bin/true</init></os>"
    "<devices><console type='pty'/></devices></domain>";

}  // namespace

class Xml2XmlTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(Xml2XmlTest);
  CPPUNIT_TEST(round_trips);
  CPPUNIT_TEST(errors);
  CPPUNIT_TEST(uuid_generated_when_absent);
  CPPUNIT_TEST(uuid_forms);
  CPPUNIT_TEST(live_data);
  CPPUNIT_TEST(channel_live_data);
  CPPUNIT_TEST(huge_document);
  CPPUNIT_TEST(secrets_hidden);
  CPPUNIT_TEST(names);
  CPPUNIT_TEST_SUITE_END();

 public:
  void round_trips() {
    std::string dir = test::data_dir("xml2xml");
    test::GoldenSet golden(dir);
    auto inputs = test::list_files(dir, ".xml");
    size_t count = 0;
    for (const auto& name : inputs) {
      if (ends_with(name, "-out.xml")) continue;
      count++;
      golden.use(name);
      std::string input = test::read_file(dir + "/" + name);
      Status valid = validate_with_schema(input, domain_schema_path());
      CPPUNIT_ASSERT_MESSAGE(name + ": " + (valid ? "" : valid.error().message), valid.ok());
      Result<ArrowDef> def = parse_domain_xml(input);
      CPPUNIT_ASSERT_MESSAGE(name + ": " + (def ? "" : def.error().message), def.ok());
      std::string out = format_domain_xml(def.value());
      std::string out_name = name.substr(0, name.size() - 4) + "-out.xml";
      std::string expected = file_exists(dir + "/" + out_name) ? out_name : name;
      golden.use(expected);
      std::string diff = test::compare_golden(dir + "/" + expected, out);
      CPPUNIT_ASSERT_MESSAGE(name + ": " + diff, diff.empty());
      // The output is canonical: it validates and is a fixpoint.
      Status out_valid = validate_with_schema(out, domain_schema_path());
      CPPUNIT_ASSERT_MESSAGE(name + " output: " + (out_valid ? "" : out_valid.error().message), out_valid.ok());
      Result<ArrowDef> again = parse_domain_xml(out);
      CPPUNIT_ASSERT_MESSAGE(name + " output: " + (again ? "" : again.error().message), again.ok());
      CPPUNIT_ASSERT_EQUAL_MESSAGE(name + " fixpoint", out, format_domain_xml(again.value()));
    }
    CPPUNIT_ASSERT_MESSAGE("no xml2xml inputs found in " + dir, count > 0);
    auto unused = golden.unused();
    CPPUNIT_ASSERT_MESSAGE("unused golden file in xml2xml: " + (unused.empty() ? "" : unused[0]), unused.empty());
  }

  void errors() {
    std::string dir = test::data_dir("xmlerr");
    test::GoldenSet golden(dir);
    auto inputs = test::list_files(dir, ".xml");
    for (const auto& name : inputs) {
      golden.use(name);
      std::string err_name = name.substr(0, name.size() - 4) + ".err";
      golden.use(err_name);
      Result<ArrowDef> def = parse_domain_xml(test::read_file(dir + "/" + name));
      CPPUNIT_ASSERT_MESSAGE(name + " was accepted but must fail", !def.ok());
      std::string actual = code_name(def.error().code) + ": " + def.error().message + "\n";
      std::string diff = test::compare_golden(dir + "/" + err_name, actual);
      CPPUNIT_ASSERT_MESSAGE(name + ": " + diff, diff.empty());
    }
    CPPUNIT_ASSERT_MESSAGE("no xmlerr inputs found in " + dir, !inputs.empty());
    auto unused = golden.unused();
    CPPUNIT_ASSERT_MESSAGE("unused golden file in xmlerr: " + (unused.empty() ? "" : unused[0]), unused.empty());
  }

  void uuid_generated_when_absent() {
    Result<ArrowDef> a = parse_domain_xml(kMinimal);
    Result<ArrowDef> b = parse_domain_xml(kMinimal);
    CPPUNIT_ASSERT(a.ok() && b.ok());
    CPPUNIT_ASSERT(a.value().uuid != b.value().uuid);
    CPPUNIT_ASSERT_EQUAL(0x40, a.value().uuid[6] & 0xf0);  // version 4
    CPPUNIT_ASSERT_EQUAL(0x80, a.value().uuid[8] & 0xc0);  // RFC 4122 variant
    Result<ArrowDef> c = parse_domain_xml(format_domain_xml(a.value()));
    CPPUNIT_ASSERT(c.ok());
    CPPUNIT_ASSERT(a.value().uuid == c.value().uuid);
  }

  void uuid_forms() {
    Result<Uuid> dashed = uuid_parse("4dea22b3-1d52-d8f3-2516-782e98a23fa0");
    Result<Uuid> plain = uuid_parse(" 4DEA22B31D52D8F32516782E98A23FA0\n");
    CPPUNIT_ASSERT(dashed.ok() && plain.ok());
    CPPUNIT_ASSERT(dashed.value() == plain.value());
    CPPUNIT_ASSERT_EQUAL(std::string("4dea22b3-1d52-d8f3-2516-782e98a23fa0"), uuid_format(plain.value()));
    const std::string bad_uuids[] = {"", "4dea22b3", "4dea22b3-1d52-d8f3-2516-782e98a23fa0aa", "-4dea22b31d52d8f32516782e98a23fa0",
                            "4dea22b3--1d52d8f32516782e98a23fa0", "4dea22b3-1d52-d8f3-2516-782e98a23fa", "g" +
                            std::string(31, '0'), std::string(32, '0')};
    for (const std::string& bad : bad_uuids) {
      Result<Uuid> r = uuid_parse(bad);
      CPPUNIT_ASSERT_MESSAGE("accepted uuid '" + bad + "'", !r.ok());
      CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_ERR_XML_ERROR), r.error().code);
    }
  }

  void live_data() {
    Result<ArrowDef> def = parse_domain_xml(kMinimal);
    CPPUNIT_ASSERT(def.ok());
    DomainLiveData live{7, "/dev/pts/3"};
    std::string xml = format_domain_xml(def.value(), live);
    CPPUNIT_ASSERT(xml.rfind("<domain type='arrow' id='7'>\n", 0) == 0);
    CPPUNIT_ASSERT(xml.find("<console type='pty' tty='/dev/pts/3'>\n      <source path='/dev/pts/3'/>\n"
                            "      <target type='virtio' port='0'/>\n      <alias name='console0'/>\n") !=
                   std::string::npos);
    // The live XML is valid and parses back to the same definition.
    CPPUNIT_ASSERT(validate_with_schema(xml, domain_schema_path()).ok());
    Result<ArrowDef> again = parse_domain_xml(xml);
    CPPUNIT_ASSERT(again.ok());
    CPPUNIT_ASSERT_EQUAL(format_domain_xml(def.value()), format_domain_xml(again.value()));
    CPPUNIT_ASSERT_EQUAL(format_domain_xml(def.value()), format_domain_xml(def.value(), live, FORMAT_INACTIVE));
    CPPUNIT_ASSERT_EQUAL(format_domain_xml(def.value()), format_domain_xml(def.value(), DomainLiveData{}));
  }
  // A running Arrow's channels: the socket each uses (the runtime
  // directory's for one without a path), whether the guest has the port
  // open, and libvirt's alias.
  void channel_live_data() {
    Result<ArrowDef> def = parse_domain_xml(
        "<domain type='arrow'><name>c</name><os><type>exe</type><init>/bin/cat</init></os><devices>"
        "<channel type='unix'><target type='virtio' name='a'/></channel>"
        "<channel type='unix'><source path='/tmp/p.sock'/><target type='virtio' name='b'/></channel>"
        "</devices></domain>");
    CPPUNIT_ASSERT(def.ok());
    DomainLiveData live{4, ""};
    live.channels = {ChannelLiveData{"/run/x/channel0.sock", true}, ChannelLiveData{"/tmp/p.sock", std::nullopt}};
    std::string xml = format_domain_xml(def.value(), live);
    CPPUNIT_ASSERT_MESSAGE(xml, xml.find("    <channel type='unix'>\n      <source mode='bind' path='/run/x/channel0.sock'/>\n"
                                         "      <target type='virtio' name='a' state='connected'/>\n"
                                         "      <alias name='channel0'/>\n    </channel>\n") != std::string::npos);
    CPPUNIT_ASSERT_MESSAGE(xml, xml.find("      <source mode='connect' path='/tmp/p.sock'/>\n"
                                         "      <target type='virtio' name='b'/>\n"
                                         "      <alias name='channel1'/>\n") != std::string::npos);
    // Inactive: no path for the first, no state, no alias.
    std::string inactive = format_domain_xml(def.value(), live, FORMAT_INACTIVE);
    CPPUNIT_ASSERT_MESSAGE(inactive, inactive.find("<source mode='bind'/>\n      <target type='virtio' name='a'/>\n    "
                                                   "</channel>") != std::string::npos);
  }


  // Without VIR_DOMAIN_XML_SECURE each <initenv> keeps its name, not its
  // value; the default form (what the driver persists) keeps everything.
  void secrets_hidden() {
    Result<ArrowDef> def = parse_domain_xml(
        "<domain type='arrow'><name>t</name><os><type>exe</type><init>/bin/true</init>"
        "<initenv name='TOKEN'>s3cret</initenv><initenv name='EMPTY'></initenv></os></domain>");
    CPPUNIT_ASSERT(def.ok());
    std::string full = format_domain_xml(def.value(), FORMAT_INACTIVE);
    CPPUNIT_ASSERT(full.find("<initenv name='TOKEN'>s3cret</initenv>") != std::string::npos);
    for (const std::string& hidden : {format_domain_xml(def.value(), FORMAT_HIDE_SECRETS),
                                      format_domain_xml(def.value(), DomainLiveData{3, ""}, FORMAT_HIDE_SECRETS),
                                      format_domain_xml(def.value(), FORMAT_INACTIVE | FORMAT_HIDE_SECRETS)}) {
      CPPUNIT_ASSERT_MESSAGE(hidden, hidden.find("s3cret") == std::string::npos);
      CPPUNIT_ASSERT_MESSAGE(hidden, hidden.find("<initenv name='TOKEN'/>\n") != std::string::npos);
      CPPUNIT_ASSERT_MESSAGE(hidden, hidden.find("<initenv name='EMPTY'/>\n") != std::string::npos);
      CPPUNIT_ASSERT(validate_with_schema(hidden, domain_schema_path()).ok());
      Result<ArrowDef> again = parse_domain_xml(hidden);  // defined again: the values are empty
      CPPUNIT_ASSERT(again.ok() && again->initenv.size() == 2 && again->initenv[0].value.empty());
    }
  }

  // The rule of <name> as a function (the xmlerr goldens hold the messages).
  void names() {
    for (const char* ok : {"web", "a", "_", "9", "A-b_c.d+e@f", "a..b", "web.xml-", "web.xmlx", "x.tmp", "a-",
                           "a.", "9_.-+@..tmp.xml-.xmlx"})
      CPPUNIT_ASSERT_MESSAGE(ok, check_arrow_name(ok).ok());
    CPPUNIT_ASSERT(check_arrow_name(std::string(kMaxNameLength, 'a')).ok());
    const std::initializer_list<std::string> bad_names = {
        "", ".", "..", ".a", "-a", "+a", "@a", "a/b", "a,b", "a b", "a:b", "a=b", "a\nb", "caf\xc3\xa9",
        "a.tmp-x", "web.xml", "web.xml.invalid", "a.xml.b", std::string(kMaxNameLength + 1, 'a')};
    for (const std::string& bad : bad_names) {
      Status st = check_arrow_name(bad);
      CPPUNIT_ASSERT_MESSAGE("accepted name '" + bad + "'", !st.ok());
      CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_ERR_XML_ERROR), st.error().code);
      CPPUNIT_ASSERT(st.error().message.find("for <name>: ") != std::string::npos);
    }
  }

  // Generated rather than stored: a document just over the 1 MiB limit is
  // refused before libxml2 sees it; one just under it parses.
  void huge_document() {
    std::string head = "<domain type='arrow'><name>t</name><os><type>exe</type><init>/bin/true</init><initarg>";
    std::string tail = "</initarg></os></domain>";
    std::string big = head + std::string(1024 * 1024 - head.size() - tail.size(), 'x') + tail;
    CPPUNIT_ASSERT(parse_domain_xml(big).ok());
    Result<ArrowDef> r = parse_domain_xml(big + " ");
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("XML document too large: 1048577 bytes, at most 1048576 are accepted"),
                         r.error().message);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(Xml2XmlTest);
