// export_battery — see export_battery.h; the columns and the aggregates are defined in
// docs/BATTERY.md ("Exports").
#include "export/export_battery.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/export_internal.h"
#include "export/pyfmt.h"
#include "util/util.h"

static const char *tok_text(const ExRun *run, int id) { return id >= 0 && id < run->V ? run->decoded[id] : NULL; }

// ---------------------------------------------------------------------------- records CSV

static void write_rows(const ExRun *run, FILE *f) {
    const ExBattery *b = run->battery;
    int L1 = (int)run->n_layers + 1, K = b->K;
    fputs("item_id,group,prompt_kind,layer,pos,token,entropy,entropy_bits", f);
    for (int j = 1; j <= K; j++) fprintf(f, ",top%d,prob%d", j, j);
    fputs(",rest_mass,is_answer,p_top1,p_top5,p_answer,p_answer_any,answer_rank,answer,answer_logit,teacher_entropy_bits,"
          "kl_to_final_bits\n", f);
    CsvOut o = {f, 0, 0};
    for (int i = 0; i < b->N; i++)
        for (int c = 0; c < (b->has_control && b->controls[i][0] ? 2 : 1); c++) {
            const ExBatteryTable *t = c ? &b->control : &b->next;
            for (int L = 0; L < L1; L++) {
                size_t r = (size_t)i * L1 + L;
                csv_field_str(&o, b->ids[i]);
                csv_field_str(&o, b->groups[i]);
                csv_field_str(&o, c ? "control" : "item");
                csv_field_int(&o, L);
                if (c) csv_field_empty(&o); // the control prompt's length is not the item's
                else csv_field_int(&o, b->T[i] - 1);
                csv_field_str(&o, "\xe2\x9f\xa8NEXT\xe2\x9f\xa9");
                csv_field_float(&o, t->entropy_bits[r]);
                csv_field_float(&o, t->entropy_bits[r]);
                double s = 0, s5 = 0;
                for (int j = 0; j < K; j++) {
                    int id = t->top_ids[r * K + j];
                    double p = t->top_probs[r * K + j];
                    if (id >= 0) { csv_field_str(&o, tok_text(run, id)); csv_field_float(&o, p); s += p; if (j < 5) s5 += p; }
                    else { csv_field_empty(&o); csv_field_empty(&o); }
                }
                csv_field_float(&o, fmax(0.0, 1.0 - s));
                int rank = t->answer_rank[r];
                csv_field_bool(&o, rank < 0 ? -1 : rank == 1);
                csv_field_float(&o, t->top_ids[r * K] >= 0 ? t->top_probs[r * K] : NAN);
                csv_field_float(&o, s5);
                csv_field_float(&o, t->p_answer[r]);
                csv_field_float(&o, t->p_answer_any[r]);
                if (rank < 0) csv_field_empty(&o); else csv_field_int(&o, rank);
                int best = t->answer_best[r];
                csv_field_str(&o, best >= 0 ? b->answers[b->answer_offsets[i] + best] : NULL);
                csv_field_float(&o, t->answer_logit[r]);
                csv_field_float(&o, t->teacher_entropy_bits[i]);
                csv_field_float(&o, t->kl_to_final_bits[r]);
                csv_end_row(&o);
            }
        }
}

// ---------------------------------------------------------------------------- position rows

// output-<model>-battery-positions.csv (battery_positions != 1): per item, layer, decoded position
// the reference records CSV's columns from `layer` on (OUTPUTS.md §3: top-topk_records at the
// last position and at verbose tokens, topk_records_other elsewhere), after item_id and group,
// with pos_from_end (0 = NEXT) after pos. Rows: item, then layer, then position ascending.
static void write_positions(const LwRunConfig *cfg, const ExRun *run, FILE *f) {
    const ExBattery *b = run->battery;
    int L1 = (int)run->n_layers + 1, K = (int)cfg->topk_records, rk = b->pos_K;
    fputs("item_id,group,layer,pos,pos_from_end,token,entropy,entropy_bits", f);
    for (int j = 1; j <= K; j++) fprintf(f, ",top%d,prob%d", j, j);
    fputs(",rest_mass\n", f);
    CsvOut o = {f, 0, 0};
    for (int i = 0; i < b->N; i++)
        for (int L = 0; L < L1; L++)
            for (int q = b->pos_off[i]; q < b->pos_off[i + 1]; q++) {
                int t = b->pos_pos[q], T = b->T[i];
                const char *ts = tok_text(run, b->seq_ids[b->seq_off[i] + t]);
                csv_field_str(&o, b->ids[i]);
                csv_field_str(&o, b->groups[i]);
                csv_field_int(&o, L);
                csv_field_int(&o, t);
                csv_field_int(&o, T - 1 - t);
                csv_field_str(&o, ts);
                size_t r = (size_t)q * L1 + L;
                csv_field_float(&o, b->pos_entropy_bits[r]);
                csv_field_float(&o, b->pos_entropy_bits[r]);
                int k = (t == T - 1 || (ts && ex_verbose_pos(ts))) ? K : (int)cfg->topk_records_other;
                if (k > rk) k = rk;
                double s = 0;
                for (int j = 0; j < K; j++) {
                    int id = j < k ? b->pos_top_ids[r * rk + j] : -1;
                    if (id >= 0) { double p = b->pos_top_probs[r * rk + j]; csv_field_str(&o, tok_text(run, id)); csv_field_float(&o, p); s += p; }
                    else { csv_field_empty(&o); csv_field_empty(&o); }
                }
                csv_field_float(&o, fmax(0.0, 1.0 - s));
                csv_end_row(&o);
            }
}

// ---------------------------------------------------------------------------- aggregates

uint64_t battery_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double battery_quantile_sorted(const double *x, int n, double q) {
    if (n <= 0) return NAN;
    double h = (n - 1) * q;
    int lo = (int)floor(h);
    if (lo >= n - 1) return x[n - 1];
    double t = h - lo;
    return x[lo] + t * (x[lo + 1] - x[lo]);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const double QS[] = {0.10, 0.25, 0.75, 0.90};
static const char *const QNAMES[] = {"q10", "q25", "q75", "q90"};

// n, mean, median and quantiles of the finite values v[0..N) (sorted in place).
static void stats_block(JsonW *j, double *v, int N) {
    int n = 0;
    double sum = 0;
    for (int i = 0; i < N; i++)
        if (!isnan(v[i])) { v[n++] = v[i]; sum += v[i]; }
    qsort(v, n, sizeof(double), cmp_double);
    jw_k_int(j, "n", n);
    jw_k_real(j, "mean", n ? sum / n : NAN);
    jw_k_real(j, "median", battery_quantile_sorted(v, n, 0.5));
    for (int q = 0; q < 4; q++) jw_k_real(j, QNAMES[q], battery_quantile_sorted(v, n, QS[q]));
}

// The median and mean of the reached layers and the reached fraction of a sample of first rank-1
// layers (-1 = never); median/mean NaN when none reached.
static void first_stats(const int *fr, int n, double *frac, double *median, double *mean, double *tmp) {
    int k = 0;
    double s = 0;
    for (int i = 0; i < n; i++)
        if (fr[i] >= 0) { tmp[k++] = fr[i]; s += fr[i]; }
    qsort(tmp, k, sizeof(double), cmp_double);
    *frac = n ? (double)k / n : NAN;
    *median = battery_quantile_sorted(tmp, k, 0.5);
    *mean = k ? s / k : NAN;
}

static void ci_pair(JsonW *j, const char *key, double *v, int B) {
    int n = 0;
    for (int i = 0; i < B; i++)
        if (!isnan(v[i])) v[n++] = v[i];
    qsort(v, n, sizeof(double), cmp_double);
    jw_key(j, key);
    jw_arr(j);
    jw_real(j, battery_quantile_sorted(v, n, 0.025));
    jw_real(j, battery_quantile_sorted(v, n, 0.975));
    jw_end(j);
}

static void write_summary(const ExRun *run, long seed, FILE *f) {
    const ExBattery *b = run->battery;
    int L1 = (int)run->n_layers + 1, N = b->N, B = BATTERY_BOOT_RESAMPLES;
    JsonW jw, *j = &jw;
    jw_init(j, f);
    jw_obj(j);
    jw_key(j, "battery");
    jw_obj(j);
    jw_k_str(j, "model", run->model_name);
    jw_k_str(j, "name", b->name);
    jw_k_str(j, "source", b->source);
    jw_k_str(j, "format", b->format);
    jw_k_str(j, "content_hash", b->content_hash);
    jw_k_int(j, "n_items", N);
    jw_k_int(j, "n_layers", run->n_layers);
    jw_k_str(j, "answer_rule", b->answer_rule);
    jw_k_str(j, "lens", "norm");
    jw_key(j, "skipped");
    jw_arr(j);
    for (int i = 0; i < b->n_skipped; i++) {
        jw_obj(j);
        jw_k_str(j, "id", b->skipped_ids[i]);
        jw_k_int(j, "line", b->skipped_lines[i]);
        jw_k_str(j, "reason", b->skipped_reasons[i]);
        jw_end(j);
    }
    jw_end(j);
    jw_end(j);

    // per layer across items (item prompts; controls are in the CSV)
    static const char *const MET[] = {"answer_rank", "p_answer", "kl_to_final_bits", "entropy_bits"};
    double *v = xmalloc(sizeof(double) * (N + B + 1));
    jw_key(j, "per_layer");
    jw_obj(j);
    for (int m = 0; m < 4; m++) {
        jw_key(j, MET[m]);
        jw_arr(j);
        for (int L = 0; L < L1; L++) {
            for (int i = 0; i < N; i++) {
                size_t r = (size_t)i * L1 + L;
                v[i] = m == 0 ? (b->next.answer_rank[r] < 0 ? NAN : b->next.answer_rank[r]) : m == 1 ? b->next.p_answer[r]
                     : m == 2 ? b->next.kl_to_final_bits[r] : b->next.entropy_bits[r];
            }
            jw_obj(j);
            jw_k_int(j, "layer", L);
            stats_block(j, v, N);
            jw_end(j);
        }
        jw_end(j);
    }
    jw_key(j, "frac_rank1");
    jw_arr(j);
    for (int L = 0; L < L1; L++) {
        int n = 0, k = 0;
        for (int i = 0; i < N; i++) {
            int r = b->next.answer_rank[(size_t)i * L1 + L];
            n += r >= 0;
            k += r == 1;
        }
        jw_real(j, n ? (double)k / n : NAN);
    }
    jw_end(j);
    jw_end(j);

    // the first rank-1 layer across items, with percentile bootstrap intervals
    int *fr = xmalloc(sizeof(int) * N), *rs = xmalloc(sizeof(int) * N), *hist = xcalloc(L1, sizeof(int)), never = 0;
    for (int i = 0; i < N; i++) {
        fr[i] = b->next.first_rank1[i];
        if (fr[i] >= 0 && fr[i] < L1) hist[fr[i]]++;
        else never++;
    }
    double frac, med, mean;
    first_stats(fr, N, &frac, &med, &mean, v);
    double *bf = xmalloc(sizeof(double) * B), *bm = xmalloc(sizeof(double) * B), *bu = xmalloc(sizeof(double) * B);
    uint64_t st = (uint64_t)seed;
    for (int r = 0; r < B; r++) {
        for (int i = 0; i < N; i++) rs[i] = fr[battery_splitmix64(&st) % (uint64_t)N];
        first_stats(rs, N, &bf[r], &bm[r], &bu[r], v);
    }
    int valid = 0;
    for (int r = 0; r < B; r++) valid += !isnan(bm[r]);
    jw_key(j, "first_rank1");
    jw_obj(j);
    jw_k_int(j, "n_items", N);
    jw_k_int(j, "n_reached", N - never);
    jw_k_int(j, "never", never);
    jw_k_real(j, "fraction_reached", frac);
    jw_k_real(j, "median", med);
    jw_k_real(j, "mean", mean);
    jw_key(j, "histogram");
    jw_arr(j);
    for (int L = 0; L < L1; L++) jw_int(j, hist[L]);
    jw_end(j);
    jw_key(j, "bootstrap");
    jw_obj(j);
    jw_k_int(j, "resamples", B);
    jw_k_int(j, "seed", seed);
    jw_k_str(j, "rng", "splitmix64, index = value mod n_items");
    jw_k_real(j, "level", 0.95);
    jw_k_int(j, "resamples_with_reached", valid);
    ci_pair(j, "fraction_reached", bf, B);
    ci_pair(j, "median", bm, B);
    ci_pair(j, "mean", bu, B);
    jw_end(j);
    jw_end(j);
    jw_end(j);
    jw_finish(j);
    fputc('\n', f);
    free(v); free(fr); free(rs); free(hist); free(bf); free(bm); free(bu);
}

// ---------------------------------------------------------------------------- files

int ex_export_battery(const LwRunConfig *cfg, const ExRun *run, const char *out_dir, LwError *err) {
    // the records, the position rows (battery_positions != 1), the JSON last
    int nf = run->battery->has_positions ? 3 : 2;
    char *fin[3] = {xasprintf("%s/output-%s-battery-records.csv", out_dir, run->model_name),
                    xasprintf("%s/output-%s-battery-positions.csv", out_dir, run->model_name),
                    xasprintf("%s/output-%s-battery-summary.json", out_dir, run->model_name)};
    if (nf == 2) { free(fin[1]); fin[1] = fin[2]; fin[2] = NULL; }
    char *tmp[3] = {0};
    int rc = lw_mkdir_p(out_dir, err) ? -1 : 0;
    for (int i = 0; i < nf && !rc; i++) {
        tmp[i] = xasprintf("%s/.%s.tmp.%ld", out_dir, lw_basename(fin[i]), (long)getpid());
        lw_cleanup_unlink_on_fail(tmp[i]);
        FILE *f = fopen(tmp[i], "w");
        if (!f) { rc = lw_err(err, "check that the output directory is writable", "%s: cannot write: %s", tmp[i], strerror(errno)); break; }
        if (i == 0) write_rows(run, f);
        else if (i == nf - 1) write_summary(run, cfg->seed, f);
        else write_positions(cfg, run, f);
        if (ferror(f) | fclose(f)) rc = lw_err(err, "check free disk space", "%s: write failed", tmp[i]);
    }
    int renamed = 0; // the JSON last; on a failure the renamed CSVs go again
    for (int i = 0; i < nf && !rc; i++) {
        if (rename(tmp[i], fin[i])) rc = lw_err(err, "check the output directory", "%s: cannot rename to %s: %s", tmp[i], fin[i], strerror(errno));
        else renamed = i + 1;
    }
    if (rc)
        for (int i = 0; i < renamed; i++) unlink(fin[i]);
    for (int i = 0; i < 3; i++) {
        if (tmp[i]) {
            if (rc) unlink(tmp[i]);
            lw_cleanup_forget(tmp[i]);
        }
        free(tmp[i]);
        free(fin[i]);
    }
    return rc;
}
