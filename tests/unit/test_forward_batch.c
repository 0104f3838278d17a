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

typedef struct {
    const Model *m;
    float **got; // [NP] each prompt's residuals, [(L+1), T_p, d]
} Collect;

static void collect(void *ctx, int p, const float *resid, int T_batch, int off) {
    Collect *c = ctx;
    size_t n = (size_t)(c->m->cfg.n_layers + 1) * LENS[p] * c->m->cfg.d_model;
    c->got[p] = xmalloc(n * sizeof(float));
    model_batch_resid(c->m, resid, T_batch, off, LENS[p], c->got[p]);
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
        // The same prompts in batches of at most 40 tokens (model_forward_prompts): [1, 37], [150]
        // alone (longer than the budget), [5, 1, 12, 8, 9, 1]; each prompt still equals its
        // forward alone.
        m->fp32_sums = 0;
        const int32_t *pids[NP];
        for (int p = 0; p < NP; p++) pids[p] = ids + off[p];
        Collect col = {.m = m, .got = xcalloc(NP, sizeof(float *))};
        int nb = model_forward_prompts(m, pids, LENS, NP, 40, &g_comm, collect, &col);
        CHECKF(nb == 3, "%s: %d batches of at most 40 tokens, expected 3", args, nb);
        size_t differ = 0;
        for (int p = 0; p < NP; p++) {
            model_forward(m, ids + off[p], LENS[p], alone, &g_comm);
            CHECKF(col.got[p] != NULL, "%s: prompt %d never handed over", args, p);
            if (col.got[p]) differ += memcmp(col.got[p], alone, sizeof(float) * (size_t)(L + 1) * LENS[p] * d) != 0;
            free(col.got[p]);
        }
        free(col.got);
        CHECKF(differ == 0, "%s: %zu prompts of the budgeted batches differ from the prompt alone", args, differ);
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

// Grouping prompts in order under a token budget; first[] by hand.
TEST(batch_plan) {
    const int lens[] = {3, 4, 10, 2, 2, 1};
    int first[7];
    CHECK(model_batch_plan(lens, 6, 7, first) == 3); // [3 4] [10: alone, over the budget] [2 2 1]
    CHECK(first[0] == 0 && first[1] == 2 && first[2] == 3 && first[3] == 6);
    CHECK(model_batch_plan(lens, 6, 1, first) == 6); // every prompt alone
    for (int i = 0; i <= 6; i++) CHECK(first[i] == i);
    CHECK(model_batch_plan(lens, 6, 22, first) == 1 && first[0] == 0 && first[1] == 6); // 22 = all
    CHECK(model_batch_plan(lens, 6, 21, first) == 2 && first[1] == 5 && first[2] == 6);
    CHECK(model_batch_plan(NULL, 0, 5, first) == 0 && first[0] == 0);
}

// Tokens per batch from the memory per token, for the tiny Llama at one rank (L = 3, d = 64,
// 4 heads and 2 kv heads of head_dim 32, ff = 96: its config.json), by hand: the residuals
// returned (3+1)·64·4 = 1024 bytes; scratch (2·64 + 2·128 + 2·64 + 2·96 + 32)·4 = 2944 (normed
// input and partial output, q and attention output, k and v, gate and up, a row of cos and sin)
// plus 64·8 = 512 for the double partial sums; with tp_exact a row widened to double and a row of
// double outputs, the widest being 128: 2·128·8 = 2048. So 6528 bytes exact (1e6 / 6528 = 153.2
// tokens per MB), 4480 with fp32 sums (223.2).
TEST(batch_tokens_from_budget) {
    if (g_comm.size != 1) return; // the hand count is for the whole model on one rank
    char dir[32] = "/tmp/lw-batch-XXXXXX";
    if (!make_checkpoint("mktiny --family llama --seed 11 --dtype f32", dir)) return;
    LwError err = {0};
    Model *m = model_load(dir, 0, 1, &err);
    CHECKF(m != NULL, "model_load: %s", err.msg);
    if (m) {
        m->fp32_sums = 0;
        CHECK(model_forward_token_bytes(m) == 6528);
        CHECK(model_batch_tokens(m, 1.0) == 153);
        CHECK(model_batch_tokens(m, 0.001) == 1); // never fewer than one token
        m->fp32_sums = 1;
        CHECK(model_forward_token_bytes(m) == 4480);
        CHECK(model_batch_tokens(m, 1.0) == 223);
        model_free(m);
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static const char *g_current;
TEST(batch_equals_alone) { check_checkpoint(g_current); }

int main(int argc, char **argv) {
    comm_init(&g_comm, &argc, &argv);
    if (g_comm.rank != 0) { // only rank 0 reports; other ranks still run every collective
        if (!freopen("/dev/null", "w", stdout)) return 1;
    }
    RUN(batch_plan);
    RUN(batch_tokens_from_budget);
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
