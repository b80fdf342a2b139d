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

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

int pressure_open(void) {
  return psi_trigger("some", PRESSURE_STALL_MS, PRESSURE_WINDOW_MS, "memory pressure reports");
}

int pressure_check(int fd, short revents, struct anotify *an) {
  static char psi[256], mem[2048];
  if (revents & (POLLERR | POLLNVAL)) {
    close(fd);
    return -1;
  }
  if (!(revents & POLLPRI)) return fd;
  read_proc(PSI_PATH, psi, sizeof psi);
  read_proc("/proc/meminfo", mem, sizeof mem);
  unsigned char payload[16];
  put_le(payload, proc_value(strstr(psi, "some "), "total="), 8);
  put_le(payload + 8, proc_value(mem, "MemAvailable:"), 4);
  put_le(payload + 12, proc_value(mem, "MemTotal:"), 4);
  anotify_send(an, ANOTIFY_MEMORY_PRESSURE, payload, sizeof payload, 0);
  return fd;
}
