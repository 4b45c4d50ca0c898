/* Unit tests of the safetensors reader and writer: save/load round trips
 * (metadata, rank 0, padding), every validation error of dlc_st_load and
 * dlc_st_open on files written byte by byte into a temporary directory
 * (checking the exact code, the message, and that the caller's data is
 * unchanged), dtype conversion in dlc_st_to_f64, and atomic saving that
 * leaves the old file intact when the write cannot happen.  One PASS/FAIL
 * line per check ('#' lines are notes); exit 1 if any failed. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, symlink, lstat, setrlimit */
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlc_runtime.h"

#include "check.h"
static char dir[64];



static void path_of(char *out, size_t cap, const char *file)
{
    snprintf(out, cap, "%s/%s", dir, file);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* The whole file, malloc'd, or NULL; *n gets its size. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 20);

    *n = 0;
    if (f == NULL) {
        free(buf);
        return NULL;
    }
    *n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void put_le(unsigned char *p, uint64_t v, int nbytes)
{
    int i;
    for (i = 0; i < nbytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f32(unsigned char *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    put_le(p, u, 4);
}

/* A file: length, header text (the length field says hdr_len, normally
 * strlen(hdr)), then ndata bytes of data. */
static void write_st_len(const char *path, uint64_t hdr_len, const char *hdr,
                         const unsigned char *data, size_t ndata)
{
    size_t h = strlen(hdr);
    unsigned char *buf = malloc(8 + h + ndata);

    put_le(buf, hdr_len, 8);
    memcpy(buf + 8, hdr, h);
    if (ndata)
        memcpy(buf + 8 + h, data, ndata);
    write_bytes(path, buf, 8 + h + ndata);
    free(buf);
}

static void write_st(const char *path, const char *hdr,
                     const unsigned char *data, size_t ndata)
{
    write_st_len(path, strlen(hdr), hdr, data, ndata);
}

/* ---- the test model: a.weight [2,3] then a.bias [3] -------------------- */

static const dlc_tensor_desc descs[2] = {
    {"a.weight", 2, {2, 3}, 0, 6},
    {"a.bias", 1, {3}, 6, 3},
};

#define GOOD_W "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"
#define GOOD_B "\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}"
#define GOOD_HDR "{" GOOD_W "," GOOD_B "}"

static unsigned char good_data[64];

static void init_good_data(void)
{
    int i;
    for (i = 0; i < 16; i++)
        put_f32(good_data + 4 * i, (float)(i + 1) * 0.5f);
}

static int all_sentinel(const dlc_float *x, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (x[i] != (dlc_float)7.25)
            return 0;
    return 1;
}

/* Loads path with the test model and checks the code, that data is
 * untouched, and that the message names the file and holds `needle`.  Then
 * opens it with dlc_st_open and checks open_code. */
static void expect(const char *name, const char *path, int code,
                   const char *needle, int open_code)
{
    dlc_float data[9];
    dlc_errinfo err;
    dlc_st_file f;
    char why[400];
    int i, rc, orc;

    for (i = 0; i < 9; i++)
        data[i] = (dlc_float)7.25;
    strcpy(err.msg, "");
    rc = dlc_st_load(path, descs, 2, data, &err);
    orc = dlc_st_open(path, &f, NULL);
    snprintf(why, sizeof why, "load returned %d (want %d), open %d (want %d),"
             " msg \"%s\"", rc, code, orc, open_code, err.msg);
    check(rc == code && all_sentinel(data, 9) && strstr(err.msg, path) &&
          strstr(err.msg, needle) && orc == open_code &&
          (orc == DLC_OK || (f.buf == NULL && f.tensors == NULL)),
          name, why);
    dlc_st_close(&f);
}

/* Writes hdr + 40 bytes of good data (room for one extra float) to
 * <name>.safetensors and runs expect(). */
static void expect_hdr(const char *name, const char *hdr, int code,
                       const char *needle, int open_code)
{
    char path[128];

    path_of(path, sizeof path, name);
    write_st(path, hdr, good_data, 40);
    expect(name, path, code, needle, open_code);
}

/* ---- framing ------------------------------------------------------------- */

static void test_framing(void)
{
    char path[128];
    unsigned char small[5] = {1, 0, 0, 0, 0};

    path_of(path, sizeof path, "st_short");
    write_bytes(path, small, sizeof small);
    expect("st_file_shorter_than_8_bytes", path, DLC_ERR_READ, "truncated",
           DLC_ERR_READ);
    path_of(path, sizeof path, "st_empty");
    write_bytes(path, small, 0);
    expect("st_empty_file", path, DLC_ERR_READ, "truncated", DLC_ERR_READ);
    path_of(path, sizeof path, "st_hlen_past_end");
    write_st_len(path, strlen(GOOD_HDR) + 37, GOOD_HDR, good_data, 36);
    expect("st_header_length_past_end", path, DLC_ERR_READ, "truncated",
           DLC_ERR_READ);
    path_of(path, sizeof path, "st_hlen_absurd");
    write_st_len(path, (uint64_t)1 << 60, GOOD_HDR, good_data, 36);
    expect("st_header_length_absurd", path, DLC_ERR_FORMAT, "absurd",
           DLC_ERR_FORMAT);
    path_of(path, sizeof path, "st_data_truncated");
    write_st(path, GOOD_HDR, good_data, 30);
    expect("st_data_region_truncated", path, DLC_ERR_OFFSETS, "\"a.bias\"",
           DLC_ERR_OFFSETS);
    path_of(path, sizeof path, "st_no_such_file");
    expect("st_missing_file", path, DLC_ERR_OPEN, "cannot open",
           DLC_ERR_OPEN);
    expect("st_path_is_directory", dir, DLC_ERR_READ, "read failed",
           DLC_ERR_READ);
}

/* ---- header syntax and field types ---------------------------------------- */

static void test_header_json(void)
{
    expect_hdr("st_bad_json_unclosed", "{" GOOD_W "," GOOD_B, DLC_ERR_FORMAT,
               "bad header", DLC_ERR_FORMAT);
    expect_hdr("st_bad_json_trailing_comma", "{" GOOD_W "," GOOD_B ",}",
               DLC_ERR_FORMAT, "bad header", DLC_ERR_FORMAT);
    expect_hdr("st_bad_json_garbage_after", GOOD_HDR "x", DLC_ERR_FORMAT,
               "trailing", DLC_ERR_FORMAT);
    expect_hdr("st_header_not_object", "[1,2,3]", DLC_ERR_FORMAT,
               "expected an object", DLC_ERR_FORMAT);
    expect_hdr("st_header_not_json", "not json at all", DLC_ERR_FORMAT,
               "bad header", DLC_ERR_FORMAT);
    expect_hdr("st_tensor_not_object",
               "{\"a.weight\":[0,24]," GOOD_B "}", DLC_ERR_FORMAT,
               "\"a.weight\"", DLC_ERR_FORMAT);
    expect_hdr("st_shape_not_array",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":\"2x3\","
               "\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_FORMAT, "\"a.weight\"", DLC_ERR_FORMAT);
    expect_hdr("st_negative_dim",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[-2,3],"
               "\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_FORMAT, "non-negative integer", DLC_ERR_FORMAT);
    expect_hdr("st_fractional_offset",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
               "\"data_offsets\":[0,24.0]}," GOOD_B "}",
               DLC_ERR_FORMAT, "integer", DLC_ERR_FORMAT);
    expect_hdr("st_dtype_not_string",
               "{\"a.weight\":{\"dtype\":4,\"shape\":[2,3],"
               "\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_FORMAT, "expected a string", DLC_ERR_FORMAT);
    expect_hdr("st_three_offsets",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
               "\"data_offsets\":[0,24,36]}," GOOD_B "}",
               DLC_ERR_FORMAT, "exactly two", DLC_ERR_FORMAT);
    expect_hdr("st_missing_field",
               "{\"a.weight\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]},"
               GOOD_B "}", DLC_ERR_FORMAT, "required", DLC_ERR_FORMAT);
    expect_hdr("st_unknown_field",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"x\":1,"
               "\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_FORMAT, "unknown field", DLC_ERR_FORMAT);
    expect_hdr("st_field_twice",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"shape\":[2,3],"
               "\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_FORMAT, "twice", DLC_ERR_FORMAT);
    expect_hdr("st_rank_9",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2,3],"
               "\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_FORMAT, "more than 8", DLC_ERR_FORMAT);
    expect_hdr("st_nul_in_name",
               "{\"a\\u0000\":{\"dtype\":\"F32\",\"shape\":[],"
               "\"data_offsets\":[0,4]}}", DLC_ERR_FORMAT, "NUL",
               DLC_ERR_FORMAT);
    expect_hdr("st_metadata_value_not_string",
               "{\"__metadata__\":{\"step\":12}," GOOD_W "," GOOD_B "}",
               DLC_ERR_FORMAT, "must be strings", DLC_ERR_FORMAT);
    expect_hdr("st_shape_bytes_mismatch",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
               "\"data_offsets\":[0,20]}," GOOD_B "}",
               DLC_ERR_FORMAT, "need 24", DLC_ERR_FORMAT);
    expect_hdr("st_shape_overflow",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
               "4294967296],\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_FORMAT, "too large", DLC_ERR_FORMAT);
}

/* ---- dtypes, offsets, names ------------------------------------------------ */

static void test_header_semantics(void)
{
    expect_hdr("st_unknown_dtype",
               "{\"a.weight\":{\"dtype\":\"F12\",\"shape\":[2,3],"
               "\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_DTYPE, "unknown dtype", DLC_ERR_DTYPE);
    expect_hdr("st_offsets_past_data",
               "{" GOOD_W ",\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
               "\"data_offsets\":[32,44]}}",
               DLC_ERR_OFFSETS, "outside the data region", DLC_ERR_OFFSETS);
    expect_hdr("st_offsets_reversed",
               "{" GOOD_W ",\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
               "\"data_offsets\":[36,24]}}",
               DLC_ERR_OFFSETS, "\"a.bias\"", DLC_ERR_OFFSETS);
    expect_hdr("st_overlap",
               "{" GOOD_W ",\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
               "\"data_offsets\":[20,32]}}",
               DLC_ERR_OFFSETS, "overlap", DLC_ERR_OFFSETS);
    expect_hdr("st_overlap_contained",
               "{\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
               "\"data_offsets\":[4,16]}," GOOD_W "}",
               DLC_ERR_OFFSETS, "overlap", DLC_ERR_OFFSETS);
    expect_hdr("st_duplicate_name", "{" GOOD_W "," GOOD_B "," GOOD_W "}",
               DLC_ERR_DUPLICATE, "\"a.weight\" appears twice",
               DLC_ERR_DUPLICATE);
    expect_hdr("st_missing_tensor", "{" GOOD_W "}", DLC_ERR_MISSING,
               "tensor \"a.bias\" missing", DLC_OK);
    expect_hdr("st_wrong_shape",
               "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],"
               "\"data_offsets\":[0,24]}," GOOD_B "}",
               DLC_ERR_SHAPE,
               "tensor \"a.weight\": shape [2,3] expected, file has [3,2]",
               DLC_OK);
    expect_hdr("st_wrong_rank",
               "{" GOOD_W ",\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3,1],"
               "\"data_offsets\":[24,36]}}",
               DLC_ERR_SHAPE, "shape [3] expected, file has [3,1]", DLC_OK);
    expect_hdr("st_wrong_dtype",
               "{" GOOD_W ",\"a.bias\":{\"dtype\":\"I32\",\"shape\":[3],"
               "\"data_offsets\":[24,36]}}",
               DLC_ERR_DTYPE, "dtype I32, expected F32", DLC_OK);
    expect_hdr("st_unknown_extra_tensor",
               "{" GOOD_W "," GOOD_B ",\"b.weight\":{\"dtype\":\"F32\","
               "\"shape\":[1],\"data_offsets\":[36,40]}}",
               DLC_ERR_UNKNOWN, "\"b.weight\"", DLC_OK);
}

static void test_nonfinite(void)
{
    unsigned char data[36];
    char path[128];

    memcpy(data, good_data, 36);
    put_le(data + 4 * 7, 0x7FC00000u, 4); /* NaN at a.bias[1] */
    path_of(path, sizeof path, "st_nan");
    write_st(path, GOOD_HDR, data, 36);
    expect("st_nan_value", path, DLC_ERR_NONFINITE,
           "tensor \"a.bias\": element 1 is NaN", DLC_OK);
    memcpy(data, good_data, 36);
    put_le(data + 4 * 4, 0xFF800000u, 4); /* -inf at a.weight[4] */
    path_of(path, sizeof path, "st_inf");
    write_st(path, GOOD_HDR, data, 36);
    expect("st_inf_value", path, DLC_ERR_NONFINITE,
           "tensor \"a.weight\": element 4 is infinite", DLC_OK);
}

/* Every truncation and thousands of single-byte corruptions of a valid
 * file: each load must fail cleanly (or succeed) without touching data on
 * failure; run under -fsanitize=address this also proves memory safety. */
static void test_corruption(void)
{
    static const char structural[] = "{}[]\",:0-9e\x80\\";
    unsigned char file[256], bad[256];
    dlc_float data[9];
    dlc_rng r;
    char path[128];
    size_t n = 8 + strlen(GOOD_HDR) + 36, cut;
    int i, it, rc, ok = 1, codes_ok = 1;

    put_le(file, strlen(GOOD_HDR), 8);
    memcpy(file + 8, GOOD_HDR, strlen(GOOD_HDR));
    memcpy(file + 8 + strlen(GOOD_HDR), good_data, 36);
    path_of(path, sizeof path, "corrupt.safetensors");
    for (cut = 0; cut < n; cut++) {
        write_bytes(path, file, cut);
        for (i = 0; i < 9; i++)
            data[i] = (dlc_float)7.25;
        rc = dlc_st_load(path, descs, 2, data, NULL);
        ok &= rc != DLC_OK && all_sentinel(data, 9);
        codes_ok &= rc == DLC_ERR_READ || rc == DLC_ERR_OFFSETS ||
                    rc == DLC_ERR_FORMAT;
    }
    check(ok && codes_ok, "st_every_truncation_rejected",
          "a truncated file loaded or gave an unexpected code");
    dlc_rng_seed(&r, 5, 5);
    for (it = 0; it < 3000; it++) {
        memcpy(bad, file, n);
        bad[dlc_rng_u32(&r) % (n - 36)] = (unsigned char)dlc_rng_u32(&r);
        if (it % 3 == 0) /* a structural character somewhere */
            bad[dlc_rng_u32(&r) % (n - 36)] =
                (unsigned char)structural[it % (sizeof structural - 1)];
        write_bytes(path, bad, n);
        for (i = 0; i < 9; i++)
            data[i] = (dlc_float)7.25;
        rc = dlc_st_load(path, descs, 2, data, NULL);
        ok &= rc == DLC_OK || all_sentinel(data, 9);
        ok &= rc >= 0 && rc < DLC_ERR__COUNT;
    }
    check(ok, "st_corrupted_headers_fail_cleanly",
          "a corrupted file changed data or returned a bad code");
}

/* ---- files that must load --------------------------------------------------- */

static int load_good(const char *name, const char *hdr)
{
    dlc_float data[9];
    dlc_errinfo err;
    char path[128];
    int i, ok;

    path_of(path, sizeof path, name);
    write_st(path, hdr, good_data, 64);
    ok = dlc_st_load(path, descs, 2, data, &err) == DLC_OK;
    for (i = 0; i < 9; i++)
        ok &= data[i] == (dlc_float)((i + 1) * 0.5);
    return ok;
}

static void test_accepted(void)
{
    check(load_good("st_num_batches_tracked",
                    "{" GOOD_W ",\"bn.num_batches_tracked\":{\"dtype\":\"I64\","
                    "\"shape\":[],\"data_offsets\":[36,44]}," GOOD_B "}"),
          "st_num_batches_tracked_accepted", "load failed");
    check(load_good("st_padded_header",
                    " \n{ " GOOD_W " , " GOOD_B " }     \t\r\n   "),
          "st_whitespace_in_header_accepted", "load failed");
    check(load_good("st_metadata_and_gap",
                    "{\"__metadata__\":{\"format\":\"pt\",\"k\\\"\":\"\\u00e9\"},"
                    GOOD_W ",\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
                    "\"data_offsets\":[24,36]},\"x.num_batches_tracked\":"
                    "{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}"),
          "st_metadata_and_empty_tensor_accepted", "load failed");
}

static void test_roundtrip(void)
{
    static const char *const meta[4] = {"format", "pt",
                                        "note", "q\"uote\\ new\nline \xc3\xa9"};
    dlc_tensor_desc d[3] = {
        {"enc.weight", 2, {2, 3}, 0, 6},
        {"scale", 0, {0}, 6, 1},
        {"enc.bias", 1, {3}, 7, 3},
    };
    dlc_float in[10], out[10];
    dlc_errinfo err;
    dlc_st_file f;
    char path[128];
    uint64_t hlen;
    int i, ok;

    err.msg[0] = '\0';
    for (i = 0; i < 10; i++)
        in[i] = (dlc_float)((i - 4) * 0.375 + 1e-3);
    path_of(path, sizeof path, "roundtrip.safetensors");
    ok = dlc_st_save(path, d, 3, in, meta, 2, &err) == DLC_OK &&
         dlc_st_load(path, d, 3, out, &err) == DLC_OK;
    for (i = 0; ok && i < 10; i++)
        ok &= out[i] == (dlc_float)(float)in[i];
    check(ok, "st_save_load_roundtrip", err.msg);

    ok = dlc_st_open(path, &f, &err) == DLC_OK && f.ntensors == 3;
    if (ok) {
        hlen = 0;
        for (i = 7; i >= 0; i--)
            hlen = (hlen << 8) | f.buf[i];
        ok = hlen % 8 == 0 && f.size == 8 + hlen + 40 && f.buf[8] == '{' &&
             strcmp(f.tensors[0].name, "enc.weight") == 0 &&
             strcmp(f.tensors[1].name, "scale") == 0 &&
             f.tensors[1].rank == 0 && f.tensors[1].count == 1 &&
             f.tensors[2].data == f.buf + 8 + hlen + 28 &&
             f.tensors[0].data == f.buf + 8 + hlen &&
             strcmp(f.tensors[2].dtype, "F32") == 0 &&
             f.tensors[0].dims[0] == 2 && f.tensors[0].dims[1] == 3;
        ok &= strstr((const char *)f.buf + 8,
                     "\"__metadata__\":{\"format\":\"pt\",\"note\":"
                     "\"q\\\"uote\\\\ new\\u000aline \xc3\xa9\"}") != NULL;
    }
    check(ok, "st_save_layout_and_metadata", "header layout unexpected");
    dlc_st_close(&f);
}

static void test_to_f64(void)
{
    /* One tensor of each dtype, two elements each, packed back to back. */
    unsigned char data[64];
    char path[128];
    const char *hdr =
        "{\"f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
        "\"f16\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[16,20]},"
        "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[20,24]},"
        "\"i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]},"
        "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[40,48]},"
        "\"i16\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[48,52]},"
        "\"i8\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[52,54]},"
        "\"u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[54,56]},"
        "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[56,58]},"
        "\"f32\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[60,64]}}";
    static const struct { const char *name; double v0, v1; } want[] = {
        {"f64", -2.5, 1e300}, {"f16", 1.5, -6.103515625e-05 / 1024},
        {"bf16", -3.0, 0.15625}, {"i64", -5e15, 7}, {"i32", -70000, 3},
        {"i16", -300, 300}, {"i8", -128, 127}, {"u8", 200, 0},
        {"bool", 1, 0},
    };
    double two[2], d;
    dlc_st_file f;
    dlc_errinfo err;
    uint64_t u;
    size_t i;
    int ok;

    memset(data, 0, sizeof data);
    d = -2.5, memcpy(&u, &d, 8), put_le(data, u, 8);
    d = 1e300, memcpy(&u, &d, 8), put_le(data + 8, u, 8);
    put_le(data + 16, 0x3E00, 2), put_le(data + 18, 0x8001, 2);
    put_le(data + 20, 0xC040, 2), put_le(data + 22, 0x3E20, 2);
    put_le(data + 24, (uint64_t)(int64_t)-5000000000000000LL, 8);
    put_le(data + 32, 7, 8);
    put_le(data + 40, (uint32_t)-70000, 4), put_le(data + 44, 3, 4);
    put_le(data + 48, (uint16_t)-300, 2), put_le(data + 50, 300, 2);
    data[52] = 0x80, data[53] = 0x7F, data[54] = 200, data[55] = 0;
    data[56] = 1, data[57] = 0;
    put_f32(data + 60, 0.1f);
    path_of(path, sizeof path, "dtypes.safetensors");
    write_st(path, hdr, data, sizeof data);
    ok = dlc_st_open(path, &f, &err) == DLC_OK && f.ntensors == 10;
    for (i = 0; ok && i < sizeof want / sizeof *want; i++) {
        const dlc_st_tensor *t = dlc_st_find(&f, want[i].name);
        ok = t != NULL && t->count == 2;
        if (ok) {
            dlc_st_to_f64(t, two);
            ok = two[0] == want[i].v0 && two[1] == want[i].v1;
        }
        if (!ok)
            printf("# dtype %s: got %.17g %.17g\n", want[i].name, two[0],
                   two[1]);
    }
    if (ok) {
        dlc_st_to_f64(dlc_st_find(&f, "f32"), two);
        ok = two[0] == (double)0.1f && dlc_st_find(&f, "nope") == NULL &&
             dlc_st_find(&f, "f32")->rank == 2;
    }
    check(ok, "st_open_to_f64_every_dtype", "a conversion is wrong");
    dlc_st_close(&f);
    dlc_st_close(&f); /* closing twice is harmless */
}

/* ---- atomic save ------------------------------------------------------------ */

static int file_equals(const char *path, const unsigned char *want, size_t n)
{
    size_t got_n;
    unsigned char *got = read_bytes(path, &got_n);
    int same = got != NULL && got_n == n && memcmp(got, want, n) == 0;
    free(got);
    return same;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Saves over an existing file in a way that must fail; checks the code,
 * that the old file is byte for byte intact and that no .tmp is left. */
static void expect_save_fails(const char *name, const char *path,
                              const char *old_path, const char *needle)
{
    dlc_float data[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    size_t n = 0;
    unsigned char *old = read_bytes(old_path, &n);
    char tmp[160], why[400];
    dlc_errinfo err;
    int rc;

    err.msg[0] = '\0';
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    rc = dlc_st_save(path, descs, 2, data, NULL, 0, &err);
    snprintf(why, sizeof why, "returned %d, msg \"%s\"", rc, err.msg);
    check(rc == DLC_ERR_WRITE && old != NULL && file_equals(old_path, old, n)
          && !exists(tmp) && strstr(err.msg, needle) != NULL, name, why);
    free(old);
}

static void test_save_too_large(const char *path)
{
    dlc_tensor_desc big = {"big", 1, {4096}, 0, 4096};
    static dlc_float data[4096];
    size_t n = 0;
    unsigned char *old = read_bytes(path, &n);
    struct rlimit saved, small;
    void (*handler)(int);
    char tmp[170], why[400];
    dlc_errinfo err;
    int rc;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    err.msg[0] = '\0';
    getrlimit(RLIMIT_FSIZE, &saved);
    small = saved;
    small.rlim_cur = 1000;
    handler = signal(SIGXFSZ, SIG_IGN); /* get EFBIG, not a signal */
    setrlimit(RLIMIT_FSIZE, &small);
    rc = dlc_st_save(path, &big, 1, data, NULL, 0, &err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, handler);
    snprintf(why, sizeof why, "returned %d, msg \"%s\"", rc, err.msg);
    check(rc == DLC_ERR_WRITE && old != NULL && file_equals(path, old, n) &&
          !exists(tmp) && strstr(err.msg, "too large") != NULL,
          "st_save_write_error_keeps_old_file", why);
    free(old);
}

static void test_atomic_save(void)
{
    dlc_float data[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1}, back[9];
    char sub[128], path[160], probe[160], tmp[170];
    dlc_errinfo err;
    FILE *f;
    int i, ok;

    /* Saving over an existing file replaces it. */
    path_of(path, sizeof path, "model.safetensors");
    write_st(path, GOOD_HDR, good_data, 36);
    ok = dlc_st_save(path, descs, 2, data, NULL, 0, &err) == DLC_OK &&
         dlc_st_load(path, descs, 2, back, &err) == DLC_OK;
    for (i = 0; ok && i < 9; i++)
        ok &= back[i] == data[i];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    check(ok && !exists(tmp), "st_save_replaces_old_file", "not replaced");

    /* The target is a directory: rename fails, the directory stays. */
    path_of(sub, sizeof sub, "adir");
    mkdir(sub, 0755);
    snprintf(probe, sizeof probe, "%s/inside", sub);
    write_bytes(probe, "keep", 4);
    expect_save_fails("st_save_path_is_directory", sub, probe, "rename");

    /* The target directory does not exist. */
    path_of(sub, sizeof sub, "nodir/model.safetensors");
    expect_save_fails("st_save_missing_directory", sub, path, "cannot create");

    /* Writing fails half-way (the file size limit, which binds root too):
     * EFBIG from fwrite or fflush. */
    test_save_too_large(path);

    /* A stale temporary, here a link to a file that must not be written
     * through, is replaced rather than followed. */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    path_of(probe, sizeof probe, "victim");
    write_bytes(probe, "keep", 4);
    ok = symlink(probe, tmp) == 0 &&
         dlc_st_save(path, descs, 2, data, NULL, 0, &err) == DLC_OK &&
         file_equals(probe, (const unsigned char *)"keep", 4) && !exists(tmp);
    check(ok, "st_save_replaces_stale_tmp_link", "wrote through the link");

    /* A read-only directory; root ignores the mode, so only when a probe
     * write is really refused. */
    path_of(sub, sizeof sub, "rodir");
    mkdir(sub, 0755);
    snprintf(path, sizeof path, "%s/model.safetensors", sub);
    write_st(path, GOOD_HDR, good_data, 36);
    chmod(sub, 0555);
    snprintf(probe, sizeof probe, "%s/probe", sub);
    if ((f = fopen(probe, "wb")) == NULL)
        expect_save_fails("st_save_readonly_directory", path, path,
                          "cannot create");
    else {
        fclose(f);
        remove(probe);
        printf("# SKIP st_save_readonly_directory: directory writable "
               "despite mode 0555 (running as root)\n");
    }
    chmod(sub, 0755);
}

static void test_save_args(void)
{
    dlc_tensor_desc d[2] = {{"x", 1, {2}, 0, 2}, {"x", 1, {2}, 2, 2}};
    dlc_float data[4] = {1, 2, 3, 4};
    char path[128];

    path_of(path, sizeof path, "args.safetensors");
    check(dlc_st_save(path, d, 2, data, NULL, 0, NULL) == DLC_ERR_DUPLICATE &&
          !exists(path), "st_save_duplicate_names_refused", "saved anyway");
    d[1].name = "y", d[1].count = 3;
    check(dlc_st_save(path, d, 2, data, NULL, 0, NULL) == DLC_ERR_ARG &&
          dlc_st_save(NULL, d, 1, data, NULL, 0, NULL) == DLC_ERR_ARG &&
          dlc_st_load(NULL, d, 1, data, NULL) == DLC_ERR_ARG &&
          dlc_st_open(path, NULL, NULL) == DLC_ERR_ARG &&
          !exists(path), "st_bad_arguments_refused", "accepted bad arguments");
    check(dlc_st_save(path, d, 0, NULL, NULL, 0, NULL) == DLC_OK &&
          dlc_st_load(path, NULL, 0, NULL, NULL) == DLC_OK,
          "st_empty_file_roundtrip", "no-tensor file failed");
}

/* Removes everything the tests created (the directory is flat except for
 * two subdirectories). */
static void cleanup(void)
{
    static const char *const names[] = {
        "adir/inside", "adir", "rodir/model.safetensors", "rodir",
    };
    char cmd[128];
    size_t i;

    for (i = 0; i < sizeof names / sizeof *names; i++) {
        path_of(cmd, sizeof cmd, names[i]);
        if (remove(cmd) != 0)
            rmdir(cmd);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

int main(void)
{
    strcpy(dir, "/tmp/dlc_test_st_XXXXXX");
    if (mkdtemp(dir) == NULL) {
        printf("FAIL st_tempdir: cannot create a temporary directory\n");
        return 1;
    }
    init_good_data();
    test_framing();
    test_header_json();
    test_header_semantics();
    test_nonfinite();
    test_corruption();
    test_accepted();
    test_roundtrip();
    test_to_f64();
    test_atomic_save();
    test_save_args();
    cleanup();
    return failures ? 1 : 0;
}
