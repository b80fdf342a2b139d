/* ainit: prepares the guest for the application — kernel filesystems, the 9p
 * shares, merged-/usr links, the few /etc files, hostname and network. */
#include "kernel/ainit_sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* 9p mount options. msize: the largest the 6.1 virtio transport accepts
 * in one request; cache: read-only shares can cache everything (the host's
 * /usr does not change under a running application), writable ones keep
 * mmap coherent without caching data. Measured in kernel/BOOT.md. */
#ifndef NINEP_MSIZE /* -D overrides are for measuring, see BOOT.md */
#define NINEP_MSIZE 512000
#endif
#ifndef NINEP_CACHE_RO
#define NINEP_CACHE_RO "loose"
#endif
#define NINEP_CACHE_RW "mmap"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* mkdir -p; existing directories are fine. */
static int mkdir_p(const char *path, mode_t mode) {
  char buf[4096];
  size_t len = strlen(path);
  if (len >= sizeof buf) return errno = ENAMETOOLONG, -1;
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    if (mkdir(buf, mode) < 0 && errno != EEXIST) return -1;
    *p = c;
    if (c == '\0') return 0;
  }
}

static const struct {
  const char *source, *target, *type;
  unsigned long flags;
  const char *data;
  int required; /* the guest cannot work without it */
} base_mounts[] = {
  {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 1},
  {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 1},
  {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 1},
  {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", 0},
  {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 0},
  {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 1},
  {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0},
};

/* /dev/fd and /dev/std* as a full system has them (bash, shells' <(…)). */
static const char *const dev_links[][2] = {
  {"/proc/self/fd", "/dev/fd"},
  {"/proc/self/fd/0", "/dev/stdin"},
  {"/proc/self/fd/1", "/dev/stdout"},
  {"/proc/self/fd/2", "/dev/stderr"},
};

int setup_base_mounts(char *err, size_t errlen) {
  for (size_t i = 0; i < sizeof base_mounts / sizeof base_mounts[0]; i++) {
    const char *t = base_mounts[i].target;
    if ((mkdir_p(t, 0755) < 0 ||
         mount(base_mounts[i].source, t, base_mounts[i].type, base_mounts[i].flags,
               base_mounts[i].data) < 0)) {
      if (base_mounts[i].required)
        return FAIL("mount %s on %s: %s", base_mounts[i].type, t, strerror(errno));
      ainit_log("mount %s on %s: %s", base_mounts[i].type, t, strerror(errno));
    }
  }
  for (size_t i = 0; i < sizeof dev_links / sizeof dev_links[0]; i++)
    symlink(dev_links[i][0], dev_links[i][1]);
  return 0;
}

int setup_shares(const struct ainit_config *cfg, char *err, size_t errlen) {
  static const char *const merged[] = {"bin", "sbin", "lib", "lib64"};
  for (size_t i = 0; i < cfg->nshares; i++) {
    const struct ainit_share *s = &cfg->shares[i];
    char opts[128], opts_rw[128];
    snprintf(opts, sizeof opts, "trans=virtio,version=9p2000.L,msize=%d,cache=%s",
             NINEP_MSIZE, s->readonly || s->shadow ? NINEP_CACHE_RO : NINEP_CACHE_RW);
    if (mkdir_p(s->path, 0755) < 0)
      return FAIL("arrow.share %s: cannot create mount point %s: %s", s->tag, s->path,
                  strerror(errno));
    if (s->shadow) {
      /* the lower layer never changes under the Arrow: cached like a read-only share */
      snprintf(opts_rw, sizeof opts_rw, "trans=virtio,version=9p2000.L,msize=%d,cache=%s",
               NINEP_MSIZE, NINEP_CACHE_RW);
      if (setup_shadow(s, (unsigned)i, opts, opts_rw, err, errlen)) return -1;
      continue;
    }
    if (mount(s->tag, s->path, "9p", s->readonly ? MS_RDONLY : 0, opts) < 0)
      return FAIL("arrow.share %s: mount on %s: %s", s->tag, s->path, strerror(errno));
  }
  /* Debian's merged /usr: /bin -> usr/bin …, unless a share already put
   * something there. */
  for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++) {
    char link[16], target[16];
    struct stat st;
    snprintf(link, sizeof link, "/%s", merged[i]);
    snprintf(target, sizeof target, "usr/%s", merged[i]);
    if (lstat(link, &st) < 0 && symlink(target, link) < 0)
      return FAIL("symlink %s -> %s: %s", link, target, strerror(errno));
  }
  return 0;
}

static int write_file(const char *path, const char *text, char *err, size_t errlen) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  size_t len = strlen(text);
  if (fd < 0) return FAIL("%s: %s", path, strerror(errno));
  ssize_t n = write(fd, text, len);
  int saved = errno;
  close(fd);
  if (n != (ssize_t)len) return FAIL("%s: %s", path, strerror(n < 0 ? saved : EIO));
  return 0;
}

/* passwd and group: root, the run user and group, nobody/nogroup. */
static int write_accounts(const struct ainit_config *cfg, char *err, size_t errlen) {
  char buf[2048];
  const char *grp = cfg->group ? cfg->group : cfg->user;
  int n = snprintf(buf, sizeof buf, "root:x:0:0:root:/root:/bin/sh\n");
  if (cfg->uid != 0 && cfg->uid != 65534)
    n += snprintf(buf + n, sizeof buf - (size_t)n, "%s:x:%u:%u:%s:%s:/bin/sh\n", cfg->user,
                  cfg->uid, cfg->gid, cfg->user, cfg->home);
  snprintf(buf + n, sizeof buf - (size_t)n,
           "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
  if (write_file("/etc/passwd", buf, err, errlen)) return -1;
  n = snprintf(buf, sizeof buf, "root:x:0:\n");
  if (cfg->gid != 0 && cfg->gid != 65534)
    n += snprintf(buf + n, sizeof buf - (size_t)n, "%s:x:%u:\n", grp, cfg->gid);
  snprintf(buf + n, sizeof buf - (size_t)n, "nogroup:x:65534:\n");
  return write_file("/etc/group", buf, err, errlen);
}

static int write_names(const struct ainit_config *cfg, char *err, size_t errlen) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
                   "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
  if (cfg->host)
    snprintf(buf + n, sizeof buf - (size_t)n, "%s\t%s\n",
             cfg->has_net ? cfg->addr : "127.0.1.1", cfg->host);
  if (write_file("/etc/hosts", buf, err, errlen)) return -1;
  buf[0] = '\0';
  if (cfg->dns[0]) snprintf(buf, sizeof buf, "nameserver %s\n", cfg->dns);
  if (write_file("/etc/resolv.conf", buf, err, errlen)) return -1;
  if (!cfg->host) return 0;
  snprintf(buf, sizeof buf, "%s\n", cfg->host);
  if (write_file("/etc/hostname", buf, err, errlen)) return -1;
  if (sethostname(cfg->host, strlen(cfg->host)) < 0)
    return FAIL("arrow.host: sethostname '%s': %s", cfg->host, strerror(errno));
  return 0;
}

int setup_etc(const struct ainit_config *cfg, char *err, size_t errlen) {
  if (mkdir_p("/etc", 0755) < 0) return FAIL("/etc: %s", strerror(errno));
  if (write_accounts(cfg, err, errlen) || write_names(cfg, err, errlen)) return -1;
  /* A missing $HOME breaks many programs; create it when we can (it may lie
   * on a read-only share, which is the host's business), except Debian's
   * deliberate /nonexistent for system users. */
  if (strcmp(cfg->home, "/nonexistent") != 0 && mkdir_p(cfg->home, 0700) == 0) {
    struct stat st;
    if (stat(cfg->home, &st) == 0 && st.st_uid == 0 && cfg->uid != 0)
      chown(cfg->home, cfg->uid, cfg->gid);
  }
  return 0;
}

static int set_addr(struct sockaddr *sa, const char *text) {
  struct sockaddr_in *in = (struct sockaddr_in *)sa;
  memset(in, 0, sizeof *in);
  in->sin_family = AF_INET;
  return inet_pton(AF_INET, text, &in->sin_addr) == 1 ? 0 : -1;
}

/* Address, netmask and IFF_UP on one interface. */
static int if_up(int sock, const char *ifname, const char *addr, unsigned prefix, char *err,
                 size_t errlen) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
  if (set_addr(&ifr.ifr_addr, addr) < 0) return FAIL("arrow.net: bad address '%s'", addr);
  if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
    return FAIL("%s: set address %s: %s", ifname, addr, strerror(errno));
  struct sockaddr_in *mask = (struct sockaddr_in *)&ifr.ifr_netmask;
  mask->sin_family = AF_INET;
  mask->sin_addr.s_addr = htonl(prefix ? 0xffffffffu << (32 - prefix) : 0);
  if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
    return FAIL("%s: set netmask /%u: %s", ifname, prefix, strerror(errno));
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
    return FAIL("%s: get flags: %s", ifname, strerror(errno));
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
    return FAIL("%s: bring up: %s", ifname, strerror(errno));
  return 0;
}

static int default_route(int sock, const char *gateway, char *err, size_t errlen) {
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  set_addr(&rt.rt_dst, "0.0.0.0");
  set_addr(&rt.rt_genmask, "0.0.0.0");
  if (set_addr(&rt.rt_gateway, gateway) < 0)
    return FAIL("arrow.net: bad gateway '%s'", gateway);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  rt.rt_dev = (char *)"eth0";
  if (ioctl(sock, SIOCADDRT, &rt) < 0)
    return FAIL("eth0: default route via %s: %s", gateway, strerror(errno));
  return 0;
}

/* eth0's address from arrow.mac: a guest restored from a template has the
 * template's, which its driver read at probe time (and QEMU's device state
 * holds); setting it through the driver updates QEMU's copy too. */
static int set_mac(int sock, const unsigned char *mac, char *err, size_t errlen) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "eth0");
  ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
  memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
  if (ioctl(sock, SIOCSIFHWADDR, &ifr) < 0) return FAIL("eth0: set MAC address: %s", strerror(errno));
  return 0;
}

int setup_network(const struct ainit_config *cfg, char *err, size_t errlen) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int r;
  if (sock < 0) return FAIL("socket: %s", strerror(errno));
  r = if_up(sock, "lo", "127.0.0.1", 8, err, errlen);
  if (r == 0 && cfg->has_net && cfg->has_mac) r = set_mac(sock, cfg->mac, err, errlen);
  if (r == 0 && cfg->has_net) r = if_up(sock, "eth0", cfg->addr, cfg->prefix, err, errlen);
  if (r == 0 && cfg->has_net && cfg->gateway[0]) r = default_route(sock, cfg->gateway, err, errlen);
  close(sock);
  return r;
}

/* The kernel's default of 1024 open files (hard 4096) is a login
 * session's; daemons expect a service manager's larger limit (Redis asks
 * for maxclients+32 = 10032 and otherwise shrinks maxclients). Soft 65536:
 * enough for such daemons, while programs that close every possible fd
 * before exec (a loop to the soft limit, slow under TCG) stay quick; hard:
 * the kernel's nr_open, so an application may raise it further itself. */
#define AINIT_NOFILE_SOFT 65536
#define AINIT_NOFILE_HARD 1048576

void setup_limits(void) {
  struct rlimit rl = {AINIT_NOFILE_SOFT, AINIT_NOFILE_HARD};
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) ainit_log("setrlimit RLIMIT_NOFILE: %s", strerror(errno));
}

void setup_clock(const struct ainit_config *cfg) {
  /* Without an RTC (microvm rtc=off) or kvmclock the guest starts in 1970;
   * the host's time plus the time this guest has run is close enough. */
  if (!cfg->time_ms) return;
  uint64_t ms = cfg->time_ms + uptime_ms();
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  if (settimeofday(&tv, NULL) < 0) ainit_log("arrow.time: settimeofday: %s", strerror(errno));
}
