// The host's CPU and memory statistics for virNodeGetCPUStats,
// virNodeGetMemoryStats, virNodeGetCellsFreeMemory and virNodeGetFreeMemory,
// with libvirt's field names and units: /proc/stat (nanoseconds), /proc/meminfo
// and /sys/devices/system/node/nodeN/meminfo (KiB). Parsers are pure, for
// unit tests; the readers take the files' directory so tests can point them
// at fixtures.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "driver/api/driver_api.h"
#include "util/result.h"

namespace arrow {

// "user" (user+nice), "kernel" (system+irq+softirq), "idle", "iowait", in
// nanoseconds, of CPU (-1: the "cpu" line, all CPUs) from /proc/stat's TEXT.
// VIR_ERR_INVALID_ARG when the host has no such CPU.
Result<std::vector<NodeStat>> parse_node_cpu_stats(std::string_view proc_stat, int cpu, long ticks_per_second);

// "total", "free", "buffers", "cached" (KiB) from /proc/meminfo's TEXT, or
// "total" and "free" from a NUMA node's meminfo ("Node N MemTotal: ...").
std::vector<NodeStat> parse_meminfo(std::string_view meminfo);

// The host's NUMA cells: those under SYSFS_NODE_DIR (nodeN), or cell 0 alone
// (the whole host) when the kernel exposes none.
struct HostMemory {
  std::string proc_meminfo = "/proc/meminfo";
  std::string node_dir = "/sys/devices/system/node";
  std::string proc_stat = "/proc/stat";
  std::string hugepages_dir = "/sys/kernel/mm/hugepages";  // without NUMA
};
std::vector<int> host_cells(const HostMemory& where);
Result<std::vector<NodeStat>> read_node_memory_stats(const HostMemory& where, int cell);
Result<std::vector<NodeStat>> read_node_cpu_stats(const HostMemory& where, int cpu);
// Free bytes of cells START.. (at most MAX); VIR_ERR_INVALID_ARG when START
// is no cell.
Result<std::vector<uint64_t>> read_cells_free_memory(const HostMemory& where, int start, int max);

// Free pages of SIZE_KIB in CELL: the base page size (MemFree / size), or
// a huge page size from the cell's hugepages-SIZEkB/free_hugepages (the
// host's HUGEPAGES_DIR when the kernel exposes no NUMA cells). VIR_ERR_INVALID_ARG naming
// the size when the host has no such pages.
Result<uint64_t> read_free_pages(const HostMemory& where, int cell, unsigned size_kib, unsigned base_page_kib);

}  // namespace arrow
