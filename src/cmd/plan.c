// cmd/plan — `lensweep plan SWEEP.yaml|MODEL.yaml [--format table|tsv] [--check] [--write-configs]
// [--key value ...]`: one row per model (GPUs/ranks, nodes, weights and estimated peak per GPU, estimated time,
// output, status) without loading a weight (config/plan.h says where each number comes from).
//
// The table is for people; `--format tsv` is the interface of slurm/submit, which sizes its jobs
// from it, so the two can never disagree. `--check` turns what would make a job fail later into
// an error now (exit 2, nothing submitted): a model still to run whose checkpoint is not found
// (the message lists every place looked in), or whose weights do not fit the GPUs. `--write-configs`
// freezes the resolved configuration of every model in <out_dir>/configs/<name>.yaml (the sweep's
// shared keys and the command-line overrides folded in); the job runs that file, so the HDF5 it
// writes carries exactly the config hash the plan compared against, and the export job reads the
// current settings of the models that were skipped as done.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/device.h"
#include "cmd/cmd.h"
#include "config/config.h"
#include "config/plan.h"
#include "runfile/plan_status.h"
#include "util/util.h"

static void plan_usage(FILE *f) {
    fputs("usage: lensweep plan SWEEP.yaml|MODEL.yaml [--format table|tsv] [--check] [--write-configs]\n"
          "                     [--verify-content] [--key value ...]\n"
          "\n"
          "One row per model: GPUs/ranks, nodes, weights per GPU, estimated peak memory per GPU/rank,\n"
          "estimated time, output file and status\n"
          "(done: complete HDF5 with the same config hash; to do; stale config: complete with another hash;\n"
          "incomplete: an interrupted run's file). No weight is loaded: shapes come from the checkpoint's\n"
          "config.json when it is found, else from the built-in table of the ten models.\n"
          "  --format tsv      tab-separated, one header line, '-' for empty fields (used by slurm/submit)\n"
          "  --format fits     the lens fits a sweep runs first (fit.lenses): name, lens, status (done: the\n"
          "                    artifact is complete; todo), artifact, time, checkpoint, corpus, tokens, args (used by slurm/submit)\n"
          "  --format export-args  one model's export settings (options outside the config hash), one\n"
          "                    --key=value per line, for `lensweep export` (used by slurm/finish.sbatch)\n"
          "  --check           exit 2 if a model still to run has no checkpoint, does not fit its GPUs, or names\n"
          "                    a prism_dir/tuned_lens_dir that holds no artifact and is not fitted first (fit.lenses)\n"
          "  --write-configs   write each model's resolved configuration to <out_dir>/configs/<name>.yaml\n"
          "  --verify-content  also hash every file of a done model's checkpoint (SHA-256, every byte: minutes for\n"
          "                    a large model) and call it stale checkpoint when the content differs from the run's\n"
          "                    (root attribute checkpoint_sha256), even with size and modification time unchanged\n"
          "  --key value       any option (lensweep run --help), applied to every model, e.g. --slurm.partition gpu\n",
          f);
}

static const char *dash(const char *s) { return s && *s ? s : "-"; }

// A lens's artifact is complete when its provenance.json exists (fit-prism and fit-tuned write it
// last, after the tensors were renamed into place).
static int artifact_complete(const char *dir) {
    if (!dir || !*dir) return 0;
    char *p = xasprintf("%s/provenance.json", dir);
    int ok = access(p, R_OK) == 0;
    free(p);
    return ok;
}

static int fits_lens(const LwRunConfig *c, const char *lens) {
    for (int i = 0; i < c->fit_lenses.n; i++)
        if (!strcmp(c->fit_lenses.v[i], lens)) return 1;
    return 0;
}

// --check: a learned lens's directory that holds no artifact and is not fitted first by the sweep
// (the job would refuse it), and a tuned-lens fit whose corpus cannot be read. Returns the count.
static int check_artifacts(const LwRunConfig *c) {
    int bad = 0;
    static const struct { const char *lens, *key, *cmd; } L[2] = {
        {"prism", "prism_dir", "lensweep fit-prism --model CHECKPOINT --out"},
        {"tuned", "tuned_lens_dir", "lensweep fit-tuned --model CHECKPOINT --corpus FILE --out"},
    };
    for (int k = 0; k < 2; k++) {
        const char *dir = k == 0 ? c->prism_dir : c->tuned_lens_dir;
        if (!dir || !*dir || artifact_complete(dir)) continue;
        if (fits_lens(c, L[k].lens)) {
            if (k == 1 && access(c->fit_corpus, R_OK) != 0) {
                const LwOption *o = config_option_find("fit.corpus");
                fprintf(stderr, "lensweep: error: %s: fit.corpus: %s cannot be read (set at %s)\n  hint: the tuned-lens fit "
                                "reads this text file on the cluster: give a path the jobs can read\n",
                        c->name, c->fit_corpus, c->src[o - LW_OPTIONS].where);
                bad++;
            }
            continue;
        }
        const LwOption *o = config_option_find(L[k].key);
        fprintf(stderr, "lensweep: error: %s: %s: %s holds no complete artifact (no provenance.json; set at %s)\n"
                        "  hint: fit it first: add %s to fit.lenses (slurm/submit runs the fit before the model's job), "
                        "or run %s %s\n",
                c->name, L[k].key, dir, c->src[o - LW_OPTIONS].where, L[k].lens, L[k].cmd, dir);
        bad++;
    }
    return bad;
}

// --format fits: one line per model and lens of fit.lenses.
static void print_fits(const LwSweep *sw, const PlanRow *rows) {
    printf("name\tlens\tstatus\tartifact\ttime\tcheckpoint\tcorpus\ttokens\targs\n");
    for (int i = 0; i < sw->n; i++) {
        const LwRunConfig *c = &sw->models[i];
        for (int k = 0; k < c->fit_lenses.n; k++) {
            int prism = !strcmp(c->fit_lenses.v[k], "prism");
            const char *dir = prism ? c->prism_dir : c->tuned_lens_dir;
            printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%ld\t%s\n", c->name, c->fit_lenses.v[k], artifact_complete(dir) ? "done" : "todo",
                   dir, c->fit_time, rows[i].checkpoint_found ? rows[i].checkpoint : "-", prism ? "-" : dash(c->fit_corpus),
                   prism ? 0L : c->fit_tokens, prism ? "-" : dash(c->fit_tuned_args));
        }
    }
}

static void fmt_gb(char *buf, size_t n, int64_t bytes) {
    if (bytes < 0) snprintf(buf, n, "?");
    else if (bytes >= 10e9) snprintf(buf, n, "%.1f GB", bytes / 1e9);
    else if (bytes >= 1e9) snprintf(buf, n, "%.2f GB", bytes / 1e9);
    else snprintf(buf, n, "%.1f MB", bytes / 1e6);
}

// Writes <out_dir>/configs/<name>.yaml atomically; returns its path (malloc'd).
static char *write_resolved(const LwRunConfig *c) {
    char *dir = xasprintf("%s/configs", c->out_dir);
    LwError err = {0};
    if (lw_mkdir_p(dir, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    char *path = xasprintf("%s/%s.yaml", dir, c->name);
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    lw_cleanup_unlink_on_fail(tmp);
    FILE *f = fopen(tmp, "w");
    if (!f) lw_die(LW_EXIT_RUNTIME, "check that the run directory is writable", "%s: cannot create", tmp);
    fprintf(f, "# %s as resolved by `lensweep plan` from %s%s%s\n", c->name, c->config_path ? c->config_path : "?",
            c->sweep_path ? " in sweep " : "", c->sweep_path ? c->sweep_path : "");
    config_print_sourced(f, c);
    if (ferror(f) | fclose(f)) lw_die(LW_EXIT_RUNTIME, "check free disk space", "%s: write failed", tmp);
    if (rename(tmp, path)) lw_die(LW_EXIT_RUNTIME, "check permissions", "%s: cannot rename to %s", tmp, path);
    lw_cleanup_forget(tmp);
    free(tmp);
    free(dir);
    return path;
}

// `--format export-args`: the settings `lensweep export` applies (every option that is not part
// of the config hash, less where the run went and the Slurm/plan keys), one `--key=value` per line.
// A finished model is skipped when only such settings changed; the export job passes these so the
// files it writes follow the current configuration, not the one recorded when the model ran.
static int print_export_args(LwSweep *sw) {
    static const char *const NOT_EXPORT[] = {"name", "model_root", "out_dir", "tp_size", "device", "probes", NULL};
    if (sw->n != 1)
        lw_die(LW_EXIT_INPUT, "give one model config (e.g. <out_dir>/configs/<name>.yaml)",
               "plan: --format export-args: %s holds %d models", sw->path, sw->n);
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const LwOption *o = &LW_OPTIONS[i];
        if (o->flags & (LW_OPTF_HASHED | LW_OPTF_SWEEP_ONLY)) continue;
        int skip = 0;
        for (int k = 0; NOT_EXPORT[k]; k++) skip |= !strcmp(o->name, NOT_EXPORT[k]);
        if (skip) continue;
        char *v = config_value_text(&sw->models[0], o);
        printf("--%s=%s\n", o->name, v);
        free(v);
    }
    sweep_free(sw);
    return 0;
}

int cmd_plan(int argc, char **argv) {
    const char *format = "table", *sweep_path = NULL;
    int check = 0, write_configs = 0;
    char **over = xcalloc(argc + 1, sizeof *over);
    int n_over = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { plan_usage(stdout); return 0; }
        if (!strcmp(a, "--format") && i + 1 < argc) format = argv[++i];
        else if (!strncmp(a, "--format=", 9)) format = a + 9;
        else if (!strcmp(a, "--check")) check = 1;
        else if (!strcmp(a, "--write-configs")) write_configs = 1;
        else if (!strcmp(a, "--verify-content")) plan_set_verify_content(1);
        else if (!strncmp(a, "--", 2)) {
            // an option override: keep its value with it (booleans may stand alone)
            over[n_over++] = argv[i];
            if (config_cli_words(argc, argv, i) == 2) over[n_over++] = argv[++i];
        } else if (!sweep_path) sweep_path = a;
        else lw_die(LW_EXIT_INPUT, "give one sweep or model config", "plan: unexpected argument '%s'", a);
    }
    if (!sweep_path) {
        plan_usage(stderr);
        return LW_EXIT_INPUT;
    }
    if (strcmp(format, "table") && strcmp(format, "tsv") && strcmp(format, "export-args") && strcmp(format, "fits"))
        lw_die(LW_EXIT_INPUT, "use --format table, tsv, fits or export-args", "plan: --format: unknown format '%s'", format);

    LwSweep sw;
    LwError err = {0};
    if (sweep_load(sweep_path, n_over, over, &sw, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    if (!strcmp(format, "export-args")) return print_export_args(&sw);
    PlanRow *rows = xcalloc(sw.n, sizeof *rows);
    for (int i = 0; i < sw.n; i++) {
        if (plan_model(&sw.models[i], &rows[i], &err)) lw_die_err(&err, LW_EXIT_INPUT);
        plan_row_status(&rows[i]);
    }
    // the backend and dtype each job will really use (as `run` decides; GPUs are not visible here)
    DeviceChoice *dev = xcalloc(sw.n, sizeof *dev);
    int *dev_bad = xcalloc(sw.n, sizeof *dev_bad);
    for (int i = 0; i < sw.n; i++) dev_bad[i] = device_choose(sw.models[i].device, sw.models[i].dtype, 0, &dev[i]) != 0;

    // --check: everything a job would trip over, reported before anything is submitted
    if (check) {
        int bad = 0, missing = 0, too_big = 0;
        for (int i = 0; i < sw.n; i++) {
            const PlanRow *r = &rows[i];
            const LwRunConfig *c = &sw.models[i];
            if (r->status == PLAN_DONE) continue;
            if (dev_bad[i]) {
                fprintf(stderr, "lensweep: error: %s: %s\n  hint: %s\n", c->name, dev[i].why, dev[i].hint);
                bad++;
            }
            if (!r->checkpoint_found) {
                fprintf(stderr, "lensweep: error: %s: %s\n", c->name, r->checkpoint_error);
                bad++, missing++;
            }
            if (!r->fits) {
                char gb[32], pk[32];
                fmt_gb(gb, sizeof gb, r->weights_per_gpu_bytes);
                fmt_gb(pk, sizeof pk, r->peak_bytes);
                const LwOption *o = config_option_find("tp_size");
                fprintf(stderr, "lensweep: error: %s: tp_size: %ld ranks hold %s of weights each, an estimated peak of %s, more than "
                                "plan.gpu_mem_gb = %g GB (tp_size set at %s)", c->name, r->ranks, gb, pk, c->plan_gpu_mem_gb,
                        c->src[o - LW_OPTIONS].where);
                if (r->tp_fit) fprintf(stderr, "; tp_size %ld is the smallest that fits", r->tp_fit);
                fputc('\n', stderr);
                bad++, too_big++;
            }
            bad += check_artifacts(c);
        }
        if (missing)
            fprintf(stderr, "  hint: download the checkpoint (huggingface-cli download ID --local-dir ROOT/ID) and set model_root or "
                            "LENSWEEP_MODEL_ROOT to ROOT, or point HF_HOME/HF_HUB_CACHE at the cache that holds it\n");
        if (too_big)
            fprintf(stderr, "  hint: raise tp_size (TENSOR_PARALLEL.md §6 lists the smallest that fits 80 GB GPUs), "
                            "or set plan.gpu_mem_gb for larger GPUs\n");
        if (bad) return LW_EXIT_INPUT;
    }
    char **cfg_paths = xcalloc(sw.n, sizeof *cfg_paths);
    for (int i = 0; i < sw.n; i++)
        cfg_paths[i] = write_configs ? write_resolved(&sw.models[i]) : xstrdup(sw.models[i].config_path);

    if (!strcmp(format, "fits")) {
        print_fits(&sw, rows);
    } else if (!strcmp(format, "tsv")) {
        printf("name\tstatus\tranks\tgpus\tnodes\ttasks_per_node\tcpus_per_task\tmem_per_cpu\tpartition\taccount\ttime"
               "\test_seconds\tweights_per_gpu_bytes\tfits\tcheckpoint\tout_dir\th5\tconfig\tconfig_hash\textra\tsweep\tdetail\n");
        for (int i = 0; i < sw.n; i++) {
            const PlanRow *r = &rows[i];
            const LwRunConfig *c = &sw.models[i];
            printf("%s\t%s\t%ld\t%ld\t%ld\t%ld\t%ld\t%s\t%s\t%s\t%s\t%.0f\t%lld\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c->name,
                   plan_status_word(r->status), r->ranks, r->gpus, r->nodes, r->tasks_per_node, c->slurm_cpus_per_task,
                   dash(c->slurm_mem_per_cpu), dash(c->slurm_partition), dash(c->slurm_account), r->slurm_time,
                   r->est_seconds, (long long)r->weights_per_gpu_bytes, r->fits ? "yes" : "no",
                   r->checkpoint_found ? r->checkpoint : "-", c->out_dir, r->h5_path, cfg_paths[i], c->config_hash,
                   dash(c->slurm_extra), sw.name, dash(r->status_detail));
        }
    } else {
        int n_status[4] = {0}, n_found = 0;
        long total_gpus = 0;
        for (int i = 0; i < sw.n; i++) {
            n_status[rows[i].status]++;
            n_found += rows[i].checkpoint_found;
            total_gpus += rows[i].gpus;
        }
        printf("sweep %s (%s): %d model%s, %ld GPU%s in all\n\n", sw.name, sw.path, sw.n, sw.n == 1 ? "" : "s", total_gpus,
               total_gpus == 1 ? "" : "s");
        int wn = 5, wo = 6;
        for (int i = 0; i < sw.n; i++) {
            if ((int)strlen(sw.models[i].name) > wn) wn = strlen(sw.models[i].name);
            if ((int)strlen(rows[i].h5_path) > wo) wo = strlen(rows[i].h5_path);
        }
        printf("%-*s  %-10s  %5s  %-12s  %-12s  %-9s  %-9s  %-10s  %-*s  %s\n", wn, "model", "GPUs/ranks", "nodes", "weights/GPU",
               "est. peak", "est. time", "runs on", "checkpoint", wo, "output", "status");
        for (int i = 0; i < sw.n; i++) {
            const PlanRow *r = &rows[i];
            char gr[32], gb[40], pk[40], t[32];
            if (r->gpus) snprintf(gr, sizeof gr, "%ld/%ld", r->gpus, r->ranks);
            else snprintf(gr, sizeof gr, "-/%ld", r->ranks);
            fmt_gb(gb, sizeof gb, r->weights_per_gpu_bytes);
            fmt_gb(pk, sizeof pk, r->peak_bytes);
            if (!r->fits) strcat(pk, " !");
            plan_format_duration(t, sizeof t, r->est_seconds);
            char on[32];
            if (dev_bad[i]) snprintf(on, sizeof on, "refused !");
            else snprintf(on, sizeof on, "%s %s", dev[i].backend, dev[i].compute_dtype);
            printf("%-*s  %-10s  %5ld  %-12s  %-12s  %-9s  %-9s  %-10s  %-*s  %s\n", wn, sw.models[i].name, gr, r->nodes, gb, pk, t, on,
                   r->checkpoint_found ? "found" : "missing", wo, r->h5_path,
                   r->stale_checkpoint ? "stale checkpoint" : plan_status_phrase(r->status));
        }
        printf("\nweights/GPU: the weights each rank holds (bf16 on GPUs, fp32 on the CPU backend). est. peak: the estimated\n"
               "peak per GPU (device memory) or CPU rank (resident set): weights + fp32 residuals of the longest prompt +\n"
               "activations + lens logit chunk (up to 256 MiB) + runtime (CPU: measured; GPU: CUDA context, cuBLAS workspace\n"
               "and NCCL buffers, projected); it decides whether a job fits plan.gpu_mem_gb. est. time: reading the weights\n"
               "+ forward and lens compute + plan.overhead_s. `lensweep inspect CHECKPOINT` breaks them down (docs/SLURM.md).\n");
        printf("\nforward batches (batch_memory_mb: the memory per rank of one forward of independent prompts):\n");
        for (int i = 0; i < sw.n; i++) {
            char line[512];
            if (rows[i].have_shape) plan_batch_describe(&rows[i].batch, sw.models[i].batch_memory_mb, line, sizeof line);
            else snprintf(line, sizeof line, "unknown (no model shape)");
            printf("  %s: %s\n", sw.models[i].name, line);
        }
        printf("\n%d done, %d to do, %d stale config, %d incomplete; checkpoints found for %d of %d\n", n_status[PLAN_DONE],
               n_status[PLAN_TODO], n_status[PLAN_STALE], n_status[PLAN_INCOMPLETE], n_found, sw.n);
        for (int i = 0; i < sw.n; i++)
            if (!rows[i].fits) {
                char gb[32], fit[80];
                fmt_gb(gb, sizeof gb, rows[i].peak_bytes);
                if (rows[i].tp_fit) snprintf(fit, sizeof fit, "tp_size %ld is the smallest that fits", rows[i].tp_fit);
                else snprintf(fit, sizeof fit, "no valid tp_size up to 1024 fits");
                printf("! %s: an estimated peak of %s per GPU exceeds plan.gpu_mem_gb (%g GB) at tp_size %ld: %s\n",
                       sw.models[i].name, gb, sw.models[i].plan_gpu_mem_gb, rows[i].ranks, fit);
            }
        for (int i = 0; i < sw.n; i++)
            if (dev_bad[i]) printf("! %s: %s; %s\n", sw.models[i].name, dev[i].why, dev[i].hint);
        // GPUs requested, but the job computes on the CPU (device auto, no runnable CUDA backend): say so
        int n_cpu = 0, first_cpu = -1;
        for (int i = 0; i < sw.n; i++)
            if (!dev_bad[i] && rows[i].gpus > 0 && !strcmp(dev[i].backend, "cpu")) n_cpu++, first_cpu = first_cpu < 0 ? i : first_cpu;
        if (n_cpu)
            printf("note: %d of %d model%s compute%s on the CPU backend in fp32, not on the GPUs requested (%s);\n"
                   "  est. time counts the GPUs' projected rates, not CPU compute. device: cpu requests no GPUs.\n",
                   n_cpu, sw.n, sw.n == 1 ? "" : "s", n_cpu == 1 ? "s" : "", dev[first_cpu].why);
        for (int i = 0; i < sw.n; i++) {
            const PlanRow *r = &rows[i];
            if (r->status == PLAN_STALE || r->status == PLAN_INCOMPLETE)
                printf("%s: %s%s%s\n", sw.models[i].name, r->stale_checkpoint ? "" : plan_status_phrase(r->status),
                       r->stale_checkpoint ? "" : ": ", r->status_detail); // the detail says "stale checkpoint: ..."
        }
        if (n_found < sw.n) printf("checkpoints not found (sizes from the built-in shape table when the model is in it):\n");
        for (int i = 0; i < sw.n; i++)
            if (!rows[i].checkpoint_found)
                printf("  %s: %s%s\n", sw.models[i].name, rows[i].checkpoint_error,
                       rows[i].have_shape ? "" : " (unknown model: sizes unknown)");
    }
    for (int i = 0; i < sw.n; i++) free(cfg_paths[i]);
    free(cfg_paths);
    free(dev);
    free(dev_bad);
    free(rows);
    free(over);
    sweep_free(&sw);
    return 0;
}
