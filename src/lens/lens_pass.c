// lens_pass — see lens_pass.h: the pass driver, the model head and the norm lens at every
// position; the NEXT-position statistics are lens_next.c. Dataset names and shapes are those of
// docs/HDF5.md.
#include "lens/lens_pass.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_internal.h"
#include "lens/lens_ordered.h"
#include "lens/lens_pass_internal.h"
#include "util/util.h"

// Lens logits of one GEMM chunk stay below this many bytes per rank.
#define CHUNK_BYTES ((size_t)256 << 20)

void lens_run_init(LensRun *lr, const Model *m, Comm *comm, const LensSink *sink) {
    memset(lr, 0, sizeof *lr);
    lr->m = m;
    lr->comm = comm;
    lr->sink = sink;
    lr->sh.comm = comm;
    lr->sh.v0 = m->tp.vocab_start;
    lr->sh.vl = m->tp.vocab_len;
    lr->sh.V = m->cfg.vocab;
    lr->sh.bk = m->backend;
    lr->sh.fast_exp = 1; // S and E with the vectorized exp (BENCHMARKS.md "Fused lens statistics")
    lr->topk_all = 20;
    lr->topk_final = 20;
}

// ---------------------------------------------------------------------------- small helpers

// The chunk of lens logits (up to CHUNK_BYTES) is reused from pass to pass: a fresh allocation of
// that size is a new mmap whose pages the kernel zeroes again every pass (measured: ~10 % of a
// run of the SmolLM2-shaped benchmark model). It grows with the longest pass so far; its own pages
// (xmap) so that a regrown chunk gives the old one back (a heap block just under the malloc mmap
// threshold was kept after free: the peak of a mid-size model at R = 2 was 1.58 × plan's estimate).
// On a backend without host_memory the chunk is its memory (alloc): the logits stay on the device.
static float *g_chunk;
static size_t g_chunk_cap;
static float *chunk_logits(const Backend *bk, size_t n) {
    if (n > g_chunk_cap) {
        if (bk->host_memory) {
            xunmap(g_chunk, g_chunk_cap * sizeof(float));
            g_chunk = xmap(n * sizeof(float));
        } else {
            bk->free(g_chunk);
            g_chunk = bk->alloc(n * sizeof(float));
        }
        g_chunk_cap = n;
    }
    return g_chunk;
}

// ---------------------------------------------------------------------------- model head

// Model-head logits (local shard) of rows positions [t0, t0 + rows) of a pass.
static float *final_logits(const LensRun *lr, const float *resid, int T, int t0, int rows) {
    const Model *m = lr->m;
    size_t d = m->cfg.d_model;
    float *y = logits_alloc(lr, (size_t)rows * lr->sh.vl);
    model_final_logits_bk(m, resid + ((size_t)n_layers(lr) * T + t0) * d, rows, y);
    return y;
}

void lens_head_rows(const LensRun *lr, const float *r_last, int n, const double *temps, int k, double *H_bits,
                    int32_t *ids, double *probs) {
    int vl = lr->sh.vl;
    float *y = logits_alloc(lr, (size_t)n * vl);
    model_final_logits_bk(lr->m, r_last, n, y); // one GEMM for all rows
    LensDist *D = dists_of_rows(y, vl, n);
    for (int r = 0; r < n; r++)
        if (temps && temps[r] != 1.0) { D[r].xf = LX_DIV; D[r].a = (float)temps[r]; }
    LensNorm *N = xmalloc(sizeof(LensNorm) * (n ? n : 1));
    lens_normalize_topk(&lr->sh, D, n, k, N, ids, NULL, probs);
    for (int r = 0; r < n; r++) H_bits[r] = lens_bits(N[r].H_nats);
    logits_free(lr, y);
    free(D);
    free(N);
}

// ---------------------------------------------------------------------------- NEXT rows

// Lens logits at NEXT for layers [L0, n]: normalized with weight(L) (NULL = raw), one GEMM.
static float *next_logits(const LensRun *lr, const float *resid, int T, int L0,
                          const float *(*weight)(const Model *, int), float *normed_out) {
    const Model *m = lr->m;
    int d = m->cfg.d_model, n1 = n_layers(lr) + 1, rows = n1 - L0;
    float *x = falloc((size_t)rows * d);
    for (int L = L0; L < n1; L++) {
        const float *h = resid + ((size_t)L * T + (T - 1)) * d;
        float *xr = x + (size_t)(L - L0) * d;
        if (weight) model_rmsnorm(m, weight(m, L), h, xr, 1);
        else memcpy(xr, h, sizeof(float) * d);
    }
    float *z = logits_alloc(lr, (size_t)rows * lr->sh.vl);
    model_unembed_bk(m, x, rows, z);
    if (normed_out) memcpy(normed_out, x, sizeof(float) * (size_t)rows * d);
    free(x);
    return z;
}

// ---------------------------------------------------------------------------- one pass

// All positions, norm lens: entropy_bits [n+1, T] and top-K ids/probs [n+1, T, K], decoded in
// row chunks of one GEMM each. Returns the NEXT rows' logits [n+1, vl] (kept for the NEXT metrics).
static float *all_positions(const LensRun *lr, const LensPassSpec *ps, const float *resid, LensAt base) {
    const Model *m = lr->m;
    int d = m->cfg.d_model, n1 = n_layers(lr) + 1, T = ps->T, K = lr->topk_all, vl = lr->sh.vl;
    int t0 = lr->positions > 0 && lr->positions < T ? T - (int)lr->positions : 0, Tp = T - t0;
    size_t rows = (size_t)n1 * Tp;
    size_t chunk = CHUNK_BYTES / ((size_t)vl * sizeof(float));
    if (chunk < 1) chunk = 1;
    if (chunk > rows) chunk = rows;

    double *H = dalloc((size_t)n1 * T);
    int32_t *tid = ialloc((size_t)n1 * T * K);
    double *tp = dalloc((size_t)n1 * T * K);
    fill_nan(H, (size_t)n1 * T);
    fill_i32(tid, (size_t)n1 * T * K, -1);
    fill_nan(tp, (size_t)n1 * T * K);
    float *znext = logits_alloc(lr, (size_t)n1 * vl);

    float *x = falloc(chunk * d), *z = chunk_logits(lr->sh.bk, chunk * vl);
    LensNorm *N = xmalloc(sizeof(LensNorm) * chunk);
    int32_t *cid = ialloc(chunk * K);
    double *cp = dalloc(chunk * K);
    double t_start = lw_now();
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        for (size_t r = 0; r < nr; r++) {
            int L = (int)((r0 + r) / Tp), t = t0 + (int)((r0 + r) % Tp);
            model_rmsnorm(m, norm_weight(m, L), resid + ((size_t)L * T + t) * d, x + r * d, 1);
        }
        model_unembed_bk(m, x, (int)nr, z);
        LensDist *D = dists_of_rows(z, vl, (int)nr);
        lens_normalize_topk(&lr->sh, D, (int)nr, K, N, cid, NULL, cp);
        for (size_t r = 0; r < nr; r++) {
            int L = (int)((r0 + r) / Tp), t = t0 + (int)((r0 + r) % Tp);
            size_t o = (size_t)L * T + t;
            H[o] = lens_bits(N[r].H_nats);
            memcpy(tid + o * K, cid + r * K, sizeof(int32_t) * K);
            memcpy(tp + o * K, cp + r * K, sizeof(double) * K);
            if (t == T - 1) logits_copy(lr, znext + (size_t)L * vl, z + r * vl, vl);
        }
        free(D);
        if (lr->progress && rows > chunk) {
            size_t done = r0 + nr;
            double el = lw_now() - t_start;
            lw_progress("%s: layers × positions %zu/%zu decoded, %.1f s, ~%.1f s left", lr->progress, done, rows, el,
                        el / done * (rows - done));
        }
    }
    put_f64(lr, base, LF_ENTROPY_BITS, 2, n1, T, 0, H);
    put_i32(lr, base, LF_TOPK_IDS, 3, n1, T, K, tid);
    put_f64(lr, base, LF_TOPK_PROBS, 3, n1, T, K, tp);
    free(H); free(tid); free(tp); free(x); free(N); free(cid); free(cp);
    return znext;
}

// /prompts/<pass>/final_*: entropy and top-K of the model head at every position (chunked by
// positions). Returns the NEXT row of the head's logits [vl]. With keep_final_logits the whole
// [T, V] matrix is gathered to rank 0 (small models only).
static float *head_all_positions(const LensRun *lr, const LensPassSpec *ps, const float *resid, LensAt pbase) {
    int T = ps->T, K = lr->topk_final, vl = lr->sh.vl;
    size_t chunk = CHUNK_BYTES / ((size_t)vl * sizeof(float));
    if (chunk < 1) chunk = 1;
    double *H = dalloc(T), *tp = dalloc((size_t)T * K);
    int32_t *tid = ialloc((size_t)T * K);
    float *ynext = logits_alloc(lr, vl);
    LensNorm *N = xmalloc(sizeof(LensNorm) * (chunk < (size_t)T ? chunk : (size_t)T));
    for (int t0 = 0; t0 < T; t0 += (int)chunk) {
        int nr = T - t0 < (int)chunk ? T - t0 : (int)chunk;
        float *y = final_logits(lr, resid, T, t0, nr);
        LensDist *D = dists_of_rows(y, vl, nr);
        lens_normalize_topk(&lr->sh, D, nr, K, N, tid + (size_t)t0 * K, NULL, tp + (size_t)t0 * K);
        for (int r = 0; r < nr; r++) H[t0 + r] = lens_bits(N[r].H_nats);
        if (t0 + nr == T) logits_copy(lr, ynext, y + (size_t)(nr - 1) * vl, vl);
        free(D);
        logits_free(lr, y);
    }
    put_f64(lr, pbase, LF_FINAL_ENTROPY_BITS, 1, T, 0, 0, H);
    put_i32(lr, pbase, LF_FINAL_TOPK_IDS, 2, T, K, 0, tid);
    put_f64(lr, pbase, LF_FINAL_TOPK_PROBS, 2, T, K, 0, tp);
    // P_final[a] at NEXT (§19.6's base loss) as the head computes it: soft-capped logits (ynext),
    // the full softmax, summed in global id order (lens_ordered.h): the same value at any R
    LensDist Y = lens_dist(ynext);
    LensNorm NY;
    double pa;
    lens_ordered_normalize(&lr->sh, &Y, 1, &NY);
    lens_track_id(&lr->sh, &Y, &NY, 1, ps->answer_id, &pa, NULL, NULL);
    lens_sink_attr_f64(lr->sink, pbase, LF_FINAL_P_ANSWER, pa); // NaN: no answer id
    if (lr->keep_final_logits) {
        float *yd = final_logits(lr, resid, T, 0, T), *y = logits_to_host(lr, yd, (size_t)T * vl); // to gather
        logits_free(lr, yd);
        int R = lr->comm ? lr->comm->size : 1;
        size_t *counts = xmalloc(sizeof(size_t) * R);
        for (int q = 0; q < R; q++) {
            TpSlice s;
            char why[256];
            LW_ASSERT(tp_slice_plan(&lr->m->cfg, q, R, lr->m->tp.uneven_heads, &s, why, sizeof why) == 0);
            counts[q] = (size_t)T * s.vocab_len * sizeof(float);
        }
        size_t V = (size_t)lr->sh.V;
        float *all = lr->sink ? falloc((size_t)T * V) : NULL, *full = lr->sink ? falloc((size_t)T * V) : NULL;
        if (lr->comm && R > 1) comm_gatherv(lr->comm, y, (size_t)T * vl * sizeof(float), all, counts, 0);
        else if (all) memcpy(all, y, (size_t)T * vl * sizeof(float));
        if (lr->sink) { // blocks are [T, vl_q] per rank: reorder to [T, V]
            size_t off = 0, v0 = 0;
            for (int q = 0; q < R; q++) {
                size_t vq = counts[q] / sizeof(float) / T;
                for (int t = 0; t < T; t++) memcpy(full + (size_t)t * V + v0, all + off + (size_t)t * vq, sizeof(float) * vq);
                off += (size_t)T * vq;
                v0 += vq;
            }
            lens_sink_f32(lr->sink, pbase, LF_FINAL_LOGITS, 2, (size_t)T, V, 0, full);
        }
        free(all); free(full); free(counts); free(y);
    }
    free(H); free(tp); free(tid); free(N);
    return ynext;
}

void lens_pass(const LensRun *lr, const LensPassSpec *ps, const float *resid, LensPassSummary *out) {
    int n1 = n_layers(lr) + 1, d = lr->m->cfg.d_model, T = ps->T;
    LensAt pbase = {LENS_NORM, LG_HEAD, ps->name}, nbase = {LENS_NORM, LG_ALL, ps->name};

    if (lr->keep_residuals) lens_sink_f32(lr->sink, pbase, LF_RESIDUALS, 3, (size_t)n1, (size_t)T, (size_t)d, resid);

    // ---- model head and the norm lens at every position
    float *ynext = head_all_positions(lr, ps, resid, pbase);
    float *zn = all_positions(lr, ps, resid, nbase);

    lens_next_metrics(lr, ps, resid, zn, ynext, pbase, out);
    logits_free(lr, zn); logits_free(lr, ynext);
}

// ---------------------------------------------------------------------------- calibration

void lens_calibrate(const LensRun *lr, int n_prompts, const float *const *resid, const int *T, int G,
                    const double *grid, double *ce, double *tau) {
    const LensShard *sh = &lr->sh;
    int n1 = n_layers(lr) + 1, vl = sh->vl;
    size_t rows = (size_t)n1 * G;
    LensDist *D = xmalloc(sizeof(LensDist) * rows), *YD = xmalloc(sizeof(LensDist) * rows);
    LensNorm *N = xmalloc(sizeof(LensNorm) * rows), *NY = xmalloc(sizeof(LensNorm) * rows);
    LensPair *pr = xmalloc(sizeof(LensPair) * rows);
    for (int p = 0; p < n_prompts; p++) {
        float *z = next_logits(lr, resid[p], T[p], 0, norm_weight, NULL);
        float *y = final_logits(lr, resid[p], T[p], T[p] - 1, 1);
        LensDist yd = lens_dist(y);
        LensNorm ny;
        lens_normalize(sh, &yd, 1, &ny);
        for (int L = 0; L < n1; L++)
            for (int g = 0; g < G; g++) {
                size_t i = (size_t)L * G + g;
                D[i] = lens_dist(z + (size_t)L * vl);
                D[i].xf = LX_DIV;
                D[i].a = (float)grid[g];
                YD[i] = yd;
                NY[i] = ny;
            }
        lens_normalize(sh, D, (int)rows, N);
        lens_pair(sh, D, N, YD, NY, (int)rows, LP_CE_QP, pr);
        for (size_t i = 0; i < rows; i++) ce[(size_t)p * rows + i] = pr[i].ce_qp;
        logits_free(lr, z);
        logits_free(lr, y);
    }
    for (int L = 0; L < n1; L++) {
        double best = INFINITY;
        int bi = 0;
        for (int g = 0; g < G; g++) {
            double s = 0;
            for (int p = 0; p < n_prompts; p++) s += ce[(size_t)p * rows + (size_t)L * G + g];
            s /= n_prompts;
            if (s < best) { best = s; bi = g; } // first minimum wins
        }
        tau[L] = grid[bi];
    }
    free(D); free(YD); free(N); free(NY); free(pr);
}
