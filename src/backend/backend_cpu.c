// backend_cpu — the CPU backend's op table: backend.h's contract filled with the cpu_* ops of
// cpu.c. Host memory is the backend's memory, so the buffer functions are malloc/free/memcpy and
// every op runs (and has finished) when it returns: sync has nothing to wait for.
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu.h"
#include "backend/cpu_lens.h"
#include "util/util.h"

static void *cpu_alloc(size_t bytes) { return xmalloc(bytes ? bytes : 1); }
static void cpu_free(void *p) { free(p); }
static void cpu_memcpy(void *dst, const void *src, size_t bytes) { if (bytes) memmove(dst, src, bytes); }
static void cpu_sync(void) {}

const Backend backend_cpu = {
    .name = "cpu",
    .host_memory = 1,
    .init = cpu_blas_warmup,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .copy = cpu_memcpy,
    .sync = cpu_sync,
    .matmul_exact = cpu_matmul_exact,
    .matmul_fast = cpu_matmul,
    .matmul_f64 = cpu_matmul_f64,
    .round_f64 = cpu_round_f64,
    .embed_rows = cpu_embed_rows,
    .rmsnorm = cpu_rmsnorm,
    .rope_inv_freq = cpu_rope_inv_freq,
    .rope_tables = cpu_rope_tables,
    .rope_apply = cpu_rope_apply,
    .attention = cpu_attention_seg,
    .gated_act = cpu_gated_act,
    .add = cpu_add,
    .scale = cpu_scale,
    .softcap = cpu_softcap,
    .matmul_rowdot = cpu_matmul_rowdot,
    .softmax_partials = cpu_softmax_partials,
    .lens_scan = cpu_lens_scan,
    .lens_sums = cpu_lens_sums,
    .lens_values = cpu_lens_values,
    .lens_pair = cpu_lens_pair,
    .lens_js = cpu_lens_js,
    .lens_dots = cpu_lens_dots,
    .lens_extremes = cpu_lens_extremes,
};

static const Backend *g_default = &backend_cpu;

const Backend *backend_default(void) { return g_default; }
void backend_set_default(const Backend *b) { g_default = b ? b : &backend_cpu; }
