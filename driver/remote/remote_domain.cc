// Handlers for the domain procedures: listing, lookup, definition, lifecycle
// (answered asynchronously when the driver completes), information.
#include "driver/remote/remote_handlers.h"
#include "util/i18n.h"

namespace arrow::remote::procs {

namespace {

// VIR_CONNECT_LIST_DOMAINS_*: every filter bit libvirt 9.0 defines.
inline constexpr unsigned kListDomainsFlags = (1u << 16) - 1;
// VIR_DOMAIN_UNDEFINE_*: MANAGED_SAVE .. KEEP_TPM (nothing to keep or drop for an Arrow).
inline constexpr unsigned kUndefineFlags = 0x7f;
inline constexpr unsigned kXmlSecure = 1, kXmlMigratable = 8;

void write_dom_list(XdrWriter& ret, const std::vector<DomainRef>& doms) {
  ret.u32(static_cast<uint32_t>(doms.size()));
  for (const auto& d : doms) write_domain(ret, d);
}

Reply<void> answer(const Responder& r) {
  return [r](Status st) { r.status(st); };
}

Reply<DomainRef> answer_with_domain(const Responder& r) {
  return [r](Result<DomainRef> dom) {
    if (!dom.ok()) return r.error(dom.error());
    r.ok([&](XdrWriter& w) { write_domain(w, *dom); });
  };
}

// The args {dom} alone.
Result<DomainRef> dom_arg(Call& call) {
  DomainRef dom = read_domain(call.args);
  TRY(decoded(call.args));
  return dom;
}

// The args {dom, u32 flags}.
Result<DomainRef> dom_flags_args(Call& call, unsigned& flags) {
  DomainRef dom = read_domain(call.args);
  flags = call.args.u32();
  TRY(decoded(call.args));
  return dom;
}

// Answers a procedure with a fixed answer for an existing domain.
Result<DomainRef> existing(Call& call, const DomainRef& dom) { return call.driver.lookup_by_uuid(dom.uuid); }

}  // namespace

Status connect_list_all_domains(Call& call, XdrWriter& ret) {
  int need_results = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  TRY(check_flags(flags, kListDomainsFlags, "virConnectListAllDomains"));
  std::vector<DomainRef> doms = call.driver.list_all_domains(flags);
  if (doms.size() > kDomainListMax) {
    return make_error(VIR_ERR_INTERNAL_ERROR, _("internal error: too many domains for one reply"));
  }
  write_dom_list(ret, need_results ? doms : std::vector<DomainRef>{});
  ret.u32(static_cast<uint32_t>(doms.size()));
  return {};
}

Status connect_num_of_domains(Call& call, XdrWriter& ret) {
  ret.i32(call.driver.num_of_domains());
  return {};
}

Status connect_num_of_defined_domains(Call& call, XdrWriter& ret) {
  ret.i32(call.driver.num_of_defined_domains());
  return {};
}

namespace {

Result<size_t> max_names(Call& call) {
  int max = call.args.i32();
  TRY(decoded(call.args));
  if (max < 0 || static_cast<size_t>(max) > kDomainListMax) {
    return make_error(VIR_ERR_RPC, _("too many domains requested"));
  }
  return static_cast<size_t>(max);
}

}  // namespace

Status connect_list_domains(Call& call, XdrWriter& ret) {
  size_t max = TRY(max_names(call));
  std::vector<DomainRef> doms = call.driver.list_all_domains(VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (doms.size() > max) doms.resize(max);
  ret.u32(static_cast<uint32_t>(doms.size()));
  for (const auto& d : doms) ret.i32(d.id);
  return {};
}

Status connect_list_defined_domains(Call& call, XdrWriter& ret) {
  size_t max = TRY(max_names(call));
  std::vector<DomainRef> doms =
      call.driver.list_all_domains(VIR_CONNECT_LIST_DOMAINS_INACTIVE | VIR_CONNECT_LIST_DOMAINS_PERSISTENT);
  if (doms.size() > max) doms.resize(max);
  ret.u32(static_cast<uint32_t>(doms.size()));
  for (const auto& d : doms) ret.string(d.name);
  return {};
}

Status domain_lookup_by_id(Call& call, XdrWriter& ret) {
  int id = call.args.i32();
  TRY(decoded(call.args));
  DomainRef dom = TRY(call.driver.lookup_by_id(id));
  write_domain(ret, dom);
  return {};
}

Status domain_lookup_by_name(Call& call, XdrWriter& ret) {
  std::string name = call.args.string(kStringMax);
  TRY(decoded(call.args));
  DomainRef dom = TRY(call.driver.lookup_by_name(name));
  write_domain(ret, dom);
  return {};
}

Status domain_lookup_by_uuid(Call& call, XdrWriter& ret) {
  Uuid uuid{};
  call.args.fixed_opaque(uuid.data(), uuid.size());
  TRY(decoded(call.args));
  DomainRef dom = TRY(call.driver.lookup_by_uuid(uuid));
  write_domain(ret, dom);
  return {};
}

Status domain_define_xml(Call& call, XdrWriter& ret) {
  std::string xml = call.args.string(kStringMax);
  TRY(decoded(call.args));
  DomainRef dom = TRY(call.driver.domain_define_xml(xml, 0));
  write_domain(ret, dom);
  return {};
}

Status domain_define_xml_flags(Call& call, XdrWriter& ret) {
  std::string xml = call.args.string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  DomainRef dom = TRY(call.driver.domain_define_xml(xml, flags));
  write_domain(ret, dom);
  return {};
}

Status domain_undefine(Call& call, XdrWriter&) {
  DomainRef dom = TRY(dom_arg(call));
  return call.driver.domain_undefine(dom, 0);
}

Status domain_undefine_flags(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  TRY(check_flags(flags, kUndefineFlags, "virDomainUndefineFlags"));
  return call.driver.domain_undefine(dom, flags);
}

Status domain_create(Call& call, XdrWriter&) {
  DomainRef dom = TRY(dom_arg(call));
  call.driver.domain_create(dom, 0, [r = call.defer()](Result<DomainRef> d) {
    if (!d.ok()) return r.error(d.error());
    r.ok();  // no ret: the client looks the domain up by UUID next
  });
  return {};
}

Status domain_create_with_flags(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  call.driver.domain_create(dom, flags, answer_with_domain(call.defer()));
  return {};
}

Status domain_create_xml(Call& call, XdrWriter&) {
  std::string xml = call.args.string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  call.driver.domain_create_xml(xml, flags, answer_with_domain(call.defer()));
  return {};
}

Status domain_destroy(Call& call, XdrWriter&) {
  DomainRef dom = TRY(dom_arg(call));
  call.driver.domain_destroy(dom, 0, answer(call.defer()));
  return {};
}

Status domain_destroy_flags(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  call.driver.domain_destroy(dom, flags, answer(call.defer()));
  return {};
}

Status domain_shutdown(Call& call, XdrWriter&) {
  DomainRef dom = TRY(dom_arg(call));
  call.driver.domain_shutdown(dom, 0, answer(call.defer()));
  return {};
}

Status domain_shutdown_flags(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  call.driver.domain_shutdown(dom, flags, answer(call.defer()));
  return {};
}

Status domain_reboot(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  call.driver.domain_reboot(dom, flags, answer(call.defer()));
  return {};
}

Status domain_suspend(Call& call, XdrWriter&) {
  DomainRef dom = TRY(dom_arg(call));
  call.driver.domain_suspend(dom, answer(call.defer()));
  return {};
}

Status domain_resume(Call& call, XdrWriter&) {
  DomainRef dom = TRY(dom_arg(call));
  call.driver.domain_resume(dom, answer(call.defer()));
  return {};
}

Status domain_set_autostart(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  int autostart = call.args.i32();
  TRY(decoded(call.args));
  return call.driver.domain_set_autostart(dom, autostart != 0);
}

Status domain_get_info(Call& call, XdrWriter& ret) {
  DomainRef dom = TRY(dom_arg(call));
  DomainInfo info = TRY(call.driver.domain_get_info(dom));
  ret.u32(static_cast<uint32_t>(info.state));  // unsigned char: 4 bytes
  ret.u64(info.max_mem_kib);
  ret.u64(info.memory_kib);
  ret.u32(info.nr_virt_cpu);  // unsigned short: 4 bytes
  ret.u64(info.cpu_time_ns);
  return {};
}

Status domain_get_state(Call& call, XdrWriter& ret) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  TRY(check_flags(flags, 0, "virDomainGetState"));
  DomainStateInfo st = TRY(call.driver.domain_get_state(dom));
  ret.i32(st.state);
  ret.i32(st.reason);
  return {};
}

Status domain_get_xml_desc(Call& call, XdrWriter& ret) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  if (call.conn.readonly && (flags & (kXmlSecure | kXmlMigratable))) {
    return make_error(VIR_ERR_OPERATION_DENIED,
                      _("operation forbidden: virDomainGetXMLDesc with secure flag"));
  }
  std::string xml = TRY(call.driver.domain_get_xml_desc(dom, flags));
  ret.string(xml);
  return {};
}

Status domain_get_autostart(Call& call, XdrWriter& ret) {
  DomainRef dom = TRY(dom_arg(call));
  bool autostart = TRY(call.driver.domain_get_autostart(dom));
  ret.i32(autostart ? 1 : 0);
  return {};
}

Status domain_get_max_memory(Call& call, XdrWriter& ret) {
  DomainRef dom = TRY(dom_arg(call));
  uint64_t max_memory = TRY(call.driver.domain_get_max_memory(dom));
  ret.u64(max_memory);
  return {};
}

Status domain_is_active(Call& call, XdrWriter& ret) {
  DomainRef dom = TRY(dom_arg(call));
  bool active = TRY(call.driver.domain_is_active(dom));
  ret.i32(active ? 1 : 0);
  return {};
}

Status domain_is_persistent(Call& call, XdrWriter& ret) {
  DomainRef dom = TRY(dom_arg(call));
  bool persistent = TRY(call.driver.domain_is_persistent(dom));
  ret.i32(persistent ? 1 : 0);
  return {};
}

// Fixed answers: every Arrow is an "exe" guest, has no pending config change,
// no managed save image, no snapshots, no running job.
Status domain_get_os_type(Call& call, XdrWriter& ret) {
  DomainRef dom = TRY(dom_arg(call));
  TRY(existing(call, dom));
  ret.string("exe");
  return {};
}

Status domain_is_updated(Call& call, XdrWriter& ret) {
  DomainRef dom = TRY(dom_arg(call));
  TRY(existing(call, dom));
  ret.i32(0);
  return {};
}

Status domain_has_managed_save_image(Call& call, XdrWriter& ret) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  bool has = TRY(call.driver.domain_has_managed_save_image(dom, flags));
  ret.i32(has ? 1 : 0);
  return {};
}

// Saved images (remote_protocol.x: remote_domain_save*_args, *_restore*_args).
Status domain_save(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  std::string to = call.args.string(kStringMax);
  TRY(decoded(call.args));
  call.driver.domain_save(dom, to, std::nullopt, 0, answer(call.defer()));
  return {};
}

Status domain_save_flags(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  std::string to = call.args.string(kStringMax);
  std::optional<std::string> dxml = call.args.optional_string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  call.driver.domain_save(dom, to, dxml, flags, answer(call.defer()));
  return {};
}

Status domain_restore(Call& call, XdrWriter&) {
  std::string from = call.args.string(kStringMax);
  TRY(decoded(call.args));
  call.driver.domain_restore(from, std::nullopt, 0, answer(call.defer()));
  return {};
}

Status domain_restore_flags(Call& call, XdrWriter&) {
  std::string from = call.args.string(kStringMax);
  std::optional<std::string> dxml = call.args.optional_string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  call.driver.domain_restore(from, dxml, flags, answer(call.defer()));
  return {};
}

Status domain_save_image_get_xml_desc(Call& call, XdrWriter& ret) {
  std::string file = call.args.string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  std::string xml = TRY(call.driver.save_image_get_xml_desc(file, flags));
  ret.string(xml);
  return {};
}

Status domain_save_image_define_xml(Call& call, XdrWriter&) {
  std::string file = call.args.string(kStringMax);
  std::string dxml = call.args.string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  return call.driver.save_image_define_xml(file, dxml, flags);
}

Status domain_managed_save(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  call.driver.domain_managed_save(dom, flags, answer(call.defer()));
  return {};
}

Status domain_managed_save_remove(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  return call.driver.domain_managed_save_remove(dom, flags);
}

Status domain_managed_save_get_xml_desc(Call& call, XdrWriter& ret) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  std::string xml = TRY(call.driver.domain_managed_save_get_xml_desc(dom, flags));
  ret.string(xml);
  return {};
}

Status domain_managed_save_define_xml(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  std::optional<std::string> dxml = call.args.optional_string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  return call.driver.domain_managed_save_define_xml(dom, dxml, flags);
}

Status domain_list_all_snapshots(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  call.args.i32();  // need_results: the list is empty either way
  call.args.u32();  // flags: every filter of an empty list is empty
  TRY(decoded(call.args));
  TRY(existing(call, dom));
  ret.u32(0);
  ret.i32(0);
  return {};
}

Status domain_snapshot_num(Call& call, XdrWriter& ret) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_flags_args(call, flags));
  TRY(existing(call, dom));
  ret.i32(0);
  return {};
}

Status domain_get_job_info(Call& call, XdrWriter& ret) {
  DomainRef dom = TRY(dom_arg(call));
  TRY(existing(call, dom));
  ret.i32(0);  // VIR_DOMAIN_JOB_NONE
  for (int i = 0; i < 11; i++) ret.u64(0);
  return {};
}

// {dom, int type, remote_string uri, u32 flags} -> {remote_nonnull_string metadata}
Status domain_get_metadata(Call& call, XdrWriter& ret) {
  DomainRef dom = read_domain(call.args);
  int type = call.args.i32();
  std::optional<std::string> uri = call.args.optional_string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  std::string metadata = TRY(call.driver.domain_get_metadata(dom, type, uri, flags));
  ret.string(metadata);
  return {};
}

// {dom, int type, remote_string metadata, remote_string key, remote_string uri, u32 flags}
Status domain_set_metadata(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  int type = call.args.i32();
  std::optional<std::string> metadata = call.args.optional_string(kStringMax);
  std::optional<std::string> key = call.args.optional_string(kStringMax);
  std::optional<std::string> uri = call.args.optional_string(kStringMax);
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  return call.driver.domain_set_metadata(dom, type, metadata, key, uri, flags);
}

Status connect_get_all_domain_stats(Call& call, XdrWriter& ret) {
  uint32_t n = call.args.array_count(kDomainListMax, 24);
  std::vector<DomainRef> doms;
  for (uint32_t i = 0; i < n && call.args.ok(); i++) doms.push_back(read_domain(call.args));
  unsigned stats = call.args.u32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  std::vector<DomainStatsRecord> records = TRY(call.driver.get_all_domain_stats(stats, flags));
  std::vector<const DomainStatsRecord*> out;
  for (const auto& rec : records) {
    bool wanted = doms.empty();
    for (const auto& d : doms) wanted = wanted || d.uuid == rec.dom.uuid;
    if (wanted) out.push_back(&rec);
  }
  ret.u32(static_cast<uint32_t>(out.size()));
  for (const auto* rec : out) {
    write_domain(ret, rec->dom);
    ret.u32(static_cast<uint32_t>(rec->params.size()));
    for (const auto& p : rec->params) write_typed_param(ret, p);
  }
  return {};
}


// --- The balloon ------------------------------------------------------------

namespace {

inline constexpr uint32_t kMemoryStatsMax = 1024;  // REMOTE_DOMAIN_MEMORY_STATS_MAX
inline constexpr unsigned kAffectLive = 1;         // VIR_DOMAIN_AFFECT_LIVE

}  // namespace

// virDomainSetMemory is virDomainSetMemoryFlags(LIVE), as in libvirt's drivers.
Status domain_set_memory(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  uint64_t kib = call.args.u64();
  TRY(decoded(call.args));
  call.driver.domain_set_memory_flags(dom, kib, kAffectLive, answer(call.defer()));
  return {};
}

Status domain_set_memory_flags(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  uint64_t kib = call.args.u64();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  call.driver.domain_set_memory_flags(dom, kib, flags, answer(call.defer()));
  return {};
}

Status domain_memory_stats(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  uint32_t max_stats = call.args.u32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  if (max_stats > kMemoryStatsMax)
    return make_error(VIR_ERR_RPC, _("too many memory stats requested"));
  call.driver.domain_memory_stats(dom, max_stats, flags, [r = call.defer()](Result<std::vector<MemoryStat>> stats) {
    if (!stats.ok()) return r.error(stats.error());
    r.ok([&](XdrWriter& w) {
      w.u32(static_cast<uint32_t>(stats->size()));
      for (const MemoryStat& s : *stats) {
        w.i32(s.tag);
        w.u64(s.val);
      }
    });
  });
  return {};
}

Status domain_set_memory_stats_period(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  int period = call.args.i32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  call.driver.domain_set_memory_stats_period(dom, period, flags, answer(call.defer()));
  return {};
}

}  // namespace arrow::remote::procs
