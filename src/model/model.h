// model — one rank's slice of a checkpoint's weights, and the forward pass that keeps the fp32
// residual stream of every layer. The families, the checkpoint's config and the tensor-parallel
// rules are config/model_config.h (they need no weight: `plan` reads them too).
//
// Contract shared by the loader (model/load.c), the forward pass (model/forward.c), the lens
// (lens/) and tensor parallelism. A Model always describes ONE rank's slice: with tp_size = 1
// the slice is the whole model. Weights keep their stored dtype (bf16 stays bf16); products
// widen to fp32 in the backend's ops (backend/backend.h). Norm weights, biases and q/k-norm weights are small and are
// kept as fp32, already including any family offset (Gemma's 1 + w is applied at load, so
// every norm multiplies by the stored vector as is).
#ifndef LW_MODEL_H
#define LW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/comm.h"
#include "config/model_config.h"
#include "util/dtype.h"
#include "util/util.h"

// ---------------------------------------------------------------------------- weights
typedef struct {
    DType dtype;
    int64_t rows, cols;       // stored [out, in] layout, row-major
    void *data;
} Mat;

typedef struct {
    Mat wq, wk, wv, wo;       // wq [n_heads*hd, d], wk/wv [n_kv*hd, d], wo [d, n_heads*hd] (local)
    float *bq, *bk, *bv;      // Qwen2 biases (local slices), else NULL
    float *q_norm, *k_norm;   // Qwen3 [hd], else NULL
    float *ln_in;             // input_layernorm [d]
    float *ln_post_attn;      // post_attention_layernorm [d] (pre-MLP norm for Llama-style)
    float *ln_pre_ffn;        // Gemma pre_feedforward_layernorm [d], else NULL
    float *ln_post_ffn;       // Gemma post_feedforward_layernorm [d], else NULL
    Mat wgate, wup, wdown;    // wgate/wup [ff_len, d], wdown [d, ff_len] (local)
} LayerWeights;

typedef struct Model {
    const Backend *backend;   // the op table every forward/lens op runs on, chosen at load time;
                              // the weights live in its memory
    ModelConfig cfg;
    TpSlice tp;
    char dir[1024];           // checkpoint directory (or GGUF file)
    char name[256];           // basename of the checkpoint directory, e.g. "Meta-Llama-3-8B"
    Mat embed;                // [vocab_len, d] rows vocab_start.. of embed_tokens
    Mat unembed;              // [vocab_len, d] lm_head slice; same memory as embed when tied
    float *ln_final;          // model.norm [d]
    LayerWeights *layers;     // [n_layers]
    void *arena;              // one allocation carved into all tensors above
    size_t arena_bytes;
    int arena_on_backend;     // 1: the arena is the backend's memory (alloc/upload; CUDA), 0: host
    size_t bytes_read;        // checkpoint bytes this rank read
    int fp32_sums;            // 1: plain fp32 sgemm products (option tp_exact: false); 0: double
                              // accumulation, results independent of the TP size (forward.c)
    Comm *dev_comm;           // the forward pass's collectives on backend memory when that is not
                              // host memory (CUDA: NCCL, backend/comm_nccl.h); NULL: the comm passed
} Model;

// Loads this rank's slice of the checkpoint at dir (HF safetensors directory; later also GGUF)
// for backend_default() (backend.h; the caller runs its init first where a late out-of-memory
// would hurt, as `run` does). Reads only the slices it needs. Returns NULL with err set (file + tensor + hint) on bad input.
// The weights are read into a host arena; on a backend whose memory is not host memory (CUDA)
// the arena is then uploaded into one backend allocation, every tensor pointer moved with it,
// and the host copy freed.
Model *model_load(const char *dir, int tp_rank, int tp_size, LwError *err);
// The same with what the caller already knows (NULL: as model_load).
typedef struct {
    const ModelConfig *cfg;   // the checkpoint's config, already read (model_config_load): not read
                              // again; NULL: read here
    int uneven_heads;         // option tp_uneven_heads (tp_slice_plan); 0: the even rules
} ModelLoadOpts;
Model *model_load_ex(const char *dir, int tp_rank, int tp_size, const ModelLoadOpts *o, LwError *err);
void model_free(Model *m);

// ---------------------------------------------------------------------------- forward pass
// Runs ids[0..T) through the model. Writes the residual stream in fp32:
//   resid[((size_t)l * T + t) * d + j], l = 0..L  (l = 0: embedding output incl. Gemma scale;
//   l = i: output of block i-1, un-normed; l = L: raw output of the last block).
// resid must hold (L+1)*T*d floats. comm may be NULL for a single rank. ids, resid and the buffers
// of the three functions below are HOST memory: on a backend with its own memory (CUDA) the
// pass runs on backend copies (model/forward.c), on the CPU in place.
void model_forward(const Model *m, const int32_t *ids, int T, float *resid, Comm *comm);

// A packed batch of n_prompts independent prompts in one forward pass: ids holds them one after
// another (prompt p has lens[p] > 0 tokens, starting at row off_p = lens[0] + ... + lens[p-1]),
// T = Σ lens rows in all. Every projection runs on all T rows at once (each weight matrix is read
// once per batch); attention stays within each prompt (its own causal mask, sliding window and
// softcap) and RoPE positions restart at 0 with each prompt, so prompt p's residuals equal
// model_forward on that prompt alone: bit for bit with tp_exact (products accumulated in double:
// a row's result does not depend on the other rows), within fp32 summation noise with
// tp_exact: false (sgemm rounds a row differently depending on the call's row count; bounds:
// tests/unit/test_forward_batch.c). resid [(L+1), T, d] as for model_forward: prompt p, position
// t of layer l at resid[((size_t)l * T + off_p + t) * d]; model_batch_resid copies one prompt's
// residuals out into the [(L+1), T_p, d] layout model_forward writes.
void model_forward_batch(const Model *m, const int32_t *ids, const int *lens, int n_prompts, float *resid,
                         Comm *comm);
void model_batch_resid(const Model *m, const float *resid, int T_batch, int off, int T, float *out);

// Batch size from a memory budget (model/batch.c; option batch_memory_mb). model_forward_token_bytes:
// the bytes a forward pass holds per token of its batch on this rank — the residual stream it
// returns ((L+1)·d fp32) and its scratch (the normed input, q/k/v, the attention output, the
// gate/up rows of this rank's MLP slice, the RoPE rows, the double partial sums, and with
// tp_exact the rows widened to double for the exact products). Not counted: the weights, and the
// attention score tile of at most 128 × (longest prompt) fp32 per call, which does not grow with
// the batch. model_batch_tokens: the tokens per batch that fit budget_mb (1e6 bytes), at least 1.
// model_token_bytes and model_batch_tokens_of: the same from sizes alone, for `lensweep plan` and
// `inspect` (no weights loaded): n_heads, n_kv and ff_len are one rank's (model/tp.c), exact = tp_exact.
size_t model_forward_token_bytes(const Model *m);
int model_batch_tokens(const Model *m, double budget_mb);

// model_token_bytes, model_batch_tokens_of and model_batch_plan: config/model_config.h.

// Runs n independent prompts (prompt p: ids[p][0 .. lens[p])) in the batches model_batch_plan
// makes for max_tokens, and hands each prompt's residuals to `each` as soon as its batch is done:
// each(ctx, p, resid, T_batch, off) with resid the batch's [(L+1), T_batch, d] host buffer and
// the prompt at rows off .. off + lens[p] - 1 (model_batch_resid copies them out); the buffer is
// freed after the batch. Every rank calls it with the same prompts (the forward's collectives).
// Returns the number of batches.
typedef void (*ModelBatchSink)(void *ctx, int prompt, const float *resid, int T_batch, int off);
int model_forward_prompts(const Model *m, const int32_t *const *ids, const int *lens, int n, int max_tokens,
                          Comm *comm, ModelBatchSink each, void *ctx);

// RMSNorm of `rows` rows of length d with weight w (family conventions: statistics in fp32,
// eps = rms_eps; Gemma's (1+w) already folded into w at load).
void model_rmsnorm(const Model *m, const float *w, const float *x, float *out, int rows);

// Local vocabulary shard of the unembedding: out[rows, vocab_len] = x[rows, d] · unembedᵀ (fp32).
void model_unembed(const Model *m, const float *x, int rows, float *out);

// Rows ids[0..n) of the full unembedding (lm_head, or embed_tokens when tied) in fp32 HOST memory,
// the same on every rank: the backend's vocab-parallel lookup (embed_rows, as the embedding in the
// forward pass) on this rank's shard, zeros for the rows of other shards and for ids < 0, then an
// all-reduce over comm (NULL: one rank) with one non-zero term per element, so exact. Returns a
// malloc'd [n, d] array (one row of zeros when n = 0).
float *model_unembed_rows(const Model *m, const int32_t *ids, int n, Comm *comm);

// The model's final logits (local vocab shard) for `rows` raw last-layer residuals:
// final norm, unembed, then the family's final soft-cap (Gemma). out: [rows, vocab_len].
void model_final_logits(const Model *m, const float *r_last, int rows, float *out);

// model_unembed and model_final_logits writing into BACKEND memory (out from m->backend->alloc,
// or host memory on a backend with host_memory): the lens's logits stay on the device, x and
// r_last are host memory as above (uploaded). The same values as the host forms.
void model_unembed_bk(const Model *m, const float *x, int rows, float *out);
void model_final_logits_bk(const Model *m, const float *r_last, int rows, float *out);

#endif
