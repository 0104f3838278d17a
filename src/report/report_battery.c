// report_battery — see report_battery.h. Reads output-<name>-battery-summary.json as
// export_battery.c writes it (docs/BATTERY.md "Aggregates").
#define _GNU_SOURCE
#include "report/report_battery.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_json.h"

const char *const REPORT_BATTERY_METRIC_KEY[N_BAT_METRICS] = {"answer_rank", "p_answer", "kl_to_final_bits", "entropy_bits"};
const char *const REPORT_BATTERY_STAT_KEY[N_BQ] = {"q10", "q25", "median", "q75", "q90", "mean"};

static void bat_fail(ReportBattery *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bat_fail(ReportBattery *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = xstrdup("failed");
    va_end(ap);
    free(b->status_msg);
    b->status_msg = s;
    b->status = MODEL_FAILED;
}

// A number, or NAN for null; 0 when the value is neither (absent or another type).
static int num_or_null(json_t *v, double *out) {
    if (json_is_null(v)) { *out = NAN; return 1; }
    if (!json_is_number(v)) return 0;
    *out = json_number_value(v);
    return 1;
}

static double *nan_array(int n) {
    double *a = xmalloc(n * sizeof *a);
    for (int i = 0; i < n; i++) a[i] = NAN;
    return a;
}

// Fills b from its parsed summary; returns 0, or -1 after bat_fail naming the first bad key.
static int parse_summary(ReportBattery *b, json_t *root) {
    const char *F = b->file;
    json_t *nl = report_json_path(root, "battery/n_layers"), *ni = report_json_path(root, "battery/n_items");
    if (!json_is_integer(nl) || json_integer_value(nl) <= 0 || json_integer_value(nl) > 100000)
        return bat_fail(b, "%s: battery.n_layers is missing or not a positive integer", F), -1;
    if (!json_is_integer(ni) || json_integer_value(ni) < 0)
        return bat_fail(b, "%s: battery.n_items is missing or not an integer", F), -1;
    b->n_layers = (int)json_integer_value(nl);
    b->n_items = (int)json_integer_value(ni);
    const char *bn = json_string_value(report_json_path(root, "battery/name"));
    const char *src = json_string_value(report_json_path(root, "battery/source"));
    b->battery_name = xstrdup(bn ? bn : b->name);
    b->source = src ? xstrdup(src) : NULL;
    int L1 = b->n_layers + 1;
    for (int m = 0; m < N_BAT_METRICS; m++) {
        char path[96];
        snprintf(path, sizeof path, "per_layer/%s", REPORT_BATTERY_METRIC_KEY[m]);
        json_t *arr = report_json_path(root, path);
        if (!json_is_array(arr) || (int)json_array_size(arr) != L1)
            return bat_fail(b, "%s: per_layer.%s is missing or not a list of %d layers (battery.n_layers + 1)", F,
                            REPORT_BATTERY_METRIC_KEY[m], L1), -1;
        BatteryBands *bd = &b->band[m];
        bd->n = xcalloc(L1, sizeof *bd->n);
        for (int s = 0; s < N_BQ; s++) bd->v[s] = nan_array(L1);
        for (int L = 0; L < L1; L++) {
            json_t *o = json_array_get(arr, L), *lay = json_object_get(o, "layer"), *n = json_object_get(o, "n");
            if (!json_is_object(o) || !json_is_integer(lay) || json_integer_value(lay) != L || !json_is_integer(n))
                return bat_fail(b, "%s: per_layer.%s[%d]: not an object with layer = %d and an integer n", F,
                                REPORT_BATTERY_METRIC_KEY[m], L, L), -1;
            bd->n[L] = (int)json_integer_value(n);
            for (int s = 0; s < N_BQ; s++)
                if (!num_or_null(json_object_get(o, REPORT_BATTERY_STAT_KEY[s]), &bd->v[s][L]))
                    return bat_fail(b, "%s: per_layer.%s[%d].%s is missing or not a number", F, REPORT_BATTERY_METRIC_KEY[m],
                                    L, REPORT_BATTERY_STAT_KEY[s]), -1;
        }
    }
    json_t *fr1 = report_json_path(root, "per_layer/frac_rank1");
    if (!json_is_array(fr1) || (int)json_array_size(fr1) != L1)
        return bat_fail(b, "%s: per_layer.frac_rank1 is missing or not a list of %d values", F, L1), -1;
    b->frac_rank1 = nan_array(L1);
    for (int L = 0; L < L1; L++)
        if (!num_or_null(json_array_get(fr1, L), &b->frac_rank1[L]))
            return bat_fail(b, "%s: per_layer.frac_rank1[%d] is not a number", F, L), -1;

    json_t *fr = json_object_get(root, "first_rank1");
    json_t *nr = json_object_get(fr, "n_reached"), *nv = json_object_get(fr, "never"), *h = json_object_get(fr, "histogram");
    if (!json_is_object(fr) || !json_is_integer(nr) || !json_is_integer(nv) || !json_is_array(h) || (int)json_array_size(h) != L1)
        return bat_fail(b, "%s: first_rank1: n_reached, never or a histogram of %d layers is missing", F, L1), -1;
    b->fr_n_reached = (int)json_integer_value(nr);
    b->fr_never = (int)json_integer_value(nv);
    if (!num_or_null(json_object_get(fr, "fraction_reached"), &b->fr_fraction) ||
        !num_or_null(json_object_get(fr, "median"), &b->fr_median) || !num_or_null(json_object_get(fr, "mean"), &b->fr_mean))
        return bat_fail(b, "%s: first_rank1: fraction_reached, median or mean is missing or not a number", F), -1;
    b->fr_hist = xcalloc(L1, sizeof *b->fr_hist);
    for (int L = 0; L < L1; L++) {
        json_t *v = json_array_get(h, L);
        if (!json_is_integer(v)) return bat_fail(b, "%s: first_rank1.histogram[%d] is not an integer", F, L), -1;
        b->fr_hist[L] = (int)json_integer_value(v);
    }
    json_t *bs = json_object_get(fr, "bootstrap");
    json_t *res = json_object_get(bs, "resamples"), *seed = json_object_get(bs, "seed");
    json_t *wr = json_object_get(bs, "resamples_with_reached"), *lev = json_object_get(bs, "level");
    if (!json_is_object(bs) || !json_is_integer(res) || !json_is_integer(seed) || !json_is_integer(wr) || !json_is_number(lev))
        return bat_fail(b, "%s: first_rank1.bootstrap: resamples, seed, level or resamples_with_reached is missing", F), -1;
    b->boot_resamples = (int)json_integer_value(res);
    b->boot_seed = (long)json_integer_value(seed);
    b->boot_with_reached = (int)json_integer_value(wr);
    b->boot_level = json_number_value(lev);
    static const char *const CI[3] = {"fraction_reached", "median", "mean"};
    double *dst[3] = {b->ci_fraction, b->ci_median, b->ci_mean};
    for (int k = 0; k < 3; k++) {
        json_t *a = json_object_get(bs, CI[k]);
        if (!json_is_array(a) || json_array_size(a) != 2 || !num_or_null(json_array_get(a, 0), &dst[k][0]) ||
            !num_or_null(json_array_get(a, 1), &dst[k][1]))
            return bat_fail(b, "%s: first_rank1.bootstrap.%s is not a pair of numbers", F, CI[k]), -1;
    }
    return 0;
}

void report_battery_load(const char *dir, const char *name, ReportBattery *b) {
    memset(b, 0, sizeof *b);
    b->name = xstrdup(name);
    b->file = xasprintf("output-%s-battery-summary.json", name);
    b->fr_fraction = b->fr_median = b->fr_mean = NAN;
    char *path = xasprintf("%s/%s", dir, b->file);
    if (!lw_file_exists(path)) {
        char *h5 = xasprintf("%s/%s.h5", dir, name);
        char msg[512];
        if (!lw_file_exists(h5)) bat_fail(b, "%s: missing", b->file);
        else if (report_h5_state(h5, msg, sizeof msg) == 1) {
            b->status = MODEL_NOT_EXPORTED;
            b->status_msg = xasprintf("%s; run `lensweep export %s --out %s`, then report again", msg, h5, dir);
        } else bat_fail(b, "%s", msg);
        free(h5);
        free(path);
        return;
    }
    LwError err = {0};
    size_t len = 0;
    char *text = lw_read_file(path, &len, &err);
    free(path);
    if (!text) { bat_fail(b, "%s: unreadable", b->file); return; }
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root || !json_is_object(root)) {
        if (root) bat_fail(b, "%s: top level is not an object", b->file);
        else bat_fail(b, "%s: invalid JSON at line %d column %d: %s", b->file, je.line, je.column, je.text);
        if (root) json_decref(root);
        free(text);
        return;
    }
    b->json = root;
    b->json_text = text;
    parse_summary(b, root);
}

void report_battery_free(ReportBattery *b) {
    free(b->name);
    free(b->status_msg);
    free(b->file);
    free(b->json_text);
    if (b->json) json_decref(b->json);
    free(b->battery_name);
    free(b->source);
    for (int m = 0; m < N_BAT_METRICS; m++) {
        free(b->band[m].n);
        for (int s = 0; s < N_BQ; s++) free(b->band[m].v[s]);
    }
    free(b->frac_rank1);
    free(b->fr_hist);
    memset(b, 0, sizeof *b);
}
