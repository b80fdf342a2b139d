// Golden tests of the QEMU command line: tests/data/xml2argv/NAME.xml gives
// NAME.args (one option per line) or, when it cannot run, NAME.err. The
// context is fixed (paths under /var/lib/arrow, users from a fake table), so
// goldens do not depend on the host; NAME containing "-kvm" selects KVM.
// Also the kernel command-line encoding of kernel/CMDLINE.md.
#include <cppunit/extensions/HelperMacros.h>

#include "domain-xml/arrow_xml.h"
#include "driver/engine/qemu_command.h"
#include "tests/unit/testutil.h"

namespace arrow {

namespace {

CommandContext fixed_context(const ArrowDef& def, const std::string& name) {
  CommandContext ctx;
  ctx.emulator = "/usr/bin/qemu-system-x86_64";
  ctx.kernel = "/var/lib/arrow/bzImage";
  ctx.initramfs = "/var/lib/arrow/initramfs.cpio";
  ctx.log_path = "/var/log/arrow/" + def.name + ".log";
  ctx.kvm = name.find("-kvm") != std::string::npos;
  // A fake passwd/group, so the goldens are the same on every host.
  if (def.inituser == "nobody") ctx.user = InitUser{"nobody", 65534, 65534, "/nonexistent"};
  else if (!def.inituser.empty()) ctx.user = InitUser{def.inituser, 1000, 1000, "/home/user"};
  if (def.initgroup == "nogroup") ctx.group = InitGroup{"nogroup", 65534};
  return ctx;
}

// NAME.args text, or the error message (for NAME.err).
Result<std::string> render(const std::string& xml, const std::string& name) {
  ArrowDef def = TRY(parse_domain_xml(xml));
  std::vector<std::string> argv = TRY(build_qemu_argv(def, fixed_context(def, name)));
  return format_argv_lines(argv);
}

}  // namespace

class Xml2ArgvTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(Xml2ArgvTest);
  CPPUNIT_TEST(test_goldens);
  CPPUNIT_TEST(test_escape);
  CPPUNIT_TEST(test_cmdline_limit);
  CPPUNIT_TEST(test_argv_is_exec_ready);
  CPPUNIT_TEST_SUITE_END();

 public:
  void test_goldens() {
    test::check_goldens("xml2argv", ".xml", 6, [](const std::string& dir, const std::string& name) {
      Result<std::string> out = render(test::read_file(dir + "/" + name + ".xml"), name);
      const std::string golden = name + (out.ok() ? ".args" : ".err");
      const std::string diff = test::compare_golden(dir + "/" + golden, out.ok() ? out.value() : out.error().message + "\n");
      CPPUNIT_ASSERT_MESSAGE(name + ".xml: " + diff, diff.empty());
      return std::vector<std::string>{golden};
    });
  }

  void test_escape() {
    CPPUNIT_ASSERT_EQUAL(std::string("a%20b"), cmdline_escape("a b"));
    CPPUNIT_ASSERT_EQUAL(std::string("%C3%A9%22"), cmdline_escape("é\""));
    CPPUNIT_ASSERT_EQUAL(std::string("AZaz09-_.~/:@+"), cmdline_escape("AZaz09-_.~/:@+"));
    CPPUNIT_ASSERT_EQUAL(std::string("%3D%2C%25%27%09%0A"), cmdline_escape("=,%'\t\n"));
    CPPUNIT_ASSERT_EQUAL(std::string(""), cmdline_escape(""));
  }

  // The limit counts the terminating NUL: 2047 bytes fit, 2048 do not.
  void test_cmdline_limit() {
    ArrowDef def;
    def.name = "n";
    def.init = "/i";
    CommandContext ctx;
    const size_t base = build_kernel_cmdline(def, ctx).value().size() + std::string(" arrow.arg=").size();
    def.initargs = {std::string(kKernelCmdlineMax - 1 - base, 'x')};
    Result<std::string> fits = build_kernel_cmdline(def, ctx);
    CPPUNIT_ASSERT(fits.ok());
    CPPUNIT_ASSERT_EQUAL(kKernelCmdlineMax - 1, fits.value().size());
    def.initargs[0] += "x";
    Result<std::string> over = build_kernel_cmdline(def, ctx);
    CPPUNIT_ASSERT(!over.ok());
    CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_ERR_CONFIG_UNSUPPORTED), over.error().code);
    CPPUNIT_ASSERT(over.error().message.find("2048") != std::string::npos);
  }

  // The -append value is one argv element: no shell quoting is involved.
  void test_argv_is_exec_ready() {
    ArrowDef def;
    def.name = "q";
    def.init = "/bin/echo";
    def.initargs = {"a b", "\"'"};
    const std::vector<std::string> argv = build_qemu_argv(def, CommandContext{}).value();
    auto it = std::find(argv.begin(), argv.end(), "-append");
    CPPUNIT_ASSERT(it != argv.end() && it + 1 != argv.end());
    CPPUNIT_ASSERT((it + 1)->find("arrow.arg=a%20b arrow.arg=%22%27") != std::string::npos);
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(Xml2ArgvTest);

}  // namespace arrow
