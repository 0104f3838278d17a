// model_shape — see model_shape.h. The built-in table is ARCHITECTURES.md §1, row for row.
#include "config/model_shape.h"

#include "config/model_config.h"
#include "io/gguf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// ---------------------------------------------------------------------------- built-in table

typedef struct {
    const char *id, *family;
    long L, d, H, KV, hd, ff, V;
    int tied, qkv_bias, qk_norm, post_norms, disk_bytes;
} ShapeRow;

// ARCHITECTURES.md §1 (L, d, H, KV, hd, ff, V rows; tied; qkv bias; torch_dtype).
static const ShapeRow SHAPES[] = {
    {"mistralai/Mistral-7B-v0.1", "mistral", 32, 4096, 32, 8, 128, 14336, 32000, 0, 0, 0, 0, 2},
    {"meta-llama/Meta-Llama-3-8B", "llama", 32, 4096, 32, 8, 128, 14336, 128256, 0, 0, 0, 0, 2},
    {"Qwen/Qwen3-8B", "qwen3", 36, 4096, 32, 8, 128, 12288, 151936, 0, 0, 1, 0, 2},
    {"google/gemma-2-9b", "gemma2", 42, 3584, 16, 8, 256, 14336, 256000, 1, 0, 0, 1, 4},
    {"Qwen/Qwen3-14B", "qwen3", 40, 5120, 40, 8, 128, 17408, 151936, 0, 0, 1, 0, 2},
    {"google/gemma-2-27b", "gemma2", 46, 4608, 32, 16, 128, 36864, 256000, 1, 0, 0, 1, 4},
    {"01-ai/Yi-34B", "llama", 60, 7168, 56, 8, 128, 20480, 64000, 0, 0, 0, 0, 2},
    {"meta-llama/Meta-Llama-3-70B", "llama", 80, 8192, 64, 8, 128, 28672, 128256, 0, 0, 0, 0, 2},
    {"mistralai/Mistral-Small-24B-Base-2501", "mistral", 40, 5120, 32, 8, 128, 32768, 131072, 0, 0, 0, 0, 2},
    {"Qwen/Qwen2.5-72B", "qwen2", 80, 8192, 64, 8, 128, 29568, 152064, 0, 1, 0, 0, 2},
};

static const char *base_name(const char *s) {
    const char *b = strrchr(s, '/');
    return b ? b + 1 : s;
}

static void row_to_shape(const ShapeRow *r, LwModelShape *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->family, sizeof s->family, "%s", r->family);
    s->n_layers = r->L; s->d_model = r->d; s->n_heads = r->H; s->n_kv_heads = r->KV;
    s->head_dim = r->hd; s->d_ff = r->ff; s->vocab = r->V;
    s->tied_embeddings = r->tied; s->qkv_bias = r->qkv_bias; s->qk_norm = r->qk_norm;
    s->post_norms = r->post_norms; s->bytes_per_param_disk = r->disk_bytes;
    snprintf(s->source, sizeof s->source, "built-in table (ARCHITECTURES.md §1: %s)", r->id);
}

int model_shape_builtin(const char *model, LwModelShape *s) {
    if (!model || !*model) return 0;
    char want[256];
    snprintf(want, sizeof want, "%s", base_name(model));
    size_t n = strlen(want);
    while (n && want[n - 1] == '/') want[--n] = 0; // "dir/" -> "dir"
    // Qwen3-8B-Base / Qwen3-14B-Base: same architecture and shapes as the post-trained repos.
    if (n > 5 && !strcmp(want + n - 5, "-Base") && !strncmp(want, "Qwen3-", 6)) want[n - 5] = 0;
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
        if (!strcmp(model, SHAPES[i].id) || !strcmp(want, base_name(SHAPES[i].id))) {
            row_to_shape(&SHAPES[i], s);
            return 1;
        }
    return 0;
}

// ---------------------------------------------------------------------------- config.json

void model_shape_from_config(const ModelConfig *c, LwModelShape *s) {
    const FamilyInfo *fi = &LW_FAMILIES[c->family];
    memset(s, 0, sizeof *s);
    snprintf(s->family, sizeof s->family, "%s", fi->name);
    s->n_layers = c->n_layers; s->d_model = c->d_model; s->n_heads = c->n_heads; s->n_kv_heads = c->n_kv_heads;
    s->head_dim = c->head_dim; s->d_ff = c->d_ff; s->vocab = c->vocab; s->tied_embeddings = c->tied;
    s->qkv_bias = fi->qkv_bias;
    s->qk_norm = fi->qk_norm;
    s->post_norms = fi->sandwich_norms;
    s->bytes_per_param_disk = !strcmp(c->torch_dtype, "float32") ? 4 : 2;
}

// A GGUF checkpoint's shapes (its metadata at gguf_path): 4-8 bit blocks, under one byte per
// parameter on disk (fp32 in memory).
static void shape_of_gguf(const ModelConfig *c, const char *gguf_path, LwModelShape *s) {
    model_shape_from_config(c, s);
    s->bytes_per_param_disk = 1;
    snprintf(s->source, sizeof s->source, "GGUF metadata of %.500s", gguf_path);
}

// config_json_path: <dir>/config.json
static void shape_of_config_json(const ModelConfig *c, const char *config_json_path, LwModelShape *s) {
    model_shape_from_config(c, s);
    snprintf(s->source, sizeof s->source, "config.json at %.500s", config_json_path);
}

void model_shape_of_checkpoint(const char *dir, const ModelConfig *c, LwModelShape *s) {
    char path[4096];
    if (gguf_checkpoint_path(dir, path, sizeof path)) shape_of_gguf(c, path, s);
    else {
        snprintf(path, sizeof path, "%s/config.json", dir);
        shape_of_config_json(c, path, s);
    }
}

int model_shape_from_config_json(const char *dir, LwModelShape *s, LwError *err) {
    char path[4096];
    ModelConfig c;
    if (gguf_checkpoint_path(dir, path, sizeof path)) { // a GGUF checkpoint: the shapes from its metadata
        if (model_config_load_gguf(path, &c, err)) return -1;
        shape_of_gguf(&c, path, s);
        return 1;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!lw_file_exists(path)) return 0;
    if (model_config_load_shape(dir, &c, err)) return -1;
    shape_of_config_json(&c, path, s);
    if (s->n_kv_heads <= 0 || s->head_dim <= 0)
        return lw_err(err, "num_key_value_heads and head_dim, when given, are positive (head_dim defaults to hidden_size / num_attention_heads)",
                      "%s: num_key_value_heads = %ld, head_dim = %ld: must be positive", path, s->n_kv_heads, s->head_dim);
    return 1;
}

// ---------------------------------------------------------------------------- sizes

// Sizes are counted in double (exact below 2^53, far above any real model) and saturate at
// INT64_MAX: a config.json with absurd but in-range keys must not overflow int64 arithmetic.
static int64_t sat_i64(double v) { return v >= 9.2e18 ? INT64_MAX : (int64_t)v; }

static double block_params_split(const LwModelShape *s) {
    double d = s->d_model, q = (double)s->n_heads * s->head_dim, kv = (double)s->n_kv_heads * s->head_dim;
    double p = d * q + 2 * d * kv + q * d + 3 * d * s->d_ff;
    if (s->qkv_bias) p += q + 2 * kv;
    return p;
}

static double block_params_replicated(const LwModelShape *s) {
    return (s->post_norms ? 4.0 : 2.0) * s->d_model + (s->qk_norm ? 2.0 * s->head_dim : 0);
}

int64_t model_shape_params(const LwModelShape *s) {
    double emb = (double)s->vocab * s->d_model;
    return sat_i64(s->n_layers * (block_params_split(s) + block_params_replicated(s)) + emb * (s->tied_embeddings ? 1 : 2) +
                   s->d_model);
}

int64_t model_shape_bytes_per_rank(const LwModelShape *s, int tp, int bytes_per_param) {
    if (tp < 1) tp = 1;
    double emb = (double)s->vocab * s->d_model * (s->tied_embeddings ? 1 : 2);
    double split = s->n_layers * block_params_split(s) + emb;
    double repl = s->n_layers * block_params_replicated(s) + s->d_model;
    return sat_i64((floor(split / tp) + repl) * bytes_per_param);
}

int model_shape_check_tp(const LwModelShape *s, long tp, int uneven, char *why, size_t why_len) {
    if (tp <= 1) return 0;
    switch (tp_check(s->n_heads, s->n_kv_heads, s->d_ff, s->vocab, tp, uneven)) {
    case TP_FITS: return 0;
    case TP_NO_RANKS: break; // tp > 1 here
    case TP_HEADS_EXCEED:
        snprintf(why, why_len, "%ld ranks exceed the %ld attention heads (each rank needs a whole head)", tp, s->n_heads);
        break;
    case TP_FF_EXCEED: snprintf(why, why_len, "%ld ranks exceed the MLP width %ld", tp, s->d_ff); break;
    case TP_HEADS_UNEVEN:
        snprintf(why, why_len, "%ld ranks do not divide the %ld attention heads (tp_uneven_heads: true allows balanced uneven splits)",
                 tp, s->n_heads);
        break;
    case TP_KV_SPLIT: snprintf(why, why_len, "%ld ranks and %ld key/value heads: one must divide the other", tp, s->n_kv_heads); break;
    case TP_FF_UNEVEN: snprintf(why, why_len, "%ld ranks do not divide the MLP width %ld", tp, s->d_ff); break;
    case TP_VOCAB_EMPTY:
        snprintf(why, why_len, "%ld ranks leave the last one no row of the %ld vocabulary rows", tp, s->vocab);
        break;
    }
    return -1;
}
