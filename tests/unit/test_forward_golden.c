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
// The epsilon cases <family>-eps-f32.bin (fixture version 2) carry edits the generator applied to
// the f32 checkpoint after mktiny (a power-of-two scale or a fill, exact in f32); this test applies
// the same edits to the regenerated files before loading. They make every RMSNorm input's mean
// square a few times rms_norm_eps (the random checkpoints run at ~1e5 · eps, where a dropped eps
// moves Qwen-3 and Gemma-2 by less than the gate), so a dropped or misread eps fails here.
//
// Launched by mpirun with R ranks, every rank loads its tensor-parallel slice and runs the same
// forward (real all-reduces); residuals are replicated and compared whole, logits are compared
// on the rank's own vocabulary shard. tests/sh/test_forward_tp.sh runs it that way.
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "backend/comm.h"
#include "model/model.h"
#include "test.h"
#include "util/util.h"

#define GOLDEN_DIR FIXTURES "/golden"
#define REL_TOL 1e-5
#define MAX_EDITS 16

enum { EDIT_SCALE = 0, EDIT_FILL = 1 };

static Comm g_comm;
static int g_uneven_heads; // LW_TP_UNEVEN=1 (option tp_uneven_heads)

typedef struct {
    int T, L, d, V;
    char args[1024];      // mktiny arguments, space-separated
    int n_edits;          // version 2: checkpoint edits, applied in order after mktiny
    char edit_suffix[MAX_EDITS][96];
    uint32_t edit_op[MAX_EDITS];
    float edit_value[MAX_EDITS];
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

// A fixture string (u32 length + bytes) of [A-Za-z0-9._-] into dst[cap]; 0 or -1.
static int rd_name(const char **p, const char *end, char *dst, size_t cap) {
    if (end - *p < 4) return -1;
    uint32_t n = rd_u32(p);
    if ((size_t)(end - *p) < n || n + 1 > cap) return -1;
    for (uint32_t k = 0; k < n; k++)
        if (!(isalnum((unsigned char)(*p)[k]) || (*p)[k] == '-' || (*p)[k] == '_' || (*p)[k] == '.')) return -1;
    memcpy(dst, *p, n);
    dst[n] = 0;
    *p += n;
    return 0;
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
    uint32_t version = rd_u32(&p);
    if (version != 1 && version != 2) { snprintf(why, why_len, "unknown version %u", version); return -1; }
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
    if (version == 2) {
        if (end - p < 4) { snprintf(why, why_len, "truncated edits"); return -1; }
        uint32_t n_edits = rd_u32(&p);
        if (n_edits < 1 || n_edits > MAX_EDITS) { snprintf(why, why_len, "%u edits (1 .. %d)", n_edits, MAX_EDITS); return -1; }
        for (uint32_t i = 0; i < n_edits; i++) {
            if (rd_name(&p, end, g->edit_suffix[i], sizeof g->edit_suffix[i]) || end - p < 8) {
                snprintf(why, why_len, "bad edit %u", i);
                return -1;
            }
            g->edit_op[i] = rd_u32(&p);
            memcpy(&g->edit_value[i], p, 4);
            p += 4;
            if (g->edit_op[i] != EDIT_SCALE && g->edit_op[i] != EDIT_FILL) { snprintf(why, why_len, "edit %u: op %u", i, g->edit_op[i]); return -1; }
        }
        g->n_edits = (int)n_edits;
    }
    size_t need = (size_t)g->T * 4 + (size_t)(g->L + 1) * g->T * g->d * 4 + (size_t)g->T * g->V * 4;
    if ((size_t)(end - p) != need) { snprintf(why, why_len, "payload is %zu bytes, expected %zu", (size_t)(end - p), need); return -1; }
    g->ids = (const int32_t *)p;
    g->resid = (const float *)(p + (size_t)g->T * 4);
    g->logits = g->resid + (size_t)(g->L + 1) * g->T * g->d;
    return 0;
}

// ---------------------------------------------------------------------------- checkpoint edits

// 1 if the tensor name ends with "." + suffix.
static int name_matches(const char *name, const char *suffix) {
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && name[n - k - 1] == '.' && strcmp(name + n - k, suffix) == 0;
}

// Applies one safetensors file's share of the edits in place (F32 tensors only; each element
// multiplied by, or set to, the value: the generator's numpy does the same single f32 operation).
static int edit_file(const char *path, const Golden *g, int *hits, char *why, size_t why_len) {
    LwError err = {0};
    size_t len = 0;
    char *buf = lw_read_file(path, &len, &err);
    if (!buf) { snprintf(why, why_len, "%s", err.msg); return -1; }
    uint64_t hlen = 0;
    if (len >= 8) memcpy(&hlen, buf, 8);
    json_error_t je;
    json_t *hdr = len >= 8 && hlen <= len - 8 ? json_loadb(buf + 8, (size_t)hlen, 0, &je) : NULL;
    int rc = hdr ? 0 : -1;
    if (!hdr) snprintf(why, why_len, "%.300s: unreadable safetensors header", path);
    const char *name;
    json_t *t;
    json_object_foreach(hdr, name, t) {
        if (rc || !strcmp(name, "__metadata__")) continue;
        for (int e = 0; e < g->n_edits && !rc; e++) {
            if (!name_matches(name, g->edit_suffix[e])) continue;
            json_t *off = json_object_get(t, "data_offsets");
            size_t b = (size_t)json_integer_value(json_array_get(off, 0)), en = (size_t)json_integer_value(json_array_get(off, 1));
            const char *dt = json_string_value(json_object_get(t, "dtype"));
            if (!dt || strcmp(dt, "F32") || en < b || (en - b) % 4 || 8 + hlen + en > len) {
                snprintf(why, why_len, "%.300s: tensor %.200s is not an F32 tensor inside the file (edits need f32)", path, name);
                rc = -1;
                break;
            }
            char *data = buf + 8 + hlen + b;
            for (size_t i = 0; i < (en - b) / 4; i++) {
                float x;
                memcpy(&x, data + 4 * i, 4);
                x = g->edit_op[e] == EDIT_SCALE ? x * g->edit_value[e] : g->edit_value[e];
                memcpy(data + 4 * i, &x, 4);
            }
            hits[e]++;
        }
    }
    json_decref(hdr);
    if (!rc && lw_write_file(path, buf, len, &err)) { snprintf(why, why_len, "%s", err.msg); rc = -1; }
    free(buf);
    return rc;
}

// Applies the fixture's edits to every *.safetensors file of dir; each edit must match a tensor.
static int edit_checkpoint(const char *dir, const Golden *g, char *why, size_t why_len) {
    int hits[MAX_EDITS] = {0}, rc = 0;
    DIR *dp = opendir(dir);
    if (!dp) { snprintf(why, why_len, "cannot open %s", dir); return -1; }
    struct dirent *de;
    while (!rc && (de = readdir(dp))) {
        size_t n = strlen(de->d_name);
        if (n <= 12 || strcmp(de->d_name + n - 12, ".safetensors")) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        rc = edit_file(path, g, hits, why, why_len);
    }
    closedir(dp);
    for (int e = 0; e < g->n_edits && !rc; e++)
        if (!hits[e]) { snprintf(why, why_len, "edit %s matches no tensor of %.300s", g->edit_suffix[e], dir); rc = -1; }
    return rc;
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
            if (ok && g.n_edits) {
                ok = edit_checkpoint(dir, &g, why, sizeof why) == 0;
                CHECKF(ok, "%s: %s", name, why);
            }
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
                printf("    %-18s worst layer rel err %.2e, logits %.2e (tp %d, %s%s)\n", name, worst, el,
                       g_comm.size, g.args, g.n_edits ? ", then the fixture's edits" : "");
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

// Every family has an epsilon case (inputs of every RMSNorm at a mean square near eps).
TEST(all_families_have_eps_fixtures) {
    const char *fams[] = {"llama", "mistral", "qwen2", "qwen3", "gemma2"};
    for (int f = 0; f < 5; f++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s-eps-f32.bin", GOLDEN_DIR, fams[f]);
        CHECKF(lw_file_exists(p), "missing fixture %s (run tools/golden/make_golden.py --dtypes eps)", p);
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
    RUN(all_families_have_eps_fixtures);
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
