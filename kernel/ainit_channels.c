/* ainit: Crossbow channels in the guest. There is no udev, so PID 1 makes
 * what udev's rule would: /dev/virtio-ports/NAME, a link to each named
 * virtio-serial port (/dev/vportNpM), and gives the ports of the Arrow's
 * <channel> elements to the application's user, who opens them. Arrow's own
 * ports (org.arrow.*) and the guest agent's stay PID 1's. */
#include "kernel/ainit_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PORTS_DIR "/sys/class/virtio-ports"
#define LINKS_DIR "/dev/virtio-ports"
#define AGENT_PORT "org.qemu.guest_agent.0"

/* The port's name from sysfs; 0 when it has none (yet). */
static int port_name(const char *port, char *name, size_t len) {
  char path[300];
  snprintf(path, sizeof path, PORTS_DIR "/%s/name", port);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, name, len - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) return 0;
  name[n] = '\0';
  name[strcspn(name, "\n")] = '\0';
  return name[0] != '\0';
}

/* A name the host's rule allows (no '/', not '.' or '..'): anything else
 * is skipped rather than trusted as a file name. */
static int safe_name(const char *name) {
  return name[0] != '.' && !strchr(name, '/');
}

static int is_own_port(const char *name) {
  return strncmp(name, "org.arrow.", 10) == 0 || strcmp(name, AGENT_PORT) == 0;
}

/* One pass: links every named port; returns how many have no name yet. */
static int link_ports(const struct ainit_config *cfg) {
  DIR *d = opendir(PORTS_DIR);
  struct dirent *e;
  int unnamed = 0;
  if (!d) return 0;
  while ((e = readdir(d))) {
    char name[128], link[300], target[300], dev[300];
    if (e->d_name[0] == '.') continue;
    if (!port_name(e->d_name, name, sizeof name)) {
      unnamed++;
      continue;
    }
    if (!safe_name(name)) continue;
    snprintf(link, sizeof link, LINKS_DIR "/%s", name);
    snprintf(target, sizeof target, "../%s", e->d_name);
    if (symlink(target, link) < 0 && errno != EEXIST) ainit_log("%s: %s", link, strerror(errno));
    if (is_own_port(name)) continue;
    snprintf(dev, sizeof dev, "/dev/%s", e->d_name);
    if (chown(dev, cfg->uid, cfg->gid) < 0 || chmod(dev, 0660) < 0) ainit_log("%s: %s", dev, strerror(errno));
  }
  closedir(d);
  return unnamed;
}

void channels_setup(const struct ainit_config *cfg) {
  mkdir(LINKS_DIR, 0755);
  /* A port's name comes in a message of its own after the port: up to 1 s
   * for the last ones, as anotify_open waits for its own. */
  for (int tries = 0; link_ports(cfg) > 0 && tries < 50; tries++) {
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
  }
}
