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
        cmocka_unit_test(test_invalid_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
