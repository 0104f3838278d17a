// tuned — translator form and fit-size rules of the tuned lens; see tuned.h.
#include "tuned/tuned.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tuned_rank_rule(int d) {
    if (d >= 4096) return 256;
    int b = d / 32;
    if (b < 1) b = 1;
    int k = b < 256 ? b : 256;
    return k > 64 ? k : 64;
}

int tuned_k_layers_rule(int vocab, int n_layers) {
    long k = lround(24.0 * sqrt(32000.0 / (double)vocab));
    if (k < 8) k = 8;
    if (k > 24) k = 24;
    if (k > n_layers - 1) k = n_layers - 1;
    return (int)k;
}

int tuned_p_pos_rule(int vocab) {
    long p = lround(16.0 * sqrt(32000.0 / (double)vocab));
    if (p < 12) p = 12;
    if (p > 16) p = 16;
    return (int)p;
}

double tuned_tau_of(double theta) {
    // softplus(θ) = max(θ, 0) + log1p(exp(−|θ|))
    double sp = (theta > 0 ? theta : 0.0) + log1p(exp(-fabs(theta)));
    return sp + TUNED_TAU_EPS;
}

double tuned_theta_init(void) { return log(expm1(1.0 - TUNED_TAU_EPS)); }

void tuned_init(TunedLens *t, int d, int n_layers, int k) {
    memset(t, 0, sizeof *t);
    t->d = d;
    t->n_layers = n_layers;
    t->k = k;
    size_t m = n_layers > 1 ? (size_t)(n_layers - 1) : 0;
    t->U = xcalloc(m * (size_t)d * (size_t)k + 1, sizeof(float));
    t->V = xcalloc(m * (size_t)d * (size_t)k + 1, sizeof(float));
    t->c = xcalloc(m * (size_t)d + 1, sizeof(float));
    t->log_tau = xcalloc(m + 1, sizeof(float));
    float th = (float)tuned_theta_init();
    for (size_t l = 0; l < m; l++) t->log_tau[l] = th;
}

void tuned_free(TunedLens *t) {
    free(t->U);
    free(t->V);
    free(t->c);
    free(t->log_tau);
    memset(t, 0, sizeof *t);
}

double tuned_tau(const TunedLens *t, int l) {
    if (l >= t->n_layers - 1) return 1.0;
    return tuned_tau_of((double)t->log_tau[l]);
}

void tuned_apply(const TunedLens *t, int l, const float *x, int rows, float *y, float *t_scratch) {
    int d = t->d, k = t->k;
    if (l >= t->n_layers - 1) {
        memcpy(y, x, (size_t)rows * (size_t)d * sizeof(float));
        return;
    }
    const float *U = t->U + (size_t)l * d * k, *V = t->V + (size_t)l * d * k, *c = t->c + (size_t)l * d;
    float *tv = t_scratch ? t_scratch : xmalloc((size_t)rows * (size_t)k * sizeof(float) + 1);
    double *acc = xmalloc((size_t)(k > d ? k : d) * sizeof(double));
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * d;
        float *tr = tv + (size_t)r * k;
        for (int j = 0; j < k; j++) acc[j] = 0;
        for (int i = 0; i < d; i++) {
            double xi = xr[i];
            const float *Ui = U + (size_t)i * k;
            for (int j = 0; j < k; j++) acc[j] += xi * (double)Ui[j];
        }
        for (int j = 0; j < k; j++) tr[j] = (float)acc[j];
        float *yr = y + (size_t)r * d;
        for (int i = 0; i < d; i++) {
            double s = (double)xr[i];
            const float *Vi = V + (size_t)i * k;
            for (int j = 0; j < k; j++) s += (double)tr[j] * (double)Vi[j];
            yr[i] = (float)(s + (double)c[i]);
        }
    }
    free(acc);
    if (!t_scratch) free(tv);
}
