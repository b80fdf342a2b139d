/* ainit: the Arrow guest's PID 1 — sets the guest up from the kernel command
 * line, runs the one application on /dev/hvc0, supervises it (reaping every
 * child, obeying Anotify requests), reports over Anotify and powers off. */
#include "kernel/ainit_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define CONSOLE "/dev/hvc0"
#define EXIT_GRACE_MS 1000   /* for the processes left when the application ends */
#define DRAIN_MS 2000        /* for the host to take the last frames */
#define INSTRUCTIONS_MS 20000 /* for the host's answer to INSTRUCTIONS_WANTED */
/* The systemd notify protocol: the application says READY=1 here. */
#define NOTIFY_PATH "/run/arrow-notify"

struct ainit {
  struct ainit_config cfg;
  struct anotify an;
  int sigfd;          /* SIGCHLD and SIGIO */
  int kmsg;           /* /dev/kmsg, read for the OOM killer's reports; -1 if absent */
  struct oom_watch oom; /* memory pressure (ainit_oom.c) */
  int pressure;       /* PSI trigger for the host's AutoBalloon (ainit_pressure.c); -1 if none */
  int oom_killed;     /* ainit ended the guest's processes for want of memory */
  pid_t app;          /* the application (leader of its session and group) */
  int app_done;       /* the application was reaped; app_status holds its wait status */
  int app_status;
  uint64_t kill_at;   /* uptime_ms at which an ANOTIFY_SHUTDOWN grace ends, 0 if none */
  int awaiting;       /* reading the private instructions (receive_instructions) */
  /* SHUTDOWN and SIGNAL that came before the application: done once it runs. */
  int early_shutdown;
  uint32_t early_grace;
  int32_t early_signal;
  struct output_relay out; /* pipe mode: the application's stdout/stderr */
  int notify;         /* datagram socket at NOTIFY_PATH, -1 if none */
  int ready_sent;     /* ANOTIFY_READY sent */
  struct agent agent; /* the guest agent (ainit_agent.c) */
};

/* Why the child did not reach the application, sent to the parent through a
 * close-on-exec pipe (end of file means execve succeeded). */
enum launch_stage { STAGE_USER, STAGE_DIR, STAGE_EXEC };
struct launch_failure {
  int stage; /* enum launch_stage */
  int err;   /* errno */
};

void ainit_log(const char *fmt, ...) {
  char buf[1200];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + 7, sizeof buf - 8, fmt, ap);
  va_end(ap);
  memcpy(buf, "ainit: ", 7);
  n = n < 0 ? 7 : n + 7 > (int)sizeof buf - 2 ? (int)sizeof buf - 2 : n + 7;
  buf[n++] = '\n';
  write(STDERR_FILENO, buf, (size_t)n);
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static int32_t get32(const unsigned char *p) {
  return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 24);
}

/* The end of the guest: QEMU (-no-reboot, reboot=t) exits. PID 1 never returns. */
static void __attribute__((noreturn)) power_off(struct ainit *s) {
  anotify_drain(&s->an, DRAIN_MS);
  sync();
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}

/* A failure before the application could start: said on the kernel console,
 * on the application console and over Anotify (ERROR), then power-off. */
static void __attribute__((noreturn)) fatal(struct ainit *s, const char *msg) {
  char line[1100];
  int n = snprintf(line, sizeof line, "ainit: %s\n", msg);
  ainit_log("%s", msg);
  int fd = open(CONSOLE, O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd >= 0) {
    write(fd, line, (size_t)n);
    close(fd);
  }
  anotify_send(&s->an, ANOTIFY_ERROR, line, (uint16_t)(n - 1), 1);
  power_off(s);
}

static const char *env_value(char **env, size_t n, const char *name) {
  size_t len = strlen(name);
  for (size_t i = n; i-- > 0;)
    if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') return env[i] + len + 1;
  return NULL;
}

/* PATH, HOME, USER and NOTIFY_SOCKET unless the host's environment sets
 * them, then that in order. */
static char **build_env(const struct ainit_config *cfg) {
  static const char *const names[] = {"PATH", "HOME", "USER", "NOTIFY_SOCKET"};
  const char *values[] = {AINIT_DEFAULT_PATH, cfg->home, cfg->user, NOTIFY_PATH};
  char **env = calloc(cfg->nenv + 5, sizeof *env);
  size_t n = 0;
  if (!env) return NULL;
  for (size_t i = 0; i < 4; i++) {
    if (env_value(cfg->env, cfg->nenv, names[i])) continue;
    size_t len = strlen(names[i]) + strlen(values[i]) + 2;
    if (!(env[n] = malloc(len))) return NULL;
    snprintf(env[n++], len, "%s=%s", names[i], values[i]);
  }
  for (size_t i = 0; i < cfg->nenv; i++) env[n++] = cfg->env[i];
  return env;
}

static char **build_argv(const struct ainit_config *cfg) {
  char **argv = calloc(cfg->nargs + 2, sizeof *argv);
  if (!argv) return NULL;
  argv[0] = cfg->init;
  for (size_t i = 0; i < cfg->nargs; i++) argv[i + 1] = cfg->args[i];
  return argv;
}

/* What a shell would say and the status it would give. */
static int describe_failure(const struct ainit_config *cfg, const struct launch_failure *f,
                            char *buf, size_t len) {
  switch ((enum launch_stage)f->stage) {
  case STAGE_USER:
    snprintf(buf, len, "cannot switch to user %s (%u:%u): %s", cfg->user, cfg->uid, cfg->gid,
             strerror(f->err));
    return 126;
  case STAGE_DIR:
    snprintf(buf, len, "cannot change directory to %s: %s", cfg->dir, strerror(f->err));
    return 126;
  case STAGE_EXEC:
    snprintf(buf, len, "%s: %s", cfg->init, strerror(f->err));
    return f->err == ENOENT || f->err == ENOTDIR ? 127 : 126;
  }
  snprintf(buf, len, "launch failed");
  return 126;
}

/* arrow.tty=pipe: the host end is a pipe or file, not a terminal. Output
 * leaves as written (no \n -> \r\n), input is not echoed and no character
 * raises a signal (the host forwards signals itself); input stays canonical
 * so that ^D, the only special character left, can end it (read returns 0),
 * which a raw tty could not express. */
static void console_pipe_mode(int fd) {
  struct termios t;
  if (tcgetattr(fd, &t) < 0) return;
  t.c_oflag &= ~(tcflag_t)OPOST;
  t.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON | IXOFF | ISTRIP);
  t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ISIG | IEXTEN);
  t.c_lflag |= ICANON;
  for (int i = 0; i < NCCS; i++)
    if (i != VEOF && i != VMIN && i != VTIME) t.c_cc[i] = _POSIX_VDISABLE;
  tcsetattr(fd, TCSANOW, &t);
}

/* In the child: a new session whose controlling terminal is the console,
 * the user's identity, the working directory, then the application. */
static void __attribute__((noreturn)) child(const struct ainit_config *cfg, char **argv,
                                            char **envp, int report, int out) {
  struct launch_failure f = {STAGE_EXEC, 0};
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  int fd = open(CONSOLE, O_RDWR);
  if (fd >= 0) {
    ioctl(fd, TIOCSCTTY, 0);
    if (cfg->tty_pipe) console_pipe_mode(fd);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) close(fd);
  }
  if (out >= 0) { /* pipe mode: stdout and stderr through PID 1's relay */
    dup2(out, 1);
    dup2(out, 2);
  }
  gid_t gid = cfg->gid;
  if (setgroups(1, &gid) < 0 || setgid(cfg->gid) < 0 || setuid(cfg->uid) < 0)
    f.stage = STAGE_USER;
  else if (chdir(cfg->dir) < 0)
    f.stage = STAGE_DIR;
  else
    execve(cfg->init, argv, envp);
  f.err = errno;
  char msg[1024];
  int status = describe_failure(cfg, &f, msg, sizeof msg);
  dprintf(2, "ainit: %s\n", msg);
  write(report, &f, sizeof f);
  _exit(status);
}

/* The notify socket every user may write to; without it the application
 * runs all the same (NOTIFY_SOCKET then names nothing). */
static void open_notify(struct ainit *s) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  memcpy(a.sun_path, NOTIFY_PATH, sizeof NOTIFY_PATH);
  s->notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->notify >= 0 && (bind(s->notify, (struct sockaddr *)&a, sizeof a) < 0 || chmod(NOTIFY_PATH, 0666) < 0)) {
    ainit_log("no notify socket at %s: %s", NOTIFY_PATH, strerror(errno));
    close(s->notify);
    s->notify = -1;
  }
}

/* A datagram on the notify socket: READY=1 among its lines is reported to
 * the host once (ANOTIFY_READY); the rest of the protocol is ignored. */
static void read_notify(struct ainit *s) {
  char buf[4096];
  ssize_t n;
  while ((n = recv(s->notify, buf, sizeof buf - 1, 0)) >= 0) {
    buf[n] = '\0';
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
      if (strncmp(line, "READY=1", 7) == 0 && (line[7] == '\n' || line[7] == '\0') && !s->ready_sent) {
        s->ready_sent = 1;
        anotify_send(&s->an, ANOTIFY_READY, "", 0, 1);
      }
    }
  }
}

static void start_app(struct ainit *s) {
  open_notify(s);
  char **argv = build_argv(&s->cfg), **envp = build_env(&s->cfg);
  int pipefd[2];
  if (!argv || !envp) fatal(s, "out of memory");
  if (pipe2(pipefd, O_CLOEXEC) < 0) fatal(s, "pipe failed");
  if (s->cfg.tty_pipe) output_open(&s->out);
  s->app = fork();
  if (s->app < 0) fatal(s, "fork failed");
  if (s->app == 0) child(&s->cfg, argv, envp, pipefd[1], s->out.pipe_wr);
  close(pipefd[1]);
  if (s->out.pipe_wr >= 0) close(s->out.pipe_wr);
  s->out.pipe_wr = -1;
  struct launch_failure f;
  ssize_t n;
  do n = read(pipefd[0], &f, sizeof f);
  while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n == (ssize_t)sizeof f) {
    char msg[1024];
    describe_failure(&s->cfg, &f, msg, sizeof msg);
    ainit_log("%s", msg);
    anotify_send(&s->an, ANOTIFY_ERROR, msg, (uint16_t)strlen(msg), 1);
    return; /* the child exits 126/127: reported as the application's exit */
  }
  unsigned char pid[4];
  put32(pid, (uint32_t)s->app);
  anotify_send(&s->an, ANOTIFY_APP_STARTED, pid, sizeof pid, 1);
}

/* The OOM killer names each victim in the kernel log ("Out of memory:
 * Killed process PID (comm) ..."). The single-task kernel has no VM event
 * counters (/proc/vmstat has no oom_kill), so ainit follows /dev/kmsg from
 * the moment the application starts and reports every victim, the
 * application or any of its processes, as ANOTIFY_OOM. */
static void open_kmsg(struct ainit *s) {
  s->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (s->kmsg >= 0) lseek(s->kmsg, 0, SEEK_END);
}

static void check_oom(struct ainit *s) {
  static char rec[8192]; /* a record never exceeds this, so read() never fails with EINVAL */
  while (s->kmsg >= 0) {
    ssize_t n = read(s->kmsg, rec, sizeof rec - 1);
    if (n < 0 && errno == EPIPE) continue; /* records were overwritten: read on */
    if (n <= 0) return;                    /* EAGAIN: nothing more now */
    rec[n] = '\0';
    const char *text = strchr(rec, ';'); /* "prio,seq,usec,flags;text" */
    const char *victim = text ? strstr(text, "Killed process ") : NULL;
    if (!victim) continue;
    unsigned char payload[8];
    put32(payload, (uint32_t)strtoul(victim + 15, NULL, 10));
    put32(payload + 4, ANOTIFY_OOM_BY_KERNEL);
    anotify_send(&s->an, ANOTIFY_OOM, payload, sizeof payload, 1);
  }
}

/* The guest is out of memory but the kernel's OOM killer has not acted
 * (ainit_oom.c): every process but PID 1 is killed at once, which frees the
 * memory soonest (the guest ends with the application anyway), and the
 * application is reported as an OOM victim, as the kernel's would be. */
static void oom_kill(struct ainit *s) {
  unsigned char payload[8];
  s->oom_killed = 1;
  kill(-1, SIGKILL);
  put32(payload, (uint32_t)s->app);
  put32(payload + 4, ANOTIFY_OOM_BY_INIT);
  anotify_send(&s->an, ANOTIFY_OOM, payload, sizeof payload, 1);
}

/* Signals the application's process group (or the process alone if it left
 * its group). */
static void signal_app(struct ainit *s, int sig) {
  if (s->app_done) return;
  if (kill(-s->app, sig) < 0) kill(s->app, sig);
}

static void shutdown_app(struct ainit *s, uint32_t grace) {
  signal_app(s, grace ? SIGTERM : SIGKILL);
  s->kill_at = grace ? uptime_ms() + grace : 0;
}

/* The private instructions, while receive_instructions waits for them. */
static void on_instruction(struct ainit *s, uint8_t type, const unsigned char *p, uint16_t len) {
  char err[200];
  if (type == ANOTIFY_SETENV && ainit_add_env(&s->cfg, p, len, err, sizeof err)) fatal(s, err);
  if (type != ANOTIFY_INSTRUCTIONS_END) return;
  if (s->cfg.nenv != s->cfg.nenv_expected) {
    snprintf(err, sizeof err, "Anotify INSTRUCTIONS_END after %zu of the %u environment variables",
             s->cfg.nenv, s->cfg.nenv_expected);
    fatal(s, err);
  }
  s->awaiting = 0;
}

static void on_host_frame(void *ctx, uint8_t type, const unsigned char *p, uint16_t len) {
  struct ainit *s = ctx;
  if (type == ANOTIFY_SETENV || type == ANOTIFY_INSTRUCTIONS_END) {
    if (s->awaiting) on_instruction(s, type, p, len); /* later ones are skipped */
  } else if (type == ANOTIFY_SHUTDOWN && len >= 4) {
    uint32_t grace = (uint32_t)get32(p);
    if (s->app) shutdown_app(s, grace);
    else s->early_shutdown = 1, s->early_grace = grace;
  } else if (type == ANOTIFY_SIGNAL && len >= 4) {
    int32_t sig = get32(p);
    if (sig > 0 && sig < NSIG && s->app) signal_app(s, sig);
    else if (sig > 0 && sig < NSIG) s->early_signal = sig;
  }
  /* Any other type: skipped, as PROTOCOL.md asks of receivers. */
}

/* ainit's private instructions (the environment, which may hold secrets)
 * never travel on the kernel command line, which every user of the host can
 * read: arrow.nenv says how many variables the host sends over Anotify when
 * asked (INSTRUCTIONS_WANTED), as SETENV frames, then INSTRUCTIONS_END.
 * Asked again of a new host end (a daemon restarted before it answered),
 * which sends them all. */
static void ask_instructions(struct ainit *s) {
  for (size_t i = 0; i < s->cfg.nenv; i++) free(s->cfg.env[i]);
  s->cfg.nenv = 0;
  s->an.inlen = 0; /* a frame the old host end left unfinished */
  anotify_send(&s->an, ANOTIFY_INSTRUCTIONS_WANTED, "", 0, 1);
}

/* Waits for the answer. A SHUTDOWN or SIGNAL meanwhile is kept for the
 * application, as the port itself used to keep them. */
static void receive_instructions(struct ainit *s) {
  uint64_t end = uptime_ms() + INSTRUCTIONS_MS;
  while (s->awaiting) {
    uint64_t now = uptime_ms();
    if (s->an.fd < 0) fatal(s, "no Anotify port: the environment cannot come from the host");
    if (now >= end) {
      char msg[200];
      snprintf(msg, sizeof msg, "no answer from the host to Anotify INSTRUCTIONS_WANTED within %d s: "
               "%zu of the %u environment variables came", INSTRUCTIONS_MS / 1000, s->cfg.nenv,
               s->cfg.nenv_expected);
      fatal(s, msg);
    }
    int was = s->an.connected;
    anotify_refresh(&s->an);
    if (!was && s->an.connected) ask_instructions(s);
    /* POLLOUT while the request waits in the queue (the port may take it later). */
    struct pollfd p = {s->an.fd, (short)(POLLIN | (s->an.outlen ? POLLOUT : 0)), 0};
    int n = poll(&p, 1, (int)(end - now));
    if (n > 0) anotify_receive(&s->an, on_host_frame, s);
    if (n > 0 && (p.revents & POLLHUP)) poll(NULL, 0, 50); /* no host end yet: it may connect */
  }
}

/* arrow.wait=1: ainit booted with nothing but that on its command line, so
 * that the guest's memory at this point is the same for every Arrow with the
 * same devices and can be saved as a template (ARCHITECTURE.md, "Templates").
 * Every instruction comes over Anotify instead, after a restore: one set,
 * asked for with INSTRUCTIONS_WANTED/ANOTIFY_WANT_ALL and again of every new
 * host end. A set begins with an empty TEXT frame; frames before that begin
 * belong to an older answer and are dropped. No deadline: a template waits
 * here for as long as it is kept. */
/* <linux/random.h>'s ioctls (musl ships no kernel headers). */
struct rand_pool_info {
  int entropy_count;
  int buf_size;
};
#define RNDADDENTROPY _IOW('R', 0x03, int[2])
#define RNDRESEEDCRNG _IO('R', 0x07)

static struct {
  int begun, done, overflow;
  char text[4096];
  size_t textlen;
  unsigned char env[2 * 65536 + 64]; /* u16 length, bytes; per SETENV frame: 64 KiB of NAME=VALUE in
                                       at most 32768 variables ("A=" each) */
  size_t envlen;
  unsigned char entropy[64];
  size_t nentropy;
} set;

static void ask_all(struct ainit *s) {
  unsigned char all = ANOTIFY_WANT_ALL;
  memset(&set, 0, sizeof set);
  s->an.inlen = 0;
  anotify_send(&s->an, ANOTIFY_INSTRUCTIONS_WANTED, &all, 1, 1);
}

static void on_set_frame(void *ctx, uint8_t type, const unsigned char *p, uint16_t len) {
  if (type == ANOTIFY_INSTRUCTIONS_TEXT && len == 0) {
    memset(&set, 0, sizeof set);
    set.begun = 1;
    return;
  }
  if (type == ANOTIFY_SHUTDOWN || type == ANOTIFY_SIGNAL) {
    on_host_frame(ctx, type, p, len);
    return;
  }
  if (!set.begun || set.done) return;
  if (type == ANOTIFY_INSTRUCTIONS_TEXT) {
    if (set.textlen + len >= sizeof set.text) set.overflow = 1;
    else memcpy(set.text + set.textlen, p, len), set.textlen += len;
  } else if (type == ANOTIFY_ENTROPY) {
    set.nentropy = len < sizeof set.entropy ? len : sizeof set.entropy;
    memcpy(set.entropy, p, set.nentropy);
  } else if (type == ANOTIFY_SETENV) {
    if (set.envlen + 2 + len > sizeof set.env) {
      set.overflow = 1;
    } else {
      set.env[set.envlen] = (unsigned char)(len & 0xff);
      set.env[set.envlen + 1] = (unsigned char)(len >> 8);
      memcpy(set.env + set.envlen + 2, p, len);
      set.envlen += 2 + (size_t)len;
    }
  } else if (type == ANOTIFY_INSTRUCTIONS_END) {
    set.done = 1;
  }
}

/* Fresh randomness for a guest restored from a template: every copy of it
 * starts with the template's CRNG state, so the host's bytes are mixed in and
 * the CRNG reseeded before the application can ask for random numbers. */
static void reseed(void) {
  if (!set.nentropy) return;
  struct {
    struct rand_pool_info info;
    unsigned char buf[sizeof set.entropy];
  } r;
  r.info.entropy_count = (int)(set.nentropy * 8);
  r.info.buf_size = (int)set.nentropy;
  memcpy(r.buf, set.entropy, set.nentropy);
  int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ioctl(fd, RNDADDENTROPY, &r) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
    ainit_log("cannot reseed the kernel's random number generator: %s", strerror(errno));
  if (fd >= 0) close(fd);
  memset(&r, 0, sizeof r);
  memset(set.entropy, 0, sizeof set.entropy);
}

static void wait_for_all(struct ainit *s) {
  char err[1024];
  ask_all(s);
  while (!set.done) {
    if (s->an.fd < 0) fatal(s, "arrow.wait=1 but no Anotify port: the instructions cannot come");
    int was = s->an.connected;
    anotify_refresh(&s->an);
    if (!was && s->an.connected) ask_all(s);
    struct pollfd p = {s->an.fd, (short)(POLLIN | (s->an.outlen ? POLLOUT : 0)), 0};
    int n = poll(&p, 1, 1000);
    if (n > 0) anotify_receive(&s->an, on_set_frame, s);
    if (n > 0 && (p.revents & POLLHUP)) poll(NULL, 0, 50); /* no host end yet: it may connect */
  }
  if (set.overflow) fatal(s, "Anotify: the instructions are larger than ainit takes");
  set.text[set.textlen] = '\0';
  ainit_config_free(&s->cfg);
  if (ainit_parse_cmdline(set.text, &s->cfg, err, sizeof err)) fatal(s, err);
  if (s->cfg.wait) fatal(s, "Anotify: arrow.wait=1 among the instructions");
  for (size_t at = 0; at + 2 <= set.envlen;) {
    size_t len = (size_t)set.env[at] | (size_t)set.env[at + 1] << 8;
    if (ainit_add_env(&s->cfg, set.env + at + 2, len, err, sizeof err)) fatal(s, err);
    at += 2 + len;
  }
  if (s->cfg.nenv != s->cfg.nenv_expected) {
    snprintf(err, sizeof err, "Anotify INSTRUCTIONS_END after %zu of the %u environment variables",
             s->cfg.nenv, s->cfg.nenv_expected);
    fatal(s, err);
  }
  memset(set.env, 0, set.envlen); /* the environment may hold secrets */
  reseed();
}

/* Reaps every exited child; notes the application's status. Returns 0 while
 * children remain, -1 when there are none. */
static int reap(struct ainit *s) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) return 0;
    if (pid < 0) return errno == EINTR ? 0 : -1;
    if (pid == s->app && !s->app_done) {
      s->app_done = 1;
      s->app_status = status;
    } else {
      agent_reaped(&s->agent, pid, status);
    }
  }
}

static void drain_signals(struct ainit *s) {
  struct signalfd_siginfo si;
  while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
    if (si.ssi_signo == SIGIO) anotify_refresh(&s->an), agent_refresh(&s->agent);
  }
  reap(s);
}

static int timeout_until(uint64_t now, uint64_t at, int current) {
  if (!at) return current;
  int ms = at > now ? (int)(at - now) : 0;
  return current < 0 || ms < current ? ms : current;
}

/* Runs until the application has exited. */
static void supervise(struct ainit *s) {
  uint64_t next_hb = s->cfg.hb ? uptime_ms() + s->cfg.hb * 1000ull : 0;
  while (!s->app_done) {
    uint64_t now = uptime_ms();
    int timeout = timeout_until(now, next_hb, -1);
    timeout = timeout_until(now, s->kill_at, timeout);
    if (!s->an.connected && s->an.outlen) timeout = timeout_until(now, now + 200, timeout);
    struct pollfd p[8] = {{s->sigfd, POLLIN, 0}, {s->kmsg, POLLIN, 0},
                          {s->an.fd >= 0 && s->an.connected ? s->an.fd : -1, POLLIN, 0}, output_pollfd(&s->out),
                          {s->oom_killed ? -1 : s->oom.fd, POLLPRI, 0}, {s->pressure, POLLPRI, 0},
                          {s->notify, POLLIN, 0}, agent_pollfd(&s->agent)};
#ifdef AINIT_OOM_TRACE /* measuring (BOOT.md, "Out of memory"): a sample every 250 ms */
    static uint64_t next_trace;
    if (now >= next_trace) oom_trace(), next_trace = now + 250;
    timeout = timeout_until(now, next_trace, timeout);
#endif
    int n = poll(p, 8, timeout); /* negative fds are skipped */
    if (n > 0 && p[6].revents) read_notify(s);
    if (n > 0 && p[7].revents) agent_step(&s->agent, p[7].revents);
    if (n > 0 && p[3].revents) output_step(&s->out, p[3].revents);
    /* The kernel log first: an OOM report precedes the victim's reaping. */
    if (n > 0 && p[1].revents) check_oom(s);
    if (n > 0 && p[0].revents) drain_signals(s);
    if (n > 0 && (p[2].revents & POLLIN)) anotify_receive(&s->an, on_host_frame, s);
    if (n > 0 && (p[2].revents & POLLHUP)) s->an.connected = 0;
    now = uptime_ms();
    if (n > 0 && p[4].revents && oom_check(&s->oom, p[4].revents, now)) oom_kill(s);
    if (n > 0 && p[5].revents) s->pressure = pressure_check(s->pressure, p[5].revents, &s->an);
    if (!s->an.connected && s->an.outlen) anotify_refresh(&s->an);
    if (s->kill_at && now >= s->kill_at) {
      signal_app(s, SIGKILL);
      s->kill_at = 0;
    }
    if (next_hb && now >= next_hb) {
      unsigned char up[8];
      put64(up, now);
      anotify_send(&s->an, ANOTIFY_HEARTBEAT, up, sizeof up, 0);
      next_hb = now + s->cfg.hb * 1000ull;
    }
  }
}

/* Waits up to ms for every remaining child to be reaped. */
static void reap_all(struct ainit *s, int ms) {
  uint64_t end = uptime_ms() + (uint64_t)ms;
  while (reap(s) == 0) {
    uint64_t now = uptime_ms();
    if (now >= end) return;
    struct pollfd p = {s->sigfd, POLLIN, 0};
    if (poll(&p, 1, (int)(end - now)) > 0) drain_signals(s);
  }
}

static void finish(struct ainit *s) {
  kill(-1, SIGTERM);
  reap_all(s, EXIT_GRACE_MS);
  kill(-1, SIGKILL);
  reap_all(s, EXIT_GRACE_MS);
  check_oom(s); /* OOM reports come before APP_EXITED (PROTOCOL.md) */
  output_finish(&s->out, &s->an); /* and all the output, acknowledged */
  unsigned char payload[8];
  int st = s->app_status;
  put32(payload, (uint32_t)(WIFEXITED(st) ? WEXITSTATUS(st) : -1));
  put32(payload + 4, (uint32_t)(WIFSIGNALED(st) ? WTERMSIG(st) : 0));
  anotify_send(&s->an, ANOTIFY_APP_EXITED, payload, sizeof payload, 1);
  if (WIFSIGNALED(st)) ainit_log("%s killed by signal %d", s->cfg.init, WTERMSIG(st));
  power_off(s);
}

static char *read_cmdline(void) {
  static char buf[4096];
  int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return n > 0 ? buf : NULL;
}

static void setup(struct ainit *s, uint64_t boot_ms) {
  char err[1024];
  unsigned char up[8];
  if (setup_base_mounts(err, sizeof err)) fatal(s, err);
  anotify_open(&s->an);
  const char *cmdline = read_cmdline();
  if (!cmdline) fatal(s, "cannot read /proc/cmdline");
  if (ainit_parse_cmdline(cmdline, &s->cfg, err, sizeof err)) fatal(s, err);
  const int templated = s->cfg.wait;
  if (templated) {
    /* A template: BOOTED is said to the host that gives the instructions,
     * the one that restored it. */
    wait_for_all(s);
    boot_ms = uptime_ms();
  }
  put64(up, boot_ms);
  anotify_send(&s->an, ANOTIFY_BOOTED, up, sizeof up, 1);
  /* Asked now, read just before the application starts: the answer comes
   * while the guest is set up. */
  if (!templated && (s->awaiting = s->cfg.nenv_expected > 0)) ask_instructions(s);
  setup_clock(&s->cfg);
  setup_limits();
  if (setup_shares(&s->cfg, err, sizeof err) || setup_etc(&s->cfg, err, sizeof err) ||
      setup_network(&s->cfg, err, sizeof err))
    fatal(s, err);
  channels_setup(&s->cfg);
  agent_open(&s->agent, &s->cfg);
  exec_server_start(&s->cfg);
  channels_sockets_start(&s->cfg);
}

int main(void) {
  static struct ainit s = {.sigfd = -1, .kmsg = -1, .an = {.fd = -1}, .oom = {.fd = -1}, .notify = -1, .pressure = -1,
                           .agent = {.fd = -1},
                           .out = {.pipe_rd = -1, .pipe_wr = -1, .port = -1}};
  uint64_t boot_ms = uptime_ms();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGIO);
  sigprocmask(SIG_BLOCK, &set, NULL);
  s.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  umask(022);
  chdir("/");
  if (getpid() != 1) ainit_log("warning: not running as PID 1");
  setup(&s, boot_ms);
  if (s.sigfd < 0) fatal(&s, "signalfd failed");
  receive_instructions(&s);
  open_kmsg(&s);
  oom_open(&s.oom);
  s.pressure = pressure_open();
  start_app(&s);
  if (s.early_signal) signal_app(&s, s.early_signal);
  if (s.early_shutdown) shutdown_app(&s, s.early_grace);
  supervise(&s);
  finish(&s);
}
