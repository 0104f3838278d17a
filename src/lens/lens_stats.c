// lens_stats — see lens_stats.h. The local passes over the shard are the backend's lens ops
// (backend.h: lens_scan, lens_sums, lens_values, lens_pair, lens_js, lens_dots, lens_extremes);
// what is left here is the host merges and the collectives: each function ends in exactly one
// small collective (lens_normalize: two).
#include "lens/lens_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define LN2 0.69314718055994530942

static void allreduce_max_f32(const LensShard *sh, float *b, size_t n) { if (sh->comm) comm_allreduce_max_f32(sh->comm, b, n); }
static void allreduce_sum_f64(const LensShard *sh, double *b, size_t n) { if (sh->comm) comm_allreduce_sum_f64(sh->comm, b, n); }
static void allreduce_sum_i64(const LensShard *sh, int64_t *b, size_t n) { if (sh->comm) comm_allreduce_sum_i64(sh->comm, b, n); }

// ---------------------------------------------------------------------------- normalization

static const Backend *shard_backend(const LensShard *sh) { return sh->bk ? sh->bk : backend_default(); }

static LogitXform xform_of(const LensDist *d) { return (LogitXform){(LogitXformKind)d->xf, d->a, d->b}; }

// The rows of n distributions as the per-row lens ops take them: row pointers, transforms and
// (nrm given) the fp32 log-sum-exps. One allocation; free(rows->z).
typedef struct {
    const float **z;
    LogitXform *xf;
    float *lse;
} DistRows;

static DistRows dist_rows(const LensDist *d, const LensNorm *nrm, int n) {
    size_t m = n > 0 ? (size_t)n : 1;
    char *buf = xmalloc(m * (sizeof(float *) + sizeof(LogitXform) + sizeof(float)));
    DistRows o = {(const float **)buf, (LogitXform *)(buf + m * sizeof(float *)),
                  (float *)(buf + m * (sizeof(float *) + sizeof(LogitXform)))};
    for (int r = 0; r < n; r++) {
        o.z[r] = d[r].z;
        o.xf[r] = xform_of(&d[r]);
        o.lse[r] = nrm ? nrm[r].lse_f : 0.0f;
    }
    return o;
}

// One row of softmax partials. The logits d->z are backend memory (the lens's chunk; a host row,
// from a lens path that still decodes into host memory, is uploaded first); on a backend whose
// memory is not host memory the results go through backend copies.
static void row_partials(const Backend *bk, const float *z, int vl, const LogitXform *xf, const float *m_in,
                         float *mx, double *S, double *E) {
    if (bk->host_memory) {
        bk->softmax_partials(z, 1, vl, (size_t)vl, xf, m_in, mx, S, E);
        return;
    }
    int owned = bk->owns(z);
    float *dz = owned ? (float *)z : bk->alloc((size_t)vl * sizeof(float)), *dmx = mx ? bk->alloc(sizeof(float)) : NULL;
    double *dse = S ? bk->alloc(2 * sizeof(double)) : NULL;
    if (!owned) bk->upload(dz, z, (size_t)vl * sizeof(float));
    bk->softmax_partials(dz, 1, vl, (size_t)vl, xf, m_in, dmx, dse, dse ? dse + 1 : NULL);
    if (mx) bk->download(mx, dmx, sizeof(float));
    if (S) { bk->download(S, dse, sizeof(double)); bk->download(E, dse + 1, sizeof(double)); }
    if (!owned) bk->free(dz);
    bk->free(dmx); bk->free(dse);
}

// The vl logits at z readable on the host: z itself (host memory), else a download of the row
// into *tmp (backend memory: the lens's chunk on a GPU), which the caller frees.
static const float *host_row(const Backend *bk, const float *z, int vl, float **tmp) {
    *tmp = NULL;
    if (bk->host_memory || !bk->owns(z)) return z;
    *tmp = xmalloc(sizeof(float) * (vl > 0 ? (size_t)vl : 1));
    bk->download(*tmp, z, sizeof(float) * (size_t)vl);
    return *tmp;
}

// The local max and the sums of one distribution: the backend's fused lens ops (one sweep each,
// backend.h lens_scan / lens_sums) where it has them, else its softmax partials.
static float local_max(const Backend *bk, const LensDist *d, int vl) {
    LogitXform xf = xform_of(d);
    float m = -INFINITY;
    if (vl <= 0) return m;
    if (bk->lens_scan) bk->lens_scan(d->z, 1, vl, (size_t)vl, &xf, 0, 0, &m, NULL, NULL);
    else row_partials(bk, d->z, vl, &xf, NULL, &m, NULL, NULL);
    return m;
}

static void local_sums(const Backend *bk, int fast_exp, const LensDist *d, int vl, float m, double *S, double *E) {
    LogitXform xf = xform_of(d);
    *S = 0.0;
    *E = 0.0;
    if (vl <= 0) return;
    if (bk->lens_sums) bk->lens_sums(d->z, 1, vl, (size_t)vl, &xf, &m, fast_exp, 0, 0, NULL, S, E, NULL, NULL);
    else row_partials(bk, d->z, vl, &xf, &m, NULL, S, E);
}

float lens_local_max(const LensDist *d, int vl) { return local_max(backend_default(), d, vl); }

void lens_local_sums(const LensDist *d, int vl, float m, double *S, double *E) {
    local_sums(backend_default(), 0, d, vl, m, S, E);
}

static void norm_finish(LensNorm *o, float m, double S, double E) {
    o->max = m;
    o->lse = (double)m + log(S);
    o->lse_f = (float)o->lse;
    o->H_nats = log(S) - E / S;
}

// Every transform is non-decreasing in z (positive factors; tanh), so max x = x(max z): the max
// pass runs once per distinct logit row (temperature grids share one row across many dists).
void lens_normalize(const LensShard *sh, const LensDist *d, int n, LensNorm *out) {
    const Backend *bk = shard_backend(sh);
    float *m = xmalloc(sizeof(float) * (n ? n : 1));
    double *se = xmalloc(sizeof(double) * 2 * (n ? n : 1));
    const float *last_z = NULL;
    float last_max = -INFINITY;
    for (int r = 0; r < n; r++) {
        int monotone = d[r].xf == LX_IDENT || d[r].a > 0;
        if (!monotone) { m[r] = local_max(bk, &d[r], sh->vl); continue; }
        if (d[r].z != last_z) {
            LensDist raw = lens_dist(d[r].z);
            last_max = local_max(bk, &raw, sh->vl);
            last_z = d[r].z;
        }
        m[r] = isinf(last_max) && last_max < 0 ? last_max : lens_x(&d[r], last_max);
    }
    allreduce_max_f32(sh, m, n);
    for (int r = 0; r < n; r++) local_sums(bk, sh->fast_exp, &d[r], sh->vl, m[r], &se[2 * r], &se[2 * r + 1]);
    allreduce_sum_f64(sh, se, 2 * (size_t)n);
    for (int r = 0; r < n; r++) norm_finish(&out[r], m[r], se[2 * r], se[2 * r + 1]);
    free(m);
    free(se);
}

// ---------------------------------------------------------------------------- tracked tokens

void lens_values_at(const LensShard *sh, const LensDist *d, int n, const int32_t *ids, int nids, float *out) {
    size_t N = (size_t)n * nids;
    DistRows dr = dist_rows(d, NULL, n);
    shard_backend(sh)->lens_values(dr.z, dr.xf, n, sh->vl, sh->v0, nids, ids, out);
    free(dr.z);
    allreduce_max_f32(sh, out, N);
    for (size_t i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= sh->V) out[i] = NAN;
}

void lens_mass_at(const LensShard *sh, const LensDist *d, const LensNorm *nrm, int n, const int32_t *ids, int nids,
                  double *out) {
    if (nids <= 0) {
        for (int r = 0; r < n; r++) out[r] = 0.0;
        return;
    }
    int32_t *rid = xmalloc(sizeof(int32_t) * (size_t)n * nids);
    for (int r = 0; r < n; r++) memcpy(rid + (size_t)r * nids, ids, sizeof(int32_t) * nids);
    float *x = xmalloc(sizeof(float) * (size_t)n * nids);
    lens_values_at(sh, d, n, rid, nids, x);
    for (int r = 0; r < n; r++) {
        double s = 0;
        for (int j = 0; j < nids; j++) s += lens_prob(&nrm[r], x[(size_t)r * nids + j]);
        out[r] = s;
    }
    free(rid);
    free(x);
}

// Tracked token j "comes after" a vocabulary entry (p, v) when p > p_j, or (tie_by_id) p == p_j
// and v < t_j. Thresholds are sorted in that order (p desc, id asc), so for each entry the
// thresholds it beats form a suffix of the sorted list: one binary search per entry and a
// difference array give all counts in O(vl · log nt), whatever nt is.
typedef struct { float p; int32_t id; int j; } Thr;

static int thr_cmp(const void *a, const void *b) {
    const Thr *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int entry_before(float p, int32_t v, const Thr *t, int tie_by_id) {
    return p > t->p || (tie_by_id && p == t->p && v < t->id);
}

static void count_above_host(const LensShard *sh, const LensDist *d, const LensNorm *nrm, int n, const int32_t *ids,
                             const float *xs, int nt, int tie_by_id, int64_t *out) {
    size_t N = (size_t)n * nt;
    Thr *thr = xmalloc(sizeof(Thr) * (nt ? nt : 1));
    int64_t *diff = xmalloc(sizeof(int64_t) * (nt + 1));
    for (int r = 0; r < n; r++) {
        const LensDist *dr = &d[r];
        int m = 0;
        for (int j = 0; j < nt; j++) {
            float pt = lens_prob(&nrm[r], xs[(size_t)r * nt + j]);
            out[(size_t)r * nt + j] = 0;
            if (!isnan(pt)) thr[m++] = (Thr){pt, ids[(size_t)r * nt + j], j};
        }
        qsort(thr, m, sizeof *thr, thr_cmp);
        memset(diff, 0, sizeof(int64_t) * (nt + 1));
        for (int v = 0; v < sh->vl; v++) {
            float p = lens_prob(&nrm[r], lens_x(dr, dr->z[v]));
            int32_t id = sh->v0 + v;
            if (m == 0 || !entry_before(p, id, &thr[m - 1], tie_by_id)) continue; // beats none (most entries)
            int lo = 0, hi = m - 1; // first threshold the entry comes before
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (entry_before(p, id, &thr[mid], tie_by_id)) hi = mid; else lo = mid + 1;
            }
            diff[lo]++;
        }
        int64_t run = 0;
        for (int i = 0; i < m; i++) { run += diff[i]; out[(size_t)r * nt + thr[i].j] = run; }
    }
    allreduce_sum_i64(sh, out, N);
    for (size_t i = 0; i < N; i++)
        if (isnan(xs[i])) out[i] = -1;
    free(thr);
    free(diff);
}

// With the backend's lens_sums the counts are comparisons of logits, no exp per entry. Both
// fl(x − L) and expf are non-decreasing in x (L = lse_f), so p_v > p_t needs x_v > x_t; and for
// x_v > x_t + δ it is certain: with a = fl(x − L), L ≥ every x (so |a_v| ≤ |a_t| + δ), each
// a is within |a|·2^-24 of x − L, so a_v − a_t > 2^-21 and exp's true values differ by more than
// 2^-21 relative, 8 ulps of a normal fp32: expf's rounding (< 1 ulp in glibc) cannot tie or swap
// them. The same holds below x_t − δ (tie_by_id). Entries within δ of x_t ("the band": expected
// count ~1e-6·vl) are counted exactly afterwards, with their p; so are thresholds whose p_t may be
// subnormal or whose L or x_t is not finite (the whole row, as count_above_host does).
static void rank_threshold(float xt, int32_t id, float L, int tie_by_id, LensThreshold *th, int *exact) {
    th->id = id;
    th->lo = th->hi = INFINITY; // counts nothing: the exact pass or the NaN rule decides
    *exact = 0;
    if (isnan(xt)) return;
    float pt = expf(xt - L);
    if (!isfinite(xt) || !isfinite(L) || !(pt >= 0x1p-125f)) { *exact = 1; return; }
    double at = fabs((double)xt - (double)L) + 1.0;
    double delta = 0x1p-20 + at * 0x1p-21;
    th->hi = nextafterf((float)((double)xt + delta), INFINITY);
    th->lo = tie_by_id ? nextafterf((float)((double)xt - delta), -INFINITY) : xt;
}

void lens_count_above(const LensShard *sh, const LensDist *d, const LensNorm *nrm, int n, const int32_t *ids,
                      const float *xs, int nt, int tie_by_id, int64_t *out) {
    const Backend *bk = shard_backend(sh);
    if (!bk->lens_sums) { count_above_host(sh, d, nrm, n, ids, xs, nt, tie_by_id, out); return; }
    size_t N = (size_t)n * nt;
    LensThreshold *th = xmalloc(sizeof(LensThreshold) * (N ? N : 1));
    int *exact = xmalloc(sizeof(int) * (N ? N : 1));
    int64_t *cnt = xcalloc(2 * N + 1, sizeof(int64_t)); // above [0, N), band [N, 2N)
    for (int r = 0; r < n; r++) {
        for (int j = 0; j < nt; j++) {
            size_t i = (size_t)r * nt + j;
            rank_threshold(xs[i], ids[i], nrm[r].lse_f, tie_by_id, &th[i], &exact[i]);
        }
        if (sh->vl > 0 && nt > 0) {
            LogitXform xf = xform_of(&d[r]);
            bk->lens_sums(d[r].z, 1, sh->vl, (size_t)sh->vl, &xf, NULL, 0, sh->v0, nt, th + (size_t)r * nt, NULL,
                          NULL, cnt + (size_t)r * nt, cnt + N + (size_t)r * nt);
        }
    }
    allreduce_sum_i64(sh, cnt, 2 * N);
    int again = 0; // the same on every rank: exact[] and the band counts are global
    for (size_t i = 0; i < N; i++) again |= exact[i] || cnt[N + i] > 0;
    if (again) {
        int64_t *extra = xcalloc(N + 1, sizeof(int64_t));
        for (int r = 0; r < n; r++) {
            const float *zr = NULL; // the row on the host: downloaded once, when a threshold needs it
            float *tmp = NULL;
            for (int j = 0; j < nt; j++) {
                size_t i = (size_t)r * nt + j;
                if (!exact[i] && cnt[N + i] == 0) continue;
                if (!zr) zr = host_row(bk, d[r].z, sh->vl, &tmp);
                Thr t = {lens_prob(&nrm[r], xs[i]), ids[i], j};
                for (int v = 0; v < sh->vl; v++) {
                    float x = lens_x(&d[r], zr[v]);
                    if (!exact[i] && !(x > th[i].lo && x <= th[i].hi)) continue;
                    if (entry_before(lens_prob(&nrm[r], x), sh->v0 + v, &t, tie_by_id)) extra[i]++;
                }
            }
            free(tmp);
        }
        allreduce_sum_i64(sh, extra, N);
        for (size_t i = 0; i < N; i++) cnt[i] += extra[i];
        free(extra);
    }
    for (size_t i = 0; i < N; i++) out[i] = isnan(xs[i]) ? -1 : cnt[i];
    free(th);
    free(exact);
    free(cnt);
}

// ---------------------------------------------------------------------------- pair sums

void lens_pair(const LensShard *sh, const LensDist *P, const LensNorm *nP, const LensDist *Q, const LensNorm *nQ,
               int n, unsigned what, LensPair *out) {
    enum { NS = 8 };
    double *acc = xcalloc((size_t)n * NS + 1, sizeof(double));
    int need_q = (what & ~(unsigned)LP_HP) != 0;
    LW_ASSERT(!need_q || (Q && nQ));
    DistRows dp = dist_rows(P, nP, n), dq = {NULL, NULL, NULL};
    if (Q && nQ) dq = dist_rows(Q, nQ, n);
    shard_backend(sh)->lens_pair(dp.z, dp.xf, dp.lse, dq.z, dq.xf, dq.lse, n, sh->vl, what, acc);
    free(dp.z);
    free(dq.z);
    allreduce_sum_f64(sh, acc, (size_t)n * NS);
    for (int r = 0; r < n; r++) {
        double *a = acc + (size_t)r * NS;
        out[r] = (LensPair){.kl_pq = a[0], .kl_qp = a[1], .l1 = a[2], .sum_p = a[3], .sum_q = a[4],
                            .h_p = a[5], .h_q = a[6], .ce_qp = a[7]};
    }
    free(acc);
}

void lens_js(const LensShard *sh, const LensDist *P, const LensNorm *nP, const LensDist *Q, const LensNorm *nQ,
             int n, const double *msum, double *js_nats) {
    DistRows dp = dist_rows(P, nP, n), dq = dist_rows(Q, nQ, n);
    shard_backend(sh)->lens_js(dp.z, dp.xf, dp.lse, dq.z, dq.xf, dq.lse, n, sh->vl, msum, js_nats);
    free(dp.z);
    free(dq.z);
    allreduce_sum_f64(sh, js_nats, n);
}

// ---------------------------------------------------------------------------- top-k

typedef struct { float x; int32_t id; } XId;

// a comes before b: larger logit first, then smaller id; padding (id -1) last.
static int xid_before(const XId *a, const XId *b) {
    if ((a->id < 0) != (b->id < 0)) return b->id < 0;
    if (a->x != b->x) return a->x > b->x;
    return a->id < b->id;
}

static int cmp_xid(const void *pa, const void *pb) {
    const XId *a = pa, *b = pb;
    if (xid_before(a, b)) return -1;
    if (xid_before(b, a)) return 1;
    return 0;
}

// Keeps list[0..k) sorted; inserts e when it beats the last entry.
static void topk_insert(XId *list, int k, XId e) {
    if (!xid_before(&e, &list[k - 1])) return;
    int i = k - 1;
    while (i > 0 && xid_before(&e, &list[i - 1])) { list[i] = list[i - 1]; i--; }
    list[i] = e;
}

// Local top-k lists of n rows into local[n*k] (one pass over the shard): the backend's lens_scan
// where it has one, else a host loop.
static void local_topk(const LensShard *sh, const LensDist *d, int n, int k, XId *local) {
    const Backend *bk = shard_backend(sh);
    if (bk->lens_scan && sh->vl > 0) {
        float *tx = xmalloc(sizeof(float) * k);
        int32_t *tid = xmalloc(sizeof(int32_t) * k);
        for (int r = 0; r < n; r++) {
            LogitXform xf = xform_of(&d[r]);
            float m;
            bk->lens_scan(d[r].z, 1, sh->vl, (size_t)sh->vl, &xf, sh->v0, k, &m, tx, tid);
            for (int j = 0; j < k; j++) local[(size_t)r * k + j] = (XId){tx[j], tid[j]};
        }
        free(tx);
        free(tid);
        return;
    }
    for (int r = 0; r < n; r++) {
        XId *list = local + (size_t)r * k;
        for (int j = 0; j < k; j++) list[j] = (XId){NAN, -1};
        for (int v = 0; v < sh->vl; v++) {
            float xv = lens_x(&d[r], d[r].z[v]);
            if (isnan(xv)) continue;
            topk_insert(list, k, (XId){xv, sh->v0 + v});
        }
    }
}

// All-gather of the local lists and merge (value desc, id asc); probabilities from nrm.
static void merge_topk(const LensShard *sh, const LensNorm *nrm, int n, int k, const XId *local, int32_t *ids, float *x,
                       double *probs) {
    int R = sh->comm ? sh->comm->size : 1;
    size_t per = (size_t)n * k;
    XId *all = xmalloc(sizeof(XId) * per * R);
    if (sh->comm && R > 1) comm_allgather(sh->comm, local, all, sizeof(XId) * per);
    else memcpy(all, local, sizeof(XId) * per);
    XId *cand = xmalloc(sizeof(XId) * (size_t)k * R);
    for (int r = 0; r < n; r++) {
        for (int q = 0; q < R; q++) memcpy(cand + (size_t)q * k, all + (size_t)q * per + (size_t)r * k, sizeof(XId) * k);
        qsort(cand, (size_t)k * R, sizeof(XId), cmp_xid);
        for (int j = 0; j < k; j++) {
            size_t o = (size_t)r * k + j;
            ids[o] = cand[j].id;
            if (x) x[o] = cand[j].id < 0 ? NAN : cand[j].x;
            if (probs) probs[o] = cand[j].id < 0 ? NAN : (double)lens_prob(&nrm[r], cand[j].x);
        }
    }
    free(all);
    free(cand);
}

void lens_topk(const LensShard *sh, const LensDist *d, const LensNorm *nrm, int n, int k, int32_t *ids, float *x,
               double *probs) {
    LW_ASSERT(k > 0);
    XId *local = xmalloc(sizeof(XId) * (size_t)n * k);
    local_topk(sh, d, n, k, local);
    merge_topk(sh, nrm, n, k, local, ids, x, probs);
    free(local);
}

void lens_normalize_topk(const LensShard *sh, const LensDist *d, int n, int k, LensNorm *out, int32_t *ids, float *x,
                         double *probs) {
    LW_ASSERT(k > 0);
    XId *local = xmalloc(sizeof(XId) * (size_t)n * k);
    local_topk(sh, d, n, k, local);
    float *m = xmalloc(sizeof(float) * (n ? n : 1));
    double *se = xmalloc(sizeof(double) * 2 * (n ? n : 1));
    for (int r = 0; r < n; r++) m[r] = local[(size_t)r * k].id < 0 ? -INFINITY : local[(size_t)r * k].x; // local max
    allreduce_max_f32(sh, m, n);
    for (int r = 0; r < n; r++)
        local_sums(shard_backend(sh), sh->fast_exp, &d[r], sh->vl, m[r], &se[2 * r], &se[2 * r + 1]);
    allreduce_sum_f64(sh, se, 2 * (size_t)n);
    for (int r = 0; r < n; r++) norm_finish(&out[r], m[r], se[2 * r], se[2 * r + 1]);
    merge_topk(sh, out, n, k, local, ids, x, probs);
    free(m);
    free(se);
    free(local);
}

// ---------------------------------------------------------------------------- dots, health

void lens_dots(const LensShard *sh, const LensDist *P, const LensDist *Q, int n, double *out) {
    DistRows dp = dist_rows(P, NULL, n), dq = dist_rows(Q, NULL, n);
    shard_backend(sh)->lens_dots(dp.z, dp.xf, dq.z, dq.xf, n, sh->vl, out);
    free(dp.z);
    free(dq.z);
    allreduce_sum_f64(sh, out, 3 * (size_t)n);
}

void lens_extremes(const LensShard *sh, const LensDist *d, int n, float *out) {
    DistRows dr = dist_rows(d, NULL, n);
    shard_backend(sh)->lens_extremes(dr.z, dr.xf, n, sh->vl, out); // max |x|, max(−x), NaN, Inf
    free(dr.z);
    allreduce_max_f32(sh, out, 4 * (size_t)n);
    for (int r = 0; r < n; r++) out[4 * r + 1] = -out[4 * r + 1];
}

double lens_bits(double nats) { return nats / LN2; }
