/* dlc_st_save: writes tensors as an F32 (F64 in the double build) safetensors file that any reader of
 * the format (PyTorch's safetensors package included) accepts.  The write
 * is atomic: data goes to <path>.tmp, is flushed and fsync'd, and only then
 * renamed over path, so a crash or error never leaves a half-written file
 * where the old one was. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fileno, fdopen, fsync, open */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlc_runtime.h"
#include "safetensors_internal.h"

/* ---- saving ---------------------------------------------------------------- */

/* A growing string for the header; an allocation failure sticks in oom so
 * the builder reads straight through and is checked once at the end. */
typedef struct dlc_st_sb {
    char *s;
    size_t len, cap;
    int oom;
} dlc_st_sb;

static void dlc_st_sb_put(dlc_st_sb *b, const char *p, size_t n)
{
    char *grown;
    size_t cap = b->cap ? b->cap : 256;

    if (b->oom)
        return;
    while (cap - b->len < n + 1)
        cap *= 2;
    if (cap != b->cap) {
        if ((grown = realloc(b->s, cap)) == NULL) {
            b->oom = 1;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void dlc_st_sb_str(dlc_st_sb *b, const char *s)
{
    dlc_st_sb_put(b, s, strlen(s));
}

static void dlc_st_sb_u64(dlc_st_sb *b, uint64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    dlc_st_sb_str(b, tmp);
}

/* A JSON string literal; bytes >= 0x80 pass through (names are UTF-8). */
static void dlc_st_sb_json(dlc_st_sb *b, const char *s)
{
    char esc[8];

    dlc_st_sb_put(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            dlc_st_sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            dlc_st_sb_put(b, esc, 6);
        } else {
            dlc_st_sb_put(b, s, 1);
        }
    }
    dlc_st_sb_put(b, "\"", 1);
}

static void dlc_st_sb_tensor(dlc_st_sb *b, const dlc_tensor_desc *d,
                             uint64_t begin)
{
    int i;

    dlc_st_sb_json(b, d->name);
    dlc_st_sb_str(b, sizeof(dlc_float) == 8 ? ":{\"dtype\":\"F64\",\"shape\":["
                                            : ":{\"dtype\":\"F32\",\"shape\":[");
    for (i = 0; i < d->rank; i++) {
        if (i > 0)
            dlc_st_sb_str(b, ",");
        dlc_st_sb_u64(b, (uint64_t)d->dims[i]);
    }
    dlc_st_sb_str(b, "],\"data_offsets\":[");
    dlc_st_sb_u64(b, begin);
    dlc_st_sb_str(b, ",");
    dlc_st_sb_u64(b, begin + sizeof(dlc_float) * (uint64_t)d->count);
    dlc_st_sb_str(b, "]}");
}

/* The header JSON, padded with spaces so the data region starts 8-byte
 * aligned (8 + length is a multiple of 8). */
static int dlc_st_header(dlc_st_sb *b, const dlc_tensor_desc *descs,
                         int ndescs, const char *const *meta, int nmeta)
{
    uint64_t offset = 0;
    int i;

    dlc_st_sb_str(b, "{");
    if (nmeta > 0) {
        dlc_st_sb_str(b, "\"__metadata__\":{");
        for (i = 0; i < nmeta; i++) {
            dlc_st_sb_str(b, i > 0 ? "," : "");
            dlc_st_sb_json(b, meta[2 * i]);
            dlc_st_sb_str(b, ":");
            dlc_st_sb_json(b, meta[2 * i + 1]);
        }
        dlc_st_sb_str(b, ndescs > 0 ? "}," : "}");
    }
    for (i = 0; i < ndescs; i++) {
        dlc_st_sb_str(b, i > 0 ? "," : "");
        dlc_st_sb_tensor(b, &descs[i], offset);
        offset += sizeof(dlc_float) * (uint64_t)descs[i].count;
    }
    dlc_st_sb_str(b, "}");
    while (!b->oom && b->len % 8 != 0)
        dlc_st_sb_str(b, " ");
    return b->oom ? -1 : 0;
}

static int dlc_st_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Refuses what would write a file dlc_st_load rejects. */
static int dlc_st_check_save_args(const char *path,
                                  const dlc_tensor_desc *descs, int ndescs,
                                  const char *const *meta, int nmeta,
                                  dlc_errinfo *err)
{
    const char **names;
    int i, rc = DLC_OK;

    for (i = 0; i < ndescs && rc == DLC_OK; i++)
        rc = dlc__st_check_desc(&descs[i], path, err);
    for (i = 0; i < 2 * nmeta && rc == DLC_OK; i++)
        if (meta[i] == NULL)
            rc = dlc__st_fail(err, DLC_ERR_ARG, "%s: NULL metadata string",
                             path);
    if (rc != DLC_OK)
        return rc;
    if ((names = malloc((size_t)ndescs * sizeof *names + 1)) == NULL)
        return dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory", path);
    for (i = 0; i < ndescs; i++)
        names[i] = descs[i].name;
    qsort(names, (size_t)ndescs, sizeof *names, dlc_st_cmp_str);
    for (i = 1; i < ndescs && rc == DLC_OK; i++)
        if (strcmp(names[i - 1], names[i]) == 0 ||
            strcmp(names[i], "__metadata__") == 0)
            rc = dlc__st_fail(err, DLC_ERR_DUPLICATE,
                             "%s: tensor \"%s\" given twice", path, names[i]);
    free(names);
    return rc;
}

/* Writes the tensors little-endian through a small buffer, so that saving
 * needs no copy of the parameters: F32, or F64 in the double build (so that
 * its checkpoints resume exactly). */
static int dlc_st_write_data(FILE *f, const dlc_tensor_desc *descs,
                             int ndescs, const dlc_float *data)
{
    unsigned char chunk[4096];
    size_t used = 0, i;
    int t, b;

    for (t = 0; t < ndescs; t++) {
        const dlc_float *x = data + descs[t].offset;
        for (i = 0; i < descs[t].count; i++) {
            uint64_t u;
            if (sizeof(dlc_float) == 8) {
                double v = (double)x[i];
                memcpy(&u, &v, sizeof u);
            } else {
                float v = (float)x[i];
                uint32_t w;
                memcpy(&w, &v, sizeof w);
                u = w;
            }
            for (b = 0; b < (int)sizeof(dlc_float); b++)
                chunk[used++] = (unsigned char)(u >> (8 * b));
            if (used == sizeof chunk) {
                if (fwrite(chunk, 1, used, f) != used)
                    return -1;
                used = 0;
            }
        }
    }
    return fwrite(chunk, 1, used, f) == used ? 0 : -1;
}

static int dlc_st_write_file(FILE *f, const dlc_st_sb *hdr,
                             const dlc_tensor_desc *descs, int ndescs,
                             const dlc_float *data)
{
    unsigned char len[8];
    int b;

    for (b = 0; b < 8; b++)
        len[b] = (unsigned char)((uint64_t)hdr->len >> (8 * b));
    if (fwrite(len, 1, 8, f) != 8 || fwrite(hdr->s, 1, hdr->len, f) !=
        hdr->len)
        return -1;
    return dlc_st_write_data(f, descs, ndescs, data);
}

/* Makes the rename itself durable.  Best effort: some file systems refuse
 * fsync on a directory, and the data is already safe by then. */
static void dlc_st_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    int fd;

    if (dir == NULL)
        return;
    if (slash == NULL)
        memcpy(dir, ".", 2);
    else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    if ((fd = open(dir, O_RDONLY)) >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Creates tmp afresh: a stale one (from a save that crashed) is removed
 * first, and O_EXCL refuses to write through a link planted in its place. */
static FILE *dlc_st_create(const char *tmp)
{
    FILE *f;
    int fd, e;

    (void)remove(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0)
        return NULL;
    if ((f = fdopen(fd, "wb")) == NULL) {
        e = errno;
        close(fd);
        remove(tmp);
        errno = e;
    }
    return f;
}

/* Writes to tmp and renames it over path; on failure removes tmp, so the
 * old file at path is never touched. */
static int dlc_st_write_atomic(const char *path, const char *tmp,
                               const dlc_st_sb *hdr,
                               const dlc_tensor_desc *descs, int ndescs,
                               const dlc_float *data, dlc_errinfo *err)
{
    FILE *f = dlc_st_create(tmp);
    const char *step = "write";
    int e;

    if (f == NULL)
        return dlc__st_fail(err, DLC_ERR_WRITE, "%s: cannot create %s: %s",
                           path, tmp, strerror(errno));
    errno = 0;
    if (dlc_st_write_file(f, hdr, descs, ndescs, data) != 0 ||
        (step = "flush", fflush(f) != 0) ||
        (step = "fsync", fsync(fileno(f)) != 0)) {
        e = errno;
        fclose(f);
        remove(tmp);
        return dlc__st_fail(err, DLC_ERR_WRITE, "%s: %s of %s failed: %s",
                           path, step, tmp, strerror(e));
    }
    if ((step = "close", fclose(f) != 0) ||
        (step = "rename", rename(tmp, path) != 0)) {
        e = errno;
        remove(tmp);
        return dlc__st_fail(err, DLC_ERR_WRITE, "%s: %s of %s failed: %s",
                           path, step, tmp, strerror(e));
    }
    dlc_st_sync_dir(path);
    return DLC_OK;
}

int dlc_st_save(const char *path, const dlc_tensor_desc *descs, int ndescs,
                const dlc_float *data, const char *const *metadata, int nmeta,
                dlc_errinfo *err)
{
    dlc_st_sb hdr = {NULL, 0, 0, 0};
    char *tmp;
    int rc;

    if (path == NULL || ndescs < 0 || nmeta < 0 ||
        (ndescs > 0 && (descs == NULL || data == NULL)) ||
        (nmeta > 0 && metadata == NULL))
        return dlc__st_fail(err, DLC_ERR_ARG, "dlc_st_save: invalid argument");
    rc = dlc_st_check_save_args(path, descs, ndescs, metadata, nmeta, err);
    if (rc != DLC_OK)
        return rc;
    tmp = malloc(strlen(path) + 5);
    if (tmp == NULL || dlc_st_header(&hdr, descs, ndescs, metadata, nmeta)) {
        free(tmp);
        free(hdr.s);
        return dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory", path);
    }
    sprintf(tmp, "%s.tmp", path);
    rc = dlc_st_write_atomic(path, tmp, &hdr, descs, ndescs, data, err);
    free(tmp);
    free(hdr.s);
    return rc;
}
