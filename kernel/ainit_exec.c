/* ainit: Adebug's exec server in the guest. When the Arrow has the port
 * org.arrow.exec.0, PID 1 forks this server once at setup: a process of its
 * own, so its blocking I/O never stalls PID 1's loop. It serves one session
 * at a time (`arrow exec`, relayed by virtarrowd from a libvirt stream):
 *
 *   host -> guest  a request line {"argv":[...],"env":["K=V"],"dir":"/",
 *                  "tty":false,"rows":24,"cols":80}, then frames
 *   both ways      [type u8][length u32 big-endian][payload]
 *     to the guest:   1 stdin bytes, 2 stdin closed, 3 window size
 *                     (rows u16, cols u16, big-endian), 4 signal (u32),
 *                     5 the session is over (virtarrowd sends it when the
 *                     client finished or vanished: the next bytes are the
 *                     next session's, even when both arrive in one read)
 *     to the host:    1 stdout bytes, 2 stderr bytes, 3 exit status (u32:
 *                     the code, or 128+N for signal N; 127 not found,
 *                     126 not runnable, as a shell says)
 *
 * The program runs as the application's user, in its own session, with a
 * terminal (a pty) when "tty" is true (stdout and stderr are then one
 * stream) or pipes otherwise. The host going away hangs the session up
 * (SIGHUP, then SIGKILL to its process group). The design is in
 * ARCHITECTURE.md, "Adebug". */
#include "kernel/ainit_sys.h"
#include "kernel/ainit_json.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXEC_PORT "org.arrow.exec.0"
#define REQUEST_MAX 65536
#define FRAME_MAX 65536
#define ARGS_MAX 256

enum { TO_STDIN = 1, TO_STDIN_EOF = 2, TO_WINSIZE = 3, TO_SIGNAL = 4, TO_HANGUP = 5 };
enum { FROM_STDOUT = 1, FROM_STDERR = 2, FROM_EXIT = 3 };

static int port = -1;
static int chld = -1; /* signalfd: SIGCHLD, so a program's end is seen at once */

/* Whether the host end of the port is connected. */
static int host_connected(void) {
  struct pollfd p = {port, POLLOUT, 0};
  return poll(&p, 1, 0) >= 0 && !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Writes everything to the non-blocking fd, waiting for room; -1 when the
 * reader is gone (the host end of the port closed, or the pipe's reader). */
static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd w = {fd, POLLOUT, 0};
      if (poll(&w, 1, 1000) < 0 && errno != EINTR) return -1;
      if (w.revents & (POLLHUP | POLLERR | POLLNVAL)) return -1;
      continue;
    }
    if (n <= 0) return -1;
    p += n, len -= (size_t)n;
  }
  return 0;
}

static int send_frame(int type, const void *data, uint32_t len) {
  unsigned char h[5] = {(unsigned char)type, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                        (unsigned char)(len >> 8), (unsigned char)len};
  return write_all(port, h, 5) || write_all(port, data, len) ? -1 : 0;
}

static void send_exit(uint32_t code) {
  unsigned char st[4] = {(unsigned char)(code >> 24), (unsigned char)(code >> 16), (unsigned char)(code >> 8),
                         (unsigned char)code};
  send_frame(FROM_EXIT, st, 4);
}

/* What came from the host and is not taken yet (a session's frames, and
 * maybe the next session's request behind its hang-up frame). */
static unsigned char inbuf[2 * FRAME_MAX + 16];
static size_t inlen;

static uint32_t get32be(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Waits up to MS for bytes and reads what there is; -1 when the host left. */
static int fill(int ms) {
  struct pollfd r = {port, POLLIN, 0};
  if (inlen == sizeof inbuf) return 0;
  if (poll(&r, 1, ms) < 0 && errno != EINTR) return -1;
  if (!(r.revents & POLLIN)) return (r.revents & (POLLHUP | POLLERR)) && !host_connected() ? -1 : 0;
  ssize_t n = read(port, inbuf + inlen, sizeof inbuf - inlen);
  if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  if (n == 0) return -1;
  inlen += (size_t)n;
  return 0;
}

/* The next whole frame: 1 (type, payload and length filled), 0 none yet,
 * -1 malformed (not a client of ours: the session ends). */
static int take_frame(int *type, unsigned char *payload, size_t *len) {
  if (inlen < 5) return 0;
  size_t need = get32be(inbuf + 1);
  if (need > FRAME_MAX) return -1;
  if (inlen < 5 + need) return 0;
  *type = inbuf[0];
  memcpy(payload, inbuf + 5, need);
  *len = need;
  memmove(inbuf, inbuf + 5 + need, inlen - 5 - need);
  inlen -= 5 + need;
  return 1;
}

/* Reads the request line; 0 with it in buf, -1 when the host left. */
static int read_request(char *buf, size_t cap) {
  for (;;) {
    unsigned char *nl = memchr(inbuf, '\n', inlen);
    if (nl) {
      size_t len = (size_t)(nl - inbuf);
      if (len >= cap) len = cap - 1;
      memcpy(buf, inbuf, len);
      buf[len] = '\0';
      size_t used = (size_t)(nl - inbuf) + 1;
      memmove(inbuf, inbuf + used, inlen - used);
      inlen -= used;
      return 0;
    }
    if (inlen == sizeof inbuf) inlen = 0; /* no line: not a client of ours */
    if (fill(-1) < 0) return -1;
  }
}

/* After a session: drops the frames the program did not wait for, up to
 * the hang-up frame (or the host leaving). */
static void skip_to_hangup(void) {
  static unsigned char payload[FRAME_MAX];
  for (;;) {
    int type, r;
    size_t len;
    while ((r = take_frame(&type, payload, &len)) == 1)
      if (type == TO_HANGUP) return;
    if (r < 0 || fill(1000) < 0) {
      inlen = 0;
      return;
    }
  }
}

static char **string_list(const char *arr, size_t extra) {
  static char item[4096];
  size_t n = 0;
  while (arr && json_element(arr, n)) n++;
  if (n > ARGS_MAX) return NULL;
  char **v = calloc(n + extra + 1, sizeof *v);
  for (size_t i = 0; v && i < n; i++)
    if (json_string(json_element(arr, i), item, sizeof item) || !(v[i] = strdup(item))) return NULL;
  return v;
}

static void __attribute__((noreturn)) child(const struct ainit_config *cfg, char **argv, char **envp,
                                            const char *dir, int tty, const char *slave, int in, int out,
                                            int err) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  setsid();
  if (tty) {
    int fd = open(slave, O_RDWR);
    if (fd < 0) _exit(126);
    ioctl(fd, TIOCSCTTY, 0);
    in = out = err = fd;
  }
  dup2(in, 0), dup2(out, 1), dup2(err, 2);
  for (int fd = 3; fd < 64; fd++) close(fd);
  gid_t gid = cfg->gid;
  if (setgroups(1, &gid) < 0 || setgid(cfg->gid) < 0 || setuid(cfg->uid) < 0) {
    dprintf(2, "arrow exec: cannot switch to user %s: %s\n", cfg->user, strerror(errno));
    _exit(126);
  }
  if (dir && chdir(dir) < 0) {
    dprintf(2, "arrow exec: %s: %s\n", dir, strerror(errno));
    _exit(126);
  }
  if (strchr(argv[0], '/')) {
    execve(argv[0], argv, envp);
  } else {
    char path[] = AINIT_DEFAULT_PATH, full[4200];
    int saved = ENOENT;
    for (char *d = strtok(path, ":"); d; d = strtok(NULL, ":")) {
      snprintf(full, sizeof full, "%s/%s", d, argv[0]);
      execve(full, argv, envp);
      if (errno != ENOENT) saved = errno;
    }
    errno = saved;
  }
  dprintf(2, "arrow exec: %s: %s\n", argv[0], errno == ENOENT ? "command not found" : strerror(errno));
  _exit(errno == ENOENT || errno == ENOTDIR ? 127 : 126);
}

/* One session: returns when the program ended (its exit sent: 0) or the
 * host hung up or left (the program hung up: 1). */
static int session(const struct ainit_config *cfg, const char *request) {
  static char dir[4096];
  const char *args = request;
  char **argv = string_list(json_member(args, "argv"), 0);
  char **envp = string_list(json_member(args, "env"), 3);
  const int tty = json_bool(json_member(args, "tty") ? json_member(args, "tty") : "false") == 1;
  const char *dirv = json_member(args, "dir");
  /* Default: the application's own working directory (docker's WORKDIR). */
  if (!dirv || json_string(dirv, dir, sizeof dir)) snprintf(dir, sizeof dir, "%s", cfg->dir ? cfg->dir : "/");
  if (!argv || !argv[0] || !envp) {
    const char msg[] = "arrow exec: malformed request\n";
    send_frame(FROM_STDERR, msg, sizeof msg - 1);
    send_exit(125);
    return 0;
  }
  size_t ne = 0;
  while (envp[ne]) ne++;
  static char path_env[] = "PATH=" AINIT_DEFAULT_PATH, term_env[] = "TERM=xterm", home_env[4200];
  snprintf(home_env, sizeof home_env, "HOME=%s", cfg->home ? cfg->home : "/");
  envp[ne++] = path_env, envp[ne++] = home_env;
  if (tty) envp[ne++] = term_env;
  /* getenv takes the first match: the request's own come first, the
   * defaults after them. */
  int master = -1, in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  char slave[64] = "";
  if (tty) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    unsigned ptn = 0;
    if (master < 0 || grantpt(master) || unlockpt(master) || ioctl(master, TIOCGPTN, &ptn)) {
      send_exit(126);
      return 0;
    }
    snprintf(slave, sizeof slave, "/dev/pts/%u", ptn);
    int64_t rows = 24, cols = 80;
    json_int(json_member(args, "rows") ? json_member(args, "rows") : "24", &rows);
    json_int(json_member(args, "cols") ? json_member(args, "cols") : "80", &cols);
    struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
    ioctl(master, TIOCSWINSZ, &ws);
  } else if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    send_exit(126);
    return 0;
  }
  pid_t pid = fork();
  if (pid == 0) child(cfg, argv, envp, dir, tty, slave, in[0], out[1], err[1]);
  if (!tty) close(in[0]), close(out[1]), close(err[1]);
  int to_child = tty ? master : in[1];
  fcntl(to_child, F_SETFL, O_NONBLOCK);
  int outs[2] = {tty ? master : out[0], tty ? -1 : err[0]};
  int status = 0, exited = pid < 0, hung_up = 0;
  static unsigned char buf[FRAME_MAX];
  while (!hung_up && (!exited || outs[0] >= 0 || outs[1] >= 0)) {
    struct pollfd p[4] = {{port, POLLIN, 0}, {outs[0], POLLIN, 0}, {outs[1], POLLIN, 0}, {exited ? -1 : chld, POLLIN, 0}};
    if (poll(p, 4, exited ? 50 : 1000) < 0 && errno != EINTR) break;
    if (p[3].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(chld, &si, sizeof si) == (ssize_t)sizeof si) {
      }
    }
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) exited = 1;
    if (exited && p[1].revents == 0 && p[2].revents == 0) {
      /* Exited and nothing more to read now: a pty's writers are gone; a
       * pipe's may live on in a background process, read what is there. */
      if (tty || (outs[0] < 0 && outs[1] < 0)) break;
    }
    for (int k = 0; k < 2; k++) {
      if (outs[k] < 0 || !(p[1 + k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(outs[k], buf, sizeof buf);
      if (n <= 0) { /* EOF, or EIO on a pty whose slave is closed */
        if (outs[k] != master) close(outs[k]);
        outs[k] = -1;
        continue;
      }
      if (send_frame(k == 0 ? FROM_STDOUT : FROM_STDERR, buf, (uint32_t)n)) hung_up = 1;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (fill(0) < 0) {
        hung_up = 1;
        break;
      }
    }
    int frame_type, r;
    size_t need;
    while (!hung_up && (r = take_frame(&frame_type, buf, &need)) != 0) {
      if (r < 0 || frame_type == TO_HANGUP) {
        hung_up = 1;
      } else if (frame_type == TO_STDIN && to_child >= 0) {
        if (write_all(to_child, buf, need)) {
          if (to_child != master) close(to_child);
          to_child = -1;
        }
      } else if (frame_type == TO_STDIN_EOF && to_child >= 0) {
        if (to_child == master) {
          const char eot = 4; /* ^D: end of input for the terminal's reader */
          write_all(master, &eot, 1);
        } else {
          close(to_child);
          to_child = -1;
        }
      } else if (frame_type == TO_WINSIZE && need >= 4 && master >= 0) {
        struct winsize ws = {(unsigned short)(buf[0] << 8 | buf[1]), (unsigned short)(buf[2] << 8 | buf[3]), 0, 0};
        ioctl(master, TIOCSWINSZ, &ws);
      } else if (frame_type == TO_SIGNAL && need >= 4 && pid > 0 && !exited) {
        kill(-pid, (int)get32be(buf));
      }
    }
  }
  if (hung_up && pid > 0 && !exited) {
    kill(-pid, SIGHUP);
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    kill(-pid, SIGKILL);
  }
  if (pid > 0 && !exited) waitpid(pid, &status, 0);
  if (to_child >= 0 && to_child != master) close(to_child);
  for (int k = 0; k < 2; k++)
    if (outs[k] >= 0 && outs[k] != master) close(outs[k]);
  if (master >= 0) close(master);
  for (size_t i = 0; argv[i]; i++) free(argv[i]);
  free(argv);
  free(envp); /* its strings past the request's are static */
  if (hung_up) return 1;
  send_exit(pid < 0 ? 126 : WIFEXITED(status) ? (uint32_t)WEXITSTATUS(status) : 128u + (uint32_t)WTERMSIG(status));
  return 0;
}

static void __attribute__((noreturn)) serve(const struct ainit_config *cfg) {
  static char request[REQUEST_MAX];
  sigset_t io;
  sigemptyset(&io);
  sigaddset(&io, SIGIO);
  sigprocmask(SIG_BLOCK, &io, NULL);
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child, NULL);
  chld = signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);
  fcntl(port, F_SETOWN, getpid());
  fcntl(port, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC);
  for (;;) {
    if (!host_connected() && inlen == 0) { /* waits for a host end (SIGIO), checking now and then */
      struct timespec ts = {1, 0};
      sigtimedwait(&io, NULL, &ts);
      continue;
    }
    if (read_request(request, sizeof request) < 0) {
      inlen = 0; /* the host left: what it sent is void */
      continue;
    }
    if (request[0] && session(cfg, request) == 0) skip_to_hangup();
  }
}

void exec_server_start(const struct ainit_config *cfg) {
  char dev[300];
  if (ainit_find_port(EXEC_PORT, dev, sizeof dev) != 1) return; /* a QEMU without it */
  pid_t pid = fork();
  if (pid != 0) return; /* PID 1 goes on; it reaps the server like any child */
  port = open(dev, O_RDWR | O_CLOEXEC);
  if (port < 0) _exit(1);
  serve(cfg);
}
