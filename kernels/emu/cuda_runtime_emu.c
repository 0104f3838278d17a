// cuda_runtime_emu.c — the emulated runtime calls (see include/cuda_runtime.h): device memory is
// host memory and launches are synchronous, so the only pending error is a refused launch.
//
// Device allocations are registered: each lives in its own mapping between two PROT_NONE guard
// pages, its start 256-byte aligned (as cudaMalloc's) and its end within 255 bytes of the
// guard after it (exactly at it when the size is a multiple of 256). A kernel that reads or
// writes past either end faults in a guard page, and the SIGSEGV handler names the kernel, the
// allocation and the offset; a fault elsewhere during a kernel (a host pointer that slipped
// through, freed memory) is reported with the kernel's name too. Copies and memsets must stay
// inside one allocation on their device side (else cudaErrorInvalidValue), and cudaFree of a
// pointer that cudaMalloc did not return is cudaErrorInvalidValue, as on a GPU.
#define _GNU_SOURCE
#include "cuda_runtime.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static cudaError_t last_error = cudaSuccess;

// Kernels whose dynamic shared memory limit was raised (a handful per program).
#define MAX_FUNCS 256
static struct { const void *func; size_t bytes; } func_attr[MAX_FUNCS];
static int n_func_attr;

// ---------------------------------------------------------------------------- allocations

typedef struct {
    char *base;   // what cudaMalloc returned
    size_t bytes; // what was asked for
    char *map;    // the mapping: guard page, data pages, guard page
    size_t map_len;
} Alloc;
static Alloc *allocs;
static size_t n_allocs, cap_allocs;
static size_t page;
static const char *volatile current_kernel; // set by the emulated launch while a kernel runs

void lw_emu_set_current_kernel(const char *name) { current_kernel = name; }

static void say(const char *msg) {
    ssize_t r = write(2, msg, strlen(msg));
    (void)r;
}

static void on_segv(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    char *a = si->si_addr, msg[512];
    const char *k = current_kernel;
    for (size_t i = 0; i < n_allocs; i++) {
        Alloc *al = &allocs[i];
        char *back = al->map + al->map_len - page;
        if (a >= al->map && a < al->map + page) {
            snprintf(msg, sizeof msg, "cuda emulation: %s%s: invalid access at %p, %zu bytes before the start of a "
                     "%zu-byte cudaMalloc allocation at %p (out of bounds)\n", k ? "kernel " : "host code",
                     k ? k : "", (void *)a, (size_t)(al->base - a), al->bytes, (void *)al->base);
            say(msg);
            _exit(1);
        }
        if (a >= back && a < back + page) {
            snprintf(msg, sizeof msg, "cuda emulation: %s%s: invalid access at %p, %zu bytes past the end of a "
                     "%zu-byte cudaMalloc allocation at %p (out of bounds)\n", k ? "kernel " : "host code",
                     k ? k : "", (void *)a, (size_t)(a - (al->base + al->bytes)), al->bytes, (void *)al->base);
            say(msg);
            _exit(1);
        }
    }
    if (k) {
        snprintf(msg, sizeof msg, "cuda emulation: kernel %s: invalid memory access at %p (not device memory: a host "
                 "pointer, freed memory, or far out of bounds)\n", k, (void *)a);
        say(msg);
        _exit(1);
    }
    signal(sig, SIG_DFL); // a crash of the host code: the default action, on return
}

static void install_handler(void) {
    static int done;
    if (done) return;
    done = 1;
    page = (size_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

// The allocation containing [p, p + bytes) (p + bytes may be its end), or NULL. Caller holds mu.
static Alloc *find(const void *p, size_t bytes) {
    const char *c = p;
    for (size_t i = 0; i < n_allocs; i++)
        if (c >= allocs[i].base && c <= allocs[i].base + allocs[i].bytes &&
            bytes <= (size_t)(allocs[i].base + allocs[i].bytes - c))
            return &allocs[i];
    return NULL;
}

int lw_emu_is_device_ptr(const void *p) {
    pthread_mutex_lock(&mu);
    int r = find(p, 0) != NULL;
    pthread_mutex_unlock(&mu);
    return r;
}

cudaError_t lw_emu_cudaMalloc(void **p, size_t bytes) {
    if (!p) return cudaErrorInvalidValue;
    pthread_mutex_lock(&mu);
    install_handler();
    size_t b = bytes ? bytes : 1, rounded = (b + 255) & ~(size_t)255, data = (rounded + page - 1) / page * page;
    size_t len = data + 2 * page;
    char *map = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cudaError_t rc = cudaSuccess;
    if (map == MAP_FAILED || mprotect(map + page, data, PROT_READ | PROT_WRITE) != 0) rc = cudaErrorMemoryAllocation;
    if (rc == cudaSuccess && n_allocs == cap_allocs) {
        size_t nc = cap_allocs ? 2 * cap_allocs : 64;
        Alloc *na = realloc(allocs, nc * sizeof *na);
        if (na) { allocs = na; cap_allocs = nc; } else rc = cudaErrorMemoryAllocation;
    }
    if (rc != cudaSuccess) {
        if (map != MAP_FAILED) munmap(map, len);
        pthread_mutex_unlock(&mu);
        *p = NULL;
        return rc;
    }
    Alloc *a = &allocs[n_allocs++];
    a->map = map;
    a->map_len = len;
    a->bytes = bytes;
    a->base = map + page + data - rounded;
    *p = a->base;
    pthread_mutex_unlock(&mu);
    return cudaSuccess;
}

cudaError_t lw_emu_cudaFree(void *p) {
    if (!p) return cudaSuccess;
    pthread_mutex_lock(&mu);
    size_t i = 0;
    while (i < n_allocs && allocs[i].base != p) i++;
    if (i == n_allocs) {
        pthread_mutex_unlock(&mu);
        return cudaErrorInvalidValue;
    }
    munmap(allocs[i].map, allocs[i].map_len);
    allocs[i] = allocs[--n_allocs];
    pthread_mutex_unlock(&mu);
    return cudaSuccess;
}

static int device_range(const void *p, size_t bytes) {
    pthread_mutex_lock(&mu);
    int r = find(p, bytes) != NULL;
    pthread_mutex_unlock(&mu);
    return r;
}

cudaError_t lw_emu_cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    if (!dst || !src) return cudaErrorInvalidValue;
    int dst_dev = device_range(dst, bytes), src_dev = device_range(src, bytes);
    int ok;
    switch (kind) {
    case cudaMemcpyHostToHost: ok = 1; break;
    case cudaMemcpyHostToDevice: ok = dst_dev; break;
    case cudaMemcpyDeviceToHost: ok = src_dev; break;
    case cudaMemcpyDeviceToDevice: ok = dst_dev && src_dev; break;
    case cudaMemcpyDefault: ok = 1; break; // unified addressing: any mix (ranges inside, if device)
    default: ok = 0; break;
    }
    if (!ok) return cudaErrorInvalidValue;
    memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t lw_emu_cudaMemset(void *p, int value, size_t bytes) {
    if (bytes == 0) return cudaSuccess;
    if (!device_range(p, bytes)) return cudaErrorInvalidValue;
    memset(p, value, bytes);
    return cudaSuccess;
}

void lw_emu_set_last_error(cudaError_t e) {
    pthread_mutex_lock(&mu);
    last_error = e;
    pthread_mutex_unlock(&mu);
}
cudaError_t lw_emu_cudaGetLastError(void) {
    pthread_mutex_lock(&mu);
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    pthread_mutex_unlock(&mu);
    return e;
}
cudaError_t lw_emu_cudaPeekAtLastError(void) {
    pthread_mutex_lock(&mu);
    cudaError_t e = last_error;
    pthread_mutex_unlock(&mu);
    return e;
}
cudaError_t lw_emu_cudaDeviceSynchronize(void) { return cudaSuccess; }

// The real runtime's strings for the codes the emulation returns.
const char *lw_emu_cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    default: return "unknown error";
    }
}
const char *lw_emu_cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    default: return "cudaErrorUnknown";
    }
}

cudaError_t lw_emu_cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr, int value) {
    if (!func || attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
        value > LW_EMU_SHARED_PER_BLOCK_OPTIN)
        return cudaErrorInvalidValue;
    cudaError_t rc = cudaSuccess;
    pthread_mutex_lock(&mu);
    int i = 0;
    while (i < n_func_attr && func_attr[i].func != func) i++;
    if (i == n_func_attr) {
        if (n_func_attr == MAX_FUNCS) rc = cudaErrorMemoryAllocation;
        else n_func_attr++;
    }
    if (rc == cudaSuccess) { func_attr[i].func = func; func_attr[i].bytes = (size_t)value; }
    pthread_mutex_unlock(&mu);
    return rc;
}

size_t lw_emu_func_max_dynamic_shared(const void *func) {
    size_t bytes = LW_EMU_SHARED_PER_BLOCK;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_func_attr; i++)
        if (func_attr[i].func == func) bytes = func_attr[i].bytes;
    pthread_mutex_unlock(&mu);
    return bytes;
}

// ---------------------------------------------------------------------------- streams, events, host memory

#define STREAM_MAGIC 0x5354524du // "STRM"
#define EVENT_MAGIC 0x45564e54u  // "EVNT"
struct lw_emu_stream { unsigned magic; };
struct lw_emu_event { unsigned magic, flags; int recorded; struct timespec t; };

static int stream_ok(cudaStream_t s) { return !s || ((struct lw_emu_stream *)s)->magic == STREAM_MAGIC; }
static int event_ok(cudaEvent_t e) { return e && e->magic == EVENT_MAGIC; }

cudaError_t lw_emu_cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                                   cudaStream_t stream) {
    return stream_ok(stream) ? lw_emu_cudaMemcpy(dst, src, bytes, kind) : cudaErrorInvalidResourceHandle;
}
cudaError_t lw_emu_cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream) {
    return stream_ok(stream) ? lw_emu_cudaMemset(p, value, bytes) : cudaErrorInvalidResourceHandle;
}
cudaError_t lw_emu_cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    (void)flags;
    if (!s) return cudaErrorInvalidValue;
    struct lw_emu_stream *st = malloc(sizeof *st);
    if (!st) return cudaErrorMemoryAllocation;
    st->magic = STREAM_MAGIC;
    *s = st;
    return cudaSuccess;
}
cudaError_t lw_emu_cudaStreamCreate(cudaStream_t *s) { return lw_emu_cudaStreamCreateWithFlags(s, 0); }
cudaError_t lw_emu_cudaStreamDestroy(cudaStream_t s) {
    if (!s || !stream_ok(s)) return cudaErrorInvalidResourceHandle;
    ((struct lw_emu_stream *)s)->magic = 0;
    free(s);
    return cudaSuccess;
}
cudaError_t lw_emu_cudaStreamSynchronize(cudaStream_t s) { return stream_ok(s) ? cudaSuccess : cudaErrorInvalidResourceHandle; }
cudaError_t lw_emu_cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
    (void)flags;
    return stream_ok(s) && event_ok(e) ? cudaSuccess : cudaErrorInvalidResourceHandle;
}
cudaError_t lw_emu_cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    if (!e) return cudaErrorInvalidValue;
    struct lw_emu_event *ev = calloc(1, sizeof *ev);
    if (!ev) return cudaErrorMemoryAllocation;
    ev->magic = EVENT_MAGIC;
    ev->flags = flags;
    *e = ev;
    return cudaSuccess;
}
cudaError_t lw_emu_cudaEventCreate(cudaEvent_t *e) { return lw_emu_cudaEventCreateWithFlags(e, cudaEventDefault); }
cudaError_t lw_emu_cudaEventDestroy(cudaEvent_t e) {
    if (!event_ok(e)) return cudaErrorInvalidResourceHandle;
    e->magic = 0;
    free(e);
    return cudaSuccess;
}
cudaError_t lw_emu_cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (!event_ok(e) || !stream_ok(s)) return cudaErrorInvalidResourceHandle;
    clock_gettime(CLOCK_MONOTONIC, &e->t); // everything before it on any stream is done
    e->recorded = 1;
    return cudaSuccess;
}
cudaError_t lw_emu_cudaEventSynchronize(cudaEvent_t e) { return event_ok(e) ? cudaSuccess : cudaErrorInvalidResourceHandle; }
cudaError_t lw_emu_cudaEventQuery(cudaEvent_t e) { return event_ok(e) ? cudaSuccess : cudaErrorInvalidResourceHandle; }
cudaError_t lw_emu_cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (!ms) return cudaErrorInvalidValue;
    if (!event_ok(start) || !event_ok(end) || !start->recorded || !end->recorded ||
        (start->flags & cudaEventDisableTiming) || (end->flags & cudaEventDisableTiming))
        return cudaErrorInvalidResourceHandle;
    *ms = (float)((end->t.tv_sec - start->t.tv_sec) * 1e3 + (end->t.tv_nsec - start->t.tv_nsec) * 1e-6);
    return cudaSuccess;
}

cudaError_t lw_emu_cudaHostAlloc(void **p, size_t bytes, unsigned flags) {
    (void)flags;
    if (!p) return cudaErrorInvalidValue;
    *p = malloc(bytes ? bytes : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t lw_emu_cudaMallocHost(void **p, size_t bytes) { return lw_emu_cudaHostAlloc(p, bytes, 0); }
cudaError_t lw_emu_cudaFreeHost(void *p) { free(p); return cudaSuccess; }

// The emulated node has LW_EMU_DEVICES GPUs (default 8, as a cluster node; 1..64), so that the
// ranks of an mpirun on one machine each bind their node-local GPU as on a real node, and a test
// can make a node with fewer GPUs than ranks (LW_EMU_DEVICES=1). They all share host memory.
static int emu_device_count(void) {
    const char *e = getenv("LW_EMU_DEVICES");
    int n = e && *e ? atoi(e) : 8;
    return n < 0 ? 0 : n > 64 ? 64 : n;
}
static int current_dev;

cudaError_t lw_emu_cudaGetDeviceCount(int *n) {
    if (!n) return cudaErrorInvalidValue;
    *n = emu_device_count();
    return *n ? cudaSuccess : cudaErrorNoDevice;
}
cudaError_t lw_emu_cudaSetDevice(int dev) {
    if (dev < 0 || dev >= emu_device_count()) return cudaErrorInvalidDevice;
    current_dev = dev;
    return cudaSuccess;
}
cudaError_t lw_emu_cudaGetDevice(int *dev) {
    if (!dev) return cudaErrorInvalidValue;
    *dev = current_dev;
    return cudaSuccess;
}
cudaError_t lw_emu_cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    if (!free_bytes || !total_bytes) return cudaErrorInvalidValue;
    size_t total = (size_t)80 << 30, used = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_allocs; i++) used += allocs[i].map_len;
    pthread_mutex_unlock(&mu);
    *total_bytes = total;
    *free_bytes = used < total ? total - used : 0;
    return cudaSuccess;
}
