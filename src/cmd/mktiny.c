// cmd/mktiny — writes a small random checkpoint of one family that transformers can load.
//
// Purpose: the forward pass is checked against transformers on checkpoints that exercise every
// path (ARCHITECTURES.md §5.1), and benchmarks need big random checkpoints of a given shape. So
// every parameter is random (no zero biases, no unit norm weights: HF's default init would hide
// exactly the bugs we test for), heads use GQA with head_dim != d/H, windows are short enough to
// bite, Gemma's soft-caps are small enough to bend, rope_theta is the family's real one.
// Output is a pure function of (family, seed, options): a splitmix64 stream with Box-Muller
// normals, tensors generated and written in a fixed order, JSON written with sorted keys — the
// same command gives the same bytes, so tests regenerate fixtures instead of committing weights.
//
// Scales: matrices N(0, 1/in_features) keep every projection's output O(1) for O(1) inputs at
// any width; the embedding has std 3/sqrt(d) so that (tied, normed) logits have std ~3, around
// Gemma's tiny final soft-cap of 3.
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "util/util.h"

// ---------------------------------------------------------------------------- random numbers
typedef struct { uint64_t s; int have_spare; double spare; } Rng;

static uint64_t splitmix64(Rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(Rng *r) { return ((splitmix64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); } // (0, 1)

static double rng_normal(Rng *r) {
    if (r->have_spare) { r->have_spare = 0; return r->spare; }
    double u1 = rng_uniform(r), u2 = rng_uniform(r), rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(2.0 * M_PI * u2);
    r->have_spare = 1;
    return rad * cos(2.0 * M_PI * u2);
}

// ---------------------------------------------------------------------------- options
typedef struct {
    Family family;
    uint64_t seed;
    const char *out;
    const char *tokenizer;
    DType dtype;
    int shards;
    int layers, d_model, heads, kv_heads, head_dim, ff, vocab; // 0 = family default
} TinyOpts;

static void usage(FILE *f) {
    fprintf(f, "usage: lensweep mktiny --family {llama,mistral,qwen2,qwen3,gemma2} --seed N --out DIR\n"
               "                       [--tokenizer tokenizer.json] [--dtype f32|bf16|f16] [--shards N]\n"
               "                       [--layers N] [--d-model N] [--heads N] [--kv-heads N] [--head-dim N] [--ff N] [--vocab N]\n"
               "Writes config.json and model.safetensors (or N shards + index) of a random model that\n"
               "transformers loads; same options, same bytes. Defaults: 3 layers, d=64, 4 heads, 2 kv heads,\n"
               "head_dim 32, ff 96, vocab 256 (Qwen: 320, rows past the nominal tokenizer), f32.\n");
}

static int parse_int(const char *opt, const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || v < min || v > max)
        lw_die(LW_EXIT_INPUT, "see lensweep mktiny --help", "mktiny: option %s: '%s' is not an integer in [%ld, %ld]", opt, s ? s : "", min, max);
    *out = v;
    return 0;
}

static void parse_args(int argc, char **argv, TinyOpts *o) {
    memset(o, 0, sizeof *o);
    o->family = (Family)-1;
    o->dtype = DT_F32;
    o->shards = 1;
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        static const char *const KNOWN[] = {"--family", "--seed", "--out", "--tokenizer", "--dtype", "--shards", "--layers", "--d-model",
                                            "--heads", "--kv-heads", "--head-dim", "--ff", "--vocab", NULL};
        int known = 0;
        for (int k = 0; KNOWN[k]; k++) known |= !strcmp(a, KNOWN[k]);
        if (!known) lw_die(LW_EXIT_INPUT, "see lensweep mktiny --help", "mktiny: unknown option '%s'", a);
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) lw_die(LW_EXIT_INPUT, "see lensweep mktiny --help", "mktiny: option %s needs a value", a);
        long x;
        i++;
        if (!strcmp(a, "--family")) {
            int f = family_from_name(v);
            if (f < 0) lw_die(LW_EXIT_INPUT, "families: llama, mistral, qwen2, qwen3, gemma2", "mktiny: --family: unknown family '%s'", v);
            o->family = (Family)f;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            if (!*v || *end || errno || v[0] == '-') lw_die(LW_EXIT_INPUT, "the seed is a non-negative integer", "mktiny: --seed: '%s' is not a non-negative integer", v);
            have_seed = 1;
        } else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--tokenizer")) o->tokenizer = v;
        else if (!strcmp(a, "--dtype")) {
            if (!strcmp(v, "f32") || !strcmp(v, "float32")) o->dtype = DT_F32;
            else if (!strcmp(v, "bf16") || !strcmp(v, "bfloat16")) o->dtype = DT_BF16;
            else if (!strcmp(v, "f16") || !strcmp(v, "float16")) o->dtype = DT_F16;
            else lw_die(LW_EXIT_INPUT, "dtypes: f32, bf16, f16", "mktiny: --dtype: unknown dtype '%s'", v);
        } else if (!strcmp(a, "--shards")) { parse_int(a, v, 1, 999, &x); o->shards = (int)x; }
        else if (!strcmp(a, "--layers")) { parse_int(a, v, 1, 1000, &x); o->layers = (int)x; }
        else if (!strcmp(a, "--d-model")) { parse_int(a, v, 2, 65536, &x); o->d_model = (int)x; }
        else if (!strcmp(a, "--heads")) { parse_int(a, v, 1, 1024, &x); o->heads = (int)x; }
        else if (!strcmp(a, "--kv-heads")) { parse_int(a, v, 1, 1024, &x); o->kv_heads = (int)x; }
        else if (!strcmp(a, "--head-dim")) { parse_int(a, v, 2, 4096, &x); o->head_dim = (int)x; }
        else if (!strcmp(a, "--ff")) { parse_int(a, v, 1, 1 << 20, &x); o->ff = (int)x; }
        else if (!strcmp(a, "--vocab")) { parse_int(a, v, 2, 1 << 22, &x); o->vocab = (int)x; }
        else lw_die(LW_EXIT_INPUT, "see lensweep mktiny --help", "mktiny: unknown option '%s'", a);
    }
    if ((int)o->family < 0) lw_die(LW_EXIT_INPUT, "e.g. --family llama", "mktiny: --family is required");
    if (!have_seed) lw_die(LW_EXIT_INPUT, "e.g. --seed 1", "mktiny: --seed is required");
    if (!o->out) lw_die(LW_EXIT_INPUT, "e.g. --out /tmp/tiny-llama", "mktiny: --out is required");
}

// ---------------------------------------------------------------------------- tokenizer
typedef struct { int size, bos, eos; } TokInfo;

static int special_id(json_t *added, const char *const *names) {
    for (int k = 0; names[k]; k++) {
        size_t i;
        json_t *t;
        json_array_foreach(added, i, t) {
            json_t *c = json_object_get(t, "content"), *id = json_object_get(t, "id");
            if (json_is_string(c) && json_is_integer(id) && !strcmp(json_string_value(c), names[k])) return (int)json_integer_value(id);
        }
    }
    return -1;
}

// Vocabulary size = highest id in model.vocab and added_tokens, + 1.
static void tokenizer_info(const char *path, TokInfo *ti) {
    if (!lw_file_exists(path))
        lw_die(LW_EXIT_INPUT, "--tokenizer takes the path of a Hugging Face tokenizer.json (e.g. ../shared/tokenizers/mistral-7b-v0.1/tokenizer.json)",
               "mktiny: --tokenizer %s: %s", path, lw_is_dir(path) ? "is a directory, not a tokenizer.json file" : "no such file");
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) lw_die(LW_EXIT_INPUT, "pass a Hugging Face tokenizer.json", "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
    json_int_t max_id = -1;
    json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    if (json_is_object(vocab)) {
        const char *k;
        json_t *v;
        json_object_foreach(vocab, k, v)
            if (json_is_integer(v) && json_integer_value(v) > max_id) max_id = json_integer_value(v);
    } else if (json_is_array(vocab)) {
        max_id = (json_int_t)json_array_size(vocab) - 1; // Unigram: the list position is the id
    } else {
        json_decref(root);
        lw_die(LW_EXIT_INPUT, "pass a Hugging Face tokenizer.json (with model.vocab)", "%s: field \"model.vocab\" is missing", path);
    }
    json_t *added = json_object_get(root, "added_tokens");
    size_t i;
    json_t *t;
    json_array_foreach(added, i, t) {
        json_t *id = json_object_get(t, "id");
        if (json_is_integer(id) && json_integer_value(id) > max_id) max_id = json_integer_value(id);
    }
    if (max_id < 1 || max_id > (1 << 22)) { json_decref(root); lw_die(LW_EXIT_INPUT, "pass a Hugging Face tokenizer.json", "%s: no usable vocabulary (highest id %lld)", path, (long long)max_id); }
    static const char *const BOS[] = {"<|begin_of_text|>", "<bos>", "<s>", "<|endoftext|>", NULL};
    static const char *const EOS[] = {"<|end_of_text|>", "<eos>", "</s>", "<|endoftext|>", NULL};
    ti->size = (int)max_id + 1;
    ti->bos = special_id(added, BOS);
    ti->eos = special_id(added, EOS);
    json_decref(root);
}

static void copy_file(const char *from, const char *to) {
    LwError err = {0};
    size_t n;
    char *buf = lw_read_file(from, &n, &err);
    if (!buf || lw_write_file(to, buf, n, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    free(buf);
}

// ---------------------------------------------------------------------------- model
typedef struct {
    StWriteTensor *t;
    int n, cap;
    Rng rng;
    DType dtype;
} TensorSet;

typedef enum { INIT_NORMAL, INIT_ONE_PLUS, INIT_OFFSET } Init;

// Adds a tensor of random values: N(0, std), 1 + std·N, or std·N (same as normal; named for
// what it means: a Gemma norm offset or a bias).
static void add_tensor(TensorSet *ts, const char *name, int64_t rows, int64_t cols, Init init, double std) {
    if (ts->n == ts->cap) { ts->cap = ts->cap ? 2 * ts->cap : 64; ts->t = xrealloc(ts->t, ts->cap * sizeof *ts->t); }
    int64_t n = rows * (cols ? cols : 1);
    float *f = xmalloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++) f[i] = (float)((init == INIT_ONE_PLUS ? 1.0 : 0.0) + std * rng_normal(&ts->rng));
    void *data = f;
    if (ts->dtype != DT_F32) {
        data = xmalloc((size_t)n * dtype_size(ts->dtype));
        dtype_from_f32(ts->dtype, f, data, (size_t)n);
        free(f);
    }
    StWriteTensor *t = &ts->t[ts->n++];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->dtype = ts->dtype;
    t->ndim = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->data = data;
}

static void make_tensors(const ModelConfig *c, TensorSet *ts) {
    const FamilyInfo *fi = &LW_FAMILIES[c->family];
    int64_t d = c->d_model, hd = c->head_dim, q = (int64_t)c->n_heads * hd, kv = (int64_t)c->n_kv_heads * hd;
    Init norm_init = fi->norm_plus_one ? INIT_OFFSET : INIT_ONE_PLUS;
    char n[128];
    add_tensor(ts, "model.embed_tokens.weight", c->vocab, d, INIT_NORMAL, 3.0 / sqrt((double)d));
    for (int i = 0; i < c->n_layers; i++) {
#define NM(s) (snprintf(n, sizeof n, "model.layers.%d.%s", i, s), n)
        add_tensor(ts, NM("input_layernorm.weight"), d, 0, norm_init, 0.1);
        add_tensor(ts, NM("self_attn.q_proj.weight"), q, d, INIT_NORMAL, 1.0 / sqrt((double)d));
        add_tensor(ts, NM("self_attn.k_proj.weight"), kv, d, INIT_NORMAL, 1.0 / sqrt((double)d));
        add_tensor(ts, NM("self_attn.v_proj.weight"), kv, d, INIT_NORMAL, 1.0 / sqrt((double)d));
        if (fi->qkv_bias) {
            add_tensor(ts, NM("self_attn.q_proj.bias"), q, 0, INIT_OFFSET, 0.1);
            add_tensor(ts, NM("self_attn.k_proj.bias"), kv, 0, INIT_OFFSET, 0.1);
            add_tensor(ts, NM("self_attn.v_proj.bias"), kv, 0, INIT_OFFSET, 0.1);
        }
        if (fi->qk_norm) {
            add_tensor(ts, NM("self_attn.q_norm.weight"), hd, 0, INIT_ONE_PLUS, 0.1);
            add_tensor(ts, NM("self_attn.k_norm.weight"), hd, 0, INIT_ONE_PLUS, 0.1);
        }
        add_tensor(ts, NM("self_attn.o_proj.weight"), d, q, INIT_NORMAL, 1.0 / sqrt((double)q));
        add_tensor(ts, NM("post_attention_layernorm.weight"), d, 0, norm_init, 0.1);
        if (fi->sandwich_norms) {
            add_tensor(ts, NM("pre_feedforward_layernorm.weight"), d, 0, norm_init, 0.1);
            add_tensor(ts, NM("post_feedforward_layernorm.weight"), d, 0, norm_init, 0.1);
        }
        add_tensor(ts, NM("mlp.gate_proj.weight"), c->d_ff, d, INIT_NORMAL, 1.0 / sqrt((double)d));
        add_tensor(ts, NM("mlp.up_proj.weight"), c->d_ff, d, INIT_NORMAL, 1.0 / sqrt((double)d));
        add_tensor(ts, NM("mlp.down_proj.weight"), d, c->d_ff, INIT_NORMAL, 1.0 / sqrt((double)c->d_ff));
#undef NM
    }
    add_tensor(ts, "model.norm.weight", d, 0, norm_init, 0.1);
    if (!c->tied) add_tensor(ts, "lm_head.weight", c->vocab, d, INIT_NORMAL, 1.0 / sqrt((double)d));
}

// config.json with the keys transformers reads for this family (values of the real models where
// they are not shape parameters).
static json_t *make_config(const ModelConfig *c, const FamilyInfo *fi, int qwen_window) {
    json_t *j = json_object();
    json_t *arch = json_array();
    json_array_append_new(arch, json_string(fi->hf_arch));
    json_object_set_new(j, "architectures", arch);
    json_object_set_new(j, "model_type", json_string(fi->model_type));
    json_object_set_new(j, "hidden_size", json_integer(c->d_model));
    json_object_set_new(j, "intermediate_size", json_integer(c->d_ff));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->n_layers));
    json_object_set_new(j, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->n_kv_heads));
    json_object_set_new(j, "head_dim", json_integer(c->head_dim));
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_eps));
    json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
    json_object_set_new(j, "rope_scaling", json_null());
    json_object_set_new(j, "vocab_size", json_integer(c->vocab));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->max_pos));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tied));
    json_object_set_new(j, "torch_dtype", json_string(c->torch_dtype));
    json_object_set_new(j, "attention_bias", json_boolean(fi->qkv_bias));
    json_object_set_new(j, "attention_dropout", json_real(0.0));
    json_object_set_new(j, "initializer_range", json_real(0.02));
    json_object_set_new(j, "use_cache", json_true());
    json_object_set_new(j, "bos_token_id", c->bos_id >= 0 ? json_integer(c->bos_id) : json_null());
    json_object_set_new(j, "eos_token_id", c->eos_id >= 0 ? json_integer(c->eos_id) : json_null());
    if (fi->gelu_tanh) {
        json_object_set_new(j, "hidden_activation", json_string("gelu_pytorch_tanh"));
        json_object_set_new(j, "hidden_act", json_string("gelu_pytorch_tanh"));
        json_object_set_new(j, "pad_token_id", json_integer(0));
        json_object_set_new(j, "attn_logit_softcapping", json_real(c->attn_softcap));
        json_object_set_new(j, "final_logit_softcapping", json_real(c->final_softcap));
        json_object_set_new(j, "query_pre_attn_scalar", json_integer((json_int_t)c->query_pre_attn_scalar));
        json_object_set_new(j, "sliding_window", json_integer(c->sliding_window));
        json_object_set_new(j, "cache_implementation", json_string("hybrid"));
    } else {
        json_object_set_new(j, "hidden_act", json_string("silu"));
    }
    switch (c->family) {
    case FAM_LLAMA:
        json_object_set_new(j, "mlp_bias", json_false());
        json_object_set_new(j, "pretraining_tp", json_integer(1));
        break;
    case FAM_MISTRAL:
        json_object_set_new(j, "sliding_window", json_integer(c->sliding_window));
        break;
    case FAM_QWEN2:
        // Like Qwen2.5: a window value is present but disabled by use_sliding_window = false.
        json_object_set_new(j, "use_sliding_window", json_false());
        json_object_set_new(j, "sliding_window", json_integer(qwen_window));
        json_object_set_new(j, "max_window_layers", json_integer(c->n_layers));
        break;
    case FAM_QWEN3:
        json_object_set_new(j, "use_sliding_window", json_false());
        json_object_set_new(j, "sliding_window", json_null());
        json_object_set_new(j, "max_window_layers", json_integer(c->n_layers));
        break;
    default: break;
    }
    return j;
}

int cmd_mktiny(int argc, char **argv) {
    TinyOpts o;
    parse_args(argc, argv, &o);
    const FamilyInfo *fi = &LW_FAMILIES[o.family];
    ModelConfig c;
    memset(&c, 0, sizeof c);
    c.family = o.family;
    snprintf(c.arch, sizeof c.arch, "%s", fi->hf_arch);
    snprintf(c.torch_dtype, sizeof c.torch_dtype, "%s", o.dtype == DT_F32 ? "float32" : o.dtype == DT_BF16 ? "bfloat16" : "float16");
    c.n_layers = o.layers ? o.layers : 3;
    c.d_model = o.d_model ? o.d_model : 64;
    c.n_heads = o.heads ? o.heads : 4;
    c.n_kv_heads = o.kv_heads ? o.kv_heads : (c.n_heads >= 2 ? c.n_heads / 2 : 1);
    c.head_dim = o.head_dim ? o.head_dim : (o.d_model || o.heads ? c.d_model / c.n_heads : 32);
    c.d_ff = o.ff ? o.ff : 96;
    int is_qwen = o.family == FAM_QWEN2 || o.family == FAM_QWEN3;
    c.vocab = o.vocab ? o.vocab : is_qwen ? 320 : 256;
    c.max_pos = 512;
    c.tied = fi->tied_embeddings;
    c.bos_id = fi->gelu_tanh ? 2 : 1;
    c.eos_id = fi->gelu_tanh ? 1 : 2;
    static const double THETA[FAM_COUNT] = {500000.0, 10000.0, 1000000.0, 1000000.0, 10000.0};
    static const double EPS[FAM_COUNT] = {1e-5, 1e-5, 1e-6, 1e-6, 1e-6};
    c.rope_theta = THETA[o.family];
    c.rms_eps = EPS[o.family];
    if (fi->sliding_window == 1) c.sliding_window = 8; // the families with a window (Mistral, Gemma-2)
    if (fi->has_softcaps) { c.attn_softcap = 5.0; c.final_softcap = 3.0; }
    if (fi->has_query_pre_attn_scalar) c.query_pre_attn_scalar = c.head_dim / 2; // != head_dim on purpose

    if (c.head_dim % 2 || c.head_dim < 2) lw_die(LW_EXIT_INPUT, "rotary embeddings need an even head_dim", "mktiny: head_dim %d is odd", c.head_dim);
    if (c.n_heads % c.n_kv_heads) lw_die(LW_EXIT_INPUT, "choose --kv-heads dividing --heads", "mktiny: %d kv heads do not divide %d heads", c.n_kv_heads, c.n_heads);

    // every input is checked before the output directory exists: bad input leaves nothing behind
    if (o.tokenizer) {
        TokInfo ti;
        tokenizer_info(o.tokenizer, &ti);
        // Qwen checkpoints carry padding rows past the tokenizer's last id; mimic that.
        if (!o.vocab) c.vocab = is_qwen ? (ti.size / 64 + 1) * 64 : ti.size;
        if (c.vocab < ti.size)
            lw_die(LW_EXIT_INPUT, "drop --vocab or make it at least the tokenizer size", "mktiny: --vocab %d is smaller than the tokenizer (%d ids)", c.vocab, ti.size);
        if (ti.bos >= 0) c.bos_id = ti.bos;
        if (ti.eos >= 0) c.eos_id = ti.eos;
    }
    LwError err = {0};
    if (lw_mkdir_p(o.out, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    if (o.tokenizer) {
        char *to = xasprintf("%s/tokenizer.json", o.out);
        copy_file(o.tokenizer, to);
        free(to);
        char *dir = xstrdup(o.tokenizer);
        char *slash = strrchr(dir, '/');
        char *side = slash ? (slash[1] = 0, xasprintf("%stokenizer_config.json", dir)) : xstrdup("tokenizer_config.json");
        if (lw_file_exists(side)) {
            char *to2 = xasprintf("%s/tokenizer_config.json", o.out);
            copy_file(side, to2);
            free(to2);
        }
        free(side);
        free(dir);
    }
    if (c.bos_id >= c.vocab) c.bos_id = -1;
    if (c.eos_id >= c.vocab) c.eos_id = -1;

    TensorSet ts = {0};
    ts.rng.s = o.seed;
    ts.dtype = o.dtype;
    make_tensors(&c, &ts);
    if (st_write(o.out, ts.t, ts.n, o.shards, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);

    json_t *cj = make_config(&c, fi, 4096);
    char *text = json_dumps(cj, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    json_decref(cj);
    size_t len = strlen(text);
    text = xrealloc(text, len + 2);
    text[len] = '\n';
    char *cpath = xasprintf("%s/config.json", o.out);
    if (lw_write_file(cpath, text, len + 1, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    free(cpath);
    free(text);

    int64_t params = 0;
    for (int i = 0; i < ts.n; i++) {
        params += ts.t[i].shape[0] * (ts.t[i].ndim == 2 ? ts.t[i].shape[1] : 1);
        free((void *)ts.t[i].name);
        free((void *)ts.t[i].data);
    }
    free(ts.t);
    printf("mktiny: %s %s seed %llu: L=%d d=%d H=%d KV=%d hd=%d ff=%d V=%d, %lld parameters (%s) -> %s\n", fi->name, c.arch,
           (unsigned long long)o.seed, c.n_layers, c.d_model, c.n_heads, c.n_kv_heads, c.head_dim, c.d_ff, c.vocab, (long long)params,
           dtype_name(o.dtype), o.out);
    if (!o.tokenizer)
        fprintf(stderr, "mktiny: note: no --tokenizer, so %s has no tokenizer.json: transformers and the forward-pass tests load it, "
                        "`lensweep run` cannot probe it (make it with --tokenizer PATH/tokenizer.json for that)\n", o.out);
    return 0;
}
