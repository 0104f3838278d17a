// test_cpu_lens — the fused lens statistics (backend/cpu_lens.c: lens_scan, lens_sums, the
// vectorized exp) and lens_count_above's comparison-based counts, against references written
// here: exp in double precision, naive loops, a full qsort for the top-k, per-entry probabilities
// for the rank counts. Inputs are random (fixed seed) with ties, -inf and NaN entries, and row
// lengths that are not multiples of the 8-lane blocks.
//
// Error of the vectorized exp: ulps of the correctly rounded fp32 exp (double exp rounded once);
// the sampled sweep here takes every 61st fp32 of [-103.9, 88.7]; LW_VEXP_EXHAUSTIVE=1 takes every
// fp32 of that range and prints the maximum (BENCHMARKS.md "Fused lens statistics" quotes it).
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu_lens.h"
#include "lens/lens_stats.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static float urand(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() % 1000003) / 1000003.0f; }

static float f_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t u_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// |y − exp(x)| in ulps of the correctly rounded result (subnormal results: units of 2^-149).
static double ulp_err(float x, float y) {
    double ref = exp((double)x);
    float rf = (float)ref;
    if (rf == 0.0f) return y == 0.0f ? 0.0 : fabs((double)y) / 0x1p-149;
    int e;
    frexp(rf, &e); // rf = m·2^e, m in [0.5, 1)
    double ulp = ldexp(1.0, e - 24);
    if (ulp < 0x1p-149) ulp = 0x1p-149;
    return fabs((double)y - ref) / ulp;
}

// Largest |error| over the fp32 values of [lo, hi] taken every `step` bit patterns (both signs).
static double sweep_err(float lo, float hi, uint32_t step, float *worst_x) {
    enum { B = 4096 };
    static float xs[B], ys[B];
    double worst = 0.0;
    int nb = 0;
    for (int sign = 0; sign < 2; sign++) {
        float end = sign ? -lo : hi; // magnitudes 0 .. end
        uint32_t uend = u_of(end);
        for (uint64_t u = 0; u <= uend; u += step) {
            xs[nb++] = sign ? -f_of((uint32_t)u) : f_of((uint32_t)u);
            if (nb == B || u + step > uend) {
                lw_vexpf(xs, ys, nb);
                for (int i = 0; i < nb; i++) {
                    double e = ulp_err(xs[i], ys[i]);
                    if (e > worst) { worst = e; *worst_x = xs[i]; }
                }
                nb = 0;
            }
        }
    }
    return worst;
}

TEST(vexp_error_over_the_range) {
    int full = getenv("LW_VEXP_EXHAUSTIVE") != NULL;
    float wx = 0;
    double e = sweep_err(-103.9f, 88.7f, full ? 1 : 61, &wx);
    if (full) printf("    vexp: max error %.4f ulp at x = %.9g (every fp32 in [-103.9, 88.7])\n", e, wx);
    CHECKF(e <= 1.0, "max error %.4f ulp at %.9g", e, wx);
    // the lens's own range, x − max ≤ 0 with the mass near 0
    e = sweep_err(-20.0f, 0.0f, full ? 1 : 7, &wx);
    CHECKF(e <= 1.0, "max error %.4f ulp at %.9g in [-20, 0]", e, wx);
}

TEST(vexp_special_values) {
    float x[12] = {-INFINITY, INFINITY, NAN, -1000.0f, -104.5f, 0.0f, -0.0f, 89.5f, 1e30f, 1.0f, -1.0f, 88.0f};
    float y[12];
    lw_vexpf(x, y, 12);
    CHECK(y[0] == 0.0f && y[1] == INFINITY && isnan(y[2]) && y[3] == 0.0f && y[4] == 0.0f);
    CHECK(y[5] == 1.0f && y[6] == 1.0f && y[7] == INFINITY && y[8] == INFINITY);
    CHECK(ulp_err(1.0f, y[9]) <= 1.0 && ulp_err(-1.0f, y[10]) <= 1.0 && ulp_err(88.0f, y[11]) <= 1.0);
    CHECK(isfinite(y[11]));
}

// The same bits on both vector paths, and for an element wherever it sits in the array (tails,
// offsets): what keeps R = 1 and R = 2 equal when a shard boundary moves the 8-lane blocks.
TEST(vexp_same_bits_any_path_any_position) {
    enum { N = 4099 };
    float *x = malloc(sizeof(float) * (N + 8)), *a = malloc(sizeof(float) * (N + 8)), *b = malloc(sizeof(float) * (N + 8));
    for (int i = 0; i < N + 8; i++) x[i] = urand(-110.0f, 90.0f);
    lw_vexpf_path(0, x, a, N);
    int paths = lw_cpu_has_avx2(), same = 1;
    if (paths) {
        lw_vexpf_path(1, x, b, N);
        for (int i = 0; i < N; i++) same &= u_of(a[i]) == u_of(b[i]);
        CHECKF(same, "SSE and AVX2 paths differ");
    } else {
        printf("    (no AVX2 on this CPU: only the baseline path checked)\n");
    }
    for (int off = 1; off < 8; off++) {
        int n = N - 2 * off;
        lw_vexpf(x + off, b, n);
        for (int i = 0; i < n; i++) same &= u_of(b[i]) == u_of(a[i + off]);
    }
    CHECKF(same, "an element's exp depends on its position");
    free(x); free(a); free(b);
}

// ---------------------------------------------------------------------------- scan and sums

static float xform_ref(int kind, float a, float b, float z) { // the contract's fp32 order
    switch (kind) {
    case XF_DIV: return z / a;
    case XF_MUL: return a * z;
    case XF_SOFTCAP: return a * tanhf(z / a);
    case XF_SCALE_SOFTCAP: return a * tanhf(z / (b * a));
    default: return z;
    }
}

// A row with the hard cases: many exact ties, neighbours one ulp apart, -inf and NaN entries.
static void make_row(float *z, int cols) {
    for (int c = 0; c < cols; c++) {
        uint32_t k = rnd() % 100;
        z[c] = k < 20 ? (float)(rnd() % 7) - 3.0f : urand(-12.0f, 9.0f);
        if (k == 20) z[c] = nextafterf(z[c > 0 ? c - 1 : 0], INFINITY);
        if (k == 21) z[c] = -INFINITY;
        if (k == 22 && cols > 50) z[c] = NAN;
    }
}

typedef struct { float x; int32_t id; } Cand;
static int cand_cmp(const void *pa, const void *pb) {
    const Cand *a = pa, *b = pb;
    if (a->x != b->x) return a->x > b->x ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static const LogitXform XFS[] = {{XF_IDENT, 1, 1}, {XF_DIV, 1.7f, 1}, {XF_MUL, 0.3f, 1}, {XF_SOFTCAP, 5.0f, 1},
                                 {XF_SCALE_SOFTCAP, 4.0f, 1.5f}};

TEST(scan_max_and_topk_equal_a_full_sort) {
    int sizes[] = {1, 7, 8, 9, 61, 1003}, ks[] = {1, 5, 20};
    int ok_max = 1, ok_top = 1;
    for (unsigned si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (unsigned xi = 0; xi < sizeof XFS / sizeof *XFS; xi++)
            for (unsigned ki = 0; ki < 3; ki++) {
                int cols = sizes[si], k = ks[ki], rows = 3;
                size_t ld = cols + 5;
                float *z = malloc(sizeof(float) * ld * rows);
                for (int r = 0; r < rows; r++) make_row(z + r * ld, cols);
                if (cols > 8) for (int c = 0; c < cols; c++) z[2 * ld + c] = NAN; // an all-NaN row
                LogitXform xf[3] = {XFS[xi], XFS[xi], XFS[xi]};
                float mx[3], tx[60];
                int32_t tid[60];
                int64_t v0 = 1000;
                cpu_lens_scan(z, rows, cols, ld, xf, v0, k, mx, tx, tid);
                for (int r = 0; r < rows; r++) {
                    Cand *c = malloc(sizeof(Cand) * cols);
                    int nc = 0;
                    float m = -INFINITY;
                    for (int j = 0; j < cols; j++) {
                        float x = xform_ref(xf[r].kind, xf[r].a, xf[r].b, z[r * ld + j]);
                        if (isnan(x)) continue;
                        if (x > m) m = x;
                        c[nc++] = (Cand){x, (int32_t)(v0 + j)};
                    }
                    qsort(c, nc, sizeof *c, cand_cmp);
                    ok_max &= u_of(mx[r]) == u_of(m);
                    for (int j = 0; j < k; j++) {
                        float wx = j < nc ? c[j].x : NAN;
                        int32_t wid = j < nc ? c[j].id : -1;
                        ok_top &= tid[r * k + j] == wid && (isnan(wx) ? isnan(tx[r * k + j]) : tx[r * k + j] == wx);
                    }
                    free(c);
                }
                free(z);
            }
    CHECKF(ok_max, "row max differs from the reference");
    CHECKF(ok_top, "top-k differs from the full sort");
}

// S, E against double references; the exact mode (expf) bit for bit against the contract's loop;
// the counts against naive counts; both vector paths identical.
TEST(sums_and_counts) {
    int sizes[] = {1, 9, 64, 1003, 5000};
    int ok_exact = 1, ok_fast = 1, ok_cnt = 1, ok_path = 1;
    double worst = 0;
    for (unsigned si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (unsigned xi = 0; xi < sizeof XFS / sizeof *XFS; xi++) {
            int cols = sizes[si], rows = 2, nt = 4;
            float *z = malloc(sizeof(float) * cols * rows);
            for (int r = 0; r < rows; r++) {
                make_row(z + r * cols, cols);
                for (int c = 0; c < cols; c++) if (isnan(z[r * cols + c])) z[r * cols + c] = -5.0f; // NaN: below
            }
            LogitXform xf[2] = {XFS[xi], XFS[xi]};
            float m[2];
            LensThreshold th[8];
            int64_t v0 = 77;
            for (int r = 0; r < rows; r++) {
                m[r] = -INFINITY;
                for (int c = 0; c < cols; c++) {
                    float x = xform_ref(xf[r].kind, xf[r].a, xf[r].b, z[r * cols + c]);
                    if (x > m[r]) m[r] = x;
                }
                for (int j = 0; j < nt; j++) {
                    int c = rnd() % cols;
                    float x = xform_ref(xf[r].kind, xf[r].a, xf[r].b, z[r * cols + c]);
                    float w = j == 3 ? 0.0f : urand(0.0f, 2.0f);
                    th[r * nt + j] = (LensThreshold){x - w, x + (j == 2 ? 0.0f : w), (int32_t)(v0 + c)};
                    if (j == 1) th[r * nt + j].id = -1;
                }
            }
            double S[2], E[2], S2[2], E2[2];
            int64_t ab[8], bd[8], ab2[8], bd2[8];
            for (int fast = 0; fast < 2; fast++) {
                cpu_lens_sums_path(0, z, rows, cols, cols, xf, m, fast, v0, nt, th, S, E, ab, bd);
                if (lw_cpu_has_avx2()) {
                    cpu_lens_sums_path(1, z, rows, cols, cols, xf, m, fast, v0, nt, th, S2, E2, ab2, bd2);
                    ok_path &= !memcmp(S, S2, sizeof S) && !memcmp(E, E2, sizeof E) && !memcmp(ab, ab2, sizeof ab) &&
                               !memcmp(bd, bd2, sizeof bd);
                }
                for (int r = 0; r < rows; r++) {
                    double s = 0, e = 0, sd = 0, ed = 0;
                    for (int c = 0; c < cols; c++) {
                        float d = xform_ref(xf[r].kind, xf[r].a, xf[r].b, z[r * cols + c]) - m[r];
                        double p = expf(d), pd = exp((double)d);
                        s += p; e += p * (double)d;
                        if (d > -INFINITY) { sd += pd; ed += pd * (double)d; }
                    }
                    if (!fast) ok_exact &= S[r] == s && (E[r] == e || (isnan(E[r]) && isnan(e)));
                    else {
                        double es = fabs(S[r] - sd) / sd;
                        if (es > worst) worst = es;
                        ok_fast &= es <= 2.5e-7 && (fabs(E[r] - ed) <= 2.5e-7 * (fabs(ed) + sd * fabs(m[r]) + 1) || isnan(E[r]));
                    }
                    for (int j = 0; j < nt; j++) {
                        const LensThreshold *t = &th[r * nt + j];
                        int64_t a = 0, b = 0;
                        for (int c = 0; c < cols; c++) {
                            float x = xform_ref(xf[r].kind, xf[r].a, xf[r].b, z[r * cols + c]);
                            a += x > t->hi;
                            b += x > t->lo && x <= t->hi && v0 + c != t->id;
                        }
                        ok_cnt &= ab[r * nt + j] == a && bd[r * nt + j] == b;
                    }
                }
            }
            // counts only (no sums): the same counts
            cpu_lens_sums(z, rows, cols, cols, xf, NULL, 0, v0, nt, th, NULL, NULL, ab2, bd2);
            ok_cnt &= !memcmp(ab, ab2, sizeof ab) && !memcmp(bd, bd2, sizeof bd);
            free(z);
        }
    CHECKF(ok_exact, "exact-mode S/E differ from the expf loop");
    CHECKF(ok_fast, "fast-mode S/E beyond 2.5e-7 relative of the double sums (worst S %.3g)", worst);
    CHECKF(ok_cnt, "threshold counts differ from the naive counts");
    CHECKF(ok_path, "SSE and AVX2 paths differ");
}

// lens_count_above (comparisons of logits, the band resolved exactly) equals the count by
// probabilities that METRICS.md §5 defines, on rows full of near-ties: values one ulp apart,
// exact duplicates, -inf, and a large offset L so that fl(x − L) merges neighbours.
TEST(count_above_equals_probability_count) {
    enum { V = 3001, NT = 6 };
    int ok = 1;
    for (int trial = 0; trial < 12; trial++) {
        float *z = malloc(sizeof(float) * V);
        float base = trial % 3 == 0 ? 0.0f : trial % 3 == 1 ? 40.0f : -30.0f;
        for (int v = 0; v < V; v++) {
            uint32_t k = rnd() % 10;
            z[v] = base + (k < 3 ? (float)(rnd() % 5) * 1e-6f : urand(-20.0f, 3.0f));
            if (k == 3 && v > 0) z[v] = nextafterf(z[v - 1], k & 1 ? INFINITY : -INFINITY);
            if (k == 4 && trial > 6) z[v] = -INFINITY;
        }
        LensDist d = lens_dist(z);
        if (trial % 4 == 3) { d.xf = LX_DIV; d.a = 3.0f; }
        LensShard sh = {.comm = NULL, .v0 = 0, .vl = V, .V = V};
        LensNorm nrm;
        lens_normalize(&sh, &d, 1, &nrm);
        int32_t ids[NT];
        float xs[NT];
        for (int j = 0; j < NT; j++) ids[j] = rnd() % V;
        if (trial > 6) { for (int v = 0; v < V; v++) if (z[v] == -INFINITY) { ids[0] = v; break; } }
        lens_values_at(&sh, &d, 1, ids, NT, xs);
        for (int tie = 0; tie < 2; tie++) {
            int64_t got[NT];
            lens_count_above(&sh, &d, &nrm, 1, ids, xs, NT, tie, got);
            for (int j = 0; j < NT; j++) {
                float pt = expf(xs[j] - nrm.lse_f);
                int64_t want = 0;
                for (int v = 0; v < V; v++) {
                    float p = expf(xform_ref(d.xf, d.a, d.b, z[v]) - nrm.lse_f);
                    want += p > pt || (tie && p == pt && v < ids[j]);
                }
                if (got[j] != want) {
                    ok = 0;
                    printf("    trial %d tie %d id %d: %lld, want %lld\n", trial, tie, ids[j], (long long)got[j],
                           (long long)want);
                }
            }
        }
        free(z);
    }
    CHECK(ok);
}

int main(void) {
    RUN(vexp_error_over_the_range);
    RUN(vexp_special_values);
    RUN(vexp_same_bits_any_path_any_position);
    RUN(scan_max_and_topk_equal_a_full_sort);
    RUN(sums_and_counts);
    RUN(count_above_equals_probability_count);
    return test_summary();
}
