// model_shape — see model_shape.h. The built-in table is ARCHITECTURES.md §1, row for row.
#include "config/model_shape.h"

#include "io/gguf.h"
#include "model/gguf_load.h"

#include <jansson.h>
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

static long json_long(json_t *o, const char *key, long dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

// A GGUF checkpoint: the shapes from its metadata (model/gguf_load.h).
static int shape_from_gguf(const char *file, LwModelShape *s, LwError *err) {
    ModelConfig c;
    if (model_config_load_gguf(file, &c, err)) return -1;
    memset(s, 0, sizeof *s);
    snprintf(s->family, sizeof s->family, "%s", LW_FAMILIES[c.family].name);
    s->n_layers = c.n_layers; s->d_model = c.d_model; s->n_heads = c.n_heads; s->n_kv_heads = c.n_kv_heads;
    s->head_dim = c.head_dim; s->d_ff = c.d_ff; s->vocab = c.vocab; s->tied_embeddings = c.tied;
    s->bytes_per_param_disk = 1; // 4-8 bit blocks: under one byte per parameter on disk (fp32 in memory)
    snprintf(s->source, sizeof s->source, "GGUF metadata of %.500s", file);
    return 1;
}

int model_shape_from_config_json(const char *dir, LwModelShape *s, LwError *err) {
    char path[4096];
    if (gguf_checkpoint_path(dir, path, sizeof path)) return shape_from_gguf(path, s, err);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!lw_file_exists(path)) return 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root || !json_is_object(root)) {
        lw_err(err, "the checkpoint's config.json must be a JSON object (re-download it)",
               "%s:%d:%d: config.json: %s", path, je.line, je.column, root ? "not an object" : je.text);
        json_decref(root);
        return -1;
    }
    memset(s, 0, sizeof *s);
    const char *arch = "";
    json_t *a = json_object_get(root, "architectures");
    if (json_is_array(a) && json_is_string(json_array_get(a, 0))) arch = json_string_value(json_array_get(a, 0));
    const char *fam = strstr(arch, "Gemma2") ? "gemma2" : strstr(arch, "Qwen3") ? "qwen3"
                    : strstr(arch, "Qwen2") ? "qwen2" : strstr(arch, "Mistral") ? "mistral"
                    : strstr(arch, "Llama") ? "llama" : "unknown";
    snprintf(s->family, sizeof s->family, "%s", fam);
    s->n_layers = json_long(root, "num_hidden_layers", 0);
    s->d_model = json_long(root, "hidden_size", 0);
    s->n_heads = json_long(root, "num_attention_heads", 0);
    s->n_kv_heads = json_long(root, "num_key_value_heads", s->n_heads);
    s->head_dim = json_long(root, "head_dim", 0);
    if (s->head_dim <= 0 && s->n_heads > 0) s->head_dim = s->d_model / s->n_heads;
    s->d_ff = json_long(root, "intermediate_size", 0);
    s->vocab = json_long(root, "vocab_size", 0);
    json_t *tie = json_object_get(root, "tie_word_embeddings");
    // transformers' default is tied; Gemma-2 configs rely on it.
    s->tied_embeddings = tie ? json_is_true(tie) : 1;
    s->qkv_bias = !strcmp(fam, "qwen2") || json_is_true(json_object_get(root, "attention_bias"));
    s->qk_norm = !strcmp(fam, "qwen3");
    s->post_norms = !strcmp(fam, "gemma2");
    json_t *dt = json_object_get(root, "torch_dtype");
    s->bytes_per_param_disk = json_is_string(dt) && !strcmp(json_string_value(dt), "float32") ? 4 : 2;
    snprintf(s->source, sizeof s->source, "config.json at %.500s", path);
    json_decref(root);
    if (s->n_layers <= 0 || s->d_model <= 0 || s->n_heads <= 0 || s->d_ff <= 0 || s->vocab <= 0)
        return lw_err(err, "a Hugging Face config.json names num_hidden_layers, hidden_size, num_attention_heads, intermediate_size and vocab_size",
                      "%s: config.json: missing or non-positive shape keys", path);
    if (s->n_kv_heads <= 0 || s->head_dim <= 0)
        return lw_err(err, "num_key_value_heads and head_dim, when given, are positive (head_dim defaults to hidden_size / num_attention_heads)",
                      "%s: num_key_value_heads = %ld, head_dim = %ld: must be positive", path, s->n_kv_heads, s->head_dim);
    const long *sizes[] = {&s->n_layers, &s->d_model, &s->n_heads, &s->n_kv_heads, &s->head_dim, &s->d_ff, &s->vocab};
    static const char *const keys[] = {"num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads",
                                       "head_dim", "intermediate_size", "vocab_size"};
    for (int i = 0; i < 7; i++) // the limit of model/config.c, which loads the weights
        if (*sizes[i] > 2147483647L)
            return lw_err(err, "check the value against the model card", "%s: field \"%s\" = %ld is out of range (at most 2147483647)",
                          path, keys[i], *sizes[i]);
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
    // Vocabulary: shards of ceil(V/R) rows, the last one may be shorter but not empty (model/tp.c).
    long shard = (s->vocab + tp - 1) / tp;
    if ((tp - 1) * shard >= s->vocab) {
        snprintf(why, why_len, "%ld ranks leave the last one no row of the %ld vocabulary rows", tp, s->vocab);
        return -1;
    }
    if (uneven) {
        if (tp > s->n_heads) {
            snprintf(why, why_len, "%ld ranks exceed the %ld attention heads (each rank needs a whole head)", tp, s->n_heads);
            return -1;
        }
        return 0;
    }
    if (s->n_heads % tp) {
        snprintf(why, why_len, "%ld ranks do not divide the %ld attention heads (tp_uneven_heads: true allows balanced uneven splits)",
                 tp, s->n_heads);
        return -1;
    }
    if (tp <= s->n_kv_heads ? s->n_kv_heads % tp : tp % s->n_kv_heads) {
        snprintf(why, why_len, "%ld ranks and %ld key/value heads: one must divide the other", tp, s->n_kv_heads);
        return -1;
    }
    if (s->d_ff % tp) {
        snprintf(why, why_len, "%ld ranks do not divide the MLP width %ld", tp, s->d_ff);
        return -1;
    }
    return 0;
}
