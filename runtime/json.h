/* Internal: a minimal pull-style JSON reader for safetensors headers.  It
 * walks a byte buffer with a cursor, never allocates, and validates as it
 * goes (strict RFC 8259 syntax, UTF-8 checked, nesting depth bounded).  Not
 * part of the public runtime API. */
#ifndef DLC_JSON_H
#define DLC_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct dlc__json {
    const char *p;    /* next unread byte */
    const char *end;  /* one past the last byte */
    const char *why;  /* first syntax error, NULL while none */
} dlc__json;

void dlc__json_init(dlc__json *j, const char *s, size_t n);

/* Skips whitespace and returns the next byte without consuming it, or -1 at
 * the end of the buffer. */
int dlc__json_peek(dlc__json *j);

/* Skips whitespace and consumes `c`; returns 0, or -1 with j->why set. */
int dlc__json_expect(dlc__json *j, char c);

/* After a member or element: consumes ',' and returns 1 when another one
 * follows, consumes `close` and returns 0 at the end, -1 on error. */
int dlc__json_next(dlc__json *j, char close);

/* Reads a string into out (NUL-terminated, UTF-8, escapes decoded).  Fails
 * when it does not fit in cap bytes or holds a NUL character. */
int dlc__json_string(dlc__json *j, char *out, size_t cap);

/* Reads a non-negative integer literal (no sign, fraction or exponent) that
 * fits in 64 bits. */
int dlc__json_u64(dlc__json *j, uint64_t *v);

/* Skips any value, checking its syntax. */
int dlc__json_skip(dlc__json *j);

/* Returns 0 when only whitespace is left. */
int dlc__json_end(dlc__json *j);

#endif
