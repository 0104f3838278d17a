// test_cublas — cublasGemmEx / cublasGemmStridedBatchedEx as lensweep calls them (bf16 inputs,
// fp32 output, CUBLAS_COMPUTE_32F), against products derived by hand and against a naive
// double-precision reference written from the documented definition (column-major, op(A) m × k,
// op(B) k × n, leading dimensions, batch strides), plus the documented argument errors. Two builds:
// build/tests/test_cublas_emu (the stand-in of kernels/emu/cublas_emu.c, `make test`) and
// build/gpu-tests/test_cublas (the real cuBLAS, `make test-gpu`), so the stand-in is held to the
// library. Random cases allow what any fp32 summation order may give: (k + 3) · 2^-24 ·
// (|alpha| Σ|a·b| + |beta·c|).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu.h"
#include "test.h"
#include "util/dtype.h"

static uint64_t rng = 0xD1B54A32D192ED03ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static cublasHandle_t H;

static void *dev_copy(const void *h, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) { fprintf(stderr, "cudaMalloc %zu failed\n", bytes); exit(1); }
    if (bytes) cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}
static void to_host(void *h, const void *d, size_t bytes) {
    cudaDeviceSynchronize();
    cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost);
}
static uint16_t bf(float f) { return f32_to_bf16(f); }

TEST(hand_products) {
    // A = [1 2 3; 4 5 6] (2 x 3), B = [7 8; 9 10; 11 12] (3 x 2): A·B = [58 64; 139 154]
    uint16_t a_n[6] = {bf(1), bf(4), bf(2), bf(5), bf(3), bf(6)};   // column-major, lda 2
    uint16_t a_t[6] = {bf(1), bf(2), bf(3), bf(4), bf(5), bf(6)};   // Aᵀ column-major (= A row-major), lda 3
    uint16_t b_n[6] = {bf(7), bf(9), bf(11), bf(8), bf(10), bf(12)}; // column-major, ldb 3
    uint16_t b_t[6] = {bf(7), bf(8), bf(9), bf(10), bf(11), bf(12)}; // Bᵀ column-major, ldb 2
    float c0[6] = {-1, -2, 99, -3, -4, 99}; // ldc 3: row 2 is padding that must stay 99
    const float want1[6] = {58, 139, 99, 64, 154, 99};
    const float want2[6] = {2 * 58 - 0.5f, 2 * 139 - 1, 99, 2 * 64 - 1.5f, 2 * 154 - 2, 99}; // alpha 2, beta 0.5
    void *dan = dev_copy(a_n, 12), *dat = dev_copy(a_t, 12), *dbn = dev_copy(b_n, 12), *dbt = dev_copy(b_t, 12);
    float *dc = dev_copy(c0, 24), c[6];
    float one = 1, zero = 0, two = 2, half = 0.5f;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            cudaMemcpy(dc, c0, 24, cudaMemcpyHostToDevice);
            cublasStatus_t st = cublasGemmEx(H, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, 2, 2, 3,
                                             &one, ta ? dat : dan, CUDA_R_16BF, ta ? 3 : 2, tb ? dbt : dbn, CUDA_R_16BF,
                                             tb ? 2 : 3, &zero, dc, CUDA_R_32F, 3, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            to_host(c, dc, 24);
            CHECKF(st == CUBLAS_STATUS_SUCCESS, "transa %d transb %d: status %d", ta, tb, st);
            CHECKF(memcmp(c, want1, 24) == 0, "transa %d transb %d: C = [%g %g; %g %g], pad %g %g", ta, tb, c[0], c[3],
                   c[1], c[4], c[2], c[5]);
        }
    cudaMemcpy(dc, c0, 24, cudaMemcpyHostToDevice);
    CHECK(cublasGemmEx(H, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &two, dan, CUDA_R_16BF, 2, dbn, CUDA_R_16BF, 3, &half, dc,
                       CUDA_R_32F, 3, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
    to_host(c, dc, 24);
    CHECKF(memcmp(c, want2, 24) == 0, "alpha 2 beta 0.5: C = [%g %g; %g %g]", c[0], c[3], c[1], c[4]);
    // beta 0: C is not read, so NaN there does not propagate
    float nan6[6];
    for (int i = 0; i < 6; i++) nan6[i] = i == 2 || i == 5 ? 99 : NAN;
    cudaMemcpy(dc, nan6, 24, cudaMemcpyHostToDevice);
    CHECK(cublasGemmEx(H, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, dan, CUDA_R_16BF, 2, dbn, CUDA_R_16BF, 3, &zero, dc,
                       CUDA_R_32F, 3, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
    to_host(c, dc, 24);
    CHECKF(memcmp(c, want1, 24) == 0, "beta 0 over NaN: C = [%g %g; %g %g]", c[0], c[3], c[1], c[4]);
    cudaFree(dan); cudaFree(dat); cudaFree(dbn); cudaFree(dbt); cudaFree(dc);
}

TEST(bf16_output_rounds_to_nearest_even) {
    // 1 x 2 times 2 x 1: sums 1 + 2^-8 (a tie: down to 1, even) and 1 + 3·2^-8 (a tie: up to 1 + 2^-6)
    uint16_t a[2] = {bf(1), bf(1)}, b[4] = {bf(1), bf(ldexpf(1, -8)), bf(1 + ldexpf(1, -7)), bf(ldexpf(1, -8))};
    uint16_t c[2] = {0, 0};
    void *da = dev_copy(a, 4), *db = dev_copy(b, 8), *dc = dev_copy(c, 4);
    float one = 1, zero = 0;
    CHECK(cublasGemmEx(H, CUBLAS_OP_N, CUBLAS_OP_N, 1, 2, 2, &one, da, CUDA_R_16BF, 1, db, CUDA_R_16BF, 2, &zero, dc,
                       CUDA_R_16BF, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
    to_host(c, dc, 4);
    CHECKF(c[0] == 0x3F80, "1 + 2^-8 in bf16: 0x%04x, want 0x3f80", c[0]);
    CHECKF(c[1] == 0x3F82, "1 + 3*2^-8 in bf16: 0x%04x, want 0x3f82", c[1]);
    cudaFree(da); cudaFree(db); cudaFree(dc);
}

// Random op(A)·op(B) with leading dimensions larger than the rows, over `batch` strided batches,
// against the definition evaluated in double.
static void check_random(int ta, int tb, int m, int n, int k, int pad, int batch, float alpha, float beta) {
    int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int lda = ar + pad, ldb = br + pad + 1, ldc = m + pad;
    long long sa = (long long)lda * ac + 5, sb = (long long)ldb * bc + 3, sc = (long long)ldc * n + 7;
    size_t na = (size_t)sa * batch, nb = (size_t)sb * batch, nc = (size_t)sc * batch;
    uint16_t *A = malloc(na * 2), *B = malloc(nb * 2);
    float *C0 = malloc(nc * 4), *C = malloc(nc * 4);
    for (size_t i = 0; i < na; i++) A[i] = bf(frand());
    for (size_t i = 0; i < nb; i++) B[i] = bf(frand());
    for (size_t i = 0; i < nc; i++) C0[i] = frand();
    void *dA = dev_copy(A, na * 2), *dB = dev_copy(B, nb * 2);
    float *dC = dev_copy(C0, nc * 4);
    cublasStatus_t st = cublasGemmStridedBatchedEx(H, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
                                                   k, &alpha, dA, CUDA_R_16BF, lda, sa, dB, CUDA_R_16BF, ldb, sb, &beta,
                                                   dC, CUDA_R_32F, ldc, sc, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    to_host(C, dC, nc * 4);
    CHECKF(st == CUBLAS_STATUS_SUCCESS, "status %d", st);
    size_t bad = 0, untouched_bad = 0;
    double worst = 0;
    for (int p = 0; p < batch; p++)
        for (long long e = 0; e < sc; e++) {
            size_t ci = (size_t)p * sc + e;
            int i = (int)(e % ldc), j = (int)(e / ldc);
            if (i >= m || j >= n) { untouched_bad += memcmp(&C[ci], &C0[ci], 4) != 0; continue; }
            double s = 0, sabs = 0;
            for (int l = 0; l < k; l++) {
                double av = bf16_to_f32(A[p * sa + (ta ? l + (size_t)i * lda : i + (size_t)l * lda)]);
                double bv = bf16_to_f32(B[p * sb + (tb ? j + (size_t)l * ldb : l + (size_t)j * ldb)]);
                s += av * bv;
                sabs += fabs(av * bv);
            }
            double want = alpha * s + beta * C0[ci];
            double tol = (k + 3) * ldexp(1, -24) * (fabs(alpha) * sabs + fabs(beta * C0[ci])) + 1e-30;
            double err = fabs(C[ci] - want);
            if (err > tol) bad++;
            if (err / tol > worst) worst = err / tol;
        }
    CHECKF(bad == 0, "trans %d%d m=%d n=%d k=%d pad=%d batch=%d: %zu outputs outside the fp32 summation bound "
           "(worst %.2f x the bound)", ta, tb, m, n, k, pad, batch, bad, worst);
    CHECKF(untouched_bad == 0, "trans %d%d: %zu elements outside C's m x n written", ta, tb, untouched_bad);
    cudaFree(dA); cudaFree(dB); cudaFree(dC); free(A); free(B); free(C0); free(C);
}

TEST(transposes_strides_batches) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_random(ta, tb, 17, 9, 33, 0, 1, 1.0f, 0.0f);
            check_random(ta, tb, 5, 13, 70, 3, 3, 0.75f, -1.25f);
        }
    check_random(1, 0, 64, 1, 300, 2, 2, 1.0f, 1.0f);
}

// The call the CUDA backend's fast mode makes: Y[T, out] = X[T, in] · W[out, in]ᵀ, row-major, as
// the column-major Yᵀ = op_T(W as in x out) · Xᵀ; X rounded to bf16 first. Its CPU twin is
// cpu_matmul on the same bf16-rounded activations (fp32 sgemm).
TEST(backend_fast_matmul_call) {
    int T = 7, out = 45, in = 130;
    float *x = malloc((size_t)T * in * 4), *xr = malloc((size_t)T * in * 4), *wf = malloc((size_t)out * in * 4);
    float *ref = malloc((size_t)T * out * 4), *got = malloc((size_t)T * out * 4);
    uint16_t *xb = malloc((size_t)T * in * 2), *w = malloc((size_t)out * in * 2);
    for (int i = 0; i < T * in; i++) { x[i] = frand(); xb[i] = bf(x[i]); xr[i] = bf16_to_f32(xb[i]); }
    for (int i = 0; i < out * in; i++) { wf[i] = 0.1f * frand(); w[i] = bf(wf[i]); }
    cpu_matmul(xr, T, DT_BF16, w, out, in, NULL, ref);
    void *dx = dev_copy(xb, (size_t)T * in * 2), *dw = dev_copy(w, (size_t)out * in * 2);
    float *dy = dev_copy(ref, (size_t)T * out * 4), one = 1, zero = 0;
    CHECK(cublasGemmEx(H, CUBLAS_OP_T, CUBLAS_OP_N, out, T, in, &one, dw, CUDA_R_16BF, in, dx, CUDA_R_16BF, in, &zero, dy,
                       CUDA_R_32F, out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
    to_host(got, dy, (size_t)T * out * 4);
    double worst = 0;
    for (int t = 0; t < T; t++)
        for (int o = 0; o < out; o++) {
            double sabs = 0;
            for (int l = 0; l < in; l++) sabs += fabs((double)xr[t * in + l] * bf16_to_f32(w[o * in + l]));
            double r = fabs(got[t * out + o] - ref[t * out + o]) / (2 * (in + 3) * ldexp(1, -24) * sabs);
            if (!(r <= worst)) worst = r;
        }
    CHECKF(worst <= 1, "GemmEx vs cpu_matmul: %.2f x the summation bound (two fp32 sums: 2(k+3)·2^-24·Σ|x·w|)", worst);
    cudaFree(dx); cudaFree(dw); cudaFree(dy); free(x); free(xr); free(wf); free(ref); free(got); free(xb); free(w);
}

TEST(documented_errors) {
    float c[4] = {1, 2, 3, 4}, c2[4], one = 1, zero = 0;
    uint16_t ab[4] = {bf(1), bf(1), bf(1), bf(1)};
    void *da = dev_copy(ab, 8);
    float *dc = dev_copy(c, 16), *df = dev_copy(c, 16);
    struct { cublasStatus_t st; const char *what; } r[] = {
        {cublasGemmEx(H, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, da, CUDA_R_16BF, 1, da, CUDA_R_16BF, 2, &zero, dc,
                      CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "lda 1 < m 2"},
        {cublasGemmEx(H, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, da, CUDA_R_16BF, 2, da, CUDA_R_16BF, 3, &zero, dc,
                      CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "op T: lda 2 < k 3"},
        {cublasGemmEx(H, CUBLAS_OP_N, CUBLAS_OP_T, 2, 2, 2, &one, da, CUDA_R_16BF, 2, da, CUDA_R_16BF, 1, &zero, dc,
                      CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "op T: ldb 1 < n 2"},
        {cublasGemmEx(H, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, da, CUDA_R_16BF, 2, da, CUDA_R_16BF, 2, &zero, dc,
                      CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "ldc 1 < m 2"},
        {cublasGemmEx(H, CUBLAS_OP_N, CUBLAS_OP_N, -1, 2, 2, &one, da, CUDA_R_16BF, 2, da, CUDA_R_16BF, 2, &zero, dc,
                      CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "m < 0"},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        CHECKF(r[i].st == CUBLAS_STATUS_INVALID_VALUE, "%s: status %d, want CUBLAS_STATUS_INVALID_VALUE (7)", r[i].what,
               r[i].st);
    cublasStatus_t st = cublasGemmEx(H, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, da, CUDA_R_16BF, 2, df, CUDA_R_32F, 2,
                                     &zero, dc, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    CHECKF(st == CUBLAS_STATUS_NOT_SUPPORTED, "A bf16 with B fp32: status %d, want CUBLAS_STATUS_NOT_SUPPORTED (15)", st);
    to_host(c2, dc, 16);
    CHECKF(memcmp(c, c2, 16) == 0, "a refused call wrote C");
    cudaFree(da); cudaFree(dc); cudaFree(df);
}

int main(void) {
#ifdef LW_CUDA_EMU
    printf("cuBLAS: the emulation's stand-in (kernels/emu/cublas_emu.c)\n");
#else
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("FAIL: test_cublas needs a GPU\n");
        return 1;
    }
#endif
    if (cublasCreate(&H) != CUBLAS_STATUS_SUCCESS) {
        printf("FAIL: cublasCreate\n");
        return 1;
    }
    RUN(hand_products);
    RUN(bf16_output_rounds_to_nearest_even);
    RUN(transposes_strides_batches);
    RUN(backend_fast_matmul_call);
    RUN(documented_errors);
    cublasDestroy(H);
    return test_summary();
}
