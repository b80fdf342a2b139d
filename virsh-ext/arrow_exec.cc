// `arrow exec NAME [-i] [-t] [-e K=V]... [-w DIR] [--] PROGRAM [ARGS]`:
// Adebug, a second program inside a running Arrow, as `docker exec` runs
// one in a container. A client of the stock libvirt library: it opens the
// Arrow-private channel kExecChannel with virDomainOpenChannel (read-write
// connections only; the daemon logs who asked) and speaks the exec protocol
// of kernel/ainit_exec.c over the stream: a request line, then frames
// ([type u8][length u32 big-endian][payload]) both ways. With -t the local
// terminal goes raw and the program gets a terminal of its own (a pty, its
// size kept in step on SIGWINCH); with -i this stdin is its stdin, else its
// stdin is closed at once. Exits with the program's exit status (127 when
// the guest has no such program, 126 when it cannot run it).
#include <fcntl.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "driver/api/arrow_names.h"
#include "util/i18n.h"
#include "virsh-ext/arrow_cli.h"

namespace arrow::cli {

namespace {

enum : uint8_t { kToStdin = 1, kToStdinEof = 2, kToWinsize = 3, kToSignal = 4 };
enum : uint8_t { kFromStdout = 1, kFromStderr = 2, kFromExit = 3 };

struct ExecOptions {
  std::string name;
  bool interactive = false;
  bool tty = false;
  std::vector<std::string> env;
  std::string dir;
  std::vector<std::string> argv;
};

std::optional<ExecOptions> parse_exec_args(const std::vector<std::string>& args) {
  ExecOptions o;
  size_t i = 0;
  for (; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--") {
      i++;
      break;
    }
    if (a == "-i" || a == "--interactive") {
      o.interactive = true;
    } else if (a == "-t" || a == "--tty") {
      o.tty = true;
    } else if (a == "-it" || a == "-ti") {
      o.interactive = o.tty = true;
    } else if ((a == "-e" || a == "--env") && i + 1 < args.size()) {
      if (args[i + 1].find('=') == std::string::npos || args[i + 1][0] == '=') {
        say(fmt(_("exec: -e takes NAME=VALUE, not '%1$s'"), args[i + 1].c_str()));
        return std::nullopt;
      }
      o.env.push_back(args[++i]);
    } else if ((a == "-w" || a == "--workdir") && i + 1 < args.size()) {
      o.dir = args[++i];
    } else if (!a.empty() && a[0] == '-') {
      say(fmt(_("exec: unknown option '%1$s'"), a.c_str()));
      return std::nullopt;
    } else if (o.name.empty()) {
      o.name = a;
    } else {
      break;  // the program
    }
  }
  o.argv.assign(args.begin() + static_cast<long>(i), args.end());
  if (o.name.empty() && !o.argv.empty()) o.name = o.argv[0], o.argv.erase(o.argv.begin());
  if (o.name.empty() || o.argv.empty()) {
    say(_("usage: arrow exec NAME [-i] [-t] [-e NAME=VALUE]... [-w DIR] [--] PROGRAM [ARGS...]"));
    return std::nullopt;
  }
  return o;
}

// A JSON string (the request carries only strings, booleans and numbers).
std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); i++) out += (i ? "," : "") + json_quote(v[i]);
  return out + "]";
}

std::string frame(uint8_t type, std::string_view payload) {
  const uint32_t n = static_cast<uint32_t>(payload.size());
  std::string f{static_cast<char>(type), static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                static_cast<char>(n >> 8), static_cast<char>(n)};
  return f.append(payload);
}

std::string winsize_payload() {
  winsize ws{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0) ws.ws_row = 24, ws.ws_col = 80;
  return std::string{static_cast<char>(ws.ws_row >> 8), static_cast<char>(ws.ws_row),
                     static_cast<char>(ws.ws_col >> 8), static_cast<char>(ws.ws_col)};
}

int winch_pipe[2] = {-1, -1};

void on_winch(int) {
  const int saved = errno;
  (void)!::write(winch_pipe[1], "w", 1);
  errno = saved;
}

struct Session {
  Owned<virStream> st;
  std::string pending;  // frames not yet accepted by the stream
  std::string in;       // bytes received, not yet a whole frame
  std::optional<int> exit_code;
  bool done = false;
  bool failed = false;
  int stdin_watch = -1;
  int winch_watch = -1;
};

void update_events(Session& s) {
  int events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
  if (!s.pending.empty()) events |= VIR_STREAM_EVENT_WRITABLE;
  virStreamEventUpdateCallback(s.st.get(), events);
}

void flush(Session& s) {
  while (!s.pending.empty() && !s.done) {
    const int n = virStreamSend(s.st.get(), s.pending.data(), s.pending.size());
    if (n == -2) break;
    if (n < 0) {
      say_libvirt(_("exec"));
      s.failed = s.done = true;
      return;
    }
    s.pending.erase(0, static_cast<size_t>(n));
  }
  update_events(s);
}

void send(Session& s, std::string bytes) {
  s.pending += bytes;
  flush(s);
}

void write_fd(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // a closed pipe: the rest is dropped
    p += w, n -= static_cast<size_t>(w);
  }
}

// The whole frames in s.in.
void take_frames(Session& s) {
  while (s.in.size() >= 5 && !s.exit_code) {
    const auto* h = reinterpret_cast<const unsigned char*>(s.in.data());
    const size_t n = (size_t{h[1]} << 24) | (size_t{h[2]} << 16) | (size_t{h[3]} << 8) | h[4];
    if (s.in.size() < 5 + n) return;
    const char* p = s.in.data() + 5;
    if (h[0] == kFromStdout) write_fd(STDOUT_FILENO, p, n);
    if (h[0] == kFromStderr) write_fd(STDERR_FILENO, p, n);
    if (h[0] == kFromExit && n >= 4) {
      const auto* b = reinterpret_cast<const unsigned char*>(p);
      s.exit_code = static_cast<int>((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3]);
    }
    s.in.erase(0, 5 + n);
  }
}

void on_stream(virStreamPtr st, int events, void* opaque) {
  auto& s = *static_cast<Session*>(opaque);
  if (events & VIR_STREAM_EVENT_READABLE) {
    char buf[65536];
    for (;;) {
      const int n = virStreamRecv(st, buf, sizeof buf);
      if (n > 0) {
        s.in.append(buf, static_cast<size_t>(n));
        take_frames(s);
        if (s.exit_code) {
          s.done = true;
          return;
        }
        continue;
      }
      if (n == -2) break;
      if (n == 0) {
        say(_("the Arrow stopped before the program ended"));
      } else {
        say_libvirt(_("exec"));
      }
      s.failed = s.done = true;
      return;
    }
  }
  if (events & VIR_STREAM_EVENT_WRITABLE) flush(s);
  if ((events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP)) && !s.done) {
    say(_("the exec session ended"));
    s.failed = s.done = true;
  }
}

void on_stdin(int watch, int fd, int, void* opaque) {
  auto& s = *static_cast<Session*>(opaque);
  char buf[16384];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n > 0) return send(s, frame(kToStdin, std::string_view(buf, static_cast<size_t>(n))));
  virEventRemoveHandle(watch);
  s.stdin_watch = -1;
  send(s, frame(kToStdinEof, {}));
}

void on_winch_pipe(int, int fd, int, void* opaque) {
  char c;
  while (::read(fd, &c, 1) == 1) {
  }
  send(*static_cast<Session*>(opaque), frame(kToWinsize, winsize_payload()));
}

class RawTerminal {
 public:
  void enter(int fd) {
    if (::tcgetattr(fd, &saved_) < 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(fd, TCSAFLUSH, &raw) == 0) fd_ = fd;
  }
  ~RawTerminal() {
    if (fd_ >= 0) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
  }

 private:
  termios saved_{};
  int fd_ = -1;
};


// Runs O's program in its Arrow; its exit status, or kExitFailure.
int run_exec(const Global& g, const std::optional<ExecOptions>& o) {
  if (!o) return kExitFailure;
  Owned<virConnect> conn = open_connection(g);
  if (!conn) return kExitFailure;
  Owned<virDomain> dom = find_domain(conn.get(), o->name);
  if (!dom) return kExitFailure;
  if (virDomainIsActive(dom.get()) != 1) {
    say(fmt(_("the Arrow '%1$s' is not running"), o->name.c_str()));
    return kExitFailure;
  }
  const bool terminal = o->tty && ::isatty(STDIN_FILENO);
  Session s;
  s.st.reset(virStreamNew(conn.get(), VIR_STREAM_NONBLOCK));
  if (!s.st || virDomainOpenChannel(dom.get(), kExecChannel, s.st.get(), 0) < 0) {
    say_libvirt(_("cannot run a program in it"));
    return kExitFailure;
  }
  std::string request = "{\"argv\":" + json_list(o->argv) + ",\"env\":" + json_list(o->env) +
                        ",\"tty\":" + (o->tty ? "true" : "false");
  if (!o->dir.empty()) request += ",\"dir\":" + json_quote(o->dir);
  if (o->tty) {
    const std::string ws = winsize_payload();
    request += fmt(",\"rows\":%d,\"cols\":%d", (static_cast<unsigned char>(ws[0]) << 8) | static_cast<unsigned char>(ws[1]),
                   (static_cast<unsigned char>(ws[2]) << 8) | static_cast<unsigned char>(ws[3]));
  }
  virStreamEventAddCallback(s.st.get(), VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP,
                            on_stream, &s, nullptr);
  send(s, request + "}\n");
  RawTerminal raw;
  if (terminal) raw.enter(STDIN_FILENO);
  if (o->interactive || o->tty) {
    s.stdin_watch = virEventAddHandle(STDIN_FILENO, VIR_EVENT_HANDLE_READABLE, on_stdin, &s, nullptr);
  } else {
    send(s, frame(kToStdinEof, {}));  // docker exec without -i: no input
  }
  if (terminal && ::pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
    s.winch_watch = virEventAddHandle(winch_pipe[0], VIR_EVENT_HANDLE_READABLE, on_winch_pipe, &s, nullptr);
    struct sigaction sa {};
    sa.sa_handler = on_winch;
    ::sigaction(SIGWINCH, &sa, nullptr);
  }
  while (!s.done && virEventRunDefaultImpl() == 0) {
  }
  if (s.stdin_watch >= 0) virEventRemoveHandle(s.stdin_watch);
  if (s.winch_watch >= 0) virEventRemoveHandle(s.winch_watch);
  virStreamEventRemoveCallback(s.st.get());
  if (s.exit_code) {
    virStreamFinish(s.st.get());
  } else {
    virStreamAbort(s.st.get());
  }
  return s.exit_code ? *s.exit_code : kExitFailure;
}

// `arrow debug`'s program in the guest: finds the application (the child of
// PID 1 that is not one of ainit's own helpers, which keep its name) and
// attaches the tool ($1: strace or gdb) from the Arrow's /usr, or says what
// to install.
constexpr const char* kDebugScript =
    "app=; for s in /proc/[0-9]*/stat; do read -r pid comm state ppid rest < \"$s\" 2>/dev/null || continue; "
    "if [ \"$ppid\" = 1 ] && [ \"$comm\" != \"(init)\" ]; then app=$pid; break; fi; done; "
    "[ -n \"$app\" ] || { echo \"arrow debug: the application is not running\" >&2; exit 125; }; "
    "if [ \"$1\" = gdb ]; then command -v gdb >/dev/null && exec gdb -q -p \"$app\"; "
    "else command -v strace >/dev/null && exec strace -f -p \"$app\"; fi; "
    "echo \"arrow debug: no $1 in this Arrow's /usr: install it on the host (apt-get install $1)\" >&2; exit 127";

}  // namespace

int cmd_exec(const Global& g, const std::vector<std::string>& args) { return run_exec(g, parse_exec_args(args)); }

int cmd_debug(const Global& g, const std::vector<std::string>& args) {
  ExecOptions o;
  std::string tool = "strace";
  for (const std::string& a : args) {
    if (a == "--gdb") {
      tool = "gdb";
    } else if (a == "--strace") {
      tool = "strace";
    } else if (!a.empty() && a[0] != '-' && o.name.empty()) {
      o.name = a;
    } else {
      say(_("usage: arrow debug NAME [--strace | --gdb]"));
      return kExitFailure;
    }
  }
  if (o.name.empty()) {
    say(_("usage: arrow debug NAME [--strace | --gdb]"));
    return kExitFailure;
  }
  o.interactive = true;
  o.tty = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  o.argv = {"sh", "-c", kDebugScript, "arrow-debug", tool};
  return run_exec(g, o);
}

}  // namespace arrow::cli
