// config/model_config_gguf — a GGUF file's metadata as a ModelConfig (model_config.h).
//
// model_config_load calls this when gguf_checkpoint_path (io/gguf.h) says the path is a GGUF
// checkpoint; model/gguf_load.c then reads the weights of that file.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/model_config.h"

static int key_int(const Gguf *g, const char *key, int required, int64_t dflt, int min, int *out, LwError *err) {
    int64_t v;
    if (gguf_get_int(g, key, required, dflt, &v, err)) return -1;
    if (v < min || v > 2147483647)
        return lw_err(err, "check the value against the model card; the file may be corrupt",
                      "%s: metadata \"%s\" = %lld is out of range (must be >= %d)", g->path, key, (long long)v, min);
    *out = (int)v;
    return 0;
}

int model_config_from_gguf(const Gguf *g, ModelConfig *cfg, LwError *err) {
    memset(cfg, 0, sizeof *cfg);
    char *arch = NULL;
    if (gguf_get_str(g, "general.architecture", 1, &arch, err)) return -1;
    if (strcmp(arch, "llama") != 0) {
        lw_err(err, "lensweep reads GGUF files of architecture \"llama\" (Llama, Mistral, SmolLM); use the model's safetensors checkpoint for other families",
               "%s: metadata \"general.architecture\": unsupported GGUF architecture \"%.100s\"", g->path, arch);
        free(arch);
        return -1;
    }
    free(arch);
    int64_t experts;
    if (gguf_get_int(g, "llama.expert_count", 0, 0, &experts, err)) return -1;
    if (experts > 0)
        return lw_err(err, "mixture-of-experts models (Mixtral-style llama GGUFs) are not implemented; use a dense model",
                      "%s: metadata \"llama.expert_count\" = %lld: unsupported mixture of experts", g->path, (long long)experts);
    cfg->family = FAM_LLAMA;
    snprintf(cfg->arch, sizeof cfg->arch, "%s", LW_FAMILIES[FAM_LLAMA].hf_arch);
    snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "float32"); // dequantized on load

    if (key_int(g, "llama.block_count", 1, 0, 1, &cfg->n_layers, err)) return -1;
    if (key_int(g, "llama.embedding_length", 1, 0, 1, &cfg->d_model, err)) return -1;
    if (key_int(g, "llama.attention.head_count", 1, 0, 1, &cfg->n_heads, err)) return -1;
    if (key_int(g, "llama.attention.head_count_kv", 0, cfg->n_heads, 1, &cfg->n_kv_heads, err)) return -1;
    if (key_int(g, "llama.feed_forward_length", 1, 0, 1, &cfg->d_ff, err)) return -1;
    if (key_int(g, "llama.context_length", 1, 0, 1, &cfg->max_pos, err)) return -1;
    if ((int64_t)cfg->n_layers * 9 > g->n_tensors) // 9 tensors per block
        return lw_err(err, "the metadata and the tensor table disagree; the file is corrupt or incomplete",
                      "%s: metadata \"llama.block_count\" = %d, but the file has only %lld tensors", g->path, cfg->n_layers, (long long)g->n_tensors);
    if (cfg->d_model % cfg->n_heads != 0 && !gguf_find_kv(g, "llama.attention.key_length"))
        return lw_err(err, "the file must state llama.attention.key_length", "%s: metadata \"llama.attention.key_length\" is absent and embedding_length %d is not divisible by head_count %d",
                      g->path, cfg->d_model, cfg->n_heads);
    if (key_int(g, "llama.attention.key_length", 0, cfg->d_model / cfg->n_heads, 2, &cfg->head_dim, err)) return -1;
    int vlen;
    if (key_int(g, "llama.attention.value_length", 0, cfg->head_dim, 1, &vlen, err)) return -1;
    if (cfg->head_dim % 2 != 0 || vlen != cfg->head_dim)
        return lw_err(err, "rotary embeddings need an even head size, equal for keys and values", "%s: metadata \"llama.attention.key_length\" = %d / value_length = %d are not supported",
                      g->path, cfg->head_dim, vlen);
    if (cfg->n_heads % cfg->n_kv_heads != 0)
        return lw_err(err, "grouped-query attention needs whole groups of query heads per kv head",
                      "%s: metadata \"llama.attention.head_count_kv\" = %d does not divide head_count = %d", g->path, cfg->n_kv_heads, cfg->n_heads);
    int rope_dims;
    if (key_int(g, "llama.rope.dimension_count", 0, cfg->head_dim, 1, &rope_dims, err)) return -1;
    if (rope_dims != cfg->head_dim)
        return lw_err(err, "partial rotary embeddings are not implemented", "%s: metadata \"llama.rope.dimension_count\" = %d differs from the head size %d",
                      g->path, rope_dims, cfg->head_dim);
    char *scaling = NULL;
    if (gguf_get_str(g, "llama.rope.scaling.type", 0, &scaling, err)) return -1;
    if (scaling && strcmp(scaling, "none") != 0) {
        lw_err(err, "only plain RoPE is implemented", "%s: metadata \"llama.rope.scaling.type\": unsupported rope scaling \"%.60s\"", g->path, scaling);
        free(scaling);
        return -1;
    }
    free(scaling);
    if (gguf_find_tensor(g, "rope_freqs.weight"))
        return lw_err(err, "only plain RoPE is implemented (Llama 3.1-style frequency factors are not)",
                      "%s: tensor \"rope_freqs.weight\": unsupported rope frequency factors", g->path);
    if (gguf_get_float(g, "llama.rope.freq_base", 0, 10000.0, &cfg->rope_theta, err)) return -1;
    if (gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", 1, 0, &cfg->rms_eps, err)) return -1;
    if (!(cfg->rope_theta > 0) || !isfinite(cfg->rope_theta))
        return lw_err(err, "rope theta must be positive", "%s: metadata \"llama.rope.freq_base\" = %g", g->path, cfg->rope_theta);
    if (!(cfg->rms_eps > 0) || !isfinite(cfg->rms_eps))
        return lw_err(err, "the norm epsilon must be positive", "%s: metadata \"llama.attention.layer_norm_rms_epsilon\" = %g", g->path, cfg->rms_eps);

    // The vocabulary is what the embedding holds (llama.vocab_size is optional and must agree).
    const GgufTensor *emb = gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->ndim != 2)
        return lw_err(err, "every llama GGUF has a 2-D token_embd.weight; the file is incomplete", "%s: tensor \"token_embd.weight\" is %s",
                      g->path, emb ? "not 2-D" : "missing");
    cfg->vocab = (int)emb->dims[1];
    int vs;
    if (key_int(g, "llama.vocab_size", 0, cfg->vocab, 1, &vs, err)) return -1;
    if (vs != cfg->vocab)
        return lw_err(err, "the metadata and the weights disagree; the file is corrupt", "%s: metadata \"llama.vocab_size\" = %d but token_embd.weight has %d rows",
                      g->path, vs, cfg->vocab);
    cfg->tied = gguf_find_tensor(g, "output.weight") == NULL;
    // BOS: only when the file says the model's tokenizer adds it (tokenizer.ggml.add_bos_token,
    // as llama.cpp and transformers' GGUF tokenizer read it); `run` prepends cfg->bos_id.
    int64_t bos, eos;
    int add_bos;
    if (gguf_get_bool(g, "tokenizer.ggml.add_bos_token", 0, 0, &add_bos, err)) return -1;
    if (gguf_get_int(g, "tokenizer.ggml.bos_token_id", 0, -1, &bos, err)) return -1;
    if (!add_bos) bos = -1;
    if (gguf_get_int(g, "tokenizer.ggml.eos_token_id", 0, -1, &eos, err)) return -1;
    cfg->bos_id = bos >= 0 && bos < cfg->vocab ? (int)bos : -1;
    cfg->eos_id = eos >= 0 && eos < cfg->vocab ? (int)eos : -1;
    return 0;
}

int model_config_load_gguf(const char *path, ModelConfig *cfg, LwError *err) {
    Gguf g;
    if (gguf_open(path, &g, err)) return -1;
    int rc = model_config_from_gguf(&g, cfg, err);
    gguf_close(&g);
    return rc;
}
