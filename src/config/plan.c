// plan — see plan.h. Reads HDF5 root attributes with the HDF5 C API (serial build), nothing else.
#include "config/plan.h"
#include "config/plan_memory.h"
#include "io/checksum.h"
#include "io/fingerprint.h"
#include "io/filelock.h"

#include "io/gguf.h"

#include <glob.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// ---------------------------------------------------------------------------- formatting

const char *plan_status_word(PlanStatus s) {
    switch (s) {
    case PLAN_DONE: return "done";
    case PLAN_STALE: return "stale";
    case PLAN_INCOMPLETE: return "incomplete";
    case PLAN_TODO: break;
    }
    return "todo";
}

const char *plan_status_phrase(PlanStatus s) {
    switch (s) {
    case PLAN_DONE: return "done";
    case PLAN_STALE: return "stale config";
    case PLAN_INCOMPLETE: return "incomplete";
    case PLAN_TODO: break;
    }
    return "to do";
}

void plan_format_duration(char *buf, size_t n, double seconds) {
    long s = (long)ceil(seconds);
    if (s < 60) snprintf(buf, n, "%lds", s);
    else if (s < 3600) snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
    else {
        long h = s / 3600, m = (s % 3600 + 59) / 60; // minutes rounded up
        if (m == 60) { h++; m = 0; }
        snprintf(buf, n, "%ldh%02ldm", h, m);
    }
}

void plan_format_slurm_time(char *buf, size_t n, double seconds) {
    long m = (long)ceil(seconds / 60.0);
    if (m < 1) m = 1;
    long d = m / 1440, h = (m % 1440) / 60, mm = m % 60;
    if (d) snprintf(buf, n, "%ld-%02ld:%02ld:00", d, h, mm);
    else snprintf(buf, n, "%02ld:%02ld:00", h, mm);
}

// ---------------------------------------------------------------------------- HDF5 status

// Reads a string root attribute (variable-length or fixed) into buf. 0 or -1.
static int h5_attr_string(hid_t f, const char *name, char *buf, size_t n) {
    if (H5Aexists(f, name) <= 0) return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ty = H5Aget_type(a);
    int rc = -1;
    if (ty >= 0 && H5Tget_class(ty) == H5T_STRING) {
        if (H5Tis_variable_str(ty) > 0) {
            hid_t mt = H5Tcopy(ty); // same character set (HDF5 converts none between ASCII and UTF-8)
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, n, "%s", s);
                rc = 0;
            }
            if (s) H5free_memory(s);
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(ty);
            char *s = xcalloc(sz + 1, 1);
            hid_t mt = H5Tcopy(ty);
            if (H5Aread(a, mt, s) >= 0) {
                snprintf(buf, n, "%s", s);
                rc = 0;
            }
            H5Tclose(mt);
            free(s);
        }
    }
    if (ty >= 0) H5Tclose(ty);
    H5Aclose(a);
    return rc;
}

static int h5_attr_int(hid_t f, const char *name, long long *v) {
    if (H5Aexists(f, name) <= 0) return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ty = H5Aget_type(a);
    int rc = -1;
    if (ty >= 0 && H5Tget_class(ty) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_LLONG, v) >= 0) rc = 0;
    if (ty >= 0) H5Tclose(ty);
    H5Aclose(a);
    return rc;
}

PlanStatus plan_h5_status(const char *h5_path, const char *config_hash, char *detail, size_t detail_len) {
    detail[0] = 0;
    struct stat st;
    if (stat(h5_path, &st) != 0) {
        // A killed run leaves only its temporary name (docs/HDF5.md).
        char *pat = xasprintf("%s.tmp.*", h5_path);
        glob_t g;
        int n = glob(pat, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
        if (n) {
            char holder[400];
            int live = 0;
            target_lock_holder(h5_path, holder, sizeof holder, &live); // io/filelock.h
            if (live) snprintf(detail, detail_len, "%s being written (%s)", lw_basename(g.gl_pathv[0]), holder);
            else snprintf(detail, detail_len, "%s left by an interrupted run", lw_basename(g.gl_pathv[0]));
        }
        if (n) globfree(&g);
        free(pat);
        return n ? PLAN_INCOMPLETE : PLAN_TODO;
    }
    // the checksum first (io/checksum.h): a damaged file is redone, and libhdf5 never parses it
    char why[300];
    int sealed = runfile_verify(h5_path, why, sizeof why);
    if (sealed < 0) {
        snprintf(detail, detail_len, "%s: %s", sealed == -1 ? "corrupt" : "unreadable", why);
        return PLAN_INCOMPLETE;
    }
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); // a truncated file is an expected case here
    PlanStatus s = PLAN_INCOMPLETE;
    hid_t f = H5Fopen(h5_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(detail, detail_len, "not a readable HDF5 file (truncated or corrupt)");
    } else if (sealed == 0 && H5Aexists(f, "integrity") > 0) {
        snprintf(detail, detail_len, "corrupt: its checksum trailer is missing or damaged");
        H5Fclose(f);
    } else {
        long long complete = 0;
        char hash[64] = "";
        if (h5_attr_int(f, "complete", &complete) != 0 || complete != 1) {
            snprintf(detail, detail_len, "root attribute complete is not 1 (the run did not finish)");
        } else if (h5_attr_string(f, "config_hash", hash, sizeof hash) != 0) {
            s = PLAN_STALE;
            snprintf(detail, detail_len, "complete, but without a config_hash attribute");
        } else if (strcmp(hash, config_hash) != 0) {
            s = PLAN_STALE;
            snprintf(detail, detail_len, "config_hash %s in the file, %s now", hash, config_hash);
        } else {
            s = PLAN_DONE;
            snprintf(detail, detail_len, "complete, config_hash %s", hash);
        }
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return s;
}

static int g_verify_content; // plan_set_verify_content

void plan_set_verify_content(int on) { g_verify_content = on; }

// --verify-content: the files' SHA-256 now against the run's (root attribute checkpoint_sha256).
// Reads every byte of the checkpoint: minutes for a large model, so only when asked.
static void checkpoint_content(PlanRow *row, hid_t f, const char *fp) {
    char *then = xmalloc(1 << 16);
    if (h5_attr_string(f, "checkpoint_sha256", then, 1 << 16) != 0) {
        fprintf(stderr, "lensweep: note: %s: no content hash in %s (written before lensweep recorded one): size and "
                        "modification time checked only\n", row->cfg->name, row->h5_path);
        free(then);
        return;
    }
    double t0 = lw_now();
    uint8_t *dig;
    int n;
    int64_t bytes;
    LwError err = {0};
    CheckpointHash *h = checkpoint_hash_start(row->checkpoint, fp, 0, 1);
    if (checkpoint_hash_finish(h, &dig, &n, &bytes, &err)) {
        row->status = PLAN_STALE;
        row->stale_checkpoint = 1;
        snprintf(row->status_detail, sizeof row->status_detail, "stale checkpoint: %.480s", err.msg);
    } else {
        char *now = checkpoint_sha256_text(fp, dig, 1), what[400];
        if (checkpoint_sha256_diff(then, now, what, sizeof what)) {
            row->status = PLAN_STALE;
            row->stale_checkpoint = 1;
            snprintf(row->status_detail, sizeof row->status_detail, "stale checkpoint: %s; size and modification time unchanged", what);
        }
        fprintf(stderr, "lensweep: %s: checkpoint content verified: %d file%s, %.3f GB in %.1f s: %s\n", row->cfg->name, n,
                n == 1 ? "" : "s", bytes / 1e9, lw_now() - t0, row->stale_checkpoint ? "changed" : "unchanged");
        free(now);
        free(dig);
    }
    free(then);
}

// A done model whose checkpoint files changed since its run (root attribute checkpoint_files,
// io/fingerprint.h: another seed or family written into the same directory) is stale.
static void checkpoint_staleness(PlanRow *row) {
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(row->h5_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *then = xmalloc(1 << 16);
    if (f >= 0 && h5_attr_string(f, "checkpoint_files", then, 1 << 16) == 0) { // older files: none
        char *now = checkpoint_fingerprint_also(row->checkpoint, then), what[400];
        if (fingerprint_diff(then, now, what, sizeof what)) {
            row->status = PLAN_STALE;
            row->stale_checkpoint = 1;
            snprintf(row->status_detail, sizeof row->status_detail, "stale checkpoint: %s", what);
        } else if (g_verify_content) checkpoint_content(row, f, then);
        free(now);
    }
    if (f >= 0) H5Fclose(f);
    free(then);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
}

// ---------------------------------------------------------------------------- one model

// Bytes per parameter the weights occupy while computing: bf16 on GPUs, fp32 on the CPU backend.
static int compute_bytes_per_param(const LwRunConfig *c) {
    if (!strcmp(c->dtype, "fp32")) return 4;
    if (!strcmp(c->dtype, "bf16") || !strcmp(c->dtype, "fp16")) return 2;
    if (!strcmp(c->device, "cpu")) return 4;
    if (!strcmp(c->device, "cuda")) return 2;
    return c->slurm_request_gpus ? 2 : 4;
}

static const char *where_of(const LwRunConfig *cfg, const char *name) {
    const LwOption *o = config_option_find(name);
    return cfg->src[o - LW_OPTIONS].where;
}

// What `lensweep run` would refuse once it knows the model's shapes, refused here before a job is
// queued (same rules as run's: top-k lists within the vocabulary; an explicitly set skip-layer m
// at most the number of blocks, METRICS.md §19.6).
static int check_against_shape(const LwRunConfig *cfg, const LwModelShape *s, LwError *err) {
    static const char *const TOPK[] = {"topk_pure", "topk_records", "topk_records_other", "topk_final",
                                       "topk_test_prompts", "topk_temperature", "prompt_topk", NULL};
    const long vals[] = {cfg->topk_pure, cfg->topk_records, cfg->topk_records_other, cfg->topk_final,
                         cfg->topk_test_prompts, cfg->topk_temperature, cfg->prompt_topk};
    for (int i = 0; TOPK[i]; i++)
        if (vals[i] > s->vocab)
            return lw_err(err, "top-k lists are taken over the vocabulary; use a value up to its size",
                          "%s: %s: %ld is larger than the vocabulary of %s (%ld ids; shapes from %s)", where_of(cfg, TOPK[i]),
                          TOPK[i], vals[i], cfg->model, s->vocab, s->source);
    const char *w = where_of(cfg, "skip_layers_m");
    if (strcmp(w, "default"))
        for (int i = 0; i < cfg->skip_layers_m.n; i++)
            if (cfg->skip_layers_m.v[i] > s->n_layers)
                return lw_err(err, "skip_layers_m values are block counts from the top, at most the number of blocks",
                              "%s: skip_layers_m: %ld is beyond the %ld blocks of %s (shapes from %s)", w,
                              cfg->skip_layers_m.v[i], s->n_layers, cfg->model, s->source);
    return 0;
}

int plan_model(LwRunConfig *cfg, PlanRow *row, LwError *err) {
    memset(row, 0, sizeof *row);
    row->cfg = cfg;
    row->ranks = cfg->tp_size > 0 ? cfg->tp_size : 1;
    int on_gpus = cfg->slurm_request_gpus && strcmp(cfg->device, "cpu") != 0; // device: cpu never needs one
    row->gpus = on_gpus ? row->ranks : 0;
    row->nodes = (row->ranks + cfg->slurm_gpus_per_node - 1) / cfg->slurm_gpus_per_node;
    row->tasks_per_node = row->ranks < cfg->slurm_gpus_per_node ? row->ranks : cfg->slurm_gpus_per_node;

    // checkpoint: found (shapes from its config.json) or missing (shapes from the table)
    free(cfg->model_dir);
    cfg->model_dir = NULL;
    LwError e = {0};
    if (config_resolve_checkpoint(cfg, &e) != 0) {
        if (cfg->model_dir) { // found, but its shapes do not split over tp_size
            *err = e;
            return -1;
        }
        snprintf(row->checkpoint_error, sizeof row->checkpoint_error, "%s", e.msg);
    } else {
        row->checkpoint_found = 1;
        snprintf(row->checkpoint, sizeof row->checkpoint, "%s", cfg->model_dir);
    }
    if (row->checkpoint_found) { // a directory's config.json, or a GGUF file's metadata
        int r = model_shape_from_config_json(row->checkpoint, &row->shape, err);
        if (r < 0) return -1;
        row->have_shape = r;
    }
    if (!row->have_shape) row->have_shape = model_shape_builtin(cfg->model, &row->shape);

    if (row->have_shape && check_against_shape(cfg, &row->shape, err)) return -1;

    row->weights_per_gpu_bytes = row->read_per_rank_bytes = -1;
    if (row->have_shape) {
        row->params = model_shape_params(&row->shape);
        row->weights_per_gpu_bytes = model_shape_bytes_per_rank(&row->shape, (int)row->ranks, compute_bytes_per_param(cfg));
        row->read_per_rank_bytes =
            model_shape_bytes_per_rank(&row->shape, (int)row->ranks, row->shape.bytes_per_param_disk);
        struct stat st; // a GGUF file's 4-8 bit blocks: its size is what the ranks read
        if (row->checkpoint_found && gguf_checkpoint_path(row->checkpoint, NULL, 0) && !lw_is_dir(row->checkpoint) &&
            stat(row->checkpoint, &st) == 0)
            row->read_per_rank_bytes = st.st_size / row->ranks;
    } else if (row->checkpoint_found && !lw_is_dir(row->checkpoint)) {
        // a single file (GGUF): its size, split over the ranks, bounds both
        struct stat st;
        if (stat(row->checkpoint, &st) == 0) row->read_per_rank_bytes = row->weights_per_gpu_bytes = st.st_size / row->ranks;
    }
    // the estimated peak per GPU/rank (config/plan_memory.h): weights + residuals + activations +
    // lens buffers + runtime (CPU, measured) or CUDA context, cuBLAS and NCCL (GPU, projected)
    row->peak_bytes = row->weights_per_gpu_bytes;
    PlanMemIn mi = {.gpu = on_gpus, .tp = (int)row->ranks, .n_lenses = plan_decoded_lenses(cfg), .exact = cfg->tp_exact,
                    .weights = row->weights_per_gpu_bytes};
    if (row->have_shape) {
        mi.tokens = row->tokens = plan_probe_tokens(cfg, row->checkpoint_found ? row->checkpoint : NULL, &row->tokens_tokenized);
        plan_batches(cfg, &row->shape, (int)row->ranks, row->checkpoint_found ? row->checkpoint : NULL, &row->batch);
        mi.batch_tokens = plan_pass_batch_tokens(&row->batch, row->batch.batch_tokens);
        mi.pos_rows = row->batch.pos_rows;
        mi.pos_topk = (int)cfg->topk_records;
        plan_memory_estimate(&row->shape, &mi, &row->mem);
        row->peak_bytes = row->mem.total;
    }
    double limit = cfg->plan_gpu_mem_gb * 1e9;
    row->fits = !on_gpus || row->peak_bytes < 0 || row->peak_bytes <= limit;
    if (!row->fits && row->have_shape) // the smallest valid tp_size whose estimate fits
        for (long tp = row->ranks + 1; tp <= 1024 && !row->tp_fit; tp++) {
            char why[300];
            if (model_shape_check_tp(&row->shape, tp, cfg->tp_uneven_heads, why, sizeof why)) continue;
            PlanMemIn m2 = mi;
            PlanMemory pm;
            m2.tp = (int)tp;
            m2.weights = model_shape_bytes_per_rank(&row->shape, (int)tp, compute_bytes_per_param(cfg));
            m2.batch_tokens = plan_pass_batch_tokens(&row->batch, plan_batch_tokens(cfg, &row->shape, (int)tp, NULL));
            plan_memory_estimate(&row->shape, &m2, &pm);
            if (pm.total <= limit) row->tp_fit = tp;
        }
    row->est_seconds = cfg->plan_overhead_s;
    if (row->read_per_rank_bytes > 0) row->est_seconds += row->read_per_rank_bytes / (cfg->plan_read_gb_per_s * 1e9);
    if (row->have_shape) {
        row->compute_seconds = plan_compute_seconds(&row->shape, &mi, plan_probe_passes(cfg), cfg->probe_set.n_test_prompts);
        row->est_seconds += row->compute_seconds;
    }
    if (cfg->slurm_time && *cfg->slurm_time) snprintf(row->slurm_time, sizeof row->slurm_time, "%s", cfg->slurm_time);
    else plan_format_slurm_time(row->slurm_time, sizeof row->slurm_time, fmax(900.0, 3.0 * row->est_seconds));

    snprintf(row->h5_path, sizeof row->h5_path, "%s/%s.h5", cfg->out_dir, cfg->name);
    row->status = plan_h5_status(row->h5_path, cfg->config_hash, row->status_detail, sizeof row->status_detail);
    if (row->status == PLAN_DONE && row->checkpoint_found) checkpoint_staleness(row);
    return 0;
}
