/* ainit: decodes the arrow.* tokens of the kernel command line
 * (kernel/CMDLINE.md) into a struct ainit_config. Pure, so the host tests it. */
#include "kernel/ainit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10; /* liberal in what we accept */
  return -1;
}

char *ainit_unescape(const char *src, size_t len) {
  char *out = malloc(len + 1);
  size_t n = 0;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i++) {
    if (src[i] != '%') {
      out[n++] = src[i];
      continue;
    }
    int hi = i + 1 < len ? hex_digit(src[i + 1]) : -1;
    int lo = i + 2 < len ? hex_digit(src[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
      free(out);
      return NULL;
    }
    out[n++] = (char)(hi << 4 | lo);
    i += 2;
  }
  out[n] = '\0';
  return out;
}

/* Splits raw value v[0..len) on ',' and decodes each field into fields[].
 * Returns the number of fields found (even above max, to detect excess), or
 * -1 on a malformed escape. */
static int split_fields(const char *v, size_t len, char **fields, int max) {
  int n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && v[i] != ',') continue;
    if (n < max) {
      fields[n] = ainit_unescape(v + start, i - start);
      if (!fields[n]) {
        for (int k = 0; k < n; k++) free(fields[k]);
        return -1;
      }
    }
    n++;
    start = i + 1;
  }
  if (n > max)
    for (int k = 0; k < max; k++) free(fields[k]);
  return n;
}

/* Strict decimal: digits only, no sign, no overflow past max. */
static int parse_uint(const char *s, unsigned long max, unsigned *out) {
  unsigned long v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (unsigned long)(*s - '0');
    if (v > max) return -1;
  }
  *out = (unsigned)v;
  return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

static int push(char ***list, size_t *n, char *item) {
  char **grown = realloc(*list, (*n + 1) * sizeof **list);
  if (!grown) return -1;
  grown[(*n)++] = item;
  *list = grown;
  return 0;
}

static void replace(char **slot, char *value) {
  free(*slot);
  *slot = value;
}

static int apply_user(struct ainit_config *cfg, char **f) {
  unsigned uid, gid;
  if (parse_uint(f[1], 0xfffffffeUL, &uid) || parse_uint(f[2], 0xfffffffeUL, &gid) ||
      f[0][0] == '\0' || f[3][0] != '/')
    return -1;
  replace(&cfg->user, f[0]);
  replace(&cfg->home, f[3]);
  free(f[1]);
  free(f[2]);
  cfg->uid = uid;
  cfg->gid = gid;
  return 0;
}

static int apply_group(struct ainit_config *cfg, char **f) {
  unsigned gid;
  if (parse_uint(f[1], 0xfffffffeUL, &gid) || f[0][0] == '\0') return -1;
  replace(&cfg->group, f[0]);
  free(f[1]);
  cfg->gid = gid;
  return 0;
}

/* MODE: ro, rw, shadow (ShadowFS over a tmpfs) or shadow:TAG (ShadowFS whose
 * upper layer is the 9p share TAG). */
static int apply_share(struct ainit_config *cfg, char **f) {
  int ro = strcmp(f[2], "ro") == 0, shadow = 0;
  char *upper = NULL;
  if (strcmp(f[2], "shadow") == 0) {
    shadow = 1;
  } else if (strncmp(f[2], "shadow:", 7) == 0 && f[2][7]) {
    shadow = 1;
    if (!(upper = strdup(f[2] + 7))) return -1;
  } else if (!ro && strcmp(f[2], "rw") != 0) {
    return -1;
  }
  struct ainit_share *grown = NULL;
  if (f[0][0] == '\0' || f[1][0] != '/' ||
      !(grown = realloc(cfg->shares, (cfg->nshares + 1) * sizeof *grown))) {
    free(upper);
    return -1;
  }
  cfg->shares = grown;
  grown[cfg->nshares++] = (struct ainit_share){f[0], f[1], ro, shadow, upper};
  free(f[2]);
  return 0;
}

static int apply_net(struct ainit_config *cfg, char **f) {
  char *slash = strchr(f[0], '/');
  unsigned prefix;
  if (!slash || slash == f[0] || parse_uint(slash + 1, 32, &prefix)) return -1;
  *slash = '\0';
  replace(&cfg->addr, f[0]);
  replace(&cfg->gateway, f[1]);
  replace(&cfg->dns, f[2]);
  cfg->prefix = prefix;
  cfg->has_net = 1;
  return 0;
}

/* Multi-field keys: how many fields and who applies them. */
static const struct {
  const char *key;
  int nfields;
  int (*apply)(struct ainit_config *, char **);
  const char *shape;
} field_keys[] = {
  {"user", 4, apply_user, "NAME,UID,GID,HOME"},
  {"group", 2, apply_group, "NAME,GID"},
  {"share", 3, apply_share, "TAG,MOUNTPOINT,ro|rw|shadow[:TAG]"},
  {"net", 3, apply_net, "ADDR/PREFIX,GATEWAY,DNS"},
};

static int apply_fields(struct ainit_config *cfg, const char *key, const char *v,
                        size_t len, char *err, size_t errlen) {
  for (size_t i = 0; i < sizeof field_keys / sizeof field_keys[0]; i++) {
    if (strcmp(key, field_keys[i].key) != 0) continue;
    char *f[4];
    int n = split_fields(v, len, f, field_keys[i].nfields);
    if (n == field_keys[i].nfields && field_keys[i].apply(cfg, f) == 0) return 0;
    for (int k = 0; k < n && n <= field_keys[i].nfields; k++) free(f[k]);
    snprintf(err, errlen, "arrow.%s: expected %s, got '%.*s'", key, field_keys[i].shape,
             (int)len, v);
    return -1;
  }
  return 1; /* not a multi-field key */
}

static int is_value_key(const char *key) {
  static const char *const keys[] = {"v", "hb", "time", "tty", "init", "dir", "host", "arg", "nenv", "wait", "mac"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(key, keys[i]) == 0) return 1;
  return 0;
}

/* Single-value keys (is_value_key). Returns 0 applied, -1 error. */
static int apply_value(struct ainit_config *cfg, const char *key, char *val) {
  unsigned n;
  if (strcmp(key, "v") == 0) {
    int ok = strcmp(val, "1") == 0;
    free(val);
    return ok ? 0 : -1;
  }
  if (strcmp(key, "hb") == 0) {
    int bad = parse_uint(val, 86400, &n);
    free(val);
    if (bad) return -1;
    cfg->hb = n;
    return 0;
  }
  if (strcmp(key, "wait") == 0) {
    int ok = strcmp(val, "1") == 0;
    free(val);
    cfg->wait = ok;
    return ok ? 0 : -1;
  }
  if (strcmp(key, "nenv") == 0) {
    int bad = parse_uint(val, 65536, &cfg->nenv_expected);
    free(val);
    return bad ? -1 : 0;
  }
  if (strcmp(key, "tty") == 0) {
    int known = strcmp(val, "tty") == 0 || strcmp(val, "pipe") == 0;
    cfg->tty_pipe = strcmp(val, "pipe") == 0;
    free(val);
    return known ? 0 : -1;
  }
  if (strcmp(key, "time") == 0) {
    int bad = parse_u64(val, &cfg->time_ms);
    free(val);
    return bad ? -1 : 0;
  }
  if (strcmp(key, "init") == 0) return replace(&cfg->init, val), val[0] ? 0 : -1;
  if (strcmp(key, "dir") == 0) return replace(&cfg->dir, val), val[0] == '/' ? 0 : -1;
  if (strcmp(key, "host") == 0) return replace(&cfg->host, val), val[0] ? 0 : -1;
  if (strcmp(key, "mac") == 0) {
    unsigned b[6];
    char tail;
    int ok = sscanf(val, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) == 6 &&
             strlen(val) == 17;
    for (int i = 0; ok && i < 6; i++) cfg->mac[i] = (unsigned char)b[i];
    cfg->has_mac = ok;
    free(val);
    return ok ? 0 : -1;
  }
  if (strcmp(key, "arg") == 0) return push(&cfg->args, &cfg->nargs, val) ? (free(val), -1) : 0;
  free(val);
  return -1;
}

int ainit_add_env(struct ainit_config *cfg, const unsigned char *p, size_t len, char *err,
                  size_t errlen) {
  const unsigned char *eq = memchr(p, '=', len);
  char *var = NULL;
  if (cfg->nenv >= cfg->nenv_expected) {
    snprintf(err, errlen, "Anotify SETENV: more environment variables than arrow.nenv=%u",
             cfg->nenv_expected);
    return -1;
  }
  if (!eq || eq == p || memchr(p, '\0', len)) { /* (its text not shown: it may be a secret) */
    snprintf(err, errlen, "Anotify SETENV: environment variable %zu of %u is not NAME=VALUE",
             cfg->nenv + 1, cfg->nenv_expected);
    return -1;
  }
  if (!(var = malloc(len + 1)) || push(&cfg->env, &cfg->nenv, var)) {
    free(var);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  memcpy(var, p, len);
  var[len] = '\0';
  return 0;
}

/* One arrow.KEY=VALUE token, tok[0..len) without the "arrow." prefix. */
static int apply_token(struct ainit_config *cfg, const char *tok, size_t len,
                       char *err, size_t errlen) {
  const char *eq = memchr(tok, '=', len);
  char key[16];
  size_t klen = eq ? (size_t)(eq - tok) : len;
  if (!eq || klen >= sizeof key) return 0; /* not one of ours: ignore */
  memcpy(key, tok, klen);
  key[klen] = '\0';
  const char *v = eq + 1;
  size_t vlen = len - klen - 1;
  int r = apply_fields(cfg, key, v, vlen, err, errlen);
  if (r <= 0) return r;
  if (!is_value_key(key)) return 0; /* a newer encoding's key: ignored unread */
  char *val = ainit_unescape(v, vlen);
  if (!val) {
    snprintf(err, errlen, "arrow.%s: malformed percent escape in '%.*s'", key, (int)vlen, v);
    return -1;
  }
  if (apply_value(cfg, key, val) < 0) {
    snprintf(err, errlen, "arrow.%s: invalid value '%.*s'", key, (int)vlen, v);
    return -1;
  }
  return 0;
}

static int set_defaults(struct ainit_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->hb = AINIT_DEFAULT_HB;
  cfg->dir = strdup("/");
  cfg->user = strdup("root");
  cfg->home = strdup("/root");
  cfg->addr = strdup("");
  cfg->gateway = strdup("");
  cfg->dns = strdup("");
  return cfg->dir && cfg->user && cfg->home && cfg->addr && cfg->gateway && cfg->dns ? 0 : -1;
}

int ainit_parse_cmdline(const char *cmdline, struct ainit_config *cfg, char *err,
                        size_t errlen) {
  if (set_defaults(cfg)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  const char *p = cmdline;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    const char *start = p;
    int quoted = 0; /* the kernel's own "..." quoting of other tokens */
    while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n'))) {
      if (*p == '"') quoted = !quoted;
      p++;
    }
    size_t len = (size_t)(p - start);
    if (len > 6 && memcmp(start, "arrow.", 6) == 0 &&
        apply_token(cfg, start + 6, len - 6, err, errlen))
      return -1;
  }
  if (!cfg->init && !cfg->wait) {
    snprintf(err, errlen, "arrow.init: missing from the kernel command line");
    return -1;
  }
  return 0;
}

void ainit_config_free(struct ainit_config *cfg) {
  for (size_t i = 0; i < cfg->nargs; i++) free(cfg->args[i]);
  for (size_t i = 0; i < cfg->nenv; i++) free(cfg->env[i]);
  for (size_t i = 0; i < cfg->nshares; i++) {
    free(cfg->shares[i].tag);
    free(cfg->shares[i].path);
    free(cfg->shares[i].upper_tag);
  }
  free(cfg->args);
  free(cfg->env);
  free(cfg->shares);
  free(cfg->init);
  free(cfg->dir);
  free(cfg->user);
  free(cfg->home);
  free(cfg->group);
  free(cfg->addr);
  free(cfg->gateway);
  free(cfg->dns);
  free(cfg->host);
  memset(cfg, 0, sizeof *cfg);
}
