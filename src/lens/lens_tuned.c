// lens_tuned — see lens_tuned.h. Dataset names and shapes: docs/HDF5.md (`/lens/tuned`).
#include "lens/lens_tuned.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_internal.h"
#include "lens/lens_ordered.h"
#include "tuned/tuned_load.h"
#include "util/util.h"

// Tuned logits of one GEMM chunk stay below this many bytes per rank (as the norm lens's).
#define TUNED_CHUNK_BYTES ((size_t)256 << 20)

static const double POS_GRID[8] = {0.20, 0.40, 0.60, 0.80, 0.92, 0.96, 0.98, 1.00};

int lens_tuned_open(const LwRunConfig *cfg, const ModelConfig *mc, LensTuned *lt, LwError *err) {
    memset(lt, 0, sizeof *lt);
    const char *dir = cfg->tuned_lens_dir ? cfg->tuned_lens_dir : "";
    char sha[65];
    int rc = lens_artifact_dir(cfg, "tuned", "tuned_lens_dir", dir, "fit-tuned", "tuned-lens", "tuned.safetensors, provenance.json", sha,
                               err);
    if (rc <= 0) return rc;
    if (tuned_artifact_load(dir, mc->d_model, mc->n_layers, mc->vocab, sha, &lt->t, err)) return -1;
    lt->on = 1;
    lt->dir = dir;
    return 0;
}

void lens_tuned_free(LensTuned *lt) {
    if (lt->on) tuned_free(&lt->t);
    memset(lt, 0, sizeof *lt);
}

// τ of decoding layer L (row 0: no translator).
static double tau_of_layer(const TunedLens *t, int L) { return L < 1 ? NAN : tuned_tau(t, L - 1); }

void lens_tuned_write_meta(const LensRun *lr, const LensTuned *lt) {
    if (!lr->sink || !lt->on) return;
    int n1 = lt->t.n_layers + 1;
    LensAt at = {LENS_TUNED, LG_LENS, NULL};
    lens_sink_attr_str(lr->sink, at, LF_ARTIFACT_PATH, lt->dir);
    lens_sink_attr_int(lr->sink, at, LF_K, lt->t.k);
    lens_sink_attr_str(lr->sink, at, LF_CONFIG_SHA256, lt->t.config_sha256);
    double *tau = dalloc(n1);
    for (int L = 0; L < n1; L++) tau[L] = tau_of_layer(&lt->t, L);
    put_f64(lr, at, LF_TAU, 1, n1, 0, 0, tau);
    free(tau);
}

int lens_tuned_pos_grid(int T, double *frac, int32_t *idx) {
    int P = 0;
    for (int g = 0; g < 8; g++) {
        int32_t i = (int32_t)lw_round_half_even(POS_GRID[g] * (double)(T - 1));
        int dup = 0;
        for (int q = 0; q < P; q++) dup |= idx[q] == i;
        if (dup) continue;
        int q = P++; // insertion keeps the index order (the grid's indices never decrease anyway)
        while (q > 0 && idx[q - 1] > i) { idx[q] = idx[q - 1]; frac[q] = frac[q - 1]; q--; }
        idx[q] = i;
        frac[q] = POS_GRID[g];
    }
    return P;
}

int lens_tuned_tau_grid(double *g) {
    double a = log10(0.2), b = log10(5.0);
    for (int i = 0; i < 61; i++) g[i] = pow(10.0, a + (b - a) * i / 60.0);
    g[61] = 1.0;
    return 62;
}

void lens_tuned_refine_grid(double ts, double *g) {
    double lo = ts / 2 > 0.2 ? ts / 2 : 0.2, hi = 1.5 * ts < 5.0 ? 1.5 * ts : 5.0;
    for (int j = 0; j < 41; j++) g[j] = lo + (hi - lo) * j / 40.0;
}

// ---------------------------------------------------------------------------- helpers

static const float *norm_weight(const Model *m, int L) { return L < m->cfg.n_layers ? m->layers[L].ln_in : m->ln_final; }

// The row z divided by τ: each logit z / (float)τ in fp32 (τ rounded to fp32 once), the lens's
// LX_DIV transform (applied where the row is read, so the logits stay in backend memory).
static LensDist dist_tau(const float *z, double tau) {
    LensDist D = lens_dist(z);
    float tf = (float)tau;
    if (tf != 1.0f) { D.xf = LX_DIV; D.a = tf; }
    return D;
}

// x[rows of one layer L at positions pos[0..np)] = N_L(h_L[pos]); y = translator_{L−1}(x).
static void translate(const Model *m, const TunedLens *t, const float *resid, int T, int L, const int32_t *pos, int np,
                      float *x, float *y) {
    int d = m->cfg.d_model;
    for (int p = 0; p < np; p++) model_rmsnorm(m, norm_weight(m, L), resid + ((size_t)L * T + pos[p]) * d, x + (size_t)p * d, 1);
    tuned_apply(t, L - 1, x, np, y, NULL);
}

static float l2f(const float *x, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)x[j] * x[j];
    return (float)sqrt(s);
}

// cos(u, w) with u/(‖u‖+1e-12) for both vectors, fp32 (METRICS.md §7; lens_pass.c's formula).
static float cos_eps(const float *u, const float *w, int d) {
    float nu = l2f(u, d) + 1e-12f, nw = l2f(w, d) + 1e-12f;
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)(u[j] / nu) * (w[j] / nw);
    return (float)s;
}

static LensDist *dists(const float *z, size_t ld, int n) {
    LensDist *D = xmalloc(sizeof(LensDist) * (n ? n : 1));
    for (int r = 0; r < n; r++) D[r] = lens_dist(z + (size_t)r * ld);
    return D;
}

// Rows of layers 1..n divided by their layer's τ.
static LensDist *dists_tau(const TunedLens *tl, const float *z, size_t ld, int n) {
    LensDist *D = xmalloc(sizeof(LensDist) * (n ? n : 1));
    for (int r = 0; r < n; r++) D[r] = dist_tau(z + (size_t)r * ld, tau_of_layer(tl, r + 1));
    return D;
}

// n rows (layers 1..n) into a [n+1] vector: row 0 NaN.
static void put_rows_f64(const LensRun *lr, LensAt base, LensField f, int n, const double *v) {
    double *o = dalloc((size_t)n + 1);
    o[0] = NAN;
    memcpy(o + 1, v, sizeof(double) * n);
    put_f64(lr, base, f, 1, (size_t)n + 1, 0, 0, o);
    free(o);
}
static void put_rows_i32(const LensRun *lr, LensAt base, LensField f, int n, const int32_t *v) {
    int32_t *o = ialloc((size_t)n + 1);
    o[0] = -1;
    memcpy(o + 1, v, sizeof(int32_t) * n);
    put_i32(lr, base, f, 1, (size_t)n + 1, 0, 0, o);
    free(o);
}

// KL(P_r ‖ head) in bits and the answer rank of n rows D.
static void kl_rank(const LensRun *lr, const LensDist *D, int n, const LensDist *Y, const LensNorm *NY, int32_t answer,
                    double *kl_bits, int32_t *rank) {
    const LensShard *sh = &lr->sh;
    LensDist *YD = xmalloc(sizeof(LensDist) * (n ? n : 1));
    LensNorm *N = xmalloc(sizeof(LensNorm) * (n ? n : 1)), *NYr = xmalloc(sizeof(LensNorm) * (n ? n : 1));
    for (int r = 0; r < n; r++) { YD[r] = Y[r]; NYr[r] = NY[r]; }
    lens_ordered_normalize(sh, D, n, N);
    lens_ordered_kl(sh, D, N, YD, NYr, n, kl_bits);
    for (int r = 0; r < n; r++) kl_bits[r] = lens_bits(kl_bits[r]);
    if (rank) lens_track_id(sh, D, N, n, answer, NULL, NULL, rank);
    free(YD); free(N); free(NYr);
}

// ---------------------------------------------------------------------------- one pass

// All positions (layers 1..n): entropy and top-K, in row chunks of one GEMM each. Returns the
// NEXT rows' un-tempered logits y·W_U [n, vl] (backend memory) and their translated residuals
// y [n, d].
static float *all_positions(const LensRun *lr, const TunedLens *tl, const LensPassSpec *ps, const float *resid,
                            LensAt base, float *ynext) {
    const Model *m = lr->m;
    const LensShard *sh = &lr->sh;
    int n = m->cfg.n_layers, n1 = n + 1, d = m->cfg.d_model, T = ps->T, vl = sh->vl, K = lr->topk_all;
    int t0 = lr->positions > 0 && lr->positions < T ? T - (int)lr->positions : 0, Tp = T - t0;
    size_t rows = (size_t)n * Tp;
    int32_t *pos = ialloc(Tp);
    for (int p = 0; p < Tp; p++) pos[p] = t0 + p;
    float *x = falloc((size_t)Tp * d), *y = falloc(rows * d);
    for (int L = 1; L <= n; L++) translate(m, tl, resid, T, L, pos, Tp, x, y + (size_t)(L - 1) * Tp * d);
    free(x);
    free(pos);

    size_t chunk = TUNED_CHUNK_BYTES / ((size_t)vl * sizeof(float));
    if (chunk < 1) chunk = 1;
    if (chunk > rows) chunk = rows;
    double *H = dalloc((size_t)n1 * T), *tp = dalloc((size_t)n1 * T * K);
    int32_t *tid = ialloc((size_t)n1 * T * K);
    for (size_t i = 0; i < (size_t)n1 * T; i++) H[i] = NAN;
    for (size_t i = 0; i < (size_t)n1 * T * K; i++) { tid[i] = -1; tp[i] = NAN; }
    float *z = logits_alloc(lr, chunk * vl), *znext = logits_alloc(lr, (size_t)n * vl);
    LensNorm *N = xmalloc(sizeof(LensNorm) * chunk);
    LensDist *D = xmalloc(sizeof(LensDist) * chunk);
    int32_t *cid = ialloc(chunk * K);
    double *cp = dalloc(chunk * K);
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        model_unembed_bk(m, y + r0 * d, (int)nr, z);
        for (size_t r = 0; r < nr; r++) {
            int L = 1 + (int)((r0 + r) / Tp), t = t0 + (int)((r0 + r) % Tp);
            if (t == T - 1) {
                logits_copy(lr, znext + (size_t)(L - 1) * vl, z + r * vl, vl);
                memcpy(ynext + (size_t)(L - 1) * d, y + (r0 + r) * d, sizeof(float) * d);
            }
            D[r] = dist_tau(z + r * vl, tau_of_layer(tl, L));
        }
        lens_ordered_normalize(sh, D, (int)nr, N);
        lens_topk(sh, D, N, (int)nr, K, cid, NULL, cp);
        for (size_t r = 0; r < nr; r++) {
            int L = 1 + (int)((r0 + r) / Tp), t = t0 + (int)((r0 + r) % Tp);
            size_t o = (size_t)L * T + t;
            H[o] = lens_bits(N[r].H_nats);
            memcpy(tid + o * K, cid + r * K, sizeof(int32_t) * K);
            memcpy(tp + o * K, cp + r * K, sizeof(double) * K);
        }
    }
    put_f64(lr, base, LF_ENTROPY_BITS, 2, n1, T, 0, H);
    put_i32(lr, base, LF_TOPK_IDS, 3, n1, T, K, tid);
    put_f64(lr, base, LF_TOPK_PROBS, 3, n1, T, K, tp);
    free(H); free(tp); free(tid); logits_free(lr, z); free(N); free(D); free(cid); free(cp); free(y);
    return znext;
}

// §19.4 positional rows: at each grid position, norm and tuned lens against the model head at
// that same position; answer ranks at the last position only.
static void positions(const LensRun *lr, const TunedLens *tl, const LensPassSpec *ps, const float *resid, LensAt pbase) {
    const Model *m = lr->m;
    const LensShard *sh = &lr->sh;
    int n = m->cfg.n_layers, n1 = n + 1, d = m->cfg.d_model, T = ps->T, vl = sh->vl;
    double frac[8];
    int32_t idx[8];
    int P = lens_tuned_pos_grid(T, frac, idx);
    put_f64(lr, pbase, LF_POS_FRAC, 1, P, 0, 0, frac);
    put_i32(lr, pbase, LF_POS_INDEX, 1, P, 0, 0, idx);

    // the head at the grid positions
    float *h = falloc((size_t)P * d), *yh = logits_alloc(lr, (size_t)P * vl);
    for (int p = 0; p < P; p++) memcpy(h + (size_t)p * d, resid + ((size_t)n * T + idx[p]) * d, sizeof(float) * d);
    model_final_logits_bk(m, h, P, yh);
    free(h);
    LensDist *Y = dists(yh, vl, P);
    LensNorm *NY = xmalloc(sizeof(LensNorm) * P);
    lens_ordered_normalize(sh, Y, P, NY);

    // norm rows [0, nP), tuned rows [nP, 2nP): layer-major, position-minor
    size_t nP = (size_t)n * P;
    float *x = falloc(2 * nP * d);
    for (int L = 1; L <= n; L++)
        translate(m, tl, resid, T, L, idx, P, x + (size_t)(L - 1) * P * d, x + (nP + (size_t)(L - 1) * P) * d);
    float *z = logits_alloc(lr, 2 * nP * vl);
    model_unembed_bk(m, x, (int)(2 * nP), z);
    free(x);
    LensDist *D = dists(z, vl, (int)(2 * nP)), *YD = xmalloc(sizeof(LensDist) * 2 * nP);
    for (size_t r = nP; r < 2 * nP; r++) D[r] = dist_tau(z + r * vl, tau_of_layer(tl, 1 + (int)((r - nP) / P)));
    LensNorm *N = xmalloc(sizeof(LensNorm) * 2 * nP), *NYr = xmalloc(sizeof(LensNorm) * 2 * nP);
    for (size_t r = 0; r < 2 * nP; r++) { YD[r] = Y[r % P]; NYr[r] = NY[r % P]; }
    lens_ordered_normalize(sh, D, (int)(2 * nP), N);
    double *kl = dalloc(2 * nP);
    lens_ordered_kl(sh, D, N, YD, NYr, (int)(2 * nP), kl);
    // the answer's rank at the last position only (both lenses; one call over all rows)
    int32_t *rk = ialloc(2 * nP);
    lens_track_id(sh, D, N, (int)(2 * nP), ps->answer_id, NULL, NULL, rk);

    double *out = dalloc((size_t)n1 * P);
    int32_t *iout = ialloc((size_t)n1 * P);
    static const LensField KL[2] = {LF_KL_NORM_BITS, LF_KL_TUNED_BITS}, HB[2] = {LF_ENTROPY_NORM_BITS, LF_ENTROPY_TUNED_BITS},
                           RK[2] = {LF_ANSWER_RANK_NORM, LF_ANSWER_RANK_TUNED};
    for (int lens = 0; lens < 2; lens++) {
        size_t off = lens * nP;
        for (int p = 0; p < P; p++) { out[p] = NAN; iout[p] = -1; }
        for (size_t r = 0; r < nP; r++) out[P + r] = lens_bits(kl[off + r]);
        put_f64(lr, pbase, KL[lens], 2, n1, P, 0, out);
        for (size_t r = 0; r < nP; r++) out[P + r] = lens_bits(N[off + r].H_nats);
        put_f64(lr, pbase, HB[lens], 2, n1, P, 0, out);
        for (size_t r = 0; r < nP; r++) iout[P + r] = idx[r % P] == T - 1 ? rk[off + r] : -1;
        put_i32(lr, pbase, RK[lens], 2, n1, P, 0, iout);
    }
    logits_free(lr, yh); free(Y); free(NY); logits_free(lr, z); free(D); free(YD); free(N); free(NYr); free(kl); free(rk); free(out); free(iout);
}

void lens_tuned_pass(const LensRun *lr, const LensTuned *lt, const LensPassSpec *ps, const float *resid) {
    if (!lt->on) return;
    const Model *m = lr->m;
    const LensShard *sh = &lr->sh;
    const TunedLens *tl = &lt->t;
    int n = m->cfg.n_layers, n1 = n + 1, d = m->cfg.d_model, T = ps->T, vl = sh->vl, K50 = LENS_NEXT_TOPK;
    LensAt base = {LENS_TUNED, LG_ALL, ps->name}, next = {LENS_TUNED, LG_NEXT, ps->name},
           pbase = {LENS_TUNED, LG_POSITIONS, ps->name};

    float *ynext = falloc((size_t)n * d);
    float *zrot = all_positions(lr, tl, ps, resid, base, ynext); // [n, vl] y·W_U at NEXT (backend memory)

    // the model head P_final at NEXT
    float *yh = logits_alloc(lr, vl);
    model_final_logits_bk(m, resid + ((size_t)n * T + T - 1) * d, 1, yh);
    LensDist Y = lens_dist(yh);
    LensNorm NY;
    lens_ordered_normalize(sh, &Y, 1, &NY);
    LensDist *YD = xmalloc(sizeof(LensDist) * n);
    LensNorm *NYr = xmalloc(sizeof(LensNorm) * n);
    for (int r = 0; r < n; r++) { YD[r] = Y; NYr[r] = NY; }

    LensDist *DT = dists_tau(tl, zrot, vl, n); // tuned: y·W_U / τ
    LensNorm *NT = xmalloc(sizeof(LensNorm) * n);
    lens_ordered_normalize(sh, DT, n, NT);

    // top-50 (row 0: −1 / NaN)
    int32_t *ids50 = ialloc((size_t)n1 * K50), *iv = ialloc(n);
    float *x50 = falloc((size_t)n * K50);
    double *p50 = dalloc((size_t)n1 * K50), *l50 = dalloc((size_t)n1 * K50), *v = dalloc(n), *v2 = dalloc(n);
    for (int j = 0; j < K50; j++) { ids50[j] = -1; p50[j] = NAN; l50[j] = NAN; }
    lens_topk(sh, DT, NT, n, K50, ids50 + K50, x50, p50 + K50);
    for (size_t i = 0; i < (size_t)n * K50; i++) l50[K50 + i] = x50[i];
    put_i32(lr, next, LF_TOP_IDS, 2, n1, K50, 0, ids50);
    put_f64(lr, next, LF_TOP_PROBS, 2, n1, K50, 0, p50);
    put_f64(lr, next, LF_TOP_LOGITS, 2, n1, K50, 0, l50);
    for (int r = 0; r < n; r++) v[r] = lens_bits(NT[r].H_nats);
    put_rows_f64(lr, next, LF_ENTROPY_BITS, n, v);

    lens_ordered_kl(sh, DT, NT, YD, NYr, n, v);
    for (int r = 0; r < n; r++) v[r] = lens_bits(v[r]);
    put_rows_f64(lr, next, LF_KL_TO_FINAL_BITS, n, v);
    double kl_final = v[n - 1];

    lens_track_id(sh, DT, NT, n, ps->answer_id, v, v2, iv);
    put_rows_f64(lr, next, LF_P_ANSWER, n, v);
    put_rows_f64(lr, next, LF_ANSWER_LOGIT, n, v2);
    put_rows_i32(lr, next, LF_ANSWER_RANK, n, iv);
    lens_track_id(sh, DT, NT, n, ps->contrast_id, v, NULL, NULL);
    put_rows_f64(lr, next, LF_P_CONTRAST, n, v);

    // cos_to_final (§5.1): v = y·W_U (before the temperature) against the head's logit direction
    LensDist *DR = dists(zrot, vl, n);
    double *dots = dalloc((size_t)3 * n), hq;
    lens_ordered_dots(sh, DR, YD, n, dots);
    for (int r = 0; r < n; r++) {
        float ny = (float)sqrt(dots[3 * r + 2]) + 1e-12f, nz = (float)sqrt(dots[3 * r + 1]) + 1e-12f;
        v[r] = (float)(dots[3 * r] / ny) / nz;
    }
    put_rows_f64(lr, next, LF_COS_TO_FINAL, n, v);
    lens_ordered_entropy_pv(sh, &Y, &NY, 1, &hq); // the teacher entropy, by the same chained sums
    lens_sink_attr_f64(lr->sink, next, LF_TEACHER_ENTROPY_BITS, lens_bits(hq));

    // geometry (§7) on the translated residual y: cos to the answer's and the prompt tokens' rows
    {
        int np = ps->n_prompt_vocab;
        int32_t *ids = ialloc(np + 1);
        ids[0] = ps->answer_id;
        memcpy(ids + 1, ps->prompt_vocab_ids, sizeof(int32_t) * np);
        float *W = model_unembed_rows(lr->m, ids, np + 1, lr->comm);
        for (int r = 0; r < n; r++) {
            const float *g = ynext + (size_t)r * d;
            v[r] = ps->answer_id >= 0 ? cos_eps(g, W, d) : NAN;
            double best = NAN;
            for (int j = 0; j < np; j++) {
                double c = cos_eps(g, W + (size_t)(j + 1) * d, d);
                if (isnan(best) || c > best) best = c;
            }
            v2[r] = best;
        }
        put_rows_f64(lr, next, LF_COS_TO_ANSWER, n, v);
        put_rows_f64(lr, next, LF_COS_TO_PROMPT_MAX, n, v2);
        free(ids); free(W);
    }

    // echo mass (§7)
    lens_mass_at(sh, DT, NT, n, ps->prompt_vocab_ids, ps->n_prompt_vocab, v);
    put_rows_f64(lr, next, LF_ECHO_MASS_PROMPT, n, v);

    // the norm lens at NEXT (layers 1..n): its top-50 ranked under the tuned lens, and the §19.4
    // temperature-only variant (norm logits / τ)
    float *zn = logits_alloc(lr, (size_t)n * vl);
    {
        float *xn = falloc((size_t)n * d);
        for (int L = 1; L <= n; L++) model_rmsnorm(m, norm_weight(m, L), resid + ((size_t)L * T + T - 1) * d, xn + (size_t)(L - 1) * d, 1);
        model_unembed_bk(m, xn, n, zn);
        free(xn);
        LensDist *DN = dists(zn, vl, n);
        LensNorm *NN = xmalloc(sizeof(LensNorm) * n);
        lens_ordered_normalize(sh, DN, n, NN);
        int32_t *nid = ialloc((size_t)n1 * K50);
        for (int j = 0; j < K50; j++) nid[j] = -1;
        lens_topk(sh, DN, NN, n, K50, nid + K50, NULL, NULL);
        float *xs = falloc((size_t)n * K50);
        lens_values_at(sh, DT, n, nid + K50, K50, xs);
        int64_t *above = xmalloc(sizeof(int64_t) * (size_t)n * K50);
        lens_count_above(sh, DT, NT, n, nid + K50, xs, K50, 1, above);
        for (size_t i = 0; i < (size_t)n * K50; i++) nid[K50 + i] = above[i] < 0 ? -1 : (int32_t)(above[i] + 1);
        put_i32(lr, next, LF_RANKS_OF_NORM_TOP50, 2, n1, K50, 0, nid);
        free(DN); free(NN); free(nid); free(xs); free(above);
    }

    // §19.4 variants: rotation only (y·W_U), temperature only (norm logits / τ)
    kl_rank(lr, DR, n, YD, NYr, ps->answer_id, v, iv);
    put_rows_f64(lr, next, LF_KL_ROT_ONLY_BITS, n, v);
    put_rows_i32(lr, next, LF_ANSWER_RANK_ROT_ONLY, n, iv);
    LensDist *DNT = dists_tau(tl, zn, vl, n);
    kl_rank(lr, DNT, n, YD, NYr, ps->answer_id, v, iv);
    free(DNT);
    put_rows_f64(lr, next, LF_KL_TEMP_ONLY_BITS, n, v);
    put_rows_i32(lr, next, LF_ANSWER_RANK_TEMP_ONLY, n, iv);

    // §19.4 head_mismatch at L = n: τ* of KL(softmax(z_n/τ) ‖ P_final)
    {
        // z_n = y·W_U / τ_n with τ_n = 1 (tuned_tau): the row of zrot, divided by each τ of the grid
        double g[62 + 41], kls[62 + 41];
        const float *zl = zrot + (size_t)(n - 1) * vl;
        int G = lens_tuned_tau_grid(g), best = 0;
        for (int stage = 0; stage < 2; stage++) {
            int g0 = stage ? 62 : 0, ng = stage ? 41 : G;
            if (stage) lens_tuned_refine_grid(g[best], g + 62);
            LensDist *ZG = xmalloc(sizeof(LensDist) * ng), *YG = xmalloc(sizeof(LensDist) * ng);
            LensNorm *NG = xmalloc(sizeof(LensNorm) * ng);
            for (int i = 0; i < ng; i++) { ZG[i] = dist_tau(zl, g[g0 + i]); YG[i] = Y; NG[i] = NY; }
            kl_rank(lr, ZG, ng, YG, NG, -1, kls + g0, NULL);
            free(ZG); free(YG); free(NG);
            for (int i = g0; i < g0 + ng; i++)
                if (kls[i] < kls[best]) best = i; // first minimum wins
        }
        lens_sink_attr_f64(lr->sink, next, LF_KL_BITS_TUNED_FINAL, kl_final);
        lens_sink_attr_f64(lr->sink, next, LF_TAU_STAR_MODELCAL, g[best]);
        lens_sink_attr_f64(lr->sink, next, LF_KL_BITS_TUNED_FINAL_AFTER_TAU_STAR, kls[best]);
    }

    positions(lr, tl, ps, resid, pbase);

    free(ynext); logits_free(lr, zrot); logits_free(lr, yh); free(YD); free(NYr); free(DT); free(NT); free(ids50); free(iv); free(x50);
    free(p50); free(l50); free(v); free(v2); free(DR); free(dots); logits_free(lr, zn);
}
