/* Tests for coordinator/aggregate.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "coordinator/aggregate.h"

static coord_agg_t *
make(pb_aggregator_t kind, size_t dim, size_t max, double trim)
{
    coord_agg_t *agg = NULL;
    fl_errbuf_t eb = {{0}};

    assert_int_equal(coord_agg_new(kind, dim, max, trim, &agg, &eb), FL_OK);
    return agg;
}

static void
test_fedavg_weighted_and_uniform(void **state)
{
    coord_agg_t *agg = make(PB_AGG_FEDAVG, 2, 10, 0);
    const float a[2] = {1, 10}, b[2] = {4, -2};
    float out[2];
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(coord_agg_add(agg, a, 1, &eb), FL_OK);
    assert_int_equal(coord_agg_add(agg, b, 2, &eb), FL_OK);
    assert_int_equal(coord_agg_result(agg, out, &eb), FL_OK);
    /* (1*1 + 2*4) / 3 = 3; (10 - 4) / 3 = 2 */
    assert_float_equal(out[0], 3.0f, 1e-6f);
    assert_float_equal(out[1], 2.0f, 1e-6f);
    coord_agg_reset(agg);
    assert_int_equal(coord_agg_count(agg), 0);
    assert_int_equal(coord_agg_result(agg, out, &eb), FL_ERR_STATE);
    assert_int_equal(coord_agg_add(agg, a, 1, &eb), FL_OK);
    assert_int_equal(coord_agg_add(agg, b, 1, &eb), FL_OK);
    assert_int_equal(coord_agg_result(agg, out, &eb), FL_OK);
    assert_float_equal(out[0], 2.5f, 1e-6f);
    coord_agg_destroy(&agg);
    assert_null(agg);
}

static void
test_median_and_trimmed_mean(void **state)
{
    /* Five updates of one coordinate: 1, 2, 3, 4, 1000 (a byzantine one). */
    const float v[5] = {3, 1000, 1, 4, 2};
    coord_agg_t *med = make(PB_AGG_MEDIAN, 1, 8, 0);
    coord_agg_t *trim = make(PB_AGG_TRIMMED_MEAN, 1, 8, 0.2);
    coord_agg_t *avg = make(PB_AGG_FEDAVG, 1, 8, 0);
    float out;
    fl_errbuf_t eb = {{0}};

    (void) state;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(coord_agg_add(med, &v[i], 1, &eb), FL_OK);
        assert_int_equal(coord_agg_add(trim, &v[i], 1, &eb), FL_OK);
        assert_int_equal(coord_agg_add(avg, &v[i], 1, &eb), FL_OK);
    }
    assert_int_equal(coord_agg_result(med, &out, &eb), FL_OK);
    assert_float_equal(out, 3.0f, 0);
    assert_int_equal(coord_agg_result(trim, &out, &eb), FL_OK);
    assert_float_equal(out, 3.0f, 1e-6f); /* mean of 2, 3, 4 */
    assert_int_equal(coord_agg_result(avg, &out, &eb), FL_OK);
    assert_float_equal(out, 202.0f, 1e-4f);
    /* Even count: median is the mean of the middle two. */
    coord_agg_reset(med);
    for (int i = 0; i < 4; i++)
        assert_int_equal(coord_agg_add(med, &v[i], 1, &eb), FL_OK);
    assert_int_equal(coord_agg_result(med, &out, &eb), FL_OK);
    assert_float_equal(out, 3.5f, 1e-6f); /* 1 3 4 1000 */
    coord_agg_destroy(&med);
    coord_agg_destroy(&trim);
    coord_agg_destroy(&avg);
}

static void
test_rejects_bad_updates_without_changing_state(void **state)
{
    coord_agg_t *agg = make(PB_AGG_FEDAVG, 3, 2, 0);
    const float good[3] = {1, 2, 3};
    float bad[3] = {1, 2, 3};
    float out[3];
    fl_errbuf_t eb = {{0}};

    (void) state;
    bad[2] = NAN;
    assert_int_equal(coord_agg_add(agg, bad, 1, &eb), FL_ERR_RANGE);
    assert_string_equal(eb.msg, "update[2]: not a finite number");
    bad[2] = INFINITY;
    assert_int_equal(coord_agg_add(agg, bad, 1, &eb), FL_ERR_RANGE);
    assert_int_equal(coord_agg_add(agg, good, 0, &eb), FL_ERR_RANGE);
    assert_int_equal(coord_agg_add(agg, good, NAN, &eb), FL_ERR_RANGE);
    assert_int_equal(coord_agg_count(agg), 0);
    assert_int_equal(coord_agg_add(agg, good, 1, &eb), FL_OK);
    assert_int_equal(coord_agg_add(agg, good, 1, &eb), FL_OK);
    assert_int_equal(coord_agg_add(agg, good, 1, &eb), FL_ERR_LIMIT);
    assert_int_equal(coord_agg_result(agg, out, &eb), FL_OK);
    assert_memory_equal(out, good, sizeof good);
    coord_agg_destroy(&agg);
}

/* A small deterministic generator for the test's own random updates. */
static uint32_t
lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t) (*s >> 33);
}

static void
test_fedavg_is_order_independent_and_exact(void **state)
{
    enum { N = 40, D = 64 };
    static float up[N][D];
    static double w[N];
    float a[D], b[D];
    coord_agg_t *x = make(PB_AGG_FEDAVG, D, N, 0);
    coord_agg_t *y = make(PB_AGG_FEDAVG, D, N, 0);
    fl_errbuf_t eb = {{0}};
    uint64_t s = 42;

    (void) state;
    /* Values of wildly different magnitudes: a double sum would depend on
     * the order; the exact sum cannot. */
    for (int i = 0; i < N; i++) {
        w[i] = 1 + lcg(&s) % 500;
        for (int j = 0; j < D; j++) {
            float v = (float) ((double) lcg(&s) / 4294967296.0 - 0.5);
            int scale = (int) (lcg(&s) % 60) - 30;
            up[i][j] = ldexpf(v, scale);
        }
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(coord_agg_add(x, up[i], w[i], &eb), FL_OK);
    for (int i = N - 1; i >= 0; i--)
        assert_int_equal(coord_agg_add(y, up[(i * 7) % N], w[(i * 7) % N], &eb),
                         FL_OK);
    assert_int_equal(coord_agg_result(x, a, &eb), FL_OK);
    assert_int_equal(coord_agg_result(y, b, &eb), FL_OK);
    assert_memory_equal(a, b, sizeof a);
    /* And it is the correctly rounded mean, checked in long double. */
    for (int j = 0; j < D; j++) {
        long double num = 0, den = 0;

        for (int i = 0; i < N; i++) {
            num += (long double) w[i] * (long double) up[i][j];
            den += (long double) w[i];
        }
        assert_true(fabsl((long double) a[j] - num / den) <=
                    fabsl(num / den) * 1.2e-7L + 1e-40L);
    }
    coord_agg_destroy(&x);
    coord_agg_destroy(&y);
}

static void
test_fedavg_survives_cancellation(void **state)
{
    /* 2^60 + 1 - 2^60: a double sum loses the 1 in this order. */
    const float big = ldexpf(1.0f, 60), one = 1.0f, neg = -ldexpf(1.0f, 60);
    coord_agg_t *x = make(PB_AGG_FEDAVG, 1, 3, 0);
    fl_errbuf_t eb = {{0}};
    float out;

    (void) state;
    assert_int_equal(coord_agg_add(x, &big, 1, &eb), FL_OK);
    assert_int_equal(coord_agg_add(x, &one, 1, &eb), FL_OK);
    assert_int_equal(coord_agg_add(x, &neg, 1, &eb), FL_OK);
    assert_int_equal(coord_agg_result(x, &out, &eb), FL_OK);
    assert_float_equal(out, 1.0f / 3.0f, 1e-7f);
    coord_agg_destroy(&x);
}

static void
test_invalid_parameters(void **state)
{
    coord_agg_t *agg = NULL;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(coord_agg_new(PB_AGG_FEDAVG, 0, 1, 0, &agg, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(coord_agg_new(PB_AGG_TRIMMED_MEAN, 1, 1, 0.5, &agg, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(coord_agg_new(PB_AGG_MEDIAN, 1, 0, 0, &agg, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(
        coord_agg_new(PB_AGG_MEDIAN, SIZE_MAX / 2, SIZE_MAX / 2, 0, &agg, &eb),
        FL_ERR_LIMIT);
    assert_null(agg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fedavg_weighted_and_uniform),
        cmocka_unit_test(test_median_and_trimmed_mean),
        cmocka_unit_test(test_rejects_bad_updates_without_changing_state),
        cmocka_unit_test(test_fedavg_is_order_independent_and_exact),
        cmocka_unit_test(test_fedavg_survives_cancellation),
        cmocka_unit_test(test_invalid_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
