/* Fashion-MNIST (and MNIST) reader for the examples: reads the gzip'ed IDX
 * files of Debian's dataset-fashion-mnist directly with zlib (plain,
 * uncompressed IDX files read too).  Images become float in [0, 1], laid out
 * NCHW as [N, 1, 28, 28]; labels become int32 in 0..9.  Every check names the
 * file and, where it applies, the record (records count from 0).  The library
 * never prints and never exits: it returns an FMNIST_ code and writes the
 * detail into a caller-supplied message buffer. */
#ifndef FASHION_MNIST_H
#define FASHION_MNIST_H

#include <stddef.h>
#include <stdint.h>

#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define FMNIST_ROWS 28
#define FMNIST_COLS 28
#define FMNIST_PIXELS (FMNIST_ROWS * FMNIST_COLS) /* floats per image */
#define FMNIST_CLASSES 10
#define FMNIST_MAX_RECORDS 10000000 /* a header declaring more is rejected */

enum {
    FMNIST_OK = 0,
    FMNIST_ERR_ARG = 1,      /* NULL or otherwise invalid argument */
    FMNIST_ERR_OPEN = 2,     /* the file is missing or cannot be opened */
    FMNIST_ERR_NOMEM = 3,    /* allocation failed */
    FMNIST_ERR_READ = 4,     /* the file ends early, or the gzip data is corrupt */
    FMNIST_ERR_MAGIC = 5,    /* not an IDX file of the expected kind */
    FMNIST_ERR_DIMS = 6,     /* image size not 28x28, or a count of 0 or too many */
    FMNIST_ERR_TRAILING = 7, /* data after the last record the header declares */
    FMNIST_ERR_COUNT = 8,    /* image and label files hold different counts */
    FMNIST_ERR_LABEL = 9,    /* a label outside 0..9 */
    FMNIST_ERR__COUNT
};

const char *fmnist_strerror(int err);

/* The class names, index 0..9 ("T-shirt/top" ... "Ankle boot"). */
const char *fmnist_class_name(int label);

/* ---- one file, caller-owned memory -------------------------------------
 * Reads the records of an images file (magic 0x00000803, 28x28) or a labels
 * file (magic 0x00000801) into `out`, which holds `cap` records.  Reads
 * min(cap, declared count) records; *declared gets the header's count
 * (may be NULL).  When every declared record is read, trailing bytes are an
 * error.  On failure the contents of `out` are unspecified.  `msg` (may be
 * NULL) receives "path: what is wrong". */
int fmnist_read_images(const char *path, float *out, int cap, int *declared,
                       char *msg, size_t msgsize);
int fmnist_read_labels(const char *path, int32_t *out, int cap, int *declared,
                       char *msg, size_t msgsize);

/* Reads only the header of an images or labels file: the declared count. */
int fmnist_count_images(const char *path, int *count, char *msg, size_t msgsize);
int fmnist_count_labels(const char *path, int *count, char *msg, size_t msgsize);

/* ---- a whole split, malloc'ed ------------------------------------------ */
typedef struct fmnist_set {
    int n;            /* records held */
    float *images;    /* [n, 1, 28, 28], in [0, 1] */
    int32_t *labels;  /* [n], in 0..9 */
} fmnist_set;

/* Reads <dir>/<split>-images-idx3-ubyte.gz and <dir>/<split>-labels-idx1-ubyte.gz
 * (split "train" or "t10k"; dir NULL means FMNIST_DEFAULT_DIR), checking that
 * both declare the same count.  limit > 0 keeps only the first `limit`
 * records (the rest of the files is then not read); 0 reads all.  On
 * failure *set is all zero and nothing stays allocated. */
int fmnist_load(const char *dir, const char *split, int limit, fmnist_set *set,
                char *msg, size_t msgsize);
void fmnist_free(fmnist_set *set);

#endif
