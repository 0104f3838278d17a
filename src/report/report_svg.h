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
} SvgChart;

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
