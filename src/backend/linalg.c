// linalg — see linalg.h.
#include "backend/linalg.h"

#include <cblas.h>
#include <stdlib.h>

#include "util/util.h"

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

int la_qr_orthonormalize(double *B, int d, int k) {
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
    return info;
}

int la_svd_left(double *a, int m, int n, double *U, double *s, double **vt_out) {
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
    return info;
}

int la_eigh_upper(double *G, int d, double *w) {
    double wq;
    int info = 0, lwork = -1, liwork = -1, iwq;
    dsyevd_("V", "U", &d, G, &d, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    lwork = (int)wq + 1;
    liwork = iwq + 1;
    double *work = xmalloc(sizeof(double) * (size_t)lwork);
    int *iwork = xmalloc(sizeof(int) * (size_t)liwork);
    if (!info) dsyevd_("V", "U", &d, G, &d, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work); free(iwork);
    return info;
}

void la_syrk_acc(double *G, const double *W, int d, int rows) {
    // Row-major W [rows, d] = column-major d × rows matrix Wᵀ: G += Wᵀ (Wᵀ)ᵀ = Wᵀ W.
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, d, rows, 1.0, W, d, 1.0, G, d);
}

void la_dgemm(int row_major, int trans_a, int trans_b, int m, int n, int k, const double *A, int lda,
              const double *B, int ldb, double *C, int ldc) {
    cblas_dgemm(row_major ? CblasRowMajor : CblasColMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0, A, lda, B, ldb, 0.0, C, ldc);
}

void la_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, A, lda, B, ldb, beta, C, ldc);
}
