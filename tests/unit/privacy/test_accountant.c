/*
 * Tests for privacy/accountant.c: the facade over the RDP and PLD
 * accountants (defaults, names, argument checks, empty history, known
 * answers from Opacus's tests and the exact Gaussian case).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "privacy/accountant.h"

static void
near(double got, double want, double rel, double abs_tol)
{
    const double tol = fmax(rel * fabs(want), abs_tol);

    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.17g want %.17g (rel %g abs %g)", got, want, rel,
                 abs_tol);
    }
}

static void
test_names(void **state)
{
    dp_accountant_kind_t k = DP_ACCOUNTANT_RDP;
    dp_orders_t o = DP_ORDERS_DEFAULT;

    (void) state;
    assert_string_equal(dp_accountant_kind_name(DP_ACCOUNTANT_RDP), "rdp");
    assert_string_equal(dp_accountant_kind_name(DP_ACCOUNTANT_PLD), "pld");
    assert_string_equal(dp_accountant_kind_name((dp_accountant_kind_t) 5),
                        "unknown");
    assert_int_equal(dp_accountant_kind_parse("pld", &k), FL_OK);
    assert_int_equal(k, DP_ACCOUNTANT_PLD);
    assert_int_equal(dp_accountant_kind_parse("rdp", &k), FL_OK);
    assert_int_equal(k, DP_ACCOUNTANT_RDP);
    assert_int_equal(dp_accountant_kind_parse("RDP", &k), FL_ERR_INVALID);
    assert_int_equal(dp_accountant_kind_parse("", &k), FL_ERR_INVALID);
    assert_int_equal(dp_accountant_kind_parse(NULL, &k), FL_ERR_INVALID);
    assert_int_equal(dp_orders_parse("opacus", &o), FL_OK);
    assert_int_equal(o, DP_ORDERS_OPACUS);
    assert_int_equal(dp_orders_parse("default", &o), FL_OK);
    assert_int_equal(o, DP_ORDERS_DEFAULT);
    assert_int_equal(dp_orders_parse("dpacc", &o), FL_ERR_INVALID);
    assert_string_equal(dp_orders_name(DP_ORDERS_OPACUS), "opacus");
}

/* NULL options are RDP with the default orders; Opacus's orders reproduce
 * Opacus's accountant test (q 0.04, sigma 1.5, 2250 steps: 7.32911117143,
 * checked to 7 places there). */
static void
test_rdp_defaults_and_opacus(void **state)
{
    const dp_sgm_t h = {0.04, 1.5, 2250};
    const dp_accountant_opts_t rdp = {DP_ACCOUNTANT_RDP, DP_ORDERS_DEFAULT,
                                      0.0};
    const dp_accountant_opts_t opa = {DP_ACCOUNTANT_RDP, DP_ORDERS_OPACUS, 0.0};
    dp_epsilon_t a;
    dp_epsilon_t b;
    dp_epsilon_t c;

    (void) state;
    assert_int_equal(dp_accountant_epsilon(NULL, &h, 1, 1e-5, &a, NULL), FL_OK);
    assert_int_equal(dp_accountant_epsilon(&rdp, &h, 1, 1e-5, &b, NULL), FL_OK);
    assert_int_equal(dp_accountant_epsilon(&opa, &h, 1, 1e-5, &c, NULL), FL_OK);
    assert_true(a.epsilon == b.epsilon && a.order == b.order);
    near(c.epsilon, 7.32911117143, 0.0, 5e-8);
    assert_true(c.delta == 1e-5);
    assert_true(c.order > 1.0 && c.order <= 63.0);
    assert_true(b.epsilon <= c.epsilon);
}

/* Exact case: q = 1, 50 steps at sigma 10 then 50 at sigma 5 is mu-GDP with
 * mu = sqrt(50/100 + 50/25) = sqrt(2.5), epsilon 7.511275 at 1e-5
 * (vectors/dp_composition.csv, C8). PLD is tight there, RDP is not
 * (Opacus: 8.079406222420491 with its orders). */
static void
test_exact_gaussian_pair(void **state)
{
    const dp_sgm_t h[] = {{1.0, 10.0, 50}, {1.0, 5.0, 50}};
    const dp_accountant_opts_t pld = {DP_ACCOUNTANT_PLD, DP_ORDERS_DEFAULT,
                                      0.0};
    const dp_accountant_opts_t opa = {DP_ACCOUNTANT_RDP, DP_ORDERS_OPACUS, 0.0};
    dp_epsilon_t e;

    (void) state;
    assert_int_equal(dp_accountant_epsilon(&pld, h, 2, 1e-5, &e, NULL), FL_OK);
    near(e.epsilon, 7.511275, 1e-5, 0.0);
    assert_true(e.order == 0.0);
    assert_int_equal(dp_accountant_epsilon(&opa, h, 2, 1e-5, &e, NULL), FL_OK);
    near(e.epsilon, 8.079406222420491, 1e-9, 0.0);
}

/* PLD against dp_accounting's PLD (1e-4 grid): q 0.01, sigma 1.1, 1000
 * steps, 1.5154 at 1e-5, with RDP (1.7118) above it. */
static void
test_pld_vs_rdp(void **state)
{
    const dp_sgm_t h = {0.01, 1.1, 1000};
    const dp_accountant_opts_t pld = {DP_ACCOUNTANT_PLD, DP_ORDERS_DEFAULT,
                                      0.0};
    dp_epsilon_t p;
    dp_epsilon_t r;

    (void) state;
    assert_int_equal(dp_accountant_epsilon(&pld, &h, 1, 1e-5, &p, NULL), FL_OK);
    assert_int_equal(dp_accountant_epsilon(NULL, &h, 1, 1e-5, &r, NULL), FL_OK);
    near(p.epsilon, 1.5154, 0.01, 0.0);
    near(r.epsilon, 1.7118, 1e-3, 0.0);
    assert_true(p.epsilon < r.epsilon);
}

static void
test_empty_history(void **state)
{
    const dp_accountant_opts_t pld = {DP_ACCOUNTANT_PLD, DP_ORDERS_DEFAULT,
                                      0.0};
    dp_epsilon_t e = {1.0, 1.0, 1.0};

    (void) state;
    assert_int_equal(dp_accountant_epsilon(NULL, NULL, 0, 1e-5, &e, NULL),
                     FL_OK);
    assert_true(e.epsilon == 0.0 && e.delta == 1e-5);
    assert_int_equal(dp_accountant_epsilon(&pld, NULL, 0, 1e-6, &e, NULL),
                     FL_OK);
    assert_true(e.epsilon == 0.0 && e.delta == 1e-6);
}

static void
test_invalid(void **state)
{
    const dp_sgm_t good = {0.01, 1.0, 10};
    const dp_sgm_t bad_q = {1.5, 1.0, 10};
    const dp_sgm_t bad_s = {0.01, 0.0, 10};
    dp_accountant_opts_t o = {DP_ACCOUNTANT_RDP, DP_ORDERS_DEFAULT, 0.0};
    dp_epsilon_t e;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(dp_accountant_epsilon(NULL, &good, 1, 0.0, &e, &eb),
                     FL_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "delta"));
    assert_int_equal(dp_accountant_epsilon(NULL, &good, 1, NAN, &e, NULL),
                     FL_ERR_INVALID);
    assert_int_equal(dp_accountant_epsilon(NULL, &good, 1, 1.0, &e, NULL),
                     FL_ERR_INVALID);
    assert_int_equal(dp_accountant_epsilon(NULL, &good, 1, 1e-5, NULL, NULL),
                     FL_ERR_INVALID);
    assert_int_equal(dp_accountant_epsilon(NULL, NULL, 1, 1e-5, &e, NULL),
                     FL_ERR_INVALID);
    assert_int_equal(dp_accountant_epsilon(NULL, &bad_q, 1, 1e-5, &e, NULL),
                     FL_ERR_INVALID);
    assert_int_equal(dp_accountant_epsilon(NULL, &bad_s, 1, 1e-5, &e, NULL),
                     FL_ERR_INVALID);
    o.kind = (dp_accountant_kind_t) 3;
    assert_int_equal(dp_accountant_epsilon(&o, &good, 1, 1e-5, &e, NULL),
                     FL_ERR_INVALID);
    o.kind = DP_ACCOUNTANT_RDP;
    o.orders = (dp_orders_t) 3;
    assert_int_equal(dp_accountant_epsilon(&o, &good, 1, 1e-5, &e, NULL),
                     FL_ERR_INVALID);
    o.orders = DP_ORDERS_DEFAULT;
    o.pld_interval = -1.0;
    assert_int_equal(dp_accountant_epsilon(&o, &good, 1, 1e-5, &e, NULL),
                     FL_ERR_INVALID);
    o.pld_interval = NAN;
    assert_int_equal(dp_accountant_epsilon(&o, &good, 1, 1e-5, &e, NULL),
                     FL_ERR_INVALID);
    o.kind = DP_ACCOUNTANT_PLD;
    o.pld_interval = 0.0;
    assert_int_equal(dp_accountant_epsilon(&o, &bad_q, 1, 1e-5, &e, NULL),
                     FL_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_rdp_defaults_and_opacus),
        cmocka_unit_test(test_exact_gaussian_pair),
        cmocka_unit_test(test_pld_vs_rdp),
        cmocka_unit_test(test_empty_history),
        cmocka_unit_test(test_invalid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
