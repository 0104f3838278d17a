// battery_pass — see battery_pass.h. The sequence of calls is lens_pass's for the NEXT rows.
#include "lens/battery_pass.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_internal.h"
#include "util/util.h"

// Norm-lens normalizer of layer L (METRICS.md §4.1), as lens_pass's.
static const float *norm_weight(const Model *m, int L) {
    return L < m->cfg.n_layers ? m->layers[L].ln_in : m->ln_final;
}

void lens_battery_item(const LensRun *lr, const float *resid, int T, const int32_t *first_ids, int n_answers,
                       BatteryItemStats *out) {
    const Model *m = lr->m;
    const LensShard *sh = &lr->sh;
    int n = m->cfg.n_layers, n1 = n + 1, d = m->cfg.d_model, vl = sh->vl, K = BATTERY_TOPK;
    LW_ASSERT(n_answers >= 1);

    // model head at NEXT
    float *y = logits_alloc(lr, (size_t)vl); // backend memory: the logits stay on the device
    model_final_logits_bk(m, resid + ((size_t)n * T + T - 1) * d, 1, y);
    LensDist Y = lens_dist(y);
    LensNorm NY;
    lens_normalize(sh, &Y, 1, &NY);
    LensPair tp;
    lens_pair(sh, &Y, &NY, NULL, NULL, 1, LP_HP, &tp);
    out->teacher_entropy_bits = lens_bits(tp.h_p);
    lens_topk(sh, &Y, &NY, 1, 1, &out->final_top1, NULL, &out->final_top1_prob);

    // norm lens at NEXT: the n+1 normalized rows in one GEMM
    float *x = xmalloc(sizeof(float) * (size_t)n1 * d);
    for (int L = 0; L < n1; L++) model_rmsnorm(m, norm_weight(m, L), resid + ((size_t)L * T + T - 1) * d, x + (size_t)L * d, 1);
    float *z = logits_alloc(lr, (size_t)n1 * vl);
    model_unembed_bk(m, x, n1, z);
    free(x);
    LensDist *D = xmalloc(sizeof(LensDist) * n1), *YD = xmalloc(sizeof(LensDist) * n1);
    LensNorm *N = xmalloc(sizeof(LensNorm) * n1), *NYr = xmalloc(sizeof(LensNorm) * n1);
    for (int L = 0; L < n1; L++) { D[L] = lens_dist(z + (size_t)L * vl); YD[L] = Y; NYr[L] = NY; }
    lens_normalize(sh, D, n1, N);

    float *tx = xmalloc(sizeof(float) * (size_t)n1 * K);
    lens_topk(sh, D, N, n1, K, out->top_ids, tx, out->top_probs);
    free(tx);
    for (int L = 0; L < n1; L++) out->entropy_bits[L] = lens_bits(N[L].H_nats);
    LensPair *pr = xmalloc(sizeof(LensPair) * n1);
    lens_pair(sh, D, N, YD, NYr, n1, LP_KL_PQ | LP_HP, pr);
    for (int L = 0; L < n1; L++) out->kl_to_final_bits[L] = lens_bits(pr[L].kl_pq);
    free(pr);

    // the answers' first tokens: values, ranks (strictly greater probabilities + 1)
    int na = n_answers;
    int32_t *ids = xmalloc(sizeof(int32_t) * (size_t)n1 * na);
    for (int L = 0; L < n1; L++) memcpy(ids + (size_t)L * na, first_ids, sizeof(int32_t) * na);
    float *v = xmalloc(sizeof(float) * (size_t)n1 * na);
    lens_values_at(sh, D, n1, ids, na, v);
    int64_t *above = xmalloc(sizeof(int64_t) * (size_t)n1 * na);
    lens_count_above(sh, D, N, n1, ids, v, na, 0, above);
    out->first_rank1 = -1;
    for (int L = 0; L < n1; L++) {
        int best = -1;
        int64_t best_above = -1;
        double any = 0;
        for (int j = 0; j < na; j++) {
            int64_t a = above[(size_t)L * na + j];
            if (a >= 0 && (best < 0 || a < best_above)) { best = j; best_above = a; }
            int dup = 0; // p_answer_any: each distinct first token once
            for (int q = 0; q < j; q++) dup |= first_ids[q] == first_ids[j];
            float xv = v[(size_t)L * na + j];
            if (!dup && !isnan(xv)) any += lens_prob(&N[L], xv);
        }
        out->answer_best[L] = best;
        out->answer_rank[L] = best < 0 ? -1 : (int32_t)(best_above + 1);
        float xb = best < 0 ? NAN : v[(size_t)L * na + best];
        out->p_answer[L] = best < 0 ? NAN : (double)lens_prob(&N[L], xb);
        out->answer_logit[L] = best < 0 ? NAN : xb;
        out->p_answer_any[L] = best < 0 ? NAN : any;
        if (out->first_rank1 < 0 && out->answer_rank[L] == 1) out->first_rank1 = L;
    }
    free(ids); free(v); free(above);
    free(D); free(YD); free(N); free(NYr);
    logits_free(lr, z);
    logits_free(lr, y);
}

// Lens logits of one chunk of rows stay below this many bytes per rank (lens_pass.c CHUNK_BYTES).
#define POS_CHUNK_BYTES ((size_t)256 << 20)

// The chunk is reused from item to item (its own pages, as lens_pass.c's: a fresh allocation per
// item would have the kernel zero it again every time); it grows with the longest item so far.
static float *g_pos_chunk;
static size_t g_pos_cap;

void lens_battery_positions(const LensRun *lr, const float *resid, int T, int t0, int K, double *H, int32_t *ids,
                            double *probs) {
    const Model *m = lr->m;
    const LensShard *sh = &lr->sh;
    int n1 = m->cfg.n_layers + 1, d = m->cfg.d_model, vl = sh->vl;
    LW_ASSERT(t0 >= 0 && t0 < T && K >= 1);
    size_t rows = (size_t)n1 * (T - t0), chunk = POS_CHUNK_BYTES / ((size_t)(vl ? vl : 1) * sizeof(float));
    if (chunk < 1) chunk = 1;
    if (chunk > rows) chunk = rows;
    if (chunk * (vl ? vl : 1) > g_pos_cap) {
        xunmap(g_pos_chunk, g_pos_cap * sizeof(float));
        g_pos_cap = chunk * (vl ? vl : 1);
        g_pos_chunk = xmap(g_pos_cap * sizeof(float));
    }
    float *x = xmalloc(sizeof(float) * chunk * d), *z = g_pos_chunk;
    LensDist *D = xmalloc(sizeof(LensDist) * chunk);
    LensNorm *N = xmalloc(sizeof(LensNorm) * chunk);
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        for (size_t r = 0; r < nr; r++) { // row r0 + r: position t0 + (r0 + r) / n1, layer (r0 + r) % n1
            int t = t0 + (int)((r0 + r) / n1), L = (int)((r0 + r) % n1);
            model_rmsnorm(m, norm_weight(m, L), resid + ((size_t)L * T + t) * d, x + r * d, 1);
        }
        model_unembed(m, x, (int)nr, z);
        for (size_t r = 0; r < nr; r++) D[r] = lens_dist(z + r * vl);
        lens_normalize_topk(sh, D, (int)nr, K, N, ids + r0 * K, NULL, probs + r0 * K);
        for (size_t r = 0; r < nr; r++) H[r0 + r] = lens_bits(N[r].H_nats);
    }
    free(x); free(D); free(N);
}
