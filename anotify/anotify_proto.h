/* Anotify wire format: the one definition shared by ainit (C, guest) and the
 * host decoder (C++). See anotify/PROTOCOL.md. Every frame is
 *
 *   offset 0  u8  magic0 = 'A'
 *          1  u8  magic1 = 'N'
 *          2  u8  version (ANOTIFY_VERSION)
 *          3  u8  type (enum anotify_type)
 *          4  u16 payload length, little-endian (<= ANOTIFY_MAX_PAYLOAD)
 *          6  u16 check: ~(type | length << 8) & 0xffff, little-endian
 *          8  payload
 *
 * Integers in payloads are little-endian. */
#ifndef ARROW_ANOTIFY_PROTO_H
#define ARROW_ANOTIFY_PROTO_H

#include <stdint.h>

#define ANOTIFY_PORT_NAME "org.arrow.anotify.0"
#define ANOTIFY_MAGIC0 0x41 /* 'A' */
#define ANOTIFY_MAGIC1 0x4e /* 'N' */
#define ANOTIFY_VERSION 1
#define ANOTIFY_HEADER_SIZE 8
#define ANOTIFY_MAX_PAYLOAD 1024

enum anotify_type {
  ANOTIFY_BOOTED = 1,       /* payload: u64 uptime_ms at the moment ainit runs */
  ANOTIFY_APP_STARTED = 2,  /* payload: u32 pid */
  ANOTIFY_APP_EXITED = 3,   /* payload: i32 exit status (-1 if signalled), i32 signal (0 if exited) */
  ANOTIFY_ERROR = 4,        /* payload: UTF-8 text, not NUL-terminated */
  ANOTIFY_OOM = 5,          /* payload: u32 pid of the killed process (0 if unknown), u32 ANOTIFY_OOM_BY_* */
  ANOTIFY_HEARTBEAT = 6,    /* payload: u64 uptime_ms */
  /* Host -> guest (the port is bidirectional): */
  ANOTIFY_SHUTDOWN = 7,     /* payload: u32 grace_ms; SIGTERM the application, SIGKILL after grace */
  ANOTIFY_SIGNAL = 8,       /* payload: i32 signal number to deliver to the application */
  /* Output flow control (console in pipe mode, see PROTOCOL.md): */
  ANOTIFY_OUTPUT_END = 9,   /* guest -> host; payload: u64 bytes ainit wrote to the stdout port in all */
  ANOTIFY_OUTPUT_ACK = 10,  /* host -> guest; empty: the host has read all of them */
  /* ainit's private instructions, kept off the kernel command line (which
   * says only how many: kernel/CMDLINE.md, arrow.nenv): */
  ANOTIFY_SETENV = 11,             /* host -> guest; payload: "NAME=VALUE", one environment variable, no NUL */
  ANOTIFY_INSTRUCTIONS_END = 12,   /* host -> guest; empty: that was all of them */
  ANOTIFY_INSTRUCTIONS_WANTED = 13, /* guest -> host; empty: ainit waits for the environment (again, after a
                                      reconnect); one byte ANOTIFY_WANT_ALL: waits for all of its instructions */
  /* Templates (arrow.wait=1: ainit booted with no instructions on its command
   * line, so that its memory can be a template shared by every Arrow). The
   * host answers INSTRUCTIONS_WANTED/ANOTIFY_WANT_ALL with one set: an empty
   * TEXT (a set begins), TEXT frames, ENTROPY, SETENV frames, INSTRUCTIONS_END. */
  ANOTIFY_INSTRUCTIONS_TEXT = 14,  /* host -> guest; payload: the next bytes of the arrow.* tokens (CMDLINE.md) */
  ANOTIFY_ENTROPY = 15,            /* host -> guest; payload: 32-64 random bytes to reseed the guest's CRNG with */
  ANOTIFY_READY = 16,              /* guest -> host; empty: the application said READY=1 on $NOTIFY_SOCKET */
  /* Memory (types 20-23; AutoBalloon, see PROTOCOL.md): */
  ANOTIFY_MEMORY_PRESSURE = 20 /* guest -> host; payload: u64 PSI "some" stall total in us, u32 MemAvailable kB,
                                  u32 MemTotal kB */
};

/* Who ended an OOM victim (second field of ANOTIFY_OOM; absent means the kernel). */
#define ANOTIFY_OOM_BY_KERNEL 0 /* the kernel's OOM killer */
#define ANOTIFY_OOM_BY_INIT 1   /* ainit, on sustained memory pressure (kernel/ainit_oom.c) */
/* INSTRUCTIONS_WANTED's payload byte: every instruction, not only the environment. */
#define ANOTIFY_WANT_ALL 1

#define ANOTIFY_STDOUT_PORT_NAME "org.arrow.stdout.0"

static inline uint16_t anotify_check(uint8_t type, uint16_t length) {
  return (uint16_t)(~((uint32_t)type | ((uint32_t)length << 8)) & 0xffffu);
}

#endif
