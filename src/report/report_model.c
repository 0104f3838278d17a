// report_model — see report_model.h. Reads the exported files of one run directory.
#define _GNU_SOURCE
#include "report/report_model.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_battery.h"
#include "report/report_csv.h"
#include "report/report_json.h"
#include "io/checksum.h"
#include "runfile/run_read.h"

const char *const REPORT_LENS_NAME[N_LENSES] = {"norm", "raw", "tuned", "prism"};

// ---------------------------------------------------------------------------- small helpers

static void model_note(ReportModel *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void model_note(ReportModel *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = xstrdup("(note)");
    va_end(ap);
    m->notes = xrealloc(m->notes, (m->n_notes + 1) * sizeof *m->notes);
    m->notes[m->n_notes++] = s;
}

static void model_fail(ReportModel *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void model_fail(ReportModel *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = xstrdup("failed");
    va_end(ap);
    free(m->status_msg);
    m->status_msg = s;
    m->status = MODEL_FAILED;
}

static double *nan_array(int n) {
    double *a = xmalloc(n * sizeof *a);
    for (int i = 0; i < n; i++) a[i] = NAN;
    return a;
}

// ---------------------------------------------------------------------------- HDF5 state

// The run file's reader answers (runfile/run_read.h): HDF5 is read only in src/runfile/.
int report_h5_state(const char *path, char *msg, size_t msg_len) { return ex_run_state(path, msg, msg_len); }

// ---------------------------------------------------------------------------- JSON

static void load_json(const char *dir, ReportModel *m) {
    char *path = xasprintf("%s/%s", dir, m->json_file);
    LwError err = {0};
    size_t len = 0;
    char *text = lw_read_file(path, &len, &err);
    free(path);
    if (!text) { model_fail(m, "%s: missing or unreadable", m->json_file); return; }
    // The reference pipeline writes a plain-text note instead of JSON when a model fails.
    const char *p = text;
    while (*p && isspace((unsigned char)*p)) p++;
    if (*p && *p != '{' && *p != '[') {
        size_t n = strcspn(p, "\n");
        if (n > 200) n = 200;
        // Keep the pipeline's "Error: ..." line too: it says why the model failed.
        const char *e = strstr(p, "\nError:");
        size_t en = e ? strcspn(e + 1, "\n") : 0;
        if (en > 300) en = 300;
        if (e) model_fail(m, "%s: not JSON: \"%.*s\" (%.*s)", m->json_file, (int)n, p, (int)en, e + 1);
        else model_fail(m, "%s: not JSON: \"%.*s\"", m->json_file, (int)n, p);
        free(text);
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) {
        model_fail(m, "%s: invalid JSON at line %d column %d: %s", m->json_file, je.line, je.column, je.text);
        free(text);
        return;
    }
    if (!json_is_object(root)) {
        model_fail(m, "%s: top level is not an object", m->json_file);
        json_decref(root);
        free(text);
        return;
    }
    json_t *nl = report_json_path(root, "model_stats/num_layers");
    if (!json_is_integer(nl) || json_integer_value(nl) <= 0 || json_integer_value(nl) > 100000) {
        model_fail(m, "%s: model_stats.num_layers is missing or not a positive integer", m->json_file);
        json_decref(root);
        free(text);
        return;
    }
    if (!json_is_object(json_object_get(root, "diagnostics"))) {
        model_fail(m, "%s: key 'diagnostics' is missing", m->json_file);
        json_decref(root);
        free(text);
        return;
    }
    m->json = root;
    m->json_text = text;
    m->n_layers = (int)json_integer_value(nl);
}

// ---------------------------------------------------------------------------- CSV readers

// Reads output-<name><suffix>.csv; returns 0 when read, 1 when absent, -1 when corrupt (noted).
static int read_sidecar(const char *dir, ReportModel *m, const char *suffix, CsvTable *t, char **file) {
    *file = xasprintf("output-%s%s.csv", m->name, suffix);
    char *path = xasprintf("%s/%s", dir, *file);
    int rc = 1;
    if (lw_file_exists(path)) {
        LwError err = {0};
        if (csv_table_read(path, t, &err) == 0) rc = 0;
        else { model_note(m, "%s (skipped)", err.msg); rc = -1; }
    }
    free(path);
    return rc;
}

static int is_primary_pass(const CsvTable *t, size_t r, int c_fi, int c_pid, int c_var) {
    return !strcmp(csv_table_cell(t, r, c_fi), "0") && !strcmp(csv_table_cell(t, r, c_pid), "pos") &&
           !strcmp(csv_table_cell(t, r, c_var), "orig");
}

// Fills curves from a per-layer CSV of the norm/tuned/prism schema or the rawlens schema.
static void load_curves(const char *dir, ReportModel *m, ReportLens lens, const char *suffix) {
    CsvTable t;
    char *file = NULL;
    int rc = read_sidecar(dir, m, suffix, &t, &file);
    if (rc != 0) {
        if (rc == 1 && lens == LENS_NORM) model_note(m, "%s: not in the run directory (no curves)", file);
        free(file);
        return;
    }
    int raw = lens == LENS_RAW;
    int c_fi = csv_table_col(&t, "fact_index"), c_pid = csv_table_col(&t, "prompt_id");
    int c_var = csv_table_col(&t, "prompt_variant"), c_layer = csv_table_col(&t, "layer");
    int c_kl = raw ? -1 : csv_table_col(&t, "kl_to_final_bits");
    int c_h = csv_table_col(&t, raw ? "entropy_bits_raw" : "entropy_bits");
    int c_rank = csv_table_col(&t, raw ? "answer_rank_raw" : "answer_rank");
    int c_cos = raw ? -1 : csv_table_col(&t, "cos_to_final");
    int c_pa = csv_table_col(&t, raw ? "p_answer_raw" : "p_answer");
    int c_teach = csv_table_col(&t, "teacher_entropy_bits");
    if (c_fi < 0 || c_pid < 0 || c_var < 0 || c_layer < 0 || c_h < 0 || c_rank < 0) {
        model_note(m, "%s: columns fact_index/prompt_id/prompt_variant/layer/%s/%s missing (skipped)", file,
                   raw ? "entropy_bits_raw" : "entropy_bits", raw ? "answer_rank_raw" : "answer_rank");
        csv_table_free(&t);
        free(file);
        return;
    }
    int n = m->n_layers + 1;
    LensCurves *c = &m->lens[lens];
    c->kl_bits = nan_array(n);
    c->entropy_bits = nan_array(n);
    c->answer_rank = nan_array(n);
    c->p_answer = nan_array(n);
    c->cos_to_final = nan_array(n);
    int rows = 0;
    for (size_t r = 0; r < t.n_rows; r++) {
        if (!is_primary_pass(&t, r, c_fi, c_pid, c_var)) continue;
        double lf;
        if (!csv_cell_number(csv_table_cell(&t, r, c_layer), &lf) || lf < 0 || lf > m->n_layers) continue;
        int l = (int)lf;
        double v;
        if (csv_cell_number(csv_table_cell(&t, r, c_kl), &v)) c->kl_bits[l] = v;
        if (csv_cell_number(csv_table_cell(&t, r, c_h), &v)) c->entropy_bits[l] = v;
        if (csv_cell_number(csv_table_cell(&t, r, c_rank), &v)) c->answer_rank[l] = v;
        if (csv_cell_number(csv_table_cell(&t, r, c_pa), &v)) c->p_answer[l] = v;
        if (csv_cell_number(csv_table_cell(&t, r, c_cos), &v)) c->cos_to_final[l] = v;
        if (lens == LENS_NORM && isnan(m->teacher_entropy_bits) &&
            csv_cell_number(csv_table_cell(&t, r, c_teach), &v))
            m->teacher_entropy_bits = v;
        rows++;
    }
    if (rows == 0) model_note(m, "%s: no rows of the primary pass (fact_index 0, pos, orig)", file);
    c->present = rows > 0;
    c->file = file;
    csv_table_free(&t);
}

static void grid_alloc(TokenGrid *g, int n_rows, int n_cols) {
    g->n_rows = n_rows;
    g->n_cols = n_cols;
    g->col_label = xcalloc(n_cols, sizeof *g->col_label);
    g->top1 = xcalloc((size_t)n_rows * n_cols, sizeof *g->top1);
    g->prob = nan_array(n_rows * n_cols);
    g->is_answer = xcalloc((size_t)n_rows * n_cols, 1);
}

static void grid_free(TokenGrid *g) {
    for (int i = 0; i < g->n_cols && g->col_label; i++) free(g->col_label[i]);
    for (int i = 0; i < g->n_rows * g->n_cols && g->top1; i++) free(g->top1[i]);
    free(g->col_label);
    free(g->top1);
    free(g->prob);
    free(g->is_answer);
    free(g->file);
    memset(g, 0, sizeof *g);
}

static int same_token(const char *tok, const char *answer) {
    if (!tok || !answer || !*answer) return 0;
    while (*tok == ' ') tok++;
    if (!strncmp(tok, "\xe2\x96\x81", 3)) tok += 3; // SentencePiece '▁'
    return strcmp(tok, answer) == 0;
}

// Records CSV: the primary pass (the first block of rows), layer x position.
static void load_grid_positions(const char *dir, ReportModel *m) {
    CsvTable t;
    char *file = NULL;
    if (read_sidecar(dir, m, "-records", &t, &file) != 0) { free(file); return; }
    int c_fi = csv_table_col(&t, "fact_index"), c_pid = csv_table_col(&t, "prompt_id");
    int c_var = csv_table_col(&t, "prompt_variant"), c_layer = csv_table_col(&t, "layer");
    int c_pos = csv_table_col(&t, "pos"), c_tok = csv_table_col(&t, "token");
    int c_top1 = csv_table_col(&t, "top1"), c_p1 = csv_table_col(&t, "prob1");
    if (c_fi < 0 || c_pid < 0 || c_var < 0 || c_layer < 0 || c_pos < 0 || c_tok < 0 || c_top1 < 0 || c_p1 < 0) {
        model_note(m, "%s: columns layer/pos/token/top1/prob1 missing (no grid)", file);
        csv_table_free(&t);
        free(file);
        return;
    }
    int max_pos = -1;
    for (size_t r = 0; r < t.n_rows; r++) {
        double p;
        if (is_primary_pass(&t, r, c_fi, c_pid, c_var) && csv_cell_number(csv_table_cell(&t, r, c_pos), &p) &&
            p >= 0 && p < 4096 && p > max_pos)
            max_pos = (int)p;
    }
    if (max_pos < 0) {
        model_note(m, "%s: no rows of the primary pass (no grid)", file);
        csv_table_free(&t);
        free(file);
        return;
    }
    const char *answer = json_string_value(report_json_path(m->json, "gold_answer/string"));
    TokenGrid *g = &m->grid_positions;
    grid_alloc(g, m->n_layers + 1, max_pos + 1);
    g->file = file;
    for (size_t r = 0; r < t.n_rows; r++) {
        double lf, pf, pr;
        if (!is_primary_pass(&t, r, c_fi, c_pid, c_var)) continue;
        if (!csv_cell_number(csv_table_cell(&t, r, c_layer), &lf) || lf < 0 || lf > m->n_layers) continue;
        if (!csv_cell_number(csv_table_cell(&t, r, c_pos), &pf) || pf < 0 || pf > max_pos) continue;
        int l = (int)lf, p = (int)pf, i = l * g->n_cols + p;
        if (!g->col_label[p]) g->col_label[p] = xstrdup(csv_table_cell(&t, r, c_tok));
        free(g->top1[i]);
        g->top1[i] = xstrdup(csv_table_cell(&t, r, c_top1));
        if (csv_cell_number(csv_table_cell(&t, r, c_p1), &pr)) g->prob[i] = pr;
        g->is_answer[i] = same_token(g->top1[i], answer);
    }
    for (int p = 0; p < g->n_cols; p++)
        if (!g->col_label[p]) g->col_label[p] = xasprintf("pos %d", p);
    csv_table_free(&t);
}

// Pure CSV: every pass at NEXT, layer x pass. Columns in file order (OUTPUTS §1.1).
static void load_grid_passes(const char *dir, ReportModel *m) {
    CsvTable t;
    char *file = NULL;
    if (read_sidecar(dir, m, "-pure-next-token", &t, &file) != 0) { free(file); return; }
    int c_fk = csv_table_col(&t, "fact_key"), c_pid = csv_table_col(&t, "prompt_id");
    int c_var = csv_table_col(&t, "prompt_variant"), c_layer = csv_table_col(&t, "layer");
    int c_top1 = csv_table_col(&t, "top1"), c_p1 = csv_table_col(&t, "p_top1");
    int c_ans = csv_table_col(&t, "is_answer");
    if (c_p1 < 0) c_p1 = csv_table_col(&t, "prob1");
    if (c_fk < 0 || c_pid < 0 || c_var < 0 || c_layer < 0 || c_top1 < 0 || c_p1 < 0) {
        csv_table_free(&t);
        free(file);
        return;
    }
    // A pass starts wherever the (fact_key, prompt_id, variant) triple changes.
    int n_pass = 0;
    int *pass_of_row = xmalloc(t.n_rows * sizeof *pass_of_row);
    for (size_t r = 0; r < t.n_rows; r++) {
        int same = r > 0 && !strcmp(csv_table_cell(&t, r, c_fk), csv_table_cell(&t, r - 1, c_fk)) &&
                   !strcmp(csv_table_cell(&t, r, c_pid), csv_table_cell(&t, r - 1, c_pid)) &&
                   !strcmp(csv_table_cell(&t, r, c_var), csv_table_cell(&t, r - 1, c_var));
        if (!same) n_pass++;
        pass_of_row[r] = n_pass - 1;
    }
    if (n_pass == 0 || n_pass > 256) { free(pass_of_row); csv_table_free(&t); free(file); return; }
    TokenGrid *g = &m->grid_passes;
    grid_alloc(g, m->n_layers + 1, n_pass);
    g->file = file;
    for (size_t r = 0; r < t.n_rows; r++) {
        int p = pass_of_row[r];
        double lf, pr;
        if (!g->col_label[p]) {
            const char *fk = csv_table_cell(&t, r, c_fk);
            const char *arrow = strstr(fk, "\xe2\x86\x92"); // '→': "Germany→Berlin" -> "Germany"
            int n = arrow ? (int)(arrow - fk) : (int)strlen(fk);
            if (!strcmp(csv_table_cell(&t, r, c_pid), "ctl")) g->col_label[p] = xasprintf("control\n%s", csv_table_cell(&t, r, c_var));
            else g->col_label[p] = xasprintf("%.*s\n%s", n, fk, csv_table_cell(&t, r, c_var));
        }
        if (!csv_cell_number(csv_table_cell(&t, r, c_layer), &lf) || lf < 0 || lf > m->n_layers) continue;
        int i = (int)lf * g->n_cols + p;
        free(g->top1[i]);
        g->top1[i] = xstrdup(csv_table_cell(&t, r, c_top1));
        if (csv_cell_number(csv_table_cell(&t, r, c_p1), &pr)) g->prob[i] = pr;
        g->is_answer[i] = !strcmp(csv_table_cell(&t, r, c_ans), "True");
    }
    free(pass_of_row);
    csv_table_free(&t);
}

// ---------------------------------------------------------------------------- model

void report_model_load(const char *dir, const char *name, ReportModel *m) {
    memset(m, 0, sizeof *m);
    m->name = xstrdup(name);
    m->teacher_entropy_bits = NAN;
    m->json_file = xasprintf("output-%s.json", name);
    char *json_path = xasprintf("%s/%s", dir, m->json_file);
    int have_json = lw_file_exists(json_path);
    free(json_path);
    if (!have_json) {
        char *h5 = xasprintf("%s/%s.h5", dir, name);
        if (lw_file_exists(h5)) {
            char msg[512];
            int st = report_h5_state(h5, msg, sizeof msg);
            if (st == 1) {
                m->status = MODEL_NOT_EXPORTED;
                m->status_msg = xasprintf("%s; run `lensweep export %s --out %s`, then report again", msg, h5, dir);
            } else {
                model_fail(m, "%s", msg);
            }
        } else {
            model_fail(m, "%s: missing (only CSV files found)", m->json_file);
        }
        free(h5);
        return;
    }
    load_json(dir, m);
    if (m->status != MODEL_OK) return;
    load_curves(dir, m, LENS_NORM, "-pure-next-token");
    load_curves(dir, m, LENS_RAW, "-pure-next-token-rawlens");
    load_curves(dir, m, LENS_TUNED, "-pure-next-token-tuned");
    load_curves(dir, m, LENS_PRISM, "-pure-next-token-prism");
    load_grid_positions(dir, m);
    if (m->grid_positions.n_rows == 0) load_grid_passes(dir, m);
}

void report_model_free(ReportModel *m) {
    free(m->name);
    free(m->status_msg);
    for (int i = 0; i < m->n_notes; i++) free(m->notes[i]);
    free(m->notes);
    free(m->json_file);
    if (m->json) json_decref(m->json);
    free(m->json_text);
    for (int l = 0; l < N_LENSES; l++) {
        LensCurves *c = &m->lens[l];
        free(c->file);
        free(c->kl_bits);
        free(c->entropy_bits);
        free(c->answer_rank);
        free(c->p_answer);
        free(c->cos_to_final);
    }
    grid_free(&m->grid_positions);
    grid_free(&m->grid_passes);
    memset(m, 0, sizeof *m);
}

// ---------------------------------------------------------------------------- run directory

static const char *const CSV_SUFFIXES[] = {
    "-pure-next-token-rawlens-window.csv", "-pure-next-token-tuned-variants.csv", "-pure-next-token-rawlens.csv",
    "-pure-next-token-prism.csv", "-pure-next-token-tuned.csv", "-pure-next-token.csv",
    "-positions-tuned-audit.csv", "-records-prism.csv", "-records-tuned.csv", "-records.csv",
    "-milestones.csv", "-artifact-audit.csv",
};

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

// Battery name of an export's summary JSON (output-<name>-battery-summary.json), or NULL.
static char *battery_of_file(const char *f) {
    size_t len = strlen(f), sl = strlen("-battery-summary.json");
    if (strncmp(f, "output-", 7) || !ends_with(f, "-battery-summary.json") || len <= 7 + sl) return NULL;
    return strndup(f + 7, len - 7 - sl);
}

static void add_name(char ***names, int *n, char *name) {
    for (int i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name)) { free(name); return; }
    *names = xrealloc(*names, (*n + 1) * sizeof **names);
    (*names)[(*n)++] = name;
}

// Model name a file belongs to, or NULL.
static char *model_of_file(const char *f) {
    size_t len = strlen(f);
    if (ends_with(f, "-battery-records.csv") || ends_with(f, "-battery-summary.json")) return NULL; // a battery's export
    if (!strncmp(f, "output-", 7)) {
        if (ends_with(f, ".json") && len > 12) return strndup(f + 7, len - 12);
        for (size_t i = 0; i < sizeof CSV_SUFFIXES / sizeof *CSV_SUFFIXES; i++)
            if (ends_with(f, CSV_SUFFIXES[i]) && len > 7 + strlen(CSV_SUFFIXES[i]))
                return strndup(f + 7, len - 7 - strlen(CSV_SUFFIXES[i]));
        return NULL;
    }
    if (ends_with(f, ".h5") && len > 3) return strndup(f, len - 3);
    return NULL;
}

// Natural, case-insensitive order: Llama-3-8B before Llama-3-70B, families together.
static int name_cmp(const void *a, const void *b) {
    char *x = xstrdup(*(char *const *)a), *y = xstrdup(*(char *const *)b);
    for (char *p = x; *p; p++) *p = tolower((unsigned char)*p);
    for (char *p = y; *p; p++) *p = tolower((unsigned char)*p);
    int c = strverscmp(x, y);
    if (!c) c = strcmp(*(char *const *)a, *(char *const *)b);
    free(x);
    free(y);
    return c;
}

int report_run_load(const char *dir, ReportRun *run, LwError *err) {
    memset(run, 0, sizeof *run);
    if (!lw_is_dir(dir))
        return lw_err(err, "give the run directory that holds output-<model>.json files (or <model>.h5)",
                      "%s: not a directory", dir);
    DIR *d = opendir(dir);
    if (!d) return lw_err(err, "check the directory's permissions", "%s: cannot read the directory", dir);
    char **names = NULL, **bnames = NULL;
    int n = 0, nb = 0;
    struct dirent *e;
    int n_tmp = 0;
    char *first_tmp = NULL;
    while ((e = readdir(d))) {
        if (strstr(e->d_name, ".h5.tmp.")) { // a run's temporary file (runfile/h5.h)
            if (!n_tmp++) first_tmp = xasprintf("%s/%s", dir, e->d_name);
            continue;
        }
        char *bname = battery_of_file(e->d_name);
        if (bname) { add_name(&bnames, &nb, bname); continue; }
        char *name = model_of_file(e->d_name);
        if (!name) continue;
        if (ends_with(e->d_name, ".h5")) {
            char *p = xasprintf("%s/%s", dir, e->d_name);
            int battery = ex_run_is_battery(p);
            free(p);
            if (battery) {
                lw_log("report: %s is a battery run (docs/BATTERY.md): not in this report's cross-model table; the html page "
                       "draws its aggregates from output-%s-battery-summary.json", e->d_name, name);
                add_name(&bnames, &nb, name);
                continue;
            }
        }
        add_name(&names, &n, name);
    }
    closedir(d);
    if (n == 0 && nb == 0 && n_tmp > 0) {
        char what[600] = "not a finished run file";
        ex_run_unfinished(first_tmp, what, sizeof what, NULL);
        lw_err(err, "wait for the run to finish, or re-run `lensweep run` (the next run into this directory removes the file)",
               "%s: no model files, only %d unfinished run's temporary file%s (%s: %s)", dir, n_tmp, n_tmp == 1 ? "" : "s",
               lw_basename(first_tmp), what);
        free(first_tmp);
        return -1;
    }
    free(first_tmp);
    if (n == 0 && nb == 0)
        return lw_err(err, "give the run directory that holds output-<model>.json files (or <model>.h5)",
                      "%s: no model files (output-<model>.json, output-<model>-*.csv or <model>.h5)", dir);
    if (n) qsort(names, n, sizeof *names, name_cmp);
    if (nb) qsort(bnames, nb, sizeof *bnames, name_cmp);
    run->dir = xstrdup(dir);
    run->models = xcalloc(n ? n : 1, sizeof *run->models);
    run->n_models = n;
    for (int i = 0; i < n; i++) {
        report_model_load(dir, names[i], &run->models[i]);
        free(names[i]);
    }
    free(names);
    run->batteries = xcalloc(nb ? nb : 1, sizeof *run->batteries);
    run->n_batteries = nb;
    for (int i = 0; i < nb; i++) {
        report_battery_load(dir, bnames[i], &run->batteries[i]);
        free(bnames[i]);
    }
    free(bnames);
    return 0;
}

void report_run_free(ReportRun *run) {
    for (int i = 0; i < run->n_models; i++) report_model_free(&run->models[i]);
    free(run->models);
    for (int i = 0; i < run->n_batteries; i++) report_battery_free(&run->batteries[i]);
    free(run->batteries);
    free(run->dir);
    memset(run, 0, sizeof *run);
}
