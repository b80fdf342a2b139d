/* ainit: the QEMU guest agent protocol on the virtio-serial port
 * org.qemu.guest_agent.0, for the commands that mean something in an Arrow
 * (libvirt's guest-agent APIs use them): sync, ping, info, time, host name,
 * network interfaces, OS info, users (none), file systems (the shares), and
 * guest-exec / guest-exec-status. One JSON object in, one out; PID 1 never
 * blocks on the port (it is non-blocking, a reply waits for POLLOUT and no
 * request is read meanwhile), and a request is at most AGENT_IN_MAX bytes. */
#include "kernel/ainit_sys.h"
#include "kernel/ainit_json.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netpacket/packet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define AGENT_PORT "org.qemu.guest_agent.0"
#define AGENT_OUT_MAX (1 << 20)      /* one reply */
#define EXEC_OUTPUT_MAX (256 * 1024) /* what guest-exec keeps of a stream */
#define EXEC_DIR "/run/ainit-exec"

/* One agent per guest; in .bss, so it costs the binary nothing. */
static char agent_in[AGENT_IN_MAX];

void agent_open(struct agent *a, const struct ainit_config *cfg) {
  char dev[300];
  a->fd = -1;
  a->in = agent_in;
  a->cfg = cfg;
  for (size_t i = 0; i < AGENT_EXEC_MAX; i++) a->execs[i].pid = 0;
  if (ainit_find_port(AGENT_PORT, dev, sizeof dev) != 1) return; /* no <channel> for it */
  a->fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (a->fd < 0) {
    ainit_log("%s: %s: the guest agent is off", dev, strerror(errno));
    return;
  }
  fcntl(a->fd, F_SETOWN, getpid()); /* SIGIO when the host end connects */
  fcntl(a->fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC);
  agent_refresh(a);
}

void agent_refresh(struct agent *a) {
  if (a->fd < 0) return;
  struct pollfd p = {a->fd, POLLOUT, 0};
  int was = a->connected;
  a->connected = poll(&p, 1, 0) >= 0 && !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
  if (!a->connected || !was) { /* a new host end starts clean */
    a->inlen = 0;
    free(a->out);
    a->out = NULL;
    a->outlen = a->outoff = 0;
  }
}

struct pollfd agent_pollfd(const struct agent *a) {
  struct pollfd p = {-1, 0, 0};
  if (a->fd < 0 || !a->connected) return p;
  p.fd = a->fd;
  p.events = a->out ? POLLOUT : POLLIN;
  return p;
}

/* ---- replies ---- */

static void flush_reply(struct agent *a) {
  while (a->out && a->outoff < a->outlen) {
    ssize_t n = write(a->fd, a->out + a->outoff, a->outlen - a->outoff);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* EAGAIN: POLLOUT brings us back */
    a->outoff += (size_t)n;
  }
  free(a->out);
  a->out = NULL;
  a->outlen = a->outoff = 0;
}

static void send_reply(struct agent *a, struct json_out *o) {
  if (o->overflow) {
    o->len = 0, o->overflow = 0;
    json_raw(o, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"reply too large\"}}");
  }
  json_raw(o, "\n");
  a->out = o->buf;
  a->outlen = o->len;
  a->outoff = 0;
  flush_reply(a);
}

static void error_reply(struct json_out *o, const char *cls, const char *desc) {
  o->len = 0;
  json_raw(o, "{\"error\":{\"class\":");
  json_str(o, cls);
  json_raw(o, ",\"desc\":");
  json_str(o, desc);
  json_raw(o, "}}");
}

/* ---- commands: each writes the "return" value, or calls error_reply ---- */

static void cmd_ping(struct agent *a, const char *args, struct json_out *o) {
  (void)a, (void)args;
  json_raw(o, "{}");
}

static void cmd_get_time(struct agent *a, const char *args, struct json_out *o) {
  struct timespec ts;
  (void)a, (void)args;
  clock_gettime(CLOCK_REALTIME, &ts);
  json_num(o, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static void cmd_set_time(struct agent *a, const char *args, struct json_out *o) {
  int64_t ns;
  const char *t = args ? json_member(args, "time") : NULL;
  (void)a;
  /* Without a time qemu-ga reads the RTC; the host sends its own instead. */
  if (!t || json_int(t, &ns) || ns < 0)
    return error_reply(o, "GenericError", "guest-set-time: 'time' (nanoseconds since the epoch) is required");
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  if (clock_settime(CLOCK_REALTIME, &ts) < 0) return error_reply(o, "GenericError", strerror(errno));
  json_raw(o, "{}");
}

static void cmd_host_name(struct agent *a, const char *args, struct json_out *o) {
  char name[256] = "";
  (void)a, (void)args;
  gethostname(name, sizeof name - 1);
  json_raw(o, "{\"host-name\":");
  json_str(o, name);
  json_raw(o, "}");
}

static void cmd_osinfo(struct agent *a, const char *args, struct json_out *o) {
  struct utsname u;
  (void)args;
  uname(&u);
  json_raw(o, "{\"kernel-release\":");
  json_str(o, u.release);
  json_raw(o, ",\"kernel-version\":");
  json_str(o, u.version);
  json_raw(o, ",\"machine\":");
  json_str(o, u.machine);
  json_raw(o, ",\"id\":\"arrow\",\"name\":\"Arrow\",\"pretty-name\":");
  char pretty[300];
  snprintf(pretty, sizeof pretty, "Arrow: %s", a->cfg->init ? a->cfg->init : "?");
  json_str(o, pretty);
  json_raw(o, "}");
}

static void cmd_users(struct agent *a, const char *args, struct json_out *o) {
  (void)a, (void)args;
  json_raw(o, "[]"); /* nobody logs in to an Arrow */
}

static void cmd_fsinfo(struct agent *a, const char *args, struct json_out *o) {
  (void)args;
  json_raw(o, "[");
  for (size_t i = 0; i < a->cfg->nshares; i++) {
    const struct ainit_share *s = &a->cfg->shares[i];
    struct statfs st;
    if (i) json_raw(o, ",");
    json_raw(o, "{\"name\":");
    json_str(o, s->tag);
    json_raw(o, ",\"mountpoint\":");
    json_str(o, s->path);
    json_raw(o, s->shadow ? ",\"type\":\"overlay\"" : ",\"type\":\"9p\"");
    if (statfs(s->path, &st) == 0) {
      json_raw(o, ",\"total-bytes\":");
      json_num(o, (int64_t)st.f_blocks * st.f_bsize);
      json_raw(o, ",\"used-bytes\":");
      json_num(o, (int64_t)(st.f_blocks - st.f_bfree) * st.f_bsize);
    }
    json_raw(o, ",\"disk\":[]}");
  }
  json_raw(o, "]");
}

static int prefix_of(const struct sockaddr *mask) {
  int n = 0;
  const unsigned char *b;
  size_t len;
  if (!mask) return 0;
  if (mask->sa_family == AF_INET)
    b = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr, len = 4;
  else
    b = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr, len = 16;
  for (size_t i = 0; i < len; i++)
    for (int k = 7; k >= 0; k--) n += (b[i] >> k) & 1;
  return n;
}

static void one_interface(struct ifaddrs *all, const char *name, struct json_out *o) {
  json_raw(o, "{\"name\":");
  json_str(o, name);
  for (struct ifaddrs *i = all; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET || strcmp(i->ifa_name, name)) continue;
    const struct sockaddr_ll *ll = (const struct sockaddr_ll *)i->ifa_addr;
    char mac[32];
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0], ll->sll_addr[1], ll->sll_addr[2],
             ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
    json_raw(o, ",\"hardware-address\":");
    json_str(o, mac);
    break;
  }
  json_raw(o, ",\"ip-addresses\":[");
  int first = 1;
  for (struct ifaddrs *i = all; i; i = i->ifa_next) {
    if (!i->ifa_addr || strcmp(i->ifa_name, name)) continue;
    int fam = i->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    char text[INET6_ADDRSTRLEN];
    const void *src = fam == AF_INET ? (const void *)&((const struct sockaddr_in *)i->ifa_addr)->sin_addr
                                     : (const void *)&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
    inet_ntop(fam, src, text, sizeof text);
    json_raw(o, first ? "{\"ip-address-type\":" : ",{\"ip-address-type\":");
    first = 0;
    json_str(o, fam == AF_INET ? "ipv4" : "ipv6");
    json_raw(o, ",\"ip-address\":");
    json_str(o, text);
    json_raw(o, ",\"prefix\":");
    json_num(o, prefix_of(i->ifa_netmask));
    json_raw(o, "}");
  }
  json_raw(o, "]}");
}

static void cmd_interfaces(struct agent *a, const char *args, struct json_out *o) {
  struct ifaddrs *all;
  (void)a, (void)args;
  if (getifaddrs(&all) < 0) return error_reply(o, "GenericError", strerror(errno));
  json_raw(o, "[");
  int n = 0;
  for (struct ifaddrs *i = all; i; i = i->ifa_next) {
    int seen = 0; /* each name once, in the order of its first entry */
    for (struct ifaddrs *j = all; j != i; j = j->ifa_next) seen |= !strcmp(j->ifa_name, i->ifa_name);
    if (seen) continue;
    if (n++) json_raw(o, ",");
    one_interface(all, i->ifa_name, o);
  }
  json_raw(o, "]");
  freeifaddrs(all);
}

/* ---- guest-exec ---- */

static void exec_file(char *buf, size_t len, pid_t pid, const char *what) {
  snprintf(buf, len, EXEC_DIR "/%d.%s", (int)pid, what);
}

/* Collects up to 64 strings of an array member into a NULL-terminated
 * vector of malloc'd strings; -1 when it is malformed. */
static int string_array(const char *args, const char *key, char **vec, size_t max, size_t *n) {
  const char *arr = json_member(args, key);
  char buf[4096];
  *n = 0;
  if (!arr) return 0;
  for (const char *e; (e = json_element(arr, *n));) {
    if (*n + 1 >= max || json_string(e, buf, sizeof buf) || !(vec[*n] = strdup(buf))) return -1;
    (*n)++;
  }
  vec[*n] = NULL;
  return 0;
}

static void __attribute__((noreturn)) exec_child(char **argv, char **envp, const char *in, const char *out,
                                                 const char *err) {
  struct rlimit fsize = {EXEC_OUTPUT_MAX, EXEC_OUTPUT_MAX};
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  signal(SIGXFSZ, SIG_IGN); /* output past the limit is cut, the program goes on */
  int fd0 = open(in ? in : "/dev/null", O_RDONLY);
  int fd1 = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fd2 = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd0, 0), dup2(fd1, 1), dup2(fd2, 2);
  setrlimit(RLIMIT_FSIZE, &fsize);
  chdir("/");
  if (strchr(argv[0], '/')) {
    execve(argv[0], argv, envp);
  } else { /* the default search path, as a shell would */
    char path[] = AINIT_DEFAULT_PATH, full[4200];
    for (char *dir = strtok(path, ":"); dir; dir = strtok(NULL, ":")) {
      snprintf(full, sizeof full, "%s/%s", dir, argv[0]);
      execve(full, argv, envp);
    }
  }
  dprintf(2, "%s: %s\n", argv[0], strerror(errno));
  _exit(errno == ENOENT || errno == ENOTDIR ? 127 : 126);
}

static int write_input(const char *args, const char *file) {
  const char *data = json_member(args, "input-data");
  static char text[AGENT_IN_MAX];
  static unsigned char bytes[AGENT_IN_MAX];
  if (!data) return 0;
  long n;
  if (json_string(data, text, sizeof text) || (n = base64_decode(text, bytes, sizeof bytes)) < 0) return -1;
  int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  int ok = write(fd, bytes, (size_t)n) == n;
  close(fd);
  return ok ? 1 : -1;
}

static void cmd_exec(struct agent *a, const char *args, struct json_out *o) {
  char *argv[66], *envp[66], path[4096], in[64], out[64], err[64];
  size_t nargs = 0, nenv = 0, slot = 0;
  while (slot < AGENT_EXEC_MAX && a->execs[slot].pid) slot++;
  if (slot == AGENT_EXEC_MAX) return error_reply(o, "GenericError", "too many guest-exec processes not collected");
  const char *p = args ? json_member(args, "path") : NULL;
  if (!p || json_string(p, path, sizeof path) || !path[0])
    return error_reply(o, "GenericError", "guest-exec: 'path' is required");
  argv[0] = path;
  if (string_array(args, "arg", argv + 1, 65, &nargs) || string_array(args, "env", envp, 62, &nenv))
    return error_reply(o, "GenericError", "guest-exec: 'arg' and 'env' are arrays of at most 64 strings");
  char home[] = "HOME=/", pathenv[] = "PATH=" AINIT_DEFAULT_PATH;
  envp[nenv++] = pathenv, envp[nenv++] = home, envp[nenv] = NULL;
  int capture = args && json_bool(json_member(args, "capture-output") ? json_member(args, "capture-output") : "false") == 1;
  mkdir(EXEC_DIR, 0700);
  /* The files are named by the child's pid, known only after fork: the
   * input goes to a name by slot first. */
  snprintf(in, sizeof in, EXEC_DIR "/slot%zu.in", slot);
  int has_in = write_input(args, in);
  if (has_in < 0) return error_reply(o, "GenericError", "guest-exec: 'input-data' is not valid base64");
  pid_t pid = fork();
  if (pid == 0) {
    exec_file(out, sizeof out, getpid(), "out");
    exec_file(err, sizeof err, getpid(), "err");
    exec_child(argv, envp, has_in ? in : NULL, capture ? out : NULL, capture ? err : NULL);
  }
  for (size_t i = 0; i + 2 < nenv; i++) free(envp[i]);
  for (size_t i = 1; i <= nargs; i++) free(argv[i]);
  if (pid < 0) return error_reply(o, "GenericError", strerror(errno));
  a->execs[slot] = (struct agent_exec){pid, 0, 0, capture, has_in ? (int)slot : -1};
  json_raw(o, "{\"pid\":");
  json_num(o, pid);
  json_raw(o, "}");
}

int agent_reaped(struct agent *a, pid_t pid, int status) {
  for (size_t i = 0; i < AGENT_EXEC_MAX; i++)
    if (a->execs[i].pid == pid && !a->execs[i].done) {
      a->execs[i].done = 1;
      a->execs[i].status = status;
      return 1;
    }
  return 0;
}

static void output_member(struct json_out *o, const char *key, pid_t pid, const char *what) {
  static unsigned char data[EXEC_OUTPUT_MAX];
  char file[64];
  exec_file(file, sizeof file, pid, what);
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? 0 : read(fd, data, sizeof data);
  if (fd >= 0) close(fd);
  unlink(file);
  if (n <= 0) return;
  json_raw(o, key);
  json_base64(o, data, (size_t)n);
}

static void cmd_exec_status(struct agent *a, const char *args, struct json_out *o) {
  int64_t pid;
  const char *p = args ? json_member(args, "pid") : NULL;
  if (!p || json_int(p, &pid)) return error_reply(o, "GenericError", "guest-exec-status: 'pid' is required");
  for (size_t i = 0; i < AGENT_EXEC_MAX; i++) {
    struct agent_exec *e = &a->execs[i];
    if (!e->pid || e->pid != pid) continue;
    if (!e->done) return json_raw(o, "{\"exited\":false}");
    json_raw(o, "{\"exited\":true");
    if (WIFEXITED(e->status)) json_raw(o, ",\"exitcode\":"), json_num(o, WEXITSTATUS(e->status));
    if (WIFSIGNALED(e->status)) json_raw(o, ",\"signal\":"), json_num(o, WTERMSIG(e->status));
    if (e->capture) {
      output_member(o, ",\"out-data\":", e->pid, "out");
      output_member(o, ",\"err-data\":", e->pid, "err");
    }
    json_raw(o, "}");
    if (e->input_slot >= 0) {
      char in[64];
      snprintf(in, sizeof in, EXEC_DIR "/slot%d.in", e->input_slot);
      unlink(in);
    }
    e->pid = 0; /* collected */
    return;
  }
  error_reply(o, "GenericError", "guest-exec-status: no such guest-exec process");
}

/* ---- dispatch ---- */

struct command {
  const char *name;
  void (*run)(struct agent *a, const char *args, struct json_out *o);
};

static void cmd_info(struct agent *a, const char *args, struct json_out *o);

static const struct command kCommands[] = {
    {"guest-ping", cmd_ping},
    {"guest-info", cmd_info},
    {"guest-get-time", cmd_get_time},
    {"guest-set-time", cmd_set_time},
    {"guest-get-host-name", cmd_host_name},
    {"guest-get-osinfo", cmd_osinfo},
    {"guest-get-users", cmd_users},
    {"guest-get-fsinfo", cmd_fsinfo},
    {"guest-network-get-interfaces", cmd_interfaces},
    {"guest-exec", cmd_exec},
    {"guest-exec-status", cmd_exec_status},
};

static void cmd_info(struct agent *a, const char *args, struct json_out *o) {
  (void)a, (void)args;
  json_raw(o, "{\"version\":\"arrow-1\",\"supported_commands\":[");
  const char *sync[] = {"guest-sync", "guest-sync-delimited"};
  for (size_t i = 0; i < 2; i++) {
    json_raw(o, i ? ",{\"name\":" : "{\"name\":");
    json_str(o, sync[i]);
    json_raw(o, ",\"enabled\":true,\"success-response\":true}");
  }
  for (size_t i = 0; i < sizeof kCommands / sizeof kCommands[0]; i++) {
    json_raw(o, ",{\"name\":");
    json_str(o, kCommands[i].name);
    json_raw(o, ",\"enabled\":true,\"success-response\":true}");
  }
  json_raw(o, "]}");
}

static void handle(struct agent *a, const char *msg, struct json_out *o) {
  char name[64];
  const char *ex = json_member(msg, "execute");
  const char *args = json_member(msg, "arguments");
  if (!ex || json_string(ex, name, sizeof name)) return error_reply(o, "GenericError", "expected {\"execute\": ...}");
  if (!strcmp(name, "guest-sync") || !strcmp(name, "guest-sync-delimited")) {
    int64_t id;
    if (!args || json_int(json_member(args, "id") ? json_member(args, "id") : "x", &id))
      return error_reply(o, "GenericError", "guest-sync: 'id' is required");
    if (name[10] == '-') json_raw(o, "\xff"); /* -delimited: the sentinel first */
    json_raw(o, "{\"return\":");
    json_num(o, id);
    json_raw(o, "}");
    return;
  }
  for (size_t i = 0; i < sizeof kCommands / sizeof kCommands[0]; i++) {
    if (strcmp(name, kCommands[i].name)) continue;
    json_raw(o, "{\"return\":");
    size_t mark = o->len;
    kCommands[i].run(a, args, o);
    if (o->len >= mark && o->buf[0] == '{' && !strncmp(o->buf, "{\"error\"", 8)) return;
    json_raw(o, "}");
    return;
  }
  char desc[128];
  snprintf(desc, sizeof desc, "The command %s has not been found", name);
  error_reply(o, "CommandNotFound", desc);
}

/* Handles the complete requests in a->in, one reply at a time. */
static void process(struct agent *a) {
  while (!a->out && a->inlen > 0) {
    /* 0xFF resets the parser (the protocol's way to resynchronise). */
    char *ff = memchr(a->in, 0xff, a->inlen);
    if (ff) {
      size_t skip = (size_t)(ff - a->in) + 1;
      memmove(a->in, a->in + skip, a->inlen - skip);
      a->inlen -= skip;
      continue;
    }
    long end = json_object_end(a->in, a->inlen);
    struct json_out o = {malloc(AGENT_OUT_MAX), 0, AGENT_OUT_MAX, 0};
    if (!o.buf) return;
    o.buf[0] = 0;
    if (end == 0 && a->inlen < AGENT_IN_MAX) {
      free(o.buf);
      return; /* more to come */
    }
    if (end <= 0) {
      a->inlen = 0; /* garbage or over-long: dropped, said once */
      error_reply(&o, "GenericError", end < 0 ? "JSON parse error" : "request too long");
    } else {
      char keep = a->in[end];
      a->in[end] = '\0';
      handle(a, a->in, &o);
      a->in[end] = keep;
      memmove(a->in, a->in + end, a->inlen - (size_t)end);
      a->inlen -= (size_t)end;
      while (a->inlen && (a->in[0] == '\n' || a->in[0] == '\r' || a->in[0] == ' ')) memmove(a->in, a->in + 1, --a->inlen);
    }
    send_reply(a, &o);
  }
}

void agent_step(struct agent *a, short revents) {
  if (revents & (POLLHUP | POLLERR)) {
    agent_refresh(a);
    return;
  }
  if (revents & POLLOUT) flush_reply(a);
  if (revents & POLLIN) {
    ssize_t n;
    do n = read(a->fd, a->in + a->inlen, AGENT_IN_MAX - a->inlen);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
      agent_refresh(a);
      return;
    }
    if (n > 0) a->inlen += (size_t)n;
  }
  process(a);
}
