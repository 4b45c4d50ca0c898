/* dlc_st_load: fills a model's parameter block from a safetensors file.  The
 * file must hold exactly the model's tensors (plus ignored
 * ".num_batches_tracked" counters), each F32 or F64 with the exact shape and finite
 * values.  All of it is checked before the first byte is copied, so a
 * failed load leaves the caller's parameters as they were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"
#include "safetensors_internal.h"

static const char dlc_st_nbt_suffix[] = ".num_batches_tracked";

/* "[6,1,5,5]" into out; shapes have at most 8 dims so 200 bytes suffice. */
static void dlc_st_shape_str(char *out, size_t cap, int rank,
                             const int64_t *dims)
{
    size_t len = 0;
    int i;

    len += (size_t)snprintf(out, cap, "[");
    for (i = 0; i < rank && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? "," : "",
                                (long long)dims[i]);
    if (len < cap)
        snprintf(out + len, cap - len, "]");
}

/* ---- loading into a model ------------------------------------------------ */

/* A desc must describe itself consistently: the generated code builds
 * them, so a mismatch is a caller bug reported as DLC_ERR_ARG. */
int dlc__st_check_desc(const dlc_tensor_desc *d, const char *path,
                             dlc_errinfo *err)
{
    size_t count = 1;
    int i;

    if (d->name == NULL || d->rank < 0 || d->rank > 8)
        return dlc__st_fail(err, DLC_ERR_ARG, "%s: bad tensor description",
                           path);
    for (i = 0; i < d->rank; i++) {
        if (d->dims[i] < 0)
            return dlc__st_fail(err, DLC_ERR_ARG,
                               "%s: tensor \"%s\": negative dimension", path,
                               d->name);
        count *= (size_t)d->dims[i];
    }
    if (count != d->count)
        return dlc__st_fail(err, DLC_ERR_ARG,
                           "%s: tensor \"%s\": count %lu does not match its "
                           "dims", path, d->name, (unsigned long)d->count);
    return DLC_OK;
}

static int dlc_st_same_shape(const dlc_tensor_desc *d, const dlc_st_tensor *t)
{
    int i;

    if (d->rank != t->rank)
        return 0;
    for (i = 0; i < d->rank; i++)
        if (d->dims[i] != t->dims[i])
            return 0;
    return 1;
}

/* Finds d's tensor in the file and checks its dtype and shape. */
static int dlc_st_match(const dlc__st_parsed *ps, const dlc_tensor_desc *d,
                        const char *path, dlc__st_entry **out,
                        dlc_errinfo *err)
{
    char want[200], have[200];
    dlc__st_entry *e;
    int rc = dlc__st_check_desc(d, path, err);

    if (rc != DLC_OK)
        return rc;
    if ((e = dlc__st_lookup(ps, d->name)) == NULL)
        return dlc__st_fail(err, DLC_ERR_MISSING,
                           "%s: tensor \"%s\" missing from the file", path,
                           d->name);
    e->used = 1;
    if (strcmp(e->t.dtype, "F32") != 0 && strcmp(e->t.dtype, "F64") != 0)
        return dlc__st_fail(err, DLC_ERR_DTYPE,
                           "%s: tensor \"%s\": dtype %s, expected F32 (or F64)",
                           path, d->name, e->t.dtype);
    if (!dlc_st_same_shape(d, &e->t)) {
        dlc_st_shape_str(want, sizeof want, d->rank, d->dims);
        dlc_st_shape_str(have, sizeof have, e->t.rank, e->t.dims);
        return dlc__st_fail(err, DLC_ERR_SHAPE,
                           "%s: tensor \"%s\": shape %s expected, file has %s",
                           path, d->name, want, have);
    }
    *out = e;
    return DLC_OK;
}

static int dlc_st_is_ignored(const char *name)
{
    size_t n = strlen(name), s = sizeof dlc_st_nbt_suffix - 1;
    return n >= s && strcmp(name + n - s, dlc_st_nbt_suffix) == 0;
}

static int dlc_st_check_extra(const dlc__st_parsed *ps, const char *path,
                              dlc_errinfo *err)
{
    int i;

    for (i = 0; i < ps->n; i++)
        if (!ps->ents[i].used && !dlc_st_is_ignored(ps->ents[i].t.name))
            return dlc__st_fail(err, DLC_ERR_UNKNOWN,
                               "%s: tensor \"%s\" in the file is not a "
                               "tensor of the model", path,
                               ps->ents[i].t.name);
    return DLC_OK;
}

static int dlc_st_is_f64(const dlc_st_tensor *t)
{
    return t->dtype[1] == '6';
}

/* Element i of an F32 or F64 tensor, exactly (F32 widens exactly). */
static double dlc_st_value(const dlc_st_tensor *t, size_t i)
{
    uint64_t u;
    double v;

    if (!dlc_st_is_f64(t))
        return dlc__st_f32_bits((uint32_t)dlc__st_le(t->data + 4 * i, 4));
    u = dlc__st_le(t->data + 8 * i, 8);
    memcpy(&v, &u, sizeof v);
    return v;
}

/* NaN, infinity, and (F64 in a float build) values that would overflow
 * dlc_float are rejected.  F32 is tested on its bits, whatever dlc_float is. */
static int dlc_st_check_finite(const dlc_st_tensor *t, const char *path,
                               dlc_errinfo *err)
{
    size_t i;

    for (i = 0; i < t->count; i++) {
        double v = dlc_st_value(t, i);
        dlc_float f = (dlc_float)v;
        if (v != v || f - f != 0)
            return dlc__st_fail(err, DLC_ERR_NONFINITE,
                               "%s: tensor \"%s\": element %lu is %s", path,
                               t->name, (unsigned long)i,
                               v != v ? "NaN" : v - v != 0 ? "infinite"
                                                         : "too large for float");
    }
    return DLC_OK;
}

static void dlc_st_copy(const dlc_st_tensor *t, dlc_float *out)
{
    size_t i;

    for (i = 0; i < t->count; i++)
        out[i] = (dlc_float)dlc_st_value(t, i);
}

/* Every check runs before the first copy, so a failure leaves data as it
 * was. */
static int dlc_st_load_parsed(dlc__st_parsed *ps, const char *path,
                              const dlc_tensor_desc *descs, int ndescs,
                              dlc_float *data, dlc_errinfo *err)
{
    dlc__st_entry **match = malloc((size_t)ndescs * sizeof *match + 1);
    int i, rc = DLC_OK;

    if (match == NULL)
        return dlc__st_fail(err, DLC_ERR_NOMEM, "%s: out of memory", path);
    for (i = 0; i < ndescs && rc == DLC_OK; i++)
        rc = dlc_st_match(ps, &descs[i], path, &match[i], err);
    if (rc == DLC_OK)
        rc = dlc_st_check_extra(ps, path, err);
    for (i = 0; i < ndescs && rc == DLC_OK; i++)
        rc = dlc_st_check_finite(&match[i]->t, path, err);
    for (i = 0; i < ndescs && rc == DLC_OK; i++)
        dlc_st_copy(&match[i]->t, data + descs[i].offset);
    free(match);
    return rc;
}

int dlc_st_load(const char *path, const dlc_tensor_desc *descs, int ndescs,
                dlc_float *data, dlc_errinfo *err)
{
    dlc__st_parsed ps;
    int rc;

    if (path == NULL || ndescs < 0 || (ndescs > 0 && (descs == NULL ||
                                                      data == NULL)))
        return dlc__st_fail(err, DLC_ERR_ARG, "dlc_st_load: invalid argument");
    rc = dlc__st_parse(path, &ps, err);
    if (rc != DLC_OK)
        return rc;
    rc = dlc_st_load_parsed(&ps, path, descs, ndescs, data, err);
    dlc__st_free_parsed(&ps);
    return rc;
}
