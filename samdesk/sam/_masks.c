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
            uint8_t *row = out + base + y * width;
            const float h0 = rw0[y], h1 = rw1[y];
            for (int64_t x = xa[k]; x < xb[k]; x++) {
                row[x] = lerp(mode, h0, top[x], h1, bottom[x]) > t;
            }
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

PyDoc_STRVAR(paint_plane_doc,
"paint_plane(out, height, width, mode, t, first, first_width, ri0, ri1, rw0, rw1,\n"
"            ci0, ci1, cw0, cw1)\n\n"
"The whole second stage of one plane: out[y, x] = resize(first)[y, x] > t for every pixel.\n"
"first: the exact first-stage values (float32, rows of first_width); ri0/ri1 (height\n"
"int64) and ci0/ci1 (width int64) the source indices, rw0/rw1 and cw0/cw1 the weights.");

static PyObject *paint_plane(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer v[10] = {{0}};
    Py_ssize_t height, width, first_width;
    int mode;
    double t_;
    if (!PyArg_ParseTuple(args, "w*nnid" "y*n" "y*y*y*y*" "y*y*y*y*", &v[0], &height, &width,
                          &mode, &t_, &v[1], &first_width, &v[2], &v[3], &v[4], &v[5], &v[6],
                          &v[7], &v[8], &v[9])) {
        release(v, 10);
        return NULL;
    }
    if (check(&v[0], 1, height * width, "out") < 0 || check(&v[2], 8, height, "ri0") < 0
        || check(&v[3], 8, height, "ri1") < 0 || check(&v[4], 4, height, "rw0") < 0
        || check(&v[5], 4, height, "rw1") < 0 || check(&v[6], 8, width, "ci0") < 0
        || check(&v[7], 8, width, "ci1") < 0 || check(&v[8], 4, width, "cw0") < 0
        || check(&v[9], 4, width, "cw1") < 0) {
        release(v, 10);
        return NULL;
    }
    uint8_t *out = v[0].buf;
    const float *first = v[1].buf, *rw0 = v[4].buf, *rw1 = v[5].buf, *cw0 = v[8].buf,
                *cw1 = v[9].buf;
    const int64_t *ri0 = v[2].buf, *ri1 = v[3].buf, *ci0 = v[6].buf, *ci1 = v[7].buf;
    const Py_ssize_t first_len = v[1].len / 4;
    const float t = (float)t_;
    int bad = 0;
    float *top = NULL, *bottom = NULL;
    Py_BEGIN_ALLOW_THREADS
    top = malloc(sizeof(float) * (size_t)width);
    bottom = malloc(sizeof(float) * (size_t)width);
    if (top == NULL || bottom == NULL) {
        bad = 2;
    }
    for (Py_ssize_t x = 0; x < width && !bad; x++) {
        if (ci0[x] < 0 || ci1[x] < 0 || ci0[x] >= first_width || ci1[x] >= first_width) {
            bad = 1;
        }
    }
    int64_t p0 = -1, p1 = -1;
    for (Py_ssize_t y = 0; y < height && !bad; y++) {
        if (ri0[y] != p0 || ri1[y] != p1) {
            /* A new pair of first-stage rows: its inner (width) pass, once for all the
             * output rows that read it. */
            p0 = ri0[y];
            p1 = ri1[y];
            if (p0 < 0 || p1 < 0 || (p0 + 1) * first_width > first_len
                || (p1 + 1) * first_width > first_len) {
                bad = 1;
                break;
            }
            const float *a = first + p0 * first_width, *b = first + p1 * first_width;
            for (Py_ssize_t x = 0; x < width; x++) {
                top[x] = lerp(mode, cw0[x], a[ci0[x]], cw1[x], a[ci1[x]]);
                bottom[x] = lerp(mode, cw0[x], b[ci0[x]], cw1[x], b[ci1[x]]);
            }
        }
        uint8_t *row = out + y * width;
        const float h0 = rw0[y], h1 = rw1[y];
        for (Py_ssize_t x = 0; x < width; x++) {
            row[x] = lerp(mode, h0, top[x], h1, bottom[x]) > t;
        }
    }
    free(top);
    free(bottom);
    Py_END_ALLOW_THREADS
    release(v, 10);
    if (bad == 2) {
        return PyErr_NoMemory();
    }
    if (bad) {
        PyErr_SetString(PyExc_IndexError, "paint_plane: source index outside first");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"paint_rects", paint_rects, METH_VARARGS, paint_rects_doc},
    {"paint_cells", paint_cells, METH_VARARGS, paint_cells_doc},
    {"paint_plane", paint_plane, METH_VARARGS, paint_plane_doc},
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
