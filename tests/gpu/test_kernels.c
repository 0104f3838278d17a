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
#include <cuda_runtime.h> // the real runtime, or kernels/emu/include's emulation (LW_CUDA_EMU)
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/cpu.h"
#include "backend/cuda.h"
#include "kernels.h"
#include "test.h"

#ifdef LW_CUDA_EMU
#define ELEMENTWISE_N ((size_t)1 << 16)
#else
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

TEST(gated_silu) { check_gated(0); }
TEST(gated_gelu_tanh) { check_gated(1); }

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
    return test_summary();
}
