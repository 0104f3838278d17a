// lens_prism — see lens_prism.h. Dataset names and shapes: docs/HDF5.md.
#include "lens/lens_prism.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_internal.h"
#include "lens/lens_ordered.h"
#include "util/util.h"

// Prism logits of one GEMM chunk stay below this many bytes per rank (as the norm lens's).
#define PRISM_CHUNK_BYTES ((size_t)256 << 20)

int lens_prism_open(const LwRunConfig *cfg, const ModelConfig *mc, LensPrism *lp, LwError *err) {
    memset(lp, 0, sizeof *lp);
    const char *dir = cfg->prism_dir ? cfg->prism_dir : "";
    char sha[65];
    int rc = lens_artifact_dir(cfg, "prism", "prism_dir", dir, "fit-prism", "Prism", "prism.safetensors, provenance.json", sha, err);
    if (rc <= 0) return rc;
    if (prism_artifact_load(dir, mc->d_model, sha, &lp->art, err)) return -1;
    if (prism_artifact_check_model(&lp->art, dir, mc->n_layers, mc->vocab, err)) { prism_artifact_free(&lp->art); return -1; }
    lp->on = 1;
    lp->dir = dir;
    lp->transposed = cfg->quirk_prism_transposed;
    if (!lp->transposed) { // the fitted map Q·e on column vectors = row vector times Qᵀ
        int d = lp->art.d;
        float *qt = xmalloc(sizeof(float) * (size_t)d * d);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) qt[(size_t)j * d + i] = lp->art.Q[(size_t)i * d + j];
        free(lp->art.Q);
        lp->art.Q = qt;
    }
    return 0;
}

void lens_prism_free(LensPrism *lp) {
    if (lp->on) prism_artifact_free(&lp->art);
    if (lp->qt) lp->qt_bk->free(lp->qt);
    memset(lp, 0, sizeof *lp);
}

void lens_prism_write_meta(const LensRun *lr, const LensPrism *lp) {
    if (!lp->on) return;
    LensAt at = {LENS_PRISM, LG_LENS, NULL};
    lens_sink_attr_str(lr->sink, at, LF_ARTIFACT_PATH, lp->dir);
    lens_sink_attr_int(lr->sink, at, LF_K, lp->art.k);
    lens_sink_attr_str(lr->sink, at, LF_LAYERS, lp->art.layers);
    lens_sink_attr_str(lr->sink, at, LF_CONFIG_SHA256, lp->art.config_sha256);
    lens_sink_attr_int(lr->sink, at, LF_TRANSPOSED, lp->transposed);
}

// ---------------------------------------------------------------------------- the map

// y[rows, d] = ((x − μ) / sqrt(σ² + ε_w)) · Q: the whitening per element in double, rounded to
// fp32, then one matmul_exact against the weight W = Qᵀ ([out, in] = [d, d], so y_j = Σ_i z_i Q_ij).
static void rotate(const Model *m, LensPrism *lp, const float *x, int rows, float *y) {
    const Backend *bk = m->backend;
    const PrismArtifact *a = &lp->art;
    int d = a->d;
    size_t bytes_w = sizeof(float) * (size_t)d * d, bytes = sizeof(float) * (size_t)rows * d;
    if (!lp->qt) {
        float *t = falloc((size_t)d * d);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) t[(size_t)j * d + i] = a->Q[(size_t)i * d + j];
        lp->qt = bk->alloc(bytes_w);
        lp->qt_bk = bk;
        bk->upload(lp->qt, t, bytes_w);
        free(t);
    }
    double *inv = dalloc(d);
    for (int i = 0; i < d; i++) inv[i] = sqrt((double)a->var[i] + PRISM_EPS_W);
    float *z = falloc((size_t)rows * d);
    for (size_t r = 0; r < (size_t)rows; r++)
        for (int i = 0; i < d; i++) z[r * d + i] = (float)(((double)x[r * d + i] - a->mean[i]) / inv[i]);
    if (bk->host_memory) {
        bk->matmul_exact(z, rows, DT_F32, lp->qt, d, d, NULL, y);
    } else {
        float *dz = bk->alloc(bytes), *dy = bk->alloc(bytes);
        bk->upload(dz, z, bytes);
        bk->matmul_exact(dz, rows, DT_F32, lp->qt, d, d, NULL, dy);
        bk->download(y, dy, bytes);
        bk->free(dz);
        bk->free(dy);
    }
    free(inv);
    free(z);
}

// ---------------------------------------------------------------------------- one pass

void lens_prism_pass(const LensRun *lr, LensPrism *lp, const LensPassSpec *ps, const float *resid) {
    if (!lp->on) return;
    const Model *m = lr->m;
    const LensShard *sh = &lr->sh;
    int n = m->cfg.n_layers, n1 = n + 1, d = m->cfg.d_model, T = ps->T, vl = sh->vl, K = lr->topk_all, K50 = LENS_NEXT_TOPK;
    int t0 = lr->positions > 0 && lr->positions < T ? T - (int)lr->positions : 0, Tp = T - t0;
    size_t rows = (size_t)n1 * Tp;
    LensAt base = {LENS_PRISM, LG_ALL, ps->name}, next = {LENS_PRISM, LG_NEXT, ps->name};

    // the Prism input of every (layer, position): normalized as the norm lens (§4.1), or raw
    // (quirk off); then whitened and rotated, all rows at once (the same rows on every rank)
    float *x = falloc(rows * d);
    for (int L = 0; L < n1; L++) {
        const float *h = resid + ((size_t)L * T + t0) * d;
        float *xl = x + (size_t)L * Tp * d;
        if (lp->transposed) model_rmsnorm(m, L < n ? m->layers[L].ln_in : m->ln_final, h, xl, Tp);
        else memcpy(xl, h, sizeof(float) * (size_t)Tp * d);
    }
    float *y = falloc(rows * d);
    rotate(m, lp, x, (int)rows, y);
    free(x);

    // all positions: entropy and top-K, in row chunks of one GEMM each
    size_t chunk = PRISM_CHUNK_BYTES / ((size_t)vl * sizeof(float));
    if (chunk < 1) chunk = 1;
    if (chunk > rows) chunk = rows;
    double *H = dalloc((size_t)n1 * T), *tp = dalloc((size_t)n1 * T * K);
    int32_t *tid = ialloc((size_t)n1 * T * K);
    for (size_t i = 0; i < (size_t)n1 * T; i++) H[i] = NAN;
    for (size_t i = 0; i < (size_t)n1 * T * K; i++) { tid[i] = -1; tp[i] = NAN; }
    float *z = logits_alloc(lr, chunk * vl), *znext = logits_alloc(lr, (size_t)n1 * vl); // backend memory
    LensNorm *N = xmalloc(sizeof(LensNorm) * chunk);
    LensDist *D = xmalloc(sizeof(LensDist) * chunk);
    int32_t *cid = ialloc(chunk * K);
    double *cp = dalloc(chunk * K);
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        model_unembed_bk(m, y + r0 * d, (int)nr, z);
        for (size_t r = 0; r < nr; r++) D[r] = lens_dist(z + r * vl);
        lens_ordered_normalize(sh, D, (int)nr, N);
        lens_topk(sh, D, N, (int)nr, K, cid, NULL, cp);
        for (size_t r = 0; r < nr; r++) {
            int L = (int)((r0 + r) / Tp), t = t0 + (int)((r0 + r) % Tp);
            size_t o = (size_t)L * T + t;
            H[o] = lens_bits(N[r].H_nats);
            memcpy(tid + o * K, cid + r * K, sizeof(int32_t) * K);
            memcpy(tp + o * K, cp + r * K, sizeof(double) * K);
            if (t == T - 1) logits_copy(lr, znext + (size_t)L * vl, z + r * vl, vl);
        }
    }
    put_f64(lr, base, LF_ENTROPY_BITS, 2, n1, T, 0, H);
    put_i32(lr, base, LF_TOPK_IDS, 3, n1, T, K, tid);
    put_f64(lr, base, LF_TOPK_PROBS, 3, n1, T, K, tp);
    free(H); free(tp); free(tid); logits_free(lr, z); free(N); free(D); free(cid); free(cp); free(y);

    // NEXT: the metrics of §5 the Prism sidecar carries, against the model head P_final
    float *ynext = logits_alloc(lr, vl);
    model_final_logits_bk(m, resid + ((size_t)n * T + T - 1) * d, 1, ynext);
    LensDist Y = lens_dist(ynext);
    LensNorm NY;
    lens_ordered_normalize(sh, &Y, 1, &NY);
    LensDist *DN = xmalloc(sizeof(LensDist) * n1), *YD = xmalloc(sizeof(LensDist) * n1);
    LensNorm *NN = xmalloc(sizeof(LensNorm) * n1), *NYr = xmalloc(sizeof(LensNorm) * n1);
    for (int L = 0; L < n1; L++) { DN[L] = lens_dist(znext + (size_t)L * vl); YD[L] = Y; NYr[L] = NY; }
    lens_ordered_normalize(sh, DN, n1, NN);

    int32_t *ids50 = ialloc((size_t)n1 * K50), *iv = ialloc(n1);
    float *x50 = falloc((size_t)n1 * K50);
    double *p50 = dalloc((size_t)n1 * K50), *l50 = dalloc((size_t)n1 * K50), *v = dalloc(n1), *v2 = dalloc(n1);
    lens_topk(sh, DN, NN, n1, K50, ids50, x50, p50);
    for (size_t i = 0; i < (size_t)n1 * K50; i++) l50[i] = x50[i];
    put_i32(lr, next, LF_TOP_IDS, 2, n1, K50, 0, ids50);
    put_f64(lr, next, LF_TOP_PROBS, 2, n1, K50, 0, p50);
    put_f64(lr, next, LF_TOP_LOGITS, 2, n1, K50, 0, l50);
    for (int L = 0; L < n1; L++) v[L] = lens_bits(NN[L].H_nats);
    put_f64(lr, next, LF_ENTROPY_BITS, 1, n1, 0, 0, v);

    double *dots = dalloc((size_t)3 * n1);
    lens_ordered_kl(sh, DN, NN, YD, NYr, n1, dots);
    for (int L = 0; L < n1; L++) v[L] = lens_bits(dots[L]);
    put_f64(lr, next, LF_KL_TO_FINAL_BITS, 1, n1, 0, 0, v);

    lens_track_id(sh, DN, NN, n1, ps->answer_id, v, v2, iv);
    put_f64(lr, next, LF_P_ANSWER, 1, n1, 0, 0, v);
    put_f64(lr, next, LF_ANSWER_LOGIT, 1, n1, 0, 0, v2);
    put_i32(lr, next, LF_ANSWER_RANK, 1, n1, 0, 0, iv);
    lens_track_id(sh, DN, NN, n1, ps->contrast_id, v, NULL, NULL);
    put_f64(lr, next, LF_P_CONTRAST, 1, n1, 0, 0, v);

    // cos_to_final (§5.1): v = the Prism logits themselves against the head's logit direction
    lens_ordered_dots(sh, DN, YD, n1, dots);
    double hq;
    lens_ordered_entropy_pv(sh, &Y, &NY, 1, &hq); // the teacher entropy, by the same chained sums
    lens_sink_attr_f64(lr->sink, next, LF_TEACHER_ENTROPY_BITS, lens_bits(hq));
    for (int L = 0; L < n1; L++) {
        float ny = (float)sqrt(dots[3 * L + 2]) + 1e-12f, nz = (float)sqrt(dots[3 * L + 1]) + 1e-12f;
        v[L] = (float)(dots[3 * L] / ny) / nz;
    }
    put_f64(lr, next, LF_COS_TO_FINAL, 1, n1, 0, 0, v);

    // echo mass (§7; the sidecar leaves it empty under quirks.sidecar_empty_columns)
    lens_mass_at(sh, DN, NN, n1, ps->prompt_vocab_ids, ps->n_prompt_vocab, v);
    put_f64(lr, next, LF_ECHO_MASS_PROMPT, 1, n1, 0, 0, v);

    logits_free(lr, ynext); free(DN); free(YD); free(NN); free(NYr); free(ids50); free(iv); free(x50); free(p50); free(l50);
    free(v); free(v2); free(dots); logits_free(lr, znext);
}
