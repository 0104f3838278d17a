// export_prism — see export_prism.h.
#include "export/export_prism.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/export_rules.h"

static int first_rank_le(const int *rank, int L1, int k) {
    for (int L = 0; L < L1; L++)
        if (rank[L] >= 1 && rank[L] <= k) return L;
    return -1;
}

static int first_kl_le(const double *kl, int L1, double bits) {
    for (int L = 0; L < L1; L++)
        if (kl[L] <= bits) return L; // NaN never passes
    return -1;
}

static void j_layer_delta(JsonW *j, const char *k, int a, int b) { // b − a, null if either is missing
    if (a < 0 || b < 0) jw_k_null(j, k);
    else jw_k_int(j, k, b - a);
}

// The provenance's layers (compact JSON, ["embed",7,15,23]) as a JSON array: strings and integers.
static void j_layers(JsonW *j, const char *s) {
    jw_arr(j);
    const char *q = s + (*s == '[');
    while (*q && *q != ']') {
        if (*q == '"') {
            const char *e = strchr(q + 1, '"');
            if (!e) break;
            size_t len = (size_t)(e - q - 1);
            char *v = xmalloc(len + 1);
            memcpy(v, q + 1, len);
            v[len] = 0;
            jw_str(j, v);
            free(v);
            q = e + 1;
        } else if (*q == '-' || (*q >= '0' && *q <= '9')) {
            char *e;
            jw_int(j, strtol(q, &e, 10));
            q = e;
        } else {
            q++;
        }
    }
    jw_end(j);
}

void ex_prism_summary(const LwRunConfig *c, const ExRun *run, JsonW *j) {
    jw_obj(j);
    jw_k_str(j, "mode", "auto");
    if (!run->has_prism) {
        jw_k_str(j, "artifact_path", c->prism_dir && c->prism_dir[0] ? c->prism_dir : NULL);
        jw_k_bool(j, "present", 0);
        jw_k_bool(j, "compatible", 0);
        jw_k_null(j, "k");
        jw_k_null(j, "layers");
        jw_k_null(j, "error");
        jw_key(j, "metrics"); jw_obj(j); jw_end(j);
        jw_end(j);
        return;
    }
    jw_k_str(j, "artifact_path", run->prism_artifact_path);
    jw_k_bool(j, "present", 1);
    jw_k_bool(j, "compatible", 1); // run refuses an incompatible artifact (lens/lens_prism.h)
    jw_k_int(j, "k", run->prism_k);
    jw_key(j, "layers");
    if (run->prism_layers && run->prism_layers[0] == '[') j_layers(j, run->prism_layers);
    else jw_null(j);
    jw_k_null(j, "error");

    const ExPass *p = &run->passes[0];
    int n = (int)run->n_layers, L1 = n + 1;
    const ExNext *lens[2] = {&p->norm, &p->prism};
    jw_key(j, "metrics"); jw_obj(j);
    static const int RK[3] = {10, 5, 1};
    static const char *const RKEY[3] = {"le_10", "le_5", "le_1"};
    int fr[2][3];
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 3; i++) fr[s][i] = first_rank_le(lens[s]->answer_rank, L1, RK[i]);
    jw_key(j, "rank_milestones"); jw_obj(j);
    for (int s = 0; s < 3; s++) {
        jw_key(j, s == 0 ? "baseline" : s == 1 ? "prism" : "delta"); jw_obj(j);
        for (int i = 0; i < 3; i++) {
            if (s < 2) jw_k_opt_int(j, RKEY[i], fr[s][i]);
            else j_layer_delta(j, RKEY[i], fr[0][i], fr[1][i]);
        }
        jw_end(j);
    }
    jw_end(j);
    static const double FR[3] = {0.25, 0.5, 0.75};
    static const char *const PKEY[3] = {"p25", "p50", "p75"};
    double kl[2][3];
    for (int i = 0; i < 3; i++) {
        int L = ex_depth_layer(n, FR[i]);
        for (int s = 0; s < 2; s++) kl[s][i] = lens[s]->kl_to_final_bits[L];
    }
    jw_key(j, "kl_bits_at_percentiles"); jw_obj(j);
    for (int s = 0; s < 3; s++) {
        jw_key(j, s == 0 ? "baseline" : s == 1 ? "prism" : "delta"); jw_obj(j);
        for (int i = 0; i < 3; i++) jw_k_real(j, PKEY[i], s < 2 ? kl[s][i] : kl[0][i] - kl[1][i]);
        jw_end(j);
    }
    jw_end(j);
    int fk[2] = {first_kl_le(p->norm.kl_to_final_bits, L1, 1.0), first_kl_le(p->prism.kl_to_final_bits, L1, 1.0)};
    jw_key(j, "first_kl_le_1.0"); jw_obj(j);
    jw_k_opt_int(j, "baseline", fk[0]);
    jw_k_opt_int(j, "prism", fk[1]);
    j_layer_delta(j, "delta", fk[0], fk[1]);
    jw_end(j);
    jw_end(j);
    jw_end(j);
}
