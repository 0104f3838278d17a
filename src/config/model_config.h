// model_config — the facts about a model that need no weight: the five families as data, the
// checkpoint's config.json (or a GGUF file's metadata) as a ModelConfig, and the tensor-parallel
// rules that say how rank r of R cuts it. One source for everything that reads them: the loader
// and the forward pass (model/), `plan`, `inspect` and the tp_size check of a config
// (config/model_shape.h derives its sizes from a ModelConfig).
#ifndef LW_MODEL_CONFIG_H
#define LW_MODEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "io/gguf.h"
#include "util/util.h"

// ---------------------------------------------------------------------------- families
typedef enum { FAM_LLAMA = 0, FAM_MISTRAL, FAM_QWEN2, FAM_QWEN3, FAM_GEMMA2, FAM_COUNT } Family;

// Everything that distinguishes one family's forward pass from another's (ARCHITECTURES.md §4).
typedef struct {
    const char *name;          // "llama", "mistral", "qwen2", "qwen3", "gemma2" (CLI / mktiny)
    const char *hf_arch;       // config.json "architectures"[0], e.g. "LlamaForCausalLM"
    const char *model_type;    // config.json "model_type", e.g. "llama"
    int norm_plus_one;         // Gemma: RMSNorm scales by (1 + w) computed in fp32
    int embed_scale_sqrt_d;    // Gemma: h = E[ids] * sqrt(d)
    int qkv_bias;              // Qwen2: q/k/v projections carry biases
    int qk_norm;               // Qwen3: RMSNorm over head_dim on q and k before RoPE
    int sandwich_norms;        // Gemma: post-attention, pre- and post-feed-forward norms
    int gelu_tanh;             // Gemma: GELU (tanh approx.) gate; otherwise SiLU
    int tied_embeddings;       // Gemma: unembedding = embed_tokens (always tied)
    int sliding_even_layers;   // Gemma: sliding window only on layers 0, 2, 4, ...
    int has_softcaps;          // Gemma: attention + final logit soft-capping
    int has_query_pre_attn_scalar; // Gemma: attention scale = query_pre_attn_scalar^-0.5
    int no_bos;                // Qwen: prompts get no BOS (METRICS.md §0.3)
    int sliding_window;        // 0: none (Llama); 1: config.json's sliding_window (Mistral, Gemma);
                               // 2: only if use_sliding_window (Qwen; default false, true unsupported)
} FamilyInfo;

extern const FamilyInfo LW_FAMILIES[FAM_COUNT];
// Returns the family for a CLI name ("llama") or -1.
int family_from_name(const char *name);

// ---------------------------------------------------------------------------- config
typedef struct {
    Family family;
    char arch[64];            // as found in config.json
    char torch_dtype[16];     // "bfloat16", "float32", ...
    int n_layers;             // L
    int d_model;              // d
    int n_heads;              // H
    int n_kv_heads;           // KV
    int head_dim;             // hd (explicit in config, else d / H)
    int d_ff;                 // ff
    int vocab;                // V = rows of embed_tokens / lm_head
    int max_pos;              // max_position_embeddings
    double rope_theta;
    double rms_eps;
    int sliding_window;       // 0 = none; applies per family (all layers, or even layers only)
    int tied;                 // unembedding is embed_tokens
    double attn_softcap;      // 0 = none
    double final_softcap;     // 0 = none
    double query_pre_attn_scalar; // 0 = use head_dim
    int bos_id, eos_id;       // -1 when absent
} ModelConfig;

// The BOS id prompts start with (METRICS.md §0.3): none (-1) for families with no_bos; else
// config.json's bos_token_id, else `template_bos` (the tokenizer's post-processor template's).
int family_prompt_bos(const ModelConfig *mc, int template_bos);

// Reads <dir>/config.json (or a GGUF checkpoint's metadata: dir is the .gguf file or a directory
// holding exactly one). Returns 0, or -1 with err naming the file and the field.
int model_config_load(const char *dir, ModelConfig *cfg, LwError *err);
// The same reader asked only for what sizes the weights (`plan`, `inspect`, the tp_size check of a
// config): architectures, the seven shape keys, tie_word_embeddings and the dtype. Keys the forward
// pass alone needs (max_position_embeddings, rms_norm_eps, RoPE, activation, window, soft-caps,
// token ids) are not required and not checked, nor are the relations between the shape keys (an
// even head_dim, whole kv groups); num_key_value_heads and head_dim may be 0 here, for the caller
// to refuse in its own words (config/model_shape.c).
int model_config_load_shape(const char *dir, ModelConfig *cfg, LwError *err);
// ModelConfig from a GGUF file's metadata (general.architecture must be "llama"), the file open
// (io/gguf.h) or at path. Returns 0, or -1 with err naming the file and the key.
int model_config_from_gguf(const Gguf *g, ModelConfig *cfg, LwError *err);
int model_config_load_gguf(const char *path, ModelConfig *cfg, LwError *err);
// Total parameter count of the full (unsharded) model.
int64_t model_config_param_count(const ModelConfig *cfg);

// ---------------------------------------------------------------------------- tensor parallel
// How one rank's slice is cut (TENSOR_PARALLEL.md §2-4).
typedef struct {
    int rank, size;           // tp rank / tp size
    int head_start, n_heads;  // this rank's query heads [head_start, head_start + n_heads)
    int kv_start, n_kv;       // this rank's kv heads (replicated when size > KV)
    int ff_start, ff_len;     // MLP rows (gate/up) = down_proj columns
    int vocab_start, vocab_len; // vocabulary shard of embed / unembed (may be uneven)
    int uneven_heads;         // cut by the uneven whole-head rules (option tp_uneven_heads)
} TpSlice;

// The one set of rules (TENSOR_PARALLEL.md §3, config/tp.c): can R ranks shard a model of H query
// heads, KV kv heads, MLP width ff and V vocabulary rows? uneven_heads is the option
// tp_uneven_heads. The first rule broken, in this order, or TP_FITS; every caller words the reason
// itself (the loader, `plan`, the tp_size check of a config) from these numbers.
typedef enum {
    TP_FITS = 0,
    TP_NO_RANKS,        // R < 1
    TP_HEADS_EXCEED,    // uneven heads: R > H (each rank needs a whole head)
    TP_FF_EXCEED,       // uneven heads: R > ff
    TP_HEADS_UNEVEN,    // R does not divide H
    TP_KV_SPLIT,        // R neither divides KV nor is a multiple of it
    TP_FF_UNEVEN,       // R does not divide ff
    TP_VOCAB_EMPTY,     // shards of ceil(V/R) rows leave the last rank none
} TpRule;
TpRule tp_check(int64_t n_heads, int64_t n_kv_heads, int64_t d_ff, int64_t vocab, int64_t R, int uneven_heads);

// Fills s for rank r of R, or returns -1 and explains in why (naming head counts and valid sizes).
// uneven_heads (option tp_uneven_heads, default off): allow any R <= H with balanced whole-head
// ranges and the kv heads they use loaded on each rank (config/tp.c); recorded in s.
int tp_slice_plan(const ModelConfig *cfg, int r, int R, int uneven_heads, TpSlice *s, char *why, size_t why_len);

// Batch sizes from sizes alone (config/batch_size.c; model/model.h has the Model forms).
// model_token_bytes: the bytes a packed forward holds per token of its batch on one rank (see
// model_forward_token_bytes); n_heads, n_kv and ff_len are that rank's, exact = tp_exact.
// model_batch_tokens_of: the tokens per batch that fit budget_mb (1e6 bytes), at least 1.
size_t model_token_bytes(long n_layers, long d_model, long head_dim, long n_heads, long n_kv, long ff_len, int exact);
int model_batch_tokens_of(size_t token_bytes, double budget_mb);
// Groups prompts 0..n-1, in order, into consecutive batches of at most max_tokens tokens; a
// prompt longer than max_tokens is a batch of its own (run alone, never refused). Writes the
// first prompt of each batch to first[b] and first[n_batches] = n (first holds n + 1 entries);
// returns n_batches.
int model_batch_plan(const int *lens, int n, int max_tokens, int *first);

#endif
