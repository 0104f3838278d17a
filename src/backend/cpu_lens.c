// cpu_lens — see cpu_lens.h. Every loop here runs 8 entries at a time on GCC vector types, in two
// instances (AVX2 and the x86-64 baseline, SSE2) chosen once per call by the CPU's features; no
// FMA is enabled in either and contraction is off for the whole file, so both give the same bits.
#pragma GCC optimize("fp-contract=off")

#include "backend/cpu_lens.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));

// (macros, not functions: a 32-byte vector argument or return value changes the ABI per path)
#define V8_LOAD(p) __extension__({ v8f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define V8_SET1(c) ((v8f){(c), (c), (c), (c), (c), (c), (c), (c)})
#define I8_SET1(c) ((v8i){(c), (c), (c), (c), (c), (c), (c), (c)})
#define V8_BLEND(m, a, b) ((v8f)(((v8i)(a) & (m)) | ((v8i)(b) & ~(m)))) // m ? a : b, per lane

// out = exp(in), 8 lanes. Cody–Waite: n = round(x·log2 e) by the 1.5·2^23 shift (exact for
// |n| < 2^22; x is clamped to [-104, 89] first), r = (x − n·C1) − n·C2 with C1 = 355/512 (n·C1
// exact) and C1 + C2 = ln 2; exp(r) = 1 + r + r²·P(r), Cephes's expf coefficients; 2^n applied as
// 2^(n>>1) · 2^(n − (n>>1)), both normal, so only the last multiply rounds. Below -103.98 the
// result rounds to 0, above 88.73 it overflows to +inf; NaN stays NaN.
#define VEXP8(out, in)                                                                        \
    do {                                                                                      \
        v8f x_ = (in), lo_ = V8_SET1(-104.0f), hi_ = V8_SET1(89.0f);                          \
        v8f xc_ = V8_BLEND(x_ < lo_, lo_, x_);                                                \
        xc_ = V8_BLEND(xc_ > hi_, hi_, xc_);                                                  \
        v8f sh_ = V8_SET1(12582912.0f);                                                       \
        v8f t_ = xc_ * V8_SET1(1.44269504088896341f);                                         \
        t_ = t_ + sh_;                                                                        \
        v8f nf_ = t_ - sh_;                                                                   \
        v8i n_ = (v8i)t_ - (v8i)sh_;                                                          \
        v8f r_ = (xc_ - nf_ * V8_SET1(0.693359375f)) - nf_ * V8_SET1(-2.12194440e-4f);        \
        v8f z_ = r_ * r_;                                                                     \
        v8f p_ = V8_SET1(1.9875691500e-4f);                                                   \
        p_ = p_ * r_ + V8_SET1(1.3981999507e-3f);                                             \
        p_ = p_ * r_ + V8_SET1(8.3334519073e-3f);                                             \
        p_ = p_ * r_ + V8_SET1(4.1665795894e-2f);                                             \
        p_ = p_ * r_ + V8_SET1(1.6666665459e-1f);                                             \
        p_ = p_ * r_ + V8_SET1(5.0000001201e-1f);                                             \
        v8f y_ = (p_ * z_ + r_) + V8_SET1(1.0f);                                              \
        v8i n1_ = n_ >> 1, n2_ = n_ - n1_;                                                    \
        v8f s1_ = (v8f)((n1_ + I8_SET1(127)) << 23), s2_ = (v8f)((n2_ + I8_SET1(127)) << 23); \
        y_ = (y_ * s1_) * s2_;                                                                \
        (out) = V8_BLEND(x_ != x_, x_, y_);                                                   \
    } while (0)

static inline __attribute__((always_inline)) void vexp_array(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f v;
        VEXP8(v, V8_LOAD(x + i));
        memcpy(y + i, &v, sizeof v);
    }
    if (i < n) { // the tail through the same lanes: padding does not change the others
        float b[8] = {0};
        memcpy(b, x + i, (n - i) * sizeof(float));
        v8f v;
        VEXP8(v, V8_LOAD(b));
        memcpy(y + i, &v, (n - i) * sizeof(float));
    }
}

__attribute__((target("avx2"))) static void vexp_avx2(const float *x, float *y, size_t n) { vexp_array(x, y, n); }
static void vexp_base(const float *x, float *y, size_t n) { vexp_array(x, y, n); }

int lw_cpu_has_avx2(void) { return __builtin_cpu_supports("avx2"); }

void lw_vexpf_path(int avx2, const float *x, float *y, size_t n) {
    if (avx2) vexp_avx2(x, y, n);
    else vexp_base(x, y, n);
}

void lw_vexpf(const float *x, float *y, size_t n) { lw_vexpf_path(lw_cpu_has_avx2(), x, y, n); }

// ---------------------------------------------------------------------------- blocks of 8

// xs[0..8) = the transformed logits of columns c0.. of a row; lanes past the row are NaN (they
// win no max, enter no top-k and are counted by no threshold).
static inline __attribute__((always_inline)) int load_x8(const float *zr, int c0, int cols, LogitXformKind kind,
                                                         float a, float b, float *xs) {
    int nv = cols - c0 < 8 ? cols - c0 : 8;
    if (nv == 8) {
        for (int i = 0; i < 8; i++) xs[i] = logit_xform(kind, a, b, zr[c0 + i]);
    } else {
        for (int i = 0; i < nv; i++) xs[i] = logit_xform(kind, a, b, zr[c0 + i]);
        for (int i = nv; i < 8; i++) xs[i] = NAN;
    }
    return nv;
}

// out = the transformed logits zp[0..8) as a vector: the elementwise transforms in vector form
// (IEEE division and product: the same values as logit_xform), the tanh ones through a buffer.
#define XVEC(out, zp, kind, a, b)                                                              \
    do {                                                                                      \
        if ((kind) == XF_IDENT) (out) = V8_LOAD(zp);                                          \
        else if ((kind) == XF_DIV) (out) = V8_LOAD(zp) / V8_SET1(a);                          \
        else if ((kind) == XF_MUL) (out) = V8_SET1(a) * V8_LOAD(zp);                          \
        else {                                                                                \
            float t_[8];                                                                      \
            for (int i_ = 0; i_ < 8; i_++) t_[i_] = logit_xform((kind), (a), (b), (zp)[i_]); \
            (out) = V8_LOAD(t_);                                                              \
        }                                                                                     \
    } while (0)

// 1 if any lane of a comparison mask is set
#define ANY8(m) __extension__({ v8i m_ = (m); int32_t b_[8]; memcpy(b_, &m_, sizeof b_); \
    (b_[0] | b_[1] | b_[2] | b_[3] | b_[4] | b_[5] | b_[6] | b_[7]) != 0; })

// ---------------------------------------------------------------------------- scan: max, top-k

// a comes before b in a top-k list: larger x first, then smaller id; padding (id -1) last.
static inline int cand_before(float ax, int32_t aid, float bx, int32_t bid) {
    if ((aid < 0) != (bid < 0)) return bid < 0;
    if (ax != bx) return ax > bx;
    return aid < bid;
}

static inline void cand_insert(float *lx, int32_t *lid, int k, float x, int32_t id) {
    if (!cand_before(x, id, lx[k - 1], lid[k - 1])) return;
    int i = k - 1;
    while (i > 0 && cand_before(x, id, lx[i - 1], lid[i - 1])) { lx[i] = lx[i - 1]; lid[i] = lid[i - 1]; i--; }
    lx[i] = x;
    lid[i] = id;
}

static inline __attribute__((always_inline)) void scan_row(const float *zr, int cols, LogitXformKind kind, float a,
                                                           float b, int64_t v0, int k, float *row_max, float *lx,
                                                           int32_t *lid) {
    v8f mv = V8_SET1(-INFINITY);
    for (int j = 0; j < k; j++) { lx[j] = NAN; lid[j] = -1; }
    int filled = 0;
    for (int c0 = 0; c0 < cols; c0 += 8) {
        float xs[8];
        int nv = 8;
        v8f x;
        if (c0 + 8 <= cols) XVEC(x, zr + c0, kind, a, b);
        else { nv = load_x8(zr, c0, cols, kind, a, b, xs); x = V8_LOAD(xs); }
        mv = V8_BLEND(x > mv, x, mv);
        if (k == 0) continue;
        // a full list is entered only by x > its last x (a later id loses every tie)
        if (filled == k && !ANY8(x > V8_SET1(lx[k - 1]))) continue;
        memcpy(xs, &x, sizeof xs);
        for (int i = 0; i < nv; i++) {
            if (isnan(xs[i])) continue;
            cand_insert(lx, lid, k, xs[i], (int32_t)(v0 + c0 + i));
            if (filled < k) filled++;
        }
    }
    float ms[8], m = -INFINITY;
    memcpy(ms, &mv, sizeof ms);
    for (int i = 0; i < 8; i++) m = ms[i] > m ? ms[i] : m;
    if (m == 0.0f) { // ±0: the sign of the first zero in index order, as a sequential max gives it
        for (int c = 0; c < cols; c++) {
            float x = logit_xform(kind, a, b, zr[c]);
            if (x == 0.0f) { m = x; break; }
        }
    }
    *row_max = m;
}

static inline __attribute__((always_inline)) void scan_rows(const float *z, int rows, int cols, size_t ld,
                                                            const LogitXform *xf, int64_t v0, int k, float *row_max,
                                                            float *top_x, int32_t *top_id) {
    float lx0[1];
    int32_t lid0[1];
    for (int r = 0; r < rows; r++) {
        const float *zr = z + (size_t)r * ld;
        float *lx = k ? top_x + (size_t)r * k : lx0;
        int32_t *lid = k ? top_id + (size_t)r * k : lid0;
        LogitXformKind kind = xf ? xf[r].kind : XF_IDENT;
        float a = xf ? xf[r].a : 1.0f, b = xf ? xf[r].b : 1.0f;
        switch (kind) {
        case XF_DIV: scan_row(zr, cols, XF_DIV, a, b, v0, k, &row_max[r], lx, lid); break;
        case XF_MUL: scan_row(zr, cols, XF_MUL, a, b, v0, k, &row_max[r], lx, lid); break;
        case XF_SOFTCAP: scan_row(zr, cols, XF_SOFTCAP, a, b, v0, k, &row_max[r], lx, lid); break;
        case XF_SCALE_SOFTCAP: scan_row(zr, cols, XF_SCALE_SOFTCAP, a, b, v0, k, &row_max[r], lx, lid); break;
        default: scan_row(zr, cols, XF_IDENT, a, b, v0, k, &row_max[r], lx, lid); break;
        }
    }
}

__attribute__((target("avx2"))) static void scan_avx2(const float *z, int rows, int cols, size_t ld,
                                                      const LogitXform *xf, int64_t v0, int k, float *row_max,
                                                      float *top_x, int32_t *top_id) {
    scan_rows(z, rows, cols, ld, xf, v0, k, row_max, top_x, top_id);
}
static void scan_base(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, int64_t v0, int k,
                      float *row_max, float *top_x, int32_t *top_id) {
    scan_rows(z, rows, cols, ld, xf, v0, k, row_max, top_x, top_id);
}

void cpu_lens_scan(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, int64_t v0, int k,
                   float *row_max, float *top_x, int32_t *top_id) {
    LW_ASSERT(z && rows >= 0 && cols > 0 && ld >= (size_t)cols && row_max && k >= 0);
    LW_ASSERT(k == 0 || (top_x && top_id));
    if (lw_cpu_has_avx2()) scan_avx2(z, rows, cols, ld, xf, v0, k, row_max, top_x, top_id);
    else scan_base(z, rows, cols, ld, xf, v0, k, row_max, top_x, top_id);
}

// ---------------------------------------------------------------------------- sums and counts

// One row's thresholds, sorted: his[i] ascending (hj[i] its index j), los[i] ascending (lj[i]).
typedef struct {
    int nt;
    float *his, *los, lo_min;
    int *hj, *lj;
    int64_t *cnt_hi, *cnt_lo; // [nt + 1]: entries beating exactly the first c sorted thresholds
} RowThr;

typedef struct { float v; int j; } FJ;
static int cmp_fj(const void *pa, const void *pb) {
    const FJ *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    return a->j - b->j;
}

static void thr_prepare(RowThr *t, const LensThreshold *thr, int nt, FJ *tmp) {
    t->nt = nt;
    for (int j = 0; j < nt; j++) tmp[j] = (FJ){thr[j].hi, j};
    qsort(tmp, nt, sizeof *tmp, cmp_fj);
    for (int i = 0; i < nt; i++) { t->his[i] = tmp[i].v; t->hj[i] = tmp[i].j; }
    for (int j = 0; j < nt; j++) tmp[j] = (FJ){thr[j].lo, j};
    qsort(tmp, nt, sizeof *tmp, cmp_fj);
    for (int i = 0; i < nt; i++) { t->los[i] = tmp[i].v; t->lj[i] = tmp[i].j; }
    t->lo_min = nt ? t->los[0] : INFINITY;
    memset(t->cnt_hi, 0, sizeof(int64_t) * (nt + 1));
    memset(t->cnt_lo, 0, sizeof(int64_t) * (nt + 1));
}

// #{i : s[i] < x} of an ascending array.
static inline int count_below(const float *s, int n, float x) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static inline __attribute__((always_inline)) void sums_row(const float *zr, int cols, LogitXformKind kind, float a,
                                                           float b, float m, int fast, RowThr *t, double *S,
                                                           double *E) {
    double s = 0.0, e = 0.0;
    v4d s0 = {0}, s1 = {0}, e0 = {0}, e1 = {0}; // fast: 8 lane sums (column ≡ j mod 8), fixed join
    v8f mv = V8_SET1(S ? m : 0.0f);
    for (int c0 = 0; c0 < cols; c0 += 8) {
        float xs[8], ds[8], ps[8];
        int nv = 8;
        v8f x;
        if (c0 + 8 <= cols) XVEC(x, zr + c0, kind, a, b);
        else { nv = load_x8(zr, c0, cols, kind, a, b, xs); x = V8_LOAD(xs); }
        if (t->nt && ANY8(x > V8_SET1(t->lo_min)))
            for (int i = (memcpy(xs, &x, sizeof xs), 0); i < nv; i++) {
                if (!(xs[i] > t->lo_min)) continue; // NaN too
                t->cnt_hi[count_below(t->his, t->nt, xs[i])]++;
                t->cnt_lo[count_below(t->los, t->nt, xs[i])]++;
            }
        if (!S) continue; // counts only
        v8f d = x - mv;
        if (fast) {
            v8f p;
            VEXP8(p, d);
            if (nv < 8) { // lanes past the row add nothing
                v8i valid = (v8i){0, 1, 2, 3, 4, 5, 6, 7} < I8_SET1(nv);
                p = V8_BLEND(valid, p, V8_SET1(0.0f));
                d = V8_BLEND(valid, d, V8_SET1(0.0f));
            }
            v4d pl = __builtin_convertvector(__builtin_shufflevector(p, p, 0, 1, 2, 3), v4d);
            v4d ph = __builtin_convertvector(__builtin_shufflevector(p, p, 4, 5, 6, 7), v4d);
            s0 += pl;
            s1 += ph;
            e0 += pl * __builtin_convertvector(__builtin_shufflevector(d, d, 0, 1, 2, 3), v4d);
            e1 += ph * __builtin_convertvector(__builtin_shufflevector(d, d, 4, 5, 6, 7), v4d);
            continue;
        }
        memcpy(ds, &d, sizeof ds);
        for (int i = 0; i < nv; i++) ps[i] = expf(ds[i]);
        for (int i = 0; i < nv; i++) { // index order, as softmax_partials sums
            double p = ps[i];
            s += p;
            e += p * (double)ds[i];
        }
    }
    if (fast) {
        s = ((s0[0] + s0[1]) + (s0[2] + s0[3])) + ((s1[0] + s1[1]) + (s1[2] + s1[3]));
        e = ((e0[0] + e0[1]) + (e0[2] + e0[3])) + ((e1[0] + e1[1]) + (e1[2] + e1[3]));
    }
    if (S) { *S = s; *E = e; }
}

static inline __attribute__((always_inline)) void sums_rows(const float *z, int rows, int cols, size_t ld,
                                                            const LogitXform *xf, const float *m_in, int fast,
                                                            RowThr *t, const LensThreshold *thr, FJ *tmp,
                                                            double *row_s, double *row_e, int64_t v0,
                                                            int64_t *above, int64_t *band) {
    int nt = t->nt;
    for (int r = 0; r < rows; r++) {
        const float *zr = z + (size_t)r * ld;
        LogitXformKind kind = xf ? xf[r].kind : XF_IDENT;
        float a = xf ? xf[r].a : 1.0f, b = xf ? xf[r].b : 1.0f, m = row_s ? m_in[r] : 0.0f;
        double *sr = row_s ? &row_s[r] : NULL, *er = row_s ? &row_e[r] : NULL;
        const LensThreshold *tr = thr ? thr + (size_t)r * nt : NULL;
        if (nt) thr_prepare(t, tr, nt, tmp);
        switch (kind) {
        case XF_DIV: sums_row(zr, cols, XF_DIV, a, b, m, fast, t, sr, er); break;
        case XF_MUL: sums_row(zr, cols, XF_MUL, a, b, m, fast, t, sr, er); break;
        case XF_SOFTCAP: sums_row(zr, cols, XF_SOFTCAP, a, b, m, fast, t, sr, er); break;
        case XF_SCALE_SOFTCAP: sums_row(zr, cols, XF_SCALE_SOFTCAP, a, b, m, fast, t, sr, er); break;
        default: sums_row(zr, cols, XF_IDENT, a, b, m, fast, t, sr, er); break;
        }
        if (!nt) continue;
        // entries beating sorted threshold i are those that beat at least i + 1 of them
        int64_t run_hi = 0, run_lo = 0;
        int64_t *ab = above + (size_t)r * nt, *bd = band + (size_t)r * nt;
        for (int i = nt - 1; i >= 0; i--) {
            run_hi += t->cnt_hi[i + 1];
            run_lo += t->cnt_lo[i + 1];
            ab[t->hj[i]] = run_hi;
            bd[t->lj[i]] = run_lo; // #{x > lo} for now
        }
        for (int j = 0; j < nt; j++) {
            bd[j] -= ab[j]; // lo ≤ hi: #{lo < x ≤ hi}
            int64_t c = (int64_t)tr[j].id - v0;
            if (tr[j].id >= 0 && c >= 0 && c < cols) { // the tracked entry itself is not in its band
                float xi = logit_xform(kind, a, b, zr[c]);
                if (xi > tr[j].lo && xi <= tr[j].hi) bd[j]--;
            }
        }
    }
}

__attribute__((target("avx2"))) static void sums_avx2(const float *z, int rows, int cols, size_t ld,
                                                      const LogitXform *xf, const float *m_in, int fast, RowThr *t,
                                                      const LensThreshold *thr, FJ *tmp, double *row_s,
                                                      double *row_e, int64_t v0, int64_t *above, int64_t *band) {
    sums_rows(z, rows, cols, ld, xf, m_in, fast, t, thr, tmp, row_s, row_e, v0, above, band);
}
static void sums_base(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, const float *m_in,
                      int fast, RowThr *t, const LensThreshold *thr, FJ *tmp, double *row_s, double *row_e,
                      int64_t v0, int64_t *above, int64_t *band) {
    sums_rows(z, rows, cols, ld, xf, m_in, fast, t, thr, tmp, row_s, row_e, v0, above, band);
}

void cpu_lens_sums_path(int avx2, const float *z, int rows, int cols, size_t ld, const LogitXform *xf,
                        const float *m_in, int fast_exp, int64_t v0, int nt, const LensThreshold *thr, double *row_s,
                        double *row_e, int64_t *above, int64_t *band) {
    LW_ASSERT(z && rows >= 0 && cols > 0 && ld >= (size_t)cols && nt >= 0);
    LW_ASSERT(!row_s == !row_e && (!row_s || m_in));
    LW_ASSERT(nt == 0 || (thr && above && band));
    RowThr t = {0};
    FJ *tmp = NULL;
    if (nt) {
        t.his = xmalloc(sizeof(float) * nt);
        t.los = xmalloc(sizeof(float) * nt);
        t.hj = xmalloc(sizeof(int) * nt);
        t.lj = xmalloc(sizeof(int) * nt);
        t.cnt_hi = xmalloc(sizeof(int64_t) * (nt + 1));
        t.cnt_lo = xmalloc(sizeof(int64_t) * (nt + 1));
        tmp = xmalloc(sizeof(FJ) * nt);
    }
    t.nt = nt;
    if (avx2) sums_avx2(z, rows, cols, ld, xf, m_in, fast_exp, &t, thr, tmp, row_s, row_e, v0, above, band);
    else sums_base(z, rows, cols, ld, xf, m_in, fast_exp, &t, thr, tmp, row_s, row_e, v0, above, band);
    free(t.his); free(t.los); free(t.hj); free(t.lj); free(t.cnt_hi); free(t.cnt_lo); free(tmp);
}

void cpu_lens_sums(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, const float *m_in,
                   int fast_exp, int64_t v0, int nt, const LensThreshold *thr, double *row_s, double *row_e,
                   int64_t *above, int64_t *band) {
    cpu_lens_sums_path(lw_cpu_has_avx2(), z, rows, cols, ld, xf, m_in, fast_exp, v0, nt, thr, row_s, row_e, above,
                       band);
}

// ---------------------------------------------------------------------------- per-row reductions

// The shard reductions of lens_stats.c's other statistics (backend.h lens_values .. lens_extremes):
// scalar loops, in index order, the fp32 and double operations written as the contract states.

static inline float row_x(const LogitXform *xf, int r, float z) {
    return xf ? logit_xform(xf[r].kind, xf[r].a, xf[r].b, z) : z;
}

void cpu_lens_values(const float *const *z, const LogitXform *xf, int rows, int cols, int64_t v0, int nids,
                     const int32_t *ids, float *out) {
    LW_ASSERT(rows >= 0 && cols >= 0 && nids >= 0 && (rows == 0 || nids == 0 || (z && ids && out)));
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < nids; j++) {
            int32_t t = ids[(size_t)r * nids + j];
            int64_t c = (int64_t)t - v0;
            out[(size_t)r * nids + j] = t >= 0 && c >= 0 && c < cols ? row_x(xf, r, z[r][c]) : -INFINITY;
        }
}

// ln(p + ε) for p = exp(lp): above 2^24·ε the fp32 sum p + ε rounds to p, so the guarded log is
// ln p = lp (up to one rounding of lp) — true whenever lp > -52 (p > 2.6e-23). Below, the guard
// matters and is evaluated as written. Saves a logf (and often the expf) per element.
static inline float guarded_log(float lp) {
    return lp > -52.0f ? lp : logf(expf(lp) + LENS_EPS);
}

static int same_row(const float *const *z, const LogitXform *xf, const float *lse, int r, int s) {
    LogitXform a = xf ? xf[r] : (LogitXform){XF_IDENT, 1.0f, 1.0f}, b = xf ? xf[s] : a;
    return z[r] == z[s] && a.kind == b.kind && a.a == b.a && a.b == b.b && lse[r] == lse[s];
}

void cpu_lens_pair(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                   const LogitXform *xq, const float *lse_q, int rows, int cols, unsigned what, double *out) {
    int need_q = (what & ~(unsigned)LPS_HP) != 0;
    LW_ASSERT(rows >= 0 && cols >= 0 && (rows == 0 || (zp && lse_p && out)));
    LW_ASSERT(!need_q || rows == 0 || (zq && lse_q));
    int need_p = (what & (LPS_KL_PQ | LPS_L1 | LPS_SUMS | LPS_HP)) != 0;
    // q and ln(q + ε) are cached while consecutive rows share the same Q (P_final of a pass)
    float *qv = need_q ? xmalloc(sizeof(float) * (cols ? cols : 1)) : NULL;
    float *lqv = need_q ? xmalloc(sizeof(float) * (cols ? cols : 1)) : NULL;
    int cached = -1;
    for (int r = 0; r < rows; r++) {
        double kl_pq = 0, kl_qp = 0, l1 = 0, sp = 0, sq = 0, hp = 0, hq = 0, ce = 0;
        const float *pz = zp[r];
        if (need_q && (cached < 0 || !same_row(zq, xq, lse_q, r, cached))) {
            for (int v = 0; v < cols; v++) {
                float xqv = row_x(xq, r, zq[r][v]) - lse_q[r];
                qv[v] = expf(xqv);
                lqv[v] = guarded_log(xqv);
            }
            cached = r;
        }
        const float lse = lse_p[r];
        if (what == LPS_CE_QP) { // the calibration grid: no exp of P needed at all
            for (int v = 0; v < cols; v++) ce -= (double)qv[v] * guarded_log(row_x(xp, r, pz[v]) - lse);
        } else {
            for (int v = 0; v < cols; v++) {
                float xpv = row_x(xp, r, pz[v]) - lse;
                float lp = guarded_log(xpv), p = need_p ? expf(xpv) : 0.0f;
                if (what & LPS_HP) hp -= (double)p * lp;
                if (!need_q) continue;
                float q = qv[v], lq = lqv[v];
                if (what & LPS_KL_PQ) kl_pq += (double)(p * (lp - lq));
                if (what & LPS_KL_QP) kl_qp += (double)(q * (lq - lp));
                if (what & LPS_L1) l1 += fabsf(p - q);
                if (what & LPS_SUMS) { sp += p; sq += q; }
                if (what & LPS_HQ) hq -= (double)q * lq;
                if (what & LPS_CE_QP) ce -= (double)q * lp;
            }
        }
        double *a = out + (size_t)r * 8;
        a[0] = kl_pq; a[1] = kl_qp; a[2] = l1; a[3] = sp; a[4] = sq; a[5] = hp; a[6] = hq; a[7] = ce;
    }
    free(qv);
    free(lqv);
}

void cpu_lens_js(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                 const LogitXform *xq, const float *lse_q, int rows, int cols, const double *msum, double *out) {
    LW_ASSERT(rows >= 0 && cols >= 0 && (rows == 0 || (zp && lse_p && zq && lse_q && msum && out)));
    for (int r = 0; r < rows; r++) {
        double s = 0.0;
        float inv = (float)(1.0 / msum[r]);
        for (int v = 0; v < cols; v++) {
            float xpv = row_x(xp, r, zp[r][v]) - lse_p[r], p = expf(xpv);
            float xqv = row_x(xq, r, zq[r][v]) - lse_q[r], q = expf(xqv);
            float m = 0.5f * (p + q) * inv;
            float lm = logf(m + LENS_EPS);
            s += 0.5 * (double)(p * (guarded_log(xpv) - lm)) + 0.5 * (double)(q * (guarded_log(xqv) - lm));
        }
        out[r] = s;
    }
}

void cpu_lens_dots(const float *const *zp, const LogitXform *xp, const float *const *zq, const LogitXform *xq,
                   int rows, int cols, double *out) {
    LW_ASSERT(rows >= 0 && cols >= 0 && (rows == 0 || (zp && zq && out)));
    for (int r = 0; r < rows; r++) {
        double dpq = 0, dpp = 0, dqq = 0;
        for (int v = 0; v < cols; v++) {
            float p = row_x(xp, r, zp[r][v]), q = row_x(xq, r, zq[r][v]);
            dpq += (double)p * q;
            dpp += (double)p * p;
            dqq += (double)q * q;
        }
        out[3 * r] = dpq; out[3 * r + 1] = dpp; out[3 * r + 2] = dqq;
    }
}

void cpu_lens_extremes(const float *const *z, const LogitXform *xf, int rows, int cols, float *out) {
    LW_ASSERT(rows >= 0 && cols >= 0 && (rows == 0 || (z && out)));
    for (int r = 0; r < rows; r++) {
        float amax = 0.0f, nmin = -INFINITY, has_nan = 0, has_inf = 0;
        for (int v = 0; v < cols; v++) {
            float xv = row_x(xf, r, z[r][v]);
            if (isnan(xv)) { has_nan = 1; continue; }
            if (isinf(xv)) has_inf = 1;
            if (fabsf(xv) > amax) amax = fabsf(xv);
            if (-xv > nmin) nmin = -xv;
        }
        out[4 * r] = amax; out[4 * r + 1] = nmin; out[4 * r + 2] = has_nan; out[4 * r + 3] = has_inf;
    }
}
