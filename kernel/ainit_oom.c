/* ainit: declares the guest out of memory before it livelocks. Without swap
 * the kernel's OOM killer acts only when reclaim frees nothing at all; an
 * application whose own code (file pages mmapped from a 9p share) is evicted
 * and read back again and again keeps reclaim "making progress", and the
 * guest spins for minutes. Like systemd-oomd and earlyoom, ainit watches
 * pressure instead: a PSI trigger on /proc/pressure/memory wakes it when the
 * guest has stalled on memory for a good part of the last second, and if
 * MemAvailable is low as well, for OOM_WINDOWS windows in a row, the guest is
 * out of memory. The thresholds and the measurements behind them are in
 * kernel/BOOT.md, "Out of memory". */
#include "kernel/ainit_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSI_PATH "/proc/pressure/memory"
/* The trigger: at least OOM_STALL_MS of "full" memory stall (every task
 * that wants to run waits on reclaim or on reading back its working set)
 * within a sliding window of OOM_WINDOW_MS. The kernel reports it at most
 * once per window. (-D overrides are for measuring, see BOOT.md.) */
#ifndef OOM_STALL_MS
#define OOM_STALL_MS 200
#endif
#ifndef OOM_WINDOW_MS
#define OOM_WINDOW_MS 1000
#endif
/* ... with MemAvailable at most OOM_AVAIL_PCT % of MemTotal each time ... */
#ifndef OOM_AVAIL_PCT
#define OOM_AVAIL_PCT 10
#endif
/* ... in this many windows in a row. */
#ifndef OOM_WINDOWS
#define OOM_WINDOWS 2
#endif

int read_proc(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
  if (fd >= 0) close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return n > 0 ? 0 : -1;
}

uint64_t proc_value(const char *text, const char *name) {
  const char *p = text ? strstr(text, name) : NULL;
  return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

int psi_trigger(const char *kind, unsigned stall_ms, unsigned window_ms, const char *what) {
  char trigger[32];
  int n = snprintf(trigger, sizeof trigger, "%s %u %u", kind, stall_ms * 1000u, window_ms * 1000u);
  int fd = open(PSI_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  /* The kernel reads the trigger as a C string: the NUL goes too. */
  if (fd >= 0 && write(fd, trigger, (size_t)n + 1) < 0) {
    close(fd);
    fd = -1;
  }
  if (fd < 0) ainit_log(PSI_PATH ": %s: no %s", strerror(errno), what);
  return fd;
}

void oom_open(struct oom_watch *w) {
  w->strikes = 0;
  w->last_ms = 0;
  w->fd = psi_trigger("full", OOM_STALL_MS, OOM_WINDOW_MS, "out-of-memory watch");
}

int oom_check(struct oom_watch *w, short revents, uint64_t now) {
  static char buf[2048];
  if (revents & (POLLERR | POLLNVAL)) { /* no trigger after all: never spin on it */
    ainit_log(PSI_PATH ": trigger lost: no out-of-memory watch");
    close(w->fd);
    w->fd = -1;
    return 0;
  }
  if (!(revents & POLLPRI) || read_proc("/proc/meminfo", buf, sizeof buf) < 0) return 0;
  uint64_t avail = proc_value(buf, "MemAvailable:"), total = proc_value(buf, "MemTotal:");
  int low = total && avail * 100 <= total * OOM_AVAIL_PCT;
  /* In a row: the previous report came about one window earlier (the
   * kernel reports at most once per window, so at least one window). */
  w->strikes = !low ? 0 : w->strikes && now - w->last_ms < 2 * OOM_WINDOW_MS ? w->strikes + 1 : 1;
  w->last_ms = now;
#ifdef AINIT_OOM_TRACE
  ainit_log("oom: t=%llu stalled, %llu of %llu kB available, strike %u", (unsigned long long)now,
            (unsigned long long)avail, (unsigned long long)total, w->strikes);
#endif
  if (w->strikes < OOM_WINDOWS) return 0;
  ainit_log("out of memory: stalled on memory over %u ms of every %u ms, %u times in a row, "
            "with %llu of %llu kB available: ending the application",
            OOM_STALL_MS, OOM_WINDOW_MS, w->strikes, (unsigned long long)avail, (unsigned long long)total);
  return 1;
}

#ifdef AINIT_OOM_TRACE
/* Measuring (BOOT.md, "Out of memory"): the full stall total and MemAvailable. */
void oom_trace(void) {
  char psi[256], mem[2048];
  read_proc(PSI_PATH, psi, sizeof psi);
  read_proc("/proc/meminfo", mem, sizeof mem);
  ainit_log("trace t=%llu full=%llu avail=%llu total=%llu", (unsigned long long)uptime_ms(),
            (unsigned long long)value(strstr(psi, "full "), "total="),
            (unsigned long long)value(mem, "MemAvailable:"), (unsigned long long)value(mem, "MemTotal:"));
}
#endif
