// CPU backend ops on small inputs whose results are derived by hand (each expected value says
// how it was obtained). The whole-model comparison with transformers is test_forward_golden.
#include <stdlib.h>
#include <string.h>

#include "backend/cpu.h"
#include "test.h"
#include "util/dtype.h"

// x = [1, 2, 3, 4], w = [1, 0.5, 2, -1], eps = 1e-6: mean(x²) = 30/4 = 7.5, so
// y_k = x_k · w_k / sqrt(7.5 + 1e-6) (values evaluated in double with Python's math module).
TEST(rmsnorm_small_vector) {
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 0.5f, 2, -1}, y[4];
    cpu_rmsnorm(x, w, y, 1, 4, 1e-6f);
    const double want[4] = {0.3651483473268884, 0.3651483473268884, 2.1908900839613303, -1.4605933893075536};
    for (int k = 0; k < 4; k++) CHECK_NEAR(y[k], want[k], 1e-6 * fabs(want[k]));
    // in place, two rows: the second row is the first times 10 -> same normalised output
    float xx[8] = {1, 2, 3, 4, 10, 20, 30, 40};
    cpu_rmsnorm(xx, w, xx, 2, 4, 0.0f);
    for (int k = 0; k < 4; k++) CHECK_NEAR(xx[k], xx[4 + k], 1e-6);
    CHECK_NEAR(xx[0], 1 / sqrt(7.5), 1e-7);
}

// Epsilon must be visible: x = [1e-3, -2e-3, 2e-3, -1e-3] has mean(x²) = 10e-6 / 4 = 2.5e-6, so
// with eps = 1e-6 the scale is 1 / sqrt(3.5e-6) and y_k = (x_k / 1e-3) · w_k / sqrt(3.5)
// (1 / sqrt(3.5) = 0.5345224838248488, Python's math module); dropping eps would give
// 1 / sqrt(2.5) = 0.6324555320336759, 18% more, far outside the 1e-6 relative tolerance. An
// all-zero row normalises to zeros (eps keeps 0 / sqrt(0) away), not NaN.
TEST(rmsnorm_sees_epsilon) {
    float x[8] = {1e-3f, -2e-3f, 2e-3f, -1e-3f, 0, 0, 0, 0}, w[4] = {1, 0.5f, 2, -1}, y[8];
    cpu_rmsnorm(x, w, y, 2, 4, 1e-6f);
    const double s = 0.5345224838248488;
    const double want[4] = {1 * 1 * s, -2 * 0.5 * s, 2 * 2 * s, -1 * -1 * s};
    for (int k = 0; k < 4; k++) CHECK_NEAR(y[k], want[k], 1e-6 * fabs(want[k]));
    for (int k = 4; k < 8; k++) CHECK(y[k] == 0.0f);
    // eps = 1e-5 (Gemma-2's rms_norm_eps is 1e-6, Llama-2's 1e-5): scale 1 / sqrt(12.5e-6) = 1e3 / sqrt(12.5)
    cpu_rmsnorm(x, w, y, 1, 4, 1e-5f);
    CHECK_NEAR(y[0], 1 / sqrt(12.5), 1e-6 / sqrt(12.5));
}

// theta = 10000, hd = 128: the 64 inverse frequencies as fp32 bit patterns, printed from
// transformers 5.24.0 / torch 2.15.0 with
//   LlamaRotaryEmbedding(LlamaConfig(hidden_size=4096, num_attention_heads=32,
//                        rope_theta=10000.0)).inv_freq.numpy().view(np.uint32)
static const uint32_t INV_FREQ_1E4_128[64] = {
    0x3f800000, 0x3f5dafd7, 0x3f3ff911, 0x3f263de0, 0x3f0ff59a, 0x3ef953cf, 0x3ed7e89b, 0x3ebaf81b,
    0x3ea1e89b, 0x3e8c3504, 0x3e72d423, 0x3e5247ed, 0x3e361887, 0x3e1db040, 0x3e088d77, 0x3dec7fd6,
    0x3dcccccd, 0x3db15978, 0x3d99940d, 0x3d84fe4d, 0x3d6655c2, 0x3d47763f, 0x3d2cba15, 0x3d159348,
    0x3d0186e3, 0x3ce054d2, 0x3cc2434f, 0x3ca8398b, 0x3c91ad39, 0x3c7c4d33, 0x3c5a7bf2, 0x3c3d3311,
    0x3c23d70a, 0x3c0de12d, 0x3bf5b9b0, 0x3bd4ca15, 0x3bb8449c, 0x3b9f91cc, 0x3b8a2e77, 0x3b6f520e,
    0x3b4f3e38, 0x3b33770f, 0x3b1b690d, 0x3b06946f, 0x3ae91528, 0x3ac9d75c, 0x3aaec98e, 0x3a975c0e,
    0x3a83126f, 0x3a6301e2, 0x3a44948c, 0x3a2a3b44, 0x3a136a16, 0x39ff4fac, 0x39dd1725, 0x39bf74d7,
    0x39a5cb60, 0x398f9272, 0x3978a815, 0x395753e4, 0x393a7753, 0x39217916, 0x390bd472, 0x38f22ce2,
};

TEST(rope_inv_freq_bit_exact_theta_1e4_hd_128) {
    float inv[64];
    cpu_rope_inv_freq(10000.0, 128, inv);
    int bad = 0;
    for (int j = 0; j < 64; j++) {
        uint32_t u;
        memcpy(&u, &inv[j], 4);
        if (u != INV_FREQ_1E4_128[j]) {
            bad++;
            printf("    inv_freq[%d] = 0x%08x, transformers 0x%08x\n", j, u, INV_FREQ_1E4_128[j]);
        }
    }
    CHECK(bad == 0);
}

// theta = 1e8 (Mistral-Small), hd = 128, printed the same way from MistralRotaryEmbedding
// (MistralConfig(hidden_size=5120, num_attention_heads=32, head_dim=128, rope_theta=1e8)).
// torch evaluates theta ** e with its vectorised fp32 pow, which is within 1 ulp but not always
// correctly rounded; lensweep rounds the double-precision power once (ARCHITECTURES.md §5.1), so
// here a few entries may differ by exactly 1 ulp (3 of 64 with torch 2.15 on x86-64), none more.
static const uint32_t INV_FREQ_1E8_128[64] = {
    0x3f800000, 0x3f3ff911, 0x3f0ff59a, 0x3ed7e89b, 0x3ea1e89b, 0x3e72d423, 0x3e361887, 0x3e088d77,
    0x3dcccccd, 0x3d99940d, 0x3d6655c2, 0x3d2cba15, 0x3d0186e3, 0x3cc2434f, 0x3c91ad39, 0x3c5a7bf2,
    0x3c23d70a, 0x3bf5b9b0, 0x3bb8449c, 0x3b8a2e77, 0x3b4f3e38, 0x3b1b690d, 0x3ae91528, 0x3aaec98e,
    0x3a83126f, 0x3a44948c, 0x3a136a16, 0x39dd1725, 0x39a5cb60, 0x3978a815, 0x393a7753, 0x390bd472,
    0x38d1b717, 0x389d43a4, 0x386bdcf0, 0x3830df52, 0x3804a2b2, 0x37c6ecdc, 0x37952c42, 0x375fba4f,
    0x3727c5ac, 0x36fb9f6c, 0x36bcb0c1, 0x368d7f74, 0x36543785, 0x361f23e4, 0x35eead37, 0x35b2fb73,
    0x358637bd, 0x35494c57, 0x3516f3cd, 0x34e26586, 0x34a9c603, 0x347e9fd3, 0x343ef0f8, 0x340f2f8f,
    0x33d6bf95, 0x33a109df, 0x33718615, 0x33351e06, 0x3307d19c, 0x32cbb30f, 0x3298c0c7, 0x326518e4,
};

TEST(rope_inv_freq_theta_1e8_hd_128_within_1_ulp) {
    float inv[64];
    cpu_rope_inv_freq(1e8, 128, inv);
    int off_by_one = 0, worse = 0;
    for (int j = 0; j < 64; j++) {
        uint32_t u;
        memcpy(&u, &inv[j], 4);
        long d = labs((long)u - (long)INV_FREQ_1E8_128[j]);
        off_by_one += d == 1;
        worse += d > 1;
    }
    CHECKF(worse == 0 && off_by_one <= 4, "%d entries differ by 1 ulp, %d by more", off_by_one, worse);
}

// hd = 4, theta = 10000: inv_freq = [1, 1/10000^(2/4)] = [1, 0.01]. At position 1 the angles
// are 1 and 0.01 rad; x = [1, 2, 3, 4] pairs (x0, x2) and (x1, x3) (rotate_half):
//   x0' = 1·cos 1 − 3·sin 1,  x2' = 3·cos 1 + 1·sin 1,
//   x1' = 2·cos .01 − 4·sin .01,  x3' = 4·cos .01 + 2·sin .01  (evaluated in double).
// Position 0 is the identity (cos 0 = 1, sin 0 = 0).
TEST(rope_rotate_half_known_angle) {
    float inv[2], c[4], s[4];
    cpu_rope_inv_freq(10000.0, 4, inv);
    CHECK(inv[0] == 1.0f && inv[1] == 0.01f);
    cpu_rope_tables(inv, 4, 2, c, s);
    float x[8] = {1, 2, 3, 4, 1, 2, 3, 4}; // positions 0 and 1, one head
    cpu_rope_apply(x, 2, 1, 4, 4, c, s);
    CHECK(x[0] == 1 && x[1] == 2 && x[2] == 3 && x[3] == 4);
    CHECK_NEAR(x[4], -1.9841106485555495, 1e-6);
    CHECK_NEAR(x[5], 1.959900667496664, 1e-6);
    CHECK_NEAR(x[6], 2.4623779024123156, 1e-6);
    CHECK_NEAR(x[7], 4.019799668334994, 1e-6);
}

// One head, hd = 1, scale 1. q = 1 everywhere, k = [0, ln 2, 100], v = [6, 12, 18].
//   query 0 sees key 0 only                      -> 6
//   query 1 sees scores [0, ln 2] -> p = [1/3, 2/3] -> 2 + 8 = 10 (key 2 with score 100 is in
//     the future: masked, must contribute exactly nothing)
//   query 2 sees [0, ln 2, 100] -> p ≈ [0, 0, 1]    -> 18
// With window 2 and k = [0, ln 2, ln 3]: query 2 sees keys 1, 2 only: p = [2/5, 3/5] -> 15.6.
TEST(attention_causal_mask_and_window) {
    float q[3] = {1, 1, 1}, k[3] = {0, (float)M_LN2, 100}, v[3] = {6, 12, 18}, o[3];
    CpuAttnParams p = {.n_heads = 1, .n_kv = 1, .head_dim = 1, .q_per_kv = 1, .scale = 1.0f};
    cpu_attention(q, k, v, 3, &p, o);
    CHECK_NEAR(o[0], 6, 1e-5);
    CHECK_NEAR(o[1], 10, 1e-5);
    CHECK_NEAR(o[2], 18, 1e-5);
    float k2[3] = {0, (float)M_LN2, (float)log(3.0)};
    p.window = 2;
    cpu_attention(q, k2, v, 3, &p, o);
    CHECK_NEAR(o[0], 6, 1e-5);
    CHECK_NEAR(o[1], 10, 1e-5);
    CHECK_NEAR(o[2], 15.6, 1e-5);
}

// Softcap before the mask: cap = 1 turns the scores [0, ln 2] of query 1 into
// [tanh 0, tanh ln 2] = [0, (2 − 1/2)/(2 + 1/2)] = [0, 0.6], so
// out = (6 + 12·e^0.6) / (1 + e^0.6) = 9.873937837354772. The scale multiplies before the cap:
// scale 0.5 with q = 2 gives the same scores.
TEST(attention_softcap_and_scale) {
    float q[2] = {2, 2}, k[2] = {0, (float)M_LN2}, v[2] = {6, 12}, o[2];
    CpuAttnParams p = {.n_heads = 1, .n_kv = 1, .head_dim = 1, .q_per_kv = 1, .scale = 0.5f, .softcap = 1.0f};
    cpu_attention(q, k, v, 2, &p, o);
    CHECK_NEAR(o[0], 6, 1e-5);
    CHECK_NEAR(o[1], 9.873937837354772, 1e-5);
}

// GQA with tensor-parallel offsets: this rank holds global query heads 2, 3 and global kv head 1
// (q_per_kv = 2, so both use kv head 1 = local 0). Head 2 has q = 0 (uniform weights), head 3
// has q = 1 with k = [0, ln 2]; v = [6, 12] (hd = 1). Position 1: head 2 -> (6+12)/2 = 9,
// head 3 -> 10 (as above).
TEST(attention_gqa_rank_offsets) {
    float q[4] = {0, 1, 0, 1}; // [T=2, heads=2, hd=1]
    float k[2] = {0, (float)M_LN2}, v[2] = {6, 12}, o[4];
    CpuAttnParams p = {.n_heads = 2, .n_kv = 1, .head_dim = 1, .q_per_kv = 2, .head_start = 2,
                       .kv_start = 1, .scale = 1.0f};
    cpu_attention(q, k, v, 2, &p, o);
    CHECK_NEAR(o[0], 6, 1e-5);
    CHECK_NEAR(o[1], 6, 1e-5);
    CHECK_NEAR(o[2], 9, 1e-5);
    CHECK_NEAR(o[3], 10, 1e-5);
}

// softmax_range over [1, 3) of [50, 0, ln 3, 50]: p = [0, 1/4, 3/4, 0] (entries outside the range
// are masked and become exactly 0).
TEST(softmax_masked_entries) {
    float s[4] = {50, 0, (float)log(3.0), 50};
    cpu_softmax_range(s, 4, 1, 3);
    CHECK(s[0] == 0.0f && s[3] == 0.0f);
    CHECK_NEAR(s[1], 0.25, 1e-7);
    CHECK_NEAR(s[2], 0.75, 1e-7);
}

// tanh(ln 3) = (3 − 1/3)/(3 + 1/3) = 0.8, so softcap(30·ln 3, 30) = 24; softcap(0) = 0; odd.
TEST(softcap_known_values) {
    float s[3] = {(float)(30 * log(3.0)), 0, (float)(-30 * log(3.0))};
    cpu_softcap(s, 3, 30.0f);
    CHECK_NEAR(s[0], 24, 1e-5);
    CHECK(s[1] == 0.0f);
    CHECK_NEAR(s[2], -24, 1e-5);
}

// gelu_tanh(1) = 0.5·(1 + tanh(sqrt(2/π)·(1 + 0.044715))) = 0.8411919906082768 (double);
// silu(1) = 1 / (1 + e^-1) = 0.7310585786300049; both are odd-ish: gelu(0) = silu(0) = 0.
TEST(activations_by_hand) {
    CHECK_NEAR(cpu_gelu_tanh(1.0f), 0.8411919906082768, 1e-7);
    CHECK_NEAR(cpu_silu(1.0f), 0.7310585786300049, 1e-7);
    CHECK(cpu_gelu_tanh(0.0f) == 0.0f && cpu_silu(0.0f) == 0.0f);
    // gelu(x) − gelu(−x) = x for the tanh form (tanh is odd): at x = 2, 2.
    CHECK_NEAR(cpu_gelu_tanh(2.0f) - cpu_gelu_tanh(-2.0f), 2.0, 1e-6);
    float g[2] = {1, 1}, u[2] = {2, 3};
    cpu_gated_act(g, u, 2, 0);
    CHECK_NEAR(g[0], 2 * 0.7310585786300049, 1e-6);
    CHECK_NEAR(g[1], 3 * 0.7310585786300049, 1e-6);
}

// W = [[1, 2], [3, 4], [0.5, -1]] stored as bf16 / f16 / f32, x = [[1, 1], [2, -1]]:
// y = x·Wᵀ = [[3, 7, -0.5], [0, 2, 2]], + bias [1, 0, -1].
TEST(matmul_small_all_dtypes) {
    float wf[6] = {1, 2, 3, 4, 0.5f, -1}, x[4] = {1, 1, 2, -1}, bias[3] = {1, 0, -1}, y[6];
    const float want[6] = {4, 7, -1.5f, 1, 2, 1};
    uint16_t wh[6];
    for (int dt = 0; dt < DT_COUNT; dt++) {
        const void *w = wf;
        if (dt != DT_F32) { dtype_from_f32((DType)dt, wf, wh, 6); w = wh; }
        cpu_matmul(x, 2, (DType)dt, w, 3, 2, bias, y);
        for (int i = 0; i < 6; i++) CHECKF(y[i] == want[i], "dtype %s y[%d] = %g, want %g", dtype_name((DType)dt), i, y[i], want[i]);
    }
}

// A bf16 matrix wide enough to be widened in several tiles (150 rows of 16384: tiles of 64 rows).
// Entries are small integers, so every product and sum is exact in fp32 and the expected value
// is the integer sum: W[o][i] = (o + i) % 7 − 3, x[t][i] = (t + 2i) % 5 − 2.
TEST(matmul_tiled_bf16_exact) {
    const int out = 150, in = 16384, T = 3;
    uint16_t *w = malloc((size_t)out * in * 2);
    float *x = malloc((size_t)T * in * 4), *y = malloc((size_t)T * out * 4);
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) w[(size_t)o * in + i] = f32_to_bf16((float)((o + i) % 7 - 3));
    for (int t = 0; t < T; t++)
        for (int i = 0; i < in; i++) x[(size_t)t * in + i] = (float)((t + 2 * i) % 5 - 2);
    cpu_matmul(x, T, DT_BF16, w, out, in, NULL, y);
    int bad = 0;
    for (int t = 0; t < T; t++)
        for (int o = 0; o < out; o++) {
            long s = 0;
            for (int i = 0; i < in; i++) s += (long)((o + i) % 7 - 3) * ((t + 2 * i) % 5 - 2);
            if (y[(size_t)t * out + o] != (float)s) bad++;
        }
    CHECKF(bad == 0, "%d of %d outputs differ", bad, T * out);
    free(w); free(x); free(y);
}

// Long sequences: the query-blocked attention (blocks of 128 queries, keys outside every window
// skipped) against a direct transcription of the definition in ARCHITECTURES.md §3.5, evaluated
// in double: s = q·k · scale, s = cap·tanh(s/cap), softmax over visible keys, Σ p·v. T = 300
// crosses two block boundaries; window 37 does not divide the block size; 4 local query heads
// (global 4..7) share 2 local kv heads (global 2, 3) with q_per_kv 2.
static double lcg_uniform(uint64_t *st) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*st >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void attention_direct(const float *q, const float *k, const float *v, int T, const CpuAttnParams *p,
                             double *out) {
    int hd = p->head_dim, qs = p->n_heads * hd, ks = p->n_kv * hd;
    double *w = malloc((size_t)T * sizeof(double));
    for (int h = 0; h < p->n_heads; h++) {
        int g = (p->head_start + h) / p->q_per_kv - p->kv_start;
        for (int i = 0; i < T; i++) {
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < T; j++) {
                int visible = j <= i && (p->window == 0 || j > i - p->window);
                if (!visible) { w[j] = -INFINITY; continue; }
                double s = 0;
                for (int e = 0; e < hd; e++) s += (double)q[(size_t)i * qs + h * hd + e] * k[(size_t)j * ks + g * hd + e];
                s *= p->scale;
                if (p->softcap > 0) s = p->softcap * tanh(s / p->softcap);
                w[j] = s;
                mx = fmax(mx, s);
            }
            for (int j = 0; j < T; j++) { w[j] = isinf(w[j]) ? 0 : exp(w[j] - mx); sum += w[j]; }
            for (int e = 0; e < hd; e++) {
                double o = 0;
                for (int j = 0; j < T; j++) o += w[j] / sum * v[(size_t)j * ks + g * hd + e];
                out[(size_t)i * qs + h * hd + e] = o;
            }
        }
    }
    free(w);
}

TEST(attention_long_blocked_vs_definition) {
    const int T = 300, hd = 16;
    CpuAttnParams p = {.n_heads = 4, .n_kv = 2, .head_dim = hd, .q_per_kv = 2, .head_start = 4, .kv_start = 2,
                       .scale = 0.25f};
    size_t nq = (size_t)T * p.n_heads * hd, nk = (size_t)T * p.n_kv * hd;
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4);
    double *ref = malloc(nq * 8);
    uint64_t st = 42;
    for (size_t i = 0; i < nq; i++) q[i] = (float)(2 * lcg_uniform(&st));
    for (size_t i = 0; i < nk; i++) { k[i] = (float)(2 * lcg_uniform(&st)); v[i] = (float)lcg_uniform(&st); }
    const int windows[3] = {0, 37, 0};
    const float caps[3] = {0, 0, 2.0f};
    for (int c = 0; c < 3; c++) {
        p.window = windows[c];
        p.softcap = caps[c];
        cpu_attention(q, k, v, T, &p, o);
        attention_direct(q, k, v, T, &p, ref);
        double dm = 0, rm = 0;
        for (size_t i = 0; i < nq; i++) { dm = fmax(dm, fabs(o[i] - ref[i])); rm = fmax(rm, fabs(ref[i])); }
        CHECKF(dm <= 1e-5 * rm, "window %d softcap %g: max|diff| %.3g, max|ref| %.3g", p.window, p.softcap, dm, rm);
    }
    free(q); free(k); free(v); free(o); free(ref);
}

// The double-accumulating products (cpu_matmul_exact / cpu_matmul_f64) against a direct
// definition: every product and sum in long double, rounded to fp32 once. Shape T = 17, out = 128,
// in = 64 is one where OpenBLAS's fp32 sgemm rounds a column differently when it is given 128
// columns than when it is given 64 (measured), i.e. where a tensor-parallel split would change
// the result. Checked: (1) exact = definition bit for bit, (2) the two column halves computed
// separately (two ranks of a column-parallel product) give the same bits, (3) the two halves of
// the inner dimension, summed in double (two ranks of a row-parallel product), give the same bits,
// for fp32 and bf16 weights, with a bias.
TEST(matmul_exact_split_invariant) {
    enum { T = 17, OUT = 128, IN = 64 };
    static float x[T * IN], wf[OUT * IN], bias[OUT], y[T * OUT], yh[T * OUT], xa[T * IN / 2], xb[T * IN / 2];
    static uint16_t wh[OUT * IN], wa[OUT * IN / 2], wb[OUT * IN / 2];
    static double da[T * OUT], db[T * OUT];
    uint64_t st = 7;
    for (int i = 0; i < T * IN; i++) x[i] = (float)lcg_uniform(&st);
    for (int i = 0; i < OUT * IN; i++) wf[i] = (float)lcg_uniform(&st);
    for (int o = 0; o < OUT; o++) bias[o] = (float)lcg_uniform(&st);
    for (int dt = 0; dt < 2; dt++) {
        DType d = dt ? DT_BF16 : DT_F32;
        const void *w = wf;
        if (d == DT_BF16) { dtype_from_f32(d, wf, wh, OUT * IN); dtype_to_f32(d, wh, wf, OUT * IN); w = wh; }
        int bad_def = 0, bad_col = 0, bad_row = 0;
        cpu_matmul_exact(x, T, d, w, OUT, IN, bias, y);
        for (int t = 0; t < T; t++)
            for (int o = 0; o < OUT; o++) {
                long double s = 0;
                for (int i = 0; i < IN; i++) s += (long double)x[t * IN + i] * wf[o * IN + i];
                bad_def += y[t * OUT + o] != (float)(double)s + bias[o];
            }
        // column halves: rows 0..63 and 64..127 of W, written into the two halves of each output row
        size_t es = dtype_size(d);
        float tmp[T * OUT / 2];
        for (int hlf = 0; hlf < 2; hlf++) {
            cpu_matmul_exact(x, T, d, (const uint8_t *)w + (size_t)hlf * (OUT / 2) * IN * es, OUT / 2, IN, bias + hlf * OUT / 2, tmp);
            for (int t = 0; t < T; t++)
                for (int o = 0; o < OUT / 2; o++) yh[t * OUT + hlf * OUT / 2 + o] = tmp[t * OUT / 2 + o];
        }
        for (int i = 0; i < T * OUT; i++) bad_col += y[i] != yh[i];
        // inner halves: x[:, :32]·W[:, :32]ᵀ + x[:, 32:]·W[:, 32:]ᵀ, each in double, summed in double
        for (int t = 0; t < T; t++)
            for (int i = 0; i < IN / 2; i++) { xa[t * IN / 2 + i] = x[t * IN + i]; xb[t * IN / 2 + i] = x[t * IN + IN / 2 + i]; }
        for (int o = 0; o < OUT; o++)
            for (int i = 0; i < IN / 2; i++) { wa[o * IN / 2 + i] = wh[o * IN + i]; wb[o * IN / 2 + i] = wh[o * IN + IN / 2 + i]; }
        float *fa = malloc(sizeof(float) * OUT * IN / 2), *fb = malloc(sizeof(float) * OUT * IN / 2);
        for (int o = 0; o < OUT; o++)
            for (int i = 0; i < IN / 2; i++) { fa[o * IN / 2 + i] = wf[o * IN + i]; fb[o * IN / 2 + i] = wf[o * IN + IN / 2 + i]; }
        cpu_matmul_f64(xa, T, d, d == DT_BF16 ? (const void *)wa : fa, OUT, IN / 2, da);
        cpu_matmul_f64(xb, T, d, d == DT_BF16 ? (const void *)wb : fb, OUT, IN / 2, db);
        for (int t = 0; t < T; t++)
            for (int o = 0; o < OUT; o++) bad_row += y[t * OUT + o] != (float)(da[t * OUT + o] + db[t * OUT + o]) + bias[o];
        free(fa); free(fb);
        CHECKF(bad_def == 0 && bad_col == 0 && bad_row == 0, "%s: %d outputs differ from the definition, %d with split columns, %d with a split inner dimension",
               dtype_name(d), bad_def, bad_col, bad_row);
    }
}

// The lens decode's product (cpu_matmul_rowdot) against its documented arithmetic, written out
// here one output at a time: 8 fp32 lanes over k (k ≡ j mod 8), the lanes added as
// ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), then the tail in order. Checked bit for bit for fp32, bf16
// and f16 weights on shapes that are multiples of nothing (T = 67, out = 301, in = 75 and 576),
// and that a sub-block of rows and columns computed by its own call (another rank's vocabulary
// shard, another chunk of rows) gives the same bits; against long double within the error bound
// of that order, (in/8 + 4)·2⁻²⁴·Σ|x_k·w_k| (in/8 additions per lane, 3 to join them, the tail).
__attribute__((optimize("fp-contract=off")))
static float rowdot_definition(const float *x, const float *w, int in) {
    float lane[8] = {0};
    int k8 = in - in % 8;
    for (int k = 0; k < k8; k++) lane[k % 8] = lane[k % 8] + x[k] * w[k];
    float s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (int k = k8; k < in; k++) s = s + x[k] * w[k];
    return s;
}

TEST(matmul_rowdot_fixed_order) {
    enum { T = 67, OUT = 301 };
    const int ins[2] = {75, 576};
    for (int ii = 0; ii < 2; ii++) {
        int IN = ins[ii];
        float *x = malloc(sizeof(float) * T * IN), *wf = malloc(sizeof(float) * OUT * IN);
        float *y = malloc(sizeof(float) * T * OUT), *ys = malloc(sizeof(float) * T * OUT);
        uint16_t *wh = malloc(sizeof(uint16_t) * OUT * IN);
        uint64_t st = 11 + ii;
        for (int i = 0; i < T * IN; i++) x[i] = (float)lcg_uniform(&st) * 3.0f;
        for (int dt = 0; dt < 3; dt++) {
            DType d = dt == 0 ? DT_F32 : dt == 1 ? DT_BF16 : DT_F16;
            for (int i = 0; i < OUT * IN; i++) wf[i] = (float)lcg_uniform(&st);
            const void *w = wf;
            if (d != DT_F32) { dtype_from_f32(d, wf, wh, OUT * IN); dtype_to_f32(d, wh, wf, OUT * IN); w = wh; }
            cpu_matmul_rowdot(x, T, d, w, OUT, IN, y);
            int bad_def = 0, bad_sub = 0;
            double worst = 0;
            for (int t = 0; t < T; t++)
                for (int o = 0; o < OUT; o++) {
                    float want = rowdot_definition(x + (size_t)t * IN, wf + (size_t)o * IN, IN);
                    bad_def += memcmp(&want, &y[t * OUT + o], sizeof want) != 0;
                    long double s = 0, sa = 0;
                    for (int k = 0; k < IN; k++) {
                        s += (long double)x[t * IN + k] * wf[o * IN + k];
                        sa += fabsl((long double)x[t * IN + k] * wf[o * IN + k]);
                    }
                    double e = (double)(fabsl((long double)y[t * OUT + o] - s) / sa) / ((IN / 8 + 4) * 0x1p-24);
                    if (e > worst) worst = e;
                }
            // rows 5..17 against weight rows 37..136, as a call of its own
            enum { R0 = 5, NR = 13, C0 = 37, NC = 100 };
            cpu_matmul_rowdot(x + (size_t)R0 * IN, NR, d, (const uint8_t *)w + (size_t)C0 * IN * dtype_size(d), NC, IN, ys);
            for (int t = 0; t < NR; t++)
                for (int o = 0; o < NC; o++) bad_sub += memcmp(&ys[t * NC + o], &y[(R0 + t) * OUT + C0 + o], sizeof(float)) != 0;
            CHECKF(bad_def == 0 && bad_sub == 0 && worst <= 1.0,
                   "%s in=%d: %d outputs differ from the definition, %d in a sub-block call, worst error %.2f of the bound",
                   dtype_name(d), IN, bad_def, bad_sub, worst);
        }
        free(x); free(wf); free(y); free(ys); free(wh);
    }
}

int main(void) {
    RUN(rmsnorm_small_vector);
    RUN(rmsnorm_sees_epsilon);
    RUN(rope_inv_freq_bit_exact_theta_1e4_hd_128);
    RUN(rope_inv_freq_theta_1e8_hd_128_within_1_ulp);
    RUN(rope_rotate_half_known_angle);
    RUN(attention_causal_mask_and_window);
    RUN(attention_softcap_and_scale);
    RUN(attention_gqa_rank_offsets);
    RUN(attention_long_blocked_vs_definition);
    RUN(softmax_masked_entries);
    RUN(softcap_known_values);
    RUN(activations_by_hand);
    RUN(matmul_small_all_dtypes);
    RUN(matmul_tiled_bf16_exact);
    RUN(matmul_exact_split_invariant);
    RUN(matmul_rowdot_fixed_order);
    return test_summary();
}
