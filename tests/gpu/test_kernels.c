// test_kernels — every CUDA kernel against its CPU twin (backend/cpu.h) on random inputs.
// Two builds of this one file: build/gpu-tests/test_kernels (nvcc kernels, needs a GPU: `make
// test-gpu`), and build/tests/test_kernels_emu (the same kernel sources compiled by g++ on the CPU
// emulation of kernels/emu, -DLW_CUDA_EMU: run by `make test` everywhere; smaller sizes, since
// every emulated GPU thread is an OS thread).
//
// Tolerances: element-wise kernels use the same fp32 operations as their twins, but the device
// libm (expf, tanhf, sinf) may differ from glibc by ~1-2 ulp: |Δ| ≤ 4 ulp-scale, checked as
// |Δ| ≤ 1e-6 · max(1, |ref|). RMSNorm's sum of squares is a tree reduction in double instead of a
// sequential one; after rounding the variance to fp32 the outputs agree to the same bound. The
// softmax partials S and E are double sums of fp32 exp values in another order: ≤ 1e-6 relative.
// The lens kernels (kernels/lens.cu, kernels/lens_fused.cu) and the small forward ops (scale,
// round_f64, widen, add_bias) are checked with the bounds stated at their tests ("device libm on
// a GPU" below): bit for bit where both sides run the same fp32 operations, and on a GPU within
// LIBM_EPS of the values that go through CUDA's expf, logf and tanhf.
#include <cuda_runtime.h> // the real runtime, or kernels/emu/include's emulation (LW_CUDA_EMU)
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu.h"
#include "backend/cpu_lens.h"
#include "backend/cuda.h"
#include "kernels.h"
#include "test.h"

#ifdef LW_CUDA_EMU
#define ELEMENTWISE_N ((size_t)1 << 16)
#define EMU_SMALL(emu, gpu) (emu)
#else
#define EMU_SMALL(emu, gpu) (gpu)
#define ELEMENTWISE_N ((size_t)1 << 20)
#endif

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { // uniform in [-1, 1)
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static void *dev_copy(const void *h, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes) != cudaSuccess) { fprintf(stderr, "cudaMalloc %zu failed\n", bytes); exit(1); }
    cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}

static double max_err(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / fmax(1.0, fabs((double)b[i]));
        if (!(e <= m)) m = e; // NaN propagates
    }
    return m;
}

TEST(rmsnorm) {
    int rows = 37, n = 3584;
    size_t N = (size_t)rows * n;
    float *x = malloc(N * 4), *w = malloc(n * 4), *ref = malloc(N * 4), *got = malloc(N * 4);
    for (size_t i = 0; i < N; i++) x[i] = 3 * frand();
    for (int i = 0; i < n; i++) w[i] = 1 + 0.1f * frand();
    cpu_rmsnorm(x, w, ref, rows, n, 1e-6f);
    float *dx = dev_copy(x, N * 4), *dw = dev_copy(w, n * 4), *dy = dev_copy(x, N * 4);
    CHECK(cuda_rmsnorm(dx, dw, dy, rows, n, 1e-6f, NULL) == 0);
    cudaMemcpy(got, dy, N * 4, cudaMemcpyDeviceToHost);
    double e = max_err(got, ref, N);
    printf("rmsnorm: max rel err %.3g\n", e);
    CHECKF(e <= 1e-6, "rmsnorm rows=%d n=%d: max rel err %.3g (bound 1e-6)", rows, n, e);
    cudaFree(dx); cudaFree(dw); cudaFree(dy); free(x); free(w); free(ref); free(got);
}

TEST(rope) {
    int T = 300, H = 8, hd = 128, stride = H * hd;
    size_t N = (size_t)T * stride;
    float *x = malloc(N * 4), *ref = malloc(N * 4), *got = malloc(N * 4);
    float inv[64], *c = malloc((size_t)T * 64 * 4), *s = malloc((size_t)T * 64 * 4);
    for (size_t i = 0; i < N; i++) ref[i] = x[i] = frand();
    cpu_rope_inv_freq(500000.0, hd, inv);
    cpu_rope_tables(inv, hd, T, c, s);
    cpu_rope_apply(ref, T, H, hd, stride, c, s);
    float *dx = dev_copy(x, N * 4), *dc = dev_copy(c, (size_t)T * 64 * 4), *ds = dev_copy(s, (size_t)T * 64 * 4);
    CHECK(cuda_rope_apply(dx, T, H, hd, stride, dc, ds, NULL) == 0);
    cudaMemcpy(got, dx, N * 4, cudaMemcpyDeviceToHost);
    double e = max_err(got, ref, N);
    CHECKF(e <= 1e-6, "rope T=%d H=%d hd=%d: max rel err %.3g (bound 1e-6)", T, H, hd, e);
    cudaFree(dx); cudaFree(dc); cudaFree(ds); free(x); free(ref); free(got); free(c); free(s);
}

static void check_gated(int gelu) {
    size_t n = ELEMENTWISE_N;
    float *g = malloc(n * 4), *u = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
    for (size_t i = 0; i < n; i++) { ref[i] = g[i] = 8 * frand(); u[i] = frand(); }
    cpu_gated_act(ref, u, n, gelu);
    float *dg = dev_copy(g, n * 4), *du = dev_copy(u, n * 4);
    CHECK(cuda_gated_act(dg, du, n, gelu, NULL) == 0);
    cudaMemcpy(got, dg, n * 4, cudaMemcpyDeviceToHost);
    double e = max_err(got, ref, n);
    CHECKF(e <= 1e-6, "gated %s n=%zu: max rel err %.3g (bound 1e-6)", gelu ? "gelu_tanh" : "silu", n, e);
    cudaFree(dg); cudaFree(du); free(g); free(u); free(ref); free(got);
}

TEST(softcap) {
    size_t n = ELEMENTWISE_N;
    float *x = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
    for (size_t i = 0; i < n; i++) ref[i] = x[i] = 100 * frand();
    cpu_softcap(ref, n, 30.0f);
    float *dx = dev_copy(x, n * 4);
    CHECK(cuda_softcap(dx, n, 30.0f, NULL) == 0);
    cudaMemcpy(got, dx, n * 4, cudaMemcpyDeviceToHost);
    double e = max_err(got, ref, n);
    CHECKF(e <= 1e-6, "softcap 30: max rel err %.3g (bound 1e-6)", e);
    cudaFree(dx); free(x); free(ref); free(got);
}

TEST(softmax_partials) {
    int rows = 17, cols = 128256 / 2, ld = cols + 3; // one TP=2 shard of Llama-3's vocabulary
    size_t N = (size_t)rows * ld;
    float *z = malloc(N * 4), m_ref[17], m_got[17];
    double s_ref[17], e_ref[17], s_got[17], e_got[17];
    for (size_t i = 0; i < N; i++) z[i] = 12 * frand();
    cpu_row_softmax_partials(z, rows, cols, ld, m_ref, s_ref, e_ref);
    float *dz = dev_copy(z, N * 4), *dm;
    double *dsum, *de;
    cudaMalloc((void **)&dm, rows * 4); cudaMalloc((void **)&dsum, rows * 8); cudaMalloc((void **)&de, rows * 8);
    CHECK(cuda_row_softmax_partials(dz, rows, cols, ld, dm, dsum, de, NULL) == 0);
    cudaMemcpy(m_got, dm, rows * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(s_got, dsum, rows * 8, cudaMemcpyDeviceToHost);
    cudaMemcpy(e_got, de, rows * 8, cudaMemcpyDeviceToHost);
    double es = 0, ee = 0;
    int max_same = 1;
    for (int r = 0; r < rows; r++) {
        max_same &= m_got[r] == m_ref[r];
        es = fmax(es, fabs(s_got[r] - s_ref[r]) / fabs(s_ref[r]));
        ee = fmax(ee, fabs(e_got[r] - e_ref[r]) / fmax(1.0, fabs(e_ref[r])));
    }
    CHECKF(max_same, "softmax partials: row maxima identical");
    printf("softmax partials: S rel err %.3g, E rel err %.3g\n", es, ee);
    CHECKF(es <= 1e-6 && ee <= 1e-6, "softmax partials rows=%d cols=%d: S rel err %.3g, E rel err %.3g (bound 1e-6)",
           rows, cols, es, ee);
    cudaFree(dz); cudaFree(dm); cudaFree(dsum); cudaFree(de); free(z);
}

// ---------------------------------------------------------------------------- kernels/forward.cu

TEST(rmsnorm_odd_sizes) { // row lengths that are not multiples of the block (256): Qwen3's q_norm (hd) and others
    static const int shapes[][2] = {{EMU_SMALL(40, 300), 128}, {5, 1000}, {3, 33}, {1, 4099}};
    for (int c = 0; c < 4; c++) {
        int rows = shapes[c][0], n = shapes[c][1];
        size_t N = (size_t)rows * n;
        float *x = malloc(N * 4), *w = malloc(n * 4), *ref = malloc(N * 4), *got = malloc(N * 4);
        for (size_t i = 0; i < N; i++) x[i] = 3 * frand();
        for (int i = 0; i < n; i++) w[i] = 1 + 0.1f * frand();
        cpu_rmsnorm(x, w, ref, rows, n, 1e-5f);
        float *dx = dev_copy(x, N * 4), *dw = dev_copy(w, n * 4), *dy = dev_copy(x, N * 4);
        CHECK(cuda_rmsnorm(dx, dw, dy, rows, n, 1e-5f, NULL) == 0);
        cudaMemcpy(got, dy, N * 4, cudaMemcpyDeviceToHost);
        double e = max_err(got, ref, N);
        CHECKF(e <= 1e-6, "rmsnorm rows=%d n=%d: max rel err %.3g (bound 1e-6)", rows, n, e);
        cudaFree(dx); cudaFree(dw); cudaFree(dy); free(x); free(w); free(ref); free(got);
    }
}

// The gather's twin is model/forward.c's embed_lookup, per row: dtype_to_f32 of the owned row,
// zeros for ids of other shards. Widening is exact, so the comparison is exact.
static void check_embed(DType dt) {
    int V = 1000, d = 300, T = 77, vocab_start = 250, vocab_len = 500; // a shard owning ids 250..749 of 1000
    size_t esz = dtype_size(dt), rows = (size_t)vocab_len;
    float *f = malloc(rows * d * 4), *ref = malloc((size_t)T * d * 4), *got = malloc((size_t)T * d * 4);
    void *table = malloc(rows * d * esz);
    for (size_t i = 0; i < rows * d; i++) f[i] = 4 * frand();
    dtype_from_f32(dt, f, table, rows * d);
    int32_t ids[77];
    for (int t = 0; t < T; t++) {
        frand(); // next random state
        ids[t] = (int32_t)((rng >> 33) % (uint64_t)V);
    }
    ids[0] = vocab_start; ids[1] = vocab_start + vocab_len - 1; ids[2] = vocab_start - 1; ids[3] = vocab_start + vocab_len;
    for (int t = 0; t < T; t++) {
        int local = ids[t] - vocab_start;
        if (local >= 0 && local < vocab_len) dtype_to_f32(dt, (const uint8_t *)table + (size_t)local * d * esz, ref + (size_t)t * d, d);
        else memset(ref + (size_t)t * d, 0, (size_t)d * 4);
    }
    void *dtab = dev_copy(table, rows * d * esz);
    int32_t *dids = dev_copy(ids, sizeof ids);
    float *dout = dev_copy(got, (size_t)T * d * 4);
    CHECK(cuda_embed_gather(dtab, dt, dids, T, d, vocab_start, vocab_len, dout, NULL) == 0);
    cudaMemcpy(got, dout, (size_t)T * d * 4, cudaMemcpyDeviceToHost);
    CHECKF(memcmp(got, ref, (size_t)T * d * 4) == 0, "embedding gather (%s) differs from the CPU lookup", dtype_name(dt));
    cudaFree(dtab); cudaFree(dids); cudaFree(dout); free(f); free(ref); free(got); free(table);
}
TEST(embed_gather) { check_embed(DT_BF16); check_embed(DT_F32); check_embed(DT_F16); }

TEST(residual_add) {
    size_t n = ELEMENTWISE_N + 77;
    float *y = malloc(n * 4), *x = malloc(n * 4), *got = malloc(n * 4);
    for (size_t i = 0; i < n; i++) { y[i] = 100 * frand(); x[i] = frand(); }
    float *dy = dev_copy(y, n * 4), *dx = dev_copy(x, n * 4);
    cpu_add(y, x, n);
    CHECK(cuda_add(dy, dx, n, NULL) == 0);
    cudaMemcpy(got, dy, n * 4, cudaMemcpyDeviceToHost);
    CHECKF(memcmp(got, y, n * 4) == 0, "residual add differs from cpu_add (one fp32 add: must be identical)");
    cudaFree(dy); cudaFree(dx); free(y); free(x); free(got);
}

// Exact products: the double sums of the kernel and of the CPU's dgemm differ by ~2^-29 of an
// fp32 ulp, so the rounded results are identical (bit for bit) on these random inputs.
static void check_matmul(DType dt, int T, int out, int in, int with_bias) {
    size_t esz = dtype_size(dt);
    float *x = malloc((size_t)T * in * 4), *wf = malloc((size_t)out * in * 4), *bias = malloc((size_t)out * 4);
    float *ref = malloc((size_t)T * out * 4), *got = malloc((size_t)T * out * 4);
    double *ref64 = malloc((size_t)T * out * 8), *got64 = malloc((size_t)T * out * 8);
    void *w = malloc((size_t)out * in * esz);
    for (size_t i = 0; i < (size_t)T * in; i++) x[i] = 2 * frand();
    for (size_t i = 0; i < (size_t)out * in; i++) wf[i] = 0.05f * frand();
    for (int i = 0; i < out; i++) bias[i] = 0.5f * frand();
    dtype_from_f32(dt, wf, w, (size_t)out * in);
    cpu_matmul_exact(x, T, dt, w, out, in, with_bias ? bias : NULL, ref);
    cpu_matmul_f64(x, T, dt, w, out, in, ref64);
    float *dx = dev_copy(x, (size_t)T * in * 4), *db = dev_copy(bias, (size_t)out * 4), *dy = dev_copy(ref, (size_t)T * out * 4);
    double *dy64 = dev_copy(ref64, (size_t)T * out * 8);
    void *dw = dev_copy(w, (size_t)out * in * esz);
    cudaMemset(dy, 0, (size_t)T * out * 4);
    cudaMemset(dy64, 0, (size_t)T * out * 8);
    CHECK(cuda_matmul_exact(dx, T, dt, dw, out, in, with_bias ? db : NULL, dy, NULL) == 0);
    CHECK(cuda_matmul_f64(dx, T, dt, dw, out, in, dy64, NULL) == 0);
    cudaMemcpy(got, dy, (size_t)T * out * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(got64, dy64, (size_t)T * out * 8, cudaMemcpyDeviceToHost);
    size_t diff = 0;
    for (size_t i = 0; i < (size_t)T * out; i++) diff += memcmp(&got[i], &ref[i], 4) != 0;
    double e64 = 0; // the double partials: summation order only, ~in · 2^-53 relative to Σ|x·w|
    for (size_t i = 0; i < (size_t)T * out; i++) e64 = fmax(e64, fabs(got64[i] - ref64[i]) / fmax(1e-3, fabs(ref64[i])));
    CHECKF(diff == 0, "matmul_exact %s T=%d out=%d in=%d%s: %zu of %zu outputs differ from cpu_matmul_exact",
           dtype_name(dt), T, out, in, with_bias ? " +bias" : "", diff, (size_t)T * out);
    CHECKF(e64 <= 1e-12, "matmul_f64 %s T=%d out=%d in=%d: max rel err %.3g (bound 1e-12)", dtype_name(dt), T, out, in, e64);
    cudaFree(dx); cudaFree(db); cudaFree(dy); cudaFree(dy64); cudaFree(dw);
    free(x); free(wf); free(bias); free(ref); free(got); free(ref64); free(got64); free(w);
}

TEST(matmul_exact) {
    check_matmul(DT_BF16, 13, EMU_SMALL(100, 300), 520, 0);
    check_matmul(DT_BF16, 1, 37, 4099, 1);
    check_matmul(DT_F32, 9, 65, 333, 1);
    check_matmul(DT_F16, 17, 33, 96, 0);
}

// Attention: scores summed in another order than sgemm, so not bit for bit. Outputs are convex
// combinations of v (|v| < 1); measured differences are a few fp32 ulps of 1, bound 2e-6.
static void check_attention(int T, int H, int KV, int q_per_kv, int head_start, int kv_start, int hd, float scale,
                            float softcap, int window) {
    int qs = H * hd, ks = KV * hd;
    float *q = malloc((size_t)T * qs * 4), *k = malloc((size_t)T * ks * 4), *v = malloc((size_t)T * ks * 4);
    float *ref = malloc((size_t)T * qs * 4), *got = malloc((size_t)T * qs * 4);
    for (size_t i = 0; i < (size_t)T * qs; i++) q[i] = 2 * frand();
    for (size_t i = 0; i < (size_t)T * ks; i++) { k[i] = 2 * frand(); v[i] = frand(); }
    CpuAttnParams cp = {H, KV, hd, q_per_kv, head_start, kv_start, scale, softcap, window};
    LwAttnParams gp = {H, KV, hd, q_per_kv, head_start, kv_start, scale, softcap, window};
    cpu_attention(q, k, v, T, &cp, ref);
    float *dq = dev_copy(q, (size_t)T * qs * 4), *dk = dev_copy(k, (size_t)T * ks * 4), *dv = dev_copy(v, (size_t)T * ks * 4);
    float *dout = dev_copy(got, (size_t)T * qs * 4);
    CHECK(cuda_attention(dq, dk, dv, T, &gp, dout, NULL) == 0);
    cudaMemcpy(got, dout, (size_t)T * qs * 4, cudaMemcpyDeviceToHost);
    double e = 0;
    for (size_t i = 0; i < (size_t)T * qs; i++) { double d = fabs((double)got[i] - ref[i]); if (!(d <= e)) e = d; }
    printf("attention T=%d H=%d KV=%d hd=%d softcap=%g window=%d: max abs err %.3g\n", T, H, KV, hd, softcap, window, e);
    CHECKF(e <= 2e-6, "attention T=%d H=%d KV=%d hd=%d softcap=%g window=%d: max abs err %.3g (bound 2e-6)", T, H, KV, hd,
           softcap, window, e);
    cudaFree(dq); cudaFree(dk); cudaFree(dv); cudaFree(dout); free(q); free(k); free(v); free(ref); free(got);
}

TEST(attention) {
    // smaller under the emulation, where every (query, head) block costs a few ms
    check_attention(EMU_SMALL(37, 300), 4, 2, 2, 0, 0, 64, 0.125f, 0, 0);          // GQA, causal only
    check_attention(EMU_SMALL(29, 500), 4, 1, 4, 4, 1, 32, 1.0f / 12, 50.0f, 16);  // rank 1 of 2, Gemma-2 softcap + window
    check_attention(EMU_SMALL(50, 1000), 1, 1, 1, 0, 0, 40, 0.158113883f, 0, 33); // window < T, hd not a multiple of 32
}

// A packed batch of prompts: the segment kernel against cpu_attention_seg (the same 2e-6 bound),
// and bit for bit against cuda_attention on each segment alone (batching must not change a
// prompt's result). Segment lengths: single rows, one past the window, one long.
static void check_attention_seg(int window, float softcap) {
    const int lens[] = {1, 23, 4, 1, EMU_SMALL(40, 700)};
    enum { NS = sizeof lens / sizeof *lens };
    int32_t off[NS + 1] = {0};
    int max_seg = 0;
    for (int s = 0; s < NS; s++) { off[s + 1] = off[s] + lens[s]; if (lens[s] > max_seg) max_seg = lens[s]; }
    int T = off[NS], H = 4, KV = 2, hd = 64, qs = H * hd, ks = KV * hd;
    float *q = malloc((size_t)T * qs * 4), *k = malloc((size_t)T * ks * 4), *v = malloc((size_t)T * ks * 4);
    float *ref = malloc((size_t)T * qs * 4), *got = malloc((size_t)T * qs * 4), *alone = malloc((size_t)T * qs * 4);
    for (size_t i = 0; i < (size_t)T * qs; i++) q[i] = 2 * frand();
    for (size_t i = 0; i < (size_t)T * ks; i++) { k[i] = 2 * frand(); v[i] = frand(); }
    CpuAttnParams cp = {H, KV, hd, 2, 0, 0, 0.125f, softcap, window};
    LwAttnParams gp = {H, KV, hd, 2, 0, 0, 0.125f, softcap, window};
    cpu_attention_seg(q, k, v, T, off, NS, &cp, ref);
    float *dq = dev_copy(q, (size_t)T * qs * 4), *dk = dev_copy(k, (size_t)T * ks * 4), *dv = dev_copy(v, (size_t)T * ks * 4);
    float *dout = dev_copy(got, (size_t)T * qs * 4);
    int32_t *doff = dev_copy(off, sizeof off);
    CHECK(cuda_attention_seg(dq, dk, dv, T, doff, NS, max_seg, &gp, dout, NULL) == 0);
    cudaMemcpy(got, dout, (size_t)T * qs * 4, cudaMemcpyDeviceToHost);
    for (int s = 0; s < NS; s++) {
        size_t r0 = (size_t)off[s];
        CHECK(cuda_attention(dq + r0 * qs, dk + r0 * ks, dv + r0 * ks, lens[s], &gp, dout + r0 * qs, NULL) == 0);
    }
    cudaMemcpy(alone, dout, (size_t)T * qs * 4, cudaMemcpyDeviceToHost);
    double e = 0;
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)T * qs; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= e)) e = d;
        differ += memcmp(&got[i], &alone[i], 4) != 0;
    }
    printf("attention segments T=%d window=%d softcap=%g: max abs err %.3g, %zu differ from alone\n", T, window, softcap,
           e, differ);
    CHECKF(e <= 2e-6, "attention segments window=%d softcap=%g: max abs err %.3g (bound 2e-6)", window, softcap, e);
    CHECKF(differ == 0, "attention segments window=%d: %zu outputs differ from each segment alone", window, differ);
    cudaFree(dq); cudaFree(dk); cudaFree(dv); cudaFree(dout); cudaFree(doff);
    free(q); free(k); free(v); free(ref); free(got); free(alone);
}

TEST(attention_segments) {
    check_attention_seg(0, 0);
    check_attention_seg(16, 50.0f);
}

TEST(gated_silu) { check_gated(0); }
TEST(gated_gelu_tanh) { check_gated(1); }

// ---------------------------------------------------------------------------- kernels/lens_fused.cu

// The fused lens statistics against cpu_lens_scan / cpu_lens_sums (backend/cpu_lens.c) on a TP=2
// shard of Qwen2's vocabulary (a row length that is no multiple of 8 or of the block), with rows
// of -inf and NaN. Transforms without libm (identity, division, product): the maxima, the top-k
// lists (k = 20: shared memory; k = 60: the global lists) and the counts are comparisons of the
// same fp32 values, so they must be identical. S and E with the fast exp (the same fp32
// operations as the CPU's, no FMA) are the same terms summed in another order: within
// 2·cols·2^-53 relative; with expf, the device's expf may differ by 2 ulp: 1e-6 relative, as for
// the softmax partials. Thresholds are made ascending in j, so his/los need no sorting here and
// above[j] = Σ_{c > j} cnt[0][c] (kernels.h); band[j] = Σ_{c > j} cnt[1][c] − above[j] − self.
TEST(lens_fused) {
    enum { ROWS = 5, NT = 4 };
    int cols = EMU_SMALL(5003, 152064 / 2 + 37), ld = cols + 5;
    const int64_t v0 = 76032;
    size_t N = (size_t)ROWS * ld;
    float *z = malloc(N * 4);
    for (size_t i = 0; i < N; i++) z[i] = 12 * frand();
    for (int v = 0; v < cols; v += 97) z[1 * (size_t)ld + v] = -INFINITY;
    z[2 * (size_t)ld + cols / 3] = NAN;
    for (int v = 0; v < cols; v++) z[3 * (size_t)ld + v] = -INFINITY;
    for (int v = 0; v < cols; v += 3) z[4 * (size_t)ld + v] = 7.0f; // ties at the top
    const LwXform xfs[] = {{0, 1, 1}, {1, 0.7f, 1}, {2, 2.5f, 1}};
    float *dz = dev_copy(z, N * 4);
    for (int xi = 0; xi < 3; xi++) {
        LogitXform xf[ROWS];
        for (int r = 0; r < ROWS; r++) xf[r] = (LogitXform){(LogitXformKind)xfs[xi].kind, xfs[xi].a, xfs[xi].b};
        LwXform *dxf = dev_copy(xf, sizeof xf);
        for (int k = 20; k <= 60; k += 40) {
            float mr[ROWS], mg[ROWS], *txr = malloc(ROWS * k * 4), *txg = malloc(ROWS * k * 4);
            int32_t *tir = malloc(ROWS * k * 4), *tig = malloc(ROWS * k * 4);
            cpu_lens_scan(z, ROWS, cols, ld, xf, v0, k, mr, txr, tir);
            float *dm, *dtx;
            int32_t *dti;
            void *lists = NULL;
            cudaMalloc((void **)&dm, ROWS * 4); cudaMalloc((void **)&dtx, ROWS * k * 4); cudaMalloc((void **)&dti, ROWS * k * 4);
            size_t lb = cuda_lens_scan_scratch(ROWS, k);
            if (lb) cudaMalloc(&lists, lb);
            CHECK(cuda_lens_scan(dz, ROWS, cols, ld, dxf, v0, k, dm, dtx, dti, lists, NULL) == 0);
            cudaMemcpy(mg, dm, sizeof mg, cudaMemcpyDeviceToHost);
            cudaMemcpy(txg, dtx, ROWS * k * 4, cudaMemcpyDeviceToHost);
            cudaMemcpy(tig, dti, ROWS * k * 4, cudaMemcpyDeviceToHost);
            int same = memcmp(mr, mg, sizeof mr) == 0 && memcmp(tir, tig, ROWS * k * 4) == 0;
            for (int i = 0; i < ROWS * k; i++) same &= txr[i] == txg[i] || (isnan(txr[i]) && isnan(txg[i]));
            CHECKF(same, "lens_scan transform %d k %d (%s lists): maxima and top-k identical to cpu_lens_scan", xi, k,
                   lb ? "global" : "shared");
            cudaFree(dm); cudaFree(dtx); cudaFree(dti); cudaFree(lists);
            free(txr); free(txg); free(tir); free(tig);
        }
        // thresholds ascending in j: hi_j, lo_j around row values; tracked ids in and out of the shard
        LensThreshold th[ROWS * NT];
        float his[ROWS * NT], los[ROWS * NT], m_in[ROWS];
        for (int r = 0; r < ROWS; r++) {
            float x0 = logit_xform(xf[r].kind, xf[r].a, xf[r].b, z[(size_t)r * ld + 11]);
            if (!isfinite(x0)) x0 = 0.0f;
            m_in[r] = r == 3 ? -INFINITY : logit_xform(xf[r].kind, xf[r].a, xf[r].b, 12.0f) + 0.5f;
            for (int j = 0; j < NT; j++) {
                th[r * NT + j] = (LensThreshold){x0 - 1.0f + 0.5f * j, j == 0 ? x0 : x0 + 0.5f * j,
                                                 j == 0 ? (int32_t)(v0 + 11) : j == 1 ? (int32_t)(v0 + 12) : j == 2 ? -1 : 7};
                his[r * NT + j] = th[r * NT + j].hi;
                los[r * NT + j] = th[r * NT + j].lo;
            }
        }
        float *dmi = dev_copy(m_in, sizeof m_in), *dhis = dev_copy(his, sizeof his), *dlos = dev_copy(los, sizeof los);
        LwThreshold *dth = dev_copy(th, sizeof th);
        for (int fast = 0; fast <= 1; fast++) {
            double Sr[ROWS], Er[ROWS], Sg[ROWS], Eg[ROWS], *dse;
            int64_t ab[ROWS * NT], bd[ROWS * NT];
            unsigned long long cnt[ROWS * 2 * (NT + 1)], *dcnt;
            int self[ROWS * NT], *dself;
            cpu_lens_sums(z, ROWS, cols, ld, xf, m_in, fast, v0, NT, th, Sr, Er, ab, bd);
            cudaMalloc((void **)&dse, 2 * ROWS * 8); cudaMalloc((void **)&dcnt, sizeof cnt); cudaMalloc((void **)&dself, sizeof self);
            CHECK(cuda_lens_sums(dz, ROWS, cols, ld, dxf, dmi, fast, v0, NT, dhis, dlos, dth, dse, dse + ROWS, dcnt, dself,
                                 NULL) == 0);
            cudaMemcpy(Sg, dse, sizeof Sg, cudaMemcpyDeviceToHost);
            cudaMemcpy(Eg, dse + ROWS, sizeof Eg, cudaMemcpyDeviceToHost);
            cudaMemcpy(cnt, dcnt, sizeof cnt, cudaMemcpyDeviceToHost);
            cudaMemcpy(self, dself, sizeof self, cudaMemcpyDeviceToHost);
            int counts_same = 1;
            double es = 0, ee = 0;
            for (int r = 0; r < ROWS; r++) {
                const unsigned long long *ch = cnt + (size_t)r * 2 * (NT + 1), *cl = ch + NT + 1;
                for (int j = 0; j < NT; j++) {
                    long long a = 0, b = 0;
                    for (int c = j + 1; c <= NT; c++) { a += (long long)ch[c]; b += (long long)cl[c]; }
                    b -= a + self[r * NT + j];
                    counts_same &= a == ab[r * NT + j] && b == bd[r * NT + j];
                }
                if (isnan(Sr[r]) || isnan(Er[r])) { // rows with -inf entries: E is NaN on both
                    counts_same &= isnan(Sr[r]) == isnan(Sg[r]) && isnan(Er[r]) == isnan(Eg[r]);
                    continue;
                }
                es = fmax(es, fabs(Sg[r] - Sr[r]) / fmax(1e-300, fabs(Sr[r])));
                ee = fmax(ee, fabs(Eg[r] - Er[r]) / fmax(1.0, fabs(Er[r])));
            }
            CHECKF(counts_same, "lens_sums transform %d fast_exp %d: threshold counts identical to cpu_lens_sums, NaN alike",
                   xi, fast);
            double bound = fast ? 2.0 * cols * 0x1p-53 * 2 : 1e-6;
            printf("lens_sums transform %d fast_exp %d: S rel err %.3g, E rel err %.3g (bound %.3g)\n", xi, fast, es, ee, bound);
            CHECKF(es <= bound && ee <= bound, "lens_sums transform %d fast_exp %d: S rel err %.3g, E %.3g (bound %.3g)", xi,
                   fast, es, ee, bound);
            cudaFree(dse); cudaFree(dcnt); cudaFree(dself);
        }
        cudaFree(dxf); cudaFree(dmi); cudaFree(dhis); cudaFree(dlos); cudaFree(dth);
    }
    cudaFree(dz);
    free(z);
}

// ---------------------------------------------------------------------------- device libm on a GPU

// The checks below compare fp32 values bit for bit where both sides run the same fp32 operations.
// Under the emulation that holds for every kernel (the host's libm runs). On a GPU, expf, logf and
// tanhf are CUDA's (at most 2, 1, 2 ulp from the correctly rounded value; glibc's within about
// 1 ulp), and nvcc may contract a product and a sum into an FMA where a kernel does not forbid it
// (lens.cu's softmax partials write a·z and x − m plainly; nvcc 13 for sm_90 keeps them apart, as
// its PTX shows, but nothing obliges it). There a value that goes through them is allowed
// LIBM_EPS (8·2^-24, up to 8 ulps) relative, propagated to the sums to first order; under the
// emulation LIBM_EPS is 0 and only the order of the double sums differs.
#ifdef LW_CUDA_EMU
#define LIBM_EPS 0.0
#else
#define LIBM_EPS (8 * 0x1p-24)
#endif

static int same_f32(float a, float b) { return memcmp(&a, &b, 4) == 0 || (isnan(a) && isnan(b)); }
// same_f32 when eps = 0; else within eps·|want| (NaN alike, infinities equal)
static int near_f32(float got, float want, double eps) {
    if (eps == 0 || isnan(got) || isnan(want) || isinf(got) || isinf(want)) return same_f32(got, want);
    return fabs((double)got - (double)want) <= eps * fabs((double)want);
}
// two double sums of n terms in different orders, each within (n−1)·2^-53·mag of the exact sum;
// plus `slack` (0 under the emulation). NaN alike, infinities equal.
static int near_sum(double got, double want, double mag, int n, double slack) {
    if (isnan(got) || isnan(want)) return isnan(got) && isnan(want);
    if (isinf(got) || isinf(want)) return got == want;
    return fabs(got - want) <= 2.0 * n * 0x1p-53 * mag + slack + 1e-300;
}
static int xf_uses_libm(const LogitXform *t) { return t && (t->kind == XF_SOFTCAP || t->kind == XF_SCALE_SOFTCAP); }

static const LogitXform XFS[5] = {{XF_IDENT, 1, 1}, {XF_DIV, 0.7f, 1}, {XF_MUL, 2.5f, 1}, {XF_SOFTCAP, 3.0f, 1},
                                  {XF_SCALE_SOFTCAP, 3.0f, 0.5f}};

// Rows of logits for the lens kernels: 0 plain, 1 some -inf, 2 one NaN, 3 all -inf, 4 all NaN,
// 5 large (×1e3), 6 ties in {2, 1, ±0} (a max(−x) of ±0: the first zero's sign).
enum { LROWS = 7 };
static void lens_rows(float *z, int cols, size_t ld) {
    for (int r = 0; r < LROWS; r++)
        for (int v = 0; v < cols; v++) z[r * ld + v] = 10 * frand();
    z[1 * ld] = -INFINITY;
    z[1 * ld + cols / 2] = -INFINITY;
    z[2 * ld + cols - 1] = NAN;
    for (int v = 0; v < cols; v++) {
        z[3 * ld + v] = -INFINITY;
        z[4 * ld + v] = NAN;
        z[5 * ld + v] *= 1e3f;
        float u = frand();
        z[6 * ld + v] = u < -0.33f ? 2.0f : u < 0.33f ? 1.0f : (u < 0.66f ? -0.0f : 0.0f);
    }
}

// ---------------------------------------------------------------------------- kernels/forward.cu: small ops

// scale, round_f64, widen and add_bias: one fp32 rounding (or an exact widening) per element, so
// bit for bit their CPU twins cpu_scale, cpu_round_f64, dtype_to_f32 and cpu_add per row of y
// (the bias add of cpu_matmul), with NaN, ±inf, -0 and subnormals among the inputs and lengths
// that are not multiples of the block.
TEST(scale_round_widen_bias) {
    size_t n = ELEMENTWISE_N + 77;
    float *x = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
    double *d = malloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        ref[i] = x[i] = 100 * frand();
        d[i] = ldexp((double)frand(), (int)((rng >> 20) % 300) - 150) * (1.0 + frand() * 0x1p-30);
    }
    x[0] = ref[0] = INFINITY; x[1] = ref[1] = -0.0f; x[2] = ref[2] = NAN; x[3] = ref[3] = 1e-40f; x[4] = ref[4] = 3e38f;
    d[0] = INFINITY; d[1] = -0.0; d[2] = NAN; d[3] = 1e300; d[4] = 1 + 0x1p-24; d[5] = 1 + 3 * 0x1p-24; d[6] = 1e-46;
    cpu_scale(ref, n, 0.3f);
    float *dx = dev_copy(x, n * 4);
    CHECK(cuda_scale(dx, n, 0.3f, NULL) == 0);
    cudaMemcpy(got, dx, n * 4, cudaMemcpyDeviceToHost);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++) diff += !same_f32(got[i], ref[i]);
    CHECKF(diff == 0, "scale n=%zu: %zu of %zu differ from cpu_scale (one fp32 multiply: must be identical)", n, diff, n);
    cpu_round_f64(d, ref, n);
    double *dd = dev_copy(d, n * 8);
    CHECK(cuda_round_f64(dd, dx, n, NULL) == 0);
    cudaMemcpy(got, dx, n * 4, cudaMemcpyDeviceToHost);
    diff = 0;
    for (size_t i = 0; i < n; i++) diff += !same_f32(got[i], ref[i]);
    CHECKF(diff == 0, "round_f64 n=%zu: %zu of %zu differ from cpu_round_f64 (one rounding)", n, diff, n);
    const DType dts[] = {DT_BF16, DT_F16, DT_F32};
    for (int di = 0; di < 3; di++) {
        size_t esz = dtype_size(dts[di]);
        void *raw = malloc(n * esz);
        dtype_from_f32(dts[di], x, raw, n); // x: the specials above, values up to 100 (and 3e38: inf in f16)
        dtype_to_f32(dts[di], raw, ref, n);
        void *draw = dev_copy(raw, n * esz);
        CHECK(cuda_widen(dts[di], draw, dx, n, NULL) == 0);
        cudaMemcpy(got, dx, n * 4, cudaMemcpyDeviceToHost);
        diff = 0;
        for (size_t i = 0; i < n; i++) diff += !same_f32(got[i], ref[i]);
        CHECKF(diff == 0, "widen %s n=%zu: %zu of %zu differ from dtype_to_f32 (exact)", dtype_name(dts[di]), n, diff, n);
        cudaFree(draw);
        free(raw);
    }
    int T = 13, out = EMU_SMALL(1001, 4099); // T·out = 13013 / 53287: no multiple of the block
    size_t ny = (size_t)T * out;
    float *bias = malloc((size_t)out * 4);
    for (int o = 0; o < out; o++) bias[o] = 3 * frand();
    bias[1] = INFINITY;
    memcpy(ref, x, ny * 4);
    for (int t = 0; t < T; t++) cpu_add(ref + (size_t)t * out, bias, (size_t)out);
    float *dy = dev_copy(x, ny * 4), *db = dev_copy(bias, (size_t)out * 4);
    CHECK(cuda_add_bias(dy, db, T, out, NULL) == 0);
    cudaMemcpy(got, dy, ny * 4, cudaMemcpyDeviceToHost);
    diff = 0;
    for (size_t i = 0; i < ny; i++) diff += !same_f32(got[i], ref[i]);
    CHECKF(diff == 0, "add_bias T=%d out=%d: %zu of %zu differ from cpu_add per row (one fp32 add)", T, out, diff, ny);
    cudaFree(dx); cudaFree(dd); cudaFree(dy); cudaFree(db);
    free(x); free(ref); free(got); free(d); free(bias);
}

// ---------------------------------------------------------------------------- kernels/lens.cu

// The lens decode: every output one fixed sequence of fp32 operations (kernels.h), bit for bit
// cpu_matmul_rowdot on any device. Lengths with and without a tail past the 8 lanes, shorter than
// 8, and T·out not a multiple of the block's 32 outputs; a row of x with +inf and one with a NaN.
static void check_rowdot(DType dt, int T, int out, int in) {
    size_t esz = dtype_size(dt), nx = (size_t)T * in, nw = (size_t)out * in, ny = (size_t)T * out;
    float *x = malloc(nx * 4), *wf = malloc(nw * 4), *ref = malloc(ny * 4), *got = malloc(ny * 4);
    void *w = malloc(nw * esz);
    for (size_t i = 0; i < nx; i++) x[i] = 2 * frand();
    for (size_t i = 0; i < nw; i++) wf[i] = 0.05f * frand();
    if (T > 2) { x[(size_t)1 * in + in / 2] = INFINITY; x[(size_t)2 * in] = NAN; }
    dtype_from_f32(dt, wf, w, nw);
    cpu_matmul_rowdot(x, T, dt, w, out, in, ref);
    float *dx = dev_copy(x, nx * 4), *dy = dev_copy(got, ny * 4);
    void *dw = dev_copy(w, nw * esz);
    CHECK(cuda_matmul_rowdot(dx, T, dt, dw, out, in, dy, NULL) == 0);
    cudaMemcpy(got, dy, ny * 4, cudaMemcpyDeviceToHost);
    size_t diff = 0;
    for (size_t i = 0; i < ny; i++) diff += !same_f32(got[i], ref[i]);
    CHECKF(diff == 0, "matmul_rowdot %s T=%d out=%d in=%d: %zu of %zu outputs differ from cpu_matmul_rowdot", dtype_name(dt),
           T, out, in, diff, ny);
    cudaFree(dx); cudaFree(dy); cudaFree(dw);
    free(x); free(wf); free(ref); free(got); free(w);
}

TEST(matmul_rowdot) {
    check_rowdot(DT_BF16, 13, EMU_SMALL(101, 1001), 4099);
    check_rowdot(DT_F32, 5, 37, 7);
    check_rowdot(DT_F16, 3, 65, 64);
    check_rowdot(DT_BF16, 1, 1, 333);
}

// cuda_softmax_partials against cpu_softmax_partials (the lens's fallback path: Backend.softmax_partials)
// on the lens rows under each transform (NULL for the identity), the max computed or given (m_in:
// another shard's larger max), and the max alone (row_s NULL). The max is one of the row's values:
// identical (on a GPU within LIBM_EPS for the softcap transforms). S and E are double sums of the
// same fp32 terms in another order (a warp's lanes, then shuffles): within 2·cols·2^-53 of Σ|t|;
// on a GPU each term moves by p·(LIBM_EPS + δd) and p·δd + δp·|d|, δd = LIBM_EPS·(|x| + |m|).
TEST(softmax_partials_lens) {
    const int colss[] = {5, EMU_SMALL(1001, 152064 / 2 + 37)};
    for (int ci = 0; ci < 2; ci++)
        for (int xi = 0; xi < 5; xi++)
            for (int given = 0; given <= 1; given++) {
                int cols = colss[ci];
                size_t ld = (size_t)cols + 5, N = LROWS * ld;
                float *z = malloc(N * 4);
                lens_rows(z, cols, ld);
                LogitXform xf[LROWS];
                for (int r = 0; r < LROWS; r++) xf[r] = XFS[(xi + r) % 5]; // per row: the kernel indexes xf[r]
                const LogitXform *xfp = xi == 0 ? NULL : xf;
                float m_ref[LROWS], m_got[LROWS], m_in[LROWS];
                double s_ref[LROWS], e_ref[LROWS], s_got[LROWS], e_got[LROWS];
                cpu_softmax_partials(z, LROWS, cols, ld, xfp, NULL, m_ref, NULL, NULL);
                for (int r = 0; r < LROWS; r++) m_in[r] = isinf(m_ref[r]) || isnan(m_ref[r]) ? m_ref[r] : m_ref[r] + 1.5f;
                cpu_softmax_partials(z, LROWS, cols, ld, xfp, given ? m_in : NULL, given ? NULL : m_ref, s_ref, e_ref);
                float *dz = dev_copy(z, N * 4), *dmi = dev_copy(m_in, sizeof m_in), *dm;
                LwXform *dxf = xfp ? dev_copy(xf, sizeof xf) : NULL;
                double *ds, *de;
                cudaMalloc((void **)&dm, sizeof m_got); cudaMalloc((void **)&ds, sizeof s_got); cudaMalloc((void **)&de, sizeof e_got);
                CHECK(cuda_softmax_partials(dz, LROWS, cols, ld, dxf, given ? dmi : NULL, given ? NULL : dm, ds, de, NULL) == 0);
                cudaMemcpy(s_got, ds, sizeof s_got, cudaMemcpyDeviceToHost);
                cudaMemcpy(e_got, de, sizeof e_got, cudaMemcpyDeviceToHost);
                int bad = 0;
                if (!given) {
                    cudaMemcpy(m_got, dm, sizeof m_got, cudaMemcpyDeviceToHost);
                    for (int r = 0; r < LROWS; r++) {
                        double eps = xfp && xf_uses_libm(&xf[r]) ? LIBM_EPS : 0.0;
                        if (!near_f32(m_got[r], m_ref[r], eps)) { bad++; printf("    row %d max %.9g vs %.9g\n", r, m_got[r], m_ref[r]); }
                    }
                    float m2[LROWS]; // the max alone: the same as with the sums
                    CHECK(cuda_softmax_partials(dz, LROWS, cols, ld, dxf, NULL, dm, NULL, NULL, NULL) == 0);
                    cudaMemcpy(m2, dm, sizeof m2, cudaMemcpyDeviceToHost);
                    for (int r = 0; r < LROWS; r++) bad += !same_f32(m2[r], m_got[r]);
                }
                for (int r = 0; r < LROWS; r++) {
                    double m = given ? m_in[r] : m_ref[r], mag_e = 0, sl_s = 0, sl_e = 0;
                    double lx = xfp && xf_uses_libm(&xf[r]) ? LIBM_EPS : 0.0;
                    for (int v = 0; v < cols; v++) {
                        float x = xfp ? logit_xform(xf[r].kind, xf[r].a, xf[r].b, z[r * ld + v]) : z[r * ld + v];
                        float dd = x - (float)m, p = expf(dd);
                        if (!isfinite(dd)) continue;
                        mag_e += (double)p * fabs(dd);
                        double ddev = LIBM_EPS * (fabs(x) + fabs(m)) + lx * fabs(x), dp = p * (LIBM_EPS + ddev);
                        sl_s += dp;
                        sl_e += p * ddev + dp * fabs(dd);
                    }
                    if (!near_sum(s_got[r], s_ref[r], fabs(s_ref[r]), cols, sl_s) ||
                        !near_sum(e_got[r], e_ref[r], mag_e, cols, sl_e)) {
                        bad++;
                        printf("    row %d: S %.17g vs %.17g, E %.17g vs %.17g\n", r, s_got[r], s_ref[r], e_got[r], e_ref[r]);
                    }
                }
                CHECKF(bad == 0, "softmax_partials cols %d transforms from %d given max %d: %d rows off", cols, xi, given, bad);
                cudaFree(dz); cudaFree(dmi); cudaFree(dm); cudaFree(ds); cudaFree(de); cudaFree(dxf);
                free(z);
            }
}

// ---------------------------------------------------------------------------- kernels/lens_fused.cu: per-row reductions

// cuda_lens_values, _pair, _js, _dots and _extremes against cpu_lens_values .. cpu_lens_extremes.
// The rows are staged in one device buffer zb of rows of `cols` floats; the kernels take device
// arrays of device pointers to them, the CPU twins host row pointers to the same rows. P's rows: the lens rows, in a permuted order
// (ip[r] = 3r mod 7); Q's: other P rows (rows shared between P and Q) or one extra row shared by
// every Q (the backend stages one copy). Transforms per row (P row r: the r-th after a start, Q's
// the next one), or NULL for both. cols: smaller than the block (5) and a TP = 2 shard of Qwen2's
// vocabulary on a GPU (1001 under the emulation); neither a multiple of LF_THREADS.
// Values and extremes: identical (on a GPU within LIBM_EPS for softcap rows). Sums: the same fp32
// terms (emulation) summed in another order, within 2·cols·2^-53·Σ|t| of the CPU's; Σ|t| and the
// GPU's slack from the terms computed here by the contract of backend.h (first order: x − lse
// moves by lx·|x|, p by p·(δx + LIBM_EPS), ln(p + ε) by δx + LIBM_EPS·|ln|, as in
// tests/unit/test_backend_ops.c).
static float glog_ref(float lp) { return lp > -52.0f ? lp : logf(expf(lp) + 1e-30f); }

// mag[12] += |t| and sl[12] += the GPU's first-order slack of one entry's terms: [0..7] lens_pair's
// slots, [8] lens_js, [9..11] lens_dots.
static void lens_terms(float X, float Y, float lse_p, float lse_q, double lxp, double lxq, float inv, double *mag,
                       double *sl) {
    float xpv = X - lse_p, xqv = Y - lse_q, p = expf(xpv), q = expf(xqv), gp = glog_ref(xpv), gq = glog_ref(xqv);
    float m = 0.5f * (p + q) * inv, lm = logf(m + 1e-30f);
    double t[12] = {p * (gp - gq), q * (gq - gp), fabsf(p - q), p, q, -(double)p * gp, -(double)q * gq, -(double)q * gp,
                    0.5 * (double)(p * (gp - lm)) + 0.5 * (double)(q * (gq - lm)), (double)X * Y, (double)X * X,
                    (double)Y * Y};
    for (int i = 0; i < 12; i++)
        if (isfinite(t[i])) mag[i] += fabs(t[i]);
    if (LIBM_EPS == 0 || !isfinite(p) || !isfinite(q) || !isfinite(gp) || !isfinite(gq)) return;
    double u = LIBM_EPS, dxp = isfinite(X) ? lxp * fabs(X) : 0, dxq = isfinite(Y) ? lxq * fabs(Y) : 0;
    double dp = p * (dxp + u), dq = q * (dxq + u), dgp = dxp + u * fabs(gp), dgq = dxq + u * fabs(gq);
    double dm = 0.5 * (dp + dq) * inv + u * m, dlm = dm / (m + 1e-30) + u * fabs(lm);
    double s[12] = {dp * fabs(gp - gq) + p * (dgp + dgq) + u * fabs(t[0]), dq * fabs(gq - gp) + q * (dgp + dgq) + u * fabs(t[1]),
                    dp + dq + u * fabs(t[2]), dp, dq, dp * fabs(gp) + p * dgp, dq * fabs(gq) + q * dgq,
                    dq * fabs(gp) + q * dgp,
                    0.5 * (dp * fabs(gp - lm) + p * (dgp + dlm)) + 0.5 * (dq * fabs(gq - lm) + q * (dgq + dlm)) +
                        u * fabs(t[8]),
                    (lxp + lxq) * fabs(t[9]), 2 * lxp * fabs(t[10]), 2 * lxq * fabs(t[11])};
    for (int i = 0; i < 12; i++)
        if (isfinite(s[i])) sl[i] += s[i];
}

TEST(lens_row_reductions) {
    const int colss[] = {5, EMU_SMALL(1001, 152064 / 2 + 37)};
    const unsigned whats[] = {LPS_HP, LPS_CE_QP | LPS_HQ, 127u};
    const int64_t v0 = 76032;
    enum { NIDS = 7 };
    for (int ci = 0; ci < 2; ci++)
        for (int xi = 0; xi <= 5; xi++) // 5: no transforms (NULL)
            for (int shared_q = 0; shared_q <= 1; shared_q++) {
                int cols = colss[ci], R = LROWS, NB = LROWS + 1;
                float *zb = malloc((size_t)NB * cols * 4);
                lens_rows(zb, cols, (size_t)cols);
                for (int v = 0; v < cols; v++) zb[(size_t)LROWS * cols + v] = 5 * frand(); // the shared Q row
                int32_t ip[LROWS], iq[LROWS];
                const float *P[LROWS], *Q[LROWS];
                LogitXform xp[LROWS], xq[LROWS];
                const LogitXform *xpp = xi == 5 ? NULL : xp, *xqp = xi == 5 ? NULL : xq;
                for (int r = 0; r < R; r++) {
                    ip[r] = (3 * r) % LROWS;
                    iq[r] = shared_q ? LROWS : (ip[r] + 2) % LROWS;
                    P[r] = zb + (size_t)ip[r] * cols;
                    Q[r] = zb + (size_t)iq[r] * cols;
                    xp[r] = XFS[(xi + r) % 5];
                    xq[r] = XFS[(xi + r + 1) % 5];
                }
                // transformed values and fp32 log-sum-exps (from a double reference: an input here)
                float *X = malloc((size_t)R * cols * 4), *Y = malloc((size_t)R * cols * 4), lp[LROWS], lq[LROWS];
                for (int r = 0; r < R; r++) {
                    for (int v = 0; v < cols; v++) {
                        X[r * cols + v] = xpp ? logit_xform(xp[r].kind, xp[r].a, xp[r].b, P[r][v]) : P[r][v];
                        Y[r * cols + v] = xqp ? logit_xform(xq[r].kind, xq[r].a, xq[r].b, Q[r][v]) : Q[r][v];
                    }
                    for (int pq = 0; pq < 2; pq++) {
                        const float *x = (pq ? Y : X) + r * cols;
                        double m = -INFINITY, S = 0;
                        for (int v = 0; v < cols; v++) m = x[v] > m ? x[v] : m;
                        for (int v = 0; v < cols; v++) S += exp((double)x[v] - m);
                        float l = isinf(m) && m < 0 ? (float)m : (float)(m + log(S));
                        if (pq) lq[r] = l; else lp[r] = l;
                    }
                }
                float *dzb = dev_copy(zb, (size_t)NB * cols * 4), *dlp = dev_copy(lp, sizeof lp), *dlq = dev_copy(lq, sizeof lq);
                // the kernels take device arrays of device row pointers (backend.h: lens rows in
                // backend memory): P's and Q's rows inside the one staged buffer
                const float *hp[LROWS], *hq[LROWS];
                for (int r = 0; r < R; r++) { hp[r] = dzb + (size_t)ip[r] * cols; hq[r] = dzb + (size_t)iq[r] * cols; }
                const float *const *dip = dev_copy(hp, sizeof hp), *const *diq = dev_copy(hq, sizeof hq);
                LwXform *dxp = xpp ? dev_copy(xp, sizeof xp) : NULL, *dxq = xqp ? dev_copy(xq, sizeof xq) : NULL;
                int bad = 0;
                // values: ids in the shard (random, first, last), just outside it, -1, far away
                int32_t ids[LROWS * NIDS];
                float vr[LROWS * NIDS], vg[LROWS * NIDS];
                for (int r = 0; r < R; r++) {
                    int32_t *t = ids + r * NIDS;
                    frand();
                    t[0] = (int32_t)(v0 + (int64_t)((rng >> 33) % (uint64_t)cols)); t[1] = (int32_t)v0;
                    t[2] = (int32_t)(v0 + cols - 1); t[3] = (int32_t)(v0 - 1); t[4] = (int32_t)(v0 + cols); t[5] = -1;
                    t[6] = 7;
                }
                int32_t *dids = dev_copy(ids, sizeof ids);
                float *dvals;
                cudaMalloc((void **)&dvals, sizeof vg);
                cpu_lens_values(P, xpp, R, cols, v0, NIDS, ids, vr);
                CHECK(cuda_lens_values(dip, dxp, R, cols, v0, NIDS, dids, dvals, NULL) == 0);
                cudaMemcpy(vg, dvals, sizeof vg, cudaMemcpyDeviceToHost);
                for (int i = 0; i < R * NIDS; i++) {
                    double eps = xpp && xf_uses_libm(&xp[i / NIDS]) ? LIBM_EPS : 0.0;
                    if (!near_f32(vg[i], vr[i], eps)) { bad++; printf("    values row %d id %d: %g vs %g\n", i / NIDS, ids[i], vg[i], vr[i]); }
                }
                CHECKF(bad == 0, "lens_values cols %d transforms from %d: %d of %d differ from cpu_lens_values", cols, xi, bad,
                       R * NIDS);
                // extremes
                float er[LROWS * 4], eg[LROWS * 4], *dext;
                cudaMalloc((void **)&dext, sizeof eg);
                cpu_lens_extremes(P, xpp, R, cols, er);
                CHECK(cuda_lens_extremes(dip, dxp, R, cols, dext, NULL) == 0);
                cudaMemcpy(eg, dext, sizeof eg, cudaMemcpyDeviceToHost);
                bad = 0;
                for (int i = 0; i < R * 4; i++) {
                    double eps = i % 4 < 2 && xpp && xf_uses_libm(&xp[i / 4]) ? LIBM_EPS : 0.0;
                    if (!near_f32(eg[i], er[i], eps)) { bad++; printf("    extremes row %d [%d]: %g vs %g\n", i / 4, i % 4, eg[i], er[i]); }
                }
                CHECKF(bad == 0, "lens_extremes cols %d transforms from %d: %d of %d differ from cpu_lens_extremes", cols, xi,
                       bad, R * 4);
                // magnitudes and slack of the sums (msum: the mixture's normalization, from the CPU's pair sums)
                double pr[LROWS * 8], pg[LROWS * 8], msum[LROWS], jr[LROWS], jg[LROWS], dr[LROWS * 3], dg[LROWS * 3];
                const float *const *Qc = Q;
                cpu_lens_pair(P, xpp, lp, Qc, xqp, lq, R, cols, LPS_SUMS, pr);
                for (int r = 0; r < R; r++) msum[r] = 0.5 * (pr[r * 8 + 3] + pr[r * 8 + 4]);
                double mag[LROWS][12], sl[LROWS][12];
                memset(mag, 0, sizeof mag);
                memset(sl, 0, sizeof sl);
                for (int r = 0; r < R; r++) {
                    double lxp = xpp && xf_uses_libm(&xp[r]) ? LIBM_EPS : 0, lxq = xqp && xf_uses_libm(&xq[r]) ? LIBM_EPS : 0;
                    for (int v = 0; v < cols; v++)
                        lens_terms(X[r * cols + v], Y[r * cols + v], lp[r], lq[r], lxp, lxq, (float)(1.0 / msum[r]), mag[r], sl[r]);
                }
                double *dout, *dms = dev_copy(msum, sizeof msum);
                cudaMalloc((void **)&dout, sizeof pg);
                for (int wi = 0; wi < 3; wi++) {
                    unsigned what = whats[wi];
                    int need_q = (what & ~(unsigned)LPS_HP) != 0;
                    cpu_lens_pair(P, xpp, lp, need_q ? Qc : NULL, need_q ? xqp : NULL, need_q ? lq : NULL, R, cols, what, pr);
                    CHECK(cuda_lens_pair(dip, dxp, dlp, need_q ? diq : NULL, need_q ? dxq : NULL, need_q ? dlq : NULL, R,
                                         cols, what, dout, NULL) == 0);
                    cudaMemcpy(pg, dout, sizeof pg, cudaMemcpyDeviceToHost);
                    bad = 0;
                    for (int i = 0; i < R * 8; i++)
                        if (!near_sum(pg[i], pr[i], mag[i / 8][i % 8], cols, sl[i / 8][i % 8])) {
                            bad++;
                            printf("    pair what %u row %d [%d]: %.17g vs %.17g\n", what, i / 8, i % 8, pg[i], pr[i]);
                        }
                    CHECKF(bad == 0, "lens_pair what %u cols %d transforms from %d shared Q %d: %d of %d sums off", what, cols, xi,
                           shared_q, bad, R * 8);
                }
                cpu_lens_js(P, xpp, lp, Qc, xqp, lq, R, cols, msum, jr);
                CHECK(cuda_lens_js(dip, dxp, dlp, diq, dxq, dlq, R, cols, dms, dout, NULL) == 0);
                cudaMemcpy(jg, dout, sizeof jg, cudaMemcpyDeviceToHost);
                bad = 0;
                for (int r = 0; r < R; r++)
                    if (!near_sum(jg[r], jr[r], mag[r][8], cols, sl[r][8])) { bad++; printf("    js row %d: %.17g vs %.17g\n", r, jg[r], jr[r]); }
                CHECKF(bad == 0, "lens_js cols %d transforms from %d shared Q %d: %d rows off", cols, xi, shared_q, bad);
                cpu_lens_dots(P, xpp, Qc, xqp, R, cols, dr);
                CHECK(cuda_lens_dots(dip, dxp, diq, dxq, R, cols, dout, NULL) == 0);
                cudaMemcpy(dg, dout, sizeof dg, cudaMemcpyDeviceToHost);
                bad = 0;
                for (int i = 0; i < R * 3; i++)
                    if (!near_sum(dg[i], dr[i], mag[i / 3][9 + i % 3], cols, sl[i / 3][9 + i % 3])) {
                        bad++;
                        printf("    dots row %d [%d]: %.17g vs %.17g\n", i / 3, i % 3, dg[i], dr[i]);
                    }
                CHECKF(bad == 0, "lens_dots cols %d transforms from %d shared Q %d: %d of %d sums off", cols, xi, shared_q, bad,
                       R * 3);
                cudaFree(dzb); cudaFree(dlp); cudaFree(dlq); cudaFree((void *)dip); cudaFree((void *)diq); cudaFree(dxp); cudaFree(dxq);
                cudaFree(dids); cudaFree(dvals); cudaFree(dext); cudaFree(dout); cudaFree(dms);
                free(zb); free(X); free(Y);
            }
}

int main(void) {
#ifdef LW_CUDA_EMU
    printf("device: CPU emulation of CUDA (kernels/emu), real kernel sources of kernels/\n");
#else
    CudaDevices d;
    if (cuda_devices_query(&d) == 0) {
        printf("FAIL: test_kernels needs a GPU: %s\n", d.why);
        return 1;
    }
    printf("gpu 0: %s\n", d.dev[0].name);
#endif
    RUN(rmsnorm);
    RUN(rope);
    RUN(gated_silu);
    RUN(gated_gelu_tanh);
    RUN(softcap);
    RUN(softmax_partials);
    RUN(rmsnorm_odd_sizes);
    RUN(embed_gather);
    RUN(residual_add);
    RUN(matmul_exact);
    RUN(attention);
    RUN(attention_segments);
    RUN(lens_fused);
    RUN(scale_round_widen_bias);
    RUN(matmul_rowdot);
    RUN(softmax_partials_lens);
    RUN(lens_row_reductions);
    return test_summary();
}
