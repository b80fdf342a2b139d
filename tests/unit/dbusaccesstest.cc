// Who may call the D-Bus methods that change an Arrow (dbus_caller_allowed):
// the read-write socket's policy, decided from its owner, group and mode as
// the kernel decides a connect(), with root and the daemon's user always in.
// The same decision against a live bus and real users is
// tests/integration/driver/dbus_access.py.
#include <cppunit/extensions/HelperMacros.h>
#include <sys/stat.h>

#include "driver/dbus/arrow_dbus.h"

using namespace arrow;

namespace {

constexpr uid_t kDaemon = 0;
constexpr uid_t kUser = 1000;
constexpr gid_t kRwGroup = 500;

struct stat socket_stat(uid_t owner, gid_t group, mode_t mode) {
  struct stat st {};
  st.st_uid = owner;
  st.st_gid = group;
  st.st_mode = S_IFSOCK | mode;
  return st;
}

}  // namespace

class DbusAccessTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(DbusAccessTest);
  CPPUNIT_TEST(root_and_daemon_user);
  CPPUNIT_TEST(group_of_the_socket);
  CPPUNIT_TEST(owner_and_others);
  CPPUNIT_TEST_SUITE_END();

 public:
  void root_and_daemon_user() {
    struct stat closed = socket_stat(0, 0, 0600);
    CPPUNIT_ASSERT(dbus_caller_allowed(0, {}, kDaemon, &closed));
    CPPUNIT_ASSERT(!dbus_caller_allowed(kUser, {kUser}, kDaemon, &closed));
    // A session daemon: its own user, even with no socket to look at.
    CPPUNIT_ASSERT(dbus_caller_allowed(kUser, {kUser}, kUser, nullptr));
    CPPUNIT_ASSERT(dbus_caller_allowed(0, {}, kUser, nullptr));
    CPPUNIT_ASSERT(!dbus_caller_allowed(kUser + 1, {kRwGroup}, kUser, nullptr));
  }

  void group_of_the_socket() {
    // unix_sock_group = "libvirt" with unix_sock_rw_perms = "0660": members in.
    struct stat group_rw = socket_stat(0, kRwGroup, 0660);
    CPPUNIT_ASSERT(dbus_caller_allowed(kUser, {kUser, kRwGroup}, kDaemon, &group_rw));
    CPPUNIT_ASSERT(!dbus_caller_allowed(kUser, {kUser}, kDaemon, &group_rw));
    // The group without write permission: nobody but root.
    for (mode_t mode : {0600, 0640, 0604}) {
      struct stat group_ro = socket_stat(0, kRwGroup, mode);
      CPPUNIT_ASSERT(!dbus_caller_allowed(kUser, {kUser, kRwGroup}, kDaemon, &group_ro));
    }
    // The kernel's order: a member of the group gets the group's bits, not the others'.
    struct stat others_only = socket_stat(0, kRwGroup, 0602);
    CPPUNIT_ASSERT(!dbus_caller_allowed(kUser, {kRwGroup}, kDaemon, &others_only));
    CPPUNIT_ASSERT(dbus_caller_allowed(kUser, {kUser}, kDaemon, &others_only));
  }

  void owner_and_others() {
    struct stat owned = socket_stat(kUser, kRwGroup, 0600);
    CPPUNIT_ASSERT(dbus_caller_allowed(kUser, {}, kDaemon, &owned));
    struct stat owner_ro = socket_stat(kUser, kRwGroup, 0466);
    CPPUNIT_ASSERT(!dbus_caller_allowed(kUser, {kRwGroup}, kDaemon, &owner_ro));
    struct stat everyone = socket_stat(0, 0, 0666);
    CPPUNIT_ASSERT(dbus_caller_allowed(kUser + 7, {}, kDaemon, &everyone));
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DbusAccessTest);
