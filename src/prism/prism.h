// prism — the fit of the Prism shared decoder (METRICS.md §20.1) and its artifact.
//
// The fit has four pieces, each a pure function here so that tests can compare them with numpy:
//   1. whitening statistics: per-feature mean and population variance of all rows (batched
//      Welford, i.e. Chan's merge of per-batch mean/M2), variance floored at PRISM_VAR_FLOOR;
//   2. E_k: the top-k right singular vectors of the whitened, centered reservoir;
//   3. U_k: the top-k left singular vectors of W_U (math orientation d × V; the stored lm_head is
//      [V, d], so these are the top-k eigenvectors of lm_headᵀ·lm_head, a d × d Gram matrix);
//   4. Q = A Bᵀ with A Σ Bᵀ = SVD(U_k E_kᵀ) (orthogonal Procrustes, Q E_k ≈ U_k), replaced by the
//      Q factor of its QR when ‖QᵀQ − I‖_F > PRISM_ORTHO_TOL.
//
// Numerics: every decomposition runs in double through LAPACK (OpenBLAS): E_k from an exact SVD
// (dgesdd; the spec's "SVD fallback", not the reference's randomized PCA), U_k from a symmetric
// eigendecomposition (dsyevd) of the Gram matrix accumulated in double from the fp32 values.
// Bases are then orthonormalized by QR (dgeqrf + dorgqr), as the spec says.
//
// Layout: a basis of k vectors of length d is stored as k contiguous vectors (vector j at
// B + j*d), which is LAPACK's column-major d × k matrix. Q is returned row-major [d][d] as the
// mathematical matrix (Q[i*d + j] = Q_ij), which is what the artifact stores.
//
// Canonical sign rule (singular/eigen vectors are defined up to sign): every basis vector is
// flipped so that its entry of largest absolute value (the lowest index on exact ties) is
// positive. Order: decreasing singular value / eigenvalue. Vectors beyond the rank of the data
// (k > rank of the reservoir) complete the basis with an orthonormal basis of the null space
// that LAPACK picks: orthonormal and orthogonal to the others, but not unique.
#ifndef LW_PRISM_H
#define LW_PRISM_H

#include <stdint.h>

#include "util/util.h"

#define PRISM_VAR_FLOOR 1e-8
#define PRISM_EPS_W 1e-8
#define PRISM_K_MAX 512
#define PRISM_ORTHO_TOL 1e-3

// ---------------------------------------------------------------------------- whitening stats
typedef struct {
    int d;
    int64_t n;     // rows seen
    double *mean;  // [d]
    double *m2;    // [d] sum of squared deviations
} PrismWelford;

void prism_welford_init(PrismWelford *w, int d);
// Merges one batch of rows [n_rows, d] (fp32, row-major) into the running statistics.
void prism_welford_add(PrismWelford *w, const float *rows, int n_rows);
// mean and population variance (M2 / n), variance floored at PRISM_VAR_FLOOR, as fp32.
void prism_welford_finish(const PrismWelford *w, float *mean, float *var);
void prism_welford_free(PrismWelford *w);

// ---------------------------------------------------------------------------- bases
// E_k from n distinct rows [n, d] with multiplicities weight[n] (NULL: all 1; a row of weight m
// counts as m identical rows of the reservoir): x̃ = (x − mean) / sqrt(var + PRISM_EPS_W),
// centered by the (weighted) mean of x̃, then the top-k right singular vectors. E: [k][d].
int prism_basis_E(const float *rows, const double *weight, int n, int d, const float *mean,
                  const float *var, int k, double *E, LwError *err);

// Accumulates G += Wᵀ W (upper triangle, column-major d × d, double) for a block of `rows` rows
// of the stored [V, d] unembedding (fp32). Call over all row blocks, then prism_basis_U.
void prism_gram_add(double *G, const float *W, int rows, int d);
// U_k from the Gram matrix: top-k eigenvectors, QR-polished, canonical signs. U: [k][d].
// G is overwritten.
int prism_basis_U(double *G, int d, int k, double *U, LwError *err);

// Orthogonal Procrustes: Q (row-major [d][d]) from E, U ([k][d] each). *qr_fallback is set to 1
// when the SVD result failed the orthogonality check and its QR was used instead.
int prism_procrustes(const double *E, const double *U, int d, int k, double *Q, int *qr_fallback,
                     LwError *err);

// ‖QᵀQ − I‖_F of a row-major d × d matrix.
double prism_ortho_error(const double *Q, int d);

// The canonical sign rule above, on k vectors of length d.
void prism_canonical_signs(double *B, int k, int d);

// ---------------------------------------------------------------------------- artifact
// <dir>/prism.safetensors (fp32 tensors mean [d], var [d], Q [d, d]; fit-prism adds rows and
// reservoir_counts for audit) and <dir>/provenance.json, written last: its presence marks a
// complete artifact.
typedef struct {
    int d, k;
    float *mean, *var; // [d]
    float *Q;          // [d][d] row-major
    char config_sha256[65]; // "" when the provenance has none (GGUF checkpoint)
    // from provenance.json (0 / "" when absent: artifacts of older versions, hand-made ones)
    int n_layers, vocab;
    char layers[128];       // compact JSON of `layers` (["embed",1,3,5]), "" when absent
} PrismArtifact;

// Writes an fp32 safetensors file (header keys sorted, padded with spaces to 8 bytes, metadata
// format "lensweep-prism"). shape[i] has ndim[i] (1 or 2) entries.
int prism_write_safetensors(const char *path, const char *const *names, const float *const *data, const int *ndim,
                            const int64_t (*shape)[2], int n, LwError *err);

// Loads and checks an artifact for a model of width d: provenance.json present and readable,
// d_model = d, config_sha256 equal to `config_sha256` (when both are known), tensors mean/var/Q
// F32 of shapes [d], [d], [d, d] inside the file (a truncated file is named as such), the
// file's SHA-256 equal to provenance's `safetensors_sha256` when it has one (a corrupt file),
// var >= 0 and every value finite. Returns 0, or -1 with err naming the file and the field or tensor.
int prism_artifact_load(const char *dir, int d, const char *config_sha256, PrismArtifact *a, LwError *err);
void prism_artifact_free(PrismArtifact *a);

// The loaded artifact against the model `run` decodes (METRICS.md §20.1's compatibility check,
// extended): provenance's n_layers and vocab, when present, equal the model's. -1 with err naming
// <dir>/provenance.json and the field.
int prism_artifact_check_model(const PrismArtifact *a, const char *dir, int n_layers, int vocab, LwError *err);

// The runtime map of METRICS.md §4.4 before the unembedding, row vectors:
// out[r] = ((x[r] − μ) / sqrt(σ² + ε_w)) · Q, for `rows` rows of length d (fp32, sums in double).
void prism_apply(const PrismArtifact *a, const float *x, int rows, float *out);

#endif
