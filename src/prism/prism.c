// prism — the Prism fit (METRICS.md §20.1); see prism.h for the conventions.
#include "prism/prism.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/linalg.h"
#include "util/sha256.h"

// ---------------------------------------------------------------------------- whitening stats
void prism_welford_init(PrismWelford *w, int d) {
    w->d = d;
    w->n = 0;
    w->mean = xcalloc((size_t)d, sizeof(double));
    w->m2 = xcalloc((size_t)d, sizeof(double));
}

void prism_welford_free(PrismWelford *w) {
    free(w->mean);
    free(w->m2);
    memset(w, 0, sizeof *w);
}

// Chan et al.'s merge: the batch's own mean and M2 (two passes in double), then combined with
// the running values. Exact for any batch split up to rounding.
void prism_welford_add(PrismWelford *w, const float *rows, int n_rows) {
    if (n_rows <= 0) return;
    int d = w->d;
    double nb = n_rows, na = (double)w->n, nt = na + nb;
    for (int j = 0; j < d; j++) {
        double s = 0;
        for (int i = 0; i < n_rows; i++) s += rows[(size_t)i * d + j];
        double mb = s / nb, m2b = 0;
        for (int i = 0; i < n_rows; i++) {
            double e = rows[(size_t)i * d + j] - mb;
            m2b += e * e;
        }
        double delta = mb - w->mean[j];
        w->mean[j] += delta * nb / nt;
        w->m2[j] += m2b + delta * delta * na * nb / nt;
    }
    w->n += n_rows;
}

void prism_welford_finish(const PrismWelford *w, float *mean, float *var) {
    for (int j = 0; j < w->d; j++) {
        double v = w->n > 0 ? w->m2[j] / (double)w->n : 0.0;
        mean[j] = (float)w->mean[j];
        var[j] = (float)(v < PRISM_VAR_FLOOR ? PRISM_VAR_FLOOR : v);
    }
}

// ---------------------------------------------------------------------------- helpers
void prism_canonical_signs(double *B, int k, int d) {
    for (int j = 0; j < k; j++) {
        double *v = B + (size_t)j * d;
        int arg = 0;
        for (int i = 1; i < d; i++)
            if (fabs(v[i]) > fabs(v[arg])) arg = i;
        if (v[arg] < 0)
            for (int i = 0; i < d; i++) v[i] = -v[i];
    }
}

// Orthonormalizes the k vectors of B (column-major d × k) in place by Householder QR, keeping
// each column's direction (columns multiplied by sign(R_jj), so diag(R) >= 0).
static int qr_orthonormalize(double *B, int d, int k, LwError *err) {
    int info = la_qr_orthonormalize(B, d, k);
    if (info) return lw_err(err, "this is a numerical failure, not bad input; please report it", "prism: QR (dgeqrf/dorgqr) failed: info %d", info);
    return 0;
}

// Left singular vectors of the column-major m × n matrix a (destroyed): U [m][m] column-major.
// s gets min(m, n) singular values (descending).
static int svd_left(double *a, int m, int n, double *U, double *s, double **vt_out, LwError *err) {
    int info = la_svd_left(a, m, n, U, s, vt_out);
    if (info) return lw_err(err, "this is a numerical failure (non-finite activations?), not bad input", "prism: SVD (dgesdd) failed: info %d", info);
    return 0;
}

// ---------------------------------------------------------------------------- bases
int prism_basis_E(const float *rows, const double *weight, int n, int d, const float *mean, const float *var, int k,
                  double *E, LwError *err) {
    LW_ASSERT(k >= 1 && k <= d && n >= 1);
    double *X = xmalloc(sizeof(double) * (size_t)n * d), wsum = 0;
    double *c = xcalloc((size_t)d, sizeof(double));
    for (int i = 0; i < n; i++) {
        double wi = weight ? weight[i] : 1.0;
        wsum += wi;
        for (int j = 0; j < d; j++) {
            double x = ((double)rows[(size_t)i * d + j] - mean[j]) / sqrt((double)var[j] + PRISM_EPS_W);
            X[(size_t)i * d + j] = x;
            c[j] += wi * x;
        }
    }
    for (int j = 0; j < d; j++) c[j] /= wsum;
    for (int i = 0; i < n; i++) {
        double sw = sqrt(weight ? weight[i] : 1.0);
        for (int j = 0; j < d; j++) X[(size_t)i * d + j] = sw * (X[(size_t)i * d + j] - c[j]);
    }
    free(c);
    // Row-major X [n, d] is the column-major d × n matrix Xᵀ; its left singular vectors are the
    // right singular vectors of X.
    double *Uf = xmalloc(sizeof(double) * (size_t)d * d), *s = xmalloc(sizeof(double) * (size_t)(n < d ? n : d));
    int rc = svd_left(X, d, n, Uf, s, NULL, err);
    free(X); free(s);
    if (!rc) {
        memcpy(E, Uf, sizeof(double) * (size_t)k * d);
        rc = qr_orthonormalize(E, d, k, err);
    }
    free(Uf);
    if (!rc) prism_canonical_signs(E, k, d);
    return rc;
}

void prism_gram_add(double *G, const float *W, int rows, int d) {
    if (rows <= 0) return;
    double *Wd = xmalloc(sizeof(double) * (size_t)rows * d);
    for (size_t i = 0; i < (size_t)rows * d; i++) Wd[i] = W[i];
    la_syrk_acc(G, Wd, d, rows); // G += Wᵀ W
    free(Wd);
}

int prism_basis_U(double *G, int d, int k, double *U, LwError *err) {
    LW_ASSERT(k >= 1 && k <= d);
    double *w = xmalloc(sizeof(double) * (size_t)d);
    int info = la_eigh_upper(G, d, w);
    free(w);
    if (info) return lw_err(err, "this is a numerical failure (non-finite unembedding?), not bad input", "prism: eigendecomposition (dsyevd) failed: info %d", info);
    // eigenvalues ascending: the top k are the last k columns, largest first
    for (int j = 0; j < k; j++) memcpy(U + (size_t)j * d, G + (size_t)(d - 1 - j) * d, sizeof(double) * (size_t)d);
    if (qr_orthonormalize(U, d, k, err)) return -1;
    prism_canonical_signs(U, k, d);
    return 0;
}

double prism_ortho_error(const double *Q, int d) {
    double *P = xmalloc(sizeof(double) * (size_t)d * d), s = 0;
    la_dgemm(1, 1, 0, d, d, d, Q, d, Q, d, P, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double e = P[(size_t)i * d + j] - (i == j);
            s += e * e;
        }
    free(P);
    return sqrt(s);
}

int prism_procrustes(const double *E, const double *U, int d, int k, double *Q, int *qr_fallback, LwError *err) {
    *qr_fallback = 0;
    // M = U_k E_kᵀ (column-major d × d): the k vectors are the columns of the d × k matrices.
    double *M = xmalloc(sizeof(double) * (size_t)d * d);
    la_dgemm(0, 0, 1, d, d, k, U, d, E, d, M, d);
    double *A = xmalloc(sizeof(double) * (size_t)d * d), *s = xmalloc(sizeof(double) * (size_t)d), *Bt = NULL;
    int rc = svd_left(M, d, d, A, s, &Bt, err);
    free(s);
    if (!rc) {
        double *Qc = M; // reuse: column-major Q = A Bᵀ
        la_dgemm(0, 0, 0, d, d, d, A, d, Bt, d, Qc, d);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) Q[(size_t)i * d + j] = Qc[(size_t)j * d + i];
        if (prism_ortho_error(Q, d) > PRISM_ORTHO_TOL) {
            *qr_fallback = 1;
            rc = qr_orthonormalize(Qc, d, d, err);
            if (!rc)
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) Q[(size_t)i * d + j] = Qc[(size_t)j * d + i];
        }
    }
    free(M); free(A); free(Bt);
    return rc;
}

// ---------------------------------------------------------------------------- artifact
int prism_write_safetensors(const char *path, const char *const *names, const float *const *data, const int *ndim,
                            const int64_t (*shape)[2], int n, LwError *err) {
    json_t *h = json_object();
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t cnt = 1;
        json_t *sh = json_array();
        for (int k = 0; k < ndim[i]; k++) { cnt *= (uint64_t)shape[i][k]; json_array_append_new(sh, json_integer(shape[i][k])); }
        json_t *t = json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", sh, "data_offsets", (json_int_t)off, (json_int_t)(off + 4 * cnt));
        json_object_set_new(h, names[i], t);
        off += 4 * cnt;
    }
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "lensweep-prism"));
    char *hs = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(h);
    size_t hl = strlen(hs), pad = (8 - hl % 8) % 8;
    FILE *f = fopen(path, "wb");
    if (!f) { free(hs); return lw_err(err, "check that the output directory is writable", "%s: cannot create: %s", path, strerror(errno)); }
    uint64_t hlen = hl + pad;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(hlen >> (8 * i));
    int ok = fwrite(le, 1, 8, f) == 8 && fwrite(hs, 1, hl, f) == hl;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; ok && i < n; i++) {
        size_t cnt = 1;
        for (int k = 0; k < ndim[i]; k++) cnt *= (size_t)shape[i][k];
        ok = fwrite(data[i], 4, cnt, f) == cnt;
    }
    free(hs);
    if (fclose(f) != 0) ok = 0;
    if (!ok) return lw_err(err, "check the free space of the output file system", "%s: write failed: %s", path, strerror(errno));
    return 0;
}


// One fp32 tensor of the artifact, checked against its expected shape and the file's size.
static float *art_tensor(const char *path, json_t *hdr, const char *buf, size_t len, uint64_t base, const char *name,
                         int ndim, int64_t d, LwError *err) {
    const char *hint = "refit the artifact with lensweep fit-prism --model <checkpoint> --out <dir>";
    json_t *t = json_object_get(hdr, name);
    if (!json_is_object(t)) { lw_err(err, hint, "%s: tensor %s: missing", path, name); return NULL; }
    json_t *dt = json_object_get(t, "dtype"), *sh = json_object_get(t, "shape"), *off = json_object_get(t, "data_offsets");
    if (!json_is_string(dt) || strcmp(json_string_value(dt), "F32")) {
        lw_err(err, hint, "%s: tensor %s: dtype %s, expected F32", path, name, json_is_string(dt) ? json_string_value(dt) : "(none)");
        return NULL;
    }
    int ok = json_is_array(sh) && (int)json_array_size(sh) == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = json_is_integer(json_array_get(sh, i)) && json_integer_value(json_array_get(sh, i)) == d;
    if (!ok) {
        char *s = json_dumps(sh ? sh : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        lw_err(err, "the artifact was fitted for a model of another width; refit it for this checkpoint",
               "%s: tensor %s: shape %s, but this model has d = %lld (expected %s)", path, name, s ? s : "?", (long long)d,
               ndim == 1 ? "[d]" : "[d, d]");
        free(s);
        return NULL;
    }
    uint64_t n = ndim == 1 ? (uint64_t)d : (uint64_t)d * d;
    if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)) ||
        (uint64_t)json_integer_value(json_array_get(off, 1)) - (uint64_t)json_integer_value(json_array_get(off, 0)) != 4 * n) {
        lw_err(err, hint, "%s: tensor %s: data_offsets do not span %llu floats", path, name, (unsigned long long)n);
        return NULL;
    }
    uint64_t a = (uint64_t)json_integer_value(json_array_get(off, 0)), b = (uint64_t)json_integer_value(json_array_get(off, 1));
    if (base + b > len) {
        lw_err(err, "the file is truncated (an interrupted copy?); copy or refit it",
               "%s: tensor %s: data ends at byte %llu but the file has %zu bytes", path, name, (unsigned long long)(base + b), len);
        return NULL;
    }
    float *p = xmalloc(sizeof(float) * n);
    memcpy(p, buf + base + a, sizeof(float) * n);
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(p[i])) {
            lw_err(err, hint, "%s: tensor %s: non-finite value at element %llu", path, name, (unsigned long long)i);
            free(p);
            return NULL;
        }
    return p;
}

int prism_artifact_load(const char *dir, int d, const char *config_sha256, PrismArtifact *a, LwError *err) {
    memset(a, 0, sizeof *a);
    const char *hint = "refit the artifact with lensweep fit-prism --model <checkpoint> --out <dir>";
    char *jp = xasprintf("%s/provenance.json", dir), *sp = xasprintf("%s/prism.safetensors", dir);
    int rc = -1;
    char *buf = NULL;
    json_t *prov = NULL, *hdr = NULL;
    json_error_t je;
    if (!lw_file_exists(jp)) {
        lw_err(err, "fit-prism writes provenance.json last: without it the artifact is incomplete; refit it",
               "%s: missing (no complete Prism artifact in %s)", jp, dir);
        goto done;
    }
    prov = json_load_file(jp, 0, &je);
    if (!prov) { lw_err(err, hint, "%s: line %d: %s", jp, je.line, je.text); goto done; }
    json_t *dm = json_object_get(prov, "d_model"), *kk = json_object_get(prov, "k"), *cs = json_object_get(prov, "config_sha256");
    if (!json_is_integer(dm) || !json_is_integer(kk)) { lw_err(err, hint, "%s: d_model/k: missing or not integers", jp); goto done; }
    if (json_integer_value(dm) != d) {
        lw_err(err, "the artifact was fitted for a model of another width; refit it for this checkpoint",
               "%s: d_model: %lld, but this model has d = %d", jp, (long long)json_integer_value(dm), d);
        goto done;
    }
    if (json_is_string(cs)) snprintf(a->config_sha256, sizeof a->config_sha256, "%s", json_string_value(cs));
    if (config_sha256 && *config_sha256 && a->config_sha256[0] && strcmp(config_sha256, a->config_sha256)) {
        lw_err(err, "the artifact belongs to another checkpoint (its config.json differs); refit it for this one",
               "%s: config_sha256: %.12s..., but this checkpoint's config.json hashes to %.12s...", jp, a->config_sha256, config_sha256);
        goto done;
    }
    a->k = (int)json_integer_value(kk);
    json_t *nl = json_object_get(prov, "n_layers"), *nv = json_object_get(prov, "vocab"), *ly = json_object_get(prov, "layers");
    if (json_is_integer(nl)) a->n_layers = (int)json_integer_value(nl);
    if (json_is_integer(nv)) a->vocab = (int)json_integer_value(nv);
    if (json_is_array(ly)) {
        char *s = json_dumps(ly, JSON_COMPACT);
        if (s && strlen(s) < sizeof a->layers) snprintf(a->layers, sizeof a->layers, "%s", s);
        free(s);
    }
    size_t len = 0;
    buf = lw_read_file(sp, &len, err);
    if (!buf) goto done;
    json_t *fs = json_object_get(prov, "safetensors_sha256");
    if (json_is_string(fs)) { // written by fit-prism since the run decodes with it: a corrupt file is named
        char hex[65];
        lw_sha256_hex(buf, len, hex);
        if (strcmp(hex, json_string_value(fs))) {
            lw_err(err, "the file was damaged or replaced after fit-prism wrote it (disk, copy, transfer); copy it again or refit",
                   "%s: SHA-256 %.12s... differs from provenance.json's safetensors_sha256 %.12s... (%zu bytes: %s)", sp, hex,
                   json_string_value(fs), len, len < 8 ? "truncated" : "corrupt or truncated");
            goto done;
        }
    }
    uint64_t hl = 0;
    if (len >= 8)
        for (int i = 0; i < 8; i++) hl |= (uint64_t)(uint8_t)buf[i] << (8 * i);
    if (len < 8 || hl > len - 8) {
        lw_err(err, "the file is truncated (an interrupted copy?); copy or refit it", "%s: header: length %llu exceeds the file (%zu bytes)",
               sp, (unsigned long long)hl, len);
        goto done;
    }
    hdr = json_loadb(buf + 8, hl, 0, &je);
    if (!json_is_object(hdr)) { lw_err(err, hint, "%s: header: not a JSON object (%s)", sp, je.text); goto done; }
    a->d = d;
    if (!(a->mean = art_tensor(sp, hdr, buf, len, 8 + hl, "mean", 1, d, err))) goto done;
    if (!(a->var = art_tensor(sp, hdr, buf, len, 8 + hl, "var", 1, d, err))) goto done;
    if (!(a->Q = art_tensor(sp, hdr, buf, len, 8 + hl, "Q", 2, d, err))) goto done;
    for (int i = 0; i < d; i++)
        if (a->var[i] < 0) { lw_err(err, hint, "%s: tensor var: negative value at element %d", sp, i); goto done; }
    rc = 0;
done:
    if (rc) prism_artifact_free(a);
    json_decref(prov);
    json_decref(hdr);
    free(buf); free(jp); free(sp);
    return rc;
}

int prism_artifact_check_model(const PrismArtifact *a, const char *dir, int n_layers, int vocab, LwError *err) {
    const char *hint = "the artifact was fitted for another model; refit it with lensweep fit-prism --model <this checkpoint>";
    if (a->n_layers > 0 && a->n_layers != n_layers)
        return lw_err(err, hint, "%s/provenance.json: n_layers: %d, but this model has %d blocks", dir, a->n_layers, n_layers);
    if (a->vocab > 0 && a->vocab != vocab)
        return lw_err(err, hint, "%s/provenance.json: vocab: %d, but this model's unembedding has %d rows", dir, a->vocab, vocab);
    return 0;
}

void prism_artifact_free(PrismArtifact *a) {
    free(a->mean); free(a->var); free(a->Q);
    a->mean = a->var = a->Q = NULL;
}

void prism_apply(const PrismArtifact *a, const float *x, int rows, float *out) {
    int d = a->d;
    double *z = xmalloc(sizeof(double) * (size_t)d), *y = xmalloc(sizeof(double) * (size_t)d);
    for (int r = 0; r < rows; r++) {
        for (int i = 0; i < d; i++) z[i] = ((double)x[(size_t)r * d + i] - a->mean[i]) / sqrt((double)a->var[i] + PRISM_EPS_W);
        memset(y, 0, sizeof(double) * (size_t)d);
        for (int i = 0; i < d; i++) {
            const float *q = a->Q + (size_t)i * d;
            for (int j = 0; j < d; j++) y[j] += z[i] * q[j];
        }
        for (int j = 0; j < d; j++) out[(size_t)r * d + j] = (float)y[j];
    }
    free(z); free(y);
}
