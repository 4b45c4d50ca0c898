/* The text generator: trains a character-level language model compiled by
 * dlc on a text corpus, then writes text sampled from it.  It reaches the
 * model only through its descriptor <model>_info(), so one source serves
 * models/char_lstm.net and models/transformer_lm.net, and any model whose
 * input is `tokens[T]: int`, whose first output is next-character logits
 * [T, V] and whose loss takes the next character of every position
 * (labels [T]).
 *
 * The corpus is read as bytes; its vocabulary is the distinct bytes it
 * holds, in byte order, as ids 0..v-1 (v at most the model's V).  The last
 * --val part is held out.  An epoch cuts the training part into windows of
 * T+1 characters (T inputs; the labels are the same characters shifted by
 * one) from a random offset, shuffles them and trains on batches of them;
 * then the validation loss per character, its perplexity exp(loss), and a
 * one-line sample.  After training, --length characters sampled after
 * --prompt: autoregressive, each character drawn from softmax(logits /
 * temperature) at the last position of a sliding window of the last T
 * characters.  Every random choice comes from the runtime's PCG32, one
 * stream per purpose and epoch, so a run is reproducible from --seed and a
 * resumed run continues as an uninterrupted one.
 * Build (make build/textgen/char_lstm/textgen does this):
 *   cc -std=c99 -D_POSIX_C_SOURCE=200809L -DMODEL_INFO=char_lstm_info -Iruntime -Iexamples
 *      examples/textgen.c examples/plot.c char_lstm.c build/libdlcrt.a -lm */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlc_runtime.h"
#include "example_util.h"
#include "plot.h"

#ifndef MODEL_INFO
#error "compile with -DMODEL_INFO=<model>_info (make build/textgen/<model>/textgen does)"
#endif
/* The epochs when neither --epochs nor the build (-DTRAIN_EPOCHS=N, taken
 * from the model's train section by the Makefile) says. */
#ifndef TRAIN_EPOCHS
#define TRAIN_EPOCHS 10
#endif

/* Poems and song lyrics from Debian's fortunes package (234 KB, 95
 * distinct characters). */
#define DEFAULT_CORPUS "/usr/share/games/fortunes/songs-poems"

const dlc_model_info *MODEL_INFO(void);

enum {
    BAR_WIDTH = 14,
    SHUFFLE_STREAM = 0x5348,   /* "SH": epoch 0's window offset and shuffle; epoch e uses + e */
    PREVIEW_STREAM = 0x50560000, /* "PV": the sample after epoch e uses + e */
    SAMPLE_STREAM = 0x5341     /* "SA": the final sample */
};

typedef struct options {
    const char *corpus, *csv, *plot, *checkpoint, *resume, *prompt;
    long epochs, limit, length, preview;
    double val, temperature;
    unsigned long long seed;
} options;

/* One row of the log per epoch; NaN where there is no value.  Epoch 0 is
 * the untrained model. */
typedef struct epoch_log {
    double epoch, train_loss, val_loss, lr, seconds;
} epoch_log;

typedef struct textgen {
    const dlc_model_info *info;
    void *m;
    options o;
    int batch, t, classes;    /* compiled batch, context T, logits per position V */
    int tty;
    unsigned char *text;      /* the corpus (its first --limit bytes) */
    long len;
    int nvocab;               /* distinct characters: ids [0, nvocab) */
    unsigned char chars[256]; /* id -> character */
    int id[256];              /* character -> id, -1 when not in the corpus */
    int32_t *ids;             /* the text as ids */
    long ntrain, nval;        /* [0, ntrain) trains, [ntrain, len) validates */
    long nwin;                /* training windows per epoch */
    long *starts;             /* their first characters, shuffled */
    int32_t *x, *y;           /* one batch of windows and their labels, [batch, T] */
    dlc_float **out;          /* one batch of every output; out[0] are the logits */
    int32_t *ctx;             /* sampling: the prompt and what follows it */
    epoch_log *log;
    int nlog;
    int start_epoch;          /* epochs done before this run (--resume) */
} textgen;

/* ---- the command line ----------------------------------------------------- */

static void usage(const char *name)
{
    printf("usage: textgen [options]\n"
           "\n"
           "Trains %s (compiled by dlc, context %d characters, batch %d) as a\n"
           "character-level language model on a text file, then samples text from it.\n"
           "\n"
           "  --corpus FILE     the text (default %s,\n"
           "                    from Debian's fortunes package); its distinct bytes are the vocabulary\n"
           "  --limit N         only its first N bytes (quick runs)\n"
           "  --val F           the fraction held out for validation, at the end (default 0.1; 0: none)\n"
           "  --epochs N        epochs in all (default %d, from the model's train section); 0 with\n"
           "                    --resume only samples\n"
           "  --seed S          seed of the initial parameters, the shuffling and the sampling (default 0)\n"
           "  --prompt TEXT     the text the samples continue (default \"The \")\n"
           "  --length N        characters in the final sample (default 600)\n"
           "  --temperature X   sampling temperature: the logits are divided by X; 0 takes the most\n"
           "                    likely character (default 0.8)\n"
           "  --preview N       characters of the one-line sample after every epoch (default 100; 0: none)\n"
           "  --csv FILE        log per epoch: epoch, train loss, val loss, perplexity, bits/char, lr, seconds\n"
           "  --plot FILE.svg   loss and perplexity curves, rewritten after every epoch\n"
           "  --checkpoint FILE parameters, optimizer state and step after every epoch, with the\n"
           "                    vocabulary beside it in FILE.vocab\n"
           "  --resume FILE     continue from a checkpoint (--epochs counts from epoch 0)\n",
           name, (int)MODEL_INFO()->inputs[0].dims[0], MODEL_INFO()->batch, DEFAULT_CORPUS, TRAIN_EPOCHS);
}

static int bad_usage(const char *opt, const char *why)
{
    fprintf(stderr, "textgen: %s: %s\n(textgen --help lists the options)\n", opt, why);
    return 2;
}

static int parse_value(options *o, const char *a, const char *val)
{
    static const struct { const char *name; long lo, hi; size_t off; } ints[] = {
        { "--epochs", 0, 100000, offsetof(options, epochs) },
        { "--limit", 1, 2000000000, offsetof(options, limit) },
        { "--length", 0, 10000000, offsetof(options, length) },
        { "--preview", 0, 10000, offsetof(options, preview) },
    };
    static const struct { const char *name; double lo, hi; size_t off; } reals[] = {
        { "--val", 0, 0.9, offsetof(options, val) },
        { "--temperature", 0, 100, offsetof(options, temperature) },
    };
    static const struct { const char *name; size_t off; } strs[] = {
        { "--corpus", offsetof(options, corpus) }, { "--csv", offsetof(options, csv) },
        { "--plot", offsetof(options, plot) }, { "--checkpoint", offsetof(options, checkpoint) },
        { "--resume", offsetof(options, resume) }, { "--prompt", offsetof(options, prompt) },
    };
    char why[96];
    size_t i;

    for (i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(a, ints[i].name) == 0) {
            if (parse_long(val, ints[i].lo, ints[i].hi, (long *)((char *)o + ints[i].off)) != 0) {
                snprintf(why, sizeof why, "expects a whole number from %ld to %ld", ints[i].lo, ints[i].hi);
                return bad_usage(a, why);
            }
            return 0;
        }
    for (i = 0; i < sizeof reals / sizeof reals[0]; i++)
        if (strcmp(a, reals[i].name) == 0) {
            if (parse_double(val, reals[i].lo, reals[i].hi, (double *)((char *)o + reals[i].off)) != 0) {
                snprintf(why, sizeof why, "expects a number from %g to %g", reals[i].lo, reals[i].hi);
                return bad_usage(a, why);
            }
            return 0;
        }
    for (i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(a, strs[i].name) == 0) {
            *(const char **)((char *)o + strs[i].off) = val;
            return 0;
        }
    if (strcmp(a, "--seed") == 0) {
        char *end;
        errno = 0;
        o->seed = strtoull(val, &end, 10);
        if (errno || *end || *val < '0' || *val > '9')
            return bad_usage(a, "expects a whole number");
        return 0;
    }
    return bad_usage(a, "unknown option");
}

/* 0 to run, 1 after --help, 2 on bad usage. */
static int parse_args(int argc, char **argv, options *o)
{
    int i;

    memset(o, 0, sizeof *o);
    o->corpus = DEFAULT_CORPUS;
    o->epochs = TRAIN_EPOCHS;
    o->val = 0.1;
    o->prompt = "The ";
    o->length = 600;
    o->temperature = 0.8;
    o->preview = 100;
    for (i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(MODEL_INFO()->name);
            return 1;
        }
        if (strncmp(argv[i], "--", 2) != 0)
            return bad_usage(argv[i], "unexpected argument");
        if (i + 1 >= argc)
            return bad_usage(argv[i], "needs a value");
        if (parse_value(o, argv[i], argv[i + 1]) != 0)
            return 2;
    }
    if (!*o->prompt)
        return bad_usage("--prompt", "needs at least one character to start from");
    return 0;
}

/* ---- the model -------------------------------------------------------------- */

/* The model must take one int input [T], give logits [T, V] first, and
 * train with a loss on one class label per position.  0, or 1 after
 * printing why not. */
static int check_model(const dlc_model_info *info)
{
    const dlc_tensor_desc *in = info->inputs, *out = info->outputs;
    char shape[128];

    if (!info->train_step || !info->eval_loss || !info->save_checkpoint) {
        fprintf(stderr, "textgen: model %s has no train section, so dlc generated no training step\n",
                info->name);
        return 1;
    }
    if (info->ninputs != 1 || !in->is_int || in->rank != 1) {
        shape_str(in, shape, sizeof shape);
        fprintf(stderr, "textgen: model %s takes %s%s %s %s; a language model takes one window of "
                        "character ids, `input tokens[T]: int`\n", info->name,
                info->ninputs != 1 ? "several inputs, the first " : "input ", in->name, shape,
                in->is_int ? "int" : "float");
        return 1;
    }
    if (info->noutputs < 1 || out->rank != 2 || out->dims[0] != in->dims[0] || out->dims[1] < 2) {
        shape_str(out, shape, sizeof shape);
        fprintf(stderr, "textgen: model %s's first output %s is %s; textgen needs next-character "
                        "logits [%lld, V] (one row per input position)\n", info->name, out->name, shape,
                (long long)in->dims[0]);
        return 1;
    }
    if (info->nlabels != 1 || !info->labels[0].is_int || info->labels[0].count != (size_t)in->dims[0]) {
        fprintf(stderr, "textgen: model %s's loss does not take one class label per position, "
                        "[%lld] ints (e.g. cross_entropy of the logits transposed to [V, T])\n",
                info->name, (long long)in->dims[0]);
        return 1;
    }
    return 0;
}

/* ---- the corpus --------------------------------------------------------------- */

/* Reads the corpus (at most --limit bytes) into t->text.  0, or 1 after
 * printing why not. */
static int read_corpus(textgen *t)
{
    const char *path = t->o.corpus;
    char err[256];
    int opened;

    t->text = read_file_bytes(path, t->o.limit, &t->len, err, sizeof err, &opened);
    if (t->text)
        return 0;
    if (!opened) {
        fprintf(stderr, "textgen: cannot open the corpus %s: %s\n", path, err);
        if (strcmp(path, DEFAULT_CORPUS) == 0)
            fprintf(stderr, "textgen: the default corpus comes from Debian's fortunes package "
                            "(make deps installs it), or name a text file with --corpus\n");
    } else if (strcmp(err, "empty") == 0)
        fprintf(stderr, "textgen: the corpus %s is empty\n", path);
    else if (strcmp(err, "out of memory") == 0)
        fprintf(stderr, "textgen: out of memory for the corpus %s (use --limit)\n", path);
    else
        fprintf(stderr, "textgen: cannot read the corpus %s: %s\n", path, err);
    return 1;
}

/* The vocabulary: the corpus's distinct bytes in byte order.  0, or 1
 * after printing why not. */
static int build_vocab(textgen *t)
{
    long count[256] = { 0 }, i;
    int c;

    for (i = 0; i < t->len; i++)
        count[t->text[i]]++;
    t->nvocab = 0;
    for (c = 0; c < 256; c++) {
        t->id[c] = count[c] ? t->nvocab : -1;
        if (count[c])
            t->chars[t->nvocab++] = (unsigned char)c;
    }
    if (t->nvocab > t->classes) {
        fprintf(stderr, "textgen: the corpus %s has %d distinct characters (bytes), more than the %d "
                        "classes model %s scores (the width of its logits and embedding); use a corpus "
                        "with fewer, or a model with a larger vocabulary\n",
                t->o.corpus, t->nvocab, t->classes, t->info->name);
        return 1;
    }
    t->ids = malloc((size_t)t->len * sizeof *t->ids);
    if (!t->ids) {
        fprintf(stderr, "textgen: out of memory\n");
        return 1;
    }
    for (i = 0; i < t->len; i++)
        t->ids[i] = t->id[t->text[i]];
    return 0;
}

/* The training and validation parts; each must hold one window of T+1
 * characters.  0, or 1 after printing why not. */
static int split(textgen *t)
{
    long window = t->t + 1;

    t->nval = t->o.val > 0 ? (long)(t->len * t->o.val + 0.5) : 0;
    t->ntrain = t->len - t->nval;
    if (t->ntrain < window) {
        fprintf(stderr, "textgen: the corpus %s is too short: %ld characters%s, and one training window "
                        "is %ld (the model's context of %d characters and the one after it)\n",
                t->o.corpus, t->len, t->nval ? " with the validation part held out" : "", window, t->t);
        if (t->nval)
            fprintf(stderr, "textgen: (%ld characters train, %ld validate: --val %g)\n", t->ntrain, t->nval,
                    t->o.val);
        return 1;
    }
    if (t->nval && t->nval < window) {
        fprintf(stderr, "textgen: the validation part, the last %ld characters (--val %g) of %s, is shorter "
                        "than one window of %ld characters; use a longer corpus, a larger --val, or --val 0\n",
                t->nval, t->o.val, t->o.corpus, window);
        return 1;
    }
    t->nwin = (t->ntrain - 1) / t->t;
    return 0;
}

/* The prompt as ids in t->ctx.  0, or 1 after printing why not. */
static int prompt_ids(textgen *t, long *n)
{
    const unsigned char *p = (const unsigned char *)t->o.prompt;
    long i;

    for (i = 0; p[i]; i++) {
        if (t->id[p[i]] < 0) {
            if (p[i] >= 32 && p[i] < 127)
                fprintf(stderr, "textgen: --prompt: the character '%c' does not occur in the corpus %s, so "
                                "the model has no id for it\n", p[i], t->o.corpus);
            else
                fprintf(stderr, "textgen: --prompt: the byte 0x%02x (character %ld of the prompt) does not "
                                "occur in the corpus %s, so the model has no id for it\n", p[i], i + 1,
                        t->o.corpus);
            return 1;
        }
        t->ctx[i] = t->id[p[i]];
    }
    *n = i;
    return 0;
}

/* ---- the vocabulary beside a checkpoint --------------------------------------- */

#define VOCAB_MAGIC "dlc textgen vocabulary"

static void vocab_path(const char *ckpt, char *buf, size_t size)
{
    snprintf(buf, size, "%s.vocab", ckpt);
}

/* FILE.vocab: a line VOCAB_MAGIC, the count, the characters as hex. */
static int save_vocab(const textgen *t, const char *ckpt)
{
    char path[4096];
    FILE *f;
    int i, bad;

    vocab_path(ckpt, path, sizeof path);
    f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "textgen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(f, "%s\n%d\n", VOCAB_MAGIC, t->nvocab);
    for (i = 0; i < t->nvocab; i++)
        fprintf(f, "%02x%c", t->chars[i], i % 16 == 15 || i == t->nvocab - 1 ? '\n' : ' ');
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "textgen: %s: write failed\n", path);
        return 1;
    }
    return 0;
}

/* A checkpoint's ids mean characters only with the vocabulary it was
 * trained with: the corpus's must be the same.  0, or 1 after printing why
 * not (a checkpoint without FILE.vocab only gets a warning). */
static int check_vocab(const textgen *t, const char *ckpt)
{
    char path[4096], magic[64];
    unsigned char chars[256];
    unsigned c;
    int n, i, ok;
    FILE *f;

    vocab_path(ckpt, path, sizeof path);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "textgen: warning: no %s beside the checkpoint; assuming it was trained on this "
                        "corpus's vocabulary\n", path);
        return 0;
    }
    ok = fgets(magic, sizeof magic, f) && strncmp(magic, VOCAB_MAGIC "\n", sizeof magic) == 0 &&
         fscanf(f, "%d", &n) == 1 && n >= 1 && n <= 256;
    for (i = 0; ok && i < n; i++) {
        ok = fscanf(f, "%x", &c) == 1 && c < 256;
        chars[i] = (unsigned char)c;
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "textgen: %s is not a vocabulary file written by textgen\n", path);
        return 1;
    }
    if (n != t->nvocab || memcmp(chars, t->chars, (size_t)n) != 0) {
        fprintf(stderr, "textgen: %s was trained on a vocabulary of %d characters (%s); the corpus %s has "
                        "%d%s: pass the corpus (and --limit) it was trained on\n", ckpt, n, path, t->o.corpus,
                t->nvocab, n == t->nvocab ? ", not the same ones" : "");
        return 1;
    }
    return 0;
}

static int save_checkpoint(const textgen *t, const char *path)
{
    int rc = t->info->save_checkpoint(t->m, path);
    if (rc != DLC_OK) {
        fprintf(stderr, "textgen: %s: cannot save the checkpoint: %s\n", path, dlc_strerror(rc));
        return 1;
    }
    return save_vocab(t, path);
}

/* ---- batches, training and validation ---------------------------------------- */

/* Window starts for an epoch: every T characters from a random offset in
 * what the whole windows leave over, then Fisher-Yates, with the runtime's
 * PCG32 on one stream per epoch so that a resumed run does as an
 * uninterrupted one would. */
static void shuffle(textgen *t, int epoch)
{
    long slack = t->ntrain - 1 - t->nwin * t->t, off, i;
    dlc_rng r;

    dlc_rng_seed(&r, t->o.seed, SHUFFLE_STREAM + (uint64_t)epoch);
    off = (long)(dlc_rng_uniform(&r) * (double)(slack + 1));
    for (i = 0; i < t->nwin; i++)
        t->starts[i] = off + i * t->t;
    for (i = t->nwin - 1; i > 0; i--) {
        long j = (long)(dlc_rng_uniform(&r) * (double)(i + 1)), tmp = t->starts[i];
        t->starts[i] = t->starts[j];
        t->starts[j] = tmp;
    }
}

/* Windows starting at starts[first..first+nb) (at first + i*T when starts
 * is NULL) into the batch: T ids and the T that follow them by one. */
static void gather(textgen *t, const long *starts, long first, int nb)
{
    int i;
    for (i = 0; i < nb; i++) {
        long s = starts ? starts[first + i] : first + (long)i * t->t;
        memcpy(t->x + (size_t)i * t->t, t->ids + s, (size_t)t->t * sizeof *t->x);
        memcpy(t->y + (size_t)i * t->t, t->ids + s + 1, (size_t)t->t * sizeof *t->y);
    }
}

/* The generated functions take every input as dlc_float pointers; an int
 * input's elements are int32 behind it. */
static const dlc_float *ids_arg(const int32_t *ids)
{
    return (const dlc_float *)(const void *)ids;
}

/* The mean loss per character of the validation part, in eval mode. */
static int evaluate(textgen *t, double *loss)
{
    long nw = (t->nval - 1) / t->t, w;
    double sum = 0;

    for (w = 0; w < nw; w += t->batch) {
        int nb = nw - w < t->batch ? (int)(nw - w) : t->batch, rc;
        const dlc_float *in[1];
        const void *labels[1];
        dlc_float l;

        gather(t, NULL, t->ntrain + w * t->t, nb);
        in[0] = ids_arg(t->x);
        labels[0] = t->y;
        rc = t->info->eval_loss(t->m, in, labels, nb, &l);
        if (rc != DLC_OK) {
            fprintf(stderr, "%stextgen: validation failed at window %ld: %s\n", t->tty ? "\n" : "", w + 1,
                    dlc_strerror(rc));
            return rc;
        }
        sum += (double)l * nb;
    }
    *loss = sum / (double)nw;
    return DLC_OK;
}

typedef struct progress {
    int epoch, nbatches;
    double t0, last_draw;
} progress;

/* The bar on a terminal, redrawn in place at most ten times a second. */
static void draw_bar(const textgen *t, progress *p, int b, long chars, double loss, int done)
{
    double now = now_s(), rate, eta;
    char bar[BAR_WIDTH + 1], clock[24];
    int i, fill;

    if (!t->tty || (!done && now - p->last_draw < 0.1))
        return;
    p->last_draw = now;
    rate = now > p->t0 ? (double)chars / (now - p->t0) : 0;
    eta = rate > 0 ? ((double)t->nwin * t->t - (double)chars) / rate : 0;
    fill = (int)((double)b / p->nbatches * BAR_WIDTH);
    for (i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = 0;
    fprintf(stderr, "\r\033[Kepoch %d/%ld [%s] %d/%d loss %.4f %.0f chars/s ETA %s", p->epoch, t->o.epochs, bar,
            b, p->nbatches, chars ? loss / (double)chars : 0.0, rate, clock_str(eta, clock, sizeof clock));
    fflush(stderr);
}

/* Trains one epoch; fills the training columns of row.  0 or a DLC_ERR_ code. */
static int train_epoch(textgen *t, int epoch, epoch_log *row)
{
    const dlc_model_info *info = t->info;
    progress p;
    double sum = 0;
    long done = 0;
    int b, rc;

    p.epoch = epoch + 1;
    p.nbatches = (int)((t->nwin + t->batch - 1) / t->batch);
    p.t0 = now_s();
    p.last_draw = 0;
    shuffle(t, epoch);
    for (b = 0; b < p.nbatches; b++) {
        int nb = t->nwin - done < t->batch ? (int)(t->nwin - done) : t->batch;
        const dlc_float *in[1];
        const void *labels[1];
        dlc_float loss;

        gather(t, t->starts, done, nb);
        in[0] = ids_arg(t->x);
        labels[0] = t->y;
        rc = info->train_step(t->m, in, labels, nb, &loss);
        if (rc != DLC_OK) {
            fprintf(stderr, "%stextgen: epoch %d, batch %d of %d (step %lld): %s\n", t->tty ? "\n" : "",
                    epoch + 1, b + 1, p.nbatches, (long long)info->step_count(t->m) + 1, dlc_strerror(rc));
            return rc;
        }
        sum += (double)loss * nb * t->t;
        done += nb;
        draw_bar(t, &p, b + 1, done * t->t, sum, b + 1 == p.nbatches);
    }
    row->train_loss = sum / ((double)done * t->t);
    row->seconds = now_s() - p.t0;
    if (t->tty)
        fputs("\r\033[K", stderr);
    fflush(stderr);
    return DLC_OK;
}

/* ---- sampling ------------------------------------------------------------------ */

/* An id drawn from softmax(logits / temperature) over the vocabulary (the
 * model's other classes never occur); temperature 0: the most likely. */
static int pick(const dlc_float *logits, int n, double temperature, dlc_rng *r)
{
    double p[256], max = logits[0], sum = 0, u;
    int i, best = 0;

    for (i = 1; i < n; i++)
        if (logits[i] > max) {
            max = logits[i];
            best = i;
        }
    if (temperature <= 0)
        return best;
    for (i = 0; i < n; i++)
        sum += p[i] = exp(((double)logits[i] - max) / temperature);
    u = dlc_rng_uniform(r) * sum;
    for (i = 0; i < n - 1; i++) {
        u -= p[i];
        if (u < 0)
            return i;
    }
    return n - 1;
}

/* Writes one character: as it is, or escaped when it would act on the
 * terminal; on one line (line breaks as " / ") when one_line. */
static void put_char(FILE *f, unsigned char c, int one_line)
{
    if (one_line && (c == '\n' || c == '\t'))
        fputs(c == '\n' ? " / " : " ", f);
    else if ((c < 32 && c != '\n' && c != '\t') || c == 127)
        fprintf(f, "\\x%02x", c);
    else
        fputc(c, f);
}

/* Appends count characters to ctx[0..*n), each drawn from the model's
 * scores at the last position of a window of the last T characters (the
 * whole context while it is shorter, left-aligned: the positions after it
 * cannot influence it, as both models are causal), writing each to f. */
static int generate(textgen *t, long *n, long count, dlc_rng *r, FILE *f, int one_line)
{
    long k;

    t->info->set_training(t->m, 0);
    for (k = 0; k < count; k++) {
        long w = *n < t->t ? *n : t->t;
        const dlc_float *in[1];
        int rc, next;

        memset(t->x, 0, (size_t)t->t * sizeof *t->x);
        memcpy(t->x, t->ctx + *n - w, (size_t)w * sizeof *t->x);
        in[0] = ids_arg(t->x);
        rc = t->info->forward(t->m, in, t->out, 1);
        if (rc != DLC_OK) {
            fprintf(stderr, "textgen: sampling failed: %s\n", dlc_strerror(rc));
            return rc;
        }
        next = pick(t->out[0] + (size_t)(w - 1) * t->classes, t->nvocab, t->o.temperature, r);
        t->ctx[(*n)++] = next;
        put_char(f, t->chars[next], one_line);
    }
    return DLC_OK;
}

/* The prompt and count sampled characters after it, on stream `stream`. */
static int sample(textgen *t, long count, uint64_t stream, int one_line)
{
    long n, i;
    dlc_rng r;

    if (prompt_ids(t, &n) != 0)
        return 1;
    dlc_rng_seed(&r, t->o.seed, stream);
    for (i = 0; i < n; i++)
        put_char(stdout, t->chars[t->ctx[i]], one_line);
    return generate(t, &n, count, &r, stdout, one_line) != DLC_OK;
}

/* ---- the log: CSV and plot ------------------------------------------------------ */

static int write_csv(const textgen *t)
{
    FILE *f;
    int i, bad;

    if (!t->o.csv)
        return 0;
    f = fopen(t->o.csv, "w");
    if (!f) {
        fprintf(stderr, "textgen: %s: %s\n", t->o.csv, strerror(errno));
        return 1;
    }
    fputs("epoch,train_loss,val_loss,val_perplexity,val_bits_per_char,lr,seconds\n", f);
    for (i = 0; i < t->nlog; i++) {
        const epoch_log *r = &t->log[i];
        fprintf(f, "%d", (int)r->epoch);
        csv_num(f, r->train_loss, "%.6f");
        csv_num(f, r->val_loss, "%.6f");
        csv_num(f, exp(r->val_loss), "%.4f");
        csv_num(f, r->val_loss / log(2.0), "%.4f");
        csv_num(f, r->lr, "%.6g");
        csv_num(f, r->seconds, "%.3f");
        fputc('\n', f);
    }
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "textgen: %s: write failed\n", t->o.csv);
        return 1;
    }
    return 0;
}

/* Loss (training, validation) and validation perplexity per epoch; the
 * perplexity leaves out the untrained model's, which would flatten the
 * curve of the trained epochs (the loss panel has it). */
static int write_plot(const textgen *t)
{
    enum { NCOL = 4 };
    double *col[NCOL];
    plot_series loss[2], ppl[1];
    plot_panel panels[2];
    char title[256], msg[512];
    const char *base = strrchr(t->o.corpus, '/');
    int i, k, rc = 0, skip = t->nlog > 1 && !isfinite(t->log[0].train_loss);

    if (!t->o.plot)
        return 0;
    for (k = 0; k < NCOL; k++)
        col[k] = malloc((size_t)t->nlog * sizeof *col[k] + 1);
    for (k = 0; k < NCOL; k++)
        if (!col[k])
            rc = 1;
    for (i = 0; !rc && i < t->nlog; i++) {
        col[0][i] = t->log[i].epoch;
        col[1][i] = t->log[i].train_loss;
        col[2][i] = t->log[i].val_loss;
        col[3][i] = exp(t->log[i].val_loss);
    }
    if (!rc) {
        plot_series s[3] = {
            { "training", "#1f77b4", NULL, NULL, 0, 0 }, { "validation", "#ff7f0e", NULL, NULL, 0, 1 },
            { "validation", "#ff7f0e", NULL, NULL, 0, 1 },
        };
        for (k = 0; k < 3; k++) {
            s[k].x = col[0];
            s[k].y = col[k + 1];
            s[k].n = t->nlog;
        }
        loss[0] = s[0];
        loss[1] = s[1];
        ppl[0] = s[2];
        ppl[0].x += skip;
        ppl[0].y += skip;
        ppl[0].n -= skip;
        panels[0].title = "Loss";
        panels[0].ylabel = "cross-entropy per character (nats)";
        panels[0].series = loss;
        panels[0].nseries = t->nval ? 2 : 1;
        panels[1].title = "Validation perplexity";
        panels[1].ylabel = "exp(loss)";
        panels[1].series = ppl;
        panels[1].nseries = 1;
        for (k = 0; k < 2; k++) {
            panels[k].xlabel = "epoch";
            panels[k].x_integer = 1;
            panels[k].ymin = panels[k].ymax = 0;
        }
        snprintf(title, sizeof title, "%s on %s (%ld characters, vocabulary %d, batch %d, seed %llu)",
                 t->info->name, base ? base + 1 : t->o.corpus, t->len, t->nvocab, t->batch, t->o.seed);
        if (plot_write_svg(t->o.plot, title, panels, t->nval ? 2 : 1, msg, sizeof msg) != 0) {
            fprintf(stderr, "textgen: %s\n", msg);
            rc = 1;
        }
    } else
        fprintf(stderr, "textgen: out of memory for the plot\n");
    for (k = 0; k < NCOL; k++)
        free(col[k]);
    return rc;
}

/* ---- main ------------------------------------------------------------------------ */

static int alloc_buffers(textgen *t)
{
    const dlc_model_info *info = t->info;
    size_t per = (size_t)t->batch * t->t;
    int i;

    t->x = malloc(per * sizeof *t->x);
    t->y = malloc(per * sizeof *t->y);
    t->starts = malloc((size_t)(t->nwin ? t->nwin : 1) * sizeof *t->starts);
    t->out = calloc((size_t)info->noutputs, sizeof *t->out);
    t->ctx = malloc((strlen(t->o.prompt) + (size_t)(t->o.length > t->o.preview ? t->o.length : t->o.preview)) *
                    sizeof *t->ctx);
    t->log = calloc((size_t)t->o.epochs + 1, sizeof *t->log);
    if (!t->x || !t->y || !t->starts || !t->out || !t->ctx || !t->log)
        return 1;
    for (i = 0; i < info->noutputs; i++) {
        t->out[i] = malloc((size_t)t->batch * info->outputs[i].count * sizeof *t->out[i]);
        if (!t->out[i])
            return 1;
    }
    return 0;
}

static void free_textgen(textgen *t)
{
    int i;
    if (t->out)
        for (i = 0; i < t->info->noutputs; i++)
            free(t->out[i]);
    free(t->out);
    free(t->x);
    free(t->y);
    free(t->starts);
    free(t->ctx);
    free(t->log);
    free(t->ids);
    free(t->text);
    if (t->m)
        t->info->destroy(t->m);
}

/* The corpus, the model (initialised, or from --resume), the buffers.  0,
 * or 1 after printing why not. */
static int setup(textgen *t)
{
    const dlc_model_info *info = t->info;
    long n;
    int rc;

    if (read_corpus(t) != 0 || build_vocab(t) != 0 || split(t) != 0)
        return 1;
    if (alloc_buffers(t) != 0) {
        fprintf(stderr, "textgen: out of memory\n");
        return 1;
    }
    t->m = info->create();
    if (!t->m) {
        fprintf(stderr, "textgen: out of memory for the model\n");
        return 1;
    }
    info->init(t->m, t->o.seed);
    info->set_training(t->m, 0);
    /* a NaN or infinite loss stops training before it reaches the parameters */
    info->check_finite(t->m, 1);
    if (t->o.resume) {
        if (check_vocab(t, t->o.resume) != 0)
            return 1;
        rc = info->load_checkpoint(t->m, t->o.resume);
        if (rc != DLC_OK) {
            fprintf(stderr, "textgen: %s: cannot resume: %s\n", t->o.resume, dlc_strerror(rc));
            return 1;
        }
    }
    return prompt_ids(t, &n); /* a bad prompt fails now, not after training */
}

/* The epoch a resumed run continues from: the checkpoint's step count over
 * the steps per epoch of this corpus. */
static int first_epoch(const textgen *t)
{
    int64_t step = t->info->step_count(t->m);
    long spe = (t->nwin + t->batch - 1) / t->batch;

    if (!t->o.resume)
        return 0;
    if (step % spe)
        fprintf(stderr, "textgen: warning: %s was saved at step %lld, not at the end of an epoch of %ld "
                        "steps; continuing from epoch %lld\n", t->o.resume, (long long)step, spe,
                (long long)(step / spe) + 1);
    printf("resumed:  %s at step %lld: epoch %lld done\n", t->o.resume, (long long)step,
           (long long)(step / spe));
    return (int)(step / spe);
}

static void print_header(const textgen *t)
{
    const dlc_model_info *info = t->info;

    printf("model:    %s, %zu parameters (%zu trained), context %d, batch %d, learning rate %g\n", info->name,
           info->param_count, info->trainable_count, t->t, t->batch, info->get_lr(t->m));
    printf("corpus:   %s: %ld characters, vocabulary of %d (the model scores %d); %ld train (%ld windows "
           "of %d), %ld validate\n", t->o.corpus, t->len, t->nvocab, t->classes, t->ntrain, t->nwin, t->t,
           t->nval);
    printf("training: %ld epoch%s, seed %llu; samples at temperature %g\n", t->o.epochs,
           t->o.epochs == 1 ? "" : "s", t->o.seed, t->o.temperature);
    fflush(stdout);
}

static void print_epoch(const textgen *t, const epoch_log *r)
{
    char train[32] = "", val[80] = "";

    if (isfinite(r->train_loss))
        snprintf(train, sizeof train, "train loss %.4f", r->train_loss);
    else
        snprintf(train, sizeof train, "%-15s", "(untrained)");
    if (t->nval)
        snprintf(val, sizeof val, " | val loss %.4f, perplexity %6.2f, %.3f bits/char", r->val_loss,
                 exp(r->val_loss), r->val_loss / log(2.0));
    printf("epoch %3d/%ld | %s%s | lr %.3g | %.1f s\n", (int)r->epoch, t->o.epochs, train, val, r->lr,
           r->seconds);
    fflush(stdout);
}

/* The validation loss, the log's row, the CSV, the plot and the preview
 * sample of epoch e (0: before training). */
static int end_epoch(textgen *t, int e, epoch_log *r)
{
    double t0 = now_s();

    r->epoch = e;
    r->val_loss = NAN;
    if (t->nval && evaluate(t, &r->val_loss) != DLC_OK)
        return 1;
    r->seconds += now_s() - t0;
    t->nlog++;
    print_epoch(t, r);
    if (t->o.preview) {
        fputs("  sample: ", stdout);
        if (sample(t, t->o.preview, PREVIEW_STREAM + (uint64_t)e, 1) != 0)
            return 1;
        fputc('\n', stdout);
        fflush(stdout);
    }
    return write_csv(t) || write_plot(t);
}

static int train_all(textgen *t)
{
    const dlc_model_info *info = t->info;
    int e;

    t->start_epoch = first_epoch(t);
    if (t->start_epoch == 0 && t->o.epochs > 0) {
        epoch_log *r = &t->log[t->nlog];
        r->train_loss = NAN;
        r->lr = info->get_lr(t->m);
        if (end_epoch(t, 0, r) != 0)
            return 1;
    }
    for (e = t->start_epoch; e < t->o.epochs; e++) {
        epoch_log *r = &t->log[t->nlog];
        r->lr = info->get_lr(t->m);
        if (train_epoch(t, e, r) != DLC_OK)
            return 1;
        info->schedule_step(t->m);
        if (end_epoch(t, e + 1, r) != 0)
            return 1;
        if (t->o.checkpoint && save_checkpoint(t, t->o.checkpoint) != 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    textgen t;
    int rc;
    double t_start = now_s();

    memset(&t, 0, sizeof t);
    rc = parse_args(argc, argv, &t.o);
    if (rc)
        return rc == 1 ? 0 : 2;
    t.info = MODEL_INFO();
    if (check_model(t.info) != 0)
        return 1;
    t.batch = t.info->batch;
    t.t = (int)t.info->inputs[0].dims[0];
    t.classes = (int)t.info->outputs[0].dims[1];
    t.tty = isatty(fileno(stderr));
    if (setup(&t) != 0) {
        free_textgen(&t);
        return 1;
    }
    print_header(&t);
    rc = train_all(&t);
    if (rc == 0 && t.o.checkpoint)
        printf("checkpoint: %s (step %lld), vocabulary %s.vocab\n", t.o.checkpoint,
               (long long)t.info->step_count(t.m), t.o.checkpoint);
    if (rc == 0 && t.o.csv)
        printf("log:      %s\n", t.o.csv);
    if (rc == 0 && t.o.plot)
        printf("plot:     %s\n", t.o.plot);
    if (rc == 0 && t.o.length) {
        printf("\nsample (%ld characters after the prompt, temperature %g, seed %llu):\n"
               "----------------------------------------------------------------\n",
               t.o.length, t.o.temperature, t.o.seed);
        rc = sample(&t, t.o.length, SAMPLE_STREAM, 0);
        printf("\n----------------------------------------------------------------\n");
    }
    if (rc == 0)
        printf("done in %.1f s\n", now_s() - t_start);
    free_textgen(&t);
    return rc ? 1 : 0;
}
