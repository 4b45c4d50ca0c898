/* PNG (ISO/IEC 15948) as simply as it goes: the signature, IHDR (8-bit
 * grayscale, no interlace), one IDAT holding the zlib stream of the rows,
 * each row preceded by filter type 0 (none), and IEND. */
#include "png.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { PNG_MAX_SIDE = 1 << 14 };  /* large enough for any grid the examples draw */

static void be32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One chunk: length, type, data, and the CRC of type and data. */
static int put_chunk(FILE *f, const char *type, const unsigned char *data, size_t len)
{
    unsigned char head[8], tail[4];
    unsigned long crc = crc32(0L, (const unsigned char *)type, 4);

    be32(head, (unsigned long)len);
    memcpy(head + 4, type, 4);
    if (len)
        crc = crc32(crc, data, (uInt)len);
    be32(tail, crc);
    return fwrite(head, 1, 8, f) == 8 && (!len || fwrite(data, 1, len, f) == len) &&
                   fwrite(tail, 1, 4, f) == 4 ? 0 : -1;
}

static int fail(char *msg, size_t size, const char *path, const char *why)
{
    if (msg && size)
        snprintf(msg, size, "%s: %s", path, why);
    return -1;
}

int png_write_gray(const char *path, const unsigned char *pixels, int width, int height, char *msg,
                   size_t msgsize)
{
    static const unsigned char signature[8] = { 137, 'P', 'N', 'G', '\r', '\n', 26, '\n' };
    unsigned char ihdr[13] = { 0 }, *raw, *z;
    size_t rawlen, y;
    uLongf zlen;
    FILE *f;
    int rc;

    if (width < 1 || height < 1 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return fail(msg, msgsize, path, "image size out of range");
    rawlen = (size_t)height * ((size_t)width + 1);
    zlen = compressBound((uLong)rawlen);
    raw = malloc(rawlen);
    z = malloc(zlen);
    if (!raw || !z) {
        free(raw);
        free(z);
        return fail(msg, msgsize, path, "out of memory");
    }
    for (y = 0; y < (size_t)height; y++) {
        raw[y * ((size_t)width + 1)] = 0;  /* filter: none */
        memcpy(raw + y * ((size_t)width + 1) + 1, pixels + y * (size_t)width, (size_t)width);
    }
    rc = compress2(z, &zlen, raw, (uLong)rawlen, 9);
    free(raw);
    if (rc != Z_OK) {
        free(z);
        return fail(msg, msgsize, path, "zlib cannot compress the image");
    }
    be32(ihdr, (unsigned long)width);
    be32(ihdr + 4, (unsigned long)height);
    ihdr[8] = 8;  /* bit depth; colour type 0 (gray), deflate, filter 0, no interlace */
    f = fopen(path, "wb");
    if (!f) {
        free(z);
        return fail(msg, msgsize, path, strerror(errno));
    }
    rc = fwrite(signature, 1, 8, f) == 8 && put_chunk(f, "IHDR", ihdr, 13) == 0 &&
         put_chunk(f, "IDAT", z, zlen) == 0 && put_chunk(f, "IEND", NULL, 0) == 0;
    free(z);
    if (fclose(f) != 0 || !rc)
        return fail(msg, msgsize, path, "write failed");
    return 0;
}
