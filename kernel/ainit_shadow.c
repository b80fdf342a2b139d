/* ainit: ShadowFS — mounts a read-only 9p share under an overlay whose upper
 * layer is a tmpfs (writes vanish at power-off) or a writable 9p share (writes
 * persist on the host), so an application writes next to shared files that
 * stay untouched. */
#include "kernel/ainit_sys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* Scratch mount points, detached once the overlay holds its layers (an
 * overlay keeps references to its lower and upper directories, so the
 * application never sees them). */
#define SHADOW_DIR "/.shadow"

static int mkdir_ok(const char *path, mode_t mode) {
  return mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -1;
}

/* The upper layer's filesystem at base/rw: a tmpfs, or the upper 9p share.
 * The overlay needs upperdir and workdir on the same filesystem. */
static int mount_upper(const struct ainit_share *s, const char *rw, const char *opts9p, char *err,
                       size_t errlen) {
  if (!s->upper_tag) {
    if (mount("tmpfs", rw, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
      return FAIL("arrow.share %s: ShadowFS tmpfs for %s: %s", s->tag, s->path, strerror(errno));
    return 0;
  }
  if (mount(s->upper_tag, rw, "9p", 0, opts9p) < 0)
    return FAIL("arrow.share %s: ShadowFS upper layer %s for %s: %s", s->tag, s->upper_tag, s->path,
                strerror(errno));
  return 0;
}

int setup_shadow(const struct ainit_share *s, unsigned index, const char *opts_ro,
                 const char *opts_rw, char *err, size_t errlen) {
  char base[64], lower[80], rw[80], upper[96], work[96], opts[512];
  snprintf(base, sizeof base, SHADOW_DIR "/%u", index);
  snprintf(lower, sizeof lower, "%s/lower", base);
  snprintf(rw, sizeof rw, "%s/rw", base);
  snprintf(upper, sizeof upper, "%s/upper", rw);
  snprintf(work, sizeof work, "%s/work", rw);
  if (mkdir_ok(SHADOW_DIR, 0700) || mkdir_ok(base, 0700) || mkdir_ok(lower, 0755) || mkdir_ok(rw, 0755))
    return FAIL("arrow.share %s: ShadowFS scratch directory %s: %s", s->tag, base, strerror(errno));
  if (mount(s->tag, lower, "9p", MS_RDONLY, opts_ro) < 0)
    return FAIL("arrow.share %s: mount on %s: %s", s->tag, s->path, strerror(errno));
  if (mount_upper(s, rw, opts_rw, err, errlen)) return -1;
  /* A persistent upper layer keeps upper/ across restarts; work/ is the
   * overlay's own scratch space, which it empties at mount. */
  if (mkdir_ok(upper, 0755) || mkdir_ok(work, 0700))
    return FAIL("arrow.share %s: ShadowFS upper layer for %s: %s", s->tag, s->path, strerror(errno));
  /* The upper layer's root takes the shared directory's owner and mode, as
   * a copy-up would (the application sees the directory it expects). */
  struct stat st;
  if (stat(lower, &st) == 0) {
    chown(upper, st.st_uid, st.st_gid);
    chmod(upper, st.st_mode & 07777);
  }
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
  if (mount("overlay", s->path, "overlay", 0, opts) < 0)
    return FAIL("arrow.share %s: ShadowFS overlay on %s: %s", s->tag, s->path, strerror(errno));
  umount2(lower, MNT_DETACH);
  umount2(rw, MNT_DETACH);
  rmdir(lower);
  rmdir(rw);
  rmdir(base);
  return 0;
}
