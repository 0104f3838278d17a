// comm — the one small collective interface every tensor-parallel step goes through.
//
// One Comm = one tensor-parallel group (today: MPI_COMM_WORLD). Implementations: MPI (this file's
// comm.c, used on CPUs and for bootstrapping) and NCCL (CUDA issue). A process that was not
// started by mpirun/srun runs as a single rank without touching MPI at all, so unit tests and
// tools such as `lensweep tokenize` never need an MPI launcher.
//
// All collectives are blocking and must be called by every rank of the group in the same order.
// Sums over the vocabulary are merged in double (comm_allreduce_sum_f64) so statistics do not
// depend on the rank count beyond summation order (TENSOR_PARALLEL.md §5).
#ifndef LW_COMM_H
#define LW_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct Comm {
    int rank, size;
    int use_mpi;        // 1 when MPI_Init was called
    uint64_t bytes_sent; // payload bytes this rank contributed to collectives (for benchmarks)
} Comm;

// Initializes from the environment: MPI when launched by mpirun/srun (OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_RANK set), otherwise a single local rank. Installs an abort hook so that
// lw_die on any rank stops the whole job.
void comm_init(Comm *c, int *argc, char ***argv);
void comm_finalize(Comm *c);

void comm_barrier(Comm *c);
void comm_allreduce_sum_f32(Comm *c, float *buf, size_t n);
void comm_allreduce_sum_f64(Comm *c, double *buf, size_t n);
void comm_allreduce_max_f32(Comm *c, float *buf, size_t n);
void comm_allreduce_max_f64(Comm *c, double *buf, size_t n);
void comm_allreduce_min_i32(Comm *c, int32_t *buf, size_t n);
void comm_allreduce_sum_i64(Comm *c, int64_t *buf, size_t n);
// Gathers `bytes` from every rank into out[rank*bytes ...] on every rank.
void comm_allgather(Comm *c, const void *in, void *out, size_t bytes);
// Gathers variable-sized blocks to root: counts[] (bytes per rank) known on every rank.
void comm_gatherv(Comm *c, const void *in, size_t bytes, void *out, const size_t *counts, int root);
void comm_bcast(Comm *c, void *buf, size_t bytes, int root);

// Agreement on failure: every rank passes its local status (0 = ok); returns the lowest failing
// rank or -1 when all are ok. Lets all ranks stop together with a message naming the rank.
int comm_first_failure(Comm *c, int local_status);

#endif
