// test_plan_memory — the terms of the estimated peak per rank (config/plan_memory.h) against
// values derived by hand in the comments, the kept batch of passes, the 256 MiB cap of the lens chunk, the smallest
// tp_size that fits, and the token count of the reference probe set.
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/plan.h"
#include "config/plan_memory.h"
#include "test.h"

// L 2, d 8, 2 query heads and 1 kv head of 4, ff 16, V 100, untied
static LwModelShape small_shape(void) {
    LwModelShape s;
    memset(&s, 0, sizeof s);
    strcpy(s.family, "llama");
    s.n_layers = 2, s.d_model = 8, s.n_heads = 2, s.n_kv_heads = 1, s.head_dim = 4, s.d_ff = 16, s.vocab = 100;
    s.bytes_per_param_disk = 4;
    return s;
}

TEST(cpu_terms) {
    LwModelShape s = small_shape();
    PlanMemIn in = {.gpu = 0, .tp = 1, .tokens = 5, .n_lenses = 2, .exact = 1, .weights = 1000};
    PlanMemory m;
    plan_memory_estimate(&s, &in, &m);
    CHECK(m.weights == 1000);
    CHECK(m.residuals == 1920);   // 4 kept [L+1 = 3, T = 5, d = 8] fp32: 4 x 3 x 5 x 8 x 4
    // 4 x 5 x (3 x 8 + (2 + 2) x 4 + 2 x 4 ... ) : x, norm, out (24) + q, attn out (2 x 2 x 4 = 16)
    // + k, v (2 x 1 x 4 = 8) + gate, up, product (48) = 96 floats per token -> 1920; scores
    // 4 x 2 x 5 x 5 = 200; exact partials 2 x 8 x 5 x 8 = 640 -> 2760
    CHECK(m.activations == 2760);
    // chunk 4 x 3 x 5 x 100 = 6000 (under 256 MiB); NEXT rows 2 x 3 x 100 x 4 = 2400; head 4 x 5 x 100 = 2000
    CHECK(m.lens == 10400);
    CHECK(m.runtime == plan_cpu_runtime_bytes() && m.runtime > 20000000 && m.runtime < 250000000);
    CHECK(m.cuda_context == 0 && m.cublas_workspace == 0 && m.nccl_buffers == 0);
    CHECK(m.total == 1000 + 1920 + 2760 + 10400 + m.runtime);
    in.exact = 0;
    plan_memory_estimate(&s, &in, &m);
    CHECK(m.activations == 2120); // no double partials
}

TEST(gpu_terms_tp2) {
    LwModelShape s = small_shape();
    PlanMemIn in = {.gpu = 1, .tp = 2, .tokens = 5, .n_lenses = 2, .exact = 1, .weights = 1000};
    PlanMemory m;
    plan_memory_estimate(&s, &in, &m);
    CHECK(m.residuals == 1920); // residuals are whole on every rank
    // 1 query head, 1 kv head (replicated), ff 8: 4 x 5 x (24 + 2 x 4 + 2 x 4 + 24) = 1280; scores 100; partials 640
    CHECK(m.activations == 2020);
    CHECK(m.lens == 3000 + 1200 + 1000); // vocabulary shard of 50 rows
    CHECK(m.runtime == 0);
    CHECK(m.cuda_context == 536870912 && m.cublas_workspace == 33554432);
    CHECK(m.nccl_buffers == 16 * 2 * (4194304 + 4718592 + 262144)); // 293,601,280
    CHECK(m.total == 1000 + 1920 + 2020 + 5200 + 536870912 + 33554432 + 293601280);
    in.tp = 1;
    plan_memory_estimate(&s, &in, &m);
    CHECK(m.nccl_buffers == 0); // one GPU: no communicator
}

// cmd/run.c keeps the residuals of a whole batch of passes (run_pass_forwards): with Tb tokens in
// that batch the term is [L+1, 3T + Tb, d] fp32; a batch shorter than T still counts one pass of T.
TEST(pass_batch_residuals) {
    LwModelShape s = small_shape();
    PlanMemIn in = {.gpu = 0, .tp = 1, .tokens = 5, .n_lenses = 2, .exact = 1, .weights = 1000, .batch_tokens = 12};
    PlanMemory m;
    plan_memory_estimate(&s, &in, &m);
    CHECK(m.residuals == 2592); // (3 x 5 + 12) x 3 x 8 x 4 = 27 x 96
    CHECK(m.activations == 2760 && m.lens == 10400); // the other terms as without a batch (cpu_terms)
    CHECK(m.total == 1000 + 2592 + 2760 + 10400 + m.runtime);
    in.batch_tokens = 3;
    plan_memory_estimate(&s, &in, &m);
    CHECK(m.residuals == 1920); // Tb = max(T, 3) = 5: 4 x 3 x 5 x 8 x 4
    CHECK(m.positions == 0);
}

// A battery with battery_positions != 1: rank 0 keeps 7 position rows x 3 layers, each an entropy
// (8 bytes) and 20 ids (4) and probabilities (8): 21 x (8 + 240) = 5208 bytes.
TEST(battery_position_rows) {
    LwModelShape s = small_shape();
    PlanMemIn in = {.gpu = 0, .tp = 1, .tokens = 5, .n_lenses = 2, .exact = 1, .weights = 1000, .pos_rows = 7, .pos_topk = 20};
    PlanMemory m;
    plan_memory_estimate(&s, &in, &m);
    CHECK(m.positions == 5208);
    CHECK(m.total == 1000 + 1920 + 2760 + 10400 + 5208 + m.runtime);
}

// The reference set's passes that are not calibration prompts: facts 1..4 (France, Italy, Japan,
// Canada), orig and no_filler. Without a tokenizer ceil(bytes / 4) + 1: "Give the city name only,
// plain text. The capital of France is called simply" is 75 bytes -> 20, without " simply" 68 -> 18;
// Italy and Japan 74 -> 20 and 67 -> 18; Canada as France. Lengths 20 18 20 18 20 18 20 18 (152).
// 40 tokens per batch: [20 18] four times -> 38; 60: [20 18 20] 58, [18 20 18] 56, [20 18] -> 58;
// 10 (shorter than a pass): each pass alone -> 20; a large budget: all 8 -> 152.
TEST(pass_batch_tokens) {
    LwRunConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    probe_set_reference(&cfg.probe_set);
    cfg.batch_memory_mb = 256;
    cfg.tp_exact = 1;
    LwModelShape s = small_shape();
    PlanBatch pb;
    plan_batches(&cfg, &s, 1, NULL, &pb);
    static const int want[8] = {20, 18, 20, 18, 20, 18, 20, 18};
    CHECK(pb.n_pass_lens == 8 && !memcmp(pb.pass_lens, want, sizeof want));
    CHECK(plan_pass_batch_tokens(&pb, 40) == 38);
    CHECK(plan_pass_batch_tokens(&pb, 60) == 58);
    CHECK(plan_pass_batch_tokens(&pb, 10) == 20);
    CHECK(plan_pass_batch_tokens(&pb, 1000000) == 152);
    CHECK(plan_pass_batch_tokens(&pb, pb.batch_tokens) == 152);
    probe_set_free(&cfg.probe_set);
}

TEST(chunk_capped) {
    LwModelShape s = small_shape();
    s.n_layers = 100, s.vocab = 1000000;
    PlanMemIn in = {.gpu = 0, .tp = 1, .tokens = 100, .n_lenses = 1, .exact = 1, .weights = 0};
    PlanMemory m;
    plan_memory_estimate(&s, &in, &m);
    // 4 x 101 x 100 x 1e6 = 40.4 GB of rows, capped at 256 MiB; NEXT 101 x 1e6 x 4; head 100 x 1e6 x 4
    CHECK(m.lens == 268435456LL + 404000000LL + 400000000LL);
}

// Llama-3-70B at tp_size 1 on 80 GB: 141.1 GB of bf16 weights; TP 2 holds 70.6 GB + ~1.4 GB of the
// rest and fits, so 2 is named (TENSOR_PARALLEL.md §6); with plan.gpu_mem_gb 40, TP 2 does not
// fit and 3 is not valid (64 heads), so 4 (35.3 GB + ...) is named.
TEST(smallest_tp_that_fits) {
    LwSweep sw;
    LwError err = {0};
    char *a[] = {"--out", "/tmp", "--tp_size", "1"};
    CHECK(sweep_load("configs/models/Meta-Llama-3-70B.yaml", 4, a, &sw, &err) == 0);
    PlanRow r;
    CHECK(plan_model(&sw.models[0], &r, &err) == 0);
    CHECK(!r.fits && r.tp_fit == 2);
    CHECK(r.peak_bytes > r.weights_per_gpu_bytes && r.peak_bytes == r.mem.total);
    sweep_free(&sw);
    char *b[] = {"--out", "/tmp", "--tp_size", "2", "--plan.gpu_mem_gb", "40"};
    CHECK(sweep_load("configs/models/Meta-Llama-3-70B.yaml", 6, b, &sw, &err) == 0);
    CHECK(plan_model(&sw.models[0], &r, &err) == 0);
    CHECK(!r.fits && r.tp_fit == 4);
    // the kept residuals at TP 2 (rank 0: 32 heads, 4 kv heads, ff 14336 of d 8192, head_dim 128,
    // 80 layers, tp_exact): bytes per token of a forward (model_token_bytes) = 81 x 8192 x 4
    // (2,654,208) + (2 x 8192 + 2 x 4096 + 2 x 512 + 2 x 14336 + 128) x 4 (217,600) + 8192 x 8
    // (65,536) + 2 x 14336 x 8 (229,376) = 3,166,720; 256 MB / that = 80 tokens per batch; the
    // passes 20 18 20 18 | 20 18 20 18 (pass_batch_tokens): Tb = 76; T = 21 (estimated):
    // (3 x 21 + 76) x 81 x 8192 x 4 = 139 x 2,654,208
    CHECK(r.batch.batch_tokens == 80 && r.batch.n_pass_lens == 8);
    CHECK(r.mem.residuals == 368934912LL);
    sweep_free(&sw);
    // weights alone fit (70.6 GB of 71 GB) but the total does not: fits uses the total
    char *c[] = {"--out", "/tmp", "--tp_size", "2", "--plan.gpu_mem_gb", "71"};
    CHECK(sweep_load("configs/models/Meta-Llama-3-70B.yaml", 6, c, &sw, &err) == 0);
    CHECK(plan_model(&sw.models[0], &r, &err) == 0);
    CHECK(r.weights_per_gpu_bytes <= 71e9 && !r.fits && r.tp_fit == 4);
    sweep_free(&sw);
}

// Without a tokenizer: ceil(bytes / 4) + 1; the longest prompt of the reference set is the test
// prompt "Give the city name only, plain text. The capital city of Germany is named simply"
// (80 bytes) -> 21.
TEST(probe_tokens_estimated) {
    LwRunConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    probe_set_reference(&cfg.probe_set);
    int tok = -1;
    CHECK(plan_probe_tokens(&cfg, NULL, &tok) == 21 && tok == 0);
    CHECK(plan_probe_passes(&cfg) == 11);
    probe_set_free(&cfg.probe_set);
}

int main(void) {
    RUN(cpu_terms);
    RUN(gpu_terms_tp2);
    RUN(pass_batch_residuals);
    RUN(pass_batch_tokens);
    RUN(battery_position_rows);
    RUN(chunk_capped);
    RUN(smallest_tp_that_fits);
    RUN(probe_tokens_estimated);
    return test_summary();
}
