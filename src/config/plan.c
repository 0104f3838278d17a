// plan — see plan.h. Reads no run file: its status is runfile/plan_status.h's.
#include "config/plan.h"
#include "config/plan_memory.h"

#include "io/gguf.h"

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
    // a found checkpoint whose shapes do not split over tp_size (sweep_load checked the others)
    if (row->checkpoint_found && row->have_shape && config_check_tp_shape(cfg, &row->shape, err)) return -1;

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
    return 0; // status: plan_row_status (runfile/plan_status.h) reads the run file
}
