// The CPU forward pass against Hugging Face transformers, for every family and checkpoint dtype.
//
// Each fixture tests/fixtures/golden/<family>-<dtype>.bin was written by tools/golden/
// make_golden.py from transformers (fp32, eager attention) on a tiny random checkpoint made by
// `lensweep mktiny`; the fixture stores the exact mktiny arguments, so this test regenerates the
// same checkpoint into a temporary directory, loads it with model_load, runs model_forward and
// model_final_logits, and compares every layer's residual r_0 .. r_L (r_L raw, as HF's hook
// recorded it) and the logits: max|Δ| ≤ 1e-5 · max|reference| per layer (DESIGN.md, Numerics);
// then a 17-token prefix against the first 17 reference positions (causality), and a rerun
// that must be bit-identical (determinism).
//
// Launched by mpirun with R ranks, every rank loads its tensor-parallel slice and runs the same
// forward (real all-reduces); residuals are replicated and compared whole, logits are compared
// on the rank's own vocabulary shard. tests/sh/test_forward_tp.sh runs it that way.
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/comm.h"
#include "model/model.h"
#include "test.h"
#include "util/util.h"

#define GOLDEN_DIR FIXTURES "/golden"
#define REL_TOL 1e-5

static Comm g_comm;
static int g_uneven_heads; // LW_TP_UNEVEN=1 (option tp_uneven_heads)

typedef struct {
    int T, L, d, V;
    char args[1024];      // mktiny arguments, space-separated
    const int32_t *ids;   // [T]
    const float *resid;   // [(L+1), T, d]
    const float *logits;  // [T, V]
    char *buf;
} Golden;

static uint32_t rd_u32(const char **p) {
    uint32_t v;
    memcpy(&v, *p, 4);
    *p += 4;
    return v;
}

// Parses a fixture; returns 0 or -1 with a message (a malformed fixture is a test failure).
static int golden_read(const char *path, Golden *g, char *why, size_t why_len) {
    LwError err = {0};
    size_t len = 0;
    memset(g, 0, sizeof *g);
    g->buf = lw_read_file(path, &len, &err);
    if (!g->buf) { snprintf(why, why_len, "%s", err.msg); return -1; }
    const char *p = g->buf, *end = g->buf + len;
    if (len < 32 || memcmp(p, "LWGOLD1\0", 8) != 0) { snprintf(why, why_len, "bad magic"); return -1; }
    p += 8;
    if (rd_u32(&p) != 1) { snprintf(why, why_len, "unknown version"); return -1; }
    g->T = (int)rd_u32(&p); g->L = (int)rd_u32(&p); g->d = (int)rd_u32(&p); g->V = (int)rd_u32(&p);
    uint32_t n_args = rd_u32(&p);
    size_t used = 0;
    for (uint32_t i = 0; i < n_args; i++) {
        if (end - p < 4) { snprintf(why, why_len, "truncated args"); return -1; }
        uint32_t n = rd_u32(&p);
        if ((size_t)(end - p) < n || used + n + 2 >= sizeof g->args) { snprintf(why, why_len, "bad args"); return -1; }
        for (uint32_t k = 0; k < n; k++)
            if (!(isalnum((unsigned char)p[k]) || p[k] == '-' || p[k] == '_' || p[k] == '.')) {
                snprintf(why, why_len, "unexpected character in mktiny argument");
                return -1;
            }
        if (used) g->args[used++] = ' ';
        memcpy(g->args + used, p, n);
        used += n;
        p += n;
    }
    size_t need = (size_t)g->T * 4 + (size_t)(g->L + 1) * g->T * g->d * 4 + (size_t)g->T * g->V * 4;
    if ((size_t)(end - p) != need) { snprintf(why, why_len, "payload is %zu bytes, expected %zu", (size_t)(end - p), need); return -1; }
    g->ids = (const int32_t *)p;
    g->resid = (const float *)(p + (size_t)g->T * 4);
    g->logits = g->resid + (size_t)(g->L + 1) * g->T * g->d;
    return 0;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
    return m;
}

// Worst max|Δ| / max|ref| over the columns [c0, c0 + nc) of a [rows, ld] reference.
static double rel_err_cols(const float *got, const float *ref, int rows, int ld, int c0, int nc) {
    double dm = 0, rm = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < nc; c++) {
            double a = got[(size_t)r * nc + c], b = ref[(size_t)r * ld + c0 + c];
            dm = fmax(dm, isnan(a) ? INFINITY : fabs(a - b));
            rm = fmax(rm, fabs(b));
        }
    return rm > 0 ? dm / rm : dm;
}

static void check_fixture(const char *name) {
    char path[1024], why[1200];
    snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, name);
    Golden g;
    if (golden_read(path, &g, why, sizeof why)) {
        CHECKF(0, "%s: %s", path, why);
        free(g.buf);
        return;
    }
    // Regenerate the checkpoint exactly as the fixture generator did (rank 0 writes, all read).
    char dir[] = "/tmp/lw-golden-XXXXXX";
    int ok = 1;
    if (g_comm.rank == 0) {
        ok = mkdtemp(dir) != NULL;
        if (ok) {
            char cmd[2048];
            // The child must not think it is an MPI rank (this process may be one).
            snprintf(cmd, sizeof cmd, "env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK bin/lensweep %s --out %s >/dev/null",
                     g.args, dir);
            ok = system(cmd) == 0;
            CHECKF(ok, "%s failed", cmd);
        }
    }
    comm_bcast(&g_comm, dir, sizeof dir, 0);
    comm_bcast(&g_comm, &ok, sizeof ok, 0);
    if (!ok) { free(g.buf); return; }

    LwError err = {0};
    Model *m = model_load_ex(dir, g_comm.rank, g_comm.size, &(ModelLoadOpts){.uneven_heads = g_uneven_heads}, &err);
    CHECKF(m != NULL, "model_load(%s): %s (hint: %s)", dir, err.msg, err.hint);
    if (m) {
        const ModelConfig *c = &m->cfg;
        CHECKF(c->n_layers == g.L && c->d_model == g.d && c->vocab == g.V,
               "checkpoint L=%d d=%d V=%d, fixture L=%d d=%d V=%d", c->n_layers, c->d_model, c->vocab, g.L, g.d, g.V);
        if (c->n_layers == g.L && c->d_model == g.d && c->vocab == g.V) {
            size_t n = (size_t)(g.L + 1) * g.T * g.d;
            float *resid = xmalloc(n * sizeof(float)), *again = xmalloc(n * sizeof(float));
            float *logits = xmalloc((size_t)g.T * m->tp.vocab_len * sizeof(float));
            model_forward(m, g.ids, g.T, resid, &g_comm);
            model_final_logits(m, resid + (size_t)g.L * g.T * g.d, g.T, logits);
            double worst = 0;
            for (int l = 0; l <= g.L; l++) {
                size_t off = (size_t)l * g.T * g.d;
                double e = rel_err_cols(resid + off, g.resid + off, g.T, g.d, 0, g.d);
                worst = fmax(worst, e);
                CHECKF(e <= REL_TOL, "%s layer %d: max|Δ|/max|ref| = %.3g (max|ref| %.3g)", name, l, e,
                       max_abs(g.resid + off, (size_t)g.T * g.d));
            }
            double el = rel_err_cols(logits, g.logits, g.T, g.V, m->tp.vocab_start, m->tp.vocab_len);
            CHECKF(el <= REL_TOL, "%s logits: max|Δ|/max|ref| = %.3g", name, el);
            // Causality: a prefix of the ids must reproduce the reference's first positions (an
            // odd length, shorter than the query block, longer than the tiny sliding window).
            int Tp = 17;
            float *pre = xmalloc((size_t)(g.L + 1) * Tp * g.d * sizeof(float));
            model_forward(m, g.ids, Tp, pre, &g_comm);
            for (int l = 0; l <= g.L; l++) {
                double e = rel_err_cols(pre + (size_t)l * Tp * g.d, g.resid + (size_t)l * g.T * g.d, Tp, g.d, 0, g.d);
                CHECKF(e <= REL_TOL, "%s prefix T=%d layer %d: max|Δ|/max|ref| = %.3g", name, Tp, l, e);
            }
            free(pre);
            // The CPU backend is the oracle: a second run must be bit-identical.
            model_forward(m, g.ids, g.T, again, &g_comm);
            CHECKF(memcmp(resid, again, n * sizeof(float)) == 0, "%s: second forward differs", name);
            if (g_comm.rank == 0)
                printf("    %-16s worst layer rel err %.2e, logits %.2e (tp %d, %s)\n", name, worst, el,
                       g_comm.size, g.args);
            free(resid); free(again); free(logits);
        }
        model_free(m);
    }
    comm_barrier(&g_comm);
    if (g_comm.rank == 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    free(g.buf);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Every fixture in the directory, so a family added to tools/golden is tested without an edit.
static char **list_fixtures(int *n) {
    DIR *dp = opendir(GOLDEN_DIR);
    char **names = NULL;
    *n = 0;
    if (!dp) return NULL;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".bin") == 0) {
            names = xrealloc(names, (size_t)(*n + 1) * sizeof *names);
            names[(*n)++] = xstrdup(e->d_name);
        }
    }
    closedir(dp);
    qsort(names, (size_t)*n, sizeof *names, cmp_str);
    return names;
}

static const char *g_current;
TEST(golden) { check_fixture(g_current); }

// All five families in both dtypes must be present: a missing fixture is a failure, not a skip.
TEST(all_families_have_fixtures) {
    const char *fams[] = {"llama", "mistral", "qwen2", "qwen3", "gemma2"}, *dts[] = {"f32", "bf16"};
    for (int f = 0; f < 5; f++)
        for (int k = 0; k < 2; k++) {
            char p[256];
            snprintf(p, sizeof p, "%s/%s-%s.bin", GOLDEN_DIR, fams[f], dts[k]);
            CHECKF(lw_file_exists(p), "missing fixture %s (run tools/golden/make_golden.py)", p);
        }
}

int main(int argc, char **argv) {
    comm_init(&g_comm, &argc, &argv);
    // LW_TP_UNEVEN=1: balanced uneven head splits (option tp_uneven_heads), e.g. 4 heads on 3 ranks.
    const char *uneven = getenv("LW_TP_UNEVEN");
    if (uneven && *uneven == '1') g_uneven_heads = 1;
    if (g_comm.rank != 0) { // only rank 0 reports; other ranks still run every collective
        if (!freopen("/dev/null", "w", stdout)) return 1;
    }
    RUN(all_families_have_fixtures);
    int n = 0;
    char **names = list_fixtures(&n);
    for (int i = 0; i < n; i++) {
        g_current = names[i];
        t_case_failed = 0;
        test_golden();
        if (t_case_failed) { t_nfail++; printf("FAIL: %s: golden %s\n", __FILE__, names[i]); }
        else { t_npass++; printf("PASS: %s: golden %s\n", __FILE__, names[i]); }
        fflush(stdout);
        free(names[i]);
    }
    free(names);
    int rc = test_summary();
    // A failure on any rank fails the job.
    int worst = comm_first_failure(&g_comm, rc);
    comm_finalize(&g_comm);
    return worst >= 0 ? 1 : 0;
}
