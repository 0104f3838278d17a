// cuda_emu.h — a CPU emulation of the slice of CUDA C++ that kernels/*.cu use, so the real kernel
// sources compile with g++ and run in CI without a GPU (DESIGN.md tests table: "CUDA = CPU ... in
// CI through a CPU emulation of the CUDA runtime (real kernel sources ...)").
//
// EMULATED (semantics kept, because they are where kernel bugs live):
//   - Launch geometry: 3-D grids and blocks; threadIdx / blockIdx (x, y, z) per thread, blockDim /
//     gridDim per launch. The threads of a block run concurrently as real OS threads, so
//     __syncthreads() is a real barrier (a missing one is a real race) and __shared__ memory is
//     one copy shared by the block's threads. Blocks run one after another in x, y, z order (CUDA
//     promises no order between blocks; this is one valid schedule).
//   - Launch limits of an H100 (include/cuda_runtime.h): more than 1024 threads per block, a block
//     dimension over 1024 / 1024 / 64, a grid over 2^31-1 / 65535 / 65535, or any dimension 0 is
//     refused with cudaErrorInvalidConfiguration; dynamic shared memory over 48 KiB without
//     cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, n), or over n,
//     with cudaErrorInvalidValue. A refused launch runs nothing and its error is returned (and
//     reset) by cudaGetLastError, as on a GPU.
//   - Dynamic shared memory: LW_LAUNCH_SHM's `shmem` bytes (the third <<<>>> parameter), declared in
//     a kernel with LW_DYN_SHARED(type, name) (kernels/launch.cuh), which is
//     `extern __shared__ type name[]` under nvcc. One buffer per block, 256-byte aligned, filled
//     with 0xff bytes at the start of each block (NaN as floats: a read before a write shows).
//   - Warps: 32 consecutive linear thread ids (x fastest, then y, z). __shfl_sync, __shfl_up_sync,
//     __shfl_down_sync, __shfl_xor_sync (width 1..32, power of two), __all_sync, __any_sync,
//     __ballot_sync, __syncwarp: every existing lane of the warp must take part and name itself
//     in the mask (the emulation supports full-warp masks only and stops with a message
//     otherwise). A shuffle whose source lane lies outside the width segment returns the
//     caller's own value (CUDA's rule); one whose source lane does not exist (a partial last
//     warp) returns a poison value (NaN / all bits set), where a GPU returns garbage.
//   - Atomics (std::atomic_ref, sequentially consistent): atomicAdd on int, unsigned, unsigned long
//     long, float, double; atomicMax / atomicMin on int, unsigned, long long, unsigned long long;
//     atomicExch and atomicCAS on int, unsigned, unsigned long long. Exactly CUDA 13's overloads
//     (it has no atomicMax on float or double; a float maximum is an atomicCAS loop, as on a GPU),
//     so what compiles here compiles with nvcc.
//   - __nv_bfloat16 / __half (include/cuda_bf16.h, cuda_fp16.h): conversions from float round to
//     nearest even (overflow to inf, half subnormals), NaN becomes the canonical 0x7fff, as
//     CUDA's __float2bfloat16 / __float2half; widening to float is exact.
//   - Divergence around barriers is an error, never a hang: every __syncthreads() phase must be
//     reached by all threads of the block at the same call site (file:line); a thread that ends
//     the kernel while others wait at a __syncthreads, or threads at different call sites, or a
//     lane that leaves a warp while others wait in a shuffle, stop the program at once with a
//     message naming the kernel, the block, the threads and the call sites. A barrier that waits
//     longer than LW_EMU_TIMEOUT_S seconds (default 60) — a thread stuck elsewhere — stops the
//     program the same way. Those stops print "cuda emulation: ..." on stderr and _exit(1).
//   - Device memory: host memory, but every cudaMalloc allocation is registered and sits between
//     guard pages (kernels/emu/cuda_runtime_emu.c). A pointer argument of a launch that is
//     neither NULL nor inside a live allocation (a host pointer, freed memory) stops the program
//     naming the kernel and the argument; an access past either end of an allocation faults in a
//     guard page and is reported with the kernel, the allocation and the offset; copies, memsets
//     and cudaFree outside the registry return cudaErrorInvalidValue.
// NOT EMULATED:
//   - Streams and events as concurrency: every launch, copy and event completes before its call
//     returns, which is one valid, fully ordered schedule (include/cuda_runtime.h); a missing
//     stream synchronisation is not caught here. No asynchronous, sticky errors: a kernel fault stops the program with a message
//     (above) instead of surfacing as cudaErrorIllegalAddress at the next synchronisation.
//   - Memory spaces: only what the registry above checks; pointers computed inside a kernel or
//     held in structs are not checked, and an overrun within the up to 255 bytes of alignment
//     slack after an allocation whose size is not a multiple of 256 goes unnoticed
//     (compute-sanitizer on a GPU catches those).
//   - Static __shared__ sizes are not counted against the 48 KiB limit here: nvcc's ptxas refuses
//     that at compile time (every build with nvcc compiles kernels/*.cu).
//   - Independent thread scheduling subtleties, memory-model weaker than sequential consistency,
//     partial-mask warp operations, cooperative groups, textures, __ldg (not used).
//   - Device libm: the host's expf/tanhf/sqrtf run instead, so kernel-vs-twin differences here
//     come from reduction order and indexing, not from math libraries — the real GPU run of
//     `make test-gpu` covers those.
#ifndef LW_CUDA_EMU_H
#define LW_CUDA_EMU_H

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <source_location>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cuda_bf16.h"    // the emulated __nv_bfloat16 (kernels/emu/include)
#include "cuda_fp16.h"    // the emulated __half
#include "cuda_runtime.h" // the emulated runtime API (kernels/emu/include)

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
constexpr int warpSize = 32;

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline
#define __align__(n) alignas(n)

// C++ callers pass the kernel itself, as with the real runtime's template overload.
template <class F> cudaError_t lw_emu_cudaFuncSetAttribute(F *func, cudaFuncAttribute attr, int value) {
    return lw_emu_cudaFuncSetAttribute((const void *)func, attr, value);
}

namespace lw_emu {

[[noreturn]] inline void fatal(const char *fmt, ...) {
    static std::mutex once;
    once.lock(); // the first thread to fail prints; the others wait here until _exit
    va_list ap;
    va_start(ap, fmt);
    fputs("cuda emulation: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stdout);
    fflush(stderr);
    _exit(1);
}

inline double timeout_s() { // read at every wait, so a test may change it
    const char *e = getenv("LW_EMU_TIMEOUT_S");
    double v = e ? atof(e) : 0;
    return v > 0 ? v : 60.0;
}

// Where a thread waits: a __syncthreads / warp operation call site, or the end of the kernel.
struct Site {
    const char *what = nullptr; // "__syncthreads", "__shfl_down_sync", ..., "end of kernel"
    const char *file = "";
    unsigned line = 0;
    bool operator==(const Site &o) const {
        return strcmp(what, o.what) == 0 && line == o.line && strcmp(file, o.file) == 0;
    }
    const char *describe(char *buf, size_t n) const {
        if (line) snprintf(buf, n, "%s at %s:%u", what, file, line);
        else snprintf(buf, n, "%s", what);
        return buf;
    }
};

struct Launch; // below

// A barrier for `expected` threads that checks every phase is reached at one site and gives up
// after timeout_s() (see the file comment).
class Barrier {
  public:
    void init(unsigned expected) { expected_ = expected; }
    void arrive_and_wait(const Site &s, unsigned tid, const Launch &L, const char *scope);
    // A lane ends the kernel: an error while other lanes wait here (warp barriers only).
    void leave(unsigned tid, const Launch &L);

  private:
    std::mutex m_; // guards the arrival bookkeeping; waiters sleep on gen_ (a futex), not on m_
    std::atomic<uint32_t> gen_{0};
    unsigned expected_ = 0, arrived_ = 0;
    Site site_;
    unsigned first_tid_ = 0;
    unsigned long exit_seq_ = ~0ul; // the block (launch-local sequence number) lanes exited in
    unsigned exited_ = 0, exited_tid_ = 0;
};

// A warp's exchange slots: double-buffered by operation parity so one barrier per operation is
// enough (a lane writes the next operation's slots only after every lane reached this one).
struct Warp {
    Barrier bar;
    unsigned lanes = 0;     // existing lanes (32, or fewer in a partial last warp)
    uint64_t val[2][32];
    unsigned mask[2][32];
};

struct Launch {
    const char *kernel;
    dim3 grid, block;
    unsigned nthreads;
    Barrier block_bar;
    std::vector<Warp> warps;
    unsigned char *dyn_shared = nullptr;
    size_t dyn_bytes = 0;
};

struct ThreadState {
    Launch *launch = nullptr;
    unsigned tid = 0;        // linear id in the block
    unsigned parity = 0;     // warp operation counter & 1
    unsigned long seq = 0;   // linear index of the running block
};
inline thread_local ThreadState self;

inline void describe_thread(const Launch &L, unsigned tid, char *buf, size_t n) {
    snprintf(buf, n, "(%u,%u,%u)", tid % L.block.x, tid / L.block.x % L.block.y, tid / (L.block.x * L.block.y));
}

inline void Barrier::arrive_and_wait(const Site &s, unsigned tid, const Launch &L, const char *scope) {
    std::unique_lock<std::mutex> lk(m_);
    char a[48], b[48];
    if (exit_seq_ == self.seq && exited_ > 0) {
        describe_thread(L, tid, a, sizeof a);
        describe_thread(L, exited_tid_, b, sizeof b);
        fatal("kernel %s, block (%u,%u,%u): thread %s reached %s at %s:%u after thread %s of its warp ended "
              "the kernel (every lane of the warp must take part; on a GPU this is undefined)",
              L.kernel, blockIdx.x, blockIdx.y, blockIdx.z, a, s.what, s.file, s.line, b);
    }
    if (arrived_ == 0) {
        site_ = s;
        first_tid_ = tid;
    } else if (!(site_ == s)) {
        char sa[300], sb[300];
        describe_thread(L, tid, a, sizeof a);
        describe_thread(L, first_tid_, b, sizeof b);
        fatal("kernel %s, block (%u,%u,%u): threads of the %s diverged: thread %s reached %s while thread %s "
              "waits at %s (every thread must reach the same barrier; on a GPU this hangs or is undefined)",
              L.kernel, blockIdx.x, blockIdx.y, blockIdx.z, scope, a, s.describe(sa, sizeof sa), b,
              site_.describe(sb, sizeof sb));
    }
    if (++arrived_ == expected_) {
        arrived_ = 0;
        gen_.fetch_add(1, std::memory_order_release);
        lk.unlock();
        syscall(SYS_futex, &gen_, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
        return;
    }
    uint32_t g = gen_.load(std::memory_order_relaxed);
    lk.unlock();
    // Sleep on the generation word: the last arrival wakes every waiter at once, and none of them
    // has to take the mutex again (a condition variable's wake-up stampede cost most of the time).
    double limit = timeout_s();
    auto t0 = std::chrono::steady_clock::now();
    while (gen_.load(std::memory_order_acquire) == g) {
        double left = limit - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (left <= 0) {
            lk.lock();
            if (gen_.load() != g) break;
            char sb[300];
            describe_thread(L, first_tid_, b, sizeof b);
            fatal("kernel %s, block (%u,%u,%u): %u of %u threads of the %s waited %.0f s at %s (first: thread "
                  "%s); the others never arrived (a divergent barrier, or a thread stuck in a loop; "
                  "LW_EMU_TIMEOUT_S sets the limit)",
                  L.kernel, blockIdx.x, blockIdx.y, blockIdx.z, arrived_, expected_, scope, limit,
                  site_.describe(sb, sizeof sb), b);
        }
        struct timespec ts;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        syscall(SYS_futex, &gen_, FUTEX_WAIT_PRIVATE, g, &ts, nullptr, 0);
    }
}

inline void Barrier::leave(unsigned tid, const Launch &L) {
    std::unique_lock<std::mutex> lk(m_);
    if (arrived_ > 0) {
        char a[48], b[48];
        describe_thread(L, tid, a, sizeof a);
        describe_thread(L, first_tid_, b, sizeof b);
        char sb[300];
        fatal("kernel %s, block (%u,%u,%u): thread %s ended the kernel while thread %s of its warp waits at %s "
              "(every lane of the warp must take part; on a GPU this is undefined)",
              L.kernel, blockIdx.x, blockIdx.y, blockIdx.z, a, b, site_.describe(sb, sizeof sb));
    }
    if (exit_seq_ != self.seq) { exit_seq_ = self.seq; exited_ = 0; }
    if (exited_++ == 0) exited_tid_ = tid;
}

inline Site here(const char *what, const std::source_location &loc) {
    return Site{what, loc.file_name(), (unsigned)loc.line()};
}

inline void block_sync(const Site &s) {
    self.launch->block_bar.arrive_and_wait(s, self.tid, *self.launch, "block");
}

// One warp operation: publishes v, waits for every lane, returns the slots to read.
inline Warp &warp_exchange(const Site &s, unsigned mask, uint64_t v, unsigned &parity_out) {
    Launch &L = *self.launch;
    Warp &w = L.warps[self.tid / 32];
    unsigned lane = self.tid % 32, p = self.parity;
    self.parity ^= 1;
    w.val[p][lane] = v;
    w.mask[p][lane] = mask;
    unsigned need = w.lanes == 32 ? 0xffffffffu : (1u << w.lanes) - 1u;
    if ((mask & need) != need) {
        char a[48];
        describe_thread(L, self.tid, a, sizeof a);
        fatal("kernel %s, block (%u,%u,%u): thread %s calls %s at %s:%u with mask 0x%08x, which leaves out "
              "existing lanes of its warp (0x%08x): partial-warp masks are not emulated",
              L.kernel, blockIdx.x, blockIdx.y, blockIdx.z, a, s.what, s.file, s.line, mask, need);
    }
    w.bar.arrive_and_wait(s, self.tid, L, "warp");
    parity_out = p;
    return w;
}

template <class T> uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
    uint64_t u = 0;
    memcpy(&u, &v, sizeof v);
    return u;
}
template <class T> T from_bits(uint64_t u) {
    T v;
    memcpy(&v, &u, sizeof v);
    return v;
}
template <class T> T poison() {
    if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::quiet_NaN();
    else return from_bits<T>(~(uint64_t)0);
}

// src: the lane to read, or -1 for "own value" (outside the width segment).
template <class T> T shfl(const Site &s, unsigned mask, T v, int src_lane) {
    unsigned p;
    Warp &w = warp_exchange(s, mask, to_bits(v), p);
    unsigned lane = self.tid % 32;
    T r = v;
    if (src_lane >= 0 && (unsigned)src_lane != lane)
        r = (unsigned)src_lane < w.lanes ? from_bits<T>(w.val[p][src_lane]) : poison<T>();
    return r;
}

inline unsigned ballot(const Site &s, unsigned mask, int pred) {
    unsigned p;
    Warp &w = warp_exchange(s, mask, pred ? 1 : 0, p);
    unsigned b = 0;
    for (unsigned l = 0; l < w.lanes; l++)
        if ((mask >> l & 1) && w.val[p][l]) b |= 1u << l;
    return b;
}

// Every pointer argument of a launch must be NULL or device memory (see the file comment).
template <class... A> void check_args(const char *kernel, const A &...args) {
    int idx = 0;
    auto one = [&](const auto &a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_pointer_v<T>)
            if (a && !lw_emu_is_device_ptr((const void *)a))
                fatal("kernel %s: argument %d (%p) is not device memory (not from cudaMalloc, or freed); on a GPU "
                      "a kernel faults with an illegal address where it dereferences it", kernel, idx, (const void *)a);
        idx++;
    };
    (one(args), ...);
}

// Runs f() for every thread of every block (see the file comment); check() validates the
// arguments once the launch configuration is accepted.
template <class F, class C>
void launch(const char *kernel, const void *func, dim3 grid, dim3 block, size_t shmem, F f, C check) {
    unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
    if (block.x == 0 || block.y == 0 || block.z == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        nt > LW_EMU_MAX_THREADS_PER_BLOCK || block.x > LW_EMU_MAX_BLOCK_X || block.y > LW_EMU_MAX_BLOCK_Y ||
        block.z > LW_EMU_MAX_BLOCK_Z || grid.x > LW_EMU_MAX_GRID_X || grid.y > LW_EMU_MAX_GRID_YZ ||
        grid.z > LW_EMU_MAX_GRID_YZ) {
        lw_emu_set_last_error(cudaErrorInvalidConfiguration);
        return;
    }
    if (shmem > lw_emu_func_max_dynamic_shared(func)) {
        lw_emu_set_last_error(cudaErrorInvalidValue);
        return;
    }
    check();
    Launch L;
    L.kernel = kernel;
    L.grid = grid;
    L.block = block;
    L.nthreads = (unsigned)nt;
    L.block_bar.init(L.nthreads);
    L.warps = std::vector<Warp>((L.nthreads + 31) / 32);
    for (size_t i = 0; i < L.warps.size(); i++) {
        L.warps[i].lanes = std::min(32u, L.nthreads - (unsigned)i * 32);
        L.warps[i].bar.init(L.warps[i].lanes);
    }
    std::unique_ptr<unsigned char, void (*)(void *)> dyn(nullptr, free);
    if (shmem) {
        dyn.reset((unsigned char *)aligned_alloc(256, (shmem + 255) / 256 * 256));
        if (!dyn) fatal("kernel %s: no host memory for %zu bytes of dynamic shared memory", kernel, shmem);
        L.dyn_shared = dyn.get();
        L.dyn_bytes = shmem;
    }
    gridDim = grid;
    blockDim = block;
    lw_emu_set_current_kernel(kernel);
    const Site end{"end of kernel", "", 0};
    auto body = [&](unsigned t) {
        self = ThreadState{&L, t, 0};
        threadIdx = dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
        for (unsigned bz = 0; bz < grid.z; bz++)
            for (unsigned by = 0; by < grid.y; by++)
                for (unsigned bx = 0; bx < grid.x; bx++) {
                    blockIdx = dim3(bx, by, bz);
                    self.seq = ((unsigned long)bz * grid.y + by) * grid.x + bx;
                    // uninitialised like a GPU's: 0xff bytes (NaN as floats) expose reads before writes
                    if (t == 0 && L.dyn_shared) memset(L.dyn_shared, 0xff, L.dyn_bytes);
                    if (L.dyn_shared) block_sync(Site{"start of block", "", 0});
                    f();
                    L.warps[t / 32].bar.leave(t, L);
                    block_sync(end); // the block is done before its shared memory is reused
                }
    };
    std::vector<std::thread> pool;
    pool.reserve(L.nthreads);
    try {
        for (unsigned t = 0; t < L.nthreads; t++) pool.emplace_back(body, t);
    } catch (const std::system_error &e) {
        fatal("kernel %s: cannot start %u threads for a block of (%u,%u,%u): %s", kernel, L.nthreads, block.x,
              block.y, block.z, e.what());
    }
    for (auto &th : pool) th.join();
    lw_emu_set_current_kernel(nullptr);
}

} // namespace lw_emu

inline void __syncthreads(std::source_location loc = std::source_location::current()) {
    lw_emu::block_sync(lw_emu::here("__syncthreads", loc));
}
inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location loc = std::source_location::current()) {
    lw_emu::ballot(lw_emu::here("__syncwarp", loc), mask, 0);
}

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32, std::source_location loc = std::source_location::current()) {
    unsigned lane = lw_emu::self.tid % 32, seg = lane & ~(unsigned)(width - 1);
    return lw_emu::shfl(lw_emu::here("__shfl_sync", loc), mask, v, (int)(seg + ((unsigned)src & (width - 1))));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32,
                   std::source_location loc = std::source_location::current()) {
    unsigned lane = lw_emu::self.tid % 32, in_seg = lane & (width - 1);
    int src = in_seg + delta < (unsigned)width ? (int)(lane + delta) : -1;
    return lw_emu::shfl(lw_emu::here("__shfl_down_sync", loc), mask, v, src);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32,
                 std::source_location loc = std::source_location::current()) {
    unsigned lane = lw_emu::self.tid % 32, in_seg = lane & (width - 1);
    int src = in_seg >= delta ? (int)(lane - delta) : -1;
    return lw_emu::shfl(lw_emu::here("__shfl_up_sync", loc), mask, v, src);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32,
                  std::source_location loc = std::source_location::current()) {
    unsigned lane = lw_emu::self.tid % 32, src = lane ^ (unsigned)lane_mask;
    // CUDA: a source lane beyond the caller's width segment yields the caller's own value
    bool same_seg = (src & ~(unsigned)(width - 1)) == (lane & ~(unsigned)(width - 1));
    return lw_emu::shfl(lw_emu::here("__shfl_xor_sync", loc), mask, v, same_seg ? (int)src : -1);
}
inline unsigned __ballot_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
    return lw_emu::ballot(lw_emu::here("__ballot_sync", loc), mask, pred);
}
inline int __all_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
    return lw_emu::ballot(lw_emu::here("__all_sync", loc), mask, pred) ==
           (mask & (lw_emu::self.launch->warps[lw_emu::self.tid / 32].lanes == 32
                        ? 0xffffffffu
                        : (1u << lw_emu::self.launch->warps[lw_emu::self.tid / 32].lanes) - 1u));
}
inline int __any_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
    return lw_emu::ballot(lw_emu::here("__any_sync", loc), mask, pred) != 0;
}

// The dynamic shared memory of the running block (LW_DYN_SHARED, kernels/launch.cuh).
inline void *lw_emu_dyn_shared() { return lw_emu::self.launch->dyn_shared; }

// ---------------------------------------------------------------------------- atomics
template <class T> T lw_emu_atomic_add(T *p, T v) { return std::atomic_ref<T>(*p).fetch_add(v); }
inline int atomicAdd(int *p, int v) { return lw_emu_atomic_add(p, v); }
inline unsigned atomicAdd(unsigned *p, unsigned v) { return lw_emu_atomic_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) { return lw_emu_atomic_add(p, v); }
inline float atomicAdd(float *p, float v) { return lw_emu_atomic_add(p, v); }
inline double atomicAdd(double *p, double v) { return lw_emu_atomic_add(p, v); }

template <class T, class Pick> T lw_emu_atomic_update(T *p, T v, Pick pick) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (!a.compare_exchange_weak(old, pick(old, v))) {}
    return old;
}
#define LW_EMU_MINMAX(T)                                                                           \
    inline T atomicMax(T *p, T v) { return lw_emu_atomic_update(p, v, [](T a, T b) { return a > b ? a : b; }); } \
    inline T atomicMin(T *p, T v) { return lw_emu_atomic_update(p, v, [](T a, T b) { return a < b ? a : b; }); }
LW_EMU_MINMAX(int)
LW_EMU_MINMAX(unsigned)
LW_EMU_MINMAX(long long)
LW_EMU_MINMAX(unsigned long long)
#undef LW_EMU_MINMAX
#define LW_EMU_EXCH(T)                                                                             \
    inline T atomicExch(T *p, T v) { return std::atomic_ref<T>(*p).exchange(v); }                  \
    inline T atomicCAS(T *p, T cmp, T v) {                                                         \
        std::atomic_ref<T>(*p).compare_exchange_strong(cmp, v);                                    \
        return cmp;                                                                                \
    }
LW_EMU_EXCH(int)
LW_EMU_EXCH(unsigned)
LW_EMU_EXCH(unsigned long long)
#undef LW_EMU_EXCH

// ---------------------------------------------------------------------------- device intrinsics
inline float __int_as_float(int i) { return lw_emu::from_bits<float>((uint32_t)i); }
inline int __float_as_int(float f) { return (int)(uint32_t)lw_emu::to_bits(f); }
inline double __longlong_as_double(long long i) { return lw_emu::from_bits<double>((uint64_t)i); }
inline long long __double_as_longlong(double d) { return (long long)lw_emu::to_bits(d); }
// fp32 multiply / add rounded to nearest even, never contracted into an FMA (nvcc keeps them
// apart too: the point of the _rn intrinsics). The emulation compiles for plain x86-64 (no FMA
// unit named), and the attribute keeps it so under any -march.
__attribute__((optimize("fp-contract=off"))) inline float __fmul_rn(float a, float b) { return a * b; }
__attribute__((optimize("fp-contract=off"))) inline float __fadd_rn(float a, float b) { return a + b; }

#define LW_LAUNCH_SHM(kernel, grid, block, shmem, stream, ...)                                                   \
    lw_emu::launch(#kernel, (const void *)&kernel, dim3(grid), dim3(block), (size_t)(shmem),                     \
                   [&] { kernel(__VA_ARGS__); }, [&] { lw_emu::check_args(#kernel, __VA_ARGS__); })
#define LW_LAUNCH(kernel, grid, block, stream, ...) LW_LAUNCH_SHM(kernel, grid, block, 0, stream, __VA_ARGS__)
#define LW_DYN_SHARED(type, name) type *name = (type *)lw_emu_dyn_shared()

#endif
