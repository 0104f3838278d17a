// h5 — the rank-0 HDF5 writer of `lensweep run` (schema: docs/HDF5.md).
//
// A run file must never look finished unless it is: h5_create opens `<path>.tmp.<pid>` and
// registers it with lw_cleanup_unlink_on_fail (any lw_die removes it); h5_finish writes the root
// attribute `complete = 1` last, closes the file and renames it to <path>. So a killed job leaves
// only a .tmp name, and a file named <name>.h5 always has complete = 1.
//
// Every function accepts h == NULL and then does nothing, so ranks other than 0 run the same
// code with a NULL writer. Paths are absolute HDF5 paths ("/lens/norm/pos_orig_0/next/p_answer");
// missing parent groups are created. Large datasets (≥ 64 KiB) are chunked and deflated; object
// timestamps are off, so two identical runs differ only in the root attributes that say when.
// An HDF5 failure (disk full, ...) is a runtime error: lw_die naming the file and the object.
#ifndef LW_H5_H
#define LW_H5_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef struct H5Out H5Out;

// Creates <path>.tmp.<pid> (truncating). Returns NULL with err set when it cannot.
H5Out *h5_create(const char *path, LwError *err);
// Writes `complete = 1`, closes, renames to the final path. Returns 0 or -1 with err.
int h5_finish(H5Out *h, LwError *err);
const char *h5_tmp_path(const H5Out *h);

void h5_group(H5Out *h, const char *path);

// Attributes on an existing or new group ("/" = root).
void h5_attr_str(H5Out *h, const char *obj, const char *name, const char *value);
void h5_attr_int(H5Out *h, const char *obj, const char *name, long value);
void h5_attr_f64(H5Out *h, const char *obj, const char *name, double value);
void h5_attr_i32s(H5Out *h, const char *obj, const char *name, const int32_t *v, int n);
void h5_attr_f64s(H5Out *h, const char *obj, const char *name, const double *v, int n);

// Datasets of `rank` dimensions dims[0..rank) (rank 0 = scalar is not used; use [1]).
void h5_write_f64(H5Out *h, const char *path, int rank, const size_t *dims, const double *data);
void h5_write_f32(H5Out *h, const char *path, int rank, const size_t *dims, const float *data);
void h5_write_i32(H5Out *h, const char *path, int rank, const size_t *dims, const int32_t *data);
// 1-D variable-length UTF-8 strings (NULL entries are written as "").
void h5_write_strs(H5Out *h, const char *path, size_t n, const char *const *s);
// Attributes on a dataset written before (e.g. `scales` on scaled_p_answer).
#define h5_dset_attr_f64s h5_attr_f64s

#endif
