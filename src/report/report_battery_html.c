// report_battery_html — a battery run's section of the HTML page (see report_battery.h): band
// charts across items per layer and the distribution of the first rank-1 layer, every number
// copied from the summary JSON. Each band chart carries, per layer, a hover target whose data
// attributes are the JSON's values written with 17 significant digits (exact doubles), which is
// what tests/sh/test_report_battery.sh compares with the JSON and with numpy.
#include "report/report_battery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_svg.h"
#include "report/report_table.h"

static const char *const BAT_TITLE[N_BAT_METRICS] = {"Answer rank", "p(answer)", "KL to final", "Entropy"};
static const char *const BAT_YLABEL[N_BAT_METRICS] = {"rank of the answer (log scale)", "probability of the answer",
                                                      "KL(P_layer ‖ P_final), bits", "entropy, bits"};
static const char BAND_COLOR[] = "#1f77b4";

static void esc(FILE *f, const char *s) { report_html_escape(f, s); }

static void num17(char *buf, size_t len, double v) {
    if (isnan(v)) snprintf(buf, len, "null");
    else snprintf(buf, len, "%.17g", v);
}

static void disp(char *buf, size_t len, double v) {
    if (isnan(v)) snprintf(buf, len, "—");
    else report_format_display(v, 0, buf, len);
}

static double *depth_axis(int n) {
    double *x = xmalloc((n + 1) * sizeof *x);
    for (int l = 0; l <= n; l++) x[l] = (double)l / n;
    return x;
}

// One band chart: median line, q25–q75 and q10–q90 bands, a hover target per layer.
static void band_chart(FILE *f, const ReportBattery *b, int met, const double *x) {
    int L1 = b->n_layers + 1;
    const BatteryBands *bd = &b->band[met];
    SvgBand bands[2] = {
        {.label = "q10–q90", .color = BAND_COLOR, .opacity = 0.15, .n = L1, .x = x, .lo = bd->v[BQ_Q10], .hi = bd->v[BQ_Q90]},
        {.label = "q25–q75", .color = BAND_COLOR, .opacity = 0.30, .n = L1, .x = x, .lo = bd->v[BQ_Q25], .hi = bd->v[BQ_Q75]},
    };
    SvgSeries med = {.label = "median across items", .color = BAND_COLOR, .n = L1, .x = x, .y = bd->v[BQ_MEDIAN]};
    SvgPoint *pts = xcalloc(L1, sizeof *pts);
    char **titles = xcalloc(L1, sizeof *titles), **data = xcalloc(L1, sizeof *data);
    for (int L = 0; L < L1; L++) {
        char v[N_BQ][32], d[N_BQ][32];
        for (int s = 0; s < N_BQ; s++) {
            num17(v[s], sizeof v[s], bd->v[s][L]);
            disp(d[s], sizeof d[s], bd->v[s][L]);
        }
        data[L] = xasprintf(" data-metric=\"%s\" data-layer=\"%d\" data-n=\"%d\" data-q10=\"%s\" data-q25=\"%s\" data-median=\"%s\" "
                            "data-q75=\"%s\" data-q90=\"%s\" data-mean=\"%s\"", REPORT_BATTERY_METRIC_KEY[met], L, bd->n[L],
                            v[BQ_Q10], v[BQ_Q25], v[BQ_MEDIAN], v[BQ_Q75], v[BQ_Q90], v[BQ_MEAN]);
        titles[L] = xasprintf("L%d (%d items): median %s · q25–q75 %s–%s · q10–q90 %s–%s · mean %s  [%s per_layer.%s[%d]]", L,
                              bd->n[L], d[BQ_MEDIAN], d[BQ_Q25], d[BQ_Q75], d[BQ_Q10], d[BQ_Q90], d[BQ_MEAN], b->file,
                              REPORT_BATTERY_METRIC_KEY[met], L);
        pts[L] = (SvgPoint){.x = x[L], .title = titles[L], .data = data[L]};
    }
    char title[200];
    snprintf(title, sizeof title, "%s across %d items — %s", BAT_TITLE[met], b->n_items, b->name);
    SvgChart ch = {.title = title, .x_label = "relative depth (layer / n)", .y_label = BAT_YLABEL[met], .width = 480,
                   .height = 320, .log_y = met == BAT_RANK, .x_min = 0, .x_max = 1, .x_layers = b->n_layers, .series = &med,
                   .n_series = 1, .ref_y = NAN, .empty_note = "no item has a value", .bands = bands, .n_bands = 2,
                   .points = pts, .n_points = L1, .css_class = "chart bands"};
    svg_chart_write(f, &ch);
    for (int L = 0; L < L1; L++) { free(titles[L]); free(data[L]); }
    free(titles);
    free(data);
    free(pts);
}

static void frac_chart(FILE *f, const ReportBattery *b, const double *x) {
    int L1 = b->n_layers + 1;
    SvgSeries s = {.label = "fraction of items with the answer at rank 1", .color = "#d62728", .n = L1, .x = x, .y = b->frac_rank1};
    SvgPoint *pts = xcalloc(L1, sizeof *pts);
    char **titles = xcalloc(L1, sizeof *titles), **data = xcalloc(L1, sizeof *data);
    for (int L = 0; L < L1; L++) {
        char v[32], d[32];
        num17(v, sizeof v, b->frac_rank1[L]);
        disp(d, sizeof d, b->frac_rank1[L]);
        data[L] = xasprintf(" data-metric=\"frac_rank1\" data-layer=\"%d\" data-frac=\"%s\"", L, v);
        titles[L] = xasprintf("L%d: %s of the items have the answer at rank 1  [%s per_layer.frac_rank1[%d]]", L, d, b->file, L);
        pts[L] = (SvgPoint){.x = x[L], .title = titles[L], .data = data[L]};
    }
    char title[200];
    snprintf(title, sizeof title, "Answer at rank 1 — %s", b->name);
    SvgChart ch = {.title = title, .x_label = "relative depth (layer / n)", .y_label = "fraction of items", .width = 480,
                   .height = 320, .x_min = 0, .x_max = 1, .x_layers = b->n_layers, .series = &s, .n_series = 1, .ref_y = NAN,
                   .empty_note = "no item has a value", .points = pts, .n_points = L1, .css_class = "chart frac"};
    svg_chart_write(f, &ch);
    for (int L = 0; L < L1; L++) { free(titles[L]); free(data[L]); }
    free(titles);
    free(data);
    free(pts);
}

static void ci_text(FILE *f, const char *what, double v, const double ci[2], int pct) {
    char a[32], lo[32], hi[32];
    if (pct) {
        if (isnan(v)) snprintf(a, sizeof a, "—"); else snprintf(a, sizeof a, "%.1f%%", 100 * v);
        if (isnan(ci[0])) snprintf(lo, sizeof lo, "—"); else snprintf(lo, sizeof lo, "%.1f%%", 100 * ci[0]);
        if (isnan(ci[1])) snprintf(hi, sizeof hi, "—"); else snprintf(hi, sizeof hi, "%.1f%%", 100 * ci[1]);
    } else {
        disp(a, sizeof a, v);
        disp(lo, sizeof lo, ci[0]);
        disp(hi, sizeof hi, ci[1]);
    }
    fprintf(f, "<li>%s <b>%s</b> (95%% CI %s – %s)</li>", what, a, lo, hi);
}

void report_battery_html_section(FILE *f, const ReportBattery *b) {
    fputs("<section class=\"battery\" id=\"b-", f);
    esc(f, b->name);
    fputs("\"><h2>Battery ", f);
    esc(f, b->name);
    if (b->battery_name && strcmp(b->battery_name, b->name)) { // the battery's own name, when not the run's
        fputs(" (<i>", f);
        esc(f, b->battery_name);
        fputs("</i>)", f);
    }
    fputs("</h2>\n", f);
    if (b->status != MODEL_OK) {
        fprintf(f, "<p class=\"note\"><b>%s</b>: ", b->status == MODEL_NOT_EXPORTED ? "not exported" : "failed");
        esc(f, b->status_msg ? b->status_msg : "");
        fputs("</p>\n</section>\n", f);
        return;
    }
    fprintf(f, "<p class=\"facts\"><b>%d</b> items · <b>%d</b> layers · norm lens at the next-token position of each item's "
               "prompt", b->n_items, b->n_layers);
    json_t *sk = json_object_get(json_object_get(b->json, "battery"), "skipped");
    size_t n_sk = json_is_array(sk) ? json_array_size(sk) : 0;
    if (n_sk) fprintf(f, " · <b>%zu</b> skipped item%s", n_sk, n_sk == 1 ? "" : "s");
    if (b->source) {
        fputs("<br/>battery file <code>", f);
        esc(f, b->source);
        fputs("</code>", f);
    }
    fputs("<br/>files: <code>", f);
    esc(f, b->file);
    fputs("</code> (every number below)</p>\n", f);
    fputs("<p class=\"note\">Across the items, per layer: the line is the median, the dark band q25–q75, the light band "
          "q10–q90 (numpy's default quantiles, as <code>lensweep export</code> computes them: docs/BATTERY.md). Hover a "
          "layer for its values.</p>\n<div class=\"charts\">\n", f);
    double *x = depth_axis(b->n_layers);
    for (int m = 0; m < N_BAT_METRICS; m++) band_chart(f, b, m, x);
    frac_chart(f, b, x);
    fputs("</div>\n", f);
    free(x);

    fputs("<h3>First rank-1 layer across items</h3>\n<ul class=\"facts firstrank1\">", f);
    fprintf(f, "<li><b>%d</b> of %d items reach rank 1 at some layer, %d never</li>", b->fr_n_reached, b->n_items, b->fr_never);
    ci_text(f, "fraction reached", b->fr_fraction, b->ci_fraction, 1);
    ci_text(f, "median first rank-1 layer", b->fr_median, b->ci_median, 0);
    ci_text(f, "mean first rank-1 layer", b->fr_mean, b->ci_mean, 0);
    fprintf(f, "</ul>\n<p class=\"note\">Percentile bootstrap: %d resamples of the items (seed %ld), level %g; the median's and "
               "mean's intervals use the %d resamples in which some item reached rank 1.</p>\n",
            b->boot_resamples, b->boot_seed, b->boot_level, b->boot_with_reached);
    char note[200], title[200];
    snprintf(note, sizeof note, "red: the median first rank-1 layer and its %g%% bootstrap interval", 100 * b->boot_level);
    snprintf(title, sizeof title, "First rank-1 layer, %d items — %s", b->n_items, b->name);
    int w = 120 + 22 * (b->n_layers + 2);
    if (w < 480) w = 480;
    if (w > 1100) w = 1100;
    SvgHist h = {.title = title, .width = w, .height = 300, .n = b->n_layers + 1, .count = b->fr_hist, .never = b->fr_never,
                 .total = b->n_items, .median = b->fr_median, .ci_lo = b->ci_median[0], .ci_hi = b->ci_median[1], .note = note};
    svg_hist_write(f, &h);
    fputs("</section>\n", f);
}
