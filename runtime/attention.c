/* Attention: scaled dot-product attention over heads (sdp_attention) and
 * nn.MultiheadAttention's projections around it (attention), forward and
 * backward.  Matrices are row-major [positions, features]; head h of one is
 * its columns [h*dh, (h+1)*dh), reached through the leading dimension, so
 * heads are never copied.  Every product is a dlc_gemm.  The softmax keeps
 * its probabilities, which the backward reads; masked keys get probability
 * 0, and a query that may see no key gets 0 everywhere (zero output, where
 * PyTorch gives NaN).  The caller owns all memory; nothing is allocated. */
#include <math.h>
#include <string.h>

#include "dlc_runtime.h"

/* A [positions, features] matrix of every sample: row i of sample b at
 * p + (b * positions + i) * ld. */
typedef struct dlc_attn_view {
    const dlc_float *p;
    int ld;
} dlc_attn_view;

/* The same, written to (gradients). */
typedef struct dlc_attn_out {
    dlc_float *p;
    int ld;
} dlc_attn_out;

static dlc_attn_view dlc_attn_v(const dlc_float *p, int ld)
{
    dlc_attn_view v;
    v.p = p;
    v.ld = ld;
    return v;
}

static dlc_attn_out dlc_attn_o(dlc_float *p, int ld)
{
    dlc_attn_out o;
    o.p = p;
    o.ld = ld;
    return o;
}

/* The scores' scale 1/sqrt(features per head of q and k). */
static dlc_float dlc_attn_scale(const dlc_attention_shape *s)
{
    return (dlc_float)(1 / dlc_sqrt((dlc_float)(s->d / s->heads)));
}

/* Softmax of each row i of p[tq, tk] over the keys query i may see: j with
 * mask[j] != 0 (every j when mask is NULL), and j <= i when causal.  The
 * maximum over those keys is subtracted before exp; the others get 0, and
 * so does every key of a row that may see none. */
static void dlc_attn_softmax(const dlc_attention_shape *s, const int32_t *mask,
                             dlc_float *p)
{
    int i, j;

    for (i = 0; i < s->tq; i++) {
        dlc_float *row = p + (size_t)i * s->tk;
        int end = s->causal && i + 1 < s->tk ? i + 1 : s->tk; /* keys j < end */
        int any = 0;
        dlc_float mx = 0, sum = 0;
        for (j = 0; j < end; j++)
            if ((mask == NULL || mask[j] != 0) && (!any || row[j] > mx)) {
                mx = row[j];
                any = 1;
            }
        for (j = 0; j < s->tk; j++) {
            if (j < end && (mask == NULL || mask[j] != 0)) {
                row[j] = dlc_exp(row[j] - mx);
                sum += row[j];
            } else {
                row[j] = 0;
            }
        }
        for (j = 0; any && j < end; j++)
            row[j] /= sum;
    }
}

/* o_h = softmax(scale * q_h k_h^T, masked) v_h for every sample and head.
 * probs holds the probabilities of all samples and heads [n, heads, tq, tk]
 * when keep_probs, else one [tq, tk] scratch matrix. */
static void dlc_attn_forward(const dlc_attention_shape *s, int n, dlc_attn_view q,
                             dlc_attn_view k, dlc_attn_view v, const int32_t *mask,
                             dlc_float *probs, int keep_probs, dlc_attn_out o)
{
    int b, h, dk = s->d / s->heads, dv = s->dv / s->heads;
    dlc_float scale = dlc_attn_scale(s);

    for (b = 0; b < n; b++) {
        const dlc_float *qb = q.p + (size_t)b * s->tq * q.ld;
        const dlc_float *kb = k.p + (size_t)b * s->tk * k.ld;
        const dlc_float *vb = v.p + (size_t)b * s->tk * v.ld;
        dlc_float *ob = o.p + (size_t)b * s->tq * o.ld;
        for (h = 0; h < s->heads; h++) {
            dlc_float *p = keep_probs ? probs + ((size_t)b * s->heads + h) * s->tq * s->tk
                                      : probs;
            dlc_gemm(0, 1, s->tq, s->tk, dk, scale, qb + h * dk, q.ld, kb + h * dk, k.ld, 0,
                     p, s->tk);
            dlc_attn_softmax(s, mask ? mask + (size_t)b * s->tk : NULL, p);
            dlc_gemm(0, 0, s->tq, dv, s->tk, 1, p, s->tk, vb + h * dv, v.ld, 0, ob + h * dv,
                     o.ld);
        }
    }
}

/* In place, row by row: dp (the gradient of the probabilities p) becomes
 * the gradient of the scores, p * (dp - sum_j p dp).  Masked keys have p = 0
 * and so get 0. */
static void dlc_attn_softmax_backward(const dlc_attention_shape *s, const dlc_float *p,
                                      dlc_float *dp)
{
    int i, j;

    for (i = 0; i < s->tq; i++) {
        const dlc_float *pr = p + (size_t)i * s->tk;
        dlc_float *gr = dp + (size_t)i * s->tk;
        dlc_float dot = 0;
        for (j = 0; j < s->tk; j++)
            dot += pr[j] * gr[j];
        for (j = 0; j < s->tk; j++)
            gr[j] = pr[j] * (gr[j] - dot);
    }
}

/* The backward of dlc_attn_forward from do_ (the gradient of o) and the
 * kept probabilities: dq, dk, dv overwritten (a NULL .p skips one); dp is
 * a [tq, tk] scratch matrix. */
static void dlc_attn_backward(const dlc_attention_shape *s, int n, dlc_attn_view q,
                              dlc_attn_view k, dlc_attn_view v, const dlc_float *probs,
                              dlc_attn_view do_, dlc_attn_out dq, dlc_attn_out dk,
                              dlc_attn_out dv, dlc_float *dp)
{
    int b, h, hk = s->d / s->heads, hv = s->dv / s->heads;
    dlc_float scale = dlc_attn_scale(s);

    for (b = 0; b < n; b++) {
        const dlc_float *qb = q.p + (size_t)b * s->tq * q.ld;
        const dlc_float *kb = k.p + (size_t)b * s->tk * k.ld;
        const dlc_float *vb = v.p + (size_t)b * s->tk * v.ld;
        const dlc_float *gb = do_.p + (size_t)b * s->tq * do_.ld;
        for (h = 0; h < s->heads; h++) {
            const dlc_float *p = probs + ((size_t)b * s->heads + h) * s->tq * s->tk;
            /* dp = do_h v_h^T; dv_h = p^T do_h */
            dlc_gemm(0, 1, s->tq, s->tk, hv, 1, gb + h * hv, do_.ld, vb + h * hv, v.ld, 0, dp,
                     s->tk);
            if (dv.p)
                dlc_gemm(1, 0, s->tk, hv, s->tq, 1, p, s->tk, gb + h * hv, do_.ld, 0,
                         dv.p + (size_t)b * s->tk * dv.ld + h * hv, dv.ld);
            dlc_attn_softmax_backward(s, p, dp);
            /* dq_h = scale ds k_h; dk_h = scale ds^T q_h */
            if (dq.p)
                dlc_gemm(0, 0, s->tq, hk, s->tk, scale, dp, s->tk, kb + h * hk, k.ld, 0,
                         dq.p + (size_t)b * s->tq * dq.ld + h * hk, dq.ld);
            if (dk.p)
                dlc_gemm(1, 0, s->tk, hk, s->tq, scale, dp, s->tk, qb + h * hk, q.ld, 0,
                         dk.p + (size_t)b * s->tk * dk.ld + h * hk, dk.ld);
        }
    }
}

/* y[rows, cols] += bias[cols] on every row. */
static void dlc_attn_add_bias(dlc_float *y, int64_t rows, int cols, const dlc_float *bias)
{
    int64_t r;
    int c;

    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++)
            y[r * cols + c] += bias[c];
}

/* out[cols] = the column sums of g[rows, cols]. */
static void dlc_attn_col_sums(const dlc_float *g, int64_t rows, int cols, dlc_float *out)
{
    int64_t r;
    int c;

    memset(out, 0, (size_t)cols * sizeof *out);
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++)
            out[c] += g[r * cols + c];
}

/* ---- sdp_attention ------------------------------------------------------ */

size_t dlc_sdp_attention_workspace(const dlc_attention_shape *s)
{
    return (size_t)s->tq * s->tk;
}

void dlc_sdp_attention_forward(const dlc_attention_shape *s, int n, const dlc_float *q,
                               const dlc_float *k, const dlc_float *v, const int32_t *mask,
                               dlc_float *y, dlc_float *probs, int keep_probs)
{
    dlc_attn_forward(s, n, dlc_attn_v(q, s->d), dlc_attn_v(k, s->d), dlc_attn_v(v, s->dv),
                     mask, probs, keep_probs, dlc_attn_o(y, s->dv));
}

void dlc_sdp_attention_backward(const dlc_attention_shape *s, int n, const dlc_float *q,
                                const dlc_float *k, const dlc_float *v, const dlc_float *dy,
                                const dlc_float *probs, dlc_float *dq, dlc_float *dk,
                                dlc_float *dv, dlc_float *ws)
{
    dlc_attn_backward(s, n, dlc_attn_v(q, s->d), dlc_attn_v(k, s->d), dlc_attn_v(v, s->dv),
                      probs, dlc_attn_v(dy, s->dv), dlc_attn_o(dq, s->d),
                      dlc_attn_o(dk, s->d), dlc_attn_o(dv, s->dv), ws);
}

/* ---- attention (nn.MultiheadAttention) ----------------------------------- */

size_t dlc_attention_proj_count(const dlc_attention_shape *s)
{
    return (size_t)s->tq * s->d + (size_t)s->tk * 2 * s->d;
}

size_t dlc_attention_workspace(const dlc_attention_shape *s, int n)
{
    return (size_t)n * (dlc_attention_proj_count(s) + (size_t)s->tq * s->d) +
           (size_t)s->tq * s->tk;
}

size_t dlc_attention_backward_workspace(const dlc_attention_shape *s, int n)
{
    return (size_t)n * dlc_attention_proj_count(s) + (size_t)s->tq * s->tk;
}

void dlc_attention_forward(const dlc_attention_shape *s, int n, const dlc_float *q,
                           const dlc_float *kv, const int32_t *mask, const dlc_float *w_in,
                           const dlc_float *b_in, const dlc_float *w_out,
                           const dlc_float *b_out, dlc_float *y, dlc_float *proj,
                           dlc_float *probs, int keep_probs, dlc_float *ctx)
{
    int d = s->d;
    int64_t rq = (int64_t)n * s->tq, rk = (int64_t)n * s->tk;
    dlc_float *qp = proj, *kvp = proj + (size_t)rq * d;

    /* Q = q Wq^T + bq; [K | V] = kv [Wk; Wv]^T + [bk; bv] */
    dlc_gemm(0, 1, (int)rq, d, d, 1, q, d, w_in, d, 0, qp, d);
    dlc_gemm(0, 1, (int)rk, 2 * d, d, 1, kv, d, w_in + (size_t)d * d, d, 0, kvp, 2 * d);
    if (b_in) {
        dlc_attn_add_bias(qp, rq, d, b_in);
        dlc_attn_add_bias(kvp, rk, 2 * d, b_in + d);
    }
    dlc_attn_forward(s, n, dlc_attn_v(qp, d), dlc_attn_v(kvp, 2 * d), dlc_attn_v(kvp + d, 2 * d),
                     mask, probs, keep_probs, dlc_attn_o(ctx, d));
    /* y = ctx Wo^T + bo */
    dlc_gemm(0, 1, (int)rq, d, d, 1, ctx, d, w_out, d, 0, y, d);
    if (b_out)
        dlc_attn_add_bias(y, rq, d, b_out);
}

void dlc_attention_backward(const dlc_attention_shape *s, int n, const dlc_float *q,
                            const dlc_float *kv, const dlc_float *dctx, const dlc_float *proj,
                            const dlc_float *probs, const dlc_float *w_in, dlc_float *dq,
                            dlc_float *dkv, dlc_float *dw_in, dlc_float *db_in, dlc_float *ws)
{
    int d = s->d;
    int64_t rq = (int64_t)n * s->tq, rk = (int64_t)n * s->tk;
    const dlc_float *qp = proj, *kvp = proj + (size_t)rq * d;
    dlc_float *dqp = ws, *dkvp = ws + (size_t)rq * d, *dp = dkvp + (size_t)rk * 2 * d;

    dlc_attn_backward(s, n, dlc_attn_v(qp, d), dlc_attn_v(kvp, 2 * d),
                      dlc_attn_v(kvp + d, 2 * d), probs, dlc_attn_v(dctx, d),
                      dlc_attn_o(dqp, d), dlc_attn_o(dkvp, 2 * d), dlc_attn_o(dkvp + d, 2 * d), dp);
    /* dW_in = [dQ^T q; d[K|V]^T kv], db_in = their column sums */
    dlc_gemm(1, 0, d, d, (int)rq, 1, dqp, d, q, d, 0, dw_in, d);
    dlc_gemm(1, 0, 2 * d, d, (int)rk, 1, dkvp, 2 * d, kv, d, 0, dw_in + (size_t)d * d, d);
    if (db_in) {
        dlc_attn_col_sums(dqp, rq, d, db_in);
        dlc_attn_col_sums(dkvp, rk, 2 * d, db_in + d);
    }
    /* dq = dQ Wq; dkv = d[K|V] [Wk; Wv], added to dq when they are one buffer */
    if (dq)
        dlc_gemm(0, 0, (int)rq, d, d, 1, dqp, d, w_in, d, 0, dq, d);
    if (dkv)
        dlc_gemm(0, 0, (int)rk, d, 2 * d, 1, dkvp, 2 * d, w_in + (size_t)d * d, d,
                 dkv == dq ? 1 : 0, dkv, d);
}
