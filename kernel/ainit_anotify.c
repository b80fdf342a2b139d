/* ainit: the guest end of Anotify (anotify/PROTOCOL.md): finds the
 * virtio-serial port by name, sends frames without ever blocking PID 1, and
 * decodes host-to-guest frames. */
#include "kernel/ainit_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORTS_DIR "/sys/class/virtio-ports"

uint64_t uptime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* Looks for the port in sysfs; returns 1 found (dev filled), 0 not found,
 * -1 not found but some port has no name yet (the host's name message may
 * still be on its way). */
int ainit_find_port(const char *wanted, char *dev, size_t devlen) {
  DIR *d = opendir(PORTS_DIR);
  int unnamed = 0, found = 0;
  struct dirent *e;
  if (!d) return 0;
  while (!found && (e = readdir(d))) {
    char path[300], name[64];
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, PORTS_DIR "/%s/name", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, name, sizeof name - 1);
    if (fd >= 0) close(fd);
    if (n <= 0) {
      unnamed = 1;
      continue;
    }
    name[n] = '\0';
    name[strcspn(name, "\n")] = '\0';
    if (strcmp(name, wanted) == 0) {
      snprintf(dev, devlen, "/dev/%s", e->d_name);
      found = 1;
    }
  }
  closedir(d);
  return found ? 1 : unnamed ? -1 : 0;
}

void anotify_open(struct anotify *a) {
  char dev[300];
  int r = 0;
  a->fd = -1;
  a->connected = 0;
  a->outlen = a->inlen = 0;
  /* Up to 1 s for a port whose name has not arrived yet. */
  for (int tries = 0; (r = ainit_find_port(ANOTIFY_PORT_NAME, dev, sizeof dev)) < 0 && tries < 50; tries++) sleep_ms(20);
  if (r <= 0) {
    ainit_log("no virtio-serial port named %s: Anotify is off", ANOTIFY_PORT_NAME);
    return;
  }
  a->fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (a->fd < 0) {
    ainit_log("%s: %s: Anotify is off", dev, strerror(errno));
    return;
  }
  /* SIGIO tells PID 1 when the host end connects or sends data. */
  fcntl(a->fd, F_SETOWN, getpid());
  fcntl(a->fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC);
  anotify_refresh(a);
}

/* The port reports POLLHUP while the host end is closed (and POLLIN, with
 * reads returning 0), so the connection state is asked this way. */
static int host_connected(struct anotify *a) {
  struct pollfd p = {a->fd, POLLOUT, 0};
  if (poll(&p, 1, 0) < 0) return 0;
  return !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void flush(struct anotify *a) {
  while (a->outlen > 0) {
    ssize_t n = write(a->fd, a->out, a->outlen);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* EAGAIN: the host is slow or gone; retry later */
    memmove(a->out, a->out + n, a->outlen - (size_t)n);
    a->outlen -= (size_t)n;
  }
}

void anotify_refresh(struct anotify *a) {
  if (a->fd < 0) return;
  a->connected = host_connected(a);
  if (a->connected) flush(a);
}

static size_t encode(unsigned char *buf, uint8_t type, const void *payload, uint16_t len) {
  uint16_t check = anotify_check(type, len);
  buf[0] = ANOTIFY_MAGIC0;
  buf[1] = ANOTIFY_MAGIC1;
  buf[2] = ANOTIFY_VERSION;
  buf[3] = type;
  buf[4] = (unsigned char)(len & 0xff);
  buf[5] = (unsigned char)(len >> 8);
  buf[6] = (unsigned char)(check & 0xff);
  buf[7] = (unsigned char)(check >> 8);
  memcpy(buf + ANOTIFY_HEADER_SIZE, payload, len);
  return ANOTIFY_HEADER_SIZE + (size_t)len;
}

void anotify_send(struct anotify *a, uint8_t type, const void *payload, uint16_t len,
                  int must_deliver) {
  unsigned char frame[ANOTIFY_HEADER_SIZE + ANOTIFY_MAX_PAYLOAD];
  if (a->fd < 0) return;
  if (len > ANOTIFY_MAX_PAYLOAD) len = ANOTIFY_MAX_PAYLOAD;
  size_t n = encode(frame, type, payload, len);
  if (!must_deliver) {
    /* Heartbeats are dropped rather than queued, and never overtake the queue. */
    anotify_refresh(a);
    if (a->connected && a->outlen == 0) {
      ssize_t w;
      do w = write(a->fd, frame, n);
      while (w < 0 && errno == EINTR);
    }
    return;
  }
  if (a->outlen + n > sizeof a->out) {
    ainit_log("Anotify queue full: frame of type %u dropped", type);
    return;
  }
  memcpy(a->out + a->outlen, frame, n);
  a->outlen += n;
  anotify_refresh(a);
}

void anotify_drain(struct anotify *a, int timeout_ms) {
  if (a->fd < 0) return;
  for (int waited = 0;; waited += 20) {
    anotify_refresh(a);
    if (a->outlen == 0) return;
    if (waited >= timeout_ms) break;
    sleep_ms(20);
  }
  ainit_log("Anotify: host end not reading, %zu bytes not delivered", a->outlen);
}

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Dispatches the complete frames in a->in and keeps the unfinished rest.
 * A bad magic or check word costs one byte: the scan resumes at the next. */
static void parse(struct anotify *a, anotify_handler handler, void *ctx) {
  size_t off = 0;
  while (a->inlen - off >= 2) {
    const unsigned char *h = a->in + off;
    if (h[0] != ANOTIFY_MAGIC0 || h[1] != ANOTIFY_MAGIC1) {
      off++;
      continue;
    }
    if (a->inlen - off < ANOTIFY_HEADER_SIZE) break;
    uint16_t len = le16(h + 4);
    if (le16(h + 6) != anotify_check(h[3], len) || len > ANOTIFY_MAX_PAYLOAD) {
      off++;
      continue;
    }
    if (a->inlen - off < ANOTIFY_HEADER_SIZE + (size_t)len) break;
    if (h[2] == ANOTIFY_VERSION) handler(ctx, h[3], h + ANOTIFY_HEADER_SIZE, len);
    off += ANOTIFY_HEADER_SIZE + (size_t)len;
  }
  memmove(a->in, a->in + off, a->inlen - off);
  a->inlen -= off;
}

void anotify_receive(struct anotify *a, anotify_handler handler, void *ctx) {
  if (a->fd < 0) return;
  for (;;) {
    ssize_t n = read(a->fd, a->in + a->inlen, sizeof a->in - a->inlen);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) a->connected = 0; /* host end closed */
    if (n <= 0) return;
    a->inlen += (size_t)n;
    parse(a, handler, ctx);
  }
}
