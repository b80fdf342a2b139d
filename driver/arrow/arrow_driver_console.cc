// ArrowDriver's console, log channel and signal entry points
// (virDomainOpenConsole, virDomainOpenChannel, virDomainSendProcessSignal):
// console sessions live in the ConsoleHub (arrow_console.h), the log channel
// is a LogReader (log_file.h), signals go to ainit over Anotify.
#include <libvirt/libvirt.h>

#include "domain-xml/uuid.h"
#include "driver/api/arrow_names.h"
#include "driver/arrow/arrow_driver.h"
#include "driver/engine/log_file.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// The names virsh console --devname may give for the one console.
bool is_primary_console(const std::optional<std::string>& dev_name) {
  return !dev_name || dev_name->empty() || *dev_name == "console0" || *dev_name == "serial0";
}

}  // namespace

Result<std::shared_ptr<StreamSink>> ArrowDriver::domain_open_console(const DomainRef& ref,
                                                                     const std::optional<std::string>& dev_name,
                                                                     unsigned flags, std::shared_ptr<StreamPeer> peer) {
  TRY(check_flags(flags, VIR_DOMAIN_CONSOLE_FORCE | VIR_DOMAIN_CONSOLE_SAFE, "virDomainOpenConsole"));
  DomainPtr dom = TRY(find(ref));
  if (!dom->active()) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
  if (!is_primary_console(dev_name)) {
    // virsh console --devname NAME: a channel, as libvirt's qemu driver finds one.
    for (const Channel& c : dom->def.channels)
      if (c.name == *dev_name) return open_guest_channel(dom, c.name, flags & VIR_DOMAIN_CONSOLE_FORCE, std::move(peer));
    return make_error(VIR_ERR_INTERNAL_ERROR,
                      fmt(_("internal error: cannot find character device %1$s"), dev_name->c_str()));
  }
  std::weak_ptr<ArrowDomain> weak = dom;
  auto input = [weak](std::span<const uint8_t> bytes) -> Status {
    DomainPtr d = weak.lock();
    if (!d || !d->launcher) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
    return d->launcher->console_write(bytes);
  };
  return consoles_.attach(uuid_format(dom->def.uuid), dom->name(), flags, std::move(peer), std::move(input));
}

// Channels: the Arrow's <channel> elements (arrow_driver_channel.cc), and
// the log (log_file.h), which may be read while the Arrow is shut off too.
Result<std::shared_ptr<StreamSink>> ArrowDriver::domain_open_channel(const DomainRef& ref,
                                                                     const std::optional<std::string>& name,
                                                                     unsigned flags, std::shared_ptr<StreamPeer> peer) {
  TRY(check_flags(flags, VIR_DOMAIN_CHANNEL_FORCE, "virDomainOpenChannel"));
  DomainPtr dom = TRY(find(ref));
  const bool follow = name && *name == kLogChannelFollow;
  if (name && *name == kExecChannel) return open_exec(dom, flags & VIR_DOMAIN_CHANNEL_FORCE, std::move(peer));
  if (name && *name != kLogChannel && !follow)
    return open_guest_channel(dom, *name, flags & VIR_DOMAIN_CHANNEL_FORCE, std::move(peer));
  if (!name)
    return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("internal error: cannot find channel %1$s"),
                                                  name ? name->c_str() : "(null)"));
  std::weak_ptr<ArrowDomain> weak = dom;
  auto running = [weak] {
    DomainPtr d = weak.lock();
    return d && d->active() && !d->removed;
  };
  return std::shared_ptr<StreamSink>(
      LogReader::start(log_path(dom->name()), follow, std::move(running), std::move(peer)));
}

// As libvirt's LXC driver: only the Arrow's init, the application, as pid 1.
Status ArrowDriver::domain_send_process_signal(const DomainRef& ref, int64_t pid, unsigned signum, unsigned flags) {
  TRY(check_flags(flags, 0, "virDomainSendProcessSignal"));
  DomainPtr dom = TRY(find(ref));
  if (signum > VIR_DOMAIN_PROCESS_SIGNAL_RT32)
    return make_error(VIR_ERR_INVALID_ARG, fmt(_("invalid argument: signum value %1$u is out of range"), signum));
  if (!dom->active() || !dom->launcher) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
  if (pid != 1)
    return make_error(VIR_ERR_OPERATION_UNSUPPORTED,
                      _("Operation not supported: only the application, pid 1, of an Arrow can be signalled"));
  if (signum == 0) return {};  // VIR_DOMAIN_PROCESS_SIGNAL_NOP: it runs
  // virDomainProcessSignal numbers are Linux's (1…31, then 32… the RT signals).
  return dom->launcher->signal_application(static_cast<int>(signum));
}

}  // namespace arrow
