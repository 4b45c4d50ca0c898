/* Fashion-MNIST reader: IDX files (gzip'ed or plain) through zlib's gz*
 * functions.  An IDX file is a big-endian header (magic, then one 32-bit
 * size per dimension) followed by the records as unsigned bytes.  Records
 * are read one gzread each, so a short read tells which record is cut, and
 * converted a chunk at a time. */
#include "fashion_mnist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum {
    MAGIC_LABELS = 0x00000801, /* unsigned bytes, 1 dimension */
    MAGIC_IMAGES = 0x00000803, /* unsigned bytes, 3 dimensions */
    CHUNK_BYTES = 1 << 15
};

/* One open IDX file and what its header declared. */
typedef struct idx_file {
    gzFile gz;
    const char *path;
    int images;     /* 1 for an images file, 0 for labels */
    int count;      /* records declared */
    int recsize;    /* bytes per record */
} idx_file;

static const char *const class_names[FMNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"
};

const char *fmnist_class_name(int label)
{
    return label >= 0 && label < FMNIST_CLASSES ? class_names[label] : "?";
}

const char *fmnist_strerror(int err)
{
    static const char *const text[FMNIST_ERR__COUNT] = {
        "success",
        "invalid argument",
        "cannot open file",
        "out of memory",
        "file truncated or unreadable",
        "not an IDX file of the expected kind",
        "unexpected dimensions",
        "data after the last record",
        "image and label counts differ",
        "label out of range"
    };
    return err >= 0 && err < FMNIST_ERR__COUNT ? text[err] : "unknown error code";
}

static int fail(char *msg, size_t msgsize, int code, const char *fmt, ...)
{
    va_list ap;

    if (msg && msgsize > 0) {
        va_start(ap, fmt);
        vsnprintf(msg, msgsize, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void clear_msg(char *msg, size_t msgsize)
{
    if (msg && msgsize > 0)
        msg[0] = '\0';
}

static unsigned long be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
           (unsigned long)p[2] << 8 | (unsigned long)p[3];
}

/* Why the last gzread came up short: a read error, corrupt gzip data, or
 * the end of the file. */
static int short_read(const idx_file *f, const char *where, char *msg,
                      size_t msgsize)
{
    int zerr = Z_OK;
    const char *ztext = gzerror(f->gz, &zerr);
    size_t plen = strlen(f->path);

    if (strncmp(ztext, f->path, plen) == 0 && strncmp(ztext + plen, ": ", 2) == 0)
        ztext += plen + 2;  /* zlib prefixes the path; we name it once */
    if (zerr == Z_ERRNO)
        return fail(msg, msgsize, FMNIST_ERR_READ, "%s: read error %s: %s",
                    f->path, where, strerror(errno));
    /* zlib inflates ahead of the reads: the damage is at `where` or further on */
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
        return fail(msg, msgsize, FMNIST_ERR_READ,
                    "%s: corrupt gzip data (%s), noticed %s; zlib reads ahead, so the "
                    "damage may lie further on", f->path, ztext, where);
    return fail(msg, msgsize, FMNIST_ERR_READ, "%s: truncated: the file ends %s",
                f->path, where);
}

static int check_magic(const idx_file *f, unsigned long magic, char *msg,
                       size_t msgsize)
{
    unsigned long want = f->images ? MAGIC_IMAGES : MAGIC_LABELS;
    unsigned long other = f->images ? MAGIC_LABELS : MAGIC_IMAGES;
    const char *kind = f->images ? "images" : "labels";

    if (magic == want)
        return FMNIST_OK;
    if (magic == other)
        return fail(msg, msgsize, FMNIST_ERR_MAGIC,
                    "%s: magic 0x%08lx is that of %s file, expected %s file (0x%08lx)",
                    f->path, magic, f->images ? "a labels" : "an images",
                    f->images ? "an images" : "a labels", want);
    return fail(msg, msgsize, FMNIST_ERR_MAGIC,
                "%s: bad magic 0x%08lx, expected 0x%08lx (IDX %s: unsigned bytes, %d dimension%s)",
                f->path, magic, want, kind, f->images ? 3 : 1,
                f->images ? "s" : "");
}

/* Reads n header bytes at offset `at`; a short read is a truncated header. */
static int read_header(const idx_file *f, unsigned char *hdr, int at, int n,
                       char *msg, size_t msgsize)
{
    char where[64];
    int got = gzread(f->gz, hdr + at, (unsigned)n);

    if (got == n)
        return FMNIST_OK;
    if (at == 0 && got == 0 && gzeof(f->gz))
        return fail(msg, msgsize, FMNIST_ERR_READ, "%s: the file is empty", f->path);
    snprintf(where, sizeof where, "inside the %d-byte header", f->images ? 16 : 8);
    return short_read(f, where, msg, msgsize);
}

/* Opens the file and reads and checks its header: the magic first, so a
 * file of the other kind is named as such whatever its length. */
static int idx_open(idx_file *f, const char *path, int images, char *msg,
                    size_t msgsize)
{
    unsigned char hdr[16];
    unsigned long count;
    int rc;

    f->path = path;
    f->images = images;
    f->count = 0;
    f->recsize = images ? FMNIST_PIXELS : 1;
    if (!path)
        return fail(msg, msgsize, FMNIST_ERR_ARG, "no file name given");
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return fail(msg, msgsize, FMNIST_ERR_OPEN, "%s: cannot open: %s", path,
                    errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 1 << 17);
    rc = read_header(f, hdr, 0, 4, msg, msgsize);
    if (rc == FMNIST_OK)
        rc = check_magic(f, be32(hdr), msg, msgsize);
    if (rc == FMNIST_OK)
        rc = read_header(f, hdr, 4, images ? 12 : 4, msg, msgsize);
    if (rc != FMNIST_OK)
        return rc;
    count = be32(hdr + 4);
    if (count == 0 || count > FMNIST_MAX_RECORDS)
        return fail(msg, msgsize, FMNIST_ERR_DIMS,
                    "%s: the header declares %lu %s, expected 1 to %d",
                    path, count, images ? "images" : "labels", FMNIST_MAX_RECORDS);
    if (images && (be32(hdr + 8) != FMNIST_ROWS || be32(hdr + 12) != FMNIST_COLS))
        return fail(msg, msgsize, FMNIST_ERR_DIMS,
                    "%s: images are %lux%lu, expected %dx%d", path,
                    be32(hdr + 8), be32(hdr + 12), FMNIST_ROWS, FMNIST_COLS);
    f->count = (int)count;
    return FMNIST_OK;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose(f->gz);
    f->gz = NULL;
}

/* Converts nrec records starting at record `first` from raw bytes. */
static int convert(const idx_file *f, const unsigned char *buf, int first,
                   int nrec, void *out, char *msg, size_t msgsize)
{
    size_t i, nbytes = (size_t)nrec * (size_t)f->recsize;

    if (f->images) {
        float *img = (float *)out + (size_t)first * FMNIST_PIXELS;
        for (i = 0; i < nbytes; i++)
            img[i] = (float)buf[i] / 255.0f;
        return FMNIST_OK;
    }
    for (i = 0; i < nbytes; i++) {
        if (buf[i] >= FMNIST_CLASSES)
            return fail(msg, msgsize, FMNIST_ERR_LABEL,
                        "%s: record %d: label %d is outside 0..%d", f->path,
                        first + (int)i, buf[i], FMNIST_CLASSES - 1);
        ((int32_t *)out)[first + i] = buf[i];
    }
    return FMNIST_OK;
}

/* After the last declared record the gzip stream must end, cleanly. */
static int check_end(const idx_file *f, char *msg, size_t msgsize)
{
    unsigned char extra[64];
    int got = gzread(f->gz, extra, sizeof extra), zerr = Z_OK;

    if (got > 0)
        return fail(msg, msgsize, FMNIST_ERR_TRAILING,
                    "%s: data after the last of the %d records the header declares",
                    f->path, f->count);
    if (got < 0 || !gzeof(f->gz))
        return short_read(f, "after the last record", msg, msgsize);
    gzerror(f->gz, &zerr);
    if (zerr != Z_OK)
        return short_read(f, "after the last record (gzip trailer missing)",
                          msg, msgsize);
    return FMNIST_OK;
}

/* Reads min(cap, count) records into out, then checks the end of the file
 * if every record was read.  One gzread per record: on an error zlib drops
 * the count of what one call had already delivered, so the record that
 * failed is only known if each call reads one. */
static int idx_read(idx_file *f, void *out, int cap, char *msg, size_t msgsize)
{
    unsigned char buf[CHUNK_BYTES];
    int per_chunk = CHUNK_BYTES / f->recsize;
    int n = cap < f->count ? cap : f->count, first, i, rc;

    for (first = 0; first < n; first += per_chunk) {
        int nrec = n - first < per_chunk ? n - first : per_chunk;
        for (i = 0; i < nrec; i++) {
            unsigned char *rec = buf + (size_t)i * (size_t)f->recsize;
            if (gzread(f->gz, rec, (unsigned)f->recsize) != f->recsize) {
                char where[96];
                snprintf(where, sizeof where,
                         "in record %d of the %d the header declares (records count from 0)",
                         first + i, f->count);
                return short_read(f, where, msg, msgsize);
            }
        }
        rc = convert(f, buf, first, nrec, out, msg, msgsize);
        if (rc != FMNIST_OK)
            return rc;
    }
    return n == f->count ? check_end(f, msg, msgsize) : FMNIST_OK;
}

static int read_file(const char *path, int images, void *out, int cap,
                     int *declared, char *msg, size_t msgsize)
{
    idx_file f;
    int rc;

    clear_msg(msg, msgsize);
    if (cap < 0 || (cap > 0 && !out))
        return fail(msg, msgsize, FMNIST_ERR_ARG, "%s: no room for the records",
                    path ? path : "(null)");
    memset(&f, 0, sizeof f);
    rc = idx_open(&f, path, images, msg, msgsize);
    if (rc == FMNIST_OK && declared)
        *declared = f.count;
    if (rc == FMNIST_OK)
        rc = idx_read(&f, out, cap, msg, msgsize);
    idx_close(&f);
    return rc;
}

int fmnist_read_images(const char *path, float *out, int cap, int *declared,
                       char *msg, size_t msgsize)
{
    return read_file(path, 1, out, cap, declared, msg, msgsize);
}

int fmnist_read_labels(const char *path, int32_t *out, int cap, int *declared,
                       char *msg, size_t msgsize)
{
    return read_file(path, 0, out, cap, declared, msg, msgsize);
}

static int count_file(const char *path, int images, int *count, char *msg,
                      size_t msgsize)
{
    idx_file f;
    int rc;

    clear_msg(msg, msgsize);
    if (!count)
        return fail(msg, msgsize, FMNIST_ERR_ARG, "no place for the count");
    memset(&f, 0, sizeof f);
    rc = idx_open(&f, path, images, msg, msgsize);
    *count = rc == FMNIST_OK ? f.count : 0;
    idx_close(&f);
    return rc;
}

int fmnist_count_images(const char *path, int *count, char *msg, size_t msgsize)
{
    return count_file(path, 1, count, msg, msgsize);
}

int fmnist_count_labels(const char *path, int *count, char *msg, size_t msgsize)
{
    return count_file(path, 0, count, msg, msgsize);
}

void fmnist_free(fmnist_set *set)
{
    if (!set)
        return;
    free(set->images);
    free(set->labels);
    memset(set, 0, sizeof *set);
}

static int load_split(const char *ipath, const char *lpath, int limit,
                      fmnist_set *set, char *msg, size_t msgsize)
{
    int nimg, nlab, n, rc;

    rc = fmnist_count_images(ipath, &nimg, msg, msgsize);
    if (rc == FMNIST_OK)
        rc = fmnist_count_labels(lpath, &nlab, msg, msgsize);
    if (rc != FMNIST_OK)
        return rc;
    if (nimg != nlab)
        return fail(msg, msgsize, FMNIST_ERR_COUNT,
                    "%s declares %d images but %s declares %d labels",
                    ipath, nimg, lpath, nlab);
    n = limit > 0 && limit < nimg ? limit : nimg;
    set->images = malloc((size_t)n * FMNIST_PIXELS * sizeof *set->images);
    set->labels = malloc((size_t)n * sizeof *set->labels);
    if (!set->images || !set->labels)
        return fail(msg, msgsize, FMNIST_ERR_NOMEM,
                    "%s: out of memory for %d images", ipath, n);
    set->n = n;
    rc = fmnist_read_images(ipath, set->images, n, NULL, msg, msgsize);
    if (rc == FMNIST_OK)
        rc = fmnist_read_labels(lpath, set->labels, n, NULL, msg, msgsize);
    return rc;
}

int fmnist_load(const char *dir, const char *split, int limit, fmnist_set *set,
                char *msg, size_t msgsize)
{
    char ipath[4096], lpath[4096];
    int rc, a, b;

    clear_msg(msg, msgsize);
    if (!set)
        return fail(msg, msgsize, FMNIST_ERR_ARG, "no set to fill");
    memset(set, 0, sizeof *set);
    if (!split || limit < 0)
        return fail(msg, msgsize, FMNIST_ERR_ARG,
                    !split ? "no split given" : "negative limit %d", limit);
    if (!dir)
        dir = FMNIST_DEFAULT_DIR;
    a = snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, split);
    b = snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    if (a < 0 || b < 0 || (size_t)a >= sizeof ipath || (size_t)b >= sizeof lpath)
        return fail(msg, msgsize, FMNIST_ERR_ARG, "%s: directory name too long", dir);
    rc = load_split(ipath, lpath, limit, set, msg, msgsize);
    if (rc != FMNIST_OK)
        fmnist_free(set);
    return rc;
}
