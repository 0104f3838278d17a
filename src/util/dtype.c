// dtype — conversions; f16 follows IEEE 754 binary16 with round-to-nearest-even.
#include "util/dtype.h"

static const char *NAMES[DT_COUNT] = {"F32", "F16", "BF16"};

const char *dtype_name(DType t) { return (t >= 0 && t < DT_COUNT) ? NAMES[t] : "?"; }

int dtype_from_name(const char *s, DType *t) {
    for (int i = 0; i < DT_COUNT; i++)
        if (strcmp(s, NAMES[i]) == 0) { *t = (DType)i; return 0; }
    return -1;
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            man &= 0x3ff;
            u = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000;
    int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;
    uint32_t man = u & 0x7fffff;
    if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
        uint32_t r = man >> shift;
        if (rest > half || (rest == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = (uint32_t)(exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) r++; // may carry into exponent: correct
    return (uint16_t)(sign | r);
}

void dtype_to_f32(DType from, const void *src, float *dst, size_t n) {
    const uint16_t *h = src;
    switch (from) {
    case DT_F32: memcpy(dst, src, n * 4); break;
    case DT_BF16: for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(h[i]); break;
    case DT_F16: for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(h[i]); break;
    default: break;
    }
}

void dtype_from_f32(DType to, const float *src, void *dst, size_t n) {
    uint16_t *h = dst;
    switch (to) {
    case DT_F32: memcpy(dst, src, n * 4); break;
    case DT_BF16: for (size_t i = 0; i < n; i++) h[i] = f32_to_bf16(src[i]); break;
    case DT_F16: for (size_t i = 0; i < n; i++) h[i] = f32_to_f16(src[i]); break;
    default: break;
    }
}
