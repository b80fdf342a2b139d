// The lifecycle state machine of an Arrow as one explicit table: which
// lifecycle states allow which operation, and the error (worded as libvirt's
// QEMU driver words it) that each refused combination gives.
#pragma once

#include <string>

#include "util/result.h"

namespace arrow {

// The states an Arrow can be in. Each maps to one virDomainState; CRASHED and
// PMSUSPENDED never occur (on_crash is destroy or restart, no guest PM).
enum class ArrowState {
  Shutoff,       // VIR_DOMAIN_SHUTOFF: no QEMU
  Running,       // VIR_DOMAIN_RUNNING
  Paused,        // VIR_DOMAIN_PAUSED: vCPUs stopped (QMP stop)
  ShuttingDown,  // VIR_DOMAIN_SHUTDOWN: the application ended, QEMU not yet gone
};
inline constexpr int kArrowStateCount = 4;

// The state-changing operations. Read-only calls are allowed in every state
// and do not appear here.
enum class DomainOp {
  Define,        // virDomainDefineXML over an existing name
  Undefine,      // virDomainUndefine(Flags): persistence is checked apart
  Start,         // virDomainCreate(WithFlags)
  Destroy,       // virDomainDestroy(Flags)
  Shutdown,      // virDomainShutdown(Flags)
  Reboot,        // virDomainReboot
  Suspend,       // virDomainSuspend
  Resume,        // virDomainResume
  SetAutostart,  // virDomainSetAutostart: persistence is checked apart
};
inline constexpr int kDomainOpCount = 9;

// The answer of the table for one (operation, state).
enum class StateVerdict {
  Allow,           // perform the operation
  AlreadyDone,     // succeed without doing anything (suspend a paused Arrow)
  NotRunning,      // VIR_ERR_OPERATION_INVALID "domain is not running"
  AlreadyRunning,  // VIR_ERR_OPERATION_INVALID "domain is already running"
};

// libvirt's virDomainState number for STATE.
int arrow_state_to_vir(ArrowState state);

// Stable lowercase names ("shutoff", "running", …): one table for format and parse.
const char* arrow_state_name(ArrowState state);
Result<ArrowState> arrow_state_parse(const std::string& name);
const char* domain_op_name(DomainOp op);

// The table lookup, without side effects.
StateVerdict state_verdict(DomainOp op, ArrowState state);

// The verdict as a Status: Allow and AlreadyDone are ok (ALREADY_DONE is set
// to tell them apart when non-null); refusals carry libvirt's error.
Status check_state(DomainOp op, ArrowState state, bool* already_done = nullptr);

}  // namespace arrow
