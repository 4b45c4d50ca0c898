/* Three sequence tasks on real text (Debian's fortunes), one per model,
 * each trained from scratch and tested on held-out text against a simple
 * baseline.  `--task` picks one:
 *
 *   classify  models/transformer_classifier.net: which of 4 fortunes files
 *             a window of 32 words comes from.  Words are lowercased runs
 *             of letters and digits (an inner apostrophe kept), other
 *             characters are one token each, the `%` lines between
 *             fortunes are dropped; the 999 most frequent training tokens
 *             are ids 1..999, any other is 0.  The last --test part of
 *             every file is held out; an epoch draws the same number of
 *             (overlapping, stride 8) training windows from each file, and
 *             the test windows (disjoint) are balanced the same way, so
 *             chance and the majority class both score 25%.
 *   tagger    models/bilstm_tagger.net: a tag for every character of a
 *             window of 32 bytes: space, punctuation, a one-character word,
 *             the first, an inner or the last character of a longer word,
 *             and, apart, the first character of a sentence's first word
 *             (one after . ! ? or a fortune's start).  Which one a
 *             character gets depends on its neighbours, on both sides and
 *             across spaces and quotes; the baseline tags every byte with
 *             its most frequent training tag, from the character alone.
 *   seq2seq   models/seq2seq.net: a word (2 to 11 letters, lowercased) in,
 *             its letters reversed (--transduce sort: sorted) out.  Ids: 0
 *             padding, 1 start (BOS), 2 end (EOS), 3.. the letters a-z.
 *             The source is right-aligned (padding first), so the
 *             encoder's final state follows the last letter; the decoder
 *             reads BOS and the target shifted right (teacher forcing) and
 *             learns the target, EOS, then padding.  A --test part of the
 *             corpus's distinct words is held out; at test time decoding is
 *             greedy: the decoder input starts as BOS and padding, and the
 *             most likely token of position t becomes input t+1 (the
 *             decoder is causal: later inputs do not change position t).
 *
 * Every epoch logs the training loss, the test loss and the test metric
 * (--csv); epoch 0 is the untrained model.  Random choices (shuffling,
 * the word split) come from the runtime's PCG32 seeded by --seed.
 * Build: make build/examples/seqtasks */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"
#include "example_util.h"

const dlc_model_info *transformer_classifier_info(void);
const dlc_model_info *bilstm_tagger_info(void);
const dlc_model_info *seq2seq_info(void);

#define FORTUNES "/usr/share/games/fortunes/"

enum {
    SHUFFLE_STREAM = 0x5348, /* "SH": epoch e's order uses + 16 e (+ class) */
    SPLIT_STREAM = 0x5350,   /* "SP": seq2seq's train/test word split */
    WORD_MAX = 31,           /* longer tokens are cut */
    MAX_FILES = 16,
    MAX_CLASSES = 64,
    /* seq2seq ids */
    PAD = 0, BOS = 1, EOS = 2, LETTER0 = 3,
    MIN_WORD = 2
};

/* The tagger's tags (the model scores 17; these are the ones used). */
enum { TAG_SPACE, TAG_PUNCT, TAG_SINGLE, TAG_BEGIN, TAG_INSIDE, TAG_END, TAG_SENT_SINGLE, TAG_SENT_BEGIN, NTAGS };
static const char *const tag_names[NTAGS] = {
    "space", "punct", "single", "begin", "inside", "end", "sent-single", "sent-begin"
};

typedef struct options {
    const char *task, *corpus, *csv, *checkpoint, *transduce;
    long epochs, limit, show;
    double test;
    unsigned long long seed;
} options;

/* One row of the log per epoch; NaN where there is no value. */
typedef struct epoch_log {
    double train_loss, test_loss, metric, lr, seconds;
} epoch_log;

/* Samples: in[k] holds n * len[k] ids, y n * ylen labels. */
typedef struct dataset {
    long n;
    int32_t *in[2], *y;
} dataset;

struct run;

/* What differs between the tasks. */
typedef struct task {
    const char *name, *net, *what, *metric, *default_corpus;
    const dlc_model_info *(*info)(void);
    long epochs;
    int (*check)(struct run *r);    /* the model fits the task: 0, or 1 after printing why not */
    int (*prepare)(struct run *r);  /* train and test sets: 0, or 1 after printing why not */
    /* test-set metric (0..1) with the model in eval mode; fills the
     * predictions report() reads.  0 or a DLC_ERR_ code. */
    int (*evaluate)(struct run *r, double *metric);
    void (*report)(struct run *r);  /* baselines and details, after training */
} task;

typedef struct run {
    options o;
    const task *tk;
    const dlc_model_info *info;
    void *m;
    int batch, nin;
    long len[2], ylen;          /* per-sample ids of each input, labels */
    int classes;                /* scores per position */
    dataset train, test;
    long *perm;                 /* an epoch's order of training samples */
    int32_t *bx[2], *by;        /* one batch */
    dlc_float *out;             /* one batch of the first output */
    epoch_log *log;
    int nlog;
    /* the text */
    int nfiles;
    const char *files[MAX_FILES];
    unsigned char *text[MAX_FILES];
    long textlen[MAX_FILES];
    /* classify */
    long class_start[MAX_CLASSES + 1]; /* training windows of class c: [class_start[c], class_start[c+1]) */
    long per_class, test_per_class;
    long confusion[MAX_CLASSES][MAX_CLASSES];
    int nvocab;
    /* tagger: the test predictions, and the baseline's tag per byte */
    int32_t *pred;
    int byte_tag[256];
    /* seq2seq */
    int sort;                   /* --transduce sort */
} run;

/* ---- the command line ------------------------------------------------------ */

static const task tasks[3];

static void usage(void)
{
    printf("usage: seqtasks --task classify|tagger|seq2seq [options]\n"
           "\n"
           "Trains one of three models compiled by dlc on text from Debian's fortunes and\n"
           "tests it on held-out text against a baseline:\n"
           "  classify  models/transformer_classifier.net: which of 4 fortunes files a window\n"
           "            of 32 words comes from (test accuracy vs chance, confusion matrix)\n"
           "  tagger    models/bilstm_tagger.net: a word-position/sentence-start tag for every\n"
           "            character of 32 (test accuracy vs tagging each character alone)\n"
           "  seq2seq   models/seq2seq.net: a word in, its letters reversed out, decoded\n"
           "            greedily (exact matches on held-out words)\n"
           "\n"
           "  --corpus F[,F...] the text: classify takes one file per class (default\n"
           "                    " FORTUNES "{computers,science,songs-poems,people});\n"
           "                    tagger (default people) and seq2seq (default songs-poems) read\n"
           "                    every file named\n"
           "  --limit N         only the first N bytes of each file (quick runs)\n"
           "  --test F          the fraction held out for testing (default 0.2): the end of each\n"
           "                    file; for seq2seq, of the distinct words\n"
           "  --epochs N        epochs (defaults: classify %ld, tagger %ld, seq2seq %ld)\n"
           "  --seed S          seed of the initial parameters and the shuffling (default 0)\n"
           "  --transduce WHAT  seq2seq: reverse (default) or sort the letters\n"
           "  --show N          seq2seq: test words to print decoded at the end (default 12)\n"
           "  --csv FILE        log per epoch: epoch, train loss, test loss, test metric, lr, seconds\n"
           "  --checkpoint FILE the model (parameters, optimizer state) after every epoch\n",
           tasks[0].epochs, tasks[1].epochs, tasks[2].epochs);
}

static int bad_usage(const char *opt, const char *why)
{
    fprintf(stderr, "seqtasks: %s: %s\n(seqtasks --help lists the options)\n", opt, why);
    return 2;
}

static int parse_value(options *o, const char *a, const char *val)
{
    static const struct { const char *name; long lo, hi; size_t off; } ints[] = {
        { "--epochs", 0, 100000, offsetof(options, epochs) },
        { "--limit", 1, 2000000000, offsetof(options, limit) },
        { "--show", 0, 1000, offsetof(options, show) },
    };
    static const struct { const char *name; size_t off; } strs[] = {
        { "--task", offsetof(options, task) }, { "--corpus", offsetof(options, corpus) },
        { "--csv", offsetof(options, csv) }, { "--checkpoint", offsetof(options, checkpoint) },
        { "--transduce", offsetof(options, transduce) },
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
    for (i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(a, strs[i].name) == 0) {
            *(const char **)((char *)o + strs[i].off) = val;
            return 0;
        }
    if (strcmp(a, "--test") == 0) {
        if (parse_double(val, 0.01, 0.9, &o->test) != 0)
            return bad_usage(a, "expects a fraction from 0.01 to 0.9");
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

/* 0 to run, 1 after --help, 2 on bad usage; r->tk is the task. */
static int parse_args(int argc, char **argv, run *r)
{
    options *o = &r->o;
    size_t k;
    int i;

    memset(o, 0, sizeof *o);
    o->epochs = -1;
    o->test = 0.2;
    o->show = 12;
    o->transduce = "reverse";
    for (i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 1;
        }
        if (strncmp(argv[i], "--", 2) != 0)
            return bad_usage(argv[i], "unexpected argument");
        if (i + 1 >= argc)
            return bad_usage(argv[i], "needs a value");
        if (parse_value(o, argv[i], argv[i + 1]) != 0)
            return 2;
    }
    if (!o->task)
        return bad_usage("--task", "missing: name classify, tagger or seq2seq");
    for (k = 0; k < sizeof tasks / sizeof tasks[0]; k++)
        if (strcmp(o->task, tasks[k].name) == 0)
            r->tk = &tasks[k];
    if (!r->tk)
        return bad_usage("--task", "expects classify, tagger or seq2seq");
    if (strcmp(o->transduce, "reverse") != 0 && strcmp(o->transduce, "sort") != 0)
        return bad_usage("--transduce", "expects reverse or sort");
    r->sort = strcmp(o->transduce, "sort") == 0;
    if (o->epochs < 0)
        o->epochs = r->tk->epochs;
    if (!o->corpus)
        o->corpus = r->tk->default_corpus;
    return 0;
}

/* ---- the text ---------------------------------------------------------------- */

/* Splits --corpus at commas into r->files (pointers into a copy). */
static int split_files(run *r, char *list)
{
    char *p = list;

    r->nfiles = 0;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        if (!*p) {
            fprintf(stderr, "seqtasks: --corpus: an empty file name in \"%s\"\n", r->o.corpus);
            return 1;
        }
        if (r->nfiles == MAX_FILES) {
            fprintf(stderr, "seqtasks: --corpus: more than %d files\n", MAX_FILES);
            return 1;
        }
        r->files[r->nfiles++] = p;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int read_texts(run *r)
{
    char err[128];
    int i;

    for (i = 0; i < r->nfiles; i++) {
        r->text[i] = read_file_bytes(r->files[i], r->o.limit, &r->textlen[i], err, sizeof err, NULL);
        if (!r->text[i]) {
            fprintf(stderr, "seqtasks: the corpus file %s: %s\n", r->files[i], err);
            if (strncmp(r->files[i], FORTUNES, strlen(FORTUNES)) == 0 && strcmp(err, "empty") != 0)
                fprintf(stderr, "seqtasks: it comes from Debian's fortunes package (sh tools/install-deps.sh "
                                "installs it), or name text files with --corpus\n");
            return 1;
        }
    }
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Whether position i of s (length n) is a line holding only "%", the
 * separator between fortunes. */
static int separator_at(const unsigned char *s, long n, long i)
{
    return s[i] == '%' && (i == 0 || s[i - 1] == '\n') && (i + 1 == n || s[i + 1] == '\n');
}

/* A word character: a letter or digit, or an apostrophe between two. */
static int word_char(const unsigned char *s, long n, long i)
{
    if (isalnum(s[i]))
        return 1;
    return s[i] == '\'' && i > 0 && i + 1 < n && isalnum(s[i - 1]) && isalnum(s[i + 1]);
}

/* ---- a word table: string -> count ------------------------------------------- */

typedef struct word_entry {
    char w[WORD_MAX + 1];
    long count;
} word_entry;

typedef struct word_table {
    word_entry *e;
    long cap, n;
} word_table;

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 16777619u;
    }
    return h;
}

static long table_slot(const word_table *t, const char *w)
{
    long i = (long)(hash_str(w) & (uint32_t)(t->cap - 1));
    while (t->e[i].w[0] && strcmp(t->e[i].w, w) != 0)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int table_grow(word_table *t)
{
    word_table g;
    long i;

    g.cap = t->cap ? t->cap * 2 : 4096;
    g.n = t->n;
    g.e = calloc((size_t)g.cap, sizeof *g.e);
    if (!g.e)
        return 1;
    for (i = 0; i < t->cap; i++)
        if (t->e[i].w[0])
            g.e[table_slot(&g, t->e[i].w)] = t->e[i];
    free(t->e);
    *t = g;
    return 0;
}

/* The entry of w (non-empty), added with count 0 when add and missing;
 * NULL when missing (or out of memory, when add). */
static word_entry *table_find(word_table *t, const char *w, int add)
{
    long i;

    if (add && 2 * (t->n + 1) > t->cap && table_grow(t) != 0)
        return NULL;
    if (!t->cap)
        return NULL;
    i = table_slot(t, w);
    if (!t->e[i].w[0]) {
        if (!add)
            return NULL;
        strcpy(t->e[i].w, w);
        t->e[i].count = 0;
        t->n++;
    }
    return &t->e[i];
}

/* The entries, most frequent first (ties in byte order), in a new array. */
static word_entry *table_sorted(const word_table *t, int (*cmp)(const void *, const void *))
{
    word_entry *v = malloc((size_t)(t->n ? t->n : 1) * sizeof *v);
    long i, k = 0;

    if (!v)
        return NULL;
    for (i = 0; i < t->cap; i++)
        if (t->e[i].w[0])
            v[k++] = t->e[i];
    qsort(v, (size_t)k, sizeof *v, cmp);
    return v;
}

static int by_count(const void *a, const void *b)
{
    const word_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->w, y->w);
}

static int by_word(const void *a, const void *b)
{
    return strcmp(((const word_entry *)a)->w, ((const word_entry *)b)->w);
}

/* ---- datasets and batches ------------------------------------------------------ */

static int dataset_alloc(run *r, dataset *d, long n)
{
    int k;

    d->n = n;
    for (k = 0; k < r->nin; k++) {
        d->in[k] = calloc((size_t)(n ? n : 1) * (size_t)r->len[k], sizeof *d->in[k]);
        if (!d->in[k])
            return 1;
    }
    d->y = calloc((size_t)(n ? n : 1) * (size_t)r->ylen, sizeof *d->y);
    return !d->y;
}

static void dataset_free(dataset *d)
{
    free(d->in[0]);
    free(d->in[1]);
    free(d->y);
}

/* Samples idx[0 .. nb-1] of d (idx NULL: first .. first+nb-1) into the batch buffers. */
static void gather(run *r, const dataset *d, const long *idx, long first, int nb)
{
    int b, k;

    for (b = 0; b < nb; b++) {
        long s = idx ? idx[b] : first + b;
        for (k = 0; k < r->nin; k++)
            memcpy(r->bx[k] + (size_t)b * r->len[k], d->in[k] + (size_t)s * r->len[k],
                   (size_t)r->len[k] * sizeof *r->bx[k]);
        memcpy(r->by + (size_t)b * r->ylen, d->y + (size_t)s * r->ylen, (size_t)r->ylen * sizeof *r->by);
    }
}

/* The int inputs as the descriptor's entry points take them. */
static void batch_args(run *r, const dlc_float **in, const void **labels)
{
    int k;
    for (k = 0; k < r->nin; k++)
        in[k] = (const dlc_float *)(const void *)r->bx[k];
    labels[0] = r->by;
}

/* forward() on the batch in the buffers: r->out. */
static int forward_batch(run *r, int nb)
{
    const dlc_float *in[2];
    const void *labels[1];
    dlc_float *out[1];

    batch_args(r, in, labels);
    out[0] = r->out;
    return r->info->forward(r->m, in, out, nb);
}

/* The most likely class of position t of sample b (scores [classes, T]). */
static int argmax_at(const run *r, int b, long t, long T)
{
    const dlc_float *s = r->out + (size_t)b * r->classes * T + t;
    int c, best = 0;
    for (c = 1; c < r->classes; c++)
        if (s[c * T] > s[best * T])
            best = c;
    return best;
}

/* ---- task: classify ---------------------------------------------------------- */

/* The next token of s from *pos into tok (lowercased), skipping space and
 * the `%` lines: 1, or 0 at the end. */
static int next_token(const unsigned char *s, long n, long *pos, char *tok)
{
    long i = *pos, k = 0;

    while (i < n && (isspace(s[i]) || separator_at(s, n, i)))
        i++;
    if (i == n)
        return 0;
    if (!word_char(s, n, i))
        tok[k++] = (char)s[i++];
    else
        for (; i < n && word_char(s, n, i); i++)
            if (k < WORD_MAX)
                tok[k++] = (char)tolower(s[i]);
    tok[k] = 0;
    *pos = i;
    return 1;
}

/* File f's token count. */
static long count_tokens(const run *r, int f)
{
    long pos = 0, n = 0;
    char tok[WORD_MAX + 1];
    while (next_token(r->text[f], r->textlen[f], &pos, tok))
        n++;
    return n;
}

/* File f's tokens as vocabulary ids (0 for the others), *n of them; NULL
 * when out of memory. */
static int32_t *file_tokens(const run *r, int f, word_table *vocab, long *n)
{
    long pos = 0, cap = count_tokens(r, f) + 1;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    char tok[WORD_MAX + 1];

    *n = 0;
    while (ids && next_token(r->text[f], r->textlen[f], &pos, tok)) {
        word_entry *e = table_find(vocab, tok, 0);
        ids[(*n)++] = e ? (int32_t)e->count : 0;
    }
    return ids;
}

/* The vocabulary: the nvocab-1 most frequent tokens of the training parts
 * (the first ntrain[f] of file f) as ids 1.. (an entry's count is its id);
 * *distinct: the training parts' distinct tokens. */
static int build_word_vocab(const run *r, const long *ntrain, word_table *vocab, long *distinct)
{
    word_table counts;
    word_entry *sorted;
    long i, k;
    int f;

    memset(&counts, 0, sizeof counts);
    for (f = 0; f < r->nfiles; f++) {
        long pos = 0, seen;
        char w[WORD_MAX + 1];
        for (seen = 0; seen < ntrain[f] && next_token(r->text[f], r->textlen[f], &pos, w); seen++) {
            word_entry *e = table_find(&counts, w, 1);
            if (!e) {
                free(counts.e);
                return 1;
            }
            e->count++;
        }
    }
    *distinct = counts.n;
    sorted = table_sorted(&counts, by_count);
    free(counts.e);
    if (!sorted)
        return 1;
    k = *distinct < r->nvocab - 1 ? *distinct : r->nvocab - 1;
    for (i = 0; i < k; i++) {
        word_entry *e = table_find(vocab, sorted[i].w, 1);
        if (!e)
            break;
        e->count = i + 1;
    }
    free(sorted);
    return i < k;
}

/* Windows of T ids every `stride` of ids[from, to) into d from sample *at. */
static void cut_windows(run *r, dataset *d, const int32_t *ids, long from, long to, long stride, int cls,
                        long *at, long max)
{
    long T = r->len[0], s;
    for (s = from; s + T <= to && *at < d->n && max > 0; s += stride, max--) {
        memcpy(d->in[0] + (size_t)*at * T, ids + s, (size_t)T * sizeof *ids);
        d->y[*at] = cls;
        (*at)++;
    }
}

static long count_windows(long from, long to, long T, long stride)
{
    return to - from < T ? 0 : (to - from - T) / stride + 1;
}

static int classify_prepare(run *r)
{
    word_table vocab;
    int32_t *tok[MAX_FILES] = { NULL };
    long ntok[MAX_FILES], ntrain[MAX_FILES], T = r->len[0], at = 0, total = 0, mtest = -1, distinct = 0;
    long all = 0;
    int f, rc = 1;

    memset(&vocab, 0, sizeof vocab);
    if (r->nfiles != r->classes) {
        fprintf(stderr, "seqtasks: classify needs one corpus file per class of the model, %d; --corpus "
                        "names %d\n", r->classes, r->nfiles);
        return 1;
    }
    for (f = 0; f < r->nfiles; f++) {
        ntok[f] = count_tokens(r, f);
        all += ntok[f];
        ntrain[f] = ntok[f] - (long)(ntok[f] * r->o.test + 0.5);
        if (count_windows(0, ntrain[f], T, T / 4) < 1 || count_windows(ntrain[f], ntok[f], T, T) < 1) {
            fprintf(stderr, "seqtasks: the corpus file %s is too short: %ld tokens; its training part and "
                            "its test part (--test %g) must each hold a window of %ld\n", r->files[f], ntok[f],
                    r->o.test, T);
            goto out;
        }
    }
    if (build_word_vocab(r, ntrain, &vocab, &distinct) != 0)
        goto oom;
    r->per_class = -1;
    for (f = 0; f < r->nfiles; f++) {
        long nw = count_windows(0, ntrain[f], T, T / 4), nt = count_windows(ntrain[f], ntok[f], T, T);
        tok[f] = file_tokens(r, f, &vocab, &ntok[f]);
        if (!tok[f])
            goto oom;
        total += nw;
        if (r->per_class < 0 || nw < r->per_class)
            r->per_class = nw;
        if (mtest < 0 || nt < mtest)
            mtest = nt;
    }
    r->test_per_class = mtest;
    if (dataset_alloc(r, &r->train, total) != 0 || dataset_alloc(r, &r->test, mtest * r->nfiles) != 0)
        goto oom;
    for (f = 0; f < r->nfiles; f++) {
        r->class_start[f] = at;
        cut_windows(r, &r->train, tok[f], 0, ntrain[f], T / 4, f, &at, total);
    }
    r->class_start[r->nfiles] = at;
    for (at = 0, f = 0; f < r->nfiles; f++)
        cut_windows(r, &r->test, tok[f], ntrain[f], ntok[f], T, f, &at, mtest);
    printf("data:     %d files, %ld tokens, vocabulary %ld of %ld distinct training tokens (others: id 0)\n",
           r->nfiles, all, vocab.n, distinct);
    for (f = 0; f < r->nfiles; f++)
        printf("          class %d %-14s %7ld tokens: %5ld training windows (stride %ld), %ld test\n", f,
               base_name(r->files[f]), ntok[f], r->class_start[f + 1] - r->class_start[f], T / 4,
               count_windows(ntrain[f], ntok[f], T, T));
    printf("          balanced: %ld training windows of each class per epoch, %ld test windows of each\n",
           r->per_class, mtest);
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "seqtasks: out of memory\n");
out:
    for (f = 0; f < MAX_FILES; f++)
        free(tok[f]);
    free(vocab.e);
    return rc;
}

/* An epoch's order: per_class random windows of every class, shuffled. */
static long classify_order(run *r, int epoch, long *perm)
{
    int *p = malloc((size_t)(r->train.n + 1) * sizeof *p);
    long n = 0, k;
    int c;

    if (!p)
        return -1;
    for (c = 0; c < r->classes; c++) {
        long nc = r->class_start[c + 1] - r->class_start[c];
        shuffle_indices(p, (int)nc, r->o.seed, SHUFFLE_STREAM + 16 * (uint64_t)epoch + 1 + (uint64_t)c);
        for (k = 0; k < r->per_class; k++)
            perm[n++] = r->class_start[c] + p[k];
    }
    shuffle_indices(p, (int)n, r->o.seed, SHUFFLE_STREAM + 16 * (uint64_t)epoch);
    for (k = 0; k < n; k++)
        p[k] = (int)perm[p[k]];
    for (k = 0; k < n; k++)
        perm[k] = p[k];
    free(p);
    return n;
}

static int classify_evaluate(run *r, double *metric)
{
    long done, right = 0;
    int b, rc;

    memset(r->confusion, 0, sizeof r->confusion);
    for (done = 0; done < r->test.n; done += r->batch) {
        int nb = r->test.n - done < r->batch ? (int)(r->test.n - done) : r->batch;
        gather(r, &r->test, NULL, done, nb);
        if ((rc = forward_batch(r, nb)) != DLC_OK)
            return rc;
        for (b = 0; b < nb; b++) {
            int p = argmax_index(r->out + (size_t)b * r->classes, r->classes), y = r->by[b];
            r->confusion[y][p]++;
            right += p == y;
        }
    }
    *metric = (double)right / (double)r->test.n;
    return DLC_OK;
}

static void classify_report(run *r)
{
    int c, p;

    printf("\nbaselines: chance %.1f%%; the majority class (every class has %ld training windows per epoch "
           "and %ld test windows) %.1f%%\n", 100.0 / r->classes, r->per_class, r->test_per_class,
           100.0 / r->classes);
    printf("confusion matrix (rows: the true file, columns: the predicted one):\n%16s", "");
    for (p = 0; p < r->classes; p++)
        printf(" %12.12s", base_name(r->files[p]));
    printf("   recall\n");
    for (c = 0; c < r->classes; c++) {
        printf("%16.16s", base_name(r->files[c]));
        for (p = 0; p < r->classes; p++)
            printf(" %12ld", r->confusion[c][p]);
        printf("   %5.1f%%\n", 100.0 * r->confusion[c][c] / (double)r->test_per_class);
    }
}

static int check_classify(run *r)
{
    const dlc_model_info *i = r->info;
    if (i->ninputs != 1 || !i->inputs[0].is_int || i->inputs[0].rank != 1 || i->outputs[0].rank != 1 ||
        i->outputs[0].dims[0] < 2 || i->outputs[0].dims[0] > MAX_CLASSES || i->labels[0].count != 1) {
        fprintf(stderr, "seqtasks: classify needs a model with one input `tokens[T]: int`, class scores [C] "
                        "(2 <= C <= %d) and one class label per sample; %s is not\n", MAX_CLASSES, i->name);
        return 1;
    }
    r->len[0] = i->inputs[0].dims[0];
    r->ylen = 1;
    r->classes = (int)i->outputs[0].dims[0];
    r->nvocab = 1000; /* the embedding's rows: models/transformer_classifier.net */
    return 0;
}

/* ---- task: tagger ------------------------------------------------------------- */

/* Whether the word starting at i opens a sentence: what comes before it,
 * past spaces and quotes or brackets, is . ! ?, a fortune separator or the
 * start of the text. */
static int sentence_start(const unsigned char *s, long n, long i)
{
    long j = i - 1;
    while (j >= 0 && (isspace(s[j]) || s[j] == '"' || s[j] == '(' || s[j] == '`' || s[j] == '\''))
        j--;
    return j < 0 || s[j] == '.' || s[j] == '!' || s[j] == '?' || separator_at(s, n, j);
}

static int char_tag(const unsigned char *s, long n, long i)
{
    int first, last;

    if (isspace(s[i]))
        return TAG_SPACE;
    if (!word_char(s, n, i))
        return TAG_PUNCT;
    first = i == 0 || !word_char(s, n, i - 1);
    last = i + 1 == n || !word_char(s, n, i + 1);
    if (first)
        return sentence_start(s, n, i) ? (last ? TAG_SENT_SINGLE : TAG_SENT_BEGIN) : (last ? TAG_SINGLE : TAG_BEGIN);
    return last ? TAG_END : TAG_INSIDE;
}

/* Windows of T bytes of s[from, to) every stride, with their tags. */
static void tag_windows(run *r, dataset *d, const unsigned char *s, long n, long from, long to, long stride,
                        long *at)
{
    long T = r->len[0], w, t;
    for (w = from; w + T <= to; w += stride, (*at)++)
        for (t = 0; t < T; t++) {
            d->in[0][*at * T + t] = (int32_t)s[w + t] + 1; /* 0 is the embedding's padding */
            d->y[*at * T + t] = char_tag(s, n, w + t);
        }
}

static int tagger_prepare(run *r)
{
    long T = r->len[0], ntrain = 0, ntest = 0, at = 0, chars = 0, count[256][NTAGS];
    int f, c, k;

    memset(count, 0, sizeof count);
    for (f = 0; f < r->nfiles; f++) {
        long n = r->textlen[f], split = n - (long)(n * r->o.test + 0.5);
        if (count_windows(0, split, T, T / 2) < 1 || count_windows(split, n, T, T) < 1) {
            fprintf(stderr, "seqtasks: the corpus file %s is too short: %ld bytes; its training part and its "
                            "test part (--test %g) must each hold a window of %ld\n", r->files[f], n, r->o.test,
                    T);
            return 1;
        }
        ntrain += count_windows(0, split, T, T / 2);
        ntest += count_windows(split, n, T, T);
        chars += n;
    }
    if (dataset_alloc(r, &r->train, ntrain) != 0 || dataset_alloc(r, &r->test, ntest) != 0 ||
        !(r->pred = malloc((size_t)ntest * T * sizeof *r->pred))) {
        fprintf(stderr, "seqtasks: out of memory\n");
        return 1;
    }
    for (f = 0; f < r->nfiles; f++) {
        long n = r->textlen[f], split = n - (long)(n * r->o.test + 0.5), i;
        tag_windows(r, &r->train, r->text[f], n, 0, split, T / 2, &at);
        for (i = 0; i < split; i++)
            count[r->text[f][i]][char_tag(r->text[f], n, i)]++;
    }
    for (at = 0, f = 0; f < r->nfiles; f++) {
        long n = r->textlen[f], split = n - (long)(n * r->o.test + 0.5);
        tag_windows(r, &r->test, r->text[f], n, split, n, T, &at);
    }
    /* the context-free baseline: each byte's most frequent training tag
     * (punctuation for a byte training never saw) */
    for (c = 0; c < 256; c++) {
        r->byte_tag[c] = TAG_PUNCT;
        for (k = 0; k < NTAGS; k++)
            if (count[c][k] > count[c][r->byte_tag[c]])
                r->byte_tag[c] = k;
    }
    printf("data:     %d file%s, %ld characters: %ld training windows of %ld (stride %ld), %ld test windows\n",
           r->nfiles, r->nfiles == 1 ? "" : "s", chars, ntrain, T, T / 2, ntest);
    return 0;
}

static int tagger_evaluate(run *r, double *metric)
{
    long done, right = 0, T = r->len[0], t;
    int b, rc;

    for (done = 0; done < r->test.n; done += r->batch) {
        int nb = r->test.n - done < r->batch ? (int)(r->test.n - done) : r->batch;
        gather(r, &r->test, NULL, done, nb);
        if ((rc = forward_batch(r, nb)) != DLC_OK)
            return rc;
        for (b = 0; b < nb; b++)
            for (t = 0; t < T; t++) {
                int p = argmax_at(r, b, t, T);
                r->pred[(done + b) * T + t] = p;
                right += p == r->by[b * T + t];
            }
    }
    *metric = (double)right / (double)(r->test.n * T);
    return DLC_OK;
}

static void tagger_report(run *r)
{
    long T = r->len[0], n = r->test.n * T, i, total[NTAGS] = { 0 }, model[NTAGS] = { 0 }, base[NTAGS] = { 0 };
    long mright = 0, bright = 0;
    int k;

    for (i = 0; i < n; i++) {
        int y = r->test.y[i], b = r->byte_tag[r->test.in[0][i] - 1];
        total[y]++;
        model[y] += r->pred[i] == y;
        base[y] += b == y;
        mright += r->pred[i] == y;
        bright += b == y;
    }
    printf("\ntest accuracy per character: model %.2f%%, context-free baseline (each byte's most frequent "
           "training tag) %.2f%%\n", 100.0 * mright / n, 100.0 * bright / n);
    printf("%-12s %9s %9s %9s\n", "tag", "count", "model", "baseline");
    for (k = 0; k < NTAGS; k++)
        if (total[k])
            printf("%-12s %9ld %8.1f%% %8.1f%%\n", tag_names[k], total[k], 100.0 * model[k] / total[k],
                   100.0 * base[k] / total[k]);
}

static int check_tagger(run *r)
{
    const dlc_model_info *i = r->info;
    const dlc_tensor_desc *o = i->outputs;
    if (i->ninputs != 1 || !i->inputs[0].is_int || i->inputs[0].rank != 1 || o->rank != 2 ||
        o->dims[1] != i->inputs[0].dims[0] || o->dims[0] < NTAGS || i->labels[0].count != (size_t)o->dims[1] ||
        i->inputs[0].dims[0] < 4) {
        fprintf(stderr, "seqtasks: tagger needs a model with one input `tokens[T]: int` (T >= 4), tag scores "
                        "[K, T] (K >= %d) and a label per position; %s is not\n", NTAGS, i->name);
        return 1;
    }
    r->len[0] = i->inputs[0].dims[0];
    r->ylen = r->len[0];
    r->classes = (int)o->dims[0];
    return 0;
}

/* ---- task: seq2seq ------------------------------------------------------------ */

static int by_char(const void *a, const void *b)
{
    return *(const char *)a - *(const char *)b;
}

/* The target letters of word w: reversed, or sorted. */
static void transduce(const run *r, const char *w, char *out)
{
    size_t n = strlen(w), i;
    for (i = 0; i < n; i++)
        out[i] = r->sort ? w[i] : w[n - 1 - i];
    out[n] = 0;
    if (r->sort)
        qsort(out, n, 1, by_char);
}

/* Sample `at` of d: the source right-aligned, the decoder input (BOS, the
 * target shifted right), the labels (the target, EOS, padding). */
static void encode_word(run *r, dataset *d, long at, const char *w)
{
    long S = r->len[0], T = r->len[1], n = (long)strlen(w), i;
    int32_t *src = d->in[0] + at * S, *tgt = d->in[1] + at * T, *y = d->y + at * T;
    char out[WORD_MAX + 1];

    transduce(r, w, out);
    for (i = 0; i < S; i++)
        src[i] = i < S - n ? PAD : LETTER0 + (w[i - (S - n)] - 'a');
    for (i = 0; i < T; i++) {
        tgt[i] = i == 0 ? BOS : i <= n ? LETTER0 + (out[i - 1] - 'a') : PAD;
        y[i] = i < n ? LETTER0 + (out[i] - 'a') : i == n ? EOS : PAD;
    }
}

/* The longest word: the source holds it, the target it and EOS. */
static long max_word(const run *r)
{
    return r->len[0] < r->len[1] - 1 ? r->len[0] : r->len[1] - 1;
}

/* The corpus's distinct words of letters only, MIN_WORD..max_word letters. */
static int collect_words(run *r, word_table *t, long *tokens)
{
    long maxw = max_word(r);
    int f;

    *tokens = 0;
    for (f = 0; f < r->nfiles; f++) {
        const unsigned char *s = r->text[f];
        long n = r->textlen[f], i = 0;
        while (i < n) {
            char w[WORD_MAX + 1];
            long k = 0, j = i;
            int letters = 1;
            if (!word_char(s, n, i)) {
                i++;
                continue;
            }
            for (; j < n && word_char(s, n, j); j++) {
                letters &= isalpha(s[j]) && s[j] < 128;
                if (k < WORD_MAX)
                    w[k++] = (char)tolower(s[j]);
            }
            w[k] = 0;
            i = j;
            if (!letters || k < MIN_WORD || k > maxw)
                continue;
            (*tokens)++;
            if (!table_find(t, w, 1))
                return 1;
        }
    }
    return 0;
}

static int seq2seq_prepare(run *r)
{
    word_table t;
    word_entry *words;
    int *perm;
    long tokens, ntest, ntrain, i;

    memset(&t, 0, sizeof t);
    if (collect_words(r, &t, &tokens) != 0 || !(words = table_sorted(&t, by_word))) {
        fprintf(stderr, "seqtasks: out of memory\n");
        return 1;
    }
    free(t.e);
    ntest = (long)(t.n * r->o.test + 0.5);
    ntrain = t.n - ntest;
    if (ntest < 1 || ntrain < 1) {
        fprintf(stderr, "seqtasks: the corpus has %ld distinct words of %d to %ld letters; training and "
                        "testing (--test %g) need at least one each\n", t.n, MIN_WORD, max_word(r), r->o.test);
        free(words);
        return 1;
    }
    perm = malloc((size_t)t.n * sizeof *perm);
    if (!perm || dataset_alloc(r, &r->train, ntrain) != 0 || dataset_alloc(r, &r->test, ntest) != 0 ||
        !(r->pred = malloc((size_t)ntest * r->len[1] * sizeof *r->pred))) {
        fprintf(stderr, "seqtasks: out of memory\n");
        free(perm);
        free(words);
        return 1;
    }
    /* a random split of the distinct words: a test word never trains */
    shuffle_indices(perm, (int)t.n, r->o.seed, SPLIT_STREAM);
    for (i = 0; i < t.n; i++)
        encode_word(r, i < ntrain ? &r->train : &r->test, i < ntrain ? i : i - ntrain, words[perm[i]].w);
    printf("data:     %ld words of %d to %ld letters, %ld distinct: %ld train, %ld test (never seen in "
           "training); task: %s the letters\n", tokens, MIN_WORD, max_word(r), t.n, ntrain, ntest,
           r->o.transduce);
    free(perm);
    free(words);
    return 0;
}

/* Greedy decoding of the batch in the buffers (their tgt and labels are
 * the teacher's; tgt is overwritten): r->pred from row `first`. */
static int decode_batch(run *r, int nb, long first)
{
    long T = r->len[1], t;
    int b, rc;

    for (b = 0; b < nb; b++)
        for (t = 0; t < T; t++)
            r->bx[1][b * T + t] = t == 0 ? BOS : PAD;
    for (t = 0; t < T; t++) {
        if ((rc = forward_batch(r, nb)) != DLC_OK)
            return rc;
        for (b = 0; b < nb; b++) {
            int p = argmax_at(r, b, t, T);
            r->pred[(first + b) * T + t] = p;
            if (t + 1 < T)
                r->bx[1][b * T + t + 1] = p;
        }
    }
    return DLC_OK;
}

/* Whether decoded row p matches the labels y up to and with EOS. */
static int exact(const int32_t *p, const int32_t *y, long T)
{
    long t;
    for (t = 0; t < T; t++) {
        if (p[t] != y[t])
            return 0;
        if (y[t] == EOS)
            return 1;
    }
    return 0;
}

static int seq2seq_evaluate(run *r, double *metric)
{
    long done, right = 0, T = r->len[1];
    int b, rc;

    for (done = 0; done < r->test.n; done += r->batch) {
        int nb = r->test.n - done < r->batch ? (int)(r->test.n - done) : r->batch;
        gather(r, &r->test, NULL, done, nb);
        if ((rc = decode_batch(r, nb, done)) != DLC_OK)
            return rc;
        for (b = 0; b < nb; b++)
            right += exact(r->pred + (done + b) * T, r->test.y + (done + b) * T, T);
    }
    *metric = (double)right / (double)r->test.n;
    return DLC_OK;
}

/* Ids as text, to EOS: letters, "_" for padding, "^" for BOS, "..."
 * when no EOS came. */
static void put_ids(const int32_t *p, long T, const char *label)
{
    char buf[64];
    long t, k = 0;

    for (t = 0; t < T && p[t] != EOS && k < (long)sizeof buf - 4; t++)
        buf[k++] = p[t] >= LETTER0 && p[t] < LETTER0 + 26 ? (char)('a' + p[t] - LETTER0) : p[t] == BOS ? '^' : '_';
    buf[k] = 0;
    printf(" %s %-14s", label, t < T && p[t] == EOS ? buf : strcat(buf, "..."));
}

static void seq2seq_report(run *r)
{
    long S = r->len[0], T = r->len[1], i, same = 0, chars = 0, right = 0, nexact = 0, t;

    /* the copy baseline: the word itself is its target (palindromes, or sorted words) */
    for (i = 0; i < r->test.n; i++) {
        const int32_t *src = r->test.in[0] + i * S, *y = r->test.y + i * T;
        long n = 0, k = 0;
        while (y[n] != EOS)
            n++;
        while (k < n && src[S - n + k] == y[k])
            k++;
        same += k == n;
        nexact += exact(r->pred + i * T, y, T);
        for (t = 0; t <= n; t++) {
            chars++;
            right += r->pred[i * T + t] == y[t];
        }
    }
    printf("\ntest: exact matches %.2f%% of %ld held-out words; letters right (to EOS) %.2f%%; baseline: the "
           "word unchanged is right for %.2f%%\n", 100.0 * nexact / r->test.n, r->test.n,
           100.0 * right / chars, 100.0 * same / r->test.n);
    for (i = 0; i < r->o.show && i < r->test.n; i++) {
        const int32_t *y = r->test.y + i * T;
        int32_t word[64];
        long n = 0, k;
        while (y[n] != EOS)
            n++;
        for (k = 0; k < n; k++)
            word[k] = r->test.in[0][i * S + S - n + k];
        word[n] = EOS;
        put_ids(word, n + 1, "");
        put_ids(r->pred + i * T, T, "->");
        printf("%s\n", exact(r->pred + i * T, y, T) ? "" : "  (wrong)");
    }
}

static int check_seq2seq(run *r)
{
    const dlc_model_info *i = r->info;
    const dlc_tensor_desc *o = i->outputs;
    if (i->ninputs != 2 || !i->inputs[0].is_int || !i->inputs[1].is_int || i->inputs[0].rank != 1 ||
        i->inputs[1].rank != 1 || o->rank != 2 || o->dims[1] != i->inputs[1].dims[0] ||
        o->dims[0] < LETTER0 + 26 || i->labels[0].count != (size_t)o->dims[1] || i->inputs[0].dims[0] < MIN_WORD ||
        i->inputs[1].dims[0] < MIN_WORD + 1 || i->inputs[0].dims[0] > WORD_MAX || i->inputs[1].dims[0] > WORD_MAX) {
        fprintf(stderr, "seqtasks: seq2seq needs a model with inputs `src[S]: int` and `tgt[T]: int` (S, T "
                        "from %d to %d), scores [V, T] over V >= %d ids (padding, BOS, EOS, a-z) and a label per "
                        "target position; %s is not\n", MIN_WORD, WORD_MAX, LETTER0 + 26, i->name);
        return 1;
    }
    r->len[0] = i->inputs[0].dims[0];
    r->len[1] = i->inputs[1].dims[0];
    r->ylen = r->len[1];
    r->classes = (int)o->dims[0];
    return 0;
}

static const task tasks[3] = {
    { "classify", "models/transformer_classifier.net", "which fortunes file a window of words comes from",
      "test accuracy",
      FORTUNES "computers," FORTUNES "science," FORTUNES "songs-poems," FORTUNES "people",
      transformer_classifier_info, 6, check_classify, classify_prepare, classify_evaluate, classify_report },
    { "tagger", "models/bilstm_tagger.net", "a word-position and sentence-start tag for every character",
      "test accuracy per character", FORTUNES "people",
      bilstm_tagger_info, 6, check_tagger, tagger_prepare, tagger_evaluate, tagger_report },
    { "seq2seq", "models/seq2seq.net", "a word's letters, transduced, decoded greedily",
      "test exact matches", FORTUNES "songs-poems",
      seq2seq_info, 12, check_seq2seq, seq2seq_prepare, seq2seq_evaluate, seq2seq_report },
};

/* ---- training and testing --------------------------------------------------------- */

/* An epoch's training order into r->perm: its length, or -1 when out of memory. */
static long epoch_order(run *r, int epoch)
{
    int *p;
    long i;

    if (r->tk->evaluate == classify_evaluate)
        return classify_order(r, epoch, r->perm);
    p = malloc((size_t)(r->train.n + 1) * sizeof *p);
    if (!p)
        return -1;
    shuffle_indices(p, (int)r->train.n, r->o.seed, SHUFFLE_STREAM + 16 * (uint64_t)epoch);
    for (i = 0; i < r->train.n; i++)
        r->perm[i] = p[i];
    free(p);
    return r->train.n;
}

static int train_epoch(run *r, int epoch, epoch_log *row)
{
    const dlc_float *in[2];
    const void *labels[1];
    long n = epoch_order(r, epoch), done;
    double sum = 0, t0 = now_s();
    int rc;

    if (n < 0) {
        fprintf(stderr, "seqtasks: out of memory\n");
        return DLC_ERR_NOMEM;
    }
    r->info->set_training(r->m, 1);
    for (done = 0; done < n; done += r->batch) {
        int nb = n - done < r->batch ? (int)(n - done) : r->batch;
        dlc_float loss;
        gather(r, &r->train, r->perm + done, 0, nb);
        batch_args(r, in, labels);
        rc = r->info->train_step(r->m, in, labels, nb, &loss);
        if (rc != DLC_OK) {
            fprintf(stderr, "seqtasks: epoch %d, batch %ld (step %lld): %s\n", epoch + 1, done / r->batch + 1,
                    (long long)r->info->step_count(r->m) + 1, dlc_strerror(rc));
            return rc;
        }
        sum += (double)loss * nb;
    }
    row->train_loss = sum / (double)n;
    row->seconds = now_s() - t0;
    return DLC_OK;
}

/* The test loss (mean per sample, in eval mode) and the task's metric. */
static int test_epoch(run *r, epoch_log *row)
{
    const dlc_float *in[2];
    const void *labels[1];
    double sum = 0, t0 = now_s();
    long done;
    int rc = DLC_OK;

    r->info->set_training(r->m, 0);
    for (done = 0; done < r->test.n; done += r->batch) {
        int nb = r->test.n - done < r->batch ? (int)(r->test.n - done) : r->batch;
        dlc_float loss;
        gather(r, &r->test, NULL, done, nb);
        batch_args(r, in, labels);
        if ((rc = r->info->eval_loss(r->m, in, labels, nb, &loss)) != DLC_OK)
            break;
        sum += (double)loss * nb;
    }
    if (rc == DLC_OK)
        rc = r->tk->evaluate(r, &row->metric);
    if (rc != DLC_OK) {
        fprintf(stderr, "seqtasks: testing failed: %s\n", dlc_strerror(rc));
        return rc;
    }
    row->test_loss = sum / (double)r->test.n;
    row->seconds += now_s() - t0;
    return DLC_OK;
}

static int write_csv(const run *r)
{
    FILE *f;
    int i, bad;

    if (!r->o.csv)
        return 0;
    f = fopen(r->o.csv, "w");
    if (!f) {
        fprintf(stderr, "seqtasks: %s: %s\n", r->o.csv, strerror(errno));
        return 1;
    }
    fprintf(f, "epoch,train_loss,test_loss,%s,lr,seconds\n",
            r->tk->evaluate == seq2seq_evaluate ? "test_exact_match" : "test_accuracy");
    for (i = 0; i < r->nlog; i++) {
        const epoch_log *e = &r->log[i];
        fprintf(f, "%d", i);
        csv_num(f, e->train_loss, "%.6f");
        csv_num(f, e->test_loss, "%.6f");
        csv_num(f, e->metric, "%.6f");
        csv_num(f, e->lr, "%.6g");
        csv_num(f, e->seconds, "%.3f");
        fputc('\n', f);
    }
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "seqtasks: %s: write failed\n", r->o.csv);
        return 1;
    }
    return 0;
}

/* Test, log and print epoch e (0: the untrained model). */
static int end_epoch(run *r, int e, epoch_log *row)
{
    char train[32];

    if (test_epoch(r, row) != DLC_OK)
        return 1;
    r->nlog++;
    if (isfinite(row->train_loss))
        snprintf(train, sizeof train, "train loss %.4f", row->train_loss);
    else
        snprintf(train, sizeof train, "%-16s", "(untrained)");
    printf("epoch %3d/%ld | %s | test loss %.4f | %s %6.2f%% | lr %.3g | %.1f s\n", e, r->o.epochs, train,
           row->test_loss, r->tk->metric, 100 * row->metric, row->lr, row->seconds);
    fflush(stdout);
    if (write_csv(r) != 0)
        return 1;
    if (e > 0 && r->o.checkpoint) {
        int rc = r->info->save_checkpoint(r->m, r->o.checkpoint);
        if (rc != DLC_OK) {
            fprintf(stderr, "seqtasks: %s: cannot save the checkpoint: %s\n", r->o.checkpoint, dlc_strerror(rc));
            return 1;
        }
    }
    return 0;
}

static int train_all(run *r)
{
    int e;

    r->log[0].train_loss = NAN;
    r->log[0].lr = r->info->get_lr(r->m);
    if (end_epoch(r, 0, &r->log[0]) != 0)
        return 1;
    for (e = 0; e < r->o.epochs; e++) {
        epoch_log *row = &r->log[e + 1];
        row->lr = r->info->get_lr(r->m);
        if (train_epoch(r, e, row) != DLC_OK)
            return 1;
        r->info->schedule_step(r->m);
        if (end_epoch(r, e + 1, row) != 0)
            return 1;
    }
    return 0;
}

/* ---- main --------------------------------------------------------------------------- */

static int alloc_buffers(run *r)
{
    int k;

    for (k = 0; k < r->nin; k++)
        if (!(r->bx[k] = malloc((size_t)r->batch * r->len[k] * sizeof *r->bx[k])))
            return 1;
    r->by = malloc((size_t)r->batch * r->ylen * sizeof *r->by);
    r->out = malloc((size_t)r->batch * r->info->outputs[0].count * sizeof *r->out);
    r->perm = malloc((size_t)(r->train.n + 1) * sizeof *r->perm);
    r->log = calloc((size_t)r->o.epochs + 1, sizeof *r->log);
    return !r->by || !r->out || !r->perm || !r->log;
}

static void free_run(run *r)
{
    int i;

    for (i = 0; i < r->nfiles; i++)
        free(r->text[i]);
    dataset_free(&r->train);
    dataset_free(&r->test);
    free(r->bx[0]);
    free(r->bx[1]);
    free(r->by);
    free(r->out);
    free(r->perm);
    free(r->log);
    free(r->pred);
    if (r->m)
        r->info->destroy(r->m);
}

/* The model, the text, the data: 0, or 1 after printing why not. */
static int setup(run *r, char *corpus)
{
    const dlc_model_info *info = r->info;

    if (!info->train_step || info->nlabels != 1 || !info->labels[0].is_int) {
        fprintf(stderr, "seqtasks: model %s does not train on one set of class labels\n", info->name);
        return 1;
    }
    r->batch = info->batch;
    r->nin = info->ninputs < 2 ? info->ninputs : 2;
    if (r->tk->check(r) != 0 || split_files(r, corpus) != 0 || read_texts(r) != 0 || r->tk->prepare(r) != 0)
        return 1;
    if (alloc_buffers(r) != 0) {
        fprintf(stderr, "seqtasks: out of memory\n");
        return 1;
    }
    r->m = info->create();
    if (!r->m) {
        fprintf(stderr, "seqtasks: out of memory for the model\n");
        return 1;
    }
    info->init(r->m, r->o.seed);
    /* a NaN or infinite loss stops training before it reaches the parameters */
    info->check_finite(r->m, 1);
    return 0;
}

int main(int argc, char **argv)
{
    run r;
    char *corpus;
    double t0 = now_s();
    int rc;

    memset(&r, 0, sizeof r);
    rc = parse_args(argc, argv, &r);
    if (rc)
        return rc == 1 ? 0 : 2;
    r.info = r.tk->info();
    corpus = malloc(strlen(r.o.corpus) + 1);
    if (!corpus) {
        fprintf(stderr, "seqtasks: out of memory\n");
        return 1;
    }
    strcpy(corpus, r.o.corpus);
    printf("task:     %s: %s (%s)\n", r.tk->name, r.tk->what, r.tk->net);
    if (setup(&r, corpus) != 0) {
        free_run(&r);
        free(corpus);
        return 1;
    }
    printf("model:    %s, %zu parameters, batch %d, learning rate %g; %ld epoch%s, seed %llu\n", r.info->name,
           r.info->param_count, r.batch, r.info->get_lr(r.m), r.o.epochs, r.o.epochs == 1 ? "" : "s", r.o.seed);
    fflush(stdout);
    rc = train_all(&r);
    if (rc == 0) {
        r.tk->report(&r);
        if (r.o.csv)
            printf("log:      %s\n", r.o.csv);
        if (r.o.checkpoint && r.o.epochs)
            printf("checkpoint: %s (step %lld)\n", r.o.checkpoint, (long long)r.info->step_count(r.m));
        printf("done in %.1f s\n", now_s() - t0);
    }
    free_run(&r);
    free(corpus);
    return rc ? 1 : 0;
}
