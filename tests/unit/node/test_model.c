/* tests/unit/node/test_model.c: shape parsing, layout, seeded init. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node/model.h"
#include "node/prng.h"

static void
test_parse_and_count(void **state)
{
    node_model_t *m = NULL;
    fl_errbuf_t eb = {{0}};
    char buf[64];

    (void) state;
    assert_int_equal(node_model_parse("30-64-64-2", NODE_ACT_RELU, &m, &eb),
                     FL_OK);
    assert_int_equal(node_model_n_layers(m), 3);
    assert_int_equal(node_model_n_inputs(m), 30);
    assert_int_equal(node_model_n_classes(m), 2);
    /* 31*64 + 65*64 + 65*2 = 6274, the peer README's count. */
    assert_int_equal(node_model_n_params(m), 6274);
    assert_int_equal(node_model_layer_offset(m, 0), 0);
    assert_int_equal(node_model_layer_offset(m, 1), 31 * 64);
    assert_int_equal(node_model_layer_offset(m, 2), 31 * 64 + 65 * 64);
    assert_int_equal(node_model_shape_string(m, buf, sizeof(buf), &eb), FL_OK);
    assert_string_equal(buf, "30-64-64-2");
    assert_int_equal(node_model_shape_string(m, buf, 5, &eb), FL_ERR_LIMIT);
    node_model_destroy(&m);
    assert_null(m);

    assert_int_equal(node_model_parse("784-256-128-10", NODE_ACT_TANH, &m, &eb),
                     FL_OK);
    assert_int_equal(node_model_n_params(m), 235146);
    assert_int_equal(node_model_activation(m), NODE_ACT_TANH);
    node_model_destroy(&m);

    /* One layer: logistic regression, 31*2 = 62. */
    assert_int_equal(node_model_parse("30-2", NODE_ACT_RELU, &m, &eb), FL_OK);
    assert_int_equal(node_model_n_params(m), 62);
    node_model_destroy(&m);
}

static void
test_parse_errors(void **state)
{
    static const struct {
        const char *shape;
        fl_err_t err;
    } bad[] = {
        {"", FL_ERR_PARSE},
        {"30", FL_ERR_PARSE},
        {"30-", FL_ERR_PARSE},
        {"-30-2", FL_ERR_PARSE},
        {"30--2", FL_ERR_PARSE},
        {"30-0-2", FL_ERR_PARSE},
        {"30-1", FL_ERR_PARSE},
        {"30 -2", FL_ERR_PARSE},
        {"30-2x", FL_ERR_PARSE},
        {"30-+2", FL_ERR_PARSE},
        {"99999-2", FL_ERR_LIMIT},
        {"65536-65536-2", FL_ERR_LIMIT},
        {"1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-2", FL_ERR_LIMIT},
    };
    fl_errbuf_t eb = {{0}};
    node_model_t *m = NULL;

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fl_err_t err = node_model_parse(bad[i].shape, NODE_ACT_RELU, &m, &eb);

        if (err != bad[i].err) {
            fail_msg("shape '%s': got %d (%s), want %d", bad[i].shape,
                     (int) err, eb.msg, (int) bad[i].err);
        }
        assert_null(m);
        assert_true(strlen(eb.msg) > 0);
    }
    assert_int_equal(node_model_parse("4-2", (node_activation_t) 7, &m, &eb),
                     FL_ERR_INVALID);
}

static void
test_activation_parse(void **state)
{
    node_activation_t a;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(node_activation_parse("tanh", &a, &eb), FL_OK);
    assert_int_equal(a, NODE_ACT_TANH);
    assert_int_equal(node_activation_parse("relu", &a, &eb), FL_OK);
    assert_int_equal(a, NODE_ACT_RELU);
    assert_int_equal(node_activation_parse("sigmoid", &a, &eb), FL_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "sigmoid"));
    assert_string_equal(node_activation_name(NODE_ACT_TANH), "tanh");
}

static void
test_init(void **state)
{
    node_model_t *m = NULL;
    fl_errbuf_t eb = {{0}};
    size_t n;
    float *a;
    float *b;

    (void) state;
    assert_int_equal(node_model_parse("20-10-3", NODE_ACT_RELU, &m, &eb),
                     FL_OK);
    n = node_model_n_params(m);
    a = malloc(n * sizeof(float));
    b = malloc(n * sizeof(float));
    assert_int_equal(node_model_init(m, 42, a, n, &eb), FL_OK);
    assert_int_equal(node_model_init(m, 42, b, n, &eb), FL_OK);
    assert_memory_equal(a, b, n * sizeof(float));
    assert_int_equal(node_model_init(m, 43, b, n, &eb), FL_OK);
    assert_memory_not_equal(a, b, n * sizeof(float));
    assert_int_equal(node_model_init(m, 42, a, n - 1, &eb), FL_ERR_INVALID);

    /* Layer 0 (ReLU follows): He range sqrt(6/20); biases zero. */
    {
        float r0 = sqrtf(6.0f / 20.0f);
        float r1 = sqrtf(6.0f / 13.0f);
        double sum = 0.0;
        const float *w1 = a + node_model_layer_offset(m, 1);

        for (size_t i = 0; i < 200; i++) {
            assert_true(fabsf(a[i]) <= r0);
            sum += a[i];
        }
        /* Mean of 200 uniforms on [-r, r]: sd r/sqrt(600) = 0.022. */
        assert_true(fabs(sum / 200.0) < 0.1);
        for (size_t i = 200; i < 210; i++) {
            assert_true(a[i] == 0.0f);
        }
        for (size_t i = 0; i < 30; i++) {
            assert_true(fabsf(w1[i]) <= r1);
        }
        for (size_t i = 30; i < 33; i++) {
            assert_true(w1[i] == 0.0f);
        }
    }
    /* Known answers: the wire format's initial model must not drift
     * between builds or machines (coordinator and nodes rely on it). */
    assert_true(a[0] == 0x1.0ef8d4p-2f);
    assert_true(a[1] == -0x1.7d7dap-2f);
    assert_true(a[210] == 0x1.08683ap-4f);
    free(a);
    free(b);
    node_model_destroy(&m);
}

/* SplitMix64's published first output for seed 0. */
static void
test_prng_reference(void **state)
{
    node_prng_t p;

    (void) state;
    node__prng_seed(&p, 0);
    assert_true(node__prng_next(&p) == UINT64_C(0xe220a8397b1dcdaf));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_count),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_activation_parse),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_prng_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
