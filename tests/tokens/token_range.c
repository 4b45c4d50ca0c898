/* Token ids out of range are a run-time error, not a read outside the
 * table: every entry point of the model tests/tokens/token_range.net (an
 * embedding of 10 rows, padding_idx 3, batch 3) returns DLC_ERR_TOKEN for
 * an id outside [0, 10) before it runs anything, and leaves the outputs,
 * the parameters and the step count as they were.  Also: ids past the n
 * samples of a call are not read, a fresh model's padding row is zero and
 * a training step leaves it so (PyTorch's padding_idx gets no gradient).
 * Built by tests/suites/tokens.sh with tests/build_model.sh
 * (HARNESS_SRC=tests/tokens/token_range.c); prints PASS/FAIL lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { T = 5, NUM = 10, DIM = 4, PAD = 3, OUT = T * 2 };

static int failures;

static void check(int ok, const char *name, const char *why)
{
    if (ok)
        printf("PASS tokens/%s\n", name);
    else
        printf("FAIL tokens/%s: %s\n", name, why);
    failures += !ok;
}

/* The embedding table in the parameter block. */
static const dlc_float *table(token_range *m)
{
    const dlc_model_info *info = token_range_info();
    for (int i = 0; i < info->nparams; i++)
        if (strcmp(info->params[i].name, "h.0.weight") == 0)
            return token_range_params(m) + info->params[i].offset;
    return NULL;
}

static int row_is_zero(const dlc_float *w, int row)
{
    for (int d = 0; d < DIM; d++)
        if (w[row * DIM + d] != 0)
            return 0;
    return 1;
}

/* init: N(0, 1) with the padding row zero. */
static void test_init(token_range *m)
{
    const dlc_float *w = table(m);
    int others_nonzero = 1;
    for (int r = 0; w && r < NUM; r++)
        if (r != PAD && row_is_zero(w, r))
            others_nonzero = 0;
    check(w && row_is_zero(w, PAD) && others_nonzero, "init-padding-row",
          "after create() the padding row should be zero and the others random");
}

/* Every entry point with one bad id at the last position of sample n-1. */
static void test_bad_id(token_range *m, int32_t bad, const char *name)
{
    static int32_t ids[TOKEN_RANGE_BATCH * T];
    static dlc_float y[TOKEN_RANGE_BATCH * OUT], target[TOKEN_RANGE_BATCH * OUT];
    const dlc_model_info *info = token_range_info();
    const int n = 2;
    dlc_float loss = 12345, *before = malloc(TOKEN_RANGE_PARAM_COUNT * sizeof *before);
    char why[200];
    if (!before) {
        check(0, name, "out of memory");
        return;
    }
    memcpy(before, token_range_params(m), TOKEN_RANGE_PARAM_COUNT * sizeof *before);
    for (int i = 0; i < TOKEN_RANGE_BATCH * T; i++)
        ids[i] = i % NUM;
    ids[n * T - 1] = bad;
    for (int i = 0; i < TOKEN_RANGE_BATCH * OUT; i++) {
        y[i] = -7;
        target[i] = 0.5;
    }
    int64_t step = token_range_step(m);
    const dlc_float *in[1] = { (const dlc_float *)(const void *)ids };
    const void *labels[1] = { target };
    dlc_float *out[1] = { y };
    int rc[7];
    rc[0] = token_range_forward(m, ids, y, n);
    rc[1] = info->forward(m, in, out, n);
    token_range_set_training(m, 1);
    rc[2] = token_range_forward(m, ids, y, n);
    token_range_set_training(m, 0);
    rc[3] = token_range_train_step(m, ids, target, n, &loss);
    rc[4] = token_range_compute_gradients(m, ids, target, n, &loss);
    rc[5] = token_range_eval_loss(m, ids, target, n, &loss);
    rc[6] = info->train_step(m, in, labels, n, &loss);
    int untouched = 1;
    for (int i = 0; i < TOKEN_RANGE_BATCH * OUT; i++)
        untouched &= y[i] == -7;
    snprintf(why, sizeof why, "id %ld: forward %d, info forward %d, training forward %d, train_step %d, "
             "compute_gradients %d, eval_loss %d, info train_step %d (want %d each)", (long)bad, rc[0], rc[1],
             rc[2], rc[3], rc[4], rc[5], rc[6], DLC_ERR_TOKEN);
    int all = 1;
    for (int k = 0; k < 7; k++)
        all &= rc[k] == DLC_ERR_TOKEN;
    check(all, name, why);
    char label[64];
    snprintf(label, sizeof label, "%s-nothing-written", name);
    snprintf(why, sizeof why, "id %ld: an entry point wrote an output, a parameter, the loss or the step", (long)bad);
    check(untouched && loss == 12345 && token_range_step(m) == step &&
          !memcmp(before, token_range_params(m), TOKEN_RANGE_PARAM_COUNT * sizeof *before), label, why);
    free(before);
}

/* Ids of samples n..batch-1 are not read; valid ids run; a step keeps the
 * padding row at zero. */
static void test_good_ids(token_range *m)
{
    static int32_t ids[TOKEN_RANGE_BATCH * T];
    static dlc_float y[TOKEN_RANGE_BATCH * OUT], target[TOKEN_RANGE_BATCH * OUT];
    dlc_float loss = 0;
    const int n = 2;
    for (int i = 0; i < TOKEN_RANGE_BATCH * T; i++)
        ids[i] = i < n * T ? (i * 7) % NUM : -99;   /* sample n holds garbage */
    ids[1] = PAD;
    for (int i = 0; i < TOKEN_RANGE_BATCH * OUT; i++)
        target[i] = 0.25;
    int rc = token_range_forward(m, ids, y, n);
    check(rc == DLC_OK, "ids-past-n-unread", "forward read an id past its n samples");
    rc = token_range_train_step(m, ids, target, n, &loss);
    const dlc_float *w = table(m);
    check(rc == DLC_OK && token_range_step(m) == 1 && w && row_is_zero(w, PAD), "padding-row-not-trained",
          "a train step failed or moved the padding row");
    check(!strcmp(dlc_strerror(DLC_ERR_TOKEN), "token id out of range") &&
          !strcmp(token_range_strerror(DLC_ERR_TOKEN), "token id out of range"), "strerror",
          "DLC_ERR_TOKEN's text is not \"token id out of range\"");
}

int main(void)
{
    token_range *m = token_range_create();
    if (!m) {
        printf("FAIL tokens/create: out of memory\n");
        return 1;
    }
    test_init(m);
    test_bad_id(m, NUM, "id-num");
    test_bad_id(m, -1, "id-negative");
    test_bad_id(m, INT32_MAX, "id-int32-max");
    test_bad_id(m, INT32_MIN, "id-int32-min");
    test_good_ids(m);
    token_range_destroy(m);
    return failures != 0;
}
