// test_forward_batch — a packed batch of prompts through one forward pass equals each prompt run
// alone (model_forward_batch against model_forward, model/model.h), on a tiny checkpoint of every
// family made by `lensweep mktiny` (the golden fixtures' arguments: Mistral and Gemma-2 with a
// sliding window of 8, Gemma-2 with softcaps and sandwich norms, Qwen2 biases, Qwen3 q/k norms,
// and a bf16 checkpoint).
//
// The oracle is the single-prompt forward, itself checked against transformers by
// test_forward_golden. Prompt lengths differ widely: a 1-token prompt (first, in the middle and
// last), prompts shorter and longer than the window, one longer than the CPU attention's
// 128-query block. With tp_exact (products accumulated in double) every residual must be
// identical bit for bit; with tp_exact: false (fp32 sgemm, whose rounding of a row depends on how
// many rows the call has: OpenBLAS 0.3.21 on Zen rounds ~5-70 % of outputs differently once a
// call has 5 rows or more) each layer within 1e-5 · max|alone| (the bound the golden test holds
// the forward to against transformers; measured differences are reported).
//
// Launched by mpirun with R ranks (tests/sh/test_forward_batch_tp.sh: R = 2), every rank loads
// its tensor-parallel slice and runs the same batches with real all-reduces.
#include <stdlib.h>
#include <unistd.h>

#include "backend/comm.h"
#include "model/model.h"
#include "test.h"
#include "util/util.h"

static Comm g_comm;

static const char *const CHECKPOINTS[] = {
    "mktiny --family llama --seed 11 --dtype f32",
    "mktiny --family mistral --seed 12 --dtype f32",
    "mktiny --family qwen2 --seed 13 --dtype f32",
    "mktiny --family qwen3 --seed 14 --dtype f32",
    "mktiny --family gemma2 --seed 15 --dtype f32",
    "mktiny --family gemma2 --seed 15 --dtype bf16 --shards 2",
};

static const int LENS[] = {1, 37, 150, 5, 1, 12, 8, 9, 1};
enum { NP = sizeof LENS / sizeof *LENS };

// Makes the checkpoint on rank 0 into a temporary directory; every rank gets its name (dir).
static int make_checkpoint(const char *args, char *dir) {
    int ok = 1;
    if (g_comm.rank == 0) {
        ok = mkdtemp(dir) != NULL;
        if (ok) {
            char cmd[1024];
            // The child must not think it is an MPI rank (this process may be one).
            snprintf(cmd, sizeof cmd, "env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK bin/lensweep %s --out %s >/dev/null 2>&1",
                     args, dir);
            ok = system(cmd) == 0;
            CHECKF(ok, "%s failed", cmd);
        }
    }
    comm_bcast(&g_comm, dir, 32, 0);
    comm_bcast(&g_comm, &ok, sizeof ok, 0);
    return ok;
}

// Worst max|Δ| / max|alone| over the layers of one prompt.
static double worst_layer_rel(const float *got, const float *ref, int L, int T, int d) {
    double worst = 0;
    for (int l = 0; l <= L; l++) {
        double dm = 0, rm = 0;
        for (size_t i = 0; i < (size_t)T * d; i++) {
            size_t j = (size_t)l * T * d + i;
            double a = got[j], b = ref[j];
            dm = fmax(dm, isnan(a) ? INFINITY : fabs(a - b));
            rm = fmax(rm, fabs(b));
        }
        worst = fmax(worst, rm > 0 ? dm / rm : dm);
    }
    return worst;
}

static void check_checkpoint(const char *args) {
    char dir[32] = "/tmp/lw-batch-XXXXXX";
    if (!make_checkpoint(args, dir)) return;
    LwError err = {0};
    Model *m = model_load(dir, g_comm.rank, g_comm.size, &err);
    CHECKF(m != NULL, "model_load(%s): %s (hint: %s)", dir, err.msg, err.hint);
    if (m) {
        int L = m->cfg.n_layers, d = m->cfg.d_model, T = 0, off[NP + 1];
        for (int p = 0; p < NP; p++) { off[p] = T; T += LENS[p]; }
        off[NP] = T;
        int32_t *ids = xmalloc(sizeof(int32_t) * T);
        for (int t = 0; t < T; t++) ids[t] = (int32_t)((7919u * (unsigned)t + 13u) % (unsigned)m->cfg.vocab);
        float *batch = xmalloc(sizeof(float) * (size_t)(L + 1) * T * d);
        float *mine = xmalloc(sizeof(float) * (size_t)(L + 1) * 150 * d), *alone = xmalloc(sizeof(float) * (size_t)(L + 1) * 150 * d);
        for (int exact = 1; exact >= 0; exact--) {
            m->fp32_sums = !exact;
            model_forward_batch(m, ids, LENS, NP, batch, &g_comm);
            size_t differ = 0;
            double worst = 0;
            for (int p = 0; p < NP; p++) {
                model_forward(m, ids + off[p], LENS[p], alone, &g_comm);
                model_batch_resid(m, batch, T, off[p], LENS[p], mine);
                size_t n = (size_t)(L + 1) * LENS[p] * d;
                for (size_t i = 0; i < n; i++) differ += memcmp(&mine[i], &alone[i], 4) != 0;
                worst = fmax(worst, worst_layer_rel(mine, alone, L, LENS[p], d));
            }
            if (exact)
                CHECKF(differ == 0, "%s tp_exact: %zu residual values of the batch differ from the prompts alone", args,
                       differ);
            else
                CHECKF(worst <= 1e-5, "%s fp32 sums: worst layer max|Δ|/max|alone| %.3g (bound 1e-5)", args, worst);
            if (g_comm.rank == 0)
                printf("    %-52s tp %d %-6s %zu values differ, worst layer rel %.2e\n", args, g_comm.size,
                       exact ? "exact" : "fp32", differ, worst);
        }
        // One prompt as a batch is the plain forward.
        m->fp32_sums = 0;
        model_forward_batch(m, ids + off[1], &LENS[1], 1, batch, &g_comm);
        model_forward(m, ids + off[1], LENS[1], alone, &g_comm);
        CHECKF(memcmp(batch, alone, sizeof(float) * (size_t)(L + 1) * LENS[1] * d) == 0, "%s: a batch of one prompt differs",
               args);
        free(ids); free(batch); free(mine); free(alone);
        model_free(m);
    }
    comm_barrier(&g_comm);
    if (g_comm.rank == 0) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
}

static const char *g_current;
TEST(batch_equals_alone) { check_checkpoint(g_current); }

int main(int argc, char **argv) {
    comm_init(&g_comm, &argc, &argv);
    if (g_comm.rank != 0) { // only rank 0 reports; other ranks still run every collective
        if (!freopen("/dev/null", "w", stdout)) return 1;
    }
    for (size_t i = 0; i < sizeof CHECKPOINTS / sizeof *CHECKPOINTS; i++) {
        g_current = CHECKPOINTS[i];
        t_case_failed = 0;
        test_batch_equals_alone();
        if (t_case_failed) { t_nfail++; printf("FAIL: %s: batch %s\n", __FILE__, g_current); }
        else { t_npass++; printf("PASS: %s: batch %s\n", __FILE__, g_current); }
        fflush(stdout);
    }
    int rc = test_summary();
    int worst = comm_first_failure(&g_comm, rc);
    comm_finalize(&g_comm);
    return worst >= 0 ? 1 : 0;
}
