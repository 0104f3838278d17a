// config/model_config — reads a Hugging Face config.json into a ModelConfig (ARCHITECTURES.md §1):
// the one reader of config.json, for the loader as for `plan` and `inspect` (model_config.h).
//
// The family is chosen by "architectures"[0] (falling back to "model_type"), because that is what
// transformers itself dispatches on. Every dimension is read from the file at run time, never
// assumed from the model's name. Optional keys follow the transformers defaults of the family
// (e.g. head_dim absent -> d/H; sliding_window null -> none; Gemma-2 softcaps absent -> 50/30),
// while keys a shape depends on are required: a checkpoint missing hidden_size is broken, and
// guessing would only move the error to a confusing tensor-shape mismatch later.
// Every error names the config.json path and the key, with a hint.
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/model_config.h"

typedef struct {
    const char *path;
    json_t *root;
    LwError *err;
    int shape_only;   // model_config_load_shape: only what sizes the weights (model_config.h)
} CfgReader;

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

// Required positive integer (a real with an integral value is accepted, as Python writes 4096.0
// only by accident but json.load would still give a usable number).
static int cfg_int(CfgReader *c, const char *key, int required, int dflt, int min, int *out) {
    json_t *v = json_object_get(c->root, key);
    if (!v || json_is_null(v)) {
        if (!required) { *out = dflt; return 0; }
        return lw_err(c->err, "every Hugging Face config.json of a supported family has this key; re-download config.json",
                      "%s: missing field \"%s\"", c->path, key);
    }
    double x;
    if (json_is_integer(v)) x = (double)json_integer_value(v);
    else if (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v)) x = json_real_value(v);
    else return lw_err(c->err, "the value must be a whole number", "%s: field \"%s\" is %s, expected an integer", c->path, key, json_kind(v));
    if (x < min || x > 2147483647.0)
        return lw_err(c->err, "check the value against the model card", "%s: field \"%s\" = %.0f is out of range (must be >= %d)", c->path, key, x, min);
    *out = (int)x;
    return 0;
}

static int cfg_num(CfgReader *c, json_t *obj, const char *key, int required, double dflt, double *out) {
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) {
        if (!required) { *out = dflt; return 0; }
        return lw_err(c->err, "every Hugging Face config.json of a supported family has this key; re-download config.json",
                      "%s: missing field \"%s\"", c->path, key);
    }
    if (!json_is_number(v)) return lw_err(c->err, "the value must be a number", "%s: field \"%s\" is %s, expected a number", c->path, key, json_kind(v));
    *out = json_number_value(v);
    if (!isfinite(*out)) return lw_err(c->err, "the value must be finite", "%s: field \"%s\" is not finite", c->path, key);
    return 0;
}

static int cfg_bool(CfgReader *c, const char *key, int dflt, int *out) {
    json_t *v = json_object_get(c->root, key);
    if (!v || json_is_null(v)) { *out = dflt; return 0; }
    if (!json_is_boolean(v)) return lw_err(c->err, "use true or false", "%s: field \"%s\" is %s, expected a boolean", c->path, key, json_kind(v));
    *out = json_is_true(v);
    return 0;
}

// bos/eos ids may be an int, a list of ints (first is used) or absent/null (-1).
static int cfg_token_id(CfgReader *c, const char *key, int *out) {
    json_t *v = json_object_get(c->root, key);
    *out = -1;
    if (!v || json_is_null(v)) return 0;
    if (json_is_array(v)) {
        if (json_array_size(v) == 0) return 0;
        v = json_array_get(v, 0);
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 2147483647)
        return lw_err(c->err, "a token id is a non-negative integer (or a list of them)", "%s: field \"%s\" is %s, expected a token id", c->path, key, json_kind(v));
    *out = (int)json_integer_value(v);
    return 0;
}

static int family_from_config(CfgReader *c, ModelConfig *cfg) {
    json_t *arch = json_object_get(c->root, "architectures");
    const char *name = NULL;
    if (arch && !json_is_null(arch)) {
        if (!json_is_array(arch) || json_array_size(arch) < 1 || !json_is_string(json_array_get(arch, 0)))
            return lw_err(c->err, "expected e.g. \"architectures\": [\"LlamaForCausalLM\"]",
                          "%s: field \"architectures\" must be a non-empty list of strings", c->path);
        name = json_string_value(json_array_get(arch, 0));
        for (int f = 0; f < FAM_COUNT; f++)
            if (strcmp(name, LW_FAMILIES[f].hf_arch) == 0) cfg->family = (Family)f;
    } else {
        json_t *mt = json_object_get(c->root, "model_type");
        if (!mt) return lw_err(c->err, "config.json must name the model class in \"architectures\"",
                               "%s: missing field \"architectures\"", c->path);
        if (!json_is_string(mt)) return lw_err(c->err, "expected a string such as \"llama\"", "%s: field \"model_type\" is %s", c->path, json_kind(mt));
        name = json_string_value(mt);
        for (int f = 0; f < FAM_COUNT; f++)
            if (strcmp(name, LW_FAMILIES[f].model_type) == 0) cfg->family = (Family)f;
    }
    if ((int)cfg->family < 0)
        return lw_err(c->err, "supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma2ForCausalLM",
                      "%s: field \"architectures\": unsupported architecture \"%s\"", c->path, name);
    snprintf(cfg->arch, sizeof cfg->arch, "%s", name);
    return 0;
}

// The keys besides the shapes that size the weights: tied embeddings, and the dtype on disk.
static int read_sizing(CfgReader *c, ModelConfig *cfg) {
    const FamilyInfo *fi = &LW_FAMILIES[cfg->family];
    int tied = fi->tied_embeddings;
    if (cfg_bool(c, "tie_word_embeddings", fi->tied_embeddings, &tied)) return -1;
    cfg->tied = tied || fi->tied_embeddings;
    json_t *dt = json_object_get(c->root, "torch_dtype");
    if (!dt) dt = json_object_get(c->root, "dtype");
    snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s", json_is_string(dt) ? json_string_value(dt) : "");
    return 0;
}

static int read_fields(CfgReader *c, ModelConfig *cfg) {
    const FamilyInfo *fi;
    cfg->family = (Family)-1;
    if (family_from_config(c, cfg)) return -1;
    fi = &LW_FAMILIES[cfg->family];

    int full = !c->shape_only;
    if (cfg_int(c, "num_hidden_layers", 1, 0, 1, &cfg->n_layers)) return -1;
    if (cfg_int(c, "hidden_size", 1, 0, 1, &cfg->d_model)) return -1;
    if (cfg_int(c, "num_attention_heads", 1, 0, 1, &cfg->n_heads)) return -1;
    if (cfg_int(c, "num_key_value_heads", 0, cfg->n_heads, full, &cfg->n_kv_heads)) return -1;
    if (cfg_int(c, "intermediate_size", 1, 0, 1, &cfg->d_ff)) return -1;
    if (cfg_int(c, "vocab_size", 1, 0, 1, &cfg->vocab)) return -1;
    if (!full) {
        if (cfg_int(c, "head_dim", 0, cfg->d_model / cfg->n_heads, 0, &cfg->head_dim)) return -1;
        cfg->bos_id = cfg->eos_id = -1;
        return read_sizing(c, cfg);
    }
    if (cfg_int(c, "max_position_embeddings", 1, 0, 1, &cfg->max_pos)) return -1;
    if (cfg->d_model % cfg->n_heads != 0 && !json_object_get(c->root, "head_dim"))
        return lw_err(c->err, "add an explicit \"head_dim\"", "%s: field \"head_dim\" is absent and hidden_size %d is not divisible by num_attention_heads %d",
                      c->path, cfg->d_model, cfg->n_heads);
    if (cfg_int(c, "head_dim", 0, cfg->d_model / cfg->n_heads, 1, &cfg->head_dim)) return -1;
    if (cfg->head_dim % 2 != 0)
        return lw_err(c->err, "rotary embeddings rotate pairs of dimensions; head_dim must be even", "%s: field \"head_dim\" = %d is odd", c->path, cfg->head_dim);
    if (cfg->n_heads % cfg->n_kv_heads != 0)
        return lw_err(c->err, "grouped-query attention needs whole groups of query heads per kv head",
                      "%s: field \"num_key_value_heads\" = %d does not divide num_attention_heads = %d", c->path, cfg->n_kv_heads, cfg->n_heads);

    // rope_theta: classic key, or the rope_parameters dict newer transformers versions write.
    json_t *rp = json_object_get(c->root, "rope_parameters");
    if (json_object_get(c->root, "rope_theta") || !json_is_object(rp)) {
        if (cfg_num(c, c->root, "rope_theta", 0, 10000.0, &cfg->rope_theta)) return -1;
    } else if (cfg_num(c, rp, "rope_theta", 0, 10000.0, &cfg->rope_theta)) return -1;
    if (cfg->rope_theta <= 0) return lw_err(c->err, "rope_theta must be positive", "%s: field \"rope_theta\" = %g", c->path, cfg->rope_theta);
    json_t *rs = json_object_get(c->root, "rope_scaling");
    const char *rope_type = NULL;
    if (json_is_object(rs)) {
        json_t *t = json_object_get(rs, "rope_type");
        if (!t) t = json_object_get(rs, "type");
        rope_type = json_is_string(t) ? json_string_value(t) : "?";
    } else if (json_is_object(rp)) {
        json_t *t = json_object_get(rp, "rope_type");
        if (json_is_string(t)) rope_type = json_string_value(t);
    } else if (rs && !json_is_null(rs)) {
        return lw_err(c->err, "expected null or an object", "%s: field \"rope_scaling\" is %s", c->path, json_kind(rs));
    }
    if (rope_type && strcmp(rope_type, "default") != 0)
        return lw_err(c->err, "only plain RoPE is implemented (none of the ten supported checkpoints scales it)",
                      "%s: field \"rope_scaling\": unsupported rope type \"%s\"", c->path, rope_type);

    if (cfg_num(c, c->root, "rms_norm_eps", 1, 0, &cfg->rms_eps)) return -1;
    if (cfg->rms_eps <= 0) return lw_err(c->err, "rms_norm_eps must be positive", "%s: field \"rms_norm_eps\" = %g", c->path, cfg->rms_eps);

    // Activation: must be the one the family's forward pass implements.
    const char *act_key = fi->gelu_tanh ? "hidden_activation" : "hidden_act";
    json_t *act = json_object_get(c->root, act_key);
    if (!act && fi->gelu_tanh) { act_key = "hidden_act"; act = json_object_get(c->root, act_key); }
    if (act && !json_is_null(act)) {
        const char *want = fi->gelu_tanh ? "gelu_pytorch_tanh" : "silu";
        if (!json_is_string(act) || strcmp(json_string_value(act), want) != 0)
            return lw_err(c->err, "this family's forward pass implements only that activation",
                          "%s: field \"%s\" = %s, expected \"%s\" for %s", c->path, act_key,
                          json_is_string(act) ? json_string_value(act) : json_kind(act), want, cfg->arch);
    }
    int attn_bias = 0;
    if (cfg_bool(c, "attention_bias", fi->qkv_bias, &attn_bias)) return -1;
    if (attn_bias && !fi->qkv_bias)
        return lw_err(c->err, "only Qwen2 carries q/k/v biases among the supported families",
                      "%s: field \"attention_bias\" = true is not supported for %s", c->path, cfg->arch);

    // Sliding window: Qwen gates it with use_sliding_window; Llama has none.
    cfg->sliding_window = 0;
    int sw_kind = LW_FAMILIES[cfg->family].sliding_window;
    if (sw_kind) {
        int use_sw = 1;
        if (cfg_bool(c, "use_sliding_window", sw_kind == 2 ? 0 : 1, &use_sw)) return -1;
        if (use_sw && sw_kind == 2)
            return lw_err(c->err, "Qwen's per-layer sliding window (max_window_layers) is not implemented; none of the supported checkpoints enables it",
                          "%s: field \"use_sliding_window\" = true is not supported", c->path);
        // Absent: the transformers default of the families that always have a window (Mistral,
        // Gemma-2: 4096); null: no window.
        json_t *sw = json_object_get(c->root, "sliding_window");
        int dflt = sw ? 0 : sw_kind == 1 ? 4096 : 0;
        if (use_sw && cfg_int(c, "sliding_window", 0, dflt, 1, &cfg->sliding_window)) return -1;
    }

    if (read_sizing(c, cfg)) return -1;

    cfg->attn_softcap = cfg->final_softcap = cfg->query_pre_attn_scalar = 0;
    if (fi->has_softcaps) {
        // Absent keys take the Gemma-2 defaults; an explicit null turns the cap off (as in HF).
        json_t *a = json_object_get(c->root, "attn_logit_softcapping");
        json_t *f = json_object_get(c->root, "final_logit_softcapping");
        if (!a) cfg->attn_softcap = 50.0; else if (cfg_num(c, c->root, "attn_logit_softcapping", 0, 0, &cfg->attn_softcap)) return -1;
        if (!f) cfg->final_softcap = 30.0; else if (cfg_num(c, c->root, "final_logit_softcapping", 0, 0, &cfg->final_softcap)) return -1;
        if (cfg->attn_softcap < 0 || cfg->final_softcap < 0)
            return lw_err(c->err, "soft-caps are positive numbers or null", "%s: field \"attn_logit_softcapping\"/\"final_logit_softcapping\" is negative", c->path);
    }
    if (fi->has_query_pre_attn_scalar) {
        if (cfg_num(c, c->root, "query_pre_attn_scalar", 0, 256.0, &cfg->query_pre_attn_scalar)) return -1;
        if (cfg->query_pre_attn_scalar <= 0)
            return lw_err(c->err, "the attention scale is query_pre_attn_scalar^-0.5", "%s: field \"query_pre_attn_scalar\" must be positive", c->path);
    }
    if (cfg_token_id(c, "bos_token_id", &cfg->bos_id)) return -1;
    if (cfg_token_id(c, "eos_token_id", &cfg->eos_id)) return -1;
    return 0;
}

static int config_read(const char *dir, int shape_only, ModelConfig *cfg, LwError *err) {
    memset(cfg, 0, sizeof *cfg);
    char path[1100];
    if (gguf_checkpoint_path(dir, path, sizeof path)) return model_config_load_gguf(path, cfg, err);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!lw_file_exists(path))
        return lw_err(err, lw_is_dir(dir) ? "a Hugging Face checkpoint directory holds config.json next to its *.safetensors files"
                                          : "pass the checkpoint directory (the one holding config.json)",
                      "%s: missing (no config.json in %s)", path, dir);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return lw_err(err, "the file must be valid JSON", "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
    if (!json_is_object(root)) { json_decref(root); return lw_err(err, "the file must hold one JSON object", "%s: top level is not an object", path); }
    CfgReader c = {path, root, err, shape_only};
    int rc = read_fields(&c, cfg);
    json_decref(root);
    return rc;
}

int model_config_load(const char *dir, ModelConfig *cfg, LwError *err) { return config_read(dir, 0, cfg, err); }

int model_config_load_shape(const char *dir, ModelConfig *cfg, LwError *err) { return config_read(dir, 1, cfg, err); }

int64_t model_config_param_count(const ModelConfig *cfg) {
    const FamilyInfo *fi = &LW_FAMILIES[cfg->family];
    // in double (exact below 2^53, far above any real model), saturating at INT64_MAX: the keys
    // of config.json are each in int range, their products need not be
    double d = cfg->d_model, hd = cfg->head_dim, q = (double)cfg->n_heads * hd, kv = (double)cfg->n_kv_heads * hd;
    double per_layer = q * d + 2 * kv * d + d * q  // q, k, v, o
                     + 3 * d * cfg->d_ff           // gate, up, down
                     + 2 * d;                      // input + post-attention norms
    if (fi->qkv_bias) per_layer += q + 2 * kv;
    if (fi->qk_norm) per_layer += 2 * hd;
    if (fi->sandwich_norms) per_layer += 2 * d;
    double embed = (double)cfg->vocab * d;
    double total = embed * (cfg->tied ? 1 : 2) + d + per_layer * cfg->n_layers;
    return total >= 9.2e18 ? INT64_MAX : (int64_t)total;
}
