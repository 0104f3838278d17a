// plan_memory — see plan_memory.h. Arithmetic on shapes only; the one file it may read is the
// checkpoint's tokenizer (plan_probe_tokens).
#include "config/plan_memory.h"

#include "tok/checkpoint_tok.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>

#define MiB ((int64_t)1 << 20)

// lens/lens_pass.c CHUNK_BYTES: the logit chunk of one GEMM of the lens.
#define LENS_CHUNK_BYTES (256 * MiB)
// cmd/run.c N_CALIB: calibration prompts whose residuals are kept for the whole run.
#define N_CALIB_KEPT 3

// Peak RSS of a run of the default `mktiny --family llama` model (3 layers, d 64, V 256; weights,
// residuals and lens buffers under 1 MB) at R = 1: what libraries, MPI, OpenBLAS and the heap
// cost by themselves. Measured on the development machine (2 cores, Debian, OpenBLAS 0.3,
// Open MPI): 26.2 MB for a CPU-only build, 186.0 MB for a CUDA-linked one (libcudart, libcublas,
// libcublasLt, libnccl are mapped and partly touched at start). BENCHMARKS.md "Memory estimate".
#ifdef LENSWEEP_CUDA
#define CPU_RUNTIME_BYTES ((int64_t)186000000)
#else
#define CPU_RUNTIME_BYTES ((int64_t)26200000)
#endif

// GPU terms, projected (no GPU measured yet):
// - CUDA context with lazy module loading (CUDA >= 11.7 default): ~0.5 GiB on an H100 (NVIDIA's
//   CUDA C++ Programming Guide, "Lazy Loading"; contexts of 300-600 MB are typical);
// - cuBLAS workspace: 32 MiB, the default on Hopper (cuBLAS docs, cublasSetWorkspace);
// - NCCL: NCCL_BUFFSIZE 4 MiB (Simple) + ~4.5 MiB (LL128) + 0.25 MiB (LL) per channel and
//   direction, 16 channels within a node (NCCL environment variable docs), both directions.
#define CUDA_CONTEXT_BYTES (512 * MiB)
#define CUBLAS_WORKSPACE_BYTES (32 * MiB)
#define NCCL_BUFFER_BYTES ((int64_t)16 * 2 * (4 * MiB + 4608 * 1024 + 256 * 1024))

// Compute rates. CPU (measured on the development machine, configs/demo.yaml, `lensweep run`'s
// "per pass" log line): the exact forward 1.7 GFLOP/s (3.4 GFLOP per 16-token pass in 1.97 s),
// the lens decode 12 GFLOP/s (56 GFLOP per pass as counted below, in 4.59 s). GPU (projected, H100
// SXM datasheet at half efficiency): exact kernels accumulate in double, 34 TFLOP/s FP64 -> 17e12;
// fast mode bf16 tensor cores 989 TFLOP/s dense -> 495e12; HBM3 3.35 TB/s -> 1.7e12 B/s.
#define CPU_FORWARD_FLOPS 1.7e9
#define CPU_LENS_FLOPS 12e9
#define GPU_EXACT_FLOPS 17e12
#define GPU_FAST_FLOPS 495e12
#define GPU_BYTES_PER_S 1.7e12

int64_t plan_cpu_runtime_bytes(void) { return CPU_RUNTIME_BYTES; }

static long ceil_div(long a, long b) { return (a + b - 1) / b; }

void plan_memory_estimate(const LwModelShape *s, const PlanMemIn *in, PlanMemory *m) {
    memset(m, 0, sizeof *m);
    long R = in->tp > 0 ? in->tp : 1, T = in->tokens > 0 ? in->tokens : 1;
    int64_t n1 = s->n_layers + 1, d = s->d_model, hd = s->head_dim;
    int64_t vl = ceil_div(s->vocab, R), qh = ceil_div(s->n_heads, R), ffl = ceil_div(s->d_ff, R);
    int64_t kvh = R <= s->n_kv_heads ? s->n_kv_heads / R : 1;
    m->weights = in->weights > 0 ? in->weights : 0;
    int64_t Tb = in->batch_tokens > T ? in->batch_tokens : T; // the pass batch (at least one pass of T)
    m->residuals = (N_CALIB_KEPT * T + Tb) * n1 * d * 4;
    // one block: x, its norm, the block output (3d); q, k, v, attention output; scores [qh, T, T];
    // gate, up, their product (3 ff); exact mode: the row-parallel partials [T, d] in double, twice
    m->activations = 4 * T * (3 * d + (2 * qh + 2 * kvh) * hd + 3 * ffl) + 4 * qh * T * T + (in->exact ? 2 * 8 * T * d : 0);
    int64_t chunk = 4 * n1 * T * vl;
    if (chunk > LENS_CHUNK_BYTES) chunk = LENS_CHUNK_BYTES;
    int nl = in->n_lenses > 0 ? in->n_lenses : 1;
    m->lens = chunk + (int64_t)nl * n1 * vl * 4 + 4 * T * vl;
    m->positions = in->pos_rows > 0 ? (int64_t)in->pos_rows * n1 * (8 + 12 * (int64_t)(in->pos_topk > 0 ? in->pos_topk : 1)) : 0;
    if (in->gpu) {
        m->cuda_context = CUDA_CONTEXT_BYTES;
        m->cublas_workspace = CUBLAS_WORKSPACE_BYTES;
        m->nccl_buffers = R > 1 ? NCCL_BUFFER_BYTES : 0;
    } else {
        m->runtime = CPU_RUNTIME_BYTES;
    }
    m->total = m->weights + m->residuals + m->activations + m->lens + m->positions + m->runtime + m->cuda_context +
               m->cublas_workspace + m->nccl_buffers;
}

double plan_compute_seconds(const LwModelShape *s, const PlanMemIn *in, int n_passes, int n_tests) {
    long R = in->tp > 0 ? in->tp : 1, T = in->tokens > 0 ? in->tokens : 1;
    double n1 = s->n_layers + 1, d = s->d_model, vl = (double)ceil_div(s->vocab, R);
    double emb = (double)s->vocab * s->d_model * (s->tied_embeddings ? 1 : 2);
    double body = (double)model_shape_params(s) - emb; // the blocks' matrices: 2 FLOPs per weight per token
    double fwd = 2.0 * body / R * T + 4.0 * s->n_layers * (double)ceil_div(s->n_heads, R) * s->head_dim * T * T;
    int nl = in->n_lenses > 0 ? in->n_lenses : 1;
    double lens = 2.0 * d * vl * (nl * n1 * T + T); // every layer and position per lens, plus the head
    double rf, rl, bw;
    if (in->gpu) rf = rl = in->exact ? GPU_EXACT_FLOPS : GPU_FAST_FLOPS, bw = GPU_BYTES_PER_S;
    else rf = CPU_FORWARD_FLOPS, rl = CPU_LENS_FLOPS, bw = 0;
    double per_fwd = fwd / rf;
    if (bw > 0 && in->weights / bw > per_fwd) per_fwd = in->weights / bw; // bound by reading the weights
    return (n_passes + n_tests) * per_fwd + n_passes * lens / rl;
}

int plan_probe_passes(const LwRunConfig *cfg) { return 2 * cfg->probe_set.n_facts + 1; }

int plan_decoded_lenses(const LwRunConfig *cfg) {
    int n = 0;
    for (int i = 0; i < cfg->lenses.n; i++)
        n += !strcmp(cfg->lenses.v[i], "norm") || !strcmp(cfg->lenses.v[i], "raw") || !strcmp(cfg->lenses.v[i], "prism");
    return n > 0 ? n : 1;
}

static void longest(const Tokenizer *tok, const char *text, long *best) {
    long n;
    if (tok) {
        int32_t *ids = NULL;
        LwError e = {0};
        n = tok_encode(tok, text, strlen(text), 0, &ids, &e);
        free(ids);
        if (n < 0) n = ceil_div((long)strlen(text), 4);
    } else {
        n = ceil_div((long)strlen(text), 4);
    }
    if (n + 1 > *best) *best = n + 1; // + BOS (none for Qwen: one token over)
}

long plan_probe_tokens(const LwRunConfig *cfg, const char *checkpoint, int *tokenized) {
    LwError e = {0};
    Tokenizer *tok = checkpoint && *checkpoint ? checkpoint_tokenizer_load(checkpoint, &e) : NULL;
    *tokenized = tok != NULL;
    const LwProbeSet *ps = &cfg->probe_set;
    long best = 1;
    for (int f = 0; f < ps->n_facts; f++)
        for (int v = 0; v < 2; v++) {
            char *p = probe_set_prompt(ps, v ? "no_filler" : "orig", f);
            longest(tok, p, &best);
            free(p);
        }
    if (ps->control_prompt) longest(tok, ps->control_prompt, &best);
    for (int i = 0; i < ps->n_test_prompts; i++) longest(tok, ps->test_prompts[i], &best);
    if (tok) tok_free(tok);
    return best;
}

static void line(FILE *f, const char *indent, const char *what, int64_t b, const char *note) {
    if (b <= 0) return;
    fprintf(f, "%s%-18s %10.1f MB  %s\n", indent, what, b / 1e6, note);
}

void plan_memory_print(FILE *f, const char *indent, const PlanMemory *m) {
    line(f, indent, "weights", m->weights, "at the compute dtype");
    line(f, indent, "residuals", m->residuals, "fp32 [L+1, T, d]: 3 calibration prompts kept + the batch of passes forwarded together");
    line(f, indent, "activations", m->activations, "one block's forward at T tokens");
    line(f, indent, "lens", m->lens, "logit chunk (<= 256 MiB) + NEXT rows per lens + head logits");
    line(f, indent, "battery positions", m->positions, "battery_positions rows on rank 0: [rows, L+1] entropy + top-k");
    line(f, indent, "runtime (CPU)", m->runtime, "libraries, MPI, BLAS, heap: measured (tiny model run)");
    line(f, indent, "CUDA context", m->cuda_context, "projected");
    line(f, indent, "cuBLAS workspace", m->cublas_workspace, "projected");
    line(f, indent, "NCCL buffers", m->nccl_buffers, "projected");
    fprintf(f, "%s%-18s %10.1f MB\n", indent, "total (est. peak)", m->total / 1e6);
}
