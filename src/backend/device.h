// device — which backend and compute dtype a run really uses, decided from the `device` and
// `dtype` options before anything is loaded (issue 11 item 7, issue 16 item 1).
//
// `lensweep run` refuses (exit 2, nothing written) what cannot run instead of quietly running
// something else, and records the backend that ran; `lensweep plan` shows the same decision for
// each job. Today the CPU backend is the only complete one: it computes in fp32 (weights stored
// in bf16/fp16 are widened as they are used). The CUDA backend joins when LW_CUDA_BACKEND_COMPLETE
// is set in device.c; then `auto` picks it on a node with a usable GPU.
#ifndef LW_DEVICE_H
#define LW_DEVICE_H

#include <stddef.h>

#include "backend/backend.h"
#include "backend/comm.h"

typedef struct {
    const char *backend;       // "cpu" or "cuda": the backend that runs
    const char *compute_dtype; // "fp32" (the CPU backend), "bf16" or "fp16"
    char why[320];             // device auto: why this backend; refused: why the request cannot run
    char hint[256];            // refused: what to do instead
} DeviceChoice;

// Decides for device (auto|cpu|cuda) and dtype (auto|bf16|fp16|fp32). query_gpus = 1 asks the
// CUDA runtime whether a GPU is usable (`run`, on the node that computes); 0 decides from what
// this build can do only (`plan` on a login node, where the job's GPUs are not visible).
// Returns 0 with c->backend set, or -1 when the request cannot run here, with c->why and c->hint.
int device_choose(const char *device, const char *dtype, int query_gpus, DeviceChoice *c);

// The op table of c->backend (backend_set_default takes it before the model is loaded).
const Backend *device_backend(const DeviceChoice *c);

// CUDA backend: binds this rank to the GPU of its node-local rank (ctrl->local_rank) before the
// backend's init; *gpu = the device. Returns -1 with why when it cannot (fewer GPUs on the node
// than ranks, none usable); the caller agrees across ranks. The CPU backend: nothing, returns 0.
int device_bind(const DeviceChoice *c, const Comm *ctrl, int *gpu, char *why, size_t n);

// CUDA backend with more than one rank: creates dcomm, the NCCL communicator the forward pass's
// collectives use on device buffers (backend/comm_nccl.h; every rank calls it at the same point).
// Returns 1 when dcomm was made, 0 when none is needed (CPU backend, one rank), -1 with why.
int device_comm(const DeviceChoice *c, Comm *ctrl, Comm *dcomm, char *why, size_t n);

#endif
