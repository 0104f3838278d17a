// lens_next — the NEXT-position statistics of one pass (see lens_pass_internal.h); the driver and
// the all-positions part are lens_pass.c. Dataset names and shapes are those of docs/HDF5.md.
#include "lens/lens_pass_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

// ---------------------------------------------------------------------------- small helpers

// post_ln2 decoding point (§14): block L-1's second norm (Gemma-2: pre_feedforward_layernorm).
static const float *post_ln2_weight(const Model *m, int L) {
    const LayerWeights *lw = &m->layers[L - 1];
    return LW_FAMILIES[m->cfg.family].sandwich_norms ? lw->ln_pre_ffn : lw->ln_post_attn;
}

static LensDist *dists_repeat(const float *z, int n) {
    LensDist *d = xmalloc(sizeof(LensDist) * (n ? n : 1));
    for (int r = 0; r < n; r++) d[r] = lens_dist(z);
    return d;
}

static LensNorm *norms_repeat(const LensNorm *x, int n) {
    LensNorm *o = xmalloc(sizeof(LensNorm) * (n ? n : 1));
    for (int r = 0; r < n; r++) o[r] = *x;
    return o;
}

static float l2f(const float *x, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)x[j] * x[j];
    return (float)sqrt(s);
}

// cos(u, w) with u/(‖u‖+1e-12) for both vectors, fp32 (METRICS.md §7).
static float cos_eps(const float *u, const float *w, int d) {
    float nu = l2f(u, d) + 1e-12f, nw = l2f(w, d) + 1e-12f;
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)(u[j] / nu) * (w[j] / nw);
    return (float)s;
}

static unsigned nonfinite_bits(const float *x, int d, unsigned nan_bit, unsigned inf_bit) {
    unsigned b = 0;
    for (int j = 0; j < d; j++) {
        if (isnan(x[j])) b |= nan_bit;
        else if (isinf(x[j])) b |= inf_bit;
    }
    return b;
}

// ---------------------------------------------------------------------------- NEXT rows

// The three extra NEXT decodes of a pass in ONE GEMM (each GEMM call streams the whole
// unembedding shard): rows [0, n] norm lens again (repeatability, §17.1), [n+1, 2n+1] raw lens
// (§4.2), [2n+2, 3n+1] post_ln2 for L = 1..n (§14). Returns [(3n+2), vl].
static float *next_logits_extra(const LensRun *lr, const float *resid, int T) {
    const Model *m = lr->m;
    int d = m->cfg.d_model, n = n_layers(lr), n1 = n + 1, rows = 2 * n1 + n;
    float *x = falloc((size_t)rows * d);
    for (int L = 0; L < n1; L++) {
        const float *h = resid + ((size_t)L * T + (T - 1)) * d;
        model_rmsnorm(m, norm_weight(m, L), h, x + (size_t)L * d, 1);
        memcpy(x + (size_t)(n1 + L) * d, h, sizeof(float) * d);
        if (L >= 1) model_rmsnorm(m, post_ln2_weight(m, L), h, x + (size_t)(2 * n1 + L - 1) * d, 1);
    }
    float *z = logits_alloc(lr, (size_t)rows * lr->sh.vl);
    model_unembed_bk(m, x, rows, z);
    free(x);
    return z;
}

// answer / contrast probabilities, logits and ranks of n rows.
static void tracked(const LensRun *lr, const LensDist *D, const LensNorm *N, int n, int32_t id, double *p, double *logit,
                    int32_t *rank) {
    if (id < 0) {
        if (p) fill_nan(p, n);
        if (logit) fill_nan(logit, n);
        if (rank) fill_i32(rank, n, -1);
        return;
    }
    int32_t *ids = ialloc(n);
    fill_i32(ids, n, id);
    float *x = falloc(n);
    lens_values_at(&lr->sh, D, n, ids, 1, x);
    int64_t *above = rank ? xmalloc(sizeof(int64_t) * n) : NULL;
    if (rank) lens_count_above(&lr->sh, D, N, n, ids, x, 1, 0, above);
    for (int r = 0; r < n; r++) {
        if (p) p[r] = isnan(x[r]) ? NAN : (double)lens_prob(&N[r], x[r]);
        if (logit) logit[r] = x[r];
        if (rank) rank[r] = above[r] < 0 ? -1 : (int32_t)(above[r] + 1);
    }
    free(ids); free(x); free(above);
}

// top-50 ids/probs/logits of n rows into [rows_total, 50] arrays at row offset `off`.
// The three [n1, LENS_NEXT_TOPK] datasets of a lens's top-k at NEXT under group `base`.
static void put_next_topk(const LensRun *lr, LensAt base, size_t n1, const int32_t *ids, const double *probs,
                          const double *logits) {
    put_i32(lr, base, LF_TOP_IDS, 2, n1, LENS_NEXT_TOPK, 0, ids);
    put_f64(lr, base, LF_TOP_PROBS, 2, n1, LENS_NEXT_TOPK, 0, probs);
    put_f64(lr, base, LF_TOP_LOGITS, 2, n1, LENS_NEXT_TOPK, 0, logits);
}

// lens_normalize and the top-50 of the same rows in two sweeps instead of three (the top-50 scan
// gives the max): the values lens_normalize and lens_topk give.
static void next_normalize_topk(const LensRun *lr, const LensDist *D, int n, LensNorm *N, int32_t *ids,
                                double *probs, double *logits) {
    float *x = falloc((size_t)n * LENS_NEXT_TOPK);
    lens_normalize_topk(&lr->sh, D, n, LENS_NEXT_TOPK, N, ids, x, probs);
    for (size_t i = 0; i < (size_t)n * LENS_NEXT_TOPK; i++) logits[i] = x[i];
    free(x);
}

// ---------------------------------------------------------------------------- one pass at NEXT

void lens_next_metrics(const LensRun *lr, const LensPassSpec *ps, const float *resid, const float *zn,
                       const float *ynext, LensAt pbase, LensPassSummary *out) {
    const Model *m = lr->m;
    const LensShard *sh = &lr->sh;
    int n = n_layers(lr), n1 = n + 1, d = m->cfg.d_model, T = ps->T, vl = sh->vl, K50 = LENS_NEXT_TOPK;
    LensAt nnext = {LENS_NORM, LG_NEXT, ps->name}, rnext = {LENS_RAW, LG_NEXT, ps->name},
           qnext = {LENS_POST_LN2, LG_NEXT, ps->name};

    LensDist Y = lens_dist(ynext);
    LensNorm NY;
    lens_normalize(sh, &Y, 1, &NY);
    LensPair tpair;
    lens_pair(sh, &Y, &NY, NULL, NULL, 1, LP_HP, &tpair);
    double teacher_bits = lens_bits(tpair.h_p);
    lens_sink_attr_f64(lr->sink, pbase, LF_TEACHER_ENTROPY_BITS, teacher_bits);
    int32_t ftop;
    double fprob;
    lens_topk(sh, &Y, &NY, 1, 1, &ftop, NULL, &fprob);

    // ---- norm lens at NEXT
    LensDist *D = dists_of_rows(zn, vl, n1), *YD = dists_repeat(ynext, n1);
    LensNorm *N = xmalloc(sizeof(LensNorm) * n1), *NYr = norms_repeat(&NY, n1);

    int32_t *top_ids = ialloc((size_t)n1 * K50);
    double *top_probs = dalloc((size_t)n1 * K50), *top_logits = dalloc((size_t)n1 * K50);
    next_normalize_topk(lr, D, n1, N, top_ids, top_probs, top_logits);
    put_next_topk(lr, nnext, n1, top_ids, top_probs, top_logits);

    double *v = dalloc(n1), *v2 = dalloc(n1);
    int32_t *iv = ialloc(n1);
    for (int L = 0; L < n1; L++) v[L] = lens_bits(N[L].H_nats);
    put_f64(lr, nnext, LF_ENTROPY_BITS, 1, n1, 0, 0, v);

    LensPair *pr = xmalloc(sizeof(LensPair) * n1);
    lens_pair(sh, D, N, YD, NYr, n1, LP_KL_PQ | LP_HP, pr);
    for (int L = 0; L < n1; L++) v[L] = lens_bits(pr[L].h_p);
    put_f64(lr, nnext, LF_ENTROPY_BITS_PV, 1, n1, 0, 0, v);
    for (int L = 0; L < n1; L++) v[L] = lens_bits(pr[L].kl_pq);
    put_f64(lr, nnext, LF_KL_TO_FINAL_BITS, 1, n1, 0, 0, v);
    out->kl_last_bits = v[n];

    tracked(lr, D, N, n1, ps->answer_id, v, v2, iv);
    put_f64(lr, nnext, LF_P_ANSWER, 1, n1, 0, 0, v);
    put_f64(lr, nnext, LF_ANSWER_LOGIT, 1, n1, 0, 0, v2);
    put_i32(lr, nnext, LF_ANSWER_RANK, 1, n1, 0, 0, iv);
    out->first_rank1 = -1;
    for (int L = 0; L < n1; L++)
        if (iv[L] == 1) { out->first_rank1 = L; break; }
    out->teacher_entropy_bits = teacher_bits;
    out->final_top1 = ftop;
    out->final_top1_prob = fprob;

    tracked(lr, D, N, n1, ps->contrast_id, v, NULL, NULL);
    put_f64(lr, nnext, LF_P_CONTRAST, 1, n1, 0, 0, v);

    // KL with the calibrated temperature (§10)
    if (lr->tau) {
        LensDist *DT = dists_of_rows(zn, vl, n1);
        for (int L = 0; L < n1; L++) { DT[L].xf = LX_DIV; DT[L].a = (float)lr->tau[L]; }
        LensNorm *NT = xmalloc(sizeof(LensNorm) * n1);
        lens_normalize(sh, DT, n1, NT);
        lens_pair(sh, DT, NT, YD, NYr, n1, LP_KL_PQ, pr);
        for (int L = 0; L < n1; L++) v[L] = lens_bits(pr[L].kl_pq);
        free(DT); free(NT);
    } else {
        fill_nan(v, n1);
    }
    put_f64(lr, nnext, LF_KL_TO_FINAL_BITS_NORM_TEMP, 1, n1, 0, 0, v);

    // cos_to_final (§5.1): bias-free lens logits vs the head's logits direction
    double *dots = dalloc((size_t)3 * n1);
    lens_dots(sh, D, YD, n1, dots);
    for (int L = 0; L < n1; L++) {
        float ny = (float)sqrt(dots[3 * L + 2]) + 1e-12f, nz = (float)sqrt(dots[3 * L + 1]) + 1e-12f;
        v[L] = (float)(dots[3 * L] / ny) / nz;
    }
    put_f64(lr, nnext, LF_COS_TO_FINAL, 1, n1, 0, 0, v);
    free(dots);

    // echo mass (§7): Σ P[t] over prompt_vocab_ids
    lens_mass_at(sh, D, N, n1, ps->prompt_vocab_ids, ps->n_prompt_vocab, v);
    put_f64(lr, nnext, LF_ECHO_MASS_PROMPT, 1, n1, 0, 0, v);

    // geometry (§7) and normalization effect (§5.2): normalized NEXT residuals, replicated
    float *g = falloc((size_t)n1 * d);
    for (int L = 0; L < n1; L++)
        model_rmsnorm(m, norm_weight(m, L), resid + ((size_t)L * T + T - 1) * d, g + (size_t)L * d, 1);
    {
        int np = ps->n_prompt_vocab;
        int32_t *ids = ialloc(np + 1);
        ids[0] = ps->answer_id;
        memcpy(ids + 1, ps->prompt_vocab_ids, sizeof(int32_t) * np);
        float *W = model_unembed_rows(lr->m, ids, np + 1, lr->comm);
        for (int L = 0; L < n1; L++) {
            const float *gl = g + (size_t)L * d;
            v[L] = ps->answer_id >= 0 ? cos_eps(gl, W, d) : NAN;
            double best = NAN;
            for (int j = 0; j < np; j++) {
                double c = cos_eps(gl, W + (size_t)(j + 1) * d, d);
                if (isnan(best) || c > best) best = c;
            }
            v2[L] = best;
        }
        put_f64(lr, nnext, LF_COS_TO_ANSWER, 1, n1, 0, 0, v);
        put_f64(lr, nnext, LF_COS_TO_PROMPT_MAX, 1, n1, 0, 0, v2);
        free(ids); free(W);
    }
    {
        double *ratio = dalloc(n1), *dcos = dalloc(n1), *rn = dalloc(n1);
        for (int L = 0; L < n1; L++) {
            const float *r = resid + ((size_t)L * T + T - 1) * d, *mm = g + (size_t)L * d;
            float nr = l2f(r, d), nm = l2f(mm, d);
            double dot = 0;
            for (int j = 0; j < d; j++) dot += (double)r[j] * mm[j];
            ratio[L] = (nm + 1e-12f) / (nr + 1e-12f);
            float c = (float)dot / (nr * nm + 1e-12f);
            dcos[L] = c < -1 ? -1 : c > 1 ? 1 : c;
            rn[L] = nr;
            iv[L] = (int32_t)(nonfinite_bits(r, d, 1, 2) | nonfinite_bits(mm, d, 4, 8));
        }
        put_f64(lr, nnext, LF_RESID_NORM_RATIO, 1, n1, 0, 0, ratio);
        put_f64(lr, nnext, LF_DELTA_RESID_COS, 1, n1, 0, 0, dcos);
        put_f64(lr, nnext, LF_RAW_RESID_NORM, 1, n1, 0, 0, rn);
        free(ratio); free(dcos); free(rn);
    }

    // numeric health (§18)
    {
        float *ex = falloc((size_t)4 * n1);
        lens_extremes(sh, D, n1, ex);
        for (int L = 0; L < n1; L++) {
            v[L] = ex[4 * L];
            v2[L] = lens_prob(&N[L], ex[4 * L + 1]);
            iv[L] |= (ex[4 * L + 2] > 0 ? 16 : 0) | (ex[4 * L + 3] > 0 ? 32 : 0);
        }
        put_f64(lr, nnext, LF_MAX_ABS_LOGIT, 1, n1, 0, 0, v);
        put_f64(lr, nnext, LF_MIN_PROB, 1, n1, 0, 0, v2);
        put_i32(lr, nnext, LF_NONFINITE, 1, n1, 0, 0, iv);
        out->nonfinite_layer = -1;
        for (int L = n1 - 1; L >= 0; L--)
            if (iv[L]) { out->nonfinite_layer = L; out->nonfinite_bits = iv[L]; }
        free(ex);
    }

    // gate stability (§16): softmax(s·z)[a] for each scale s
    {
        int S = lr->n_scales;
        double *sp = dalloc((size_t)n1 * (S ? S : 1));
        if (S > 0 && ps->answer_id >= 0) {
            LensDist *DS = xmalloc(sizeof(LensDist) * n1 * S);
            for (int L = 0; L < n1; L++)
                for (int s = 0; s < S; s++) {
                    DS[L * S + s] = lens_dist(zn + (size_t)L * vl);
                    DS[L * S + s].xf = LX_MUL;
                    DS[L * S + s].a = (float)lr->scales[s];
                }
            LensNorm *NS = xmalloc(sizeof(LensNorm) * n1 * S);
            lens_normalize(sh, DS, n1 * S, NS);
            int32_t *ids = ialloc((size_t)n1 * S);
            fill_i32(ids, (size_t)n1 * S, ps->answer_id);
            float *x = falloc((size_t)n1 * S);
            lens_values_at(sh, DS, n1 * S, ids, 1, x);
            for (int i = 0; i < n1 * S; i++) sp[i] = lens_prob(&NS[i], x[i]);
            free(DS); free(NS); free(ids); free(x);
        } else {
            fill_nan(sp, (size_t)n1 * (S ? S : 1));
        }
        if (S > 0) {
            put_f64(lr, nnext, LF_SCALED_P_ANSWER, 2, n1, S, 0, sp);
            lens_sink_array_attr_f64s(lr->sink, nnext, LF_SCALED_P_ANSWER, LF_SCALES, lr->scales, S);
        }
        free(sp);
    }

    float *zx = next_logits_extra(lr, resid, T);

    // decode repeatability (§17.1): second decode of the same NEXT residuals
    {
        float *z2 = zx;
        LensDist *D2 = dists_of_rows(z2, vl, n1);
        LensNorm *N2 = xmalloc(sizeof(LensNorm) * n1);
        int32_t *t1 = ialloc(n1), *t2 = ialloc(n1);
        lens_normalize_topk(sh, D2, n1, 1, N2, t2, NULL, NULL); // top-1 and the max in one sweep
        for (int L = 0; L < n1; L++) t1[L] = top_ids[(size_t)L * K50];
        float *x = falloc(n1);
        lens_values_at(sh, D2, n1, t1, 1, x);
        int64_t *above = xmalloc(sizeof(int64_t) * n1);
        lens_count_above(sh, D2, N2, n1, t1, x, 1, 0, above);
        for (int L = 0; L < n1; L++) { iv[L] = above[L] < 0 ? -1 : (int32_t)above[L]; }
        put_i32(lr, nnext, LF_REPEAT_RANK_DEV, 1, n1, 0, 0, iv);
        for (int L = 0; L < n1; L++) iv[L] = t1[L] != t2[L];
        put_i32(lr, nnext, LF_REPEAT_TOP1_FLIP, 1, n1, 0, 0, iv);
        free(D2); free(N2); free(t1); free(t2); free(x); free(above);
    }

    // last-layer temperature probe (§9) and head transforms
    {
        int nt = lr->n_last_temps;
        if (nt > 0) {
            LensDist *DT = xmalloc(sizeof(LensDist) * nt);
            for (int i = 0; i < nt; i++) {
                DT[i] = lens_dist(zn + (size_t)n * vl);
                DT[i].xf = LX_DIV;
                DT[i].a = (float)lr->last_temps[i];
            }
            LensNorm *NT = xmalloc(sizeof(LensNorm) * nt);
            lens_normalize(sh, DT, nt, NT);
            LensDist *YT = dists_repeat(ynext, nt);
            LensNorm *NYT = norms_repeat(&NY, nt);
            LensPair *pt = xmalloc(sizeof(LensPair) * nt);
            lens_pair(sh, DT, NT, YT, NYT, nt, LP_KL_PQ, pt);
            double *kl = dalloc(nt);
            for (int i = 0; i < nt; i++) kl[i] = lens_bits(pt[i].kl_pq);
            put_f64(lr, nnext, LF_LAST_TEMP_KL, 1, nt, 0, 0, kl);
            lens_sink_array_attr_f64s(lr->sink, nnext, LF_LAST_TEMP_KL, LF_TEMPS, lr->last_temps, nt);
            free(DT); free(NT); free(YT); free(NYT); free(pt); free(kl);
        }
        // §9 transforms: scale (no family has a logit scale), softcap (Gemma-2's final cap),
        // scale_then_softcap (needs both). NaN when not applied.
        double tk[3] = {NAN, NAN, NAN};
        double cap = LW_FAMILIES[m->cfg.family].has_softcaps ? m->cfg.final_softcap : 0;
        if (lr->transforms_known && cap > 0) {
            LensDist DC = lens_dist(zn + (size_t)n * vl);
            DC.xf = LX_SOFTCAP;
            DC.a = (float)cap;
            LensNorm NC;
            lens_normalize(sh, &DC, 1, &NC);
            LensPair pc;
            lens_pair(sh, &DC, &NC, &Y, &NY, 1, LP_KL_PQ, &pc);
            tk[1] = lens_bits(pc.kl_pq);
        }
        put_f64(lr, nnext, LF_TRANSFORM_KL, 1, 3, 0, 0, tk);
    }

    // ---- raw lens at NEXT (§4.2, §8.3)
    if (lr->want_raw) {
        float *zr = zx + (size_t)n1 * vl;
        LensDist *DR = dists_of_rows(zr, vl, n1);
        LensNorm *NR = xmalloc(sizeof(LensNorm) * n1);
        int32_t *rids = ialloc((size_t)n1 * K50);
        double *rp = dalloc((size_t)n1 * K50), *rl = dalloc((size_t)n1 * K50);
        next_normalize_topk(lr, DR, n1, NR, rids, rp, rl);
        put_next_topk(lr, rnext, n1, rids, rp, rl);
        tracked(lr, DR, NR, n1, ps->answer_id, v, NULL, iv);
        put_f64(lr, rnext, LF_P_ANSWER, 1, n1, 0, 0, v);
        put_i32(lr, rnext, LF_ANSWER_RANK, 1, n1, 0, 0, iv);
        lens_pair(sh, D, N, DR, NR, n1, LP_KL_PQ | LP_KL_QP | LP_L1 | LP_SUMS | LP_HQ, pr);
        double *msum = dalloc(n1), *js = dalloc(n1);
        for (int L = 0; L < n1; L++) v[L] = lens_bits(pr[L].h_q);
        put_f64(lr, rnext, LF_ENTROPY_BITS_PV, 1, n1, 0, 0, v);
        for (int L = 0; L < n1; L++) v[L] = lens_bits(pr[L].kl_pq);
        put_f64(lr, rnext, LF_KL_NORM_VS_RAW_BITS, 1, n1, 0, 0, v);
        for (int L = 0; L < n1; L++) v[L] = lens_bits(pr[L].kl_qp);
        put_f64(lr, rnext, LF_KL_RAW_TO_NORM_BITS, 1, n1, 0, 0, v);
        for (int L = 0; L < n1; L++) v[L] = pr[L].l1;
        put_f64(lr, rnext, LF_L1_PROB_DIFF, 1, n1, 0, 0, v);
        for (int L = 0; L < n1; L++) msum[L] = 0.5 * (pr[L].sum_p + pr[L].sum_q);
        lens_js(sh, D, N, DR, NR, n1, msum, js);
        for (int L = 0; L < n1; L++) v[L] = lens_bits(js[L]);
        put_f64(lr, rnext, LF_JS_DIVERGENCE, 1, n1, 0, 0, v);
        // ranks under the raw lens of the norm lens's top-50 (full sort: p desc, id asc)
        float *x = falloc((size_t)n1 * K50);
        lens_values_at(sh, DR, n1, top_ids, K50, x);
        int64_t *above = xmalloc(sizeof(int64_t) * n1 * K50);
        lens_count_above(sh, DR, NR, n1, top_ids, x, K50, 1, above);
        int32_t *rk = ialloc((size_t)n1 * K50);
        for (size_t i = 0; i < (size_t)n1 * K50; i++) rk[i] = above[i] < 0 ? -1 : (int32_t)(above[i] + 1);
        put_i32(lr, rnext, LF_RANKS_OF_NORM_TOP50, 2, n1, K50, 0, rk);
        free(DR); free(NR); free(rids); free(rp); free(rl); free(msum); free(js); free(x); free(above);
        free(rk);
    }

    // ---- post_ln2 decoding point at NEXT (§14): rows L = 1..n, row 0 missing
    if (n >= 1) {
        float *zq = zx + (size_t)2 * n1 * vl;
        LensDist *DQ = dists_of_rows(zq, vl, n);
        LensNorm *NQ = xmalloc(sizeof(LensNorm) * n);
        int32_t *qids = ialloc((size_t)n1 * K50);
        double *qp = dalloc((size_t)n1 * K50), *ql = dalloc((size_t)n1 * K50);
        fill_i32(qids, K50, -1);
        fill_nan(qp, K50);
        fill_nan(ql, K50);
        next_normalize_topk(lr, DQ, n, NQ, qids + K50, qp + K50, ql + K50);
        put_next_topk(lr, qnext, n1, qids, qp, ql);
        v[0] = NAN;
        iv[0] = -1;
        tracked(lr, DQ, NQ, n, ps->answer_id, v + 1, NULL, iv + 1);
        put_f64(lr, qnext, LF_P_ANSWER, 1, n1, 0, 0, v);
        put_i32(lr, qnext, LF_ANSWER_RANK, 1, n1, 0, 0, iv);
        free(DQ); free(NQ); free(qids); free(qp); free(ql);
    }

    logits_free(lr, zx);
    free(D); free(YD); free(N); free(NYr); free(top_ids); free(top_probs); free(top_logits);
    free(v); free(v2); free(iv); free(pr); free(g);
}
