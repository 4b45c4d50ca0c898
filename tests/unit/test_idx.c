/* Unit tests of the Fashion-MNIST IDX reader (examples/fashion_mnist.c):
 * small good and bad IDX files, gzip'ed and plain, written to a temporary
 * directory, each error checked for its code and for a message naming the
 * file and the record; then the real test set from dataset-fashion-mnist.
 * Includes the reader itself so it builds alone; link with -lz.
 * One PASS/FAIL line per check; exit 1 if any failed. */
#include "../../examples/fashion_mnist.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
static char tmpdir[64];
static char created[64][256];
static int ncreated;

static void check(int ok, const char *name, const char *why)
{
    if (ok)
        printf("PASS idx_%s\n", name);
    else {
        printf("FAIL idx_%s: %s\n", name, why);
        failures++;
    }
}

/* Checks the code and that the message holds each of up to two strings. */
static void check_err(const char *name, int rc, int want, const char *msg,
                      const char *has1, const char *has2)
{
    char why[700];

    if (rc != want)
        snprintf(why, sizeof why, "code %d (%s), expected %d (%s); message: %s",
                 rc, fmnist_strerror(rc), want, fmnist_strerror(want), msg);
    else if ((has1 && !strstr(msg, has1)) || (has2 && !strstr(msg, has2)))
        snprintf(why, sizeof why, "message \"%s\" lacks \"%s\"", msg,
                 has1 && !strstr(msg, has1) ? has1 : has2);
    else
        why[0] = '\0';
    check(why[0] == '\0', name, why);
}

/* ---- building IDX files ------------------------------------------------ */
typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (n == 0)
        return;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            fprintf(stderr, "test_idx: out of memory\n");
            exit(1);
        }
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put32(bytes *b, unsigned long v)
{
    unsigned char c[4];
    c[0] = (unsigned char)(v >> 24);
    c[1] = (unsigned char)(v >> 16);
    c[2] = (unsigned char)(v >> 8);
    c[3] = (unsigned char)v;
    put(b, c, 4);
}

/* Pixel p of image k: varied bytes (poorly compressible), with 0 and 255. */
static unsigned char pixel(int k, int p)
{
    unsigned long x = (unsigned long)(k * FMNIST_PIXELS + p) + 0x9e3779b9u;
    x = ((x >> 16) ^ x) * 0x45d9f3bu & 0xffffffffu;
    x = ((x >> 16) ^ x) * 0x45d9f3bu & 0xffffffffu;
    return p == 0 ? 0 : p == 1 ? 255 : (unsigned char)((x >> 16) ^ x);
}

/* An images file: header (magic, count, rows, cols), then `bytes_of_data`
 * bytes of pixels (normally count*rows*cols). */
static bytes images_idx(unsigned long magic, unsigned long count, unsigned long rows,
                        unsigned long cols, size_t bytes_of_data)
{
    bytes b = {0, 0, 0};
    size_t i;

    put32(&b, magic);
    put32(&b, count);
    put32(&b, rows);
    put32(&b, cols);
    for (i = 0; i < bytes_of_data; i++) {
        unsigned char c = pixel((int)(i / FMNIST_PIXELS), (int)(i % FMNIST_PIXELS));
        put(&b, &c, 1);
    }
    return b;
}

static bytes labels_idx(unsigned long magic, unsigned long count,
                        const unsigned char *labels, size_t n)
{
    bytes b = {0, 0, 0};
    put32(&b, magic);
    put32(&b, count);
    put(&b, labels, n);
    return b;
}

static const char *path_of(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

/* Keeps the name for the clean-up; returns a copy that stays valid. */
static const char *remember(const char *path)
{
    int i;
    for (i = 0; i < ncreated; i++)
        if (strcmp(created[i], path) == 0)
            return created[i];
    if (ncreated == 64) {
        fprintf(stderr, "test_idx: too many files\n");
        exit(1);
    }
    snprintf(created[ncreated], sizeof created[0], "%s", path);
    return created[ncreated++];
}

/* Writes b (then frees it) as a gzip file, or plain when gz is 0. */
static const char *write_file(const char *name, bytes b, int gz)
{
    const char *path = path_of(name);
    int ok;

    if (gz) {
        gzFile f = gzopen(path, "wb");
        ok = f && (b.n == 0 || gzwrite(f, b.p, (unsigned)b.n) == (int)b.n);
        ok = f && gzclose(f) == Z_OK && ok;
    } else {
        FILE *f = fopen(path, "wb");
        ok = f && (b.n == 0 || fwrite(b.p, 1, b.n, f) == b.n);
        ok = f && fclose(f) == 0 && ok;
    }
    if (!ok) {
        fprintf(stderr, "test_idx: cannot write %s\n", path);
        exit(1);
    }
    free(b.p);
    return remember(path);
}

/* Rewrites the file at path keeping `keep` bytes, flipping byte `flip`
 * (when >= 0) first. */
static void damage(const char *path, long keep, long flip)
{
    unsigned char buf[1 << 16];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (!f) {
        fprintf(stderr, "test_idx: cannot reopen %s\n", path);
        exit(1);
    }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (flip >= 0 && (size_t)flip < n)
        buf[flip] ^= 0x5a;
    if (keep >= 0 && (size_t)keep < n)
        n = (size_t)keep;
    f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "test_idx: cannot rewrite %s\n", path);
        exit(1);
    }
}

static long file_size(const char *path)
{
    long n;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

static const unsigned char good_labels[3] = {9, 0, 3};
#define IMG_BYTES(n) ((size_t)(n) * FMNIST_PIXELS)

/* ---- good files ---------------------------------------------------------- */
static int images_match(const float *img, int first, int n)
{
    int k, p;
    for (k = first; k < first + n; k++)
        for (p = 0; p < FMNIST_PIXELS; p++)
            if (img[(size_t)(k - first) * FMNIST_PIXELS + p] != (float)pixel(k, p) / 255.0f)
                return 0;
    return 1;
}

static void test_good(void)
{
    static float img[4 * FMNIST_PIXELS];
    int32_t lab[4] = {-1, -1, -1, -1};
    char msg[512], why[600];
    int declared = 0, rc;
    const char *ip, *lp;

    ip = write_file("good-images.gz", images_idx(0x803, 3, 28, 28, IMG_BYTES(3)), 1);
    img[3 * FMNIST_PIXELS] = -7.0f;
    rc = fmnist_read_images(ip, img, 4, &declared, msg, sizeof msg);
    snprintf(why, sizeof why, "rc %d, declared %d: %s", rc, declared, msg);
    check(rc == FMNIST_OK && declared == 3 && msg[0] == '\0', "good_images_read", why);
    check(rc == FMNIST_OK && images_match(img, 0, 3) && img[1] == 1.0f && img[0] == 0.0f &&
          img[3 * FMNIST_PIXELS] == -7.0f,
          "good_images_values", "pixels not byte/255 in NCHW order, or wrote past the records");

    lp = write_file("good-labels.gz", labels_idx(0x801, 3, good_labels, 3), 1);
    rc = fmnist_read_labels(lp, lab, 4, &declared, msg, sizeof msg);
    snprintf(why, sizeof why, "rc %d, labels %d %d %d %d: %s", rc, (int)lab[0],
             (int)lab[1], (int)lab[2], (int)lab[3], msg);
    check(rc == FMNIST_OK && declared == 3 && lab[0] == 9 && lab[1] == 0 &&
          lab[2] == 3 && lab[3] == -1, "good_labels", why);

    ip = write_file("plain-images", images_idx(0x803, 2, 28, 28, IMG_BYTES(2)), 0);
    rc = fmnist_read_images(ip, img, 2, NULL, msg, sizeof msg);
    check(rc == FMNIST_OK && images_match(img, 0, 2), "plain_uncompressed_file", msg);

    ip = path_of("good-images.gz");
    img[FMNIST_PIXELS] = -7.0f;
    rc = fmnist_read_images(ip, img, 1, &declared, msg, sizeof msg);
    check(rc == FMNIST_OK && declared == 3 && images_match(img, 0, 1) &&
          img[FMNIST_PIXELS] == -7.0f, "read_fewer_than_declared",
          "cap 1 did not read exactly one record");

    rc = fmnist_count_images(ip, &declared, msg, sizeof msg);
    check(rc == FMNIST_OK && declared == 3, "count_images", msg);
    rc = fmnist_count_labels(lp, &declared, msg, sizeof msg);
    check(rc == FMNIST_OK && declared == 3, "count_labels", msg);
}

static void test_load(void)
{
    fmnist_set set;
    char msg[512], why[600];
    int rc;

    write_file("train-images-idx3-ubyte.gz", images_idx(0x803, 3, 28, 28, IMG_BYTES(3)), 1);
    write_file("train-labels-idx1-ubyte.gz", labels_idx(0x801, 3, good_labels, 3), 1);
    rc = fmnist_load(tmpdir, "train", 0, &set, msg, sizeof msg);
    snprintf(why, sizeof why, "rc %d, n %d: %s", rc, set.n, msg);
    check(rc == FMNIST_OK && set.n == 3 && images_match(set.images, 0, 3) &&
          set.labels[0] == 9 && set.labels[1] == 0 && set.labels[2] == 3,
          "load_split", why);
    fmnist_free(&set);
    check(set.images == NULL && set.labels == NULL && set.n == 0, "free_clears", "set not cleared");

    rc = fmnist_load(tmpdir, "train", 2, &set, msg, sizeof msg);
    check(rc == FMNIST_OK && set.n == 2 && images_match(set.images, 0, 2) &&
          set.labels[1] == 0, "load_limit", msg);
    fmnist_free(&set);
    rc = fmnist_load(tmpdir, "train", 100, &set, msg, sizeof msg);
    check(rc == FMNIST_OK && set.n == 3, "load_limit_above_count", msg);
    fmnist_free(&set);
}

/* ---- bad files ----------------------------------------------------------- */
static void test_missing(void)
{
    fmnist_set set;
    float img[FMNIST_PIXELS];
    char msg[512], want[300];
    int rc;

    rc = fmnist_read_images(path_of("no-such-file.gz"), img, 1, NULL, msg, sizeof msg);
    check_err("missing_file", rc, FMNIST_ERR_OPEN, msg, "no-such-file.gz", "No such file");

    snprintf(want, sizeof want, "%s/t10k-images-idx3-ubyte.gz", tmpdir);
    rc = fmnist_load(tmpdir, "t10k", 0, &set, msg, sizeof msg);
    check_err("load_missing_split", rc, FMNIST_ERR_OPEN, msg, want, NULL);
    check(set.n == 0 && set.images == NULL && set.labels == NULL,
          "load_failure_leaves_set_empty", "set not zero after a failure");

    write_file("only-images-idx3-ubyte.gz", images_idx(0x803, 3, 28, 28, IMG_BYTES(3)), 1);
    rc = fmnist_load(tmpdir, "only", 0, &set, msg, sizeof msg);
    check_err("load_missing_labels", rc, FMNIST_ERR_OPEN, msg, "only-labels-idx1-ubyte.gz", NULL);
}

static void test_magic_and_dims(void)
{
    static float img[3 * FMNIST_PIXELS];
    int32_t lab[3];
    char msg[512];
    const char *p;
    int rc;

    p = write_file("magic.gz", images_idx(0x12345678, 3, 28, 28, IMG_BYTES(3)), 1);
    rc = fmnist_read_images(p, img, 3, NULL, msg, sizeof msg);
    check_err("bad_magic", rc, FMNIST_ERR_MAGIC, msg, "magic.gz", "bad magic 0x12345678");

    p = write_file("labels-as-images.gz", labels_idx(0x801, 3, good_labels, 3), 1);
    rc = fmnist_read_images(p, img, 3, NULL, msg, sizeof msg);
    check_err("labels_file_as_images", rc, FMNIST_ERR_MAGIC, msg, "labels-as-images.gz",
              "labels file");

    p = write_file("images-as-labels.gz", images_idx(0x803, 3, 28, 28, IMG_BYTES(3)), 1);
    rc = fmnist_read_labels(p, lab, 3, NULL, msg, sizeof msg);
    check_err("images_file_as_labels", rc, FMNIST_ERR_MAGIC, msg, "images-as-labels.gz",
              "images file");

    p = write_file("text.gz", images_idx(0x2f2a2064, 0, 0, 0, 0), 0);
    rc = fmnist_read_images(p, img, 3, NULL, msg, sizeof msg);
    check_err("not_idx_at_all", rc, FMNIST_ERR_MAGIC, msg, "text.gz", "bad magic");

    p = write_file("rows.gz", images_idx(0x803, 3, 32, 28, (size_t)3 * 32 * 28), 1);
    rc = fmnist_read_images(p, img, 3, NULL, msg, sizeof msg);
    check_err("wrong_dimensions", rc, FMNIST_ERR_DIMS, msg, "rows.gz", "32x28, expected 28x28");

    p = write_file("zero.gz", images_idx(0x803, 0, 28, 28, 0), 1);
    rc = fmnist_read_images(p, img, 3, NULL, msg, sizeof msg);
    check_err("zero_count", rc, FMNIST_ERR_DIMS, msg, "zero.gz", "declares 0 images");

    p = write_file("huge.gz", labels_idx(0x801, 0xffffffffu, good_labels, 3), 1);
    rc = fmnist_read_labels(p, lab, 3, NULL, msg, sizeof msg);
    check_err("absurd_count", rc, FMNIST_ERR_DIMS, msg, "huge.gz", "4294967295 labels");
}

static void test_truncated(void)
{
    static float img[3 * FMNIST_PIXELS];
    int32_t lab[3];
    char msg[512];
    const char *p;
    long size;
    int rc;

    p = write_file("short.gz", images_idx(0x803, 3, 28, 28, IMG_BYTES(2) + 100), 1);
    rc = fmnist_read_images(p, img, 3, NULL, msg, sizeof msg);
    check_err("truncated_record", rc, FMNIST_ERR_READ, msg, "short.gz: truncated",
              "in record 2 of the 3");

    p = write_file("short-labels.gz", labels_idx(0x801, 3, good_labels, 1), 1);
    rc = fmnist_read_labels(p, lab, 3, NULL, msg, sizeof msg);
    check_err("truncated_labels", rc, FMNIST_ERR_READ, msg, "short-labels.gz", "in record 1 of");

    {   /* 10 of the 16 header bytes */
        bytes b = images_idx(0x803, 3, 28, 28, 0);
        b.n = 10;
        p = write_file("header.gz", b, 1);
    }
    rc = fmnist_read_images(p, img, 3, NULL, msg, sizeof msg);
    check_err("truncated_header", rc, FMNIST_ERR_READ, msg, "header.gz", "16-byte header");

    {
        bytes none = {0, 0, 0};
        p = write_file("empty.gz", none, 0);
    }
    rc = fmnist_read_labels(p, lab, 3, NULL, msg, sizeof msg);
    check_err("empty_file", rc, FMNIST_ERR_READ, msg, "empty.gz", "empty");

    /* A download cut short: the compressed file itself is cut in half. */
    p = write_file("cut.gz", images_idx(0x803, 3, 28, 28, IMG_BYTES(3)), 1);
    size = file_size(p);
    damage(p, size / 2, -1);
    rc = fmnist_read_images(p, img, 3, NULL, msg, sizeof msg);
    check_err("truncated_gzip_stream", rc, FMNIST_ERR_READ, msg, "cut.gz: truncated",
              "in record ");

    /* All records there, the gzip trailer (CRC, size) cut off. */
    p = write_file("trailer.gz", labels_idx(0x801, 3, good_labels, 3), 1);
    damage(p, file_size(p) - 8, -1);
    rc = fmnist_read_labels(p, lab, 3, NULL, msg, sizeof msg);
    check_err("missing_gzip_trailer", rc, FMNIST_ERR_READ, msg, "trailer.gz",
              "after the last record");

    /* A flipped byte in the stored CRC-32. */
    p = write_file("crc.gz", labels_idx(0x801, 3, good_labels, 3), 1);
    damage(p, -1, file_size(p) - 8);
    rc = fmnist_read_labels(p, lab, 3, NULL, msg, sizeof msg);
    check_err("corrupt_gzip_crc", rc, FMNIST_ERR_READ, msg, "crc.gz: corrupt gzip data",
              NULL);
}

static void test_contents(void)
{
    static const unsigned char bad[3] = {1, 10, 2};
    static const unsigned char extra[5] = {1, 2, 3, 4, 5};
    fmnist_set set;
    int32_t lab[3];
    char msg[512], want[300];
    const char *p;
    int rc;

    p = write_file("range.gz", labels_idx(0x801, 3, bad, 3), 1);
    rc = fmnist_read_labels(p, lab, 3, NULL, msg, sizeof msg);
    check_err("label_out_of_range", rc, FMNIST_ERR_LABEL, msg, "range.gz: record 1",
              "label 10 is outside 0..9");
    rc = fmnist_read_labels(p, lab, 1, NULL, msg, sizeof msg);
    check(rc == FMNIST_OK && lab[0] == 1, "label_check_only_read_records",
          "a limit of 1 should not read record 1");

    {
        bytes b = labels_idx(0x801, 3, good_labels, 3);
        put(&b, extra, sizeof extra);
        p = write_file("trailing.gz", b, 1);
    }
    rc = fmnist_read_labels(p, lab, 3, NULL, msg, sizeof msg);
    check_err("trailing_data", rc, FMNIST_ERR_TRAILING, msg, "trailing.gz",
              "the 3 records");

    write_file("mix-images-idx3-ubyte.gz", images_idx(0x803, 3, 28, 28, IMG_BYTES(3)), 1);
    write_file("mix-labels-idx1-ubyte.gz", labels_idx(0x801, 2, good_labels, 2), 1);
    snprintf(want, sizeof want, "%s/mix-labels-idx1-ubyte.gz declares 2 labels", tmpdir);
    rc = fmnist_load(tmpdir, "mix", 0, &set, msg, sizeof msg);
    check_err("count_mismatch", rc, FMNIST_ERR_COUNT, msg, "mix-images-idx3-ubyte.gz declares 3 images",
              want);

    write_file("lab-images-idx3-ubyte.gz", images_idx(0x803, 3, 28, 28, IMG_BYTES(3)), 1);
    write_file("lab-labels-idx1-ubyte.gz", labels_idx(0x801, 3, bad, 3), 1);
    rc = fmnist_load(tmpdir, "lab", 0, &set, msg, sizeof msg);
    check_err("load_label_out_of_range", rc, FMNIST_ERR_LABEL, msg,
              "lab-labels-idx1-ubyte.gz: record 1", NULL);
    check(set.images == NULL && set.labels == NULL, "load_frees_on_error",
          "arrays left after a failed load");
}

static void test_api(void)
{
    float img[FMNIST_PIXELS];
    int n = 7, i, ok = 1;
    char msg[512];

    check(fmnist_read_images(path_of("good-images.gz"), NULL, 1, NULL, msg, sizeof msg)
          == FMNIST_ERR_ARG, "null_buffer", "NULL output accepted");
    check(fmnist_read_images(path_of("good-images.gz"), img, -1, NULL, msg, sizeof msg)
          == FMNIST_ERR_ARG, "negative_cap", "cap -1 accepted");
    check(fmnist_read_images(NULL, img, 1, NULL, NULL, 0) == FMNIST_ERR_ARG,
          "null_path_null_msg", "NULL path accepted");
    check(fmnist_load(tmpdir, "train", 0, NULL, msg, sizeof msg) == FMNIST_ERR_ARG,
          "null_set", "NULL set accepted");
    check(fmnist_count_images(path_of("no-such-file.gz"), &n, msg, 8) == FMNIST_ERR_OPEN &&
          strlen(msg) == 7 && n == 0, "message_truncated_to_buffer",
          "message overran an 8-byte buffer or count not zeroed");
    for (i = 0; i < FMNIST_ERR__COUNT; i++)
        ok &= strcmp(fmnist_strerror(i), "unknown error code") != 0 &&
              (i == 0 || strcmp(fmnist_strerror(i), fmnist_strerror(i - 1)) != 0);
    check(ok && strcmp(fmnist_strerror(FMNIST_ERR__COUNT), "unknown error code") == 0,
          "strerror", "a code without its own text");
    check(strcmp(fmnist_class_name(0), "T-shirt/top") == 0 &&
          strcmp(fmnist_class_name(9), "Ankle boot") == 0 &&
          strcmp(fmnist_class_name(10), "?") == 0, "class_names", "wrong class names");
}

/* ---- the real data set ----------------------------------------------------- */
static void test_real(void)
{
    fmnist_set set;
    int per_class[FMNIST_CLASSES] = {0}, i, n = 0, ok = 1;
    char msg[512], why[600];
    size_t j;
    float lo = 1, hi = 0;
    int rc = fmnist_load(NULL, "t10k", 0, &set, msg, sizeof msg);

    if (rc != FMNIST_OK) {
        snprintf(why, sizeof why, "%s (install dataset-fashion-mnist: make deps)", msg);
        check(0, "real_t10k", why);
        return;
    }
    for (i = 0; i < set.n; i++)
        per_class[set.labels[i]]++;
    for (i = 0; i < FMNIST_CLASSES; i++)
        ok &= per_class[i] == 1000;
    for (j = 0; j < (size_t)set.n * FMNIST_PIXELS; j++) {
        lo = set.images[j] < lo ? set.images[j] : lo;
        hi = set.images[j] > hi ? set.images[j] : hi;
    }
    snprintf(why, sizeof why, "n %d, first label %d, pixels in [%g, %g]", set.n,
             (int)set.labels[0], lo, hi);
    check(set.n == 10000 && ok && set.labels[0] == 9 && lo == 0.0f && hi == 1.0f,
          "real_t10k", why);
    fmnist_free(&set);
    rc = fmnist_count_images(FMNIST_DEFAULT_DIR "/train-images-idx3-ubyte.gz", &n, msg,
                             sizeof msg);
    check(rc == FMNIST_OK && n == 60000, "real_train_count", msg);
}

int main(void)
{
    int i;

    snprintf(tmpdir, sizeof tmpdir, "%s/test_idx.XXXXXX",
             getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 40 ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL idx_setup: cannot create a temporary directory\n");
        return 1;
    }
    test_good();
    test_load();
    test_missing();
    test_magic_and_dims();
    test_truncated();
    test_contents();
    test_api();
    test_real();
    for (i = 0; i < ncreated; i++)
        remove(created[i]);
    rmdir(tmpdir);
    return failures ? 1 : 0;
}
