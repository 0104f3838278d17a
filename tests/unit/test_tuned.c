// test_tuned — the tuned lens's translator form and fit-size rules (src/tuned/tuned.c) against
// the values the spec records (METRICS.md §19.1, §19.2) and a translator worked out by hand.
#include <stdlib.h>

#include "test.h"
#include "tuned/tuned.h"

// §19.1: "Gemma-2-9B: 112; all others: 256". Tiny widths fall to the floor of 64.
TEST(rank_rule_matches_the_recorded_ranks) {
    CHECK(tuned_rank_rule(3584) == 112);  // gemma-2-9b
    CHECK(tuned_rank_rule(4096) == 256);  // Mistral-7B, Llama-3-8B, Qwen3-8B
    CHECK(tuned_rank_rule(4608) == 256);  // gemma-2-27b: 144 by the formula, raised since d >= 4096
    CHECK(tuned_rank_rule(5120) == 256);
    CHECK(tuned_rank_rule(7168) == 256);
    CHECK(tuned_rank_rule(8192) == 256);
    CHECK(tuned_rank_rule(16) == 64);     // B = max(1, 0) = 1 -> floor 64
    CHECK(tuned_rank_rule(576) == 64);    // SmolLM2-135M: B = 18
    CHECK(tuned_rank_rule(2560) == 80);   // B = 80 (between the floor and the cap)
    CHECK(tuned_rank_rule(4095) == 127);  // just below the raise: ⌊4095/32⌋ = 127
}

// §19.2 recorded K_layers / P_pos: Mistral-7B 24/16, Yi-34B 17/12, Llama-3-8B and Mistral-Small
// 12/12, Qwen3 11/12, Gemma-2 8/12.
TEST(layer_and_position_rules_match_the_recorded_values) {
    CHECK(tuned_k_layers_rule(32000, 32) == 24 && tuned_p_pos_rule(32000) == 16);
    CHECK(tuned_k_layers_rule(64000, 60) == 17 && tuned_p_pos_rule(64000) == 12);
    CHECK(tuned_k_layers_rule(128256, 32) == 12 && tuned_p_pos_rule(128256) == 12);
    CHECK(tuned_k_layers_rule(131072, 40) == 12 && tuned_p_pos_rule(131072) == 12);
    CHECK(tuned_k_layers_rule(151936, 36) == 11 && tuned_p_pos_rule(151936) == 12);
    CHECK(tuned_k_layers_rule(256000, 42) == 8 && tuned_p_pos_rule(256000) == 12);
    // a 4-block model has 3 trainable translators: K is capped there
    CHECK(tuned_k_layers_rule(32000, 4) == 3);
    // small vocabularies: 24·√(32000/73) ≈ 502 -> 24; 16·… -> 16
    CHECK(tuned_k_layers_rule(73, 40) == 24 && tuned_p_pos_rule(73) == 16);
}

TEST(temperature_is_softplus_plus_eps) {
    CHECK_NEAR(tuned_tau_of(tuned_theta_init()), 1.0, 1e-12);
    CHECK_NEAR(tuned_tau_of(0.0), log(2.0) + 1e-3, 1e-15);
    CHECK_NEAR(tuned_tau_of(2.0), log1p(exp(2.0)) + 1e-3, 1e-14);
    CHECK_NEAR(tuned_tau_of(-3.0), log1p(exp(-3.0)) + 1e-3, 1e-15);
    CHECK_NEAR(tuned_tau_of(800.0), 800.0 + 1e-3, 1e-9);   // no overflow
    CHECK_NEAR(tuned_tau_of(-800.0), 1e-3, 1e-18);
    // softplus(θ_init) = 0.999 in closed form: θ = ln(e^0.999 − 1)
    CHECK_NEAR(tuned_theta_init(), log(exp(0.999) - 1.0), 1e-15);
}

// d = 3, k = 2, n = 3 blocks (translators 0, 1 stored; 2 is the identity).
//   x = (1, 2, −1), U_0 = [[1,0],[0,1],[1,1]] -> t = x·U = (0, 1)
//   V_0 = [[2,0],[0,3],[1,−1]] -> (t·Vᵀ)_i = Σ_j t_j V_ij = (0, 3, −1), c_0 = (0.5, 0, 0)
//   y = x + (0, 3, −1) + c = (1.5, 5, −2)
TEST(translator_by_hand) {
    TunedLens t;
    tuned_init(&t, 3, 3, 2);
    float U0[6] = {1, 0, 0, 1, 1, 1}, V0[6] = {2, 0, 0, 3, 1, -1}, c0[3] = {0.5f, 0, 0};
    memcpy(t.U, U0, sizeof U0);
    memcpy(t.V, V0, sizeof V0);
    memcpy(t.c, c0, sizeof c0);
    t.log_tau[0] = 0.0f;
    float x[6] = {1, 2, -1, 0, 0, 0}, y[6];
    tuned_apply(&t, 0, x, 2, y, NULL);
    CHECK(y[0] == 1.5f && y[1] == 5.0f && y[2] == -2.0f);
    CHECK(y[3] == 0.5f && y[4] == 0.0f && y[5] == 0.0f);   // x = 0: y = c
    // translator 1 is still zero: the identity
    tuned_apply(&t, 1, x, 1, y, NULL);
    CHECK(y[0] == 1.0f && y[1] == 2.0f && y[2] == -1.0f);
    // the last one is the identity with τ = 1 whatever is stored
    tuned_apply(&t, 2, x, 1, y, NULL);
    CHECK(y[0] == 1.0f && y[1] == 2.0f && y[2] == -1.0f);
    CHECK(tuned_tau(&t, 2) == 1.0);
    CHECK_NEAR(tuned_tau(&t, 0), log(2.0) + 1e-3, 1e-15);
    CHECK_NEAR(tuned_tau(&t, 1), 1.0, 1e-7);   // θ_init stored as fp32
    tuned_free(&t);
}

int main(void) {
    RUN(rank_rule_matches_the_recorded_ranks);
    RUN(layer_and_position_rules_match_the_recorded_values);
    RUN(temperature_is_softplus_plus_eps);
    RUN(translator_by_hand);
    return test_summary();
}
