// lens_stats on hand-made logits, at any rank count: each rank takes its contiguous shard of the
// same global logit vectors (the TENSOR_PARALLEL.md §4 split, ceil(V/R) ids per rank), so the
// same expected values are checked through the real collectives when tests/sh/test_lens_tp.sh
// runs this program under `mpirun -np 2` and `-np 3` (uneven shards). Every expected value says
// where it comes from (hand derivation, or Python's math module in double precision).
#include <stdlib.h>

#include "backend/comm.h"
#include "lens/lens_stats.h"
#include "test.h"

static Comm g_comm;

// This rank's shard of a global vector z[V].
static LensShard shard_of(int V, const float *z, LensDist *d) {
    int R = g_comm.size, per = (V + R - 1) / R;
    LensShard sh = {.comm = &g_comm, .V = V};
    sh.v0 = g_comm.rank * per;
    if (sh.v0 > V) sh.v0 = V;
    sh.vl = V - sh.v0 < per ? V - sh.v0 : per;
    if (d) *d = lens_dist(z + sh.v0);
    return sh;
}

// V = 8 equal logits: P is uniform, p = 1/8, H = log2(8) = 3 bits by both formulas; KL(P‖P) = 0
// exactly (every term is p·(ln(p+ε) − ln(p+ε)) = 0).
TEST(uniform_entropy_is_log2_V) {
    float z[8];
    for (int i = 0; i < 8; i++) z[i] = 0.7f;
    LensDist d;
    LensShard sh = shard_of(8, z, &d);
    LensNorm n;
    lens_normalize(&sh, &d, 1, &n);
    CHECK_NEAR(lens_bits(n.H_nats), 3.0, 1e-6);
    CHECK_NEAR(lens_prob(&n, 0.7f), 0.125, 1e-7);
    LensPair pr;
    lens_pair(&sh, &d, &n, &d, &n, 1, LP_HP | LP_KL_PQ | LP_KL_QP | LP_L1, &pr);
    CHECK_NEAR(lens_bits(pr.h_p), 3.0, 1e-6);
    CHECK(pr.kl_pq == 0.0 && pr.kl_qp == 0.0 && pr.l1 == 0.0);
    // temperature does not change a uniform distribution
    LensDist dt = d;
    dt.xf = LX_DIV;
    dt.a = 2.5f;
    lens_normalize(&sh, &dt, 1, &n);
    CHECK_NEAR(lens_bits(n.H_nats), 3.0, 1e-6);
}

// P = (0.8, 0.1, 0.1), Q = (0.4, 0.3, 0.3) given as log-probabilities (softmax returns them).
// By hand: KL(P‖Q) = 0.8 ln 2 + 0.2 ln(1/3) = 0.3347952867 nats = 0.4830074999 bits;
// KL(Q‖P) = 0.4 ln(1/2) + 0.6 ln 3 = 0.5509775004 bits (values from Python's math module).
// The direction matters: kl_to_final_bits is KL(P_layer ‖ P_final) (METRICS.md §5).
// L1 = 0.4 + 0.2 + 0.2 = 0.8. JS with M = (0.6, 0.2, 0.2): 0.1245112498 bits.
// Entropy of P (probability-vector formula): 0.9219280949 bits.
TEST(kl_direction_js_l1_three_tokens) {
    float zp[3] = {logf(0.8f), logf(0.1f), logf(0.1f)}, zq[3] = {logf(0.4f), logf(0.3f), logf(0.3f)};
    LensDist P, Q;
    LensShard sh = shard_of(3, zp, &P);
    shard_of(3, zq, &Q);
    LensNorm nP, nQ;
    lens_normalize(&sh, &P, 1, &nP);
    lens_normalize(&sh, &Q, 1, &nQ);
    LensPair pr;
    lens_pair(&sh, &P, &nP, &Q, &nQ, 1, LP_KL_PQ | LP_KL_QP | LP_L1 | LP_SUMS | LP_HP | LP_HQ | LP_CE_QP, &pr);
    CHECK_NEAR(lens_bits(pr.kl_pq), 0.4830074998557688, 2e-6);
    CHECK_NEAR(lens_bits(pr.kl_qp), 0.5509775004326936, 2e-6);
    CHECK_NEAR(pr.l1, 0.8, 1e-6);
    CHECK_NEAR(pr.sum_p, 1.0, 1e-6);
    CHECK_NEAR(pr.sum_q, 1.0, 1e-6);
    CHECK_NEAR(lens_bits(pr.h_p), 0.9219280948873624, 2e-6);
    CHECK_NEAR(lens_bits(nP.H_nats), 0.9219280948873624, 2e-6); // logit formula agrees
    // CE(Q, P) = H(Q) + KL(Q‖P)
    CHECK_NEAR(pr.ce_qp, pr.h_q + pr.kl_qp, 1e-6);
    double msum = 0.5 * (pr.sum_p + pr.sum_q), js;
    lens_js(&sh, &P, &nP, &Q, &nQ, 1, &msum, &js);
    CHECK_NEAR(lens_bits(js), 0.12451124978365302, 2e-6);
}

// logits (1, 3, 3, 2, 3): ids 1, 2, 4 tie at the top. answer_rank = 1 + #{p > p_a}: the tie
// does not push id 2 down (rank 1); id 3 has three strictly larger (rank 4); id 0 rank 5.
// Full (p desc, id asc) sort: 1, 2, 4, 3, 0 → 1-based positions id0 5, id1 1, id2 2, id3 4, id4 3.
// Top-4 by logit with ties by id: 1, 2, 4, 3.
TEST(rank_ties_and_topk_order) {
    float z[5] = {1, 3, 3, 2, 3};
    LensDist d;
    LensShard sh = shard_of(5, z, &d);
    LensNorm n;
    lens_normalize(&sh, &d, 1, &n);
    int32_t ids[5] = {2, 3, 0, 4, 1};
    float x[5];
    lens_values_at(&sh, &d, 1, ids, 5, x);
    CHECK(x[0] == 3 && x[1] == 2 && x[2] == 1 && x[3] == 3 && x[4] == 3);
    int64_t above[5];
    lens_count_above(&sh, &d, &n, 1, ids, x, 5, 0, above);
    CHECKF(above[0] == 0 && above[1] == 3 && above[2] == 4 && above[3] == 0 && above[4] == 0,
           "strict counts %lld %lld %lld %lld %lld", (long long)above[0], (long long)above[1], (long long)above[2],
           (long long)above[3], (long long)above[4]);
    lens_count_above(&sh, &d, &n, 1, ids, x, 1, 0, above); // single tracked id path
    CHECK(above[0] == 0);
    lens_count_above(&sh, &d, &n, 1, ids, x, 5, 1, above);
    CHECKF(above[0] == 1 && above[1] == 3 && above[2] == 4 && above[3] == 2 && above[4] == 0,
           "full-sort positions %lld %lld %lld %lld %lld", (long long)above[0], (long long)above[1],
           (long long)above[2], (long long)above[3], (long long)above[4]);
    int32_t top[4];
    float tx[4];
    double tp[4];
    lens_topk(&sh, &d, &n, 1, 4, top, tx, tp);
    CHECKF(top[0] == 1 && top[1] == 2 && top[2] == 4 && top[3] == 3, "top %d %d %d %d", top[0], top[1], top[2], top[3]);
    // p(3) = e^3 / (e + 3e^3 + e^2) = 0.2969… by hand (Python: 0.29692243)
    CHECK_NEAR(tp[0], exp(3.0) / (exp(1.0) + 3 * exp(3.0) + exp(2.0)), 1e-6);
    CHECK(tx[3] == 2.0f);
    // top-k longer than the vocabulary pads with -1 / NaN
    int32_t t8[8];
    double p8[8];
    lens_topk(&sh, &d, &n, 1, 8, t8, NULL, p8);
    CHECK(t8[4] == 0 && t8[5] == -1 && t8[7] == -1 && isnan(p8[6]));
    // a missing id has NaN logit and rank -1
    int32_t bad = -1;
    float xb;
    lens_values_at(&sh, &d, 1, &bad, 1, &xb);
    lens_count_above(&sh, &d, &n, 1, &bad, &xb, 1, 0, above);
    CHECK(isnan(xb) && above[0] == -1);
}

// z_i = 5·sin(i), V = 1000. Python (double): lse = 10.211468295318582, H = 8.287981886218708 bits.
// The per-shard partials merged the way the collectives merge them (MAX of local maxima, then
// sums relative to it) equal the unsharded sums, for an uneven hand split 0..300..301..1000.
TEST(sharded_partials_merge_like_unsharded) {
    enum { V = 1000 };
    static float z[V];
    for (int i = 0; i < V; i++) z[i] = (float)(5.0 * sin((double)i));
    LensDist d;
    LensShard sh = shard_of(V, z, &d);
    LensNorm n;
    lens_normalize(&sh, &d, 1, &n);
    CHECK_NEAR(n.lse, 10.211468295318582, 1e-5);
    CHECK_NEAR(lens_bits(n.H_nats), 8.287981886218708, 1e-5);

    LensDist whole = lens_dist(z);
    float m_all = lens_local_max(&whole, V);
    double S_all, E_all;
    lens_local_sums(&whole, V, m_all, &S_all, &E_all);
    const int cut[4] = {0, 300, 301, V};
    float m = -INFINITY;
    for (int k = 0; k < 3; k++) {
        LensDist part = lens_dist(z + cut[k]);
        float mk = lens_local_max(&part, cut[k + 1] - cut[k]);
        if (mk > m) m = mk;
    }
    CHECK(m == m_all);
    double S = 0, E = 0;
    for (int k = 0; k < 3; k++) {
        LensDist part = lens_dist(z + cut[k]);
        double s, e;
        lens_local_sums(&part, cut[k + 1] - cut[k], m, &s, &e);
        S += s;
        E += e;
    }
    CHECK_NEAR(S, S_all, 1e-12 * S_all);
    CHECK_NEAR(E, E_all, 1e-12 * fabs(E_all));
    CHECK_NEAR(log(S) + m, n.lse, 1e-9);

    // top-5 of the full vector by a direct scan (largest 5·sin(i), i < 1000) vs the merged one
    int32_t top[5];
    lens_topk(&sh, &d, &n, 1, 5, top, NULL, NULL);
    int32_t want[5];
    for (int j = 0; j < 5; j++) {
        int best = -1;
        for (int i = 0; i < V; i++) {
            int used = 0;
            for (int q = 0; q < j; q++) used |= want[q] == i;
            if (!used && (best < 0 || z[i] > z[best])) best = i;
        }
        want[j] = best;
    }
    for (int j = 0; j < 5; j++) CHECKF(top[j] == want[j], "top[%d] = %d, want %d", j, top[j], want[j]);

    // dot products and extremes
    double dots[3];
    lens_dots(&sh, &d, &d, 1, dots);
    double nz = 0;
    for (int i = 0; i < V; i++) nz += (double)z[i] * z[i];
    CHECK_NEAR(dots[0], nz, 1e-9 * nz);
    CHECK_NEAR(dots[1], nz, 1e-9 * nz);
    float ex[4];
    lens_extremes(&sh, &d, 1, ex);
    float zmin = z[0], zabs = 0;
    for (int i = 0; i < V; i++) { if (z[i] < zmin) zmin = z[i]; if (fabsf(z[i]) > zabs) zabs = fabsf(z[i]); }
    CHECK(ex[0] == zabs && ex[1] == zmin && ex[2] == 0 && ex[3] == 0);
}

// The guarded KL of METRICS.md §0.4: a token with p = 0 in Q (logit −inf) and p > 0 in P gives
// p·(ln p − ln 1e-30), finite. P = (0.5, 0.5), Q = (1, 0): KL(P‖Q) = 0.5·(ln 0.5 − 0) +
// 0.5·(ln 0.5 − ln 1e-30) = ln 0.5 + 0.5·69.0776 = 33.8456 nats (by hand).
TEST(kl_guard_keeps_zero_probabilities_finite) {
    float zp[2] = {0, 0}, zq[2] = {0, -INFINITY};
    LensDist P, Q;
    LensShard sh = shard_of(2, zp, &P);
    shard_of(2, zq, &Q);
    LensNorm nP, nQ;
    lens_normalize(&sh, &P, 1, &nP);
    lens_normalize(&sh, &Q, 1, &nQ);
    LensPair pr;
    lens_pair(&sh, &P, &nP, &Q, &nQ, 1, LP_KL_PQ, &pr);
    CHECK_NEAR(pr.kl_pq, log(0.5) + 0.5 * -log(1e-30), 1e-4);
}

int main(int argc, char **argv) {
    comm_init(&g_comm, &argc, &argv);
    RUN(uniform_entropy_is_log2_V);
    RUN(kl_direction_js_l1_three_tokens);
    RUN(rank_ties_and_topk_order);
    RUN(sharded_partials_merge_like_unsharded);
    RUN(kl_guard_keeps_zero_probabilities_finite);
    int rc = test_summary();
    comm_finalize(&g_comm);
    return rc;
}
