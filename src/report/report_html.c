// report_html — see report_html.h.
#include "report/report_html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/report_battery.h"
#include "report/report_json.h"
#include "report/report_svg.h"
#include "report/report_table.h"

static const char *const LENS_COLOR[N_LENSES] = {"#1f77b4", "#7f7f7f", "#d62728", "#2ca02c"};
static const char *const LENS_DASH[N_LENSES] = {NULL, "5 3", NULL, "2 2"};
static const char *const LENS_LABEL[N_LENSES] = {"norm lens", "raw lens", "tuned lens", "Prism"};
// Categorical palette for models (Tableau 10 order), cycled with dashes beyond ten.
static const char *const MODEL_COLOR[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static const char CSS[] =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;color:#222;margin:18px 24px;font-size:14px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ccc;padding-bottom:3px}"
    "h3{font-size:15px;margin:16px 0 4px}"
    "p.meta{color:#555;margin:2px 0}nav a{margin-right:10px}"
    ".tablewrap{overflow-x:auto}"
    "table.xmodel{border-collapse:collapse;font-size:12px;font-variant-numeric:tabular-nums}"
    "table.xmodel th,table.xmodel td{border:1px solid #d0d0d0;padding:2px 4px;text-align:right;white-space:nowrap}"
    "table.xmodel thead th{background:#f2f2f2;text-align:center}"
    "table.xmodel th.model{text-align:left;background:#fafafa}"
    "table.xmodel td.status{text-align:center}"
    "table.xmodel tr.bad td,table.xmodel tr.bad th{background:#fdecea}"
    "table.xmodel td.failmsg{text-align:left;color:#a00;white-space:normal}"
    "td.null{color:#999}td.na{color:#bbb}td.warn{color:#b00;font-weight:bold}"
    "td.pos{color:#176b1b}td.neg{color:#a33}"
    "details.legend{margin:6px 0;font-size:12.5px}details.legend dt{font-weight:bold;margin-top:3px}"
    "details.legend dd{margin-left:18px}"
    ".charts{display:flex;flex-wrap:wrap;gap:8px}"
    ".gridwrap{overflow-x:auto;margin-top:6px}"
    ".facts{font-size:13px}.facts b{font-weight:600}"
    "ul.notes{color:#8a5a00;font-size:13px}"
    ".note{font-size:13px;color:#444;max-width:1100px}"
    "code{font-size:12px}";

// ---------------------------------------------------------------------------- helpers

static void esc(FILE *f, const char *s) { report_html_escape(f, s); }

static int json_int(const ReportModel *m, const char *path, int *out) {
    json_t *v = report_json_path(m->json, path);
    if (!json_is_integer(v)) return 0;
    *out = (int)json_integer_value(v);
    return 1;
}

static double *depth_axis(int n_layers) {
    double *x = xmalloc((n_layers + 1) * sizeof *x);
    for (int l = 0; l <= n_layers; l++) x[l] = (double)l / n_layers;
    return x;
}

// p(answer) sits beside the rank: a rank that barely moves can hide a probability rising by
// orders of magnitude (and the other way round), so the report shows both.
typedef enum { METRIC_KL, METRIC_ENTROPY, METRIC_RANK, METRIC_P_ANSWER, METRIC_COS, N_METRICS } Metric;
static const char *const METRIC_TITLE[N_METRICS] = {"KL to final", "Entropy", "Answer rank", "p(answer)", "cos to final"};
static const char *const METRIC_YLABEL[N_METRICS] = {"KL(P_layer ‖ P_final), bits", "entropy, bits",
                                                     "rank of the answer (log scale)", "P_layer(answer) (log scale)",
                                                     "cos(lens logits, final logits)"};

static const double *metric_of(const LensCurves *c, Metric m) {
    switch (m) {
    case METRIC_KL: return c->kl_bits;
    case METRIC_ENTROPY: return c->entropy_bits;
    case METRIC_RANK: return c->answer_rank;
    case METRIC_P_ANSWER: return c->p_answer;
    default: return c->cos_to_final;
    }
}

static int has_values(const double *y, int n) {
    for (int i = 0; i < n && y; i++)
        if (isfinite(y[i])) return 1;
    return 0;
}

// ---------------------------------------------------------------------------- per model

static void write_model_charts(FILE *f, const ReportModel *m) {
    int n = m->n_layers;
    double *x = depth_axis(n);
    // Milestones, as the JSON states them.
    static const struct { const char *path, *label, *color; } MARKS[] = {
        {"diagnostics/L_copy", "L_copy", "#ff7f0e"},
        {"diagnostics/L_copy_H", "L_copy_H", "#8c564b"},
        {"diagnostics/L_semantic", "L_sem", "#9467bd"},
        {"diagnostics/first_rank_le_10", "r≤10", "#555555"},
        {"diagnostics/first_rank_le_5", "r≤5", "#555555"},
        {"diagnostics/first_rank_le_1", "r≤1", "#555555"},
    };
    SvgMarker marks[6];
    int n_marks = 0;
    for (size_t i = 0; i < sizeof MARKS / sizeof *MARKS; i++) {
        int l;
        if (!json_int(m, MARKS[i].path, &l) || l < 0 || l > n) continue;
        marks[n_marks++] = (SvgMarker){.x = (double)l / n, .label = MARKS[i].label, .color = MARKS[i].color, .layer = l};
    }
    fputs("<div class=\"charts\">\n", f);
    for (int met = 0; met < N_METRICS; met++) {
        SvgSeries series[N_LENSES];
        int ns = 0;
        for (int l = 0; l < N_LENSES; l++) {
            const LensCurves *c = &m->lens[l];
            if (!c->present || !has_values(metric_of(c, met), n + 1)) continue;
            series[ns++] = (SvgSeries){.label = LENS_LABEL[l], .color = LENS_COLOR[l], .dash = LENS_DASH[l],
                                       .n = n + 1, .x = x, .y = metric_of(c, met)};
        }
        char title[160];
        snprintf(title, sizeof title, "%s — %s", METRIC_TITLE[met], m->name);
        SvgChart ch = {.title = title, .x_label = "relative depth (layer / n)", .y_label = METRIC_YLABEL[met],
                       .width = 480, .height = 320, .log_y = met == METRIC_RANK || met == METRIC_P_ANSWER, .x_min = 0, .x_max = 1, .x_layers = n,
                       .series = series, .n_series = ns, .markers = marks, .n_markers = n_marks, .ref_y = NAN,
                       .empty_note = "no per-layer CSV for this model"};
        if (met == METRIC_ENTROPY && isfinite(m->teacher_entropy_bits)) {
            ch.ref_y = m->teacher_entropy_bits;
            ch.ref_label = "final-head entropy";
        }
        // p(answer): each layer a hover target with every lens's value (data-p-<lens>, full precision)
        SvgPoint *pts = NULL;
        char **texts = NULL;
        if (met == METRIC_P_ANSWER && ns) {
            pts = xcalloc(n + 1, sizeof *pts);
            texts = xcalloc(2 * (n + 1), sizeof *texts);
            for (int l = 0; l <= n; l++) {
                char title[512], data[512];
                int tl = snprintf(title, sizeof title, "L%d p(answer):", l), dl = snprintf(data, sizeof data, " data-layer=\"%d\"", l);
                for (int k = 0; k < N_LENSES; k++) {
                    const LensCurves *c = &m->lens[k];
                    if (!c->present || !c->p_answer || !isfinite(c->p_answer[l])) continue;
                    if (tl < (int)sizeof title) tl += snprintf(title + tl, sizeof title - tl, " %s %.3g", LENS_LABEL[k], c->p_answer[l]);
                    if (dl < (int)sizeof data) dl += snprintf(data + dl, sizeof data - dl, " data-p-%s=\"%.17g\"", REPORT_LENS_NAME[k], c->p_answer[l]);
                }
                texts[2 * l] = xstrdup(title);
                texts[2 * l + 1] = xstrdup(data);
                pts[l] = (SvgPoint){.x = x[l], .title = texts[2 * l], .data = texts[2 * l + 1]};
            }
            ch.points = pts;
            ch.n_points = n + 1;
        }
        svg_chart_write(f, &ch);
        if (texts) for (int l = 0; l < 2 * (n + 1); l++) free(texts[l]);
        free(texts);
        free(pts);
    }
    fputs("</div>\n", f);
    free(x);
}

static void write_facts(FILE *f, const ReportModel *m) {
    fputs("<p class=\"facts\">", f);
    fprintf(f, "<b>%d</b> layers", m->n_layers);
    static const struct { const char *path, *name; } FACTS[] = {
        {"diagnostics/L_copy", "L_copy"}, {"diagnostics/L_copy_H", "L_copy_H"}, {"diagnostics/L_semantic", "L_semantic"},
        {"diagnostics/first_rank_le_10", "rank≤10"}, {"diagnostics/first_rank_le_5", "rank≤5"},
        {"diagnostics/first_rank_le_1", "rank≤1"}, {"diagnostics/first_kl_below_1.0", "KL≤1.0"},
        {"diagnostics/L_semantic_confirmed", "L_semantic_confirmed"},
    };
    for (size_t i = 0; i < sizeof FACTS / sizeof *FACTS; i++) {
        json_t *v = report_json_path(m->json, FACTS[i].path);
        if (!v) continue;
        fprintf(f, " · %s ", FACTS[i].name);
        if (json_is_integer(v)) fprintf(f, "<b>%lld</b>", (long long)json_integer_value(v));
        else fputs("<b>—</b>", f);
    }
    json_t *warn = report_json_path(m->json, "diagnostics/last_layer_consistency/warn_high_last_layer_kl");
    if (json_is_true(warn))
        fputs(" · <span style=\"color:#b00\"><b>last-layer KL warning</b>: prefer ranks over probabilities</span>", f);
    const char *gold = json_string_value(report_json_path(m->json, "gold_answer/string"));
    if (gold) {
        fputs(" · answer <b>", f);
        esc(f, gold);
        fputs("</b>", f);
    }
    fputs("<br/>files: <code>", f);
    esc(f, m->json_file);
    fputs("</code>", f);
    for (int l = 0; l < N_LENSES; l++)
        if (m->lens[l].present) {
            fputs(", <code>", f);
            esc(f, m->lens[l].file);
            fputs("</code>", f);
        }
    if (m->grid_positions.n_rows) {
        fputs(", <code>", f);
        esc(f, m->grid_positions.file);
        fputs("</code>", f);
    }
    fputs("</p>\n", f);
    if (m->n_notes) {
        fputs("<ul class=\"notes\">", f);
        for (int i = 0; i < m->n_notes; i++) {
            fputs("<li>", f);
            esc(f, m->notes[i]);
            fputs("</li>", f);
        }
        fputs("</ul>\n", f);
    }
}

// Milestones and depth KLs of each lens, as the JSON's tuned/Prism summaries state them
// (METRICS §19.3, §20.2): what "tuned delays rank-1 from 36 to 39" is read from.
static void write_lens_summary(FILE *f, const ReportModel *m) {
    static const struct { const char *label, *base, *key; } LENSES[] = {
        {"norm (baseline)", "tuned_lens/summary/metrics", "baseline"},
        {"tuned", "tuned_lens/summary/metrics", "tuned"},
        {"Prism", "diagnostics/prism_summary/metrics", "prism"},
    };
    static const struct { const char *head, *sub, *leaf; int is_int; } COLS[] = {
        {"rank ≤10", "rank_milestones", "le_10", 1}, {"rank ≤5", "rank_milestones", "le_5", 1},
        {"rank ≤1", "rank_milestones", "le_1", 1}, {"first KL ≤1.0", "first_kl_le_1.0", NULL, 1},
        {"KL@25% (bits)", "kl_bits_at_percentiles", "p25", 0}, {"KL@50%", "kl_bits_at_percentiles", "p50", 0},
        {"KL@75%", "kl_bits_at_percentiles", "p75", 0},
    };
    // A lens that was not run leaves its summary without values (or without the summary): its row
    // is left out, and the table too when neither tuned nor Prism has a value to compare.
    const char *bases[3];
    int shown[3] = {0}, any = 0;
    for (size_t l = 0; l < 3; l++) {
        bases[l] = LENSES[l].base;
        if (l == 0 && !report_json_path(m->json, bases[l])) bases[l] = LENSES[2].base; // baseline from either summary
        for (size_t c = 0; c < sizeof COLS / sizeof *COLS && report_json_path(m->json, bases[l]); c++) {
            char path[256];
            if (COLS[c].leaf) snprintf(path, sizeof path, "%s/%s/%s/%s", bases[l], COLS[c].sub, LENSES[l].key, COLS[c].leaf);
            else snprintf(path, sizeof path, "%s/%s/%s", bases[l], COLS[c].sub, LENSES[l].key);
            shown[l] |= report_json_path(m->json, path) != NULL;
        }
        if (l > 0) any |= shown[l];
    }
    if (!any) return;
    fputs("<h3>Lenses compared (JSON summaries)</h3>\n<table class=\"xmodel lens\"><thead><tr><th>lens</th>", f);
    for (size_t c = 0; c < sizeof COLS / sizeof *COLS; c++) {
        fputs("<th>", f);
        esc(f, COLS[c].head);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
    for (size_t l = 0; l < 3; l++) {
        const char *base = bases[l];
        if (!shown[l]) continue;
        fputs("<tr><th class=\"model\">", f);
        esc(f, LENSES[l].label);
        fputs("</th>", f);
        for (size_t c = 0; c < sizeof COLS / sizeof *COLS; c++) {
            char path[256];
            if (COLS[c].leaf) snprintf(path, sizeof path, "%s/%s/%s/%s", base, COLS[c].sub, LENSES[l].key, COLS[c].leaf);
            else snprintf(path, sizeof path, "%s/%s/%s", base, COLS[c].sub, LENSES[l].key);
            json_t *v = report_json_path(m->json, path);
            char txt[64] = "n/a", exact[64] = "";
            if (v && json_is_null(v)) snprintf(txt, sizeof txt, "—");
            else if (json_is_integer(v)) snprintf(txt, sizeof txt, "%lld", (long long)json_integer_value(v));
            else if (json_is_number(v)) {
                report_format_display(json_number_value(v), 0, txt, sizeof txt);
                report_format_exact(json_number_value(v), exact, sizeof exact);
            }
            int line = v ? report_json_line(m->json_text, path) : 0;
            fputs("<td title=\"", f);
            esc(f, m->json_file);
            if (line) fprintf(f, ":%d", line);
            fputc(' ', f);
            for (const char *p = path; *p; p++) fputc(*p == '/' ? '.' : *p, f);
            if (exact[0]) fprintf(f, " = %s", exact);
            fputs("\">", f);
            esc(f, txt);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void write_model(FILE *f, const ReportModel *m) {
    fputs("<section class=\"model\" id=\"m-", f);
    esc(f, m->name);
    fputs("\"><h2>", f);
    esc(f, m->name);
    fputs("</h2>\n", f);
    write_facts(f, m);
    fputs("<h3>Curves over depth (primary prompt Germany→Berlin, NEXT position)</h3>\n", f);
    write_model_charts(f, m);
    write_lens_summary(f, m);
    char title[512];
    if (m->grid_positions.n_rows) {
        fputs("<h3>Logit-lens grid</h3>\n<div class=\"gridwrap\">\n", f);
        snprintf(title, sizeof title, "%s: top-1 token at every layer and prompt position (norm lens, Germany→Berlin orig)",
                 m->name);
        svg_grid_write(f, &m->grid_positions, title);
        fputs("</div>\n", f);
    } else if (m->grid_passes.n_rows) {
        fputs("<h3>Logit-lens grid at the next-token position, every prompt pass</h3>\n", f);
        fputs("<p class=\"note\">The run directory has no records CSV for this model (it holds every position); this grid "
              "shows the NEXT position of each prompt pass from <code>", f);
        esc(f, m->grid_passes.file);
        fputs("</code>. Red frame: the pass's answer is rank 1.</p>\n<div class=\"gridwrap\">\n", f);
        snprintf(title, sizeof title, "%s: top-1 token at NEXT, every layer and prompt pass (norm lens)", m->name);
        svg_grid_write(f, &m->grid_passes, title);
        fputs("</div>\n", f);
    } else {
        fputs("<p class=\"note\">No records or pure-next-token CSV: no grid.</p>\n", f);
    }
    fputs("</section>\n", f);
}

// ---------------------------------------------------------------------------- overlays

static void write_overlays(FILE *f, const ReportRun *run) {
    int n_ok = 0;
    for (int i = 0; i < run->n_models; i++) n_ok += run->models[i].status == MODEL_OK && run->models[i].lens[LENS_NORM].present;
    if (!n_ok) {
        fputs("<p class=\"note\">No model has a pure-next-token CSV: nothing to overlay.</p>\n", f);
        return;
    }
    SvgSeries *series = xcalloc(run->n_models, sizeof *series);
    double **xs = xcalloc(run->n_models, sizeof *xs);
    fputs("<div class=\"charts\">\n", f);
    for (int met = 0; met < N_METRICS; met++) {
        int ns = 0;
        for (int i = 0; i < run->n_models; i++) {
            const ReportModel *m = &run->models[i];
            if (m->status != MODEL_OK || !m->lens[LENS_NORM].present) continue;
            if (!xs[i]) xs[i] = depth_axis(m->n_layers);
            series[ns] = (SvgSeries){.label = m->name, .color = MODEL_COLOR[ns % 10], .dash = ns >= 10 ? "5 3" : NULL,
                                     .n = m->n_layers + 1, .x = xs[i], .y = metric_of(&m->lens[LENS_NORM], met)};
            ns++;
        }
        char title[128];
        snprintf(title, sizeof title, "%s, all models (norm lens)", METRIC_TITLE[met]);
        SvgChart ch = {.title = title, .x_label = "relative depth (layer / n)", .y_label = METRIC_YLABEL[met],
                       .width = 600, .height = 420, .log_y = met == METRIC_RANK || met == METRIC_P_ANSWER, .x_min = 0, .x_max = 1,
                       .series = series, .n_series = ns, .ref_y = NAN};
        svg_chart_write(f, &ch);
    }
    fputs("</div>\n", f);
    for (int i = 0; i < run->n_models; i++) free(xs[i]);
    free(xs);
    free(series);
}

// ---------------------------------------------------------------------------- page

void report_html_write(FILE *f, const ReportRun *run) {
    int n_ok = 0, n_failed = 0, n_unexported = 0;
    for (int i = 0; i < run->n_models; i++) {
        ModelStatus s = run->models[i].status;
        n_ok += s == MODEL_OK;
        n_failed += s == MODEL_FAILED;
        n_unexported += s == MODEL_NOT_EXPORTED;
    }
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"/>\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>lensweep report: ", f);
    esc(f, lw_basename(run->dir));
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", CSS);
    fputs("<header><h1>lensweep report</h1>\n<p class=\"meta\">Run directory <code>", f);
    esc(f, run->dir);
    fprintf(f, "</code> · %d model%s: %d ok, %d failed, %d not exported", run->n_models, run->n_models == 1 ? "" : "s", n_ok,
            n_failed, n_unexported);
    if (run->n_batteries) fprintf(f, " · %d battery run%s", run->n_batteries, run->n_batteries == 1 ? "" : "s");
    fprintf(f, " · generated %s by lensweep %s (%s)</p>\n", when, LENSWEEP_VERSION, LENSWEEP_GIT);
    fputs("<nav>", f);
    if (run->n_models) fputs("<a href=\"#table\">cross-model table</a><a href=\"#overlay\">all models vs depth</a>", f);
    for (int i = 0; i < run->n_models; i++) {
        if (run->models[i].status != MODEL_OK) continue;
        fputs("<a href=\"#m-", f);
        esc(f, run->models[i].name);
        fputs("\">", f);
        esc(f, run->models[i].name);
        fputs("</a>", f);
    }
    for (int i = 0; i < run->n_batteries; i++) {
        fputs("<a href=\"#b-", f);
        esc(f, run->batteries[i].name);
        fputs("\">battery ", f);
        esc(f, run->batteries[i].name);
        fputs("</a>", f);
    }
    fputs("</nav></header>\n", f);

    if (run->n_models) {
        fputs("<section id=\"table\"><h2>Cross-model table</h2>\n<p class=\"note\">Every value is copied from "
              "<code>output-&lt;model&gt;.json</code>; hover a cell for <code>file:line path = exact value</code>. Layers are "
              "0 = embeddings … n = last block; rounded to 4 decimals (3 significant digits below 0.01). "
              "<b>ΔKL = KL(norm lens) − KL(tuned or Prism lens)</b> at the layers of the “ΔKL depth layers” columns "
              "(JSON <code>kl_bits_at_percentiles.delta</code>): positive (green) means the lens is closer to the final "
              "distribution; texts that quote “lens − baseline” have the opposite sign. "
              "<code>—</code> = null in the JSON (the milestone is never reached), <code>n/a</code> = not in the JSON "
              "(no tuned lens). Where <b>warn</b> is true, compare ranks rather than KL or probabilities.</p>\n", f);
        report_table_write_html(f, run);
        fputs("</section>\n", f);

        fputs("<section id=\"overlay\"><h2>All models against relative depth</h2>\n<p class=\"note\">Norm lens, primary "
              "prompt (Germany→Berlin), next-token position, from each model's pure-next-token CSV. Absolute KL, entropy and "
              "cosine levels are lens- and tokenizer-sensitive: compare shapes and depths across families, values within "
              "a model.</p>\n", f);
        write_overlays(f, run);
        fputs("</section>\n", f);
    } else {
        fputs("<p class=\"note\">No reference run in this directory: no cross-model table; the battery runs follow.</p>\n", f);
    }

    for (int i = 0; i < run->n_models; i++)
        if (run->models[i].status == MODEL_OK) write_model(f, &run->models[i]);

    if (n_failed + n_unexported) {
        fputs("<section id=\"failed\"><h2>Models without data</h2><ul>\n", f);
        for (int i = 0; i < run->n_models; i++) {
            const ReportModel *m = &run->models[i];
            if (m->status == MODEL_OK) continue;
            fputs("<li><b>", f);
            esc(f, m->name);
            fprintf(f, "</b> (%s): ", report_status_word(m));
            esc(f, m->status_msg ? m->status_msg : "");
            fputs("</li>\n", f);
        }
        fputs("</ul></section>\n", f);
    }
    for (int i = 0; i < run->n_batteries; i++) report_battery_html_section(f, &run->batteries[i]);
    fputs("<footer><p class=\"meta\">Definitions: METRICS.md; files and JSON keys: OUTPUTS.md. "
          "Made by <code>lensweep report</code>; also <code>--format md</code> and <code>--format csv</code> for the "
          "table alone.</p></footer>\n</body>\n</html>\n", f);
}
