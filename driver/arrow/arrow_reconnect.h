// Surviving a daemon restart: the runtime status file of a running Arrow
// (RUNDIR/NAME.xml, written by the driver) parsed back, the proof that its
// pid still names the same QEMU (pid plus start time), and the removal of
// what a QEMU that died while no daemon ran left behind. The driver's
// reconnect_all() (in arrow_reconnect.cc) ties them together at load().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "domain-xml/arrow_def.h"
#include "driver/arrow/arrow_state.h"
#include "util/result.h"

namespace arrow {

// What <domstatus state= reason= pid= pidstart=><domain id=…>…</domain>
// </domstatus> records about one running Arrow.
struct RuntimeStatus {
  ArrowState state = ArrowState::Shutoff;
  int reason = 0;
  int pid = 0;
  uint64_t pid_start = 0;  // field 22 of /proc/PID/stat when it was written
  int id = -1;
  ArrowDef def;  // the live definition
  std::string image;  // the saved image or template it was restored from ("" when none)
};

// Parses a status file's content. Errors are VIR_ERR_XML_ERROR naming the
// attribute or element at fault; an active state, a positive pid and id are
// required (a status file exists only for an active Arrow).
Result<RuntimeStatus> parse_runtime_status(const std::string& xml);

// True when PID exists, is no zombie and started at START_TICKS (so a
// recycled pid is not taken for the QEMU that had it).
bool same_process(int pid, uint64_t start_ticks);

// SIGKILLs the QEMU of Arrow NAME at PID, through a pidfd (kill() after a
// last start-time check on a kernel without pidfds), only when it still is
// that process: same start time and a command line naming guest=NAME.
// Used when an adopted QEMU cannot be reconnected: it must not run on
// unmanaged. True when the signal was sent.
bool kill_unmanaged_qemu(int pid, uint64_t start_ticks, const std::string& name);

// Removes what an Arrow's QEMU leaves under RUN_DIR (the per-Arrow socket
// directory): the QMP, console and Anotify sockets, the pid file, then the
// directory when empty. Only these names: nothing else is deleted.
void remove_runtime_leftovers(const std::string& run_dir);

}  // namespace arrow
