/* Small helpers shared by the example programs (examples/train.c,
 * examples/textgen.c, examples/seqtasks.c, ...): number parsing for the
 * command line, a monotonic clock, text for durations and tensor shapes,
 * a whole file read into memory.  Header-only (static inline, so a program
 * that uses some of them compiles warning-free), so each example still
 * builds from its own list of sources. */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlc_runtime.h"

/* A whole-string decimal integer in [lo, hi]: 0, or -1. */
static inline int parse_long(const char *s, long lo, long hi, long *v)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    *v = strtol(s, &end, 10);
    return errno || *end || *v < lo || *v > hi ? -1 : 0;
}

/* A whole-string finite decimal number in [lo, hi]: 0, or -1. */
static inline int parse_double(const char *s, double lo, double hi, double *v)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    *v = strtod(s, &end);
    return errno || *end || !(*v >= lo && *v <= hi) ? -1 : 0;
}

/* Seconds on a monotonic clock. */
static inline double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* "1:05" or "1:02:03" */
static inline const char *clock_str(double s, char *buf, size_t size)
{
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

/* "[64, 96]": a tensor's per-sample shape. */
static inline void shape_str(const dlc_tensor_desc *d, char *buf, size_t size)
{
    size_t len;
    int i;
    snprintf(buf, size, "[");
    for (i = 0; i < d->rank; i++) {
        len = strlen(buf);
        snprintf(buf + len, size - len, "%s%lld", i ? ", " : "", (long long)d->dims[i]);
    }
    len = strlen(buf);
    snprintf(buf + len, size - len, "]");
}

/* perm = a Fisher-Yates shuffle of 0 .. n-1 drawn from the runtime's PCG32
 * (seed, stream): one stream per epoch makes every epoch's order
 * reproducible on its own (examples/timeseries.c, autoencode.c). */
static inline void shuffle_indices(int *perm, int n, uint64_t seed, uint64_t stream)
{
    dlc_rng r;
    int i;
    dlc_rng_seed(&r, seed, stream);
    for (i = 0; i < n; i++)
        perm[i] = i;
    for (i = n - 1; i > 0; i--) {
        int j = (int)(dlc_rng_uniform(&r) * (i + 1)), tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

/* The index of the largest of v[0 .. n-1] (the first of equals). */
static inline int argmax_index(const dlc_float *v, int n)
{
    int i, best = 0;
    for (i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* A whole file (its first `limit` bytes when limit > 0) in a malloc'd
 * buffer, *len bytes: the buffer, or NULL with why (strerror text, "empty",
 * "out of memory") in err; *opened (may be NULL) says whether the file
 * opened, so callers can tell "cannot open" from "cannot read". */
static inline unsigned char *read_file_bytes(const char *path, long limit, long *len, char *err, size_t errsize,
                                             int *opened)
{
    long cap = 0, max = limit > 0 ? limit : 2000000000L;
    unsigned char *buf = NULL;
    FILE *f = fopen(path, "rb");

    *len = 0;
    if (opened)
        *opened = f != NULL;
    if (!f) {
        snprintf(err, errsize, "%s", strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t want, got;
        if (*len == cap) { /* full: twice the room, up to the limit */
            long bigger = cap ? (cap < max / 2 ? cap * 2 : max) : (max < 65536 ? max : 65536);
            unsigned char *p = bigger > cap ? realloc(buf, (size_t)bigger) : NULL;
            if (!p)
                break;
            buf = p;
            cap = bigger;
        }
        want = (size_t)(cap - *len);
        got = fread(buf + *len, 1, want, f);
        *len += (long)got;
        if (got < want)
            break;
    }
    if (ferror(f))
        snprintf(err, errsize, "%s", strerror(errno));
    else if (*len == cap && *len < max && fgetc(f) != EOF)
        snprintf(err, errsize, "out of memory");
    else if (*len == 0)
        snprintf(err, errsize, "empty");
    else {
        fclose(f);
        return buf;
    }
    fclose(f);
    free(buf);
    return NULL;
}

/* ",value" in a CSV row, or just "," where the value is NaN or infinite
 * (no value: the epoch had no validation, say). */
static inline void csv_num(FILE *f, double v, const char *fmt)
{
    fputc(',', f);
    if (isfinite(v))
        fprintf(f, fmt, v);
}

#endif
