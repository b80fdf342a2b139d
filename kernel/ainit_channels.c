/* ainit: Crossbow channels in the guest. There is no udev, so PID 1 makes
 * what udev's rule would: /dev/virtio-ports/NAME, a link to each named
 * virtio-serial port (/dev/vportNpM), and gives the ports of the Arrow's
 * <channel> elements to the application's user, who opens them. Arrow's own
 * ports (org.arrow.*) and the guest agent's stay PID 1's. */
#include "kernel/ainit_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PORTS_DIR "/sys/class/virtio-ports"
#define LINKS_DIR "/dev/virtio-ports"
#define AGENT_PORT "org.qemu.guest_agent.0"

/* The port's name from sysfs; 0 when it has none (yet). */
static int port_name(const char *port, char *name, size_t len) {
  char path[300];
  snprintf(path, sizeof path, PORTS_DIR "/%s/name", port);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, name, len - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return 0;
  name[n] = '\0';
  name[strcspn(name, "\n")] = '\0';
  return name[0] != '\0';
}

/* A name the host's rule allows (no '/', not '.' or '..'): anything else
 * is skipped rather than trusted as a file name. */
static int safe_name(const char *name) {
  return name[0] != '.' && !strchr(name, '/');
}

static int is_own_port(const char *name) {
  return strncmp(name, "org.arrow.", 10) == 0 || strcmp(name, AGENT_PORT) == 0;
}

/* One pass: links every named port; returns how many have no name yet. */
static int link_ports(const struct ainit_config *cfg) {
  DIR *d = opendir(PORTS_DIR);
  struct dirent *e;
  int unnamed = 0;
  if (!d) return 0;
  while ((e = readdir(d))) {
    char name[128], link[300], target[300], dev[300];
    if (e->d_name[0] == '.') continue;
    if (!port_name(e->d_name, name, sizeof name)) {
      unnamed++;
      continue;
    }
    if (!safe_name(name)) continue;
    snprintf(link, sizeof link, LINKS_DIR "/%s", name);
    snprintf(target, sizeof target, "../%s", e->d_name);
    if (symlink(target, link) < 0 && errno != EEXIST) ainit_log("%s: %s", link, strerror(errno));
    if (is_own_port(name)) continue;
    snprintf(dev, sizeof dev, "/dev/%s", e->d_name);
    if (chown(dev, cfg->uid, cfg->gid) < 0 || chmod(dev, 0660) < 0) ainit_log("%s: %s", dev, strerror(errno));
  }
  closedir(d);
  return unnamed;
}

void channels_setup(const struct ainit_config *cfg) {
  mkdir(LINKS_DIR, 0755);
  /* A port's name comes in a message of its own after the port: up to 1 s
   * for the last ones, as anotify_open waits for its own. */
  for (int tries = 0; link_ports(cfg) > 0 && tries < 50; tries++) {
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* ---- /run/crossbow/NAME.sock: the channels as sockets in the guest ----
 *
 * An unmodified program that speaks to a Unix socket rather than a device
 * connect()s to /run/crossbow/NAME.sock. A helper process forked from PID 1
 * (so its blocking I/O never stalls PID 1's loop) listens there for every
 * channel and, while a client is connected, holds the port open and relays
 * both ways (one client per channel at a time; the port is opened only
 * then, so a program may still open /dev/virtio-ports/NAME itself). The
 * host's end being closed is no end of the relay: the guest's client waits,
 * as a reader of the port would. */

#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <signal.h>

#define SOCKETS_DIR "/run/crossbow"
#define RELAY_MAX 16
#define RELAY_BUF 65536

struct relay {
  char dev[300];  /* /dev/vportNpM */
  int listener;
  int client, port; /* -1 when idle */
  unsigned char to_port[RELAY_BUF], to_client[RELAY_BUF];
  size_t to_port_len, to_client_len;
};

static void relay_close(struct relay *r) {
  if (r->client >= 0) close(r->client);
  if (r->port >= 0) close(r->port);
  r->client = r->port = -1;
  r->to_port_len = r->to_client_len = 0;
}

/* Moves what is buffered from BUF to FD (non-blocking); -1 on an error. */
static int relay_flush(int fd, unsigned char *buf, size_t *len) {
  while (*len > 0) {
    ssize_t n = write(fd, buf, *len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    if (n <= 0) return -1;
    memmove(buf, buf + n, *len - (size_t)n);
    *len -= (size_t)n;
  }
  return 0;
}

static void relay_accept(struct relay *r) {
  int c = accept4(r->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c < 0) return;
  if (r->client >= 0) { /* one client at a time */
    close(c);
    return;
  }
  r->port = open(r->dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (r->port < 0) { /* the application has the port open itself */
    close(c);
    return;
  }
  r->client = c;
}

/* One pass over a connected relay after poll; closes it when the client left. */
static void relay_step(struct relay *r, short client_ev, short port_ev) {
  if (client_ev & POLLIN) {
    ssize_t n = read(r->client, r->to_port + r->to_port_len, RELAY_BUF - r->to_port_len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return relay_close(r);
    if (n > 0) r->to_port_len += (size_t)n;
  } else if (client_ev & (POLLHUP | POLLERR)) {
    return relay_close(r);
  }
  if (port_ev & POLLIN) {
    ssize_t n = read(r->port, r->to_client + r->to_client_len, RELAY_BUF - r->to_client_len);
    if (n > 0) r->to_client_len += (size_t)n; /* 0: no host end now, not the end */
  }
  if (relay_flush(r->port, r->to_port, &r->to_port_len) < 0 ||
      relay_flush(r->client, r->to_client, &r->to_client_len) < 0)
    relay_close(r);
}

static int port_host_connected(int fd) {
  struct pollfd p = {fd, POLLOUT, 0};
  return poll(&p, 1, 0) >= 0 && !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void __attribute__((noreturn)) relay_serve(struct relay *relays, size_t n) {
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    struct pollfd p[3 * RELAY_MAX];
    int waiting_host = 0;
    for (size_t i = 0; i < n; i++) {
      struct relay *r = &relays[i];
      p[3 * i] = (struct pollfd){r->client < 0 ? r->listener : -1, POLLIN, 0};
      p[3 * i + 1] = (struct pollfd){r->client, (short)(r->to_port_len < RELAY_BUF ? POLLIN : 0), 0};
      if (r->to_client_len) p[3 * i + 1].events |= POLLOUT;
      /* The port reports POLLHUP while no host end is connected: then it is
       * looked at again shortly rather than polled. */
      int host = r->port >= 0 && port_host_connected(r->port);
      waiting_host |= r->port >= 0 && !host;
      p[3 * i + 2] = (struct pollfd){host ? r->port : -1, 0, 0};
      if (host && r->to_client_len < RELAY_BUF) p[3 * i + 2].events |= POLLIN;
      if (host && r->to_port_len) p[3 * i + 2].events |= POLLOUT;
    }
    if (poll(p, (nfds_t)(3 * n), waiting_host ? 200 : -1) < 0 && errno != EINTR) _exit(1);
    for (size_t i = 0; i < n; i++) {
      struct relay *r = &relays[i];
      if (p[3 * i].revents & POLLIN) relay_accept(r);
      else if (r->client >= 0) relay_step(r, p[3 * i + 1].revents, p[3 * i + 2].revents);
    }
  }
}

void channels_sockets_start(const struct ainit_config *cfg) {
  static struct relay relays[RELAY_MAX];
  size_t n = 0;
  DIR *d = opendir(PORTS_DIR);
  struct dirent *e;
  if (!d) return;
  while ((e = readdir(d)) && n < RELAY_MAX) {
    char name[128];
    if (e->d_name[0] == '.' || !port_name(e->d_name, name, sizeof name) || !safe_name(name) || is_own_port(name))
      continue;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int len = snprintf(addr.sun_path, sizeof addr.sun_path, SOCKETS_DIR "/%s.sock", name);
    if (len < 0 || (size_t)len >= sizeof addr.sun_path) continue;
    if (n == 0) mkdir(SOCKETS_DIR, 0755);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4) < 0) {
      ainit_log("%s: %s", addr.sun_path, strerror(errno));
      if (fd >= 0) close(fd);
      continue;
    }
    /* The application's, as the port is. */
    if (chown(addr.sun_path, cfg->uid, cfg->gid) < 0 || chmod(addr.sun_path, 0660) < 0)
      ainit_log("%s: %s", addr.sun_path, strerror(errno));
    struct relay *r = &relays[n++];
    snprintf(r->dev, sizeof r->dev, "/dev/%s", e->d_name);
    r->listener = fd;
    r->client = r->port = -1;
  }
  closedir(d);
  if (n == 0) return;
  pid_t pid = fork();
  if (pid == 0) relay_serve(relays, n);
  for (size_t i = 0; i < n; i++) close(relays[i].listener); /* the helper's now */
}
