// The handlers of the procedures virtarrowd implements, one per procedure,
// named after the REMOTE_PROC_ they serve; the table in driver/remote/remote_procs.cc
// refers to them. remote_connect.cc: connection, host, events;
// remote_domain.cc: domains; remote_host.cc: host statistics;
// remote_monitor.cc: domain monitoring.
#pragma once

#include "driver/remote/remote_call.h"

namespace arrow::remote::procs {

// Connection and host.
Status connect_open(Call&, XdrWriter&);
Status connect_close(Call&, XdrWriter&);
Status connect_get_type(Call&, XdrWriter&);
Status connect_get_version(Call&, XdrWriter&);
Status node_get_info(Call&, XdrWriter&);
Status connect_get_capabilities(Call&, XdrWriter&);
Status connect_get_hostname(Call&, XdrWriter&);
Status connect_supports_feature(Call&, XdrWriter&);
Status auth_list(Call&, XdrWriter&);
Status connect_get_uri(Call&, XdrWriter&);
Status node_get_security_model(Call&, XdrWriter&);
Status connect_is_secure(Call&, XdrWriter&);
Status connect_get_lib_version(Call&, XdrWriter&);
Status connect_get_sysinfo(Call&, XdrWriter&);
Status node_get_cpu_map(Call&, XdrWriter&);
Status secret_lookup_by_usage(Call&, XdrWriter&);
Status connect_get_domain_capabilities(Call&, XdrWriter&);
Status connect_register_close_callback(Call&, XdrWriter&);
Status connect_unregister_close_callback(Call&, XdrWriter&);

// Events.
Status connect_domain_event_register_any(Call&, XdrWriter&);
Status connect_domain_event_deregister_any(Call&, XdrWriter&);
Status connect_domain_event_callback_register_any(Call&, XdrWriter&);
Status connect_domain_event_callback_deregister_any(Call&, XdrWriter&);

// Listing and lookup.
Status connect_list_all_domains(Call&, XdrWriter&);
Status connect_num_of_domains(Call&, XdrWriter&);
Status connect_list_domains(Call&, XdrWriter&);
Status connect_num_of_defined_domains(Call&, XdrWriter&);
Status connect_list_defined_domains(Call&, XdrWriter&);
Status domain_lookup_by_id(Call&, XdrWriter&);
Status domain_lookup_by_name(Call&, XdrWriter&);
Status domain_lookup_by_uuid(Call&, XdrWriter&);

// Definition and lifecycle.
Status domain_define_xml(Call&, XdrWriter&);
Status domain_define_xml_flags(Call&, XdrWriter&);
Status domain_undefine(Call&, XdrWriter&);
Status domain_undefine_flags(Call&, XdrWriter&);
Status domain_create(Call&, XdrWriter&);
Status domain_create_with_flags(Call&, XdrWriter&);
Status domain_create_xml(Call&, XdrWriter&);
Status domain_destroy(Call&, XdrWriter&);
Status domain_destroy_flags(Call&, XdrWriter&);
Status domain_shutdown(Call&, XdrWriter&);
Status domain_shutdown_flags(Call&, XdrWriter&);
Status domain_reboot(Call&, XdrWriter&);
Status domain_suspend(Call&, XdrWriter&);
Status domain_resume(Call&, XdrWriter&);
Status domain_set_autostart(Call&, XdrWriter&);

// Information.
Status domain_get_info(Call&, XdrWriter&);
Status domain_get_state(Call&, XdrWriter&);
Status domain_get_xml_desc(Call&, XdrWriter&);
Status domain_get_autostart(Call&, XdrWriter&);
Status domain_get_max_memory(Call&, XdrWriter&);
Status domain_get_os_type(Call&, XdrWriter&);
Status domain_is_active(Call&, XdrWriter&);
Status domain_is_persistent(Call&, XdrWriter&);
Status domain_is_updated(Call&, XdrWriter&);
Status domain_has_managed_save_image(Call&, XdrWriter&);
Status domain_save(Call&, XdrWriter&);
Status domain_save_flags(Call&, XdrWriter&);
Status domain_restore(Call&, XdrWriter&);
Status domain_restore_flags(Call&, XdrWriter&);
Status domain_save_image_get_xml_desc(Call&, XdrWriter&);
Status domain_save_image_define_xml(Call&, XdrWriter&);
Status domain_managed_save(Call&, XdrWriter&);
Status domain_managed_save_remove(Call&, XdrWriter&);
Status domain_managed_save_get_xml_desc(Call&, XdrWriter&);
Status domain_managed_save_define_xml(Call&, XdrWriter&);
Status domain_list_all_snapshots(Call&, XdrWriter&);
Status domain_snapshot_num(Call&, XdrWriter&);
Status domain_get_metadata(Call&, XdrWriter&);
Status domain_set_metadata(Call&, XdrWriter&);
Status domain_get_job_info(Call&, XdrWriter&);

// The balloon.
Status domain_set_memory(Call&, XdrWriter&);
Status domain_set_memory_flags(Call&, XdrWriter&);
Status domain_memory_stats(Call&, XdrWriter&);
Status domain_set_memory_stats_period(Call&, XdrWriter&);
Status connect_get_all_domain_stats(Call&, XdrWriter&);

// Streams and signals (remote_stream.cc).
Status domain_open_console(Call&, XdrWriter&);
Status domain_open_channel(Call&, XdrWriter&);
// The guest agent's procedures (remote_agent.cc).
Status domain_get_hostname(Call&, XdrWriter&);
Status domain_get_time(Call&, XdrWriter&);
Status domain_set_time(Call&, XdrWriter&);
Status domain_get_fsinfo(Call&, XdrWriter&);
Status domain_get_guest_info(Call&, XdrWriter&);
Status domain_send_process_signal(Call&, XdrWriter&);

// Host statistics (remote_host.cc).
Status node_get_cpu_stats(Call&, XdrWriter&);
Status node_get_memory_stats(Call&, XdrWriter&);
Status node_get_free_memory(Call&, XdrWriter&);
Status node_get_cells_free_memory(Call&, XdrWriter&);
Status node_get_free_pages(Call&, XdrWriter&);
Status connect_get_cpu_model_names(Call&, XdrWriter&);
Status connect_get_max_vcpus(Call&, XdrWriter&);

// Domain monitoring (remote_monitor.cc).
Status domain_get_vcpus(Call&, XdrWriter&);
Status domain_get_vcpus_flags(Call&, XdrWriter&);
Status domain_get_max_vcpus(Call&, XdrWriter&);
Status domain_get_vcpu_pin_info(Call&, XdrWriter&);
Status domain_get_emulator_pin_info(Call&, XdrWriter&);
Status domain_get_cpu_stats(Call&, XdrWriter&);
Status domain_interface_stats(Call&, XdrWriter&);
Status domain_interface_addresses(Call&, XdrWriter&);
Status domain_get_scheduler_type(Call&, XdrWriter&);
Status domain_get_scheduler_parameters(Call&, XdrWriter&);
Status domain_get_scheduler_parameters_flags(Call&, XdrWriter&);
Status domain_get_control_info(Call&, XdrWriter&);
Status domain_get_memory_parameters(Call&, XdrWriter&);
Status domain_get_block_info(Call&, XdrWriter&);
Status domain_block_stats(Call&, XdrWriter&);
Status domain_block_stats_flags(Call&, XdrWriter&);
Status domain_get_disk_errors(Call&, XdrWriter&);
Status domain_get_iothread_info(Call&, XdrWriter&);

}  // namespace arrow::remote::procs
