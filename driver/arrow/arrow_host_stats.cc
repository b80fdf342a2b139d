// Host CPU and memory statistics (see arrow_host_stats.h).
#include "driver/arrow/arrow_host_stats.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

Result<std::vector<NodeStat>> parse_node_cpu_stats(std::string_view text, int cpu, long hz) {
  const std::string want = cpu < 0 ? "cpu" : "cpu" + std::to_string(cpu);
  const uint64_t ns_per_tick = 1000000000ull / uint64_t(hz > 0 ? hz : 100);
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string name;
    if (!(fields >> name) || name != want) continue;
    // user nice system idle iowait irq softirq ...
    uint64_t v[7] = {};
    for (uint64_t& x : v) fields >> x;
    return std::vector<NodeStat>{{"kernel", (v[2] + v[5] + v[6]) * ns_per_tick},
                                 {"user", (v[0] + v[1]) * ns_per_tick},
                                 {"idle", v[3] * ns_per_tick},
                                 {"iowait", v[4] * ns_per_tick}};
  }
  return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: the host has no CPU %1$d"), cpu));
}

std::vector<NodeStat> parse_meminfo(std::string_view text) {
  static constexpr std::pair<const char*, const char*> kFields[] = {
      {"MemTotal", "total"}, {"MemFree", "free"}, {"Buffers", "buffers"}, {"Cached", "cached"}};
  std::vector<NodeStat> out;
  for (const auto& [key, field] : kFields) {
    std::istringstream in{std::string(text)};
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      std::string w;
      // "Node 0 MemFree:   123 kB" or "MemFree:   123 kB"
      if (line.compare(0, 5, "Node ") == 0) words >> w >> w;
      if (!(words >> w) || w != std::string(key) + ":") continue;
      uint64_t kib = 0;
      words >> kib;
      out.push_back({field, kib});
      break;
    }
  }
  return out;
}

std::vector<int> host_cells(const HostMemory& where) {
  std::vector<int> cells;
  for (const std::string& name : list_dir(where.node_dir)) {
    if (name.size() > 4 && name.compare(0, 4, "node") == 0 && name.find_first_not_of("0123456789", 4) == std::string::npos)
      cells.push_back(atoi(name.c_str() + 4));
  }
  std::sort(cells.begin(), cells.end());
  if (cells.empty()) cells.push_back(0);
  return cells;
}

namespace {

Status check_cell(const HostMemory& where, int cell) {
  for (int c : host_cells(where))
    if (c == cell) return {};
  return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: the host has no NUMA cell %1$d"), cell));
}

// The meminfo of CELL: the node's file, or the host's when there is no NUMA directory.
Result<std::string> cell_meminfo(const HostMemory& where, int cell) {
  const std::string node_file = fmt("%s/node%d/meminfo", where.node_dir.c_str(), cell);
  Result<std::string> text = read_whole_file(node_file);
  if (text.ok()) return text;
  return read_whole_file(where.proc_meminfo);
}

}  // namespace

Result<std::vector<NodeStat>> read_node_memory_stats(const HostMemory& where, int cell) {
  if (cell < 0) {
    std::string host = TRY(read_whole_file(where.proc_meminfo));
    return parse_meminfo(host);
  }
  TRY(check_cell(where, cell));
  std::string text = TRY(cell_meminfo(where, cell));
  return parse_meminfo(text);
}

Result<std::vector<NodeStat>> read_node_cpu_stats(const HostMemory& where, int cpu) {
  long hz = sysconf(_SC_CLK_TCK);
  std::string text = TRY(read_whole_file(where.proc_stat));
  return parse_node_cpu_stats(text, cpu, hz);
}

Result<std::vector<uint64_t>> read_cells_free_memory(const HostMemory& where, int start, int max) {
  TRY(check_cell(where, start));
  std::vector<uint64_t> out;
  for (int cell : host_cells(where)) {
    if (cell < start || int(out.size()) >= max) continue;
    std::string text = TRY(cell_meminfo(where, cell));
    for (const NodeStat& s : parse_meminfo(text))
      if (s.field == "free") out.push_back(s.value * 1024);
  }
  return out;
}

Result<uint64_t> read_free_pages(const HostMemory& where, int cell, unsigned size_kib, unsigned base_page_kib) {
  TRY(check_cell(where, cell));
  if (size_kib == base_page_kib && size_kib > 0) {
    std::string text = TRY(cell_meminfo(where, cell));
    for (const NodeStat& s : parse_meminfo(text))
      if (s.field == "free") return s.value / size_kib;
  }
  const std::string name = fmt("hugepages-%ukB/free_hugepages", size_kib);
  Result<std::string> count = read_whole_file(fmt("%s/node%d/hugepages/%s", where.node_dir.c_str(), cell, name.c_str()));
  const bool numa = ::access(fmt("%s/node%d", where.node_dir.c_str(), cell).c_str(), F_OK) == 0;
  if (!count.ok() && !numa) count = read_whole_file(where.hugepages_dir + "/" + name);
  if (!count.ok())
    return make_error(VIR_ERR_INVALID_ARG,
                      fmt(_("invalid argument: page size %1$u KiB is not available on node %2$d"), size_kib, cell));
  return strtoull(count.value().c_str(), nullptr, 10);
}

}  // namespace arrow
