// virtarrowd: the Arrow libvirt driver daemon, serving the real Arrow driver.
#include "driver/daemon_paths.h"
#include "driver/rpc/daemon.h"

int main(int argc, char** argv) { return arrow::rpc::run_daemon(argc, argv, arrow::make_arrow_driver); }
