/*
 * Tests for privacy/rdp.c: the RDP of one subsampled-Gaussian step (against
 * closed forms at q = 1 and alpha = 2, 3, against an independent 50-digit
 * quadrature in vectors/dp_rdp_per_order.csv, and the accelerated
 * fractional series against plain summation), composition, the conversion
 * to (epsilon, delta), the order grids, limits and argument checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/rdp.h"
#include "vectors_csv.h"

static void
near(double got, double want, double rel, double abs_tol)
{
    const double tol = fmax(rel * fabs(want), abs_tol);

    if (!(fabs(got - want) <= tol)) {
        fail_msg("got %.17g want %.17g (rel %g abs %g)", got, want, rel,
                 abs_tol);
    }
}

/* q = 1: the Gaussian mechanism, RDP alpha / (2 sigma^2) at every order. */
static void
test_full_batch(void **state)
{
    (void) state;
    near(dp_rdp_sgm(1.0, 1.0, 2.0), 1.0, 1e-15, 0.0);
    near(dp_rdp_sgm(1.0, 2.0, 1.5), 1.5 / 8.0, 1e-15, 0.0);
    near(dp_rdp_sgm(1.0, 0.3, 63.0), 63.0 / 0.18, 1e-15, 0.0);
}

/*
 * alpha = 2: A_2 = (1-q)^2 + 2q(1-q) + q^2 e^{1/s^2} = 1 + q^2 (e^{1/s^2} - 1),
 * so RDP = log1p(q^2 expm1(1/s^2)). alpha = 3: A_3 = (1-q)^3 + 3q(1-q)^2 +
 * 3q^2(1-q) e^{1/s^2} + q^3 e^{3/s^2}, i.e. 1 + 3q^2(1-q) expm1(1/s^2) +
 * q^3 expm1(3/s^2); RDP = log(A_3) / 2.
 */
static void
test_integer_closed_forms(void **state)
{
    const double qs[] = {1e-6, 1e-3, 0.01, 0.256, 0.9};
    const double ss[] = {0.3, 0.8, 1.1, 4.0, 100.0};

    (void) state;
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        for (size_t j = 0; j < sizeof(ss) / sizeof(ss[0]); j++) {
            const double q = qs[i];
            const double s = ss[j];
            const double e1 = expm1(1.0 / (s * s));
            const double e3 = expm1(3.0 / (s * s));
            const double r2 = log1p(q * q * e1);
            const double r3 =
                log1p(3.0 * q * q * (1.0 - q) * e1 + q * q * q * e3) / 2.0;

            /* Tiny RDPs (q = 1e-6, s = 100: 1e-16) keep full relative
             * precision: the sum is taken over A - 1. */
            near(dp_rdp_sgm(q, s, 2.0), r2, 1e-12, 0.0);
            near(dp_rdp_sgm(q, s, 3.0), r3, 1e-12, 0.0);
        }
    }
}

/* Per-order values against the mpmath quadrature of A_alpha (50 digits,
 * printed to 13 significant digits). */
static void
test_per_order_quadrature(void **state)
{
    vcsv_t *t = malloc(sizeof(*t));
    int cq, cs, ca, cm;
    size_t checked = 0;

    (void) state;
    assert_non_null(t);
    assert_int_equal(vcsv_load("dp_rdp_per_order.csv", t), 0);
    cq = vcsv_col(t, "q");
    cs = vcsv_col(t, "sigma");
    ca = vcsv_col(t, "order");
    cm = vcsv_col(t, "rdp_mpmath_quadrature");
    assert_true(cq >= 0 && cs >= 0 && ca >= 0 && cm >= 0);
    for (size_t r = 0; r < t->n_rows; r++) {
        const double q = vcsv_num(t, r, cq);
        const double s = vcsv_num(t, r, cs);
        const double a = vcsv_num(t, r, ca);
        const double want = vcsv_num(t, r, cm);
        const double got = dp_rdp_sgm(q, s, a);

        if (a == floor(a)) {
            near(got, want, 2e-12, 0.0);
        } else {
            /* Opacus itself is within 1.1e-7 here; the fractional value
             * carries a 32-ulp rounding pad on log(A). */
            near(got, want, 1e-6, 0.0);
            assert_true(got >= want * (1.0 - 1e-9));
        }
        checked++;
    }
    assert_int_equal(checked, 150);
    vcsv_free(t);
    free(t);
}

/* The accelerated tail against term-by-term summation, over the whole
 * parameter box (q 1e-6..0.999, sigma 0.3..100, fractional alpha). Both
 * are limited by rounding of A near 1, so the tolerance is absolute on
 * log(A) (5e-14: the plain sum is the less accurate, see below) plus
 * relative (1e-9). */
static void
test_fractional_acceleration(void **state)
{
    const double qs[] = {1e-6, 1e-3, 0.01, 0.1, 0.256, 0.5, 0.9, 0.999};
    const double ss[] = {0.3, 0.5, 0.8, 1.1, 2.0, 5.0, 10.0, 30.0, 100.0};
    const double as[] = {1.1, 1.25, 1.5, 1.9, 2.5, 3.7, 5.5, 10.9, 33.3};

    (void) state;
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        for (size_t j = 0; j < sizeof(ss) / sizeof(ss[0]); j++) {
            for (size_t k = 0; k < sizeof(as) / sizeof(as[0]); k++) {
                const double a = as[k];
                const double fast = dp_rdp_sgm(qs[i], ss[j], a) * (a - 1.0);
                const double slow = dp__rdp_log_a_frac_series(qs[i], ss[j], a);

                assert_true(!isnan(fast));
                assert_true(!isnan(slow));
                near(fast, slow, 1e-9, 5e-14);
            }
        }
    }
}

/* Hard corners, against 40-digit mpmath quadrature of A_alpha
 * (mp.quad of the Gaussian mixture integrand, split at 0, 1/2, 1, +-20 s):
 * tiny q with small sigma (the plain series is off by 1e-14 absolute here),
 * and large q with small sigma. Values are log(A_alpha). */
static void
test_fractional_hard_corners(void **state)
{
    static const struct {
        double q, sigma, alpha, log_a;
    } v[] = {
        {1e-6, 0.3, 1.1, 1.40108131044499e-9},
        {1e-6, 0.3, 1.25, 4.31433766822415e-9},
        {1e-6, 10.0, 1.1, 5.52759184612706e-16},
        {0.5, 0.3, 1.1, 0.291178189695596},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const double got =
            dp_rdp_sgm(v[i].q, v[i].sigma, v[i].alpha) * (v[i].alpha - 1.0);

        /* Upper bound (pad included), within 1e-14 absolute. */
        assert_true(got >= v[i].log_a * (1.0 - 1e-13));
        near(got, v[i].log_a, 1e-12, 1e-14);
    }
}

/* RDP grows with alpha and q and shrinks with sigma; it stays finite and
 * defined over the documented range (sigma 0.3..100, q up to 1). */
static void
test_monotone_and_finite(void **state)
{
    double orders[DP_RDP_MAX_ORDERS];
    const size_t n =
        dp_rdp_grid_orders(DP_RDP_GRID_DEFAULT, orders, DP_RDP_MAX_ORDERS);
    const double qs[] = {1e-9, 1e-4, 0.01, 0.3, 0.999, 1.0};
    const double ss[] = {0.3, 0.7, 1.1, 3.0, 10.0, 100.0};

    (void) state;
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        for (size_t j = 0; j < sizeof(ss) / sizeof(ss[0]); j++) {
            double prev = 0.0;

            for (size_t k = 0; k < n; k++) {
                const double r = dp_rdp_sgm(qs[i], ss[j], orders[k]);

                assert_true(isfinite(r));
                /* Slack: the fractional orders' rounding pad (32 ulps of
                 * log A over alpha - 1) dominates RDPs below 1e-13. */
                assert_true(r >= prev * (1.0 - 1e-12) - 1e-13);
                prev = r;
                if (j > 0) {
                    assert_true(r <= dp_rdp_sgm(qs[i], ss[j - 1], orders[k]) *
                                             (1.0 + 1e-12) +
                                         1e-13);
                }
                if (i > 0) {
                    assert_true(r >= dp_rdp_sgm(qs[i - 1], ss[j], orders[k]) *
                                             (1.0 - 1e-12) -
                                         1e-13);
                }
            }
        }
    }
}

static void
test_grids(void **state)
{
    double d[DP_RDP_MAX_ORDERS];
    double o[DP_RDP_MAX_ORDERS];
    size_t nd;
    size_t no;
    size_t k = 0;

    (void) state;
    nd = dp_rdp_grid_orders(DP_RDP_GRID_DEFAULT, d, DP_RDP_MAX_ORDERS);
    no = dp_rdp_grid_orders(DP_RDP_GRID_OPACUS, o, DP_RDP_MAX_ORDERS);
    /* Opacus: [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)). */
    assert_int_equal(no, 151);
    assert_true(o[0] == 1.1 && o[98] == 10.9 && o[99] == 12.0);
    assert_true(o[150] == 63.0);
    for (size_t i = 0; i < no; i++) {
        assert_true(o[i] != 11.0);
    }
    /* The default grid is a superset, increasing, with dp_accounting's
     * 11, 128, 256, 512 and 1024. */
    assert_true(nd > no && nd <= DP_RDP_MAX_ORDERS);
    for (size_t i = 1; i < nd; i++) {
        assert_true(d[i] > d[i - 1]);
    }
    for (size_t i = 0; i < no; i++) {
        while (k < nd && d[k] != o[i]) {
            k++;
        }
        assert_true(k < nd);
    }
    k = 0;
    for (size_t i = 0; i < nd; i++) {
        if (d[i] == 11.0 || d[i] == 128.0 || d[i] == 256.0 || d[i] == 512.0 ||
            d[i] == 1024.0) {
            k++;
        }
    }
    assert_int_equal(k, 5);
    assert_int_equal(dp_rdp_grid_orders(DP_RDP_GRID_OPACUS, o, 10), 0);
    assert_int_equal(dp_rdp_grid_orders((dp_rdp_grid_t) 7, o, 256), 0);
    assert_true(d[nd - 1] == 1024.0);
}

/* Composition adds per order; merged, split and interleaved histories
 * give the same RDP. */
static void
test_compose(void **state)
{
    const double orders[] = {1.5, 2.0, 8.0, 32.0};
    const dp_sgm_t merged[] = {{0.01, 1.1, 250}, {0.01, 2.0, 250}};
    dp_sgm_t split[10];
    dp_sgm_t inter[10];
    double rm[4];
    double rs[4];
    double ri[4];

    (void) state;
    for (int i = 0; i < 5; i++) {
        split[i] = (dp_sgm_t){0.01, 1.1, 50};
        split[5 + i] = (dp_sgm_t){0.01, 2.0, 50};
        inter[2 * i] = split[0];
        inter[2 * i + 1] = split[5];
    }
    assert_int_equal(dp_rdp_compose(merged, 2, orders, 4, rm, NULL), FL_OK);
    assert_int_equal(dp_rdp_compose(split, 10, orders, 4, rs, NULL), FL_OK);
    assert_int_equal(dp_rdp_compose(inter, 10, orders, 4, ri, NULL), FL_OK);
    for (int k = 0; k < 4; k++) {
        const double want = 250.0 * dp_rdp_sgm(0.01, 1.1, orders[k]) +
                            250.0 * dp_rdp_sgm(0.01, 2.0, orders[k]);

        near(rm[k], want, 1e-14, 0.0);
        near(rs[k], want, 1e-14, 0.0);
        near(ri[k], want, 1e-12, 0.0);
    }
    /* An empty history spends nothing. */
    assert_int_equal(dp_rdp_compose(NULL, 0, orders, 4, rm, NULL), FL_OK);
    assert_true(rm[0] == 0.0 && rm[3] == 0.0);
}

/* The conversion, by hand: at alpha = 2, rdp = 1, delta = 1e-5,
 * eps = 1 + log(1/2) - (log(1e-5) + log 2) / 1 = 1 - 2 log 2 + 5 log 10. */
static void
test_to_epsilon(void **state)
{
    const double o1[] = {2.0};
    const double r1[] = {1.0};
    const double o3[] = {2.0, 3.0, 4.0};
    const double r3[] = {NAN, INFINITY, 0.5};
    const double tiny[] = {1e-12};
    double eps = -1.0;
    double ord = -1.0;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(dp_rdp_to_epsilon(o1, r1, 1, 1e-5, &eps, &ord, NULL),
                     FL_OK);
    near(eps, 1.0 - 2.0 * log(2.0) + 5.0 * log(10.0), 1e-15, 0.0);
    assert_true(ord == 2.0);
    /* NaN skipped, infinity loses: alpha = 4 wins. */
    assert_int_equal(dp_rdp_to_epsilon(o3, r3, 3, 1e-5, &eps, &ord, NULL),
                     FL_OK);
    near(eps, 0.5 + log(0.75) - (log(1e-5) + log(4.0)) / 3.0, 1e-15, 0.0);
    assert_true(ord == 4.0);
    /* KL shortcut: delta^2 + expm1(-rdp) > 0 gives epsilon 0. */
    assert_int_equal(dp_rdp_to_epsilon(o1, tiny, 1, 1e-5, &eps, &ord, NULL),
                     FL_OK);
    assert_true(eps == 0.0);
    /* Every order infinite or NaN: no answer rather than a wrong one. */
    assert_int_equal(
        dp_rdp_to_epsilon(o3 + 1, r3 + 1, 1, 1e-5, &eps, &ord, NULL),
        FL_ERR_NUMERIC);
    assert_int_equal(dp_rdp_to_epsilon(o3, r3, 2, 1e-5, &eps, &ord, &eb),
                     FL_ERR_NUMERIC);
    assert_true(strlen(eb.msg) > 0);
    assert_int_equal(dp_rdp_to_epsilon(o1, r1, 1, 0.0, &eps, &ord, NULL),
                     FL_ERR_INVALID);
    assert_int_equal(dp_rdp_to_epsilon(o1, r1, 1, 1.0, &eps, &ord, NULL),
                     FL_ERR_INVALID);
    assert_int_equal(dp_rdp_to_epsilon(o1, r1, 1, NAN, &eps, &ord, NULL),
                     FL_ERR_INVALID);
}

/* Known answers: Opacus's accountant test (q 0.04, sigma 1.5, 2250 steps,
 * 7.32911117143 to 7 places) and steps far beyond it. */
static void
test_epsilon_anchor(void **state)
{
    const dp_sgm_t h = {0.04, 1.5, 2250};
    const dp_sgm_t big = {0.01, 1.1, 10000000};
    const dp_sgm_t hopeless = {0.5, 1e-160, 1};
    double eps;
    double ord;
    double eps_d;

    (void) state;
    assert_int_equal(
        dp_rdp_epsilon(&h, 1, DP_RDP_GRID_OPACUS, 1e-5, &eps, &ord, NULL),
        FL_OK);
    near(eps, 7.32911117143, 0.0, 5e-8);
    assert_int_equal(
        dp_rdp_epsilon(&h, 1, DP_RDP_GRID_DEFAULT, 1e-5, &eps_d, &ord, NULL),
        FL_OK);
    assert_true(eps_d <= eps + 1e-12);
    assert_int_equal(
        dp_rdp_epsilon(&big, 1, DP_RDP_GRID_DEFAULT, 1e-5, &eps, &ord, NULL),
        FL_OK);
    assert_true(isfinite(eps) && eps > 100.0);
    /* sigma 1e-160: RDP overflows at every order, an error not a number. */
    assert_int_equal(dp_rdp_epsilon(&hopeless, 1, DP_RDP_GRID_DEFAULT, 1e-5,
                                    &eps, &ord, NULL),
                     FL_ERR_NUMERIC);
}

static void
test_invalid(void **state)
{
    const double orders[] = {2.0};
    double rdp[1];
    dp_sgm_t h = {0.01, 1.0, 10};
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_true(isnan(dp_rdp_sgm(0.0, 1.0, 2.0)));
    assert_true(isnan(dp_rdp_sgm(1.5, 1.0, 2.0)));
    assert_true(isnan(dp_rdp_sgm(NAN, 1.0, 2.0)));
    assert_true(isnan(dp_rdp_sgm(0.1, 0.0, 2.0)));
    assert_true(isnan(dp_rdp_sgm(0.1, INFINITY, 2.0)));
    assert_true(isnan(dp_rdp_sgm(0.1, 1.0, 1.0)));
    assert_true(isnan(dp_rdp_sgm(0.1, 1.0, 5000.0)));

    h.sampling_rate = 0.0;
    assert_int_equal(dp_rdp_compose(&h, 1, orders, 1, rdp, &eb),
                     FL_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "sampling rate"));
    h.sampling_rate = 0.01;
    h.noise_multiplier = -1.0;
    assert_int_equal(dp_rdp_compose(&h, 1, orders, 1, rdp, NULL),
                     FL_ERR_INVALID);
    h.noise_multiplier = NAN;
    assert_int_equal(dp_rdp_compose(&h, 1, orders, 1, rdp, NULL),
                     FL_ERR_INVALID);
    h.noise_multiplier = 1.0;
    h.steps = 0;
    assert_int_equal(dp_rdp_compose(&h, 1, orders, 1, rdp, NULL),
                     FL_ERR_INVALID);
    h.steps = DP_RDP_MAX_STEPS + 1;
    assert_int_equal(dp_rdp_compose(&h, 1, orders, 1, rdp, NULL), FL_ERR_LIMIT);
    h.steps = 1;
    assert_int_equal(
        dp_rdp_compose(&h, DP_RDP_MAX_HISTORY + 1u, orders, 1, rdp, NULL),
        FL_ERR_LIMIT);
    assert_int_equal(dp_rdp_compose(NULL, 1, orders, 1, rdp, NULL),
                     FL_ERR_INVALID);
    assert_int_equal(
        dp_rdp_compose(&h, 1, orders, DP_RDP_MAX_ORDERS + 1u, rdp, NULL),
        FL_ERR_LIMIT);
    assert_int_equal(
        dp_rdp_epsilon(&h, 1, (dp_rdp_grid_t) 9, 1e-5, rdp, rdp, NULL),
        FL_ERR_INVALID);
}

/*
 * The running composition, one entry at a time, gives bit for bit what
 * compose and to_epsilon give for every prefix of a history with runs,
 * interleaved settings (more than the cache holds) and q = 1; a refused
 * entry adds nothing.
 */
static void
test_running_matches_compose(void **state)
{
    static const dp_sgm_t set[] = {
        {0.01, 1.1, 50}, {0.02, 1.1, 50}, {0.01, 0.9, 7},
        {1.0, 4.0, 1},   {0.05, 1.3, 10}, {0.003, 2.0, 1000},
    };
    enum { N = 300 };
    dp_sgm_t hist[N];
    double orders[DP_RDP_MAX_ORDERS], rdp[DP_RDP_MAX_ORDERS];
    double eps_run, eps_all, ord_run, ord_all;
    dp_rdp_running_t *r = NULL;
    fl_errbuf_t eb = {{0}};
    const dp_sgm_t bad = {0.01, -1.0, 5};
    size_t n_orders =
        dp_rdp_grid_orders(DP_RDP_GRID_DEFAULT, orders, DP_RDP_MAX_ORDERS);
    uint64_t x = 12345;

    (void) state;
    assert_int_equal(dp_rdp_running_new(orders, n_orders, NULL, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(dp_rdp_running_new(orders, n_orders, &r, &eb), FL_OK);
    assert_int_equal(dp_rdp_running_count(r), 0);
    for (size_t j = 0; j < N; j++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        /* Runs of 1-4 equal entries, settings drawn from six. */
        hist[j] =
            (j > 0 && (x >> 60) % 4 != 0) ? hist[j - 1] : set[(x >> 33) % 6];
        assert_int_equal(dp_rdp_running_add(r, &hist[j], &eb), FL_OK);
        assert_int_equal(dp_rdp_running_count(r), j + 1);
        if (j % 37 != 0 && j != N - 1)
            continue;
        assert_int_equal(
            dp_rdp_running_epsilon(r, 1e-5, &eps_run, &ord_run, &eb), FL_OK);
        assert_int_equal(
            dp_rdp_compose(hist, j + 1, orders, n_orders, rdp, &eb), FL_OK);
        assert_int_equal(dp_rdp_to_epsilon(orders, rdp, n_orders, 1e-5,
                                           &eps_all, &ord_all, &eb),
                         FL_OK);
        assert_true(eps_run == eps_all); /* exact, not within a tolerance */
        assert_true(ord_run == ord_all);
    }
    assert_int_equal(dp_rdp_running_add(r, &bad, &eb), FL_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "entry 300"));
    assert_int_equal(dp_rdp_running_count(r), N);
    assert_int_equal(dp_rdp_running_epsilon(r, 1e-5, &eps_run, &ord_run, &eb),
                     FL_OK);
    assert_true(eps_run == eps_all);
    dp_rdp_running_destroy(&r);
    assert_null(r);
    dp_rdp_running_destroy(&r); /* NULL is fine */
    assert_int_equal(dp_rdp_running_new(orders, DP_RDP_MAX_ORDERS + 1, &r, &eb),
                     FL_ERR_LIMIT);
    assert_null(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_batch),
        cmocka_unit_test(test_integer_closed_forms),
        cmocka_unit_test(test_per_order_quadrature),
        cmocka_unit_test(test_fractional_acceleration),
        cmocka_unit_test(test_fractional_hard_corners),
        cmocka_unit_test(test_monotone_and_finite),
        cmocka_unit_test(test_grids),
        cmocka_unit_test(test_compose),
        cmocka_unit_test(test_to_epsilon),
        cmocka_unit_test(test_epsilon_anchor),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_running_matches_compose),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
