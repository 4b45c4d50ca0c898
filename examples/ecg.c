/* Reads scipy's ecg.dat: a zip archive (one deflated or stored member,
 * ecg.npy) holding a NumPy .npy array of little-endian uint16.  Only the
 * layout NumPy's savez writes is accepted: the member's sizes in its local
 * header (no data descriptor), no encryption, a one-dimensional '<u2'
 * array.  See ecg.h. */
#include "ecg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { ZIP_HEADER = 30 };  /* the fixed part of a zip local file header */

static int fail(char *msg, size_t size, int code, const char *path, const char *fmt, ...)
{
    va_list ap;
    size_t len;
    if (!msg || !size)
        return code;
    snprintf(msg, size, "%s: ", path);
    len = strlen(msg);
    va_start(ap, fmt);
    vsnprintf(msg + len, size - len, fmt, ap);
    va_end(ap);
    return code;
}

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }

/* The whole file, malloc'ed: ECG_OK or an ECG_ERR_ code. */
static int read_file(const char *path, unsigned char **buf, long *size, char *msg, size_t msgsize)
{
    FILE *f = fopen(path, "rb");
    long n;

    *buf = NULL;
    if (!f)
        return fail(msg, msgsize, ECG_ERR_OPEN, path, "%s", strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return fail(msg, msgsize, ECG_ERR_OPEN, path, "cannot find its size");
    }
    if (n > ECG_MAX_FILE) {
        fclose(f);
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "%ld bytes, larger than a recording can be", n);
    }
    *buf = malloc((size_t)n + 1);
    if (!*buf) {
        fclose(f);
        return fail(msg, msgsize, ECG_ERR_NOMEM, path, "out of memory");
    }
    if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(*buf);
        *buf = NULL;
        return fail(msg, msgsize, ECG_ERR_OPEN, path, "read error");
    }
    fclose(f);
    *size = n;
    return ECG_OK;
}

/* The member ecg.npy, decompressed into *out (malloc'ed, *outsize bytes). */
static int unzip_member(const char *path, const unsigned char *z, long size, unsigned char **out,
                        uint32_t *outsize, char *msg, size_t msgsize)
{
    uint32_t flags, method, crc, csize, usize, nlen, xlen, at;
    z_stream s;
    int rc;

    *out = NULL;
    if (size < ZIP_HEADER || le32(z) != 0x04034b50u)
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "not a zip archive (NumPy .npz), as scipy's ecg.dat is");
    flags = le16(z + 6);
    method = le16(z + 8);
    crc = le32(z + 14);
    csize = le32(z + 18);
    usize = le32(z + 22);
    nlen = le16(z + 26);
    xlen = le16(z + 28);
    at = ZIP_HEADER + nlen + xlen;
    if (flags & 9)  /* bit 0: encrypted; bit 3: sizes after the data */
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "zip member with flags 0x%x (encrypted, or sizes "
                    "after its data), which the reader does not handle", (unsigned)flags);
    if ((long)at > size || nlen != 7 || memcmp(z + ZIP_HEADER, "ecg.npy", 7) != 0)
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "the archive's first member is not ecg.npy");
    if (method != 0 && method != 8)
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy uses zip method %u (only stored and "
                    "deflated are read)", (unsigned)method);
    if ((long)csize > size - (long)at)
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "truncated: ecg.npy declares %lu bytes, %ld remain",
                    (unsigned long)csize, size - (long)at);
    if (usize > (uint32_t)ECG_MAX_FILE || (method == 0 && usize != csize))
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy declares an impossible size (%lu bytes)",
                    (unsigned long)usize);
    *out = malloc(usize ? usize : 1);
    if (!*out)
        return fail(msg, msgsize, ECG_ERR_NOMEM, path, "out of memory");
    if (method == 0)
        memcpy(*out, z + at, usize);
    else {
        memset(&s, 0, sizeof s);
        if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
            free(*out);
            *out = NULL;
            return fail(msg, msgsize, ECG_ERR_NOMEM, path, "zlib cannot start");
        }
        s.next_in = (unsigned char *)(z + at);
        s.avail_in = csize;
        s.next_out = *out;
        s.avail_out = usize;
        rc = inflate(&s, Z_FINISH);
        inflateEnd(&s);
        if (rc != Z_STREAM_END || s.total_out != usize) {
            free(*out);
            *out = NULL;
            return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy's compressed data is corrupt");
        }
    }
    if (crc32(0L, *out, usize) != crc) {
        free(*out);
        *out = NULL;
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy fails its CRC check: the file is corrupt");
    }
    *outsize = usize;
    return ECG_OK;
}

/* The .npy header: a one-dimensional '<u2' array; *first gets the offset of
 * its data, *count its length. */
static int parse_npy(const char *path, const unsigned char *a, uint32_t size, uint32_t *first,
                     long *count, char *msg, size_t msgsize)
{
    char header[512];
    const char *shape;
    uint32_t hlen, start, len;
    char *end;

    if (size < 10 || memcmp(a, "\x93NUMPY", 6) != 0 || a[6] < 1 || a[6] > 3)
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy is not a NumPy .npy array");
    start = a[6] == 1 ? 10 : 12;  /* version 1 has a 2-byte header length, later ones 4 */
    hlen = size < start ? 0 : start == 10 ? le16(a + 8) : le32(a + 8);
    if (size < start || hlen >= sizeof header || hlen > size - start)
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy's header is malformed");
    memcpy(header, a + start, hlen);
    for (len = hlen; len > 0 && (header[len - 1] == ' ' || header[len - 1] == '\n'); len--)
        ;  /* NumPy pads the header with spaces to an aligned length: not in messages */
    header[len] = 0;
    if (!strstr(header, "'descr': '<u2'"))
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy does not hold little-endian uint16 "
                    "('<u2'): %s", header);
    shape = strstr(header, "'shape': (");
    if (!shape)
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy's header has no shape");
    errno = 0;
    *count = strtol(shape + 10, &end, 10);
    if (errno || end == shape + 10 || strncmp(end, ",)", 2) != 0 || *count < 1)
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy is not a one-dimensional array: %s", header);
    *first = start + hlen;
    if ((uint64_t)*count * 2 != (uint64_t)(size - *first))
        return fail(msg, msgsize, ECG_ERR_FORMAT, path, "ecg.npy declares %ld samples but holds %lu bytes "
                    "of data", *count, (unsigned long)(size - *first));
    return ECG_OK;
}

int ecg_load(const char *path, float **mv, int *n, char *msg, size_t msgsize)
{
    unsigned char *file = NULL, *arr = NULL;
    uint32_t asize = 0, first = 0;
    long size = 0, count = 0, i;
    int rc;

    if (msg && msgsize)
        msg[0] = 0;
    *mv = NULL;
    *n = 0;
    rc = read_file(path, &file, &size, msg, msgsize);
    if (rc == ECG_OK)
        rc = unzip_member(path, file, size, &arr, &asize, msg, msgsize);
    if (rc == ECG_OK)
        rc = parse_npy(path, arr, asize, &first, &count, msg, msgsize);
    if (rc == ECG_OK && !(*mv = malloc((size_t)count * sizeof **mv)))
        rc = fail(msg, msgsize, ECG_ERR_NOMEM, path, "out of memory");
    if (rc == ECG_OK) {
        for (i = 0; i < count; i++)  /* scipy's conversion of the ADC values to millivolts */
            (*mv)[i] = (float)(((double)le16(arr + first + 2 * i) - 1024.0) / 200.0);
        *n = (int)count;
    }
    free(file);
    free(arr);
    return rc;
}
