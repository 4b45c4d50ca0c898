/* dlc_st_read_meta: one value of a safetensors file's "__metadata__".
 * Checkpoint loaders ask for several values before loading the tensors, so
 * only the 8-byte length and the JSON header are read; the header's syntax
 * is checked in full (metadata values must be strings, as for every read),
 * the tensors are left to dlc_st_load.  One allocation, freed on return. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"
#include "json.h"
#include "safetensors_internal.h"

/* What the header walk looks for and finds; name and value are scratch
 * strings as long as the header, which no decoded string can exceed. */
typedef struct dlc_st_meta_search {
    const char *key;
    char *name, *value;
    size_t scratch;
    int found, twice, meta_seen;
} dlc_st_meta_search;

static int dlc_st_meta_read_failed(const char *path, dlc_errinfo *err)
{
    return dlc__st_fail(err, DLC_ERR_READ, "%s: read failed: %s", path,
                        strerror(errno));
}

/* Reads the length prefix and the header into *buf (8 + *hlen bytes, the
 * same offsets as the whole file, so error positions match dlc_st_open's),
 * followed by room for the two scratch strings. */
static int dlc_st_meta_read(FILE *f, const char *path, unsigned char *len8,
                            unsigned char **buf, size_t *hlen,
                            dlc_errinfo *err)
{
    uint64_t n;
    size_t got = fread(len8, 1, 8, f);

    if (got < 8 && ferror(f))
        return dlc_st_meta_read_failed(path, err);
    if (got < 8)
        return dlc__st_fail(err, DLC_ERR_READ,
                            "%s: truncated: %lu bytes, too short for the "
                            "8-byte header length", path, (unsigned long)got);
    n = dlc__st_le(len8, 8);
    if (n > DLC_ST_MAX_HEADER)
        return dlc__st_fail(err, DLC_ERR_FORMAT,
                            "%s: header length %llu is absurd (limit %u): "
                            "not a safetensors file", path,
                            (unsigned long long)n, DLC_ST_MAX_HEADER);
    *hlen = (size_t)n;
    if ((*buf = malloc(8 + 3 * (*hlen + 1))) == NULL)
        return dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory", path);
    memcpy(*buf, len8, 8);
    got = fread(*buf + 8, 1, *hlen, f);
    if (got < *hlen && ferror(f))
        return dlc_st_meta_read_failed(path, err);
    if (got < *hlen)
        return dlc__st_fail(err, DLC_ERR_READ,
                            "%s: truncated: header length %llu but only %lu "
                            "bytes follow", path, (unsigned long long)n,
                            (unsigned long)got);
    return DLC_OK;
}

/* The members of "__metadata__": string keys to string values. */
static int dlc_st_meta_object(dlc__json *j, dlc_st_meta_search *m)
{
    int more;

    if (dlc__json_expect(j, '{'))
        return -1;
    if (dlc__json_peek(j) == '}') {
        j->p++;
        return 0;
    }
    do {
        int hit;
        if (dlc__json_string(j, m->name, m->scratch) ||
            dlc__json_expect(j, ':'))
            return -1;
        if (dlc__json_peek(j) != '"') {
            j->why = "__metadata__ values must be strings";
            return -1;
        }
        hit = strcmp(m->name, m->key) == 0;
        if (hit ? dlc__json_string(j, m->value, m->scratch)
                : dlc__json_skip(j))
            return -1;
        m->twice |= hit && m->found;
        m->found |= hit;
        more = dlc__json_next(j, '}');
    } while (more == 1);
    return more;
}

/* The top-level object: tensors are skipped, "__metadata__" searched. */
static int dlc_st_meta_header(dlc__json *j, dlc_st_meta_search *m)
{
    int more;

    if (dlc__json_expect(j, '{'))
        return -1;
    if (dlc__json_peek(j) == '}') {
        j->p++;
        return dlc__json_end(j);
    }
    do {
        if (dlc__json_string(j, m->name, m->scratch) ||
            dlc__json_expect(j, ':'))
            return -1;
        if (strcmp(m->name, "__metadata__") != 0) {
            if (dlc__json_skip(j))
                return -1;
        } else if (m->meta_seen) {
            j->why = "__metadata__ given twice";
            return -1;
        } else if (m->meta_seen = 1, dlc_st_meta_object(j, m)) {
            return -1;
        }
        more = dlc__json_next(j, '}');
    } while (more == 1);
    return more < 0 ? -1 : dlc__json_end(j);
}

static int dlc_st_meta_find(const char *path, const char *key,
                            unsigned char *buf, size_t hlen, char *out,
                            size_t cap, dlc_errinfo *err)
{
    dlc_st_meta_search m;
    dlc__json j;
    size_t len;

    memset(&m, 0, sizeof m);
    m.key = key;
    m.scratch = hlen + 1;
    m.name = (char *)buf + 8 + hlen;
    m.value = m.name + m.scratch;
    dlc__json_init(&j, (const char *)buf + 8, hlen);
    if (dlc_st_meta_header(&j, &m))
        return dlc__st_fail(err, DLC_ERR_FORMAT,
                            "%s: bad header at byte %ld: %s", path,
                            (long)(j.p - (const char *)buf), j.why);
    if (!m.found)
        return dlc__st_fail(err, DLC_ERR_MISSING, "%s: no metadata \"%s\"",
                            path, key);
    if (m.twice)
        return dlc__st_fail(err, DLC_ERR_DUPLICATE,
                            "%s: metadata \"%s\" appears twice", path, key);
    len = strlen(m.value);
    if (len >= cap)
        return dlc__st_fail(err, DLC_ERR_FORMAT,
                            "%s: metadata \"%s\" is %lu bytes long, more "
                            "than the %lu expected", path, key,
                            (unsigned long)len, (unsigned long)(cap - 1));
    memcpy(out, m.value, len + 1);
    return DLC_OK;
}

int dlc_st_read_meta(const char *path, const char *key, char *out,
                     size_t cap, dlc_errinfo *err)
{
    unsigned char len8[8], *buf = NULL;
    size_t hlen = 0;
    FILE *f;
    int rc;

    if (out != NULL && cap > 0)
        out[0] = '\0';
    if (path == NULL || key == NULL || out == NULL || cap == 0)
        return dlc__st_fail(err, DLC_ERR_ARG, "dlc_st_read_meta: NULL "
                            "argument or no room for the value");
    if ((f = fopen(path, "rb")) == NULL)
        return dlc__st_fail(err, DLC_ERR_OPEN, "%s: cannot open: %s", path,
                            strerror(errno));
    rc = dlc_st_meta_read(f, path, len8, &buf, &hlen, err);
    fclose(f);
    if (rc == DLC_OK)
        rc = dlc_st_meta_find(path, key, buf, hlen, out, cap, err);
    free(buf);
    return rc;
}
