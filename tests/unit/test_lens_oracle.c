// test_lens_oracle.c — end-to-end check of `lensweep run` → HDF5 → `lensweep export` against an
// independent Python computation of the same definitions (tools/oracle/lens_oracle.py).
//
// For each case in tests/fixtures/oracle/<case>/ the test
//   1. regenerates the tiny checkpoint with the mktiny command recorded in MANIFEST.txt (same seed,
//      same bytes as when the fixtures were made; the tokenizer comes from ../shared/tokenizers or
//      $LW_TEST_TOKENIZERS), or, for a case whose MANIFEST.txt names a committed checkpoint
//      ("model:", "probes:", "name:" lines: the constructed checkpoint of
//      tools/constructed/make_constructed.py, whose milestones fire at designed layers), uses it
//      with its probe set (`run --probes P --name NAME`),
//   2. runs `bin/lensweep run --model DIR --out_dir OUT` and `bin/lensweep export OUT/<case>.h5`,
//      once as a single process and once as `mpirun --oversubscribe -np 2` (tensor parallel),
//   3. compares the exported files with the fixtures, which transformers + torch + the `tokenizers`
//      package computed from the spec (METRICS.md, OUTPUTS.md) without looking at lensweep's code:
//        pure-next-token.csv, pure-next-token-rawlens.csv, records.csv, milestones.csv,
//        pure-next-token-rawlens-window.csv, artifact-audit.csv: header and row count exactly, then
//        every cell; output-<case>.json: every key of the fixture's
//        summary.json (a subset with the same nesting) must exist with the same value, and a key
//        whose fixture value is "__absent__" must not exist (conditional keys, OUTPUTS §11.2).
//
// Comparison rules (cells parsed with libcsv through report/report_csv, JSON with jansson):
//   * text (token strings, ids of passes, lens names) and booleans (True/False): exactly;
//   * integers (layers, positions, ids, ranks): exactly, except the cells listed in the fixture's
//     allow.csv: there an fp32 near-tie (two values within 1e-5 relative, which another correct
//     fp32 implementation may order differently) decides the value, so a rank must lie in the
//     listed [lo, hi] and a token/Jaccard cell decided by such a tie may differ;
//   * floats: |ours − oracle| ≤ atol + 1e-4·|oracle|, atol = 1e-4 for quantities in bits (entropies,
//     KLs, JS: fp32 sums over up to 262145 terms, METRICS §0.4), for l1_prob_diff and for the lens
//     artifact scores (sums of those terms), 1e-8 for
//     everything else (probabilities, cosines, norms: the C forward matches transformers to ~1e-6
//     relative); rest_mass (1 − Σ of up to 20 fp32 probabilities) has atol 3e-6;
//   * empty = null on both sides.
// One PASS/FAIL line per file and column group; a FAIL line names the first mismatch (row, column,
// ours, oracle) and the number of mismatching cells.
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report_csv.h"
#include <sys/wait.h>

#define FIXTURES "tests/fixtures"  // as in tests/unit/test.h (not included: PASS/FAIL lines are printed here per column group)

#define ORACLE_DIR FIXTURES "/oracle"
static const char *CASES[] = {"llama-mistraltok", "qwen3-qwen3tok", "gemma2-gemma3tok", "constructed",
                              "constructed-normonly"};
#define RTOL 1e-4
#define ATOL 1e-8
#define ATOL_BITS 1e-4

static int n_pass, n_fail;

static void report(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s: test_lens_oracle: ", ok ? "PASS" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (ok) n_pass++; else n_fail++;
}

// ---------------------------------------------------------------------------- allowances

typedef struct {
    char file[64], column[160];
    long row;
    int has_bounds;
    long lo, hi;
} Allow;
typedef struct { Allow *a; size_t n; } AllowSet;

static void allow_read(const char *dir, AllowSet *s) {
    char path[1024];
    snprintf(path, sizeof path, "%s/allow.csv", dir);
    CsvTable t;
    LwError err;
    s->a = NULL;
    s->n = 0;
    if (csv_table_read(path, &t, &err) != 0) return;
    s->a = calloc(t.n_rows + 1, sizeof *s->a);
    int cf = csv_table_col(&t, "file"), cr = csv_table_col(&t, "row"), cc = csv_table_col(&t, "column");
    int cl = csv_table_col(&t, "lo"), ch = csv_table_col(&t, "hi");
    for (size_t i = 0; i < t.n_rows; i++) {
        Allow *a = &s->a[s->n++];
        snprintf(a->file, sizeof a->file, "%s", csv_table_cell(&t, i, cf));
        snprintf(a->column, sizeof a->column, "%s", csv_table_cell(&t, i, cc));
        a->row = atol(csv_table_cell(&t, i, cr));
        a->has_bounds = csv_table_cell(&t, i, cl)[0] != 0;
        a->lo = atol(csv_table_cell(&t, i, cl));
        a->hi = atol(csv_table_cell(&t, i, ch));
    }
    csv_table_free(&t);
}

static const Allow *allow_find(const AllowSet *s, const char *file, long row, const char *column) {
    for (size_t i = 0; i < s->n; i++)
        if (s->a[i].row == row && !strcmp(s->a[i].file, file) && !strcmp(s->a[i].column, column)) return &s->a[i];
    return NULL;
}

// ---------------------------------------------------------------------------- cell rules

static int is_text_column(const char *c) {
    static const char *pats[] = {"fact_key", "prompt_id", "prompt_variant", "token", "top[0-9]", "top[0-9][0-9]",
                                 "top1_token_str_*", "lens", NULL};
    for (int i = 0; pats[i]; i++)
        if (!fnmatch(pats[i], c, 0)) return 1;
    return 0;
}

// lens_artifact_score(_v2) (METRICS §8.3) sums KL / JS / L1 terms with coefficients up to 1 (v2 adds the
// JS median itself), so it inherits their absolute tolerance; it matters where the raw and norm lenses
// agree (the constructed case: every KL and JS is fp32 noise near 0, the score ~1e-8 against 1e-14).
static int is_bits_name(const char *c) {
    return strstr(c, "entropy") || strstr(c, "kl_") || strstr(c, "js_") || strstr(c, "l1_prob") ||
           !strcmp(c, "kl_to_final_bits") || strstr(c, "lens_artifact_score");
}

// rest_mass = 1 − Σ listed fp32 probabilities: the cancellation leaves the fp32 rounding of the
// probabilities (up to 20 × 1.2e-7 near p ≈ 1) as absolute error.
#define ATOL_REST 3e-6

static double tol_for(const char *name, double ref) {
    double atol = strstr(name, "rest_mass") ? ATOL_REST : is_bits_name(name) ? ATOL_BITS : ATOL;
    return atol + RTOL * fabs(ref);
}

static int text_is_integer(const char *s) {
    if (!*s) return 0;
    if (*s == '-') s++;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

// Compares one cell. Returns 1 = equal, 2 = allowed by allow.csv, 0 = mismatch.
static int cell_equal(const char *col, const char *ours, const char *ref, const Allow *al) {
    if (!strcmp(ours, ref)) return 1;
    if (al && !al->has_bounds) return 2;
    if (is_text_column(col) || !strcmp(ref, "True") || !strcmp(ref, "False") || !*ref || !*ours) return 0;
    double a, b;
    if (!csv_cell_number(ours, &a) || !csv_cell_number(ref, &b)) return 0;
    if (text_is_integer(ref)) {
        if (a == b) return 1;
        if (al && al->has_bounds && a >= (double)al->lo && a <= (double)al->hi) return 2;
        return 0;
    }
    return fabs(a - b) <= tol_for(col, b) ? 1 : 0;
}

// ---------------------------------------------------------------------------- column groups

typedef struct { const char *pat, *group; } GroupRule;
static const GroupRule GROUPS[] = {
    {"fact_key", "pass ids"}, {"fact_index", "pass ids"}, {"prompt_id", "pass ids"}, {"prompt_variant", "pass ids"},
    {"layer", "pass ids"}, {"pos", "pass ids"}, {"token", "pass ids"},
    {"entropy", "entropy"}, {"entropy_bits", "entropy"},
    {"top[0-9]", "top-k tokens"}, {"top[0-9][0-9]", "top-k tokens"},
    {"prob[0-9]", "top-k probs"}, {"prob[0-9][0-9]", "top-k probs"}, {"rest_mass", "top-k probs"},
    {"p_top1", "top-k probs"}, {"p_top5", "top-k probs"},
    {"copy_*", "copy flags"}, {"entropy_collapse", "copy flags"},
    {"is_answer", "answer"}, {"p_answer", "answer"}, {"answer_minus_uniform", "answer"},
    {"semantic_margin_ok", "answer"}, {"answer_rank", "answer"}, {"answer_mass", "answer"},
    {"answer_logit_gap", "answer"}, {"answer_vs_top1_gap", "answer"},
    {"teacher_entropy_bits", "kl"}, {"kl_to_final_bits", "kl"}, {"kl_to_final_bits_norm_temp", "kl"},
    {"topk_jaccard_*", "jaccard@50"},
    {"cos_to_*", "geometry"}, {"geom_crossover", "geometry"},
    {"echo_mass_prompt", "surface"}, {"answer_minus_echo_mass", "surface"},
    {"mass_ratio_ans_over_prompt", "surface"}, {"topk_prompt_mass@50", "surface"},
    {"control_margin", "control"}, {"resid_norm_ratio", "normalization"}, {"delta_resid_cos", "normalization"},
    {"*_raw", "raw lens"}, {"*_norm", "norm lens"}, {"norm_only_semantics", "raw lens"},
    {"kl_*", "divergences"}, {"js_divergence", "divergences"}, {"entropy_*", "divergences"},
    {"l1_prob_diff", "divergences"},
    {NULL, NULL}};

static const char *group_of(const char *file, const char *col) {
    if (!strcmp(file, "milestones.csv")) return "milestones";
    if (!strcmp(file, "rawlens-window.csv")) return "window rows";
    if (!strcmp(file, "artifact-audit.csv")) return "audit rows";
    for (int i = 0; GROUPS[i].pat; i++)
        if (!fnmatch(GROUPS[i].pat, col, 0)) return GROUPS[i].group;
    return "other";
}

// ---------------------------------------------------------------------------- CSV comparison

typedef struct {
    const char *name;
    long cells, bad, allowed;
    char first[1024];
} GroupStat;

static void compare_csv(const char *label, const char *fixture_dir, const char *fname, const char *ours_path,
                        const AllowSet *allow) {
    char ref_path[1024];
    snprintf(ref_path, sizeof ref_path, "%s/%s", fixture_dir, fname);
    CsvTable r, o;
    LwError err;
    if (csv_table_read(ref_path, &r, &err) != 0) {
        report(0, "%s: %s: fixture unreadable: %s", label, fname, err.msg);
        return;
    }
    if (!ours_path || csv_table_read(ours_path, &o, &err) != 0) {
        report(0, "%s: %s: exported file missing or unreadable: %s", label, fname, ours_path ? err.msg : "(none)");
        csv_table_free(&r);
        return;
    }
    int hdr_ok = r.n_cols == o.n_cols;
    int bad_col = -1;
    for (int c = 0; hdr_ok && c < r.n_cols; c++)
        if (strcmp(r.header[c], o.header[c])) { hdr_ok = 0; bad_col = c; }
    if (!hdr_ok) {
        report(0, "%s: %s header: %d vs %d columns; first difference at column %d: ours \"%s\", oracle \"%s\"", label,
               fname, o.n_cols, r.n_cols, bad_col + 1, bad_col >= 0 && bad_col < o.n_cols ? o.header[bad_col] : "",
               bad_col >= 0 ? r.header[bad_col] : "");
        csv_table_free(&r);
        csv_table_free(&o);
        return;
    }
    report(o.n_rows == r.n_rows, "%s: %s header (%d columns) and row count (ours %zu, oracle %zu)", label, fname,
           r.n_cols, o.n_rows, r.n_rows);
    size_t rows = o.n_rows < r.n_rows ? o.n_rows : r.n_rows;
    GroupStat gs[64];
    int ng = 0;
    int c_layer = csv_table_col(&r, "layer"), c_fk = csv_table_col(&r, "fact_key"),
        c_var = csv_table_col(&r, "prompt_variant"), c_pos = csv_table_col(&r, "pos");
    for (int c = 0; c < r.n_cols; c++) {
        const char *g = group_of(fname, r.header[c]);
        int gi;
        for (gi = 0; gi < ng; gi++)
            if (!strcmp(gs[gi].name, g)) break;
        if (gi == ng) { memset(&gs[ng], 0, sizeof gs[ng]); gs[ng++].name = g; }
        for (size_t i = 0; i < rows; i++) {
            const char *a = csv_table_cell(&o, i, c), *b = csv_table_cell(&r, i, c);
            const Allow *al = allow_find(allow, fname, (long)i, r.header[c]);
            int eq = cell_equal(r.header[c], a, b, al);
            gs[gi].cells++;
            if (eq == 2) gs[gi].allowed++;
            if (eq == 0) {
                if (!gs[gi].bad++)
                    snprintf(gs[gi].first, sizeof gs[gi].first,
                             "row %zu (%s %s layer %s pos %s) column %s: ours \"%s\", oracle \"%s\"", i,
                             c_fk >= 0 ? (*csv_table_cell(&r, i, c_fk) ? csv_table_cell(&r, i, c_fk) : "ctl") : "",
                             c_var >= 0 ? csv_table_cell(&r, i, c_var) : "", csv_table_cell(&r, i, c_layer),
                             c_pos >= 0 ? csv_table_cell(&r, i, c_pos) : "-", r.header[c], a, b);
            }
        }
    }
    for (int gi = 0; gi < ng; gi++) {
        if (gs[gi].bad)
            report(0, "%s: %s [%s]: %ld of %ld cells differ; first: %s", label, fname, gs[gi].name, gs[gi].bad,
                   gs[gi].cells, gs[gi].first);
        else
            report(1, "%s: %s [%s]: %ld cells equal (%ld of them only within a near-tie allowance of allow.csv)",
                   label, fname, gs[gi].name, gs[gi].cells, gs[gi].allowed);
    }
    csv_table_free(&r);
    csv_table_free(&o);
}

// ---------------------------------------------------------------------------- JSON comparison

typedef struct {
    char group[128];
    long leaves, bad, allowed;
    char first[1024];
} JGroup;
static JGroup jg[128];
static int njg;

static JGroup *jgroup(const char *path) {
    // group = first key, or "diagnostics/<key>"
    char g[128];
    snprintf(g, sizeof g, "%s", path);
    char *dot = strchr(g, '/');
    if (dot && !strncmp(g, "diagnostics/", 12)) dot = strchr(dot + 1, '/');
    if (dot) *dot = 0;
    for (int i = 0; i < njg; i++)
        if (!strcmp(jg[i].group, g)) return &jg[i];
    memset(&jg[njg], 0, sizeof jg[njg]);
    snprintf(jg[njg].group, sizeof jg[njg].group, "%s", g);
    return &jg[njg++];
}

static void json_leaf_fail(JGroup *g, const char *path, const char *fmt, ...) {
    if (g->bad++) return;
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(g->first, sizeof g->first, "%s: %s", path, msg);
}

static void json_cmp(const char *path, json_t *ours, json_t *ref, const AllowSet *allow) {
    JGroup *g = jgroup(path);
    char sub[512];
    if (json_is_object(ref)) {
        if (!json_is_object(ours)) { g->leaves++; json_leaf_fail(g, path, "ours is not an object"); return; }
        const char *k;
        json_t *v;
        json_object_foreach(ref, k, v) {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "/" : "", k);
            json_t *ov = json_object_get(ours, k);
            if (json_is_string(v) && !strcmp(json_string_value(v), "__absent__")) {  // conditional key
                jgroup(sub)->leaves++;
                if (ov) json_leaf_fail(jgroup(sub), sub, "key present in ours, but the spec omits it here");
                continue;
            }
            if (!ov) { jgroup(sub)->leaves++; json_leaf_fail(jgroup(sub), sub, "key missing in ours"); continue; }
            json_cmp(sub, ov, v, allow);
        }
        return;
    }
    if (json_is_array(ref)) {
        g->leaves++;
        if (!json_is_array(ours) || json_array_size(ours) != json_array_size(ref)) {
            json_leaf_fail(g, path, "array length ours %zd, oracle %zu", json_is_array(ours) ? (ssize_t)json_array_size(ours) : -1,
                           json_array_size(ref));
            return;
        }
        for (size_t i = 0; i < json_array_size(ref); i++) {
            snprintf(sub, sizeof sub, "%s/%zu", path, i);
            json_cmp(sub, json_array_get(ours, i), json_array_get(ref, i), allow);
        }
        return;
    }
    g->leaves++;
    char *os = json_dumps(ours, JSON_ENCODE_ANY), *rs = json_dumps(ref, JSON_ENCODE_ANY);
    if (json_is_number(ref) && json_is_number(ours)) {
        double a = json_number_value(ours), b = json_number_value(ref);
        if (json_is_integer(ref)) {
            const Allow *al = allow_find(allow, "summary.json", -1, path);
            if (a != b) {
                if (al && al->has_bounds && a >= al->lo && a <= al->hi) g->allowed++;
                else json_leaf_fail(g, path, "ours %s, oracle %s", os, rs);
            }
        } else if (!(fabs(a - b) <= tol_for(path, b)))  // bits tolerance when the path names KL/JS/entropy
            json_leaf_fail(g, path, "ours %s, oracle %s (tolerance %.3g)", os, rs, tol_for(path, b));
    } else if (!json_equal(ours, ref)) {
        json_leaf_fail(g, path, "ours %s, oracle %s", os, rs);
    }
    free(os);
    free(rs);
}

static void compare_json(const char *label, const char *fixture_dir, const char *ours_path, const AllowSet *allow) {
    char ref_path[1024];
    snprintf(ref_path, sizeof ref_path, "%s/summary.json", fixture_dir);
    json_error_t je;
    json_t *ref = json_load_file(ref_path, 0, &je);
    if (!ref) { report(0, "%s: summary.json fixture unreadable: %s", label, je.text); return; }
    json_t *ours = ours_path ? json_load_file(ours_path, 0, &je) : NULL;
    if (!ours) {
        report(0, "%s: output JSON missing or unreadable: %s", label, ours_path ? je.text : "(none)");
        json_decref(ref);
        return;
    }
    njg = 0;
    json_cmp("", ours, ref, allow);
    for (int i = 0; i < njg; i++) {
        if (!jg[i].leaves) continue;
        if (jg[i].bad)
            report(0, "%s: json [%s]: %ld of %ld values differ; first: %s", label, jg[i].group, jg[i].bad, jg[i].leaves,
                   jg[i].first);
        else
            report(1, "%s: json [%s]: %ld values equal (%ld of them only within a near-tie allowance)", label,
                   jg[i].group, jg[i].leaves, jg[i].allowed);
    }
    json_decref(ref);
    json_decref(ours);
}

// ---------------------------------------------------------------------------- running lensweep

static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

// The mktiny arguments of MANIFEST.txt's "args:" line with TOKDIR and DIR substituted.
static int manifest_args(const char *fixture_dir, const char *tokdir, const char *ckdir, char *out, size_t cap) {
    char path[1024], line[2048];
    snprintf(path, sizeof path, "%s/MANIFEST.txt", fixture_dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "args: ", 6)) { found = 1; break; }
    fclose(f);
    if (!found) return -1;
    line[strcspn(line, "\n")] = 0;
    out[0] = 0;
    char *save = NULL;
    for (char *tokn = strtok_r(line + 6, " ", &save); tokn; tokn = strtok_r(NULL, " ", &save)) {
        char w[1024];
        if (!strncmp(tokn, "TOKDIR/", 7)) snprintf(w, sizeof w, "%s/%s", tokdir, tokn + 7);
        else if (!strncmp(tokn, "DIR/", 4)) snprintf(w, sizeof w, "%s", ckdir);
        else snprintf(w, sizeof w, "%s", tokn);
        if (strlen(out) + strlen(w) + 2 >= cap) return -1;
        strcat(out, w);
        strcat(out, " ");
    }
    return 0;
}

// The value of MANIFEST.txt's "<key>: " line (0), or -1 when the line is absent.
static int manifest_value(const char *fixture_dir, const char *key, char *out, size_t cap) {
    char path[1024], line[2048];
    snprintf(path, sizeof path, "%s/MANIFEST.txt", fixture_dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t k = strlen(key);
    int found = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ':' && line[k + 1] == ' ') {
            line[strcspn(line, "\n")] = 0;
            snprintf(out, cap, "%s", line + k + 2);
            found = 0;
            break;
        }
    fclose(f);
    return found;
}

static char *glob_one(const char *pattern) {
    glob_t g;
    char *r = NULL;
    if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc == 1) r = strdup(g.gl_pathv[0]);
    globfree(&g);
    return r;
}

static void run_case(const char *name, const char *tokdir, const char *tmp) {
    char fixdir[512], ckdir[1024], args[4096];
    snprintf(fixdir, sizeof fixdir, "%s/%s", ORACLE_DIR, name);
    snprintf(ckdir, sizeof ckdir, "%s/%s", tmp, name);
    AllowSet allow;
    allow_read(fixdir, &allow);
    char model[512], probes[512], runname[128], extra[1200] = "";
    int rc;
    if (manifest_value(fixdir, "model", model, sizeof model) == 0) {
        // a committed checkpoint with its own probe set
        if (manifest_value(fixdir, "probes", probes, sizeof probes) != 0 ||
            manifest_value(fixdir, "name", runname, sizeof runname) != 0 || strcmp(runname, name) != 0) {
            report(0, "%s: MANIFEST.txt has model: but no probes: line or no name: %s line", name, name);
            free(allow.a);
            return;
        }
        snprintf(ckdir, sizeof ckdir, "%s", model);
        snprintf(extra, sizeof extra, " --probes %s --name %s", probes, name);
    } else {
        if (manifest_args(fixdir, tokdir, ckdir, args, sizeof args) != 0) {
            report(0, "%s: MANIFEST.txt has no args: line", name);
            free(allow.a);
            return;
        }
        rc = sh("bin/lensweep %s > %s/%s-mktiny.log 2>&1", args, tmp, name);
        report(rc == 0, "%s: bin/lensweep %s (exit %d)", name, args, rc);
        if (rc) { free(allow.a); return; }
    }
    for (int np = 1; np <= 2; np++) {
        char out[1024], label[256], pat[1200];
        snprintf(out, sizeof out, "%s/out-%s-np%d", tmp, name, np);
        snprintf(label, sizeof label, "%s np=%d", name, np);
        rc = sh("%sbin/lensweep run --model %s%s --out_dir %s > %s.run.log 2>&1", np > 1 ? "mpirun --oversubscribe -np 2 " : "",
                ckdir, extra, out, out);
        report(rc == 0, "%s: lensweep run (exit %d, log %s.run.log)", label, rc, out);
        if (rc) { sh("tail -5 %s.run.log", out); continue; }
        // the HDF5 root attribute tp_size must say the model really was sharded over np ranks
        rc = sh("h5dump -a /tp_size %s/%s.h5 | grep -q '(0): %d$'", out, name, np);
        report(rc == 0, "%s: HDF5 root attribute tp_size = %d", label, np);
        rc = sh("bin/lensweep export %s/%s.h5 --out %s > %s.export.log 2>&1", out, name, out, out);
        report(rc == 0, "%s: lensweep export (exit %d, log %s.export.log)", label, rc, out);
        if (rc) { sh("tail -5 %s.export.log", out); continue; }
        static const char *files[][2] = {{"pure-next-token.csv", "-pure-next-token.csv"},
                                         {"rawlens.csv", "-pure-next-token-rawlens.csv"},
                                         {"records.csv", "-records.csv"},
                                         {"milestones.csv", "-milestones.csv"},
                                         {"rawlens-window.csv", "-pure-next-token-rawlens-window.csv"},
                                         {"artifact-audit.csv", "-artifact-audit.csv"}};
        for (int i = 0; i < 6; i++) {
            snprintf(pat, sizeof pat, "%s/output-%s%s", out, name, files[i][1]);
            char *p = glob_one(pat);
            compare_csv(label, fixdir, files[i][0], p, &allow);
            free(p);
        }
        snprintf(pat, sizeof pat, "%s/output-%s.json", out, name);
        char *p = glob_one(pat);
        compare_json(label, fixdir, p, &allow);
        free(p);
    }
    free(allow.a);
}

int main(void) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    const char *tokdir = getenv("LW_TEST_TOKENIZERS") ? getenv("LW_TEST_TOKENIZERS") : "../shared/tokenizers";
    struct stat st;
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/mistral-7b-v0.1/tokenizer.json", tokdir);
    if (stat(probe, &st) != 0) {
        report(0, "tokenizer files missing: %s (set LW_TEST_TOKENIZERS)", probe);
        return 1;
    }
    char tmp[] = "/tmp/lw-oracle-XXXXXX";
    if (!mkdtemp(tmp)) { report(0, "mkdtemp: %s", strerror(errno)); return 1; }
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) run_case(CASES[i], tokdir, tmp);
    if (n_fail == 0 || !getenv("LW_TEST_KEEP")) sh("rm -rf %s", tmp);
    else printf("kept %s\n", tmp);
    return n_fail ? 1 : 0;
}
