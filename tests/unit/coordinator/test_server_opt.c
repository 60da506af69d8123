/* Tests for coordinator/server_opt.c, against hand-computed steps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "coordinator/server_opt.h"

static void
test_plain(void **state)
{
    coord_server_opt_t *opt = NULL;
    float w[2] = {1, 1};
    const float d[2] = {0.5f, -1};
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(
        coord_server_opt_new(PB_SERVER_PLAIN, 2, 2.0, 0, &opt, &eb), FL_OK);
    coord_server_opt_step(opt, w, d);
    assert_float_equal(w[0], 2.0f, 1e-6f);
    assert_float_equal(w[1], -1.0f, 1e-6f);
    assert_null(opt->m);
    coord_server_opt_destroy(&opt);
}

static void
test_momentum(void **state)
{
    coord_server_opt_t *opt = NULL;
    float w[1] = {0};
    const float d[1] = {1};
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(
        coord_server_opt_new(PB_SERVER_MOMENTUM, 1, 1.0, 0.5, &opt, &eb),
        FL_OK);
    coord_server_opt_step(opt, w, d); /* m = 1, w = 1 */
    coord_server_opt_step(opt, w, d); /* m = 1.5, w = 2.5 */
    assert_float_equal(w[0], 2.5f, 1e-6f);
    assert_float_equal(opt->m[0], 1.5f, 1e-6f);
    coord_server_opt_destroy(&opt);
}

static void
test_adam(void **state)
{
    coord_server_opt_t *opt = NULL;
    float w[1] = {0};
    const float d[1] = {2};
    fl_errbuf_t eb = {{0}};
    double m, v;

    (void) state;
    assert_int_equal(
        coord_server_opt_new(PB_SERVER_ADAM, 1, 0.1, 0.9, &opt, &eb), FL_OK);
    coord_server_opt_step(opt, w, d);
    m = 0.1 * 2;
    v = (1 - COORD_ADAM_BETA2) * 4;
    assert_float_equal(w[0], (float) (0.1 * m / (sqrt(v) + COORD_ADAM_TAU)),
                       1e-6f);
    assert_int_equal(opt->steps, 1);
    coord_server_opt_destroy(&opt);
    assert_int_equal(
        coord_server_opt_new(PB_SERVER_ADAM, 1, 0.1, 1.0, &opt, &eb),
        FL_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_momentum),
        cmocka_unit_test(test_adam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
