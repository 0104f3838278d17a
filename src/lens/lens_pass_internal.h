// lens_pass_internal — what the pass driver (lens_pass.c: the model head and the norm lens at
// every position) and the NEXT-position statistics (lens_next.c) share. Not part of the lens's
// interface.
#ifndef LW_LENS_PASS_INTERNAL_H
#define LW_LENS_PASS_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "lens/lens_internal.h"

static inline int n_layers(const LensRun *lr) { return lr->m->cfg.n_layers; }

// Norm-lens normalizer of layer L (METRICS.md §4.1).
static inline const float *norm_weight(const Model *m, int L) {
    return L < m->cfg.n_layers ? m->layers[L].ln_in : m->ln_final;
}

static inline void fill_nan(double *v, size_t n) { for (size_t i = 0; i < n; i++) v[i] = NAN; }
static inline void fill_i32(int32_t *v, size_t n, int32_t x) { for (size_t i = 0; i < n; i++) v[i] = x; }

static inline LensDist *dists_of_rows(const float *z, size_t ld, int n) {
    LensDist *d = xmalloc(sizeof(LensDist) * (n ? n : 1));
    for (int r = 0; r < n; r++) d[r] = lens_dist(z + (size_t)r * ld);
    return d;
}

// The NEXT-position metric set of one pass (docs/HDF5.md /lens/<lens>/<pass>/next): norm lens
// against the model head (teacher entropy on the pass's head group pbase), temperature, geometry,
// numeric health, gate stability, repeatability, last-layer probes, the raw lens and the post_ln2
// decoding point. zn: the norm lens's NEXT logits [n+1, vl]; ynext: the head's NEXT logits [vl].
void lens_next_metrics(const LensRun *lr, const LensPassSpec *ps, const float *resid, const float *zn,
                       const float *ynext, LensAt pbase, LensPassSummary *out);

#endif
