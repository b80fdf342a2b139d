// The declarative table of the REMOTE program's procedures: one row for each
// of libvirt 9.0's procedures 1..443, sorted by number, naming its handler
// (none: NO_SUPPORT) and whether a read-only connection may call it. Numbers
// past the table, and the event messages only the server sends, get libvirt's
// "unknown procedure" answer.
#pragma once

#include <span>

#include "driver/remote/remote_call.h"

namespace arrow::remote {

enum class Access {
  ReadOnly,  // allowed on read-only connections
  Write,     // refused there with OPERATION_DENIED, implemented or not
  Event,     // a message the server sends (DOMAIN_EVENT_*): never a call
};

struct ProcRow {
  int number;
  const char* name;  // REMOTE_PROC_ without the prefix
  const char* api;   // the libvirt API it serves, for messages; nullptr for events
  Access access;
  Handler handler;   // nullptr: known but not implemented
};

std::span<const ProcRow> proc_table();
// The row of NUMBER, or nullptr when the procedure is unknown.
const ProcRow* find_proc(int number);
// The row of a procedure a client may call: as find_proc, but nullptr for
// event messages too (libvirtd answers "unknown procedure" for both).
const ProcRow* find_callable_proc(int number);
// The virErrorDomain for errors of ROW (domain, storage, network, nodedev, none).
ErrorDomain error_domain_of(const ProcRow& row);
// True for the procedures a client may call before CONNECT_OPEN.
bool allowed_before_open(const ProcRow& row);
// The number of the procedure called NAME (REMOTE_PROC_ without the prefix);
// 0 when there is none.
int proc_number(const char* name);

}  // namespace arrow::remote
