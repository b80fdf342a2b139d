// Unit tests of the host statistics and the /proc readers behind the
// monitoring APIs: /proc/stat and meminfo (driver/arrow/arrow_host_stats) in
// libvirt's fields and units, NUMA cells from a fake sysfs directory, and
// QEMU's threads, affinity, cgroup and TAP counters (driver/engine/qemu_proc)
// from fixture text, so the results do not depend on the machine.
#include <cppunit/extensions/HelperMacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/arrow/arrow_host_stats.h"
#include "driver/engine/qemu_proc.h"
#include "tests/unit/testutil.h"

using namespace arrow;

namespace {

const char* kProcStat =
    "cpu  100 20 30 400 50 6 7 0 0 0\n"
    "cpu0 60 10 20 200 25 3 4 0 0 0\n"
    "cpu1 40 10 10 200 25 3 3 0 0 0\n"
    "intr 12345\n";

const char* kMeminfo =
    "MemTotal:       16384000 kB\n"
    "MemFree:         8192000 kB\n"
    "MemAvailable:   12000000 kB\n"
    "Buffers:          102400 kB\n"
    "Cached:          2048000 kB\n"
    "SwapCached:            0 kB\n";

uint64_t value_of(const std::vector<NodeStat>& stats, const std::string& field) {
  for (const NodeStat& s : stats)
    if (s.field == field) return s.value;
  CPPUNIT_FAIL("no field " + field);
  return 0;
}

}  // namespace

class HostStatsTest : public CppUnit::TestFixture {
  CPPUNIT_TEST_SUITE(HostStatsTest);
  CPPUNIT_TEST(cpu_stats_in_nanoseconds);
  CPPUNIT_TEST(cpu_stats_of_a_missing_cpu_is_invalid_arg);
  CPPUNIT_TEST(meminfo_of_host_and_node);
  CPPUNIT_TEST(cells_from_sysfs_and_without_numa);
  CPPUNIT_TEST(thread_stat_and_names);
  CPPUNIT_TEST(cpu_lists);
  CPPUNIT_TEST(net_dev_and_cgroup);
  CPPUNIT_TEST_SUITE_END();

 public:
  void cpu_stats_in_nanoseconds() {
    std::vector<NodeStat> all = parse_node_cpu_stats(kProcStat, -1, 100).value();
    CPPUNIT_ASSERT_EQUAL(size_t(4), all.size());
    CPPUNIT_ASSERT_EQUAL(uint64_t(120) * 10000000, value_of(all, "user"));    // user + nice
    CPPUNIT_ASSERT_EQUAL(uint64_t(43) * 10000000, value_of(all, "kernel"));   // system + irq + softirq
    CPPUNIT_ASSERT_EQUAL(uint64_t(400) * 10000000, value_of(all, "idle"));
    CPPUNIT_ASSERT_EQUAL(uint64_t(50) * 10000000, value_of(all, "iowait"));
    std::vector<NodeStat> one = parse_node_cpu_stats(kProcStat, 1, 100).value();
    CPPUNIT_ASSERT_EQUAL(uint64_t(50) * 10000000, value_of(one, "user"));
  }

  void cpu_stats_of_a_missing_cpu_is_invalid_arg() {
    Result<std::vector<NodeStat>> r = parse_node_cpu_stats(kProcStat, 7, 100);
    CPPUNIT_ASSERT(!r.ok());
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INVALID_ARG), r.error().code);
    CPPUNIT_ASSERT(r.error().message.find("CPU 7") != std::string::npos);
  }

  void meminfo_of_host_and_node() {
    std::vector<NodeStat> host = parse_meminfo(kMeminfo);
    CPPUNIT_ASSERT_EQUAL(size_t(4), host.size());
    CPPUNIT_ASSERT_EQUAL(uint64_t(16384000), value_of(host, "total"));
    CPPUNIT_ASSERT_EQUAL(uint64_t(8192000), value_of(host, "free"));
    CPPUNIT_ASSERT_EQUAL(uint64_t(102400), value_of(host, "buffers"));
    CPPUNIT_ASSERT_EQUAL(uint64_t(2048000), value_of(host, "cached"));  // not SwapCached
    std::vector<NodeStat> node = parse_meminfo("Node 1 MemTotal:  4096 kB\nNode 1 MemFree:  1024 kB\n");
    CPPUNIT_ASSERT_EQUAL(size_t(2), node.size());
    CPPUNIT_ASSERT_EQUAL(uint64_t(1024), value_of(node, "free"));
  }

  void cells_from_sysfs_and_without_numa() {
    test::TempDir dir("hoststatstest");
    test::write_file(dir.path + "/meminfo", kMeminfo);
    HostMemory where{dir.path + "/meminfo", dir.path + "/node", dir.path + "/stat", dir.path + "/hugepages"};
    // Without NUMA, huge pages are the host's.
    ::mkdir((dir.path + "/hugepages").c_str(), 0700);
    ::mkdir((dir.path + "/hugepages/hugepages-1048576kB").c_str(), 0700);
    test::write_file(dir.path + "/hugepages/hugepages-1048576kB/free_hugepages", "2\n");
    CPPUNIT_ASSERT_EQUAL(uint64_t(2), read_free_pages(where, 0, 1048576, 4).value());
    // No NUMA directory: the whole host is cell 0.
    CPPUNIT_ASSERT(host_cells(where) == std::vector<int>{0});
    CPPUNIT_ASSERT(read_cells_free_memory(where, 0, 8).value() == std::vector<uint64_t>{8192000ull * 1024});
    ::mkdir((dir.path + "/node").c_str(), 0700);
    for (int n : {0, 1}) {
      ::mkdir((dir.path + "/node/node" + std::to_string(n)).c_str(), 0700);
      test::write_file(dir.path + "/node/node" + std::to_string(n) + "/meminfo",
                       "Node " + std::to_string(n) + " MemTotal: 4096 kB\nNode " + std::to_string(n) + " MemFree: " +
                           std::to_string(1000 + n) + " kB\n");
    }
    ::mkdir((dir.path + "/node/power").c_str(), 0700);  // not a cell
    CPPUNIT_ASSERT(host_cells(where) == (std::vector<int>{0, 1}));
    CPPUNIT_ASSERT(read_cells_free_memory(where, 0, 8).value() == (std::vector<uint64_t>{1000 * 1024, 1001 * 1024}));
    CPPUNIT_ASSERT(read_cells_free_memory(where, 1, 1).value() == std::vector<uint64_t>{1001 * 1024});
    Result<std::vector<uint64_t>> bad = read_cells_free_memory(where, 2, 1);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INVALID_ARG), bad.error().code);
    CPPUNIT_ASSERT_EQUAL(uint64_t(1001), value_of(read_node_memory_stats(where, 1).value(), "free"));
    CPPUNIT_ASSERT_EQUAL(uint64_t(16384000), value_of(read_node_memory_stats(where, -1).value(), "total"));
    // Free pages: the base page from the cell's MemFree, huge pages from its hugepages directory.
    CPPUNIT_ASSERT_EQUAL(uint64_t(1001 / 4), read_free_pages(where, 1, 4, 4).value());
    ::mkdir((dir.path + "/node/node1/hugepages").c_str(), 0700);
    ::mkdir((dir.path + "/node/node1/hugepages/hugepages-2048kB").c_str(), 0700);
    test::write_file(dir.path + "/node/node1/hugepages/hugepages-2048kB/free_hugepages", "7\n");
    CPPUNIT_ASSERT_EQUAL(uint64_t(7), read_free_pages(where, 1, 2048, 4).value());
    Result<uint64_t> none = read_free_pages(where, 0, 2048, 4);
    CPPUNIT_ASSERT_EQUAL(int(VIR_ERR_INVALID_ARG), none.error().code);
    CPPUNIT_ASSERT(none.error().message.find("2048 KiB") != std::string::npos);
  }

  void thread_stat_and_names() {
    // comm with a space and a slash, utime 250, stime 50, processor 1 (field 39).
    std::string line = "4242 (CPU 0/TCG) S 1 1 1 0 -1 4194368 0 0 0 0 250 50 0 0 20 0 3 0 100 0 0 "
                       "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
    ThreadStat st = parse_thread_stat(line, 100).value();
    CPPUNIT_ASSERT_EQUAL(uint64_t(2500000000), st.user_ns);
    CPPUNIT_ASSERT_EQUAL(uint64_t(500000000), st.system_ns);
    CPPUNIT_ASSERT_EQUAL(1, st.processor);
    CPPUNIT_ASSERT(!parse_thread_stat("4242 (x) S 1 2 3", 100).ok());
    CPPUNIT_ASSERT_EQUAL(0, vcpu_index_of_thread_name("CPU 0/TCG\n"));
    CPPUNIT_ASSERT_EQUAL(12, vcpu_index_of_thread_name("CPU 12/KVM"));
    CPPUNIT_ASSERT_EQUAL(-2, vcpu_index_of_thread_name("ALL CPUs/TCG"));
    for (const char* other : {"qemu-system-x86", "CPU /TCG", "CPU 1/XYZ", "CPU x/TCG", "worker"})
      CPPUNIT_ASSERT_EQUAL_MESSAGE(other, -1, vcpu_index_of_thread_name(other));
  }

  void cpu_lists() {
    CPPUNIT_ASSERT(parse_cpu_list("0-2,5", 6) == (std::vector<bool>{true, true, true, false, false, true}));
    CPPUNIT_ASSERT(parse_cpu_list("1\n", 3) == (std::vector<bool>{false, true, false}));
    CPPUNIT_ASSERT(parse_cpu_list("0-63", 2) == (std::vector<bool>{true, true}));  // past NCPUS: dropped
  }

  void net_dev_and_cgroup() {
    const char* dev =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo:    100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n"
        "arrowtap0: 5000  40    1    2    0     0          0         0     7000      50    3    4    0     0       0          0\n";
    std::optional<NetDevCounters> c = parse_net_dev(dev, "arrowtap0");
    CPPUNIT_ASSERT(c.has_value());
    CPPUNIT_ASSERT_EQUAL(uint64_t(5000), c->rx_bytes);
    CPPUNIT_ASSERT_EQUAL(uint64_t(40), c->rx_packets);
    CPPUNIT_ASSERT_EQUAL(uint64_t(2), c->rx_drop);
    CPPUNIT_ASSERT_EQUAL(uint64_t(7000), c->tx_bytes);
    CPPUNIT_ASSERT_EQUAL(uint64_t(4), c->tx_drop);
    CPPUNIT_ASSERT(!parse_net_dev(dev, "arrowtap").has_value());
    CPPUNIT_ASSERT_EQUAL(std::string("/system.slice/arrow-web"),
                         parse_cgroup_v2_path("12:cpu:/legacy\n0::/system.slice/arrow-web\n").value());
    CPPUNIT_ASSERT(!parse_cgroup_v2_path("4:memory:/x\n").has_value());
  }
};

CPPUNIT_TEST_SUITE_REGISTRATION(HostStatsTest);
