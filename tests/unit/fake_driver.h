// An in-memory DriverApi for the RPC layer's tests: domains with names, UUIDs,
// ids and states, lifecycle calls that complete later on the main loop (a
// domain whose name starts with "slow" takes 1.5 s to start or stop), and
// lifecycle events. No QEMU: the real driver is tested elsewhere.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "driver/api/driver_api.h"

namespace arrow::test {

class FakeDriver : public DriverApi {
 public:
  FakeDriver() = default;

  std::string hostname() override;
  std::string capabilities_xml() override;
  Result<std::string> domain_capabilities_xml(const std::string& emulator, const std::string& arch,
                                              const std::string& machine, const std::string& virttype) override;
  NodeInfo node_info() override;
  uint64_t hypervisor_version() override { return 1000000; }
  std::string sysinfo_xml() override;

  std::vector<DomainRef> list_all_domains(unsigned flags) override;
  Result<DomainRef> lookup_by_name(const std::string& name) override;
  Result<DomainRef> lookup_by_uuid(const Uuid& uuid) override;
  Result<DomainRef> lookup_by_id(int id) override;
  int num_of_domains() override;
  int num_of_defined_domains() override;

  Result<DomainRef> domain_define_xml(const std::string& xml, unsigned flags) override;
  Status domain_undefine(const DomainRef& dom, unsigned flags) override;

  void domain_create_xml(const std::string& xml, unsigned flags, Reply<DomainRef> done) override;
  void domain_create(const DomainRef& dom, unsigned flags, Reply<DomainRef> done) override;
  void domain_destroy(const DomainRef& dom, unsigned flags, Reply<void> done) override;
  void domain_shutdown(const DomainRef& dom, unsigned flags, Reply<void> done) override;
  void domain_reboot(const DomainRef& dom, unsigned flags, Reply<void> done) override;
  void domain_suspend(const DomainRef& dom, Reply<void> done) override;
  void domain_resume(const DomainRef& dom, Reply<void> done) override;

  Result<DomainInfo> domain_get_info(const DomainRef& dom) override;
  Result<DomainStateInfo> domain_get_state(const DomainRef& dom) override;
  Result<std::string> domain_get_xml_desc(const DomainRef& dom, unsigned flags) override;
  Result<bool> domain_get_autostart(const DomainRef& dom) override;
  Status domain_set_autostart(const DomainRef& dom, bool autostart) override;
  Result<bool> domain_is_active(const DomainRef& dom) override;
  Result<bool> domain_is_persistent(const DomainRef& dom) override;
  Result<uint64_t> domain_get_max_memory(const DomainRef& dom) override;
  Result<std::vector<DomainStatsRecord>> get_all_domain_stats(unsigned stats, unsigned flags) override;

  // Host statistics: fixed numbers for the RPC layer's byte tests.
  Result<std::vector<NodeStat>> node_get_cpu_stats(int cpu, unsigned flags) override;
  Result<std::vector<DomainInterfaceAddrs>> domain_interface_addresses(const DomainRef& dom, unsigned source,
                                                                       unsigned flags) override;
  // The balloon: fixed statistics (unused 1000, actual 65536, rss 1234 KiB),
  // and the last virDomainSetMemoryFlags call, for the wire-layout tests.
  void domain_memory_stats(const DomainRef& dom, unsigned nr_stats, unsigned flags,
                           Reply<std::vector<MemoryStat>> done) override;
  void domain_set_memory_flags(const DomainRef& dom, uint64_t kib, unsigned flags, Reply<void> done) override;
  uint64_t last_set_memory_kib = 0;
  unsigned last_set_memory_flags = 0;
  Result<std::vector<VcpuInfo>> domain_get_vcpus(const DomainRef& dom) override;

  void subscribe(EventListener listener) override { listeners_.push_back(std::move(listener)); }

 private:
  struct Dom {
    DomainRef ref;
    std::string xml;
    bool persistent = false;
    bool autostart = false;
    int state = 5;  // VIR_DOMAIN_SHUTOFF
    int reason = 0;
    bool busy = false;  // a lifecycle change is under way
  };
  Dom* find(const Uuid& uuid);
  Result<Dom*> find_or_error(const Uuid& uuid);
  void emit(const Dom& d, int event, int detail);
  Result<Dom> parse(const std::string& xml);
  // Runs FN after the domain's delay on the main loop (unless it vanished).
  void later(const Dom& d, std::function<void(Dom*)> fn);
  void start(Dom& d, Reply<DomainRef> done);
  // DETAIL: VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN (0) or _DESTROYED (1).
  void stop(const DomainRef& ref, int detail, Reply<void> done);
  // Suspend and resume: the domain from state FROM (named FROM_NAME in the
  // error) to TO with REASON, then lifecycle EVENT.
  void transition(const DomainRef& ref, int from, const char* from_name, int to, int reason, int event,
                  Reply<void> done);

  std::vector<Dom> doms_;
  int next_id_ = 1;
  std::vector<EventListener> listeners_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // pending timers check it
};

}  // namespace arrow::test
