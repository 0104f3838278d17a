// comm — the implementation-independent part of comm.h: the single local rank's table (no MPI)
// and the first-failure agreement built on any table's all-reduce.
#include "backend/comm.h"

#include <stdint.h>
#include <string.h>

// One rank holds everything: reductions leave the buffer as it is, gathers copy in to out.
static void local_finalize(Comm *c) {}
static void local_barrier(Comm *c) {}
static void local_allreduce(Comm *c, void *buf, size_t n, CommType type, CommOp op) {}
static void local_allgather(Comm *c, const void *in, void *out, size_t bytes) { memmove(out, in, bytes); }
static void local_gatherv(Comm *c, const void *in, size_t bytes, void *out, const size_t *counts, int root) {
    memmove(out, in, bytes);
}
static void local_bcast(Comm *c, void *buf, size_t bytes, int root) {}

const CommOps comm_local_ops = {
    .name = "local",
    .finalize = local_finalize,
    .barrier = local_barrier,
    .allreduce = local_allreduce,
    .allgather = local_allgather,
    .gatherv = local_gatherv,
    .bcast = local_bcast,
};

int comm_first_failure(Comm *c, int local_status) {
    int32_t v = local_status ? (c ? c->rank : 0) : INT32_MAX;
    comm_allreduce_min_i32(c, &v, 1);
    return v == INT32_MAX ? -1 : v;
}
