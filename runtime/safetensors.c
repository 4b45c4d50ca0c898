/* Safetensors reading: a file is an 8-byte little-endian header length N, N
 * bytes of JSON describing each tensor (dtype, shape, byte offsets into the
 * data region), then the data region.  Files are untrusted, so the whole
 * header is validated (framing, syntax, dtypes, sizes, offsets, duplicates,
 * overlaps) before anyone looks at the data; every failure names the file
 * and the tensor in err->msg. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#endif

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlc_runtime.h"
#include "json.h"
#include "safetensors_internal.h"

static const struct dlc_st_dtype {
    const char *name;
    int size;
} dlc_st_dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
    {"I16", 2}, {"I8", 1},  {"U64", 8}, {"U32", 4},  {"U16", 2}, {"U8", 1},
    {"BOOL", 1},
};

static int dlc_st_dtype_size(const char *name)
{
    size_t i;
    for (i = 0; i < sizeof dlc_st_dtypes / sizeof dlc_st_dtypes[0]; i++)
        if (strcmp(dlc_st_dtypes[i].name, name) == 0)
            return dlc_st_dtypes[i].size;
    return 0;
}

/* ---- errors ----------------------------------------------------------- */

/* Sets err->msg (when err is given) and returns code, so that failure paths
 * read `return dlc__st_fail(err, CODE, ...)`. */
int dlc__st_fail(dlc_errinfo *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL) {
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- little-endian decoding -------------------------------------------- */

uint64_t dlc__st_le(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;
    while (nbytes-- > 0)
        v = (v << 8) | p[nbytes];
    return v;
}

double dlc__st_f32_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double dlc_st_f16(unsigned h)
{
    unsigned e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double v;

    if (e == 0)
        v = (double)m / 16777216.0; /* subnormal: m * 2^-24 */
    else if (e == 31)
        v = m ? dlc__st_f32_bits(0x7FC00000u) : dlc__st_f32_bits(0x7F800000u);
    else
        v = (double)(m | 0x400) * ldexp(1.0, (int)e - 25);
    return (h & 0x8000) ? -v : v;
}

static double dlc_st_elem(const char *dtype, const unsigned char *p)
{
    uint64_t u;
    double d;

    switch (dtype[0]) {
    case 'F':
        if (dtype[1] == '6') {
            u = dlc__st_le(p, 8);
            memcpy(&d, &u, sizeof d);
            return d;
        }
        if (dtype[1] == '3')
            return dlc__st_f32_bits((uint32_t)dlc__st_le(p, 4));
        return dlc_st_f16((unsigned)dlc__st_le(p, 2));
    case 'B':
        if (dtype[1] == 'F')
            return dlc__st_f32_bits((uint32_t)dlc__st_le(p, 2) << 16);
        return p[0] != 0;
    case 'I':
        u = dlc__st_le(p, dlc_st_dtype_size(dtype));
        if (dtype[1] == '8')
            return (double)(int8_t)(uint8_t)u;
        if (dtype[1] == '1')
            return (double)(int16_t)(uint16_t)u;
        if (dtype[1] == '3')
            return (double)(int32_t)(uint32_t)u;
        return (double)(int64_t)u;
    default: /* U8 .. U64 */
        return (double)dlc__st_le(p, dlc_st_dtype_size(dtype));
    }
}

void dlc_st_to_f64(const dlc_st_tensor *t, double *out)
{
    int size = dlc_st_dtype_size(t->dtype);
    size_t i;

    for (i = 0; i < t->count; i++)
        out[i] = dlc_st_elem(t->dtype, t->data + i * (size_t)size);
}

/* ---- reading the file ---------------------------------------------------- */

/* Reads all of f into a malloc'd buffer.  A regular file's size is only a
 * hint for the first allocation; the loop reads to EOF either way, so
 * files that change size or are not regular still give a correct answer or
 * a read error (a directory fails with EISDIR here). */
static int dlc_st_slurp(FILE *f, const char *path, unsigned char **out,
                        size_t *size, dlc_errinfo *err)
{
    struct stat st;
    size_t cap = 65536, len = 0, got;
    unsigned char *buf, *grown;

    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uintmax_t)st.st_size < (uintmax_t)(SIZE_MAX - 1))
        cap = (size_t)st.st_size + 1;
    if ((buf = malloc(cap)) == NULL)
        return dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory reading",
                           path);
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len < cap)
            continue;
        if (cap > SIZE_MAX / 2 || (grown = realloc(buf, cap * 2)) == NULL) {
            free(buf);
            return dlc__st_fail(err, DLC_ERR_NOMEM,
                               "%s: out of memory reading", path);
        }
        buf = grown;
        cap *= 2;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        return dlc__st_fail(err, DLC_ERR_READ, "%s: read failed: %s", path,
                           strerror(e));
    }
    *out = buf;
    *size = len;
    return DLC_OK;
}

static int dlc_st_read_file(const char *path, unsigned char **buf,
                            size_t *size, dlc_errinfo *err)
{
    FILE *f = fopen(path, "rb");
    int rc;

    if (f == NULL)
        return dlc__st_fail(err, DLC_ERR_OPEN, "%s: cannot open: %s", path,
                           strerror(errno));
    rc = dlc_st_slurp(f, path, buf, size, err);
    fclose(f);
    return rc;
}

/* ---- parsing the header ------------------------------------------------- */

static int dlc_st_json_fail(dlc__json *j, const dlc__st_parsed *ps,
                            const char *path, const char *name,
                            dlc_errinfo *err)
{
    long at = (long)(j->p - (const char *)ps->buf);
    if (name != NULL)
        return dlc__st_fail(err, DLC_ERR_FORMAT,
                           "%s: tensor \"%s\": bad header at byte %ld: %s",
                           path, name, at, j->why);
    return dlc__st_fail(err, DLC_ERR_FORMAT, "%s: bad header at byte %ld: %s",
                       path, at, j->why);
}

/* "shape": [d0, d1, ...] with at most 8 dims, each fitting in int64. */
static int dlc_st_parse_shape(dlc__json *j, dlc_st_tensor *t)
{
    uint64_t v;
    int more;

    t->rank = 0;
    if (dlc__json_expect(j, '['))
        return -1;
    if (dlc__json_peek(j) == ']') {
        j->p++;
        return 0;
    }
    do {
        if (dlc__json_u64(j, &v))
            return -1;
        if (t->rank == 8 || v > (uint64_t)INT64_MAX) {
            j->why = t->rank == 8 ? "more than 8 dimensions"
                                  : "dimension too large";
            return -1;
        }
        t->dims[t->rank++] = (int64_t)v;
        more = dlc__json_next(j, ']');
    } while (more == 1);
    return more;
}

static int dlc_st_parse_offsets(dlc__json *j, dlc__st_entry *e)
{
    if (dlc__json_expect(j, '[') || dlc__json_u64(j, &e->begin) ||
        dlc__json_next(j, ']') != 1 || dlc__json_u64(j, &e->end))
        return -1;
    if (dlc__json_next(j, ']') != 0) {
        j->why = "data_offsets must hold exactly two integers";
        return -1;
    }
    return 0;
}

/* One field of a tensor's object; `seen` has a bit per known field so that
 * a repeated or missing field is an error. */
static int dlc_st_parse_field(dlc__json *j, dlc__st_entry *e, unsigned *seen)
{
    char key[32];
    unsigned bit;

    if (dlc__json_string(j, key, sizeof key) || dlc__json_expect(j, ':'))
        return -1;
    bit = strcmp(key, "dtype") == 0 ? 1u
        : strcmp(key, "shape") == 0 ? 2u
        : strcmp(key, "data_offsets") == 0 ? 4u : 0u;
    if (bit == 0 || (*seen & bit)) {
        j->why = bit ? "field given twice" : "unknown field";
        return -1;
    }
    *seen |= bit;
    if (bit == 1)
        return dlc__json_string(j, e->t.dtype, sizeof e->t.dtype);
    if (bit == 2)
        return dlc_st_parse_shape(j, &e->t);
    return dlc_st_parse_offsets(j, e);
}

static int dlc_st_parse_fields(dlc__json *j, dlc__st_entry *e)
{
    unsigned seen = 0;
    int more;

    if (dlc__json_expect(j, '{'))
        return -1;
    if (dlc__json_peek(j) != '}') {
        do {
            if (dlc_st_parse_field(j, e, &seen))
                return -1;
            more = dlc__json_next(j, '}');
        } while (more == 1);
        if (more < 0)
            return -1;
    } else {
        j->p++;
    }
    if (seen != 7u) {
        j->why = "dtype, shape and data_offsets are all required";
        return -1;
    }
    return 0;
}

/* Checks what the JSON syntax cannot: a known dtype, a count that does not
 * overflow, and a byte range that matches the shape. */
static int dlc_st_check_entry(dlc__st_entry *e, const char *path,
                              uint64_t data_size, dlc_errinfo *err)
{
    int size = dlc_st_dtype_size(e->t.dtype), i;
    uint64_t count = 1;

    if (size == 0)
        return dlc__st_fail(err, DLC_ERR_DTYPE,
                           "%s: tensor \"%s\": unknown dtype \"%s\"", path,
                           e->t.name, e->t.dtype);
    for (i = 0; i < e->t.rank; i++) {
        uint64_t d = (uint64_t)e->t.dims[i];
        if (d != 0 && count > (uint64_t)SIZE_MAX / (uint64_t)size / d)
            return dlc__st_fail(err, DLC_ERR_FORMAT,
                               "%s: tensor \"%s\": shape too large", path,
                               e->t.name);
        count *= d;
    }
    e->t.count = (size_t)count;
    if (e->end < e->begin || e->end > data_size)
        return dlc__st_fail(err, DLC_ERR_OFFSETS,
                           "%s: tensor \"%s\": data_offsets [%llu,%llu] "
                           "outside the data region of %llu bytes", path,
                           e->t.name, (unsigned long long)e->begin,
                           (unsigned long long)e->end,
                           (unsigned long long)data_size);
    if (e->end - e->begin != count * (uint64_t)size)
        return dlc__st_fail(err, DLC_ERR_FORMAT,
                           "%s: tensor \"%s\": data_offsets span %llu bytes, "
                           "shape and dtype %s need %llu", path, e->t.name,
                           (unsigned long long)(e->end - e->begin),
                           e->t.dtype,
                           (unsigned long long)(count * (uint64_t)size));
    return DLC_OK;
}

/* "__metadata__": an object of string values; dlc keeps none of it. */
static int dlc_st_parse_metadata(dlc__json *j)
{
    int more;

    if (dlc__json_expect(j, '{'))
        return -1;
    if (dlc__json_peek(j) == '}') {
        j->p++;
        return 0;
    }
    do {
        if (dlc__json_peek(j) != '"' || dlc__json_skip(j) ||
            dlc__json_expect(j, ':'))
            return -1;
        if (dlc__json_peek(j) != '"') {
            j->why = "__metadata__ values must be strings";
            return -1;
        }
        if (dlc__json_skip(j))
            return -1;
        more = dlc__json_next(j, '}');
    } while (more == 1);
    return more;
}

static dlc__st_entry *dlc_st_new_entry(dlc__st_parsed *ps)
{
    dlc__st_entry *grown;

    if (ps->n == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 16;
        grown = realloc(ps->ents, (size_t)cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        ps->ents = grown;
        ps->cap = cap;
    }
    memset(&ps->ents[ps->n], 0, sizeof ps->ents[0]);
    return &ps->ents[ps->n++];
}

/* One top-level member: "__metadata__" or a tensor. */
static int dlc_st_parse_member(dlc__json *j, dlc__st_parsed *ps,
                               const char *path, int *meta_seen,
                               dlc_errinfo *err)
{
    char name[sizeof ps->ents[0].t.name];
    dlc__st_entry *e;

    if (dlc__json_string(j, name, sizeof name) || dlc__json_expect(j, ':'))
        return dlc_st_json_fail(j, ps, path, NULL, err);
    if (strcmp(name, "__metadata__") == 0) {
        if (*meta_seen)
            j->why = "__metadata__ given twice";
        *meta_seen = 1;
        if (j->why != NULL || dlc_st_parse_metadata(j))
            return dlc_st_json_fail(j, ps, path, NULL, err);
        return DLC_OK;
    }
    if ((e = dlc_st_new_entry(ps)) == NULL)
        return dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory", path);
    strcpy(e->t.name, name); /* fits: both are sizeof t.name */
    if (dlc_st_parse_fields(j, e))
        return dlc_st_json_fail(j, ps, path, name, err);
    return dlc_st_check_entry(e, path, ps->data_size, err);
}

static int dlc_st_parse_json(dlc__st_parsed *ps, const char *path,
                             uint64_t hlen, dlc_errinfo *err)
{
    dlc__json j;
    int meta_seen = 0, more, rc;

    dlc__json_init(&j, (const char *)ps->buf + 8, (size_t)hlen);
    if (dlc__json_expect(&j, '{'))
        return dlc_st_json_fail(&j, ps, path, NULL, err);
    if (dlc__json_peek(&j) == '}') {
        j.p++;
    } else {
        do {
            rc = dlc_st_parse_member(&j, ps, path, &meta_seen, err);
            if (rc != DLC_OK)
                return rc;
            more = dlc__json_next(&j, '}');
        } while (more == 1);
    }
    if (dlc__json_end(&j))
        return dlc_st_json_fail(&j, ps, path, NULL, err);
    return DLC_OK;
}

static int dlc_st_cmp_name(const void *a, const void *b)
{
    const dlc__st_entry *x = *(dlc__st_entry *const *)a;
    const dlc__st_entry *y = *(dlc__st_entry *const *)b;
    return strcmp(x->t.name, y->t.name);
}

static int dlc_st_cmp_begin(const void *a, const void *b)
{
    const dlc__st_entry *x = *(dlc__st_entry *const *)a;
    const dlc__st_entry *y = *(dlc__st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int dlc_st_cmp_key(const void *key, const void *elem)
{
    return strcmp((const char *)key, (*(dlc__st_entry *const *)elem)->t.name);
}

/* Sorting makes both checks O(n log n): a hostile header may list a
 * million tensors. */
static int dlc_st_check_duplicates(dlc__st_parsed *ps, const char *path,
                                   dlc_errinfo *err)
{
    int i;

    for (i = 0; i < ps->n; i++)
        ps->byname[i] = &ps->ents[i];
    qsort(ps->byname, (size_t)ps->n, sizeof *ps->byname, dlc_st_cmp_name);
    for (i = 1; i < ps->n; i++)
        if (strcmp(ps->byname[i - 1]->t.name, ps->byname[i]->t.name) == 0)
            return dlc__st_fail(err, DLC_ERR_DUPLICATE,
                               "%s: tensor \"%s\" appears twice in the header",
                               path, ps->byname[i]->t.name);
    return DLC_OK;
}

/* Empty tensors own no bytes and cannot overlap anything. */
static int dlc_st_check_overlap(dlc__st_parsed *ps, const char *path,
                                dlc_errinfo *err)
{
    dlc__st_entry **order = malloc((size_t)ps->n * sizeof *order + 1);
    const dlc__st_entry *last = NULL;
    int i, rc = DLC_OK;

    if (order == NULL)
        return dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory", path);
    for (i = 0; i < ps->n; i++)
        order[i] = &ps->ents[i];
    qsort(order, (size_t)ps->n, sizeof *order, dlc_st_cmp_begin);
    for (i = 0; i < ps->n && rc == DLC_OK; i++) {
        if (order[i]->end == order[i]->begin)
            continue;
        if (last != NULL && order[i]->begin < last->end)
            rc = dlc__st_fail(err, DLC_ERR_OFFSETS,
                             "%s: tensors \"%s\" and \"%s\" overlap", path,
                             last->t.name, order[i]->t.name);
        if (last == NULL || order[i]->end > last->end)
            last = order[i];
    }
    free(order);
    return rc;
}

void dlc__st_free_parsed(dlc__st_parsed *ps)
{
    free(ps->buf);
    free(ps->ents);
    free(ps->byname);
    memset(ps, 0, sizeof *ps);
}

/* The header length field and the framing around the JSON. */
static int dlc_st_check_length(dlc__st_parsed *ps, const char *path,
                               uint64_t *hlen, dlc_errinfo *err)
{
    if (ps->size < 8)
        return dlc__st_fail(err, DLC_ERR_READ,
                           "%s: truncated: %lu bytes, too short for the "
                           "8-byte header length", path,
                           (unsigned long)ps->size);
    *hlen = dlc__st_le(ps->buf, 8);
    if (*hlen > DLC_ST_MAX_HEADER)
        return dlc__st_fail(err, DLC_ERR_FORMAT,
                           "%s: header length %llu is absurd (limit %u): "
                           "not a safetensors file", path,
                           (unsigned long long)*hlen, DLC_ST_MAX_HEADER);
    if (*hlen > ps->size - 8)
        return dlc__st_fail(err, DLC_ERR_READ,
                           "%s: truncated: header length %llu but only %lu "
                           "bytes follow", path, (unsigned long long)*hlen,
                           (unsigned long)(ps->size - 8));
    ps->data = ps->buf + 8 + *hlen;
    ps->data_size = ps->size - 8 - *hlen;
    return DLC_OK;
}

/* Reads and fully validates path into ps; on failure ps holds nothing. */
int dlc__st_parse(const char *path, dlc__st_parsed *ps, dlc_errinfo *err)
{
    uint64_t hlen = 0;
    int rc, i;

    memset(ps, 0, sizeof *ps);
    rc = dlc_st_read_file(path, &ps->buf, &ps->size, err);
    if (rc == DLC_OK)
        rc = dlc_st_check_length(ps, path, &hlen, err);
    if (rc == DLC_OK)
        rc = dlc_st_parse_json(ps, path, hlen, err);
    if (rc == DLC_OK &&
        (ps->byname = malloc((size_t)ps->n * sizeof *ps->byname + 1)) == NULL)
        rc = dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory", path);
    if (rc == DLC_OK)
        rc = dlc_st_check_duplicates(ps, path, err);
    if (rc == DLC_OK)
        rc = dlc_st_check_overlap(ps, path, err);
    if (rc != DLC_OK) {
        dlc__st_free_parsed(ps);
        return rc;
    }
    for (i = 0; i < ps->n; i++)
        ps->ents[i].t.data = ps->data + ps->ents[i].begin;
    return DLC_OK;
}

dlc__st_entry *dlc__st_lookup(const dlc__st_parsed *ps, const char *name)
{
    dlc__st_entry **hit;

    if (ps->n == 0)
        return NULL;
    hit = bsearch(name, ps->byname, (size_t)ps->n, sizeof *ps->byname,
                  dlc_st_cmp_key);
    return hit ? *hit : NULL;
}

/* ---- the whole-file API --------------------------------------------------- */

int dlc_st_open(const char *path, dlc_st_file *f, dlc_errinfo *err)
{
    dlc__st_parsed ps;
    int rc, i;

    if (f != NULL)
        memset(f, 0, sizeof *f);
    if (path == NULL || f == NULL)
        return dlc__st_fail(err, DLC_ERR_ARG, "dlc_st_open: NULL argument");
    rc = dlc__st_parse(path, &ps, err);
    if (rc != DLC_OK)
        return rc;
    f->tensors = malloc((size_t)ps.n * sizeof *f->tensors + 1);
    if (f->tensors == NULL) {
        dlc__st_free_parsed(&ps);
        return dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory", path);
    }
    for (i = 0; i < ps.n; i++)
        f->tensors[i] = ps.ents[i].t;
    f->ntensors = ps.n;
    f->buf = ps.buf;
    f->size = ps.size;
    free(ps.ents);
    free(ps.byname);
    return DLC_OK;
}

void dlc_st_close(dlc_st_file *f)
{
    if (f == NULL)
        return;
    free(f->buf);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

const dlc_st_tensor *dlc_st_find(const dlc_st_file *f, const char *name)
{
    int i;

    if (f == NULL || name == NULL)
        return NULL;
    for (i = 0; i < f->ntensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}
