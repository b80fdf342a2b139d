/* ainit's relay of the application's output in pipe mode (arrow.tty=pipe):
 * a pipe from the application to PID 1, then the virtio-serial port
 * org.arrow.stdout.0. QEMU holds a virtserialport back while the host is
 * slow, where the console would drop what the host cannot take at once; and
 * counting the bytes here lets the host confirm it read all of them before
 * the exit is reported (anotify/PROTOCOL.md, "Output flow control"). */
#include "kernel/ainit_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Giving up on a host that stopped reading: the exit is still reported. */
#define OUTPUT_STALL_MS 10000
#define OUTPUT_ACK_MS 10000

/* One relay per guest; in .bss, so it costs the binary nothing. */
static unsigned char relay_buf[65536];

static void put64le(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

void output_open(struct output_relay *o) {
  char dev[300];
  int fds[2];
  o->pipe_rd = o->pipe_wr = o->port = -1;
  o->len = o->off = 0;
  o->total = 0;
  o->acked = 0;
  if (ainit_find_port(ANOTIFY_STDOUT_PORT_NAME, dev, sizeof dev) != 1) return;
  int port = open(dev, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (port < 0) {
    ainit_log("%s: %s: output goes to the console", dev, strerror(errno));
    return;
  }
  if (pipe2(fds, O_CLOEXEC) < 0) {
    close(port);
    return;
  }
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  o->pipe_rd = fds[0];
  o->pipe_wr = fds[1];
  o->port = port;
}

struct pollfd output_pollfd(const struct output_relay *o) {
  struct pollfd p = {-1, 0, 0};
  if (o->port < 0) return p;
  if (o->off < o->len) {
    p.fd = o->port;
    p.events = POLLOUT;
  } else if (o->pipe_rd >= 0) {
    p.fd = o->pipe_rd;
    p.events = POLLIN;
  }
  return p;
}

void output_step(struct output_relay *o, short revents) {
  if (!revents || o->port < 0) return;
  if (o->off < o->len) {
    ssize_t n = write(o->port, relay_buf + o->off, o->len - o->off);
    if (n > 0) {
      o->off += (size_t)n;
      o->total += (uint64_t)n;
      if (o->off == o->len) o->off = o->len = 0;
    }
    return;
  }
  ssize_t n = read(o->pipe_rd, relay_buf, sizeof relay_buf);
  if (n > 0) {
    o->len = (size_t)n;
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    close(o->pipe_rd); /* every writer is gone */
    o->pipe_rd = -1;
  }
}

static void on_ack(void *ctx, uint8_t type, const unsigned char *payload, uint16_t len) {
  (void)payload;
  (void)len;
  if (type == ANOTIFY_OUTPUT_ACK) ((struct output_relay *)ctx)->acked = 1;
}

void output_finish(struct output_relay *o, struct anotify *an) {
  if (o->port < 0) return;
  if (o->pipe_wr >= 0) close(o->pipe_wr);
  o->pipe_wr = -1;
  uint64_t last = uptime_ms();
  while (o->pipe_rd >= 0 || o->off < o->len) {
    struct pollfd p = output_pollfd(o);
    if (poll(&p, 1, 200) > 0) {
      uint64_t written = o->total;
      size_t buffered = o->len;
      int open_before = o->pipe_rd >= 0;
      output_step(o, p.revents);
      if (o->total != written || o->len != buffered || open_before != (o->pipe_rd >= 0)) last = uptime_ms();
    }
    if (uptime_ms() - last > OUTPUT_STALL_MS) {
      ainit_log("output: host not reading, %zu bytes not delivered", o->len - o->off);
      break;
    }
  }
  unsigned char count[8];
  put64le(count, o->total);
  anotify_send(an, ANOTIFY_OUTPUT_END, count, sizeof count, 1);
  anotify_drain(an, 2000);
  for (uint64_t end = uptime_ms() + OUTPUT_ACK_MS; !o->acked && an->fd >= 0 && an->connected;) {
    uint64_t now = uptime_ms();
    if (now >= end) break;
    struct pollfd p = {an->fd, POLLIN, 0};
    if (poll(&p, 1, (int)(end - now)) > 0) {
      if (p.revents & POLLHUP) break;
      anotify_receive(an, on_ack, o);
    }
  }
  close(o->port);
  o->port = -1;
}
