/*
 * samdesk.sam._masks: the inner loops of samdesk.sam.postprocess, compiled.
 *
 * Optional accelerator: when this module is not built (no C compiler at install time),
 * postprocess.py runs the same arithmetic in numpy. Both give identical bits; postprocess
 * checks this module against F.interpolate once before it trusts it.
 *
 * Arithmetic: PyTorch's CPU bilinear kernel computes out = h0*(w0*a + w1*b) + h1*(w0*c + w1*d)
 * in float32, each two-term step either as a fused multiply-add or plainly (see
 * samdesk/sam/bilinear_emulation.py). A fused step is emulated exactly as the numpy path does
 * it: the product of two floats is exact in double, so fma(w0, a, p) is
 * (float)((double)w0 * a + p). The compiler must not fuse anything else.
 *
 * Every function takes buffers (numpy arrays, C-contiguous) and releases the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#elif defined(_MSC_VER)
#pragma fp_contract(off)
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

/* One output row: row[x] = lerp(h0, top[x], h1, bottom[x]) > t for x in [x0, x1). The mode
 * is hoisted out of the loop so that the compiler vectorizes each variant. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SAMDESK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SAMDESK_CLONES
#endif

SAMDESK_CLONES
static void eval_row(int mode, uint8_t *row, const float *top, const float *bottom, float h0,
                     float h1, float t, int64_t x0, int64_t x1)
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

/* The same, keeping the values: row[x] = lerp(h0, top[x], h1, bottom[x]). */
SAMDESK_CLONES
static void eval_row_values(int mode, float *row, const float *top, const float *bottom, float h0,
                            float h1, Py_ssize_t width)
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
static void inner_row(int mode, float *dst, const float *r, const int64_t *i0, const int64_t *i1,
                      const float *w0, const float *w1, Py_ssize_t width)
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

/* A buffer argument with the item size and length it must have. */
static int check(Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t count, const char *name)
{
    if (b->len != itemsize * count) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name,
                     itemsize * count, b->len);
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

PyDoc_STRVAR(paint_rects_doc,
"paint_rects(out, height, width, planes, rects, value)\n\n"
"Set out[planes[i], y0:y1, x0:x1] = value (0 or 1) for each rects[i] = (y0, y1, x0, x1).\n"
"out: N*height*width bytes (bool); planes: R int64; rects: R*4 int64.");

static PyObject *paint_rects(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer v[3] = {{0}};
    Py_ssize_t height, width;
    int value;
    if (!PyArg_ParseTuple(args, "w*nny*y*p", &v[0], &height, &width, &v[1], &v[2], &value)) {
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
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count && !bad; i++) {
        const int64_t *r = rects + 4 * i;
        int64_t base = planes[i] * size;
        if (r[0] < 0 || r[1] > height || r[2] < 0 || r[3] > width || r[1] < r[0]
            || r[3] < r[2] || base < 0 || base + size > total) {
            bad = 1;
            break;
        }
        for (int64_t y = r[0]; y < r[1]; y++) {
            memset(out + base + y * width + r[2], value, (size_t)(r[3] - r[2]));
        }
    }
    Py_END_ALLOW_THREADS
    release(v, 3);
    if (bad) {
        PyErr_SetString(PyExc_IndexError, "paint_rects: rectangle outside the output");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(paint_cells_doc,
"paint_cells(out, height, width, mode, t, lo, hi, planes, y0, y1, x0, x1, corners,\n"
"            rw0, rw1, cw0, cw1)\n\n"
"Evaluate K second-stage cells exactly and write their pixels.\n"
"Cell k covers rows [y0[k], y1[k]) x cols [x0[k], x1[k]) of plane planes[k]; corners[k] =\n"
"(x00, x01, x10, x11), its first-stage values (top-left, top-right, bottom-left,\n"
"bottom-right). rw0/rw1 (height float32) and cw0/cw1 (width float32) are the second stage's\n"
"weights. A cell whose corners are all > hi is written True, one whose corners are all\n"
"<= lo is left as it is (the output is zeroed); the others pixel by pixel, value > t.");

static PyObject *paint_cells(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer v[11] = {{0}};
    Py_ssize_t height, width;
    int mode;
    double t_, lo_, hi_;
    if (!PyArg_ParseTuple(args, "w*nniddd" "y*y*y*y*y*y*" "y*y*y*y*", &v[0], &height, &width,
                          &mode, &t_, &lo_, &hi_, &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                          &v[7], &v[8], &v[9], &v[10])) {
        release(v, 11);
        return NULL;
    }
    Py_ssize_t count = v[1].len / 8;
    if (check(&v[2], 8, count, "y0") < 0 || check(&v[3], 8, count, "y1") < 0
        || check(&v[4], 8, count, "x0") < 0 || check(&v[5], 8, count, "x1") < 0
        || check(&v[6], 4, 4 * count, "corners") < 0 || check(&v[7], 4, height, "rw0") < 0
        || check(&v[8], 4, height, "rw1") < 0 || check(&v[9], 4, width, "cw0") < 0
        || check(&v[10], 4, width, "cw1") < 0) {
        release(v, 11);
        return NULL;
    }
    uint8_t *out = v[0].buf;
    const int64_t *planes = v[1].buf, *ya = v[2].buf, *yb = v[3].buf, *xa = v[4].buf,
                  *xb = v[5].buf;
    const float *corners = v[6].buf, *rw0 = v[7].buf, *rw1 = v[8].buf, *cw0 = v[9].buf,
                *cw1 = v[10].buf;
    const float t = (float)t_, lo = (float)lo_, hi = (float)hi_;
    const int64_t size = (int64_t)height * width, total = v[0].len;
    int bad = 0;
    float *top = NULL, *bottom = NULL;
    Py_BEGIN_ALLOW_THREADS
    top = malloc(sizeof(float) * (size_t)width);
    bottom = malloc(sizeof(float) * (size_t)width);
    if (top == NULL || bottom == NULL) {
        bad = 2;
    }
    for (Py_ssize_t k = 0; k < count && !bad; k++) {
        const float *c = corners + 4 * k;
        int64_t base = planes[k] * size;
        if (ya[k] < 0 || yb[k] > height || xa[k] < 0 || xb[k] > width || yb[k] < ya[k]
            || xb[k] < xa[k] || base < 0 || base + size > total) {
            bad = 1;
            break;
        }
        if (c[0] <= lo && c[1] <= lo && c[2] <= lo && c[3] <= lo) {
            continue;
        }
        if (c[0] > hi && c[1] > hi && c[2] > hi && c[3] > hi) {
            for (int64_t y = ya[k]; y < yb[k]; y++) {
                memset(out + base + y * width + xa[k], 1, (size_t)(xb[k] - xa[k]));
            }
            continue;
        }
        /* Inner (width) pass on the cell's two first-stage rows, then the outer pass. */
        for (int64_t x = xa[k]; x < xb[k]; x++) {
            top[x] = lerp(mode, cw0[x], c[0], cw1[x], c[1]);
            bottom[x] = lerp(mode, cw0[x], c[2], cw1[x], c[3]);
        }
        for (int64_t y = ya[k]; y < yb[k]; y++) {
            eval_row(mode, out + base + y * width, top, bottom, rw0[y], rw1[y], t, xa[k], xb[k]);
        }
    }
    free(top);
    free(bottom);
    Py_END_ALLOW_THREADS
    release(v, 11);
    if (bad == 2) {
        return PyErr_NoMemory();
    }
    if (bad) {
        PyErr_SetString(PyExc_IndexError, "paint_cells: cell outside the output");
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
                       const float *rw0, const float *rw1, const int64_t *ci0,
                       const int64_t *ci1, const float *cw0, const float *cw1)
{
    for (Py_ssize_t x = 0; x < width; x++) {
        if (ci0[x] < 0 || ci1[x] < 0 || ci0[x] >= src_width || ci1[x] >= src_width) {
            return 1;
        }
    }
    float *buf[2] = {malloc(sizeof(float) * (size_t)width), malloc(sizeof(float) * (size_t)width)};
    int64_t held[2] = {-1, -1}; /* the source row each buffer holds */
    int bad = buf[0] == NULL || buf[1] == NULL ? 2 : 0;
    for (Py_ssize_t i = 0; i < n_rows && !bad; i++) {
        const int64_t want[2] = {rcell[i], rcell1[i]};
        if (want[0] < 0 || want[1] < 0 || want[0] >= src_rows || want[1] >= src_rows
            || rstart[i] < 0 || rstop[i] > height || rstop[i] < rstart[i]) {
            bad = 1;
            break;
        }
        /* Consecutive cells share a source row (the bottom of one is the top of the next):
         * each row's inner pass is computed once. */
        int top = held[0] == want[0] ? 0 : held[1] == want[0] ? 1 : -1;
        if (top < 0) {
            top = held[0] == want[1] ? 1 : 0;
            inner_row(mode, buf[top], src + want[0] * src_width, ci0, ci1, cw0, cw1, width);
            held[top] = want[0];
        }
        int bottom = 1 - top;
        if (want[1] == want[0]) {
            bottom = top;
        } else if (held[bottom] != want[1]) {
            inner_row(mode, buf[bottom], src + want[1] * src_width, ci0, ci1, cw0, cw1, width);
            held[bottom] = want[1];
        }
        for (int64_t y = rstart[i]; y < rstop[i]; y++) {
            if (values != NULL) {
                eval_row_values(mode, values + y * width, buf[top], buf[bottom], rw0[y], rw1[y],
                                width);
            } else {
                eval_row(mode, out + y * width, buf[top], buf[bottom], rw0[y], rw1[y], t, 0,
                         width);
            }
        }
    }
    free(buf[0]);
    free(buf[1]);
    return bad;
}

/* Shared argument handling of paint_plane and resize_plane. */
static PyObject *plane_call(PyObject *args, int keep_values)
{
    Py_buffer v[12] = {{0}};
    Py_ssize_t height, width, src_width;
    int mode;
    double t_ = 0.0;
    int ok = keep_values
        ? PyArg_ParseTuple(args, "w*nni" "y*n" "y*y*y*y*y*y*" "y*y*y*y*", &v[0], &height, &width,
                           &mode, &v[1], &src_width, &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
                           &v[8], &v[9], &v[10], &v[11])
        : PyArg_ParseTuple(args, "w*nnid" "y*n" "y*y*y*y*y*y*" "y*y*y*y*", &v[0], &height,
                           &width, &mode, &t_, &v[1], &src_width, &v[2], &v[3], &v[4], &v[5],
                           &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]);
    if (!ok) {
        release(v, 12);
        return NULL;
    }
    Py_ssize_t n_rows = v[2].len / 8;
    if (check(&v[0], keep_values ? 4 : 1, height * width, "out") < 0
        || check(&v[3], 8, n_rows, "rcell1") < 0 || check(&v[4], 8, n_rows, "rstart") < 0
        || check(&v[5], 8, n_rows, "rstop") < 0 || check(&v[6], 4, height, "rw0") < 0
        || check(&v[7], 4, height, "rw1") < 0 || check(&v[8], 8, width, "ci0") < 0
        || check(&v[9], 8, width, "ci1") < 0 || check(&v[10], 4, width, "cw0") < 0
        || check(&v[11], 4, width, "cw1") < 0 || src_width <= 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "source width must be positive");
        }
        release(v, 12);
        return NULL;
    }
    int bad;
    Py_BEGIN_ALLOW_THREADS
    bad = resize_rows(mode, keep_values ? NULL : v[0].buf, keep_values ? v[0].buf : NULL,
                      (float)t_, height, width, v[1].buf, src_width, v[1].len / 4 / src_width,
                      n_rows, v[2].buf, v[3].buf, v[4].buf, v[5].buf, v[6].buf, v[7].buf,
                      v[8].buf, v[9].buf, v[10].buf, v[11].buf);
    Py_END_ALLOW_THREADS
    release(v, 12);
    if (bad == 2) {
        return PyErr_NoMemory();
    }
    if (bad) {
        PyErr_SetString(PyExc_IndexError, "index outside the source or the output");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(paint_plane_doc,
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

PyDoc_STRVAR(resize_plane_doc,
"resize_plane(out, height, width, mode, src, src_width,\n"
"             rcell, rcell1, rstart, rstop, rw0, rw1, ci0, ci1, cw0, cw1)\n\n"
"As paint_plane, but out (height*width float32) receives the resized values themselves.");

static PyObject *resize_plane(PyObject *self, PyObject *args)
{
    (void)self;
    return plane_call(args, 1);
}

PyDoc_STRVAR(stage1_points_doc,
"stage1_points(out, mode, low, planes, p, q, i0, i1, w0, w1)\n\n"
"First-stage values at K points: out[k] = resize(low[planes[k]])[p[k], q[k]], the 256 -> 1024\n"
"upscale. low: N*256*256 float32; planes, p, q: K int64; i0/i1 (1024 int64) and w0/w1\n"
"(1024 float32) the stage's source indices and weights (the same along both axes).");

static PyObject *stage1_points(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer v[9] = {{0}};
    int mode;
    if (!PyArg_ParseTuple(args, "w*i" "y*y*y*y*" "y*y*y*y*", &v[0], &mode, &v[1], &v[2], &v[3],
                          &v[4], &v[5], &v[6], &v[7], &v[8])) {
        release(v, 9);
        return NULL;
    }
    const Py_ssize_t count = v[0].len / 4, side = v[5].len / 8, n_planes = v[1].len / 4 / 65536;
    if (check(&v[2], 8, count, "planes") < 0 || check(&v[3], 8, count, "p") < 0
        || check(&v[4], 8, count, "q") < 0 || check(&v[6], 8, side, "i1") < 0
        || check(&v[7], 4, side, "w0") < 0 || check(&v[8], 4, side, "w1") < 0) {
        release(v, 9);
        return NULL;
    }
    float *out = v[0].buf;
    const float *low = v[1].buf, *w0 = v[7].buf, *w1 = v[8].buf;
    const int64_t *planes = v[2].buf, *ps = v[3].buf, *qs = v[4].buf, *i0 = v[5].buf,
                  *i1 = v[6].buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < count; k++) {
        const int64_t n = planes[k], p = ps[k], q = qs[k];
        if (n < 0 || n >= n_planes || p < 0 || p >= side || q < 0 || q >= side || i0[p] < 0
            || i1[p] > 255 || i0[q] < 0 || i1[q] > 255) {
            bad = 1;
            break;
        }
        const float *plane = low + n * 65536, *r0 = plane + i0[p] * 256, *r1 = plane + i1[p] * 256;
        const float top = lerp(mode, w0[q], r0[i0[q]], w1[q], r0[i1[q]]);
        const float bottom = lerp(mode, w0[q], r1[i0[q]], w1[q], r1[i1[q]]);
        out[k] = lerp(mode, w0[p], top, w1[p], bottom);
    }
    Py_END_ALLOW_THREADS
    release(v, 9);
    if (bad) {
        PyErr_SetString(PyExc_IndexError, "stage1_points: point outside the planes");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"stage1_points", stage1_points, METH_VARARGS, stage1_points_doc},
    {"paint_rects", paint_rects, METH_VARARGS, paint_rects_doc},
    {"paint_cells", paint_cells, METH_VARARGS, paint_cells_doc},
    {"paint_plane", paint_plane, METH_VARARGS, paint_plane_doc},
    {"resize_plane", resize_plane, METH_VARARGS, resize_plane_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_masks",
    "Compiled inner loops of samdesk.sam.postprocess (optional accelerator).", -1, methods,
};

PyMODINIT_FUNC PyInit__masks(void)
{
    return PyModule_Create(&module);
}
