// virtarrowd-fake: the daemon of driver/rpc over the in-memory FakeDriver, for
// the RPC integration tests only (never installed).
#include "driver/rpc/daemon.h"
#include "tests/fake_driver.h"

int main(int argc, char** argv) {
  using arrow::DriverApi;
  return arrow::rpc::run_daemon(argc, argv, [](const arrow::DaemonPaths&, const arrow::rpc::DaemonConf&) -> arrow::Result<std::unique_ptr<DriverApi>> {
    return std::unique_ptr<DriverApi>(std::make_unique<arrow::test::FakeDriver>());
  });
}
