// tuned_fit — loss, analytic gradient, optimizer and sampling of the tuned-lens fit; see tuned_fit.h.
#include "tuned/tuned_fit.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/linalg.h"

// ---------------------------------------------------------------------------- gradients
void tuned_grad_init(TunedGrad *g, int d, int k) {
    g->U = xcalloc((size_t)d * k + 1, sizeof(float));
    g->V = xcalloc((size_t)d * k + 1, sizeof(float));
    g->c = xcalloc((size_t)d + 1, sizeof(float));
    g->theta = 0;
}

void tuned_grad_zero(TunedGrad *g, int d, int k) {
    memset(g->U, 0, sizeof(float) * (size_t)d * k);
    memset(g->V, 0, sizeof(float) * (size_t)d * k);
    memset(g->c, 0, sizeof(float) * (size_t)d);
    g->theta = 0;
}

void tuned_grad_free(TunedGrad *g) {
    free(g->U);
    free(g->V);
    free(g->c);
    memset(g, 0, sizeof *g);
}

// ---------------------------------------------------------------------------- loss
void tuned_fit_logits(const TunedVocab *tv, const float *x, int rows, float *z) {
    la_sgemm(0, 1, rows, tv->vl, tv->d, 1.0f, x, tv->d, tv->W, tv->d, 0.0f, z, tv->vl);
}

static int multi(const TunedVocab *tv) { return tv->comm && tv->comm->size > 1; }

void tuned_fit_teacher(const TunedVocab *tv, const float *zt, int rows, float *p, double *ent) {
    int vl = tv->vl;
    double *mx = xmalloc(sizeof(double) * (size_t)rows), *se = xmalloc(sizeof(double) * 2 * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        const float *zr = zt + (size_t)r * vl;
        float m = -INFINITY;
        for (int v = 0; v < vl; v++) m = zr[v] > m ? zr[v] : m;
        mx[r] = m;
    }
    if (multi(tv)) comm_allreduce_max_f64(tv->comm, mx, (size_t)rows);
    for (int r = 0; r < rows; r++) { // one exp per entry: p holds exp(z − m) until the sums are known
        const float *zr = zt + (size_t)r * vl;
        float *pr = p + (size_t)r * vl, m = (float)mx[r];
        double s = 0, e = 0;
        for (int v = 0; v < vl; v++) {
            float u = zr[v] - m, q = expf(u);
            pr[v] = q;
            s += q;
            e += (double)q * u;
        }
        se[2 * r] = s;
        se[2 * r + 1] = e;
    }
    if (multi(tv)) comm_allreduce_sum_f64(tv->comm, se, 2 * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        float *pr = p + (size_t)r * vl;
        double inv = 1.0 / se[2 * r];
        for (int v = 0; v < vl; v++) pr[v] = (float)(pr[v] * inv);
        ent[r] = log(se[2 * r]) - se[2 * r + 1] / se[2 * r];
    }
    free(mx);
    free(se);
}

double tuned_fit_ce(const TunedVocab *tv, const TunedLens *t, int l, const float *x, int rows, const float *p,
                    const double *ent, double scale, TunedGrad *g, float *dx, double *kl) {
    LW_ASSERT(l >= 0 && l < t->n_layers - 1 && rows > 0 && tv->d == t->d);
    int d = t->d, k = t->k, vl = tv->vl;
    double tau = tuned_tau(t, l);
    float *y = xmalloc(sizeof(float) * (size_t)rows * d), *tt = xmalloc(sizeof(float) * ((size_t)rows * k + 1));
    tuned_apply(t, l, x, rows, y, tt);
    float *z = xmalloc(sizeof(float) * (size_t)rows * vl);
    tuned_fit_logits(tv, y, rows, z);
    free(y);

    // log-sum-exp of s = z/τ over the whole vocabulary, and Σ p·s; one exp per entry, kept in q
    float *q = xmalloc(sizeof(float) * (size_t)rows * vl), itau = (float)(1.0 / tau);
    double *mx = xmalloc(sizeof(double) * (size_t)rows), *sa = xmalloc(sizeof(double) * 2 * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        const float *zr = z + (size_t)r * vl;
        float m = -INFINITY;
        for (int v = 0; v < vl; v++) m = zr[v] > m ? zr[v] : m;
        mx[r] = m * itau;
    }
    if (multi(tv)) comm_allreduce_max_f64(tv->comm, mx, (size_t)rows);
    for (int r = 0; r < rows; r++) {
        const float *zr = z + (size_t)r * vl, *pr = p + (size_t)r * vl;
        float *qr = q + (size_t)r * vl, m = (float)mx[r];
        double S = 0, A = 0;
        for (int v = 0; v < vl; v++) {
            float sv = zr[v] * itau, e = expf(sv - m);
            qr[v] = e;
            S += e;
            A += (double)pr[v] * sv;
        }
        sa[2 * r] = S;
        sa[2 * r + 1] = A;
    }
    if (multi(tv)) comm_allreduce_sum_f64(tv->comm, sa, 2 * (size_t)rows);
    double ce = 0, h = 0;
    for (int r = 0; r < rows; r++) {
        ce += mx[r] + log(sa[2 * r]) - sa[2 * r + 1];
        if (ent) h += ent[r];
    }
    ce /= rows;
    if (kl) *kl = ce - h / rows;

    if (g || dx) {
        // dCE/ds = (softmax(s) − p) / rows (times scale); dCE/dτ = Σ dCE/ds · (−s/τ); dCE/dz = dCE/ds / τ
        double dtau = 0, f = scale / rows;
        for (int r = 0; r < rows; r++) {
            float *zr = z + (size_t)r * vl;
            const float *pr = p + (size_t)r * vl, *qr = q + (size_t)r * vl;
            double inv = 1.0 / sa[2 * r], dt_r = 0;
            for (int v = 0; v < vl; v++) {
                float G = (float)(((double)qr[v] * inv - (double)pr[v]) * f);
                dt_r += (double)G * zr[v];
                zr[v] = G * itau;
            }
            dtau -= dt_r / (tau * tau);
        }
        // dCE/dy = dCE/dz · W_U, summed over the shards (one all-reduce, dτ riding along)
        size_t nd = (size_t)rows * d;
        float *dy = xmalloc(sizeof(float) * nd);
        la_sgemm(0, 0, rows, d, vl, 1.0f, z, vl, tv->W, d, 0.0f, dy, d);
        if (multi(tv)) {
            double *buf = xmalloc(sizeof(double) * (nd + 1));
            for (size_t i = 0; i < nd; i++) buf[i] = dy[i];
            buf[nd] = dtau;
            comm_allreduce_sum_f64(tv->comm, buf, nd + 1);
            for (size_t i = 0; i < nd; i++) dy[i] = (float)buf[i];
            dtau = buf[nd];
            free(buf);
        }
        const float *U = t->U + (size_t)l * d * k, *V = t->V + (size_t)l * d * k;
        float *dt = xmalloc(sizeof(float) * ((size_t)rows * k + 1));
        la_sgemm(0, 0, rows, k, d, 1.0f, dy, d, V, k, 0.0f, dt, k); // dt = dy V
        if (g) {
            la_sgemm(1, 0, d, k, rows, 1.0f, dy, d, tt, k, 1.0f, g->V, k); // dV += dyᵀ t
            la_sgemm(1, 0, d, k, rows, 1.0f, x, d, dt, k, 1.0f, g->U, k);  // dU += xᵀ dt
            for (int i = 0; i < d; i++) {
                double s = 0;
                for (int r = 0; r < rows; r++) s += dy[(size_t)r * d + i];
                g->c[i] += (float)s;
            }
            double th = t->log_tau[l];
            g->theta += dtau / (1.0 + exp(-th)); // dτ/dθ = sigmoid(θ)
        }
        if (dx) {
            memcpy(dx, dy, sizeof(float) * nd);
            la_sgemm(0, 1, rows, d, k, 1.0f, dt, k, U, k, 1.0f, dx, d); // dx = dy + dt Uᵀ
        }
        free(dt);
        free(dy);
    }
    free(mx);
    free(sa);
    free(q);
    free(z);
    free(tt);
    return ce;
}

double tuned_fit_penalty(const TunedLens *t, int l, double scale, TunedGrad *g) {
    int d = t->d, k = t->k, n_train = t->n_layers - 1;
    size_t dk = (size_t)d * k;
    const float *U = t->U + (size_t)l * dk, *V = t->V + (size_t)l * dk, *c = t->c + (size_t)l * d;
    double pen = 0, f = 2.0 * TUNED_L2 * scale;
    for (size_t i = 0; i < dk; i++) {
        pen += (double)U[i] * U[i] + (double)V[i] * V[i];
        if (g) {
            g->U[i] += (float)(f * U[i]);
            g->V[i] += (float)(f * V[i]);
        }
    }
    for (int i = 0; i < d; i++) {
        pen += (double)c[i] * c[i];
        if (g) g->c[i] += (float)(f * c[i]);
    }
    pen *= TUNED_L2;
    double fs = 2.0 * TUNED_SMOOTH * scale;
    for (int nb = l - 1; nb <= l + 1; nb += 2) {
        if (nb < 0 || nb >= n_train) continue; // translator n−1 is the identity: rank 0
        const float *Un = t->U + (size_t)nb * dk, *Vn = t->V + (size_t)nb * dk;
        double s = 0;
        for (size_t i = 0; i < dk; i++) {
            double a = (double)U[i] - Un[i], b = (double)V[i] - Vn[i];
            s += a * a + b * b;
            if (g) {
                g->U[i] += (float)(fs * a);
                g->V[i] += (float)(fs * b);
            }
        }
        pen += TUNED_SMOOTH * s;
    }
    return pen;
}

void tuned_rmsnorm_backward(const float *h, const float *w, const float *dx, float *dh, int rows, int n, double eps) {
    for (int r = 0; r < rows; r++) {
        const float *hr = h + (size_t)r * n, *gr = dx + (size_t)r * n;
        double ms = 0, dot = 0;
        for (int i = 0; i < n; i++) ms += (double)hr[i] * hr[i];
        ms /= n;
        double rs = 1.0 / sqrt(ms + eps);
        for (int i = 0; i < n; i++) dot += (double)gr[i] * w[i] * hr[i];
        for (int i = 0; i < n; i++)
            dh[(size_t)r * n + i] = (float)(rs * w[i] * gr[i] - hr[i] * rs * rs * rs * dot / n);
    }
}

// ---------------------------------------------------------------------------- optimizer
void tuned_adam_init(TunedAdam *a, int d, int k, int n_train) {
    memset(a, 0, sizeof *a);
    a->d = d;
    a->k = k;
    a->n_train = n_train;
    size_t nk = (size_t)n_train * d * k + 1, nc = (size_t)n_train * d + 1, nt = (size_t)n_train + 1;
    a->mU = xcalloc(nk, sizeof(float));
    a->vU = xcalloc(nk, sizeof(float));
    a->mV = xcalloc(nk, sizeof(float));
    a->vV = xcalloc(nk, sizeof(float));
    a->mc = xcalloc(nc, sizeof(float));
    a->vc = xcalloc(nc, sizeof(float));
    a->mth = xcalloc(nt, sizeof(double));
    a->vth = xcalloc(nt, sizeof(double));
    a->steps = xcalloc(nt, sizeof(int64_t));
}

void tuned_adam_free(TunedAdam *a) {
    free(a->mU); free(a->vU); free(a->mV); free(a->vV);
    free(a->mc); free(a->vc); free(a->mth); free(a->vth); free(a->steps);
    memset(a, 0, sizeof *a);
}

// The update of n fp32 parameters (moments fp32, arithmetic in double).
static void adamw(float *p, float *m, float *v, const float *g, size_t n, double lr, double bc1, double bc2,
                  const TunedAdamHyper *h) {
    double decay = 1.0 - lr * h->weight_decay, step = lr / bc1, sb2 = sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        double gi = g[i], mi = h->beta1 * m[i] + (1.0 - h->beta1) * gi, vi = h->beta2 * v[i] + (1.0 - h->beta2) * gi * gi;
        m[i] = (float)mi;
        v[i] = (float)vi;
        p[i] = (float)((double)p[i] * decay - step * (double)m[i] / (sqrt((double)v[i]) / sb2 + h->eps));
    }
}

void tuned_adam_step(TunedLens *t, TunedAdam *a, int l, const TunedGrad *g, double lr, const TunedAdamHyper *h) {
    int d = t->d, k = t->k;
    size_t dk = (size_t)d * k;
    int64_t s = ++a->steps[l];
    double bc1 = 1.0 - pow(h->beta1, (double)s), bc2 = 1.0 - pow(h->beta2, (double)s);
    adamw(t->U + l * dk, a->mU + l * dk, a->vU + l * dk, g->U, dk, lr, bc1, bc2, h);
    adamw(t->V + l * dk, a->mV + l * dk, a->vV + l * dk, g->V, dk, lr, bc1, bc2, h);
    adamw(t->c + (size_t)l * d, a->mc + (size_t)l * d, a->vc + (size_t)l * d, g->c, (size_t)d, lr, bc1, bc2, h);
    double th = (double)t->log_tau[l] * (1.0 - lr * h->weight_decay);
    double m = h->beta1 * a->mth[l] + (1.0 - h->beta1) * g->theta;
    double v = h->beta2 * a->vth[l] + (1.0 - h->beta2) * g->theta * g->theta;
    a->mth[l] = m;
    a->vth[l] = v;
    t->log_tau[l] = (float)(th - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + h->eps));
}

double tuned_lr_cosine(double lr0, int64_t step, int64_t total) {
    if (total <= 0) return lr0;
    return lr0 * 0.5 * (1.0 + cos(M_PI * (double)step / (double)total));
}

// ---------------------------------------------------------------------------- sampling
uint64_t tuned_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int tuned_rng_below(uint64_t *s, int n) {
    LW_ASSERT(n >= 1);
    return (int)(((unsigned __int128)tuned_rng_next(s) * (uint64_t)n) >> 64);
}

double tuned_rng_normal(uint64_t *s) {
    double u1 = ((double)(tuned_rng_next(s) >> 11) + 1.0) / 9007199254740993.0; // (0, 1]
    double u2 = (double)(tuned_rng_next(s) >> 11) / 9007199254740992.0;         // [0, 1)
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void tuned_position_window(int seq_len, int *lo, int *hi) {
    *lo = (int)floor(0.6 * seq_len);
    int h = (int)floor(0.95 * seq_len) + 1;
    *hi = h < seq_len ? h : seq_len;
    if (*hi <= *lo) *hi = *lo + 1;
}

void tuned_sample_positions(uint64_t *rng, int seq_len, int p, int *pos) {
    int lo, hi;
    tuned_position_window(seq_len, &lo, &hi);
    for (int i = 0; i < p; i++) pos[i] = lo + tuned_rng_below(rng, hi - lo);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

void tuned_sample_layers(uint64_t *rng, int n_train, int k, int *layers) {
    LW_ASSERT(k >= 1 && k <= n_train);
    int *perm = xmalloc(sizeof(int) * (size_t)n_train);
    for (int i = 0; i < n_train; i++) perm[i] = i;
    for (int i = 0; i < k; i++) {
        int j = i + tuned_rng_below(rng, n_train - i);
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    memcpy(layers, perm, sizeof(int) * (size_t)k);
    free(perm);
    qsort(layers, (size_t)k, sizeof(int), cmp_int);
}

// ---------------------------------------------------------------------------- files
int tuned_write_safetensors(const TunedLens *t, const char *path, LwError *err) {
    int d = t->d, k = t->k, m = t->n_layers - 1;
    json_t *h = json_object();
    uint64_t off = 0;
    for (int l = 0; l < m; l++) {
        char name[32];
        for (int which = 0; which < 3; which++) {
            uint64_t cnt = which < 2 ? (uint64_t)d * k : (uint64_t)d;
            snprintf(name, sizeof name, "%c.%d", "UVc"[which], l);
            json_t *sh = which < 2 ? json_pack("[i, i]", d, k) : json_pack("[i]", d);
            json_object_set_new(h, name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", sh, "data_offsets",
                                                  (json_int_t)off, (json_int_t)(off + 4 * cnt)));
            off += 4 * cnt;
        }
    }
    json_object_set_new(h, "log_tau", json_pack("{s:s, s:[i], s:[I, I]}", "dtype", "F32", "shape", m, "data_offsets",
                                                (json_int_t)off, (json_int_t)(off + 4 * (uint64_t)m)));
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", TUNED_FORMAT));
    char *hs = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(h);
    size_t hl = strlen(hs), pad = (8 - hl % 8) % 8;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(hs);
        return lw_err(err, "check that the output directory is writable", "%s: cannot create: %s", path, strerror(errno));
    }
    uint64_t hlen = hl + pad;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(hlen >> (8 * i));
    int ok = fwrite(le, 1, 8, f) == 8 && fwrite(hs, 1, hl, f) == hl;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    size_t dk = (size_t)d * k;
    for (int l = 0; ok && l < m; l++)
        ok = fwrite(t->U + l * dk, 4, dk, f) == dk && fwrite(t->V + l * dk, 4, dk, f) == dk &&
             fwrite(t->c + (size_t)l * d, 4, (size_t)d, f) == (size_t)d;
    if (ok) ok = fwrite(t->log_tau, 4, (size_t)m, f) == (size_t)m;
    free(hs);
    if (fclose(f) != 0) ok = 0;
    if (!ok) return lw_err(err, "check the free space of the output file system", "%s: write failed: %s", path, strerror(errno));
    return 0;
}

#define STATE_MAGIC "LWTUNEDSTATE1\n"

typedef struct {
    void *p;
    size_t bytes;
} Blob;

static int state_blobs(const TunedLens *t, const TunedAdam *a, Blob *b) {
    size_t m = (size_t)t->n_layers - 1, dk = (size_t)t->d * t->k * m, dc = (size_t)t->d * m;
    Blob v[] = {{t->U, 4 * dk}, {t->V, 4 * dk}, {t->c, 4 * dc}, {t->log_tau, 4 * m}, {a->mU, 4 * dk}, {a->vU, 4 * dk},
                {a->mV, 4 * dk}, {a->vV, 4 * dk}, {a->mc, 4 * dc}, {a->vc, 4 * dc}, {a->mth, 8 * m}, {a->vth, 8 * m},
                {a->steps, 8 * m}};
    int n = (int)(sizeof v / sizeof *v);
    memcpy(b, v, sizeof v);
    return n;
}

int tuned_state_save(const char *path, const TunedLens *t, const TunedAdam *a, const char *meta_json, LwError *err) {
    json_t *meta = json_loads(meta_json, 0, NULL);
    LW_ASSERT(json_is_object(meta));
    json_object_set_new(meta, "d", json_integer(t->d));
    json_object_set_new(meta, "n_layers", json_integer(t->n_layers));
    json_object_set_new(meta, "k", json_integer(t->k));
    char *hs = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    lw_cleanup_unlink_on_fail(tmp);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(hs);
        int rc = lw_err(err, "check that the output directory is writable", "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    uint64_t hl = strlen(hs);
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(hl >> (8 * i));
    int ok = fwrite(STATE_MAGIC, 1, strlen(STATE_MAGIC), f) == strlen(STATE_MAGIC) && fwrite(le, 1, 8, f) == 8 &&
             fwrite(hs, 1, hl, f) == hl;
    Blob b[16];
    int nb = state_blobs(t, a, b);
    for (int i = 0; ok && i < nb; i++) ok = fwrite(b[i].p, 1, b[i].bytes, f) == b[i].bytes;
    if (ok) ok = fwrite("END\n", 1, 4, f) == 4;
    free(hs);
    if (fclose(f) != 0) ok = 0;
    int rc = 0;
    if (!ok) rc = lw_err(err, "check the free space of the output file system", "%s: write failed: %s", tmp, strerror(errno));
    else if (rename(tmp, path) != 0)
        rc = lw_err(err, "check the output directory", "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc) unlink(tmp);
    lw_cleanup_forget(tmp);
    free(tmp);
    return rc;
}

int tuned_state_load(const char *path, TunedLens *t, TunedAdam *a, char **meta_json, LwError *err) {
    const char *hint = "the fit's resume state is damaged: remove it to start the fit over";
    size_t len;
    char *buf = lw_read_file(path, &len, err);
    if (!buf) return -1;
    size_t ml = strlen(STATE_MAGIC);
    if (len < ml + 8 || memcmp(buf, STATE_MAGIC, ml)) {
        free(buf);
        return lw_err(err, hint, "%s: not a fit-tuned resume state (no %.13s mark)", path, STATE_MAGIC);
    }
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)(uint8_t)buf[ml + i] << (8 * i);
    if (hl > len - ml - 8) {
        free(buf);
        return lw_err(err, hint, "%s: truncated (header of %llu bytes in a file of %zu)", path, (unsigned long long)hl, len);
    }
    json_t *meta = json_loadb(buf + ml + 8, hl, 0, NULL);
    if (!json_is_object(meta)) {
        json_decref(meta);
        free(buf);
        return lw_err(err, hint, "%s: header is not a JSON object", path);
    }
    int d = (int)json_integer_value(json_object_get(meta, "d")), n = (int)json_integer_value(json_object_get(meta, "n_layers"));
    int k = (int)json_integer_value(json_object_get(meta, "k"));
    if (d != t->d || n != t->n_layers || k != t->k) {
        json_decref(meta);
        free(buf);
        return lw_err(err, "the state belongs to another model or rank: remove it or fit into another --out",
                      "%s: translators d %d, n_layers %d, rank %d; this fit has d %d, n_layers %d, rank %d", path, d, n, k,
                      t->d, t->n_layers, t->k);
    }
    Blob b[16];
    int nb = state_blobs(t, a, b);
    size_t pos = ml + 8 + hl, need = pos + 4;
    for (int i = 0; i < nb; i++) need += b[i].bytes;
    if (len != need || memcmp(buf + len - 4, "END\n", 4)) {
        json_decref(meta);
        free(buf);
        return lw_err(err, hint, "%s: %zu bytes, expected %zu (truncated or damaged)", path, len, need);
    }
    for (int i = 0; i < nb; i++) {
        memcpy(b[i].p, buf + pos, b[i].bytes);
        pos += b[i].bytes;
    }
    *meta_json = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    free(buf);
    return 0;
}
