// bench_unembed — the lens decode's product on one core: x[T, d] · Wᵀ for a bf16 or fp32 W [V, d],
// by the CPU products: cpu_matmul (OpenBLAS sgemm, on widened tiles for bf16), cpu_matmul_rowdot
// (fixed-order fp32, register-blocked 3 × 4: what the lens uses), the 4 × 2 rowdot it replaced
// (tests/unit/rowdot_ref.h, same bits) and cpu_matmul_exact (dgemm, what the forward uses with
// tp_exact).
//
//   build/bench/bench_unembed [T=64] [d=576] [V=49152] [reps=3] [bf16|f32]
//
// Prints per product the best CPU time of `reps` calls (CLOCK_PROCESS_CPUTIME_ID, so other load on
// the machine inflates it less than wall time) and GFLOP/s (2·T·d·V per call). The lens-decode
// shape of the ~0.5B Qwen2 model at 2 ranks: 400 896 75968.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tests/unit/rowdot_ref.h"
#include "backend/cpu.h"
#include "util/dtype.h"
#include "util/util.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    int T = argc > 1 ? atoi(argv[1]) : 64, d = argc > 2 ? atoi(argv[2]) : 576;
    int V = argc > 3 ? atoi(argv[3]) : 49152, reps = argc > 4 ? atoi(argv[4]) : 3;
    const char *dts = argc > 5 ? argv[5] : "bf16";
    if (T < 1 || d < 1 || V < 1 || reps < 1) lw_die(LW_EXIT_INPUT, "all arguments are positive integers", "bad arguments");
    if (strcmp(dts, "bf16") != 0 && strcmp(dts, "f32") != 0) lw_die(LW_EXIT_INPUT, "the weights' dtype is bf16 or f32", "bad dtype %s", dts);
    DType dt = dts[0] == 'b' ? DT_BF16 : DT_F32;
    float *x = xmalloc((size_t)T * d * sizeof(float)), *wf = xmalloc((size_t)V * d * sizeof(float));
    float *y = xmalloc((size_t)T * V * sizeof(float));
    uint16_t *w = xmalloc((size_t)V * d * sizeof(uint16_t));
    uint64_t s = 1;
    for (size_t i = 0; i < (size_t)T * d; i++) { s = s * 6364136223846793005ULL + 1; x[i] = (float)((s >> 40) / 16777216.0 - 0.5); }
    for (size_t i = 0; i < (size_t)V * d; i++) { s = s * 6364136223846793005ULL + 1; wf[i] = (float)((s >> 40) / 16777216.0 - 0.5) * 0.1f; }
    dtype_from_f32(DT_BF16, wf, w, (size_t)V * d);
    const void *wp = w;
    if (dt == DT_F32) { dtype_to_f32(DT_BF16, w, wf, (size_t)V * d); wp = wf; } // the same values
    else free(wf);
    cpu_blas_warmup();
    enum { NK = 4 };
    const char *names[NK] = {"sgemm (cpu_matmul)", "rowdot 3x4 (cpu_matmul_rowdot)", "rowdot 4x2 (before)", "dgemm (cpu_matmul_exact)"};
    double flop = 2.0 * T * d * (double)V;
    printf("bench_unembed: T=%d d=%d V=%d %s weights, reps=%d\n", T, d, V, dts, reps);
    for (int k = 0; k < NK; k++) {
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = cpu_now();
            if (k == 0) cpu_matmul(x, T, dt, wp, V, d, NULL, y);
            else if (k == 1) cpu_matmul_rowdot(x, T, dt, wp, V, d, y);
            else if (k == 2) ref_matmul_rowdot(x, T, dt, wp, V, d, y);
            else cpu_matmul_exact(x, T, dt, wp, V, d, NULL, y);
            double t = cpu_now() - t0;
            if (t < best) best = t;
        }
        printf("  %-32s %8.4f s  %6.1f GFLOP/s\n", names[k], best, flop / best * 1e-9);
    }
    free(x); free(y); free(w);
    if (dt == DT_F32) free(wf);
    return 0;
}
