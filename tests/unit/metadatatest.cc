// Unit tests of domain-xml/arrow_metadata: the one hardened parse of
// <metadata> elements, their serialised form, and libvirt's get/set rules
// for an element of a namespace (the answers libvirt's own driver gives for
// the same calls, checked against libvirt 9.0's test driver).
#include <cppunit/extensions/HelperMacros.h>
#include <libvirt/virterror.h>

#include "domain-xml/arrow_metadata.h"
#include "domain-xml/arrow_xml.h"

using namespace arrow;

namespace {

const char kNova[] = "http://openstack.org/xmlns/libvirt/nova/1.1";
const char kEx[] = "http://example.org/ns";

// The metadata of a domain XML whose <metadata> holds INNER.
std::vector<std::string> parsed_metadata(const std::string& inner) {
  std::string xml = "<domain type='arrow'><name>m</name><metadata>" + inner +
                    "</metadata><os><type>exe</type><init>/bin/true</init></os></domain>";
  Result<ArrowDef> def = parse_domain_xml(xml);
  CPPUNIT_ASSERT_MESSAGE(def.ok() ? "" : def.error().message, def.ok());
  return def->metadata;
}

std::vector<std::string> must_set(const std::vector<std::string>& md, const std::optional<std::string>& element,
                                  const std::string& key, const std::string& uri) {
  Result<std::vector<std::string>> out = metadata_set_element(md, element, key, uri);
  CPPUNIT_ASSERT_MESSAGE(out.ok() ? "" : out.error().message, out.ok());
  return out.value();
}

}  // namespace

class MetadataTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(MetadataTest);
  CPPUNIT_TEST(serialised_form);
  CPPUNIT_TEST(get_element_drops_its_namespace);
  CPPUNIT_TEST(set_element_takes_the_namespace);
  CPPUNIT_TEST(set_replaces_and_removes);
  CPPUNIT_TEST(set_errors_as_libvirt);
  CPPUNIT_TEST(parse_is_hardened);
  CPPUNIT_TEST(find_arrow_elements);
  CPPUNIT_TEST_SUITE_END();

 public:
  // Each child becomes a document of its own, namespaces declared on it,
  // indented for its place in the domain whatever the input's layout.
  void serialised_form() {
    std::vector<std::string> md = parsed_metadata(
        "\n  <nova:instance xmlns:nova='" + std::string(kNova) +
        "'>\n\n      <nova:name>vm1</nova:name><nova:flavor name='m1'>\n<nova:vcpus>1</nova:vcpus></nova:flavor>"
        "</nova:instance>\n");
    CPPUNIT_ASSERT_EQUAL(size_t(1), md.size());
    CPPUNIT_ASSERT_EQUAL(std::string("<nova:instance xmlns:nova=\"") + kNova +
                             "\">\n"
                             "      <nova:name>vm1</nova:name>\n"
                             "      <nova:flavor name=\"m1\">\n"
                             "        <nova:vcpus>1</nova:vcpus>\n"
                             "      </nova:flavor>\n"
                             "    </nova:instance>",
                         md[0]);
    // A namespace declared on <domain> is declared on the element it serves.
    Result<ArrowDef> def = parse_domain_xml(
        "<domain type='arrow' xmlns:ex='" + std::string(kEx) +
        "'><name>m</name><metadata><ex:a/></metadata><os><type>exe</type><init>/bin/true</init></os></domain>");
    CPPUNIT_ASSERT_MESSAGE(def.ok() ? "" : def.error().message, def.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("<ex:a xmlns:ex=\"") + kEx + "\"/>", def->metadata.at(0));
  }

  // libvirt's virXMLExtractNamespaceXML: the element without its namespace;
  // other namespaces, comments and mixed content stay.
  void get_element_drops_its_namespace() {
    std::vector<std::string> md = parsed_metadata(
        "<nova:instance xmlns:nova='" + std::string(kNova) +
        "'><nova:name>vm1</nova:name><nova:flavor name='m1'><nova:vcpus>1</nova:vcpus></nova:flavor>"
        "</nova:instance><ex:foo xmlns:ex='" +
        kEx + "' xmlns:o='urn:o'><o:x/><!-- c --><ex:y z='1'>t</ex:y></ex:foo>");
    CPPUNIT_ASSERT_EQUAL(std::string("<instance>\n"
                                     "  <name>vm1</name>\n"
                                     "  <flavor name=\"m1\">\n"
                                     "    <vcpus>1</vcpus>\n"
                                     "  </flavor>\n"
                                     "</instance>"),
                         metadata_get_element(md, kNova).value());
    CPPUNIT_ASSERT_EQUAL(std::string("<foo xmlns:o=\"urn:o\">\n  <o:x/>\n  <!-- c -->\n  <y z=\"1\">t</y>\n</foo>"),
                         metadata_get_element(md, kEx).value());
    CPPUNIT_ASSERT(!metadata_get_element(md, "urn:none"));
    CPPUNIT_ASSERT(!metadata_get_element({}, kNova));
    // An attribute in the namespace keeps its declaration (never a dangling one).
    std::vector<std::string> attr = parsed_metadata("<ex:a xmlns:ex='" + std::string(kEx) + "' ex:k='v'/>");
    CPPUNIT_ASSERT_EQUAL(std::string("<a xmlns:ex=\"") + kEx + "\" ex:k=\"v\"/>",
                         metadata_get_element(attr, kEx).value());
  }

  // libvirt's virXMLInjectNamespace: KEY/URI on every element without a
  // namespace; the stored form is the parser's, and get gives the input back.
  void set_element_takes_the_namespace() {
    std::vector<std::string> md = must_set({}, "<foo a='1'><bar>t</bar>  <baz/></foo>", "ex", kEx);
    CPPUNIT_ASSERT_EQUAL(size_t(1), md.size());
    CPPUNIT_ASSERT_EQUAL(std::string("<ex:foo xmlns:ex=\"") + kEx +
                             "\" a=\"1\">\n      <ex:bar>t</ex:bar>\n      <ex:baz/>\n    </ex:foo>",
                         md[0]);
    CPPUNIT_ASSERT_EQUAL(std::string("<foo a=\"1\">\n  <bar>t</bar>\n  <baz/>\n</foo>"),
                         metadata_get_element(md, kEx).value());
    // The stored form is what the domain parser would make of it.
    CPPUNIT_ASSERT(md == parsed_metadata(md[0]));
    // An element already in a namespace keeps it, as in libvirt.
    std::vector<std::string> other = must_set({}, "<o:x xmlns:o='urn:o'><y/></o:x>", "ex", kEx);
    CPPUNIT_ASSERT(!metadata_get_element(other, kEx));
    CPPUNIT_ASSERT(metadata_get_element(other, "urn:o"));
    // A declaration, comments and blank lines around the element are no part of it.
    std::vector<std::string> prolog = must_set({}, "<?xml version='1.0'?>\n<!-- c -->\n<a/>\n", "k", kEx);
    CPPUNIT_ASSERT_EQUAL(std::string("<a/>"), metadata_get_element(prolog, kEx).value());
  }

  void set_replaces_and_removes() {
    std::vector<std::string> md = parsed_metadata("<nova:instance xmlns:nova='" + std::string(kNova) +
                                                  "'/><ex:one xmlns:ex='" + kEx + "'/><ex:two xmlns:ex='" + kEx +
                                                  "'/>");
    CPPUNIT_ASSERT_EQUAL(size_t(3), md.size());
    // Every element of the URI goes; the new one comes last.
    std::vector<std::string> replaced = must_set(md, "<three/>", "e2", kEx);
    CPPUNIT_ASSERT_EQUAL(size_t(2), replaced.size());
    CPPUNIT_ASSERT_EQUAL(md[0], replaced[0]);
    CPPUNIT_ASSERT_EQUAL(std::string("<e2:three xmlns:e2=\"") + kEx + "\"/>", replaced[1]);
    // No element: removal; removing what is not there changes nothing.
    std::vector<std::string> removed = must_set(replaced, std::nullopt, "", kEx);
    CPPUNIT_ASSERT_EQUAL(size_t(1), removed.size());
    CPPUNIT_ASSERT(must_set(removed, std::nullopt, "", kEx) == removed);
  }

  // The messages libvirt 9.0 gives for the same calls, byte for byte.
  void set_errors_as_libvirt() {
    struct Case {
      const char* element;
      const char* message;
    };
    const Case cases[] = {
        {"<foo></bar>",
         "(metadata_xml):1: Opening and ending tag mismatch: foo line 1 and bar\n<foo></bar>\n-----------^"},
        {"junk", "(metadata_xml):1: Start tag expected, '<' not found\njunk\n^"},
        {"<a/><b/>", "(metadata_xml):1: Extra content at the end of the document\n<a/><b/>\n----^"},
        {"<a>\n  <b>\n</a>", "(metadata_xml):3: Opening and ending tag mismatch: b line 2 and a\n</a>\n----^"},
        {"<a x=1/>", "(metadata_xml):1: AttValue: \" or ' expected\n<a x=1/>\n-----^"},
        {"<a>&foo;</a>", "(metadata_xml):1: Entity 'foo' not defined\n<a>&foo;</a>\n--------^"},
    };
    for (const Case& c : cases) {
      Result<std::vector<std::string>> r = metadata_set_element({}, std::string(c.element), "k", kEx);
      CPPUNIT_ASSERT_MESSAGE(c.element, !r.ok());
      CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_XML_DETAIL), r.error().code);
      CPPUNIT_ASSERT_EQUAL(std::string(c.message), r.error().message);
    }
    Result<std::vector<std::string>> bad_key = metadata_set_element({}, std::string("<a/>"), "k:x", kEx);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INTERNAL_ERROR), bad_key.error().code);
    CPPUNIT_ASSERT_EQUAL(std::string("failed to validate prefix for a new XML namespace"), bad_key.error().message);
    Result<std::vector<std::string>> taken =
        metadata_set_element({}, std::string("<k:a xmlns:k='urn:o'/>"), "k", kEx);
    CPPUNIT_ASSERT_EQUAL(std::string("failed to create a new XML namespace"), taken.error().message);
  }

  // Every parse is xml_parse_untrusted's: no DTD, no entity, bounded depth.
  void parse_is_hardened() {
    CPPUNIT_ASSERT(!MetadataElement::parse("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>").ok());
    CPPUNIT_ASSERT(!metadata_set_element({}, std::string("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"), "k", kEx).ok());
    std::string deep;
    for (int i = 0; i < kXmlMaxDepth + 1; i++) deep += "<a>";
    for (int i = 0; i < kXmlMaxDepth + 1; i++) deep += "</a>";
    CPPUNIT_ASSERT(!metadata_set_element({}, deep, "k", kEx).ok());
    CPPUNIT_ASSERT(!MetadataElement::parse("<a").ok());
  }

  void find_arrow_elements() {
    const std::string arrow = "urn:x-arrow:domain:1";
    std::vector<std::string> md =
        parsed_metadata("<ex:console xmlns:ex='" + std::string(kEx) + "' mode='x'/><arrow:anotify xmlns:arrow='" +
                        arrow + "' heartbeat='5'/><arrow:console xmlns:arrow='" + arrow + "' mode='pipe'/>");
    std::optional<MetadataElement> console = metadata_find(md, arrow, "console");
    CPPUNIT_ASSERT(console && console->is(arrow, "console"));
    CPPUNIT_ASSERT_EQUAL(std::string("pipe"), console->attr("mode").value());
    CPPUNIT_ASSERT(!console->attr("tty"));
    CPPUNIT_ASSERT_EQUAL(std::string("5"), metadata_find(md, arrow, "anotify")->attr("heartbeat").value());
    CPPUNIT_ASSERT(metadata_find(md, arrow)->is(arrow, "anotify"));  // the first of the namespace
    CPPUNIT_ASSERT(!metadata_find(md, arrow, "status"));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MetadataTest);
