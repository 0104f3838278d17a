// batch_size — the batch-size arithmetic of a packed forward pass from the model's sizes alone
// (declared in config/model_config.h): `run` (model/batch.c) and `plan`/`inspect`
// (config/plan_batch.c) use the same formulas, and plan loads no weights.
#include <stdint.h>
#include <stdlib.h>

#include "config/model_config.h"
#include "util/util.h"

size_t model_token_bytes(long n_layers, long d_model, long head_dim, long n_heads, long n_kv, long ff_len, int exact) {
    size_t d = (size_t)d_model, hd = (size_t)head_dim, ff = (size_t)ff_len;
    size_t qw = (size_t)n_heads * hd, kw = (size_t)n_kv * hd;
    size_t resid = (size_t)(n_layers + 1) * d * sizeof(float); // the residual stream it returns
    size_t scratch = (2 * d + 2 * qw + 2 * kw + 2 * ff + hd) * sizeof(float) // a, part, q, att, k, v, gate, up, RoPE rows
                     + d * sizeof(double);                                 // row-parallel partial sums
    if (exact) { // the exact products widen a row of x to double and hold a row of double outputs
        size_t wide = d > qw ? d : qw;
        if (ff > wide) wide = ff;
        scratch += 2 * wide * sizeof(double);
    }
    return resid + scratch;
}

int model_batch_tokens_of(size_t token_bytes, double budget_mb) {
    double n = budget_mb * 1e6 / (double)token_bytes;
    if (!(n >= 1)) return 1;
    return n > INT32_MAX / 2 ? INT32_MAX / 2 : (int)n;
}

int model_batch_plan(const int *lens, int n, int max_tokens, int *first) {
    LW_ASSERT(n >= 0 && max_tokens >= 1 && (n == 0 || lens));
    int nb = 0, i = 0;
    while (i < n) {
        first[nb++] = i;
        int64_t tokens = lens[i++]; // the batch's first prompt goes in even when it alone exceeds the budget
        while (i < n && tokens + lens[i] <= max_tokens) tokens += lens[i++];
    }
    first[nb] = n;
    return nb;
}
