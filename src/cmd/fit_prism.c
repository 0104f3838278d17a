// fit-prism — fit the Prism shared decoder of one checkpoint (METRICS.md §20.1) and write its
// artifact: <out>/prism.safetensors (mean [d], var [d], Q [d, d]; for audit also rows [40, d] and
// reservoir_counts [40]; all fp32) and <out>/provenance.json.
//
// Data: the spec's fixed cycle of 10 prompts, one forward each; from each forward the last-position
// un-normalized vectors of the embedding and of blocks ⌊n/4⌋−1, ⌊n/2⌋−1, ⌊3n/4⌋−1. The forward is
// deterministic, so the spec's row stream (budget rows = the cycle repeated) holds at most 40
// distinct vectors (fewer: prompts ending in the same token share the embedding row): the cycle is
// computed once. Whitening statistics are the batched Welford over the
// whole stream (budget rows, the 40 vectors repeated in order; a partial last cycle included). The
// reservoir is sampled from the same stream (Algorithm R, seeded), which only decides how many
// copies of each distinct vector it holds; E_k is fitted on the 40 distinct vectors weighted by
// those counts, which equals the SVD of the reservoir with its duplicate rows.
//
// Tensor parallel like `run` (mpirun -np R): each rank loads its slice, the forward is the TP
// forward, the unembedding Gram matrix is summed over the vocabulary shards (one all-reduce of
// d × d doubles); the rest of the fit is repeated on every rank and rank 0 writes the artifact.
// The artifact appears only when complete: both files are written under .tmp names and renamed,
// the safetensors first, provenance.json (the completion mark) last.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backend/comm.h"
#include "cmd/cmd.h"
#include "io/gguf.h"
#include "model/model.h"
#include "prism/prism.h"
#include "tok/checkpoint_tok.h"
#include "util/sha256.h"
#include "util/util.h"

#define N_PRISM_PROMPTS 10
#define N_TAPS 4
static const char *const PRISM_PROMPTS[N_PRISM_PROMPTS] = {
    "The capital of Germany is", "The capital of France is", "The capital of Italy is", "The capital of Spain is",
    "The largest ocean is", "2 + 2 =", "Complete the sentence: The sky is", "Name a prime number after 10:",
    "Compute 3 * 7 =", "Python is a"};

static void usage(FILE *f) {
    fprintf(f, "usage: lensweep fit-prism --model DIR --out DIR [--seed N] [--budget ROWS] [--reservoir ROWS]\n"
               "Fits the Prism shared decoder (METRICS.md §20.1) of a checkpoint on the spec's 10 prompts and\n"
               "writes DIR/prism.safetensors (mean, var, Q; fp32) and DIR/provenance.json.\n"
               "Defaults: budget 100k / 130k / 160k rows and reservoir 20k / 25k / 30k for models of\n"
               "<= 14B / <= 34B / larger; seed 0 (reservoir sampling). Tensor parallel under mpirun -np R.\n");
}

typedef struct {
    const char *model, *out;
    uint64_t seed;
    long budget, reservoir; // 0 = by model size
} FitOpts;

static long parse_long(const char *opt, const char *v, long min, long max) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max)
        lw_die(LW_EXIT_INPUT, "see lensweep fit-prism --help", "fit-prism: option %s: '%s' is not an integer in [%ld, %ld]", opt, v, min, max);
    return x;
}

static void parse_args(int argc, char **argv, FitOpts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        int known = !strcmp(a, "--model") || !strcmp(a, "--out") || !strcmp(a, "--seed") || !strcmp(a, "--budget") || !strcmp(a, "--reservoir");
        if (!known) lw_die(LW_EXIT_INPUT, "see lensweep fit-prism --help", "fit-prism: unknown option '%s'", a);
        if (i + 1 >= argc) lw_die(LW_EXIT_INPUT, "see lensweep fit-prism --help", "fit-prism: option %s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--seed")) o->seed = (uint64_t)parse_long(a, v, 0, 0x7fffffffL);
        else if (!strcmp(a, "--budget")) o->budget = parse_long(a, v, 1, 1L << 30);
        else if (!strcmp(a, "--reservoir")) o->reservoir = parse_long(a, v, 1, 1L << 30);
    }
    if (!o->model) lw_die(LW_EXIT_INPUT, "e.g. --model /path/to/checkpoint", "fit-prism: --model is required");
    if (!o->out) lw_die(LW_EXIT_INPUT, "e.g. --out prisms/<model>", "fit-prism: --out is required");
}

// splitmix64: the reservoir's random stream (seeded, platform-independent)
static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int fit_main(Comm *comm, const FitOpts *o) {
    LwError err = {0};
    char gguf_file[1100];
    int is_gguf = gguf_checkpoint_path(o->model, gguf_file, sizeof gguf_file);
    if (!lw_is_dir(o->model) && !is_gguf)
        lw_die(LW_EXIT_INPUT, "--model names a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json) or a .gguf file",
               "fit-prism: --model: %s is not a directory", o->model);
    ModelConfig mc;
    if (model_config_load(o->model, &mc, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    int n = mc.n_layers, d = mc.d_model;
    int blocks[3] = {n / 4 - 1, n / 2 - 1, 3 * n / 4 - 1};
    if (blocks[0] < 0)
        lw_die(LW_EXIT_INPUT, "Prism samples blocks ⌊n/4⌋−1, ⌊n/2⌋−1, ⌊3n/4⌋−1 (METRICS.md §20.1): use a model of at least 4 layers",
               "%s/config.json: num_hidden_layers: %d is too few for Prism (block ⌊n/4⌋−1 = %d)", o->model, n, blocks[0]);
    // Provenance hash: config.json of a Hugging Face directory; a GGUF checkpoint has none (its
    // metadata is inside the weights file, too big to hash here): null, with the file named.
    {
        TpSlice sl;
        char why[256];
        if (tp_slice_plan(&mc, comm->rank, comm->size, 0, &sl, why, sizeof why))
            lw_die(LW_EXIT_INPUT, "tensor parallelism splits whole heads, MLP rows and vocabulary rows (TENSOR_PARALLEL.md §3)",
                   "fit-prism: %d ranks are impossible for %s: %s", comm->size, o->model, why);
    }
    char cfg_sha[65] = "", *cfg_path = is_gguf ? xstrdup(gguf_file) : xasprintf("%s/config.json", o->model);
    if (!is_gguf && lw_sha256_file(cfg_path, cfg_sha, &err)) lw_die_err(&err, LW_EXIT_INPUT);

    int64_t params = model_config_param_count(&mc);
    long budget = o->budget ? o->budget : params <= 14000000000LL ? 100000 : params <= 34000000000LL ? 130000 : 160000;
    long reservoir = o->reservoir ? o->reservoir : params <= 14000000000LL ? 20000 : params <= 34000000000LL ? 25000 : 30000;
    if (reservoir > budget) reservoir = budget;
    int k = d < PRISM_K_MAX ? d : PRISM_K_MAX;

    Tokenizer *tok = checkpoint_tokenizer_load(o->model, &err);
    if (!tok) lw_die_err(&err, LW_EXIT_INPUT);
    // BOS (METRICS.md §0.3): none for Qwen; else config.json's bos_token_id, else the template's.
    int bos = family_prompt_bos(&mc, tok_template_bos(tok));
    if (bos >= mc.vocab)
        lw_die(LW_EXIT_INPUT, "the checkpoint's config.json and tokenizer disagree", "%s: bos_token_id: %d is outside the vocabulary of %d", cfg_path, bos, mc.vocab);
    int32_t *ids[N_PRISM_PROMPTS];
    int T[N_PRISM_PROMPTS], T_max = 0;
    for (int p = 0; p < N_PRISM_PROMPTS; p++) {
        int32_t *c = NULL;
        int m = tok_encode(tok, PRISM_PROMPTS[p], strlen(PRISM_PROMPTS[p]), 0, &c, &err);
        if (m < 0) lw_die_err(&err, LW_EXIT_INPUT);
        int off = bos >= 0;
        ids[p] = xmalloc(sizeof(int32_t) * (size_t)(m + off));
        if (off) ids[p][0] = bos;
        for (int i = 0; i < m; i++) {
            if (c[i] < 0 || c[i] >= mc.vocab)
                lw_die(LW_EXIT_INPUT, "the tokenizer does not belong to this checkpoint", "%s: prompt '%s': token id %d is outside the model's vocabulary of %d",
                       o->model, PRISM_PROMPTS[p], c[i], mc.vocab);
            ids[p][i + off] = c[i];
        }
        free(c);
        T[p] = m + off;
        if (T[p] > T_max) T_max = T[p];
    }
    tok_free(tok);

    // The output directory must be writable before the weights are read (the tokenizer and
    // the prompts are checked first, so that bad input leaves no directory behind).
    if (comm->rank == 0 && lw_mkdir_p(o->out, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    char *st_path = xasprintf("%s/prism.safetensors", o->out), *js_path = xasprintf("%s/provenance.json", o->out);
    char *st_tmp = xasprintf("%s.tmp.%d", st_path, (int)getpid()), *js_tmp = xasprintf("%s.tmp.%d", js_path, (int)getpid());
    if (comm->rank == 0 && access(o->out, W_OK) != 0)
        lw_die(LW_EXIT_INPUT, "choose a writable --out directory", "fit-prism: --out: %s is not writable: %s", o->out, strerror(errno));

    comm_barrier(comm); // rank 0 has checked the output directory
    Model *model = model_load(o->model, comm->rank, comm->size, &err);
    if (!model) lw_die_err(&err, LW_EXIT_INPUT);
    double t0 = lw_now();

    // ---- the 40 distinct rows: prompt p, tap j -> row p*4 + j (the stream's order)
    int taps[N_TAPS] = {0, blocks[0] + 1, blocks[1] + 1, blocks[2] + 1}; // resid index l (l = i+1: block i)
    int n_rows = N_PRISM_PROMPTS * N_TAPS;
    float *rows = xmalloc(sizeof(float) * (size_t)n_rows * d);
    float *resid = xmalloc(sizeof(float) * (size_t)(n + 1) * T_max * d);
    for (int p = 0; p < N_PRISM_PROMPTS; p++) {
        model_forward(model, ids[p], T[p], resid, comm);
        for (int j = 0; j < N_TAPS; j++) {
            const float *src = resid + ((size_t)taps[j] * T[p] + (T[p] - 1)) * d;
            for (int i = 0; i < d; i++)
                if (!isfinite(src[i]))
                    lw_die(LW_EXIT_RUNTIME, "the checkpoint's weights or the forward pass produce non-finite values",
                           "fit-prism: prompt '%s': residual %d (position %d) has a non-finite value at feature %d", PRISM_PROMPTS[p], taps[j], T[p] - 1, i);
            memcpy(rows + (size_t)(p * N_TAPS + j) * d, src, sizeof(float) * (size_t)d);
        }
        free(ids[p]);
    }
    free(resid);
    double t_fwd = lw_now() - t0;

    // ---- whitening statistics: batched Welford over the whole stream of `budget` rows
    PrismWelford w;
    prism_welford_init(&w, d);
    for (long r = 0; r < budget; r += n_rows) prism_welford_add(&w, rows, budget - r < n_rows ? (int)(budget - r) : n_rows);
    float *mean = xmalloc(sizeof(float) * (size_t)d), *var = xmalloc(sizeof(float) * (size_t)d);
    prism_welford_finish(&w, mean, var);
    prism_welford_free(&w);

    // ---- reservoir (Algorithm R over the stream; row r of the stream is distinct row r mod 40)
    int *slot = xmalloc(sizeof(int) * (size_t)reservoir);
    uint64_t rs = o->seed;
    for (long r = 0; r < budget; r++) {
        if (r < reservoir) slot[r] = (int)(r % n_rows);
        else {
            uint64_t j = splitmix(&rs) % (uint64_t)(r + 1);
            if (j < (uint64_t)reservoir) slot[j] = (int)(r % n_rows);
        }
    }
    double *weight = xcalloc((size_t)n_rows, sizeof(double));
    for (long i = 0; i < reservoir; i++) weight[slot[i]] += 1.0;
    free(slot);

    // ---- bases and rotation
    double *E = xmalloc(sizeof(double) * (size_t)k * d), *U = xmalloc(sizeof(double) * (size_t)k * d);
    if (prism_basis_E(rows, weight, n_rows, d, mean, var, k, E, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    double t1 = lw_now();
    double *G = xcalloc((size_t)d * d, sizeof(double));
    {
        const Mat *W = &model->unembed;
        int blk = 1024;
        float *buf = xmalloc(sizeof(float) * (size_t)blk * d);
        size_t es = dtype_size(W->dtype);
        for (int64_t r = 0; r < W->rows; r += blk) {
            int nr = (int)(W->rows - r < blk ? W->rows - r : blk);
            dtype_to_f32(W->dtype, (const char *)W->data + (size_t)r * d * es, buf, (size_t)nr * d);
            prism_gram_add(G, buf, nr, d);
        }
        free(buf);
    }
    // Each rank holds a vocabulary shard of the unembedding: WᵀW is the sum of the shards' Grams.
    if (comm->size > 1) comm_allreduce_sum_f64(comm, G, (size_t)d * d);
    double t_gram = lw_now() - t1;
    if (prism_basis_U(G, d, k, U, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    free(G);
    double *Q = xmalloc(sizeof(double) * (size_t)d * d);
    int qr_fallback = 0;
    if (prism_procrustes(E, U, d, k, Q, &qr_fallback, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    double ortho = prism_ortho_error(Q, d);
    float *Qf = xmalloc(sizeof(float) * (size_t)d * d);
    for (size_t i = 0; i < (size_t)d * d; i++) Qf[i] = (float)Q[i];
    // Rows of the cycle can coincide (prompts ending in the same token share their embedding row).
    int distinct = 0;
    for (int i = 0; i < n_rows; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = !memcmp(rows + (size_t)i * d, rows + (size_t)j * d, sizeof(float) * (size_t)d);
        distinct += !seen;
    }
    free(E); free(U); free(Q);
    double fit_s = lw_now() - t0;

    // Every rank computed the same fit from the same residuals and Gram matrix; rank 0 writes.
    if (comm->rank != 0) {
        free(mean); free(var); free(Qf); free(rows); free(weight); free(cfg_path);
        free(st_path); free(js_path); free(st_tmp); free(js_tmp);
        model_free(model);
        return 0;
    }
    // ---- artifact: safetensors, then provenance.json (the completion mark)
    // The runtime needs mean, var and Q; the 40 distinct rows and their reservoir counts make the
    // fit auditable (tools/prism_check.py recomputes it with numpy from them and the checkpoint).
    float *counts = xmalloc(sizeof(float) * (size_t)n_rows);
    for (int i = 0; i < n_rows; i++) counts[i] = (float)weight[i];
    const char *names[5] = {"mean", "var", "Q", "rows", "reservoir_counts"};
    const float *data[5] = {mean, var, Qf, rows, counts};
    int ndim[5] = {1, 1, 2, 2, 1};
    int64_t shape[5][2] = {{d, 0}, {d, 0}, {d, d}, {n_rows, d}, {n_rows, 0}};
    lw_cleanup_unlink_on_fail(st_tmp);
    lw_cleanup_unlink_on_fail(js_tmp);
    if (prism_write_safetensors(st_tmp, names, data, ndim, (const int64_t(*)[2])shape, 5, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);

    char st_sha[65]; // the run refuses a prism.safetensors that does not hash to this (corrupt)
    if (lw_sha256_file(st_tmp, st_sha, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    json_t *layers = json_array();
    json_array_append_new(layers, json_string("embed"));
    for (int j = 0; j < 3; j++) json_array_append_new(layers, json_integer(blocks[j]));
    json_t *prompts = json_array();
    for (int p = 0; p < N_PRISM_PROMPTS; p++) json_array_append_new(prompts, json_string(PRISM_PROMPTS[p]));
    time_t now = time(NULL);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *prov = json_pack(
        "{s:s, s:i, s:s, s:s, s:s?, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:o, s:i, s:o,"
        " s:{s:I, s:I, s:i, s:i, s:I, s:s},"
        " s:{s:f, s:f, s:s}, s:s, s:s, s:s,"
        " s:{s:f, s:b, s:s},"
        " s:{s:[i], s:[i], s:[i, i], s:[i, i], s:[i]}, s:s, s:s, s:s, s:s, s:f}",
        "kind", "prism", "format_version", 1, "model_path", o->model, "model_name", lw_basename(o->model),
        "config_sha256", is_gguf ? NULL : cfg_sha, "family", LW_FAMILIES[mc.family].name, "architecture", mc.arch,
        "d_model", d, "n_layers", n, "vocab", mc.vocab, "tp_size", comm->size, "parameters", (json_int_t)params,
        "layers", layers, "k", k, "prompts", prompts,
        "sampling", "budget_rows", (json_int_t)budget, "reservoir_rows", (json_int_t)reservoir, "rows_per_cycle", n_rows,
        "distinct_rows", distinct, "seed", (json_int_t)o->seed,
        "note", "the forward is deterministic: the row stream repeats one cycle of 40 last-position vectors (fewer distinct ones "
                "where prompts end in the same token); whitening is the Welford over all budget rows, E_k the SVD of the 40 "
                "vectors weighted by their reservoir counts",
        "whitening", "eps_w", PRISM_EPS_W, "var_floor", PRISM_VAR_FLOOR, "statistics", "fitted on un-normalized residuals",
        "basis_E", "exact SVD (LAPACK dgesdd, double) of the whitened, centered reservoir; QR; canonical signs",
        "basis_U", "top-k eigenvectors of lm_head^T lm_head (LAPACK dsyevd, double, from fp32 weights); QR; canonical signs",
        "sign_rule", "each basis vector's entry of largest |value| (lowest index on ties) is positive",
        "rotation", "ortho_error", ortho, "qr_fallback", qr_fallback, "solves", "Q E_k ~= U_k (column vectors); Q stored row-major",
        "tensors", "mean", d, "var", d, "Q", d, d, "rows", n_rows, d, "reservoir_counts", n_rows,
        "safetensors_sha256", st_sha, "created_utc", when, "lensweep_version", LENSWEEP_VERSION, "lensweep_git", LENSWEEP_GIT, "fit_seconds", fit_s);
    LW_ASSERT(prov);
    char *js = json_dumps(prov, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(prov);
    size_t jl = strlen(js);
    js = xrealloc(js, jl + 2);
    js[jl] = '\n'; js[jl + 1] = 0;
    if (lw_write_file(js_tmp, js, jl + 1, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    free(js);
    if (rename(st_tmp, st_path) != 0)
        lw_die(LW_EXIT_RUNTIME, "check the output directory", "%s: cannot rename to %s: %s", st_tmp, st_path, strerror(errno));
    lw_cleanup_forget(st_tmp);
    if (rename(js_tmp, js_path) != 0) {
        unlink(st_path);
        lw_die(LW_EXIT_RUNTIME, "check the output directory", "%s: cannot rename to %s: %s", js_tmp, js_path, strerror(errno));
    }
    lw_cleanup_forget(js_tmp);
    lw_log("fit-prism: %s: d %d, k %d, layers embed,%d,%d,%d; %ld rows (reservoir %ld; %d distinct vectors); ||QtQ-I|| %.2e%s; %.1f s (forward %.1f, Gram %.1f) -> %s",
           model->name, d, k, blocks[0], blocks[1], blocks[2], budget, reservoir, distinct, ortho,
           qr_fallback ? " (QR fallback)" : "", fit_s, t_fwd, t_gram, o->out);
    free(mean); free(var); free(Qf); free(rows); free(weight); free(counts);
    free(st_path); free(js_path); free(st_tmp); free(js_tmp); free(cfg_path);
    model_free(model);
    return 0;
}

int cmd_fit_prism(int argc, char **argv) {
    FitOpts o;
    parse_args(argc, argv, &o);
    Comm comm;
    comm_init(&comm, &argc, &argv);
    int rc = fit_main(&comm, &o);
    comm_finalize(&comm);
    return rc;
}
