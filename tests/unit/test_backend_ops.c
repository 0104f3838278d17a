// test_backend_ops — every op of every compiled backend's table (backend/backend.h) against a
// plain-C reference written here: naive loops in double precision, the formula as the contract
// states it, no code of src/backend/ (the style of ggml's test-backend-ops). Inputs are random
// (fixed seed) and the sizes are chosen not to be multiples of any block size of the CPU backend
// (its 64-row weight tiles, its 128-query attention blocks), with rows of -inf and NaN for the
// softmax partials and every lens transform.
//
// Tolerances: the ops the contract calls bit-exact (matmul_exact, matmul_rowdot, round_f64, embed_rows, add,
// scale, copy; the max of softmax_partials) are compared bit for bit with the reference rounded
// to fp32 once. The others are fp32 computations compared with a double reference: the bound
// is a few fp32 ulps of the magnitudes involved (stated at each check).
//
// A new backend (CUDA) is one more entry in BACKENDS; it then also runs every case below. Inputs
// are uploaded to backend memory and results downloaded, as the contract asks (for the CPU both
// are copies). The build against the CUDA emulation (build/tests/test_backend_ops_emu, LW_CUDA_EMU)
// adds the CUDA backend, whose kernels the emulation runs on the CPU: a host pointer handed to an
// op, or an access out of bounds, stops it there.
//
// A third build runs on a real GPU: build/gpu-tests/test_backend_ops (-DLW_GPU_TEST, a CUDA build;
// `make test-gpu`, tools/gpu/check.sh), the same cases on the CPU table and the real CUDA one.
// There the fp32 values the contract calls "the same on every backend" come from CUDA's expf,
// logf and tanhf (at most 2, 1 and 2 ulp from the correctly rounded result, CUDA C++
// Programming Guide, "Mathematical Functions"; glibc's are within about 1 ulp), and nvcc may
// contract a product and a sum into an FMA where a kernel does not forbid it. So for the CUDA
// table on a GPU every value that goes through those functions (softcap transforms, p = expf(..),
// logs) is allowed DEVICE_LIBM_EPS (8·2^-24: up to 8 ulps) relative per libm call, propagated
// to the sums as stated at each check; everything the contract calls bit-exact stays bit-exact.
// The CPU table and the emulated CUDA table (the host's libm) get DEVICE_LIBM_EPS = 0: their
// checks are exactly those above.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "test.h"

#if defined(LW_CUDA_EMU) || defined(LW_GPU_TEST)
static const Backend *const BACKENDS[] = {&backend_cpu, &backend_cuda};
#else
static const Backend *const BACKENDS[] = {&backend_cpu};
#endif
#define N_BACKENDS (int)(sizeof BACKENDS / sizeof *BACKENDS)

#ifdef LW_GPU_TEST
#include "backend/cuda.h"
#define DEVICE_LIBM_EPS (8 * 0x1p-24)
#else
#define DEVICE_LIBM_EPS 0.0
#endif
// The relative slack of one device libm call (and a contracted FMA) for backend bk: 0 but on a GPU.
static double libm_eps(const Backend *bk) { return bk == &backend_cpu ? 0.0 : DEVICE_LIBM_EPS; }
// A transform that calls tanhf (its fp32 values are libm's).
static int xf_libm(const LogitXform *t) { return t && (t->kind == XF_SOFTCAP || t->kind == XF_SCALE_SOFTCAP); }

// ---------------------------------------------------------------------------- inputs

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd_u32(void) { // xorshift64*
    g_rng ^= g_rng >> 12; g_rng ^= g_rng << 25; g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}
static float rnd_unit(void) { return (float)((rnd_u32() >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f; } // [-1, 1)
static void fill(float *x, size_t n, float scale) { for (size_t i = 0; i < n; i++) x[i] = scale * rnd_unit(); }

// Weights k/64 with |k| < 128: exact in bf16 and f16, so the reference uses the float as is and
// the stored bits are made here (bf16: the top half of the fp32 bits; f16: sign, exponent, 10
// mantissa bits of a normal number).
static float rnd_weight(void) { return (float)((int)(rnd_u32() % 255) - 127) / 64.0f; }

static uint16_t enc_bf16(float f) { uint32_t u; memcpy(&u, &f, 4); return (uint16_t)(u >> 16); }
static uint16_t enc_f16(float f) {
    if (f == 0.0f) return 0;
    uint16_t s = f < 0 ? 0x8000 : 0;
    int e;
    double m = frexp(fabs((double)f), &e); // |f| = m · 2^e, m in [0.5, 1)
    return (uint16_t)(s | (uint16_t)((e - 1 + 15) << 10) | (uint16_t)((int)ldexp(m * 2.0 - 1.0, 10)));
}

// Stores w [n] (values from rnd_weight) in dtype dt.
static void *store(DType dt, const float *w, size_t n) {
    if (dt == DT_F32) { float *o = malloc(n * 4); memcpy(o, w, n * 4); return o; }
    uint16_t *o = malloc(n * 2);
    for (size_t i = 0; i < n; i++) o[i] = dt == DT_BF16 ? enc_bf16(w[i]) : enc_f16(w[i]);
    return o;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, 4) == 0; }
// The same bits when eps = 0; else within eps·|want| (NaN alike, infinities equal).
static int same_or_near(float got, float want, double eps) {
    if (isnan(got) || isnan(want)) return isnan(got) && isnan(want);
    if (eps == 0 || isinf(want) || isinf(got)) return same_bits(got, want);
    return fabs((double)got - (double)want) <= eps * fabs((double)want);
}

// Backend memory holding a copy of host[bytes] (put), or fresh (dev); get downloads it into host
// and frees it.
static void *put(const Backend *bk, const void *host, size_t bytes) {
    void *d = bk->alloc(bytes);
    bk->upload(d, host, bytes);
    return d;
}
static void *dev(const Backend *bk, size_t bytes) { return bk->alloc(bytes); }
static void get(const Backend *bk, void *host, void *d, size_t bytes) {
    bk->download(host, d, bytes);
    bk->free(d);
}

// ---------------------------------------------------------------------------- buffers

TEST(buffers_round_trip) {
    for (int b = 0; b < N_BACKENDS; b++) {
        const Backend *bk = BACKENDS[b];
        CHECK(bk->name && bk->init && bk->alloc && bk->free && bk->upload && bk->download && bk->copy && bk->sync);
        bk->init();
        const size_t sizes[] = {0, 1, 7, 4097};
        for (int s = 0; s < 4; s++) {
            size_t n = sizes[s];
            unsigned char *host = malloc(n + 1), *back = malloc(n + 1);
            for (size_t i = 0; i < n; i++) host[i] = (unsigned char)(rnd_u32() & 0xff);
            void *d1 = bk->alloc(n), *d2 = bk->alloc(n);
            CHECKF(d1 && d2, "%s: alloc(%zu)", bk->name, n);
            bk->upload(d1, host, n);
            bk->copy(d2, d1, n);
            memset(back, 0xab, n + 1);
            bk->download(back, d2, n);
            bk->sync();
            CHECKF(memcmp(host, back, n) == 0 && back[n] == 0xab, "%s: %zu bytes", bk->name, n);
            bk->free(d1);
            bk->free(d2);
            free(host);
            free(back);
        }
        bk->free(NULL);
    }
}

// ---------------------------------------------------------------------------- matmul

typedef struct { int T; int64_t out, in; int bias; } MmCase;
// out = 130 with in = 20000: weight tiles of 64 rows (64 + 64 + 2); odd sizes elsewhere.
static const MmCase MM_CASES[] = {{1, 1, 1, 0}, {3, 7, 5, 1}, {17, 65, 33, 1}, {5, 130, 20000, 1}, {2, 300, 129, 0}};

// y_ref[t, o] = Σ_i x·w in double (the exact sum up to double rounding); mag = Σ |x·w| for the
// fp32 bound.
static void matmul_ref(const float *x, const float *w, int T, int64_t out, int64_t in, double *y, double *mag) {
    for (int t = 0; t < T; t++)
        for (int64_t o = 0; o < out; o++) {
            double s = 0, a = 0;
            for (int64_t i = 0; i < in; i++) {
                double p = (double)x[(size_t)t * in + i] * (double)w[(size_t)o * in + i];
                s += p;
                a += fabs(p);
            }
            y[(size_t)t * out + o] = s;
            mag[(size_t)t * out + o] = a;
        }
}

TEST(matmul_exact_fast_f64_every_dtype) {
    const DType dts[] = {DT_F32, DT_BF16, DT_F16};
    for (int b = 0; b < N_BACKENDS; b++)
        for (size_t c = 0; c < sizeof MM_CASES / sizeof *MM_CASES; c++)
            for (int di = 0; di < 3; di++) {
                const Backend *bk = BACKENDS[b];
                const MmCase *mc = &MM_CASES[c];
                size_t nx = (size_t)mc->T * mc->in, nw = (size_t)mc->out * mc->in, ny = (size_t)mc->T * mc->out;
                float *x = malloc(nx * 4), *w = malloc(nw * 4), *bias = malloc(mc->out * 4);
                fill(x, nx, 1.0f);
                for (size_t i = 0; i < nw; i++) w[i] = rnd_weight();
                fill(bias, mc->out, 0.5f);
                void *ws = store(dts[di], w, nw);
                double *ref = malloc(ny * 8), *mag = malloc(ny * 8), *y64 = malloc(ny * 8);
                float *ye = malloc(ny * 4), *yf = malloc(ny * 4);
                matmul_ref(x, w, mc->T, mc->out, mc->in, ref, mag);
                const float *bp = mc->bias ? bias : NULL;
                size_t wbytes = nw * dtype_size(dts[di]);
                float *dx = put(bk, x, nx * 4), *dbias = bp ? put(bk, bias, mc->out * 4) : NULL;
                void *dw = put(bk, ws, wbytes);
                float *dye = dev(bk, ny * 4), *dyf = dev(bk, ny * 4);
                double *dy64 = dev(bk, ny * 8);
                bk->matmul_exact(dx, mc->T, dts[di], dw, mc->out, mc->in, dbias, dye);
                bk->matmul_fast(dx, mc->T, dts[di], dw, mc->out, mc->in, dbias, dyf);
                bk->matmul_f64(dx, mc->T, dts[di], dw, mc->out, mc->in, dy64);
                get(bk, ye, dye, ny * 4);
                get(bk, yf, dyf, ny * 4);
                get(bk, y64, dy64, ny * 8);
                bk->free(dx); bk->free(dbias); bk->free(dw);
                int bad_e = 0, bad_f = 0, bad_d = 0;
                for (size_t i = 0; i < ny; i++) {
                    float want = (float)ref[i];
                    if (bp) want += bias[i % mc->out]; // the contract: bias added in fp32 after the rounding
                    if (!same_bits(ye[i], want)) bad_e++;
                    // fp32 sums: |error| ≤ in · 2^-24 · Σ|x·w| (+ the bias's rounding)
                    double tol = (double)mc->in * 0x1p-24 * mag[i] + 1e-6;
                    if (!(fabs((double)yf[i] - (double)want) <= tol)) bad_f++;
                    if (!(fabs(y64[i] - ref[i]) <= 1e-13 * mag[i])) bad_d++;
                }
                CHECKF(bad_e == 0, "%s matmul_exact T=%d out=%lld in=%lld dtype %d: %d of %zu not bit-exact", bk->name,
                       mc->T, (long long)mc->out, (long long)mc->in, di, bad_e, ny);
                CHECKF(bad_f == 0, "%s matmul_fast T=%d out=%lld in=%lld dtype %d: %d of %zu off", bk->name, mc->T,
                       (long long)mc->out, (long long)mc->in, di, bad_f, ny);
                CHECKF(bad_d == 0, "%s matmul_f64 T=%d out=%lld in=%lld dtype %d: %d of %zu off", bk->name, mc->T,
                       (long long)mc->out, (long long)mc->in, di, bad_d, ny);
                free(x); free(w); free(bias); free(ws); free(ref); free(mag); free(y64); free(ye); free(yf);
            }
}

// matmul_rowdot's contract written out for one output: 8 fp32 lanes over k ≡ j (mod 8), each
// product rounded then added (no FMA), the lanes joined ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), the
// tail added in order.
__attribute__((optimize("fp-contract=off")))
static float rowdot_ref(const float *x, const float *w, int64_t in) {
    float lane[8] = {0};
    int64_t k8 = in - in % 8;
    for (int64_t k = 0; k < k8; k++) lane[k % 8] = lane[k % 8] + x[k] * w[k];
    float s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (int64_t k = k8; k < in; k++) s = s + x[k] * w[k];
    return s;
}

TEST(matmul_rowdot_every_dtype) {
    const DType dts[] = {DT_F32, DT_BF16, DT_F16};
    for (int b = 0; b < N_BACKENDS; b++)
        for (size_t c = 0; c < sizeof MM_CASES / sizeof *MM_CASES; c++)
            for (int di = 0; di < 3; di++) {
                const Backend *bk = BACKENDS[b];
                const MmCase *mc = &MM_CASES[c];
                size_t nx = (size_t)mc->T * mc->in, nw = (size_t)mc->out * mc->in, ny = (size_t)mc->T * mc->out;
                float *x = malloc(nx * 4), *w = malloc(nw * 4), *y = malloc(ny * 4);
                fill(x, nx, 1.0f);
                for (size_t i = 0; i < nw; i++) w[i] = rnd_weight();
                void *ws = store(dts[di], w, nw);
                float *dx = put(bk, x, nx * 4), *dy = dev(bk, ny * 4);
                void *dw = put(bk, ws, nw * dtype_size(dts[di]));
                bk->matmul_rowdot(dx, mc->T, dts[di], dw, mc->out, mc->in, dy);
                get(bk, y, dy, ny * 4);
                bk->free(dx); bk->free(dw);
                int bad = 0;
                for (int t = 0; t < mc->T; t++)
                    for (int64_t o = 0; o < mc->out; o++)
                        bad += !same_bits(y[(size_t)t * mc->out + o], rowdot_ref(x + (size_t)t * mc->in, w + (size_t)o * mc->in, mc->in));
                CHECKF(bad == 0, "%s matmul_rowdot T=%d out=%lld in=%lld dtype %d: %d of %zu not bit-exact", bk->name, mc->T,
                       (long long)mc->out, (long long)mc->in, di, bad, ny);
                free(x); free(w); free(y); free(ws);
            }
}

TEST(round_f64_is_one_rounding) {
    for (int b = 0; b < N_BACKENDS; b++) {
        enum { N = 1001 };
        double x[N];
        float y[N];
        for (int i = 0; i < N; i++) x[i] = ldexp((double)rnd_unit(), (int)(rnd_u32() % 60) - 30) * (1.0 + 1e-12 * i);
        x[0] = INFINITY; x[1] = -0.0; x[2] = 1e300; x[3] = NAN;
        const Backend *bk = BACKENDS[b];
        double *dx = put(bk, x, sizeof x);
        float *dy = dev(bk, sizeof y);
        bk->round_f64(dx, dy, N);
        get(bk, y, dy, sizeof y);
        bk->free(dx);
        int bad = 0;
        for (int i = 0; i < N; i++) bad += !(same_bits(y[i], (float)x[i]) || (isnan(x[i]) && isnan(y[i])));
        CHECKF(bad == 0, "%s: %d of %d", BACKENDS[b]->name, bad, N);
    }
}

// ---------------------------------------------------------------------------- embedding

TEST(embed_rows_shard_and_zeros) {
    const DType dts[] = {DT_F32, DT_BF16, DT_F16};
    enum { D = 37, VL = 11, V0 = 20, T = 9 };
    const int32_t ids[T] = {20, 30, 19, 31, 25, 0, 1000, 20, 27}; // in, in (last), below, above, ...
    for (int b = 0; b < N_BACKENDS; b++)
        for (int di = 0; di < 3; di++) {
            float w[VL * D], out[T * D];
            for (int i = 0; i < VL * D; i++) w[i] = rnd_weight();
            void *ws = store(dts[di], w, VL * D);
            memset(out, 0x7f, sizeof out); // garbage the op must overwrite
            const Backend *bk = BACKENDS[b];
            void *dw = put(bk, ws, (size_t)VL * D * dtype_size(dts[di]));
            float *dout = put(bk, out, sizeof out);
            bk->embed_rows(dts[di], dw, V0, VL, D, ids, T, dout); // ids: host memory
            get(bk, out, dout, sizeof out);
            bk->free(dw);
            int bad = 0;
            for (int t = 0; t < T; t++) {
                int local = ids[t] - V0;
                for (int j = 0; j < D; j++) {
                    float want = local >= 0 && local < VL ? w[local * D + j] : 0.0f;
                    bad += !same_bits(out[t * D + j], want);
                }
            }
            CHECKF(bad == 0, "%s dtype %d: %d of %d", BACKENDS[b]->name, di, bad, T * D);
            free(ws);
        }
}

// ---------------------------------------------------------------------------- norm, rope

TEST(rmsnorm_rows_and_in_place) {
    const int ns[] = {1, 7, 64, 577};
    for (int b = 0; b < N_BACKENDS; b++)
        for (int c = 0; c < 4; c++) {
            int n = ns[c], rows = 3;
            float *x = malloc(sizeof(float) * rows * n), *w = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * rows * n);
            fill(x, (size_t)rows * n, 3.0f);
            fill(w, n, 2.0f);
            float eps = 1e-6f;
            const Backend *bk = BACKENDS[b];
            size_t xb = sizeof(float) * rows * n;
            float *dx = put(bk, x, xb), *dw = put(bk, w, sizeof(float) * n), *dy = dev(bk, xb);
            bk->rmsnorm(dx, dw, dy, rows, n, eps);
            get(bk, y, dy, xb);
            int bad = 0;
            for (int r = 0; r < rows; r++) {
                double ss = 0;
                for (int k = 0; k < n; k++) ss += (double)x[r * n + k] * x[r * n + k];
                double inv = 1.0 / sqrt(ss / n + eps);
                for (int k = 0; k < n; k++) {
                    double want = x[r * n + k] * inv * w[k];
                    bad += !(fabs(y[r * n + k] - want) <= 4 * 0x1p-24 * fabs(want) + 1e-30);
                }
            }
            bk->rmsnorm(dx, dw, dx, rows, n, eps); // out may alias x
            get(bk, x, dx, xb);
            bk->free(dw);
            for (int i = 0; i < rows * n; i++) bad += !same_bits(x[i], y[i]);
            CHECKF(bad == 0, "%s n=%d: %d off", BACKENDS[b]->name, n, bad);
            free(x); free(w); free(y);
        }
}

TEST(rope_inv_freq_tables_apply) {
    const double thetas[] = {10000.0, 1e6, 5e5};
    const int hds[] = {2, 64, 130};
    for (int b = 0; b < N_BACKENDS; b++)
        for (int c = 0; c < 3; c++) {
            const Backend *bk = BACKENDS[b];
            int hd = hds[c], half = hd / 2, T = 13, nh = 3, stride = nh * hd + 5; // padded rows
            float *inv = malloc(sizeof(float) * half);
            bk->rope_inv_freq(thetas[c], hd, inv);
            int bad_f = 0;
            for (int j = 0; j < half; j++) {
                double want = pow(thetas[c], -(double)(2 * j) / hd);
                // the exponent 2j/hd is an fp32 quotient (relative error 2^-24), which moves
                // theta^e by a factor of up to e·ln(theta)·2^-24; then two roundings
                bad_f += !(fabs(inv[j] - want) <= (2 + log(thetas[c])) * 0x1p-24 * want);
            }
            CHECKF(bad_f == 0, "%s inv_freq theta %g hd %d: %d off", bk->name, thetas[c], hd, bad_f);
            float *ct = malloc(sizeof(float) * T * half), *st = malloc(sizeof(float) * T * half);
            size_t tb = sizeof(float) * T * half;
            float *dct = dev(bk, tb), *dst = dev(bk, tb);
            bk->rope_tables(inv, hd, T, dct, dst); // inv_freq: host memory
            bk->download(ct, dct, tb);
            bk->download(st, dst, tb);
            int bad_t = 0;
            for (int t = 0; t < T; t++)
                for (int j = 0; j < half; j++) {
                    double a = t * (double)inv[j]; // the fp32 angle is within an ulp of a: |Δ| ≤ 2^-24·a
                    double tol = 0x1p-24 * a + 2 * 0x1p-24;
                    bad_t += !(fabs(ct[t * half + j] - cos(a)) <= tol && fabs(st[t * half + j] - sin(a)) <= tol);
                }
            CHECKF(bad_t == 0, "%s tables hd %d: %d off", bk->name, hd, bad_t);
            float *x = malloc(sizeof(float) * T * stride), *x0 = malloc(sizeof(float) * T * stride);
            fill(x, (size_t)T * stride, 2.0f);
            memcpy(x0, x, sizeof(float) * T * stride);
            float *dx = put(bk, x, sizeof(float) * T * stride);
            bk->rope_apply(dx, T, nh, hd, stride, dct, dst);
            get(bk, x, dx, sizeof(float) * T * stride);
            bk->free(dct); bk->free(dst);
            int bad_a = 0;
            for (int t = 0; t < T; t++)
                for (int h = 0; h < nh; h++)
                    for (int j = 0; j < half; j++) {
                        size_t o = (size_t)t * stride + (size_t)h * hd;
                        double c0 = ct[t * half + j], s0 = st[t * half + j], a = x0[o + j], bb = x0[o + j + half];
                        double w1 = a * c0 - bb * s0, w2 = bb * c0 + a * s0;
                        double tol = 4 * 0x1p-24 * (fabs(a) + fabs(bb));
                        bad_a += !(fabs(x[o + j] - w1) <= tol && fabs(x[o + j + half] - w2) <= tol);
                    }
            for (int t = 0; t < T; t++) // the padding past n_heads·hd is not touched
                for (int k = nh * hd; k < stride; k++) bad_a += !same_bits(x[(size_t)t * stride + k], x0[(size_t)t * stride + k]);
            CHECKF(bad_a == 0, "%s apply hd %d: %d off", bk->name, hd, bad_a);
            free(inv); free(ct); free(st); free(x); free(x0);
        }
}

// ---------------------------------------------------------------------------- attention

// Causal GQA attention in double, straight from the definition (one query at a time).
static void attention_ref(const float *q, const float *k, const float *v, int T, const AttnParams *p, double *out) {
    int hd = p->head_dim, qs = p->n_heads * hd, ks = p->n_kv * hd;
    double *s = malloc(sizeof(double) * (T ? T : 1));
    for (int h = 0; h < p->n_heads; h++) {
        int g = (p->head_start + h) / p->q_per_kv - p->kv_start;
        for (int i = 0; i < T; i++) {
            double mx = -INFINITY;
            int lo = p->window > 0 ? i - p->window + 1 : 0;
            if (lo < 0) lo = 0;
            for (int j = lo; j <= i; j++) {
                double d = 0;
                for (int c = 0; c < hd; c++) d += (double)q[(size_t)i * qs + h * hd + c] * k[(size_t)j * ks + g * hd + c];
                d *= p->scale;
                if (p->softcap > 0) d = p->softcap * tanh(d / p->softcap);
                s[j] = d;
                if (d > mx) mx = d;
            }
            double sum = 0;
            for (int j = lo; j <= i; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
            for (int c = 0; c < hd; c++) {
                double o = 0;
                for (int j = lo; j <= i; j++) o += s[j] / sum * v[(size_t)j * ks + g * hd + c];
                out[(size_t)i * qs + h * hd + c] = o;
            }
        }
    }
    free(s);
}

TEST(attention_gqa_window_softcap) {
    // T = 130: two query blocks of the CPU backend (128 + 2); 4 local query heads over 2 local kv
    // heads, as rank 1 of 2 sees them (global heads 4..7, kv 2..3).
    typedef struct { int T, window; float softcap; } AttCase;
    const AttCase cases[] = {{1, 0, 0}, {5, 0, 0}, {130, 0, 0}, {130, 3, 0}, {130, 129, 0}, {17, 0, 5.0f}, {130, 7, 2.0f}};
    for (int b = 0; b < N_BACKENDS; b++)
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            int T = cases[c].T, hd = 6;
            AttnParams p = {.n_heads = 4, .n_kv = 2, .head_dim = hd, .q_per_kv = 2, .head_start = 4, .kv_start = 2,
                            .scale = 1.0f / sqrtf((float)hd), .softcap = cases[c].softcap, .window = cases[c].window};
            size_t nq = (size_t)T * 4 * hd, nk = (size_t)T * 2 * hd;
            float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4);
            fill(q, nq, 3.0f); fill(k, nk, 3.0f); fill(v, nk, 1.0f);
            double *ref = malloc(nq * 8);
            const Backend *bk = BACKENDS[b];
            float *dq = put(bk, q, nq * 4), *dk = put(bk, k, nk * 4), *dv = put(bk, v, nk * 4), *dout = dev(bk, nq * 4);
            bk->attention(dq, dk, dv, T, NULL, 1, &p, dout); // p: host memory
            get(bk, o, dout, nq * 4);
            bk->free(dq); bk->free(dk); bk->free(dv);
            attention_ref(q, k, v, T, &p, ref);
            double worst = 0;
            for (size_t i = 0; i < nq; i++) worst = fmax(worst, fabs(o[i] - ref[i]));
            // |v| ≤ 1 and the weights sum to 1: fp32 scores (|s| ≲ 10), exp and sums stay within ~1e-5
            CHECKF(worst <= 1e-5, "%s T=%d window %d softcap %g: max |Δ| %.3g", BACKENDS[b]->name, T, p.window,
                   p.softcap, worst);
            free(q); free(k); free(v); free(o); free(ref);
        }
}

// A packed batch of prompts (segments): each segment's rows attend only within the segment, as
// if it were alone. Checked against the double reference run on each segment by itself, and bit
// for bit against the same backend's op on that segment alone (what batching must not change).
// Lengths: a 1-row prompt first and in the middle, one longer than the CPU's 128-query block,
// one shorter and one longer than the window.
TEST(attention_segments) {
    const int lens[] = {1, 130, 5, 17, 1, 9};
    enum { NS = sizeof lens / sizeof *lens };
    int32_t off[NS + 1] = {0};
    for (int s = 0; s < NS; s++) off[s + 1] = off[s] + lens[s];
    int T = off[NS], hd = 6;
    typedef struct { int window; float softcap; } SegCase;
    const SegCase cases[] = {{0, 0}, {7, 2.0f}, {200, 0}};
    for (int b = 0; b < N_BACKENDS; b++)
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            const Backend *bk = BACKENDS[b];
            AttnParams p = {.n_heads = 4, .n_kv = 2, .head_dim = hd, .q_per_kv = 2, .head_start = 4, .kv_start = 2,
                            .scale = 1.0f / sqrtf((float)hd), .softcap = cases[c].softcap, .window = cases[c].window};
            int qs = 4 * hd, ks = 2 * hd;
            size_t nq = (size_t)T * qs, nk = (size_t)T * ks;
            float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4), *alone = malloc(nq * 4);
            fill(q, nq, 3.0f); fill(k, nk, 3.0f); fill(v, nk, 1.0f);
            double *ref = malloc(nq * 8);
            float *dq = put(bk, q, nq * 4), *dk = put(bk, k, nk * 4), *dv = put(bk, v, nk * 4), *dout = dev(bk, nq * 4);
            bk->attention(dq, dk, dv, T, off, NS, &p, dout); // off: host memory
            get(bk, o, dout, nq * 4);
            bk->free(dq); bk->free(dk); bk->free(dv);
            for (int s = 0; s < NS; s++) {
                size_t r0 = (size_t)off[s];
                attention_ref(q + r0 * qs, k + r0 * ks, v + r0 * ks, lens[s], &p, ref + r0 * qs);
                float *sq = put(bk, q + r0 * qs, (size_t)lens[s] * qs * 4), *sk = put(bk, k + r0 * ks, (size_t)lens[s] * ks * 4);
                float *sv = put(bk, v + r0 * ks, (size_t)lens[s] * ks * 4), *so = dev(bk, (size_t)lens[s] * qs * 4);
                bk->attention(sq, sk, sv, lens[s], NULL, 1, &p, so);
                get(bk, alone + r0 * qs, so, (size_t)lens[s] * qs * 4);
                bk->free(sq); bk->free(sk); bk->free(sv);
            }
            double worst = 0;
            size_t differ = 0;
            for (size_t i = 0; i < nq; i++) {
                worst = fmax(worst, fabs(o[i] - ref[i]));
                differ += !same_bits(o[i], alone[i]);
            }
            CHECKF(worst <= 1e-5, "%s segments window %d softcap %g: max |Δ| %.3g", bk->name, p.window, p.softcap, worst);
            CHECKF(differ == 0, "%s segments window %d softcap %g: %zu of %zu outputs differ from each prompt alone",
                   bk->name, p.window, p.softcap, differ, nq);
            free(q); free(k); free(v); free(o); free(alone); free(ref);
        }
}

// ---------------------------------------------------------------------------- elementwise

TEST(gated_act_add_scale_softcap) {
    enum { N = 1003 };
    for (int b = 0; b < N_BACKENDS; b++) {
        const Backend *bk = BACKENDS[b];
        for (int gelu = 0; gelu <= 1; gelu++) {
            float g[N], u[N], g0[N];
            fill(g, N, 8.0f); fill(u, N, 2.0f);
            memcpy(g0, g, sizeof g);
            float *dg = put(bk, g, sizeof g), *du = put(bk, u, sizeof u);
            bk->gated_act(dg, du, N, gelu);
            get(bk, g, dg, sizeof g);
            bk->free(du);
            int bad = 0;
            for (int i = 0; i < N; i++) {
                double x = g0[i], act;
                if (gelu) act = 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
                else act = x / (1.0 + exp(-x));
                double want = act * u[i];
                bad += !(fabs(g[i] - want) <= 8 * 0x1p-24 * (fabs(x) * fabs(u[i])) + 1e-30);
            }
            CHECKF(bad == 0, "%s gated_act gelu=%d: %d of %d", bk->name, gelu, bad, N);
        }
        float y[N], x[N], y0[N];
        fill(y, N, 100.0f); fill(x, N, 0.01f);
        memcpy(y0, y, sizeof y);
        float *dy = put(bk, y, sizeof y), *dx = put(bk, x, sizeof x);
        bk->add(dy, dx, N);
        bk->download(y, dy, sizeof y);
        bk->free(dx);
        int bad = 0;
        for (int i = 0; i < N; i++) bad += !same_bits(y[i], (float)((double)y0[i] + (double)x[i])); // one rounding
        memcpy(y0, y, sizeof y);
        bk->scale(dy, N, 24.0f);
        get(bk, y, dy, sizeof y);
        for (int i = 0; i < N; i++) bad += !same_bits(y[i], (float)((double)y0[i] * 24.0));
        CHECKF(bad == 0, "%s add/scale: %d not one rounding", bk->name, bad);
        float s[N], s0[N];
        fill(s, N, 200.0f);
        s[0] = INFINITY; s[1] = -INFINITY;
        memcpy(s0, s, sizeof s);
        float *ds = put(bk, s, sizeof s);
        bk->softcap(ds, N, 30.0f);
        get(bk, s, ds, sizeof s);
        bad = 0;
        for (int i = 0; i < N; i++) {
            double want = 30.0 * tanh((double)s0[i] / 30.0);
            bad += !(fabs(s[i] - want) <= 4 * 0x1p-24 * 30.0);
        }
        CHECKF(bad == 0, "%s softcap: %d of %d", bk->name, bad, N);
    }
}

// ---------------------------------------------------------------------------- lens partials

static double xform_ref(const LogitXform *t, double z) {
    switch (t->kind) {
    case XF_DIV: return z / t->a;
    case XF_MUL: return t->a * z;
    case XF_SOFTCAP: return t->a * tanh(z / t->a);
    case XF_SCALE_SOFTCAP: return t->a * tanh(z / ((double)t->b * t->a));
    default: return z;
    }
}

// Rows: 0 plain, 1 with some -inf, 2 with a NaN, 3 all -inf, 4 all NaN, 5 large logits (×1e4);
// cols = 1 makes every row a single entry. The identity case passes xf = NULL.
TEST(softmax_partials_every_transform) {
    const LogitXform xfs[] = {{XF_IDENT, 1, 1}, {XF_DIV, 0.7f, 1}, {XF_MUL, 2.5f, 1}, {XF_SOFTCAP, 3.0f, 1},
                              {XF_SCALE_SOFTCAP, 3.0f, 0.5f}};
    const int colss[] = {1, 7, 1001};
    for (int b = 0; b < N_BACKENDS; b++)
        for (int ci = 0; ci < 3; ci++)
            for (int xi = 0; xi < 5; xi++)
                for (int given = 0; given <= 1; given++) {
                    const Backend *bk = BACKENDS[b];
                    enum { ROWS = 6 };
                    int cols = colss[ci];
                    size_t ld = (size_t)cols + 3;
                    float *z = malloc(sizeof(float) * ROWS * ld);
                    fill(z, ROWS * ld, 10.0f);
                    z[1 * ld + 0] = -INFINITY;
                    z[1 * ld + cols / 2] = -INFINITY;
                    z[2 * ld + cols - 1] = NAN;
                    for (int v = 0; v < cols; v++) z[3 * ld + v] = -INFINITY;
                    for (int v = 0; v < cols; v++) z[4 * ld + v] = NAN;
                    for (int v = 0; v < cols; v++) z[5 * ld + v] *= 1e4f;
                    LogitXform xf[ROWS];
                    for (int r = 0; r < ROWS; r++) xf[r] = xfs[xi];
                    // reference: max over the non-NaN transformed values (-inf when none), then sums
                    double mref[ROWS];
                    float m_in[ROWS], mx[ROWS];
                    for (int r = 0; r < ROWS; r++) {
                        double m = -INFINITY;
                        for (int v = 0; v < cols; v++) {
                            double x = xform_ref(&xf[r], z[r * ld + v]);
                            if (x > m) m = x;
                        }
                        mref[r] = m;
                        // a given max above the local one (another shard's): 1.5 more
                        m_in[r] = isinf(m) ? (float)m : (float)m + 1.5f;
                    }
                    double S[ROWS], E[ROWS];
                    float *dz = put(bk, z, sizeof(float) * ROWS * ld), *dmx = dev(bk, sizeof mx);
                    double *dS = dev(bk, sizeof S), *dE = dev(bk, sizeof E);
                    // xf, m_in: host memory
                    bk->softmax_partials(dz, ROWS, cols, ld, xfs[xi].kind == XF_IDENT && xi == 0 ? NULL : xf,
                                         given ? m_in : NULL, given ? NULL : dmx, dS, dE);
                    if (!given) bk->download(mx, dmx, sizeof mx);
                    bk->download(S, dS, sizeof S);
                    bk->download(E, dE, sizeof E);
                    int bad = 0;
                    double le = libm_eps(bk); // on a GPU: device tanhf, and x − m possibly one FMA
                    for (int r = 0; r < ROWS; r++) {
                        double m = given ? m_in[r] : mref[r];
                        if (!given) {
                            // the max is one transformed logit: within an ulp or two of the double transform
                            int ok = isinf(mref[r]) ? mx[r] == mref[r]
                                                    : fabs(mx[r] - mref[r]) <= (4 * 0x1p-24 + le) * fabs(mref[r]);
                            if (!ok) { bad++; printf("    row %d max %.9g vs %.9g\n", r, mx[r], mref[r]); }
                            m = mx[r];
                        }
                        double s = 0, e = 0, tol = 0;
                        for (int v = 0; v < cols; v++) {
                            double x = xform_ref(&xf[r], z[r * ld + v]), d = x - m, p = exp(d);
                            s += p;
                            e += p * d; // IEEE: a -inf entry gives 0 · -inf = NaN here, as in the op
                            // the op's fp32 x and x − m are off by a few ulps of |x| and |m| (an
                            // absolute error that exp turns into a relative one), then expf's ulps
                            if (isfinite(d))
                                tol += p * (1 + fabs(d)) * ((8 * 0x1p-24 + le) * (fabs(x) + fabs(m) + 1) + 8 * 0x1p-24 + le);
                        }
                        tol += 1e-300;
                        int ok_s = (isnan(s) && isnan(S[r])) || fabs(S[r] - s) <= tol;
                        int ok_e = (isnan(e) && isnan(E[r])) || fabs(E[r] - e) <= tol * (1 + fabs(m));
                        if (!ok_s || !ok_e) {
                            bad++;
                            printf("    row %d: S %.12g vs %.12g, E %.12g vs %.12g (tol %.3g)\n", r, S[r], s, E[r], e, tol);
                        }
                    }
                    CHECKF(bad == 0, "%s cols %d transform %d given max %d: %d rows off", bk->name, cols, xi, given, bad);
                    // max only (row_s, row_e NULL), and the same max as with the sums
                    float mx2[ROWS];
                    bk->softmax_partials(dz, ROWS, cols, ld, xf, NULL, dmx, NULL, NULL);
                    bk->download(mx2, dmx, sizeof mx2);
                    float mx3[ROWS];
                    bk->softmax_partials(dz, ROWS, cols, ld, xf, NULL, dmx, dS, dE);
                    bk->download(mx3, dmx, sizeof mx3);
                    bk->free(dz); bk->free(dmx); bk->free(dS); bk->free(dE);
                    for (int r = 0; r < ROWS; r++) CHECK(same_bits(mx2[r], mx3[r]));
                    free(z);
                }
}

// ---------------------------------------------------------------------------- fused lens statistics

// lens_scan and lens_sums take BACKEND memory (the lens's chunk); a backend without host_memory
// also accepts host rows and uploads them (backend.h): the odd transforms run on a backend copy
// of the rows, the even ones on the host rows. Reference: the transformed values
// x_v = logit_xform(z_v) (backend.h's definition of the transform), then plain loops here: the max
// in index order (x > m: NaN never wins, the first of ±0 stays), the top-k by sorting every
// non-NaN (x, v0 + v) by x descending, id ascending, and the counts by comparing each entry with
// lo and hi — all exact, compared bit for bit. S and E against a double reference with the bound
// of softmax_partials above, and on a second backend against the CPU backend's: the same fp32
// terms (the emulation runs the host's expf, and the fast exp is the same fp32 operations) summed
// in double in another order, within 2·cols·2^-53 of the sum of their magnitudes.
typedef struct { float x; int32_t id; } RefCand;
static int ref_cand_cmp(const void *pa, const void *pb) {
    const RefCand *a = pa, *b = pb;
    if (a->x != b->x) return a->x > b->x ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

// Rows: 0 plain, 1 some -inf, 2 a NaN, 3 all -inf, 4 all NaN, 5 large (×1e4), 6 ties: values in
// {-2, -1, ±0} (top-k ties broken by id, a max of ±0 taking the first zero's sign).
enum { FL_ROWS = 7 };
static void fused_rows(float *z, int cols, size_t ld) {
    fill(z, FL_ROWS * ld, 10.0f);
    z[1 * ld + 0] = -INFINITY;
    z[1 * ld + cols / 2] = -INFINITY;
    z[2 * ld + cols - 1] = NAN;
    for (int v = 0; v < cols; v++) {
        z[3 * ld + v] = -INFINITY;
        z[4 * ld + v] = NAN;
        z[5 * ld + v] *= 1e4f;
        uint32_t u = rnd_u32();
        z[6 * ld + v] = u % 3 == 0 ? -2.0f : u % 3 == 1 ? -1.0f : ((u >> 8) & 1 ? -0.0f : 0.0f);
    }
}

TEST(lens_scan_sums_every_transform) {
    const LogitXform xfs[] = {{XF_IDENT, 1, 1}, {XF_DIV, 0.7f, 1}, {XF_MUL, 2.5f, 1}, {XF_SOFTCAP, 3.0f, 1},
                              {XF_SCALE_SOFTCAP, 3.0f, 0.5f}};
    // 129 and 1001: not multiples of 8 (the CPU's vectors) or 128 (the kernels' blocks); k = 60
    // puts the CUDA kernel's candidate lists in global memory (k <= 40 in shared memory)
    const int colss[] = {1, 7, 129, 1001}, ks[] = {0, 1, 5, 60}, nts[] = {0, 3, 9};
    const int64_t v0 = 1000;
    for (int b = 0; b < N_BACKENDS; b++)
        for (int ci = 0; ci < 4; ci++)
            for (int xi = 0; xi < 5; xi++) {
                const Backend *bk = BACKENDS[b];
                CHECKF(bk->lens_scan && bk->lens_sums, "%s has the fused lens ops", bk->name);
                if (!bk->lens_scan || !bk->lens_sums) continue;
                int cols = colss[ci];
                size_t ld = (size_t)cols + 3;
                float *z = malloc(sizeof(float) * FL_ROWS * ld), *x = malloc(sizeof(float) * FL_ROWS * cols);
                fused_rows(z, cols, ld);
                int dev = !bk->host_memory && xi % 2 == 1;
                float *zo = dev ? bk->alloc(sizeof(float) * FL_ROWS * ld) : z; // the rows the ops get
                if (dev) bk->upload(zo, z, sizeof(float) * FL_ROWS * ld);
                LogitXform xf[FL_ROWS];
                const LogitXform *xfp = xi == 0 ? NULL : xf; // the identity as NULL
                for (int r = 0; r < FL_ROWS; r++) xf[r] = xfs[xi];
                float mref[FL_ROWS], m_in[FL_ROWS];
                for (int r = 0; r < FL_ROWS; r++) {
                    float m = -INFINITY;
                    for (int v = 0; v < cols; v++) {
                        float xv = logit_xform(xf[r].kind, xf[r].a, xf[r].b, z[r * ld + v]);
                        x[r * cols + v] = xv;
                        if (xv > m) m = xv;
                    }
                    mref[r] = m;
                    m_in[r] = isinf(m) ? m : m + 1.5f; // another shard's larger max
                }
                // On a GPU the softcap transforms' values are the device tanhf's: each within le
                // (relative) of x. Then the max and the j-th value of the top-k are within le of the
                // reference's, the id returned with a value carries that value (within le), the ids
                // are distinct; a count may differ by the entries within le of its threshold.
                double le = xf_libm(&xfs[xi]) ? libm_eps(bk) : 0.0;
                // lens_scan
                for (int ki = 0; ki < 4; ki++) {
                    int k = ks[ki], bad = 0;
                    float mx[FL_ROWS], *tx = malloc(sizeof(float) * FL_ROWS * (k ? k : 1));
                    int32_t *tid = malloc(sizeof(int32_t) * FL_ROWS * (k ? k : 1));
                    bk->lens_scan(zo, FL_ROWS, cols, ld, xfp, v0, k, mx, k ? tx : NULL, k ? tid : NULL);
                    RefCand *c = malloc(sizeof(RefCand) * cols);
                    for (int r = 0; r < FL_ROWS; r++) {
                        if (!same_or_near(mx[r], mref[r], le)) { bad++; printf("    row %d max %g vs %g\n", r, mx[r], mref[r]); }
                        int n = 0;
                        for (int v = 0; v < cols; v++)
                            if (!isnan(x[r * cols + v])) c[n++] = (RefCand){x[r * cols + v], (int32_t)(v0 + v)};
                        qsort(c, n, sizeof *c, ref_cand_cmp);
                        for (int j = 0; j < k; j++) {
                            float ex = j < n ? c[j].x : NAN;
                            int32_t eid = j < n ? c[j].id : -1;
                            float gx = tx[r * k + j];
                            int32_t gid = tid[r * k + j];
                            int ok = gid == eid && (same_bits(gx, ex) || (isnan(gx) && isnan(ex)));
                            if (le > 0) { // device tanhf: near-ties may swap
                                ok = (gid < 0) == (eid < 0) && same_or_near(gx, ex, le) &&
                                     (gid < 0 || (gid >= v0 && gid < v0 + cols && same_or_near(gx, x[r * cols + (gid - v0)], le)));
                                for (int i = 0; i < j; i++) ok = ok && (gid < 0 || tid[r * k + i] != gid);
                            }
                            if (!ok) {
                                bad++;
                                printf("    row %d top %d: (%g, %d) vs (%g, %d)\n", r, j, gx, tid[r * k + j], ex, eid);
                            }
                        }
                    }
                    CHECKF(bad == 0, "%s lens_scan cols %d transform %d k %d: %d entries off", bk->name, cols, xi, k, bad);
                    free(c); free(tx); free(tid);
                }
                // lens_sums
                for (int fast = 0; fast <= 1; fast++)
                    for (int ni = 0; ni < 3; ni++) {
                        int nt = nts[ni], bad = 0;
                        LensThreshold *th = malloc(sizeof(LensThreshold) * FL_ROWS * (nt ? nt : 1));
                        for (int r = 0; r < FL_ROWS; r++)
                            for (int j = 0; j < nt; j++) {
                                LensThreshold *t = &th[r * nt + j];
                                int v = (int)(rnd_u32() % cols);
                                float xv = x[r * cols + v];
                                // the tracked id: in the shard (often the entry the threshold comes
                                // from), outside it, or none
                                t->id = j % 3 == 0 ? (int32_t)(v0 + v) : j % 3 == 1 ? (int32_t)(v0 + rnd_u32() % cols)
                                                                         : (rnd_u32() & 1 ? -1 : (int32_t)(v0 + cols + 5));
                                float w = (float)(rnd_u32() % 4) * 0.25f;
                                if (isnan(xv) || isinf(xv)) { t->lo = t->hi = INFINITY; continue; }
                                t->hi = j % 2 ? xv : xv + w; // x <= hi inclusive
                                t->lo = j % 4 == 1 ? t->hi : xv - w - 0.5f;
                            }
                        double S[FL_ROWS], E[FL_ROWS];
                        int64_t ab[FL_ROWS * 9], bd[FL_ROWS * 9], ab2[FL_ROWS * 9], bd2[FL_ROWS * 9];
                        bk->lens_sums(zo, FL_ROWS, cols, ld, xfp, m_in, fast, v0, nt, nt ? th : NULL, S, E, nt ? ab : NULL,
                                      nt ? bd : NULL);
                        if (nt) // the counts only: no m, no sums
                            bk->lens_sums(zo, FL_ROWS, cols, ld, xfp, NULL, fast, v0, nt, th, NULL, NULL, ab2, bd2);
                        double Sc[FL_ROWS], Ec[FL_ROWS];
                        if (bk != &backend_cpu)
                            backend_cpu.lens_sums(z, FL_ROWS, cols, ld, xfp, m_in, fast, v0, 0, NULL, Sc, Ec, NULL, NULL);
                        for (int r = 0; r < FL_ROWS; r++) {
                            for (int j = 0; j < nt; j++) {
                                const LensThreshold *t = &th[r * nt + j];
                                int64_t ea = 0, eb = 0, sa = 0, sb = 0; // sa, sb: entries within le of hi, lo
                                for (int v = 0; v < cols; v++) {
                                    float xv = x[r * cols + v];
                                    ea += xv > t->hi;
                                    eb += xv > t->lo && xv <= t->hi && v0 + v != t->id;
                                    if (le > 0 && isfinite(xv)) {
                                        int nh = fabs(xv - t->hi) <= le * fabs(xv), nl = fabs(xv - t->lo) <= le * fabs(xv);
                                        sa += nh;
                                        sb += nh || nl;
                                    }
                                }
                                int i = r * nt + j;
                                if (llabs(ab[i] - ea) > sa || llabs(bd[i] - eb) > sb || ab2[i] != ab[i] || bd2[i] != bd[i]) {
                                    bad++;
                                    printf("    row %d thr %d (%g, %g] id %d: above %lld/%lld band %lld/%lld vs %lld %lld\n", r, j,
                                           t->lo, t->hi, t->id, (long long)ab[i], (long long)ab2[i], (long long)bd[i],
                                           (long long)bd2[i], (long long)ea, (long long)eb);
                                }
                            }
                            // on a GPU the terms go through the device's expf (fast_exp 0) and tanhf
                            // (softcap transforms): then they are not the CPU's terms
                            double lt = fast == 0 || le > 0 ? libm_eps(bk) : 0.0;
                            double m = m_in[r], s = 0, e = 0, tol = 0, mag_e = 0;
                            for (int v = 0; v < cols; v++) {
                                double xv = xform_ref(&xf[r], z[r * ld + v]), d = xv - m, p = exp(d);
                                s += p;
                                e += p * d; // IEEE: a -inf entry gives 0 · -inf = NaN, as in the op
                                if (isfinite(d)) {
                                    tol += p * (1 + fabs(d)) * ((8 * 0x1p-24 + lt) * (fabs(xv) + fabs(m) + 1) + 8 * 0x1p-24 + lt);
                                    mag_e += p * fabs(d);
                                }
                            }
                            tol += 1e-300;
                            int ok_s = (isnan(s) && isnan(S[r])) || fabs(S[r] - s) <= tol;
                            int ok_e = (isnan(e) && isnan(E[r])) || fabs(E[r] - e) <= tol * (1 + fabs(m));
                            if (bk != &backend_cpu && lt == 0) { // the same terms, summed in another order
                                double ts = 2.0 * cols * 0x1p-53 * (fabs(Sc[r]) * 1.01) + 1e-300;
                                double te = 2.0 * cols * 0x1p-53 * (mag_e * 1.01 + fabs(Ec[r])) + 1e-300;
                                ok_s = ok_s && ((isnan(Sc[r]) && isnan(S[r])) || fabs(S[r] - Sc[r]) <= ts);
                                ok_e = ok_e && ((isnan(Ec[r]) && isnan(E[r])) || fabs(E[r] - Ec[r]) <= te);
                            }
                            if (!ok_s || !ok_e) {
                                bad++;
                                printf("    row %d: S %.17g vs %.17g (cpu %.17g), E %.17g vs %.17g (cpu %.17g)\n", r, S[r], s,
                                       bk != &backend_cpu ? Sc[r] : S[r], E[r], e, bk != &backend_cpu ? Ec[r] : E[r]);
                            }
                        }
                        CHECKF(bad == 0, "%s lens_sums cols %d transform %d fast_exp %d nt %d: %d values off", bk->name,
                               cols, xi, fast, nt, bad);
                        free(th);
                    }
                if (dev) bk->free(zo);
                free(z);
                free(x);
            }
}

// ---------------------------------------------------------------------------- per-row lens reductions

// lens_values, lens_pair, lens_js, lens_dots, lens_extremes take HOST arrays of pointers to
// BACKEND rows (host rows accepted by a backend without host_memory: both are run).
// Reference: the contract of backend.h written out here — the transformed fp32 values x, p =
// expf(x − lse), the guarded log ln(p + ε) = (x − lse) when that is > −52 else logf(expf(.) + ε),
// each term in fp32 as stated, summed in double in index order; maxima and flags by plain loops.
// values and extremes are compared bit for bit; a sum within 2·cols·2^-53 of the sum of its
// terms' magnitudes (the CPU sums those terms in index order, a GPU per thread and then a tree:
// any order of n double additions is within (n−1)·2^-53·Σ|t| of the exact sum). The rows of P:
// those of the fused tests (plain, -inf, NaN, all -inf, all NaN, ×1e4), the last one's ties in
// {2, 1, ±0} (so that max(−x) is a zero, the first zero's sign); of Q: another draw, either one Q
// per row or one Q row shared by every row (the CPU's cached Q, the CUDA backend's one copy), with
// Q under another transform than P.
static float ref_glog(float lp) { return lp > -52.0f ? lp : logf(expf(lp) + 1e-30f); }

// slack: 0, but on a GPU the first-order effect of the device's libm on the terms (dev_slack).
static int close_sum(double got, double ref, double mag, int n, double slack) {
    if (isnan(ref) || isnan(got)) return isnan(ref) && isnan(got);
    if (isinf(ref)) return got == ref;
    return fabs(got - ref) <= 2.0 * n * 0x1p-53 * mag + slack + 1e-300;
}

// On a GPU (u = libm_eps > 0): how far one entry's fp32 terms may move when expf and logf are
// the device's (u relative each) and so is tanhf in P's and Q's transforms (lxp, lxq: u, or 0
// for the other transforms, whose fp32 values are the same everywhere). First order: x − lse
// moves by δx = lx·|x|, p = expf(x − lse) by δp = p·(δx + u), ln(p + ε) by δg = δx + u·|ln|; the
// m of JS by 0.5·(δp + δq)·inv + u·m, ln(m + ε) by δm / (m + ε) + u·|ln m|; each fp32 product
// or difference rounds within u of its value. sl[0..7]: lens_pair's slots, sl[8]: lens_js.
static void dev_slack(double u, double lxp, double lxq, float X, float Y, float p, float q, float gp, float gq,
                      float inv, double *sl) {
    for (int i = 0; i < 9; i++) sl[i] = 0;
    if (u == 0 || !isfinite(p) || !isfinite(q) || !isfinite(gp) || !isfinite(gq)) return;
    double dxp = lxp * fabs(X), dxq = lxq * fabs(Y);
    if (!isfinite(dxp)) dxp = 0; // x = ±inf: p is 0 or the sum is not finite
    if (!isfinite(dxq)) dxq = 0;
    double dp = p * (dxp + u), dq = q * (dxq + u), dgp = dxp + u * fabs(gp), dgq = dxq + u * fabs(gq);
    sl[0] = dp * fabs(gp - gq) + p * (dgp + dgq) + u * fabs(p * (gp - gq));
    sl[1] = dq * fabs(gq - gp) + q * (dgp + dgq) + u * fabs(q * (gq - gp));
    sl[2] = dp + dq + u * fabs(p - q);
    sl[3] = dp;
    sl[4] = dq;
    sl[5] = dp * fabs(gp) + p * dgp;
    sl[6] = dq * fabs(gq) + q * dgq;
    sl[7] = dq * fabs(gp) + q * dgp;
    double m = 0.5 * ((double)p + q) * inv, dm = 0.5 * (dp + dq) * inv + u * m, lm = log(m + 1e-30);
    double dlm = dm / (m + 1e-30) + u * fabs(lm);
    sl[8] = 0.5 * (dp * fabs(gp - lm) + p * (dgp + dlm)) + 0.5 * (dq * fabs(gq - lm) + q * (dgq + dlm)) +
            u * (p * fabs(gp - lm) + q * fabs(gq - lm));
}

TEST(lens_row_reductions_every_transform) {
    const LogitXform xfs[] = {{XF_IDENT, 1, 1}, {XF_DIV, 0.7f, 1}, {XF_MUL, 2.5f, 1}, {XF_SOFTCAP, 3.0f, 1},
                              {XF_SCALE_SOFTCAP, 3.0f, 0.5f}};
    const int colss[] = {1, 7, 129, 1001};
    const unsigned whats[] = {LPS_HP, LPS_CE_QP, LPS_KL_PQ | LPS_HP, LPS_KL_PQ, 127u};
    const int64_t v0 = 1000;
    enum { NIDS = 6 };
    for (int b = 0; b < N_BACKENDS; b++)
        for (int ci = 0; ci < 4; ci++)
            for (int xi = 0; xi < 5; xi++)
                for (int sqd = 0; sqd < 4; sqd++) {
                    // shared_q: every row's Q the same pointer; dev: the rows in backend memory (a
                    // backend without host_memory: the lens's chunk on the device; else host rows,
                    // which such a backend uploads first: backend.h)
                    int shared_q = sqd & 1, dev = sqd >> 1;
                    const Backend *bk = BACKENDS[b];
                    if (dev && bk->host_memory) continue;
                    CHECKF(bk->lens_values && bk->lens_pair && bk->lens_js && bk->lens_dots && bk->lens_extremes,
                           "%s has the per-row lens ops", bk->name);
                    if (!bk->lens_values || !bk->lens_pair || !bk->lens_js || !bk->lens_dots || !bk->lens_extremes)
                        continue;
                    int cols = colss[ci], R = FL_ROWS;
                    size_t ld = (size_t)cols + 3;
                    float *zp = malloc(sizeof(float) * R * ld), *zq = malloc(sizeof(float) * R * ld);
                    fused_rows(zp, cols, ld);
                    fused_rows(zq, cols, ld);
                    for (int v = 0; v < cols; v++) // P's row 6 in {2, 1, ±0}: max(−x) is a zero, the first one's
                        if (zp[6 * ld + v] < 0) zp[6 * ld + v] = -zp[6 * ld + v];
                    const float *P[FL_ROWS], *Q[FL_ROWS];
                    LogitXform xp[FL_ROWS], xq[FL_ROWS];
                    float lp[FL_ROWS], lq[FL_ROWS];
                    float *X = malloc(sizeof(float) * R * cols), *Y = malloc(sizeof(float) * R * cols);
                    for (int r = 0; r < R; r++) {
                        P[r] = zp + r * ld;
                        Q[r] = shared_q ? zq : zq + r * ld;
                        xp[r] = xfs[xi];
                        xq[r] = xfs[(xi + 1) % 5];
                        for (int v = 0; v < cols; v++) {
                            X[r * cols + v] = logit_xform(xp[r].kind, xp[r].a, xp[r].b, P[r][v]);
                            Y[r * cols + v] = logit_xform(xq[r].kind, xq[r].a, xq[r].b, Q[r][v]);
                        }
                        for (int pq = 0; pq < 2; pq++) { // fp32 log-sum-exp from a double reference
                            const float *x = (pq ? Y : X) + r * cols;
                            double m = -INFINITY, S = 0;
                            for (int v = 0; v < cols; v++) m = x[v] > m ? x[v] : m;
                            for (int v = 0; v < cols; v++) S += exp((double)x[v] - m);
                            float l = isinf(m) && m < 0 ? (float)m : (float)(m + log(S));
                            if (pq) lq[r] = l; else lp[r] = l;
                        }
                    }
                    const LogitXform *xpp = xi == 0 ? NULL : xp; // the identity as NULL
                    float *dzp = NULL, *dzq = NULL;
                    if (dev) {
                        dzp = bk->alloc(sizeof(float) * R * ld);
                        dzq = bk->alloc(sizeof(float) * R * ld);
                        bk->upload(dzp, zp, sizeof(float) * R * ld);
                        bk->upload(dzq, zq, sizeof(float) * R * ld);
                    }
                    const float *PO[FL_ROWS], *QO[FL_ROWS]; // the rows the ops get
                    for (int r = 0; r < R; r++) {
                        PO[r] = dev ? dzp + (P[r] - zp) : P[r];
                        QO[r] = dev ? dzq + (Q[r] - zq) : Q[r];
                    }
                    int bad = 0;
                    // on a GPU: the device's libm (0 elsewhere: the checks are exact where stated)
                    double u = libm_eps(bk), lxp = xf_libm(&xp[0]) ? u : 0.0, lxq = xf_libm(&xq[0]) ? u : 0.0;
                    // values
                    int32_t ids[FL_ROWS * NIDS];
                    float vals[FL_ROWS * NIDS];
                    for (int r = 0; r < R; r++) {
                        int32_t *t = ids + r * NIDS;
                        t[0] = (int32_t)(v0 + rnd_u32() % cols); t[1] = (int32_t)v0; t[2] = (int32_t)(v0 + cols - 1);
                        t[3] = (int32_t)(v0 - 1); t[4] = (int32_t)(v0 + cols); t[5] = -1;
                    }
                    bk->lens_values(PO, xpp, R, cols, v0, NIDS, ids, vals);
                    for (int r = 0; r < R; r++)
                        for (int j = 0; j < NIDS; j++) {
                            int64_t c = ids[r * NIDS + j] - v0;
                            float e = c >= 0 && c < cols ? X[r * cols + c] : -INFINITY, g = vals[r * NIDS + j];
                            if (!same_or_near(g, e, lxp)) {
                                bad++;
                                printf("    values row %d id %d: %g vs %g\n", r, ids[r * NIDS + j], g, e);
                            }
                        }
                    CHECKF(bad == 0, "%s lens_values cols %d transform %d: %d off", bk->name, cols, xi, bad);
                    // extremes
                    float ex[FL_ROWS * 4];
                    bad = 0;
                    bk->lens_extremes(PO, xpp, R, cols, ex);
                    for (int r = 0; r < R; r++) {
                        float amax = 0.0f, nmin = -INFINITY, fn = 0, fi = 0;
                        for (int v = 0; v < cols; v++) {
                            float x = X[r * cols + v];
                            if (isnan(x)) { fn = 1; continue; }
                            if (isinf(x)) fi = 1;
                            if (fabsf(x) > amax) amax = fabsf(x);
                            if (-x > nmin) nmin = -x; // the first of ±0 stays
                        }
                        float e[4] = {amax, nmin, fn, fi};
                        for (int i = 0; i < 4; i++)
                            if (!same_or_near(ex[r * 4 + i], e[i], i < 2 ? lxp : 0.0)) {
                                bad++;
                                printf("    extremes row %d [%d]: %g vs %g\n", r, i, ex[r * 4 + i], e[i]);
                            }
                    }
                    CHECKF(bad == 0, "%s lens_extremes cols %d transform %d: %d off", bk->name, cols, xi, bad);
                    // dots
                    double dots[FL_ROWS * 3];
                    bad = 0;
                    bk->lens_dots(PO, xpp, QO, xq, R, cols, dots);
                    for (int r = 0; r < R; r++) {
                        double e[3] = {0, 0, 0}, mag[3] = {0, 0, 0};
                        for (int v = 0; v < cols; v++) {
                            double p = X[r * cols + v], q = Y[r * cols + v];
                            e[0] += p * q; e[1] += p * p; e[2] += q * q;
                            mag[0] += fabs(p * q); mag[1] += p * p; mag[2] += q * q;
                        }
                        // on a GPU x_P, x_Q within lxp, lxq relative: a product within their sum
                        double sl[3] = {(lxp + lxq) * mag[0], 2 * lxp * mag[1], 2 * lxq * mag[2]};
                        for (int i = 0; i < 3; i++)
                            if (!close_sum(dots[r * 3 + i], e[i], mag[i], cols, sl[i])) {
                                bad++;
                                printf("    dots row %d [%d]: %.17g vs %.17g\n", r, i, dots[r * 3 + i], e[i]);
                            }
                    }
                    CHECKF(bad == 0, "%s lens_dots cols %d transform %d shared Q %d: %d off", bk->name, cols, xi,
                           shared_q, bad);
                    // pair sums, then JS with the mixture's normalization from the reference sums
                    double msum[FL_ROWS];
                    for (int wi = 0; wi < 5; wi++) {
                        unsigned what = whats[wi];
                        int need_q = (what & ~(unsigned)LPS_HP) != 0;
                        double out[FL_ROWS * 8];
                        bad = 0;
                        bk->lens_pair(PO, xpp, lp, need_q ? QO : NULL, need_q ? xq : NULL, need_q ? lq : NULL, R, cols,
                                      what, out);
                        for (int r = 0; r < R; r++) {
                            double e[8] = {0}, mag[8] = {0}, slack[8] = {0}, sl[9];
                            for (int v = 0; v < cols; v++) {
                                float xpv = X[r * cols + v] - lp[r], xqv = Y[r * cols + v] - lq[r];
                                float p = expf(xpv), q = expf(xqv), gp = ref_glog(xpv), gq = ref_glog(xqv);
                                dev_slack(u, lxp, lxq, X[r * cols + v], Y[r * cols + v], p, q, gp, gq, 1.0f, sl);
                                double t[8] = {(double)(p * (gp - gq)), (double)(q * (gq - gp)), (double)fabsf(p - q),
                                               (double)p, (double)q, -(double)p * gp, -(double)q * gq, -(double)q * gp};
                                const unsigned bit[8] = {LPS_KL_PQ, LPS_KL_QP, LPS_L1, LPS_SUMS, LPS_SUMS, LPS_HP,
                                                         LPS_HQ, LPS_CE_QP};
                                for (int i = 0; i < 8; i++)
                                    if (what & bit[i]) { e[i] += t[i]; mag[i] += fabs(t[i]); slack[i] += sl[i]; }
                            }
                            if (what == 127u) msum[r] = 0.5 * (e[3] + e[4]);
                            for (int i = 0; i < 8; i++)
                                if (!close_sum(out[r * 8 + i], e[i], mag[i], cols, slack[i])) {
                                    bad++;
                                    printf("    pair what %u row %d [%d]: %.17g vs %.17g\n", what, r, i, out[r * 8 + i],
                                           e[i]);
                                }
                        }
                        CHECKF(bad == 0, "%s lens_pair what %u cols %d transform %d shared Q %d: %d off", bk->name, what,
                               cols, xi, shared_q, bad);
                    }
                    double js[FL_ROWS];
                    bad = 0;
                    bk->lens_js(PO, xpp, lp, QO, xq, lq, R, cols, msum, js);
                    for (int r = 0; r < R; r++) {
                        double e = 0, mag = 0, slack = 0, sl[9];
                        float inv = (float)(1.0 / msum[r]);
                        for (int v = 0; v < cols; v++) {
                            float xpv = X[r * cols + v] - lp[r], xqv = Y[r * cols + v] - lq[r];
                            float p = expf(xpv), q = expf(xqv), m = 0.5f * (p + q) * inv, lm = logf(m + 1e-30f);
                            double t = 0.5 * (double)(p * (ref_glog(xpv) - lm)) + 0.5 * (double)(q * (ref_glog(xqv) - lm));
                            e += t;
                            mag += fabs(t);
                            dev_slack(u, lxp, lxq, X[r * cols + v], Y[r * cols + v], p, q, ref_glog(xpv), ref_glog(xqv), inv, sl);
                            slack += sl[8];
                        }
                        if (!close_sum(js[r], e, mag, cols, slack)) {
                            bad++;
                            printf("    js row %d: %.17g vs %.17g\n", r, js[r], e);
                        }
                    }
                    CHECKF(bad == 0, "%s lens_js cols %d transform %d shared Q %d: %d off", bk->name, cols, xi, shared_q,
                           bad);
                    free(zp); free(zq); free(X); free(Y);
                    if (dev) { bk->free(dzp); bk->free(dzq); }
                }
}

int main(void) {
#ifdef LW_GPU_TEST
    CudaDevices d;
    if (cuda_devices_query(&d) == 0) {
        printf("FAIL: test_backend_ops needs a GPU: %s\n", d.why);
        return 1;
    }
    printf("gpu 0: %s (the CUDA backend's table against the references; device libm slack %.3g)\n", d.dev[0].name,
           DEVICE_LIBM_EPS);
#endif
    RUN(buffers_round_trip);
    RUN(matmul_exact_fast_f64_every_dtype);
    RUN(matmul_rowdot_every_dtype);
    RUN(round_f64_is_one_rounding);
    RUN(embed_rows_shard_and_zeros);
    RUN(rmsnorm_rows_and_in_place);
    RUN(rope_inv_freq_tables_apply);
    RUN(attention_gqa_window_softcap);
    RUN(attention_segments);
    RUN(gated_act_add_scale_softcap);
    RUN(softmax_partials_every_transform);
    RUN(lens_scan_sums_every_transform);
    RUN(lens_row_reductions_every_transform);
    return test_summary();
}
