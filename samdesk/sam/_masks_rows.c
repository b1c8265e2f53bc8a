/*
 * samdesk.sam._masks: the row kernels, vectorizable loops over one row of pixels or cells.
 * The arithmetic (lerp, in _masks.h) emulates PyTorch's CPU bilinear kernel bit for bit.
 */
#include "_masks.h"

/* One output row: row[x] = lerp(h0, top[x], h1, bottom[x]) > t for x in [x0, x1). The mode
 * is hoisted out of the loop so that the compiler vectorizes each variant. */
SAMDESK_CLONES
void samdesk_eval_row(int mode, uint8_t *RESTRICT row, const float *RESTRICT top,
                      const float *RESTRICT bottom, float h0, float h1, float t, int64_t x0,
                      int64_t x1)
{
    if (mode == LERP_FMA0) {
        const double d0 = h0;
        for (int64_t x = x0; x < x1; x++) {
            float p = h1 * bottom[x];
            row[x] = (float)(d0 * (double)top[x] + (double)p) > t;
        }
    } else if (mode == LERP_FMA1) {
        const double d1 = h1;
        for (int64_t x = x0; x < x1; x++) {
            float p = h0 * top[x];
            row[x] = (float)(d1 * (double)bottom[x] + (double)p) > t;
        }
    } else {
        for (int64_t x = x0; x < x1; x++) {
            float p = h0 * top[x];
            float q = h1 * bottom[x];
            row[x] = p + q > t;
        }
    }
}

/* eval_row for whole rows, from approximate inner passes (inner_row_fast): a float value
 * decides nearly every pixel, and only the (rare) pixels within `margin` of t get the exact
 * value, from the exact inner passes of the source rows a and b. margin must bound the
 * approximation's error (see resize_rows). Float arithmetic only: twice the pixels per
 * vector of the exact, double-based emulation. */
SAMDESK_CLONES
void samdesk_eval_row_fast(int mode, uint8_t *RESTRICT row, const float *RESTRICT top,
                           const float *RESTRICT bottom, float h0, float h1, float t, float margin,
                           Py_ssize_t width, const float *RESTRICT a, const float *RESTRICT b,
                           const int64_t *RESTRICT i0, const int64_t *RESTRICT i1,
                           const float *RESTRICT w0, const float *RESTRICT w1)
{
    const float above = t + margin, below = t - margin;
    int unsure = 0;
    for (Py_ssize_t x = 0; x < width; x++) {
        const float p = h0 * top[x];
        const float q = h1 * bottom[x];
        const float v = p + q;
        row[x] = v > above;
        unsure |= (v > below) & (v <= above);
    }
    if (!unsure) {
        return;
    }
    for (Py_ssize_t x = 0; x < width; x++) {
        const float p = h0 * top[x];
        const float q = h1 * bottom[x];
        const float v = p + q;
        if (v > below && v <= above) {
            const float exact_top = lerp(mode, w0[x], a[i0[x]], w1[x], a[i1[x]]);
            const float exact_bottom = lerp(mode, w0[x], b[i0[x]], w1[x], b[i1[x]]);
            row[x] = lerp(mode, h0, exact_top, h1, exact_bottom) > t;
        }
    }
}

/* An approximate inner pass (float arithmetic, within an ulp or so of inner_row's), for
 * eval_row_fast. The output columns go by runs reading the same two source columns
 * (runs[k] .. runs[k + 1] read src0[k], src1[k]): no gathers, which compilers do not
 * vectorize here. */
SAMDESK_CLONES
void samdesk_inner_row_fast(float *RESTRICT dst, const float *RESTRICT r,
                            const int32_t *RESTRICT runs, const int32_t *RESTRICT src0,
                            const int32_t *RESTRICT src1, Py_ssize_t n_runs,
                            const float *RESTRICT w0, const float *RESTRICT w1)
{
    for (Py_ssize_t k = 0; k < n_runs; k++) {
        const float a0 = r[src0[k]], a1 = r[src1[k]];
        for (int32_t x = runs[k]; x < runs[k + 1]; x++) {
            const float p = w0[x] * a0;
            const float q = w1[x] * a1;
            dst[x] = p + q;
        }
    }
}

/* The largest |values[x]| of a row. */
float samdesk_max_abs(const float *values, Py_ssize_t width)
{
    float m = 0.0f;
    for (Py_ssize_t x = 0; x < width; x++) {
        const float a = values[x] < 0 ? -values[x] : values[x];
        m = a > m ? a : m;
    }
    return m;
}

/* The same, keeping the values: row[x] = lerp(h0, top[x], h1, bottom[x]). */
SAMDESK_CLONES
void samdesk_eval_row_values(int mode, float *RESTRICT row, const float *RESTRICT top,
                             const float *RESTRICT bottom, float h0, float h1, Py_ssize_t width)
{
    if (mode == LERP_FMA0) {
        const double d0 = h0;
        for (Py_ssize_t x = 0; x < width; x++) {
            float p = h1 * bottom[x];
            row[x] = (float)(d0 * (double)top[x] + (double)p);
        }
    } else if (mode == LERP_FMA1) {
        const double d1 = h1;
        for (Py_ssize_t x = 0; x < width; x++) {
            float p = h0 * top[x];
            row[x] = (float)(d1 * (double)bottom[x] + (double)p);
        }
    } else {
        for (Py_ssize_t x = 0; x < width; x++) {
            float p = h0 * top[x];
            float q = h1 * bottom[x];
            row[x] = p + q;
        }
    }
}

/* The inner (width) pass of one first-stage row: dst[x] = lerp(w0[x], r[i0[x]], w1[x],
 * r[i1[x]]) for every output column x. */
SAMDESK_CLONES
void samdesk_inner_row(int mode, float *RESTRICT dst, const float *RESTRICT r,
                       const int64_t *RESTRICT i0, const int64_t *RESTRICT i1,
                       const float *RESTRICT w0, const float *RESTRICT w1, Py_ssize_t width)
{
    if (mode == LERP_FMA0) {
        for (Py_ssize_t x = 0; x < width; x++) {
            float p = w1[x] * r[i1[x]];
            dst[x] = (float)((double)w0[x] * (double)r[i0[x]] + (double)p);
        }
    } else if (mode == LERP_FMA1) {
        for (Py_ssize_t x = 0; x < width; x++) {
            float p = w0[x] * r[i0[x]];
            dst[x] = (float)((double)w1[x] * (double)r[i1[x]] + (double)p);
        }
    } else {
        for (Py_ssize_t x = 0; x < width; x++) {
            float p = w0[x] * r[i0[x]];
            float q = w1[x] * r[i1[x]];
            dst[x] = p + q;
        }
    }
}

/* The classes of one row of cells from their corner values, a vectorizable loop: 3 all > hi
 * (positive; 3 = 2 | live), 1 some > lo (the band), 0 all <= lo (negative). a, b: the cell
 * row's two first-stage rows; q, q1: each cell's two columns in them. */
SAMDESK_CLONES
void samdesk_classify_row(uint8_t *RESTRICT cls, const float *RESTRICT a, const float *RESTRICT b,
                          const int64_t *RESTRICT q, const int64_t *RESTRICT q1, Py_ssize_t n,
                          float lo, float hi)
{
    /* Upscaling (the usual case): the cells are consecutive columns, q1 = q + 1 — plain
     * loads, no gathers. The last cell may be clamped (q1 = q): the general loop below. */
    Py_ssize_t j = 0;
    if (n > 1 && q[n - 2] - q[0] == n - 2 && q1[0] == q[0] + 1 && q1[n - 2] == q[n - 2] + 1) {
        const float *a0 = a + q[0], *b0 = b + q[0];
        for (; j < n - 1; j++) {
            const float c00 = a0[j], c01 = a0[j + 1], c10 = b0[j], c11 = b0[j + 1];
            const float mn0 = c00 < c01 ? c00 : c01, mn1 = c10 < c11 ? c10 : c11;
            const float mx0 = c00 > c01 ? c00 : c01, mx1 = c10 > c11 ? c10 : c11;
            const float mn = mn0 < mn1 ? mn0 : mn1, mx = mx0 > mx1 ? mx0 : mx1;
            cls[j] = (uint8_t)(((mn > hi) << 1) | (mx > lo));
        }
    }
    for (; j < n; j++) {
        const float c00 = a[q[j]], c01 = a[q1[j]], c10 = b[q[j]], c11 = b[q1[j]];
        const float mn0 = c00 < c01 ? c00 : c01, mn1 = c10 < c11 ? c10 : c11;
        const float mx0 = c00 > c01 ? c00 : c01, mx1 = c10 > c11 ? c10 : c11;
        const float mn = mn0 < mn1 ? mn0 : mn1, mx = mx0 > mx1 ? mx0 : mx1;
        cls[j] = (uint8_t)(((mn > hi) << 1) | (mx > lo));
    }
}

/* The first j >= from with cls[j] != skip (cls ends with a byte that is not skip). Eight
 * bytes at a time: long runs of negative or of positive cells are the common case. */
Py_ssize_t samdesk_next_other(const uint8_t *cls, Py_ssize_t from, uint8_t skip)
{
    const uint64_t same = 0x0101010101010101ULL * skip;
    Py_ssize_t j = from;
    for (;;) {
        uint64_t word;
        memcpy(&word, cls + j, 8); /* cls has 8 bytes of slack at its end */
        if (word != same) {
            break;
        }
        j += 8;
    }
    while (cls[j] == skip) {
        j++;
    }
    return j;
}
