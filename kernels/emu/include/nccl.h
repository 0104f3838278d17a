// nccl.h (emulation) — an NCCL stand-in over MPI for the CPU emulation build (LW_CUDA_EMU; see
// kernels/emu/cuda_emu.h): the calls lensweep makes, with the types and values of NCCL 2.28's
// nccl.h, on host memory (the emulation's device memory). Names are mapped to lw_emu_*.
//
// Emulated:
//   - ncclGetUniqueId: 128 bytes, a magic tag plus pid, time and a counter (an id not made here
//     is refused by ncclCommInitRank with ncclInvalidArgument).
//   - ncclCommInitRank(comm, nranks, id, rank): rank outside [0, nranks) or nranks < 1:
//     ncclInvalidArgument, checked before any communication. Otherwise a communicator over MPI
//     (MPI_Comm_split of MPI_COMM_WORLD by the id, ordered by rank), so — unlike NCCL, which
//     rendezvous over the network — EVERY process of MPI_COMM_WORLD must call it at the same
//     time (that is how lensweep uses it: one NCCL communicator per MPI job). A group whose size
//     differs from nranks: ncclInvalidUsage. MPI must be initialised (else ncclInvalidUsage).
//   - ncclAllReduce (sum, prod, max, min; avg for float types = sum / nranks) and ncclBroadcast
//     on int8, uint8, int32, uint32, int64, uint64, float32, float64 (other types:
//     ncclInvalidArgument), on device memory only: a buffer that is not inside a cudaMalloc
//     allocation of the emulation (a host pointer) is ncclInvalidArgument (NCCL itself would fault
//     or read garbage; the stand-in makes passing host memory a test failure), in
//     place when send == recv; MPI_Allreduce / MPI_Bcast, synchronous (the stream is ignored).
//     MPI's reduction order is not NCCL's ring order: float sums of more than two ranks may
//     round differently (the exact mode all-reduces double partials, where that is below fp32).
//   - ncclCommCount, ncclCommUserRank, ncclCommDestroy, ncclGetErrorString, ncclGroupStart/End
//     (no-ops: every call completes at once).
// Not emulated: fp16/bf16 reductions, ncclReduce/AllGather/ReduceScatter/Send/Recv,
// non-blocking communicators, ncclCommAbort, errors of a peer (an MPI error aborts the job).
#ifndef LW_EMU_NCCL_H
#define LW_EMU_NCCL_H

#include <stddef.h>

#include "cuda_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;
typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
} ncclResult_t;
typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;
typedef enum {
    ncclInt8 = 0, ncclUint8 = 1, ncclInt32 = 2, ncclUint32 = 3, ncclInt64 = 4, ncclUint64 = 5,
    ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8, ncclBfloat16 = 9,
    ncclInt = ncclInt32, ncclFloat = ncclFloat32, ncclDouble = ncclFloat64,
} ncclDataType_t;
typedef struct lw_emu_nccl_comm *ncclComm_t;

#define ncclGetUniqueId lw_emu_ncclGetUniqueId
#define ncclCommInitRank lw_emu_ncclCommInitRank
#define ncclCommDestroy lw_emu_ncclCommDestroy
#define ncclCommCount lw_emu_ncclCommCount
#define ncclCommUserRank lw_emu_ncclCommUserRank
#define ncclAllReduce lw_emu_ncclAllReduce
#define ncclBroadcast lw_emu_ncclBroadcast
#define ncclGroupStart lw_emu_ncclGroupStart
#define ncclGroupEnd lw_emu_ncclGroupEnd
#define ncclGetErrorString lw_emu_ncclGetErrorString

ncclResult_t lw_emu_ncclGetUniqueId(ncclUniqueId *id);
ncclResult_t lw_emu_ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t lw_emu_ncclCommDestroy(ncclComm_t comm);
ncclResult_t lw_emu_ncclCommCount(const ncclComm_t comm, int *count);
ncclResult_t lw_emu_ncclCommUserRank(const ncclComm_t comm, int *rank);
ncclResult_t lw_emu_ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                  ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
ncclResult_t lw_emu_ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                  int root, ncclComm_t comm, cudaStream_t stream);
ncclResult_t lw_emu_ncclGroupStart(void);
ncclResult_t lw_emu_ncclGroupEnd(void);
const char *lw_emu_ncclGetErrorString(ncclResult_t result);

#ifdef __cplusplus
}
#endif

#endif
