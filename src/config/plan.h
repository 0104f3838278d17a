// plan — what one model of a sweep needs and where it stands, without loading a weight.
//
// `lensweep plan` prints one row per model and `slurm/submit` sizes its jobs from the same rows
// (`--format tsv`), so the two can never disagree. A row holds:
// - resources: ranks = tp_size (0 counts as 1), GPUs = ranks when slurm.request_gpus and device is
//   not cpu, nodes = ceil(ranks / slurm.gpus_per_node);
// - weights per GPU: TENSOR_PARALLEL.md §6 (norms replicated, the rest split over the ranks), from
//   the checkpoint's config.json (or a GGUF file's metadata) when it is found, else from the
//   built-in table of the ten models (model_shape.h), at the compute dtype (bf16 on GPUs, fp32 on
//   the CPU backend, GGUF blocks dequantized); the estimated peak per GPU/rank adds residuals,
//   activations, lens buffers and the runtime (config/plan_memory.h) and decides `fits`;
// - an estimated time: the bytes each rank reads at the on-disk dtype / plan.read_gb_per_s, plus
//   the forward and lens compute (config/plan_memory.h: GPU rates when the job requests GPUs, the
//   CPU's measured rates otherwise), plus plan.overhead_s; the Slurm time limit is slurm.time, else
//   3 × the estimate (at least 15 min);
// - status, from <out_dir>/<name>.h5's root attributes (docs/HDF5.md): `complete` = 1 and the same
//   `config_hash` -> done; complete with another hash -> stale; a file without complete = 1, an
//   unreadable file, one whose checksum trailer does not match (io/checksum.h: corrupt) or a
//   leftover <name>.h5.tmp.* of a killed run -> incomplete; nothing -> todo.
//   Only `done` is skipped by slurm/submit. Reading the run file is a layer above config/:
//   plan_model leaves the status fields unset (todo) and runfile/plan_status.h's plan_row_status
//   fills them, the rule above included.
#ifndef LW_PLAN_H
#define LW_PLAN_H

#include <stdint.h>

#include "config/config.h"
#include "config/model_shape.h"
#include "config/plan_batch.h"
#include "config/plan_memory.h"

typedef enum { PLAN_TODO, PLAN_DONE, PLAN_STALE, PLAN_INCOMPLETE } PlanStatus;

typedef struct {
    const LwRunConfig *cfg;
    long ranks, gpus, nodes, tasks_per_node;
    int have_shape;             // 0: unknown model and no config.json (sizes unknown)
    LwModelShape shape;
    int64_t params;
    int64_t weights_per_gpu_bytes; // at the compute dtype; -1 unknown
    int64_t read_per_rank_bytes;   // at the on-disk dtype; -1 unknown
    int64_t peak_bytes;         // estimated peak per GPU/rank (mem.total; the weights when the shape is unknown)
    PlanMemory mem;             // its terms (config/plan_memory.h)
    long tokens;                // longest prompt of the probe set, BOS included
    int tokens_tokenized;       // 1: by the checkpoint's tokenizer; 0: estimated from its length
    int fits;                   // peak_bytes <= plan.gpu_mem_gb (1 when no GPUs are used)
    long tp_fit;                // !fits: the smallest valid tp_size whose estimate fits (0: none up to 1024)
    PlanBatch batch;            // the forward batches (config/plan_batch.h; when have_shape)
    double compute_seconds;     // forward + lens work at the rates of config/plan_memory.c
    double est_seconds;         // estimated wall time of the job
    char slurm_time[32];        // the limit to request ([D-]HH:MM:SS)
    int checkpoint_found;
    char checkpoint[1024];      // the directory/file found, or "" when missing
    char checkpoint_error[1024];// "...not found; looked in: ..." when missing
    char h5_path[1024];
    // the status fields: plan_row_status (runfile/plan_status.h)
    PlanStatus status;
    int stale_checkpoint;       // PLAN_STALE because the checkpoint's files changed since the run
                                // (root attribute checkpoint_files, io/fingerprint.h)
    char status_detail[512];    // e.g. "config_hash 1234... != 5678..." or why incomplete
} PlanRow;

// Fills row for one finalized model config (resolves its checkpoint into cfg->model_dir; a missing
// checkpoint is recorded, not an error). Returns 0, or -1 with err for what makes the model
// impossible to run, named at the config line that set it: a found config.json that is
// unreadable, shapes that do not split over tp_size, a top-k larger than the vocabulary, an
// explicit skip_layers_m beyond the model's blocks. The status fields stay todo: plan_row_status
// (runfile/plan_status.h) reads the run file.
int plan_model(LwRunConfig *cfg, PlanRow *row, LwError *err);

const char *plan_status_word(PlanStatus s);   // "done", "todo", "stale", "incomplete" (TSV)
const char *plan_status_phrase(PlanStatus s); // "done", "to do", "stale config", "incomplete"

// "45s", "3m11s", "2h05m"
void plan_format_duration(char *buf, size_t n, double seconds);
// Slurm time limit text for seconds (rounded up to a minute): "00:15:00", "1-02:00:00".
void plan_format_slurm_time(char *buf, size_t n, double seconds);

#endif
