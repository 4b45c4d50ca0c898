/* Prints diagnostics in the form compilers share:
 *   file:line:col: error: message
 *      6 | source line
 *        |        ^~~~~
 * Bytes that are not printable ASCII or valid UTF-8 are shown as '?'; a
 * long line is shown as a window around the caret.  The same error at the
 * same place is shown once. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { LINE_MAX_SHOWN = 120, WINDOW_BEFORE = 40, WINDOW = 100 };

void diag_init(diag *d, const char *path, const char *text, size_t len)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    d->text = text;
    d->len = len;
    d->out = stderr;
}

loc loc_span(loc a, loc b)
{
    loc r = a;
    r.end_line = b.end_line;
    r.end_col = b.end_col;
    return r;
}

/* Length of the UTF-8 sequence at s (up to end), or 0 if it is invalid. */
static int utf8_len(const unsigned char *s, const unsigned char *end)
{
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
          : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || s + n > end)
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

static const char *line_start(const diag *d, int line, const char **end)
{
    const char *p = d->text, *stop = d->text + d->len;
    for (int l = 1; l < line && p < stop; p++)
        if (*p == '\n')
            l++;
    const char *e = p;
    while (e < stop && *e != '\n')
        e++;
    *end = e;
    return p;
}

/* Bytes [from, to) of a line as the terminal should see them. */
static void put_text(diag *d, const char *from, const char *to)
{
    for (const char *p = from; p < to;) {
        unsigned char c = (unsigned char)*p;
        int n = utf8_len((const unsigned char *)p, (const unsigned char *)to);
        if (c == '\t' || (c >= 0x20 && c < 0x7f) || n > 1)
            fwrite(p, 1, (size_t)(n ? n : 1), d->out);
        else
            fputc(c == '\r' ? ' ' : '?', d->out);
        p += n ? n : 1;
    }
}

/* Prints the source line and the caret line under bytes [col, end_col). */
static void show_line(diag *d, loc l)
{
    const char *end, *s = line_start(d, l.line, &end);
    size_t n = (size_t)(end - s);
    size_t c0 = (size_t)l.col - 1 < n ? (size_t)l.col - 1 : n;
    size_t c1 = l.end_line == l.line && l.end_col > l.col ? (size_t)l.end_col - 1
              : l.end_line > l.line ? n : c0 + 1;
    if (c1 > n)
        c1 = c0 < n ? n : c0 + 1;
    if (c1 <= c0)
        c1 = c0 + 1;
    size_t ws = 0, we = n;
    if (n > LINE_MAX_SHOWN) {
        ws = c0 > WINDOW_BEFORE ? c0 - WINDOW_BEFORE : 0;
        while (ws > 0 && ((unsigned char)s[ws] & 0xc0) == 0x80)
            ws--;
        we = ws + WINDOW < n ? ws + WINDOW : n;
        while (we < n && ((unsigned char)s[we] & 0xc0) == 0x80)
            we++;
    }
    fprintf(d->out, "%5d | %s", l.line, ws > 0 ? "..." : "");
    put_text(d, s + ws, s + we);
    fputs(we < n ? "...\n" : "\n", d->out);
    fprintf(d->out, "      | %s", ws > 0 ? "   " : "");
    const char *p = s + ws, *stop = s + we;
    while (p < s + c0 && p < stop) {
        int k = utf8_len((const unsigned char *)p, (const unsigned char *)end);
        fputc(*p == '\t' ? '\t' : ' ', d->out);
        p += k ? k : 1;
    }
    fputc('^', d->out);
    if (p < end) {
        int k = utf8_len((const unsigned char *)p, (const unsigned char *)end);
        p += k ? k : 1;
    }
    while (p < s + c1 && p < stop) {
        int k = utf8_len((const unsigned char *)p, (const unsigned char *)end);
        fputc('~', d->out);
        p += k ? k : 1;
    }
    fputc('\n', d->out);
}

static void report(diag *d, const char *kind, loc l, const char *msg)
{
    if (l.line > 0)
        fprintf(d->out, "%s:%d:%d: %s: %s\n", d->path, l.line, l.col, kind, msg);
    else
        fprintf(d->out, "%s: %s: %s\n", d->path ? d->path : "dlc", kind, msg);
    if (l.line > 0 && d->text)
        show_line(d, l);
}

void diag_flush(diag *d)
{
    for (int i = 0; i < d->ndeferred; i++)
        report(d, "note", d->deferred[i].l, d->deferred[i].msg);
    d->ndeferred = 0;
}

/* Only so many errors are shown; the rest are counted. */
static int too_many(diag *d)
{
    int max = d->max_errors ? d->max_errors : 50;
    if (d->nshown == max)
        fprintf(d->out, "%s: error: too many errors, stopping\n", d->path ? d->path : "dlc");
    return d->nshown++ >= max;
}

/* Has this error been shown before?  Remembers it if not. */
static int seen_before(diag *d, loc l, const char *msg)
{
    unsigned long long h = 1469598103934665603ull;
    for (const char *p = msg; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ (unsigned)l.line) * 1099511628211ull;
    h = (h ^ (unsigned)l.col) * 1099511628211ull;
    for (int i = 0; i < d->nseen; i++)
        if (d->seen[i] == h)
            return 1;
    if (d->nseen < 64)
        d->seen[d->nseen++] = h;
    return 0;
}

void diag_error(diag *d, loc l, const char *fmt, ...)
{
    diag_flush(d);
    d->nerrors++;
    d->quiet = 1;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (seen_before(d, l, msg) || too_many(d))
        return;
    d->quiet = 0;
    report(d, "error", l, msg);
    if (d->on_error)
        d->on_error(d->on_error_ctx, d);
}

void diag_note(diag *d, loc l, const char *fmt, ...)
{
    if (d->quiet)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(d, "note", l, msg);
}

void diag_defer_note(diag *d, loc l, const char *fmt, ...)
{
    if (d->quiet || d->ndeferred == (int)(sizeof d->deferred / sizeof d->deferred[0]))
        return;
    diag_deferred *n = &d->deferred[d->ndeferred++];
    n->l = l;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->msg, sizeof n->msg, fmt, ap);
    va_end(ap);
}

void diag_fatal(diag *d, const char *fmt, ...)
{
    diag_flush(d);
    d->nerrors++;
    d->quiet = 0;
    va_list ap;
    va_start(ap, fmt);
    fputs("dlc: error: ", d->out);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    va_end(ap);
}

void internal_error(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dlc: internal error at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}
