// bench_forward — forward-pass time per token and peak memory of the CPU backend.
//
//   build/bench/bench_forward CHECKPOINT_DIR [T=64] [reps=3] [sums=exact|fp32]
//
// sums: exact (default, option tp_exact: true) accumulates the projections in double (dgemm);
// fp32 (tp_exact: false) uses fp32 sgemm. The unembedding is cpu_matmul_rowdot (fixed-order fp32)
// in both.
// Loads the checkpoint (one rank, whole model), runs model_forward on T deterministic token ids
// `reps` times plus the final logits, and prints one line: best and median wall time per forward,
// milliseconds per token, GFLOP/s of the projections, the weights' bytes in memory and the peak
// RSS. Thread count is whatever OpenBLAS is given (OPENBLAS_NUM_THREADS); BENCHMARKS.md names it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/util.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_forward CHECKPOINT_DIR [T=64] [reps=3] [exact|fp32]\n");
        return 2;
    }
    int T = argc > 2 ? atoi(argv[2]) : 64, reps = argc > 3 ? atoi(argv[3]) : 3;
    const char *sums = argc > 4 ? argv[4] : "exact";
    if (strcmp(sums, "exact") && strcmp(sums, "fp32")) lw_die(LW_EXIT_INPUT, "sums is exact or fp32", "bad sums=%s", sums);
    if (T < 1 || reps < 1) lw_die(LW_EXIT_INPUT, "T and reps are positive integers", "bad T=%d or reps=%d", T, reps);
    LwError err = {0};
    double t0 = lw_now();
    Model *m = model_load(argv[1], 0, 1, &err);
    if (!m) lw_die_err(&err, LW_EXIT_INPUT);
    double load_s = lw_now() - t0;
    m->fp32_sums = strcmp(sums, "fp32") == 0;
    const ModelConfig *c = &m->cfg;
    size_t rss_loaded = lw_peak_rss_bytes();

    int32_t *ids = xmalloc((size_t)T * sizeof *ids);
    for (int t = 0; t < T; t++) ids[t] = (int32_t)((37LL * t + 11) % c->vocab);
    size_t n = (size_t)(c->n_layers + 1) * T * c->d_model;
    float *resid = xmalloc(n * sizeof(float));
    float *logits = xmalloc((size_t)T * m->tp.vocab_len * sizeof(float));
    double *sec = xmalloc((size_t)reps * sizeof(double));
    for (int r = 0; r < reps; r++) {
        double s = lw_now();
        model_forward(m, ids, T, resid, NULL);
        model_final_logits(m, resid + (size_t)c->n_layers * T * c->d_model, T, logits);
        sec[r] = lw_now() - s;
    }
    qsort(sec, (size_t)reps, sizeof *sec, cmp_double);
    // Multiply-adds of every projection and of the unembedding (attention scores and the
    // embedding lookup excluded; norm weights are negligible).
    double emb = (double)c->vocab * c->d_model;
    double layer_params = (double)model_config_param_count(c) - emb * (c->tied ? 1 : 2);
    double proj_flop = 2.0 * T * (layer_params + emb);
    const char *blas_threads = getenv("OPENBLAS_NUM_THREADS");
    printf("bench_forward %s: L=%d d=%d ff=%d V=%d params=%.1fM dtype=%s T=%d reps=%d blas_threads=%s sums=%s\n",
           m->name, c->n_layers, c->d_model, c->d_ff, c->vocab, model_config_param_count(c) / 1e6,
           dtype_name(m->layers ? m->layers[0].wq.dtype : m->embed.dtype), T, reps,
           blas_threads ? blas_threads : "default", sums);
    printf("  load %.3f s; forward+logits best %.4f s, median %.4f s = %.3f ms/token, %.1f GFLOP/s\n", load_s,
           sec[0], sec[reps / 2], 1e3 * sec[0] / T, proj_flop / sec[0] / 1e9);
    printf("  weights in memory %.1f MB; peak RSS after load %.1f MB, after forward %.1f MB\n",
           m->arena_bytes / 1e6, rss_loaded / 1e6, lw_peak_rss_bytes() / 1e6);
    free(ids); free(resid); free(logits); free(sec);
    model_free(m);
    return 0;
}
