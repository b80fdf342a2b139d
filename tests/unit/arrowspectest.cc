// Unit tests of what `arrow run` builds from its command line
// (virsh-ext/arrow_spec): option values, program lookup as a shell does it,
// and a domain XML that parses, validates against the schema and carries
// awkward values (quotes, <, &, non-ASCII) intact.
#include <cppunit/extensions/HelperMacros.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "domain-xml/arrow_xml.h"
#include "virsh-ext/arrow_spec.h"

using namespace arrow;
using namespace arrow::cli;

class ArrowSpecTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(ArrowSpecTest);
  CPPUNIT_TEST(memory_sizes);
  CPPUNIT_TEST(shares_forwards_env);
  CPPUNIT_TEST(program_lookup);
  CPPUNIT_TEST(xml_round_trips);
  CPPUNIT_TEST(generated_names);
  CPPUNIT_TEST_SUITE_END();

 public:
  void memory_sizes() {
    CPPUNIT_ASSERT_EQUAL(uint64_t{65536}, parse_memory_kib("64M").value());
    CPPUNIT_ASSERT_EQUAL(uint64_t{65536}, parse_memory_kib("64").value());
    CPPUNIT_ASSERT_EQUAL(uint64_t{1048576}, parse_memory_kib("1G").value());
    CPPUNIT_ASSERT_EQUAL(uint64_t{512}, parse_memory_kib("512K").value());
    for (const char* bad : {"", "M", "0", "12X", "-5M", "1.5G"}) {
      Result<uint64_t> r = parse_memory_kib(bad);
      CPPUNIT_ASSERT_MESSAGE(bad, !r.ok());
      CPPUNIT_ASSERT(r.error().message.find("--memory") != std::string::npos);
    }
  }

  void shares_forwards_env() {
    cli::Share s = parse_share("/tmp:/data:ro", "/").value();
    CPPUNIT_ASSERT_EQUAL(std::string("/tmp"), s.host);
    CPPUNIT_ASSERT_EQUAL(std::string("/data"), s.guest);
    CPPUNIT_ASSERT(s.readonly);
    CPPUNIT_ASSERT_EQUAL(std::string("/tmp"), parse_share("tmp:/x", "/").value().host);
    CPPUNIT_ASSERT(!parse_share("/tmp:/x", "/").value().readonly);
    CPPUNIT_ASSERT(!parse_share("/tmp:relative", "/").ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_NO_SOURCE), parse_share("/no/such/dir:/x", "/").error().code);
    Forward f = parse_forward("8080:8000").value();
    CPPUNIT_ASSERT_EQUAL(8080u, f.host_port);
    CPPUNIT_ASSERT_EQUAL(8000u, f.guest_port);
    for (const char* bad : {"8080", "0:80", "80:70000", "a:b", ":80"}) CPPUNIT_ASSERT_MESSAGE(bad, !parse_forward(bad).ok());
    auto e = parse_env("A=b=c").value();
    CPPUNIT_ASSERT(e && e->first == "A" && e->second == "b=c");
    setenv("ARROW_SPEC_TEST", "from host", 1);
    CPPUNIT_ASSERT_EQUAL(std::string("from host"), parse_env("ARROW_SPEC_TEST").value()->second);
    unsetenv("ARROW_SPEC_UNSET");
    CPPUNIT_ASSERT(!parse_env("ARROW_SPEC_UNSET").value());
    CPPUNIT_ASSERT(!parse_env("=x").ok());
  }

  void program_lookup() {
    CPPUNIT_ASSERT_EQUAL(std::string("/bin/sh"), resolve_program("sh", "/nonexistent:/bin", "/").value());
    CPPUNIT_ASSERT_EQUAL(std::string("/bin/sh"), resolve_program("/bin/sh", "", "/").value());
    CPPUNIT_ASSERT_EQUAL(std::string("/bin/sh"), resolve_program("./sh", "", "/bin").value());
    CPPUNIT_ASSERT_EQUAL(std::string("/bin/sh"), resolve_program("bin/sh", "", "/").value());
    Result<std::string> missing = resolve_program("arrow-no-such-program", "/bin:/usr/bin", "/");
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_NO_SOURCE), missing.error().code);
    CPPUNIT_ASSERT(missing.error().message.find("not found on the host") != std::string::npos);
    // A file that is not executable (a shell would say "Permission denied").
    char plain[] = "/tmp/arrow-spectest-XXXXXX";
    close(mkstemp(plain));  // mode 0600: not executable
    Result<std::string> denied = resolve_program(plain, "", "/");
    unlink(plain);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_ACCESS_DENIED), denied.error().code);
    CPPUNIT_ASSERT(visible_in_guest("/usr/bin/python3"));
    CPPUNIT_ASSERT(visible_in_guest("/bin/sh"));
    CPPUNIT_ASSERT(!visible_in_guest("/home/u/app"));
  }

  void xml_round_trips() {
    RunSpec spec;
    spec.name = "web-1";
    spec.memory_kib = 131072;
    spec.cpus = 2;
    spec.program = "/usr/bin/printf";
    spec.args = {"a b", "'q' \"d\" <x> & é", ""};
    spec.env = {{"K", "v<&>'\""}};
    spec.workdir = "/tmp";
    spec.user = "nobody";
    spec.shares = {{"/tmp", "/data", true}};
    spec.forwards = {{8080, 8000}};
    spec.pipe_console = true;
    const std::string xml = build_domain_xml(spec);
    Status valid = validate_with_schema(xml, domain_schema_path());
    CPPUNIT_ASSERT_MESSAGE(valid.ok() ? "" : valid.error().message, valid.ok());
    ArrowDef def = parse_domain_xml(xml).value();
    CPPUNIT_ASSERT_EQUAL(std::string("web-1"), def.name);
    CPPUNIT_ASSERT_EQUAL(uint64_t{131072}, def.memory_kib);
    CPPUNIT_ASSERT_EQUAL(2u, def.vcpus);
    CPPUNIT_ASSERT_EQUAL(std::string("/usr/bin/printf"), def.init);
    CPPUNIT_ASSERT(def.initargs == spec.args);
    CPPUNIT_ASSERT_EQUAL(size_t{1}, def.metadata.size());
    CPPUNIT_ASSERT(def.metadata[0].find("mode=\"pipe\"") != std::string::npos ||
                   def.metadata[0].find("mode='pipe'") != std::string::npos);
  }

  void generated_names() {
    const std::string n = generated_name("/usr/bin/python3");
    CPPUNIT_ASSERT_EQUAL(std::string("python3-"), n.substr(0, 8));
    CPPUNIT_ASSERT_EQUAL(size_t{14}, n.size());
    CPPUNIT_ASSERT_EQUAL(std::string("hidden-"), generated_name("/x/.hidden").substr(0, 7));
    CPPUNIT_ASSERT_EQUAL(std::string("arrow-"), generated_name("/x/-x").substr(0, 6));
    // Whatever the program is called, the name is one the daemon accepts.
    for (const char* program : {"/x/.hidden", "/x/-x", "/x/a.tmp-b", "/x/web.xml", "/x/..", "/x/a,b", "/x/\xc3\xa9t\xc3\xa9"})
      CPPUNIT_ASSERT_MESSAGE(program, check_arrow_name(generated_name(program)).ok());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ArrowSpecTest);
