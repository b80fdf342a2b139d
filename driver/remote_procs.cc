// The REMOTE program's procedure table (see remote_procs.h). Numbers and
// names are libvirt 9.0's remote_protocol.x; Access follows the client
// library's read-only checks. Rows without a handler answer NO_SUPPORT.
#include "driver/remote_procs.h"

#include <algorithm>
#include <cstring>

#include "driver/rpc/procs.h"

namespace arrow::rpc {

namespace {

using namespace procs;
constexpr Access R = Access::ReadOnly;
constexpr Access W = Access::Write;

// clang-format off
constexpr ProcRow kProcs[] = {
  {1, "CONNECT_OPEN", "virConnectOpen", R, connect_open},
  {2, "CONNECT_CLOSE", "virConnectClose", R, connect_close},
  {3, "CONNECT_GET_TYPE", "virConnectGetType", R, connect_get_type},
  {4, "CONNECT_GET_VERSION", "virConnectGetVersion", R, connect_get_version},
  {5, "CONNECT_GET_MAX_VCPUS", "virConnectGetMaxVcpus", R, nullptr},
  {6, "NODE_GET_INFO", "virNodeGetInfo", R, node_get_info},
  {7, "CONNECT_GET_CAPABILITIES", "virConnectGetCapabilities", R, connect_get_capabilities},
  {8, "DOMAIN_ATTACH_DEVICE", "virDomainAttachDevice", W, nullptr},
  {9, "DOMAIN_CREATE", "virDomainCreate", W, domain_create},
  {10, "DOMAIN_CREATE_XML", "virDomainCreateXML", W, domain_create_xml},
  {11, "DOMAIN_DEFINE_XML", "virDomainDefineXML", W, domain_define_xml},
  {12, "DOMAIN_DESTROY", "virDomainDestroy", W, domain_destroy},
  {13, "DOMAIN_DETACH_DEVICE", "virDomainDetachDevice", W, nullptr},
  {14, "DOMAIN_GET_XML_DESC", "virDomainGetXMLDesc", R, domain_get_xml_desc},
  {15, "DOMAIN_GET_AUTOSTART", "virDomainGetAutostart", R, domain_get_autostart},
  {16, "DOMAIN_GET_INFO", "virDomainGetInfo", R, domain_get_info},
  {17, "DOMAIN_GET_MAX_MEMORY", "virDomainGetMaxMemory", R, domain_get_max_memory},
  {18, "DOMAIN_GET_MAX_VCPUS", "virDomainGetMaxVcpus", R, nullptr},
  {19, "DOMAIN_GET_OS_TYPE", "virDomainGetOSType", R, domain_get_os_type},
  {20, "DOMAIN_GET_VCPUS", "virDomainGetVcpus", R, nullptr},
  {21, "CONNECT_LIST_DEFINED_DOMAINS", "virConnectListDefinedDomains", R, connect_list_defined_domains},
  {22, "DOMAIN_LOOKUP_BY_ID", "virDomainLookupByID", R, domain_lookup_by_id},
  {23, "DOMAIN_LOOKUP_BY_NAME", "virDomainLookupByName", R, domain_lookup_by_name},
  {24, "DOMAIN_LOOKUP_BY_UUID", "virDomainLookupByUUID", R, domain_lookup_by_uuid},
  {25, "CONNECT_NUM_OF_DEFINED_DOMAINS", "virConnectNumOfDefinedDomains", R, connect_num_of_defined_domains},
  {26, "DOMAIN_PIN_VCPU", "virDomainPinVcpu", W, nullptr},
  {27, "DOMAIN_REBOOT", "virDomainReboot", W, domain_reboot},
  {28, "DOMAIN_RESUME", "virDomainResume", W, domain_resume},
  {29, "DOMAIN_SET_AUTOSTART", "virDomainSetAutostart", W, domain_set_autostart},
  {30, "DOMAIN_SET_MAX_MEMORY", "virDomainSetMaxMemory", W, nullptr},
  {31, "DOMAIN_SET_MEMORY", "virDomainSetMemory", W, nullptr},
  {32, "DOMAIN_SET_VCPUS", "virDomainSetVcpus", W, nullptr},
  {33, "DOMAIN_SHUTDOWN", "virDomainShutdown", W, domain_shutdown},
  {34, "DOMAIN_SUSPEND", "virDomainSuspend", W, domain_suspend},
  {35, "DOMAIN_UNDEFINE", "virDomainUndefine", W, domain_undefine},
  {36, "CONNECT_LIST_DEFINED_NETWORKS", "virConnectListDefinedNetworks", R, nullptr},
  {37, "CONNECT_LIST_DOMAINS", "virConnectListDomains", R, connect_list_domains},
  {38, "CONNECT_LIST_NETWORKS", "virConnectListNetworks", R, nullptr},
  {39, "NETWORK_CREATE", "virNetworkCreate", W, nullptr},
  {40, "NETWORK_CREATE_XML", "virNetworkCreateXML", W, nullptr},
  {41, "NETWORK_DEFINE_XML", "virNetworkDefineXML", W, nullptr},
  {42, "NETWORK_DESTROY", "virNetworkDestroy", W, nullptr},
  {43, "NETWORK_GET_XML_DESC", "virNetworkGetXMLDesc", R, nullptr},
  {44, "NETWORK_GET_AUTOSTART", "virNetworkGetAutostart", R, nullptr},
  {45, "NETWORK_GET_BRIDGE_NAME", "virNetworkGetBridgeName", R, nullptr},
  {46, "NETWORK_LOOKUP_BY_NAME", "virNetworkLookupByName", R, nullptr},
  {47, "NETWORK_LOOKUP_BY_UUID", "virNetworkLookupByUUID", R, nullptr},
  {48, "NETWORK_SET_AUTOSTART", "virNetworkSetAutostart", W, nullptr},
  {49, "NETWORK_UNDEFINE", "virNetworkUndefine", W, nullptr},
  {50, "CONNECT_NUM_OF_DEFINED_NETWORKS", "virConnectNumOfDefinedNetworks", R, nullptr},
  {51, "CONNECT_NUM_OF_DOMAINS", "virConnectNumOfDomains", R, connect_num_of_domains},
  {52, "CONNECT_NUM_OF_NETWORKS", "virConnectNumOfNetworks", R, nullptr},
  {53, "DOMAIN_CORE_DUMP", "virDomainCoreDump", W, nullptr},
  {54, "DOMAIN_RESTORE", "virDomainRestore", W, nullptr},
  {55, "DOMAIN_SAVE", "virDomainSave", W, nullptr},
  {56, "DOMAIN_GET_SCHEDULER_TYPE", "virDomainGetSchedulerType", R, nullptr},
  {57, "DOMAIN_GET_SCHEDULER_PARAMETERS", "virDomainGetSchedulerParameters", R, nullptr},
  {58, "DOMAIN_SET_SCHEDULER_PARAMETERS", "virDomainSetSchedulerParameters", W, nullptr},
  {59, "CONNECT_GET_HOSTNAME", "virConnectGetHostname", R, connect_get_hostname},
  {60, "CONNECT_SUPPORTS_FEATURE", "virConnectSupportsFeature", R, connect_supports_feature},
  {61, "DOMAIN_MIGRATE_PREPARE", "virDomainMigratePrepare", W, nullptr},
  {62, "DOMAIN_MIGRATE_PERFORM", "virDomainMigratePerform", W, nullptr},
  {63, "DOMAIN_MIGRATE_FINISH", "virDomainMigrateFinish", W, nullptr},
  {64, "DOMAIN_BLOCK_STATS", "virDomainBlockStats", R, nullptr},
  {65, "DOMAIN_INTERFACE_STATS", "virDomainInterfaceStats", R, nullptr},
  {66, "AUTH_LIST", "virConnectAuthList", R, auth_list},
  {67, "AUTH_SASL_INIT", "virConnectAuthSaslInit", R, nullptr},
  {68, "AUTH_SASL_START", "virConnectAuthSaslStart", R, nullptr},
  {69, "AUTH_SASL_STEP", "virConnectAuthSaslStep", R, nullptr},
  {70, "AUTH_POLKIT", "virConnectAuthPolkit", R, nullptr},
  {71, "CONNECT_NUM_OF_STORAGE_POOLS", "virConnectNumOfStoragePools", R, nullptr},
  {72, "CONNECT_LIST_STORAGE_POOLS", "virConnectListStoragePools", R, nullptr},
  {73, "CONNECT_NUM_OF_DEFINED_STORAGE_POOLS", "virConnectNumOfDefinedStoragePools", R, nullptr},
  {74, "CONNECT_LIST_DEFINED_STORAGE_POOLS", "virConnectListDefinedStoragePools", R, nullptr},
  {75, "CONNECT_FIND_STORAGE_POOL_SOURCES", "virConnectFindStoragePoolSources", W, nullptr},
  {76, "STORAGE_POOL_CREATE_XML", "virStoragePoolCreateXML", W, nullptr},
  {77, "STORAGE_POOL_DEFINE_XML", "virStoragePoolDefineXML", W, nullptr},
  {78, "STORAGE_POOL_CREATE", "virStoragePoolCreate", W, nullptr},
  {79, "STORAGE_POOL_BUILD", "virStoragePoolBuild", W, nullptr},
  {80, "STORAGE_POOL_DESTROY", "virStoragePoolDestroy", W, nullptr},
  {81, "STORAGE_POOL_DELETE", "virStoragePoolDelete", W, nullptr},
  {82, "STORAGE_POOL_UNDEFINE", "virStoragePoolUndefine", W, nullptr},
  {83, "STORAGE_POOL_REFRESH", "virStoragePoolRefresh", W, nullptr},
  {84, "STORAGE_POOL_LOOKUP_BY_NAME", "virStoragePoolLookupByName", R, nullptr},
  {85, "STORAGE_POOL_LOOKUP_BY_UUID", "virStoragePoolLookupByUUID", R, nullptr},
  {86, "STORAGE_POOL_LOOKUP_BY_VOLUME", "virStoragePoolLookupByVolume", R, nullptr},
  {87, "STORAGE_POOL_GET_INFO", "virStoragePoolGetInfo", R, nullptr},
  {88, "STORAGE_POOL_GET_XML_DESC", "virStoragePoolGetXMLDesc", R, nullptr},
  {89, "STORAGE_POOL_GET_AUTOSTART", "virStoragePoolGetAutostart", R, nullptr},
  {90, "STORAGE_POOL_SET_AUTOSTART", "virStoragePoolSetAutostart", W, nullptr},
  {91, "STORAGE_POOL_NUM_OF_VOLUMES", "virStoragePoolNumOfVolumes", R, nullptr},
  {92, "STORAGE_POOL_LIST_VOLUMES", "virStoragePoolListVolumes", R, nullptr},
  {93, "STORAGE_VOL_CREATE_XML", "virStorageVolCreateXML", W, nullptr},
  {94, "STORAGE_VOL_DELETE", "virStorageVolDelete", W, nullptr},
  {95, "STORAGE_VOL_LOOKUP_BY_NAME", "virStorageVolLookupByName", R, nullptr},
  {96, "STORAGE_VOL_LOOKUP_BY_KEY", "virStorageVolLookupByKey", R, nullptr},
  {97, "STORAGE_VOL_LOOKUP_BY_PATH", "virStorageVolLookupByPath", R, nullptr},
  {98, "STORAGE_VOL_GET_INFO", "virStorageVolGetInfo", R, nullptr},
  {99, "STORAGE_VOL_GET_XML_DESC", "virStorageVolGetXMLDesc", R, nullptr},
  {100, "STORAGE_VOL_GET_PATH", "virStorageVolGetPath", R, nullptr},
  {101, "NODE_GET_CELLS_FREE_MEMORY", "virNodeGetCellsFreeMemory", R, nullptr},
  {102, "NODE_GET_FREE_MEMORY", "virNodeGetFreeMemory", R, nullptr},
  {103, "DOMAIN_BLOCK_PEEK", "virDomainBlockPeek", W, nullptr},
  {104, "DOMAIN_MEMORY_PEEK", "virDomainMemoryPeek", W, nullptr},
  {105, "CONNECT_DOMAIN_EVENT_REGISTER", "virConnectDomainEventRegister", R, nullptr},
  {106, "CONNECT_DOMAIN_EVENT_DEREGISTER", "virConnectDomainEventDeregister", R, nullptr},
  {108, "DOMAIN_MIGRATE_PREPARE2", "virDomainMigratePrepare2", W, nullptr},
  {109, "DOMAIN_MIGRATE_FINISH2", "virDomainMigrateFinish2", W, nullptr},
  {110, "CONNECT_GET_URI", "virConnectGetURI", R, connect_get_uri},
  {111, "NODE_NUM_OF_DEVICES", "virNodeNumOfDevices", R, nullptr},
  {112, "NODE_LIST_DEVICES", "virNodeListDevices", R, nullptr},
  {113, "NODE_DEVICE_LOOKUP_BY_NAME", "virNodeDeviceLookupByName", R, nullptr},
  {114, "NODE_DEVICE_GET_XML_DESC", "virNodeDeviceGetXMLDesc", R, nullptr},
  {115, "NODE_DEVICE_GET_PARENT", "virNodeDeviceGetParent", R, nullptr},
  {116, "NODE_DEVICE_NUM_OF_CAPS", "virNodeDeviceNumOfCaps", R, nullptr},
  {117, "NODE_DEVICE_LIST_CAPS", "virNodeDeviceListCaps", R, nullptr},
  {118, "NODE_DEVICE_DETTACH", "virNodeDeviceDettach", W, nullptr},
  {119, "NODE_DEVICE_RE_ATTACH", "virNodeDeviceReAttach", W, nullptr},
  {120, "NODE_DEVICE_RESET", "virNodeDeviceReset", W, nullptr},
  {121, "DOMAIN_GET_SECURITY_LABEL", "virDomainGetSecurityLabel", R, nullptr},
  {122, "NODE_GET_SECURITY_MODEL", "virNodeGetSecurityModel", R, node_get_security_model},
  {147, "SECRET_LOOKUP_BY_USAGE", "virSecretLookupByUsage", R, nullptr},
  {149, "CONNECT_IS_SECURE", "virConnectIsSecure", R, connect_is_secure},
  {150, "DOMAIN_IS_ACTIVE", "virDomainIsActive", R, domain_is_active},
  {151, "DOMAIN_IS_PERSISTENT", "virDomainIsPersistent", R, domain_is_persistent},
  {157, "CONNECT_GET_LIB_VERSION", "virConnectGetLibVersion", R, connect_get_lib_version},
  {158, "CONNECT_COMPARE_CPU", "virConnectCompareCPU", R, nullptr},
  {159, "DOMAIN_MEMORY_STATS", "virDomainMemoryStats", R, nullptr},
  {160, "DOMAIN_ATTACH_DEVICE_FLAGS", "virDomainAttachDeviceFlags", W, nullptr},
  {161, "DOMAIN_DETACH_DEVICE_FLAGS", "virDomainDetachDeviceFlags", W, nullptr},
  {162, "CONNECT_BASELINE_CPU", "virConnectBaselineCPU", R, nullptr},
  {163, "DOMAIN_GET_JOB_INFO", "virDomainGetJobInfo", R, domain_get_job_info},
  {167, "CONNECT_DOMAIN_EVENT_REGISTER_ANY", "virConnectDomainEventRegisterAny", R,
   connect_domain_event_register_any},
  {168, "CONNECT_DOMAIN_EVENT_DEREGISTER_ANY", "virConnectDomainEventDeregisterAny", R,
   connect_domain_event_deregister_any},
  {182, "DOMAIN_MANAGED_SAVE", "virDomainManagedSave", W, nullptr},
  {183, "DOMAIN_HAS_MANAGED_SAVE_IMAGE", "virDomainHasManagedSaveImage", R, domain_has_managed_save_image},
  {187, "DOMAIN_SNAPSHOT_NUM", "virDomainSnapshotNum", R, domain_snapshot_num},
  {196, "DOMAIN_CREATE_WITH_FLAGS", "virDomainCreateWithFlags", W, domain_create_with_flags},
  {200, "DOMAIN_GET_VCPUS_FLAGS", "virDomainGetVcpusFlags", R, nullptr},
  {201, "DOMAIN_OPEN_CONSOLE", "virDomainOpenConsole", W, nullptr},
  {202, "DOMAIN_IS_UPDATED", "virDomainIsUpdated", R, domain_is_updated},
  {203, "CONNECT_GET_SYSINFO", "virConnectGetSysinfo", R, connect_get_sysinfo},
  {212, "DOMAIN_GET_STATE", "virDomainGetState", R, domain_get_state},
  {227, "NODE_GET_CPU_STATS", "virNodeGetCPUStats", R, nullptr},
  {228, "NODE_GET_MEMORY_STATS", "virNodeGetMemoryStats", R, nullptr},
  {229, "DOMAIN_GET_CONTROL_INFO", "virDomainGetControlInfo", R, nullptr},
  {231, "DOMAIN_UNDEFINE_FLAGS", "virDomainUndefineFlags", W, domain_undefine_flags},
  {234, "DOMAIN_DESTROY_FLAGS", "virDomainDestroyFlags", W, domain_destroy_flags},
  {245, "DOMAIN_RESET", "virDomainReset", W, nullptr},
  {258, "DOMAIN_SHUTDOWN_FLAGS", "virDomainShutdownFlags", W, domain_shutdown_flags},
  {264, "DOMAIN_SET_METADATA", "virDomainSetMetadata", W, nullptr},
  {265, "DOMAIN_GET_METADATA", "virDomainGetMetadata", R, domain_get_metadata},
  {273, "CONNECT_LIST_ALL_DOMAINS", "virConnectListAllDomains", R, connect_list_all_domains},
  {274, "DOMAIN_LIST_ALL_SNAPSHOTS", "virDomainListAllSnapshots", R, domain_list_all_snapshots},
  {277, "DOMAIN_GET_HOSTNAME", "virDomainGetHostname", W, nullptr},
  {281, "CONNECT_LIST_ALL_STORAGE_POOLS", "virConnectListAllStoragePools", R, nullptr},
  {283, "CONNECT_LIST_ALL_NETWORKS", "virConnectListAllNetworks", R, nullptr},
  {284, "CONNECT_LIST_ALL_INTERFACES", "virConnectListAllInterfaces", R, nullptr},
  {285, "CONNECT_LIST_ALL_NODE_DEVICES", "virConnectListAllNodeDevices", R, nullptr},
  {287, "CONNECT_LIST_ALL_SECRETS", "virConnectListAllSecrets", R, nullptr},
  {293, "NODE_GET_CPU_MAP", "virNodeGetCPUMap", R, node_get_cpu_map},
  {296, "DOMAIN_OPEN_CHANNEL", "virDomainOpenChannel", W, nullptr},
  {298, "DOMAIN_GET_JOB_STATS", "virDomainGetJobStats", R, nullptr},
  {312, "CONNECT_GET_CPU_MODEL_NAMES", "virConnectGetCPUModelNames", R, nullptr},
  {313, "CONNECT_NETWORK_EVENT_REGISTER_ANY", "virConnectNetworkEventRegisterAny", R, nullptr},
  {314, "CONNECT_NETWORK_EVENT_DEREGISTER_ANY", "virConnectNetworkEventDeregisterAny", R, nullptr},
  {316, "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", "virConnectDomainEventRegisterAny", R,
   connect_domain_event_callback_register_any},
  {317, "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", "virConnectDomainEventDeregisterAny", R,
   connect_domain_event_callback_deregister_any},
  {338, "DOMAIN_SET_TIME", "virDomainSetTime", W, nullptr},
  {342, "CONNECT_GET_DOMAIN_CAPABILITIES", "virConnectGetDomainCapabilities", W,
   connect_get_domain_capabilities},
  {344, "CONNECT_GET_ALL_DOMAIN_STATS", "virConnectGetAllDomainStats", R, connect_get_all_domain_stats},
  {350, "DOMAIN_DEFINE_XML_FLAGS", "virDomainDefineXMLFlags", W, domain_define_xml_flags},
  {353, "DOMAIN_INTERFACE_ADDRESSES", "virDomainInterfaceAddresses", R, nullptr},
  {360, "CONNECT_REGISTER_CLOSE_CALLBACK", "virConnectRegisterCloseCallback", R,
   connect_register_close_callback},
  {361, "CONNECT_UNREGISTER_CLOSE_CALLBACK", "virConnectUnregisterCloseCallback", R,
   connect_unregister_close_callback},
  {368, "CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY", "virConnectStoragePoolEventRegisterAny", R, nullptr},
  {369, "CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY", "virConnectStoragePoolEventDeregisterAny", R, nullptr},
  {374, "CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY", "virConnectNodeDeviceEventRegisterAny", R, nullptr},
  {375, "CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY", "virConnectNodeDeviceEventDeregisterAny", R, nullptr},
  {380, "CONNECT_SECRET_EVENT_REGISTER_ANY", "virConnectSecretEventRegisterAny", R, nullptr},
  {381, "CONNECT_SECRET_EVENT_DEREGISTER_ANY", "virConnectSecretEventDeregisterAny", R, nullptr},
  {426, "DOMAIN_GET_MESSAGES", "virDomainGetMessages", R, nullptr},
};
// clang-format on

constexpr bool sorted_unique() {
  for (size_t i = 1; i < std::size(kProcs); i++) {
    if (kProcs[i - 1].number >= kProcs[i].number) return false;
  }
  return true;
}
static_assert(sorted_unique(), "the procedure table must be sorted by number, one row per procedure");

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

}  // namespace

std::span<const ProcRow> proc_table() { return kProcs; }

const ProcRow* find_proc(int number) {
  auto it = std::lower_bound(std::begin(kProcs), std::end(kProcs), number,
                             [](const ProcRow& row, int n) { return row.number < n; });
  return it != std::end(kProcs) && it->number == number ? &*it : nullptr;
}

ErrorDomain error_domain_of(const ProcRow& row) {
  if (starts_with(row.name, "DOMAIN_") || std::strstr(row.name, "_DOMAIN")) return ErrorDomain::Domain;
  if (starts_with(row.name, "STORAGE_") || std::strstr(row.name, "STORAGE_POOL")) return ErrorDomain::Storage;
  if (starts_with(row.name, "NETWORK_") || std::strstr(row.name, "NETWORK")) return ErrorDomain::Network;
  if (starts_with(row.name, "NODE_DEVICE") || std::strstr(row.name, "NODE_DEVICE") ||
      std::strstr(row.name, "DEVICES")) {
    return ErrorDomain::NodeDev;
  }
  return ErrorDomain::None;
}

bool allowed_before_open(const ProcRow& row) {
  return row.number == 1 || row.number == 60 || starts_with(row.name, "AUTH_");
}

}  // namespace arrow::rpc
