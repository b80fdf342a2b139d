/* ainit: the guest agent's minimal JSON reader and writer (see ainit_json.h). */
#include "kernel/ainit_json.h"

#include <string.h>

#define MAX_DEPTH 32

static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

static const char *skip_string(const char *p) {
  if (*p != '"') return NULL;
  for (p++; *p && *p != '"'; p++) {
    if ((unsigned char)*p < 0x20) return NULL;
    if (*p == '\\' && !*++p) return NULL;
  }
  return *p == '"' ? p + 1 : NULL;
}

static const char *skip_depth(const char *p, int depth) {
  p = ws(p);
  if (depth > MAX_DEPTH) return NULL;
  if (*p == '"') return skip_string(p);
  if (*p == '{' || *p == '[') {
    const char close = *p == '{' ? '}' : ']';
    p = ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = skip_string(ws(p));
        if (!p || *(p = ws(p)) != ':') return NULL;
        p++;
      }
      p = skip_depth(p, depth + 1);
      if (!p) return NULL;
      p = ws(p);
      if (*p == close) return p + 1;
      if (*p != ',') return NULL;
      p++;
    }
  }
  if (!strncmp(p, "true", 4)) return p + 4;
  if (!strncmp(p, "false", 5)) return p + 5;
  if (!strncmp(p, "null", 4)) return p + 4;
  const char *start = p;
  if (*p == '-') p++;
  while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-') p++;
  return p > start ? p : NULL;
}

const char *json_skip(const char *p) { return skip_depth(p, 0); }

const char *json_member(const char *obj, const char *key) {
  const char *p = ws(obj);
  if (*p != '{') return NULL;
  p = ws(p + 1);
  if (*p == '}') return NULL;
  for (;;) {
    char name[64];
    int match = json_string(p, name, sizeof name) == 0 && strcmp(name, key) == 0;
    p = skip_string(ws(p));
    if (!p || *(p = ws(p)) != ':') return NULL;
    p = ws(p + 1);
    if (match) return p;
    p = json_skip(p);
    if (!p) return NULL;
    p = ws(p);
    if (*p != ',') return NULL;
    p = ws(p + 1);
  }
}

const char *json_element(const char *arr, size_t i) {
  const char *p = ws(arr);
  if (*p != '[') return NULL;
  p = ws(p + 1);
  if (*p == ']') return NULL;
  for (size_t k = 0;; k++) {
    if (k == i) return p;
    p = json_skip(p);
    if (!p) return NULL;
    p = ws(p);
    if (*p != ',') return NULL;
    p = ws(p + 1);
  }
}

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int json_string(const char *p, char *out, size_t len) {
  size_t n = 0;
  p = ws(p);
  if (*p != '"' || len == 0) return -1;
  for (p++; *p != '"'; p++) {
    unsigned c = (unsigned char)*p;
    if (c < 0x20) return -1;
    if (c == '\\') {
      p++;
      switch (*p) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case '"': case '\\': case '/': c = (unsigned char)*p; break;
      case 'u': {
        int h[4];
        for (int i = 0; i < 4; i++)
          if ((h[i] = hex(p[1 + i])) < 0) return -1;
        c = (unsigned)(h[0] << 12 | h[1] << 8 | h[2] << 4 | h[3]);
        p += 4;
        if (c == 0) return -1;
        if (c >= 0x80) { /* as UTF-8 (surrogates are kept as they are) */
          unsigned char u[3];
          size_t k = c < 0x800 ? 2 : 3;
          if (k == 2) u[0] = (unsigned char)(0xC0 | c >> 6), u[1] = (unsigned char)(0x80 | (c & 0x3F));
          else u[0] = (unsigned char)(0xE0 | c >> 12), u[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F)),
               u[2] = (unsigned char)(0x80 | (c & 0x3F));
          if (n + k >= len) return -1;
          memcpy(out + n, u, k);
          n += k;
          continue;
        }
        break;
      }
      default: return -1;
      }
    }
    if (n + 1 >= len) return -1;
    out[n++] = (char)c;
  }
  out[n] = '\0';
  return 0;
}

int json_int(const char *p, int64_t *out) {
  p = ws(p);
  int neg = *p == '-';
  uint64_t v = 0;
  if (neg) p++;
  if (*p < '0' || *p > '9') return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (v > (UINT64_C(9223372036854775807) - (uint64_t)(*p - '0')) / 10) return -1;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (*p == '.' || *p == 'e' || *p == 'E') return -1;
  *out = neg ? -(int64_t)v : (int64_t)v;
  return 0;
}

int json_bool(const char *p) {
  p = ws(p);
  if (!strncmp(p, "true", 4)) return 1;
  if (!strncmp(p, "false", 5)) return 0;
  return -1;
}

long json_object_end(const char *buf, size_t len) {
  size_t i = 0;
  int depth = 0, in_string = 0;
  while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) i++;
  if (i < len && buf[i] != '{') return -1;
  for (; i < len; i++) {
    char c = buf[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = 0;
    } else if (c == '"') {
      in_string = 1;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_DEPTH) return -1;
    } else if (c == '}' || c == ']') {
      if (--depth < 0) return -1;
      if (depth == 0) return (long)(i + 1);
    } else if (c == '\0') {
      return -1;
    }
  }
  return 0;
}

void json_raw(struct json_out *o, const char *s) {
  size_t n = strlen(s);
  if (o->overflow || o->len + n >= o->cap) {
    o->overflow = 1;
    return;
  }
  memcpy(o->buf + o->len, s, n + 1);
  o->len += n;
}

void json_strn(struct json_out *o, const char *s, size_t n) {
  static const char hexd[] = "0123456789abcdef";
  if (!s) return;
  char esc[8];
  json_raw(o, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c, esc[2] = 0;
    } else if (c < 0x20 || c == 0x7f) {
      memcpy(esc, "\\u00", 4), esc[4] = hexd[c >> 4], esc[5] = hexd[c & 15], esc[6] = 0;
    } else {
      esc[0] = (char)c, esc[1] = 0;
    }
    json_raw(o, esc);
  }
  json_raw(o, "\"");
}

void json_str(struct json_out *o, const char *s) { json_strn(o, s, strlen(s)); }

void json_num(struct json_out *o, int64_t v) {
  char buf[24], *e = buf + sizeof buf;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  *--e = 0;
  do *--e = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  if (v < 0) *--e = '-';
  json_raw(o, e);
}

static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void json_base64(struct json_out *o, const unsigned char *p, size_t n) {
  char q[5];
  json_raw(o, "\"");
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    q[0] = kB64[v >> 18], q[1] = kB64[(v >> 12) & 63];
    q[2] = i + 1 < n ? kB64[(v >> 6) & 63] : '=';
    q[3] = i + 2 < n ? kB64[v & 63] : '=';
    q[4] = 0;
    json_raw(o, q);
  }
  json_raw(o, "\"");
}

long base64_decode(const char *s, unsigned char *out, size_t cap) {
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (; *s && *s != '='; s++) {
    const char *k = strchr(kB64, *s);
    if (!k || !*s) return -1;
    acc = acc << 6 | (uint32_t)(k - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n >= cap) return -1;
      out[n++] = (unsigned char)(acc >> bits);
    }
  }
  return (long)n;
}
