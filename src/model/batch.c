// batch — how many tokens one packed forward pass (model_forward_batch) may hold under a memory
// budget, and the grouping of independent prompts into such batches.
//
// A batch reads every weight matrix once for all its rows, so bigger batches amortize the weight
// traffic (and, on the CPU, the widening of bf16 weights) over more tokens; what grows with the
// batch is the activations, which this file counts per token from the model's sizes on this rank.
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

size_t model_forward_token_bytes(const Model *m) {
    const ModelConfig *c = &m->cfg;
    return model_token_bytes(c->n_layers, c->d_model, c->head_dim, m->tp.n_heads, m->tp.n_kv, m->tp.ff_len, !m->fp32_sums);
}

int model_batch_tokens(const Model *m, double budget_mb) {
    return model_batch_tokens_of(model_forward_token_bytes(m), budget_mb);
}

int model_forward_prompts(const Model *m, const int32_t *const *ids, const int *lens, int n, int max_tokens,
                          Comm *comm, ModelBatchSink each, void *ctx) {
    LW_ASSERT(n >= 0 && ids && lens && each);
    if (n == 0) return 0;
    int *first = xmalloc(sizeof(int) * ((size_t)n + 1)), *off = xmalloc(sizeof(int) * ((size_t)n + 1));
    int nb = model_batch_plan(lens, n, max_tokens, first);
    size_t d = (size_t)m->cfg.d_model, n1 = (size_t)m->cfg.n_layers + 1;
    for (int b = 0; b < nb; b++) {
        int p0 = first[b], np = first[b + 1] - p0, T = 0;
        for (int p = 0; p < np; p++) { off[p] = T; T += lens[p0 + p]; }
        int32_t *bids = xmalloc(sizeof(int32_t) * (size_t)T);
        for (int p = 0; p < np; p++) memcpy(bids + off[p], ids[p0 + p], sizeof(int32_t) * (size_t)lens[p0 + p]);
        float *resid = xmalloc(sizeof(float) * n1 * (size_t)T * d);
        model_forward_batch(m, bids, lens + p0, np, resid, comm);
        for (int p = 0; p < np; p++) each(ctx, p0 + p, resid, T, off[p]);
        free(resid);
        free(bids);
    }
    free(first);
    free(off);
    return nb;
}
