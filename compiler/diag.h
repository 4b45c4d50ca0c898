/* Diagnostics: every error names file:line:col, shows the source line and a
 * caret under the span, and may be followed by notes pointing at related
 * places.  Errors are counted, not fatal: each stage reports all it finds. */
#ifndef DLC_DIAG_H
#define DLC_DIAG_H

#include <stdio.h>

/* A span in the source; lines and columns are 1-based, columns count bytes.
 * end_col is one past the last byte on end_line. line 0 means "no place". */
typedef struct loc {
    int line, col, end_line, end_col;
} loc;

typedef struct diag_deferred {
    loc l;
    char msg[160];
} diag_deferred;

typedef struct diag {
    const char *path;      /* as the user gave it */
    const char *text;      /* the whole source, NUL-terminated */
    size_t len;
    int nerrors;           /* all errors, shown or not */
    int nshown;
    int max_errors;        /* stop printing after this many (0 = 50) */
    FILE *out;             /* stderr unless a test says otherwise */
    /* Called after each error is printed, to add context with
     * diag_defer_note (lowering names the block calls it is inside). */
    void (*on_error)(void *ctx, struct diag *d);
    void *on_error_ctx;
    /* An error printed before at the same place with the same text (a block
     * expanded twice) is counted but not shown again, nor are its notes. */
    unsigned long long seen[64];
    int nseen;
    int quiet;
    diag_deferred deferred[8];
    int ndeferred;
} diag;

void diag_init(diag *d, const char *path, const char *text, size_t len);
void diag_error(diag *d, loc l, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void diag_note(diag *d, loc l, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A note printed after the current error's own notes (before the next
 * error, or at diag_flush). */
void diag_defer_note(diag *d, loc l, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void diag_flush(diag *d);
/* An error with no place in the source ("dlc: error: ..."). */
void diag_fatal(diag *d, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
loc loc_span(loc a, loc b);    /* from the start of a to the end of b */

/* A bug in dlc itself, reported with the compiler's own file and line. */
#define INTERNAL_ERROR(...) internal_error(__FILE__, __LINE__, __VA_ARGS__)
void internal_error(const char *file, int line, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4), noreturn))
#endif
    ;

#endif
