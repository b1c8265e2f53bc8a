/*
 * samdesk.sam._masks: the inner loops of samdesk.sam.postprocess, compiled.
 *
 * Optional accelerator: when this module is not built (no C compiler at install time),
 * postprocess.py runs the same arithmetic in numpy (mask_cells.py). Both give identical bits;
 * mask_compiled.py checks this module against F.interpolate once before it trusts it.
 *
 * Arithmetic: PyTorch's CPU bilinear kernel computes out = h0*(w0*a + w1*b) + h1*(w0*c + w1*d)
 * in float32, each two-term step either as a fused multiply-add or plainly (see
 * samdesk/sam/bilinear_emulation.py). A fused step is emulated exactly as the numpy path does
 * it: the product of two floats is exact in double, so fma(w0, a, p) is
 * (float)((double)w0 * a + p). The compiler must not fuse anything else.
 *
 * Every function takes buffers (numpy arrays, C-contiguous) and releases the GIL. This file
 * holds the Python-facing functions; the row loops they call are in _masks_rows.c.
 */
#include "_masks.h"

/* A buffer argument with the item size and length it must have. */
static int check(Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t count, const char *name)
{
    if (b->len != itemsize * count) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, itemsize * count,
                     b->len);
        return -1;
    }
    return 0;
}

static void release(Py_buffer *views, int n)
{
    for (int i = 0; i < n; i++) {
        if (views[i].obj != NULL) {
            PyBuffer_Release(&views[i]);
        }
    }
}

PyDoc_STRVAR(clear_rects_doc, "clear_rects(out, height, width, planes, rects)\n\n"
                              "Set out[planes[i], y0:y1, x0:x1] = False for each rects[i] = (y0, "
                              "y1, x0, x1).\n"
                              "out: N*height*width bytes (bool); planes: R int64; rects: R*4 "
                              "int64.");

static PyObject *clear_rects(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer v[3] = {{0}};
    Py_ssize_t height, width;
    if (!PyArg_ParseTuple(args, "w*nny*y*", &v[0], &height, &width, &v[1], &v[2])) {
        release(v, 3);
        return NULL;
    }
    Py_ssize_t count = v[1].len / 8;
    if (check(&v[2], 8, 4 * count, "rects") < 0) {
        release(v, 3);
        return NULL;
    }
    uint8_t *out = v[0].buf;
    const int64_t *planes = v[1].buf, *rects = v[2].buf;
    const int64_t size = (int64_t)height * width, total = v[0].len;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS for (Py_ssize_t i = 0; i < count && !bad; i++)
    {
        const int64_t *r = rects + 4 * i;
        int64_t base = planes[i] * size;
        if (r[0] < 0 || r[1] > height || r[2] < 0 || r[3] > width || r[1] < r[0] || r[3] < r[2] ||
            base < 0 || base + size > total) {
            bad = 1;
            break;
        }
        for (int64_t y = r[0]; y < r[1]; y++) {
            memset(out + base + y * width + r[2], 0, (size_t)(r[3] - r[2]));
        }
    }
    Py_END_ALLOW_THREADS release(v, 3);
    if (bad) {
        PyErr_SetString(PyExc_IndexError, "clear_rects: rectangle outside the output");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The second stage of rows [rstart, rstop) of the cells given: into out (bytes, value > t)
 * or, when values is set, into values (floats). Returns 0, 1 on a bad index, 2 on no memory. */
static int resize_rows(int mode, uint8_t *out, float *values, float t, Py_ssize_t height,
                       Py_ssize_t width, const float *src, Py_ssize_t src_width,
                       Py_ssize_t src_rows, Py_ssize_t n_rows, const int64_t *rcell,
                       const int64_t *rcell1, const int64_t *rstart, const int64_t *rstop,
                       const float *rw0, const float *rw1, const int64_t *ci0, const int64_t *ci1,
                       const float *cw0, const float *cw1)
{
    for (Py_ssize_t x = 0; x < width; x++) {
        if (ci0[x] < 0 || ci1[x] < 0 || ci0[x] >= src_width || ci1[x] >= src_width) {
            return 1;
        }
    }
    float *buf[2] = {malloc(sizeof(float) * (size_t)width), malloc(sizeof(float) * (size_t)width)};
    /* The output columns by runs reading the same two source columns (inner_row_fast). */
    int32_t *runs = malloc(sizeof(int32_t) * (size_t)(width + 1));
    int32_t *j0 = malloc(sizeof(int32_t) * (size_t)width),
            *j1 = malloc(sizeof(int32_t) * (size_t)width);
    Py_ssize_t n_runs = 0;
    if (runs != NULL && j0 != NULL && j1 != NULL) {
        for (Py_ssize_t x = 0; x < width; x++) {
            if (x == 0 || ci0[x] != ci0[x - 1] || ci1[x] != ci1[x - 1]) {
                runs[n_runs] = (int32_t)x;
                j0[n_runs] = (int32_t)ci0[x];
                j1[n_runs] = (int32_t)ci1[x];
                n_runs++;
            }
        }
        runs[n_runs] = (int32_t)width;
    }
    int64_t held[2] = {-1, -1};   /* the source row each buffer holds */
    float peak[2] = {0.0f, 0.0f}; /* and the largest magnitude in that source row */
    int bad = buf[0] == NULL || buf[1] == NULL || runs == NULL || j0 == NULL || j1 == NULL ? 2 : 0;
    for (Py_ssize_t i = 0; i < n_rows && !bad; i++) {
        const int64_t want[2] = {rcell[i], rcell1[i]};
        if (want[0] < 0 || want[1] < 0 || want[0] >= src_rows || want[1] >= src_rows ||
            rstart[i] < 0 || rstop[i] > height || rstop[i] < rstart[i]) {
            bad = 1;
            break;
        }
        /* Consecutive cells share a source row (the bottom of one is the top of the next):
         * each row's inner pass is computed once. */
        int top = held[0] == want[0] ? 0 : held[1] == want[0] ? 1 : -1;
        if (top < 0) {
            top = held[0] == want[1] ? 1 : 0;
            if (values != NULL) {
                samdesk_inner_row(mode, buf[top], src + want[0] * src_width, ci0, ci1, cw0, cw1,
                                  width);
            } else {
                samdesk_inner_row_fast(buf[top], src + want[0] * src_width, runs, j0, j1, n_runs,
                                       cw0, cw1);
            }
            held[top] = want[0];
            if (values == NULL) {
                peak[top] = samdesk_max_abs(src + want[0] * src_width, src_width);
            }
        }
        int bottom = 1 - top;
        if (want[1] == want[0]) {
            bottom = top;
        } else if (held[bottom] != want[1]) {
            if (values != NULL) {
                samdesk_inner_row(mode, buf[bottom], src + want[1] * src_width, ci0, ci1, cw0, cw1,
                                  width);
            } else {
                samdesk_inner_row_fast(buf[bottom], src + want[1] * src_width, runs, j0, j1, n_runs,
                                       cw0, cw1);
            }
            held[bottom] = want[1];
            if (values == NULL) {
                peak[bottom] = samdesk_max_abs(src + want[1] * src_width, src_width);
            }
        }
        for (int64_t y = rstart[i]; y < rstop[i]; y++) {
            if (values != NULL) {
                samdesk_eval_row_values(mode, values + y * width, buf[top], buf[bottom], rw0[y],
                                        rw1[y], width);
            } else {
                const float h0 = rw0[y], h1 = rw1[y];
                /* Each inner value is within ~4 float ulps of the source row's largest magnitude
                 * of the exact one, the outer step adds ~3 more, the exact value rounds once:
                 * under 2^-20 of this scale; the margin keeps 4 times that. */
                const float scale =
                    (h0 < 0 ? -h0 : h0) * peak[top] + (h1 < 0 ? -h1 : h1) * peak[bottom];
                samdesk_eval_row_fast(mode, out + y * width, buf[top], buf[bottom], h0, h1, t,
                                      scale * 0x1p-18f + 0x1p-126f, width,
                                      src + want[0] * src_width, src + want[1] * src_width, ci0,
                                      ci1, cw0, cw1);
            }
        }
    }
    free(buf[0]);
    free(buf[1]);
    free(runs);
    free(j0);
    free(j1);
    return bad;
}

/* Shared argument handling of paint_plane and resize_plane. */
static PyObject *plane_call(PyObject *args, int keep_values)
{
    Py_buffer v[12] = {{0}};
    Py_ssize_t height, width, src_width;
    int mode;
    double t_ = 0.0;
    int ok =
        keep_values
            ? PyArg_ParseTuple(args,
                               "w*nni"
                               "y*n"
                               "y*y*y*y*y*y*"
                               "y*y*y*y*",
                               &v[0], &height, &width, &mode, &v[1], &src_width, &v[2], &v[3],
                               &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11])
            : PyArg_ParseTuple(args,
                               "w*nnid"
                               "y*n"
                               "y*y*y*y*y*y*"
                               "y*y*y*y*",
                               &v[0], &height, &width, &mode, &t_, &v[1], &src_width, &v[2], &v[3],
                               &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]);
    if (!ok) {
        release(v, 12);
        return NULL;
    }
    Py_ssize_t n_rows = v[2].len / 8;
    if (check(&v[0], keep_values ? 4 : 1, height * width, "out") < 0 ||
        check(&v[3], 8, n_rows, "rcell1") < 0 || check(&v[4], 8, n_rows, "rstart") < 0 ||
        check(&v[5], 8, n_rows, "rstop") < 0 || check(&v[6], 4, height, "rw0") < 0 ||
        check(&v[7], 4, height, "rw1") < 0 || check(&v[8], 8, width, "ci0") < 0 ||
        check(&v[9], 8, width, "ci1") < 0 || check(&v[10], 4, width, "cw0") < 0 ||
        check(&v[11], 4, width, "cw1") < 0 || src_width <= 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "source width must be positive");
        }
        release(v, 12);
        return NULL;
    }
    int bad;
    Py_BEGIN_ALLOW_THREADS bad = resize_rows(
        mode, keep_values ? NULL : v[0].buf, keep_values ? v[0].buf : NULL, (float)t_, height,
        width, v[1].buf, src_width, v[1].len / 4 / src_width, n_rows, v[2].buf, v[3].buf, v[4].buf,
        v[5].buf, v[6].buf, v[7].buf, v[8].buf, v[9].buf, v[10].buf, v[11].buf);
    Py_END_ALLOW_THREADS release(v, 12);
    if (bad == 2) {
        return PyErr_NoMemory();
    }
    if (bad) {
        PyErr_SetString(PyExc_IndexError, "index outside the source or the output");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(
    paint_plane_doc,
    "paint_plane(out, height, width, mode, t, src, src_width,\n"
    "            rcell, rcell1, rstart, rstop, rw0, rw1, ci0, ci1, cw0, cw1)\n\n"
    "The second stage of one plane: out[y, x] = resize(src)[y, x] > t for the rows of the cells\n"
    "given. src: the exact first-stage values (float32, rows of src_width). Rows go by cells:\n"
    "rcell/rcell1 (int64) the two source rows a cell reads, [rstart, rstop) the output rows\n"
    "reading it; rw0/rw1 (height float32) their weights. ci0/ci1 (width int64) and cw0/cw1\n"
    "(width float32): each output column's sources and weights.");

static PyObject *paint_plane(PyObject *self, PyObject *args)
{
    (void)self;
    return plane_call(args, 0);
}

PyDoc_STRVAR(
    resize_plane_doc,
    "resize_plane(out, height, width, mode, src, src_width,\n"
    "             rcell, rcell1, rstart, rstop, rw0, rw1, ci0, ci1, cw0, cw1)\n\n"
    "As paint_plane, but out (height*width float32) receives the resized values themselves.");

static PyObject *resize_plane(PyObject *self, PyObject *args)
{
    (void)self;
    return plane_call(args, 1);
}

/* A growing list of int64 5-tuples (y0, y1, x0, x1, kind). */
typedef struct {
    int64_t *items;
    Py_ssize_t count, capacity;
} Boxes;

static int boxes_add(Boxes *b, int64_t y0, int64_t y1, int64_t x0, int64_t x1, int64_t kind)
{
    if (b->count == b->capacity) {
        Py_ssize_t capacity = b->capacity ? 2 * b->capacity : 1024;
        int64_t *items = realloc(b->items, sizeof(int64_t) * 5 * (size_t)capacity);
        if (items == NULL) {
            return -1;
        }
        b->items = items;
        b->capacity = capacity;
    }
    int64_t *it = b->items + 5 * b->count++;
    it[0] = y0;
    it[1] = y1;
    it[2] = x0;
    it[3] = x1;
    it[4] = kind;
    return 0;
}

/* The work of paint_region, without the GIL. Returns 0, 1 on a bad index, 2 on no memory. */
static int region(int mode, float t, float lo, float hi, uint8_t *out, Py_ssize_t height,
                  Py_ssize_t width, int64_t oy, int64_t ox, const float *low, const int64_t *si0,
                  const int64_t *si1, const float *sw0, const float *sw1, Py_ssize_t side,
                  int64_t p0, int64_t p1, int64_t c0, int64_t c1, Py_ssize_t n_rows,
                  const int64_t *rcell, const int64_t *rcell1, const int64_t *rstart,
                  const int64_t *rstop, const float *rw0, const float *rw1, Py_ssize_t n_cols,
                  const int64_t *ccell, const int64_t *ccell1, const int64_t *cstart,
                  const int64_t *cstop, const float *cw0, const float *cw1, Boxes *boxes)
{
    if (p0 < 0 || p1 > side || c0 < 0 || c1 > side || p1 <= p0 || c1 <= c0) {
        return 1;
    }
    for (Py_ssize_t j = 0; j < n_cols; j++) {
        if (ccell[j] < c0 || ccell1[j] >= c1 || cstart[j] < ox || cstop[j] > ox + width ||
            cstop[j] < cstart[j]) {
            return 1;
        }
    }
    for (Py_ssize_t i = 0; i < n_rows; i++) {
        if (rcell[i] < p0 || rcell1[i] >= p1 || rstart[i] < oy || rstop[i] > oy + height ||
            rstop[i] < rstart[i]) {
            return 1;
        }
    }
    const Py_ssize_t cw = c1 - c0, n_first = p1 - p0;
    float *first = malloc(sizeof(float) * (size_t)(n_first * cw));
    /* Each first-stage row of the rectangle as a "cell" of one row for resize_rows: its two
     * low-res rows, and its row of first. */
    int64_t *frows = malloc(sizeof(int64_t) * 4 * (size_t)n_first);
    float *top = malloc(sizeof(float) * (size_t)width);
    float *bottom = malloc(sizeof(float) * (size_t)width);
    int bad = first == NULL || frows == NULL || top == NULL || bottom == NULL ? 2 : 0;
    if (!bad) {
        for (Py_ssize_t k = 0; k < n_first; k++) {
            frows[k] = si0[p0 + k];
            frows[n_first + k] = si1[p0 + k];
            frows[2 * n_first + k] = k;
            frows[3 * n_first + k] = k + 1;
        }
        /* 1. The exact first stage over the rectangle. */
        bad = resize_rows(mode, NULL, first, 0.0f, n_first, cw, low, 256, 256, n_first, frows,
                          frows + n_first, frows + 2 * n_first, frows + 3 * n_first, sw0 + p0,
                          sw1 + p0, si0 + c0, si1 + c0, sw0 + c0, sw1 + c0);
    }
    free(frows);
    /* 2. Cells: classified a row at a time, then runs of positive cells filled and band
     * cells evaluated pixel by pixel. */
    int64_t *q = malloc(sizeof(int64_t) * (size_t)(n_cols + 1));
    int64_t *q1 = malloc(sizeof(int64_t) * (size_t)(n_cols + 1));
    uint8_t *cls = malloc((size_t)n_cols + 9);
    if (q == NULL || q1 == NULL || cls == NULL) {
        bad = 2;
    }
    for (Py_ssize_t j = 0; j < n_cols && !bad; j++) {
        q[j] = ccell[j] - c0;
        q1[j] = ccell1[j] - c0;
    }
    for (Py_ssize_t i = 0; i < n_rows && !bad; i++) {
        const float *a = first + (rcell[i] - p0) * cw, *b = first + (rcell1[i] - p0) * cw;
        const int64_t y0 = rstart[i] - oy, y1 = rstop[i] - oy;
        samdesk_classify_row(cls, a, b, q, q1, n_cols, lo, hi);
        memset(cls + n_cols, 4, 9); /* a sentinel class: ends every run and every skip */
        Py_ssize_t j = samdesk_next_other(cls, 0, 0);
        while (j < n_cols && !bad) {
            if (cls[j] == 3) { /* a run of positive cells */
                const Py_ssize_t end = samdesk_next_other(cls, j, 3);
                const int64_t x0 = cstart[j] - ox, x1 = cstop[end - 1] - ox;
                for (int64_t y = y0; y < y1; y++) {
                    memset(out + y * width + x0, 1, (size_t)(x1 - x0));
                }
                if (boxes_add(boxes, y0, y1, x0, x1, 1) < 0) {
                    bad = 2;
                }
                j = end;
            } else if (cls[j] == 1) { /* a band cell */
                const float c00 = a[q[j]], c01 = a[q1[j]], c10 = b[q[j]], c11 = b[q1[j]];
                const int64_t x0 = cstart[j] - ox, x1 = cstop[j] - ox;
                for (int64_t x = x0; x < x1; x++) {
                    top[x] = lerp(mode, cw0[x + ox], c00, cw1[x + ox], c01);
                    bottom[x] = lerp(mode, cw0[x + ox], c10, cw1[x + ox], c11);
                }
                for (int64_t y = y0; y < y1; y++) {
                    samdesk_eval_row(mode, out + y * width, top, bottom, rw0[y + oy], rw1[y + oy],
                                     t, x0, x1);
                }
                if (boxes_add(boxes, y0, y1, x0, x1, 0) < 0) {
                    bad = 2;
                }
                j++;
            } else { /* negative cells */
                j = samdesk_next_other(cls, j, 0);
            }
        }
    }
    free(q);
    free(q1);
    free(cls);
    free(first);
    free(top);
    free(bottom);
    return bad;
}

PyDoc_STRVAR(
    paint_region_doc,
    "paint_region(out, height, width, oy, ox, mode, t, lo, hi, low, si0, si1, sw0, sw1,\n"
    "             p0, p1, c0, c1, rcell, rcell1, rstart, rstop, rw0, rw1,\n"
    "             ccell, ccell1, cstart, cstop, cw0, cw1) -> bytes\n\n"
    "One plane's mask inside its rectangle, classification and all, written into out (height x\n"
    "width bytes whose pixel (0, 0) is the frame's (oy, ox)).\n"
    "low: the 256*256 float32 logits; si0/si1/sw0/sw1: the 256 -> 1024 first stage's indices and\n"
    "weights; [p0, p1) x [c0, c1): the first-stage rectangle that can hold positive values. The\n"
    "cells inside it (rows: rcell/rcell1/rstart/rstop, cols: ccell/...; int64, frame pixels) are\n"
    "classified from their four exact first-stage values: all > hi: filled (runs along a row at\n"
    "once); all <= lo: left zero; else evaluated pixel by pixel (value > t). rw0/rw1 and cw0/cw1\n"
    "are the frame's second-stage weights. Returns the boxes written, int64 5-tuples (y0, y1,\n"
    "x0, x1, kind) in out's pixels: kind 1 a filled run, 0 an evaluated cell.");

static PyObject *paint_region(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer v[18] = {{0}};
    Py_ssize_t height, width;
    long long oy, ox, p0, p1, c0, c1;
    int mode;
    double t_, lo_, hi_;
    if (!PyArg_ParseTuple(args,
                          "w*nnLLiddd"
                          "y*y*y*y*y*"
                          "LLLL"
                          "y*y*y*y*y*y*"
                          "y*y*y*y*y*y*",
                          &v[0], &height, &width, &oy, &ox, &mode, &t_, &lo_, &hi_, &v[1], &v[2],
                          &v[3], &v[4], &v[5], &p0, &p1, &c0, &c1, &v[6], &v[7], &v[8], &v[9],
                          &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16], &v[17])) {
        release(v, 18);
        return NULL;
    }
    const Py_ssize_t side = v[2].len / 8, n_rows = v[6].len / 8, n_cols = v[12].len / 8;
    if (check(&v[0], 1, height * width, "out") < 0 || check(&v[1], 4, 65536, "low") < 0 ||
        check(&v[3], 8, side, "si1") < 0 || check(&v[4], 4, side, "sw0") < 0 ||
        check(&v[5], 4, side, "sw1") < 0 || check(&v[7], 8, n_rows, "rcell1") < 0 ||
        check(&v[8], 8, n_rows, "rstart") < 0 || check(&v[9], 8, n_rows, "rstop") < 0 ||
        check(&v[13], 8, n_cols, "ccell1") < 0 || check(&v[14], 8, n_cols, "cstart") < 0 ||
        check(&v[15], 8, n_cols, "cstop") < 0) {
        release(v, 18);
        return NULL;
    }
    /* The weights are indexed by frame pixel: they must reach the out box's far side. */
    if (oy < 0 || ox < 0 || v[10].len / 4 < oy + height || v[11].len / 4 < oy + height ||
        v[16].len / 4 < ox + width || v[17].len / 4 < ox + width) {
        PyErr_SetString(PyExc_ValueError, "paint_region: weights shorter than the out box");
        release(v, 18);
        return NULL;
    }
    Boxes boxes = {NULL, 0, 0};
    int bad;
    Py_BEGIN_ALLOW_THREADS bad =
        region(mode, (float)t_, (float)lo_, (float)hi_, v[0].buf, height, width, oy, ox, v[1].buf,
               v[2].buf, v[3].buf, v[4].buf, v[5].buf, side, p0, p1, c0, c1, n_rows, v[6].buf,
               v[7].buf, v[8].buf, v[9].buf, v[10].buf, v[11].buf, n_cols, v[12].buf, v[13].buf,
               v[14].buf, v[15].buf, v[16].buf, v[17].buf, &boxes);
    Py_END_ALLOW_THREADS release(v, 18);
    PyObject *result = NULL;
    if (bad == 2) {
        PyErr_NoMemory();
    } else if (bad) {
        PyErr_SetString(PyExc_IndexError, "paint_region: index outside the planes or out");
    } else {
        result = PyBytes_FromStringAndSize((const char *)boxes.items,
                                           (Py_ssize_t)sizeof(int64_t) * 5 * boxes.count);
    }
    free(boxes.items);
    return result;
}

static PyMethodDef methods[] = {
    {"paint_region", paint_region, METH_VARARGS, paint_region_doc},
    {"clear_rects", clear_rects, METH_VARARGS, clear_rects_doc},
    {"paint_plane", paint_plane, METH_VARARGS, paint_plane_doc},
    {"resize_plane", resize_plane, METH_VARARGS, resize_plane_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_masks",
    "Compiled inner loops of samdesk.sam.postprocess (optional accelerator).",
    -1,
    methods,
};

PyMODINIT_FUNC PyInit__masks(void)
{
    return PyModule_Create(&module);
}
