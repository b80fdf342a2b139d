// Handlers for the host statistics procedures: NODE_GET_CPU_STATS,
// NODE_GET_MEMORY_STATS, NODE_GET_FREE_MEMORY, NODE_GET_CELLS_FREE_MEMORY,
// NODE_GET_FREE_PAGES, CONNECT_GET_CPU_MODEL_NAMES, CONNECT_GET_MAX_VCPUS (argument and reply
// layouts: libvirt 9.0's remote_protocol.x).
#include <algorithm>

#include "driver/remote/remote_handlers.h"
#include "util/i18n.h"

namespace arrow::remote::procs {

namespace {

inline constexpr int kNodeStatsMax = 16;       // REMOTE_NODE_CPU_STATS_MAX, REMOTE_NODE_MEMORY_STATS_MAX
inline constexpr int kNodeMaxCells = 1024;     // REMOTE_NODE_MAX_CELLS
inline constexpr size_t kCpuModelsMax = 8192;  // REMOTE_CONNECT_CPU_MODELS_MAX

Status check_nparams(int nparams) {
  if (nparams >= 0 && nparams <= kNodeStatsMax) return {};
  return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: nparams too large"));
}

// remote_node_get_{cpu,memory}_stats_ret: {field, value}<> and nparams. With
// NPARAMS 0 the client asks how many there are.
void write_node_stats(XdrWriter& ret, const std::vector<NodeStat>& stats, int nparams) {
  if (nparams == 0) {
    ret.u32(0);
    ret.i32(static_cast<int32_t>(stats.size()));
    return;
  }
  size_t n = std::min(stats.size(), static_cast<size_t>(nparams));
  ret.u32(static_cast<uint32_t>(n));
  for (size_t i = 0; i < n; i++) {
    ret.string(stats[i].field);
    ret.u64(stats[i].value);
  }
  ret.i32(static_cast<int32_t>(n));
}

}  // namespace

Status node_get_cpu_stats(Call& call, XdrWriter& ret) {
  int cpu = call.args.i32();
  int nparams = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_nparams(nparams));
  std::vector<NodeStat> stats = TRY(call.driver.node_get_cpu_stats(cpu, flags));
  write_node_stats(ret, stats, nparams);
  return {};
}

Status node_get_memory_stats(Call& call, XdrWriter& ret) {
  int nparams = call.args.i32();
  int cell = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_nparams(nparams));
  std::vector<NodeStat> stats = TRY(call.driver.node_get_memory_stats(cell, flags));
  write_node_stats(ret, stats, nparams);
  return {};
}

Status node_get_free_memory(Call& call, XdrWriter& ret) {
  uint64_t free = TRY(call.driver.node_get_free_memory());
  ret.u64(free);
  return {};
}

Status node_get_cells_free_memory(Call& call, XdrWriter& ret) {
  int start = call.args.i32();
  int max = call.args.i32();
  TRY(decoded(call.args));
  if (max <= 0 || max > kNodeMaxCells) return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: maxCells > REMOTE_NODE_MAX_CELLS"));
  std::vector<uint64_t> cells = TRY(call.driver.node_get_cells_free_memory(start, max));
  ret.u32(static_cast<uint32_t>(cells.size()));
  for (uint64_t c : cells) ret.u64(c);
  return {};
}

Status node_get_free_pages(Call& call, XdrWriter& ret) {
  uint32_t n = call.args.array_count(kNodeMaxCells);
  std::vector<unsigned> sizes;
  for (uint32_t i = 0; i < n && call.args.ok(); i++) sizes.push_back(call.args.u32());
  int start = call.args.i32();
  unsigned count = call.args.u32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  if (sizes.empty() || count == 0 || uint64_t(sizes.size()) * count > kNodeMaxCells)
    return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: the result won't fit into REMOTE_NODE_MAX_CELLS"));
  std::vector<uint64_t> counts = TRY(call.driver.node_get_free_pages(sizes, start, count, flags));
  ret.u32(static_cast<uint32_t>(counts.size()));
  for (uint64_t c : counts) ret.u64(c);
  return {};
}

Status connect_get_cpu_model_names(Call& call, XdrWriter& ret) {
  std::string arch = call.args.string(kStringMax);
  int need_results = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  std::vector<std::string> models = TRY(call.driver.connect_get_cpu_model_names(arch, flags));
  if (models.size() > kCpuModelsMax) return make_error(VIR_ERR_RPC, _("Too many CPU models for one reply"));
  ret.u32(need_results ? static_cast<uint32_t>(models.size()) : 0);
  if (need_results) {
    for (const std::string& m : models) ret.string(m);
  }
  ret.i32(static_cast<int32_t>(models.size()));
  return {};
}

Status connect_get_max_vcpus(Call& call, XdrWriter& ret) {
  std::optional<std::string> type = call.args.optional_string(kStringMax);
  TRY(decoded(call.args));
  int max = TRY(call.driver.connect_get_max_vcpus(type));
  ret.i32(max);
  return {};
}

}  // namespace arrow::remote::procs
