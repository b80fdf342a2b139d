// ArrowDriver's Crossbow channels: a client's stream joined to a channel of
// a running Arrow (virDomainOpenChannel, and virDomainOpenConsole with the
// channel's name as virsh console --devname gives it), and the channels'
// live data for the domain XML.
#include <libvirt/libvirt.h>

#include "domain-xml/uuid.h"
#include "driver/arrow/arrow_channel.h"
#include "driver/arrow/arrow_driver.h"
#include "driver/api/arrow_names.h"
#include "driver/engine/json.h"
#include "driver/engine/qemu_channel.h"
#include "driver/engine/qemu_process.h"
#include "util/i18n.h"

namespace arrow {

Result<std::shared_ptr<StreamSink>> ArrowDriver::open_guest_channel(const DomainPtr& dom, const std::string& name,
                                                                    bool force, std::shared_ptr<StreamPeer> peer) {
  const std::vector<Channel>& channels = dom->def.channels;
  size_t index = 0;
  while (index < channels.size() && channels[index].name != name) index++;
  if (index == channels.size())
    return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("internal error: cannot find channel %1$s"), name.c_str()));
  if (!dom->active() || !dom->launcher) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
  // QEMU serves one peer of a bound channel at a time: a second client
  // would wait unseen behind the first, so it is refused (libvirt's words),
  // or with FORCE takes the channel over.
  const std::string key = uuid_format(dom->def.uuid) + "/" + name;
  if (auto it = channel_relays_.find(key); it != channel_relays_.end()) {
    std::shared_ptr<ChannelRelay> old = it->second.lock();
    if (old && old->open()) {
      if (!force)
        return make_error(VIR_ERR_OPERATION_FAILED,
                          _("operation failed: Active channel stream exists for this domain"));
      old->abort(make_error(VIR_ERR_OPERATION_FAILED, _("operation failed: the channel was taken over by another client")));
    }
    channel_relays_.erase(it);
  }
  const std::string path = channel_path(channels[index], conf_.run_dir + "/" + dom->name(), index);
  UniqueFd fd = TRY(connect_channel(channels[index], path));
  log(fmt("Arrow '%s': a client opened channel '%s'", dom->name().c_str(), name.c_str()));
  std::shared_ptr<ChannelRelay> relay = ChannelRelay::start(std::move(fd), std::move(peer));
  channel_relays_[key] = relay;
  return std::shared_ptr<StreamSink>(relay);
}

// Adebug: the client's stream joined to the Arrow's exec port
// (kernel/ainit_exec.c); each request is logged with who asked. One session
// per Arrow at a time; FORCE hangs up the one running.
Result<std::shared_ptr<StreamSink>> ArrowDriver::open_exec(const DomainPtr& dom, bool force,
                                                           std::shared_ptr<StreamPeer> peer) {
  if (!dom->active() || !dom->launcher) return make_error(VIR_ERR_OPERATION_INVALID, _("domain is not running"));
  const std::string key = uuid_format(dom->def.uuid) + "/" + kExecChannel;
  if (auto it = channel_relays_.find(key); it != channel_relays_.end()) {
    std::shared_ptr<ChannelRelay> old = it->second.lock();
    if (old && old->open()) {
      if (!force)
        return make_error(VIR_ERR_OPERATION_FAILED,
                          _("operation failed: an arrow exec session is running in this Arrow already"));
      old->abort(make_error(VIR_ERR_OPERATION_FAILED, _("operation failed: the session was taken over")));
    }
    channel_relays_.erase(it);
  }
  Channel port;
  port.name = kExecPortName;
  const std::string path = RuntimePaths{conf_.run_dir + "/" + dom->name()}.exec_port();
  Result<UniqueFd> fd = connect_channel(port, path);
  if (!fd.ok())
    return make_error(VIR_ERR_OPERATION_UNSUPPORTED,
                      fmt(_("Operation not supported: Arrow '%1$s' has no exec port (started by an older virtarrowd? "
                            "restart it): %2$s"),
                          dom->name().c_str(), fd.error().message.c_str()));
  const std::string who = peer->describe();
  std::shared_ptr<ChannelRelay> relay = ChannelRelay::start(std::move(fd).value(), std::move(peer));
  relay->set_farewell(std::string("\x05\0\0\0\0", 5));  // kernel/ainit_exec.c: the session is over
  relay->observe_first_line([this, name = dom->name(), who](const std::string& line) {
    std::string argv;
    if (Result<JsonValue> req = json_parse(line); req.ok())
      for (const JsonValue& a : (*req)["argv"].items()) argv += (argv.empty() ? "" : " ") + a.as_string();
    if (argv.size() > 200) argv = argv.substr(0, 200) + "...";
    for (char& c : argv)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    log(fmt("Arrow '%s': arrow exec by %s: %s", name.c_str(), who.c_str(), argv.c_str()));
  });
  channel_relays_[key] = relay;
  return std::shared_ptr<StreamSink>(relay);
}

std::vector<ChannelLiveData> ArrowDriver::channel_live_data(const DomainPtr& dom) const {
  std::vector<ChannelLiveData> out;
  if (!dom->active()) return out;
  for (size_t i = 0; i < dom->def.channels.size(); i++) {
    ChannelLiveData live;
    live.path = channel_path(dom->def.channels[i], conf_.run_dir + "/" + dom->name(), i);
    if (dom->launcher) live.state = dom->launcher->channel_open(i);
    out.push_back(std::move(live));
  }
  return out;
}

}  // namespace arrow
