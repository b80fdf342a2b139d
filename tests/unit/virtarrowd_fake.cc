// virtarrowd-fake: the daemon of driver/daemon over the in-memory FakeDriver,
// for the RPC integration tests only (never installed; no D-Bus).
#include "driver/daemon/daemon.h"
#include "tests/unit/fake_driver.h"

int main(int argc, char** argv) {
  using arrow::DriverApi;
  auto make = [](const arrow::daemon::DaemonPaths&, const arrow::daemon::DaemonConf&)
      -> arrow::Result<std::unique_ptr<DriverApi>> { return std::unique_ptr<DriverApi>(std::make_unique<arrow::test::FakeDriver>()); };
  return arrow::daemon::run_daemon(argc, argv, make, arrow::daemon::DaemonFeatures{.dbus = false});
}
