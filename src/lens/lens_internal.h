// lens_internal — small helpers the lens passes share (lens_pass.c, lens_prism.c): allocations
// that never ask malloc for 0 bytes, and the hand-over of one array to the sink (nothing on
// ranks without one: lr->sink NULL). Not part of the lens's interface.
#ifndef LW_LENS_INTERNAL_H
#define LW_LENS_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lens/lens_pass.h"
#include "util/util.h"

static inline float *falloc(size_t n) { return xmalloc(sizeof(float) * (n ? n : 1)); }
static inline double *dalloc(size_t n) { return xmalloc(sizeof(double) * (n ? n : 1)); }
static inline int32_t *ialloc(size_t n) { return xmalloc(sizeof(int32_t) * (n ? n : 1)); }

// Lens logits are BACKEND memory (backend.h): model_unembed_bk / model_final_logits_bk write them
// there and only the lens ops read them (lens_stats.h), so on a GPU they stay on the device. On
// a backend with host_memory (the CPU) they are plain malloc'd host memory, as before. A host read
// of logits is an explicit download (logits_to_host).
static inline float *logits_alloc(const LensRun *lr, size_t n) {
    const Backend *bk = lr->sh.bk;
    return bk->host_memory ? falloc(n) : bk->alloc(sizeof(float) * (n ? n : 1));
}
static inline void logits_free(const LensRun *lr, float *z) {
    if (lr->sh.bk->host_memory) free(z);
    else lr->sh.bk->free(z);
}
static inline void logits_copy(const LensRun *lr, float *dst, const float *src, size_t n) {
    if (lr->sh.bk->host_memory) memcpy(dst, src, sizeof(float) * n);
    else lr->sh.bk->copy(dst, src, sizeof(float) * n);
}
// A malloc'd host copy of n logits at z (the caller frees it).
static inline float *logits_to_host(const LensRun *lr, const float *z, size_t n) {
    float *h = falloc(n);
    if (lr->sh.bk->host_memory) memcpy(h, z, sizeof(float) * n);
    else lr->sh.bk->download(h, z, sizeof(float) * n);
    return h;
}

// Field f of `at`, of rank `rank` (1..3) with dims d0, d1, d2.
static inline void put_f64(const LensRun *lr, LensAt at, LensField f, int rank, size_t d0, size_t d1, size_t d2,
                           const double *v) {
    lens_sink_f64(lr->sink, at, f, rank, d0, d1, d2, v);
}

static inline void put_i32(const LensRun *lr, LensAt at, LensField f, int rank, size_t d0, size_t d1, size_t d2,
                           const int32_t *v) {
    lens_sink_i32(lr->sink, at, f, rank, d0, d1, d2, v);
}

#endif
