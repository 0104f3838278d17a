// config/tp — how rank r of R cuts every weight (TENSOR_PARALLEL.md §2-4).
//
// Rules (the loader and the forward pass follow this one plan; `plan`, `inspect` and the tp_size
// check of a config ask tp_check, the same rules, through config/model_shape.c):
// * Query heads: R must divide H; rank r owns heads [r·H/R, (r+1)·H/R) (q_proj rows, o_proj
//   columns, q bias entries).
// * KV heads, R <= KV: R must divide KV; rank r owns kv heads [r·KV/R, (r+1)·KV/R), exactly the
//   kv heads its query heads use (query head h uses kv head h / (H/KV)).
// * KV heads, R > KV: R must be a multiple of KV; each kv head is replicated on R/KV consecutive
//   ranks and rank r loads the single kv head r·KV/R (floor). All H/R query heads of rank r use
//   that head because H/R <= H/KV and the boundaries line up (R % KV == 0, H % R == 0).
//   Other R (neither dividing KV nor a multiple of it) would need a rank to hold parts of two
//   kv groups, which the forward pass does not do: refused.
// * MLP: R must divide ff; rank r owns gate/up rows and down_proj columns [r·ff/R, (r+1)·ff/R).
// * Vocabulary (embedding and unembedding rows): shards of ceil(V/R) rows, rank r owns
//   [r·ceil(V/R), min(V, (r+1)·ceil(V/R))); only the last shard may be shorter. This allows any
//   V (the spec's ten models all divide evenly for R <= 16, but padded vocabularies such as
//   151936 with R = 3 need not); a size for which the last rank would get no row is refused.
// * Uneven heads (opt-in, option tp_uneven_heads, passed as uneven_heads; off by default, so the
//   rules above hold): any R up to H (and up to ff). Rank r owns a balanced contiguous range of whole query heads (the first H mod R ranks
//   one more) and the contiguous range of kv heads those query heads use — a kv head whose group
//   straddles two ranks is loaded (and computed) on both, the general form of the replication
//   above. MLP rows are split the same balanced way. Needed by models whose head count has no
//   useful divisor: SmolLM2-135M (the demo) has 9 query and 3 kv heads, so without it only 1, 3
//   and 9 ranks are possible. The forward pass needs nothing else: it already works on head ranges
//   (o_proj columns of the rank's heads, all-reduce of the partial sums).
#include <stdio.h>
#include <string.h>

#include "config/model_config.h"

// Balanced split of n items over R ranks: rank r gets [start, start + len).
static void balanced(int n, int R, int r, int *start, int *len) {
    int base = n / R, extra = n % R;
    *start = r * base + (r < extra ? r : extra);
    *len = base + (r < extra ? 1 : 0);
}

TpRule tp_check(int64_t H, int64_t KV, int64_t ff, int64_t V, int64_t R, int uneven_heads) {
    if (R < 1) return TP_NO_RANKS;
    if (uneven_heads) {
        if (R > H) return TP_HEADS_EXCEED;
        if (R > ff) return TP_FF_EXCEED;
    } else {
        if (H % R != 0) return TP_HEADS_UNEVEN;
        if (R <= KV ? KV % R != 0 : R % KV != 0) return TP_KV_SPLIT;
        if (ff % R != 0) return TP_FF_UNEVEN;
    }
    int64_t shard = (V + R - 1) / R;
    if ((R - 1) * shard >= V) return TP_VOCAB_EMPTY;
    return TP_FITS;
}

// The loader's words for the rule tp_check says R breaks.
static int check_size(const ModelConfig *c, int R, int uneven, char *why, size_t len) {
    switch (tp_check(c->n_heads, c->n_kv_heads, c->d_ff, c->vocab, R, uneven)) {
    case TP_FITS: return 0;
    case TP_NO_RANKS: snprintf(why, len, "tensor-parallel size %d must be >= 1", R); break;
    case TP_HEADS_EXCEED:
        snprintf(why, len, "%d ranks exceed the %d query heads (each rank needs a whole head; H=%d, KV=%d)", R,
                 c->n_heads, c->n_heads, c->n_kv_heads);
        break;
    case TP_FF_EXCEED: snprintf(why, len, "%d ranks exceed the MLP width ff=%d", R, c->d_ff); break;
    case TP_HEADS_UNEVEN:
        snprintf(why, len, "%d query heads (H=%d, KV=%d) cannot be split evenly over %d ranks", c->n_heads, c->n_heads, c->n_kv_heads, R);
        break;
    case TP_KV_SPLIT:
        snprintf(why, len, "%d kv heads (H=%d, KV=%d) cannot be split over or replicated on %d ranks (need R to divide KV or be a multiple of it)",
                 c->n_kv_heads, c->n_heads, c->n_kv_heads, R);
        break;
    case TP_FF_UNEVEN: snprintf(why, len, "MLP width ff=%d is not divisible by %d ranks", c->d_ff, R); break;
    case TP_VOCAB_EMPTY:
        snprintf(why, len, "vocabulary of %d rows leaves the last of %d ranks no row (shards of %lld)", c->vocab, R,
                 (long long)(((int64_t)c->vocab + R - 1) / R));
        break;
    }
    return -1;
}

int tp_slice_plan(const ModelConfig *cfg, int r, int R, int uneven_heads, TpSlice *s, char *why, size_t why_len) {
    char tmp[256];
    if (check_size(cfg, R, uneven_heads, tmp, sizeof tmp)) {
        // Name the sizes that would work, so the user can pick one.
        char valid[256];
        size_t o = 0;
        valid[0] = 0;
        for (int k = 1; k <= cfg->n_heads && o < sizeof valid - 16; k++) {
            char dummy[256];
            if (check_size(cfg, k, uneven_heads, dummy, sizeof dummy) == 0) o += snprintf(valid + o, sizeof valid - o, "%s%d", o ? ", " : "", k);
        }
        snprintf(why, why_len, "%s; valid sizes: %s%s", tmp, valid,
                 uneven_heads ? "" : " (or set tp_uneven_heads: true for uneven whole-head splits)");
        return -1;
    }
    if (r < 0 || r >= R) { snprintf(why, why_len, "rank %d is outside 0..%d", r, R - 1); return -1; }
    memset(s, 0, sizeof *s);
    s->rank = r;
    s->size = R;
    s->uneven_heads = uneven_heads != 0;
    if (uneven_heads) {
        // Balanced head ranges; the kv heads this rank's query heads use (h uses h / (H/KV)).
        int q_per_kv = cfg->n_heads / cfg->n_kv_heads;
        balanced(cfg->n_heads, R, r, &s->head_start, &s->n_heads);
        s->kv_start = s->head_start / q_per_kv;
        s->n_kv = (s->head_start + s->n_heads - 1) / q_per_kv - s->kv_start + 1;
        balanced(cfg->d_ff, R, r, &s->ff_start, &s->ff_len);
        int64_t shard = ((int64_t)cfg->vocab + R - 1) / R;
        s->vocab_start = (int)(r * shard);
        s->vocab_len = (int)((int64_t)cfg->vocab - s->vocab_start < shard ? cfg->vocab - s->vocab_start : shard);
        return 0;
    }
    s->n_heads = cfg->n_heads / R;
    s->head_start = r * s->n_heads;
    if (R <= cfg->n_kv_heads) {
        s->n_kv = cfg->n_kv_heads / R;
        s->kv_start = r * s->n_kv;
    } else {
        s->n_kv = 1;
        s->kv_start = (int)((int64_t)r * cfg->n_kv_heads / R);
    }
    s->ff_len = cfg->d_ff / R;
    s->ff_start = r * s->ff_len;
    int64_t shard = ((int64_t)cfg->vocab + R - 1) / R;
    s->vocab_start = (int)(r * shard);
    s->vocab_len = (int)((int64_t)cfg->vocab - s->vocab_start < shard ? cfg->vocab - s->vocab_start : shard);
    return 0;
}
