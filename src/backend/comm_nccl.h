// comm_nccl — the collectives of the forward pass on the CUDA backend's device buffers, through
// NCCL (issue 12 item 5; comm.h's table with name "nccl").
//
// One NCCL communicator per tensor-parallel group (today: the MPI job). Rank 0 creates the unique
// id and broadcasts it over the MPI control communicator; every rank then joins with
// ncclCommInitRank. Each collective is enqueued on the CUDA backend's stream (after the kernels
// that wrote its buffer) and completes before it returns, like comm.h's other tables. The exact
// mode's row-parallel partials are all-reduced in double (ncclFloat64), as on the CPU, and rounded
// to fp32 once afterwards, so the result does not depend on how the ranks split the sum beyond
// the double rounding (TENSOR_PARALLEL.md §5).
//
// Buffers must be device memory (the forward pass's scratch and residual copies; the NCCL
// stand-in of the emulation refuses host pointers). The lens's statistics on host memory stay on
// the MPI communicator.
//
// Built in the CUDA builds with NCCL (LENSWEEP_CUDA + LENSWEEP_NCCL) and against the emulation
// (LW_CUDA_EMU: kernels/emu/nccl_emu.c over MPI); elsewhere comm_nccl_init says why it cannot.
#ifndef LW_COMM_NCCL_H
#define LW_COMM_NCCL_H

#include <stddef.h>

#include "backend/comm.h"

// 1 when this build has NCCL (the real library or the emulation's stand-in).
int comm_nccl_available(void);

// Creates out, an NCCL communicator over the same ranks as ctrl (an MPI Comm; every rank calls
// this at the same point). Returns 0, or -1 with why set (this rank's NCCL error and a hint); the
// caller agrees on failure across ranks (comm_first_failure) before stopping.
int comm_nccl_init(Comm *out, Comm *ctrl, char *why, size_t n);

#endif
