/* Prints diagnostics in the form compilers share:
 *   file:line:col: error: message
 *      6 | source line
 *        |        ^~~~~
 * Bytes that are not printable ASCII or valid UTF-8 are shown as '?'. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

/* Prints the source line and the caret line under columns [col, end_col). */
static void show_line(diag *d, loc l)
{
    const char *end, *s = line_start(d, l.line, &end);
    if (!s)
        return;
    fprintf(d->out, "%5d | ", l.line);
    for (const char *p = s; p < end;) {
        unsigned char c = (unsigned char)*p;
        int n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
        if (c == '\t' || (c >= 0x20 && c < 0x7f) || (n > 1))
            fwrite(p, 1, (size_t)(n ? n : 1), d->out);
        else
            fputc(c == '\r' ? ' ' : '?', d->out);
        p += n ? n : 1;
    }
    fputs("\n      | ", d->out);
    int stop_col = l.end_line == l.line && l.end_col > l.col ? l.end_col
                 : (int)(end - s) + 1 > l.col ? (int)(end - s) + 1 : l.col + 1;
    const char *p = s;
    int col = 1;
    while (col < l.col && p < end) {
        int n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
        fputc(*p == '\t' ? '\t' : ' ', d->out);
        p += n ? n : 1;
        col += n ? n : 1;
    }
    fputc('^', d->out);
    for (col++, p += 1; col < stop_col; col++)
        fputc('~', d->out);
    fputc('\n', d->out);
}

static void report(diag *d, const char *kind, loc l, const char *fmt, va_list ap)
{
    if (l.line > 0)
        fprintf(d->out, "%s:%d:%d: %s: ", d->path, l.line, l.col, kind);
    else
        fprintf(d->out, "%s: %s: ", d->path ? d->path : "dlc", kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    if (l.line > 0 && d->text)
        show_line(d, l);
}

static int too_many(diag *d)
{
    int max = d->max_errors ? d->max_errors : 50;
    if (d->nerrors == max)
        fprintf(d->out, "%s: error: too many errors, stopping\n", d->path);
    return d->nerrors >= max;
}

void diag_error(diag *d, loc l, const char *fmt, ...)
{
    if (too_many(d)) {
        d->nerrors++;
        return;
    }
    d->nerrors++;
    va_list ap;
    va_start(ap, fmt);
    report(d, "error", l, fmt, ap);
    va_end(ap);
}

void diag_note(diag *d, loc l, const char *fmt, ...)
{
    int max = d->max_errors ? d->max_errors : 50;
    if (d->nerrors > max)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, "note", l, fmt, ap);
    va_end(ap);
}

void diag_fatal(diag *d, const char *fmt, ...)
{
    d->nerrors++;
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
