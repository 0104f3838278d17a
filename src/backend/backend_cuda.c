// backend_cuda — the CUDA backend's op table (backend.h): buffers through the CUDA runtime on one
// stream, the ops through the kernels of kernels/ (kernels.h) and the fast matmul through
// cublasGemmEx. Compiled by the CUDA build (LENSWEEP_CUDA, against the real runtime) and against
// the CPU emulation of the runtime (LW_CUDA_EMU: kernels/emu, `make cudaemu` and the emulated
// build of tests/unit/test_backend_ops.c); otherwise this file is empty.
//
// Every CUDA and cuBLAS call goes through a checked wrapper: a failure stops the rank (lw_die,
// which stops the MPI job) with the call, file:line, the device and a hint. Host-side tables
// (rope_inv_freq, rope_tables) are computed by the CPU twins and uploaded, so they are identical
// on both backends. Small host inputs of an op (token ids, attention segments, transforms, given maxima) are copied
// into device scratch buffers that grow as needed.
#if defined(LENSWEEP_CUDA) || defined(LW_CUDA_EMU)

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "backend/backend.h"
#include "backend/cpu.h"
#include "backend/cuda.h"
#include "kernels.h"
#include "util/util.h"

static_assert(sizeof(LwXform) == sizeof(LogitXform), "LwXform mirrors LogitXform");
static_assert(sizeof(LwAttnParams) == sizeof(AttnParams), "LwAttnParams mirrors AttnParams");
static_assert(sizeof(LwThreshold) == sizeof(LensThreshold), "LwThreshold mirrors LensThreshold");

static cudaStream_t g_stream;
static cublasHandle_t g_cublas;
static int g_ready;

static int current_device(void) {
    int d = -1;
    cudaGetDevice(&d);
    return d;
}

// ---------------------------------------------------------------------------- checked wrappers

static void cuda_check(cudaError_t e, const char *call, const char *file, int line, const char *hint) {
    if (e == cudaSuccess) return;
    lw_die(LW_EXIT_RUNTIME, hint, "CUDA call %s failed at %s:%d on device %d: %s (%s)", call, file, line,
           current_device(), cudaGetErrorString(e), cudaGetErrorName(e));
}
#define CK(call, hint) cuda_check((call), #call, __FILE__, __LINE__, (hint))

// A kernel launcher of kernels.h returns 0 or the cudaError_t of its launch.
#define KCK(call) \
    cuda_check((cudaError_t)(call), #call, __FILE__, __LINE__, "a kernel launch was refused: this is a bug in lensweep")

static void cublas_check(cublasStatus_t s, const char *call, const char *file, int line) {
    if (s == CUBLAS_STATUS_SUCCESS) return;
    lw_die(LW_EXIT_RUNTIME, "check the cuBLAS installation and the shapes named here; this may be a bug in lensweep",
           "cuBLAS call %s failed at %s:%d on device %d: %s (status %d)", call, file, line, current_device(),
           cublasGetStatusString(s), (int)s);
}
#define BCK(call) cublas_check((call), #call, __FILE__, __LINE__)

static const char *HINT_MEM = "a copy between host and device failed: this is a bug in lensweep, or the device faulted";

// ---------------------------------------------------------------------------- buffers

// Calls of the lens ops, printed at exit when LW_CUDA_OP_COUNTS is set (tests/sh/test_cudaemu.sh
// asserts with them that a run takes the fused path).
static long g_n_scan, g_n_sums, g_n_partials, g_n_values, g_n_pair, g_n_js, g_n_dots, g_n_extremes;
static int g_count_device = -1;
// Bytes copied host → device: in all (weights, activations, the ops' small inputs), and of them
// the lens logits the lens ops had to upload because their rows were host memory (backend.h: the
// fallback for the lens paths that still decode into host memory). Printed with the op counts.
static unsigned long long g_up_bytes, g_lens_up_bytes;

static void print_op_counts(void) {
    fprintf(stderr, "cuda backend op counts (device %d): lens_scan %ld, lens_sums %ld, softmax_partials %ld\n",
            g_count_device, g_n_scan, g_n_sums, g_n_partials);
    fprintf(stderr,
            "cuda backend row op counts (device %d): lens_values %ld, lens_pair %ld, lens_js %ld, lens_dots %ld, "
            "lens_extremes %ld\n",
            g_count_device, g_n_values, g_n_pair, g_n_js, g_n_dots, g_n_extremes);
    fprintf(stderr, "cuda backend uploads (device %d): %llu bytes host to device, lens logits from host rows %llu bytes\n",
            g_count_device, g_up_bytes, g_lens_up_bytes);
}

static void cuda_init(void) {
    if (g_ready) return;
    if (getenv("LW_CUDA_OP_COUNTS")) {
        g_count_device = current_device();
        atexit(print_op_counts);
    }
    CK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking),
       "no usable GPU; `lensweep devices` shows what this process sees");
    BCK(cublasCreate(&g_cublas));
    BCK(cublasSetStream(g_cublas, g_stream));
    g_ready = 1;
}

void *cuda_backend_stream(void) {
    cuda_init();
    return (void *)g_stream;
}

static void *cuda_alloc(size_t bytes) {
    cuda_init();
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        size_t fr = 0, tot = 0;
        cudaGetLastError();
        cudaMemGetInfo(&fr, &tot);
        lw_die(LW_EXIT_RUNTIME, "use more tensor-parallel ranks, a shorter probe set or a GPU with more memory",
               "out of device memory on device %d: cudaMalloc of %zu bytes failed (%s); %zu of %zu bytes free",
               current_device(), bytes, cudaGetErrorString(e), fr, tot);
    }
    return p;
}

static void cuda_free(void *p) {
    if (p) CK(cudaFree(p), "freeing device memory failed: this is a bug in lensweep, or the device faulted");
}

static void cuda_upload(void *dst, const void *src, size_t bytes) {
    g_up_bytes += bytes;
    if (bytes) CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g_stream), HINT_MEM);
}

static void cuda_download(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g_stream), HINT_MEM);
    CK(cudaStreamSynchronize(g_stream), "a kernel before this copy faulted: run compute-sanitizer on the kernel tests");
}

static void cuda_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g_stream), HINT_MEM);
}

// 1 when p is device memory (cudaMalloc's). Under the emulation the registry of allocations
// answers; on a GPU the runtime's pointer attributes.
static int cuda_owns(const void *p) {
    if (!p) return 0;
#ifdef LW_CUDA_EMU
    return lw_emu_is_device_ptr(p);
#else
    struct cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        cudaGetLastError(); // an unregistered host pointer on older runtimes: not an error to keep
        return 0;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
#endif
}

static void cuda_sync(void) {
    if (g_ready)
        CK(cudaStreamSynchronize(g_stream), "a kernel before this point faulted: run compute-sanitizer on the kernel tests");
}

// A device scratch buffer for small host inputs (ids, transforms, maxima) and the fast matmul's
// weight tile; grows, never shrinks. Ops run one after another on one stream, so a buffer is
// reused only after the op that read it (the stream orders them).
typedef struct {
    void *p;
    size_t bytes;
} Scratch;

static void *scratch(Scratch *s, size_t bytes) {
    if (bytes > s->bytes) {
        cuda_sync(); // an op queued before may still read the old buffer
        cuda_free(s->p);
        s->p = cuda_alloc(bytes);
        s->bytes = bytes;
    }
    return s->p;
}

static Scratch g_ids, g_xf, g_mx, g_tile, g_seg;

// Copies host data into a scratch buffer on the stream and returns the device pointer.
static void *stage(Scratch *s, const void *host, size_t bytes) {
    void *d = scratch(s, bytes ? bytes : 1);
    cuda_upload(d, host, bytes);
    return d;
}

// ---------------------------------------------------------------------------- forward ops

static void cuda_op_matmul_exact(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                                 const float *bias, float *y) {
    LW_ASSERT(x && w && y && T >= 0 && out > 0 && in > 0 && (const void *)x != (const void *)y);
    KCK(cuda_matmul_exact(x, T, wdtype, w, out, in, bias, y, g_stream));
}

static void cuda_op_matmul_f64(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in, double *y) {
    LW_ASSERT(x && w && y && T >= 0 && out > 0 && in > 0);
    KCK(cuda_matmul_f64(x, T, wdtype, w, out, in, y, g_stream));
}

// fp32 GEMM through cublasGemmEx (CUBLAS_COMPUTE_32F, fp32 operands: the weights widened to fp32
// a block of rows at a time, as cpu_matmul widens them for sgemm). Row-major y[T, out] = x · Wᵀ is
// column-major yᵀ [out, T] = W [out, in] · xᵀ: A = W (column-major [in, out], op T), B = x
// (column-major [in, T], op N).
#define FAST_TILE_FLOATS ((size_t)64 << 20) // 256 MiB of widened weights at most

static void cuda_op_matmul_fast(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                                const float *bias, float *y) {
    LW_ASSERT(x && w && y && T >= 0 && out > 0 && in > 0 && (const void *)x != (const void *)y);
    LW_ASSERT(in <= INT32_MAX && out <= INT32_MAX);
    if (T == 0) return;
    int64_t nb = (int64_t)(FAST_TILE_FLOATS / (size_t)in);
    if (nb < 1) nb = 1;
    if (nb > out) nb = out;
    float *tile = wdtype == DT_F32 ? NULL : scratch(&g_tile, (size_t)nb * (size_t)in * sizeof(float));
    size_t esz = dtype_size(wdtype);
    const float one = 1.0f, zero = 0.0f;
    for (int64_t r0 = 0; r0 < out; r0 += nb) {
        int64_t n = out - r0 < nb ? out - r0 : nb;
        const void *blk = (const uint8_t *)w + (size_t)r0 * (size_t)in * esz;
        const float *wt = blk;
        if (tile) {
            KCK(cuda_widen(wdtype, blk, tile, (size_t)n * (size_t)in, g_stream));
            wt = tile;
        }
        BCK(cublasGemmEx(g_cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, T, (int)in, &one, wt, CUDA_R_32F, (int)in, x,
                         CUDA_R_32F, (int)in, &zero, y + r0, CUDA_R_32F, (int)out, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT));
    }
    if (bias) KCK(cuda_add_bias(y, bias, T, out, g_stream));
}

static void cuda_op_round_f64(const double *x, float *y, size_t n) { KCK(cuda_round_f64(x, y, n, g_stream)); }

static void cuda_op_embed_rows(DType wdtype, const void *w, int64_t v0, int64_t vl, int d, const int32_t *ids, int T,
                               float *out) {
    LW_ASSERT(w && ids && out && d > 0 && T >= 0 && vl >= 0 && v0 >= 0 && v0 + vl <= INT32_MAX);
    if (T == 0) return;
    const int32_t *dids = stage(&g_ids, ids, (size_t)T * sizeof(int32_t));
    KCK(cuda_embed_gather(w, wdtype, dids, T, d, (int)v0, (int)vl, out, g_stream));
}

static void cuda_op_rmsnorm(const float *x, const float *w, float *out, int rows, int n, float eps) {
    LW_ASSERT(x && w && out && rows >= 0 && n > 0);
    KCK(cuda_rmsnorm(x, w, out, rows, n, eps, g_stream));
}

// The tables are computed on the host by the CPU twins (tiny: [T, hd/2]) and uploaded, so both
// backends rotate by the same fp32 cos/sin values.
static void cuda_op_rope_tables(const float *inv_freq, int hd, int T, float *cos_tab, float *sin_tab) {
    LW_ASSERT(inv_freq && cos_tab && sin_tab && hd % 2 == 0 && T >= 0);
    size_t n = (size_t)T * (size_t)(hd / 2);
    if (n == 0) return;
    float *c = xmalloc(n * sizeof(float)), *s = xmalloc(n * sizeof(float));
    cpu_rope_tables(inv_freq, hd, T, c, s);
    cuda_upload(cos_tab, c, n * sizeof(float));
    cuda_upload(sin_tab, s, n * sizeof(float));
    cuda_sync(); // the host tables are freed next
    free(c);
    free(s);
}

static void cuda_op_rope_apply(float *x, int T, int n_heads, int hd, int stride, const float *cos_tab,
                               const float *sin_tab) {
    LW_ASSERT(x && cos_tab && sin_tab && hd % 2 == 0 && stride >= n_heads * hd);
    KCK(cuda_rope_apply(x, T, n_heads, hd, stride, cos_tab, sin_tab, g_stream));
}

static void cuda_op_attention(const float *q, const float *k, const float *v, int T, const int32_t *seg_off, int n_seg,
                              const AttnParams *p, float *out) {
    LW_ASSERT(q && k && v && out && p && T >= 0);
    LwAttnParams lp = {.n_heads = p->n_heads, .n_kv = p->n_kv, .head_dim = p->head_dim, .q_per_kv = p->q_per_kv,
                       .head_start = p->head_start, .kv_start = p->kv_start, .scale = p->scale,
                       .softcap = p->softcap, .window = p->window};
    if (!seg_off || n_seg == 1) {
        LW_ASSERT(!seg_off || (seg_off[0] == 0 && seg_off[1] == T));
        KCK(cuda_attention(q, k, v, T, &lp, out, g_stream));
        return;
    }
    LW_ASSERT(n_seg > 1 && seg_off[0] == 0 && seg_off[n_seg] == T);
    int max_seg = 0;
    for (int s = 0; s < n_seg; s++) {
        LW_ASSERT(seg_off[s + 1] > seg_off[s]);
        if (seg_off[s + 1] - seg_off[s] > max_seg) max_seg = seg_off[s + 1] - seg_off[s];
    }
    const int32_t *dseg = stage(&g_seg, seg_off, (size_t)(n_seg + 1) * sizeof(int32_t));
    KCK(cuda_attention_seg(q, k, v, T, dseg, n_seg, max_seg, &lp, out, g_stream));
}

static void cuda_op_gated_act(float *gate, const float *up, size_t n, int gelu) {
    KCK(cuda_gated_act(gate, up, n, gelu, g_stream));
}
static void cuda_op_add(float *y, const float *x, size_t n) { KCK(cuda_add(y, x, n, g_stream)); }
static void cuda_op_scale(float *x, size_t n, float c) { KCK(cuda_scale(x, n, c, g_stream)); }
static void cuda_op_softcap(float *s, size_t n, float cap) {
    LW_ASSERT(cap > 0);
    KCK(cuda_softcap(s, n, cap, g_stream));
}

// ---------------------------------------------------------------------------- lens ops

static void cuda_op_matmul_rowdot(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                                  float *y) {
    LW_ASSERT(x && w && y && T >= 0 && out > 0 && in > 0 && (const void *)x != (const void *)y);
    LW_ASSERT(wdtype == DT_F32 || wdtype == DT_BF16 || wdtype == DT_F16);
    KCK(cuda_matmul_rowdot(x, T, wdtype, w, out, in, y, g_stream));
}

static void cuda_op_softmax_partials(const float *z, int rows, int cols, size_t ld, const LogitXform *xf,
                                     const float *m_in, float *row_max, double *row_s, double *row_e) {
    LW_ASSERT(z && rows >= 0 && cols > 0 && ld >= (size_t)cols);
    LW_ASSERT((m_in || row_max) && (!row_s) == (!row_e));
    if (rows == 0) return;
    g_n_partials++;
    const LwXform *dxf = xf ? stage(&g_xf, xf, (size_t)rows * sizeof(LwXform)) : NULL;
    const float *dm = m_in ? stage(&g_mx, m_in, (size_t)rows * sizeof(float)) : NULL;
    KCK(cuda_softmax_partials(z, rows, cols, ld, dxf, dm, m_in ? NULL : row_max, row_s, row_e, g_stream));
}

// The fused lens statistics (backend.h): the rows of logits are device memory (the lens's chunk
// on the device) and go to the kernels of kernels/lens_fused.cu as they are; host rows (a lens
// path that still decodes into host memory) are uploaded into device scratch first, counted in
// g_lens_up_bytes. The small inputs are staged, the per-row results downloaded (the download
// waits for the kernel).
static Scratch g_lz, g_lmax, g_ltx, g_ltid, g_llist, g_lse, g_lhis, g_llos, g_lthr, g_lcnt, g_lself;

static size_t rows_floats(int rows, int cols, size_t ld) { return (size_t)(rows - 1) * ld + (size_t)cols; }

// The block of rows at z on the device: z itself, or its upload.
static const float *device_block(const float *z, int rows, int cols, size_t ld) {
    if (cuda_owns(z)) {
        LW_ASSERT(cuda_owns(z + rows_floats(rows, cols, ld) - 1)); // the block lies in device memory
        return z;
    }
    size_t bytes = rows_floats(rows, cols, ld) * sizeof(float);
    g_lens_up_bytes += bytes;
    return stage(&g_lz, z, bytes);
}

static void cuda_op_lens_scan(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, int64_t v0, int k,
                              float *row_max, float *top_x, int32_t *top_id) {
    LW_ASSERT(z && rows >= 0 && cols > 0 && ld >= (size_t)cols && row_max && k >= 0);
    LW_ASSERT(k == 0 || (top_x && top_id));
    if (rows == 0) return;
    g_n_scan++;
    const float *dz = device_block(z, rows, cols, ld);
    const LwXform *dxf = xf ? stage(&g_xf, xf, (size_t)rows * sizeof(LwXform)) : NULL;
    float *dmax = scratch(&g_lmax, (size_t)rows * sizeof(float));
    size_t nk = (size_t)rows * (size_t)k;
    float *dtx = k ? scratch(&g_ltx, nk * sizeof(float)) : NULL;
    int32_t *dtid = k ? scratch(&g_ltid, nk * sizeof(int32_t)) : NULL;
    size_t lb = cuda_lens_scan_scratch(rows, k);
    void *lists = lb ? scratch(&g_llist, lb) : NULL;
    KCK(cuda_lens_scan(dz, rows, cols, ld, dxf, v0, k, dmax, dtx, dtid, lists, g_stream));
    cuda_download(row_max, dmax, (size_t)rows * sizeof(float));
    if (k) {
        cuda_download(top_x, dtx, nk * sizeof(float));
        cuda_download(top_id, dtid, nk * sizeof(int32_t));
    }
}

// One row's thresholds sorted by value, ties by index (as cpu_lens.c sorts them: the counts do
// not depend on the order of ties, only the bookkeeping below does).
typedef struct { float v; int j; } ThrIdx;
static int cmp_thr_idx(const void *pa, const void *pb) {
    const ThrIdx *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    return a->j - b->j;
}

static void cuda_op_lens_sums(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, const float *m_in,
                              int fast_exp, int64_t v0, int nt, const LensThreshold *thr, double *row_s, double *row_e,
                              int64_t *above, int64_t *band) {
    LW_ASSERT(z && rows >= 0 && cols > 0 && ld >= (size_t)cols && nt >= 0);
    LW_ASSERT(!row_s == !row_e && (!row_s || m_in));
    LW_ASSERT(nt == 0 || (thr && above && band));
    if (rows == 0 || (!row_s && nt == 0)) return;
    g_n_sums++;
    const float *dz = device_block(z, rows, cols, ld);
    const LwXform *dxf = xf ? stage(&g_xf, xf, (size_t)rows * sizeof(LwXform)) : NULL;
    const float *dm = row_s ? stage(&g_mx, m_in, (size_t)rows * sizeof(float)) : NULL;
    double *dse = row_s ? scratch(&g_lse, 2 * (size_t)rows * sizeof(double)) : NULL;
    size_t N = (size_t)rows * (size_t)nt, NC = (size_t)rows * 2 * ((size_t)nt + 1);
    float *his = NULL, *los = NULL;
    int *hj = NULL, *lj = NULL;
    const float *dhis = NULL, *dlos = NULL;
    const LwThreshold *dthr = NULL;
    unsigned long long *dcnt = NULL;
    int *dself = NULL;
    if (nt) {
        his = xmalloc(sizeof(float) * N);
        los = xmalloc(sizeof(float) * N);
        hj = xmalloc(sizeof(int) * N);
        lj = xmalloc(sizeof(int) * N);
        ThrIdx *tmp = xmalloc(sizeof(ThrIdx) * (size_t)nt);
        for (int r = 0; r < rows; r++) {
            const LensThreshold *tr = thr + (size_t)r * nt;
            size_t o = (size_t)r * nt;
            for (int j = 0; j < nt; j++) tmp[j] = (ThrIdx){tr[j].hi, j};
            qsort(tmp, (size_t)nt, sizeof *tmp, cmp_thr_idx);
            for (int i = 0; i < nt; i++) { his[o + i] = tmp[i].v; hj[o + i] = tmp[i].j; }
            for (int j = 0; j < nt; j++) tmp[j] = (ThrIdx){tr[j].lo, j};
            qsort(tmp, (size_t)nt, sizeof *tmp, cmp_thr_idx);
            for (int i = 0; i < nt; i++) { los[o + i] = tmp[i].v; lj[o + i] = tmp[i].j; }
        }
        free(tmp);
        dhis = stage(&g_lhis, his, N * sizeof(float));
        dlos = stage(&g_llos, los, N * sizeof(float));
        dthr = stage(&g_lthr, thr, N * sizeof(LwThreshold));
        dcnt = scratch(&g_lcnt, NC * sizeof(unsigned long long));
        dself = scratch(&g_lself, N * sizeof(int));
    }
    KCK(cuda_lens_sums(dz, rows, cols, ld, dxf, dm, fast_exp, v0, nt, dhis, dlos, dthr, dse, dse ? dse + rows : NULL,
                       dcnt, dself, g_stream));
    if (row_s) { // one download (one wait) for both
        double *se = xmalloc(2 * (size_t)rows * sizeof(double));
        cuda_download(se, dse, 2 * (size_t)rows * sizeof(double));
        memcpy(row_s, se, (size_t)rows * sizeof(double));
        memcpy(row_e, se + rows, (size_t)rows * sizeof(double));
        free(se);
    }
    if (!nt) return;
    unsigned long long *cnt = xmalloc(NC * sizeof(unsigned long long));
    int *self = xmalloc(N * sizeof(int));
    cuda_download(cnt, dcnt, NC * sizeof(unsigned long long));
    cuda_download(self, dself, N * sizeof(int));
    for (int r = 0; r < rows; r++) {
        // entries beating sorted threshold i are those that beat at least i + 1 of them
        const unsigned long long *ch = cnt + (size_t)r * 2 * (nt + 1), *cl = ch + nt + 1;
        int64_t *ab = above + (size_t)r * nt, *bd = band + (size_t)r * nt, run_hi = 0, run_lo = 0;
        size_t o = (size_t)r * nt;
        for (int i = nt - 1; i >= 0; i--) {
            run_hi += (int64_t)ch[i + 1];
            run_lo += (int64_t)cl[i + 1];
            ab[hj[o + i]] = run_hi;
            bd[lj[o + i]] = run_lo; // #{x > lo} for now
        }
        for (int j = 0; j < nt; j++) bd[j] -= ab[j] + self[o + j]; // #{lo < x <= hi}, the tracked entry left out
    }
    free(cnt);
    free(self);
    free(his);
    free(los);
    free(hj);
    free(lj);
}

// The per-row reductions (backend.h lens_values .. lens_extremes): their rows are device memory,
// one pointer per row. Each call uploads the row pointers of P and then of Q (one array), the
// transforms and the log-sum-exps, runs the kernel of kernels/lens_fused.cu and downloads the
// results. Host rows (a lens path that still decodes into host memory) are uploaded into one
// device buffer first (a row equal to the one before it, the same pointer, once: P_final shared
// by every layer's pair), counted in g_lens_up_bytes.
static Scratch g_rz, g_rptr, g_rxf, g_rlse, g_rout, g_rids, g_rmsum;

typedef struct {
    const float *const *zp, *const *zq; // device arrays of device row pointers
    const LwXform *xp, *xq;
    const float *lp, *lq;
} StagedRows;

static StagedRows stage_rows(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                             const LogitXform *xq, const float *lse_q, int rows, int cols) {
    int nrow = zq ? 2 * rows : rows, n_host = 0;
    const float **ptr = xmalloc(sizeof(float *) * (size_t)nrow), **src = xmalloc(sizeof(float *) * (size_t)nrow);
    int *own = xmalloc(sizeof(int) * (size_t)nrow);
    for (int i = 0; i < nrow; i++) {
        src[i] = i < rows ? zp[i] : zq[i - rows];
        int same = i > 0 && src[i] == src[i - 1];
        own[i] = same ? own[i - 1] : cuda_owns(src[i]);
        if (!own[i] && !same) n_host++;
        if (own[i] && !same && cols > 0) LW_ASSERT(cuda_owns(src[i] + cols - 1)); // the row lies in device memory
    }
    float *dz = n_host ? scratch(&g_rz, (size_t)n_host * (size_t)(cols ? cols : 1) * sizeof(float)) : NULL;
    for (int i = 0, k = -1; i < nrow; i++) {
        if (own[i]) { ptr[i] = src[i]; continue; }
        if (i == 0 || src[i] != src[i - 1]) {
            k++;
            cuda_upload(dz + (size_t)k * cols, src[i], (size_t)cols * sizeof(float));
            g_lens_up_bytes += (size_t)cols * sizeof(float);
        }
        ptr[i] = dz + (size_t)k * cols;
    }
    StagedRows s = {0};
    const float **dptr = stage(&g_rptr, ptr, sizeof(float *) * (size_t)nrow);
    s.zp = dptr;
    s.zq = zq ? dptr + rows : NULL;
    LogitXform *xf = NULL;
    float *l = NULL;
    if (xp || xq) { // both sets of transforms in one buffer: [rows] of P, [rows] of Q
        xf = xmalloc(sizeof(LogitXform) * 2 * (size_t)rows);
        for (int r = 0; r < rows; r++) {
            xf[r] = xp ? xp[r] : (LogitXform){XF_IDENT, 1.0f, 1.0f};
            xf[rows + r] = xq ? xq[r] : (LogitXform){XF_IDENT, 1.0f, 1.0f};
        }
        LwXform *dxf = stage(&g_rxf, xf, sizeof(LwXform) * 2 * (size_t)rows);
        s.xp = dxf;
        s.xq = dxf + rows;
    }
    if (lse_p || lse_q) {
        l = xmalloc(sizeof(float) * 2 * (size_t)rows);
        for (int r = 0; r < rows; r++) {
            l[r] = lse_p ? lse_p[r] : 0.0f;
            l[rows + r] = lse_q ? lse_q[r] : 0.0f;
        }
        float *dl = stage(&g_rlse, l, sizeof(float) * 2 * (size_t)rows);
        s.lp = lse_p ? dl : NULL;
        s.lq = lse_q ? dl + rows : NULL;
    }
    cuda_sync(); // the host copies are freed next
    free(ptr);
    free(src);
    free(own);
    free(xf);
    free(l);
    return s;
}

static void cuda_op_lens_values(const float *const *z, const LogitXform *xf, int rows, int cols, int64_t v0, int nids,
                                const int32_t *ids, float *out) {
    LW_ASSERT(rows >= 0 && cols >= 0 && nids >= 0 && (rows == 0 || nids == 0 || (z && ids && out)));
    if (rows == 0 || nids == 0) return;
    g_n_values++;
    size_t N = (size_t)rows * (size_t)nids;
    StagedRows s = stage_rows(z, xf, NULL, NULL, NULL, NULL, rows, cols);
    const int32_t *dids = stage(&g_rids, ids, N * sizeof(int32_t));
    float *dout = scratch(&g_rout, N * sizeof(float));
    KCK(cuda_lens_values(s.zp, s.xp, rows, cols, v0, nids, dids, dout, g_stream));
    cuda_download(out, dout, N * sizeof(float));
}

static void cuda_op_lens_pair(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                              const LogitXform *xq, const float *lse_q, int rows, int cols, unsigned what, double *out) {
    int need_q = (what & ~(unsigned)LPS_HP) != 0;
    LW_ASSERT(rows >= 0 && cols >= 0 && (rows == 0 || (zp && lse_p && out)));
    LW_ASSERT(!need_q || rows == 0 || (zq && lse_q));
    if (rows == 0) return;
    g_n_pair++;
    StagedRows s = stage_rows(zp, xp, lse_p, need_q ? zq : NULL, need_q ? xq : NULL, need_q ? lse_q : NULL, rows, cols);
    double *dout = scratch(&g_rout, (size_t)rows * 8 * sizeof(double));
    KCK(cuda_lens_pair(s.zp, s.xp, s.lp, s.zq, s.xq, s.lq, rows, cols, what, dout, g_stream));
    cuda_download(out, dout, (size_t)rows * 8 * sizeof(double));
}

static void cuda_op_lens_js(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                            const LogitXform *xq, const float *lse_q, int rows, int cols, const double *msum,
                            double *out) {
    LW_ASSERT(rows >= 0 && cols >= 0 && (rows == 0 || (zp && lse_p && zq && lse_q && msum && out)));
    if (rows == 0) return;
    g_n_js++;
    StagedRows s = stage_rows(zp, xp, lse_p, zq, xq, lse_q, rows, cols);
    const double *dm = stage(&g_rmsum, msum, (size_t)rows * sizeof(double));
    double *dout = scratch(&g_rout, (size_t)rows * sizeof(double));
    KCK(cuda_lens_js(s.zp, s.xp, s.lp, s.zq, s.xq, s.lq, rows, cols, dm, dout, g_stream));
    cuda_download(out, dout, (size_t)rows * sizeof(double));
}

static void cuda_op_lens_dots(const float *const *zp, const LogitXform *xp, const float *const *zq,
                              const LogitXform *xq, int rows, int cols, double *out) {
    LW_ASSERT(rows >= 0 && cols >= 0 && (rows == 0 || (zp && zq && out)));
    if (rows == 0) return;
    g_n_dots++;
    StagedRows s = stage_rows(zp, xp, NULL, zq, xq, NULL, rows, cols);
    double *dout = scratch(&g_rout, (size_t)rows * 3 * sizeof(double));
    KCK(cuda_lens_dots(s.zp, s.xp, s.zq, s.xq, rows, cols, dout, g_stream));
    cuda_download(out, dout, (size_t)rows * 3 * sizeof(double));
}

static void cuda_op_lens_extremes(const float *const *z, const LogitXform *xf, int rows, int cols, float *out) {
    LW_ASSERT(rows >= 0 && cols >= 0 && (rows == 0 || (z && out)));
    if (rows == 0) return;
    g_n_extremes++;
    StagedRows s = stage_rows(z, xf, NULL, NULL, NULL, NULL, rows, cols);
    float *dout = scratch(&g_rout, (size_t)rows * 4 * sizeof(float));
    KCK(cuda_lens_extremes(s.zp, s.xp, rows, cols, dout, g_stream));
    cuda_download(out, dout, (size_t)rows * 4 * sizeof(float));
}

const Backend backend_cuda = {
    .name = "cuda",
    .init = cuda_init,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .sync = cuda_sync,
    .owns = cuda_owns,
    .matmul_exact = cuda_op_matmul_exact,
    .matmul_fast = cuda_op_matmul_fast,
    .matmul_f64 = cuda_op_matmul_f64,
    .round_f64 = cuda_op_round_f64,
    .embed_rows = cuda_op_embed_rows,
    .rmsnorm = cuda_op_rmsnorm,
    .rope_inv_freq = cpu_rope_inv_freq,
    .rope_tables = cuda_op_rope_tables,
    .rope_apply = cuda_op_rope_apply,
    .attention = cuda_op_attention,
    .gated_act = cuda_op_gated_act,
    .add = cuda_op_add,
    .scale = cuda_op_scale,
    .softcap = cuda_op_softcap,
    .matmul_rowdot = cuda_op_matmul_rowdot,
    .softmax_partials = cuda_op_softmax_partials,
    .lens_scan = cuda_op_lens_scan,
    .lens_sums = cuda_op_lens_sums,
    .lens_values = cuda_op_lens_values,
    .lens_pair = cuda_op_lens_pair,
    .lens_js = cuda_op_lens_js,
    .lens_dots = cuda_op_lens_dots,
    .lens_extremes = cuda_op_lens_extremes,
};

#else
typedef int lw_backend_cuda_not_built; // this build has no CUDA backend (ISO C wants a declaration)
#endif
