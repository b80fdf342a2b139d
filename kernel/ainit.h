/* ainit: declarations shared by the parts of the guest's PID 1 (command-line
 * decoding, system setup, Anotify guest end, application supervision). */
#ifndef ARROW_AINIT_H
#define ARROW_AINIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default search path given to the application (as Debian's login does). */
#define AINIT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Default Anotify heartbeat period, seconds. */
#define AINIT_DEFAULT_HB 10

struct ainit_share {
  char *tag;        /* virtio-9p mount tag */
  char *path;       /* absolute mount point in the guest */
  int readonly;
  int shadow;       /* ShadowFS: tag mounted read-only under a writable overlay */
  char *upper_tag;  /* ShadowFS upper layer: a 9p tag, or NULL for a tmpfs */
};

/* What kernel/CMDLINE.md's arrow.* tokens say. Every string is owned by the
 * config (malloc'd, NUL-terminated, never NULL once parsed unless noted). */
struct ainit_config {
  char *init;                 /* arrow.init; NULL means none was given */
  char **args;                /* arrow.arg, in order */
  size_t nargs;
  char **env;                 /* "NAME=VALUE" from Anotify SETENV frames, in order */
  size_t nenv;
  unsigned nenv_expected;     /* arrow.nenv: how many SETENV frames the host sends */
  char *dir;                  /* arrow.dir, default "/" */
  char *user;                 /* arrow.user, default root,0,0,/root */
  unsigned uid, gid;
  char *home;
  char *group;                /* arrow.group name, NULL when absent */
  struct ainit_share *shares; /* arrow.share, in order */
  size_t nshares;
  int has_net;                /* arrow.net given */
  char *addr;                 /* IPv4 address, dotted */
  unsigned prefix;            /* 0..32 */
  char *gateway;              /* "" when none */
  char *dns;                  /* "" when none */
  char *host;                 /* arrow.host, NULL when absent */
  unsigned char mac[6];       /* arrow.mac: eth0's address */
  int has_mac;
  unsigned hb;                /* arrow.hb seconds, 0 = off */
  uint64_t time_ms;           /* arrow.time: host's Unix time in ms, 0 when absent */
  int tty_pipe;               /* arrow.tty=pipe: the console's host side is no terminal */
  int wait;                   /* arrow.wait=1: every other instruction comes over Anotify (a template) */
};

/* Decodes the arrow.* tokens of a kernel command line into cfg (which it
 * initialises first). Returns 0, or -1 with a one-line message naming the
 * key at fault in err. Other tokens are ignored. Pure: no system calls. */
int ainit_parse_cmdline(const char *cmdline, struct ainit_config *cfg,
                        char *err, size_t errlen);
void ainit_config_free(struct ainit_config *cfg);

/* Adds one environment variable from an Anotify SETENV payload p[0..len)
 * ("NAME=VALUE", not NUL-terminated) to cfg->env. Returns 0, or -1 with a
 * message in err (which never holds the value: it may be a secret) when it
 * is not NAME=VALUE with a non-empty name, holds a NUL byte, or is one more
 * than arrow.nenv announced. Pure: no system calls. */
int ainit_add_env(struct ainit_config *cfg, const unsigned char *p, size_t len, char *err,
                  size_t errlen);

/* Percent-decodes src[0..len) into a new NUL-terminated string. Returns NULL
 * on a malformed escape or an encoded NUL byte (C strings cannot carry it). */
char *ainit_unescape(const char *src, size_t len);

#ifdef __cplusplus
}
#endif

#endif
