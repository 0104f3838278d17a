// report_table — see report_table.h.
#include "report/report_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_json.h"
#include "report/report_svg.h"

#define D "diagnostics/"
#define TUNED "tuned_lens/summary/metrics/kl_bits_at_percentiles/delta/"
#define PRISM "diagnostics/prism_summary/metrics/kl_bits_at_percentiles/delta/"

const ReportColumn REPORT_COLUMNS[] = {
    {"n_layers", "model", "layers", "model_stats/num_layers", CELL_INT, "number of transformer blocks n"},
    {"L_copy", "copy", "L_copy", D "L_copy", CELL_INT, "first layer with strict copy collapse (p>0.95, margin 0.10)"},
    {"L_copy_H", "copy", "L_copy_H", D "L_copy_H", CELL_INT, "first layer with entropy ≤ 1 bit"},
    {"L_semantic", "semantic", "L_sem", D "L_semantic", CELL_INT, "first layer where the answer is rank 1 (norm lens)"},
    {"L_semantic_frac", "semantic", "L_sem/n", D "depth_fractions/L_semantic_frac", CELL_FLOAT, "relative depth of L_semantic, round(L/n, 3)"},
    {"first_rank_le_10", "rank milestones", "≤10", D "first_rank_le_10", CELL_INT, "first layer with answer rank ≤ 10"},
    {"first_rank_le_5", "rank milestones", "≤5", D "first_rank_le_5", CELL_INT, "first layer with answer rank ≤ 5"},
    {"first_rank_le_1", "rank milestones", "≤1", D "first_rank_le_1", CELL_INT, "first layer with answer rank 1"},
    {"first_kl_below_0.5", "KL milestones", "≤0.5", D "first_kl_below_0.5", CELL_INT, "first layer with KL to final ≤ 0.5 bits"},
    {"first_kl_below_1.0", "KL milestones", "≤1.0", D "first_kl_below_1.0", CELL_INT, "first layer with KL to final ≤ 1.0 bits"},
    {"last_layer_kl_bits", "last layer", "KL bits", D "last_layer_consistency/kl_to_final_bits", CELL_FLOAT, "KL(lens at layer n ‖ model head), bits"},
    {"warn_high_last_layer_kl", "last layer", "warn", D "last_layer_consistency/warn_high_last_layer_kl", CELL_BOOL, "last-layer KL ≥ 0.25 bits (or temperature gap): prefer ranks over probabilities"},
    {"lens_artifact_risk", "raw vs norm lens", "risk", "raw_lens_check/summary/lens_artifact_risk", CELL_STR, "lens-artefact risk tier of the sampled raw-vs-norm check"},
    {"max_kl_norm_vs_raw_bits", "raw vs norm lens", "max KL", "raw_lens_check/summary/max_kl_norm_vs_raw_bits", CELL_FLOAT, "largest KL(norm ‖ raw) of the sampled check, bits"},
    {"depth_layer_p25", "ΔKL depth layers", "25%", D "kl_to_final_bits_norm_temp@25%/layer", CELL_INT, "the layer round(n·0.25) at which the 25% ΔKL is taken"},
    {"depth_layer_p50", "ΔKL depth layers", "50%", D "kl_to_final_bits_norm_temp@50%/layer", CELL_INT, "the layer round(n·0.50)"},
    {"depth_layer_p75", "ΔKL depth layers", "75%", D "kl_to_final_bits_norm_temp@75%/layer", CELL_INT, "the layer round(n·0.75)"},
    {"tuned_delta_kl_p25", "tuned ΔKL (bits)", "25%", TUNED "p25", CELL_DELTA, "KL(norm) − KL(tuned) at the 25% depth layer, bits (JSON delta = baseline − tuned); > 0: tuned is closer to the final distribution"},
    {"tuned_delta_kl_p50", "tuned ΔKL (bits)", "50%", TUNED "p50", CELL_DELTA, "tuned, at 50% depth"},
    {"tuned_delta_kl_p75", "tuned ΔKL (bits)", "75%", TUNED "p75", CELL_DELTA, "tuned, at 75% depth"},
    {"prism_delta_kl_p25", "prism ΔKL (bits)", "25%", PRISM "p25", CELL_DELTA, "KL(norm) − KL(prism) at the 25% depth layer, bits (JSON delta = baseline − prism); > 0: prism is closer to the final distribution"},
    {"prism_delta_kl_p50", "prism ΔKL (bits)", "50%", PRISM "p50", CELL_DELTA, "prism, at 50% depth"},
    {"prism_delta_kl_p75", "prism ΔKL (bits)", "75%", PRISM "p75", CELL_DELTA, "prism, at 75% depth"},
};
const int REPORT_N_COLUMNS = (int)(sizeof REPORT_COLUMNS / sizeof REPORT_COLUMNS[0]);

// ---------------------------------------------------------------------------- formatting

void report_format_exact(double v, char *buf, size_t len) {
    if (isnan(v)) { snprintf(buf, len, "nan"); return; }
    if (isinf(v)) { snprintf(buf, len, v > 0 ? "inf" : "-inf"); return; }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    // Integral values keep a ".0" so a reader sees a float, as the exporter writes them.
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", len - strlen(buf) - 1);
}

static void strip_zeros(char *buf) {
    char *dot = strchr(buf, '.');
    if (!dot || strpbrk(buf, "eE")) return;
    char *end = buf + strlen(buf) - 1;
    while (end > dot + 1 && *end == '0') *end-- = 0;
}

void report_format_display(double v, int sign, char *buf, size_t len) {
    if (!isfinite(v)) { report_format_exact(v, buf, len); return; }
    const char *plus = sign && v > 0 ? "+" : "";
    if (v == 0) snprintf(buf, len, "0.0");
    else if (fabs(v) >= 0.01) snprintf(buf, len, "%s%.4f", plus, v);
    else snprintf(buf, len, "%s%.3g", plus, v);
    strip_zeros(buf);
}

const char *report_status_word(const ReportModel *m) {
    return m->status == MODEL_OK ? "ok" : m->status == MODEL_FAILED ? "failed" : "not exported";
}

void report_cell_get(const ReportModel *m, const ReportColumn *c, ReportCell *cell) {
    memset(cell, 0, sizeof *cell);
    if (m->status != MODEL_OK) { cell->state = 3; return; }
    json_t *v = report_json_path(m->json, c->path);
    cell->line = v ? report_json_line(m->json_text, c->path) : 0;
    if (!v) { cell->state = 2; snprintf(cell->display, sizeof cell->display, "n/a"); return; }
    if (json_is_null(v)) { cell->state = 1; snprintf(cell->display, sizeof cell->display, "null"); return; }
    switch (c->kind) {
    case CELL_INT:
        if (json_is_integer(v)) {
            snprintf(cell->display, sizeof cell->display, "%lld", (long long)json_integer_value(v));
            snprintf(cell->exact, sizeof cell->exact, "%lld", (long long)json_integer_value(v));
            return;
        }
        break;
    case CELL_FLOAT:
    case CELL_DELTA:
        if (json_is_number(v)) {
            double x = json_number_value(v);
            report_format_display(x, c->kind == CELL_DELTA, cell->display, sizeof cell->display);
            report_format_exact(x, cell->exact, sizeof cell->exact);
            return;
        }
        break;
    case CELL_BOOL:
        if (json_is_boolean(v)) {
            snprintf(cell->display, sizeof cell->display, "%s", json_is_true(v) ? "true" : "false");
            snprintf(cell->exact, sizeof cell->exact, "%s", json_is_true(v) ? "True" : "False");
            return;
        }
        break;
    case CELL_STR:
        if (json_is_string(v)) {
            snprintf(cell->display, sizeof cell->display, "%s", json_string_value(v));
            snprintf(cell->exact, sizeof cell->exact, "%s", json_string_value(v));
            return;
        }
        break;
    }
    // Present with an unexpected type: show it rather than hide it.
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(cell->display, sizeof cell->display, "?%s", s ? s : "");
    snprintf(cell->exact, sizeof cell->exact, "%s", s ? s : "");
    free(s);
}

// ---------------------------------------------------------------------------- CSV

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void report_table_write_csv(FILE *f, const ReportRun *run) {
    fputs("model,status", f);
    for (int c = 0; c < REPORT_N_COLUMNS; c++) fprintf(f, ",%s", REPORT_COLUMNS[c].id);
    fputs(",status_detail\n", f);
    for (int i = 0; i < run->n_models; i++) {
        const ReportModel *m = &run->models[i];
        csv_field(f, m->name);
        fprintf(f, ",%s", report_status_word(m));
        for (int c = 0; c < REPORT_N_COLUMNS; c++) {
            ReportCell cell;
            report_cell_get(m, &REPORT_COLUMNS[c], &cell);
            fputc(',', f);
            csv_field(f, cell.exact);
        }
        fputc(',', f);
        csv_field(f, m->status_msg ? m->status_msg : "");
        fputc('\n', f);
    }
}

// ---------------------------------------------------------------------------- Markdown

static void md_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n') fputc(' ', f);
        else fputc(*s, f);
    }
}

void report_table_write_md(FILE *f, const ReportRun *run) {
    fprintf(f, "# lensweep cross-model table\n\nRun directory: `%s` (%d model%s). ", run->dir, run->n_models,
            run->n_models == 1 ? "" : "s");
    fputs("Values are copied from each `output-<model>.json`, rounded to 4 decimals (3 significant digits "
          "below 0.01); `null` = null in the JSON, `n/a` = key absent (no tuned lens). "
          "Full precision: `--format csv`.\n\n", f);
    fputs("| model | status |", f);
    for (int c = 0; c < REPORT_N_COLUMNS; c++) fprintf(f, " %s |", REPORT_COLUMNS[c].id);
    fputs("\n|---|---|", f);
    for (int c = 0; c < REPORT_N_COLUMNS; c++) fputs(REPORT_COLUMNS[c].kind == CELL_STR ? "---|" : "--:|", f);
    fputc('\n', f);
    for (int i = 0; i < run->n_models; i++) {
        const ReportModel *m = &run->models[i];
        fputs("| ", f);
        md_text(f, m->name);
        fprintf(f, " | %s |", report_status_word(m));
        for (int c = 0; c < REPORT_N_COLUMNS; c++) {
            ReportCell cell;
            report_cell_get(m, &REPORT_COLUMNS[c], &cell);
            fputc(' ', f);
            md_text(f, cell.display);
            fputs(" |", f);
        }
        fputc('\n', f);
    }
    int n_bad = 0;
    for (int i = 0; i < run->n_models; i++) n_bad += run->models[i].status != MODEL_OK;
    if (n_bad) {
        fputs("\nModels without data:\n\n", f);
        for (int i = 0; i < run->n_models; i++) {
            const ReportModel *m = &run->models[i];
            if (m->status == MODEL_OK) continue;
            fputs("- ", f);
            md_text(f, m->name);
            fprintf(f, " (%s): ", report_status_word(m));
            md_text(f, m->status_msg ? m->status_msg : "");
            fputc('\n', f);
        }
    }
    fputs("\nColumns (JSON path in `output-<model>.json`):\n\n", f);
    for (int c = 0; c < REPORT_N_COLUMNS; c++) {
        const ReportColumn *col = &REPORT_COLUMNS[c];
        char path[256];
        snprintf(path, sizeof path, "%s", col->path);
        for (char *p = path; *p; p++) if (*p == '/') *p = '.';
        fprintf(f, "- `%s`: `%s` — %s\n", col->id, path, col->help);
    }
}

// ---------------------------------------------------------------------------- HTML

void report_html_escape(FILE *f, const char *s) {
    // The page is polyglot HTML (it must parse as XML): besides the five escapes, invalid UTF-8
    // and control characters from a broken input file are replaced (svg_text does both).
    svg_text(f, s, 0, 0);
}

static void dotted(char *dst, size_t len, const char *path) {
    snprintf(dst, len, "%s", path);
    for (char *p = dst; *p; p++) if (*p == '/') *p = '.';
}

void report_table_write_html(FILE *f, const ReportRun *run) {
    fputs("<div class=\"tablewrap\"><table class=\"xmodel\" id=\"xmodel\">\n<thead><tr><th rowspan=\"2\">model</th>"
          "<th rowspan=\"2\">status</th>", f);
    for (int c = 0; c < REPORT_N_COLUMNS;) {
        int span = 1;
        while (c + span < REPORT_N_COLUMNS && !strcmp(REPORT_COLUMNS[c + span].group, REPORT_COLUMNS[c].group)) span++;
        fprintf(f, "<th colspan=\"%d\" class=\"grp\">", span);
        report_html_escape(f, REPORT_COLUMNS[c].group);
        fputs("</th>", f);
        c += span;
    }
    fputs("</tr>\n<tr>", f);
    for (int c = 0; c < REPORT_N_COLUMNS; c++) {
        char path[256];
        dotted(path, sizeof path, REPORT_COLUMNS[c].path);
        fprintf(f, "<th data-col=\"%s\" title=\"", REPORT_COLUMNS[c].id);
        report_html_escape(f, path);
        fputs(": ", f);
        report_html_escape(f, REPORT_COLUMNS[c].help);
        fputs("\">", f);
        report_html_escape(f, REPORT_COLUMNS[c].label);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (int i = 0; i < run->n_models; i++) {
        const ReportModel *m = &run->models[i];
        fprintf(f, "<tr data-model=\"");
        report_html_escape(f, m->name);
        fprintf(f, "\" class=\"%s\"><th class=\"model\">", m->status == MODEL_OK ? "ok" : "bad");
        if (m->status == MODEL_OK) {
            fputs("<a href=\"#m-", f);
            report_html_escape(f, m->name);
            fputs("\">", f);
            report_html_escape(f, m->name);
            fputs("</a>", f);
        } else {
            report_html_escape(f, m->name);
        }
        fprintf(f, "</th><td class=\"status\"");
        if (m->status_msg) {
            fputs(" title=\"", f);
            report_html_escape(f, m->status_msg);
            fputs("\"", f);
        }
        fputs(">", f);
        report_html_escape(f, report_status_word(m));
        fputs("</td>", f);
        if (m->status != MODEL_OK) {
            fprintf(f, "<td class=\"failmsg\" colspan=\"%d\">", REPORT_N_COLUMNS);
            report_html_escape(f, m->status_msg ? m->status_msg : "");
            fputs("</td></tr>\n", f);
            continue;
        }
        for (int c = 0; c < REPORT_N_COLUMNS; c++) {
            const ReportColumn *col = &REPORT_COLUMNS[c];
            ReportCell cell;
            report_cell_get(m, col, &cell);
            char path[256];
            dotted(path, sizeof path, col->path);
            const char *cls = cell.state == 1 ? "null" : cell.state == 2 ? "na" : "";
            if (cell.state == 0 && col->kind == CELL_BOOL && !strcmp(cell.exact, "True")) cls = "warn";
            if (cell.state == 0 && col->kind == CELL_STR && !strcmp(cell.exact, "high")) cls = "warn";
            if (cell.state == 0 && col->kind == CELL_DELTA) cls = cell.display[0] == '-' ? "neg" : "pos";
            fprintf(f, "<td data-col=\"%s\" class=\"%s\"", col->id, cls);
            // data-value: the exact value as the JSON writes it (true/false for booleans).
            if (cell.state == 0) {
                fputs(" data-value=\"", f);
                report_html_escape(f, col->kind == CELL_BOOL ? cell.display : cell.exact);
                fputs("\"", f);
            }
            fputs(" title=\"", f);
            report_html_escape(f, m->json_file);
            if (cell.line) fprintf(f, ":%d", cell.line);
            fputs(" ", f);
            report_html_escape(f, path);
            fputs(" = ", f);
            report_html_escape(f, cell.state == 0 ? cell.exact : cell.display);
            fputs("\">", f);
            report_html_escape(f, cell.state == 2 ? "n/a" : cell.state == 1 ? "—" : cell.display);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
    fputs("<details class=\"legend\"><summary>Where each column comes from (hover a cell for "
          "<code>file:line path = exact value</code>)</summary><dl>\n", f);
    for (int c = 0; c < REPORT_N_COLUMNS; c++) {
        const ReportColumn *col = &REPORT_COLUMNS[c];
        char path[256];
        dotted(path, sizeof path, col->path);
        fputs("<dt>", f);
        report_html_escape(f, col->group);
        fputs(" / ", f);
        report_html_escape(f, col->label);
        fputs(" <code>", f);
        report_html_escape(f, col->id);
        fputs("</code></dt><dd><code>", f);
        report_html_escape(f, path);
        fputs("</code> — ", f);
        report_html_escape(f, col->help);
        fputs("</dd>\n", f);
    }
    fputs("</dl></details>\n", f);
}
