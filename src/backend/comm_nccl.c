// comm_nccl — see comm_nccl.h.
#include "backend/comm_nccl.h"

#include <stdio.h>
#include <string.h>

#if (defined(LENSWEEP_CUDA) && defined(LENSWEEP_NCCL)) || defined(LW_CUDA_EMU)

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>

#include "backend/cuda.h"
#include "util/util.h"

// The communicator of the one NCCL Comm of this process (one tensor-parallel group per job).
static ncclComm_t g_nccl;
static Comm *g_ctrl;

static int device_now(void) {
    int d = -1;
    cudaGetDevice(&d);
    return d;
}

static void nccl_check(ncclResult_t r, const char *call, const char *file, int line) {
    if (r == ncclSuccess) return;
    lw_die(LW_EXIT_RUNTIME,
           "another rank probably failed first (see its message); else check NCCL_DEBUG=WARN output and the "
           "interconnect (NCCL_SOCKET_IFNAME, NCCL_IB_DISABLE)",
           "NCCL call %s failed at %s:%d on device %d: %s", call, file, line, device_now(), ncclGetErrorString(r));
}
#define NCK(call) nccl_check((call), #call, __FILE__, __LINE__)

static void stream_sync(void) {
    cudaError_t e = cudaStreamSynchronize((cudaStream_t)cuda_backend_stream());
    if (e != cudaSuccess)
        lw_die(LW_EXIT_RUNTIME, "a kernel or collective before this point faulted; run compute-sanitizer on the kernel tests",
               "cudaStreamSynchronize after an NCCL collective failed on device %d: %s", device_now(), cudaGetErrorString(e));
}

static cudaStream_t stream(void) { return (cudaStream_t)cuda_backend_stream(); }

static ncclDataType_t nccl_type(CommType t) {
    return t == COMM_F32 ? ncclFloat32 : t == COMM_F64 ? ncclFloat64 : t == COMM_I32 ? ncclInt32 : ncclInt64;
}

static void nccl_finalize(Comm *c) {
    if (g_nccl) ncclCommDestroy(g_nccl);
    g_nccl = NULL;
    c->ops = NULL;
}

static void nccl_allreduce(Comm *c, void *buf, size_t n, CommType type, CommOp op) {
    if (c->size == 1 || n == 0) return;
    ncclRedOp_t o = op == COMM_SUM ? ncclSum : op == COMM_MAX ? ncclMax : ncclMin;
    NCK(ncclAllReduce(buf, buf, n, nccl_type(type), o, g_nccl, stream()));
    stream_sync();
    c->bytes_sent += n * (type == COMM_F32 || type == COMM_I32 ? 4 : 8);
}

static void nccl_bcast(Comm *c, void *buf, size_t bytes, int root) {
    if (c->size == 1 || bytes == 0) return;
    NCK(ncclBroadcast(buf, buf, bytes, ncclUint8, root, g_nccl, stream()));
    stream_sync();
    c->bytes_sent += bytes;
}

// All-gather as one broadcast per rank (rank r's block into out + r·bytes on every rank), in one
// NCCL group.
static void nccl_allgather(Comm *c, const void *in, void *out, size_t bytes) {
    char *o = out;
    if (c->size == 1) { cudaMemcpyAsync(o, in, bytes, cudaMemcpyDeviceToDevice, stream()); stream_sync(); return; }
    NCK(ncclGroupStart());
    for (int r = 0; r < c->size; r++)
        NCK(ncclBroadcast(r == c->rank ? in : NULL, o + (size_t)r * bytes, bytes, ncclUint8, r, g_nccl, stream()));
    NCK(ncclGroupEnd());
    stream_sync();
    c->bytes_sent += bytes;
}

// Variable-sized gather to root: one broadcast per rank; the other ranks receive into a device
// scratch buffer (NCCL has no gatherv; the forward pass does not use it, the table is complete).
static void nccl_gatherv(Comm *c, const void *in, size_t bytes, void *out, const size_t *counts, int root) {
    if (c->size == 1) { cudaMemcpyAsync(out, in, bytes, cudaMemcpyDeviceToDevice, stream()); stream_sync(); return; }
    size_t mx = 1;
    for (int r = 0; r < c->size; r++) mx = counts[r] > mx ? counts[r] : mx;
    void *tmp = NULL;
    if (c->rank != root && cudaMalloc(&tmp, mx) != cudaSuccess)
        lw_die(LW_EXIT_RUNTIME, "use more ranks or a GPU with more memory", "out of device memory on device %d: %zu bytes for a gather",
               device_now(), mx);
    size_t off = 0;
    NCK(ncclGroupStart());
    for (int r = 0; r < c->size; r++) {
        void *dst = c->rank == root ? (char *)out + off : tmp;
        if (counts[r]) NCK(ncclBroadcast(r == c->rank ? in : NULL, dst, counts[r], ncclUint8, r, g_nccl, stream()));
        off += counts[r];
    }
    NCK(ncclGroupEnd());
    stream_sync();
    if (tmp) cudaFree(tmp);
    c->bytes_sent += bytes;
}

static void nccl_barrier(Comm *c) {
    if (c->size == 1) return;
    comm_barrier(g_ctrl); // the stream is synchronized after every collective: host order suffices
}

static const CommOps comm_nccl_ops = {
    .name = "nccl",
    .finalize = nccl_finalize,
    .barrier = nccl_barrier,
    .allreduce = nccl_allreduce,
    .allgather = nccl_allgather,
    .gatherv = nccl_gatherv,
    .bcast = nccl_bcast,
};

int comm_nccl_available(void) { return 1; }

int comm_nccl_init(Comm *out, Comm *ctrl, char *why, size_t n) {
    memset(out, 0, sizeof *out);
    out->rank = ctrl->rank;
    out->size = ctrl->size;
    out->local_rank = ctrl->local_rank;
    out->local_size = ctrl->local_size;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    ncclResult_t r = ncclSuccess;
    int failed = 0;
    if (ctrl->rank == 0) {
        r = ncclGetUniqueId(&id);
        failed = r != ncclSuccess;
    }
    // every rank learns whether rank 0 has an id before anyone waits in ncclCommInitRank
    if (comm_first_failure(ctrl, failed) >= 0) {
        snprintf(why, n, "ncclGetUniqueId on rank 0: %s", ctrl->rank == 0 ? ncclGetErrorString(r) : "failed (see rank 0)");
        return -1;
    }
    comm_bcast(ctrl, &id, sizeof id, 0);
    (void)cuda_backend_stream(); // the backend's stream and context exist before NCCL binds the device
    r = ncclCommInitRank(&g_nccl, ctrl->size, id, ctrl->rank);
    if (r != ncclSuccess) {
        snprintf(why, n, "ncclCommInitRank (rank %d of %d, device %d): %s", ctrl->rank, ctrl->size, device_now(),
                 ncclGetErrorString(r));
        g_nccl = NULL;
        return -1;
    }
    g_ctrl = ctrl;
    out->ops = &comm_nccl_ops;
    out->use_mpi = 0;
    return 0;
}

#else // no NCCL in this build

int comm_nccl_available(void) { return 0; }

int comm_nccl_init(Comm *out, Comm *ctrl, char *why, size_t n) {
    (void)ctrl;
    memset(out, 0, sizeof *out);
    snprintf(why, n, "this build has no NCCL (built without CUDA, or nccl.h was not found at build time)");
    return -1;
}

#endif
