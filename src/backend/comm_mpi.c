// comm_mpi — the MPI implementation of comm.h's table (MPI_COMM_WORLD), and comm_init, which
// chooses it when the process was launched by mpirun/srun and the local rank's table otherwise.
// An MPI job of one rank answers every collective here without calling MPI.
#include "backend/comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static Comm *g_comm = NULL;

static void mpi_abort_hook(int code) {
    if (g_comm && g_comm->use_mpi && g_comm->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

#define MPI_CHECK(call)                                                                          \
    do {                                                                                         \
        int rc_ = (call);                                                                        \
        if (rc_ != MPI_SUCCESS) {                                                                \
            char s_[MPI_MAX_ERROR_STRING]; int n_ = 0;                                           \
            MPI_Error_string(rc_, s_, &n_);                                                      \
            lw_die(LW_EXIT_RUNTIME, "another rank probably died; see its message above",        \
                   "MPI call failed at %s:%d: %s: %s", __FILE__, __LINE__, #call, s_);           \
        }                                                                                        \
    } while (0)

static int launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

void comm_init(Comm *c, int *argc, char ***argv) {
    memset(c, 0, sizeof *c);
    c->size = 1;
    if (launched_by_mpi()) {
        MPI_CHECK(MPI_Init(argc, argv));
        c->use_mpi = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c->size);
        MPI_Comm node;
        MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node));
        MPI_Comm_rank(node, &c->local_rank);
        MPI_Comm_size(node, &c->local_size);
        MPI_Comm_free(&node);
    } else {
        c->local_size = 1;
    }
    c->ops = c->use_mpi ? &comm_mpi_ops : &comm_local_ops;
    g_comm = c;
    lw_set_rank(c->rank, c->size);
    lw_set_abort_hook(mpi_abort_hook);
}

void comm_finalize(Comm *c) {
    comm_ops(c)->finalize(c);
    c->use_mpi = 0;
    c->ops = &comm_local_ops;
    if (g_comm == c) g_comm = NULL;
}

static void mpi_finalize(Comm *c) {
    if (c->use_mpi) MPI_Finalize();
}

static void mpi_barrier(Comm *c) {
    if (c->use_mpi && c->size > 1) MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}

// MPI counts are int: split big buffers.
#define CHUNK ((size_t)1 << 28)

static void mpi_allreduce(Comm *c, void *buf, size_t n, CommType type, CommOp cop) {
    if (!c || !c->use_mpi || c->size == 1 || n == 0) return;
    MPI_Datatype t = type == COMM_F32 ? MPI_FLOAT : type == COMM_F64 ? MPI_DOUBLE : type == COMM_I32 ? MPI_INT32_T : MPI_INT64_T;
    size_t esz = type == COMM_F32 || type == COMM_I32 ? 4 : 8;
    MPI_Op op = cop == COMM_SUM ? MPI_SUM : cop == COMM_MAX ? MPI_MAX : MPI_MIN;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * esz, (int)m, t, op, MPI_COMM_WORLD));
    }
    c->bytes_sent += n * esz;
}

static void mpi_allgather(Comm *c, const void *in, void *out, size_t bytes) {
    if (!c || !c->use_mpi || c->size == 1) { memmove(out, in, bytes); return; }
    LW_ASSERT(bytes <= INT_MAX);
    MPI_CHECK(MPI_Allgather(in, (int)bytes, MPI_BYTE, out, (int)bytes, MPI_BYTE, MPI_COMM_WORLD));
    c->bytes_sent += bytes;
}

static void mpi_gatherv(Comm *c, const void *in, size_t bytes, void *out, const size_t *counts, int root) {
    if (!c || !c->use_mpi || c->size == 1) { memmove(out, in, bytes); return; }
    int *rc = xmalloc(sizeof(int) * c->size), *displ = xmalloc(sizeof(int) * c->size);
    size_t off = 0;
    for (int r = 0; r < c->size; r++) {
        LW_ASSERT(counts[r] <= INT_MAX && off <= INT_MAX);
        rc[r] = (int)counts[r];
        displ[r] = (int)off;
        off += counts[r];
    }
    MPI_CHECK(MPI_Gatherv(in, (int)bytes, MPI_BYTE, out, rc, displ, MPI_BYTE, root, MPI_COMM_WORLD));
    c->bytes_sent += bytes;
    free(rc);
    free(displ);
}

static void mpi_bcast(Comm *c, void *buf, size_t bytes, int root) {
    if (!c || !c->use_mpi || c->size == 1) return;
    for (size_t off = 0; off < bytes; off += CHUNK) {
        size_t m = bytes - off < CHUNK ? bytes - off : CHUNK;
        MPI_CHECK(MPI_Bcast((char *)buf + off, (int)m, MPI_BYTE, root, MPI_COMM_WORLD));
    }
    c->bytes_sent += bytes;
}

const CommOps comm_mpi_ops = {
    .name = "mpi",
    .finalize = mpi_finalize,
    .barrier = mpi_barrier,
    .allreduce = mpi_allreduce,
    .allgather = mpi_allgather,
    .gatherv = mpi_gatherv,
    .bcast = mpi_bcast,
};
