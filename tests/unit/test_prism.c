// test_prism — the Prism fit (src/prism) against numpy on the same rows (tools/prism_fixture.py
// wrote tests/fixtures/prism/*: numpy's mean/var over the repeated rows, np.linalg.svd bases, the
// Procrustes Q). Where the result is unique (k = d, or the top-k of well-separated spectra) the
// entries are compared after the canonical sign rule; where it is not (the completion of E_k
// beyond the rank of the rows, Q off span(E_k)) subspaces are compared: projectors, Q E_k = U_k.
#include <stdlib.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "prism/prism.h"
#include "test.h"

typedef struct {
    int n, d, V, k;
    float *rows, *weight, *W, *mean, *var, *E, *U, *Q;
} Case;

static float *read_t(SafeTensors *st, const char *name, int64_t *shape) {
    const StTensor *t = st_find(st, name);
    if (!t) { printf("    fixture lacks %s\n", name); exit(1); }
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    if (shape) for (int i = 0; i < t->ndim; i++) shape[i] = t->shape[i];
    float *p = malloc(sizeof(float) * (size_t)n);
    LwError err = {0};
    if (st_read_all(st, t, DT_F32, p, &err)) { printf("    %s\n", err.msg); exit(1); }
    return p;
}

static Case load_case(const char *name) {
    char dir[256];
    snprintf(dir, sizeof dir, FIXTURES "/prism/%s", name);
    SafeTensors st;
    LwError err = {0};
    if (st_open(dir, &st, &err)) { printf("    %s\n  hint: %s\n", err.msg, err.hint); exit(1); }
    Case c;
    int64_t s[2];
    c.rows = read_t(&st, "rows", s); c.n = (int)s[0]; c.d = (int)s[1];
    c.weight = read_t(&st, "weight", NULL);
    c.W = read_t(&st, "W", s); c.V = (int)s[0];
    c.mean = read_t(&st, "mean", NULL);
    c.var = read_t(&st, "var", NULL);
    c.E = read_t(&st, "E", s); c.k = (int)s[0];
    c.U = read_t(&st, "U", NULL);
    c.Q = read_t(&st, "Q", NULL);
    st_close(&st);
    return c;
}

static void free_case(Case *c) {
    free(c->rows); free(c->weight); free(c->W); free(c->mean); free(c->var); free(c->E); free(c->U); free(c->Q);
}

// The rows repeated by their weights, fed to Welford in batches of `batch` rows.
static void whiten_stats(const Case *c, int batch, float *mean, float *var) {
    int total = 0;
    for (int i = 0; i < c->n; i++) total += (int)c->weight[i];
    float *X = malloc(sizeof(float) * (size_t)total * c->d);
    int r = 0;
    for (int i = 0; i < c->n; i++)
        for (int m = 0; m < (int)c->weight[i]; m++, r++) memcpy(X + (size_t)r * c->d, c->rows + (size_t)i * c->d, sizeof(float) * c->d);
    PrismWelford w;
    prism_welford_init(&w, c->d);
    for (int i = 0; i < total; i += batch) prism_welford_add(&w, X + (size_t)i * c->d, total - i < batch ? total - i : batch);
    CHECK(w.n == total);
    prism_welford_finish(&w, mean, var);
    prism_welford_free(&w);
    free(X);
}

// Fit everything for a case: E, U ([k][d]), Q ([d][d]).
static void fit_case(const Case *c, double *E, double *U, double *Q, int *fallback) {
    float *mean = malloc(sizeof(float) * c->d), *var = malloc(sizeof(float) * c->d);
    whiten_stats(c, 7, mean, var);
    double *w = malloc(sizeof(double) * c->n);
    for (int i = 0; i < c->n; i++) w[i] = c->weight[i];
    LwError err = {0};
    CHECKF(!prism_basis_E(c->rows, w, c->n, c->d, mean, var, c->k, E, &err), "%s", err.msg);
    double *G = calloc((size_t)c->d * c->d, sizeof(double));
    for (int r = 0; r < c->V; r += 13) prism_gram_add(G, c->W + (size_t)r * c->d, c->V - r < 13 ? c->V - r : 13, c->d);
    CHECKF(!prism_basis_U(G, c->d, c->k, U, &err), "%s", err.msg);
    CHECKF(!prism_procrustes(E, U, c->d, c->k, Q, fallback, &err), "%s", err.msg);
    free(G); free(w); free(mean); free(var);
}

static double max_diff(const double *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

// max |P_a - P_b| over the projectors onto the span of the first r vectors of a and b ([.][d]).
static double projector_diff(const double *a, const float *b, int r, int d) {
    double m = 0;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double pa = 0, pb = 0;
            for (int v = 0; v < r; v++) {
                pa += a[(size_t)v * d + i] * a[(size_t)v * d + j];
                pb += (double)b[(size_t)v * d + i] * b[(size_t)v * d + j];
            }
            m = fmax(m, fabs(pa - pb));
        }
    return m;
}

// max |<b_i, b_j> - δ_ij| over k vectors of length d
static double gram_error(const double *B, int k, int d) {
    double m = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            double s = 0;
            for (int t = 0; t < d; t++) s += B[(size_t)i * d + t] * B[(size_t)j * d + t];
            m = fmax(m, fabs(s - (i == j)));
        }
    return m;
}

// Tolerances: the fixture stores fp32 (relative rounding 6e-8); the spectra of these random
// cases are well separated: the two double-precision routes agree to ~3e-8 (the fp32 storage).
#define TOL_STAT 1e-6
#define TOL_VEC 1e-6

TEST(welford_matches_numpy_in_any_batching) {
    const char *names[] = {"full", "lowk", "fewrows"};
    for (int ci = 0; ci < 3; ci++) {
        Case c = load_case(names[ci]);
        float *m1 = malloc(sizeof(float) * c.d), *v1 = malloc(sizeof(float) * c.d);
        float *m2 = malloc(sizeof(float) * c.d), *v2 = malloc(sizeof(float) * c.d);
        whiten_stats(&c, 7, m1, v1);
        whiten_stats(&c, 100000, m2, v2); // one batch
        for (int j = 0; j < c.d; j++) {
            CHECK_NEAR(m1[j], c.mean[j], TOL_STAT * (1 + fabs(c.mean[j])));
            CHECK_NEAR(v1[j], c.var[j], TOL_STAT * c.var[j]);
            CHECK_NEAR(m1[j], m2[j], TOL_STAT * (1 + fabs(m2[j])));
            CHECK_NEAR(v1[j], v2[j], TOL_STAT * v2[j]);
        }
        free(m1); free(v1); free(m2); free(v2);
        free_case(&c);
    }
}

// A constant feature has population variance 0, floored to 1e-8; the other feature by hand:
// values 1, 2, 3, 4 -> mean 2.5, variance 1.25.
TEST(variance_floor_by_hand) {
    float rows[] = {5, 1, 5, 2, 5, 3, 5, 4};
    PrismWelford w;
    prism_welford_init(&w, 2);
    prism_welford_add(&w, rows, 3);
    prism_welford_add(&w, rows + 6, 1);
    float mean[2], var[2];
    prism_welford_finish(&w, mean, var);
    prism_welford_free(&w);
    CHECK(mean[0] == 5.0f);
    CHECK(var[0] == (float)1e-8);
    CHECK_NEAR(mean[1], 2.5, 1e-7);
    CHECK_NEAR(var[1], 1.25, 1e-7);
}

TEST(sign_rule_by_hand) {
    // largest |.| negative -> flipped; ties -> the first index decides
    double B[] = {0.6, -0.8, 0.0, /**/ -0.5, 0.5, 0.1};
    prism_canonical_signs(B, 2, 3);
    CHECK(B[0] == -0.6 && B[1] == 0.8 && B[2] == -0.0);
    CHECK(B[3] == 0.5 && B[4] == -0.5 && B[5] == -0.1);
}

TEST(full_rank_bases_and_Q_equal_numpy) {
    Case c = load_case("full");
    int d = c.d, k = c.k, fb = -1;
    double *E = malloc(sizeof(double) * k * d), *U = malloc(sizeof(double) * k * d), *Q = malloc(sizeof(double) * d * d);
    fit_case(&c, E, U, Q, &fb);
    CHECK(k == d);
    double e = max_diff(E, c.E, (size_t)k * d), u = max_diff(U, c.U, (size_t)k * d), q = max_diff(Q, c.Q, (size_t)d * d);
    CHECKF(e < TOL_VEC, "E differs from numpy by %.3g", e);
    CHECKF(u < TOL_VEC, "U differs from numpy by %.3g", u);
    CHECKF(q < TOL_VEC, "Q differs from numpy by %.3g", q);
    CHECKF(prism_ortho_error(Q, d) < 1e-10, "QtQ - I: %.3g", prism_ortho_error(Q, d));
    CHECK(fb == 0);
    free(E); free(U); free(Q);
    free_case(&c);
}

// k < d: E_k and U_k are unique up to sign (compared entrywise); Q is unique on span(E_k) only:
// Q e_j = u_j, checked against numpy's U and with numpy's own Q applied to numpy's E.
TEST(low_rank_k_Q_maps_E_onto_U) {
    Case c = load_case("lowk");
    int d = c.d, k = c.k, fb = -1;
    double *E = malloc(sizeof(double) * k * d), *U = malloc(sizeof(double) * k * d), *Q = malloc(sizeof(double) * d * d);
    fit_case(&c, E, U, Q, &fb);
    CHECK(k < d);
    double e = max_diff(E, c.E, (size_t)k * d), u = max_diff(U, c.U, (size_t)k * d);
    CHECKF(e < TOL_VEC, "E differs from numpy by %.3g", e);
    CHECKF(u < TOL_VEC, "U differs from numpy by %.3g", u);
    double mc = 0, mn = 0;
    for (int j = 0; j < k; j++)
        for (int i = 0; i < d; i++) {
            double qe = 0, qen = 0;
            for (int t = 0; t < d; t++) {
                qe += Q[(size_t)i * d + t] * E[(size_t)j * d + t];
                qen += (double)c.Q[(size_t)i * d + t] * c.E[(size_t)j * d + t];
            }
            mc = fmax(mc, fabs(qe - c.U[(size_t)j * d + i]));
            mn = fmax(mn, fabs(qen - c.U[(size_t)j * d + i]));
        }
    CHECKF(mc < TOL_VEC, "Q E_k - U_k (numpy's U): %.3g", mc);
    CHECKF(mn < TOL_VEC, "numpy's own Q E_k - U_k: %.3g (fixture self-check)", mn);
    CHECKF(prism_ortho_error(Q, d) < 1e-10, "QtQ - I: %.3g", prism_ortho_error(Q, d));
    CHECK(fb == 0);
    free(E); free(U); free(Q);
    free_case(&c);
}

// 6 distinct rows: the centered reservoir has rank 5; the first 5 vectors span numpy's top-5
// subspace, the remaining 7 complete an orthonormal basis (not unique: checked for orthonormality).
TEST(few_rows_top_subspace_and_completion) {
    Case c = load_case("fewrows");
    int d = c.d, k = c.k, fb = -1, r = c.n - 1;
    double *E = malloc(sizeof(double) * k * d), *U = malloc(sizeof(double) * k * d), *Q = malloc(sizeof(double) * d * d);
    fit_case(&c, E, U, Q, &fb);
    double p = projector_diff(E, c.E, r, d);
    CHECKF(p < TOL_VEC, "top-%d projector differs from numpy's by %.3g", r, p);
    double top = max_diff(E, c.E, (size_t)r * d);
    CHECKF(top < TOL_VEC, "top-%d vectors differ from numpy by %.3g", r, top);
    CHECKF(gram_error(E, k, d) < 1e-10, "E not orthonormal: %.3g", gram_error(E, k, d));
    CHECKF(prism_ortho_error(Q, d) < 1e-10, "QtQ - I: %.3g", prism_ortho_error(Q, d));
    free(E); free(U); free(Q);
    free_case(&c);
}

// METRICS.md §4.4 by hand: row vector times Q. μ = (0, 1), σ² = (1, 4), x = (1, 3) -> whitened
// z = (1/sqrt(1+1e-8), 2/sqrt(4+1e-8)) ≈ (1, 1); Q = [[0, 1], [-1, 0]] -> z·Q = (-z1, z0) ≈ (-1, 1).
// (Qᵀ would give (1, -1): the test fixes the orientation.)
TEST(apply_row_vector_times_Q_by_hand) {
    float mean[] = {0, 1}, var[] = {1, 4}, Q[] = {0, 1, -1, 0}, x[] = {1, 3, 0, 1}, out[4];
    PrismArtifact a = {.d = 2, .k = 2, .mean = mean, .var = var, .Q = Q};
    prism_apply(&a, x, 2, out);
    CHECK_NEAR(out[0], -1.0, 1e-7);
    CHECK_NEAR(out[1], 1.0, 1e-7);
    CHECK_NEAR(out[2], 0.0, 1e-12); // x = μ -> 0
    CHECK_NEAR(out[3], 0.0, 1e-12);
}

static void write_artifact(const char *dir, int d_prov, int q_rows, const char *sha) {
    float mean[3] = {1, 2, 3}, var[3] = {1, 0.5f, 2}, Q[9] = {0, 1, 0, 1, 0, 0, 0, 0, 1};
    const char *names[3] = {"mean", "var", "Q"};
    const float *data[3] = {mean, var, Q};
    int ndim[3] = {1, 1, 2};
    int64_t shape[3][2] = {{3, 0}, {3, 0}, {q_rows, 3}};
    char path[512], js[512];
    LwError err = {0};
    snprintf(path, sizeof path, "%s/prism.safetensors", dir);
    CHECKF(!prism_write_safetensors(path, names, data, ndim, (const int64_t(*)[2])shape, 3, &err), "%s", err.msg);
    snprintf(path, sizeof path, "%s/provenance.json", dir);
    int n = snprintf(js, sizeof js, "{\"kind\": \"prism\", \"d_model\": %d, \"k\": 3, \"config_sha256\": \"%s\"}\n", d_prov, sha);
    CHECK(!lw_write_file(path, js, (size_t)n, &err));
}

static int load_fails_with(const char *dir, int d, const char *sha, const char *needle) {
    PrismArtifact a;
    LwError err = {0};
    int rc = prism_artifact_load(dir, d, sha, &a, &err);
    if (rc == 0) { prism_artifact_free(&a); printf("    loaded, wanted an error with '%s'\n", needle); return 0; }
    if (!strstr(err.msg, needle) || !err.hint[0]) { printf("    error '%s' (hint '%s') lacks '%s'\n", err.msg, err.hint, needle); return 0; }
    return 1;
}

TEST(artifact_load_and_refusals) {
    char dir[] = "/tmp/lw_prism_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *sha = "aaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccdddd";
    write_artifact(dir, 3, 3, sha);
    PrismArtifact a;
    LwError err = {0};
    CHECKF(!prism_artifact_load(dir, 3, sha, &a, &err), "%s", err.msg);
    if (!err.set) {
        CHECK(a.d == 3 && a.k == 3 && a.mean[2] == 3 && a.var[1] == 0.5f && a.Q[1] == 1 && a.Q[3] == 1 && a.Q[8] == 1);
        CHECK_STR(a.config_sha256, sha);
        prism_artifact_free(&a);
    }
    CHECK(load_fails_with(dir, 4, sha, "d_model: 3, but this model has d = 4"));
    CHECK(load_fails_with(dir, 3, "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef", "config_sha256"));
    // truncated: the last float of Q is cut off
    char path[512];
    snprintf(path, sizeof path, "%s/prism.safetensors", dir);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    CHECK(truncate(path, len - 4) == 0);
    CHECK(load_fails_with(dir, 3, sha, "tensor Q: data ends at byte"));
    // a Q of another shape
    write_artifact(dir, 3, 2, sha);
    CHECK(load_fails_with(dir, 3, sha, "tensor Q: shape [2,3]"));
    // no provenance.json: incomplete
    write_artifact(dir, 3, 3, sha);
    snprintf(path, sizeof path, "%s/provenance.json", dir);
    unlink(path);
    CHECK(load_fails_with(dir, 3, sha, "provenance.json: missing"));
    snprintf(path, sizeof path, "%s/prism.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    RUN(welford_matches_numpy_in_any_batching);
    RUN(variance_floor_by_hand);
    RUN(sign_rule_by_hand);
    RUN(full_rank_bases_and_Q_equal_numpy);
    RUN(low_rank_k_Q_maps_E_onto_U);
    RUN(few_rows_top_subspace_and_completion);
    RUN(apply_row_vector_times_Q_by_hand);
    RUN(artifact_load_and_refusals);
    return test_summary();
}
