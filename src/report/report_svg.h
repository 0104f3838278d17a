// report_svg — the two kinds of figure in the report, written as inline SVG: a line chart
// (curves over depth, with vertical milestone markers and a legend) and the logit-lens token
// grid (layers x columns, cell text = top-1 token, fill = its probability, with a colour scale).
//
// Plain SVG 1.1 that parses as XML on its own (every text is escaped and cleaned to valid
// UTF-8 without control characters), needs no script and no fonts beyond a generic family,
// and carries hover details in <title> elements, which browsers show as tooltips.
#ifndef LW_REPORT_SVG_H
#define LW_REPORT_SVG_H

#include <stdio.h>

#include "report/report_model.h"

typedef struct {
    const char *label;
    const char *color;
    const char *dash;     // NULL solid, else stroke-dasharray ("5 3")
    int n;
    const double *x, *y;  // NAN in y = no point (the line breaks there)
} SvgSeries;

// A filled area between lo and hi (a quantile band), drawn under the series; NAN breaks it.
typedef struct {
    const char *label;
    const char *color;
    double opacity;       // fill-opacity
    int n;
    const double *x, *lo, *hi;
} SvgBand;

// A hover target at x (a transparent column over the plot's height) with a tooltip and data
// attributes: data is attribute text written as is (` data-layer="3" data-median="12"`; numbers
// only, nothing to escape), so tests read the values a chart draws.
typedef struct {
    double x;
    const char *title;
    const char *data;
} SvgPoint;

typedef struct {
    double x;
    const char *label;    // markers at the same x are merged into one label
    const char *color;
    int layer;            // appended as " L<layer>" to the merged label; -1 none
} SvgMarker;

typedef struct {
    const char *title;
    const char *x_label, *y_label;
    int width, height;        // outer size, pixels
    int log_y;                // plot log10(y); y ≤ 0 dropped
    double x_min, x_max;
    int x_layers;             // > 0: add the layer number (x·x_layers) under each x tick
    const SvgSeries *series;
    int n_series;
    const SvgMarker *markers;
    int n_markers;
    double ref_y;             // horizontal reference line, NAN for none
    const char *ref_label;
    const char *empty_note;   // shown when no series has a point
    const SvgBand *bands;     // under the series, in the legend after them
    int n_bands;
    const SvgPoint *points;   // hover targets with data attributes (NULL: none)
    int n_points;
    const char *css_class;    // the <svg>'s class (NULL: "chart")
} SvgChart;

// A bar chart of counts over layers 0..n plus an optional "never" bar, with a horizontal
// interval drawn above the bars (the bootstrap CI of the median layer) and a note line; each bar
// carries data-layer / data-count attributes and a tooltip. Class "hist".
typedef struct {
    const char *title;
    int width, height;
    int n;                    // bars for layers 0..n-1
    const int *count;
    int never;                // count of the "never" bar; < 0 for no such bar
    double total;             // fraction denominator in tooltips (items)
    double median, ci_lo, ci_hi; // NAN: not drawn
    const char *note;         // a line under the chart (NULL none)
} SvgHist;

void svg_hist_write(FILE *f, const SvgHist *h);

void svg_chart_write(FILE *f, const SvgChart *c);

// The token grid; title above it, row labels "L<layer>", highlight of answer cells.
void svg_grid_write(FILE *f, const TokenGrid *g, const char *title);

// Writes s as XML text: escaped, invalid UTF-8 / control characters replaced. visible != 0
// shows spaces at the ends, newlines and tabs as ␣ ↵ ⇥ and keeps at most max_chars code
// points (0 = all) followed by an ellipsis.
void svg_text(FILE *f, const char *s, int visible, int max_chars);

// Fill colour for a probability in [0, 1] ("#rrggbb"), and whether dark text reads on it.
void svg_prob_color(double p, char out[8], int *dark_text);

#endif
