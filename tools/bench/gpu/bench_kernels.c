// bench_kernels — time of the kernels/ ops on one GPU at the shapes of an 8B model (Llama-3-8B:
// d 4096, ff 14336, 32 heads, 8 kv heads, hd 128), next to the HBM limit.
//
//   build/bench/gpu/bench_kernels [reps=20]
//
// One line per case: the kernel, its shape, the median time of `reps` launches (CUDA events,
// after 3 warm-up launches), the bytes it must move (weights read once; activations read and
// written once), the bandwidth that makes, and its fraction of the peak HBM bandwidth from the
// device attributes (2 × memory clock × bus width). For the exact matmul also the rate of
// double-precision multiply-adds, which bounds it beyond a few tokens per weight read.
// Needs a GPU (tools/gpu/check.sh runs it); results go to BENCHMARKS.md with the machine named.
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static int reps = 20;
static double peak_gbs;

#define CK(call)                                                                                      \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "bench_kernels: %s failed at %s:%d: %s\n", #call, __FILE__, __LINE__,     \
                    cudaGetErrorString(e_));                                                          \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

static void *dev_random(size_t bytes, int bf16) { // values in [-1, 1) (bf16 or fp32 elements)
    void *h = malloc(bytes), *d = NULL;
    uint64_t r = 0x9E3779B97F4A7C15ull ^ bytes;
    size_t n = bf16 ? bytes / 2 : bytes / 4;
    for (size_t i = 0; i < n; i++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        float f = (float)((r >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
        if (bf16) { uint32_t u; memcpy(&u, &f, 4); ((uint16_t *)h)[i] = (uint16_t)(u >> 16); }
        else ((float *)h)[i] = f;
    }
    CK(cudaMalloc(&d, bytes));
    CK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
    free(h);
    return d;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

typedef int (*Launch)(void *arg);

// Median milliseconds of `reps` launches of f(arg).
static double time_ms(Launch f, void *arg) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 3; i++) CK((cudaError_t)f(arg));
    float *t = malloc(reps * sizeof(float));
    for (int i = 0; i < reps; i++) {
        CK(cudaEventRecord(a, 0));
        CK((cudaError_t)f(arg));
        CK(cudaEventRecord(b, 0));
        CK(cudaEventSynchronize(b));
        CK(cudaEventElapsedTime(&t[i], a, b));
    }
    qsort(t, reps, sizeof(float), cmp_float);
    double m = t[reps / 2];
    free(t);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return m;
}

static void report(const char *kernel, const char *shape, double ms, double bytes, double dflop) {
    double gbs = bytes / (ms * 1e-3) / 1e9;
    printf("bench: %-16s %-34s %9.4f ms  %8.1f GB/s  %5.1f%% of HBM peak", kernel, shape, ms, gbs, 100 * gbs / peak_gbs);
    if (dflop > 0) printf("  %6.2f TFLOP/s fp64", dflop / (ms * 1e-3) / 1e12);
    printf("\n");
    fflush(stdout);
}

typedef struct { float *x, *y; void *w; int T; int64_t out, in; } MatmulArg;
static int run_matmul(void *p) {
    MatmulArg *a = p;
    return cuda_matmul_exact(a->x, a->T, DT_BF16, a->w, a->out, a->in, NULL, a->y, NULL);
}

typedef struct { float *x, *w, *y; int rows, n; } NormArg;
static int run_norm(void *p) {
    NormArg *a = p;
    return cuda_rmsnorm(a->x, a->w, a->y, a->rows, a->n, 1e-5f, NULL);
}
static int run_add(void *p) {
    NormArg *a = p;
    return cuda_add(a->y, a->x, (size_t)a->rows * a->n, NULL);
}

typedef struct { float *q, *k, *v, *o; int T; LwAttnParams p; } AttnArg;
static int run_attn(void *p) {
    AttnArg *a = p;
    return cuda_attention(a->q, a->k, a->v, a->T, &a->p, a->o, NULL);
}

int main(int argc, char **argv) {
    if (argc > 1) reps = atoi(argv[1]);
    if (reps < 1) { fprintf(stderr, "usage: bench_kernels [reps=20]\n"); return 2; }
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        fprintf(stderr, "bench_kernels: no usable GPU; run it on a GPU node\n");
        return 2;
    }
    struct cudaDeviceProp prop;
    int clk = 0, bus = 0;
    CK(cudaGetDeviceProperties(&prop, 0));
    CK(cudaDeviceGetAttribute(&clk, cudaDevAttrMemoryClockRate, 0));
    CK(cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, 0));
    peak_gbs = 2.0 * clk * 1e3 * (bus / 8.0) / 1e9;
    printf("bench_kernels on %s: %d SMs, HBM peak %.0f GB/s (2 x %d kHz x %d bit), %d reps\n", prop.name,
           prop.multiProcessorCount, peak_gbs, clk, bus, reps);

    // exact matmul: Llama-3-8B projections, bf16 weights
    static const struct { const char *name; int64_t out, in; } M[] = {
        {"q_proj", 4096, 4096}, {"gate_proj", 14336, 4096}, {"down_proj", 4096, 14336}};
    static const int Ts[] = {1, 8, 32, 128, 256};
    for (int s = 0; s < 3; s++) {
        MatmulArg a = {0};
        a.out = M[s].out;
        a.in = M[s].in;
        a.w = dev_random((size_t)a.out * a.in * 2, 1);
        a.x = dev_random((size_t)256 * a.in * 4, 0);
        CK(cudaMalloc((void **)&a.y, (size_t)256 * a.out * 4));
        for (int t = 0; t < 5; t++) {
            a.T = Ts[t];
            char shape[64];
            snprintf(shape, sizeof shape, "%s T=%d [%lldx%lld]", M[s].name, a.T, (long long)a.out, (long long)a.in);
            double bytes = (double)a.out * a.in * 2 + (double)a.T * (a.in + a.out) * 4;
            report("matmul_exact", shape, time_ms(run_matmul, &a), bytes, 2.0 * a.T * a.out * a.in);
        }
        cudaFree(a.w); cudaFree(a.x); cudaFree(a.y);
    }

    // RMSNorm and residual add over [T, d] = [4096, 4096]
    NormArg na = {0};
    na.rows = 4096;
    na.n = 4096;
    na.x = dev_random((size_t)na.rows * na.n * 4, 0);
    na.w = dev_random((size_t)na.n * 4, 0);
    CK(cudaMalloc((void **)&na.y, (size_t)na.rows * na.n * 4));
    double act = (double)na.rows * na.n * 4;
    report("rmsnorm", "[4096, 4096]", time_ms(run_norm, &na), 2 * act, 0);
    report("add", "[4096, 4096]", time_ms(run_add, &na), 3 * act, 0);
    cudaFree(na.x); cudaFree(na.w); cudaFree(na.y);

    // attention, one layer of Llama-3-8B: 32 heads, 8 kv heads, hd 128, causal
    static const int As[] = {512, 4096};
    for (int i = 0; i < 2; i++) {
        AttnArg a = {0};
        a.T = As[i];
        a.p = (LwAttnParams){32, 8, 128, 4, 0, 0, 0.08838834764f, 0, 0};
        a.q = dev_random((size_t)a.T * 32 * 128 * 4, 0);
        a.k = dev_random((size_t)a.T * 8 * 128 * 4, 0);
        a.v = dev_random((size_t)a.T * 8 * 128 * 4, 0);
        CK(cudaMalloc((void **)&a.o, (size_t)a.T * 32 * 128 * 4));
        char shape[64];
        snprintf(shape, sizeof shape, "T=%d H=32 KV=8 hd=128", a.T);
        double bytes = (double)a.T * 128 * 4 * (32 + 8 + 8 + 32);
        report("attention", shape, time_ms(run_attn, &a), bytes, 0);
        cudaFree(a.q); cudaFree(a.k); cudaFree(a.v); cudaFree(a.o);
    }
    return 0;
}
