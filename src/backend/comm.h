// comm — the one small collective interface every tensor-parallel step goes through.
//
// One Comm = one tensor-parallel group (today: MPI_COMM_WORLD). Like the Backend op table, the
// collectives are a table of function pointers (CommOps) with inline wrappers, so callers read
// comm_allreduce_sum_f64(c, ...) whatever implements it: MPI (comm_mpi.c, used on CPUs and as
// the control path: first failure, broadcasts of ids), the single local rank (comm.c), and NCCL
// (comm_nccl.c, CUDA issue; its buffers may be device memory). A process that was not started by
// mpirun/srun runs as a single rank without touching MPI at all, so unit tests and tools such as
// `lensweep tokenize` never need an MPI launcher.
//
// All collectives are blocking and must be called by every rank of the group in the same order.
// Sums over the vocabulary are merged in double (comm_allreduce_sum_f64) so statistics do not
// depend on the rank count beyond summation order (TENSOR_PARALLEL.md §5).
#ifndef LW_COMM_H
#define LW_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct Comm Comm;

typedef enum { COMM_F32, COMM_F64, COMM_I32, COMM_I64 } CommType;
typedef enum { COMM_SUM, COMM_MAX, COMM_MIN } CommOp;

// One implementation's collectives. Every function is blocking; buffers are host memory for MPI
// and the local rank. On failure an implementation stops the job with a message (lw_die).
typedef struct CommOps {
    const char *name; // "mpi", "local", "nccl"
    void (*finalize)(Comm *c);
    void (*barrier)(Comm *c);
    void (*allreduce)(Comm *c, void *buf, size_t n, CommType type, CommOp op); // in place
    void (*allgather)(Comm *c, const void *in, void *out, size_t bytes);
    void (*gatherv)(Comm *c, const void *in, size_t bytes, void *out, const size_t *counts, int root);
    void (*bcast)(Comm *c, void *buf, size_t bytes, int root);
} CommOps;

struct Comm {
    const CommOps *ops; // set by comm_init (NULL: the single local rank)
    int rank, size;
    int local_rank, local_size; // this rank among the ranks on its node (MPI_COMM_TYPE_SHARED):
                                // which GPU it binds (backend/cuda.h)
    int use_mpi;        // 1 when MPI_Init was called
    uint64_t bytes_sent; // payload bytes this rank contributed to collectives (for benchmarks)
};

extern const CommOps comm_local_ops; // one rank, no MPI: reductions are no-ops, gathers copy
extern const CommOps comm_mpi_ops;   // MPI_COMM_WORLD

// Initializes from the environment: MPI when launched by mpirun/srun (OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_RANK set), otherwise a single local rank. Installs an abort hook so that
// lw_die on any rank stops the whole job.
void comm_init(Comm *c, int *argc, char ***argv);
void comm_finalize(Comm *c);

// The table of c; a NULL or uninitialized Comm is the single local rank.
static inline const CommOps *comm_ops(const Comm *c) { return c && c->ops ? c->ops : &comm_local_ops; }

static inline void comm_barrier(Comm *c) { comm_ops(c)->barrier(c); }
static inline void comm_allreduce_sum_f32(Comm *c, float *b, size_t n) { comm_ops(c)->allreduce(c, b, n, COMM_F32, COMM_SUM); }
static inline void comm_allreduce_sum_f64(Comm *c, double *b, size_t n) { comm_ops(c)->allreduce(c, b, n, COMM_F64, COMM_SUM); }
static inline void comm_allreduce_max_f32(Comm *c, float *b, size_t n) { comm_ops(c)->allreduce(c, b, n, COMM_F32, COMM_MAX); }
static inline void comm_allreduce_max_f64(Comm *c, double *b, size_t n) { comm_ops(c)->allreduce(c, b, n, COMM_F64, COMM_MAX); }
static inline void comm_allreduce_min_i32(Comm *c, int32_t *b, size_t n) { comm_ops(c)->allreduce(c, b, n, COMM_I32, COMM_MIN); }
static inline void comm_allreduce_sum_i64(Comm *c, int64_t *b, size_t n) { comm_ops(c)->allreduce(c, b, n, COMM_I64, COMM_SUM); }
// Gathers `bytes` from every rank into out[rank*bytes ...] on every rank.
static inline void comm_allgather(Comm *c, const void *in, void *out, size_t bytes) { comm_ops(c)->allgather(c, in, out, bytes); }
// Gathers variable-sized blocks to root: counts[] (bytes per rank) known on every rank.
static inline void comm_gatherv(Comm *c, const void *in, size_t bytes, void *out, const size_t *counts, int root) {
    comm_ops(c)->gatherv(c, in, bytes, out, counts, root);
}
static inline void comm_bcast(Comm *c, void *buf, size_t bytes, int root) { comm_ops(c)->bcast(c, buf, bytes, root); }

// Agreement on failure: every rank passes its local status (0 = ok); returns the lowest failing
// rank or -1 when all are ok. Lets all ranks stop together with a message naming the rank.
int comm_first_failure(Comm *c, int local_status);

#endif
