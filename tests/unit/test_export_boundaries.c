// Each thresholded milestone rule of METRICS.md §5-§7, §13 at its exact boundary and on both sides
// of it, on the in-memory fixture run (ex_fixture.h) with planted per-layer values. Expectations
// follow from the spec's comparison alone (≤ / ≥ / > as written there): a value exactly at the
// threshold fires for the inclusive rules (first_kl_below_X "inclusive despite the name",
// first_rank_le_X, entropy_collapse, L_surface "≥ echo + δ", geom_crossover "≥ … + γ", cos_milestones
// "≥") and the layer before it lies strictly on the other side, so dropping δ or γ, or changing
// the comparison or the rank by one, moves the milestone.
#define _GNU_SOURCE
#include <stdlib.h>

#include "ex_fixture.h"
#include "export/export_rules.h"
#include "test.h"

typedef struct {
    LwRunConfig c;
    ExRun run;
    ExCopyCols cc;
    ExRows r;
    ExSummary s;
} Case;

static ExNext *case_open(Case *k) {
    config_defaults(&k->c);
    fx_make(&k->run);
    ex_copy_cols(&k->c, &k->cc);
    return &k->run.passes[0].norm;
}
static void case_build(Case *k) {
    ExPass *p = &k->run.passes[0];
    ex_rows_build(&k->c, &k->run, p, &p->norm, &p->raw, &k->cc, &k->r);
    ex_summary_build(&k->c, &k->run, p, &p->norm, &k->r, &k->cc, &k->s);
}
static void case_close(Case *k) {
    ex_summary_free(&k->s);
    ex_rows_free(&k->r);
    ex_run_free(&k->run);
    config_free(&k->c);
}
static int index_of(const double *v, int n, double x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

TEST(kl_milestones_inclusive) {
    Case k;
    ExNext *x = case_open(&k);
    // L1 just above 1.0 (next double), L2 exactly 1.0 -> first_kl_below_1.0 = 2;
    // L3 exactly 0.5 -> first_kl_below_0.5 = 3 (L = n is 0)
    double kl[FX_L1] = {6.0, nextafter(1.0, 2.0), 1.0, 0.5, 0.0};
    memcpy(x->kl_to_final_bits, kl, sizeof kl);
    case_build(&k);
    int i1 = index_of(k.c.kl_milestones_bits.v, k.c.kl_milestones_bits.n, 1.0);
    int i05 = index_of(k.c.kl_milestones_bits.v, k.c.kl_milestones_bits.n, 0.5);
    CHECK(i1 >= 0 && i05 >= 0);
    CHECK(k.s.first_kl[i1] == 2);
    CHECK(k.s.first_kl[i05] == 3);
    CHECK(k.s.first_kl_le_1 == 2);
    case_close(&k);
}

TEST(rank_milestones_inclusive) {
    Case k;
    ExNext *x = case_open(&k);
    // ranks 11, 10, 6, 5, 1: first rank <= 10 at L1, <= 5 at L3, == 1 at L4
    int rk[FX_L1] = {11, 10, 6, 5, 1};
    memcpy(x->answer_rank, rk, sizeof rk);
    case_build(&k);
    CHECK(k.s.first_rank_le_10 == 1);
    CHECK(k.s.first_rank_le_5 == 3);
    CHECK(k.s.L_semantic == 4);
    for (int i = 0; i < k.c.rank_milestones.n; i++) {
        long v = k.c.rank_milestones.v[i];
        CHECKF(k.s.first_rank[i] == (v == 1 ? 4 : v == 5 ? 3 : v == 10 ? 1 : -2), "first_rank_le_%ld = %d", v,
               k.s.first_rank[i]);
    }
    case_close(&k);
}

TEST(entropy_collapse_inclusive) {
    Case k;
    ExNext *x = case_open(&k);
    double h[FX_L1] = {5.0, nextafter(1.0, 2.0), 1.0, 0.5, 3.0};
    memcpy(x->entropy_bits, h, sizeof h);
    case_build(&k);
    CHECK(!k.r.entropy_collapse[1] && k.r.entropy_collapse[2]);
    CHECK(k.s.L_copy_H == 2);
    case_close(&k);
}

TEST(surface_to_meaning_needs_delta) {
    Case k;
    ExNext *x = case_open(&k);
    // echo 0.2 everywhere; answer mass: below echo, echo + δ/2 (> echo but < echo + δ), exactly
    // echo + δ (fires: ≥), then more
    double d = k.c.surface_delta;
    CHECK(d == 0.05);
    for (int L = 0; L < FX_L1; L++) x->echo_mass_prompt[L] = 0.2;
    double pa[FX_L1] = {0.1, 0.2 + d / 2, 0.2 + d, 0.5, 0.6};
    memcpy(x->p_answer, pa, sizeof pa);
    case_build(&k);
    CHECK(k.s.L_surface == 2);
    case_close(&k);
}

TEST(geom_crossover_needs_gamma) {
    Case k;
    ExNext *x = case_open(&k);
    double g = k.c.geom_gamma;
    CHECK(g == 0.02);
    // cos_to_prompt_max 0.3; cos_to_answer below it, above it by γ/2, exactly + γ (fires: ≥)
    for (int L = 0; L < FX_L1; L++) x->cos_to_prompt_max[L] = 0.3;
    double ca[FX_L1] = {0.1, 0.3 + g / 2, 0.3 + g, 0.5, 0.6};
    memcpy(x->cos_to_answer, ca, sizeof ca);
    case_build(&k);
    CHECK(!k.r.geom_crossover[0] && !k.r.geom_crossover[1] && k.r.geom_crossover[2]);
    CHECK(k.s.L_geom == 2);
    case_close(&k);
}

TEST(cos_milestones_inclusive) {
    Case k;
    ExNext *x = case_open(&k);
    double cf[FX_L1] = {nextafter(0.2, 0.0), 0.2, 0.4, nextafter(0.6, 0.0), 0.6};
    memcpy(x->cos_to_final, cf, sizeof cf);
    case_build(&k);
    int want[3] = {1, 2, 4};
    for (int i = 0; i < k.c.cos_milestones.n && i < 3; i++)
        CHECKF(k.s.cos_ge[i] == want[i], "cos ge_%g = %d, want %d", k.c.cos_milestones.v[i], k.s.cos_ge[i], want[i]);
    case_close(&k);
}

TEST(topk_prompt_decay_inclusive) {
    Case k;
    ExNext *x = case_open(&k);
    // the fixture's prompt vocabulary is {30, 3, 4, 11} (ctx [30, 3, 4, 1, 11] without the WSP ",");
    // each layer's top-50 list gets 50 other ids, then " Germany" (3) at the top with mass m_L, so
    // topk_prompt_mass@50 = m_L: just above 0.33, exactly 0.33 (fires: ≤), below
    double m[FX_L1] = {0.5, nextafter(0.33, 1.0), 0.33, 0.1, 0.2};
    for (int L = 0; L < FX_L1; L++) {
        int k2 = 0;
        for (int id = 0; id < FX_V && k2 < FX_K; id++)
            if (id != 3 && id != 4 && id != 11 && id != 30) x->top_ids[L * FX_K + k2++] = id;
        x->top_ids[L * FX_K] = 3;
        x->top_probs[L * FX_K] = m[L];
    }
    CHECK(k.c.prompt_topk_tau == 0.33);
    case_build(&k);
    CHECK(k.r.n_prompt_vocab == 4);
    for (int L = 0; L < FX_L1; L++) CHECKF(k.r.topk_prompt_mass[L] == m[L], "L%d: %.17g", L, k.r.topk_prompt_mass[L]);
    CHECK(k.s.L_topk_decay == 2);
    case_close(&k);
}

TEST(semantic_margin_inclusive) {
    Case k;
    ExNext *x = case_open(&k);
    // rank 1 from L1 on; p_answer - 1/V just below 0.002 at L1 and at least 0.002 at L2, one ulp of
    // p_answer apart (no double p gives p - 1/64 == fl(0.002) exactly, so ≥ vs > is not separable here)
    double d = k.c.semantic_delta_abs, inv_v = 1.0 / FX_V;
    CHECK(d == 0.002);
    double at = inv_v + d;
    while (at - inv_v < d) at = nextafter(at, 1.0);
    while (nextafter(at, 0.0) - inv_v >= d) at = nextafter(at, 0.0);
    CHECK(at - inv_v >= d && nextafter(at, 0.0) - inv_v < d);
    int rk[FX_L1] = {2, 1, 1, 1, 1};
    double pa[FX_L1] = {0.5, nextafter(at, 0.0), at, 0.3, 0.6};
    memcpy(x->answer_rank, rk, sizeof rk);
    memcpy(x->p_answer, pa, sizeof pa);
    case_build(&k);
    CHECK(!k.r.margin_ok[0] && !k.r.margin_ok[1] && k.r.margin_ok[2]); // L0: p large but rank 2
    CHECK(k.s.L_semantic == 1 && k.s.L_margin_ok == 2);
    case_close(&k);
}

TEST(copy_threshold_strict_both_sides) {
    // §6.2: p1 > τ and p1 - p2 > margin, both strict: exactly τ or exactly the margin does not fire,
    // the next double above does
    int ctx[5] = {30, 3, 4, 1, 11}, w[1] = {3};
    CHECK(ex_copy_strict(w, 1, ctx, 5, 0.95, 0.0, 0.95, 0.10, 0) == 0);
    CHECK(ex_copy_strict(w, 1, ctx, 5, nextafter(0.95, 1.0), 0.0, 0.95, 0.10, 0) == 1);
    CHECK(ex_copy_strict(w, 1, ctx, 5, 0.75, 0.75 - 0.10, 0.7, 0.10, 0) == 0);
    CHECK(ex_copy_strict(w, 1, ctx, 5, 0.75, 0.5, 0.7, 0.10, 0) == 1);
    // soft (§6.4): p_top1 > τ_soft, strict
    int h[1] = {3};
    CHECK(ex_copy_soft(h, 1, 1, ctx, 5, 0.5, 0.5) == 0);
    CHECK(ex_copy_soft(h, 1, 1, ctx, 5, nextafter(0.5, 1.0), 0.5) == 1);
}

int main(void) {
    RUN(kl_milestones_inclusive);
    RUN(rank_milestones_inclusive);
    RUN(entropy_collapse_inclusive);
    RUN(surface_to_meaning_needs_delta);
    RUN(geom_crossover_needs_gamma);
    RUN(cos_milestones_inclusive);
    RUN(topk_prompt_decay_inclusive);
    RUN(semantic_margin_inclusive);
    RUN(copy_threshold_strict_both_sides);
    return test_summary();
}
