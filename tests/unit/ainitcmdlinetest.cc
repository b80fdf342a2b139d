// Tests ainit's decoder of the arrow.* kernel command-line tokens
// (kernel/CMDLINE.md): defaults, every key, escapes, and the errors that name
// the key at fault; and of the environment that comes over Anotify (SETENV).
#include "kernel/ainit.h"

#include <cppunit/extensions/HelperMacros.h>

#include <string>
#include <vector>

namespace {

// Owns a decoded config; ok() tells whether decoding succeeded.
struct Decoded {
  ainit_config cfg{};
  std::string err;
  bool ok = false;
  explicit Decoded(const std::string& cmdline) {
    char buf[512] = "";
    ok = ainit_parse_cmdline(cmdline.c_str(), &cfg, buf, sizeof buf) == 0;
    err = buf;
  }
  ~Decoded() { ainit_config_free(&cfg); }
  std::vector<std::string> args() const { return {cfg.args, cfg.args + cfg.nargs}; }
  std::vector<std::string> env() const { return {cfg.env, cfg.env + cfg.nenv}; }
};

}  // namespace

class AinitCmdlineTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(AinitCmdlineTest);
  CPPUNIT_TEST(defaults);
  CPPUNIT_TEST(spec_example);
  CPPUNIT_TEST(every_key);
  CPPUNIT_TEST(ignores_other_tokens);
  CPPUNIT_TEST(wait_needs_no_init);
  CPPUNIT_TEST(errors_name_the_key);
  CPPUNIT_TEST(unescape);
  CPPUNIT_TEST(env_over_anotify);
  CPPUNIT_TEST_SUITE_END();

 public:
  void defaults() {
    Decoded d("console=ttyS0 arrow.v=1 arrow.init=/bin/true");
    CPPUNIT_ASSERT_MESSAGE(d.err, d.ok);
    CPPUNIT_ASSERT_EQUAL(std::string("/bin/true"), std::string(d.cfg.init));
    CPPUNIT_ASSERT_EQUAL(std::string("/"), std::string(d.cfg.dir));
    CPPUNIT_ASSERT_EQUAL(std::string("root"), std::string(d.cfg.user));
    CPPUNIT_ASSERT_EQUAL(std::string("/root"), std::string(d.cfg.home));
    CPPUNIT_ASSERT_EQUAL(0u, d.cfg.uid);
    CPPUNIT_ASSERT_EQUAL(0u, d.cfg.gid);
    CPPUNIT_ASSERT(!d.cfg.group && !d.cfg.host && !d.cfg.has_net);
    CPPUNIT_ASSERT_EQUAL(10u, d.cfg.hb);
    CPPUNIT_ASSERT_EQUAL(size_t(0), d.cfg.nargs + d.cfg.nenv + d.cfg.nshares);
  }

  void spec_example() {
    Decoded d("arrow.v=1 arrow.init=/bin/echo arrow.arg=a%20b arrow.arg=%C3%A9%22 arrow.arg=");
    CPPUNIT_ASSERT_MESSAGE(d.err, d.ok);
    CPPUNIT_ASSERT((d.args() == std::vector<std::string>{"a b", "\xc3\xa9\"", ""}));
  }

  void every_key() {
    Decoded d(
        "arrow.v=1 arrow.init=/usr/bin/python3 arrow.arg=-m arrow.nenv=2 "
        "arrow.dir=/srv arrow.user=nobody,65534,65534,/nonexistent "
        "arrow.group=web%20team,1000 arrow.share=share0,/usr,ro arrow.share=s%2C1,/srv/a%20b,rw "
        "arrow.net=10.0.2.15/24,10.0.2.2, arrow.host=web arrow.hb=0 arrow.time=1700000000123");
    CPPUNIT_ASSERT_MESSAGE(d.err, d.ok);
    CPPUNIT_ASSERT((d.args() == std::vector<std::string>{"-m"}));
    CPPUNIT_ASSERT_EQUAL(2u, d.cfg.nenv_expected);
    CPPUNIT_ASSERT_EQUAL(size_t(0), d.cfg.nenv);  // the variables themselves come over Anotify
    CPPUNIT_ASSERT_EQUAL(std::string("/srv"), std::string(d.cfg.dir));
    CPPUNIT_ASSERT_EQUAL(std::string("nobody"), std::string(d.cfg.user));
    CPPUNIT_ASSERT_EQUAL(65534u, d.cfg.uid);
    CPPUNIT_ASSERT_EQUAL(1000u, d.cfg.gid);  // arrow.group overrides the user's GID
    CPPUNIT_ASSERT_EQUAL(std::string("web team"), std::string(d.cfg.group));
    CPPUNIT_ASSERT_EQUAL(size_t(2), d.cfg.nshares);
    CPPUNIT_ASSERT_EQUAL(std::string("s,1"), std::string(d.cfg.shares[1].tag));
    CPPUNIT_ASSERT_EQUAL(std::string("/srv/a b"), std::string(d.cfg.shares[1].path));
    CPPUNIT_ASSERT(d.cfg.shares[0].readonly && !d.cfg.shares[1].readonly);
    CPPUNIT_ASSERT(d.cfg.has_net);
    CPPUNIT_ASSERT_EQUAL(std::string("10.0.2.15"), std::string(d.cfg.addr));
    CPPUNIT_ASSERT_EQUAL(24u, d.cfg.prefix);
    CPPUNIT_ASSERT_EQUAL(std::string("10.0.2.2"), std::string(d.cfg.gateway));
    CPPUNIT_ASSERT_EQUAL(std::string(""), std::string(d.cfg.dns));
    CPPUNIT_ASSERT_EQUAL(std::string("web"), std::string(d.cfg.host));
    CPPUNIT_ASSERT_EQUAL(0u, d.cfg.hb);
    CPPUNIT_ASSERT_EQUAL(uint64_t(1700000000123), d.cfg.time_ms);
  }

  void ignores_other_tokens() {
    Decoded d(
        "foo=\"a arrow.init=/evil b\" virtio_mmio.device=4K@0xfeb00e00:12 arrow.future=x%ZZ "
        "arrow.init=/bin/true arrow.noequals arrow.env=RETIRED=1\n");
    CPPUNIT_ASSERT_MESSAGE(d.err, d.ok);
    CPPUNIT_ASSERT_EQUAL(std::string("/bin/true"), std::string(d.cfg.init));
    // arrow.env (the environment on the command line) is retired: never read.
    CPPUNIT_ASSERT_EQUAL(size_t(0), d.cfg.nenv);
  }

  // arrow.wait=1: a template's command line; everything else comes later.
  void wait_needs_no_init() {
    Decoded d("console=ttyS0 quiet arrow.v=1 arrow.wait=1");
    CPPUNIT_ASSERT_MESSAGE(d.err, d.ok);
    CPPUNIT_ASSERT_EQUAL(1, d.cfg.wait);
    CPPUNIT_ASSERT(d.cfg.init == nullptr);
    Decoded bad("arrow.v=1 arrow.wait=2");
    CPPUNIT_ASSERT(!bad.ok);
    CPPUNIT_ASSERT(bad.err.find("arrow.wait") != std::string::npos);
    Decoded none("arrow.v=1");
    CPPUNIT_ASSERT(!none.ok);
    CPPUNIT_ASSERT(none.err.find("arrow.init: missing") != std::string::npos);
  }

  void errors_name_the_key() {
    const std::pair<const char*, const char*> cases[] = {
        {"arrow.v=2 arrow.init=/x", "arrow.v: "},
        {"arrow.init=/x arrow.arg=%4", "arrow.arg: malformed percent escape"},
        {"arrow.init=/x arrow.arg=%00", "arrow.arg: malformed percent escape"},
        {"arrow.init=/x arrow.user=a,1,2", "arrow.user: expected NAME,UID,GID,HOME"},
        {"arrow.init=/x arrow.user=a,-1,2,/h", "arrow.user: expected"},
        {"arrow.init=/x arrow.group=g,x", "arrow.group: expected NAME,GID"},
        {"arrow.init=/x arrow.share=t,/m,rx", "arrow.share: expected TAG,MOUNTPOINT,ro|rw"},
        {"arrow.init=/x arrow.share=t,rel,ro", "arrow.share: expected"},
        {"arrow.init=/x arrow.net=10.0.2.15/33,,", "arrow.net: expected"},
        {"arrow.init=/x arrow.hb=ten", "arrow.hb: invalid value"},
        {"arrow.init=/x arrow.time=99999999999999999999", "arrow.time: invalid value"},
        {"arrow.init=/x arrow.dir=srv", "arrow.dir: invalid value"},
        {"arrow.init=/x arrow.nenv=-1", "arrow.nenv: invalid value"},
        {"arrow.init=/x arrow.nenv=65537", "arrow.nenv: invalid value"},
        {"arrow.arg=x", "arrow.init: missing"},
    };
    for (const auto& [cmdline, expected] : cases) {
      Decoded d(cmdline);
      CPPUNIT_ASSERT_MESSAGE(cmdline, !d.ok);
      CPPUNIT_ASSERT_MESSAGE(std::string(cmdline) + " -> " + d.err,
                             d.err.rfind(expected, 0) == 0);
    }
  }

  void unescape() {
    char* s = ainit_unescape("%41%e9x%2f", 10);
    CPPUNIT_ASSERT_EQUAL(std::string("A\xe9x/"), std::string(s));
    free(s);
    CPPUNIT_ASSERT(!ainit_unescape("%", 1));
    CPPUNIT_ASSERT(!ainit_unescape("%4", 2));
    CPPUNIT_ASSERT(!ainit_unescape("%4g", 3));
  }

  // SETENV payloads: kept verbatim (no percent-decoding: any byte but NUL),
  // in order, no more than arrow.nenv announced; a refusal never shows the
  // value, which may be a secret.
  void env_over_anotify() {
    Decoded d("arrow.init=/x arrow.nenv=3");
    CPPUNIT_ASSERT_MESSAGE(d.err, d.ok);
    char err[256] = "";
    auto add = [&](const std::string& var) {
      err[0] = '\0';
      return ainit_add_env(&d.cfg, reinterpret_cast<const unsigned char*>(var.data()), var.size(), err, sizeof err);
    };
    CPPUNIT_ASSERT_EQUAL(0, add("API_TOKEN=s3cret value,%41 \"q\"=x"));
    CPPUNIT_ASSERT_EQUAL(0, add("EMPTY="));
    for (const std::string& bad : std::vector<std::string>{"NOEQUALS", "=value", std::string("A=b\0c", 5)}) {
      CPPUNIT_ASSERT_EQUAL_MESSAGE(bad, -1, add(bad));
      CPPUNIT_ASSERT_MESSAGE(err, std::string(err).rfind("Anotify SETENV: environment variable 3 of 3 is not NAME=VALUE", 0) == 0);
      CPPUNIT_ASSERT_MESSAGE(err, std::string(err).find("value") == std::string::npos);
    }
    CPPUNIT_ASSERT_EQUAL(0, add("PATH=/x"));
    CPPUNIT_ASSERT_EQUAL(-1, add("ONE_MORE=1"));
    CPPUNIT_ASSERT_EQUAL(std::string("Anotify SETENV: more environment variables than arrow.nenv=3"), std::string(err));
    CPPUNIT_ASSERT((d.env() == std::vector<std::string>{"API_TOKEN=s3cret value,%41 \"q\"=x", "EMPTY=", "PATH=/x"}));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AinitCmdlineTest);
