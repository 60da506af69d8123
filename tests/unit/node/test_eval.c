/* tests/unit/node/test_eval.c: metrics against hand-computed values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "node/data.h"
#include "node/eval.h"
#include "node/model.h"

static void
test_auroc(void **state)
{
    /* scikit-learn's roc_auc_score example: 0.75. */
    const float s1[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const int32_t y1[] = {0, 0, 1, 1};
    /* Ties count half: pairs 1, 0.5, 1, 1 -> 3.5 / 4. */
    const float s2[] = {0.2f, 0.5f, 0.5f, 0.9f};
    const float s3[] = {0.5f, 0.5f, 0.5f, 0.5f};
    const int32_t y4[] = {1, 1, 1};
    fl_errbuf_t eb = {{0}};
    double a;

    (void) state;
    assert_int_equal(node_eval_auroc(s1, y1, 4, &a, &eb), FL_OK);
    assert_true(fabs(a - 0.75) < 1e-12);
    assert_int_equal(node_eval_auroc(s2, y1, 4, &a, &eb), FL_OK);
    assert_true(fabs(a - 0.875) < 1e-12);
    assert_int_equal(node_eval_auroc(s3, y1, 4, &a, &eb), FL_OK);
    assert_true(fabs(a - 0.5) < 1e-12);
    assert_int_equal(node_eval_auroc(s1, y4, 3, &a, &eb), FL_OK);
    assert_true(isnan(a));
}

static double
softplus(double z)
{
    return log1p(exp(z));
}

/*
 * Logistic regression 1-2 with W = [0, 1], b = 0: logits (0, x), so
 * p1 = sigmoid(x) and the prediction is 1 iff x > 0.
 */
static void
test_report(void **state)
{
    const float x[] = {-2, -1, 1, 2, 3};
    const int32_t y[] = {0, 1, 1, 0, 1};
    const uint32_t grp[] = {0, 0, 1, 1, 1};
    const char *names[] = {"north", "south"};
    float params[4] = {0.0f, 1.0f, 0.0f, 0.0f};
    node_model_t *m = NULL;
    node_dataset_t *ds = NULL;
    node_eval_report_t r;
    fl_errbuf_t eb = {{0}};
    double loss = 0.0;

    (void) state;
    assert_int_equal(node_model_parse("1-2", NODE_ACT_RELU, &m, &eb), FL_OK);
    assert_int_equal(
        node_dataset_from_arrays(5, 1, x, y, 2, grp, 2, names, &ds, &eb),
        FL_OK);
    assert_int_equal(node_eval_run(m, params, ds, &r, &eb), FL_OK);
    /* -log p_y: y = 1 -> softplus(-x); y = 0 -> softplus(x). */
    loss =
        softplus(-2) + softplus(1) + softplus(-1) + softplus(2) + softplus(-3);
    assert_int_equal(r.overall.n, 5);
    assert_true(fabs(r.overall.loss - loss / 5) < 1e-6);
    assert_true(fabs(r.overall.accuracy - 0.6) < 1e-12);
    /* Positives at x = -1, 1, 3, negatives at -2, 2: 4 of 6 pairs. */
    assert_true(fabs(r.overall.auroc - 4.0 / 6.0) < 1e-12);
    /* confusion[true * 2 + predicted] */
    assert_int_equal(r.overall.confusion[0], 1);
    assert_int_equal(r.overall.confusion[1], 1);
    assert_int_equal(r.overall.confusion[2], 1);
    assert_int_equal(r.overall.confusion[3], 2);
    assert_int_equal(r.n_groups, 2);
    assert_string_equal(node_dataset_group_name(ds, 0), "north");
    assert_int_equal(r.groups[0].n, 2);
    assert_true(fabs(r.groups[0].accuracy - 0.5) < 1e-12);
    assert_true(fabs(r.groups[0].auroc - 1.0) < 1e-12);
    assert_true(fabs(r.groups[0].loss - (softplus(-2) + softplus(1)) / 2) <
                1e-6);
    assert_int_equal(r.groups[1].n, 3);
    assert_true(fabs(r.groups[1].accuracy - 2.0 / 3.0) < 1e-12);
    assert_true(fabs(r.groups[1].auroc - 0.5) < 1e-12);
    assert_int_equal(r.groups[1].confusion[2 * 1 + 1], 2);
    node_eval_report_cleanup(&r);
    assert_null(r.groups);

    /* Shape mismatch. */
    node_model_destroy(&m);
    assert_int_equal(node_model_parse("2-2", NODE_ACT_RELU, &m, &eb), FL_OK);
    assert_int_equal(node_eval_run(m, params, ds, &r, &eb), FL_ERR_INVALID);
    node_model_destroy(&m);
    node_dataset_destroy(&ds);
}

/* Three classes: AUROC is NaN, confusion is 3 x 3, > 256 rows chunked. */
static void
test_multiclass(void **state)
{
    enum { N = 600 };
    float x[N];
    int32_t y[N];
    /* "1-3": W = [-1, 0, 1], b = 0: class 0 for x < 0, 2 for x > 0. */
    float params[6] = {-1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f};
    node_model_t *m = NULL;
    node_dataset_t *ds = NULL;
    node_eval_report_t r;
    fl_errbuf_t eb = {{0}};

    (void) state;
    for (int i = 0; i < N; i++) {
        x[i] = (i % 2) ? 1.0f : -1.0f;
        y[i] = (i % 3 == 0) ? 1 : ((i % 2) ? 2 : 0);
    }
    assert_int_equal(node_model_parse("1-3", NODE_ACT_RELU, &m, &eb), FL_OK);
    assert_int_equal(
        node_dataset_from_arrays(N, 1, x, y, 3, NULL, 0, NULL, &ds, &eb),
        FL_OK);
    assert_int_equal(node_eval_run(m, params, ds, &r, &eb), FL_OK);
    assert_true(isnan(r.overall.auroc));
    assert_int_equal(r.n_groups, 0);
    /* Rows with i % 3 == 0 are class 1 (never predicted): 200 wrong. */
    assert_true(fabs(r.overall.accuracy - 400.0 / 600.0) < 1e-12);
    assert_int_equal(r.overall.confusion[1 * 3 + 0], 100);
    assert_int_equal(r.overall.confusion[1 * 3 + 2], 100);
    assert_int_equal(r.overall.confusion[0 * 3 + 0], 200);
    assert_int_equal(r.overall.confusion[2 * 3 + 2], 200);
    node_eval_report_cleanup(&r);
    node_model_destroy(&m);
    node_dataset_destroy(&ds);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auroc),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_multiclass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
