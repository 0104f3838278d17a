// linalg — dense linear algebra in double on the CPU (LAPACK and BLAS from OpenBLAS), for the
// offline fits (Prism, METRICS.md §20.1). The only place besides cpu.c that names BLAS/LAPACK:
// src/ layers above src/backend call these (tests/sh/test_layering.sh). Column-major unless said.
// Functions returning int return LAPACK's `info` (0: success).
#ifndef LW_LINALG_H
#define LW_LINALG_H

// Orthonormalizes the k columns of B (d × k) in place by Householder QR, keeping each column's
// direction (columns multiplied by sign(R_jj), so diag(R) >= 0).
int la_qr_orthonormalize(double *B, int d, int k);

// Left singular vectors of the m × n matrix a (destroyed): U [m × m]; s gets min(m, n) singular
// values, descending; *vt_out (when vt_out != NULL) the right ones (caller frees).
int la_svd_left(double *a, int m, int n, double *U, double *s, double **vt_out);

// Eigen-decomposition of the symmetric d × d matrix G (upper triangle read): eigenvalues in w,
// ascending; G is overwritten by the eigenvectors (columns).
int la_eigh_upper(double *G, int d, double *w);

// G (d × d, upper triangle) += Wᵀ W for the row-major W [rows, d].
void la_syrk_acc(double *G, const double *W, int d, int rows);

// C = op(A) · op(B) (alpha 1, beta 0); row_major selects the storage order of all three.
void la_dgemm(int row_major, int trans_a, int trans_b, int m, int n, int k, const double *A, int lda,
              const double *B, int ldb, double *C, int ldc);

// C = alpha · op(A) · op(B) + beta · C in fp32 (sgemm), row-major (the tuned-lens fit's products).
void la_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);

#endif
