// test_safetensors — writer and reader agree on every byte; slices are the right blocks; dtype
// conversions give hand-derived bit patterns; sharded checkpoints resolve through their index;
// corrupted headers are refused (never a crash).
//
// Element values are functions of (row, column) chosen to be exact in every dtype involved, so
// each read can be checked against the formula rather than against another read.
#include <stdlib.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"

static char root[64];

static float f32_at(int64_t r, int64_t c) { return (float)(r * 4096 + c); }  // exact in fp32 (< 2^24)
static float small_at(int64_t r, int64_t c) { return (float)((r * 7 + c) % 64 - 32) * 0.5f; } // exact in bf16/f16

typedef struct { const char *name; DType dt; int64_t rows, cols; int small; } TSpec;

static const TSpec SPECS[] = {
    {"big.f32", DT_F32, 40, 2048, 0},    // 8 KiB rows: column slices >= 4 KiB take one pread per row
    {"mat.bf16", DT_BF16, 33, 70, 1},
    {"mat.f16", DT_F16, 17, 50, 1},
    {"mat.f32", DT_F32, 9, 30, 0},
    {"vec.f32", DT_F32, 0, 77, 0},       // 1-D
    {"vec.bf16", DT_BF16, 0, 12, 1},
    {"empty.f32", DT_F32, 0, 0, 0},      // 1-D of length 0 (legal in safetensors)
};
#define NSPEC (int)(sizeof SPECS / sizeof SPECS[0])

static float spec_val(const TSpec *s, int64_t r, int64_t c) { return s->small ? small_at(r, c) : f32_at(r, c); }

static void write_set(const char *dir, int shards) {
    StWriteTensor t[NSPEC];
    for (int k = 0; k < NSPEC; k++) {
        const TSpec *s = &SPECS[k];
        int64_t rows = s->rows ? s->rows : 1, n = rows * s->cols;
        float *f = malloc((n ? n : 1) * sizeof *f);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < s->cols; c++) f[r * s->cols + c] = spec_val(s, r, c);
        void *data = malloc((n ? n : 1) * dtype_size(s->dt));
        dtype_from_f32(s->dt, f, data, n);
        free(f);
        memset(&t[k], 0, sizeof t[k]);
        t[k].name = s->name;
        t[k].dtype = s->dt;
        t[k].ndim = s->rows ? 2 : 1;
        t[k].shape[0] = s->rows ? s->rows : s->cols;
        t[k].shape[1] = s->cols;
        t[k].data = data;
    }
    LwError err = {0};
    CHECKF(st_write(dir, t, NSPEC, shards, &err) == 0, "%s", err.msg);
    for (int k = 0; k < NSPEC; k++) free((void *)t[k].data);
}

static void check_block(SafeTensors *st, const TSpec *s, int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const StTensor *t = st_find(st, s->name);
    CHECKF(t != NULL, "%s not found", s->name);
    if (!t) return;
    float *out = malloc((nr * nc > 0 ? nr * nc : 1) * sizeof *out);
    LwError err = {0};
    CHECKF(st_read_block(st, t, r0, nr, c0, nc, DT_F32, out, &err) == 0, "%s", err.msg);
    int bad = 0;
    for (int64_t r = 0; r < nr && !bad; r++)
        for (int64_t c = 0; c < nc && !bad; c++)
            if (out[r * nc + c] != spec_val(s, r0 + r, c0 + c)) {
                CHECKF(0, "%s [%lld, %lld]: %g, want %g", s->name, (long long)(r0 + r), (long long)(c0 + c), out[r * nc + c], spec_val(s, r0 + r, c0 + c));
                bad = 1;
            }
    // Same block in the stored dtype: converting it to fp32 must give the same numbers.
    void *raw = malloc((nr * nc > 0 ? nr * nc : 1) * dtype_size(t->dtype));
    CHECK(st_read_block(st, t, r0, nr, c0, nc, t->dtype, raw, &err) == 0);
    float *wide = malloc((nr * nc > 0 ? nr * nc : 1) * sizeof *wide);
    dtype_to_f32(t->dtype, raw, wide, nr * nc);
    CHECK(memcmp(wide, out, nr * nc * sizeof *out) == 0);
    free(raw);
    free(wide);
    free(out);
}

static void check_all_slices(const char *dir) {
    SafeTensors st;
    LwError err = {0};
    CHECKF(st_open(dir, &st, &err) == 0, "%s", err.msg);
    if (err.set) return;
    CHECK(st.n_tensors == NSPEC);
    for (int k = 0; k < NSPEC; k++) {
        const TSpec *s = &SPECS[k];
        const StTensor *t = st_find(&st, s->name);
        CHECK(t && t->dtype == s->dt && t->ndim == (s->rows ? 2 : 1));
        if (s->rows) {
            check_block(&st, s, 0, s->rows, 0, s->cols);                  // all
            check_block(&st, s, 3, s->rows - 5, 0, s->cols);              // rows
            check_block(&st, s, 0, s->rows, 5, s->cols / 2);              // columns
            check_block(&st, s, 2, s->rows / 3, s->cols / 3, s->cols / 2); // block
        } else if (s->cols) {
            check_block(&st, s, 0, 1, 0, s->cols);
            check_block(&st, s, 0, 1, 4, s->cols - 6);
        }
    }
    // Column slice of the big tensor with long segments (1100 fp32 = 4400 bytes per row) read
    // into bf16: exercises the per-row pread path with conversion.
    const StTensor *big = st_find(&st, "big.f32");
    uint16_t *b = malloc(40 * 1100 * 2);
    CHECK(st_read_block(&st, big, 0, 40, 900, 1100, DT_BF16, b, &err) == 0);
    int bad = 0;
    for (int r = 0; r < 40 && !bad; r++)
        for (int c = 0; c < 1100 && !bad; c++)
            if (b[r * 1100 + c] != f32_to_bf16(f32_at(r, 900 + c))) bad = 1; // dtype.c is tested by test_dtype
    CHECK(!bad);
    free(b);
    st_close(&st);
}

TEST(roundtrip_single_file) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/single", root);
    write_set(dir, 1);
    char p[160];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    CHECK(lw_file_exists(p));
    check_all_slices(dir);
}

TEST(roundtrip_sharded) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sharded", root);
    write_set(dir, 3);
    char p[200];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    CHECK(lw_file_exists(p));
    for (int s = 1; s <= 3; s++) {
        snprintf(p, sizeof p, "%s/model-%05d-of-00003.safetensors", dir, s);
        CHECKF(lw_file_exists(p), "%s", p);
    }
    // Files that are not part of the HF layout are ignored.
    snprintf(p, sizeof p, "%s/consolidated.safetensors", dir);
    LwError err = {0};
    CHECK(lw_write_file(p, "garbage", 7, &err) == 0);
    check_all_slices(dir);
    SafeTensors st;
    CHECK(st_open(dir, &st, &err) == 0);
    if (!err.set) { CHECK(st.n_files == 3); st_close(&st); }
}

// Hand-derived bit patterns: 1.5 = 0x3FC0 (bf16) = 0x3E00 (f16); -2.25 = 0xC010 = 0xC080;
// 0.1f rounds to bf16 0x3DCD (0x3DCCCCCD: the dropped half 0xCCCD > 0x8000 rounds up).
TEST(dtype_conversion_bits) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/bits", root);
    float v[3] = {1.5f, -2.25f, 0.1f};
    StWriteTensor t = {"x", DT_F32, 1, {3}, v};
    LwError err = {0};
    CHECK(st_write(dir, &t, 1, 1, &err) == 0);
    SafeTensors st;
    CHECK(st_open(dir, &st, &err) == 0);
    if (err.set) return;
    uint16_t b[3], h[2];
    CHECK(st_read_all(&st, st_find(&st, "x"), DT_BF16, b, &err) == 0);
    CHECK(b[0] == 0x3FC0 && b[1] == 0xC010 && b[2] == 0x3DCD);
    CHECK(st_read_block(&st, st_find(&st, "x"), 0, 1, 0, 2, DT_F16, h, &err) == 0);
    CHECK(h[0] == 0x3E00 && h[1] == 0xC080);
    // A 2-element slice of a 12-byte row is read as the whole row (short segments: safetensors.c).
    CHECK(st.bytes_read == 12 + 12);
    st_close(&st);
}

// The writer's output is a pure function of its input (header keys sorted, space padding to 8).
TEST(writer_layout) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/layout", root);
    float v[2] = {1, 2};
    StWriteTensor t[2] = {{"b", DT_F32, 1, {1}, v}, {"a", DT_F32, 1, {1}, v + 1}};
    LwError err = {0};
    CHECK(st_write(dir, t, 2, 1, &err) == 0);
    char p[160];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    size_t n;
    char *buf = lw_read_file(p, &n, &err);
    const char *want = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"data_offsets\":[4,8],\"dtype\":\"F32\",\"shape\":[1]},"
                       "\"b\":{\"data_offsets\":[0,4],\"dtype\":\"F32\",\"shape\":[1]}}";
    size_t hl = strlen(want), padded = (hl + 7) / 8 * 8;
    CHECK(buf && n == 8 + padded + 8);
    if (buf && n == 8 + padded + 8) {
        CHECK((unsigned char)buf[0] == (padded & 0xff) && buf[1] == (char)(padded >> 8) && buf[2] == 0);
        CHECK(memcmp(buf + 8, want, hl) == 0);
        for (size_t i = hl; i < padded; i++) CHECK(buf[8 + i] == ' ');
        float x[2];
        memcpy(x, buf + 8 + padded, 8);
        CHECK(x[0] == 1 && x[1] == 2);
    }
    free(buf);
}

// Random corruption of header bytes: st_open either succeeds or fails cleanly with a message
// naming the file; a successful open still only describes tensors inside the file.
TEST(corrupted_headers_refused) {
    char dir[128], p[160];
    snprintf(dir, sizeof dir, "%s/fuzz", root);
    write_set(dir, 1);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    size_t n;
    LwError err = {0};
    char *orig = lw_read_file(p, &n, &err);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (unsigned char)orig[i];
    uint64_t seed = 12345;
    int refused = 0, accepted = 0;
    for (int iter = 0; iter < 400; iter++) {
        char *buf = malloc(n);
        memcpy(buf, orig, n);
        for (int k = 0; k < 1 + iter % 3; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t pos = (seed >> 33) % (8 + hl);
            const char repl[] = "0123456789[]{},:\"-eE. x";
            buf[pos] = repl[(seed >> 20) % (sizeof repl - 1)];
        }
        LwError e2 = {0};
        lw_write_file(p, buf, n, &e2);
        free(buf);
        SafeTensors st;
        memset(&e2, 0, sizeof e2);
        if (st_open(dir, &st, &e2) == 0) {
            accepted++;
            for (int i = 0; i < st.n_tensors; i++)
                CHECK(st.tensors[i].offset + st.tensors[i].nbytes <= n && st.tensors[i].offset >= 8 + hl - 0);
            st_close(&st);
        } else {
            refused++;
            CHECKF(strstr(e2.msg, p) != NULL && e2.hint[0], "%s", e2.msg);
        }
    }
    CHECKF(refused > 100, "only %d of 400 corruptions refused", refused);
    printf("    corrupted headers: %d refused, %d still valid\n", refused, accepted);
    free(orig);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/lwtest_st.XXXXXX");
    if (!mkdtemp(root)) return 1;
    RUN(roundtrip_single_file);
    RUN(roundtrip_sharded);
    RUN(dtype_conversion_bits);
    RUN(writer_layout);
    RUN(corrupted_headers_refused);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
