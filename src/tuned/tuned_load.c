// tuned_load — see tuned_load.h. The artifact format is docs/TUNED.md's.
#include "tuned/tuned_load.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sha256.h"

#define REFIT_HINT "refit the artifact with lensweep fit-tuned --model <this checkpoint> --out <dir>"

// Copies tensor `name` (F32, shape [s0] or [s0, s1]) of the safetensors buffer into dst after
// checking dtype, shape, extent and finiteness.
static int st_tensor(const char *path, json_t *hdr, const char *buf, size_t len, uint64_t base, const char *name,
                     int ndim, int64_t s0, int64_t s1, float *dst, LwError *err) {
    json_t *t = json_object_get(hdr, name);
    if (!json_is_object(t)) return lw_err(err, REFIT_HINT, "%s: tensor %s: missing", path, name);
    json_t *dt = json_object_get(t, "dtype"), *sh = json_object_get(t, "shape"), *off = json_object_get(t, "data_offsets");
    if (!json_is_string(dt) || strcmp(json_string_value(dt), "F32"))
        return lw_err(err, REFIT_HINT, "%s: tensor %s: dtype %s, expected F32", path, name,
                      json_is_string(dt) ? json_string_value(dt) : "(none)");
    int64_t want[2] = {s0, s1};
    int ok = json_is_array(sh) && (int)json_array_size(sh) == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = json_is_integer(json_array_get(sh, i)) && json_integer_value(json_array_get(sh, i)) == want[i];
    if (!ok) {
        char *s = json_dumps(sh ? sh : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        char exp[64];
        if (ndim == 1) snprintf(exp, sizeof exp, "[%lld]", (long long)s0);
        else snprintf(exp, sizeof exp, "[%lld, %lld]", (long long)s0, (long long)s1);
        lw_err(err, "the artifact was fitted for a model of another shape or rank; refit it for this checkpoint",
               "%s: tensor %s: shape %s, expected %s", path, name, s ? s : "?", exp);
        free(s);
        return -1;
    }
    uint64_t n = ndim == 1 ? (uint64_t)s0 : (uint64_t)s0 * (uint64_t)s1;
    if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)) || json_integer_value(json_array_get(off, 0)) < 0 ||
        (uint64_t)json_integer_value(json_array_get(off, 1)) - (uint64_t)json_integer_value(json_array_get(off, 0)) != 4 * n)
        return lw_err(err, REFIT_HINT, "%s: tensor %s: data_offsets do not span %llu floats", path, name, (unsigned long long)n);
    uint64_t a = (uint64_t)json_integer_value(json_array_get(off, 0)), b = (uint64_t)json_integer_value(json_array_get(off, 1));
    if (base + b > len)
        return lw_err(err, "the file is truncated (an interrupted copy?); copy or refit it",
                      "%s: tensor %s: data ends at byte %llu but the file has %zu bytes (truncated)", path, name,
                      (unsigned long long)(base + b), len);
    if (n) memcpy(dst, buf + base + a, sizeof(float) * n);
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return lw_err(err, REFIT_HINT, "%s: tensor %s: non-finite value at element %llu", path, name, (unsigned long long)i);
    return 0;
}

// provenance's integer field `key` must equal `want`.
static int prov_int(json_t *prov, const char *jp, const char *key, long long want, const char *what, LwError *err) {
    json_t *v = json_object_get(prov, key);
    if (!json_is_integer(v))
        return lw_err(err, REFIT_HINT, "%s: %s: missing or not an integer", jp, key);
    if (json_integer_value(v) != want)
        return lw_err(err, "the artifact was fitted for another model; refit it with lensweep fit-tuned --model <this checkpoint>",
                      "%s: %s: %lld, but this model has %s %lld", jp, key, (long long)json_integer_value(v), what, want);
    return 0;
}

int tuned_artifact_load(const char *dir, int d, int n_layers, int vocab, const char *config_sha256, TunedLens *t,
                        LwError *err) {
    memset(t, 0, sizeof *t);
    char *jp = xasprintf("%s/" TUNED_PROVENANCE, dir), *sp = xasprintf("%s/" TUNED_SAFETENSORS, dir);
    int rc = -1, have = 0;
    char *buf = NULL;
    json_t *prov = NULL, *hdr = NULL;
    json_error_t je;
    if (!lw_file_exists(jp)) {
        lw_err(err, "fit-tuned writes provenance.json last: without it the fit did not finish; resume or rerun it",
               "%s: missing (no complete tuned-lens artifact in %s)", jp, dir);
        goto done;
    }
    prov = json_load_file(jp, 0, &je);
    if (!prov) { lw_err(err, REFIT_HINT, "%s: line %d: not JSON: %s", jp, je.line, je.text); goto done; }
    if (!json_is_object(prov)) { lw_err(err, REFIT_HINT, "%s: not a JSON object", jp); goto done; }
    json_t *fm = json_object_get(prov, "format");
    if (!json_is_string(fm) || strcmp(json_string_value(fm), TUNED_FORMAT)) {
        lw_err(err, "tuned_lens_dir names a directory written by `lensweep fit-tuned` (a Prism artifact goes to prism_dir)",
               "%s: format: %s, expected \"" TUNED_FORMAT "\"", jp, json_is_string(fm) ? json_string_value(fm) : "(missing)");
        goto done;
    }
    if (prov_int(prov, jp, "d_model", d, "d =", err) || prov_int(prov, jp, "n_layers", n_layers, "blocks: n =", err) ||
        prov_int(prov, jp, "vocab", vocab, "unembedding rows: V =", err))
        goto done;
    json_t *cs = json_object_get(prov, "config_sha256");
    if (json_is_string(cs)) snprintf(t->config_sha256, sizeof t->config_sha256, "%s", json_string_value(cs));
    if (config_sha256 && *config_sha256 && t->config_sha256[0] && strcmp(config_sha256, t->config_sha256)) {
        lw_err(err, "the artifact belongs to another checkpoint (its config.json differs); refit it for this one",
               "%s: config_sha256: %.12s..., but this checkpoint's config.json hashes to %.12s...", jp, t->config_sha256,
               config_sha256);
        goto done;
    }
    json_t *kk = json_object_get(prov, "rank");
    if (!json_is_integer(kk) || json_integer_value(kk) < 1 || json_integer_value(kk) > d) {
        lw_err(err, REFIT_HINT, "%s: rank: missing or not an integer in 1..d_model (%d)", jp, d);
        goto done;
    }
    int k = (int)json_integer_value(kk);

    size_t len = 0;
    buf = lw_read_file(sp, &len, err);
    if (!buf) goto done;
    json_t *fs = json_object_get(prov, "safetensors_sha256");
    if (json_is_string(fs)) {
        char hex[65];
        lw_sha256_hex(buf, len, hex);
        if (strcmp(hex, json_string_value(fs))) {
            lw_err(err, "the file was damaged or replaced after fit-tuned wrote it (disk, copy, transfer); copy it again or refit",
                   "%s: SHA-256 %.12s... differs from provenance.json's safetensors_sha256 %.12s... (%zu bytes: corrupt or truncated)",
                   sp, hex, json_string_value(fs), len);
            goto done;
        }
    }
    uint64_t hl = 0;
    if (len >= 8)
        for (int i = 0; i < 8; i++) hl |= (uint64_t)(uint8_t)buf[i] << (8 * i);
    if (len < 8 || hl > len - 8) {
        lw_err(err, "the file is truncated (an interrupted copy?); copy or refit it",
               "%s: header: length %llu exceeds the file (%zu bytes, truncated)", sp, (unsigned long long)hl, len);
        goto done;
    }
    hdr = json_loadb(buf + 8, hl, 0, &je);
    if (!json_is_object(hdr)) { lw_err(err, REFIT_HINT, "%s: header: not a JSON object (%s)", sp, je.text); goto done; }

    tuned_init(t, d, n_layers, k);
    have = 1;
    int m = n_layers - 1;
    for (int l = 0; l < m; l++) {
        char nu[32], nv[32], nc[32];
        snprintf(nu, sizeof nu, "U.%d", l);
        snprintf(nv, sizeof nv, "V.%d", l);
        snprintf(nc, sizeof nc, "c.%d", l);
        if (st_tensor(sp, hdr, buf, len, 8 + hl, nu, 2, d, k, t->U + (size_t)l * d * k, err) ||
            st_tensor(sp, hdr, buf, len, 8 + hl, nv, 2, d, k, t->V + (size_t)l * d * k, err) ||
            st_tensor(sp, hdr, buf, len, 8 + hl, nc, 1, d, 0, t->c + (size_t)l * d, err))
            goto done;
    }
    if (st_tensor(sp, hdr, buf, len, 8 + hl, "log_tau", 1, m, 0, t->log_tau, err)) goto done;
    t->vocab = vocab;
    snprintf(t->path, sizeof t->path, "%s", dir);
    rc = 0;
done:
    if (rc && have) tuned_free(t);
    else if (rc) memset(t, 0, sizeof *t);
    json_decref(prov);
    json_decref(hdr);
    free(buf); free(jp); free(sp);
    return rc;
}
