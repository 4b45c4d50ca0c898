/* Internal: what the safetensors reader, loader and writer share.  A parsed
 * file is the whole file in memory plus its validated header entries; the
 * loader and dlc_st_open work from it.  Not part of the public API. */
#ifndef DLC_SAFETENSORS_INTERNAL_H
#define DLC_SAFETENSORS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dlc_runtime.h"

/* The reference implementation refuses headers above 100 MB; anything
 * larger is a corrupt length field, not a real header. */
#define DLC_ST_MAX_HEADER (100u * 1000u * 1000u)

/* One tensor of a parsed header, with its byte range in the data region. */
typedef struct dlc__st_entry {
    dlc_st_tensor t;
    uint64_t begin, end;
    int used;            /* matched by a desc in dlc_st_load */
} dlc__st_entry;

/* A parsed file: the whole buffer, its entries in file order and the same
 * entries sorted by name for lookup. */
typedef struct dlc__st_parsed {
    unsigned char *buf;
    size_t size;
    const unsigned char *data;  /* start of the data region */
    uint64_t data_size;
    dlc__st_entry *ents;
    dlc__st_entry **byname;
    int n, cap;
} dlc__st_parsed;

/* Reads and fully validates path (framing, JSON, dtypes, sizes, offsets,
 * duplicates, overlaps) into ps; on failure ps holds nothing. */
int dlc__st_parse(const char *path, dlc__st_parsed *ps, dlc_errinfo *err);
void dlc__st_free_parsed(dlc__st_parsed *ps);
dlc__st_entry *dlc__st_lookup(const dlc__st_parsed *ps, const char *name);

/* Formats err->msg (err may be NULL) and returns code. */
int dlc__st_fail(dlc_errinfo *err, int code, const char *fmt, ...);

/* Checks a desc's rank, dims and count; DLC_ERR_ARG when inconsistent. */
int dlc__st_check_desc(const dlc_tensor_desc *d, const char *path,
                       dlc_errinfo *err);

/* Little-endian unsigned integer of nbytes (1..8) at p. */
uint64_t dlc__st_le(const unsigned char *p, int nbytes);
double dlc__st_f32_bits(uint32_t u);

#endif
