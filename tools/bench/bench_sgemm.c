// bench_sgemm — the machine's one-thread sgemm rate on the lens-decode shape, the yardstick of
// bench_gemm_bound.sh: C[M, N] = A[M, K] · B[N, K]ᵀ in fp32 (OpenBLAS cblas_sgemm, the threads
// OpenBLAS is given: run it with OPENBLAS_NUM_THREADS=1), best of REPS wall times.
// Usage: bench_sgemm M N K [REPS]   Prints "sgemm M N K: best S s, R GFLOP/s".
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: bench_sgemm M N K [REPS]\n"); return 2; }
    long M = atol(argv[1]), N = atol(argv[2]), K = atol(argv[3]);
    int reps = argc > 4 ? atoi(argv[4]) : 3;
    if (M <= 0 || N <= 0 || K <= 0 || reps <= 0) { fprintf(stderr, "bench_sgemm: sizes and REPS must be > 0\n"); return 2; }
    float *a = xmalloc(sizeof(float) * M * K), *b = xmalloc(sizeof(float) * N * K), *c = xmalloc(sizeof(float) * M * N);
    unsigned s = 1;
    for (long i = 0; i < M * K; i++) { s = s * 1103515245u + 12345u; a[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }
    for (long i = 0; i < N * K; i++) { s = s * 1103515245u + 12345u; b[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = lw_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, a, (int)K, b, (int)K, 0.0f, c,
                    (int)N);
        double t = lw_now() - t0;
        if (t < best) best = t;
    }
    printf("sgemm %ld %ld %ld: best %.4f s, %.1f GFLOP/s (c[0] %.3g)\n", M, N, K, best, 2.0 * M * N * K / best / 1e9,
           c[0]);
    free(a); free(b); free(c);
    return 0;
}
