/* SVG line charts (see plot.h).  Coordinates are computed here and written
 * as plain SVG 1.1 elements (rect, line, polyline, circle, text), which
 * every browser and rsvg-convert draw the same way. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Geometry of one panel, in SVG user units (pixels). */
enum {
    PANEL_W = 480, PANEL_H = 360,
    MARGIN_L = 72, MARGIN_R = 20, MARGIN_T = 36, MARGIN_B = 96,
    TITLE_H = 32, LEGEND_ROW = 18, FONT = 12
};

typedef struct axis {
    double lo, hi, step;
    int decimals;   /* of the tick labels */
} axis;

typedef struct frame {  /* where a panel's plot area lies */
    double x0, y0, w, h;
    axis ax, ay;
} frame;

static int fail(char *msg, size_t msgsize, const char *fmt, ...)
{
    va_list ap;
    if (msg && msgsize) {
        va_start(ap, fmt);
        vsnprintf(msg, msgsize, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The tick step: 1, 2 or 5 times a power of ten, giving about `target` ticks. */
static double nice_step(double range, int target)
{
    double raw = range / target, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* An axis covering [min, max], widened to whole ticks. */
static axis make_axis(double min, double max, int integer)
{
    axis a;
    if (!(max > min)) {  /* one value, or none */
        double pad = isfinite(min) && min != 0 ? fabs(min) * 0.1 : 1;
        if (!isfinite(min))
            min = max = 0;
        min -= pad;
        max += pad;
    }
    a.step = nice_step(max - min, 5);
    if (integer && a.step < 1)
        a.step = 1;
    a.lo = floor(min / a.step + 1e-9) * a.step;
    a.hi = ceil(max / a.step - 1e-9) * a.step;
    a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    return a;
}

static void data_range(const plot_panel *p, int want_x, double *min, double *max)
{
    int s, i;
    *min = INFINITY;
    *max = -INFINITY;
    for (s = 0; s < p->nseries; s++)
        for (i = 0; i < p->series[s].n; i++) {
            double v = want_x ? p->series[s].x[i] : p->series[s].y[i];
            if (!isfinite(p->series[s].x[i]) || !isfinite(p->series[s].y[i]))
                continue;
            *min = v < *min ? v : *min;
            *max = v > *max ? v : *max;
        }
}

static double px(const frame *f, double x)
{
    return f->x0 + (x - f->ax.lo) / (f->ax.hi - f->ax.lo) * f->w;
}

static double py(const frame *f, double y)
{
    return f->y0 + f->h - (y - f->ay.lo) / (f->ay.hi - f->ay.lo) * f->h;
}

/* Text with &, <, > and quotes escaped. */
static void put_text(FILE *o, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        default: fputc(*s, o);
        }
}

static void text(FILE *o, double x, double y, const char *anchor, const char *extra, const char *s)
{
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>", x, y, anchor, extra ? extra : "");
    put_text(o, s);
    fputs("</text>\n", o);
}

static void draw_axes(FILE *o, const frame *f, const plot_panel *p)
{
    char label[64];
    double v;
    int i;

    for (i = 0, v = f->ax.lo; v <= f->ax.hi + f->ax.step * 1e-6; v = f->ax.lo + ++i * f->ax.step) {
        double x = px(f, v);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
                x, f->y0, x, f->y0 + f->h);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n",
                x, f->y0 + f->h, x, f->y0 + f->h + 5);
        snprintf(label, sizeof label, "%.*f", f->ax.decimals, v);
        text(o, x, f->y0 + f->h + 18, "middle", NULL, label);
    }
    for (i = 0, v = f->ay.lo; v <= f->ay.hi + f->ay.step * 1e-6; v = f->ay.lo + ++i * f->ay.step) {
        double y = py(f, v);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
                f->x0, y, f->x0 + f->w, y);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n",
                f->x0 - 5, y, f->x0, y);
        snprintf(label, sizeof label, "%.*f", f->ay.decimals, v);
        text(o, f->x0 - 8, y + 4, "end", NULL, label);
    }
    fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#000\"/>\n",
            f->x0, f->y0, f->w, f->h);
    text(o, f->x0 + f->w / 2, f->y0 - 12, "middle", " font-weight=\"bold\"", p->title);
    text(o, f->x0 + f->w / 2, f->y0 + f->h + 38, "middle", NULL, p->xlabel);
    fprintf(o, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">",
            f->x0 - 52, f->y0 + f->h / 2);
    put_text(o, p->ylabel);
    fputs("</text>\n", o);
}

/* A polyline per run of finite points, and a marker on each point. */
static void draw_series(FILE *o, const frame *f, const plot_series *s)
{
    const char *dash = s->dashed ? " stroke-dasharray=\"6,4\"" : "";
    int i = 0;

    while (i < s->n) {
        int start;
        while (i < s->n && !(isfinite(s->x[i]) && isfinite(s->y[i])))
            i++;
        start = i;
        while (i < s->n && isfinite(s->x[i]) && isfinite(s->y[i]))
            i++;
        if (i - start >= 2) {
            int j;
            fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", s->color, dash);
            for (j = start; j < i; j++)
                fprintf(o, "%s%.1f,%.1f", j > start ? " " : "", px(f, s->x[j]), py(f, s->y[j]));
            fputs("\"/>\n", o);
        }
    }
    for (i = 0; i < s->n; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i]))
            fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(f, s->x[i]),
                    py(f, s->y[i]), s->color);
}

/* Entries left to right under the x label, wrapping to a new row when full. */
static void draw_legend(FILE *o, const frame *f, const plot_panel *p)
{
    double x = f->x0, y = f->y0 + f->h + 62;
    int s;

    for (s = 0; s < p->nseries; s++) {
        const plot_series *e = &p->series[s];
        double w = 36 + 7.0 * (double)strlen(e->name) + 16;
        if (x + w > f->x0 + f->w && x > f->x0) {
            x = f->x0;
            y += LEGEND_ROW;
        }
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                x, y - 4, x + 28, y - 4, e->color, e->dashed ? " stroke-dasharray=\"6,4\"" : "");
        fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x + 14, y - 4, e->color);
        text(o, x + 34, y, "start", NULL, e->name);
        x += w;
    }
}

static void draw_panel(FILE *o, const plot_panel *p, double left, double top)
{
    frame f;
    double min, max;
    int s;

    f.x0 = left + MARGIN_L;
    f.y0 = top + MARGIN_T;
    f.w = PANEL_W - MARGIN_L - MARGIN_R;
    f.h = PANEL_H - MARGIN_T - MARGIN_B;
    data_range(p, 1, &min, &max);
    if (p->x_integer && min > 0)  /* epochs: the axis starts at 0 */
        min = 0;
    f.ax = make_axis(min, max, p->x_integer);
    if (p->ymin != 0 || p->ymax != 0) {
        min = p->ymin;
        max = p->ymax;
    } else {
        data_range(p, 0, &min, &max);
        if (max > min) {  /* keep points off the frame */
            double pad = 0.04 * (max - min);
            min -= pad;
            max += pad;
        }
    }
    f.ay = make_axis(min, max, 0);
    draw_axes(o, &f, p);
    for (s = 0; s < p->nseries; s++)
        draw_series(o, &f, &p->series[s]);
    draw_legend(o, &f, p);
}

int plot_write_svg(const char *path, const char *title, const plot_panel *panels,
                   int npanels, char *msg, size_t msgsize)
{
    char *tmp;
    FILE *o;
    int i, top = title ? TITLE_H : 0, bad;

    if (!path || !panels || npanels < 1)
        return fail(msg, msgsize, "plot: invalid argument");
    tmp = malloc(strlen(path) + 5);
    if (!tmp)
        return fail(msg, msgsize, "%s: out of memory", path);
    sprintf(tmp, "%s.tmp", path);
    o = fopen(tmp, "w");
    if (!o) {
        fail(msg, msgsize, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" "
               "font-size=\"%d\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            npanels * PANEL_W, PANEL_H + top, npanels * PANEL_W, PANEL_H + top, FONT);
    if (title)
        text(o, npanels * PANEL_W / 2.0, 22, "middle", " font-size=\"15\" font-weight=\"bold\"", title);
    for (i = 0; i < npanels; i++)
        draw_panel(o, &panels[i], (double)i * PANEL_W, top);
    fputs("</svg>\n", o);
    bad = ferror(o);
    if (fclose(o) != 0 || bad) {
        fail(msg, msgsize, "%s: write failed: %s", tmp, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        fail(msg, msgsize, "%s: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
