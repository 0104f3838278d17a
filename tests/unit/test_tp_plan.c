// test_tp_plan — tp_slice_plan against slices derived by hand from TENSOR_PARALLEL.md §2-4, and
// against the spec's per-rank table for the ten models (configs in tests/fixtures/configs); the
// one rule set (tp_check) against verdicts derived by hand, and the loader and `plan` agreeing.
#include "config/model_shape.h"
#include "model/model.h"
#include "test.h"

static ModelConfig load(const char *model) {
    ModelConfig c;
    char dir[256];
    snprintf(dir, sizeof dir, FIXTURES "/configs/%s", model);
    LwError err = {0};
    CHECKF(model_config_load(dir, &c, &err) == 0, "%s", err.msg);
    return c;
}

static ModelConfig shape(int H, int KV, int ff, int V) {
    ModelConfig c;
    memset(&c, 0, sizeof c);
    c.family = FAM_LLAMA;
    c.n_layers = 2; c.d_model = 64; c.head_dim = 16;
    c.n_heads = H; c.n_kv_heads = KV; c.d_ff = ff; c.vocab = V;
    return c;
}

// Llama-3-70B, H=64, KV=8, R=16 > KV: rank r keeps query heads [4r, 4r+4) and the single kv head
// floor(r*8/16) = r/2, replicated on ranks 2g and 2g+1; its query heads h use kv head h/(64/8)
// = h/8, which is r/2 for every h in [4r, 4r+4).
TEST(kv_replication_llama70b_r16) {
    ModelConfig c = load("Meta-Llama-3-70B");
    char why[512];
    for (int r = 0; r < 16; r++) {
        TpSlice s;
        CHECKF(tp_slice_plan(&c, r, 16, 0, &s, why, sizeof why) == 0, "%s", why);
        CHECK(s.head_start == 4 * r && s.n_heads == 4);
        CHECK(s.kv_start == r / 2 && s.n_kv == 1);
        for (int h = s.head_start; h < s.head_start + s.n_heads; h++) CHECK(h / 8 == s.kv_start);
        CHECK(s.ff_start == r * 1792 && s.ff_len == 1792); // 28672 / 16
        CHECK(s.vocab_start == r * 8016 && s.vocab_len == 8016); // 128256 / 16
    }
}

// Qwen3 vocabulary 151936 over 3 ranks: shards of ceil(151936/3) = 50646 rows; the last keeps
// 151936 - 2*50646 = 50644. (Heads 32 are not divisible by 3, so the shape is made up.)
TEST(uneven_vocab_151936_over_3) {
    ModelConfig c = shape(6, 3, 12, 151936);
    char why[512];
    TpSlice s[3];
    for (int r = 0; r < 3; r++) CHECKF(tp_slice_plan(&c, r, 3, 0, &s[r], why, sizeof why) == 0, "%s", why);
    CHECK(s[0].vocab_start == 0 && s[0].vocab_len == 50646);
    CHECK(s[1].vocab_start == 50646 && s[1].vocab_len == 50646);
    CHECK(s[2].vocab_start == 101292 && s[2].vocab_len == 50644);
    CHECK(s[2].head_start == 4 && s[2].n_heads == 2 && s[2].kv_start == 2 && s[2].n_kv == 1 && s[2].ff_start == 8 && s[2].ff_len == 4);
}

// V = 10 over 4: shards 3, 3, 3, 1. V = 9 over 4: the last rank would get 0 rows -> refused.
TEST(tiny_vocab_shards) {
    ModelConfig c = shape(4, 2, 8, 10);
    char why[512];
    TpSlice s;
    CHECK(tp_slice_plan(&c, 3, 4, 0, &s, why, sizeof why) == 0 && s.vocab_start == 9 && s.vocab_len == 1);
    c.vocab = 9;
    CHECK(tp_slice_plan(&c, 0, 4, 0, &s, why, sizeof why) != 0);
    CHECKF(strstr(why, "vocabulary of 9 rows") != NULL, "%s", why);
}

// Refusals name H, KV and the sizes that would work.
TEST(invalid_sizes_explained) {
    char why[512];
    TpSlice s;
    ModelConfig c = load("Qwen3-14B"); // H=40, KV=8, ff=17408 = 2^10*17: valid R are 1, 2, 4, 8
    CHECK(tp_slice_plan(&c, 0, 16, 0, &s, why, sizeof why) != 0);
    CHECKF(strstr(why, "H=40, KV=8") && strstr(why, "valid sizes: 1, 2, 4, 8") && !strstr(why, "8, "), "%s", why);
    c = load("Yi-34B"); // H=56
    CHECK(tp_slice_plan(&c, 0, 16, 0, &s, why, sizeof why) != 0);
    CHECKF(strstr(why, "56 query heads"), "%s", why);
    c = load("Meta-Llama-3-8B");
    CHECK(tp_slice_plan(&c, 0, 3, 0, &s, why, sizeof why) != 0);
    CHECKF(strstr(why, "valid sizes: 1, 2, 4, 8, 16, 32"), "%s", why);
    // R = 6 > KV = 4 but not a multiple of it: a rank would straddle two kv groups.
    c = shape(12, 4, 12, 60);
    CHECK(tp_slice_plan(&c, 0, 6, 0, &s, why, sizeof why) != 0);
    CHECKF(strstr(why, "4 kv heads"), "%s", why);
    // ff not divisible.
    c = shape(4, 4, 10, 64);
    CHECK(tp_slice_plan(&c, 0, 4, 0, &s, why, sizeof why) != 0);
    CHECKF(strstr(why, "ff=10"), "%s", why);
    CHECK(tp_slice_plan(&c, 0, 0, 0, &s, why, sizeof why) != 0);
}

// TENSOR_PARALLEL.md §3: q/kv heads per rank at R = 1, 2, 4, 8 (and 16), ff and V per rank at R = 8.
// Uneven heads (tp_uneven_heads), SmolLM2-135M's shape: H=9, KV=3 (q_per_kv 3), ff=1536,
// V=49152, R=2. Balanced: rank 0 heads [0,5), rank 1 heads [5,9). Query heads 0..4 use kv heads
// 0,0,0,1,1 -> rank 0 loads kv [0,2); heads 5..8 use 1,2,2,2 -> rank 1 loads kv [1,3) (kv head 1
// on both). ff 768 each, vocab 24576 each. At R=4 the heads are 3,2,2,2: [0,3) kv{0}, [3,5)
// kv{1}, [5,7) kv{1,2}, [7,9) kv{2}. Without the option, R=2 is refused and the option is named.
TEST(uneven_heads_smollm2) {
    ModelConfig c = shape(9, 3, 1536, 49152);
    char why[512];
    TpSlice s;
    CHECK(tp_slice_plan(&c, 0, 2, 0, &s, why, sizeof why) == -1);
    CHECKF(strstr(why, "tp_uneven_heads") != NULL, "%s", why);
    const int hs2[2][4] = {{0, 5, 0, 2}, {5, 4, 1, 2}}; // head_start, n_heads, kv_start, n_kv
    for (int r = 0; r < 2; r++) {
        CHECKF(tp_slice_plan(&c, r, 2, 1, &s, why, sizeof why) == 0, "%s", why);
        CHECK(s.head_start == hs2[r][0] && s.n_heads == hs2[r][1] && s.kv_start == hs2[r][2] && s.n_kv == hs2[r][3]);
        CHECK(s.ff_start == 768 * r && s.ff_len == 768);
        CHECK(s.vocab_start == 24576 * r && s.vocab_len == 24576);
    }
    const int hs4[4][4] = {{0, 3, 0, 1}, {3, 2, 1, 1}, {5, 2, 1, 2}, {7, 2, 2, 1}};
    for (int r = 0; r < 4; r++) {
        CHECKF(tp_slice_plan(&c, r, 4, 1, &s, why, sizeof why) == 0, "%s", why);
        CHECK(s.head_start == hs4[r][0] && s.n_heads == hs4[r][1] && s.kv_start == hs4[r][2] && s.n_kv == hs4[r][3]);
        CHECK(s.ff_len == 384);
    }
    CHECK(tp_slice_plan(&c, 0, 10, 1, &s, why, sizeof why) == -1); // more ranks than heads
    CHECKF(strstr(why, "exceed the 9 query heads") != NULL, "%s", why);
}

TEST(spec_table_ten_models) {
    static const struct { const char *m; int H, KV, ff8, v8; int r16_ok, kv16_rep; } T[] = {
        {"Mistral-7B-v0.1", 32, 8, 1792, 4000, 1, 1},   {"Meta-Llama-3-8B", 32, 8, 1792, 16032, 1, 1},
        {"Qwen3-8B", 32, 8, 1536, 18992, 1, 1},         {"gemma-2-9b", 16, 8, 1792, 32000, 1, 1},
        {"Qwen3-14B", 40, 8, 2176, 18992, 0, 0},        {"gemma-2-27b", 32, 16, 4608, 32000, 1, 0},
        {"Yi-34B", 56, 8, 2560, 8000, 0, 0},            {"Meta-Llama-3-70B", 64, 8, 3584, 16032, 1, 1},
        {"Mistral-Small-24B-Base-2501", 32, 8, 4096, 16384, 1, 1}, {"Qwen2.5-72B", 64, 8, 3696, 19008, 1, 1},
    };
    char why[512];
    for (int i = 0; i < 10; i++) {
        ModelConfig c = load(T[i].m);
        CHECK(c.n_heads == T[i].H && c.n_kv_heads == T[i].KV);
        for (int R = 1; R <= 8; R *= 2) {
            TpSlice s;
            CHECKF(tp_slice_plan(&c, R - 1, R, 0, &s, why, sizeof why) == 0, "%s R=%d: %s", T[i].m, R, why);
            CHECKF(s.n_heads == T[i].H / R && s.n_kv == T[i].KV / R, "%s R=%d", T[i].m, R);
            if (R == 8) CHECKF(s.ff_len == T[i].ff8 && s.vocab_len == T[i].v8, "%s: ff %d V %d", T[i].m, s.ff_len, s.vocab_len);
        }
        TpSlice s;
        int ok = tp_slice_plan(&c, 15, 16, 0, &s, why, sizeof why) == 0;
        CHECKF(ok == T[i].r16_ok, "%s R=16: %s", T[i].m, why);
        if (ok) CHECKF((16 > c.n_kv_heads) == T[i].kv16_rep && s.n_kv == 1 && s.n_heads == T[i].H / 16, "%s", T[i].m);
    }
}

// tp_check: the first rule each case breaks, by hand from TENSOR_PARALLEL.md §3 (order: ranks,
// heads (uneven: R <= H, R <= ff), kv heads, MLP width, vocabulary).
TEST(tp_check_rules) {
    // SmolLM2-135M: H 9, KV 3, ff 1536, V 49152
    CHECK(tp_check(9, 3, 1536, 49152, 1, 0) == TP_FITS);
    CHECK(tp_check(9, 3, 1536, 49152, 2, 0) == TP_HEADS_UNEVEN);  // 9 % 2 = 1
    CHECK(tp_check(9, 3, 1536, 49152, 3, 0) == TP_FITS);          // 3 | 9, 3 | 3, 3 | 1536, shards of 16384
    CHECK(tp_check(9, 3, 1536, 49152, 9, 0) == TP_FF_UNEVEN);     // 9 | 9, 3 | 9, 1536 = 9 * 170 + 6
    CHECK(tp_check(9, 3, 1536, 49152, 4, 1) == TP_FITS);          // uneven: 4 <= 9 heads
    CHECK(tp_check(9, 3, 1536, 49152, 10, 1) == TP_HEADS_EXCEED); // uneven: 10 > 9 heads
    CHECK(tp_check(12, 4, 12, 60, 6, 0) == TP_KV_SPLIT);          // 6 > 4 kv heads, 6 % 4 = 2
    CHECK(tp_check(4, 4, 10, 64, 4, 0) == TP_FF_UNEVEN);          // 10 % 4 = 2
    CHECK(tp_check(4, 2, 8, 9, 4, 0) == TP_VOCAB_EMPTY);          // shards of 3: ranks 0-2 hold all 9 rows
    CHECK(tp_check(8, 8, 4, 100, 6, 1) == TP_FF_EXCEED);          // uneven: 6 <= 8 heads but 6 > ff 4
    CHECK(tp_check(8, 8, 4, 100, 0, 0) == TP_NO_RANKS);
}

// The loader (tp_slice_plan) and `plan` / the tp_size check of a config (model_shape_check_tp)
// accept the same sizes, with and without tp_uneven_heads, which is a parameter (no state kept
// between calls: an uneven slice planned first does not make the even rules accept R = 2 for 9 heads).
TEST(loader_and_plan_agree) {
    static const char *const M[] = {"Qwen3-14B", "Yi-34B", "gemma-2-27b", "Meta-Llama-3-70B"};
    ModelConfig cs[8];
    int n = 0;
    for (int i = 0; i < 4; i++) cs[n++] = load(M[i]);
    cs[n++] = shape(9, 3, 1536, 49152);
    cs[n++] = shape(12, 4, 12, 60);
    cs[n++] = shape(8, 8, 4, 100);
    cs[n++] = shape(4, 2, 8, 9);
    char why[512], why2[300];
    int disagree = 0, fits = 0;
    for (int i = 0; i < n; i++) {
        LwModelShape sh;
        model_shape_from_config(&cs[i], &sh);
        for (int u = 0; u < 2; u++)
            for (int R = 2; R <= 72; R++) {
                TpSlice s;
                int loader = tp_slice_plan(&cs[i], 0, R, u, &s, why, sizeof why) == 0;
                int plan = model_shape_check_tp(&sh, R, u, why2, sizeof why2) == 0;
                fits += loader;
                if (loader != plan) {
                    disagree++;
                    printf("  H=%d KV=%d ff=%d V=%d R=%d uneven=%d: loader %d (%s), plan %d (%s)\n", cs[i].n_heads,
                           cs[i].n_kv_heads, cs[i].d_ff, cs[i].vocab, R, u, loader, why, plan, why2);
                }
            }
    }
    CHECKF(disagree == 0, "%d sizes", disagree);
    CHECK(fits > 0);
    ModelConfig c = shape(9, 3, 1536, 49152);
    TpSlice s;
    CHECK(tp_slice_plan(&c, 1, 2, 1, &s, why, sizeof why) == 0 && s.uneven_heads == 1);
    CHECK(tp_slice_plan(&c, 1, 2, 0, &s, why, sizeof why) == -1);
}

int main(void) {
    RUN(kv_replication_llama70b_r16);
    RUN(uneven_vocab_151936_over_3);
    RUN(tiny_vocab_shards);
    RUN(invalid_sizes_explained);
    RUN(spec_table_ten_models);
    RUN(uneven_heads_smollm2);
    RUN(tp_check_rules);
    RUN(loader_and_plan_agree);
    return test_summary();
}
