// Per-Arrow state and its job queue (see arrow_domain.h).
#include "driver/arrow/arrow_domain.h"

#include <libvirt/libvirt.h>
#include <sys/wait.h>

#include "driver/engine/cgroup.h"
#include "driver/arrow/arrow_console.h"
#include "driver/engine/qemu_process.h"
#include "util/i18n.h"

namespace arrow {

ArrowDomain::ArrowDomain(ArrowDef d, bool is_persistent)
    : def(std::move(d)), persistent(is_persistent), reason(VIR_DOMAIN_SHUTOFF_UNKNOWN) {}

// virConnectListAllDomains' filter groups: within a group the bits are ORed,
// a group with no bit set does not filter.
bool ArrowDomain::matches_list_flags(unsigned flags) const {
  auto group = [flags](unsigned yes, unsigned no, bool value) {
    if (!(flags & (yes | no))) return true;
    return ((flags & yes) && value) || ((flags & no) && !value);
  };
  if (!group(VIR_CONNECT_LIST_DOMAINS_ACTIVE, VIR_CONNECT_LIST_DOMAINS_INACTIVE, active())) return false;
  if (!group(VIR_CONNECT_LIST_DOMAINS_PERSISTENT, VIR_CONNECT_LIST_DOMAINS_TRANSIENT, persistent)) return false;
  if (!group(VIR_CONNECT_LIST_DOMAINS_AUTOSTART, VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART, autostart)) return false;
  // No managed save, snapshots or checkpoints exist for an Arrow.
  if (!group(VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE, VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE, false)) return false;
  if (!group(VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT, VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT, false)) return false;
  if (!group(VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT, VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT, false)) return false;
  unsigned state_bits = VIR_CONNECT_LIST_DOMAINS_RUNNING | VIR_CONNECT_LIST_DOMAINS_PAUSED |
                        VIR_CONNECT_LIST_DOMAINS_SHUTOFF | VIR_CONNECT_LIST_DOMAINS_OTHER;
  if (flags & state_bits) {
    unsigned bit = 0;
    switch (state) {
      case ArrowState::Shutoff: bit = VIR_CONNECT_LIST_DOMAINS_SHUTOFF; break;
      case ArrowState::Running: bit = VIR_CONNECT_LIST_DOMAINS_RUNNING; break;
      case ArrowState::Paused: bit = VIR_CONNECT_LIST_DOMAINS_PAUSED; break;
      case ArrowState::ShuttingDown: bit = VIR_CONNECT_LIST_DOMAINS_OTHER; break;
    }
    if (!(flags & bit)) return false;
  }
  return true;
}

void ArrowDomain::begin_job(DomainOp op, std::function<void()> run) {
  if (job_) {
    waiting_.emplace_back(op, std::move(run));
    return;
  }
  job_ = op;
  run();
}

// Iterative: a queued job that ends at once (a refusal) calls end_job from
// inside run(); that call only frees the slot and this loop starts the next,
// so a long queue never nests one stack frame per job.
void ArrowDomain::end_job() {
  job_.reset();
  if (draining_) return;
  draining_ = true;
  std::function<void()> run;  // keeps the job's captures (the domain too) alive until the loop is done
  while (!job_ && !waiting_.empty()) {
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    job_ = next.first;
    run = std::move(next.second);
    run();
  }
  draining_ = false;
}

Result<unsigned> domain_modification_impact(const ArrowDomain& dom, unsigned flags) {
  constexpr unsigned kAffectFlags = VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG;
  if ((flags & kAffectFlags) == 0) flags |= dom.active() ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
  if (!dom.active() && (flags & VIR_DOMAIN_AFFECT_LIVE))
    return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
  if (!dom.persistent && (flags & VIR_DOMAIN_AFFECT_CONFIG))
    return make_error(VIR_ERR_OPERATION_INVALID, _("transient domains do not have any persistent config"));
  return flags;
}

}  // namespace arrow
