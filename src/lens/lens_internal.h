// lens_internal — small helpers the lens passes share (lens_pass.c, lens_prism.c): allocations
// that never ask malloc for 0 bytes, and the hand-over of one array to the sink (nothing on
// ranks without one: lr->sink NULL). Not part of the lens's interface.
#ifndef LW_LENS_INTERNAL_H
#define LW_LENS_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>

#include "lens/lens_pass.h"
#include "util/util.h"

static inline float *falloc(size_t n) { return xmalloc(sizeof(float) * (n ? n : 1)); }
static inline double *dalloc(size_t n) { return xmalloc(sizeof(double) * (n ? n : 1)); }
static inline int32_t *ialloc(size_t n) { return xmalloc(sizeof(int32_t) * (n ? n : 1)); }

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
