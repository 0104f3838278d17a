// cmd/run — `lensweep run CONFIG.yaml [--key value ...]` or `lensweep run --model DIR --out DIR`:
// one model, R tensor-parallel ranks (mpirun/srun), rank 0 writes <out_dir>/<name>.h5
// (docs/HDF5.md).
//
// Order (METRICS.md): validate everything that can be validated without weights (config, TP
// size, tokenizer, every prompt, every gold answer, top-k sizes, layer indices) so bad input
// costs seconds and leaves no file; then every rank loads only its slices; then
//   1. the three calibration prompts (Germany orig, Germany no_filler, control) are run first,
//      because the norm-temperature τ (§10) is needed by every pass's kl_to_final_bits_norm_temp;
//      their residuals are kept and reused by the same three passes (same ids → same logits);
//   2. the 11 passes in §1.2 order: forward, lens decode (lens/lens_pass.c), /prompts/<pass>;
//   3. auxiliary prompts (§1.4): the test prompts' heads and the temperature exploration.
// Failures: checks that give the same answer on every rank run on every rank; checks that can
// differ per rank (a missing shard on one node) go through comm_first_failure, so every rank
// stops together and rank 0 names the failing rank and its reason. Anything that dies later
// (out of memory, disk full) goes through lw_die, whose cleanups remove the .tmp file.
#include <dirent.h>
#include <glob.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/comm.h"
#include "backend/device.h"
#include "cmd/cmd.h"
#include "cmd/run_plan.h"
#include "cmd/run_battery.h"
#include "config/config.h"
#include "io/gguf.h"
#include "io/load_watch.h"
#include "lens/lens_pass.h"
#include "lens/lens_temps.h"
#include "lens/lens_prism.h"
#include "lens/lens_tuned.h"
#include "model/model.h"
#include "runfile/runfile_writer.h"
#include "io/fingerprint.h"
#include "io/filelock.h"
#include "tok/checkpoint_tok.h"
#include "tok/tok.h"
#include "util/util.h"

// ---------------------------------------------------------------------------- failure agreement

// Every rank passes its own status. When some rank failed, rank 0 prints the lowest failing
// rank's message (broadcast from it) and every rank gets that rank's exit code.
static int agree(Comm *c, int failed, const LwError *err, int code) {
    int f = comm_first_failure(c, failed);
    if (f < 0) return 0;
    struct { LwError e; int code; } msg;
    memset(&msg, 0, sizeof msg);
    if (c->rank == f) { if (err) msg.e = *err; msg.code = code; }
    comm_bcast(c, &msg, sizeof msg, f);
    if (c->rank == 0) {
        lw_progress_end();
        if (c->size > 1) fprintf(stderr, "lensweep: error (rank %d of %d): %s\n", f, c->size, msg.e.msg);
        else fprintf(stderr, "lensweep: error: %s\n", msg.e.msg);
        if (msg.e.hint[0]) fprintf(stderr, "  hint: %s\n", msg.e.hint);
        fflush(stderr);
    }
    return msg.code ? msg.code : LW_EXIT_RUNTIME;
}

// The content hash of the checkpoint (io/fingerprint.h): waits for this rank's hashing thread
// (started beside the load), gathers every rank's digests and sets *text to the
// `checkpoint_sha256` attribute on every rank. Returns 0, or the agreed exit code.
static int run_checkpoint_sha256(Comm *c, CheckpointHash *h, const char *dir, const char *fp, double t_load, char **text,
                                 LwError *err) {
    double t_wait = lw_now();
    uint8_t *mine = NULL;
    int n = 0, rc;
    int64_t bytes = 0;
    int bad = checkpoint_hash_finish(h, &mine, &n, &bytes, err) != 0;
    if (!bad) { // the bytes hashed are the bytes loaded: nothing changed until the hash was done either
        char *now = checkpoint_fingerprint(dir), what[1200];
        if (fingerprint_diff(fp, now, what, sizeof what))
            bad = lw_err(err, "the checkpoint was rewritten while lensweep read it; run again once it is complete",
                         "%s: changed while it was read: %s", dir, what);
        free(now);
    }
    if ((rc = agree(c, bad, err, LW_EXIT_INPUT))) { free(mine); return rc; }
    int *ns = xmalloc(sizeof(int) * c->size);
    comm_allgather(c, &n, ns, sizeof n);
    for (int q = 0; q < c->size && !bad; q++)
        if (ns[q] != n) bad = lw_err(err, "run again once the checkpoint directory is no longer being written",
                                     "rank %d saw %d checkpoint files, rank %d saw %d", c->rank, n, q, ns[q]);
    free(ns);
    if ((rc = agree(c, bad, err, LW_EXIT_INPUT))) { free(mine); return rc; }
    uint8_t *all = xmalloc((size_t)c->size * n * 32 + 1);
    comm_allgather(c, mine, all, (size_t)n * 32);
    *text = checkpoint_sha256_text(fp, all, c->size);
    double done = lw_now();
    lw_log("checkpoint SHA-256: %d file%s, %.3f GB on rank 0, beside the load; %.2f s waited after it (%.2f s in all)", n,
           n == 1 ? "" : "s", bytes / 1e9, done - t_wait, done - t_load);
    free(mine);
    free(all);
    return 0;
}

// ---------------------------------------------------------------------------- helpers

static void iso_now(char *buf, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// The tokenizer of a checkpoint: <dir>/tokenizer.json, or a GGUF file's tokenizer metadata
// (tok/checkpoint_tok.h).
static Tokenizer *checkpoint_tokenizer(const char *model_dir, LwError *err) {
    return checkpoint_tokenizer_load(model_dir, err);
}

// Sinks of model_forward_prompts: a prompt's whole residual stream, or its last layer's last row.
typedef struct {
    const Model *m;
    float **resid; // [prompt] -> [(L+1), T, d]
    float *last;   // [prompt, d]
    const int *T;
} BatchCopy;

static void batch_copy_resid(void *ctx, int p, const float *resid, int T_batch, int off) {
    BatchCopy *b = ctx;
    model_batch_resid(b->m, resid, T_batch, off, b->T[p], b->resid[p]);
}

static void batch_copy_last(void *ctx, int p, const float *resid, int T_batch, int off) {
    BatchCopy *b = ctx;
    size_t d = (size_t)b->m->cfg.d_model, row = (size_t)b->m->cfg.n_layers * T_batch + off + b->T[p] - 1;
    memcpy(b->last + (size_t)p * d, resid + row * d, sizeof(float) * d);
}

// The forwards of the passes from `first` on that are not calibration prompts (whose residuals
// exist already) and fit max_tokens together (at least one), as one packed batch; each pass's
// residuals land in resid[pass] ([(L+1), T, d], freed by the caller after its lens work).
static void run_pass_forwards(const Model *m, const Plan *pl, int first, int max_tokens, float **resid, Comm *comm) {
    size_t row = ((size_t)m->cfg.n_layers + 1) * (size_t)m->cfg.d_model;
    int n = 0, tokens = 0, *T = xmalloc(sizeof(int) * (size_t)pl->n_passes);
    const int32_t **ids = xmalloc(sizeof(int32_t *) * (size_t)pl->n_passes);
    float **out = xmalloc(sizeof(float *) * (size_t)pl->n_passes);
    for (int i = first; i < pl->n_passes; i++) {
        int calib = 0;
        for (int c = 0; c < N_CALIB; c++) calib |= pl->calib[c] == i;
        if (calib) continue;
        if (n > 0 && tokens + pl->passes[i].T > max_tokens) break;
        tokens += pl->passes[i].T;
        T[n] = pl->passes[i].T;
        ids[n] = pl->passes[i].ids;
        out[n] = resid[i] = xmalloc(sizeof(float) * row * (size_t)T[n]);
        n++;
    }
    BatchCopy copy = {.m = m, .resid = out, .T = T};
    model_forward_prompts(m, ids, T, n, max_tokens, comm, batch_copy_resid, &copy);
    free(T); free(ids); free(out);
}

// ---------------------------------------------------------------------------- numeric health

// mask[L, t] of the residual stream r_L at position t: 1 = holds a NaN, 2 = holds an Inf
// (/prompts/<pass>/resid_nonfinite). Returns the number of cells with either.
static int resid_nonfinite(const float *r, int n1, int T, int d, int32_t *mask) {
    int cells = 0;
    for (size_t c = 0; c < (size_t)n1 * T; c++) {
        const float *x = r + c * d;
        int32_t b = 0;
        for (int j = 0; j < d; j++)
            if (!isfinite(x[j])) b |= isnan(x[j]) ? 1 : 2;
        mask[c] = b;
        cells += b != 0;
    }
    return cells;
}

static const char *nan_inf_words(int nan, int inf) {
    return nan && inf ? "NaN and Inf" : nan ? "NaN" : "Inf";
}

// One warning line per pass with non-finite values: the first layer and position, what holds
// them and which lenses that affects (non-finite weights; METRICS.md §18 numeric health).
static void warn_nonfinite(const Pass *p, const Tokenizer *tok, int n1, const int32_t *mask, int cells,
                           const LensPassSummary *s) {
    if (cells > 0) {
        for (int c = 0; c < n1 * p->T; c++) {
            if (!mask[c]) continue;
            int L = c / p->T, t = c % p->T;
            lw_warn("non-finite values in pass %s: every lens (norm, raw, post_ln2), layer %d, position %d (\"%s\") first: "
                    "the residual stream holds %s (%d of %d layer x position cells); those rows are left empty",
                    p->name, L, t, tok_decode_one(tok, p->ids[t]), nan_inf_words(mask[c] & 1, mask[c] & 2), cells,
                    n1 * p->T);
            return;
        }
    }
    if (s->nonfinite_layer < 0) return;
    int b = s->nonfinite_bits;
    char what[128] = "";
    if (b & 12) snprintf(what, sizeof what, "the normalized residual holds %s", nan_inf_words(b & 4, b & 8));
    if (b & 48)
        snprintf(what + strlen(what), sizeof what - strlen(what), "%sthe logits hold %s", what[0] ? ", " : "",
                 nan_inf_words(b & 16, b & 32));
    lw_warn("non-finite values in pass %s: norm lens, layer %d, position %d (NEXT) first: %s; those rows are left empty",
            p->name, s->nonfinite_layer, p->T - 1, what);
}

// ---------------------------------------------------------------------------- preflight

// The target's lock (rank 0), released when the file is finished or, on any failure that returns
// from run_main, by cmd_run; lw_die and the signal handler remove it through the cleanups.
static TargetLock g_lock = {-1, NULL};

// The longest file named after the model: export's rawlens window sidecar (export/export.c).
#define LONGEST_EXPORT_AFFIXES (sizeof "output-" - 1 + sizeof "-pure-next-token-rawlens-window.csv" - 1)

// Rank 0, before any weight is read: what would otherwise fail only when the file is created
// (after the load) or renamed (after the whole run, whose result was then deleted). The output
// directory exists and takes a new file (tried for real, with the temporary name the run will
// use: permissions, a read-only mount, a name too long), the name fits the file system's limit
// with every file derived from it (export's longest), and nothing but a regular file sits at
// <name>.h5. Then the run takes the target's lock (io/filelock.h: a second writer is refused),
// and, holding it, removes every <name>.h5.tmp.* (their writers are gone: a live one would hold
// the lock). Each refusal is bad input (exit 2).
static int output_preflight(const LwRunConfig *cfg, const char *out_path, TargetLock *lock, LwError *err) {
    if (lw_mkdir_p(cfg->out_dir, err)) return -1;
    long name_max = pathconf(cfg->out_dir, _PC_NAME_MAX);
    if (name_max <= 0) name_max = 255;
    size_t nl = strlen(cfg->name);
    size_t longest = nl + LONGEST_EXPORT_AFFIXES, tmp_len = nl + sizeof ".h5.tmp.4294967295" - 1;
    if (tmp_len > longest) longest = tmp_len;
    if (longest > (size_t)name_max) {
        char hint[160];
        snprintf(hint, sizeof hint, "choose a name of at most %zu bytes (--name or name: in the config)",
                 (size_t)name_max - (longest - nl));
        return lw_err(err, hint,
                      "%s: name: '%.40s...' is %zu bytes; output-<name>-pure-next-token-rawlens-window.csv would exceed "
                      "the %ld-byte file name limit of %s",
                      opt_where(cfg, "name"), cfg->name, nl, name_max, cfg->out_dir);
    }
    struct stat st;
    if (lstat(out_path, &st) == 0 && !S_ISREG(st.st_mode))
        return lw_err(err, "move it away or choose another --name / --out",
                      "%s: a %s is in the way of the run file", out_path,
                      S_ISDIR(st.st_mode) ? "directory" : S_ISLNK(st.st_mode) ? "symbolic link" : "non-regular file");
    char *probe = xasprintf("%s.tmp.%ld", out_path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    int e = errno;
    if (fd >= 0) { close(fd); unlink(probe); }
    int rc = 0;
    if (fd < 0 && e != EEXIST) // EEXIST: a stale file of a dead run with our PID, removed below
        rc = lw_err(err, "choose an output directory this job can write (--out / out_dir:)",
                    "%s: cannot create a file in the output directory: %s", probe, strerror(e));
    free(probe);
    if (rc) return rc;
    char note[1200];
    if (target_lock(out_path, lock, note, sizeof note, err)) return -1;
    if (note[0]) lw_warn("%s", note);
    if (lock->fd >= 0) {
        char *pat = xasprintf("%s.tmp.*", out_path);
        glob_t g;
        if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++)
                if (unlink(g.gl_pathv[i]) == 0)
                    lw_log("removed %s: an unfinished run's temporary file (its writer is gone)", g.gl_pathv[i]);
            globfree(&g);
        }
        free(pat);
    }
    return 0;
}

// ---------------------------------------------------------------------------- the run

static void usage(FILE *f) {
    fprintf(f, "usage: lensweep run CONFIG.yaml [--key value ...]\n"
               "       lensweep run --model DIR --out DIR [--key value ...]\n"
               "Probes one model: every layer through the norm and raw lenses, Prism with prism_dir and the\n"
               "tuned lens with tuned_lens_dir "
               "(METRICS.md), rank 0 writes "
               "<out_dir>/<name>.h5 (docs/HDF5.md). Tensor parallel under mpirun -np R / srun.\n");
    config_print_help(f);
}

static int run_main(Comm *comm, int argc, char **argv) {
    double t0 = lw_now();
    char start[32];
    iso_now(start, sizeof start);
    LwError err = {0};
    LwRunConfig cfg;
    int R = comm->size, rank = comm->rank, rc;
    lw_signals_install();
    lw_stage("validation (no file written yet)");

    // ---- configuration, checkpoint, TP size (identical on every rank)
    int bad = config_from_args(&cfg, argc, argv, &err);
    if ((rc = agree(comm, bad, &err, LW_EXIT_INPUT))) return rc;
    // ---- the backend that really runs: what cannot run here is refused before anything is read
    DeviceChoice dev;
    if (device_choose(cfg.device, cfg.dtype, 1, &dev))
        bad = lw_err(&err, dev.hint, "%s: %s", opt_where(&cfg, !strncmp(dev.why, "dtype", 5) ? "dtype" : "device"), dev.why);
    if ((rc = agree(comm, bad, &err, LW_EXIT_INPUT))) return rc;
    backend_set_default(device_backend(&dev)); // the model is loaded for it, the ops run on it
    bad = config_resolve_checkpoint(&cfg, &err);
    if ((rc = agree(comm, bad, &err, LW_EXIT_INPUT))) return rc;
    // the checkpoint's files as they are before anything of them is read (io/fingerprint.h)
    char *fp_before = checkpoint_fingerprint(cfg.model_dir);
    // the model's facts, read once (config.json in full, or a GGUF file's metadata): tp_size is
    // checked against them here, and the slice plan, the artifacts' checks and the load take them
    ModelConfig mc;
    memset(&mc, 0, sizeof mc);
    bad = !lw_is_dir(cfg.model_dir) && !gguf_checkpoint_path(cfg.model_dir, NULL, 0)
              ? lw_err(&err, "use a Hugging Face checkpoint directory", "%s: single-file checkpoints are not supported by this build", cfg.model_dir)
              : model_config_load(cfg.model_dir, &mc, &err);
    if (!bad) {
        LwModelShape shape;
        model_shape_of_checkpoint(cfg.model_dir, &mc, &shape);
        bad = config_check_tp_shape(&cfg, &shape, &err);
    }
    if ((rc = agree(comm, bad != 0, &err, LW_EXIT_INPUT))) return rc;
    if (cfg.tp_size > 0 && cfg.tp_size != R)
        bad = lw_err(&err, "launch with as many ranks as tp_size (mpirun -np N / srun -n N), or set tp_size: 0",
                     "%s: tp_size: %ld, but the job has %d rank%s", opt_where(&cfg, "tp_size"), cfg.tp_size, R, R == 1 ? "" : "s");
    if ((rc = agree(comm, bad, &err, LW_EXIT_INPUT))) return rc;
    {
        TpSlice s;
        char why[256];
        if (tp_slice_plan(&mc, rank, R, cfg.tp_uneven_heads, &s, why, sizeof why))
            bad = lw_err(&err, "tensor parallelism splits whole heads, MLP rows and vocabulary rows (TENSOR_PARALLEL.md §3)",
                         "%s: %d ranks are impossible for %s: %s", cfg.tp_size > 0 ? opt_where(&cfg, "tp_size") : "ranks of this job (mpirun -np / srun -n)",
                         R, cfg.model_dir, why);
    }
    if ((rc = agree(comm, bad != 0, &err, LW_EXIT_INPUT))) return rc;
    // ---- the Prism artifact (lens/lens_prism.h): another model's or a damaged one is refused here
    static LensPrism prism;
    bad = lens_prism_open(&cfg, &mc, &prism, &err);
    if ((rc = agree(comm, bad != 0, &err, LW_EXIT_INPUT))) return rc;
    // ---- the tuned-lens artifact (lens/lens_tuned.h): refused the same way
    static LensTuned tuned;
    bad = lens_tuned_open(&cfg, &mc, &tuned, &err);
    if ((rc = agree(comm, bad != 0, &err, LW_EXIT_INPUT))) return rc;

    // ---- tokenizer, prompts, answers, sizes (still no weights)
    Tokenizer *tok = checkpoint_tokenizer(cfg.model_dir, &err);
    if ((rc = agree(comm, tok == NULL, &err, LW_EXIT_INPUT))) return rc;
    static Plan pl;
    BatteryPlan *bp = NULL; // `probes` names a battery: its items instead of the reference passes
    if (cfg.battery) {
        pl.bos_id = family_prompt_bos(&mc, tok_template_bos(tok));
        bad = battery_plan_build(&cfg, &mc, tok, pl.bos_id, &bp, &err);
    } else bad = plan_build(&cfg, &mc, tok, &pl, &err);
    if ((rc = agree(comm, bad != 0, &err, LW_EXIT_INPUT))) return rc;
    // Every id a pass needs is in the plan now; only rank 0 still decodes (/vocab, the summary).
    // The other ranks drop the tokenizer before loading weights: 20-80 MB each (gemma's).
    if (rank != 0) { tok_free(tok); tok = NULL; }

    char *out_path = xasprintf("%s/%s.h5", cfg.out_dir, cfg.name);
    if (rank == 0) bad = output_preflight(&cfg, out_path, &g_lock, &err) != 0;
    if ((rc = agree(comm, bad, &err, LW_EXIT_INPUT))) return rc;

    // ---- weights: each rank its slices
    if (rank == 0 && dev.why[0]) lw_log("%s", dev.why); // device auto: what it picked and why
    lw_log("lensweep run: %s (%s, %d layers, d=%d, V=%d) on %d rank%s; config hash %s", cfg.name,
           LW_FAMILIES[mc.family].name, mc.n_layers, mc.d_model, mc.vocab, R, R == 1 ? "" : "s", cfg.config_hash);
    // ---- CUDA: this rank's GPU (its node-local rank), then the NCCL communicator of the forward
    static Comm dcomm;
    int gpu = -1, use_dcomm = 0;
    {
        char why[320];
        bad = device_bind(&dev, comm, &gpu, why, sizeof why)
                  ? lw_err(&err, "launch one rank per GPU (srun --ntasks-per-node=<GPUs per node> --gpus-per-task=1, or "
                                 "mpirun -np <GPUs>); `lensweep devices` shows what this process sees",
                           "rank %d: device cuda: %s", rank, why)
                  : 0;
        if ((rc = agree(comm, bad, &err, LW_EXIT_INPUT))) return rc;
    }
    backend_default()->init(); // before the weights (CPU: OpenBLAS hangs when it cannot map its buffers later)
    {
        char why[320];
        use_dcomm = device_comm(&dev, comm, &dcomm, why, sizeof why);
        bad = use_dcomm < 0 ? lw_err(&err, "check the NCCL installation and NCCL_DEBUG=WARN output",
                                     "rank %d: NCCL communicator: %s", rank, why)
                            : 0;
        if ((rc = agree(comm, bad, &err, LW_EXIT_RUNTIME))) return rc;
    }
    if (gpu >= 0) { // which GPU each rank took, and where the forward's collectives run
        int *gpus = xmalloc(sizeof(int) * R);
        comm_allgather(comm, &gpu, gpus, sizeof(int));
        char line[512];
        int off = 0;
        for (int q = 0; q < R && off < (int)sizeof line - 40; q++)
            off += snprintf(line + off, sizeof line - off, "%srank %d: GPU %d", q ? ", " : "", q, gpus[q]);
        lw_log("CUDA devices (node-local rank): %s; forward collectives: %s", line,
               use_dcomm > 0 ? "NCCL on device buffers" : "none (one rank)");
        free(gpus);
    }
    lw_progress("loading %s ...", cfg.model_dir);
    lw_stage("loading the weights (no file written yet)");
    double tl = lw_now();
    LoadWatch watch = {.stop = 0, .t0 = tl, .total_bytes = rank == 0 ? checkpoint_bytes(cfg.model_dir) : 0, .ranks = R};
    pthread_t watch_thread;
    int watching = rank == 0 && pthread_create(&watch_thread, NULL, load_watch, &watch) == 0;
    // the content hash of the checkpoint's files beside the load, every R-th file here (io/fingerprint.h)
    CheckpointHash *ck_hash = checkpoint_hash_start(cfg.model_dir, fp_before, rank, R);
    Model *m = model_load_ex(cfg.model_dir, rank, R, &(ModelLoadOpts){.cfg = &mc, .uneven_heads = cfg.tp_uneven_heads}, &err);
    if (watching) { watch.stop = 1; pthread_join(watch_thread, NULL); }
    if (m == NULL) checkpoint_hash_cancel(ck_hash);
    if ((rc = agree(comm, m == NULL, &err, LW_EXIT_INPUT))) return rc;
    {   // a file rewritten while this rank read it (a download or conversion still running)
        char *fp_after = checkpoint_fingerprint(cfg.model_dir), what[1200];
        bad = fingerprint_diff(fp_before, fp_after, what, sizeof what)
                  ? lw_err(&err, "the checkpoint was rewritten while lensweep read it; run again once it is complete",
                           "%s: changed while it was read: %s", cfg.model_dir, what)
                  : 0;
        free(fp_after);
    }
    if (bad) checkpoint_hash_cancel(ck_hash);
    if ((rc = agree(comm, bad != 0, &err, LW_EXIT_INPUT))) return rc;
    m->fp32_sums = !cfg.tp_exact;
    if (use_dcomm > 0) m->dev_comm = &dcomm;
    {
        int64_t bytes = (int64_t)m->bytes_read;
        comm_allreduce_sum_i64(comm, &bytes, 1);
        double el = lw_now() - tl;
        lw_progress_end();
        lw_log("loaded %.3f GB in %.2f s (%.2f GB/s over %d rank%s; %.3f GB on rank 0)", bytes / 1e9, el,
               el > 0 ? bytes / 1e9 / el : 0.0, R, R == 1 ? "" : "s", m->bytes_read / 1e9);
    }
    char *ck_sha = NULL; // every rank: the battery's journal key
    if ((rc = run_checkpoint_sha256(comm, ck_hash, cfg.model_dir, fp_before, tl, &ck_sha, &err))) return rc;
    lw_stage("creating the run file and writing its header (after the load)");

    RunFile *rf = NULL; // rank 0 only (runfile/runfile_writer.h)
    if (rank == 0) {
        rf = runfile_create(out_path, &err);
        bad = rf == NULL;
    }
    if ((rc = agree(comm, bad, &err, LW_EXIT_RUNTIME))) return rc;

    int n = mc.n_layers, n1 = n + 1, d = mc.d_model;
    if (rank == 0) {
        runfile_write_root(rf, &cfg, m, tok, pl.bos_id, &dev, R, start, fp_before, ck_sha);
        runfile_write_vocab(rf, tok, mc.vocab);
    }
    if (!bp) {
        const char *order[2 * LW_MAX_FACTS + 1];
        for (int i = 0; i < pl.n_passes; i++) order[i] = pl.passes[i].name;
        runfile_write_order(rf, pl.n_passes, order);
    }

    LensRun lr;
    lens_run_init(&lr, m, comm, runfile_lens_sink(rf));
    lr.topk_all = (int)cfg.topk_records;
    lr.topk_final = (int)cfg.topk_final;
    lr.positions = cfg.positions;
    for (int i = 0; i < cfg.lenses.n; i++) lr.want_raw |= !strcmp(cfg.lenses.v[i], "raw");
    lr.n_scales = cfg.gate_stability_scales.n;
    lr.scales = cfg.gate_stability_scales.v;
    lr.keep_residuals = cfg.keep_residuals;
    lr.keep_final_logits = cfg.keep_final_logits;
    lr.transforms_known = !cfg.quirk_gemma_softcap_undetected;
    if (bp) { // the battery's passes, its datasets, the file finished (cmd/run_battery.c)
        char *fp_key = xasprintf("%s%s", fp_before, ck_sha); // a resumed battery sees changed content too
        run_battery(&lr, &cfg, bp, rf, comm, t0, fp_key);
        free(fp_key); free(ck_sha);
        target_unlock(&g_lock);
        battery_plan_free(bp);
        lens_prism_free(&prism);
        lens_tuned_free(&tuned);
        free(out_path); free(fp_before);
        model_free(m);
        tok_free(tok);
        config_free(&cfg);
        return 0;
    }
    lens_prism_write_meta(&lr, &prism);
    lens_tuned_write_meta(&lr, &tuned);
    int n_last = (int)cfg.last_layer_temp_n;
    double *last_temps = xmalloc(sizeof(double) * n_last);
    lens_last_temp_grid(cfg.last_layer_temp_min, cfg.last_layer_temp_max, n_last, last_temps);
    lr.n_last_temps = n_last;
    lr.last_temps = last_temps;

    // ---- 1. calibration prompts first (§10); their residuals are reused by their passes
    // Independent prompts (calibration, passes, auxiliary) run as packed batches of batch_tokens tokens.
    int batch_tokens = model_batch_tokens(m, (double)cfg.batch_memory_mb);
    lw_log("forward batches: up to %d tokens each (batch_memory_mb %ld, %.1f KB per token on rank 0)", batch_tokens,
           cfg.batch_memory_mb, model_forward_token_bytes(m) / 1e3);
    float *calib_resid[N_CALIB];
    int calib_T[N_CALIB];
    const int32_t *calib_ids[N_CALIB];
    double tc = lw_now();
    for (int c = 0; c < N_CALIB; c++) {
        Pass *p = &pl.passes[pl.calib[c]];
        calib_resid[c] = xmalloc(sizeof(float) * (size_t)n1 * p->T * d);
        calib_T[c] = p->T;
        calib_ids[c] = p->ids;
    }
    lw_progress("calibration forward (%d prompts)", N_CALIB);
    lw_stage("calibration forward (%d prompts)", N_CALIB);
    BatchCopy calib_copy = {.m = m, .resid = calib_resid, .T = calib_T};
    model_forward_prompts(m, calib_ids, calib_T, N_CALIB, batch_tokens, comm, batch_copy_resid, &calib_copy);
    int G = (int)cfg.norm_temp_n;
    double *grid = xmalloc(sizeof(double) * G), *tau = xmalloc(sizeof(double) * n1);
    lens_norm_temp_grid(cfg.norm_temp_min, cfg.norm_temp_max, G, grid);
    double *ce = xmalloc(sizeof(double) * N_CALIB * n1 * G);
    lens_calibrate(&lr, N_CALIB, (const float *const *)calib_resid, calib_T, G, grid, ce, tau);
    {
        const char *cal_names[N_CALIB];
        for (int c = 0; c < N_CALIB; c++) cal_names[c] = pl.passes[pl.calib[c]].name;
        runfile_write_calibration(rf, G, grid, n1, tau, N_CALIB, ce, cal_names);
    }
    lw_progress_end();
    lw_log("calibration: %d prompts x %d layers x %d temperatures in %.2f s", N_CALIB, n1, G, lw_now() - tc);
    lr.tau = tau;

    // ---- 2. the passes (METRICS.md §1.2 order)
    // The other passes' forwards run as packed batches too: the next passes that fit batch_tokens
    // together, their residuals kept until each pass's lens work (bit for bit the forward of each
    // prompt alone with tp_exact; within fp32 summation noise without, as for calibration).
    float **pass_resid = xcalloc(pl.n_passes, sizeof *pass_resid);
    LensPassSummary *sum = xcalloc(pl.n_passes, sizeof *sum);
    double tp0 = lw_now();
    uint64_t bytes0 = comm->bytes_sent, lens_bytes = 0;
    double forward_s = 0, lens_s = 0;
    for (int i = 0; i < pl.n_passes; i++) {
        Pass *p = &pl.passes[i];
        const float *r = NULL;
        for (int c = 0; c < N_CALIB; c++)
            if (pl.calib[c] == i) r = calib_resid[c];
        double el = lw_now() - tp0;
        char prog[160];
        snprintf(prog, sizeof prog, "pass %d/%d %s", i + 1, pl.n_passes, p->name);
        lw_stage("pass %d/%d (%s; %d done)", i + 1, pl.n_passes, p->name, i);
        if (i > 0) lw_progress("%s (%d tokens): %.1f s elapsed, ~%.1f s left", prog, p->T, el, el / i * (pl.n_passes - i));
        else lw_progress("%s (%d tokens)", prog, p->T);
        if (!r && !pass_resid[i]) {
            double tf = lw_now();
            run_pass_forwards(m, &pl, i, batch_tokens, pass_resid, comm);
            forward_s += lw_now() - tf;
        }
        if (!r) r = pass_resid[i];
        RunFilePrompt rp = {.name = p->name, .prompt_id = p->prompt_id, .variant = p->variant,
                            .fact_key = p->fact_index >= 0 ? cfg.probe_set.facts[p->fact_index].key : "",
                            .fact_index = p->fact_index, .text = p->text, .answer = p->answer, .align = &p->align,
                            .ids = p->ids, .ctx_ids = p->ctx_ids, .T = p->T, .n_ctx = p->n_ctx,
                            .contrast_id = p->contrast_id, .contrast_answer = cfg.probe_set.facts[0].answer};
        runfile_write_prompt(rf, &rp);
        LensPassSpec spec = {.name = p->name, .ids = p->ids, .T = p->T,
                             .answer_id = p->align.ok ? p->align.first_id : -1, .contrast_id = p->contrast_id,
                             .prompt_vocab_ids = p->prompt_vocab, .n_prompt_vocab = p->n_prompt_vocab};
        lr.progress = prog;
        uint64_t b0 = comm->bytes_sent;
        double tl0 = lw_now();
        lens_pass(&lr, &spec, r, &sum[i]);
        lens_prism_pass(&lr, &prism, &spec, r);
        lens_tuned_pass(&lr, &tuned, &spec, r);
        lens_s += lw_now() - tl0;
        {
            int32_t *mask = xmalloc(sizeof(int32_t) * (size_t)n1 * p->T);
            int cells = resid_nonfinite(r, n1, p->T, d, mask);
            runfile_write_resid_nonfinite(rf, p->name, n1, p->T, mask);
            if (rank == 0) warn_nonfinite(p, tok, n1, mask, cells, &sum[i]);
            free(mask);
        }
        lens_bytes += comm->bytes_sent - b0;
        free(pass_resid[i]);
        pass_resid[i] = NULL;
    }
    free(pass_resid);
    double passes_s = lw_now() - tp0;
    uint64_t pass_bytes = comm->bytes_sent - bytes0;
    lw_progress_end();
    lw_log("%d passes in %.2f s (%.3f s per pass: forward %.3f s, lens decode + HDF5 %.3f s, rest %.3f s)", pl.n_passes,
           passes_s, passes_s / pl.n_passes, forward_s / (pl.n_passes - N_CALIB > 0 ? pl.n_passes - N_CALIB : 1),
           lens_s / pl.n_passes, (passes_s - forward_s - lens_s) / pl.n_passes);
    if (R > 1)
        lw_log("collectives: rank 0 sent %.1f KB per layer per pass for the lens statistics (%.1f KB incl. forward)",
               lens_bytes / 1e3 / pl.n_passes / n1, pass_bytes / 1e3 / pl.n_passes / n1);

    // ---- 3. auxiliary prompts (§1.4)
    lw_stage("the auxiliary prompts (all %d passes done)", pl.n_passes);
    {
        int nt = pl.n_tests, k = (int)cfg.topk_test_prompts;
        double *H = xmalloc(sizeof(double) * (nt ? nt : 1)), *pr = xmalloc(sizeof(double) * (nt ? nt : 1) * k);
        int32_t *ids = xmalloc(sizeof(int32_t) * (nt ? nt : 1) * k);
        float *last = xmalloc(sizeof(float) * (nt ? nt : 1) * d);
        const int32_t *tids[LW_MAX_TEST_PROMPTS];
        int tT[LW_MAX_TEST_PROMPTS];
        for (int i = 0; i < nt; i++) { tids[i] = pl.tests[i].ids; tT[i] = pl.tests[i].T; }
        if (lw_log_is_tty()) lw_progress("test prompts (%d)", nt);
        BatchCopy last_copy = {.m = m, .last = last, .T = tT};
        model_forward_prompts(m, tids, tT, nt, batch_tokens, comm, batch_copy_last, &last_copy);
        if (nt > 0) lens_head_rows(&lr, last, nt, NULL, k, H, ids, pr);
        free(last);
        runfile_write_test_prompts(rf, nt, k, (const char *const *)cfg.probe_set.test_prompts, H, ids, pr);
        free(H); free(pr); free(ids);

        int ntp = cfg.probe_set.n_temps, kt = (int)cfg.topk_temperature;
        H = xmalloc(sizeof(double) * (ntp ? ntp : 1));
        pr = xmalloc(sizeof(double) * (ntp ? ntp : 1) * kt);
        ids = xmalloc(sizeof(int32_t) * (ntp ? ntp : 1) * kt);
        if (ntp > 0) {
            float *last = xmalloc(sizeof(float) * ntp * d);
            for (int i = 0; i < ntp; i++)
                memcpy(last + (size_t)i * d, calib_resid[0] + ((size_t)n * calib_T[0] + calib_T[0] - 1) * d, sizeof(float) * d);
            lens_head_rows(&lr, last, ntp, cfg.probe_set.temps, kt, H, ids, pr);
            free(last);
        }
        runfile_write_temperature(rf, ntp, kt, cfg.probe_set.temps, H, ids, pr);
        free(H); free(pr); free(ids);
    }
    lw_progress_end();
    lw_log("auxiliary prompts: %d test prompts, %d temperatures", pl.n_tests, cfg.probe_set.n_temps);

    double wall = lw_now() - t0;
    char end[32];
    iso_now(end, sizeof end);
    lw_stage("writing %s", out_path);
    if (rank == 0 && runfile_finish(rf, end, wall, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    target_unlock(&g_lock);
    lw_stage("the summary (%s is complete)", out_path);
    comm_barrier(comm);

    // ---- one-screen summary (rank 0)
    const Pass *p0 = &pl.passes[0];
    const LensPassSummary *s0 = &sum[0];
    lw_log("summary: %s", cfg.name);
    lw_log("  primary prompt: \"%s\" -> %s (id %d)", p0->text, p0->answer, p0->align.first_id);
    if (s0->first_rank1 >= 0) lw_log("  answer reaches rank 1 at layer %d of %d (norm lens)", s0->first_rank1, n);
    else lw_log("  answer never reaches rank 1 (norm lens, layers 0..%d)", n);
    if (rank == 0)
        lw_log("  model head top-1: \"%s\" p=%.4f; teacher entropy %.3f bits", tok_decode_one(tok, s0->final_top1),
               s0->final_top1_prob, s0->teacher_entropy_bits);
    lw_log("  last-layer KL(P_n || P_final): %.4g bits%s", s0->kl_last_bits,
           LW_FAMILIES[mc.family].has_softcaps ? " (Gemma: the lens does not apply the final soft-cap)" : "");
    for (int i = 1; i < pl.n_passes; i++) {
        char first[16];
        if (sum[i].first_rank1 >= 0) snprintf(first, sizeof first, "%d", sum[i].first_rank1);
        else snprintf(first, sizeof first, "never");
        lw_log("  %-18s first rank-1 layer %5s, last-layer KL %.4g bits", pl.passes[i].name, first, sum[i].kl_last_bits);
    }
    lw_log("  wall %.2f s, peak RSS rank 0 %.1f MB", wall, lw_peak_rss_bytes() / 1e6);
    lw_log("  wrote %s", out_path);

    lens_prism_free(&prism);
    lens_tuned_free(&tuned);
    for (int c = 0; c < N_CALIB; c++) free(calib_resid[c]);
    free(sum); free(grid); free(tau); free(ce); free(last_temps); free(out_path); free(fp_before); free(ck_sha);
    model_free(m);
    if (use_dcomm > 0) comm_finalize(&dcomm);
    tok_free(tok);
    config_free(&cfg);
    return 0;
}

int cmd_run(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
    if (argc < 2) { usage(stderr); return LW_EXIT_INPUT; }
    // Per-pass buffers up to 32 MiB (glibc's largest mmap threshold) stay in the heap instead of
    // fresh mmaps whose pages the kernel would zero again every time; the one bigger buffer (the
    // lens logit chunk) is kept by lens_pass itself.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    Comm comm;
    comm_init(&comm, &argc, &argv);
    int rc = run_main(&comm, argc - 1, argv + 1);
    target_unlock(&g_lock);
    comm_finalize(&comm);
    return rc;
}
