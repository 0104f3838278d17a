// test_tuned_fit — the tuned-lens fit's math (src/tuned/tuned_fit.c).
//
// Gradients: the loss of METRICS.md §19.2 (CE to the teacher + the L2 and neighbour penalties) is
// evaluated here a second, independent way — plain double loops over the formula, no sgemm, no
// tuned_apply — and its central finite differences are the expected values for the analytic
// gradients of U, V, c, θ (through τ = softplus(θ) + 1e-3), the translator input x and, through
// the RMSNorm, the hidden state h. The optimizer's first step is checked against the closed form
// (bias-corrected moments equal g and g²), the sampling against the spec's window, and a small
// fit must recover a known invertible affine map (the student then matches the teacher: KL → 0).
#include <stdlib.h>

#include "test.h"
#include "tuned/tuned_fit.h"

enum { D = 8, K = 4, NV = 37, NL = 4, ROWS = 5 };

static double urand(uint64_t *s) { return (double)(tuned_rng_next(s) >> 11) / 9007199254740992.0 * 2.0 - 1.0; }

// The whole problem in double: translator l of a 4-block model (neighbours l−1 and l+1 trainable).
typedef struct {
    double U[NL - 1][D][K], V[NL - 1][D][K], c[NL - 1][D], th[NL - 1];
    double x[ROWS][D], W[NV][D], zt[ROWS][NV], h[ROWS][D], w[D];
} Prob;

static void teacher_p(const Prob *P, double p[ROWS][NV]) {
    for (int r = 0; r < ROWS; r++) {
        double m = -1e300, s = 0;
        for (int v = 0; v < NV; v++) m = fmax(m, P->zt[r][v]);
        for (int v = 0; v < NV; v++) s += exp(P->zt[r][v] - m);
        for (int v = 0; v < NV; v++) p[r][v] = exp(P->zt[r][v] - m) / s;
    }
}

// CE(teacher, student) mean over rows + penalties, all in double, for translator l on inputs x.
static double loss_ref(const Prob *P, int l, const double x[ROWS][D], int with_pen) {
    double p[ROWS][NV], tau = log1p(exp(P->th[l])) + 1e-3, ce = 0;
    teacher_p(P, p);
    for (int r = 0; r < ROWS; r++) {
        double t[K] = {0}, y[D], s[NV], m = -1e300, S = 0, A = 0;
        for (int j = 0; j < K; j++)
            for (int i = 0; i < D; i++) t[j] += x[r][i] * P->U[l][i][j];
        for (int i = 0; i < D; i++) {
            y[i] = x[r][i] + P->c[l][i];
            for (int j = 0; j < K; j++) y[i] += t[j] * P->V[l][i][j];
        }
        for (int v = 0; v < NV; v++) {
            s[v] = 0;
            for (int i = 0; i < D; i++) s[v] += y[i] * P->W[v][i];
            s[v] /= tau;
            m = fmax(m, s[v]);
        }
        for (int v = 0; v < NV; v++) { S += exp(s[v] - m); A += p[r][v] * s[v]; }
        ce += m + log(S) - A;
    }
    ce /= ROWS;
    if (!with_pen) return ce;
    double pen = 0;
    for (int i = 0; i < D; i++) {
        pen += 1e-4 * P->c[l][i] * P->c[l][i];
        for (int j = 0; j < K; j++) {
            pen += 1e-4 * (P->U[l][i][j] * P->U[l][i][j] + P->V[l][i][j] * P->V[l][i][j]);
            for (int nb = l - 1; nb <= l + 1; nb += 2) {
                if (nb < 0 || nb > NL - 2) continue;
                double a = P->U[l][i][j] - P->U[nb][i][j], b = P->V[l][i][j] - P->V[nb][i][j];
                pen += 1e-4 * (a * a + b * b);
            }
        }
    }
    return ce + pen;
}

static void make_prob(Prob *P, uint64_t seed) {
    uint64_t s = seed;
    for (int l = 0; l < NL - 1; l++) {
        for (int i = 0; i < D; i++) {
            for (int j = 0; j < K; j++) { P->U[l][i][j] = 0.4 * urand(&s); P->V[l][i][j] = 0.4 * urand(&s); }
            P->c[l][i] = 0.3 * urand(&s);
        }
        P->th[l] = -0.4 + 0.3 * l; // τ ≈ 0.51, 0.70, 0.91
    }
    for (int v = 0; v < NV; v++)
        for (int i = 0; i < D; i++) P->W[v][i] = urand(&s);
    for (int r = 0; r < ROWS; r++) {
        for (int i = 0; i < D; i++) P->x[r][i] = 1.5 * urand(&s);
        for (int v = 0; v < NV; v++) P->zt[r][v] = 3.0 * urand(&s);
        for (int i = 0; i < D; i++) P->h[r][i] = 2.0 * urand(&s);
    }
    for (int i = 0; i < D; i++) P->w[i] = 0.5 + urand(&s) * 0.4;
    // the translator input is the RMSNorm of h (for the hidden-state gradient)
    for (int r = 0; r < ROWS; r++) {
        double ms = 0;
        for (int i = 0; i < D; i++) ms += P->h[r][i] * P->h[r][i];
        double rs = 1.0 / sqrt(ms / D + 1e-5);
        for (int i = 0; i < D; i++) P->x[r][i] = P->h[r][i] * rs * P->w[i];
    }
}

// the code under test's view: fp32 arrays
typedef struct {
    TunedLens t;
    float W[NV * D], x[ROWS * D], zt[ROWS * NV], p[ROWS * NV];
    double ent[ROWS];
    TunedVocab tv;
} Fp;

static void to_fp(const Prob *P, Fp *F) {
    tuned_init(&F->t, D, NL, K);
    for (int l = 0; l < NL - 1; l++) {
        for (int i = 0; i < D; i++) {
            for (int j = 0; j < K; j++) {
                F->t.U[(l * D + i) * K + j] = (float)P->U[l][i][j];
                F->t.V[(l * D + i) * K + j] = (float)P->V[l][i][j];
            }
            F->t.c[l * D + i] = (float)P->c[l][i];
        }
        F->t.log_tau[l] = (float)P->th[l];
    }
    for (int v = 0; v < NV; v++)
        for (int i = 0; i < D; i++) F->W[v * D + i] = (float)P->W[v][i];
    for (int r = 0; r < ROWS; r++) {
        for (int i = 0; i < D; i++) F->x[r * D + i] = (float)P->x[r][i];
        for (int v = 0; v < NV; v++) F->zt[r * NV + v] = (float)P->zt[r][v];
    }
    F->tv = (TunedVocab){.d = D, .vl = NV, .W = F->W, .comm = NULL};
    tuned_fit_teacher(&F->tv, F->zt, ROWS, F->p, F->ent);
}

// the double problem rounded to fp32 (so that both paths see the same numbers)
static void round_prob(Prob *P) {
    double *a = &P->U[0][0][0];
    size_t n = sizeof(Prob) / sizeof(double);
    for (size_t i = 0; i < n; i++) a[i] = (float)a[i];
}

// central difference of loss_ref in one double entry
static double fd(Prob *P, int l, double *entry, int with_pen) {
    double h = 1e-6, keep = *entry;
    *entry = keep + h;
    double lp = loss_ref(P, l, (const double(*)[D])P->x, with_pen);
    *entry = keep - h;
    double lm = loss_ref(P, l, (const double(*)[D])P->x, with_pen);
    *entry = keep;
    return (lp - lm) / (2 * h);
}

static double max_abs_diff(const float *a, const double *b, int n, double *scale) {
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) { m = fmax(m, fabs(a[i] - b[i])); s = fmax(s, fabs(b[i])); }
    *scale = s;
    return m;
}

TEST(teacher_is_the_softmax_and_its_entropy) {
    Prob P;
    make_prob(&P, 11);
    round_prob(&P);
    Fp F;
    to_fp(&P, &F);
    double p[ROWS][NV], e = 0;
    teacher_p(&P, p);
    for (int r = 0; r < ROWS; r++) {
        double h = 0;
        for (int v = 0; v < NV; v++) { e = fmax(e, fabs(F.p[r * NV + v] - p[r][v])); h -= p[r][v] * log(p[r][v]); }
        CHECK_NEAR(F.ent[r], h, 1e-7); // fp32 exps
    }
    CHECKF(e < 1e-7, "max |p - p_ref| %.3g", e);
    tuned_free(&F.t);
}

TEST(loss_and_parameter_gradients_match_finite_differences) {
    Prob P;
    make_prob(&P, 7);
    round_prob(&P);
    Fp F;
    to_fp(&P, &F);
    int l = 1; // neighbours 0 and 2 both trainable
    TunedGrad g;
    tuned_grad_init(&g, D, K);
    double kl;
    double ce = tuned_fit_ce(&F.tv, &F.t, l, F.x, ROWS, F.p, F.ent, 1.0, &g, NULL, &kl);
    double pen = tuned_fit_penalty(&F.t, l, 1.0, &g);
    double ref = loss_ref(&P, l, (const double(*)[D])P.x, 1), ref_ce = loss_ref(&P, l, (const double(*)[D])P.x, 0);
    CHECK_NEAR(ce, ref_ce, 1e-5 * fabs(ref_ce));
    CHECK_NEAR(ce + pen, ref, 1e-5 * fabs(ref));
    double hsum = 0;
    for (int r = 0; r < ROWS; r++) hsum += F.ent[r];
    CHECK_NEAR(kl, ce - hsum / ROWS, 1e-12);
    CHECK(kl > 0);

    double eU[D * K], eV[D * K], ec[D], scale;
    for (int i = 0; i < D; i++) {
        for (int j = 0; j < K; j++) {
            eU[i * K + j] = fd(&P, l, &P.U[l][i][j], 1);
            eV[i * K + j] = fd(&P, l, &P.V[l][i][j], 1);
        }
        ec[i] = fd(&P, l, &P.c[l][i], 1);
    }
    double dU = max_abs_diff(g.U, eU, D * K, &scale);
    CHECKF(dU < 1e-4 * scale && scale > 1e-3, "dU: max err %.3g of max %.3g", dU, scale);
    double dV = max_abs_diff(g.V, eV, D * K, &scale);
    CHECKF(dV < 1e-4 * scale && scale > 1e-3, "dV: max err %.3g of max %.3g", dV, scale);
    double dc = max_abs_diff(g.c, ec, D, &scale);
    CHECKF(dc < 1e-4 * scale && scale > 1e-3, "dc: max err %.3g of max %.3g", dc, scale);
    double eth = fd(&P, l, &P.th[l], 1);
    CHECKF(fabs(g.theta - eth) < 1e-4 * fabs(eth) && fabs(eth) > 1e-3, "dtheta %.9g vs fd %.9g", g.theta, eth);
    printf("    gradient errors vs finite differences: U %.2g V %.2g c %.2g (of max %.2g) theta %.2g (of %.2g)\n", dU, dV, dc,
           scale, fabs(g.theta - eth), fabs(eth));

    // scale multiplies every gradient; the penalty gradient is separate from the CE's
    TunedGrad g2;
    tuned_grad_init(&g2, D, K);
    tuned_fit_ce(&F.tv, &F.t, l, F.x, ROWS, F.p, F.ent, 0.25, &g2, NULL, NULL);
    tuned_fit_penalty(&F.t, l, 0.25, &g2);
    CHECK_NEAR(g2.theta, 0.25 * g.theta, 1e-12 + 1e-6 * fabs(g.theta));
    CHECK_NEAR(g2.U[3], 0.25 * g.U[3], 1e-6 * fabs(g.U[3]) + 1e-9);
    tuned_grad_free(&g);
    tuned_grad_free(&g2);
    tuned_free(&F.t);
}

TEST(edge_translators_have_one_neighbour) {
    Prob P;
    make_prob(&P, 9);
    round_prob(&P);
    Fp F;
    to_fp(&P, &F);
    for (int l = 0; l < NL - 1; l += NL - 2) { // 0 (no l−1) and n−2 (l+1 is the identity)
        TunedGrad g;
        tuned_grad_init(&g, D, K);
        double ce = tuned_fit_ce(&F.tv, &F.t, l, F.x, ROWS, F.p, F.ent, 1.0, &g, NULL, NULL);
        double pen = tuned_fit_penalty(&F.t, l, 1.0, &g);
        CHECK_NEAR(ce + pen, loss_ref(&P, l, (const double(*)[D])P.x, 1), 1e-5);
        double e = fd(&P, l, &P.U[l][2][1], 1);
        CHECKF(fabs(g.U[2 * K + 1] - e) < 1e-4 * fabs(e) + 1e-7, "l %d dU[2][1] %.9g vs %.9g", l, g.U[2 * K + 1], e);
        tuned_grad_free(&g);
    }
    tuned_free(&F.t);
}

TEST(hidden_state_gradients_match_finite_differences) {
    Prob P;
    make_prob(&P, 5);
    round_prob(&P);
    Fp F;
    to_fp(&P, &F);
    int l = 2;
    float dx[ROWS * D], dh[ROWS * D], h[ROWS * D], w[D];
    tuned_fit_ce(&F.tv, &F.t, l, F.x, ROWS, F.p, F.ent, 1.0, NULL, dx, NULL);
    double ex[ROWS * D], scale;
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < D; i++) ex[r * D + i] = fd(&P, l, &P.x[r][i], 0);
    double e = max_abs_diff(dx, ex, ROWS * D, &scale);
    CHECKF(e < 1e-4 * scale && scale > 1e-3, "dx: max err %.3g of max %.3g", e, scale);

    // through the RMSNorm: loss(h) = loss(x(h)); finite differences of h in double
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < D; i++) h[r * D + i] = (float)P.h[r][i];
    for (int i = 0; i < D; i++) w[i] = (float)P.w[i];
    tuned_rmsnorm_backward(h, w, dx, dh, ROWS, D, 1e-5);
    double eh[ROWS * D];
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < D; i++) {
            double v[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                Prob Q = P;
                Q.h[r][i] += sgn ? -1e-6 : 1e-6;
                double ms = 0;
                for (int j = 0; j < D; j++) ms += Q.h[r][j] * Q.h[r][j];
                double rs = 1.0 / sqrt(ms / D + 1e-5);
                for (int j = 0; j < D; j++) Q.x[r][j] = Q.h[r][j] * rs * Q.w[j];
                v[sgn] = loss_ref(&Q, l, (const double(*)[D])Q.x, 0);
            }
            eh[r * D + i] = (v[0] - v[1]) / 2e-6;
        }
    double e2 = max_abs_diff(dh, eh, ROWS * D, &scale);
    CHECKF(e2 < 1e-3 * scale && scale > 1e-3, "dh: max err %.3g of max %.3g", e2, scale);
    printf("    dx error %.2g, dh error %.2g (of max %.2g)\n", e, e2, scale);
    tuned_free(&F.t);
}

// First AdamW step from zero moments: the bias-corrected moments are g and g², so
// p1 = p0 (1 − lr·wd) − lr · g / (|g| + eps) exactly in real arithmetic.
TEST(adamw_first_step_closed_form) {
    TunedLens t;
    tuned_init(&t, 2, 3, 1);
    t.U[0] = 0.5f; t.U[1] = -0.25f; t.V[0] = 0; t.V[1] = 1.0f; t.c[0] = 0.1f; t.c[1] = -2.0f;
    float th0 = t.log_tau[0];
    TunedAdam a;
    tuned_adam_init(&a, 2, 1, 2);
    TunedGrad g;
    tuned_grad_init(&g, 2, 1);
    g.U[0] = 0.3f; g.U[1] = -1e-3f; g.V[0] = 2.0f; g.V[1] = 0; g.c[0] = -0.5f; g.c[1] = 1e-9f; g.theta = -0.7;
    TunedAdamHyper hy = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-4};
    tuned_adam_step(&t, &a, 0, &g, 1e-3, &hy);
    double dec = 1.0 - 1e-7;
    // tolerance: one fp32 ulp of the stored value (2.4e-7 at 2)
    CHECK_NEAR(t.U[0], 0.5 * dec - 1e-3 * 0.3 / (0.3 + 1e-8), 6e-8);
    CHECK_NEAR(t.U[1], -0.25 * dec + 1e-3 * 1e-3 / (1e-3 + 1e-8), 3e-8);
    CHECK_NEAR(t.V[0], 0 - 1e-3, 1e-10);
    CHECK_NEAR(t.V[1], 1.0 * dec, 1.2e-7);           // zero gradient: decay only
    CHECK_NEAR(t.c[0], 0.1 * dec + 1e-3, 1.5e-8);
    CHECK_NEAR(t.c[1], -2.0 * dec - 1e-3 * 1e-9 / (1e-9 + 1e-8), 2.4e-7); // |g| ≪ eps: a small step
    CHECK_NEAR(t.log_tau[0], th0 * dec + 1e-3, 6e-8);
    CHECK(a.steps[0] == 1 && a.steps[1] == 0);
    // translator 1 untouched
    CHECK(t.U[2] == 0 && t.log_tau[1] == th0);
    tuned_grad_free(&g);
    tuned_adam_free(&a);
    tuned_free(&t);
}

TEST(cosine_schedule) {
    CHECK_NEAR(tuned_lr_cosine(1e-3, 0, 100), 1e-3, 1e-18);
    CHECK_NEAR(tuned_lr_cosine(1e-3, 50, 100), 0.5e-3, 1e-15);
    CHECK_NEAR(tuned_lr_cosine(1e-3, 100, 100), 0, 1e-18);
    CHECK_NEAR(tuned_lr_cosine(1e-3, 25, 100), 1e-3 * (1 + sqrt(0.5)) / 2, 1e-15);
}

TEST(sampling_windows_and_layers) {
    int lo, hi;
    tuned_position_window(512, &lo, &hi);
    CHECK(lo == 307 && hi == 487); // §19.2: [307, 487)
    tuned_position_window(32, &lo, &hi);
    CHECK(lo == 19 && hi == 31);
    uint64_t s = 316;
    int pos[1000], seen_lo = 0, seen_hi = 0, bad = 0;
    tuned_sample_positions(&s, 512, 1000, pos);
    for (int i = 0; i < 1000; i++) {
        bad += pos[i] < 307 || pos[i] >= 487;
        seen_lo |= pos[i] == 307;
        seen_hi |= pos[i] == 486;
    }
    CHECK(!bad && seen_lo && seen_hi);
    for (int rep = 0; rep < 50; rep++) {
        int L[12];
        tuned_sample_layers(&s, 31, 12, L);
        for (int i = 0; i < 12; i++) CHECK(L[i] >= 0 && L[i] < 31 && (i == 0 || L[i] > L[i - 1]));
    }
    int all[5];
    tuned_sample_layers(&s, 5, 5, all);
    CHECK(all[0] == 0 && all[4] == 4);
    // the stream is the seed's: same seed, same draws
    uint64_t a = 316, b = 316;
    CHECK(tuned_rng_next(&a) == tuned_rng_next(&b));
    double m = 0, v = 0;
    for (int i = 0; i < 20000; i++) { double x = tuned_rng_normal(&a); m += x; v += x * x; }
    m /= 20000; v = v / 20000 - m * m;
    CHECKF(fabs(m) < 0.03 && fabs(v - 1) < 0.05, "normal: mean %.3g var %.3g", m, v);
}

// The constructed case: the layer's input is an exact invertible affine map of the final hidden
// state (x = h·A + b, row vectors) and the teacher decodes h. The fitted translator (full rank
// k = d here) must undo it and KL(teacher ‖ student) → 0. Only y/τ is identifiable (a larger y and
// a larger τ give the same student), so the check is (I + U Vᵀ)·A / τ → I and translator(b) / τ → 0.
TEST(fit_recovers_an_affine_map) {
    enum { d = 8, k = 8, V = 37, P = 32, STEPS = 1500 };
    uint64_t s = 42;
    float W[V * d], A[d * d], b[d];
    for (int i = 0; i < V * d; i++) W[i] = (float)(1.5 * urand(&s));
    for (int i = 0; i < d; i++) {
        b[i] = (float)(0.5 * urand(&s));
        for (int j = 0; j < d; j++) A[i * d + j] = (float)((i == j) + 0.35 * urand(&s));
    }
    TunedLens t;
    tuned_init(&t, d, 2, k); // one trainable translator
    for (int i = 0; i < d * k; i++) t.U[i] = (float)(0.01 * tuned_rng_normal(&s));
    TunedVocab tv = {.d = d, .vl = V, .W = W, .comm = NULL};
    TunedAdam ad;
    tuned_adam_init(&ad, d, k, 1);
    TunedGrad g;
    tuned_grad_init(&g, d, k);
    TunedAdamHyper hy = {.lr = 3e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-4};
    float h[P * d], x[P * d], zt[P * V], p[P * V];
    double ent[P], kl0 = -1, kl = -1;
    for (int step = 0; step <= STEPS; step++) {
        for (int r = 0; r < P; r++)
            for (int i = 0; i < d; i++) h[r * d + i] = (float)(1.5 * tuned_rng_normal(&s));
        for (int r = 0; r < P; r++)
            for (int j = 0; j < d; j++) {
                double acc = b[j];
                for (int i = 0; i < d; i++) acc += (double)h[r * d + i] * A[i * d + j];
                x[r * d + j] = (float)acc;
            }
        tuned_fit_logits(&tv, h, P, zt);
        tuned_fit_teacher(&tv, zt, P, p, ent);
        tuned_grad_zero(&g, d, k);
        int last = step == STEPS;
        tuned_fit_ce(&tv, &t, 0, x, P, p, ent, 1.0, last ? NULL : &g, NULL, step == 0 ? &kl0 : &kl);
        if (last) break;
        tuned_fit_penalty(&t, 0, 1.0, &g);
        tuned_adam_step(&t, &ad, 0, &g, tuned_lr_cosine(hy.lr, step, STEPS), &hy);
    }
    // the linear part: ‖(I + U Vᵀ)·A / τ − I‖_max; the offset: x = b (h = 0) must map to y = 0,
    // ‖translator(b) / τ‖_max = ‖(b + (b·U)·Vᵀ + c) / τ‖_max
    double tau = tuned_tau(&t, 0), err = 0, berr = 0;
    for (int m = 0; m < d; m++) {
        double yb = t.c[m] + b[m];
        for (int q = 0; q < k; q++) {
            double bu = 0;
            for (int i = 0; i < d; i++) bu += (double)b[i] * t.U[i * k + q];
            yb += bu * t.V[m * k + q];
        }
        berr = fmax(berr, fabs(yb / tau));
    }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double acc = 0;
            for (int m = 0; m < d; m++) {
                double M = (i == m);
                for (int q = 0; q < k; q++) M += (double)t.U[i * k + q] * t.V[m * k + q];
                acc += M * A[m * d + j];
            }
            err = fmax(err, fabs(acc / tau - (i == j)));
        }
    printf("    affine recovery: KL %.4g nats at the start -> %.3g after %d steps; max |(I+UV^T)A/tau - I| %.3g;"
           " max |translator(b)/tau| %.3g; tau %.4f\n", kl0, kl, STEPS, err, berr, tau);
    CHECKF(kl0 > 0.5, "the start is far from the teacher: KL %.3g", kl0);
    CHECKF(kl < 2e-3 * kl0 && kl < 5e-3, "KL after the fit %.3g (start %.3g)", kl, kl0);
    CHECKF(err < 0.01, "map error %.3g", err);
    CHECKF(berr < 0.01, "bias error %.3g", berr);
    tuned_grad_free(&g);
    tuned_adam_free(&ad);
    tuned_free(&t);
}

int main(void) {
    RUN(teacher_is_the_softmax_and_its_entropy);
    RUN(loss_and_parameter_gradients_match_finite_differences);
    RUN(edge_translators_have_one_neighbour);
    RUN(hidden_state_gradients_match_finite_differences);
    RUN(adamw_first_step_closed_form);
    RUN(cosine_schedule);
    RUN(sampling_windows_and_layers);
    RUN(fit_recovers_an_affine_map);
    return test_summary();
}
