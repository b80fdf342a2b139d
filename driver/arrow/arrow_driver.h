// The Arrow hypervisor driver: implements DriverApi for virtarrowd with a
// domain registry (name, UUID, id), the lifecycle state machine
// (arrow_state), jobs, persistent configs, runtime status files and
// lifecycle events. The daemon gets it from make_arrow_driver()
// (daemon_paths.h); tests build it with a fake launcher.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/arrow/arrow_conf.h"
#include "driver/arrow/arrow_console.h"
#include "driver/arrow/arrow_domain.h"
#include "driver/api/driver_api.h"
#include "driver/arrow/arrow_events.h"
#include "driver/arrow/arrow_persist.h"
#include "driver/arrow/arrow_reconnect.h"
#include "domain-xml/arrow_xml.h"

namespace arrow {

class ChannelRelay;
class QemuAgent;

struct DriverOptions {
  LauncherFactory launcher_factory;  // the engine; tests pass a fake
  LogFn log;                         // default: stderr
  // Runs a function later on the main loop (default: g_idle_add). Used to
  // destroy a launcher outside its own callbacks.
  std::function<void(std::function<void()>)> post;
  bool autostart = true;  // start the autostart Arrows in load()
};

class ArrowDriver final : public DriverApi {
 public:
  ArrowDriver(ArrowConf conf, DriverOptions options);
  ~ArrowDriver() override;

  // Creates the directories, loads every CONFIGDIR/*.xml (a bad file is moved
  // aside and logged) and starts the autostart Arrows.
  Status load() override;
  const ArrowConf& conf() const { return conf_; }

  // Host.
  std::string hostname() override;
  std::string capabilities_xml() override;
  Result<std::string> domain_capabilities_xml(const std::string& emulator, const std::string& arch,
                                              const std::string& machine, const std::string& virttype) override;
  NodeInfo node_info() override;
  uint64_t hypervisor_version() override;
  std::string sysinfo_xml() override;

  // Listing and lookup.
  std::vector<DomainRef> list_all_domains(unsigned flags) override;
  Result<DomainRef> lookup_by_name(const std::string& name) override;
  Result<DomainRef> lookup_by_uuid(const Uuid& uuid) override;
  Result<DomainRef> lookup_by_id(int id) override;
  int num_of_domains() override;
  int num_of_defined_domains() override;

  // Definitions.
  Result<DomainRef> domain_define_xml(const std::string& xml, unsigned flags) override;
  Status domain_undefine(const DomainRef& dom, unsigned flags) override;

  // Lifecycle.
  void domain_create_xml(const std::string& xml, unsigned flags, Reply<DomainRef> done) override;
  void domain_create(const DomainRef& dom, unsigned flags, Reply<DomainRef> done) override;
  void domain_destroy(const DomainRef& dom, unsigned flags, Reply<void> done) override;
  void domain_shutdown(const DomainRef& dom, unsigned flags, Reply<void> done) override;
  void domain_reboot(const DomainRef& dom, unsigned flags, Reply<void> done) override;
  void domain_suspend(const DomainRef& dom, Reply<void> done) override;
  void domain_resume(const DomainRef& dom, Reply<void> done) override;

  // Information.
  Result<DomainInfo> domain_get_info(const DomainRef& dom) override;
  Result<DomainStateInfo> domain_get_state(const DomainRef& dom) override;
  Result<std::string> domain_get_xml_desc(const DomainRef& dom, unsigned flags) override;
  Result<bool> domain_get_autostart(const DomainRef& dom) override;
  Status domain_set_autostart(const DomainRef& dom, bool autostart) override;
  Result<bool> domain_is_active(const DomainRef& dom) override;
  Result<bool> domain_is_persistent(const DomainRef& dom) override;
  Result<uint64_t> domain_get_max_memory(const DomainRef& dom) override;
  Result<std::vector<DomainStatsRecord>> get_all_domain_stats(unsigned stats, unsigned flags) override;

  void subscribe(EventListener listener) override;

  // Console, log channel and signals (arrow_driver_console.cc).
  Result<std::shared_ptr<StreamSink>> domain_open_console(const DomainRef& dom,
                                                          const std::optional<std::string>& dev_name, unsigned flags,
                                                          std::shared_ptr<StreamPeer> peer) override;
  Result<std::shared_ptr<StreamSink>> domain_open_channel(const DomainRef& dom, const std::optional<std::string>& name,
                                                          unsigned flags, std::shared_ptr<StreamPeer> peer) override;
  Status domain_send_process_signal(const DomainRef& dom, int64_t pid, unsigned signum, unsigned flags) override;

  // Saved images, templates and clones (arrow_driver_save.cc).
  void domain_save(const DomainRef& dom, const std::string& to, const std::optional<std::string>& dxml, unsigned flags,
                   Reply<void> done) override;
  void domain_restore(const std::string& from, const std::optional<std::string>& dxml, unsigned flags,
                      Reply<void> done) override;
  Result<std::string> save_image_get_xml_desc(const std::string& file, unsigned flags) override;
  Status save_image_define_xml(const std::string& file, const std::string& dxml, unsigned flags) override;
  void domain_managed_save(const DomainRef& dom, unsigned flags, Reply<void> done) override;
  Result<bool> domain_has_managed_save_image(const DomainRef& dom, unsigned flags) override;
  Status domain_managed_save_remove(const DomainRef& dom, unsigned flags) override;
  Result<std::string> domain_managed_save_get_xml_desc(const DomainRef& dom, unsigned flags) override;
  Status domain_managed_save_define_xml(const DomainRef& dom, const std::optional<std::string>& dxml,
                                        unsigned flags) override;
  // The guest agent (arrow_driver_agent.cc).
  void domain_get_hostname(const DomainRef& dom, unsigned flags, Reply<std::string> done) override;
  void domain_get_time(const DomainRef& dom, unsigned flags, Reply<GuestTime> done) override;
  void domain_set_time(const DomainRef& dom, GuestTime time, unsigned flags, Reply<void> done) override;
  void domain_interface_addresses(const DomainRef& dom, unsigned source, unsigned flags,
                                  Reply<std::vector<GuestInterface>> done) override;
  void domain_get_fsinfo(const DomainRef& dom, unsigned flags, Reply<std::vector<GuestFsInfo>> done) override;
  void domain_get_guest_info(const DomainRef& dom, unsigned types, unsigned flags,
                             Reply<std::vector<TypedParam>> done) override;

  // Title, description and <metadata> elements (arrow_driver_metadata.cc).
  Result<std::string> domain_get_metadata(const DomainRef& dom, int type, const std::optional<std::string>& uri,
                                          unsigned flags) override;
  Status domain_set_metadata(const DomainRef& dom, int type, const std::optional<std::string>& metadata,
                             const std::optional<std::string>& key, const std::optional<std::string>& uri,
                             unsigned flags) override;

  // Host statistics and domain monitoring (arrow_driver_host.cc).
  Result<std::vector<NodeStat>> node_get_cpu_stats(int cpu, unsigned flags) override;
  Result<std::vector<NodeStat>> node_get_memory_stats(int cell, unsigned flags) override;
  Result<std::vector<uint64_t>> node_get_cells_free_memory(int start, int max) override;
  Result<uint64_t> node_get_free_memory() override;
  Result<std::vector<std::string>> connect_get_cpu_model_names(const std::string& arch, unsigned flags) override;
  Result<int> connect_get_max_vcpus(const std::optional<std::string>& type) override;
  Result<std::vector<uint64_t>> node_get_free_pages(const std::vector<unsigned>& sizes_kib, int start, unsigned count,
                                                    unsigned flags) override;
  Result<std::vector<VcpuInfo>> domain_get_vcpus(const DomainRef& dom) override;
  Result<int> domain_get_vcpus_flags(const DomainRef& dom, unsigned flags) override;
  Result<std::vector<std::vector<bool>>> domain_get_vcpu_pin_info(const DomainRef& dom, unsigned flags) override;
  Result<std::vector<bool>> domain_get_emulator_pin_info(const DomainRef& dom, unsigned flags) override;
  Result<std::vector<TypedParam>> domain_get_cpu_stats_total(const DomainRef& dom) override;
  Result<InterfaceStats> domain_interface_stats(const DomainRef& dom, const std::string& device) override;
  Result<std::vector<DomainInterfaceAddrs>> domain_interface_addresses(const DomainRef& dom, unsigned source,
                                                                       unsigned flags) override;
  Result<std::vector<TypedParam>> domain_get_scheduler_parameters(const DomainRef& dom, unsigned flags) override;
  Result<std::vector<TypedParam>> domain_get_memory_parameters(const DomainRef& dom, unsigned flags) override;
  Result<DomainControlInfo> domain_get_control_info(const DomainRef& dom, unsigned flags) override;
  // The balloon (arrow_driver_balloon.cc).
  void domain_set_memory_flags(const DomainRef& dom, uint64_t kib, unsigned flags, Reply<void> done) override;
  void domain_memory_stats(const DomainRef& dom, unsigned nr_stats, unsigned flags,
                           Reply<std::vector<MemoryStat>> done) override;
  void domain_set_memory_stats_period(const DomainRef& dom, int period, unsigned flags, Reply<void> done) override;

 private:
  using DomainPtr = std::shared_ptr<ArrowDomain>;

  // The balloon of a running Arrow and AutoBalloon (arrow_driver_balloon.cc).
  void balloon_start(const DomainPtr& dom, bool adopted);
  void balloon_reconfigure(const DomainPtr& dom);
  void balloon_stop(const DomainPtr& dom);
  void balloon_poll(const DomainPtr& dom, std::function<void(Result<BalloonInfo>)> done);
  void balloon_apply(const DomainPtr& dom, uint64_t target_kib, const std::string& why);
  void autoballoon_step(const DomainPtr& dom);
  void on_memory_pressure(const DomainPtr& dom, uint64_t available_kib);
  std::vector<MemoryStat> memory_stats(const ArrowDomain& dom, const std::optional<BalloonInfo>& info) const;
  uint64_t balloon_actual_kib(const ArrowDomain& dom) const;
  void add_balloon_stats(const ArrowDomain& dom, std::vector<TypedParam>& params) const;

  // Registry.
  DomainPtr find_by_name(const std::string& name) const;
  DomainPtr find_by_uuid(const Uuid& uuid) const;
  Result<DomainPtr> find(const DomainRef& ref) const;  // by UUID, the identity
  Status check_name_uuid_clash(const ArrowDef& def) const;
  Status accept_config(const std::string& file_name, const std::string& xml);
  void forget_if_gone(const DomainPtr& dom);           // when no job runs either
  void forget_if_transient_off(const DomainPtr& dom);

  // Files.
  std::string config_path(const std::string& name) const;
  std::string status_path(const std::string& name) const;
  std::string log_path(const std::string& name) const;  // the Arrow's log (engine/log_file.h)
  Status save_config(const ArrowDef& def);
  void write_status(const DomainPtr& dom);
  void remove_status(const DomainPtr& dom);

  // Lifecycle steps (run inside a job).
  void state_job(const DomainRef& ref, DomainOp op, bool idempotent, Reply<void> done,
                 std::function<void(const DomainPtr&)> act);
  void mark_paused(const DomainPtr& dom);
  void start_job(const DomainPtr& dom, unsigned flags, Reply<DomainRef> done);
  void launch(const DomainPtr& dom, int id, std::function<void(Status)> done);
  Result<std::unique_ptr<ArrowLauncher>> make_launcher(const DomainPtr& dom, int id);
  // Restart survival (arrow_reconnect.cc): adopt the QEMUs that the runtime
  // status files name, clean up after those that died.
  void reconnect_all();
  void reconnect(const std::string& name, RuntimeStatus st);
  // The boot watchdog: a guest that sends no Anotify message within
  // conf_.boot_timeout_s of its start is stopped as failed.
  void arm_boot_timer(const DomainPtr& dom);
  void on_boot_timeout(const DomainPtr& dom);
  // Appends "== TEXT ==" to DOM's log file: why it failed, where users look.
  void note_in_log(const DomainPtr& dom, const std::string& text);
  void after_start(const DomainPtr& dom, bool paused, Reply<DomainRef> done);
  std::string managed_save_path(const std::string& name) const;
  void prepare_managed_start(const DomainPtr& dom, const std::string& managed, unsigned flags, bool& paused);
  void save_job(const DomainPtr& dom, const std::string& to, const std::optional<std::string>& dxml, unsigned flags,
                Reply<void> done);
  void finish_job(const DomainPtr& dom);
  void on_app_exited(const DomainPtr& dom, int status, int signal);
  void on_exited(const DomainPtr& dom, ExitCause cause);
  void restart_in_place(const DomainPtr& dom, int id);
  // What the guest reports (arrow_guest_events.cc).
  LaunchEvents launch_events(const DomainPtr& dom);
  void on_anotify(const DomainPtr& dom, const AnotifyEvent& ev);
  void on_app_started(const DomainPtr& dom, uint32_t pid);
  void on_heartbeat_missed(const DomainPtr& dom);
  void emit_started_once(const DomainPtr& dom);
  void publish(const DomainPtr& dom, ArrowEvent ev);
  void publish_guest(const DomainPtr& dom, ArrowEvent ev);
  void guest_log(const DomainPtr& dom, const std::string& text);
  void add_anotify_stats(const ArrowDomain& dom, std::vector<TypedParam>& params) const;
  // GET_ALL_DOMAIN_STATS' per-vCPU (vcpu.N.state, vcpu.N.time) and
  // interface (net.*) records of a running Arrow (arrow_driver_host.cc).
  void add_monitor_stats(const ArrowDomain& dom, unsigned stats, std::vector<TypedParam>& params);
  void stopped(const DomainPtr& dom, int shutoff_reason, int event_detail);
  void retire_launcher(const DomainPtr& dom);
  void autostart_all();

  // Crossbow channels (arrow_driver_channel.cc): a client's stream joined
  // to channel NAME of a running Arrow; FORCE takes it from another client.
  Result<std::shared_ptr<StreamSink>> open_guest_channel(const DomainPtr& dom, const std::string& name, bool force,
                                                         std::shared_ptr<StreamPeer> peer);
  // Adebug (`arrow exec`): the client's stream joined to the exec port.
  Result<std::shared_ptr<StreamSink>> open_exec(const DomainPtr& dom, bool force, std::shared_ptr<StreamPeer> peer);
  // Each channel's socket and whether the guest has its port open.
  std::vector<ChannelLiveData> channel_live_data(const DomainPtr& dom) const;
  // The guest agent client of a running Arrow with an agent channel
  // (arrow_driver_agent.cc), made on first use for each QEMU.
  Result<std::shared_ptr<QemuAgent>> guest_agent(const DomainRef& ref);
  // Whether the agent answered its last command, and when; nullopt when it
  // was never asked during this QEMU's life.
  struct AgentState {
    bool answered = false;
    int64_t last_answer_us = 0;
  };
  std::optional<AgentState> agent_state(const DomainPtr& dom) const;
  // The arrow.agent.* statistics of a running Arrow with an agent channel.
  void add_agent_stats(const DomainPtr& dom, std::vector<TypedParam>& params) const;

  void emit(const DomainPtr& dom, int event, int detail);
  void log(const std::string& line) const;

  ArrowConf conf_;
  DriverOptions options_;
  std::map<std::string, DomainPtr> domains_;  // by name
  int next_id_ = 1;
  EventBus events_;  // the front ends' subscriptions
  std::optional<uint64_t> hypervisor_version_;  // probed once
  ConsoleHub consoles_;  // console sessions, by UUID
  // Clients' channel streams, by UUID and channel name ("UUID/NAME").
  std::map<std::string, std::weak_ptr<ChannelRelay>> channel_relays_;
  // Guest agent clients, by UUID, with the pid of the QEMU they talk to.
  std::map<std::string, std::pair<int, std::shared_ptr<QemuAgent>>> agents_;
};

}  // namespace arrow
