// io/safetensors — a Hugging Face checkpoint's tensors: header validation, slice reads, writer.
//
// A checkpoint directory holds either model.safetensors or model.safetensors.index.json plus the
// shards it names (ARCHITECTURES.md §2); consolidated*.safetensors, original/ and
// pytorch_model*.bin are other formats of the same weights and are ignored. Every header is
// validated once at open (length, JSON, dtype, shape × dtype size = byte length, offsets inside
// the data area, no overlaps, names unique), so later reads can trust the table.
//
// Reads use pread into the caller's buffer rather than mmap: a tensor-parallel rank reads only
// its block of rows (one contiguous range) or block of columns (one segment per row), and big
// sequential preads run at disk speed without page-fault overhead or page-cache mappings that
// count against the job's memory. Data can be kept in the stored dtype or converted on the way.
#ifndef LW_SAFETENSORS_H
#define LW_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util/dtype.h"
#include "util/util.h"

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t offset;   // absolute file offset of the first byte
    uint64_t nbytes;
    int file;          // index into SafeTensors.files
} StTensor;

typedef struct {
    char *path;
    int fd;
    uint64_t size_bytes;
    uint64_t data_start; // 8 + header length
} StFile;

typedef struct {
    char dir[1024];
    StFile *files;
    int n_files;
    StTensor *tensors;   // sorted by name
    int n_tensors;
    uint64_t bytes_read; // payload bytes read by st_read_* so far
} SafeTensors;

// Opens and validates a checkpoint directory. Returns 0, or -1 with err naming the file (and the
// tensor) that is wrong. On failure st is left closed.
int st_open(const char *dir, SafeTensors *st, LwError *err);
void st_close(SafeTensors *st);

// Returns the tensor with this name, or NULL.
const StTensor *st_find(const SafeTensors *st, const char *name);
// "[4096, 14336]" style shape text for messages.
void st_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);

// Reads rows [row0, row0+nrows) × columns [col0, col0+ncols) of a 2-D tensor (or elements
// [col0, col0+ncols) of a 1-D tensor, with row0 = 0, nrows = 1) into dst, converted to `out`
// (the stored dtype means a plain copy). The result is row-major [nrows, ncols].
// Returns 0, or -1 with err (I/O failure or a file that changed since it was opened).
int st_read_block(SafeTensors *st, const StTensor *t, int64_t row0, int64_t nrows, int64_t col0,
                  int64_t ncols, DType out, void *dst, LwError *err);
// The whole tensor, row-major, converted to `out`.
int st_read_all(SafeTensors *st, const StTensor *t, DType out, void *dst, LwError *err);

// ---------------------------------------------------------------------------- writer
typedef struct {
    const char *name;
    DType dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;    // nbytes = product(shape) * dtype_size(dtype)
} StWriteTensor;

// Writes tensors t[0..n) into dir: model.safetensors when n_shards <= 1, else
// model-0000i-of-0000N.safetensors files (tensors kept in the given order, cut into N runs of
// about equal bytes) plus model.safetensors.index.json. Output bytes depend only on the input:
// header keys sorted, data laid out in the given order, header padded with spaces to 8 bytes.
int st_write(const char *dir, const StWriteTensor *t, int n, int n_shards, LwError *err);

#endif
