// Builds the QEMU microvm command line and ainit's kernel command line of an
// Arrow (see qemu_command.h); plus the host look-ups that fill the context.
#include "driver/engine/qemu_command.h"

#include <fcntl.h>
#include <glib.h>
#include <grp.h>
#include <linux/kvm.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "anotify/anotify_decoder.h"
#include "config.h"
#include "driver/engine/qemu_balloon.h"
#include "driver/engine/qemu_channel.h"
#include "util/fd.h"
#include "util/fs.h"
#include "util/i18n.h"

namespace arrow {

namespace {

// Tokens ahead of ainit's instructions, each with the reason it is there.
constexpr const char* kKernelTokens[] = {
    "console=ttyS0",  // kernel messages go to the serial port, which the daemon appends to the log
    "reboot=t",       // microvm has no ACPI: power off through a triple fault ...
    "panic=-1",       // ... and reboot at once on a panic; -no-reboot turns both into an exit
    "quiet",          // keep boot messages out of the log unless something goes wrong
};

// QEMU splits option values on ','; a literal comma is written twice.
std::string qemu_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

size_t path_depth(const std::string& path) {
  return static_cast<size_t>(std::count(path.begin(), path.end(), '/')) - (path == "/" ? 1 : 0);
}

// The shares in mount order: the host /usr first when no share targets /usr,
// then the XML's shares, parents before children (stable by depth).
std::vector<Share> mount_order(const ArrowDef& def, const CommandContext& ctx) {
  std::vector<Share> shares;
  const bool has_usr = std::any_of(def.shares.begin(), def.shares.end(),
                                   [](const Share& s) { return s.target_dir == "/usr" || s.target_dir == "/usr/"; });
  if (!has_usr) shares.push_back(Share{ctx.host_usr, "/usr", true});
  shares.insert(shares.end(), def.shares.begin(), def.shares.end());
  std::stable_sort(shares.begin(), shares.end(),
                   [](const Share& a, const Share& b) { return path_depth(a.target_dir) < path_depth(b.target_dir); });
  return shares;
}

// arrow.share's third field (kernel/CMDLINE.md): ro, rw, or a ShadowFS —
// "shadow" (tmpfs upper layer) or "shadow:upperN" (the share tagged upperN).
std::string share_mode(const Share& s, size_t i) {
  if (!s.upper_dir.empty()) return cmdline_escape(fmt("shadow:upper%zu", i));
  if (s.transient) return "shadow";
  return s.readonly ? "ro" : "rw";
}

std::string memory_option(uint64_t kib) {
  if (kib % 1024 == 0) return fmt("%lluM", static_cast<unsigned long long>(kib / 1024));
  return fmt("%lluK", static_cast<unsigned long long>(kib));
}

void add(std::vector<std::string>& argv, std::string option, std::string value) {
  argv.push_back(std::move(option));
  argv.push_back(std::move(value));
}

// hostfwd=PROTO:ADDR:HOST-:GUEST, one per port of each range.
Result<std::string> hostfwd_options(const PortForward& pf) {
  std::string out;
  const std::string addr = pf.address.empty() ? "127.0.0.1" : pf.address;
  if (addr.find(':') != std::string::npos) {
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("<portForward address='%1$s'>: only IPv4 host addresses are supported"), addr.c_str()));
  }
  if (pf.proto != "tcp" && pf.proto != "udp") {
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("<portForward proto='%1$s'>: expected 'tcp' or 'udp'"), pf.proto.c_str()));
  }
  for (const PortRange& r : pf.ranges) {
    const unsigned end = r.end ? r.end : r.start;
    const unsigned to = r.to ? r.to : r.start;
    if (r.start == 0 || end < r.start || to + (end - r.start) > 65535) {
      return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                        fmt(_("<range start='%1$u' end='%2$u' to='%3$u'>: ports outside 1-65535"), r.start, end, to));
    }
    for (unsigned port = r.start; port <= end; port++) {
      out += fmt(",hostfwd=%s:%s:%u-:%u", pf.proto.c_str(), addr.c_str(), port, to + (port - r.start));
    }
  }
  return out;
}

// arrow.net's value (kernel/CMDLINE.md): slirp's fixed network for user
// mode, the XML's static address and gateway for a bridge.
std::string guest_net(const Interface& iface) {
  switch (iface.type) {
    case InterfaceType::User:
      return kGuestNet;
    case InterfaceType::Bridge:
      return fmt("%s/%u,%s,", iface.ip_address.c_str(), iface.ip_prefix, iface.gateway.c_str());
  }
  return kGuestNet;  // unreachable: the switch covers every enumerator
}

// The -netdev value: slirp with its port forwards, or the launcher's TAP fd.
Result<std::string> netdev_option(const Interface& iface, size_t i, const CommandContext& ctx) {
  switch (iface.type) {
    case InterfaceType::User: {
      std::string netdev = fmt("user,id=net%zu", i);
      for (const PortForward& pf : iface.port_forwards) {
        std::string option = TRY(hostfwd_options(pf));
        netdev += option;
      }
      return netdev;
    }
    case InterfaceType::Bridge:
      return fmt("tap,id=net%zu,fd=%d", i, ctx.tap_fd);
  }
  return make_error(VIR_ERR_INTERNAL_ERROR, _("unknown <interface> type"));  // unreachable
}

Status check_machine(const ArrowDef& def) {
  if (def.arch != "x86_64") {
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("<type arch='%1$s'>: an Arrow runs on x86_64 only"), def.arch.c_str()));
  }
  if (def.machine != "microvm") {
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("<type machine='%1$s'>: an Arrow runs on 'microvm' only"), def.machine.c_str()));
  }
  if (def.init.empty() || def.init[0] != '/') {
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED, _("<init>: an absolute path in the guest is required"));
  }
  if (def.vcpus == 0) return make_error(VIR_ERR_CONFIG_UNSUPPORTED, _("<vcpu>: at least one is required"));
  return {};
}

void add_machine(std::vector<std::string>& argv, const ArrowDef& def, const CommandContext& ctx) {
  // Under TCG the kernel calibrates its timers against the PIT; under KVM
  // kvmclock does, so the PIT is left out.
  // rtc=on: with no CMOS clock the kernel spends a whole second at boot
  // waiting for one (measured: /init at 2.1 s with rtc=off, 1.0 s with it).
  add(argv, "-M", fmt("microvm,acpi=off,x-option-roms=off,rtc=on,pit=%s,isa-serial=on%s", ctx.kvm ? "off" : "on",
                      ctx.ram_fd >= 0 ? ",memory-backend=ram" : ""));
  add(argv, "-accel", ctx.kvm ? "kvm" : ctx.tb_size_mib ? fmt("tcg,tb-size=%u", ctx.tb_size_mib) : "tcg");
  if (ctx.kvm) add(argv, "-cpu", "host");
  if (ctx.ram_fd >= 0) {
    add(argv, "-object", fmt("memory-backend-file,id=ram,size=%s,mem-path=/proc/self/fd/%d,share=%s",
                             memory_option(def.memory_kib).c_str(), ctx.ram_fd, ctx.ram_shared ? "on" : "off"));
  }
  add(argv, "-m", memory_option(def.memory_kib));
  add(argv, "-smp", std::to_string(def.vcpus));
  add(argv, "-name", "guest=" + qemu_escape(def.name));
  // debug-threads=on names each vCPU thread "CPU N/TCG" (or /KVM), which is how
  // virDomainGetVcpus finds them in /proc (qemu_proc.h). A -name of its own
  // (QEMU merges them): adoption matches the argument guest=NAME exactly.
  add(argv, "-name", "debug-threads=on");
  for (const char* flag : {"-nodefaults", "-no-user-config"}) argv.emplace_back(flag);
  add(argv, "-display", "none");
  argv.emplace_back("-no-reboot");  // guest reboot = power off (reboot=t)
  argv.emplace_back("-S");          // the launcher connects every socket before 'cont'
  add(argv, "-msg", "timestamp=on");
  add(argv, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  if (ctx.incoming) add(argv, "-incoming", "defer");
}

void add_chardevs(std::vector<std::string>& argv, const CommandContext& ctx) {
  add(argv, "-chardev", fmt("socket,id=monitor,fd=%d,server=on,wait=off", ctx.monitor_fd));
  add(argv, "-mon", "chardev=monitor,mode=control");
  // opaque= names the file the fd is, for ps and for whoever finds QEMU by its log.
  add(argv, "-chardev", fmt("socket,id=serial,fd=%d,server=on,wait=off", ctx.serial_fd));
  add(argv, "-serial", "chardev:serial");
  add(argv, "-device", "virtio-serial-device");
  add(argv, "-chardev", fmt("socket,id=console,fd=%d,server=on,wait=off", ctx.console_fd));
  add(argv, "-device", "virtconsole,chardev=console");
  add(argv, "-chardev", fmt("socket,id=anotify,fd=%d,server=on,wait=off", ctx.anotify_fd));
  add(argv, "-device", "virtserialport,chardev=anotify,name=org.arrow.anotify.0");
  add(argv, "-chardev", fmt("socket,id=stdout,fd=%d,server=on,wait=off", ctx.stdout_fd));
  add(argv, "-device", "virtserialport,chardev=stdout,name=org.arrow.stdout.0");
}

}  // namespace

std::string cmdline_escape(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    const bool safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      std::string_view("-_.~/:@+").find(static_cast<char>(c)) != std::string_view::npos;
    if (safe) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::string> build_kernel_cmdline(const ArrowDef& def, const CommandContext& ctx) {
  std::string out;
  for (const char* token : kKernelTokens) out += std::string(token) + " ";
  if (ctx.wait) return out + "arrow.v=1 arrow.wait=1";
  std::string tokens = TRY(build_instruction_tokens(def, ctx));
  return out + tokens;
}

Result<std::string> build_instruction_tokens(const ArrowDef& def, const CommandContext& ctx) {
  std::string out;
  for (const char* token : kKernelTokens) out += std::string(token) + " ";
  const size_t kernel_part = out.size();
  out += "arrow.v=1 arrow.init=" + cmdline_escape(def.init);
  for (const std::string& arg : def.initargs) out += " arrow.arg=" + cmdline_escape(arg);
  // The environment itself travels over Anotify (build_private_instructions).
  if (!def.initenv.empty()) out += fmt(" arrow.nenv=%zu", def.initenv.size());
  if (!def.initdir.empty()) out += " arrow.dir=" + cmdline_escape(def.initdir);
  const InitUser& u = ctx.user;
  out += fmt(" arrow.user=%s,%u,%u,%s", cmdline_escape(u.name).c_str(), u.uid, u.gid, cmdline_escape(u.home).c_str());
  if (ctx.group) out += fmt(" arrow.group=%s,%u", cmdline_escape(ctx.group->name).c_str(), ctx.group->gid);
  const std::vector<Share> shares = mount_order(def, ctx);
  for (size_t i = 0; i < shares.size(); i++) {
    out += fmt(" arrow.share=share%zu,%s,%s", i, cmdline_escape(shares[i].target_dir).c_str(),
               share_mode(shares[i], i).c_str());
  }
  if (!def.interfaces.empty()) out += " arrow.net=" + guest_net(def.interfaces[0]);
  // The guest sets its MAC itself: one restored from a template has the
  // template's until then (ARCHITECTURE.md, "Templates").
  if (!def.interfaces.empty() && !def.interfaces[0].mac.empty()) out += " arrow.mac=" + def.interfaces[0].mac;
  out += " arrow.host=" + cmdline_escape(def.name);
  out += fmt(" arrow.hb=%u", ctx.heartbeat_s);
  // Without it ainit leaves the console a terminal (echo, \r\n), which is
  // what virsh console and `arrow run` on a terminal want.
  if (ctx.console_pipe) out += " arrow.tty=pipe";
  // The CMOS clock has one-second resolution; the host's time in ms is finer.
  if (ctx.wall_clock_ms != 0) out += fmt(" arrow.time=%llu", static_cast<unsigned long long>(ctx.wall_clock_ms));
  if (out.size() + 1 > kKernelCmdlineMax) {
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("the kernel command line of Arrow '%1$s' needs %2$zu bytes, over the kernel's limit "
                            "of %3$zu: shorten <initarg> or the shares"),
                          def.name.c_str(), out.size() + 1, kKernelCmdlineMax));
  }
  return out.substr(kernel_part);
}

Status check_init_environment(const ArrowDef& def) {
  size_t total = 0;
  for (const EnvVar& env : def.initenv) {
    const size_t size = env.name.size() + 1 + env.value.size();
    if (size > kInitEnvVarMax) {
      return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                        fmt(_("<initenv name='%1$s'>: the variable takes %2$zu bytes as NAME=VALUE, over the limit "
                              "of %3$zu bytes for one environment variable of an Arrow"),
                            env.name.c_str(), size, kInitEnvVarMax));
    }
    total += size;
  }
  if (total > kInitEnvTotalMax) {
    return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                      fmt(_("<initenv>: the %1$zu variables take %2$zu bytes as NAME=VALUE, over the limit of %3$zu "
                            "bytes for the whole environment of an Arrow"),
                          def.initenv.size(), total, kInitEnvTotalMax));
  }
  return {};
}

Result<std::vector<uint8_t>> build_private_instructions(const ArrowDef& def) {
  TRY(check_init_environment(def));
  std::vector<std::string> env;
  for (const EnvVar& var : def.initenv) env.push_back(var.name + "=" + var.value);
  return anotify_encode_instructions(env);
}

// The 9p model of every share the guest can write. mapped-xattr keeps the
// guest's owners, modes and device numbers in user.virtfs.* xattrs: the host
// file is a plain file of QEMU's user (0600, directories 0700), so a
// hostile guest can create neither a setuid file nor a device node on the
// host, and `none` would let a root QEMU do both. Read-only shares keep
// `none`: nothing is created there, and the guest sees the host's modes.
constexpr const char* kWritable9pModel = "mapped-xattr";

// microvm offers 8 virtio-mmio transports (measured with QEMU 7.2: a ninth
// device finds "No 'virtio-bus' bus"); each virtio device takes one.
constexpr size_t kMicrovmVirtioTransports = 8;

size_t upper_count(const std::vector<Share>& shares) {
  return static_cast<size_t>(
      std::count_if(shares.begin(), shares.end(), [](const Share& s) { return !s.upper_dir.empty(); }));
}

// The virtio devices besides the balloon: virtio-serial (console and
// Anotify) and virtio-rng are always there.
size_t virtio_devices_needed(const ArrowDef& def, const std::vector<Share>& shares) {
  return 2 + shares.size() + upper_count(shares) + def.interfaces.size();
}

size_t free_transports(const ArrowDef& def, const std::vector<Share>& shares) {
  const size_t needed = virtio_devices_needed(def, shares);
  return needed < kMicrovmVirtioTransports ? kMicrovmVirtioTransports - needed : 0;
}

Status check_virtio_devices(const ArrowDef& def, const std::vector<Share>& shares) {
  // A <memballoon model='virtio'> given in the XML is required; the default
  // one takes a transport only when one is left (balloon_wanted).
  const size_t balloon = def.balloon.specified && def.balloon.present() ? 1 : 0;
  const size_t needed = virtio_devices_needed(def, shares) + balloon;
  if (needed <= kMicrovmVirtioTransports) return {};
  return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                    fmt(_("Arrow '%1$s' needs %2$zu virtio devices (%3$zu 9p shares including the host's /usr unless "
                          "a <filesystem> targets /usr, %4$zu <upper> layers, %5$zu <interface>, %6$zu <memballoon>, "
                          "the console and the entropy source), over microvm's %7$zu: merge <filesystem> elements"),
                        def.name.c_str(), needed, shares.size(), upper_count(shares), def.interfaces.size(), balloon,
                        kMicrovmVirtioTransports));
}

bool has_balloon(const ArrowDef& def, const CommandContext& ctx) {
  return balloon_wanted(def, free_transports(def, mount_order(def, ctx)));
}

Result<std::vector<std::string>> build_qemu_argv(const ArrowDef& def, const CommandContext& ctx) {
  TRY(check_machine(def));
  TRY(check_virtio_devices(def, mount_order(def, ctx)));
  TRY(check_init_environment(def));
  std::vector<std::string> argv;
  argv.push_back(def.emulator.empty() ? ctx.emulator : def.emulator);
  add_machine(argv, def, ctx);
  add(argv, "-kernel", def.kernel.empty() ? ctx.kernel : def.kernel);
  add(argv, "-initrd", ctx.initramfs);
  std::string cmdline = TRY(build_kernel_cmdline(def, ctx));
  add(argv, "-append", std::move(cmdline));
  add_chardevs(argv, ctx);
  add_channel_devices(argv, def, ctx.exec_fd, ctx.first_channel_fd);
  if (ctx.gdbstub_port) add(argv, "-gdb", fmt("tcp:127.0.0.1:%u", ctx.gdbstub_port));  // opt-in, loopback only
  const std::vector<Share> shares = mount_order(def, ctx);
  for (size_t i = 0; i < shares.size(); i++) {
    // A ShadowFS's source is shared read-only: its writes go to the upper layer.
    const bool readonly = shares[i].readonly || shares[i].shadow();
    add(argv, "-fsdev", fmt("local,id=fs%zu,path=%s,security_model=%s%s", i, qemu_escape(shares[i].source_dir).c_str(),
                            readonly ? "none" : kWritable9pModel, readonly ? ",readonly=on" : ""));
    add(argv, "-device", fmt("virtio-9p-device,fsdev=fs%zu,mount_tag=share%zu", i, i));
    if (shares[i].upper_dir.empty()) continue;
    add(argv, "-fsdev",
        fmt("local,id=upper%zu,path=%s,security_model=%s", i, qemu_escape(shares[i].upper_dir).c_str(),
            kWritable9pModel));
    add(argv, "-device", fmt("virtio-9p-device,fsdev=upper%zu,mount_tag=upper%zu", i, i));
  }
  // Entropy for the guest's getrandom() from the host's /dev/urandom
  // (daemons seeding TLS or hash tables need not wait for the guest's own).
  add(argv, "-object", "rng-random,filename=/dev/urandom,id=rng0");
  add(argv, "-device", "virtio-rng-device,rng=rng0");
  for (size_t i = 0; i < def.interfaces.size(); i++) {
    const Interface& iface = def.interfaces[i];
    std::string netdev = TRY(netdev_option(iface, i, ctx));
    add(argv, "-netdev", std::move(netdev));
    add(argv, "-device", fmt("virtio-net-device,netdev=net%zu%s", i, iface.mac.empty() ? "" : (",mac=" + iface.mac).c_str()));
  }
  if (has_balloon(def, ctx)) add(argv, "-device", balloon_device_option(def.balloon));
  return argv;
}

Result<std::string> template_layout(const ArrowDef& def, const CommandContext& ctx) {
  ArrowDef d = def;
  d.name = "template";
  d.init = "/";
  d.initargs.clear();
  d.initenv.clear();
  for (Share& share : d.shares) {
    share.source_dir = "/";
    if (!share.upper_dir.empty()) share.upper_dir = "/";
  }
  for (Interface& iface : d.interfaces) {
    iface.mac.clear();
    iface.port_forwards.clear();
    iface.bridge.clear();
    iface.ip_address = "0.0.0.0";
    iface.gateway.clear();
  }
  CommandContext c = ctx;
  c.wait = true;
  c.incoming = false;
  c.ram_fd = 3;
  c.ram_shared = false;
  c.host_usr = "/";
  c.log_path.clear();
  c.gdbstub_port = 0;  // no device: a debugged Arrow restores the same template
  for (Channel& ch : d.channels) {
    ch.mode = ChannelMode::Bind;
    ch.path.clear();
  }
  std::vector<std::string> argv = TRY(build_qemu_argv(d, c));
  std::string out = format_argv_lines(argv);
  for (const std::string& path : {argv[0], d.kernel.empty() ? ctx.kernel : d.kernel, ctx.initramfs}) {
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0) return system_error("stat", path, errno);
    out += fmt("%s %lld %lld.%09ld\n", path.c_str(), static_cast<long long>(st.st_size),
               static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec);
  }
  return out;
}

std::string format_argv_lines(const std::vector<std::string>& argv) {
  static const std::vector<std::string> kFlags = {"-nodefaults", "-no-user-config", "-no-reboot", "-S"};
  std::string out;
  for (size_t i = 0; i < argv.size(); i++) {
    out += argv[i];
    const bool is_flag = std::find(kFlags.begin(), kFlags.end(), argv[i]) != kFlags.end();
    if (i > 0 && !is_flag && i + 1 < argv.size()) out += " " + argv[++i];
    out += "\n";
  }
  return out;
}

namespace {

// Strict decimal (no sign, no blanks), as LXC accepts numeric ids.
std::optional<unsigned> parse_id(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

}  // namespace

Result<InitUser> resolve_init_user(std::string_view user) {
  if (user.empty()) return InitUser{};
  const std::string name(user);
  const std::optional<unsigned> id = parse_id(user);
  const struct passwd* pw = id ? getpwuid(*id) : getpwnam(name.c_str());
  if (pw) return InitUser{pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir};
  if (id) return InitUser{name, *id, *id, "/"};
  return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                    fmt(_("<inituser>: no user '%1$s' on this host"), name.c_str()));
}

Result<InitGroup> resolve_init_group(std::string_view group) {
  const std::string name(group);
  const std::optional<unsigned> id = parse_id(group);
  const struct group* gr = id ? getgrgid(*id) : getgrnam(name.c_str());
  if (gr) return InitGroup{gr->gr_name, gr->gr_gid};
  if (id) return InitGroup{name, *id};
  return make_error(VIR_ERR_CONFIG_UNSUPPORTED,
                    fmt(_("<initgroup>: no group '%1$s' on this host"), name.c_str()));
}

bool kvm_usable() {
  const char* forced = getenv("ARROW_ACCEL");
  if (forced && std::string_view(forced) == "tcg") return false;
  if (forced && std::string_view(forced) == "kvm") return true;
  UniqueFd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm.valid() || ioctl(kvm.get(), KVM_GET_API_VERSION, 0) != KVM_API_VERSION) return false;
  UniqueFd vm(ioctl(kvm.get(), KVM_CREATE_VM, 0));
  if (!vm.valid()) return false;
  // Some nested setups expose a /dev/kvm that creates VMs but cannot run
  // this guest (measured: -cpu host aborts on an MSR, the default CPU never
  // reaches the kernel) while hiding vmx/svm from the CPU flags; those flags
  // are the sign that hardware virtualisation is really there.
  UniqueFd cpuinfo(::open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC));
  std::string text;
  char buf[8192];
  for (ssize_t n; cpuinfo.valid() && (n = ::read(cpuinfo.get(), buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  return text.find(" vmx") != std::string::npos || text.find(" svm") != std::string::npos;
}

unsigned tcg_tb_size_mib() {
  const char* v = getenv("ARROW_QEMU_TB_SIZE");
  if (!v) return 0;
  const unsigned long mib = std::strtoul(v, nullptr, 10);
  return mib <= 4096 ? static_cast<unsigned>(mib) : 0;
}

Result<CommandContext> make_command_context(const ArrowDef& def, const std::string& kernel_dir,
                                            const std::string& log_path) {
  CommandContext ctx;
  ctx.emulator = QEMU_BINARY;
  ctx.kernel = kernel_dir + "/bzImage";
  ctx.initramfs = kernel_dir + "/initramfs.cpio";
  ctx.log_path = log_path;
  ctx.kvm = kvm_usable();
  ctx.tb_size_mib = tcg_tb_size_mib();
  ctx.wall_clock_ms = static_cast<uint64_t>(g_get_real_time() / 1000);
  ctx.user = TRY(resolve_init_user(def.inituser));
  if (!def.initgroup.empty()) ctx.group = TRY(resolve_init_group(def.initgroup));
  return ctx;
}

}  // namespace arrow
