// `arrow run`: builds the Arrow's XML, defines and starts it, attaches this
// terminal (or these pipes) to its console through a libvirt stream,
// forwards signals to the application, and exits with its exit status.
//
// Terminal handling: when stdin and stdout are both terminals the local
// terminal goes raw and the guest's console is the terminal (echo, ^C and
// \r\n happen in the guest, as for a local program). Otherwise the Arrow's
// console is set up as a pipe (kernel/CMDLINE.md arrow.tty=pipe): the
// program's bytes arrive as written, input is not echoed, the end of stdin
// becomes ^D, and SIGINT/SIGTERM/SIGHUP/SIGQUIT to arrow are sent to the
// application with virDomainSendProcessSignal.
#include <fcntl.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "domain-xml/arrow_xml.h"
#include "domain-xml/uuid.h"
#include "util/i18n.h"
#include "virsh-ext/arrow_cli.h"
#include "virsh-ext/arrow_spec.h"

namespace arrow::cli {

namespace {

constexpr char kDetachKey = 0x1d;  // Ctrl-], as virsh console

struct RunOptions {
  RunSpec spec;
  bool detach = false;
  bool rm = false;
  std::string program;  // as given
  std::string from;     // --from IMAGE: a clone of a saved image or template
  bool defines = false; // an option that defines a new Arrow (not allowed with --from)
};

int signal_pipe[2] = {-1, -1};

void on_signal(int signo) {
  const int saved = errno;
  const char c = static_cast<char>(signo);
  (void)!::write(signal_pipe[1], &c, 1);
  errno = saved;
}

// The terminal's settings, put back however arrow leaves.
class RawTerminal {
 public:
  bool enter(int fd) {
    if (::tcgetattr(fd, &saved_) < 0) return false;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd, TCSAFLUSH, &raw) < 0) return false;
    fd_ = fd;
    return true;
  }
  ~RawTerminal() {
    if (fd_ >= 0) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
  }

 private:
  int fd_ = -1;
  termios saved_{};
};

bool take_value(const std::vector<std::string>& args, size_t& i, const std::string& a, const char* long_name,
                const char* short_name, std::string& value) {
  const std::string l = long_name, s = short_name ? short_name : "";
  if (a == l || (!s.empty() && a == s)) {
    if (i + 1 >= args.size()) return false;
    value = args[++i];
    return true;
  }
  if (a.rfind(l + "=", 0) == 0) {
    value = a.substr(l.size() + 1);
    return true;
  }
  return false;
}

// Parses the options and the program; false after saying what is wrong.
bool parse_run_args(const std::vector<std::string>& args, const std::string& cwd, RunOptions& o) {
  size_t i = 0;
  for (; i < args.size(); i++) {
    const std::string& a = args[i];
    std::string v;
    Status st;
    if (a == "--") {
      i++;
      break;
    } else if (a.empty() || a[0] != '-') {
      break;
    } else if (a == "--detach" || a == "-d") {
      o.detach = true;
    } else if (a == "--rm") {
      o.rm = true;
    } else if (take_value(args, i, a, "--name", nullptr, v)) {
      o.spec.name = v;
    } else if (take_value(args, i, a, "--from", nullptr, v)) {
      o.from = v;
    } else if (take_value(args, i, a, "--memory", "-m", v)) {
      o.defines = true;
      Result<uint64_t> kib = parse_memory_kib(v);
      if (!kib.ok()) return say(kib.error().message), false;
      o.spec.memory_kib = kib.value();
    } else if (take_value(args, i, a, "--cpus", nullptr, v)) {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 1 || n > 64) return say(fmt(_("invalid --cpus '%1$s'"), v.c_str())), false;
      o.spec.cpus = static_cast<unsigned>(n);
    } else if (take_value(args, i, a, "--volume", "-v", v)) {
      Result<Share> s = parse_share(v, cwd);
      if (!s.ok()) return say(s.error().message), false;
      o.spec.shares.push_back(s.value());
    } else if (take_value(args, i, a, "--publish", "-p", v)) {
      Result<Forward> f = parse_forward(v);
      if (!f.ok()) return say(f.error().message), false;
      o.spec.forwards.push_back(f.value());
    } else if (take_value(args, i, a, "--env", "-e", v)) {
      auto e = parse_env(v);
      if (!e.ok()) return say(e.error().message), false;
      if (e.value()) o.spec.env.push_back(*e.value());
    } else if (take_value(args, i, a, "--workdir", "-w", v)) {
      o.spec.workdir = v;
    } else if (take_value(args, i, a, "--user", "-u", v)) {
      o.spec.user = v;
    } else {
      say(fmt(_("unknown option '%1$s' for run (arrow run --help)"), a.c_str()));
      return false;
    }
  }
  if (!o.from.empty()) {
    if (i < args.size() || o.defines || !o.spec.shares.empty() || !o.spec.env.empty() || !o.spec.workdir.empty() ||
        !o.spec.user.empty()) {
      say(_("arrow run --from IMAGE takes --name, --publish, --detach and --rm only: the program, its memory, "
            "shares, environment, directory and user are the image's"));
      return false;
    }
    if (o.from[0] != '/') o.from = cwd + "/" + o.from;
    return true;
  }
  if (i >= args.size()) {
    say(_("no program given: arrow run [OPTIONS] -- PROGRAM [ARGS...]"));
    return false;
  }
  o.program = args[i];
  o.spec.args.assign(args.begin() + static_cast<long>(i) + 1, args.end());
  return true;
}

// The guest sees the host's /usr only: a program elsewhere has its
// directory shared read-only at the same path (unless a -v covers it).
void share_program_dir(RunSpec& spec) {
  char real[PATH_MAX];
  const std::string resolved = ::realpath(spec.program.c_str(), real) ? real : spec.program;
  if (visible_in_guest(resolved)) return;
  const std::string dir = spec.program.substr(0, spec.program.rfind('/'));
  for (const Share& s : spec.shares)
    if (dir.rfind(s.guest, 0) == 0) return;
  spec.shares.push_back(Share{dir.empty() ? "/" : dir, dir.empty() ? "/" : dir, true});
}

// One attached run: the stream, stdin, the signal pipe, and how it ended.
struct Attach {
  virDomainPtr dom = nullptr;  // the caller's
  Owned<virStream> st;
  bool interactive = false;
  bool done = false;
  bool detached = false;
  bool failed = false;
  std::string pending;  // input not yet accepted by the stream
  bool sent_any = false;
  char last_sent = '\n';
  int stdin_watch = -1;
  int signal_watch = -1;
  int interrupts = 0;
  bool stdout_broken = false;
};

void update_stream_events(Attach& a) {
  int events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
  if (!a.pending.empty()) events |= VIR_STREAM_EVENT_WRITABLE;
  virStreamEventUpdateCallback(a.st.get(), events);
}

void flush_input(Attach& a) {
  while (!a.pending.empty() && !a.done) {
    int n = virStreamSend(a.st.get(), a.pending.data(), a.pending.size());
    if (n == -2) break;
    if (n < 0) {
      say_libvirt(_("console"));
      a.failed = a.done = true;
      return;
    }
    a.pending.erase(0, static_cast<size_t>(n));
  }
  update_stream_events(a);
}

void write_out(Attach& a, const char* data, size_t len) {
  while (len > 0 && !a.stdout_broken) {
    ssize_t n = ::write(STDOUT_FILENO, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      a.stdout_broken = true;  // a closed pipe: the Arrow runs on, its output is dropped
      return;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

void on_stream(virStreamPtr st, int events, void* opaque) {
  auto& a = *static_cast<Attach*>(opaque);
  if (events & VIR_STREAM_EVENT_READABLE) {
    char buf[65536];
    for (;;) {
      int n = virStreamRecv(st, buf, sizeof buf);
      if (n > 0) {
        write_out(a, buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {  // the Arrow stopped
        virStreamFinish(st);
        a.done = true;
        return;
      }
      if (n == -2) break;
      say_libvirt(_("console"));
      a.failed = a.done = true;
      return;
    }
  }
  if (events & VIR_STREAM_EVENT_WRITABLE) flush_input(a);
  if ((events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP)) && !a.done) {
    say(_("the console connection ended"));
    a.failed = a.done = true;
  }
}

void queue_input(Attach& a, const char* data, size_t len) {
  if (len == 0) return;
  a.pending.append(data, len);
  a.sent_any = true;
  a.last_sent = data[len - 1];
  flush_input(a);
}

void on_stdin(int watch, int fd, int, void* opaque) {
  auto& a = *static_cast<Attach*>(opaque);
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n > 0 && a.interactive && std::memchr(buf, kDetachKey, static_cast<size_t>(n))) {
    const size_t before = static_cast<size_t>(static_cast<const char*>(std::memchr(buf, kDetachKey, n)) - buf);
    queue_input(a, buf, before);
    a.detached = a.done = true;
    return;
  }
  if (n > 0) return queue_input(a, buf, static_cast<size_t>(n));
  // End of input. In pipe mode ^D ends it in the guest too: one ends a
  // partial line (the reader gets it), the next reads as end of file.
  virEventRemoveHandle(watch);
  a.stdin_watch = -1;
  if (a.interactive) return;
  const char eof[2] = {4, 4};
  queue_input(a, eof, a.sent_any && a.last_sent != '\n' ? 2 : 1);
}

void on_signal_pipe(int, int fd, int, void* opaque) {
  auto& a = *static_cast<Attach*>(opaque);
  char c;
  if (::read(fd, &c, 1) != 1) return;
  const int signo = c;
  if (signo == SIGINT && ++a.interrupts >= 3) {
    say(_("third interrupt: destroying the Arrow"));
    virDomainDestroy(a.dom);
    return;
  }
  if (virDomainSendProcessSignal(a.dom, 1, static_cast<unsigned>(signo), 0) < 0)
    say_libvirt(fmt(_("cannot forward signal %1$d"), signo));
}

// The exit code once the Arrow has stopped (it has when the console ends).
int wait_exit_code(virDomainPtr dom, const std::string& name) {
  for (int i = 0; i < 600 && virDomainIsActive(dom) == 1; i++) ::usleep(50000);
  std::optional<int> code = last_exit_code(dom);
  if (code) return *code;
  say(fmt(_("the Arrow '%1$s' stopped without an exit status from its application (see arrow logs %1$s)"),
          name.c_str()));
  return kExitFailure;
}

int attach_console(virConnectPtr conn, virDomainPtr dom, const RunOptions& o, bool interactive) {
  Attach a;
  a.dom = dom;
  a.interactive = interactive;
  a.st.reset(virStreamNew(conn, VIR_STREAM_NONBLOCK));
  if (!a.st || virDomainOpenConsole(dom, nullptr, a.st.get(), VIR_DOMAIN_CONSOLE_SAFE) < 0) {
    say_libvirt(_("cannot attach to the console"));
    return kExitFailure;
  }
  RawTerminal raw;
  if (interactive) raw.enter(STDIN_FILENO);
  virStreamEventAddCallback(a.st.get(), VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP,
                            on_stream, &a, nullptr);
  a.stdin_watch = virEventAddHandle(STDIN_FILENO, VIR_EVENT_HANDLE_READABLE, on_stdin, &a, nullptr);
  if (::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
    a.signal_watch = virEventAddHandle(signal_pipe[0], VIR_EVENT_HANDLE_READABLE, on_signal_pipe, &a, nullptr);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(s, &sa, nullptr);
  }
  while (!a.done && virEventRunDefaultImpl() == 0) {
  }
  if (a.stdin_watch >= 0) virEventRemoveHandle(a.stdin_watch);
  if (a.signal_watch >= 0) virEventRemoveHandle(a.signal_watch);
  virStreamEventRemoveCallback(a.st.get());
  if (a.detached) virStreamFinish(a.st.get());
  a.st.reset();
  if (a.detached) {
    std::fprintf(stderr, "\r\n");
    say(fmt(_("detached from '%1$s', which runs on: arrow logs -f %1$s, arrow stop %1$s"), o.spec.name.c_str()));
    return 0;
  }
  if (a.failed && virDomainIsActive(dom) == 1) {
    say(fmt(_("the Arrow '%1$s' runs on: arrow logs -f %1$s, arrow stop %1$s"), o.spec.name.c_str()));
    return kExitFailure;
  }
  return wait_exit_code(dom, o.spec.name);
}

}  // namespace

// arrow run --from IMAGE: a clone of the image (virDomainRestoreFlags with
// the image's XML under a new name and UUID, with --publish's port forwards),
// attached as `arrow run` attaches. A clone is transient: gone once stopped.
int run_from(const Global& g, RunOptions& o) {
  Owned<virConnect> conn = open_connection(g);
  if (!conn) return kExitFailure;
  char* image_xml = virDomainSaveImageGetXMLDesc(conn.get(), o.from.c_str(), VIR_DOMAIN_SAVE_IMAGE_XML_SECURE);
  if (!image_xml) {
    say_libvirt(fmt(_("cannot read the image '%1$s'"), o.from.c_str()));
    return kExitFailure;
  }
  Result<ArrowDef> def = parse_domain_xml(image_xml);
  std::free(image_xml);
  if (!def.ok()) {
    say(def.error().message);
    return kExitFailure;
  }
  def->name = o.spec.name.empty() ? generated_name(def->init) : o.spec.name;
  o.spec.name = def->name;
  def->uuid = uuid_generate();
  if (!o.spec.forwards.empty()) {
    if (def->interfaces.empty()) def->interfaces.emplace_back();
    Interface& iface = def->interfaces[0];
    if (iface.type != InterfaceType::User) {
      say(_("--publish: the image's network is a bridge, which has no port forwards"));
      return kExitFailure;
    }
    iface.port_forwards.clear();
    for (const Forward& f : o.spec.forwards) {
      PortForward pf;
      pf.address = "127.0.0.1";
      pf.ranges.push_back(PortRange{f.host_port, 0, f.guest_port});
      iface.port_forwards.push_back(pf);
    }
  }
  if (Owned<virDomain> taken{virDomainLookupByName(conn.get(), def->name.c_str())}) {
    say(fmt(_("the name '%1$s' is taken by another Arrow: choose another with --name"), def->name.c_str()));
    return kExitFailure;
  }
  virResetLastError();
  const std::string xml = format_domain_xml(def.value());
  if (virDomainRestoreFlags(conn.get(), o.from.c_str(), xml.c_str(), 0) < 0) {
    say_libvirt(fmt(_("cannot start '%1$s' from '%2$s'"), def->name.c_str(), o.from.c_str()));
    return kExitFailure;
  }
  Owned<virDomain> dom(virDomainLookupByName(conn.get(), def->name.c_str()));
  if (!dom) return say_libvirt(fmt(_("cannot find the Arrow '%1$s'"), def->name.c_str())), kExitFailure;
  if (o.detach) {
    std::printf("%s\n", def->name.c_str());
    return 0;
  }
  const bool interactive = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  return attach_console(conn.get(), dom.get(), o, interactive);
}

int cmd_run(const Global& g, const std::vector<std::string>& args) {
  char cwd_buf[PATH_MAX];
  const std::string cwd = ::getcwd(cwd_buf, sizeof cwd_buf) ? cwd_buf : "/";
  RunOptions o;
  if (!parse_run_args(args, cwd, o)) return kExitFailure;
  if (!o.from.empty()) return run_from(g, o);
  const char* path_env = std::getenv("PATH");
  Result<std::string> program = resolve_program(o.program, path_env ? path_env : "/usr/bin:/bin", cwd);
  if (!program.ok()) {
    say(program.error().message);
    return program.error().code == VIR_ERR_ACCESS_DENIED ? kExitNotExecutable : kExitNotFound;
  }
  o.spec.program = program.value();
  share_program_dir(o.spec);
  const bool interactive = !o.detach && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  o.spec.pipe_console = !o.detach && !interactive;
  if (o.spec.name.empty()) o.spec.name = generated_name(o.spec.program);

  Owned<virConnect> conn = open_connection(g);
  if (!conn) return kExitFailure;
  if (Owned<virDomain> taken{virDomainLookupByName(conn.get(), o.spec.name.c_str())}) {
    say(fmt(_("the name '%1$s' is taken by another Arrow: choose another with --name, or remove it with "
              "'arrow rm %1$s'"),
            o.spec.name.c_str()));
    return kExitFailure;
  }
  virResetLastError();
  const std::string xml = build_domain_xml(o.spec);
  // --detach --rm: a transient Arrow, gone when it stops. Otherwise it is
  // defined, so that its exit status and log stay readable after it ends.
  Owned<virDomain> dom(o.detach && o.rm ? virDomainCreateXML(conn.get(), xml.c_str(), 0)
                                        : virDomainDefineXML(conn.get(), xml.c_str()));
  if (!dom) {
    say_libvirt(fmt(_("cannot create the Arrow '%1$s'"), o.spec.name.c_str()));
    return kExitFailure;
  }
  if (!(o.detach && o.rm) && virDomainCreate(dom.get()) < 0) {
    say_libvirt(fmt(_("cannot start the Arrow '%1$s'"), o.spec.name.c_str()));
    if (o.rm) virDomainUndefine(dom.get());
    return kExitFailure;
  }
  if (o.detach) {
    std::printf("%s\n", o.spec.name.c_str());
    return 0;
  }
  const int code = attach_console(conn.get(), dom.get(), o, interactive);
  if (o.rm && virDomainIsActive(dom.get()) == 0) virDomainUndefine(dom.get());
  return code;
}

}  // namespace arrow::cli
