/* dlc: the command-line driver.  Reads one .net file, lowers every model,
 * runs the passes, and writes what the options ask for.  Outputs are
 * written to temporary files and renamed at the end, so an error never
 * leaves a half-written or clobbered file.  Exit: 0 ok, 1 bad input,
 * 2 bad usage. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../grammar/parse.h"
#include "../runtime/dlc_runtime.h"
#include "codegen/codegen.h"
#include "lower.h"
#include "ops.h"
#include "passes/passes.h"
#include "report.h"
#include "train_spec.h"

#define DLC_VERSION "0.1.0"

typedef struct options {
    const char *input, *output, *dot, *depfile, *weights, *model, *dump_after;
    int check, summary, params, dump_ir, md, no_plan, batch, list_ops, input_grads;
} options;

static void usage(FILE *out)
{
    fputs("usage: dlc [options] FILE.net\n"
          "\n"
          "Compiles a network description into standalone C.\n"
          "\n"
          "  -o FILE.c           write the model's C to FILE.c and its header beside it (FILE.h)\n"
          "  --check             check the file and write nothing\n"
          "  --summary           print each layer's output shape, parameters and FLOPs, and the\n"
          "                      activation arena's peak against the sum of all intermediates\n"
          "  --params            list parameter names (PyTorch's) and shapes\n"
          "  --dot FILE          write a Graphviz picture of the network ('-' for stdout)\n"
          "  --dump-ir           print the IR after the passes\n"
          "  --dump-after PASS   print the IR after PASS (lower, init, layout, plan, or all)\n"
          "  --batch N           the largest batch a call takes (default: the train section's, else 1)\n"
          "  --weights FILE      compile these safetensors weights into the C as static const arrays\n"
          "  --model NAME        only this model of the file\n"
          "  --no-plan           give every activation its own memory (for testing the planner)\n"
          "  --input-grads       the training step also computes d loss / d input (m_input_grad)\n"
          "  -MD                 also write a make dependency file (FILE.d beside FILE.c)\n"
          "  -MF FILE            write the dependency file to FILE\n"
          "  --list-ops          list the ops and their attributes\n"
          "  --help, --version\n"
          "\n"
          "Exit status: 0 on success, 1 on errors in the input, 2 on bad usage.\n", out);
}

static int bad_usage(const char *fmt, const char *arg)
{
    fputs("dlc: error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'dlc --help'.\n", stderr);
    return 2;
}

static int parse_options(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
#define NEXT(field)                                                   \
    do {                                                              \
        if (!has_next)                                                \
            return bad_usage("%s needs an argument", a);              \
        o->field = argv[++i];                                         \
    } while (0)
        if (strcmp(a, "-o") == 0) NEXT(output);
        else if (strcmp(a, "--dot") == 0) NEXT(dot);
        else if (strcmp(a, "-MF") == 0) NEXT(depfile);
        else if (strcmp(a, "--weights") == 0) NEXT(weights);
        else if (strcmp(a, "--model") == 0) NEXT(model);
        else if (strcmp(a, "--dump-after") == 0) NEXT(dump_after);
        else if (strcmp(a, "-MD") == 0) o->md = 1;
        else if (strcmp(a, "--check") == 0) o->check = 1;
        else if (strcmp(a, "--summary") == 0) o->summary = 1;
        else if (strcmp(a, "--params") == 0) o->params = 1;
        else if (strcmp(a, "--dump-ir") == 0) o->dump_ir = 1;
        else if (strcmp(a, "--no-plan") == 0) o->no_plan = 1;
        else if (strcmp(a, "--input-grads") == 0) o->input_grads = 1;
        else if (strcmp(a, "--list-ops") == 0) o->list_ops = 1;
        else if (strcmp(a, "--batch") == 0) {
            if (!has_next)
                return bad_usage("%s needs an argument", a);
            char *end;
            long b = strtol(argv[++i], &end, 10);
            if (*end || b < 1 || b > 1000000)
                return bad_usage("--batch expects an integer from 1 to 1000000, got '%s'", argv[i]);
            o->batch = (int)b;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("dlc %s\n", DLC_VERSION);
            exit(0);
        } else if (a[0] == '-' && a[1])
            return bad_usage("unknown option '%s'", a);
        else if (o->input)
            return bad_usage("more than one input file ('%s')", a);
        else
            o->input = a;
#undef NEXT
    }
    if (o->list_ops)
        return 0;
    if (!o->input)
        return bad_usage("%s", "no input file");
    if (!o->output && !o->check && !o->summary && !o->params && !o->dot && !o->dump_ir && !o->dump_after)
        return bad_usage("%s", "nothing to do: give -o FILE.c, --check, --summary, --params, --dot or --dump-ir");
    if ((o->md || o->depfile) && !o->output)
        return bad_usage("%s", "-MD and -MF need -o");
    return 0;
}

static char *read_file(const char *path, size_t *len, diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_fatal(d, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        diag_fatal(d, "cannot read '%s': it is a directory", path);
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        diag_fatal(d, "cannot read '%s': %s", path, err ? strerror(errno) : "out of memory");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* ---- output files ---------------------------------------------------- */

typedef struct pending {
    char tmp[PATH_MAX + 16];
    const char *path;
} pending;

/* Writes text to a temporary file beside path; the caller renames it. */
static int write_tmp(pending *p, const char *path, const char *text, size_t len, diag *d)
{
    p->path = path;
    snprintf(p->tmp, sizeof p->tmp, "%s.tmpXXXXXX", path);
    int fd = mkstemp(p->tmp);
    if (fd < 0) {
        diag_fatal(d, "cannot write '%s': %s", path, strerror(errno));
        p->tmp[0] = 0;
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(text, 1, len, f) == len;
    ok = (f && fclose(f) == 0) && ok;
    if (!ok) {
        diag_fatal(d, "cannot write '%s': %s", path, strerror(errno));
        unlink(p->tmp);
        p->tmp[0] = 0;
        return -1;
    }
    chmod(p->tmp, 0644);
    return 0;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static char *replace_ext(const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    size_t base = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
    char *r = malloc(base + strlen(ext) + 1);
    memcpy(r, path, base);
    strcpy(r + base, ext);
    return r;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- the pipeline ---------------------------------------------------- */

static float *read_weights(const options *o, ir_graph *g, diag *d)
{
    int np = 0;
    for (int i = 0; i < g->nvalues; i++)
        np += g->values[i]->kind == VAL_PARAM;
    dlc_tensor_desc *descs = calloc((size_t)np + 1, sizeof *descs);
    int k = 0;
    for (int i = 0; i < g->nvalues; i++) {
        const ir_value *v = g->values[i];
        if (v->kind != VAL_PARAM)
            continue;
        descs[k].name = v->name;
        descs[k].rank = v->shape.rank;
        for (int r = 0; r < v->shape.rank; r++)
            descs[k].dims[r] = v->shape.d[r];
        descs[k].offset = (size_t)v->param_offset;
        descs[k].count = (size_t)shape_count(&v->shape);
        k++;
    }
    float *w = malloc((size_t)(g->param_count ? g->param_count : 1) * sizeof *w);
    dlc_errinfo err;
    int rc = dlc_st_load(o->weights, descs, np, w, &err);
    free(descs);
    if (rc != DLC_OK) {
        diag_fatal(d, "--weights %s: %s", o->weights, err.msg[0] ? err.msg : dlc_strerror(rc));
        free(w);
        return NULL;
    }
    return w;
}

static int write_outputs(const options *o, ir_graph **graphs, ir_graph **train, int n, const char *text, size_t len,
                         const float *const *weights, diag *d)
{
    char *header = replace_ext(o->output, ".h");
    char *dep = o->depfile ? NULL : replace_ext(o->output, ".d");
    const char *deppath = o->depfile ? o->depfile : dep;
    int rc = 0;
    const char *clash = strcmp(header, o->output) == 0 || same_file(o->output, o->input) ? o->output
                      : same_file(header, o->input) ? header
                      : (o->md || o->depfile) && same_file(deppath, o->input) ? deppath : NULL;
    if (clash) {
        diag_fatal(d, "the output '%s' would overwrite the input '%s'", clash, o->input);
        free(header);
        free(dep);
        return -1;
    }
    /* all or nothing: a directory in the way is found before anything is renamed */
    const char *targets[3] = { o->output, header, o->md || o->depfile ? deppath : NULL };
    for (int i = 0; i < 3; i++) {
        struct stat st;
        if (targets[i] && stat(targets[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            diag_fatal(d, "cannot write '%s': it is a directory", targets[i]);
            free(header);
            free(dep);
            return -1;
        }
    }
    codegen_input ci;
    memset(&ci, 0, sizeof ci);
    ci.graphs = graphs;
    ci.train = train;
    ci.ngraphs = n;
    ci.source_name = base_name(o->input);
    ci.source_text = text;
    ci.source_len = len;
    ci.header_name = base_name(header);
    ci.weights = weights;
    ci.version = DLC_VERSION;
    strbuf c = { 0 }, h = { 0 }, md = { 0 };
    codegen_c(&ci, &c, &h);
    pending files[3];
    memset(files, 0, sizeof files);
    int nfiles = 0;
    rc |= write_tmp(&files[nfiles++], o->output, c.data, c.len, d);
    if (!rc)
        rc |= write_tmp(&files[nfiles++], header, h.data, h.len, d);
    if (!rc && (o->md || o->depfile)) {
        sb_printf(&md, "%s %s: %s%s%s\n", o->output, header, o->input, o->weights ? " " : "",
                  o->weights ? o->weights : "");
        rc |= write_tmp(&files[nfiles++], deppath, md.data, md.len, d);
    }
    for (int i = 0; i < nfiles; i++) {
        if (!files[i].tmp[0])
            continue;
        if (!rc && rename(files[i].tmp, files[i].path) != 0) {
            diag_fatal(d, "cannot write '%s': %s", files[i].path, strerror(errno));
            rc = -1;
        }
        if (rc)
            unlink(files[i].tmp);
    }
    sb_free(&c);
    sb_free(&h);
    sb_free(&md);
    free(header);
    free(dep);
    return rc;
}

static void list_op(const op_def *o)
{
    printf("%-16s %s\n", o->name, o->summary);
    for (int i = 0; o->attrs[i].name; i++) {
        const attr_spec *s = &o->attrs[i];
        printf("    %-14s %s%s%s\n", s->name, s->def ? "default " : "required",
               s->def ? (*s->def ? s->def : "(none)") : "", s->positional ? ", positional" : "");
    }
}

/* The layers, then after a blank line the losses a train section names. */
static void list_ops(void)
{
    for (const op_def *const *o = op_all(); *o; o++)
        list_op(*o);
    printf("\n%-16s %s\n", "loss", "in a train section: loss = NAME(prediction, ...), NAME one of");
    for (const op_def *const *l = op_losses(); *l; l++)
        if ((*l)->kind == OP_LOSS)
            list_op(*l);
}

static int compile(const options *o)
{
    arena a = { 0 };
    diag d;
    diag_init(&d, o->input, NULL, 0);
    size_t len = 0;
    char *text = read_file(o->input, &len, &d);
    if (!text)
        return 1;
    diag_init(&d, o->input, text, len);
    program prog;
    parse_program(text, len, &a, &d, &prog);
    if (d.nerrors == 0)
        lower_check_program(&prog, &d);
    ir_graph *graphs[64];
    int n = 0, found = 0, checked = d.nerrors == 0;
    /* every model is lowered, so that the errors of all of them are reported */
    for (const model_def *m = prog.models; m && checked; m = m->next) {
        if (o->model && strcmp(o->model, m->name) != 0)
            continue;
        found = 1;
        if (n == 64) {
            diag_error(&d, m->name_loc, "more than 64 models in one file");
            break;
        }
        ir_graph *g = lower_model(&prog, m, o->batch, &a, &d);
        if (g)
            graphs[n++] = g;
    }
    if (d.nerrors == 0 && o->model && !found)
        diag_fatal(&d, "'%s' has no model named '%s'", o->input, o->model);
    pass_options po = { !o->no_plan, 1, o->dump_after, o->input_grads };
    ir_graph *train[64] = { 0 };
    for (int i = 0; i < n && d.nerrors == 0; i++) {
        compiled out;
        if (run_passes(graphs[i], &po, &d, &out) == 0) {
            graphs[i] = out.infer;
            train[i] = out.train;
        }
    }
    float *weights[64] = { 0 };
    if (d.nerrors == 0 && o->weights) {
        if (n != 1)
            diag_fatal(&d, "--weights needs a single model: the file has %d (choose one with --model)", n);
        else
            weights[0] = read_weights(o, graphs[0], &d);
        /* Compiled-in weights are `static const`: a deployment build, which
         * runs the network but cannot train it, so the train section is
         * checked but emits nothing (docs/training.md). */
        train[0] = NULL;
    }
    int rc = d.nerrors ? 1 : 0;
    for (int i = 0; i < n && !rc; i++) {
        if (o->dump_ir) {
            ir_dump(graphs[i], stdout);
            if (train[i]) {
                printf("# training graph%s\n", train[i]->nsections ? " (forward in training mode)" : "");
                ir_dump(train[i], stdout);
            }
            for (int k = 0; train[i] && k < train[i]->nsections; k++) {
                printf("# train section %s: training graph\n", train[i]->section_train[k]->train->name);
                ir_dump(train[i]->section_train[k], stdout);
                printf("# train section %s: eval graph\n", train[i]->section_train[k]->train->name);
                ir_dump(train[i]->section_eval[k], stdout);
            }
        }
        if (o->summary)
            report_summary(graphs[i], train[i], stdout);
        if (o->params)
            report_params(graphs[i], stdout);
    }
    if (!rc && o->dot) {
        FILE *f = strcmp(o->dot, "-") == 0 ? stdout : fopen(o->dot, "w");
        if (!f)
            diag_fatal(&d, "cannot write '%s': %s", o->dot, strerror(errno));
        for (int i = 0; f && i < n; i++)
            report_dot(graphs[i], f);
        if (f && f != stdout && fclose(f) != 0)
            diag_fatal(&d, "cannot write '%s': %s", o->dot, strerror(errno));
        rc = d.nerrors ? 1 : 0;
    }
    if (!rc && o->output && !o->check)
        rc = write_outputs(o, graphs, train, n, text, len, (const float *const *)(o->weights ? weights : NULL), &d) ? 1
                                                                                                             : 0;
    free(weights[0]);
    free(text);
    arena_free(&a);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    if (o.list_ops) {
        list_ops();
        return 0;
    }
    return compile(&o);
}
