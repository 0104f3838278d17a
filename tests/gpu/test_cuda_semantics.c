// test_cuda_semantics — the CUDA semantics kernels/ relies on, checked against values derived by
// hand: 3-D launch geometry, launch limits refused with the error a GPU returns, dynamic shared
// memory (with and without opting in past 48 KiB), warp shuffles and votes, atomics, bf16/half
// rounding to nearest even. Two builds of this one file, like test_kernels: build/tests/
// test_cuda_semantics_emu (the probe kernels of semantics.cu on the CPU emulation of kernels/emu,
// run by `make test`) and build/gpu-tests/test_cuda_semantics (nvcc, `make test-gpu`), so the
// emulation is held to what the hardware does. The emulation-only cases check that threads that
// diverge around a barrier stop the program with a message naming the kernel (never a hang).
#include <cuda_runtime.h> // the real runtime, or kernels/emu/include's emulation (LW_CUDA_EMU)
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "semantics.h"
#include "test.h"
#include "util/dtype.h"

static void *dev_alloc(size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes) != cudaSuccess) { fprintf(stderr, "cudaMalloc %zu failed\n", bytes); exit(1); }
    cudaMemset(d, 0, bytes);
    return d;
}
static void to_host(void *h, const void *d, size_t bytes) { cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost); }
static void *dev_copy(const void *h, size_t bytes) {
    void *d = dev_alloc(bytes);
    cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}

static void check_index3d(const int grid[3], const int block[3]) {
    size_t n = (size_t)grid[0] * grid[1] * grid[2] * block[0] * block[1] * block[2];
    unsigned *d = dev_alloc(n * 4), *dd = dev_alloc(6 * 4), *h = malloc(n * 4), dims[6];
    CHECK(sem_index3d(d, dd, grid, block) == cudaSuccess);
    cudaDeviceSynchronize();
    to_host(h, d, n * 4);
    to_host(dims, dd, sizeof dims);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += h[i] != i + 1; // each index written once, by its own thread
    CHECKF(bad == 0, "grid (%d,%d,%d) block (%d,%d,%d): %zu of %zu slots wrong", grid[0], grid[1], grid[2], block[0],
           block[1], block[2], bad, n);
    for (int k = 0; k < 3; k++) {
        CHECKF(dims[k] == (unsigned)grid[k], "gridDim[%d] = %u, want %d", k, dims[k], grid[k]);
        CHECKF(dims[3 + k] == (unsigned)block[k], "blockDim[%d] = %u, want %d", k, dims[3 + k], block[k]);
    }
    cudaFree(d); cudaFree(dd); free(h);
}

TEST(geometry_3d) {
    check_index3d((const int[3]){3, 2, 2}, (const int[3]){4, 3, 5});
    check_index3d((const int[3]){1, 3, 1}, (const int[3]){32, 1, 2});
    check_index3d((const int[3]){5, 1, 1}, (const int[3]){100, 1, 1});
}

// A refused launch runs nothing, and its error is returned once by cudaGetLastError.
static void check_refused(const int grid[3], const int block[3], int want, const char *what) {
    int *flag = dev_alloc(4), h = -1;
    int rc = sem_launch_flag(flag, grid, block);
    cudaDeviceSynchronize();
    to_host(&h, flag, 4);
    CHECKF(rc == want, "%s: launch returned %d (%s), want %d (%s)", what, rc, cudaGetErrorString(rc), want,
           cudaGetErrorString(want));
    CHECKF(h == (want == cudaSuccess), "%s: the kernel %s", what, h ? "ran" : "did not run");
    CHECKF(cudaGetLastError() == cudaSuccess, "%s: the error was not reset by cudaGetLastError", what);
    cudaFree(flag);
}

TEST(launch_limits) {
    const int one[3] = {1, 1, 1};
    check_refused(one, (const int[3]){1025, 1, 1}, cudaErrorInvalidConfiguration, "1025 threads per block");
    check_refused(one, (const int[3]){32, 32, 2}, cudaErrorInvalidConfiguration, "32x32x2 = 2048 threads");
    check_refused(one, (const int[3]){1, 1, 65}, cudaErrorInvalidConfiguration, "blockDim.z = 65");
    check_refused((const int[3]){1, 65536, 1}, one, cudaErrorInvalidConfiguration, "gridDim.y = 65536");
    check_refused((const int[3]){0, 1, 1}, one, cudaErrorInvalidConfiguration, "gridDim.x = 0");
    // the largest legal block still runs
    check_refused(one, (const int[3]){8, 8, 16}, cudaSuccess, "8x8x16 = 1024 threads");
}

static void check_reverse(int blocks, int threads, int per, int want) {
    size_t n = (size_t)blocks * threads * per;
    float *in = malloc(n * 4), *out = malloc(n * 4);
    for (size_t i = 0; i < n; i++) in[i] = (float)i * 0.5f - 7;
    float *din = dev_copy(in, n * 4), *dout = dev_alloc(n * 4);
    int rc = sem_reverse(din, dout, blocks, threads, per);
    CHECKF(rc == want, "reverse through %d bytes of dynamic shared memory: %d (%s), want %d", threads * per * 4, rc,
           cudaGetErrorString(rc), want);
    if (want == cudaSuccess) {
        cudaDeviceSynchronize();
        to_host(out, dout, n * 4);
        size_t m = (size_t)threads * per, bad = 0;
        for (size_t i = 0; i < n; i++) bad += out[i] != in[i / m * m + (m - 1 - i % m)];
        CHECKF(bad == 0, "reverse: %zu of %zu wrong", bad, n);
    }
    cudaFree(din); cudaFree(dout); free(in); free(out);
}

TEST(dynamic_shared) {
    check_reverse(3, 128, 2, cudaSuccess);            // 1 KiB
    check_reverse(2, 256, 48, cudaSuccess);           // 48 KiB: the limit without opting in
    check_reverse(2, 256, 64, cudaErrorInvalidValue); // 64 KiB refused...
    CHECK(cudaGetLastError() == cudaSuccess);
    CHECK(sem_reverse_optin(64 * 1024) == cudaSuccess);
    check_reverse(2, 256, 64, cudaSuccess);           // ...until the kernel opts in
    check_reverse(2, 256, 65, cudaErrorInvalidValue); // and no further than it opted in
    CHECK(cudaGetLastError() == cudaSuccess);
    CHECKF(sem_reverse_optin(1 << 20) == cudaErrorInvalidValue, "opting in to 1 MiB must fail");
}

TEST(warp_ops) {
    const int block[3] = {32, 2, 2}; // 128 threads = 4 warps, linear id x fastest
    int nt = 128, nw = 4;
    float *dd = dev_alloc(nw * 4), *dx = dev_alloc(nt * 4), down[4], xs[128];
    int *db = dev_alloc(nt * 4), *du = dev_alloc(nt * 4), *dv = dev_alloc(3 * nw * 4), bc[128], up[128], votes[12];
    unsigned *dbal = dev_alloc(nw * 4), bal[4];
    CHECK(sem_warp(dd, dx, db, du, dbal, dv, block) == cudaSuccess);
    cudaDeviceSynchronize();
    to_host(down, dd, sizeof down); to_host(xs, dx, sizeof xs); to_host(bc, db, sizeof bc);
    to_host(up, du, sizeof up); to_host(bal, dbal, sizeof bal); to_host(votes, dv, sizeof votes);
    for (int w = 0; w < nw; w++) {
        float want = 1024.0f * w + 496.0f; // sum of 32w + l over l = 0..31
        CHECKF(down[w] == want, "warp %d: __shfl_down_sync sum %g, want %g", w, down[w], want);
        unsigned b = 0;
        for (int l = 0; l < 32; l++) b |= (unsigned)((32 * w + l) % 3 == 0) << l;
        CHECKF(bal[w] == b, "warp %d: ballot 0x%08x, want 0x%08x", w, bal[w], b);
        CHECKF(votes[3 * w] == 1, "warp %d: __all_sync(true) = %d", w, votes[3 * w]);
        CHECKF(votes[3 * w + 1] == 0, "warp %d: __all_sync(lane != 7) = %d", w, votes[3 * w + 1]);
        CHECKF(!!votes[3 * w + 2] == (w == 1), "warp %d: __any_sync(tid == 40) = %d", w, votes[3 * w + 2]);
    }
    int bad_x = 0, bad_b = 0, bad_u = 0;
    for (int t = 0; t < nt; t++) {
        bad_x += xs[t] != 1024.0f * (t / 32) + 496.0f;
        bad_b += bc[t] != (t & ~15) + 5;
        bad_u += up[t] != (t % 8 >= 3 ? t - 3 : t); // below the segment: own value
    }
    CHECKF(bad_x == 0, "__shfl_xor_sync butterfly: %d threads wrong", bad_x);
    CHECKF(bad_b == 0, "__shfl_sync(lane 5, width 16): %d threads wrong", bad_b);
    CHECKF(bad_u == 0, "__shfl_up_sync(3, width 8): %d threads wrong", bad_u);
    cudaFree(dd); cudaFree(dx); cudaFree(db); cudaFree(du); cudaFree(dv); cudaFree(dbal);
}

TEST(atomics) {
    int blocks = 7, threads = 96, n = blocks * threads;
    int *ic = dev_alloc(4), *imax = dev_alloc(4), *imin = dev_alloc(4), big = 1 << 30, h[3];
    float *fs = dev_alloc(4), f, *fm = dev_alloc(4), fmax, lowest = -1e30f;
    double *ds = dev_alloc(8), d;
    cudaMemcpy(imin, &big, 4, cudaMemcpyHostToDevice);
    cudaMemcpy(fm, &lowest, 4, cudaMemcpyHostToDevice);
    CHECK(sem_atomics(blocks, threads, ic, fs, ds, imax, imin, fm) == cudaSuccess);
    cudaDeviceSynchronize();
    to_host(&h[0], ic, 4); to_host(&h[1], imax, 4); to_host(&h[2], imin, 4); to_host(&f, fs, 4); to_host(&d, ds, 8);
    to_host(&fmax, fm, 4);
    int wmax = 0, wmin = big;
    float wfmax = lowest;
    for (int g = 0; g < n; g++) {
        if ((g * 37) % 1000 > wmax) wmax = (g * 37) % 1000;
        if (1000 - (g * 53) % 997 < wmin) wmin = 1000 - (g * 53) % 997;
        float v = (float)((g * 91) % 1009) * 0.5f - 300.0f;
        if (v > wfmax) wfmax = v;
    }
    CHECKF(fmax == wfmax, "float max via atomicCAS: %g, want %g", fmax, wfmax);
    CHECKF(h[0] == n, "atomicAdd(int): %d, want %d", h[0], n);
    CHECKF(f == (float)n, "atomicAdd(float 1): %g, want %d (exact below 2^24)", f, n);
    CHECKF(d == 0.25 * n, "atomicAdd(double 0.25): %g, want %g", d, 0.25 * n);
    CHECKF(h[1] == wmax, "atomicMax(int): %d, want %d", h[1], wmax);
    CHECKF(h[2] == wmin, "atomicMin(int): %d, want %d", h[2], wmin);
    cudaFree(ic); cudaFree(imax); cudaFree(imin); cudaFree(fs); cudaFree(ds); cudaFree(fm);
}

static float f_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t u_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// Hand-derived roundings: input bits, bf16 bits, half bits (ties go to the even neighbour).
static const struct { uint32_t in; uint16_t bf, hf; const char *why; } CASES[] = {
    {0x3F800000, 0x3F80, 0x3C00, "1"},
    {0x3F808000, 0x3F80, 0x3C04, "1+2^-8: bf16 tie, down to even; exact in half"},
    {0x3F818000, 0x3F82, 0x3C0C, "1+3*2^-8: bf16 tie, up to even"},
    {0x3F808001, 0x3F81, 0x3C04, "1+2^-8+2^-23: above the bf16 tie"},
    {0x3F828000, 0x3F82, 0x3C14, "bf16 tie with an even upper half: stays"},
    {0x3F838000, 0x3F84, 0x3C1C, "bf16 tie with an odd upper half: up"},
    {0x3F801000, 0x3F80, 0x3C00, "1+2^-11: half tie, down to even"},
    {0x3F803000, 0x3F80, 0x3C02, "1+3*2^-11: half tie, up to even"},
    {0xBF808000, 0xBF80, 0xBC04, "-(1+2^-8): sign kept"},
    {0x3F7FFFFF, 0x3F80, 0x3C00, "1-2^-24: rounds up to 1 in both"},
    {0x7F7FFFFF, 0x7F80, 0x7C00, "FLT_MAX: bf16 overflows to inf"},
    {0x477FE000, 0x4780, 0x7BFF, "65504: largest half"},
    {0x477FF000, 0x4780, 0x7C00, "65520: half tie between 65504 and inf, to even (inf)"},
    {0x38800000, 0x3880, 0x0400, "2^-14: smallest normal half"},
    {0x33800000, 0x3380, 0x0001, "2^-24: smallest half subnormal"},
    {0x33000000, 0x3300, 0x0000, "2^-25: half tie between 0 and 2^-24, to even (0)"},
    {0x33C00000, 0x33C0, 0x0002, "3*2^-25: half tie between 1 and 2 subnormal units, to 2"},
    {0x80000000, 0x8000, 0x8000, "-0"},
    {0x7F800000, 0x7F80, 0x7C00, "inf"},
    {0x7FC00001, 0x7FFF, 0x7FFF, "NaN: canonical 0x7fff"},
};

TEST(bf16_half_rounding) {
    enum { NC = sizeof CASES / sizeof CASES[0], NR = 1 << 14, N = NC + NR };
    float *in = malloc(N * 4), *bfb = malloc(N * 4), *hfb = malloc(N * 4);
    uint16_t *bf = malloc(N * 2), *hf = malloc(N * 2);
    for (int i = 0; i < NC; i++) in[i] = f_of(CASES[i].in);
    uint64_t r = 0x2545F4914F6CDD1Dull;
    for (int i = NC; i < N; i++) { // random finite floats around the half range
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        uint32_t u = (uint32_t)(r >> 32);
        u = (u & 0x807FFFFFu) | ((uint32_t)(100 + (u >> 23 & 0x3F)) << 23); // exponents 2^-27 .. 2^36
        in[i] = f_of(u);
    }
    float *din = dev_copy(in, N * 4), *dbfb = dev_alloc(N * 4), *dhfb = dev_alloc(N * 4);
    uint16_t *dbf = dev_alloc(N * 2), *dhf = dev_alloc(N * 2);
    CHECK(sem_convert(din, dbf, dhf, dbfb, dhfb, N) == cudaSuccess);
    cudaDeviceSynchronize();
    to_host(bf, dbf, N * 2); to_host(hf, dhf, N * 2); to_host(bfb, dbfb, N * 4); to_host(hfb, dhfb, N * 4);
    for (int i = 0; i < NC; i++) {
        CHECKF(bf[i] == CASES[i].bf, "bf16(0x%08x) = 0x%04x, want 0x%04x (%s)", CASES[i].in, bf[i], CASES[i].bf,
               CASES[i].why);
        CHECKF(hf[i] == CASES[i].hf, "half(0x%08x) = 0x%04x, want 0x%04x (%s)", CASES[i].in, hf[i], CASES[i].hf,
               CASES[i].why);
    }
    // widening is exact: bf16 back = its bits << 16; half back vs hand values
    int bad_back = 0;
    for (int i = 0; i < N; i++) bad_back += u_of(bfb[i]) != (uint32_t)bf[i] << 16 && !isnan(bfb[i]);
    CHECKF(bad_back == 0, "bf16 -> float not exact in %d cases", bad_back);
    CHECKF(hfb[11] == 65504.0f && hfb[14] == ldexpf(1, -24) && hfb[16] == ldexpf(1, -23) && hfb[1] == 1 + ldexpf(1, -8)
           && isinf(hfb[12]) && hfb[13] == ldexpf(1, -14) && signbit(hfb[17]) && hfb[17] == 0 && isnan(hfb[19]),
           "half -> float of the hand cases");
    // random values: the same bits as the CPU's converters (util/dtype.h), which load the weights
    int bad_bf = 0, bad_hf = 0;
    for (int i = NC; i < N; i++) {
        bad_bf += bf[i] != f32_to_bf16(in[i]);
        bad_hf += hf[i] != f32_to_f16(in[i]);
    }
    CHECKF(bad_bf == 0, "bf16 differs from f32_to_bf16 in %d of %d random values", bad_bf, NR);
    CHECKF(bad_hf == 0, "half differs from f32_to_f16 in %d of %d random values", bad_hf, NR);
    cudaFree(din); cudaFree(dbfb); cudaFree(dhfb); cudaFree(dbf); cudaFree(dhf);
    free(in); free(bfb); free(hfb); free(bf); free(hf);
}

// Work queued on one stream runs in order: H2D copy, memset of half, D2H copy of the result,
// events around it; the host sees the result after cudaStreamSynchronize.
TEST(streams_and_events) {
    enum { N = 1 << 16 };
    float *h = NULL, *d = NULL, ms = -1;
    cudaStream_t s;
    cudaEvent_t e0, e1;
    CHECK(cudaMallocHost((void **)&h, N * sizeof(float)) == cudaSuccess);
    CHECK(cudaMalloc((void **)&d, N * sizeof(float)) == cudaSuccess);
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
    CHECK(cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess);
    for (int i = 0; i < N; i++) h[i] = (float)i;
    CHECK(cudaEventRecord(e0, s) == cudaSuccess);
    CHECK(cudaMemcpyAsync(d, h, N * sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
    CHECK(cudaMemsetAsync(d, 0, N / 2 * sizeof(float), s) == cudaSuccess);
    CHECK(cudaMemcpyAsync(h, d, N * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
    CHECK(cudaEventRecord(e1, s) == cudaSuccess);
    CHECK(cudaStreamSynchronize(s) == cudaSuccess);
    int bad = 0;
    for (int i = 0; i < N; i++) bad += h[i] != (i < N / 2 ? 0.0f : (float)i);
    CHECKF(bad == 0, "stream order: %d of %d wrong", bad, N);
    CHECK(cudaEventSynchronize(e1) == cudaSuccess);
    CHECKF(cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms >= 0, "elapsed %g ms", ms);
    cudaEvent_t never;
    CHECK(cudaEventCreate(&never) == cudaSuccess);
    CHECKF(cudaEventElapsedTime(&ms, e0, never) != cudaSuccess, "elapsed time to an event never recorded must fail");
    CHECK(cudaEventDestroy(e0) == cudaSuccess && cudaEventDestroy(e1) == cudaSuccess && cudaEventDestroy(never) == cudaSuccess);
    CHECK(cudaStreamDestroy(s) == cudaSuccess);
    CHECK(cudaFree(d) == cudaSuccess && cudaFreeHost(h) == cudaSuccess);
}

#ifdef LW_CUDA_EMU
// Runs f(mode) in a child with LW_EMU_TIMEOUT_S = 2; returns its exit status (-1: it had to be
// killed after 60 s, i.e. the emulation hung) and its stderr in msg.
static int run_child(void (*f)(int), int mode, char *msg, size_t cap, double *secs) {
    int fd[2];
    if (pipe(fd) != 0) return -2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        setenv("LW_EMU_TIMEOUT_S", "2", 1);
        f(mode);
        _exit(0); // the emulation let it through: the test fails on status 0
    }
    close(fd[1]);
    size_t len = 0;
    int killed = 0;
    for (;;) {
        struct pollfd p = {fd[0], POLLIN, 0};
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double left = 60 - ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
        if (left <= 0) { kill(pid, SIGKILL); killed = 1; break; }
        if (poll(&p, 1, (int)(left * 1000)) <= 0) continue;
        ssize_t k = read(fd[0], msg + len, cap - 1 - len);
        if (k <= 0) break;
        len += (size_t)k;
        if (len == cap - 1) break;
    }
    msg[len] = 0;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (killed) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void diverge(int mode) { sem_diverge(mode, dev_alloc(4)); }
static int run_diverge(int mode, char *msg, size_t cap, double *secs) { return run_child(diverge, mode, msg, cap, secs); }

TEST(divergent_barriers_are_named_errors) {
    static const struct { const char *must[3]; const char *what; } M[] = {
        {{"kernel diverge_kernel", "__syncthreads at tests/gpu/semantics.cu:", "end of kernel"},
         "half the block skips __syncthreads"},
        {{"kernel diverge_kernel", "waited 2 s at __syncthreads", "never arrived"}, "a thread never arrives"},
        {{"kernel diverge_kernel", "__shfl_down_sync", "ended the kernel"}, "lanes leave before a shuffle"},
    };
    for (int mode = 0; mode < 3; mode++) {
        char msg[4096];
        double secs = 0;
        int st = run_diverge(mode, msg, sizeof msg, &secs);
        printf("mode %d (%s): exit %d after %.1f s: %s", mode, M[mode].what, st, secs, msg);
        CHECKF(st == 1, "%s: exit status %d, want 1 (-1: hung, killed after 60 s)", M[mode].what, st);
        for (int k = 0; k < 3; k++)
            CHECKF(strstr(msg, M[mode].must[k]), "%s: message lacks \"%s\"", M[mode].what, M[mode].must[k]);
        if (mode == 1) CHECKF(secs >= 1.9, "timeout after %.1f s, want >= 2", secs);
        else CHECKF(secs < 10, "a divergence found at once, not after a timeout: %.1f s", secs);
    }
}

// Mode 0/1: one element past the end / before the start of a 4096-byte allocation; 2: a host
// pointer; 3: a freed allocation (the launch is refused: arguments are checked); 4: the host
// pointer of mode 2 given to a launch that only checks it (flag_kernel).
static void bad_access(int mode) {
    float *d = dev_alloc(1024 * sizeof(float)), host[4];
    const int one[3] = {1, 1, 1};
    switch (mode) {
    case 0: sem_poke(d, 1024); break;
    case 1: sem_poke(d, -1); break;
    case 2: sem_poke(host, 0); break;
    case 3: cudaFree(d); sem_poke(d, 0); break;
    default: sem_launch_flag((int *)host, one, one); break;
    }
}

TEST(device_memory_registry) {
    static const struct { const char *must[2]; const char *what; } M[] = {
        {{"kernel poke_kernel", "0 bytes past the end of a 4096-byte cudaMalloc allocation"}, "write past the end"},
        {{"kernel poke_kernel", "4 bytes before the start of a 4096-byte cudaMalloc allocation"}, "write before the start"},
        {{"kernel poke_kernel: argument 0", "is not device memory"}, "host pointer argument"},
        {{"kernel poke_kernel: argument 0", "or freed"}, "freed allocation"},
        {{"kernel flag_kernel: argument 0", "is not device memory"}, "host pointer, unused by the kernel"},
    };
    for (int mode = 0; mode < 5; mode++) {
        char msg[4096];
        double secs = 0;
        int st = run_child(bad_access, mode, msg, sizeof msg, &secs);
        printf("%s: exit %d: %s", M[mode].what, st, msg);
        CHECKF(st == 1, "%s: exit status %d, want 1", M[mode].what, st);
        for (int k = 0; k < 2; k++)
            CHECKF(strstr(msg, M[mode].must[k]), "%s: message lacks \"%s\"", M[mode].what, M[mode].must[k]);
    }
    // copies and memsets stay inside one allocation on their device side; cudaFree knows its own
    float *d = dev_alloc(1000 * sizeof(float)), host[1001] = {0};
    CHECK(cudaMemcpy(d, host, 1000 * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
    CHECKF(cudaMemcpy(d, host, 1001 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
           "a copy one float past the end: cudaErrorInvalidValue");
    CHECKF(cudaMemcpy(host, d + 1, 1000 * sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
           "a copy from one float past the start, 1000 floats: cudaErrorInvalidValue");
    CHECKF(cudaMemcpy(host, host + 1, 4, cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
           "HostToDevice to a host pointer: cudaErrorInvalidValue");
    CHECKF(cudaMemset(d + 999, 0, 8) == cudaErrorInvalidValue, "memset past the end: cudaErrorInvalidValue");
    CHECKF(cudaFree(host) == cudaErrorInvalidValue, "cudaFree of a host pointer: cudaErrorInvalidValue");
    CHECK(cudaFree(d) == cudaSuccess);
    CHECKF(cudaFree(d) == cudaErrorInvalidValue, "a second cudaFree: cudaErrorInvalidValue");
}
#endif

int main(void) {
#ifdef LW_CUDA_EMU
    printf("device: CPU emulation of CUDA (kernels/emu)\n");
#else
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("FAIL: test_cuda_semantics needs a GPU\n");
        return 1;
    }
#endif
    RUN(geometry_3d);
    RUN(launch_limits);
    RUN(dynamic_shared);
    RUN(warp_ops);
    RUN(atomics);
    RUN(bf16_half_rounding);
    RUN(streams_and_events);
#ifdef LW_CUDA_EMU
    RUN(divergent_barriers_are_named_errors);
    RUN(device_memory_registry);
#endif
    return test_summary();
}
