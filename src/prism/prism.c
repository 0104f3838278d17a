// prism — the Prism fit (METRICS.md §20.1); see prism.h for the conventions.
#include "prism/prism.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// LAPACK from OpenBLAS (Debian ships no lapack.h with it): Fortran calling convention, with the
// hidden lengths of the character arguments at the end.
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
                    const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info,
                    size_t jobz_len);
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
                    const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len);
extern void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work, const int *lwork,
                    int *info);
extern void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau, double *work,
                    const int *lwork, int *info);

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
    int info = 0, lwork = -1;
    double wq, *tau = xmalloc(sizeof(double) * (size_t)k);
    dgeqrf_(&d, &k, B, &d, tau, &wq, &lwork, &info);
    lwork = (int)wq + 1;
    int lwork2 = -1;
    double wq2;
    dorgqr_(&d, &k, &k, B, &d, tau, &wq2, &lwork2, &info);
    if ((int)wq2 + 1 > lwork) lwork = (int)wq2 + 1;
    double *work = xmalloc(sizeof(double) * (size_t)lwork);
    dgeqrf_(&d, &k, B, &d, tau, work, &lwork, &info);
    double *rdiag = xmalloc(sizeof(double) * (size_t)k);
    for (int j = 0; j < k; j++) rdiag[j] = B[(size_t)j * d + j];
    if (!info) dorgqr_(&d, &k, &k, B, &d, tau, work, &lwork, &info);
    if (!info)
        for (int j = 0; j < k; j++)
            if (rdiag[j] < 0)
                for (int i = 0; i < d; i++) B[(size_t)j * d + i] = -B[(size_t)j * d + i];
    free(work); free(tau); free(rdiag);
    if (info) return lw_err(err, "this is a numerical failure, not bad input; please report it", "prism: QR (dgeqrf/dorgqr) failed: info %d", info);
    return 0;
}

// Left singular vectors of the column-major m × n matrix a (destroyed): U [m][m] column-major.
// s gets min(m, n) singular values (descending).
static int svd_left(double *a, int m, int n, double *U, double *s, double **vt_out, LwError *err) {
    int mn = m < n ? m : n;
    char jobz = n >= m ? 'S' : 'A'; // U is m × m either way
    int ldvt = jobz == 'A' ? n : mn;
    double *vt = xmalloc(sizeof(double) * (size_t)ldvt * n);
    int *iwork = xmalloc(sizeof(int) * 8 * (size_t)mn);
    int info = 0, lwork = -1;
    double wq;
    dgesdd_(&jobz, &m, &n, a, &m, s, U, &m, vt, &ldvt, &wq, &lwork, iwork, &info, 1);
    lwork = (int)wq + 1;
    double *work = xmalloc(sizeof(double) * (size_t)lwork);
    if (!info) dgesdd_(&jobz, &m, &n, a, &m, s, U, &m, vt, &ldvt, work, &lwork, iwork, &info, 1);
    free(work); free(iwork);
    if (vt_out) *vt_out = vt; else free(vt);
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
    // Row-major W [rows, d] = column-major d × rows matrix Wᵀ: G += Wᵀ (Wᵀ)ᵀ = Wᵀ W.
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, d, rows, 1.0, Wd, d, 1.0, G, d);
    free(Wd);
}

int prism_basis_U(double *G, int d, int k, double *U, LwError *err) {
    LW_ASSERT(k >= 1 && k <= d);
    double *w = xmalloc(sizeof(double) * (size_t)d), wq;
    int info = 0, lwork = -1, liwork = -1, iwq;
    dsyevd_("V", "U", &d, G, &d, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    lwork = (int)wq + 1;
    liwork = iwq + 1;
    double *work = xmalloc(sizeof(double) * (size_t)lwork);
    int *iwork = xmalloc(sizeof(int) * (size_t)liwork);
    if (!info) dsyevd_("V", "U", &d, G, &d, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work); free(iwork); free(w);
    if (info) return lw_err(err, "this is a numerical failure (non-finite unembedding?), not bad input", "prism: eigendecomposition (dsyevd) failed: info %d", info);
    // eigenvalues ascending: the top k are the last k columns, largest first
    for (int j = 0; j < k; j++) memcpy(U + (size_t)j * d, G + (size_t)(d - 1 - j) * d, sizeof(double) * (size_t)d);
    if (qr_orthonormalize(U, d, k, err)) return -1;
    prism_canonical_signs(U, k, d);
    return 0;
}

double prism_ortho_error(const double *Q, int d) {
    double *P = xmalloc(sizeof(double) * (size_t)d * d), s = 0;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, Q, d, Q, d, 0.0, P, d);
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
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, d, d, k, 1.0, U, d, E, d, 0.0, M, d);
    double *A = xmalloc(sizeof(double) * (size_t)d * d), *s = xmalloc(sizeof(double) * (size_t)d), *Bt = NULL;
    int rc = svd_left(M, d, d, A, s, &Bt, err);
    free(s);
    if (!rc) {
        double *Qc = M; // reuse: column-major Q = A Bᵀ
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, A, d, Bt, d, 0.0, Qc, d);
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
