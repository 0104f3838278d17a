// lens_ordered — see lens_ordered.h (moved here from lens_prism.c so that the tuned lens shares it).
#include "lens/lens_ordered.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_internal.h"
#include "util/sha256.h"

void lens_track_id(const LensShard *sh, const LensDist *D, const LensNorm *N, int n, int32_t id, double *p,
                   double *logit, int32_t *rank) {
    if (id < 0) {
        for (int r = 0; r < n; r++) {
            if (p) p[r] = NAN;
            if (logit) logit[r] = NAN;
            if (rank) rank[r] = -1;
        }
        return;
    }
    int32_t *ids = ialloc(n);
    for (int r = 0; r < n; r++) ids[r] = id;
    float *x = falloc(n);
    lens_values_at(sh, D, n, ids, 1, x);
    int64_t *above = xmalloc(sizeof(int64_t) * (n ? n : 1));
    if (rank) lens_count_above(sh, D, N, n, ids, x, 1, 0, above);
    for (int r = 0; r < n; r++) {
        if (p) p[r] = isnan(x[r]) ? NAN : (double)lens_prob(&N[r], x[r]);
        if (logit) logit[r] = x[r];
        if (rank) rank[r] = above[r] < 0 ? -1 : (int32_t)(above[r] + 1);
    }
    free(ids); free(x); free(above);
}

// ---------------------------------------------------------------------------- host rows

// The chained sums below run on the host. On a backend without host_memory the lens logits are
// backend memory (lens_internal.h), so the rows they read are downloaded first: each distinct row
// once (a shared Q row, the model head's, crosses once per call). This is the one host read of
// the learned lenses' logits left (docs/ARCHITECTURE.md); an op continuing the chained sums on
// the device (rows in, the running S, E / KL / dot sums in and out) would remove it. Its bytes are
// printed at exit with LW_CUDA_OP_COUNTS, apart from the backend's own upload counts.
static unsigned long long g_down_bytes;
static int g_down_rank = -1;

static void print_downloads(void) {
    fprintf(stderr, "lens ordered sums (rank %d): lens logits downloaded %llu bytes device to host\n", g_down_rank,
            g_down_bytes);
}

typedef struct {
    const LensDist *D; // rows readable on the host (the caller's D, or own)
    LensDist *own;
    float *buf;
} HostRows;

static HostRows host_rows(const LensShard *sh, const LensDist *D, int n) {
    HostRows h = {D, NULL, NULL};
    const Backend *bk = sh->bk ? sh->bk : backend_default();
    if (!D || n <= 0 || bk->host_memory) return h;
    // distinct backend rows, found through a small open-addressing table of their pointers
    size_t cap = 16;
    while (cap < 2 * (size_t)n) cap <<= 1;
    const float **key = xcalloc(cap, sizeof *key);
    int *slot = xmalloc(sizeof(int) * cap), *row_slot = ialloc(n), nd = 0;
    for (int r = 0; r < n; r++) {
        row_slot[r] = -1;
        if (!D[r].z || (bk->owns && !bk->owns(D[r].z))) continue; // a host row: read where it is
        size_t i = ((uintptr_t)D[r].z >> 2) * 0x9E3779B97F4A7C15ull & (cap - 1);
        while (key[i] && key[i] != D[r].z) i = (i + 1) & (cap - 1);
        if (!key[i]) { key[i] = D[r].z; slot[i] = nd++; }
        row_slot[r] = slot[i];
    }
    h.own = xmalloc(sizeof(LensDist) * n);
    h.buf = falloc((size_t)nd * sh->vl);
    for (int r = 0; r < n; r++) {
        h.own[r] = D[r];
        if (row_slot[r] < 0) continue;
        h.own[r].z = h.buf + (size_t)row_slot[r] * sh->vl;
    }
    for (size_t i = 0; i < cap; i++)
        if (key[i]) bk->download(h.buf + (size_t)slot[i] * sh->vl, key[i], sizeof(float) * sh->vl);
    if (getenv("LW_CUDA_OP_COUNTS")) {
        if (g_down_rank < 0) {
            g_down_rank = sh->comm ? sh->comm->rank : 0;
            atexit(print_downloads);
        }
        g_down_bytes += (unsigned long long)nd * sh->vl * sizeof(float);
    }
    free(key); free(slot); free(row_slot);
    h.D = h.own;
    return h;
}

static void host_rows_free(HostRows *h) {
    free(h->own);
    free(h->buf);
}

// The transformed logits of row d: d->z itself (identity), else written into scratch [vl].
static const float *row_x(const LensDist *d, int vl, float *scratch) {
    if (d->xf == LX_IDENT) return d->z;
    for (int v = 0; v < vl; v++) scratch[v] = lens_x(d, d->z[v]);
    return scratch;
}

// ---------------------------------------------------------------------------- sums in index order

typedef void (*ChainFn)(const void *ctx, int row, double *acc);

static void chain(const LensShard *sh, int n, int k, ChainFn fn, const void *ctx, double *acc) {
    int R = sh->comm ? sh->comm->size : 1, me = sh->comm ? sh->comm->rank : 0;
    memset(acc, 0, sizeof(double) * (size_t)n * k);
    for (int q = 0; q < R; q++) {
        if (q == me)
            for (int r = 0; r < n; r++) fn(ctx, r, acc + (size_t)r * k);
        if (R > 1) comm_bcast(sh->comm, acc, sizeof(double) * (size_t)n * k, q);
    }
}

typedef struct {
    const LensDist *P, *Q;   // host rows (host_rows), their transforms applied by row_x
    const LensNorm *nP, *nQ;
    int vl;
    float *sp, *sq;          // row_x's scratch [vl] for P and Q
} ChainCtx;

// S = Σ e_v, E = Σ e_v·δ_v with δ_v = x_v − max and e_v = expf(δ_v) in fp32 (the backend's
// softmax-partials definition), in double
static void sums_se(const void *c, int r, double *acc) {
    const ChainCtx *x = c;
    const float *z = row_x(&x->P[r], x->vl, x->sp);
    float m = x->nP[r].max;
    double S = acc[0], E = acc[1];
    for (int v = 0; v < x->vl; v++) {
        float dl = z[v] - m, e = expf(dl);
        S += e;
        if (e > 0) E += (double)e * dl;
    }
    acc[0] = S;
    acc[1] = E;
}

// KL(P‖Q) terms p (ln(p + ε) − ln(q + ε)) in fp32 (lens_stats' guarded form), summed in double
static void sums_kl(const void *c, int r, double *acc) {
    const ChainCtx *x = c;
    const float *zp = row_x(&x->P[r], x->vl, x->sp), *zq = row_x(&x->Q[r], x->vl, x->sq);
    float lp = x->nP[r].lse_f, lq = x->nQ[r].lse_f;
    double s = acc[0];
    for (int v = 0; v < x->vl; v++) {
        float p = expf(zp[v] - lp), q = expf(zq[v] - lq);
        s += p * (logf(p + LENS_EPS) - logf(q + LENS_EPS));
    }
    acc[0] = s;
}

// −Σ p ln(p + ε) of the model head Q (probability-vector formula, fp32 terms), in double
static void sums_hq(const void *c, int r, double *acc) {
    const ChainCtx *x = c;
    const float *zq = row_x(&x->Q[r], x->vl, x->sq);
    float lq = x->nQ[r].lse_f;
    double s = acc[0];
    for (int v = 0; v < x->vl; v++) {
        float q = expf(zq[v] - lq);
        s -= q * logf(q + LENS_EPS);
    }
    acc[0] = s;
}

// Σ z·y, Σ z², Σ y² (products of floats, exact in double)
static void sums_dots(const void *c, int r, double *acc) {
    const ChainCtx *x = c;
    const float *zp = row_x(&x->P[r], x->vl, x->sp), *zq = row_x(&x->Q[r], x->vl, x->sq);
    for (int v = 0; v < x->vl; v++) {
        acc[0] += (double)zp[v] * zq[v];
        acc[1] += (double)zp[v] * zp[v];
        acc[2] += (double)zq[v] * zq[v];
    }
}

void lens_ordered_normalize(const LensShard *sh, const LensDist *D, int n, LensNorm *N) {
    HostRows hp = host_rows(sh, D, n);
    float *mx = falloc(n), *sp = falloc(sh->vl);
    for (int r = 0; r < n; r++) {
        const float *x = row_x(&hp.D[r], sh->vl, sp);
        float m = -INFINITY;
        for (int v = 0; v < sh->vl; v++)
            if (x[v] > m) m = x[v]; // a NaN never wins
        mx[r] = m;
    }
    if (sh->comm && sh->comm->size > 1) comm_allreduce_max_f32(sh->comm, mx, n);
    for (int r = 0; r < n; r++) N[r].max = mx[r];
    double *acc = dalloc((size_t)2 * n);
    ChainCtx cx = {hp.D, NULL, N, NULL, sh->vl, sp, NULL};
    chain(sh, n, 2, sums_se, &cx, acc);
    for (int r = 0; r < n; r++) {
        double S = acc[2 * r], E = acc[2 * r + 1];
        if (!isfinite(mx[r]) || !(S > 0)) {
            N[r].lse = NAN; N[r].lse_f = NAN; N[r].H_nats = NAN;
            continue;
        }
        N[r].lse = mx[r] + log(S);
        N[r].lse_f = (float)N[r].lse;
        N[r].H_nats = log(S) - E / S;
    }
    free(mx);
    free(sp);
    free(acc);
    host_rows_free(&hp);
}

// The chained sums fn of n pairs (P may be NULL) with their rows on the host.
static void chain_pairs(const LensShard *sh, const LensDist *P, const LensNorm *nP, const LensDist *Q,
                        const LensNorm *nQ, int n, int k, ChainFn fn, double *acc) {
    HostRows hp = host_rows(sh, P, n), hq = host_rows(sh, Q, n);
    float *sp = falloc(sh->vl), *sq = falloc(sh->vl);
    ChainCtx cx = {hp.D, hq.D, nP, nQ, sh->vl, sp, sq};
    chain(sh, n, k, fn, &cx, acc);
    free(sp); free(sq);
    host_rows_free(&hp);
    host_rows_free(&hq);
}

void lens_ordered_kl(const LensShard *sh, const LensDist *P, const LensNorm *nP, const LensDist *Q, const LensNorm *nQ,
                     int n, double *kl) {
    chain_pairs(sh, P, nP, Q, nQ, n, 1, sums_kl, kl);
}

void lens_ordered_entropy_pv(const LensShard *sh, const LensDist *Q, const LensNorm *nQ, int n, double *h) {
    chain_pairs(sh, NULL, NULL, Q, nQ, n, 1, sums_hq, h);
}

void lens_ordered_dots(const LensShard *sh, const LensDist *P, const LensDist *Q, int n, double *out) {
    chain_pairs(sh, P, NULL, Q, NULL, n, 3, sums_dots, out);
}

static const char *where_of(const LwRunConfig *cfg, const char *name) {
    const LwOption *o = config_option_find(name);
    return o ? cfg->src[o - LW_OPTIONS].where : "config";
}

int lens_artifact_dir(const LwRunConfig *cfg, const char *lens, const char *key, const char *dir, const char *fit_cmd,
                      const char *what, const char *files, char config_sha256[65], LwError *err) {
    int named = 0;
    for (int i = 0; i < cfg->lenses.n; i++) named |= !strcmp(cfg->lenses.v[i], lens);
    if (!dir) dir = "";
    config_sha256[0] = 0;
    char flag[64], hint[512];
    snprintf(flag, sizeof flag, "%s", key);
    for (char *p = flag; *p; p++) if (*p == '_') *p = '-';
    if (!*dir) {
        if (!named) return 0;
        snprintf(hint, sizeof hint, "set %s (--%s DIR) to a directory written by `lensweep %s`, or drop %s from lenses", key, flag,
                 fit_cmd, lens);
        return lw_err(err, hint, "%s: lenses: %s needs a fitted %s artifact, but %s is empty", where_of(cfg, "lenses"), lens, what, key);
    }
    if (!lw_is_dir(dir)) {
        snprintf(hint, sizeof hint, "name the directory `lensweep %s --out DIR` wrote (%s)", fit_cmd, files);
        return lw_err(err, hint, "%s: %s: %s is not a directory", where_of(cfg, key), key, dir);
    }
    // config.json's hash ties the artifact to the checkpoint (the fit records it; GGUF: none)
    if (lw_is_dir(cfg->model_dir)) {
        char *cp = xasprintf("%s/config.json", cfg->model_dir);
        int rc = lw_file_exists(cp) ? lw_sha256_file(cp, config_sha256, err) : 0;
        free(cp);
        if (rc) return -1;
    }
    return 1;
}
