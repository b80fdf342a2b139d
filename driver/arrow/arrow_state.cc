// The lifecycle state table: every (operation, state) pair answered in one
// place (see arrow_state.h).
#include "driver/arrow/arrow_state.h"

#include <libvirt/libvirt.h>

#include "util/i18n.h"

namespace arrow {

namespace {

struct StateRow {
  ArrowState state;
  const char* name;
  int vir_state;
};

// Indexed by ArrowState.
constexpr StateRow kStates[kArrowStateCount] = {
    {ArrowState::Shutoff, "shutoff", VIR_DOMAIN_SHUTOFF},
    {ArrowState::Running, "running", VIR_DOMAIN_RUNNING},
    {ArrowState::Paused, "paused", VIR_DOMAIN_PAUSED},
    {ArrowState::ShuttingDown, "shutdown", VIR_DOMAIN_SHUTDOWN},
};

constexpr StateVerdict A = StateVerdict::Allow;
constexpr StateVerdict D = StateVerdict::AlreadyDone;
constexpr StateVerdict N = StateVerdict::NotRunning;
constexpr StateVerdict R = StateVerdict::AlreadyRunning;

struct OpRow {
  DomainOp op;
  const char* name;
  // Columns in ArrowState order: Shutoff, Running, Paused, ShuttingDown.
  StateVerdict verdict[kArrowStateCount];
};

// The lifecycle table. Reasons for the less obvious cells, following
// libvirt's QEMU driver (what a libvirt user already knows):
// - Shutdown and Reboot need RUNNING: a paused guest cannot act on the request;
//   a second shutdown while the application is ending is a harmless no-op.
// - Suspend of a paused Arrow and Resume of a running one succeed doing nothing.
// - Resume while shutting down has nothing to resume; destroy is always the
//   way out of every active state.
// - Define and SetAutostart touch only the persistent config; Undefine of an
//   active persistent Arrow makes it transient (checked by the driver).
constexpr OpRow kOps[kDomainOpCount] = {
    //                                        Shutoff Running Paused ShuttingDown
    {DomainOp::Define, "define", {A, A, A, A}},
    {DomainOp::Undefine, "undefine", {A, A, A, A}},
    {DomainOp::Start, "start", {A, R, R, R}},
    {DomainOp::Destroy, "destroy", {N, A, A, A}},
    {DomainOp::Shutdown, "shutdown", {N, A, N, D}},
    {DomainOp::Reboot, "reboot", {N, A, N, N}},
    {DomainOp::Suspend, "suspend", {N, A, D, N}},
    {DomainOp::Resume, "resume", {N, D, A, N}},
    {DomainOp::SetAutostart, "set-autostart", {A, A, A, A}},
};

// The tables are indexed by the enums: keep each row at its enum's position.
constexpr bool tables_in_enum_order() {
  for (int i = 0; i < kArrowStateCount; ++i)
    if (static_cast<int>(kStates[i].state) != i) return false;
  for (int i = 0; i < kDomainOpCount; ++i)
    if (static_cast<int>(kOps[i].op) != i) return false;
  return true;
}
static_assert(tables_in_enum_order());

}  // namespace

int arrow_state_to_vir(ArrowState state) { return kStates[static_cast<int>(state)].vir_state; }

const char* arrow_state_name(ArrowState state) { return kStates[static_cast<int>(state)].name; }

Result<ArrowState> arrow_state_parse(const std::string& name) {
  for (const StateRow& row : kStates)
    if (name == row.name) return row.state;
  return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("unknown domain state '%1$s'"), name.c_str()));
}

const char* domain_op_name(DomainOp op) { return kOps[static_cast<int>(op)].name; }

StateVerdict state_verdict(DomainOp op, ArrowState state) {
  return kOps[static_cast<int>(op)].verdict[static_cast<int>(state)];
}

Status check_state(DomainOp op, ArrowState state, bool* already_done) {
  StateVerdict verdict = state_verdict(op, state);
  if (already_done) *already_done = verdict == StateVerdict::AlreadyDone;
  switch (verdict) {
    case StateVerdict::Allow:
    case StateVerdict::AlreadyDone:
      return {};
    case StateVerdict::NotRunning:
      return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    case StateVerdict::AlreadyRunning:
      return make_error(VIR_ERR_OPERATION_INVALID,
                        _("domain is already running"));
  }
  return make_error(VIR_ERR_INTERNAL_ERROR, _("invalid state verdict"));
}

}  // namespace arrow
