// nccl_probe — the NCCL stand-in of the emulation (kernels/emu/nccl_emu.c) under mpirun -np R
// (tests/sh/test_nccl_emu.sh runs it at R = 2 and 3): the id from rank 0 broadcast over MPI as
// lensweep does, communicator size and rank, all-reduce (sum f32/f64, in place and not, max
// int32, avg), broadcast from a non-zero root, and the argument errors. Expected values are
// closed forms over the ranks (sums of small integers and halves: exact in any order). Every rank
// checks; rank 0 prints one PASS/FAIL line per case with the failures of all ranks merged.
// Buffers are cudaMalloc allocations, as NCCL needs device memory; under the emulation device
// memory is host memory, so the probe fills and reads them directly (this probe is emulation-only).
// A host buffer is refused (ncclInvalidArgument), and so is a range running past an allocation.
#include <mpi.h>
#include <nccl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, case_failed, nfail;

static void *dmalloc(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes) != cudaSuccess) { fprintf(stderr, "nccl_probe: cudaMalloc(%zu) failed\n", bytes); exit(1); }
    return p;
}

static void check(int ok, const char *fmt, ...) {
    if (ok) return;
    case_failed = 1;
    va_list ap;
    va_start(ap, fmt);
    printf("    rank %d: check failed: ", rank);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}
static void report(const char *name) {
    int any = 0;
    MPI_Allreduce(&case_failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) printf("%s: nccl_probe (np %d): %s\n", any ? "FAIL" : "PASS", size, name);
    fflush(stdout);
    nfail += any;
    case_failed = 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ncclUniqueId id;
    if (rank == 0) check(ncclGetUniqueId(&id) == ncclSuccess, "ncclGetUniqueId");
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);

    // argument errors come back before any communication (so no rank waits for another)
    ncclComm_t bad = NULL;
    ncclUniqueId zero;
    memset(&zero, 0, sizeof zero);
    check(ncclCommInitRank(&bad, size, id, size) == ncclInvalidArgument, "rank == nranks: ncclInvalidArgument");
    check(ncclCommInitRank(&bad, size, id, -1) == ncclInvalidArgument, "rank -1: ncclInvalidArgument");
    check(ncclCommInitRank(&bad, size, zero, rank) == ncclInvalidArgument, "an id not from ncclGetUniqueId");
    report("ncclCommInitRank argument errors");

    ncclComm_t comm = NULL;
    int n = -1, r = -1;
    check(ncclCommInitRank(&comm, size, id, rank) == ncclSuccess, "ncclCommInitRank");
    check(ncclCommCount(comm, &n) == ncclSuccess && n == size, "ncclCommCount %d, want %d", n, size);
    check(ncclCommUserRank(comm, &r) == ncclSuccess && r == rank, "ncclCommUserRank %d, want %d", r, rank);
    report("communicator from rank 0's id");

    enum { N = 1000 };
    float *fs = dmalloc(N * 4), *fr = dmalloc(N * 4);
    double *d = dmalloc(N * 8);
    for (int i = 0; i < N; i++) { fs[i] = (float)((rank + 1) * i) * 0.5f; d[i] = rank + i * 0.25; }
    check(ncclAllReduce(fs, fr, N, ncclFloat32, ncclSum, comm, NULL) == ncclSuccess, "allreduce f32");
    check(ncclAllReduce(d, d, N, ncclFloat64, ncclSum, comm, NULL) == ncclSuccess, "allreduce f64 in place");
    int bad_f = 0, bad_d = 0;
    double tri = size * (size + 1) / 2.0, rsum = size * (size - 1) / 2.0; // Σ(r+1), Σr
    for (int i = 0; i < N; i++) {
        bad_f += fr[i] != (float)(tri * i * 0.5);
        bad_d += d[i] != rsum + size * i * 0.25;
    }
    check(bad_f == 0, "f32 sum: %d of %d wrong (e.g. [3] = %g, want %g)", bad_f, N, fr[3], tri * 1.5);
    check(bad_d == 0, "f64 sum: %d of %d wrong (e.g. [3] = %g, want %g)", bad_d, N, d[3], rsum + size * 0.75);
    for (int i = 0; i < N; i++) fs[i] = (float)rank;
    check(ncclAllReduce(fs, fs, N, ncclFloat32, ncclAvg, comm, NULL) == ncclSuccess, "allreduce avg");
    check(fs[7] == (float)(rsum / size), "f32 avg %g, want %g", fs[7], rsum / size);
    report("ncclAllReduce sum / avg, f32 and f64, in place and not");

    int *iv = dmalloc(4 * sizeof(int)), *im = dmalloc(4 * sizeof(int));
    iv[0] = rank * 10; iv[1] = -rank; iv[2] = 7; iv[3] = rank == size - 1 ? 1000 : 0;
    check(ncclAllReduce(iv, im, 4, ncclInt32, ncclMax, comm, NULL) == ncclSuccess, "allreduce int32 max");
    check(im[0] == (size - 1) * 10 && im[1] == 0 && im[2] == 7 && im[3] == 1000, "int32 max: %d %d %d %d", im[0], im[1],
          im[2], im[3]);
    check(ncclAllReduce(iv, im, 4, ncclBfloat16, ncclSum, comm, NULL) == ncclInvalidArgument,
          "bf16 (not emulated): ncclInvalidArgument");
    check(ncclAllReduce(iv, im, 4, ncclInt32, ncclAvg, comm, NULL) == ncclInvalidArgument,
          "avg of int32: ncclInvalidArgument");
    report("ncclAllReduce max int32; unsupported types refused");

    int root = size - 1;
    double *b = dmalloc(5 * sizeof(double)), *src = dmalloc(5 * sizeof(double));
    double init[5] = {1.5, -2, 3e300, 0.1, rank};
    memset(b, 0, 5 * sizeof(double));
    memcpy(src, init, sizeof init);
    check(ncclBroadcast(src, b, 5, ncclFloat64, root, comm, NULL) == ncclSuccess, "broadcast");
    check(b[0] == 1.5 && b[1] == -2 && b[2] == 3e300 && b[3] == 0.1 && b[4] == root, "broadcast from %d: %g %g %g %g %g",
          root, b[0], b[1], b[2], b[3], b[4]);
    float *inplace = dmalloc(3 * sizeof(float));
    inplace[0] = (float)rank; inplace[1] = 2; inplace[2] = 3;
    check(ncclBroadcast(inplace, inplace, 3, ncclFloat32, 0, comm, NULL) == ncclSuccess && inplace[0] == 0,
          "in-place broadcast from 0: %g", inplace[0]);
    check(ncclBroadcast(b, b, 5, ncclFloat64, size, comm, NULL) == ncclInvalidArgument,
          "root == nranks: ncclInvalidArgument");
    report("ncclBroadcast from the last rank and in place");

    // host memory and ranges past an allocation are refused on every rank before communicating
    float host[4] = {1, 2, 3, 4};
    check(ncclAllReduce(host, host, 4, ncclFloat32, ncclSum, comm, NULL) == ncclInvalidArgument,
          "all-reduce of a host buffer: ncclInvalidArgument");
    check(ncclAllReduce(fs, fr, N + 1000, ncclFloat32, ncclSum, comm, NULL) == ncclInvalidArgument,
          "all-reduce past the end of an allocation: ncclInvalidArgument");
    check(ncclBroadcast(host, host, 4, ncclFloat32, 0, comm, NULL) == ncclInvalidArgument,
          "broadcast of a host buffer: ncclInvalidArgument");
    unsigned char *u8 = dmalloc(3);
    u8[0] = (unsigned char)(rank + 1); u8[1] = 200; u8[2] = 0;
    check(ncclBroadcast(u8, u8, 3, ncclUint8, 0, comm, NULL) == ncclSuccess && u8[0] == 1 && u8[1] == 200,
          "uint8 broadcast from 0: %d %d", u8[0], u8[1]);
    report("host buffers refused; uint8 broadcast");

    check(ncclCommDestroy(comm) == ncclSuccess, "ncclCommDestroy");
    report("ncclCommDestroy");
    void *all[] = {fs, fr, d, iv, im, b, src, inplace, u8};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) cudaFree(all[i]);
    MPI_Finalize();
    return nfail ? 1 : 0;
}
