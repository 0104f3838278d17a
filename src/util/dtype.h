// dtype — the element types checkpoints store and the conversions between them.
// bf16 -> fp32 is exact (shift by 16); fp32 -> bf16 rounds to nearest even (NaN stays NaN).
#ifndef LW_DTYPE_H
#define LW_DTYPE_H

#include <stdint.h>
#include <string.h>
#include <stddef.h>

typedef enum { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_COUNT } DType;

static inline size_t dtype_size(DType t) { return t == DT_F32 ? 4 : 2; }
const char *dtype_name(DType t);             // "F32", "F16", "BF16" (safetensors spelling)
int dtype_from_name(const char *s, DType *t); // 0 on success, -1 if unknown

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Converts n elements of type `from` at src to fp32 at dst.
void dtype_to_f32(DType from, const void *src, float *dst, size_t n);
// Converts n fp32 values to type `to` (rounding to nearest even).
void dtype_from_f32(DType to, const float *src, void *dst, size_t n);

#endif
