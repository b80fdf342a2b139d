// Unit tests of an Arrow's confinement: the cgroup v2 parent and leaves
// (driver/engine/cgroup) on a fake cgroup root (a temporary directory holding
// the control files), the choice of QEMU's account and the child's steps
// before exec (driver/engine/confine), and virtarrowd.conf's driver keys.
#include <cppunit/extensions/HelperMacros.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "driver/engine/cgroup.h"
#include "driver/engine/confine.h"
#include "driver/daemon/daemon_conf.h"
#include "tests/unit/testutil.h"

using namespace arrow;
using arrow::test::exists;

namespace {

// A fake cgroup v2 root: cgroup.controllers and cgroup.subtree_control.
struct FakeRoot : test::TempDir {
  explicit FakeRoot(const std::string& controllers) : test::TempDir("cgrouptest") {
    test::write_file(path + "/cgroup.controllers", controllers + "\n");
    test::write_file(path + "/cgroup.subtree_control", "");
  }
};

// Runs FN in a forked child; returns its wait status.
template <typename Fn>
int in_child(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

class CgroupTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(CgroupTest);
  CPPUNIT_TEST(limits);
  CPPUNIT_TEST(parent);
  CPPUNIT_TEST(parent_refused);
  CPPUNIT_TEST(leaf);
  CPPUNIT_TEST(qemu_user_choice);
  CPPUNIT_TEST(share_access);
  CPPUNIT_TEST(child_drop);
  CPPUNIT_TEST(daemon_conf_keys);
  CPPUNIT_TEST_SUITE_END();

 public:
  void limits() {
    ArrowDef def;
    def.memory_kib = 64 * 1024;
    def.vcpus = 2;
    CgroupLimits l = cgroup_limits(def);
    CPPUNIT_ASSERT_EQUAL(uint64_t(64) * 1024 * 1024 + kQemuMemoryOverheadBytes, l.memory_max_bytes);
    CPPUNIT_ASSERT_EQUAL(uint64_t(200000), l.cpu_quota_us);
    CPPUNIT_ASSERT_EQUAL(uint64_t(100000), l.cpu_period_us);
  }

  void parent() {
    FakeRoot root("cpuset cpu io memory hugetlb pids");
    Result<std::string> parent = prepare_cgroup_parent(root.path);
    CPPUNIT_ASSERT_MESSAGE(parent.ok() ? "" : parent.error().message, parent.ok());
    CPPUNIT_ASSERT_EQUAL(root.path + "/arrow", parent.value());
    CPPUNIT_ASSERT_EQUAL(std::string("+memory +cpu"), test::read_file(root.path + "/cgroup.subtree_control"));
    CPPUNIT_ASSERT_EQUAL(std::string("+memory +cpu"), test::read_file(parent.value() + "/cgroup.subtree_control"));
    // Already enabled (as the kernel lists them): nothing is written again.
    test::write_file(parent.value() + "/cgroup.subtree_control", "cpu memory\n");
    CPPUNIT_ASSERT(prepare_cgroup_parent(root.path).ok());
    CPPUNIT_ASSERT_EQUAL(std::string("cpu memory\n"), test::read_file(parent.value() + "/cgroup.subtree_control"));
  }

  void parent_refused() {
    // This development host's case: cgroup v2 offers hugetlb only.
    FakeRoot v1("hugetlb");
    Result<std::string> parent = prepare_cgroup_parent(v1.path);
    CPPUNIT_ASSERT(!parent.ok());
    CPPUNIT_ASSERT(parent.error().message.find("'memory'") != std::string::npos);
    CPPUNIT_ASSERT(!exists(v1.path + "/arrow"));
    Result<std::string> none = prepare_cgroup_parent(v1.path + "/no-such-dir");
    CPPUNIT_ASSERT(!none.ok());
  }

  void leaf() {
    FakeRoot root("cpu memory");
    const std::string parent = prepare_cgroup_parent(root.path).value();
    ArrowDef def;
    def.memory_kib = 128 * 1024;
    def.vcpus = 1;
    {
      Result<std::unique_ptr<CgroupLeaf>> leaf = CgroupLeaf::create(parent, "web", cgroup_limits(def));
      CPPUNIT_ASSERT_MESSAGE(leaf.ok() ? "" : leaf.error().message, leaf.ok());
      const std::string dir = leaf.value()->dir();
      CPPUNIT_ASSERT_EQUAL(parent + "/arrow-web", dir);
      CPPUNIT_ASSERT_EQUAL(std::to_string(128ull * 1024 * 1024 + kQemuMemoryOverheadBytes) + "\n",
                           test::read_file(dir + "/memory.max"));
      CPPUNIT_ASSERT_EQUAL(std::string("100000 100000\n"), test::read_file(dir + "/cpu.max"));
      // The child joins through the inherited fd before exec: it writes "0".
      ChildConfinement join = ChildConfinement::prepare(std::nullopt, leaf.value()->procs_fd(), {});
      int status = in_child([&] { join.apply_in_child(); });
      CPPUNIT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      CPPUNIT_ASSERT_EQUAL(std::string("0"), test::read_file(dir + "/cgroup.procs"));
      CPPUNIT_ASSERT(leaf.value()->add_pid(1234).ok());
      CPPUNIT_ASSERT_EQUAL(std::string("1234\n"), test::read_file(dir + "/cgroup.procs"));
      // The adopting daemon finds it; an unknown Arrow has none.
      CPPUNIT_ASSERT(CgroupLeaf::existing(parent, "web") != nullptr);
      CPPUNIT_ASSERT(CgroupLeaf::existing(parent, "other") == nullptr);
      // cgroupfs drops the control files with the directory; the fake cannot.
      for (const char* f : {"memory.max", "cpu.max", "cgroup.procs"}) ::unlink((dir + "/" + f).c_str());
    }
    CPPUNIT_ASSERT(!exists(parent + "/arrow-web"));
    // A stale empty leaf is replaced; a released one stays.
    CPPUNIT_ASSERT(::mkdir((parent + "/arrow-db").c_str(), 0755) == 0);
    Result<std::unique_ptr<CgroupLeaf>> db = CgroupLeaf::create(parent, "db", cgroup_limits(def));
    CPPUNIT_ASSERT(db.ok());
    db.value()->release();
    db.value().reset();
    CPPUNIT_ASSERT(exists(parent + "/arrow-db/memory.max"));
  }

  void qemu_user_choice() {
    Result<QemuUserChoice> nobody = choose_qemu_user(std::string("nobody"), 0);
    CPPUNIT_ASSERT(nobody.ok() && nobody->user && nobody->warning.empty());
    CPPUNIT_ASSERT_EQUAL(std::string("nobody"), nobody->user->name);
    CPPUNIT_ASSERT(nobody->user->uid != 0 && !nobody->user->groups.empty());
    CPPUNIT_ASSERT_EQUAL(nobody->user->uid, choose_qemu_user(std::to_string(nobody->user->uid), 0)->user->uid);
    // Root stays root, and says so.
    Result<QemuUserChoice> root = choose_qemu_user(std::string("root"), 0);
    CPPUNIT_ASSERT(root.ok() && !root->user && !root->warning.empty());
    // The default account when it exists, else a warning.
    Result<QemuUserChoice> fallback = choose_qemu_user(std::nullopt, 0);
    CPPUNIT_ASSERT(fallback.ok());
    CPPUNIT_ASSERT(fallback->user ? fallback->user->name == kDefaultQemuUser
                                  : fallback->warning.find(kDefaultQemuUser) != std::string::npos);
    // A --root instance has no default account: as root it runs QEMU as root
    // and says so, but still switches to a configured user.
    Result<QemuUserChoice> private_root = choose_qemu_user(std::nullopt, 0, false);
    CPPUNIT_ASSERT(private_root.ok() && !private_root->user);
    CPPUNIT_ASSERT(private_root->warning.find("QEMU runs as root") != std::string::npos);
    Result<QemuUserChoice> private_session = choose_qemu_user(std::nullopt, 1000, false);
    CPPUNIT_ASSERT(private_session.ok() && !private_session->user && private_session->warning.empty());
    Result<QemuUserChoice> private_nobody = choose_qemu_user(std::string("nobody"), 0, false);
    CPPUNIT_ASSERT(private_nobody.ok() && private_nobody->user && private_nobody->user->name == "nobody");
    // An unprivileged daemon cannot switch: a warning only when asked to.
    Result<QemuUserChoice> session = choose_qemu_user(std::string("nobody"), 1000);
    CPPUNIT_ASSERT(session.ok() && !session->user && !session->warning.empty());
    Result<QemuUserChoice> plain = choose_qemu_user(std::nullopt, 1000);
    CPPUNIT_ASSERT(plain.ok() && !plain->user && plain->warning.empty());
    Result<QemuUserChoice> unknown = choose_qemu_user(std::string("no-such-user-x"), 0);
    CPPUNIT_ASSERT(!unknown.ok());
    CPPUNIT_ASSERT_EQUAL(std::string("virtarrowd.conf: 'user': no user 'no-such-user-x' on this host"),
                         unknown.error().message);
  }

  void share_access() {
    ArrowDef def;
    def.shares.push_back(Share{"/srv/ro", "/a", true});
    def.shares.push_back(Share{"/srv/rw", "/b", false});
    Share shadow{"/srv/lower", "/c", false};
    shadow.upper_dir = "/srv/upper";
    def.shares.push_back(shadow);
    std::vector<ShareAccess> list = share_access_list(def);
    CPPUNIT_ASSERT_EQUAL(size_t(4), list.size());
    CPPUNIT_ASSERT(list[0].path == "/srv/ro" && !list[0].write);
    CPPUNIT_ASSERT(list[1].path == "/srv/rw" && list[1].write);
    CPPUNIT_ASSERT(list[2].path == "/srv/lower" && !list[2].write);
    CPPUNIT_ASSERT(list[3].path == "/srv/upper" && list[3].write);
  }

  void child_drop() {
    if (geteuid() != 0) return;  // only root can switch users
    QemuUser nobody = resolve_qemu_user("nobody").value();
    char tmpl[] = "/tmp/cgrouptest-share-XXXXXX";
    const std::string share = mkdtemp(tmpl);  // 0700 root: nobody can't write
    ChildConfinement ok = ChildConfinement::prepare(nobody, -1, {{"/usr", false}});
    int status = in_child([&] {
      ok.apply_in_child();
      // Dropped for good: all ids, no supplementary root group, no way back.
      uid_t r, e, s;
      gid_t rg, eg, sg;
      getresuid(&r, &e, &s);
      getresgid(&rg, &eg, &sg);
      gid_t groups[64];
      int n = getgroups(64, groups);
      bool root_group = false;
      for (int i = 0; i < n; i++) root_group |= groups[i] == 0;
      if (r != nobody.uid || e != nobody.uid || s != nobody.uid || eg != nobody.gid || sg != nobody.gid ||
          root_group || setuid(0) == 0)
        _exit(3);
    });
    CPPUNIT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ChildConfinement refused = ChildConfinement::prepare(nobody, -1, {{share, true}});
    status = in_child([&] { refused.apply_in_child(); });
    CPPUNIT_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 126);
    ::rmdir(share.c_str());
  }

  void daemon_conf_keys() {
    auto conf = daemon::parse_daemon_conf("user = \"nobody\"\nboot_timeout = 42  # seconds\n", "c.conf");
    CPPUNIT_ASSERT(conf.ok() && conf->ignored.empty());
    CPPUNIT_ASSERT(conf->user && *conf->user == "nobody");
    CPPUNIT_ASSERT(conf->boot_timeout_s && *conf->boot_timeout_s == 42);
    auto empty = daemon::parse_daemon_conf("", "c.conf");
    CPPUNIT_ASSERT(empty.ok() && !empty->user && !empty->boot_timeout_s);
    test::check_refusals(
        {
        {"user = nobody\n", "c.conf:1: 'user' must be a user name or number in quotes"},
        {"user = \"\"\n", "c.conf:1: 'user' must be a user name or number in quotes"},
        {"boot_timeout = \"5\"\n", "c.conf:1: 'boot_timeout' must be a number of seconds from 1 to 86400"},
        {"\nboot_timeout = 0\n", "c.conf:2: 'boot_timeout' must be a number of seconds from 1 to 86400"},
        {"boot_timeout = -1\n", "c.conf:1: 'boot_timeout' must be a number of seconds from 1 to 86400"},
        {"boot_timeout = 5s\n", "c.conf:1: 'boot_timeout' must be a number of seconds from 1 to 86400"},
        },
        [](const char* text) { return daemon::parse_daemon_conf(text, "c.conf"); });
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CgroupTest);
