// cmd/devices — `lensweep devices`: the GPUs this process can use (what a job on a node will get).
// Exit 0 with one line per GPU, or 1 with why none is usable and a hint. Researchers run it on a
// compute node before submitting a sweep; tests run it to check the CPU-only path is clean.
#include <stdio.h>
#include <string.h>

#include "backend/cuda.h"
#include "cmd/cmd.h"
#include "util/util.h"

int cmd_devices(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: lensweep devices\nLists the CUDA GPUs this process can use (exit 0), or says why none is usable (exit 1).\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "lensweep: error: devices: unexpected argument '%s'\n  hint: lensweep devices takes no arguments\n", argv[1]);
        return LW_EXIT_INPUT;
    }
    CudaDevices d;
    int n = cuda_devices_query(&d);
    printf("build: CUDA %s, NCCL %s\n", d.built_with_cuda ? "yes" : "no", d.built_with_nccl ? "yes" : "no");
    if (d.built_with_cuda)
        printf("runtime: CUDA runtime %d.%d, driver %d.%d%s\n", d.runtime_version / 1000,
               (d.runtime_version % 1000) / 10, d.driver_version / 1000, (d.driver_version % 1000) / 10,
               d.driver_version == 0 ? " (no driver)" : "");
    if (d.nccl_version) printf("nccl: %d\n", d.nccl_version);
    if (n == 0) {
        fprintf(stderr, "lensweep: no usable GPU: %s\n  hint: the CPU backend (device: cpu) runs anywhere; "
                        "on a cluster, run this inside a job that requested GPUs (srun --gpus-per-task=1 lensweep devices)\n",
                d.why);
        return 1;
    }
    for (int i = 0; i < n; i++)
        printf("gpu %d: %s, compute capability %d.%d, %.1f GiB total, %.1f GiB free\n", i, d.dev[i].name,
               d.dev[i].cc_major, d.dev[i].cc_minor, d.dev[i].total_bytes / 1073741824.0,
               d.dev[i].free_bytes / 1073741824.0);
    return 0;
}
