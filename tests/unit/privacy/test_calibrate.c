/*
 * Tests for privacy/calibrate.c: the sigma that reaches a target epsilon,
 * against vectors/dp_noise_for_eps.csv (a tight brentq on Opacus RDP, and
 * dp_accounting's calibrate_dp_mechanism with its PLD accountant), its
 * minimality, and unreachable targets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/accountant.h"
#include "vectors_csv.h"

/* Reference sigma for (q, steps, target) by the method whose name starts
 * with prefix; NaN if absent. */
static double
ref_sigma(const vcsv_t *t, double q, double steps, double target,
          const char *prefix)
{
    const int cq = vcsv_col(t, "q");
    const int cs = vcsv_col(t, "steps");
    const int ct = vcsv_col(t, "target_eps");
    const int cm = vcsv_col(t, "method");
    const int cx = vcsv_col(t, "sigma");

    for (size_t r = 0; r < t->n_rows; r++) {
        if (vcsv_num(t, r, cq) == q && vcsv_num(t, r, cs) == steps &&
            vcsv_num(t, r, ct) == target &&
            strncmp(vcsv_str(t, r, cm), prefix, strlen(prefix)) == 0) {
            return vcsv_num(t, r, cx);
        }
    }
    return NAN;
}

/* RDP with Opacus's orders: the brentq sigma to 0.5% (in fact 1e-5), and
 * the answer is minimal: 0.1% less noise exceeds the target. */
static void
test_rdp_against_reference(void **state)
{
    const double targets[] = {1.0, 3.0, 8.0};
    const dp_accountant_opts_t opa = {DP_ACCOUNTANT_RDP, DP_ORDERS_OPACUS, 0.0};
    vcsv_t *t = malloc(sizeof(*t));

    (void) state;
    assert_non_null(t);
    assert_int_equal(vcsv_load("dp_noise_for_eps.csv", t), 0);
    for (size_t i = 0; i < 3; i++) {
        const double want =
            ref_sigma(t, 0.01, 1000.0, targets[i], "brentq(opacus_rdp");
        const dp_sgm_t below_h = {0.01, 0.0, 1000};
        dp_sgm_t h = below_h;
        double sigma = 0.0;
        double eps = 0.0;
        dp_epsilon_t e;

        assert_true(isfinite(want));
        assert_int_equal(dp_accountant_calibrate(&opa, 0.01, 1000, 1e-5,
                                                 targets[i], &sigma, &eps,
                                                 NULL),
                         FL_OK);
        assert_true(fabs(sigma - want) <= 1e-5 * want);
        assert_true(eps <= targets[i]);
        assert_true(eps > targets[i] * (1.0 - 1e-4));
        h.noise_multiplier = sigma * 0.999;
        assert_int_equal(dp_accountant_epsilon(&opa, &h, 1, 1e-5, &e, NULL),
                         FL_OK);
        assert_true(e.epsilon > targets[i]);
    }
    vcsv_free(t);
    free(t);
}

/* The default grid is tighter, so its sigma is never larger. */
static void
test_rdp_default_grid(void **state)
{
    const dp_accountant_opts_t opa = {DP_ACCOUNTANT_RDP, DP_ORDERS_OPACUS, 0.0};
    double s_def = 0.0;
    double s_opa = 0.0;

    (void) state;
    assert_int_equal(
        dp_accountant_calibrate(NULL, 0.1, 500, 1e-5, 3.0, &s_def, NULL, NULL),
        FL_OK);
    assert_int_equal(
        dp_accountant_calibrate(&opa, 0.1, 500, 1e-5, 3.0, &s_opa, NULL, NULL),
        FL_OK);
    assert_true(s_def <= s_opa);
    assert_true(s_def > 0.9 * s_opa);
}

/* PLD against dp_accounting's PLD calibration (q 0.01, 1000 steps, target
 * 3: sigma 0.81358), within 0.5%. */
static void
test_pld_against_reference(void **state)
{
    const dp_accountant_opts_t pld = {DP_ACCOUNTANT_PLD, DP_ORDERS_DEFAULT,
                                      0.0};
    vcsv_t *t = malloc(sizeof(*t));
    double want;
    double sigma = 0.0;
    double eps = 0.0;

    (void) state;
    assert_non_null(t);
    assert_int_equal(vcsv_load("dp_noise_for_eps.csv", t), 0);
    want = ref_sigma(t, 0.01, 1000.0, 3.0,
                     "dp_accounting.calibrate_dp_mechanism[PLD");
    assert_true(isfinite(want));
    assert_int_equal(dp_accountant_calibrate(&pld, 0.01, 1000, 1e-5, 3.0,
                                             &sigma, &eps, NULL),
                     FL_OK);
    assert_true(fabs(sigma - want) <= 5e-3 * want);
    assert_true(eps <= 3.0);
    vcsv_free(t);
    free(t);
}

static void
test_unreachable_and_invalid(void **state)
{
    double sigma = 0.0;
    fl_errbuf_t eb = {{0}};

    (void) state;
    /* Below the order grid's floor (about 0.003 at 1e-5): no sigma. */
    assert_int_equal(dp_accountant_calibrate(NULL, 0.01, 1000, 1e-5, 1e-4,
                                             &sigma, NULL, &eb),
                     FL_ERR_RANGE);
    assert_non_null(strstr(eb.msg, "target"));
    /* A target any noise meets. */
    assert_int_equal(
        dp_accountant_calibrate(NULL, 1e-6, 1, 1e-5, 1e6, &sigma, NULL, NULL),
        FL_ERR_RANGE);
    assert_int_equal(
        dp_accountant_calibrate(NULL, 0.0, 10, 1e-5, 1.0, &sigma, NULL, NULL),
        FL_ERR_INVALID);
    assert_int_equal(
        dp_accountant_calibrate(NULL, 1.1, 10, 1e-5, 1.0, &sigma, NULL, NULL),
        FL_ERR_INVALID);
    assert_int_equal(
        dp_accountant_calibrate(NULL, 0.1, 0, 1e-5, 1.0, &sigma, NULL, NULL),
        FL_ERR_INVALID);
    assert_int_equal(
        dp_accountant_calibrate(NULL, 0.1, 10, 0.0, 1.0, &sigma, NULL, NULL),
        FL_ERR_INVALID);
    assert_int_equal(
        dp_accountant_calibrate(NULL, 0.1, 10, 1e-5, NAN, &sigma, NULL, NULL),
        FL_ERR_INVALID);
    assert_int_equal(
        dp_accountant_calibrate(NULL, 0.1, 10, 1e-5, -1.0, &sigma, NULL, NULL),
        FL_ERR_INVALID);
    assert_int_equal(
        dp_accountant_calibrate(NULL, 0.1, 10, 1e-5, 1.0, NULL, NULL, NULL),
        FL_ERR_INVALID);
    assert_int_equal(dp_accountant_calibrate(NULL, 0.1,
                                             DP_ACCOUNTANT_MAX_STEPS + 1, 1e-5,
                                             1.0, &sigma, NULL, NULL),
                     FL_ERR_LIMIT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rdp_against_reference),
        cmocka_unit_test(test_rdp_default_grid),
        cmocka_unit_test(test_pld_against_reference),
        cmocka_unit_test(test_unreachable_and_invalid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
