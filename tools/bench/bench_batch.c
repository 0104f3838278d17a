// bench_batch — the batched forward (model_forward_batch): time per token against the number of
// prompts packed into one pass.
//
//   build/bench/bench_batch CHECKPOINT_DIR [prompt_len=17] [max_prompts=32] [reps=3] [sums=exact|fp32]
//
// Loads the checkpoint (one rank, whole model) and, for B = 1, 2, 4, ... max_prompts, runs one
// packed forward of B prompts of prompt_len deterministic tokens each (no unembedding: the lens
// decode is benchmarked by bench_unembed), `reps` times; prints per B the best wall time, the
// best process CPU time (what to read on a shared machine: other processes inflate wall time),
// and from the CPU time milliseconds per token, GFLOP/s of the projections and the speed-up per
// token over B = 1 (B = 1 is what running the prompts one after another costs per token). Also
// prints the bytes a
// forward holds per token (model_forward_token_bytes) and the tokens per batch that the default
// batch_memory_mb of 256 gives. Thread count: OPENBLAS_NUM_THREADS (BENCHMARKS.md names it).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model.h"
#include "util/util.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_batch CHECKPOINT_DIR [prompt_len=17] [max_prompts=32] [reps=3] [exact|fp32]\n");
        return 2;
    }
    int len = argc > 2 ? atoi(argv[2]) : 17, max_b = argc > 3 ? atoi(argv[3]) : 32, reps = argc > 4 ? atoi(argv[4]) : 3;
    const char *sums = argc > 5 ? argv[5] : "exact";
    if (strcmp(sums, "exact") && strcmp(sums, "fp32")) lw_die(LW_EXIT_INPUT, "sums is exact or fp32", "bad sums=%s", sums);
    if (len < 1 || max_b < 1 || reps < 1)
        lw_die(LW_EXIT_INPUT, "prompt_len, max_prompts and reps are positive integers", "bad arguments");
    LwError err = {0};
    Model *m = model_load(argv[1], 0, 1, &err);
    if (!m) lw_die_err(&err, LW_EXIT_INPUT);
    m->fp32_sums = strcmp(sums, "fp32") == 0;
    const ModelConfig *c = &m->cfg;
    const char *blas_threads = getenv("OPENBLAS_NUM_THREADS");
    printf("bench_batch %s: L=%d d=%d ff=%d V=%d params=%.1fM dtype=%s prompt_len=%d reps=%d blas_threads=%s sums=%s\n",
           m->name, c->n_layers, c->d_model, c->d_ff, c->vocab, model_config_param_count(c) / 1e6,
           dtype_name(m->layers ? m->layers[0].wq.dtype : m->embed.dtype), len, reps,
           blas_threads ? blas_threads : "default", sums);
    printf("  %.1f KB per token held by a forward; batch_memory_mb 256 -> %d tokens per batch\n",
           model_forward_token_bytes(m) / 1e3, model_batch_tokens(m, 256));
    double emb = (double)c->vocab * c->d_model;
    double layer_params = (double)model_config_param_count(c) - emb * (c->tied ? 1 : 2);
    double base_ms = 0;
    double *sec = xmalloc((size_t)reps * sizeof(double)), *cpu = xmalloc((size_t)reps * sizeof(double));
    for (int B = 1; B <= max_b; B *= 2) {
        int T = B * len;
        int32_t *ids = xmalloc((size_t)T * sizeof *ids);
        int *lens = xmalloc((size_t)B * sizeof *lens);
        for (int t = 0; t < T; t++) ids[t] = (int32_t)((37LL * t + 11) % c->vocab);
        for (int b = 0; b < B; b++) lens[b] = len;
        float *resid = xmalloc((size_t)(c->n_layers + 1) * T * c->d_model * sizeof(float));
        for (int r = 0; r < reps; r++) {
            double s = lw_now(), sc = cpu_now();
            model_forward_batch(m, ids, lens, B, resid, NULL);
            sec[r] = lw_now() - s;
            cpu[r] = cpu_now() - sc;
        }
        qsort(sec, (size_t)reps, sizeof *sec, cmp_double);
        qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
        double ms = 1e3 * cpu[0] / T;
        if (B == 1) base_ms = ms;
        printf("  B=%3d T=%5d wall %.3f s, cpu %.3f s = %.3f ms/token, %.1f GFLOP/s, %.2fx per token vs B=1; peak RSS %.1f MB\n",
               B, T, sec[0], cpu[0], ms, 2.0 * T * layer_params / cpu[0] / 1e9, base_ms / ms, lw_peak_rss_bytes() / 1e6);
        fflush(stdout);
        free(ids); free(lens); free(resid);
    }
    free(sec);
    free(cpu);
    model_free(m);
    return 0;
}
