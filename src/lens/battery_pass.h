// battery_pass — the "pure next token" measurements of one battery item (docs/BATTERY.md): the
// norm lens at the last prompt position (NEXT) of every layer L = 0..n against the model head,
// computed with the ops and statistics of lens_pass (same normalizers, one unembedding GEMM of
// the n+1 NEXT rows, lens_stats over vocabulary shards), so its values equal the reference
// pass's /lens/norm/<pass>/next datasets for the same prompt and answer at any TP size.
//
// Several acceptable answers: each answer's first token id (aligned after the prompt, METRICS.md
// §2.2) is tracked; answer_rank is the best (smallest) rank among them, p_answer and
// answer_logit belong to that best answer (ties: the first in the item's order), p_answer_any
// is the probability mass of the distinct first tokens together.
//
// Every rank calls it with the same arguments (collectives inside); every rank gets the values.
#ifndef LW_BATTERY_PASS_H
#define LW_BATTERY_PASS_H

#include <stdint.h>

#include "lens/lens_pass.h"

#define BATTERY_TOPK 5 // top-k kept per layer (p_top5; the reference's topk_pure)

// Per layer arrays [n+1] (caller-allocated), then the model head at NEXT.
typedef struct {
    double *entropy_bits;     // entropy of the lens distribution (from logits, bits)
    double *kl_to_final_bits; // KL(P_L || P_final), bits
    double *p_answer;         // probability of the best-ranked answer's first token
    double *p_answer_any;     // Σ over the distinct first tokens of the answers
    double *answer_logit;     // that token's lens logit
    int32_t *answer_rank;     // best rank (1 = top-1) among the answers' first tokens; -1 unknown
    int32_t *answer_best;     // index (0-based) of the answer with that rank; -1
    int32_t *top_ids;         // [n+1, BATTERY_TOPK]
    double *top_probs;        // [n+1, BATTERY_TOPK]
    double teacher_entropy_bits; // model head entropy at NEXT (bits, probability-vector form)
    int32_t final_top1;
    double final_top1_prob;
    int first_rank1;          // first layer with answer_rank == 1, -1
} BatteryItemStats;

// resid: [(n+1), T, d] of the item's forward pass; first_ids[n_answers] the answers' first ids.
void lens_battery_item(const LensRun *lr, const float *resid, int T, const int32_t *first_ids, int n_answers,
                       BatteryItemStats *out);

// The norm lens at the positions [t0, T) of the item's prompt, every layer (battery_positions,
// docs/BATTERY.md): for each position t and layer L the entropy (bits, from logits) and the top-K
// ids and probabilities, the values a reference pass of the same prompt stores for (L, t) in
// /lens/norm/<pass>/entropy_bits, topk_ids and topk_probs (the same calls: the layer's norm,
// one unembedding GEMM per chunk of rows, lens_normalize_topk). Rows are position-major: row
// r = t - t0 holds H[r * (n+1) + L], ids and probs [r * (n+1) + L] * K .. + K. Every rank calls it
// (collectives inside); every rank gets the values.
void lens_battery_positions(const LensRun *lr, const float *resid, int T, int t0, int K, double *H, int32_t *ids,
                            double *probs);

#endif
