/*
 * tests/unit/node/test_mlp.c: the engine against a naive per-example
 * reference written independently here (plain loops in double, one
 * explicit per-example gradient vector per example).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node/mlp.h"
#include "node/model.h"

/* A small independent generator for test data (xorshift64*). */
static uint64_t rs = 88172645463325252ull;

static double
urand(void)
{
    rs ^= rs >> 12;
    rs ^= rs << 25;
    rs ^= rs >> 27;
    return (double) ((rs * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static double
nrand(void)
{
    double u = urand() + 1e-300;
    double v = urand();

    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/*
 * Naive forward + backward of one example in double: returns its loss
 * and, when g is non-NULL, writes its full gradient (n_params values).
 */
static double
naive_example(const node_model_t *m, const float *p, const float *x, int32_t y,
              double *g)
{
    size_t nl = node_model_n_layers(m);
    int tanh_act = node_model_activation(m) == NODE_ACT_TANH;
    double act[NODE_MODEL_MAX_LAYERS + 1][128];
    double delta[128];
    double next[128];
    double loss;
    double mx;
    double sum = 0.0;
    size_t k = node_model_n_classes(m);

    for (size_t i = 0; i < node_model_n_inputs(m); i++) {
        act[0][i] = x[i];
    }
    for (size_t l = 0; l < nl; l++) {
        size_t in = node_model_width(m, l);
        size_t out = node_model_width(m, l + 1);
        const float *w = p + node_model_layer_offset(m, l);

        for (size_t j = 0; j < out; j++) {
            double z = w[in * out + j];

            for (size_t i = 0; i < in; i++) {
                z += act[l][i] * w[i * out + j];
            }
            if (l + 1 < nl) {
                z = tanh_act ? tanh(z) : (z > 0 ? z : 0);
            }
            act[l + 1][j] = z;
        }
    }
    mx = act[nl][0];
    for (size_t j = 1; j < k; j++) {
        mx = fmax(mx, act[nl][j]);
    }
    for (size_t j = 0; j < k; j++) {
        sum += exp(act[nl][j] - mx);
    }
    loss = log(sum) + mx - act[nl][y];
    if (g == NULL) {
        return loss;
    }
    for (size_t j = 0; j < k; j++) {
        delta[j] = exp(act[nl][j] - mx) / sum - (j == (size_t) y ? 1 : 0);
    }
    for (size_t l = nl; l-- > 0;) {
        size_t in = node_model_width(m, l);
        size_t out = node_model_width(m, l + 1);
        const float *w = p + node_model_layer_offset(m, l);
        double *gl = g + node_model_layer_offset(m, l);

        for (size_t i = 0; i < in; i++) {
            double s = 0.0;

            for (size_t j = 0; j < out; j++) {
                gl[i * out + j] = act[l][i] * delta[j];
                s += w[i * out + j] * delta[j];
            }
            if (l > 0) {
                double a = act[l][i];

                next[i] = tanh_act ? s * (1 - a * a) : (a > 0 ? s : 0);
            }
        }
        for (size_t j = 0; j < out; j++) {
            gl[in * out + j] = delta[j];
        }
        memcpy(delta, next, in * sizeof(double));
    }
    return loss;
}

typedef struct fixture {
    node_model_t *m;
    node_mlp_t *ws;
    size_t n;
    size_t np;
    float *p;
    float *x;
    int32_t *y;
} fixture_t;

static void
fixture_make(fixture_t *f, const char *shape, node_activation_t act, size_t n,
             double xscale)
{
    fl_errbuf_t eb = {{0}};
    size_t d;

    assert_int_equal(node_model_parse(shape, act, &f->m, &eb), FL_OK);
    f->n = n;
    f->np = node_model_n_params(f->m);
    d = node_model_n_inputs(f->m);
    f->p = malloc(f->np * sizeof(float));
    f->x = malloc(n * d * sizeof(float));
    f->y = malloc(n * sizeof(int32_t));
    assert_int_equal(node_model_init(f->m, 7, f->p, f->np, &eb), FL_OK);
    /* Non-zero biases so the bias path is exercised. */
    for (size_t l = 0; l < node_model_n_layers(f->m); l++) {
        size_t in = node_model_width(f->m, l);
        size_t out = node_model_width(f->m, l + 1);
        float *b = f->p + node_model_layer_offset(f->m, l) + in * out;

        for (size_t j = 0; j < out; j++) {
            b[j] = (float) (0.1 * nrand());
        }
    }
    for (size_t i = 0; i < n * d; i++) {
        f->x[i] = (float) (xscale * nrand());
    }
    for (size_t i = 0; i < n; i++) {
        f->y[i] = (int32_t) (urand() * (double) node_model_n_classes(f->m));
    }
    assert_int_equal(node_mlp_new(f->m, n, &f->ws, &eb), FL_OK);
    for (size_t i = 0; i < n; i++) {
        memcpy(node_mlp_input(f->ws) + i * node_mlp_input_ld(f->ws),
               f->x + i * d, d * sizeof(float));
    }
}

static void
fixture_free(fixture_t *f)
{
    node_mlp_destroy(&f->ws);
    node_model_destroy(&f->m);
    free(f->p);
    free(f->x);
    free(f->y);
}

/*
 * Ghost norms and the clipped GEMM sum against per-example gradients
 * materialised naively: relative error under 1e-4.
 */
static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a;
    double y = *(const double *) b;

    return (x > y) - (x < y);
}

static void
check_clipped_sum(const char *shape, node_activation_t act, size_t n)
{
    double clip;
    fixture_t f;
    double *sq = malloc(n * sizeof(double));
    float *w = malloc(n * sizeof(float));
    double *g = malloc(n * sizeof(double));
    double *ref_sum;
    double *ge;
    float *sum;
    double err = 0.0;
    double ref_norm = 0.0;
    size_t nclipped = 0;
    double loss_engine;
    double loss_ref = 0.0;

    fixture_make(&f, shape, act, n, 1.0);
    ref_sum = calloc(f.np, sizeof(double));
    ge = malloc(f.np * sizeof(double));
    sum = malloc(f.np * sizeof(float));
    node_mlp_input_norms(f.ws, n);
    node_mlp_forward(f.ws, f.p, n, 1);
    loss_engine = node_mlp_loss(f.ws, f.y, n, 1, NULL);
    node_mlp_backward(f.ws, f.p, n, 1);
    node_mlp_example_sqnorms(f.ws, n, sq);
    /* Clip at the median norm so that both regimes are tested. */
    memcpy(g, sq, n * sizeof(double));
    qsort(g, n, sizeof(double), cmp_double);
    clip = sqrt(g[n / 2]);
    for (size_t i = 0; i < n; i++) {
        double nrm2 = 0.0;
        double c;
        size_t d = node_model_n_inputs(f.m);

        loss_ref += naive_example(f.m, f.p, f.x + i * d, f.y[i], ge);
        for (size_t k = 0; k < f.np; k++) {
            nrm2 += ge[k] * ge[k];
        }
        if (fabs(sq[i] - nrm2) > 1e-4 * nrm2 + 1e-12) {
            fail_msg("%s example %zu: ghost norm^2 %.9g, naive %.9g", shape, i,
                     sq[i], nrm2);
        }
        c = fmin(1.0, clip / sqrt(nrm2));
        nclipped += c < 1.0;
        w[i] = (float) fmin(1.0, clip / sqrt(sq[i]));
        for (size_t k = 0; k < f.np; k++) {
            ref_sum[k] += c * ge[k];
        }
    }
    assert_true(fabs(loss_engine - loss_ref) < 1e-4 * fabs(loss_ref));
    /* Both regimes present: some examples clipped, some not. */
    assert_true(nclipped > 0 && nclipped < n);
    node_mlp_grad_sum(f.ws, n, w, 0.0f, sum);
    for (size_t k = 0; k < f.np; k++) {
        err += (sum[k] - ref_sum[k]) * (sum[k] - ref_sum[k]);
        ref_norm += ref_sum[k] * ref_sum[k];
    }
    if (!(sqrt(err) < 1e-4 * sqrt(ref_norm))) {
        fail_msg("%s: clipped sum relative error %.3g", shape,
                 sqrt(err / ref_norm));
    }
    free(sq);
    free(w);
    free(g);
    free(ref_sum);
    free(ge);
    free(sum);
    fixture_free(&f);
}

static void
test_ghost_norms_and_clipped_sum(void **state)
{
    (void) state;
    check_clipped_sum("7-5-3", NODE_ACT_RELU, 40);
    check_clipped_sum("7-5-3", NODE_ACT_TANH, 40);
    check_clipped_sum("13-9-6-4", NODE_ACT_TANH, 33);
    check_clipped_sum("30-64-64-2", NODE_ACT_RELU, 64);
    check_clipped_sum("12-2", NODE_ACT_RELU, 50);
    check_clipped_sum("50-100-20-10", NODE_ACT_RELU, 100);
    check_clipped_sum("3-120-2", NODE_ACT_TANH, 21);
}

/* Engine gradient (unweighted sum) against central finite differences
 * of the naive double-precision loss. */
static void
check_finite_differences(const char *shape, node_activation_t act)
{
    fixture_t f;
    float *grad;
    double max_err = 0.0;
    size_t d;

    fixture_make(&f, shape, act, 9, 1.0);
    d = node_model_n_inputs(f.m);
    grad = malloc(f.np * sizeof(float));
    node_mlp_forward(f.ws, f.p, f.n, 0);
    (void) node_mlp_loss(f.ws, f.y, f.n, 0, NULL);
    node_mlp_backward(f.ws, f.p, f.n, 0);
    node_mlp_grad_sum(f.ws, f.n, NULL, 0.0f, grad);
    for (size_t k = 0; k < f.np; k++) {
        float saved = f.p[k];
        float h = 1e-3f;
        double lp = 0.0;
        double lm = 0.0;
        double fd;

        f.p[k] = saved + h;
        for (size_t i = 0; i < f.n; i++) {
            lp += naive_example(f.m, f.p, f.x + i * d, f.y[i], NULL);
        }
        f.p[k] = saved - h;
        for (size_t i = 0; i < f.n; i++) {
            lm += naive_example(f.m, f.p, f.x + i * d, f.y[i], NULL);
        }
        f.p[k] = saved;
        /* (saved + h) - (saved - h) is exact enough in float; use it. */
        fd = (lp - lm) / ((double) (saved + h) - (double) (saved - h));
        max_err = fmax(max_err, fabs(fd - grad[k]) / (fabs(fd) + 1e-2));
    }
    if (!(max_err < 2e-3)) {
        fail_msg("%s/%s: finite differences differ by %.3g", shape,
                 node_activation_name(act), max_err);
    }
    free(grad);
    fixture_free(&f);
}

static void
test_finite_differences(void **state)
{
    (void) state;
    /* tanh is smooth; ReLU's kinks are rarely within h of a point. */
    check_finite_differences("6-5-3", NODE_ACT_TANH);
    check_finite_differences("4-8-7-3", NODE_ACT_TANH);
    check_finite_differences("5-2", NODE_ACT_TANH);
}

/* Prediction gives probabilities summing to 1; input norms match. */
static void
test_predict_and_norms(void **state)
{
    fixture_t f;
    const float *p;

    (void) state;
    fixture_make(&f, "5-4-3", NODE_ACT_RELU, 6, 1.0);
    node_mlp_predict(f.ws, f.p, f.n);
    p = node_mlp_probs(f.ws);
    for (size_t i = 0; i < f.n; i++) {
        double s = p[3 * i] + p[3 * i + 1] + p[3 * i + 2];
        double nrm = 0.0;

        assert_true(fabs(s - 1.0) < 1e-6);
        for (size_t j = 0; j < 5; j++) {
            nrm += (double) f.x[5 * i + j] * f.x[5 * i + j];
        }
        node_mlp_input_norms(f.ws, f.n);
        assert_true(fabs(node_mlp_input_sqnorm(f.ws)[i] - nrm) < 1e-5 * nrm);
    }
    fixture_free(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ghost_norms_and_clipped_sum),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_predict_and_norms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
