// io/gguf — GGUF parsing and dequantization (gguf.h).
//
// The parser walks the mapping with a cursor that refuses to step past the end; every failure
// says how far it got ("truncated in metadata pair 12 of 33 (key \"...\")"), so a cut download
// is recognisable as such. Block formats (ggml-common.h, written down here from the GGUF docs):
//   Q4_0: 32 weights = f16 d, 16 bytes of nibbles;    w = (q - 8)·d
//   Q4_1: 32 weights = f16 d, f16 m, 16 bytes;        w = q·d + m
//   Q8_0: 32 weights = f16 d, 32 int8;                w = q·d
//   Q5_0 / Q5_1: as Q4_0 / Q4_1 (offset 16 instead of 8) with a u32 of fifth bits after the
//        scale(s): bit j is weight j's, bit j + 16 weight (j + 16)'s
// In the 4/5-bit blocks byte j holds weight j in its low nibble and weight j + 16 in its high one.
// k-quants: super-blocks of 256 weights in sub-blocks of 16 or 32, each with its own scale
// (and min), the sub-block scales themselves quantized against the f16 super-block d (dmin):
//   Q2_K (84 B): scales[16] (low nibble scale, high nibble min), qs[64] (2-bit), d, dmin
//   Q3_K (110 B): hmask[32] (third bit), qs[64] (2 low bits), scales[12] (16 × 6-bit, offset 32), d
//   Q4_K (144 B): d, dmin, scales[12] (8 × 6-bit scale + 8 × 6-bit min), qs[128] (4-bit)
//   Q5_K (176 B): d, dmin, scales[12] (as Q4_K), qh[32] (fifth bit), qs[128]
//   Q6_K (210 B): ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d; offset 32
#include "io/gguf.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dtype.h"

// ---------------------------------------------------------------------------- types

static const struct { uint32_t id; const char *name; int block; int block_bytes; } GGML_TYPES[] = {
    {0, "F32", 1, 4}, {1, "F16", 1, 2}, {2, "Q4_0", 32, 18}, {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22}, {7, "Q5_1", 32, 24}, {8, "Q8_0", 32, 34}, {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84}, {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50}, {20, "IQ4_NL", 32, 18}, {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82}, {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1}, {25, "I16", 1, 2},
    {26, "I32", 1, 4}, {27, "I64", 1, 8}, {28, "F64", 1, 8}, {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2}, {34, "TQ1_0", 256, 54}, {35, "TQ2_0", 256, 66}, {39, "MXFP4", 32, 17},
};
#define N_GGML_TYPES (int)(sizeof GGML_TYPES / sizeof GGML_TYPES[0])

static int type_index(uint32_t t) {
    for (int i = 0; i < N_GGML_TYPES; i++)
        if (GGML_TYPES[i].id == t) return i;
    return -1;
}

const char *gguf_type_name(uint32_t t) {
    static char buf[32];
    int i = type_index(t);
    if (i >= 0) return GGML_TYPES[i].name;
    snprintf(buf, sizeof buf, "type %u", t);
    return buf;
}

static int type_supported(uint32_t t) {
    switch (t) {
    case GGML_F32: case GGML_F16: case GGML_BF16: case GGML_Q4_0: case GGML_Q4_1: case GGML_Q5_0: case GGML_Q5_1:
    case GGML_Q8_0: case GGML_Q2_K: case GGML_Q3_K: case GGML_Q4_K: case GGML_Q5_K: case GGML_Q6_K: return 1;
    default: return 0;
    }
}

const char *gguf_value_type_name(uint32_t v) {
    static const char *names[GGUF_T_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    return v < GGUF_T_COUNT ? names[v] : "unknown";
}

static const int SCALAR_BYTES[GGUF_T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

// ---------------------------------------------------------------------------- cursor

typedef struct {
    const uint8_t *p, *end, *base;
    const char *path;
    char where[200]; // what is being read, for "truncated in ..." messages
    LwError *err;
} Cur;

static int cur_need(Cur *c, uint64_t n) {
    if ((uint64_t)(c->end - c->p) >= n) return 0;
    return lw_err(c->err, "the file is cut short (an interrupted download or copy); fetch it again (tools/fetch_demo_model.sh for the demo model)",
                  "%s: truncated GGUF: the file ends at byte %zu inside %s", c->path, (size_t)(c->end - c->base), c->where);
}

static int cur_u32(Cur *c, uint32_t *v) {
    if (cur_need(c, 4)) return -1;
    memcpy(v, c->p, 4);
    c->p += 4;
    return 0;
}

static int cur_u64(Cur *c, uint64_t *v) {
    if (cur_need(c, 8)) return -1;
    memcpy(v, c->p, 8);
    c->p += 8;
    return 0;
}

static int cur_str(Cur *c, const char **s, uint64_t *len) {
    if (cur_u64(c, len)) return -1;
    if (cur_need(c, *len)) return -1;
    *s = (const char *)c->p;
    c->p += *len;
    return 0;
}

static int cur_skip(Cur *c, uint64_t n) {
    if (cur_need(c, n)) return -1;
    c->p += n;
    return 0;
}

// Reads one scalar of type t into kv (u/i/f), advancing the cursor.
static int cur_scalar(Cur *c, uint32_t t, GgufKV *kv) {
    if (cur_need(c, SCALAR_BYTES[t])) return -1;
    const uint8_t *p = c->p;
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32; uint64_t u64; int64_t i64; double f64;
    switch (t) {
    case GGUF_T_U8: u8 = p[0]; kv->u = u8; kv->i = u8; kv->f = u8; break;
    case GGUF_T_BOOL: u8 = p[0]; kv->u = u8 != 0; kv->i = u8 != 0; kv->f = u8 != 0; break;
    case GGUF_T_I8: memcpy(&i8, p, 1); kv->i = i8; kv->u = (uint64_t)(int64_t)i8; kv->f = i8; break;
    case GGUF_T_U16: memcpy(&u16, p, 2); kv->u = u16; kv->i = u16; kv->f = u16; break;
    case GGUF_T_I16: memcpy(&i16, p, 2); kv->i = i16; kv->u = (uint64_t)(int64_t)i16; kv->f = i16; break;
    case GGUF_T_U32: memcpy(&u32, p, 4); kv->u = u32; kv->i = u32; kv->f = u32; break;
    case GGUF_T_I32: memcpy(&i32, p, 4); kv->i = i32; kv->u = (uint64_t)(int64_t)i32; kv->f = i32; break;
    case GGUF_T_F32: memcpy(&f32, p, 4); kv->f = f32; break;
    case GGUF_T_U64: memcpy(&u64, p, 8); kv->u = u64; kv->i = (int64_t)u64; kv->f = (double)u64; break;
    case GGUF_T_I64: memcpy(&i64, p, 8); kv->i = i64; kv->u = (uint64_t)i64; kv->f = (double)i64; break;
    case GGUF_T_F64: memcpy(&f64, p, 8); kv->f = f64; break;
    default: LW_ASSERT(0);
    }
    c->p += SCALAR_BYTES[t];
    return 0;
}

static int value_type_ok(Cur *c, uint32_t t, const char *key) {
    if (t < GGUF_T_COUNT) return 0;
    return lw_err(c->err, "the file is corrupt or written by a newer GGUF version than this reader knows (v2/v3)",
                  "%s: metadata \"%s\": unknown value type %u", c->path, key, t);
}

// Reads the value of one metadata pair (type already read).
static int cur_value(Cur *c, GgufKV *kv) {
    uint32_t t = kv->type;
    if (t == GGUF_T_STRING) return cur_str(c, &kv->str, &kv->str_len);
    if (t != GGUF_T_ARRAY) return cur_scalar(c, t, kv);
    if (cur_u32(c, &kv->arr_type) || cur_u64(c, &kv->arr_n)) return -1;
    if (value_type_ok(c, kv->arr_type, kv->key)) return -1;
    kv->arr_data = c->p;
    if (kv->arr_type == GGUF_T_ARRAY)
        return lw_err(c->err, "nested arrays do not occur in llama.cpp checkpoints; the file is probably corrupt",
                      "%s: metadata \"%s\": array of arrays is not supported", c->path, kv->key);
    if (kv->arr_type == GGUF_T_STRING) {
        for (uint64_t k = 0; k < kv->arr_n; k++) {
            const char *s;
            uint64_t n;
            if (cur_str(c, &s, &n)) return -1;
        }
        return 0;
    }
    uint64_t sz = SCALAR_BYTES[kv->arr_type];
    if (kv->arr_n > (uint64_t)(c->end - c->p) / sz) return cur_need(c, UINT64_MAX);
    return cur_skip(c, kv->arr_n * sz);
}

// ---------------------------------------------------------------------------- open / close

static char *str_copy(const char *s, uint64_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

// Grows a zeroed array to hold index i (arrays grow with what was parsed, never with what the
// header claims: a corrupt count cannot make us allocate more than the file justifies).
static void *grow(void *v, int64_t *cap, int64_t i, size_t elem) {
    if (i < *cap) return v;
    int64_t nc = *cap ? 2 * *cap : 64;
    v = xrealloc(v, (size_t)nc * elem);
    memset((char *)v + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *cap = nc;
    return v;
}

int gguf_open(const char *path, Gguf *g, LwError *err) {
    memset(g, 0, sizeof *g);
    snprintf(g->path, sizeof g->path, "%s", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lw_err(err, "check the path (the demo model is fetched by tools/fetch_demo_model.sh)", "%s: cannot open GGUF file", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return lw_err(err, "give the path of a .gguf file", "%s: not a regular file", path); }
    g->size = (size_t)st.st_size;
    if (g->size < 24) {
        close(fd);
        return lw_err(err, "the file is cut short or empty; fetch it again", "%s: truncated GGUF: %zu bytes, shorter than the 24-byte header", path, g->size);
    }
    void *m = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return lw_err(err, "check permissions and free address space", "%s: cannot map the file", path);
    g->map = m;

    Cur c = {g->map, g->map + g->size, g->map, g->path, "the header", err};
    if (memcmp(c.p, "GGUF", 4) != 0) {
        lw_err(err, "this is not a GGUF file (llama.cpp checkpoints start with the bytes GGUF)", "%s: bad magic %02x %02x %02x %02x, expected \"GGUF\"",
               path, c.p[0], c.p[1], c.p[2], c.p[3]);
        goto fail;
    }
    c.p += 4;
    uint64_t n_t, n_kv;
    if (cur_u32(&c, &g->version)) goto fail;
    if (g->version != 2 && g->version != 3) {
        if (g->version == 0x02000000u || g->version == 0x03000000u)
            lw_err(err, "lensweep reads little-endian GGUF files (what llama.cpp writes by default); re-convert without --bigendian",
                   "%s: big-endian GGUF (version %u byte-swapped) is not supported", path, __builtin_bswap32(g->version));
        else
            lw_err(err, "re-convert the model with a current llama.cpp (GGUF v2 and v3 are read)", "%s: unsupported GGUF version %u", path, g->version);
        goto fail;
    }
    if (cur_u64(&c, &n_t) || cur_u64(&c, &n_kv)) goto fail;
    // Counts beyond 2^40 are corrupt, not truncated; otherwise the parse below finds where the
    // file ends (arrays grow as entries are parsed).
    if (n_kv > (1ull << 40) || n_t > (1ull << 40)) {
        lw_err(err, "the file is corrupt", "%s: header claims %llu metadata pairs and %llu tensors", path, (unsigned long long)n_kv, (unsigned long long)n_t);
        goto fail;
    }
    int64_t cap_kv = 0, cap_t = 0;

    g->alignment = 32;
    for (int64_t i = 0; i < (int64_t)n_kv; i++) {
        g->kv = grow(g->kv, &cap_kv, i, sizeof *g->kv);
        GgufKV *kv = &g->kv[i];
        const char *k;
        uint64_t kl;
        g->n_kv = i + 1; // entries parsed so far (freed by gguf_close)
        snprintf(c.where, sizeof c.where, "metadata pair %lld of %llu", (long long)i + 1, (unsigned long long)n_kv);
        if (cur_str(&c, &k, &kl)) goto fail;
        kv->key = str_copy(k, kl);
        snprintf(c.where, sizeof c.where, "metadata pair %lld of %llu (key \"%.100s\")", (long long)i + 1, (unsigned long long)n_kv, kv->key);
        if (cur_u32(&c, &kv->type)) goto fail;
        if (value_type_ok(&c, kv->type, kv->key)) goto fail;
        if (cur_value(&c, kv)) goto fail;
        if (!strcmp(kv->key, "general.alignment")) {
            if (kv->type != GGUF_T_U32 || kv->u == 0 || (kv->u & (kv->u - 1)) != 0) {
                lw_err(err, "general.alignment must be a u32 power of two", "%s: metadata \"general.alignment\" is invalid", path);
                goto fail;
            }
            g->alignment = kv->u;
        }
    }
    for (int64_t i = 0; i < (int64_t)n_t; i++) {
        g->tensors = grow(g->tensors, &cap_t, i, sizeof *g->tensors);
        GgufTensor *t = &g->tensors[i];
        const char *nm;
        uint64_t nl;
        uint32_t nd;
        g->n_tensors = i + 1;
        snprintf(c.where, sizeof c.where, "tensor info %lld of %llu", (long long)i + 1, (unsigned long long)n_t);
        if (cur_str(&c, &nm, &nl)) goto fail;
        t->name = str_copy(nm, nl);
        snprintf(c.where, sizeof c.where, "tensor info %lld of %llu (\"%.100s\")", (long long)i + 1, (unsigned long long)n_t, t->name);
        if (cur_u32(&c, &nd)) goto fail;
        if (nd < 1 || nd > GGUF_MAX_DIMS) {
            lw_err(err, "the file is corrupt", "%s: tensor \"%s\": %u dimensions (1..%d allowed)", path, t->name, nd, GGUF_MAX_DIMS);
            goto fail;
        }
        t->ndim = (int)nd;
        uint64_t nel = 1;
        for (int k = 0; k < t->ndim; k++) {
            uint64_t d;
            if (cur_u64(&c, &d)) goto fail;
            if (d == 0 || d > (1ull << 40) || nel > (1ull << 40) / d) {
                lw_err(err, "the file is corrupt", "%s: tensor \"%s\": dimension %d = %llu is out of range", path, t->name, k, (unsigned long long)d);
                goto fail;
            }
            t->dims[k] = (int64_t)d;
            nel *= d;
        }
        if (cur_u32(&c, &t->type) || cur_u64(&c, &t->offset)) goto fail;
        int ti = type_index(t->type);
        if (ti >= 0) {
            if (t->dims[0] % GGML_TYPES[ti].block != 0) {
                lw_err(err, "the file is corrupt", "%s: tensor \"%s\": row length %lld is not a multiple of the %s block size %d",
                       path, t->name, (long long)t->dims[0], GGML_TYPES[ti].name, GGML_TYPES[ti].block);
                goto fail;
            }
            t->nbytes = nel / GGML_TYPES[ti].block * GGML_TYPES[ti].block_bytes;
        } else t->nbytes = 0; // unknown type: size unknown; refused when the tensor is used
    }
    uint64_t hdr = (uint64_t)(c.p - g->map);
    g->data_start = (hdr + g->alignment - 1) / g->alignment * g->alignment;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        GgufTensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0) {
            lw_err(err, "the file is corrupt", "%s: tensor \"%s\": data offset %llu is not aligned to %llu", path, t->name,
                   (unsigned long long)t->offset, (unsigned long long)g->alignment);
            goto fail;
        }
        uint64_t abs = g->data_start + t->offset;
        if (abs < t->offset || abs > g->size || t->nbytes > g->size - abs) {
            lw_err(err, "the file is cut short (an interrupted download or copy); fetch it again (tools/fetch_demo_model.sh for the demo model)",
                   "%s: truncated GGUF: tensor \"%s\" (%s, %llu bytes at offset %llu) ends past the end of the file (%zu bytes)",
                   path, t->name, gguf_type_name(t->type), (unsigned long long)t->nbytes, (unsigned long long)abs, g->size);
            goto fail;
        }
        t->offset = abs;
        for (int64_t j = 0; j < i; j++)
            if (!strcmp(g->tensors[j].name, t->name)) {
                lw_err(err, "the file is corrupt", "%s: tensor \"%s\" appears twice", path, t->name);
                goto fail;
            }
    }
    return 0;
fail:
    gguf_close(g);
    return -1;
}

void gguf_close(Gguf *g) {
    if (g->map) munmap((void *)g->map, g->size);
    for (int64_t i = 0; i < g->n_kv; i++) free((char *)g->kv[i].key);
    for (int64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    char p[sizeof g->path];
    memcpy(p, g->path, sizeof p);
    memset(g, 0, sizeof *g);
    memcpy(g->path, p, sizeof p);
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

int gguf_checkpoint_path(const char *path, char *file, size_t file_len) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (S_ISREG(st.st_mode)) {
        if (!ends_with(path, ".gguf")) return 0;
        if (file) snprintf(file, file_len, "%s", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) return 0;
    DIR *d = opendir(path);
    if (!d) return 0;
    int n_gguf = 0, n_st = 0;
    char found[1024] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        if (ends_with(e->d_name, ".gguf")) { n_gguf++; snprintf(found, sizeof found, "%s", e->d_name); }
        if (ends_with(e->d_name, ".safetensors")) n_st++;
    }
    closedir(d);
    if (n_gguf != 1 || n_st != 0) return 0;
    if (file) snprintf(file, file_len, "%s/%s", path, found);
    return 1;
}

// ---------------------------------------------------------------------------- metadata

const GgufKV *gguf_find_kv(const Gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const GgufTensor *gguf_find_tensor(const Gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static int missing(const Gguf *g, const char *key, LwError *err) {
    return lw_err(err, "llama.cpp's converter writes this key for every model of the architecture; re-convert the model",
                  "%s: metadata \"%s\" is missing", g->path, key);
}

static int wrong_type(const Gguf *g, const GgufKV *kv, const char *want, LwError *err) {
    return lw_err(err, "the file is corrupt or not written by llama.cpp's converter",
                  "%s: metadata \"%s\" is %s%s, expected %s", g->path, kv->key,
                  kv->type == GGUF_T_ARRAY ? "an array of " : "a ", gguf_value_type_name(kv->type == GGUF_T_ARRAY ? kv->arr_type : kv->type), want);
}

static int is_int_type(uint32_t t) {
    return t == GGUF_T_U8 || t == GGUF_T_I8 || t == GGUF_T_U16 || t == GGUF_T_I16 || t == GGUF_T_U32 || t == GGUF_T_I32 || t == GGUF_T_U64 || t == GGUF_T_I64;
}

int gguf_get_int(const Gguf *g, const char *key, int required, int64_t dflt, int64_t *out, LwError *err) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) { *out = dflt; return required ? missing(g, key, err) : 0; }
    if (!is_int_type(kv->type)) return wrong_type(g, kv, "an integer", err);
    if (kv->type == GGUF_T_U64 && kv->u > INT64_MAX)
        return lw_err(err, "the file is corrupt", "%s: metadata \"%s\" = %llu is out of range", g->path, key, (unsigned long long)kv->u);
    *out = kv->i;
    return 0;
}

int gguf_get_float(const Gguf *g, const char *key, int required, double dflt, double *out, LwError *err) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) { *out = dflt; return required ? missing(g, key, err) : 0; }
    if (kv->type != GGUF_T_F32 && kv->type != GGUF_T_F64 && !is_int_type(kv->type)) return wrong_type(g, kv, "a number", err);
    *out = kv->f;
    return 0;
}

int gguf_get_bool(const Gguf *g, const char *key, int required, int dflt, int *out, LwError *err) {
    const GgufKV *kv = gguf_find_kv(g, key);
    if (!kv) { *out = dflt; return required ? missing(g, key, err) : 0; }
    if (kv->type != GGUF_T_BOOL) return wrong_type(g, kv, "a bool", err);
    *out = kv->u != 0;
    return 0;
}

int gguf_get_str(const Gguf *g, const char *key, int required, char **out, LwError *err) {
    const GgufKV *kv = gguf_find_kv(g, key);
    *out = NULL;
    if (!kv) return required ? missing(g, key, err) : 0;
    if (kv->type != GGUF_T_STRING) return wrong_type(g, kv, "a string", err);
    char *s = xmalloc(kv->str_len + 1);
    memcpy(s, kv->str, kv->str_len);
    s[kv->str_len] = 0;
    *out = s;
    return 0;
}

int gguf_get_str_array(const Gguf *g, const char *key, char ***out, int64_t *n, LwError *err) {
    const GgufKV *kv = gguf_find_kv(g, key);
    *out = NULL;
    *n = 0;
    if (!kv) return missing(g, key, err);
    if (kv->type != GGUF_T_ARRAY || kv->arr_type != GGUF_T_STRING) return wrong_type(g, kv, "an array of strings", err);
    char **v = xcalloc(kv->arr_n ? kv->arr_n : 1, sizeof *v);
    const uint8_t *p = kv->arr_data; // bounds were checked at open
    for (uint64_t k = 0; k < kv->arr_n; k++) {
        uint64_t len;
        memcpy(&len, p, 8);
        p += 8;
        if (memchr(p, 0, len)) {
            gguf_free_strs(v, (int64_t)k);
            return lw_err(err, "the file is corrupt", "%s: metadata \"%s\"[%llu] contains a NUL byte", g->path, key, (unsigned long long)k);
        }
        v[k] = xmalloc(len + 1);
        memcpy(v[k], p, len);
        v[k][len] = 0;
        p += len;
    }
    *out = v;
    *n = (int64_t)kv->arr_n;
    return 0;
}

void gguf_free_strs(char **v, int64_t n) {
    if (!v) return;
    for (int64_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

int gguf_get_int_array(const Gguf *g, const char *key, int64_t **out, int64_t *n, LwError *err) {
    const GgufKV *kv = gguf_find_kv(g, key);
    *out = NULL;
    *n = 0;
    if (!kv) return missing(g, key, err);
    if (kv->type != GGUF_T_ARRAY || !is_int_type(kv->arr_type)) return wrong_type(g, kv, "an array of integers", err);
    int64_t *v = xmalloc((kv->arr_n ? kv->arr_n : 1) * sizeof *v);
    int sz = SCALAR_BYTES[kv->arr_type];
    for (uint64_t k = 0; k < kv->arr_n; k++) {
        GgufKV tmp = {0};
        Cur c = {kv->arr_data + k * sz, kv->arr_data + (k + 1) * sz, g->map, g->path, "", err};
        cur_scalar(&c, kv->arr_type, &tmp);
        v[k] = tmp.i;
    }
    *out = v;
    *n = (int64_t)kv->arr_n;
    return 0;
}

// ---------------------------------------------------------------------------- dequantization

int gguf_check_type(const Gguf *g, const GgufTensor *t, LwError *err) {
    if (type_supported(t->type)) return 0;
    return lw_err(err, "lensweep dequantizes F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K GGUF tensors; re-quantize the model to one of these (llama-quantize) or use the safetensors checkpoint",
                  "%s: tensor \"%s\" has unsupported GGUF tensor type %s", g->path, t->name, gguf_type_name(t->type));
}

static float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return f16_to_f32(h);
}

// Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins in 12 bytes. Sub-blocks 0-3 take the low 6
// bits of bytes 0-3 (scale) and 4-7 (min); sub-blocks 4-7 take a nibble of bytes 8-11 plus the
// top 2 bits of bytes 0-3 (scale) / 4-7 (min).
static void k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

// Q3_K: 16 six-bit scales in 12 bytes: the low 4 bits of scale i are the low nibble of byte i
// (i < 8) or the high nibble of byte i - 8; the top 2 bits are bits 2·(i / 4) .. 2·(i / 4) + 1 of
// byte 8 + i % 4.
static void unpack_q3k_scales(const uint8_t *s, int8_t *out) {
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? s[i] & 0x0F : s[i - 8] >> 4;
        int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        out[i] = (int8_t)(lo | hi << 4);
    }
}

static void dequant_row(uint32_t type, const uint8_t *src, int64_t n, float *dst) {
    switch (type) {
    case GGML_F32:
        memcpy(dst, src, (size_t)n * 4);
        break;
    case GGML_F16:
        dtype_to_f32(DT_F16, src, dst, (size_t)n);
        break;
    case GGML_BF16:
        dtype_to_f32(DT_BF16, src, dst, (size_t)n);
        break;
    case GGML_Q4_0:
        for (int64_t b = 0; b < n / 32; b++, src += 18, dst += 32) {
            uint16_t h;
            memcpy(&h, src, 2);
            float d = f16_to_f32(h);
            for (int j = 0; j < 16; j++) {
                dst[j] = (float)((src[2 + j] & 0x0F) - 8) * d;
                dst[j + 16] = (float)((src[2 + j] >> 4) - 8) * d;
            }
        }
        break;
    case GGML_Q4_1:
        for (int64_t b = 0; b < n / 32; b++, src += 20, dst += 32) {
            uint16_t h, hm;
            memcpy(&h, src, 2);
            memcpy(&hm, src + 2, 2);
            float d = f16_to_f32(h), m = f16_to_f32(hm);
            for (int j = 0; j < 16; j++) {
                dst[j] = (float)(src[4 + j] & 0x0F) * d + m;
                dst[j + 16] = (float)(src[4 + j] >> 4) * d + m;
            }
        }
        break;
    case GGML_Q8_0:
        for (int64_t b = 0; b < n / 32; b++, src += 34, dst += 32) {
            uint16_t h;
            memcpy(&h, src, 2);
            float d = f16_to_f32(h);
            for (int j = 0; j < 32; j++) dst[j] = (float)(int8_t)src[2 + j] * d;
        }
        break;
    case GGML_Q5_0:
    case GGML_Q5_1: {
        int has_min = type == GGML_Q5_1, bytes = has_min ? 24 : 22, hdr = has_min ? 4 : 2;
        for (int64_t b = 0; b < n / 32; b++, src += bytes, dst += 32) {
            float d = f16_at(src), m = has_min ? f16_at(src + 2) : -16.0f * d;
            uint32_t qh;
            memcpy(&qh, src + hdr, 4);
            const uint8_t *qs = src + hdr + 4;
            for (int j = 0; j < 16; j++) {
                int lo = (qs[j] & 0x0F) | (int)((qh >> j) & 1) << 4;
                int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
                dst[j] = has_min ? (float)lo * d + m : (float)(lo - 16) * d;
                dst[j + 16] = has_min ? (float)hi * d + m : (float)(hi - 16) * d;
            }
        }
        break;
    }
    case GGML_Q2_K:
        for (int64_t b = 0; b < n / 256; b++, src += 84) {
            const uint8_t *sc = src, *q = src + 16;
            float d = f16_at(src + 80), dmin = f16_at(src + 82);
            for (int half = 0; half < 2; half++, q += 32)      // 128 weights from 32 bytes
                for (int shift = 0; shift < 8; shift += 2)     // 4 × 2 sub-blocks of 16
                    for (int k = 0; k < 2; k++, sc++) {
                        float dl = d * (float)(*sc & 0x0F), ml = dmin * (float)(*sc >> 4);
                        for (int l = 0; l < 16; l++) *dst++ = dl * (float)((q[16 * k + l] >> shift) & 3) - ml;
                    }
        }
        break;
    case GGML_Q3_K:
        for (int64_t b = 0; b < n / 256; b++, src += 110) {
            const uint8_t *hm = src, *q = src + 32, *s12 = src + 96;
            float d = f16_at(src + 108);
            int8_t sc[16];
            unpack_q3k_scales(s12, sc);
            int is = 0;
            uint8_t mbit = 1;
            for (int half = 0; half < 2; half++, q += 32)
                for (int shift = 0; shift < 8; shift += 2, mbit <<= 1)
                    for (int k = 0; k < 2; k++) {
                        float dl = d * (float)(sc[is++] - 32);
                        for (int l = 0; l < 16; l++) {
                            int lo = (q[16 * k + l] >> shift) & 3, high = hm[16 * k + l] & mbit ? 0 : 4;
                            *dst++ = dl * (float)(lo - high);
                        }
                    }
        }
        break;
    case GGML_Q4_K:
    case GGML_Q5_K: {
        int five = type == GGML_Q5_K, bytes = five ? 176 : 144;
        for (int64_t b = 0; b < n / 256; b++, src += bytes) {
            float d = f16_at(src), dmin = f16_at(src + 2);
            const uint8_t *s12 = src + 4, *qh = src + 16, *q = src + (five ? 48 : 16);
            for (int g = 0; g < 4; g++, q += 32) { // 64 weights: low nibbles (sub-block 2g), high (2g+1)
                int sc0, m0, sc1, m1;
                k4_scale_min(s12, 2 * g, &sc0, &m0);
                k4_scale_min(s12, 2 * g + 1, &sc1, &m1);
                float d0 = d * (float)sc0, mm0 = dmin * (float)m0, d1 = d * (float)sc1, mm1 = dmin * (float)m1;
                for (int l = 0; l < 32; l++) *dst++ = d0 * (float)((q[l] & 0x0F) + (five && (qh[l] >> (2 * g) & 1) ? 16 : 0)) - mm0;
                for (int l = 0; l < 32; l++) *dst++ = d1 * (float)((q[l] >> 4) + (five && (qh[l] >> (2 * g + 1) & 1) ? 16 : 0)) - mm1;
            }
        }
        break;
    }
    case GGML_Q6_K:
        for (int64_t b = 0; b < n / 256; b++, src += 210, dst += 256) {
            const uint8_t *ql = src, *qh = src + 128;
            const int8_t *sc = (const int8_t *)(src + 192);
            float d = f16_at(src + 208);
            for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8) { // 128 weights per half
                float *y = dst + 128 * h;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int q1 = ((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32;
                    int q2 = ((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) - 32;
                    int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                    int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                    y[l] = d * (float)sc[is] * (float)q1;
                    y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                    y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                    y[l + 96] = d * (float)sc[is + 6] * (float)q4;
                }
            }
        }
        break;
    default:
        LW_ASSERT(!"gguf_check_type was not called");
    }
}

int gguf_read_f32(Gguf *g, const GgufTensor *t, int64_t row0, int64_t nrows, int64_t col0, int64_t ncols,
                  float *dst, LwError *err) {
    if (gguf_check_type(g, t, err)) return -1;
    int64_t cols = t->dims[0], rows = gguf_rows(t);
    LW_ASSERT(row0 >= 0 && nrows >= 0 && row0 + nrows <= rows && col0 >= 0 && ncols >= 0 && col0 + ncols <= cols);
    size_t row_bytes = t->nbytes / (size_t)rows;
    float *tmp = (col0 == 0 && ncols == cols) ? NULL : xmalloc((size_t)cols * 4);
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *src = g->map + t->offset + (size_t)(row0 + r) * row_bytes;
        float *out = dst + (size_t)r * ncols;
        if (tmp) {
            dequant_row(t->type, src, cols, tmp);
            memcpy(out, tmp + col0, (size_t)ncols * 4);
        } else dequant_row(t->type, src, cols, out);
    }
    free(tmp);
    g->bytes_read += (size_t)nrows * row_bytes;
    return 0;
}

int gguf_weights_type(const char *path, char *out, size_t out_len) {
    char file[1100];
    if (!gguf_checkpoint_path(path, file, sizeof file)) return 0;
    Gguf g;
    LwError err = {0};
    if (gguf_open(file, &g, &err)) return 0;
    int count[64] = {0}, best = -1;
    for (int64_t i = 0; i < g.n_tensors; i++)
        if (g.tensors[i].ndim == 2 && g.tensors[i].type < 64) count[g.tensors[i].type]++;
    for (int t = 0; t < 64; t++)
        if (count[t] && (best < 0 || count[t] > count[best])) best = t;
    if (best >= 0) snprintf(out, out_len, "%s", gguf_type_name((uint32_t)best));
    gguf_close(&g);
    return best >= 0;
}
