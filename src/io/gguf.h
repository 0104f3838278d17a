// io/gguf — a GGUF file (llama.cpp's single-file checkpoint): header, metadata, tensor table,
// and dequantization of row/column blocks to fp32.
//
// Layout (GGUF v2/v3, little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata count;
// metadata pairs (string key, u32 value type, value); tensor infos (string name, u32 n_dims,
// u64 dims[n_dims] with dims[0] the fastest-varying, u32 ggml type, u64 offset into the data
// section); padding to `general.alignment` (default 32); the data section. Strings are u64 length
// + bytes (no NUL). Arrays are u32 element type, u64 count, elements.
//
// The file is mapped read-only and every field is bounds-checked at open: a header that runs past
// the end (the message says where: which metadata pair or tensor info), a tensor whose bytes lie
// outside the file, an unknown value type — each is an LwError naming the file and the field,
// never a read past the mapping. Arrays grow with what is parsed, not with the counts the header
// claims, so a corrupt count cannot make us allocate more than the file justifies. Once
// open, reads trust the table. Data is dequantized on demand, block by block, straight from the
// mapping into the caller's fp32 buffer, so a tensor-parallel rank only touches its own rows.
//
// Tensor types implemented (from the ggml block definitions): F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0 and the k-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K — the demo model (F32 norms, Q4_1
// matrices, Q8_0 token embedding) and the types llama.cpp's usual presets (Q4_K_M, Q5_K_M, Q6_K,
// Q3_K_M, ...) write. The i-quants (IQ*), TQ*, MXFP4 are refused by name (gguf_check_type).
#ifndef LW_GGUF_H
#define LW_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define GGUF_MAX_DIMS 4

// Metadata value types (GGUF spec numbering).
typedef enum {
    GGUF_T_U8 = 0, GGUF_T_I8 = 1, GGUF_T_U16 = 2, GGUF_T_I16 = 3, GGUF_T_U32 = 4, GGUF_T_I32 = 5,
    GGUF_T_F32 = 6, GGUF_T_BOOL = 7, GGUF_T_STRING = 8, GGUF_T_ARRAY = 9, GGUF_T_U64 = 10,
    GGUF_T_I64 = 11, GGUF_T_F64 = 12, GGUF_T_COUNT
} GgufValueType;

// ggml tensor types this reader dequantizes (numbering of ggml.h; others only have a name).
enum {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6, GGML_Q5_1 = 7, GGML_Q8_0 = 8,
    GGML_Q2_K = 10, GGML_Q3_K = 11, GGML_Q4_K = 12, GGML_Q5_K = 13, GGML_Q6_K = 14, GGML_BF16 = 30
};

typedef struct {
    const char *key;        // NUL-terminated copy
    uint32_t type;          // GgufValueType
    // scalars: integer types in i/u (sign-extended / zero-extended), floats in f, bool in u
    int64_t i;
    uint64_t u;
    double f;
    const char *str;        // GGUF_T_STRING: points into the mapping (NOT NUL-terminated)
    uint64_t str_len;
    uint32_t arr_type;      // GGUF_T_ARRAY: element type, count, first element in the mapping
    uint64_t arr_n;
    const uint8_t *arr_data;
} GgufKV;

typedef struct {
    const char *name;       // NUL-terminated copy
    int ndim;
    int64_t dims[GGUF_MAX_DIMS]; // dims[0] = elements per row (fastest); 2-D: dims[1] = rows
    uint32_t type;          // ggml type
    uint64_t offset;        // absolute offset in the file
    uint64_t nbytes;
} GgufTensor;

typedef struct {
    char path[1024];
    const uint8_t *map;
    size_t size;
    uint32_t version;
    GgufKV *kv;
    int64_t n_kv;
    GgufTensor *tensors;
    int64_t n_tensors;
    uint64_t alignment;
    uint64_t data_start;    // absolute offset of the data section
    size_t bytes_read;      // tensor payload bytes dequantized so far
} Gguf;

// Opens and validates a GGUF file. Returns 0, or -1 with err naming the file and what is wrong
// (truncated header / metadata / tensor data, bad magic, unsupported version). On failure g is
// left closed.
int gguf_open(const char *path, Gguf *g, LwError *err);
void gguf_close(Gguf *g);

// 1 when `path` is a GGUF checkpoint: a file whose name ends in .gguf, or a directory holding
// exactly one *.gguf file and no *.safetensors. Fills file (when non-NULL) with the .gguf path.
int gguf_checkpoint_path(const char *path, char *file, size_t file_len);

// When path is a GGUF checkpoint: 1, with the most common tensor type of its matrices ("Q4_1")
// in out — what the HDF5 file records as weights_dtype. 0 otherwise.
int gguf_weights_type(const char *path, char *out, size_t out_len);

const GgufKV *gguf_find_kv(const Gguf *g, const char *key);
const GgufTensor *gguf_find_tensor(const Gguf *g, const char *name);
const char *gguf_type_name(uint32_t ggml_type);   // "Q4_1", "Q6_K", ... or "type 99"
const char *gguf_value_type_name(uint32_t vtype); // "u32", "string", ...

// Metadata accessors. required = 0: an absent key leaves *out = dflt and returns 0. Wrong types
// and out-of-range values are errors naming the file and the key.
int gguf_get_int(const Gguf *g, const char *key, int required, int64_t dflt, int64_t *out, LwError *err);
int gguf_get_float(const Gguf *g, const char *key, int required, double dflt, double *out, LwError *err);
int gguf_get_bool(const Gguf *g, const char *key, int required, int dflt, int *out, LwError *err);
// A malloc'ed NUL-terminated copy of a string value (NULL with no error when absent and optional).
int gguf_get_str(const Gguf *g, const char *key, int required, char **out, LwError *err);
// An array of strings, copied: *out = n malloc'ed NUL-terminated strings (free with
// gguf_free_strs). An embedded NUL in a string is an error (it would be silently cut).
int gguf_get_str_array(const Gguf *g, const char *key, char ***out, int64_t *n, LwError *err);
void gguf_free_strs(char **v, int64_t n);
// An array of integers (any integer element type), as int64 (malloc'ed).
int gguf_get_int_array(const Gguf *g, const char *key, int64_t **out, int64_t *n, LwError *err);

// 0 if this reader can dequantize t, else -1 with err naming the tensor and its type.
int gguf_check_type(const Gguf *g, const GgufTensor *t, LwError *err);

// Dequantizes rows [row0, row0+nrows) × columns [col0, col0+ncols) of a tensor seen as a matrix
// of rows(t) = product(dims[1..]) rows of dims[0] elements into dst (row-major [nrows, ncols],
// fp32). Quantized rows are decoded whole and the column range copied out.
int gguf_read_f32(Gguf *g, const GgufTensor *t, int64_t row0, int64_t nrows, int64_t col0, int64_t ncols,
                  float *dst, LwError *err);
static inline int64_t gguf_rows(const GgufTensor *t) {
    int64_t r = 1;
    for (int k = 1; k < t->ndim; k++) r *= t->dims[k];
    return r;
}

#endif
