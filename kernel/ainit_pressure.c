/* ainit: tells the host when the guest starts to stall on memory, so that
 * the daemon's AutoBalloon gives memory back at once instead of at its next
 * statistics poll. A second PSI trigger on /proc/pressure/memory, far more
 * sensitive than the out-of-memory watch (ainit_oom.c): some task stalled on
 * memory for PRESSURE_STALL_MS within PRESSURE_WINDOW_MS (the kernel's
 * shortest window). Each report is one ANOTIFY_MEMORY_PRESSURE frame with
 * the stall total and MemAvailable/MemTotal; the host decides what it means
 * (a stall while plenty is available is the balloon reclaiming cache, not
 * pressure). The kernel reports at most once per window. */
#include "kernel/ainit_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSI_PATH "/proc/pressure/memory"
#define PRESSURE_STALL_MS 20
#define PRESSURE_WINDOW_MS 500

static int read_text(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
  if (fd >= 0) close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return n > 0 ? 0 : -1;
}

static uint64_t field(const char *text, const char *name) {
  const char *p = text ? strstr(text, name) : NULL;
  return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

int pressure_open(void) {
  char trigger[32];
  int n = snprintf(trigger, sizeof trigger, "some %u %u", PRESSURE_STALL_MS * 1000u, PRESSURE_WINDOW_MS * 1000u);
  int fd = open(PSI_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0 && write(fd, trigger, (size_t)n + 1) < 0) { /* the NUL goes too */
    close(fd);
    fd = -1;
  }
  if (fd < 0) ainit_log(PSI_PATH ": %s: no memory pressure reports", strerror(errno));
  return fd;
}

int pressure_check(int fd, short revents, struct anotify *an) {
  static char psi[256], mem[2048];
  if (revents & (POLLERR | POLLNVAL)) {
    close(fd);
    return -1;
  }
  if (!(revents & POLLPRI)) return fd;
  read_text(PSI_PATH, psi, sizeof psi);
  read_text("/proc/meminfo", mem, sizeof mem);
  unsigned char payload[16];
  put_le(payload, field(strstr(psi, "some "), "total="), 8);
  put_le(payload + 8, field(mem, "MemAvailable:"), 4);
  put_le(payload + 12, field(mem, "MemTotal:"), 4);
  anotify_send(an, ANOTIFY_MEMORY_PRESSURE, payload, sizeof payload, 0);
  return fd;
}
