// test_layout — the run file's name table (runfile/layout.h) against docs/HDF5.md, the format's
// documentation written before the table: every lens field has a name, no two share one, each is
// a name the document gives, and the paths the table builds are the document's paths (typed here
// from docs/HDF5.md). Also: the lens's sink calls do nothing without a sink (ranks other than 0)
// and hand a sink exactly what the lens passed.
#include <stdlib.h>
#include <string.h>

#include "lens/lens_sink.h"
#include "runfile/layout.h"
#include "test.h"
#include "util/util.h"

static char *read_doc(void) {
    FILE *f = fopen("docs/HDF5.md", "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = xmalloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

// name occurs in doc as a whole word (not inside a longer identifier).
static int has_word(const char *doc, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(doc, name); p; p = strstr(p + 1, name)) {
        int before = p > doc && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= '0' && p[-1] <= '9'));
        char c = p[n];
        int after = c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!before && !after) return 1;
    }
    return 0;
}

TEST(every_field_named_once_as_documented) {
    char *doc = read_doc();
    CHECKF(doc != NULL, "docs/HDF5.md not readable (tests run from the repository root)");
    if (!doc) return;
    for (int f = 0; f < LF_COUNT; f++) {
        CHECKF(RF_FIELD[f] && RF_FIELD[f][0], "LensField %d has no name", f);
        if (!RF_FIELD[f]) continue;
        CHECKF(has_word(doc, RF_FIELD[f]), "%s is not a name of docs/HDF5.md", RF_FIELD[f]);
        for (int g = 0; g < f; g++)
            CHECKF(!RF_FIELD[g] || strcmp(RF_FIELD[f], RF_FIELD[g]), "fields %d and %d share the name %s", g, f, RF_FIELD[f]);
    }
    for (int k = 0; k < LENS_N_KINDS; k++) {
        char g[64];
        snprintf(g, sizeof g, "/lens/%s", RF_LENS_NAME[k]);
        CHECKF(strstr(doc, g) != NULL, "%s is not a group of docs/HDF5.md", g);
    }
    free(doc);
}

TEST(paths_are_the_documented_ones) {
    char p[256];
    rf_field_path(p, sizeof p, (LensAt){LENS_NORM, LG_NEXT, "pos_orig_0"}, LF_P_ANSWER);
    CHECK_STR(p, "/lens/norm/pos_orig_0/next/p_answer");
    rf_field_path(p, sizeof p, (LensAt){LENS_NORM, LG_ALL, "ctl_orig"}, LF_TOPK_IDS);
    CHECK_STR(p, "/lens/norm/ctl_orig/topk_ids");
    rf_field_path(p, sizeof p, (LensAt){LENS_POST_LN2, LG_NEXT, "pos_no_filler_1"}, LF_TOP_LOGITS);
    CHECK_STR(p, "/lens/post_ln2/pos_no_filler_1/next/top_logits");
    rf_field_path(p, sizeof p, (LensAt){LENS_TUNED, LG_POSITIONS, "pos_orig_0"}, LF_KL_TUNED_BITS);
    CHECK_STR(p, "/lens/tuned/pos_orig_0/positions/kl_tuned_bits");
    rf_field_path(p, sizeof p, (LensAt){LENS_TUNED, LG_LENS, NULL}, LF_TAU);
    CHECK_STR(p, "/lens/tuned/tau");
    rf_field_path(p, sizeof p, (LensAt){LENS_NORM, LG_HEAD, "pos_orig_0"}, LF_FINAL_TOPK_PROBS);
    CHECK_STR(p, "/prompts/pos_orig_0/final_topk_probs");
    rf_group_path(p, sizeof p, (LensAt){LENS_PRISM, LG_LENS, NULL});
    CHECK_STR(p, "/lens/prism");
    rf_group_path(p, sizeof p, (LensAt){LENS_RAW, LG_NEXT, "ctl_orig"});
    CHECK_STR(p, "/lens/raw/ctl_orig/next");
    rf_prompt_path(p, sizeof p, "ctl_orig", RF_PROMPT_RESID_NONFINITE);
    CHECK_STR(p, "/prompts/ctl_orig/resid_nonfinite");
}

// A sink that records the last call.
typedef struct {
    int calls;
    LensAt at;
    LensField f, attr;
    LensDtype t;
    int rank;
    size_t dims[3];
    const void *v;
    double x;
} Capture;

static void cap_array(void *ctx, LensAt at, LensField f, LensDtype t, int rank, const size_t *dims, const void *v) {
    Capture *c = ctx;
    c->calls++; c->at = at; c->f = f; c->t = t; c->rank = rank; c->v = v;
    memcpy(c->dims, dims, sizeof c->dims);
}
static void cap_attr_f64(void *ctx, LensAt at, LensField f, double v) {
    Capture *c = ctx;
    c->calls++; c->at = at; c->f = f; c->x = v;
}
static void cap_attr_int(void *ctx, LensAt at, LensField f, long v) { cap_attr_f64(ctx, at, f, (double)v); }
static void cap_attr_str(void *ctx, LensAt at, LensField f, const char *v) { cap_attr_f64(ctx, at, f, (double)strlen(v)); }
static void cap_array_attr(void *ctx, LensAt at, LensField array, LensField attr, const double *v, int n) {
    Capture *c = ctx;
    c->calls++; c->at = at; c->f = array; c->attr = attr; c->v = v; c->x = n;
}

TEST(sink_calls) {
    static const LensSinkOps ops = {cap_array, cap_attr_f64, cap_attr_int, cap_attr_str, cap_array_attr};
    Capture c = {0};
    LensSink s = {&ops, &c};
    double v[6] = {1, 2, 3, 4, 5, 6};
    LensAt at = {LENS_RAW, LG_NEXT, "pos_orig_0"};
    lens_sink_f64(NULL, at, LF_P_ANSWER, 1, 6, 0, 0, v); // ranks other than 0: nothing, no crash
    lens_sink_attr_f64(NULL, at, LF_TEACHER_ENTROPY_BITS, 1.5);
    CHECK(c.calls == 0);
    lens_sink_f64(&s, at, LF_SCALED_P_ANSWER, 2, 3, 2, 0, v);
    CHECK(c.calls == 1 && c.at.lens == LENS_RAW && c.at.group == LG_NEXT && !strcmp(c.at.pass, "pos_orig_0"));
    CHECK(c.f == LF_SCALED_P_ANSWER && c.t == LENS_F64 && c.rank == 2 && c.dims[0] == 3 && c.dims[1] == 2 && c.v == v);
    lens_sink_array_attr_f64s(&s, at, LF_SCALED_P_ANSWER, LF_SCALES, v, 2);
    CHECK(c.calls == 2 && c.f == LF_SCALED_P_ANSWER && c.attr == LF_SCALES && c.x == 2);
    lens_sink_attr_f64(&s, at, LF_TEACHER_ENTROPY_BITS, 1.5);
    CHECK(c.calls == 3 && c.f == LF_TEACHER_ENTROPY_BITS && c.x == 1.5);
}

int main(void) {
    RUN(every_field_named_once_as_documented);
    RUN(paths_are_the_documented_ones);
    RUN(sink_calls);
    return test_summary();
}
