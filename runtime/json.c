/* Internal minimal JSON reader (see json.h).  Safetensors headers come from
 * untrusted files, so every path checks bounds against j->end and every
 * failure records why; the first error sticks and later calls keep failing. */
#include <string.h>

#include "json.h"

/* Deep enough for any real header (which nests three levels), shallow
 * enough that hostile input cannot exhaust the stack. */
#define DLC_JSON_MAX_DEPTH 64

static int dlc__json_fail(dlc__json *j, const char *why)
{
    if (j->why == NULL)
        j->why = why;
    return -1;
}

void dlc__json_init(dlc__json *j, const char *s, size_t n)
{
    j->p = s;
    j->end = s + n;
    j->why = NULL;
}

int dlc__json_peek(dlc__json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
                             *j->p == '\n' || *j->p == '\r'))
        j->p++;
    return j->p < j->end ? (unsigned char)*j->p : -1;
}

int dlc__json_expect(dlc__json *j, char c)
{
    if (j->why != NULL)
        return -1;
    if (dlc__json_peek(j) != (unsigned char)c)
        return dlc__json_fail(j, c == '"' ? "expected a string"
                                 : c == ':' ? "expected ':'"
                                 : c == '{' ? "expected an object"
                                 : c == '[' ? "expected an array"
                                            : "unexpected character");
    j->p++;
    return 0;
}

int dlc__json_next(dlc__json *j, char close)
{
    int c;

    if (j->why != NULL)
        return -1;
    c = dlc__json_peek(j);
    if (c == ',' || c == (unsigned char)close) {
        j->p++;
        return c == ',';
    }
    return dlc__json_fail(j, close == '}' ? "expected ',' or '}'"
                                          : "expected ',' or ']'");
}

/* Appends one byte to a string being decoded; out == NULL only counts. */
static int dlc__json_put(dlc__json *j, char *out, size_t cap, size_t *len,
                         unsigned c)
{
    if (out != NULL) {
        if (*len + 1 >= cap)
            return dlc__json_fail(j, "string too long");
        out[*len] = (char)c;
    }
    (*len)++;
    return 0;
}

static int dlc__json_put_utf8(dlc__json *j, char *out, size_t cap,
                              size_t *len, unsigned long cp)
{
    if (cp == 0)
        return dlc__json_fail(j, "NUL character in string");
    if (cp < 0x80)
        return dlc__json_put(j, out, cap, len, (unsigned)cp);
    if (cp < 0x800)
        return dlc__json_put(j, out, cap, len, 0xC0 | (unsigned)(cp >> 6)) ||
               dlc__json_put(j, out, cap, len, 0x80 | (unsigned)(cp & 0x3F));
    if (cp < 0x10000)
        return dlc__json_put(j, out, cap, len, 0xE0 | (unsigned)(cp >> 12)) ||
               dlc__json_put(j, out, cap, len,
                             0x80 | (unsigned)((cp >> 6) & 0x3F)) ||
               dlc__json_put(j, out, cap, len, 0x80 | (unsigned)(cp & 0x3F));
    return dlc__json_put(j, out, cap, len, 0xF0 | (unsigned)(cp >> 18)) ||
           dlc__json_put(j, out, cap, len,
                         0x80 | (unsigned)((cp >> 12) & 0x3F)) ||
           dlc__json_put(j, out, cap, len,
                         0x80 | (unsigned)((cp >> 6) & 0x3F)) ||
           dlc__json_put(j, out, cap, len, 0x80 | (unsigned)(cp & 0x3F));
}

static int dlc__json_hex4(dlc__json *j, unsigned long *v)
{
    int i;

    *v = 0;
    if (j->end - j->p < 4)
        return dlc__json_fail(j, "truncated \\u escape");
    for (i = 0; i < 4; i++) {
        int c = (unsigned char)*j->p++, d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return dlc__json_fail(j, "bad hex digit in \\u escape");
        *v = *v * 16 + (unsigned long)d;
    }
    return 0;
}

/* \uXXXX, possibly the high half of a surrogate pair; j->p is past 'u'. */
static int dlc__json_unicode(dlc__json *j, unsigned long *cp)
{
    unsigned long lo;

    if (dlc__json_hex4(j, cp))
        return -1;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return dlc__json_fail(j, "lone low surrogate in \\u escape");
    if (*cp < 0xD800 || *cp > 0xDBFF)
        return 0;
    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
        return dlc__json_fail(j, "lone high surrogate in \\u escape");
    j->p += 2;
    if (dlc__json_hex4(j, &lo))
        return -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return dlc__json_fail(j, "bad surrogate pair in \\u escape");
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return 0;
}

/* One escape sequence; j->p is past the backslash. */
static int dlc__json_escape(dlc__json *j, char *out, size_t cap, size_t *len)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    unsigned long cp;

    if (j->p >= j->end)
        return dlc__json_fail(j, "unterminated string");
    if (*j->p == 'u') {
        j->p++;
        return dlc__json_unicode(j, &cp) ||
               dlc__json_put_utf8(j, out, cap, len, cp);
    }
    hit = *j->p != '\0' ? strchr(from, *j->p) : NULL;
    if (hit == NULL)
        return dlc__json_fail(j, "bad escape in string");
    j->p++;
    return dlc__json_put(j, out, cap, len, (unsigned char)to[hit - from]);
}

/* Length of the UTF-8 sequence starting at p (lead byte c), 0 if invalid:
 * rejects overlong forms, surrogates and code points above U+10FFFF. */
static int dlc__json_utf8_len(const unsigned char *p, const unsigned char *end)
{
    int n, i;
    unsigned long cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2, cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3, cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (end - p < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

static int dlc__json_string_at(dlc__json *j, char *out, size_t cap)
{
    size_t len = 0;

    if (dlc__json_expect(j, '"'))
        return -1;
    for (;;) {
        const unsigned char *u = (const unsigned char *)j->p;
        int n, i;
        if (j->p >= j->end)
            return dlc__json_fail(j, "unterminated string");
        if (*u == '"')
            break;
        if (*u < 0x20)
            return dlc__json_fail(j, "control character in string");
        if (*u == '\\') {
            j->p++;
            if (dlc__json_escape(j, out, cap, &len))
                return -1;
            continue;
        }
        n = dlc__json_utf8_len(u, (const unsigned char *)j->end);
        if (n == 0)
            return dlc__json_fail(j, "invalid UTF-8 in string");
        for (i = 0; i < n; i++)
            if (dlc__json_put(j, out, cap, &len, u[i]))
                return -1;
        j->p += n;
    }
    j->p++;
    if (out != NULL)
        out[len] = '\0';
    return 0;
}

int dlc__json_string(dlc__json *j, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return dlc__json_fail(j, "string too long");
    return dlc__json_string_at(j, out, cap);
}

/* Consumes a run of digits; returns how many. */
static int dlc__json_digits(dlc__json *j)
{
    int n = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++, n++;
    return n;
}

static int dlc__json_number(dlc__json *j)
{
    const char *start;

    if (j->p < j->end && *j->p == '-')
        j->p++;
    start = j->p;
    if (dlc__json_digits(j) == 0 || (*start == '0' && j->p - start > 1))
        return dlc__json_fail(j, "bad number");
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (dlc__json_digits(j) == 0)
            return dlc__json_fail(j, "bad number");
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (dlc__json_digits(j) == 0)
            return dlc__json_fail(j, "bad number");
    }
    return 0;
}

int dlc__json_u64(dlc__json *j, uint64_t *v)
{
    const char *start;

    *v = 0;
    if (j->why != NULL)
        return -1;
    (void)dlc__json_peek(j);
    start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p - '0');
        if (*v > (UINT64_MAX - d) / 10)
            return dlc__json_fail(j, "integer too large");
        *v = *v * 10 + d;
        j->p++;
    }
    if (j->p == start || (*start == '0' && j->p - start > 1))
        return dlc__json_fail(j, "expected a non-negative integer");
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return dlc__json_fail(j, "expected an integer");
    return 0;
}

static int dlc__json_literal(dlc__json *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return dlc__json_fail(j, "unexpected character");
    j->p += n;
    return 0;
}

static int dlc__json_skip_at(dlc__json *j, int depth);

/* Object or array body after the opening bracket. */
static int dlc__json_skip_members(dlc__json *j, char close, int depth)
{
    int more;

    if (dlc__json_peek(j) == (unsigned char)close) {
        j->p++;
        return 0;
    }
    do {
        if (close == '}' && (dlc__json_string_at(j, NULL, 0) ||
                             dlc__json_expect(j, ':')))
            return -1;
        if (dlc__json_skip_at(j, depth + 1))
            return -1;
        more = dlc__json_next(j, close);
    } while (more == 1);
    return more;
}

static int dlc__json_skip_at(dlc__json *j, int depth)
{
    int c = dlc__json_peek(j);

    if (j->why != NULL)
        return -1;
    if (depth > DLC_JSON_MAX_DEPTH)
        return dlc__json_fail(j, "nesting too deep");
    if (c == '{' || c == '[') {
        j->p++;
        return dlc__json_skip_members(j, c == '{' ? '}' : ']', depth);
    }
    if (c == '"')
        return dlc__json_string_at(j, NULL, 0);
    if (c == '-' || (c >= '0' && c <= '9'))
        return dlc__json_number(j);
    if (c == 't')
        return dlc__json_literal(j, "true");
    if (c == 'f')
        return dlc__json_literal(j, "false");
    if (c == 'n')
        return dlc__json_literal(j, "null");
    return dlc__json_fail(j, c < 0 ? "unexpected end of header"
                                   : "unexpected character");
}

int dlc__json_skip(dlc__json *j)
{
    return dlc__json_skip_at(j, 0);
}

int dlc__json_end(dlc__json *j)
{
    if (j->why != NULL)
        return -1;
    if (dlc__json_peek(j) >= 0)
        return dlc__json_fail(j, "trailing characters after the header");
    return 0;
}
