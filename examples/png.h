/* A small PNG writer for the examples: 8-bit grayscale images, one IDAT
 * chunk compressed with zlib's deflate, CRCs from zlib's crc32.  Never
 * prints, never exits. */
#ifndef PNG_H
#define PNG_H

#include <stddef.h>

/* Writes pixels [height][width] (0 black .. 255 white) to path: 0, or -1
 * with "path: what went wrong" in msg (may be NULL). */
int png_write_gray(const char *path, const unsigned char *pixels, int width, int height, char *msg,
                   size_t msgsize);

#endif
