/* ainit: the smallest JSON reader and writer the guest agent needs
 * (ainit_agent.c). The reader works in place on one NUL-terminated message:
 * it finds a member of an object, steps through an array, and decodes a
 * string or an integer; nothing is allocated and any malformed input makes
 * a call fail, never read past the NUL. The writer appends to a bounded
 * buffer. Pure: no system calls, so it is tested on the host. */
#ifndef ARROW_AINIT_JSON_H
#define ARROW_AINIT_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Skips whitespace and one value starting at p; returns the first byte after
 * it, or NULL when it is malformed or nests deeper than 32. */
const char *json_skip(const char *p);
/* The value of member KEY of the object at p (after whitespace), or NULL. */
const char *json_member(const char *obj, const char *key);
/* Element i of the array at p, or NULL. */
const char *json_element(const char *arr, size_t i);
/* Decodes the string at p into out (NUL-terminated, at most len-1 bytes;
 * \uXXXX as UTF-8, but never NUL). 0, or -1 when it is no string or is
 * longer than that. */
int json_string(const char *p, char *out, size_t len);
/* The integer at p; 0, or -1 when it is none or out of int64_t's range. */
int json_int(const char *p, int64_t *out);
/* The boolean at p: 1, 0, or -1 when it is none. */
int json_bool(const char *p);
/* Where the complete JSON object starting at the first '{' of buf[0..len)
 * ends (one past its '}'); 0 when it is not complete yet; -1 when buf holds
 * something that is no object. */
long json_object_end(const char *buf, size_t len);

/* A bounded output buffer: once full, further appends are dropped and
 * overflow is set (the caller then sends an error instead). */
struct json_out {
  char *buf;
  size_t len, cap;
  int overflow;
};
void json_raw(struct json_out *o, const char *s);
void json_str(struct json_out *o, const char *s);         /* a quoted, escaped string */
void json_strn(struct json_out *o, const char *s, size_t n);
void json_num(struct json_out *o, int64_t v);
void json_base64(struct json_out *o, const unsigned char *p, size_t n); /* a quoted base64 string */
/* Decodes base64 s into out (at most cap bytes); the length, or -1. */
long base64_decode(const char *s, unsigned char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
