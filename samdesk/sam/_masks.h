/*
 * Shared by the C files of samdesk.sam._masks: the arithmetic that must match PyTorch's CPU
 * bilinear kernel, and the row kernels (_masks_rows.c) that _masks.c's functions call.
 */
#ifndef SAMDESK_MASKS_H
#define SAMDESK_MASKS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_MSC_VER)
#define RESTRICT __restrict
#else
#define RESTRICT restrict
#endif

/* The compiler must not fuse a multiply and an add that PyTorch's kernel does not fuse. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#elif defined(_MSC_VER)
#pragma fp_contract(off)
#endif

/* Row loops get an AVX2 variant chosen at load time where the toolchain can do that. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SAMDESK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SAMDESK_CLONES
#endif

enum { LERP_PLAIN = 0, LERP_FMA0 = 1, LERP_FMA1 = 2 };

static inline float lerp(int mode, float w0, float a, float w1, float b)
{
    if (mode == LERP_FMA0) {
        float p = w1 * b;
        return (float)((double)w0 * (double)a + (double)p);
    }
    if (mode == LERP_FMA1) {
        float p = w0 * a;
        return (float)((double)w1 * (double)b + (double)p);
    }
    {
        float p = w0 * a;
        float q = w1 * b;
        return p + q;
    }
}

void samdesk_eval_row(int mode, uint8_t *RESTRICT row, const float *RESTRICT top,
                      const float *RESTRICT bottom, float h0, float h1, float t, int64_t x0,
                      int64_t x1);
void samdesk_eval_row_fast(int mode, uint8_t *RESTRICT row, const float *RESTRICT top,
                           const float *RESTRICT bottom, float h0, float h1, float t, float margin,
                           Py_ssize_t width, const float *RESTRICT a, const float *RESTRICT b,
                           const int64_t *RESTRICT i0, const int64_t *RESTRICT i1,
                           const float *RESTRICT w0, const float *RESTRICT w1);
void samdesk_inner_row_fast(float *RESTRICT dst, const float *RESTRICT r,
                            const int32_t *RESTRICT runs, const int32_t *RESTRICT src0,
                            const int32_t *RESTRICT src1, Py_ssize_t n_runs,
                            const float *RESTRICT w0, const float *RESTRICT w1);
float samdesk_max_abs(const float *values, Py_ssize_t width);
void samdesk_eval_row_values(int mode, float *RESTRICT row, const float *RESTRICT top,
                             const float *RESTRICT bottom, float h0, float h1, Py_ssize_t width);
void samdesk_inner_row(int mode, float *RESTRICT dst, const float *RESTRICT r,
                       const int64_t *RESTRICT i0, const int64_t *RESTRICT i1,
                       const float *RESTRICT w0, const float *RESTRICT w1, Py_ssize_t width);
void samdesk_classify_row(uint8_t *RESTRICT cls, const float *RESTRICT a, const float *RESTRICT b,
                          const int64_t *RESTRICT q, const int64_t *RESTRICT q1, Py_ssize_t n,
                          float lo, float hi);
Py_ssize_t samdesk_next_other(const uint8_t *cls, Py_ssize_t from, uint8_t skip);

#endif
