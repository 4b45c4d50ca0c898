/* A small SVG line-chart writer for the examples: one or more panels side
 * by side, each with axes, "nice" ticks (1, 2, 5 x 10^k), axis labels, a
 * title and a legend under the plot area, series drawn as lines with a
 * marker on every point.  The file is written to PATH.tmp and renamed, so a
 * viewer reloading it never sees half a picture.  Never prints, never exits. */
#ifndef PLOT_H
#define PLOT_H

#include <stddef.h>

typedef struct plot_series {
    const char *name;     /* in the legend */
    const char *color;    /* an SVG colour, e.g. "#1f77b4" */
    const double *x, *y;  /* n points; a NaN y leaves a gap */
    int n;
    int dashed;
} plot_series;

typedef struct plot_panel {
    const char *title, *xlabel, *ylabel;
    const plot_series *series;
    int nseries;
    int x_integer;        /* x counts (epochs): whole-number ticks, the axis from 0 */
    double ymin, ymax;    /* the y range; both 0: from the data */
} plot_panel;

/* Writes the panels side by side under `title` (may be NULL) into path.
 * 0, or -1 with "path: why" in msg (may be NULL). */
int plot_write_svg(const char *path, const char *title, const plot_panel *panels,
                   int npanels, char *msg, size_t msgsize);

#endif
