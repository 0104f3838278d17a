// lens_internal — small helpers the lens passes share (lens_pass.c, lens_prism.c): allocations
// that never ask malloc for 0 bytes, and the writes of one dataset under a group of the run file
// (nothing on ranks without the file: lr->h5 NULL). Not part of the lens's interface.
#ifndef LW_LENS_INTERNAL_H
#define LW_LENS_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>

#include "lens/lens_pass.h"
#include "util/util.h"

static inline float *falloc(size_t n) { return xmalloc(sizeof(float) * (n ? n : 1)); }
static inline double *dalloc(size_t n) { return xmalloc(sizeof(double) * (n ? n : 1)); }
static inline int32_t *ialloc(size_t n) { return xmalloc(sizeof(int32_t) * (n ? n : 1)); }

// <base>/<name> of rank `rank` (1..3) with dims d0, d1, d2.
static inline void put_f64(const LensRun *lr, const char *base, const char *name, int rank, size_t d0, size_t d1,
                           size_t d2, const double *v) {
    if (!lr->h5) return;
    size_t dims[3] = {d0, d1, d2};
    char *p = xasprintf("%s/%s", base, name);
    h5_write_f64(lr->h5, p, rank, dims, v);
    free(p);
}

static inline void put_i32(const LensRun *lr, const char *base, const char *name, int rank, size_t d0, size_t d1,
                           size_t d2, const int32_t *v) {
    if (!lr->h5) return;
    size_t dims[3] = {d0, d1, d2};
    char *p = xasprintf("%s/%s", base, name);
    h5_write_i32(lr->h5, p, rank, dims, v);
    free(p);
}

#endif
