/* Recurrent layers (PyTorch's nn.RNN, nn.LSTM, nn.GRU, batch_first=True):
 * the forward, its training variant that keeps what the backward needs,
 * and backpropagation through time.  Per layer and direction the input
 * projection of every step is one GEMM over the n*T rows of the layer's
 * input; the recurrence then runs step by step, one GEMM over the batch
 * per step.  Every tensor is batch first, so a step's rows are strided
 * views, never copies:
 *   Y_k   layer k's output [n, T, D*H] (direction d in columns d*H..);
 *   gates one layer and direction's step rows [n, T, K]: pre-activations
 *         (activated in place by LSTM and GRU), K = H (RNN), 5H (LSTM: i,
 *         f, g, o, then the cell c_t) or 4H (GRU: r, z, n, then
 *         W_hn h + b_hn);
 *   dG    the gradient of the pre-activations [n, T, KG], KG = H, 4H
 *         (i, f, g, o) or 4H (GRU: r, z, W_hn h + b_hn, then n's input
 *         part, so the recurrent part is 3H contiguous columns).
 * The training forward's save holds every Y_k, then (LSTM, GRU) the gates
 * of every layer and direction, all for the run-time n.  The caller owns
 * all memory; nothing is allocated. */
#include <math.h>
#include <string.h>

#include "dlc_runtime.h"

/* One layer and direction: where its weights, states and rows are. */
typedef struct dlc_rnn_run {
    const dlc_rnn_shape *s;
    int n, layer, dir;
    const dlc_float *in;      /* the layer's input [n, T, fin] */
    int fin;
    const dlc_float *w_ih, *w_hh, *b_ih, *b_hh; /* biases NULL without */
    const dlc_float *h0, *c0; /* this layer's initial states (row stride
                               * layers*dirs*H), or NULL for zeros */
    dlc_float *g;             /* gates [n, T, K] */
    dlc_float *y;             /* Y_k + dir*H: h_t of sample b at
                               * y[(b*T + t) * dirs*H + j] */
} dlc_rnn_run;

/* Gate blocks per hidden unit: rows of W_ih and W_hh are G*H. */
static int dlc_rnn_g(const dlc_rnn_shape *s)
{
    return s->cell == DLC_RNN_LSTM ? 4 : s->cell == DLC_RNN_GRU ? 3 : 1;
}

/* K, the width of a forward gate row. */
static int dlc_rnn_k(const dlc_rnn_shape *s)
{
    return s->cell == DLC_RNN_LSTM ? 5 * s->h :
           s->cell == DLC_RNN_GRU ? 4 * s->h : s->h;
}

/* KG, the width of a gradient row. */
static int dlc_rnn_kg(const dlc_rnn_shape *s)
{
    return s->cell == DLC_RNN_TANH || s->cell == DLC_RNN_RELU ? s->h : 4 * s->h;
}

/* Does the backward read the forward's gate rows (else only Y)? */
static int dlc_rnn_keeps_gates(const dlc_rnn_shape *s)
{
    return s->cell == DLC_RNN_LSTM || s->cell == DLC_RNN_GRU;
}

/* Elements of one layer's output for n samples. */
static size_t dlc_rnn_seq(const dlc_rnn_shape *s, int n)
{
    return (size_t)n * s->t * s->dirs * s->h;
}

/* Elements of one layer and direction's gate rows for n samples. */
static size_t dlc_rnn_rows(const dlc_rnn_shape *s, int n, int width)
{
    return (size_t)n * s->t * width;
}

size_t dlc_rnn_save_count(const dlc_rnn_shape *s)
{
    size_t c = dlc_rnn_seq(s, 1) * s->layers;
    if (dlc_rnn_keeps_gates(s))
        c += dlc_rnn_rows(s, 1, dlc_rnn_k(s)) * s->layers * s->dirs;
    return c;
}

size_t dlc_rnn_dgates_count(const dlc_rnn_shape *s)
{
    return dlc_rnn_rows(s, 1, dlc_rnn_kg(s)) * s->layers * s->dirs;
}

/* The forward's scratch, in this order: gate rows (unless training keeps
 * them in save), the GRU's recurrent part of one step [n, 3H], and the
 * layer outputs at inference (two, alternating, for several layers). */
size_t dlc_rnn_workspace(const dlc_rnn_shape *s, int n, int training)
{
    size_t c = 0;
    if (!training || !dlc_rnn_keeps_gates(s))
        c += dlc_rnn_rows(s, n, dlc_rnn_k(s));
    if (s->cell == DLC_RNN_GRU)
        c += (size_t)n * 3 * s->h;
    if (!training)
        c += dlc_rnn_seq(s, n) * (s->layers > 1 ? 2 : 1);
    return c;
}

/* The initial states and input of layer k, direction d. */
static void dlc_rnn_bind(const dlc_rnn_shape *s, int n, int k, int d,
                         const dlc_float *h0, const dlc_float *c0,
                         const dlc_float *in, dlc_rnn_run *r)
{
    size_t at = (size_t)(k * s->dirs + d) * s->h;

    memset(r, 0, sizeof *r);
    r->s = s, r->n = n, r->layer = k, r->dir = d;
    r->in = in;
    r->fin = k == 0 ? s->f : s->dirs * s->h;
    r->h0 = h0 ? h0 + at : NULL;
    r->c0 = c0 ? c0 + at : NULL;
}

/* Its weights, from w[] in torch's flat order. */
static void dlc_rnn_bind_weights(dlc_rnn_run *r, const dlc_float *const *w)
{
    const dlc_rnn_shape *s = r->s;
    const dlc_float *const *lw = w + (size_t)(r->layer * s->dirs + r->dir) * (s->bias ? 4 : 2);

    r->w_ih = lw[0], r->w_hh = lw[1];
    r->b_ih = s->bias ? lw[2] : NULL;
    r->b_hh = s->bias ? lw[3] : NULL;
}

/* The step at position `step` of the direction's order, and the one
 * before it (whose state it reads). */
static int dlc_rnn_t(const dlc_rnn_run *r, int step)
{
    return r->dir ? r->s->t - 1 - step : step;
}

static int dlc_rnn_tprev(const dlc_rnn_run *r, int step)
{
    return r->dir ? r->s->t - step : step - 1;
}

static dlc_float dlc_rnn_sigmoid(dlc_float v)
{
    return 1 / (1 + dlc_exp(-v));
}

/* gates[:, :, 0:G*H] = in W_ih^T + b_ih (+ b_hh but for the GRU, whose
 * recurrent bias sits inside r * (W_hn h + b_hn)). */
static void dlc_rnn_project(const dlc_rnn_run *r)
{
    const dlc_rnn_shape *s = r->s;
    int gh = dlc_rnn_g(s) * s->h, k = dlc_rnn_k(s), rows = r->n * s->t, i, c;
    int both = s->cell != DLC_RNN_GRU;

    dlc_gemm(0, 1, rows, gh, r->fin, 1, r->in, r->fin, r->w_ih, r->fin, 0, r->g, k);
    if (!r->b_ih)
        return;
    for (i = 0; i < rows; i++) {
        dlc_float *row = r->g + (size_t)i * k;
        for (c = 0; c < gh; c++)
            row[c] += both ? r->b_ih[c] + r->b_hh[c] : r->b_ih[c];
    }
}

/* h_{t-1} of the step: the initial state or the previous step's output
 * (NULL for zeros), with its row stride in *ld. */
static const dlc_float *dlc_rnn_hprev(const dlc_rnn_run *r, int step, int *ld)
{
    const dlc_rnn_shape *s = r->s;
    if (step == 0) {
        *ld = s->layers * s->dirs * s->h;
        return r->h0;
    }
    *ld = s->t * s->dirs * s->h;
    return r->y + (size_t)dlc_rnn_tprev(r, step) * s->dirs * s->h;
}

/* Elman RNN: h_t = act(gates_t + h_{t-1} W_hh^T). */
static void dlc_rnn_step_elman(const dlc_rnn_run *r, int step)
{
    const dlc_rnn_shape *s = r->s;
    int t = dlc_rnn_t(r, step), H = s->h, K = dlc_rnn_k(s), DH = s->dirs * H;
    int ld, b, j, relu = s->cell == DLC_RNN_RELU;
    const dlc_float *hp = dlc_rnn_hprev(r, step, &ld);
    dlc_float *gt = r->g + (size_t)t * K;

    if (hp)
        dlc_gemm(0, 1, r->n, H, H, 1, hp, ld, r->w_hh, H, 1, gt, s->t * K);
    for (b = 0; b < r->n; b++) {
        const dlc_float *p = gt + (size_t)b * s->t * K;
        dlc_float *h = r->y + ((size_t)b * s->t + t) * DH;
        for (j = 0; j < H; j++)
            h[j] = relu ? (p[j] > 0 ? p[j] : 0) : dlc_tanh(p[j]);
    }
}

/* LSTM: [i f g o] = act(gates_t + h_{t-1} W_hh^T), c_t = f c_{t-1} + i g,
 * h_t = o tanh(c_t); the activations and c_t stay in the gate row. */
static void dlc_rnn_step_lstm(const dlc_rnn_run *r, int step)
{
    const dlc_rnn_shape *s = r->s;
    int t = dlc_rnn_t(r, step), H = s->h, K = dlc_rnn_k(s), DH = s->dirs * H;
    int LDH = s->layers * DH, ld, b, j;
    const dlc_float *hp = dlc_rnn_hprev(r, step, &ld);
    dlc_float *gt = r->g + (size_t)t * K;

    if (hp)
        dlc_gemm(0, 1, r->n, 4 * H, H, 1, hp, ld, r->w_hh, H, 1, gt, s->t * K);
    for (b = 0; b < r->n; b++) {
        dlc_float *p = gt + (size_t)b * s->t * K;
        dlc_float *h = r->y + ((size_t)b * s->t + t) * DH;
        const dlc_float *cp = step > 0 ? r->g + ((size_t)b * s->t + dlc_rnn_tprev(r, step)) * K + 4 * H :
                              r->c0 ? r->c0 + (size_t)b * LDH : NULL;
        for (j = 0; j < H; j++) {
            dlc_float i = dlc_rnn_sigmoid(p[j]), f = dlc_rnn_sigmoid(p[H + j]);
            dlc_float g = dlc_tanh(p[2 * H + j]), o = dlc_rnn_sigmoid(p[3 * H + j]);
            dlc_float c = (cp ? f * cp[j] : 0) + i * g;
            p[j] = i, p[H + j] = f, p[2 * H + j] = g, p[3 * H + j] = o;
            p[4 * H + j] = c;
            h[j] = o * dlc_tanh(c);
        }
    }
}

/* GRU: gh = h_{t-1} W_hh^T + b_hh, r = sigma(gates_r + gh_r), z likewise,
 * n = tanh(gates_n + r gh_n), h_t = (1 - z) n + z h_{t-1}; r, z, n and
 * gh_n stay in the gate row. */
static void dlc_rnn_step_gru(const dlc_rnn_run *r, int step, dlc_float *gh)
{
    const dlc_rnn_shape *s = r->s;
    int t = dlc_rnn_t(r, step), H = s->h, K = dlc_rnn_k(s), DH = s->dirs * H;
    int ld, b, j;
    const dlc_float *hp = dlc_rnn_hprev(r, step, &ld);
    dlc_float *gt = r->g + (size_t)t * K;

    for (b = 0; b < r->n; b++)
        for (j = 0; j < 3 * H; j++)
            gh[(size_t)b * 3 * H + j] = r->b_hh ? r->b_hh[j] : 0;
    if (hp)
        dlc_gemm(0, 1, r->n, 3 * H, H, 1, hp, ld, r->w_hh, H, 1, gh, 3 * H);
    for (b = 0; b < r->n; b++) {
        dlc_float *p = gt + (size_t)b * s->t * K;
        const dlc_float *q = gh + (size_t)b * 3 * H, *hb = hp ? hp + (size_t)b * ld : NULL;
        dlc_float *h = r->y + ((size_t)b * s->t + t) * DH;
        for (j = 0; j < H; j++) {
            dlc_float rr = dlc_rnn_sigmoid(p[j] + q[j]);
            dlc_float z = dlc_rnn_sigmoid(p[H + j] + q[H + j]);
            dlc_float nn = dlc_tanh(p[2 * H + j] + rr * q[2 * H + j]);
            p[j] = rr, p[H + j] = z, p[2 * H + j] = nn, p[3 * H + j] = q[2 * H + j];
            h[j] = (1 - z) * nn + (hb ? z * hb[j] : 0);
        }
    }
}

/* One layer and direction over the whole sequence. */
static void dlc_rnn_layer_forward(const dlc_rnn_run *r, dlc_float *gh)
{
    int step;

    dlc_rnn_project(r);
    for (step = 0; step < r->s->t; step++) {
        if (r->s->cell == DLC_RNN_LSTM)
            dlc_rnn_step_lstm(r, step);
        else if (r->s->cell == DLC_RNN_GRU)
            dlc_rnn_step_gru(r, step, gh);
        else
            dlc_rnn_step_elman(r, step);
    }
}

/* The final step of the direction: T-1 going forward, 0 going back. */
static int dlc_rnn_tlast(const dlc_rnn_shape *s, int dir)
{
    return dir ? 0 : s->t - 1;
}

/* STATE and CELL: this layer and direction's final h (or c) into y. */
static void dlc_rnn_put_final(const dlc_rnn_run *r, dlc_float *y)
{
    const dlc_rnn_shape *s = r->s;
    int H = s->h, K = dlc_rnn_k(s), DH = s->dirs * H, LDH = s->layers * DH;
    int tl = dlc_rnn_tlast(s, r->dir), b;
    size_t at = (size_t)(r->layer * s->dirs + r->dir) * H;

    for (b = 0; b < r->n; b++) {
        const dlc_float *src = s->ret == DLC_RNN_CELL ?
            r->g + ((size_t)b * s->t + tl) * K + 4 * H :
            r->y + ((size_t)b * s->t + tl) * DH;
        memcpy(y + (size_t)b * LDH + at, src, (size_t)H * sizeof *y);
    }
}

/* SEQUENCE and LAST from the top layer's output. */
static void dlc_rnn_put_top(const dlc_rnn_shape *s, int n, const dlc_float *top,
                            dlc_float *y)
{
    int H = s->h, DH = s->dirs * H, b, d;

    if (s->ret == DLC_RNN_SEQUENCE) {
        memcpy(y, top, dlc_rnn_seq(s, n) * sizeof *y);
        return;
    }
    for (b = 0; b < n; b++)
        for (d = 0; d < s->dirs; d++)
            memcpy(y + (size_t)b * DH + (size_t)d * H,
                   top + ((size_t)b * s->t + dlc_rnn_tlast(s, d)) * DH + (size_t)d * H,
                   (size_t)H * sizeof *y);
}

void dlc_rnn_forward(const dlc_rnn_shape *s, int n, const dlc_float *x,
                     const dlc_float *h0, const dlc_float *c0,
                     const dlc_float *const *w, dlc_float *y, dlc_float *save,
                     dlc_float *ws)
{
    size_t seq = dlc_rnn_seq(s, n), rows = dlc_rnn_rows(s, n, dlc_rnn_k(s));
    dlc_float *gates = NULL, *gh = NULL, *ybuf = NULL, *p = ws;
    const dlc_float *in = x;
    int k, d;

    if (!save || !dlc_rnn_keeps_gates(s))
        gates = p, p += rows;
    if (s->cell == DLC_RNN_GRU)
        gh = p, p += (size_t)n * 3 * s->h;
    if (!save)
        ybuf = p;
    for (k = 0; k < s->layers; k++) {
        dlc_float *yk = save ? save + k * seq : ybuf + (k % 2) * seq;
        for (d = 0; d < s->dirs; d++) {
            dlc_rnn_run r;
            dlc_rnn_bind(s, n, k, d, h0, c0, in, &r);
            dlc_rnn_bind_weights(&r, w);
            r.g = gates ? gates : save + s->layers * seq + (size_t)(k * s->dirs + d) * rows;
            r.y = yk + (size_t)d * s->h;
            dlc_rnn_layer_forward(&r, gh);
            if (s->ret == DLC_RNN_STATE || s->ret == DLC_RNN_CELL)
                dlc_rnn_put_final(&r, y);
        }
        in = yk;
    }
    if (s->ret == DLC_RNN_SEQUENCE || s->ret == DLC_RNN_LAST)
        dlc_rnn_put_top(s, n, in, y);
}

/* ---- backward ----------------------------------------------------------- */

/* dh [n, H] and (LSTM) dc [n, H], the running gradients of the state, then
 * at several layers dY [n, T, D*H], the gradient of a layer's output. */
size_t dlc_rnn_backward_workspace(const dlc_rnn_shape *s, int n)
{
    return (size_t)2 * n * s->h + (s->layers > 1 ? dlc_rnn_seq(s, n) : 0);
}

/* Elman step, backward: dpre = dh act'(pre), from h_t itself. */
static void dlc_rnn_back_elman(const dlc_rnn_run *r, int t, const dlc_float *dyk,
                               dlc_float *dgt, dlc_float *dh)
{
    const dlc_rnn_shape *s = r->s;
    int H = s->h, KG = dlc_rnn_kg(s), DH = s->dirs * H, b, j;
    int relu = s->cell == DLC_RNN_RELU;

    for (b = 0; b < r->n; b++) {
        size_t row = (size_t)b * s->t + t;
        const dlc_float *h = r->y + row * DH, *dyr = dyk ? dyk + row * DH : NULL;
        dlc_float *dg = dgt + (size_t)b * s->t * KG;
        for (j = 0; j < H; j++) {
            dlc_float g = dh[(size_t)b * H + j] + (dyr ? dyr[j] : 0);
            dg[j] = relu ? (h[j] > 0 ? g : 0) : g * (1 - h[j] * h[j]);
        }
    }
}

/* LSTM step, backward, with dc carried from the step after. */
static void dlc_rnn_back_lstm(const dlc_rnn_run *r, int step, const dlc_float *dyk,
                              dlc_float *dgt, dlc_float *dh, dlc_float *dc)
{
    const dlc_rnn_shape *s = r->s;
    int t = dlc_rnn_t(r, step), H = s->h, K = dlc_rnn_k(s), KG = dlc_rnn_kg(s);
    int DH = s->dirs * H, LDH = s->layers * DH, b, j;

    for (b = 0; b < r->n; b++) {
        size_t row = (size_t)b * s->t + t;
        const dlc_float *p = r->g + row * K, *dyr = dyk ? dyk + row * DH : NULL;
        const dlc_float *cp = step > 0 ? r->g + ((size_t)b * s->t + dlc_rnn_tprev(r, step)) * K + 4 * H :
                              r->c0 ? r->c0 + (size_t)b * LDH : NULL;
        dlc_float *dg = dgt + (size_t)b * s->t * KG;
        for (j = 0; j < H; j++) {
            dlc_float i = p[j], f = p[H + j], g = p[2 * H + j], o = p[3 * H + j];
            dlc_float tc = dlc_tanh(p[4 * H + j]);
            dlc_float ght = dh[(size_t)b * H + j] + (dyr ? dyr[j] : 0);
            dlc_float gc = dc[(size_t)b * H + j] + ght * o * (1 - tc * tc);
            dg[j] = gc * g * i * (1 - i);
            dg[H + j] = (cp ? gc * cp[j] : 0) * f * (1 - f);
            dg[2 * H + j] = gc * i * (1 - g * g);
            dg[3 * H + j] = ght * tc * o * (1 - o);
            dc[(size_t)b * H + j] = gc * f;
        }
    }
}

/* GRU step, backward; dh gets the direct part z dh_t (the recurrent GEMM
 * adds the rest). */
static void dlc_rnn_back_gru(const dlc_rnn_run *r, int step, const dlc_float *dyk,
                             dlc_float *dgt, dlc_float *dh)
{
    const dlc_rnn_shape *s = r->s;
    int t = dlc_rnn_t(r, step), H = s->h, K = dlc_rnn_k(s), KG = dlc_rnn_kg(s);
    int DH = s->dirs * H, ld, b, j;
    const dlc_float *hp = dlc_rnn_hprev(r, step, &ld);

    for (b = 0; b < r->n; b++) {
        size_t row = (size_t)b * s->t + t;
        const dlc_float *p = r->g + row * K, *dyr = dyk ? dyk + row * DH : NULL;
        const dlc_float *hb = hp ? hp + (size_t)b * ld : NULL;
        dlc_float *dg = dgt + (size_t)b * s->t * KG;
        for (j = 0; j < H; j++) {
            dlc_float rr = p[j], z = p[H + j], nn = p[2 * H + j], ghn = p[3 * H + j];
            dlc_float ght = dh[(size_t)b * H + j] + (dyr ? dyr[j] : 0);
            dlc_float dpn = ght * (1 - z) * (1 - nn * nn);
            dlc_float dz = ght * ((hb ? hb[j] : 0) - nn);
            dg[j] = dpn * ghn * rr * (1 - rr);
            dg[H + j] = dz * z * (1 - z);
            dg[2 * H + j] = dpn * rr;
            dg[3 * H + j] = dpn;
            dh[(size_t)b * H + j] = ght * z;
        }
    }
}

/* The state gradients at the end of the sequence, from dy where y holds
 * final states (LAST: the top layer's h; STATE: every h; CELL: every c). */
static void dlc_rnn_back_init(const dlc_rnn_run *r, const dlc_float *dy,
                              dlc_float *dh, dlc_float *dc)
{
    const dlc_rnn_shape *s = r->s;
    int H = s->h, DH = s->dirs * H, LDH = s->layers * DH, b;
    size_t at = (size_t)(r->layer * s->dirs + r->dir) * H;

    memset(dh, 0, (size_t)r->n * H * sizeof *dh);
    memset(dc, 0, (size_t)r->n * H * sizeof *dc);
    for (b = 0; b < r->n; b++) {
        if (s->ret == DLC_RNN_LAST && r->layer == s->layers - 1)
            memcpy(dh + (size_t)b * H, dy + (size_t)b * DH + (size_t)r->dir * H, (size_t)H * sizeof *dh);
        else if (s->ret == DLC_RNN_STATE)
            memcpy(dh + (size_t)b * H, dy + (size_t)b * LDH + at, (size_t)H * sizeof *dh);
        else if (s->ret == DLC_RNN_CELL)
            memcpy(dc + (size_t)b * H, dy + (size_t)b * LDH + at, (size_t)H * sizeof *dc);
    }
}

/* dst [n, H] with row stride layers*dirs*H (this layer's slot of dh0). */
static void dlc_rnn_put_state(const dlc_rnn_run *r, const dlc_float *src, dlc_float *dst)
{
    const dlc_rnn_shape *s = r->s;
    int H = s->h, LDH = s->layers * s->dirs * H, b;
    size_t at = (size_t)(r->layer * s->dirs + r->dir) * H;

    for (b = 0; b < r->n; b++)
        memcpy(dst + (size_t)b * LDH + at, src + (size_t)b * H, (size_t)H * sizeof *dst);
}

/* Backpropagation through time of one layer and direction: dG, and the
 * initial states' gradients (when wanted). */
static void dlc_rnn_layer_backward(const dlc_rnn_run *r, const dlc_float *dy,
                                   const dlc_float *dyk, dlc_float *dg,
                                   dlc_float *dh0, dlc_float *dc0, dlc_float *ws)
{
    const dlc_rnn_shape *s = r->s;
    int H = s->h, KG = dlc_rnn_kg(s), step;
    int gh = s->cell == DLC_RNN_GRU ? 3 * H : dlc_rnn_g(s) * H;
    dlc_float *dh = ws, *dc = ws + (size_t)r->n * H;
    const dlc_float *dyd = dyk ? dyk + (size_t)r->dir * H : NULL;

    dlc_rnn_back_init(r, dy, dh, dc);
    for (step = s->t - 1; step >= 0; step--) {
        int t = dlc_rnn_t(r, step);
        dlc_float *dgt = dg + (size_t)t * KG;
        if (s->cell == DLC_RNN_LSTM)
            dlc_rnn_back_lstm(r, step, dyd, dgt, dh, dc);
        else if (s->cell == DLC_RNN_GRU)
            dlc_rnn_back_gru(r, step, dyd, dgt, dh);
        else
            dlc_rnn_back_elman(r, t, dyd, dgt, dh);
        if (step == 0 && !dh0)
            break;   /* nobody reads the initial state's gradient */
        /* dh_{t-1} (+)= dG_t[:, recurrent part] W_hh */
        dlc_gemm(0, 0, r->n, H, gh, 1, dgt, s->t * KG, r->w_hh, H,
                 s->cell == DLC_RNN_GRU ? 1 : 0, dh, H);
    }
    if (dh0)
        dlc_rnn_put_state(r, dh, dh0);
    if (dc0 && s->cell == DLC_RNN_LSTM)
        dlc_rnn_put_state(r, dc, dc0);
}

/* dst[n*T, fin] (+)= dG[:, input part] W_ih: the gradient of the layer's
 * input from one direction. */
static void dlc_rnn_back_input(const dlc_rnn_run *r, const dlc_float *dg,
                               dlc_float *dst, dlc_float beta)
{
    const dlc_rnn_shape *s = r->s;
    int H = s->h, KG = dlc_rnn_kg(s), rows = r->n * s->t;

    if (s->cell != DLC_RNN_GRU) {
        dlc_gemm(0, 0, rows, r->fin, dlc_rnn_g(s) * H, 1, dg, KG, r->w_ih, r->fin, beta, dst, r->fin);
        return;
    }
    /* r, z in columns [0, 2H); n's input part in [3H, 4H) */
    dlc_gemm(0, 0, rows, r->fin, 2 * H, 1, dg, KG, r->w_ih, r->fin, beta, dst, r->fin);
    dlc_gemm(0, 0, rows, r->fin, H, 1, dg + 3 * H, KG, r->w_ih + (size_t)2 * H * r->fin, r->fin,
             1, dst, r->fin);
}

void dlc_rnn_backward_data(const dlc_rnn_shape *s, int n, const dlc_float *h0,
                           const dlc_float *c0, const dlc_float *const *w,
                           const dlc_float *save, const dlc_float *dy,
                           dlc_float *dx, dlc_float *dh0, dlc_float *dc0,
                           dlc_float *dgates, dlc_float *ws)
{
    size_t seq = dlc_rnn_seq(s, n), rows = dlc_rnn_rows(s, n, dlc_rnn_k(s));
    size_t grows = dlc_rnn_rows(s, n, dlc_rnn_kg(s));
    dlc_float *dybuf = ws + (size_t)2 * n * s->h;
    const dlc_float *dyk = s->ret == DLC_RNN_SEQUENCE ? dy : NULL;
    int k, d;

    for (k = s->layers - 1; k >= 0; k--) {
        dlc_float *dst = k == 0 ? dx : dybuf;
        dlc_rnn_run r[2];
        for (d = 0; d < s->dirs; d++) {
            dlc_rnn_bind(s, n, k, d, h0, c0, k ? save + (k - 1) * seq : NULL, &r[d]);
            dlc_rnn_bind_weights(&r[d], w);
            /* the backward only reads the forward's gates and outputs */
            r[d].g = dlc_rnn_keeps_gates(s) ?
                (dlc_float *)save + s->layers * seq + (size_t)(k * s->dirs + d) * rows : NULL;
            r[d].y = (dlc_float *)save + k * seq + (size_t)d * s->h;
            dlc_rnn_layer_backward(&r[d], dy, dyk, dgates + (size_t)(k * s->dirs + d) * grows,
                                   dh0, dc0, ws);
        }
        /* the whole of dY_k is read: its buffer now takes dY_{k-1} */
        for (d = 0; dst && d < s->dirs; d++)
            dlc_rnn_back_input(&r[d], dgates + (size_t)(k * s->dirs + d) * grows, dst, d ? 1 : 0);
        dyk = dybuf;
    }
}

/* db[c] = sum over the n*T rows of dG's column c, for `count` columns. */
static void dlc_rnn_colsum(int rows, int count, const dlc_float *dg, int kg,
                           dlc_float *db)
{
    int i, c;

    memset(db, 0, (size_t)count * sizeof *db);
    for (i = 0; i < rows; i++)
        for (c = 0; c < count; c++)
            db[c] += dg[(size_t)i * kg + c];
}

/* dW_hh = sum over samples and steps of dG_t^T h_{t-1}: per sample, the
 * steps after the first against the outputs they read (one GEMM), and the
 * first step against h0 over the batch. */
static void dlc_rnn_grad_hh(const dlc_rnn_run *r, const dlc_float *dg, int gh,
                            dlc_float *dw)
{
    const dlc_rnn_shape *s = r->s;
    int H = s->h, KG = dlc_rnn_kg(s), DH = s->dirs * H, T = s->t, b;
    int first = dlc_rnn_t(r, 0);

    memset(dw, 0, (size_t)gh * H * sizeof *dw);
    for (b = 0; b < r->n && T > 1; b++) {
        /* going forward step t reads Y[t-1]; going back, Y[t+1] */
        const dlc_float *a = dg + ((size_t)b * T + (r->dir ? 0 : 1)) * KG;
        const dlc_float *h = r->y + ((size_t)b * T + (r->dir ? 1 : 0)) * DH;
        dlc_gemm(1, 0, gh, H, T - 1, 1, a, KG, h, DH, 1, dw, H);
    }
    if (r->h0)
        dlc_gemm(1, 0, gh, H, r->n, 1, dg + (size_t)first * KG, T * KG, r->h0,
                 s->layers * DH, 1, dw, H);
}

void dlc_rnn_backward_weight(const dlc_rnn_shape *s, int n, int layer, int dir,
                             const dlc_float *x, const dlc_float *h0,
                             const dlc_float *save, const dlc_float *dgates,
                             dlc_float *dw_ih, dlc_float *dw_hh,
                             dlc_float *db_ih, dlc_float *db_hh)
{
    size_t seq = dlc_rnn_seq(s, n);
    int H = s->h, KG = dlc_rnn_kg(s), rows = n * s->t;
    int gru = s->cell == DLC_RNN_GRU, gh = dlc_rnn_g(s) * H;
    const dlc_float *dg = dgates + (size_t)(layer * s->dirs + dir) * dlc_rnn_rows(s, n, KG);
    dlc_rnn_run r;

    dlc_rnn_bind(s, n, layer, dir, h0, NULL, layer ? save + (layer - 1) * seq : x, &r);
    r.y = (dlc_float *)save + layer * seq + (size_t)dir * H;
    /* dW_ih = dG[:, input part]^T in, over all n*T rows */
    if (!gru)
        dlc_gemm(1, 0, gh, r.fin, rows, 1, dg, KG, r.in, r.fin, 0, dw_ih, r.fin);
    else {
        dlc_gemm(1, 0, 2 * H, r.fin, rows, 1, dg, KG, r.in, r.fin, 0, dw_ih, r.fin);
        dlc_gemm(1, 0, H, r.fin, rows, 1, dg + 3 * H, KG, r.in, r.fin, 0,
                 dw_ih + (size_t)2 * H * r.fin, r.fin);
    }
    dlc_rnn_grad_hh(&r, dg, gh, dw_hh);
    if (db_hh)
        dlc_rnn_colsum(rows, gh, dg, KG, db_hh);
    if (db_ih && !gru)
        memcpy(db_ih, db_hh, (size_t)gh * sizeof *db_ih);
    else if (db_ih) {
        dlc_rnn_colsum(rows, 2 * H, dg, KG, db_ih);
        dlc_rnn_colsum(rows, H, dg + 3 * H, KG, db_ih + 2 * H);
    }
}
