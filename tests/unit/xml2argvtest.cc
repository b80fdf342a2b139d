// Golden tests of the QEMU command line: tests/data/xml2argv/NAME.xml gives
// NAME.args (one option per line) or, when it cannot run, NAME.err. The
// context is fixed (paths under /var/lib/arrow, users from a fake table), so
// goldens do not depend on the host; NAME containing "-kvm" selects KVM.
// Also the kernel command-line encoding of kernel/CMDLINE.md.
#include <cppunit/extensions/HelperMacros.h>

#include "domain-xml/arrow_xml.h"
#include "anotify/anotify_decoder.h"
#include "driver/engine/qemu_command.h"
#include "tests/unit/testutil.h"
#include "util/i18n.h"

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
  CPPUNIT_TEST(test_private_instructions);
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

  // <initenv> never reaches the command line (every local user reads it in
  // ps): only its count does, the variables go as Anotify frames (the
  // answer to ainit's INSTRUCTIONS_WANTED; INSTRUCTIONS_END alone without). One
  // variable of 1024 bytes as NAME=VALUE fits, 1025 is refused naming the
  // variable and the limit (never the value); so is a whole environment
  // over 64 KiB.
  void test_private_instructions() {
    ArrowDef def;
    def.name = "env";
    def.init = "/usr/bin/env";
    CPPUNIT_ASSERT(build_private_instructions(def).value() == anotify_encode_frame(ANOTIFY_INSTRUCTIONS_END, {}));
    CPPUNIT_ASSERT(build_kernel_cmdline(def, CommandContext{}).value().find("arrow.nenv") == std::string::npos);
    const std::string secret = "s3cret-" + std::string(kInitEnvVarMax - 17, 'v');  // "API_TOKEN=" + 1014 bytes
    def.initenv = {EnvVar{"API_TOKEN", secret}, EnvVar{"MODE", "prod"}};
    const std::vector<std::string> argv = build_qemu_argv(def, CommandContext{}).value();
    std::string joined;
    for (const std::string& a : argv) joined += a + "\n";
    CPPUNIT_ASSERT(joined.find("s3cret") == std::string::npos && joined.find("prod") == std::string::npos);
    CPPUNIT_ASSERT(joined.find(" arrow.nenv=2 ") != std::string::npos);
    const std::vector<uint8_t> frames = build_private_instructions(def).value();
    CPPUNIT_ASSERT(frames == anotify_encode_instructions(std::vector<std::string>{"API_TOKEN=" + secret, "MODE=prod"}));

    def.initenv[0].value += "v";  // 1025 bytes
    for (const Status& st : {Status(build_private_instructions(def).error()), check_init_environment(def),
                             Status(build_qemu_argv(def, CommandContext{}).error())}) {
      CPPUNIT_ASSERT(!st.ok());
      CPPUNIT_ASSERT_EQUAL(static_cast<int>(VIR_ERR_CONFIG_UNSUPPORTED), st.error().code);
      CPPUNIT_ASSERT_EQUAL(std::string("<initenv name='API_TOKEN'>: the variable takes 1025 bytes as NAME=VALUE, over "
                                       "the limit of 1024 bytes for one environment variable of an Arrow"),
                           st.error().message);
    }

    def.initenv.clear();
    for (int i = 0; i < 65; i++) def.initenv.push_back(EnvVar{fmt("V%02d", i), std::string(1020, 'x')});
    Status total = check_init_environment(def);  // 65 x 1024 bytes
    CPPUNIT_ASSERT(!total.ok());
    CPPUNIT_ASSERT(total.error().message.find("65 variables take 66560 bytes") != std::string::npos);
    CPPUNIT_ASSERT(total.error().message.find("65536") != std::string::npos);
    def.initenv.pop_back();
    CPPUNIT_ASSERT(check_init_environment(def).ok());  // 64 x 1024: exactly the limit
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(Xml2ArgvTest);

}  // namespace arrow
