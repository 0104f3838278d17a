// nccl_emu.c — the NCCL stand-in of the emulation build, over MPI (see include/nccl.h for what is
// emulated and what is not).
#include "nccl.h"

#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// NCCL reads and writes device memory: a buffer outside the emulation's registry of cudaMalloc
// allocations (a host pointer) is refused, as lensweep must never hand NCCL host memory.
static int on_device(const void *p, size_t bytes) {
    return !bytes || (p && lw_emu_is_device_ptr(p) && lw_emu_is_device_ptr((const char *)p + bytes));
}

struct lw_emu_nccl_comm {
    MPI_Comm mpi;
    int nranks, rank;
};

static const char MAGIC[16] = "lw-emu-nccl-id1";

ncclResult_t lw_emu_ncclGetUniqueId(ncclUniqueId *id) {
    static unsigned counter;
    if (!id) return ncclInvalidArgument;
    memset(id, 0, sizeof *id);
    memcpy(id->internal, MAGIC, sizeof MAGIC);
    uint64_t parts[3] = {(uint64_t)getpid(), (uint64_t)time(NULL), (uint64_t)++counter};
    memcpy(id->internal + sizeof MAGIC, parts, sizeof parts);
    return ncclSuccess;
}

ncclResult_t lw_emu_ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    if (!comm || nranks < 1 || rank < 0 || rank >= nranks || memcmp(id.internal, MAGIC, sizeof MAGIC) != 0)
        return ncclInvalidArgument;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) return ncclInvalidUsage;
    // colour: a hash of the id (non-negative int), so processes with the same id form one group
    uint32_t h = 2166136261u;
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; i++) h = (h ^ (uint8_t)id.internal[i]) * 16777619u;
    MPI_Comm mc;
    if (MPI_Comm_split(MPI_COMM_WORLD, (int)(h & 0x7fffffff), rank, &mc) != MPI_SUCCESS) return ncclSystemError;
    int size = 0;
    MPI_Comm_size(mc, &size);
    if (size != nranks) {
        MPI_Comm_free(&mc);
        return ncclInvalidUsage;
    }
    struct lw_emu_nccl_comm *c = calloc(1, sizeof *c);
    if (!c) { MPI_Comm_free(&mc); return ncclSystemError; }
    c->mpi = mc;
    c->nranks = nranks;
    MPI_Comm_rank(mc, &c->rank);
    *comm = c;
    return ncclSuccess;
}

ncclResult_t lw_emu_ncclCommDestroy(ncclComm_t comm) {
    if (!comm) return ncclInvalidArgument;
    MPI_Comm_free(&comm->mpi);
    free(comm);
    return ncclSuccess;
}
ncclResult_t lw_emu_ncclCommCount(const ncclComm_t comm, int *count) {
    if (!comm || !count) return ncclInvalidArgument;
    *count = comm->nranks;
    return ncclSuccess;
}
ncclResult_t lw_emu_ncclCommUserRank(const ncclComm_t comm, int *rank) {
    if (!comm || !rank) return ncclInvalidArgument;
    *rank = comm->rank;
    return ncclSuccess;
}

static MPI_Datatype mpi_type(ncclDataType_t t, size_t *size) {
    switch (t) {
    case ncclInt8: *size = 1; return MPI_INT8_T;
    case ncclUint8: *size = 1; return MPI_UINT8_T;
    case ncclInt32: *size = 4; return MPI_INT32_T;
    case ncclUint32: *size = 4; return MPI_UINT32_T;
    case ncclInt64: *size = 8; return MPI_INT64_T;
    case ncclUint64: *size = 8; return MPI_UINT64_T;
    case ncclFloat32: *size = 4; return MPI_FLOAT;
    case ncclFloat64: *size = 8; return MPI_DOUBLE;
    default: return MPI_DATATYPE_NULL;
    }
}

ncclResult_t lw_emu_ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                  ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    (void)stream;
    size_t esz = 0;
    MPI_Datatype mt = mpi_type(datatype, &esz);
    int is_float = datatype == ncclFloat32 || datatype == ncclFloat64;
    MPI_Op mo = op == ncclSum || op == ncclAvg ? MPI_SUM : op == ncclProd ? MPI_PROD : op == ncclMax ? MPI_MAX
              : op == ncclMin ? MPI_MIN : MPI_OP_NULL;
    if (!comm || mt == MPI_DATATYPE_NULL || mo == MPI_OP_NULL || (op == ncclAvg && !is_float) ||
        (count && (!sendbuff || !recvbuff)) || count > (size_t)INT32_MAX || !on_device(sendbuff, count * esz) ||
        !on_device(recvbuff, count * esz))
        return ncclInvalidArgument;
    if (count == 0) return ncclSuccess;
    if (MPI_Allreduce(sendbuff == recvbuff ? MPI_IN_PLACE : sendbuff, recvbuff, (int)count, mt, mo, comm->mpi) !=
        MPI_SUCCESS)
        return ncclSystemError;
    if (op == ncclAvg) {
        if (datatype == ncclFloat32)
            for (size_t i = 0; i < count; i++) ((float *)recvbuff)[i] /= (float)comm->nranks;
        else
            for (size_t i = 0; i < count; i++) ((double *)recvbuff)[i] /= (double)comm->nranks;
    }
    return ncclSuccess;
}

ncclResult_t lw_emu_ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                  int root, ncclComm_t comm, cudaStream_t stream) {
    (void)stream;
    size_t esz = 0;
    MPI_Datatype mt = mpi_type(datatype, &esz);
    if (!comm || mt == MPI_DATATYPE_NULL || root < 0 || root >= comm->nranks || (count && !recvbuff) ||
        (count && comm->rank == root && !sendbuff) || count > (size_t)INT32_MAX || !on_device(recvbuff, count * esz) ||
        (comm->rank == root && !on_device(sendbuff, count * esz)))
        return ncclInvalidArgument;
    if (count == 0) return ncclSuccess;
    if (comm->rank == root && sendbuff != recvbuff) memmove(recvbuff, sendbuff, count * esz);
    return MPI_Bcast(recvbuff, (int)count, mt, root, comm->mpi) == MPI_SUCCESS ? ncclSuccess : ncclSystemError;
}

ncclResult_t lw_emu_ncclGroupStart(void) { return ncclSuccess; }
ncclResult_t lw_emu_ncclGroupEnd(void) { return ncclSuccess; }

const char *lw_emu_ncclGetErrorString(ncclResult_t r) {
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    default: return "unknown result code";
    }
}
