// Handlers for the procedures the guest agent answers (virDomainGetHostname,
// GetTime, SetTime, InterfaceAddresses, GetFSInfo, GetGuestInfo): each is
// answered when the driver completes (remote_protocol.x's layouts).
#include <libvirt/libvirt.h>

#include "driver/remote/remote_handlers.h"
#include "util/i18n.h"

namespace arrow::remote::procs {

namespace {

// The args {dom, u32 flags}.
Result<DomainRef> dom_and_flags(Call& call, unsigned& flags) {
  DomainRef dom = read_domain(call.args);
  flags = call.args.u32();
  TRY(decoded(call.args));
  return dom;
}

void write_interface(XdrWriter& w, const GuestInterface& iface) {
  w.string(iface.name);
  w.optional_string(iface.hwaddr);
  w.u32(static_cast<uint32_t>(iface.addrs.size()));
  for (const GuestIpAddress& a : iface.addrs) {
    w.i32(a.type);
    w.string(a.addr);
    w.u32(a.prefix);
  }
}

void write_fsinfo(XdrWriter& w, const GuestFsInfo& fs) {
  w.string(fs.mountpoint);
  w.string(fs.name);
  w.string(fs.fstype);
  w.u32(static_cast<uint32_t>(fs.dev_aliases.size()));
  for (const std::string& alias : fs.dev_aliases) w.string(alias);
}

}  // namespace

Status domain_get_hostname(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_and_flags(call, flags));
  call.driver.domain_get_hostname(dom, flags, [r = call.defer()](Result<std::string> name) {
    if (!name.ok()) return r.error(name.error());
    r.ok([&](XdrWriter& w) { w.string(*name); });
  });
  return {};
}

Status domain_get_time(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_and_flags(call, flags));
  call.driver.domain_get_time(dom, flags, [r = call.defer()](Result<GuestTime> t) {
    if (!t.ok()) return r.error(t.error());
    r.ok([&](XdrWriter& w) {
      w.i64(t->seconds);
      w.u32(t->nseconds);
    });
  });
  return {};
}

Status domain_set_time(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  GuestTime t;
  t.seconds = call.args.i64();
  t.nseconds = call.args.u32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  call.driver.domain_set_time(dom, t, flags, [r = call.defer()](Status st) { r.status(st); });
  return {};
}

Status domain_interface_addresses(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  unsigned source = call.args.u32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  // libvirt's rule: the lease table may be read by anyone, the guest agent
  // asked only on a read-write connection.
  if (call.conn.readonly && source == VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT)
    return make_error(VIR_ERR_OPERATION_DENIED,
                      _("operation forbidden: read only access prevents virDomainInterfaceAddresses"));
  call.driver.domain_interface_addresses(dom, source, flags, [r = call.defer()](Result<std::vector<GuestInterface>> l) {
    if (!l.ok()) return r.error(l.error());
    r.ok([&](XdrWriter& w) {
      w.u32(static_cast<uint32_t>(l->size()));
      for (const GuestInterface& iface : *l) write_interface(w, iface);
    });
  });
  return {};
}

Status domain_get_fsinfo(Call& call, XdrWriter&) {
  unsigned flags = 0;
  DomainRef dom = TRY(dom_and_flags(call, flags));
  call.driver.domain_get_fsinfo(dom, flags, [r = call.defer()](Result<std::vector<GuestFsInfo>> l) {
    if (!l.ok()) return r.error(l.error());
    r.ok([&](XdrWriter& w) {
      w.u32(static_cast<uint32_t>(l->size()));
      for (const GuestFsInfo& fs : *l) write_fsinfo(w, fs);
      w.u32(static_cast<uint32_t>(l->size()));  // ret: the count
    });
  });
  return {};
}

Status domain_get_guest_info(Call& call, XdrWriter&) {
  DomainRef dom = read_domain(call.args);
  unsigned types = call.args.u32();
  unsigned flags = call.args.u32();
  TRY(decoded(call.args));
  call.driver.domain_get_guest_info(dom, types, flags, [r = call.defer()](Result<std::vector<TypedParam>> l) {
    if (!l.ok()) return r.error(l.error());
    r.ok([&](XdrWriter& w) {
      w.u32(static_cast<uint32_t>(l->size()));
      for (const TypedParam& p : *l) write_typed_param(w, p);
    });
  });
  return {};
}

}  // namespace arrow::remote::procs
