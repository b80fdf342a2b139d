/* ainit: the system-facing parts of the guest's PID 1 (setup of the guest's
 * filesystems, files and network; the Anotify port), as used by ainit.c. */
#ifndef ARROW_AINIT_SYS_H
#define ARROW_AINIT_SYS_H

#include "anotify/anotify_proto.h"
#include "kernel/ainit.h"

#include <poll.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/* Messages of ainit itself go to the kernel console (ttyS0), prefixed
 * "ainit: ". */
void ainit_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- ainit_setup.c: each returns 0, or -1 with a message in err. --- */

/* /proc, /sys, /dev, /dev/pts, /dev/shm, /tmp, /run. Needed before anything. */
int setup_base_mounts(char *err, size_t errlen);
/* The 9p shares, then /bin /sbin /lib /lib64 -> usr/… where nothing is there. */
int setup_shares(const struct ainit_config *cfg, char *err, size_t errlen);
/* /etc/passwd, group, hosts, resolv.conf, hostname; sethostname; $HOME. */
int setup_etc(const struct ainit_config *cfg, char *err, size_t errlen);
/* The wall clock from arrow.time (nothing else sets it under TCG). */
void setup_clock(const struct ainit_config *cfg);
/* Resource limits the application inherits (RLIMIT_NOFILE). Never fails. */
void setup_limits(void);
/* lo, and eth0 with a default route when arrow.net is given (ioctls only). */
int setup_network(const struct ainit_config *cfg, char *err, size_t errlen);

/* --- ainit_channels.c --- */

/* /dev/virtio-ports/NAME for every named virtio-serial port; the ports of
 * the Arrow's channels owned by the application's user. Never fails. */
void channels_setup(const struct ainit_config *cfg);
/* /run/crossbow/NAME.sock for every channel, relayed to its port by a
 * helper process while a client is connected. Never fails. */
void channels_sockets_start(const struct ainit_config *cfg);

/* --- ainit_agent.c: the QEMU guest agent on org.qemu.guest_agent.0. --- */

#define AGENT_EXEC_MAX 8
#define AGENT_IN_MAX 65536 /* one request, base64 input-data included */
struct agent_exec {
  pid_t pid;       /* 0: a free slot */
  int done;        /* reaped; status holds its wait status */
  int status;
  int capture;     /* capture-output: its stdout and stderr went to files */
  int input_slot;  /* its input-data file's slot, -1 without one */
};
struct agent {
  int fd;          /* the port, -1 when the Arrow has no agent channel */
  int connected;   /* the host end was open when last checked */
  const struct ainit_config *cfg;
  size_t inlen;
  char *in;        /* AGENT_IN_MAX bytes (in .bss: PID 1's state is initialised data) */
  char *out;       /* the reply being written, NULL when none */
  size_t outlen, outoff;
  struct agent_exec execs[AGENT_EXEC_MAX];
};
/* Opens the port if the Arrow has one (SIGIO when the host connects). */
void agent_open(struct agent *a, const struct ainit_config *cfg);
/* Rechecks the host end (after SIGIO); a new host end starts clean. */
void agent_refresh(struct agent *a);
/* The pollfd the agent needs now (fd -1 when none). */
struct pollfd agent_pollfd(const struct agent *a);
/* Reads requests, answers them, writes what waits, after poll's REVENTS. */
void agent_step(struct agent *a, short revents);
/* A child was reaped: 1 when it was a guest-exec process (its status kept). */
int agent_reaped(struct agent *a, pid_t pid, int status);

/* --- ainit_exec.c: Adebug's exec server (arrow exec). --- */

/* Forks the server when the Arrow has the port org.arrow.exec.0. */
void exec_server_start(const struct ainit_config *cfg);

/* --- ainit_shadow.c --- */

/* ShadowFS: share s (index: its position, for a scratch name) as an overlay
 * on s->path, its 9p tag the read-only lower layer (mounted with opts_ro),
 * the upper layer a tmpfs or the 9p share s->upper_tag (opts_rw). */
int setup_shadow(const struct ainit_share *s, unsigned index, const char *opts_ro,
                 const char *opts_rw, char *err, size_t errlen);

/* --- ainit_anotify.c: the guest end of the Anotify port. --- */

struct anotify {
  int fd;          /* the port, -1 when the VM has none */
  int connected;   /* whether the host end was open when last checked */
  size_t outlen;   /* queued frames that must not be lost (all but heartbeats) */
  unsigned char out[4096];
  size_t inlen;    /* partial host-to-guest frame */
  unsigned char in[ANOTIFY_HEADER_SIZE + ANOTIFY_MAX_PAYLOAD];
};

/* A frame from the host: type and payload (valid until the next call). */
typedef void (*anotify_handler)(void *ctx, uint8_t type, const unsigned char *payload,
                                uint16_t len);

/* Looks for the virtio-serial port NAME in sysfs: 1 found (/dev path in
 * dev), 0 not found, -1 not found but some port has no name yet. */
int ainit_find_port(const char *name, char *dev, size_t devlen);

/* The application's stdout and stderr in pipe mode (ainit_output.c): PID 1
 * relays them from a pipe to the flow-controlled port org.arrow.stdout.0 and
 * counts them, so that the host confirms it read every byte before the exit
 * is reported. */
struct output_relay {
  int pipe_rd, pipe_wr; /* the application's end is pipe_wr; -1 when closed */
  int port;             /* -1: no relay, the application writes to the console */
  size_t len, off;      /* bytes in buf, and how many of them were written */
  uint64_t total;       /* bytes written to the port in all */
  int acked;            /* ANOTIFY_OUTPUT_ACK received */
};
/* Sets up the relay when the port exists; otherwise leaves port at -1. */
void output_open(struct output_relay *o);
/* The pollfd the relay needs now (fd -1 when it needs none). */
struct pollfd output_pollfd(const struct output_relay *o);
/* Moves data after poll reported REVENTS on the relay's fd. */
void output_step(struct output_relay *o, short revents);
/* After every writer is gone: relays the rest, tells the host how many bytes
 * it should have (ANOTIFY_OUTPUT_END) and waits for its acknowledgement. */
void output_finish(struct output_relay *o, struct anotify *an);

/* Finds the port named ANOTIFY_PORT_NAME through sysfs and opens it
 * non-blocking, asking for SIGIO when the host end connects or data arrives.
 * Without a port every send is a no-op. */
void anotify_open(struct anotify *a);
/* Queues (must_deliver) or tries once (heartbeats) to send one frame. Never blocks. */
void anotify_send(struct anotify *a, uint8_t type, const void *payload, uint16_t len,
                  int must_deliver);
/* Rechecks the host connection and writes what is queued. Never blocks. */
void anotify_refresh(struct anotify *a);
/* Waits up to timeout_ms for the queue to drain (at power-off). */
void anotify_drain(struct anotify *a, int timeout_ms);
/* Reads what the host sent and calls handler for each valid frame; skips
 * garbage and frames of unknown version. */
void anotify_receive(struct anotify *a, anotify_handler handler, void *ctx);

/* --- ainit_oom.c: out of memory by pressure (PSI), before the guest livelocks. --- */

/* PATH's text in buf (NUL-terminated); 0, or -1 when unreadable. */
int read_proc(const char *path, char *buf, size_t len);
/* The number after NAME in text (kB in /proc/meminfo), 0 when absent. */
uint64_t proc_value(const char *text, const char *name);
/* /proc/pressure/memory with a trigger "KIND STALL WINDOW" (ms) armed
 * (POLLPRI when it fires); -1, logged as "no WHAT", without PSI. */
int psi_trigger(const char *kind, unsigned stall_ms, unsigned window_ms, const char *what);

struct oom_watch {
  int fd;           /* /proc/pressure/memory with a trigger armed (POLLPRI); -1 without PSI */
  unsigned strikes; /* trigger reports in a row with little memory available */
  uint64_t last_ms; /* uptime_ms of the last report */
};
/* Arms the PSI trigger; logs and leaves fd at -1 when the kernel has none. */
void oom_open(struct oom_watch *w);
/* After poll reported REVENTS on w->fd: returns 1 (and logs why) when the
 * guest is out of memory. */
int oom_check(struct oom_watch *w, short revents, uint64_t now);
#ifdef AINIT_OOM_TRACE
void oom_trace(void);
#endif

/* --- ainit_pressure.c: memory pressure reports for the host's AutoBalloon. --- */

/* Arms a sensitive PSI trigger; returns its fd (POLLPRI), or -1 without PSI. */
int pressure_open(void);
/* After poll reported REVENTS on FD: sends ANOTIFY_MEMORY_PRESSURE when the
 * trigger fired. Returns FD, or -1 once the trigger is gone (closed). */
int pressure_check(int fd, short revents, struct anotify *an);

/* Milliseconds since boot (CLOCK_BOOTTIME). */
uint64_t uptime_ms(void);

#endif
