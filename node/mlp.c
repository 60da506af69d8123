/*
 * node/mlp.c: forward, backward, ghost norms and gradient sums of the MLP
 * on OpenBLAS cblas_sgemm (see mlp.h).
 */
#include "node/mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest buffer, in floats, that one workspace allocation may hold. */
#define MLP_MAX_BUFFER ((size_t) 1 << 31)

struct node_mlp {
    const node_model_t *model;
    size_t capacity;
    size_t nl; /* dense layers */
    size_t w[NODE_MODEL_MAX_LAYERS + 1];
    float *act[NODE_MODEL_MAX_LAYERS];  /* layer l's input, ld w[l] + 1 */
    float *grad[NODE_MODEL_MAX_LAYERS]; /* layer l's output gradient */
    float *asq[NODE_MODEL_MAX_LAYERS];  /* |act row|^2 without the one */
    float *gsq[NODE_MODEL_MAX_LAYERS];  /* |grad row|^2 */
    float *logits;                      /* capacity x classes; probs */
};

/* Sum of squares with 8 independent accumulators (no loop-carried stall). */
static float
sq_sum(const float *v, size_t n)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;

    for (; j + 8 <= n; j += 8) {
        for (size_t k = 0; k < 8; k++) {
            s[k] += v[j + k] * v[j + k];
        }
    }
    for (; j < n; j++) {
        s[0] += v[j] * v[j];
    }
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static void
scale_row(float *v, size_t n, float c)
{
    for (size_t j = 0; j < n; j++) {
        v[j] *= c;
    }
}

static fl_err_t
alloc_floats(float **p, size_t rows, size_t cols, fl_errbuf_t *eb)
{
    if (cols != 0 && rows > MLP_MAX_BUFFER / cols) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "mlp workspace: %zu x %zu floats exceeds the limit",
                       rows, cols);
    }
    *p = calloc(rows * cols > 0 ? rows * cols : 1, sizeof(float));
    if (*p == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "mlp workspace: out of memory");
    }
    return FL_OK;
}

fl_err_t
node_mlp_new(const node_model_t *model, size_t capacity, node_mlp_t **out,
             fl_errbuf_t *eb)
{
    node_mlp_t *ws = NULL;
    fl_err_t err = FL_OK;

    *out = NULL;
    if (model == NULL || capacity == 0) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "mlp workspace: no model or "
                       "capacity 0");
    }
    ws = calloc(1, sizeof(*ws));
    if (ws == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "mlp workspace: out of memory");
    }
    ws->model = model;
    ws->capacity = capacity;
    ws->nl = node_model_n_layers(model);
    for (size_t i = 0; i <= ws->nl; i++) {
        ws->w[i] = node_model_width(model, i);
    }
    for (size_t l = 0; l < ws->nl && err == FL_OK; l++) {
        err = alloc_floats(&ws->act[l], capacity, ws->w[l] + 1, eb);
        if (err == FL_OK) {
            err = alloc_floats(&ws->grad[l], capacity, ws->w[l + 1], eb);
        }
        if (err == FL_OK) {
            err = alloc_floats(&ws->asq[l], capacity, 1, eb);
        }
        if (err == FL_OK) {
            err = alloc_floats(&ws->gsq[l], capacity, 1, eb);
        }
    }
    if (err == FL_OK) {
        err = alloc_floats(&ws->logits, capacity, ws->w[ws->nl], eb);
    }
    if (err != FL_OK) {
        node_mlp_destroy(&ws);
    }
    *out = ws;
    return err;
}

void
node_mlp_destroy(node_mlp_t **ws_p)
{
    node_mlp_t *ws;

    if (ws_p == NULL || *ws_p == NULL) {
        return;
    }
    ws = *ws_p;
    for (size_t l = 0; l < ws->nl; l++) {
        free(ws->act[l]);
        free(ws->grad[l]);
        free(ws->asq[l]);
        free(ws->gsq[l]);
    }
    free(ws->logits);
    free(ws);
    *ws_p = NULL;
}

float *
node_mlp_input(node_mlp_t *ws)
{
    return ws->act[0];
}

size_t
node_mlp_input_ld(const node_mlp_t *ws)
{
    return ws->w[0] + 1;
}

float *
node_mlp_input_sqnorm(node_mlp_t *ws)
{
    return ws->asq[0];
}

void
node_mlp_input_norms(node_mlp_t *ws, size_t n)
{
    size_t ld = ws->w[0] + 1;

    for (size_t i = 0; i < n; i++) {
        ws->asq[0][i] = sq_sum(ws->act[0] + i * ld, ws->w[0]);
    }
}

/*
 * ReLU without a branch: the signs of pre-activations are random, so a
 * branch mispredicts half the time and dominated small models' steps.
 * Clearing every bit of a value whose sign bit is set maps negatives (and
 * -0) to +0 and leaves the rest untouched.
 */
static void
relu_row(float *v, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        uint32_t b;

        memcpy(&b, &v[j], sizeof(b));
        b &= (uint32_t) ((int32_t) b >> 31) ^ UINT32_C(0xFFFFFFFF);
        memcpy(&v[j], &b, sizeof(b));
    }
}

/* Applies the hidden activation to row v of width n in place. */
static void
activate_row(node_activation_t act, float *v, size_t n)
{
    if (act == NODE_ACT_RELU) {
        relu_row(v, n);
    } else {
        for (size_t j = 0; j < n; j++) {
            v[j] = tanhf(v[j]);
        }
    }
}

void
node_mlp_forward(node_mlp_t *ws, const float *params, size_t n, int norms)
{
    node_activation_t act = node_model_activation(ws->model);
    size_t ld0 = ws->w[0] + 1;

    for (size_t i = 0; i < n; i++) {
        ws->act[0][i * ld0 + ws->w[0]] = 1.0f;
    }
    for (size_t l = 0; l < ws->nl; l++) {
        size_t in = ws->w[l];
        size_t outw = ws->w[l + 1];
        int last = (l + 1 == ws->nl);
        float *dst = last ? ws->logits : ws->act[l + 1];
        size_t ldc = last ? outw : outw + 1;
        const float *wb = params + node_model_layer_offset(ws->model, l);

        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n,
                    (int) outw, (int) (in + 1), 1.0f, ws->act[l],
                    (int) (in + 1), wb, (int) outw, 0.0f, dst, (int) ldc);
        if (last) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            float *row = dst + i * ldc;

            activate_row(act, row, outw);
            row[outw] = 1.0f;
            if (norms) {
                ws->asq[l + 1][i] = sq_sum(row, outw);
            }
        }
    }
}

/* Softmax of one row in place; returns log of the normaliser minus max. */
static double
softmax_row(float *z, size_t k)
{
    float mx = z[0];
    double sum = 0.0;

    for (size_t j = 1; j < k; j++) {
        mx = z[j] > mx ? z[j] : mx;
    }
    for (size_t j = 0; j < k; j++) {
        z[j] = expf(z[j] - mx);
        sum += z[j];
    }
    for (size_t j = 0; j < k; j++) {
        z[j] = (float) (z[j] / sum);
    }
    return log(sum) + mx;
}

double
node_mlp_loss(node_mlp_t *ws, const int32_t *labels, size_t n, int norms,
              float *loss_out)
{
    size_t k = ws->w[ws->nl];
    size_t top = ws->nl - 1;
    double total = 0.0;

    for (size_t i = 0; i < n; i++) {
        float *z = ws->logits + i * k;
        float *g = ws->grad[top] + i * k;
        size_t y = (size_t) labels[i];
        double zy = z[y];
        double lse = softmax_row(z, k);
        double li = lse - zy;

        total += li;
        if (loss_out != NULL) {
            loss_out[i] = (float) li;
        }
        memcpy(g, z, k * sizeof(float));
        g[y] -= 1.0f;
        if (norms) {
            ws->gsq[top][i] = sq_sum(g, k);
        }
    }
    return total;
}

const float *
node_mlp_probs(const node_mlp_t *ws)
{
    return ws->logits;
}

void
node_mlp_predict(node_mlp_t *ws, const float *params, size_t n)
{
    size_t k = ws->w[ws->nl];

    node_mlp_forward(ws, params, n, 0);
    for (size_t i = 0; i < n; i++) {
        (void) softmax_row(ws->logits + i * k, k);
    }
}

/* g *= activation'(a) for one row; a is the post-activation value. */
static void
derive_row(node_activation_t act, float *g, const float *a, size_t n)
{
    if (act == NODE_ACT_RELU) {
        /* Branch-free as in relu_row(): a >= 0 here, a > 0 iff bits set. */
        for (size_t j = 0; j < n; j++) {
            uint32_t ab;
            uint32_t gb;

            memcpy(&ab, &a[j], sizeof(ab));
            memcpy(&gb, &g[j], sizeof(gb));
            gb &= (uint32_t) - (int32_t) (ab != 0);
            memcpy(&g[j], &gb, sizeof(gb));
        }
    } else {
        for (size_t j = 0; j < n; j++) {
            g[j] *= 1.0f - a[j] * a[j];
        }
    }
}

void
node_mlp_backward(node_mlp_t *ws, const float *params, size_t n, int norms)
{
    node_activation_t act = node_model_activation(ws->model);

    for (size_t l = ws->nl - 1; l >= 1; l--) {
        size_t in = ws->w[l];
        size_t outw = ws->w[l + 1];
        const float *wmat = params + node_model_layer_offset(ws->model, l);

        /* grad[l-1] = grad[l] x W_l^T: W_l is in x outw, bias row unused. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int) n, (int) in,
                    (int) outw, 1.0f, ws->grad[l], (int) outw, wmat, (int) outw,
                    0.0f, ws->grad[l - 1], (int) in);
        for (size_t i = 0; i < n; i++) {
            float *g = ws->grad[l - 1] + i * in;

            derive_row(act, g, ws->act[l] + i * (in + 1), in);
            if (norms) {
                ws->gsq[l - 1][i] = sq_sum(g, in);
            }
        }
    }
}

void
node_mlp_example_sqnorms(const node_mlp_t *ws, size_t n, double *sq)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;

        for (size_t l = 0; l < ws->nl; l++) {
            s += ((double) ws->asq[l][i] + 1.0) * (double) ws->gsq[l][i];
        }
        sq[i] = s;
    }
}

void
node_mlp_grad_sum(node_mlp_t *ws, size_t n, const float *weights, float beta,
                  float *grad)
{
    for (size_t l = 0; l < ws->nl; l++) {
        size_t in1 = ws->w[l] + 1;
        size_t outw = ws->w[l + 1];
        float *dst = grad + node_model_layer_offset(ws->model, l);

        if (weights != NULL) {
            /* diag(w) can sit on either side: scale the narrower matrix. */
            int scale_a = in1 < outw;
            float *m = scale_a ? ws->act[l] : ws->grad[l];
            size_t ld = scale_a ? in1 : outw;

            for (size_t i = 0; i < n; i++) {
                scale_row(m + i * ld, ld, weights[i]);
            }
        }
        if (n == 0) {
            if (beta == 0.0f) {
                memset(dst, 0, in1 * outw * sizeof(float));
            }
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int) in1,
                    (int) outw, (int) n, 1.0f, ws->act[l], (int) in1,
                    ws->grad[l], (int) outw, beta, dst, (int) outw);
    }
}
