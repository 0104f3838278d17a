// cmd/inspect — what a checkpoint is and what it costs per rank; doubles as a checkpoint checker.
//
// `lensweep inspect DIR` reads config.json, validates every safetensors header and checks that
// every tensor the family needs is present with the shape the config implies — without reading
// any tensor data, so it is instant even on a 140 GB checkpoint — then prints the family, every
// dimension, the parameter count and the weight bytes one rank holds at TP = 1, 2, 4, 8 (invalid
// sizes marked with the reason from tp_slice_plan). `--config-only` skips the weights (sizing a
// model before downloading it); `--load [--tp R --rank r]` also loads that rank's slice with
// model_load and reports bytes read, time and throughput (the load benchmark uses it).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config.h"
#include "config/model_shape.h"
#include "config/plan_batch.h"
#include "config/plan_memory.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/load.h"
#include "model/model.h"
#include "util/util.h"

static void usage(FILE *f) {
    fprintf(f, "usage: lensweep inspect DIR [--config-only] [--load [--tp R] [--rank r]]\n"
               "Prints family, dimensions, parameter count and weight bytes per rank for TP = 1, 2, 4, 8 of the\n"
               "Hugging Face checkpoint in DIR, after validating every safetensors header and tensor shape\n"
               "(no tensor data is read). --config-only: config.json alone. --load: also load rank r of R.\n");
}

static const char *group3(int64_t v) {
    static char buf[40];
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    int n = (int)strlen(tmp), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

static int parse_pos(const char *opt, const char *v, int min) {
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || x < min || x > 4096) lw_die(LW_EXIT_INPUT, "see lensweep inspect --help", "inspect: option %s: '%s' is not an integer >= %d", opt, v ? v : "", min);
    return (int)x;
}

// The estimated peak per rank (config/plan_memory.h, the same figures as `lensweep plan`), for the
// reference probe set with its prompts tokenized by this checkpoint's tokenizer when it loads:
// the breakdown at TP = 1 on the CPU backend (fp32), then the totals per valid TP on the CPU and
// on GPUs (bf16 weights, projected CUDA terms).
static void print_memory(const char *dir, const ModelConfig *mc, int is_gguf) {
    LwModelShape sh;
    model_shape_from_config(mc, &sh);
    LwRunConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    probe_set_reference(&cfg.probe_set);
    int tokenized = 0;
    long T = plan_probe_tokens(&cfg, dir, &tokenized);
    int n_passes = plan_probe_passes(&cfg), n_tests = cfg.probe_set.n_test_prompts;
    probe_set_free(&cfg.probe_set);
    // the forward batches at the default budget (config/plan_batch.h; `run --batch_memory_mb` changes it)
    PlanBatch pb;
    cfg.tp_exact = 1;
    cfg.batch_memory_mb = atol(config_option_find("batch_memory_mb")->default_yaml);
    probe_set_reference(&cfg.probe_set);
    plan_batches(&cfg, &sh, 1, dir, &pb);
    PlanMemIn in = {.gpu = 0, .tp = 1, .tokens = T, .n_lenses = 2, .exact = 1, .weights = model_shape_bytes_per_rank(&sh, 1, 4),
                    .batch_tokens = plan_pass_batch_tokens(&pb, pb.batch_tokens)};
    PlanMemory m;
    plan_memory_estimate(&sh, &in, &m);
    printf("estimated peak per rank (as `lensweep plan`; docs/SLURM.md): reference probe set, longest prompt %ld tokens (%s),\n"
           "  lenses norm + raw, exact mode; at TP=1 on the CPU backend (fp32%s):\n", T,
           tokenized ? "tokenized" : "estimated from its length", is_gguf ? ", GGUF dequantized" : "");
    plan_memory_print(stdout, "  ", &m);
    printf("  compute (forward + lens) ~%.0f s on this CPU at TP=1\n", plan_compute_seconds(&sh, &in, n_passes, n_tests));
    {
        char line[512];
        plan_batch_describe(&pb, cfg.batch_memory_mb, line, sizeof line);
        printf("  forward batches at TP=1, exact mode: %s\n", line);
    }
    static const int SIZES[] = {1, 2, 4, 8};
    for (int k = 0; k < 4; k++) {
        char why[300];
        if (model_shape_check_tp(&sh, SIZES[k], 0, why, sizeof why)) continue;
        PlanMemIn c = in, g = in;
        PlanMemory mc, mg;
        c.tp = g.tp = SIZES[k];
        c.weights = model_shape_bytes_per_rank(&sh, SIZES[k], 4);
        c.batch_tokens = g.batch_tokens = plan_pass_batch_tokens(&pb, plan_batch_tokens(&cfg, &sh, SIZES[k], NULL));
        g.gpu = 1;
        g.weights = model_shape_bytes_per_rank(&sh, SIZES[k], 2);
        plan_memory_estimate(&sh, &c, &mc);
        plan_memory_estimate(&sh, &g, &mg);
        printf("  TP=%d  est. peak per rank %8.2f GB on the CPU (fp32), %8.2f GB per GPU (bf16, projected); GPU compute ~%.1f s\n",
               SIZES[k], mc.total / 1e9, mg.total / 1e9, plan_compute_seconds(&sh, &g, n_passes, n_tests));
    }
    probe_set_free(&cfg.probe_set);
}

int cmd_inspect(int argc, char **argv) {
    const char *dir = NULL;
    int config_only = 0, load = 0, tp = 1, rank = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--config-only")) config_only = 1;
        else if (!strcmp(argv[i], "--load")) load = 1;
        else if (!strcmp(argv[i], "--tp")) { tp = parse_pos("--tp", i + 1 < argc ? argv[i + 1] : NULL, 1); i++; }
        else if (!strcmp(argv[i], "--rank")) { rank = parse_pos("--rank", i + 1 < argc ? argv[i + 1] : NULL, 0); i++; }
        else if (argv[i][0] == '-') lw_die(LW_EXIT_INPUT, "see lensweep inspect --help", "inspect: unknown option '%s'", argv[i]);
        else if (!dir) dir = argv[i];
        else lw_die(LW_EXIT_INPUT, "inspect takes one checkpoint directory", "inspect: unexpected argument '%s'", argv[i]);
    }
    if (!dir) { usage(stderr); return LW_EXIT_INPUT; }
    if (config_only && load) lw_die(LW_EXIT_INPUT, "drop one of them", "inspect: --config-only and --load exclude each other");

    LwError err = {0};
    ModelConfig c;
    if (model_config_load(dir, &c, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    SafeTensors st;
    int have_st = 0;
    char gguf[1100];
    int is_gguf = gguf_checkpoint_path(dir, gguf, sizeof gguf); // weights checked by --load
    if (!config_only && !is_gguf) {
        if (st_open(dir, &st, &err) || model_check_tensors(&c, &st, &err)) {
            if (have_st) st_close(&st);
            lw_die_err(&err, LW_EXIT_INPUT);
        }
        have_st = 1;
    }
    const FamilyInfo *fi = &LW_FAMILIES[c.family];

    printf("checkpoint      %s\n", dir);
    printf("family          %s (%s)\n", fi->name, c.arch);
    printf("layers          %d\n", c.n_layers);
    printf("d_model         %d\n", c.d_model);
    printf("heads           %d query, %d kv (%d query heads per kv head)\n", c.n_heads, c.n_kv_heads, c.n_heads / c.n_kv_heads);
    printf("head_dim        %d%s\n", c.head_dim, c.head_dim * c.n_heads != c.d_model ? " (heads x head_dim != d_model)" : "");
    printf("ff              %d\n", c.d_ff);
    printf("vocab rows      %d\n", c.vocab);
    printf("max positions   %d\n", c.max_pos);
    printf("rope_theta      %g\n", c.rope_theta);
    printf("rms_norm_eps    %g\n", c.rms_eps);
    if (c.sliding_window) printf("sliding window  %d (%s)\n", c.sliding_window, fi->sliding_even_layers ? "even layers 0, 2, 4, ..." : "every layer");
    else printf("sliding window  none\n");
    printf("embeddings      %s\n", c.tied ? "tied (unembedding = embed_tokens)" : "untied (lm_head)");
    if (fi->qkv_bias) printf("qkv bias        yes\n");
    if (fi->qk_norm) printf("q/k norm        yes\n");
    if (fi->has_softcaps) printf("soft-caps       attention %g, final %g\n", c.attn_softcap, c.final_softcap);
    if (fi->has_query_pre_attn_scalar) printf("attn scale      query_pre_attn_scalar^-0.5 = %g^-0.5\n", c.query_pre_attn_scalar);
    printf("bos / eos       %d / %d\n", c.bos_id, c.eos_id);
    DType cdt = model_config_dtype(&c);
    if (have_st) {
        int counts[DT_COUNT] = {0};
        for (int i = 0; i < st.n_tensors; i++) counts[st.tensors[i].dtype]++;
        printf("stored dtype    ");
        for (int t = 0, first = 1; t < DT_COUNT; t++)
            if (counts[t]) { printf("%s%s x %d", first ? "" : ", ", dtype_name((DType)t), counts[t]); first = 0; }
        printf(" (%d tensors in %d file%s; config torch_dtype %s)\n", st.n_tensors, st.n_files, st.n_files == 1 ? "" : "s",
               c.torch_dtype[0] ? c.torch_dtype : "absent");
    } else if (is_gguf) {
        Gguf g;
        if (gguf_open(gguf, &g, &err)) lw_die_err(&err, LW_EXIT_INPUT);
        printf("stored dtype    GGUF v%u:", g.version);
        for (uint32_t t = 0; t < 64; t++) {
            int n = 0;
            for (int64_t i = 0; i < g.n_tensors; i++) n += g.tensors[i].type == t;
            if (n) printf(" %s x %d", gguf_type_name(t), n);
        }
        printf(" (%lld tensors; dequantized to float32 on load)\n", (long long)g.n_tensors);
        gguf_close(&g);
    } else {
        printf("stored dtype    %s (from config.json; weights not checked)\n", c.torch_dtype[0] ? c.torch_dtype : "absent, bf16 assumed");
    }
    printf("parameters      %s\n", group3(model_config_param_count(&c)));
    printf("weights per rank (%s, norms and biases fp32; 1 GB = 1e9 bytes); the weights only: a run adds\n"
           "  its activations, the lens's logit chunk (up to 256 MB per rank) and the runtime (tokenizer, MPI, BLAS):\n",
           is_gguf && !have_st ? "GGUF blocks dequantized to fp32" : "matrices as stored");
    static const int SIZES[] = {1, 2, 4, 8};
    for (int k = 0; k < 4; k++) {
        TpSlice s;
        char why[512];
        if (tp_slice_plan(&c, 0, SIZES[k], 0, &s, why, sizeof why)) {
            printf("  TP=%d  invalid: %s\n", SIZES[k], why);
            continue;
        }
        // Rank 0 holds the largest vocabulary shard, so it is the largest rank.
        size_t b = model_slice_bytes(&c, &s, have_st ? &st : NULL, cdt);
        printf("  TP=%d  %8.2f GB (%7.2f GiB)  q heads %d, kv heads %d%s, ff %d, vocab rows %d\n", SIZES[k], b / 1e9, b / 1073741824.0, s.n_heads,
               s.n_kv, SIZES[k] > c.n_kv_heads ? " (replicated)" : "", s.ff_len, s.vocab_len);
    }
    if (have_st) st_close(&st);
    print_memory(dir, &c, is_gguf);

    if (load) {
        double t0 = lw_now();
        Model *m = model_load(dir, rank, tp, &err);
        if (!m) lw_die_err(&err, LW_EXIT_INPUT);
        double dt = lw_now() - t0;
        printf("load            rank %d of %d: %zu bytes read in %.3f s (%.2f GB/s), arena %zu bytes, peak RSS %zu bytes\n", rank, tp, m->bytes_read, dt,
               dt > 0 ? m->bytes_read / dt / 1e9 : 0.0, m->arena_bytes, lw_peak_rss_bytes());
        model_free(m);
    }
    return 0;
}
