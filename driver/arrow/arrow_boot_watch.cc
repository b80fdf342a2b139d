// The driver's boot watchdog (see arrow_boot_watch.h): armed when QEMU runs
// the guest, disarmed by the first Anotify message; when it fires the Arrow
// is killed and reported STOPPED/FAILED, with the reason in its log.
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <unistd.h>

#include "driver/arrow/arrow_driver.h"
#include "driver/engine/log_file.h"
#include "util/fd.h"
#include "util/i18n.h"

namespace arrow {

void ArrowDriver::arm_boot_timer(const DomainPtr& dom) {
  if (conf_.boot_timeout_s == 0) return;
  std::weak_ptr<ArrowDomain> weak = dom;
  dom->boot_watch.start(conf_.boot_timeout_s, [this, weak] {
    if (DomainPtr d = weak.lock()) on_boot_timeout(d);
  });
}

void ArrowDriver::on_boot_timeout(const DomainPtr& dom) {
  if (!dom->active() || !dom->launcher || dom->stop_intent != StopIntent::None) return;
  if (dom->state == ArrowState::Paused) return arm_boot_timer(dom);  // a paused guest cannot boot
  const std::string why = fmt(_("Arrow '%1$s' did not boot within %2$u s (no message from its init over Anotify); "
                                "stopping it"),
                              dom->name().c_str(), conf_.boot_timeout_s);
  log(why);
  note_in_log(dom, why);
  dom->stop_intent = StopIntent::BootTimeout;
  dom->launcher->kill();
}

void ArrowDriver::note_in_log(const DomainPtr& dom, const std::string& text) {
  const std::string path = log_path(dom->name());
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return;  // best effort: the daemon's log has it too
  const std::string line = kLogMark + text + " ==\n";
  ssize_t n = ::write(fd.get(), line.data(), line.size());
  (void)n;
}

}  // namespace arrow
