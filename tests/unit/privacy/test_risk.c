/*
 * Tests for privacy/risk.c: normal CDF and quantile, Gaussian-DP mu,
 * trade-off curves, attack bounds and the GDP to (eps, delta) conversion.
 * Expected values are derived by hand from the formulas in risk.h (the
 * derivation is in each comment), from published normal-table values, or
 * read from the reference accountants' table (a copy of
 * ../shared/refs/dp_reference.csv in tests/unit/privacy/vectors/).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/risk.h"
#include "vectors_csv.h"

static void
near(double got, double want, double rel)
{
    double tol = rel * fabs(want);

    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g want %.17g (rel tol %g)", got, want, rel);
}

static void
test_norm_cdf(void **state)
{
    (void) state;
    assert_true(dp_norm_cdf(0.0) == 0.5);
    near(dp_norm_cdf(1.96), 0.9750021048517795, 1e-15);
    near(dp_norm_cdf(-1.0), 0.15865525393145705, 1e-14);
    near(dp_norm_cdf(-3.0), 0.0013498980316300946, 1e-13);
    /* Deep tail keeps relative precision (table value 7.6198530241605e-24) */
    near(dp_norm_cdf(-10.0), 7.6198530241605e-24, 1e-12);
    /* log Phi: direct where Phi is representable, series beyond -37. */
    near(dp_norm_logcdf(-1.0), log(0.15865525393145705), 1e-14);
    near(dp_norm_logcdf(-37.0001), log(dp_norm_cdf(-37.0001)), 1e-12);
    near(dp_norm_logcdf(-36.9999), log(dp_norm_cdf(-36.9999)), 1e-12);
    /* -800 - ln 40 - ln sqrt(2 pi) + ln(1 - 1/1600 + 3/1600^2 - ...) */
    near(dp_norm_logcdf(-40.0), -804.6084420137538, 1e-14);
}

static void
test_norm_quantile(void **state)
{
    static const double ps[] = {1e-300, 1e-100, 1e-20,   1e-10, 1e-5,
                                0.001,  0.02,   0.02425, 0.1,   0.3,
                                0.49,   0.5,    0.51,    0.9,   0.999};

    (void) state;
    assert_true(dp_norm_quantile(0.5) == 0.0);
    assert_true(isinf(dp_norm_quantile(0.0)) && dp_norm_quantile(0.0) < 0);
    assert_true(isinf(dp_norm_quantile(1.0)) && dp_norm_quantile(1.0) > 0);
    assert_true(isnan(dp_norm_quantile(-0.1)));
    assert_true(isnan(dp_norm_quantile(1.1)));
    assert_true(isnan(dp_norm_quantile(NAN)));
    /* Table values. */
    near(dp_norm_quantile(0.975), 1.959963984540054, 1e-15);
    near(dp_norm_quantile(0.025), -1.959963984540054, 1e-15);
    near(dp_norm_quantile(0.001), -3.090232306167814, 1e-15);
    near(dp_norm_quantile(0.8413447460685429), 1.0, 1e-13);
    /* Round trip Phi(Phi^-1(p)) = p, and symmetry. */
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        double p = ps[i], x = dp_norm_quantile(p);
        near(dp_norm_cdf(x), p, p < 1e-299 ? 1e-7 : 1e-13);
        /* 1 - p is rounded: its quantile moves by ~1e-16/phi(x). */
        if (p >= 1e-5)
            near(dp_norm_quantile(1.0 - p), -x, 1e-9);
    }
}

static void
test_gdp_mu(void **state)
{
    dp_sgm_t one = {1.0, 1.0, 1};
    dp_sgm_t two[2] = {{0.01, 1.1, 250}, {0.01, 2.0, 250}};
    dp_sgm_t full[2] = {{1.0, 2.0, 4}, {1.0, 1.0, 3}};
    dp_sgm_t bad = {0.0, 1.0, 1};

    (void) state;
    /* q = T = sigma = 1: sqrt(e - 1). */
    near(dp_gdp_mu_sgm(&one, 1), 1.3108324944320862, 1e-15);
    /* Sum over phases: 0.01^2*250*(e^(1/1.21)-1) + 0.01^2*250*(e^(1/4)-1) */
    near(dp_gdp_mu_sgm(two, 2),
         sqrt(0.025 * (exp(1.0 / 1.21) - 1.0) + 0.025 * (exp(0.25) - 1.0)),
         1e-14);
    assert_true(dp_gdp_mu_sgm(NULL, 0) == 0.0);
    assert_true(isnan(dp_gdp_mu_sgm(&bad, 1)));
    assert_true(isnan(dp_gdp_mu_sgm(NULL, 1)));
    /* Exact at q = 1: sqrt(4/4 + 3/1) = 2. */
    near(dp_gdp_mu_full_batch(full, 2), 2.0, 1e-15);
    assert_true(isnan(dp_gdp_mu_full_batch(two, 2)));
}

static void
test_gdp_tradeoff(void **state)
{
    (void) state;
    /* mu = 0: no information, f(alpha) = 1 - alpha, TPR bound = FPR. */
    for (int i = 0; i <= 20; i++) {
        double a = i / 20.0;
        near(dp_gdp_tradeoff(0.0, a), 1.0 - a, 1e-15);
        near(dp_gdp_mia_tpr_bound(0.0, a), a, 1e-15);
        near(dp_gdp_rero_bound(0.0, a), a, 1e-15);
    }
    near(dp_gdp_mia_tpr_bound(0.0, 1e-4), 1e-4, 1e-14);
    /* mu = 1, alpha = 1/2: Phi(0 - 1) = Phi(-1). */
    near(dp_gdp_tradeoff(1.0, 0.5), 0.15865525393145705, 1e-14);
    /* mu = 1, fpr = 0.025: Phi(-1.959963984540054 + 1). */
    near(dp_gdp_mia_tpr_bound(1.0, 0.025), 0.1685366707102025, 1e-13);
    near(dp_gdp_tradeoff(1.0, 0.025), 1.0 - 0.1685366707102025, 1e-14);
    /* Ends and limits. */
    assert_true(dp_gdp_tradeoff(2.0, 0.0) == 1.0);
    assert_true(dp_gdp_tradeoff(2.0, 1.0) == 0.0);
    assert_true(dp_gdp_tradeoff(INFINITY, 0.3) == 0.0);
    assert_true(dp_gdp_mia_tpr_bound(INFINITY, 0.3) == 1.0);
    assert_true(isnan(dp_gdp_tradeoff(-1.0, 0.5)));
    assert_true(isnan(dp_gdp_tradeoff(1.0, 1.5)));
    assert_true(isnan(dp_gdp_mia_tpr_bound(NAN, 0.5)));
    /* Symmetric trade-off: G_mu(G_mu(a)) = a. */
    near(dp_gdp_tradeoff(1.5, dp_gdp_tradeoff(1.5, 0.07)), 0.07, 1e-12);
}

static void
test_epsdelta_tradeoff(void **state)
{
    const double ln2 = log(2.0);

    (void) state;
    /* eps = delta = 0: 1 - alpha. */
    for (int i = 0; i <= 20; i++) {
        double a = i / 20.0;
        near(dp_epsdelta_tradeoff(0.0, 0.0, a), 1.0 - a, 1e-15);
        near(dp_epsdelta_mia_tpr_bound(0.0, 0.0, a), a, 1e-14);
    }
    /* eps = ln 2, delta = 0: max(0, 1 - 2a, (1 - a)/2). */
    near(dp_epsdelta_tradeoff(ln2, 0.0, 0.1), 0.8, 1e-15);
    near(dp_epsdelta_tradeoff(ln2, 0.0, 0.5), 0.25, 1e-15);
    near(dp_epsdelta_tradeoff(ln2, 0.0, 1.0 / 3.0), 1.0 / 3.0, 1e-15);
    near(dp_epsdelta_mia_tpr_bound(ln2, 0.0, 0.1), 0.2, 1e-14);
    /* eps = 0, delta = 0.1, alpha = 0.2: max(0, 0.7, 0.7) -> TPR 0.3 */
    near(dp_epsdelta_mia_tpr_bound(0.0, 0.1, 0.2), 0.3, 1e-14);
    /* eps = 8, delta = 1e-5 at 1e-4: min(1, 1e-5 + e^8 1e-4,
     * 1 - e^-8 (1 - 1e-5 - 1e-4)) = 1e-5 + 0.29809579870417 */
    near(dp_epsdelta_rero_bound(8.0, 1e-5, 1e-4), 1e-5 + exp(8.0) * 1e-4,
         1e-14);
    /* ... and at 1e-2 the second branch: 1 - e^-8 (1 - 1e-5 - 1e-2) */
    near(dp_epsdelta_rero_bound(8.0, 1e-5, 1e-2),
         1.0 - exp(-8.0) * (1.0 - 1e-5 - 1e-2), 1e-14);
    assert_true(dp_epsdelta_tradeoff(INFINITY, 0.0, 0.1) == 0.0);
    assert_true(dp_epsdelta_mia_tpr_bound(1.0, 0.0, 0.0) == 0.0);
    assert_true(isnan(dp_epsdelta_tradeoff(-1.0, 0.0, 0.1)));
    assert_true(isnan(dp_epsdelta_tradeoff(1.0, 1.5, 0.1)));
}

static void
test_gdp_epsilon(void **state)
{
    (void) state;
    assert_true(dp_gdp_epsilon_for_delta(0.0, 1e-5) == 0.0);
    /* delta(0) = 2 Phi(mu/2) - 1 = 0.3829 for mu = 1: eps 0 at delta 0.4. */
    assert_true(dp_gdp_epsilon_for_delta(1.0, 0.4) == 0.0);
    /* Round trip: delta(eps = 1) at mu = 1 is
     * Phi(-1/2) - e Phi(-3/2) = 0.1269367375066439. */
    near(dp_gdp_epsilon_for_delta(1.0, 0.1269367375066439), 1.0, 1e-10);
    /* refs README, case C8: q = 1, mu = sqrt(2.5): eps = 7.511275 at 1e-5 */
    near(dp_gdp_epsilon_for_delta(sqrt(2.5), 1e-5), 7.511275, 1e-6);
    /* Large mu: no overflow (e^eps handled in log space). */
    {
        double e = dp_gdp_epsilon_for_delta(60.0, 1e-10);
        assert_true(isfinite(e) && e > 1800.0 && e < 2200.0);
    }
    assert_true(isnan(dp_gdp_epsilon_for_delta(1.0, 0.0)));
    assert_true(isnan(dp_gdp_epsilon_for_delta(-1.0, 1e-5)));
}

/* mu and the GDP epsilon against Opacus (compute_mu_poisson, eps_from_mu)
 * on every row of the reference grid. */
static void
test_against_reference(void **state)
{
    static vcsv_t t;
    int cq, cs, ct, cd, cmu, ceps, rows = 0, eps_rows = 0;

    (void) state;
    /* The committed copy of ../shared/refs/dp_reference.csv. */
    assert_int_equal(vcsv_load("dp_reference.csv", &t), 0);
    cq = vcsv_col(&t, "q");
    cs = vcsv_col(&t, "sigma");
    ct = vcsv_col(&t, "steps");
    cd = vcsv_col(&t, "delta");
    cmu = vcsv_col(&t, "gdp_mu");
    ceps = vcsv_col(&t, "eps_gdp_clt");
    assert_true(cq >= 0 && cs >= 0 && ct >= 0 && cd >= 0 && cmu >= 0 &&
                ceps >= 0);
    for (size_t r = 0; r < t.n_rows; r++) {
        dp_sgm_t s = {vcsv_num(&t, r, cq), vcsv_num(&t, r, cs),
                      (uint64_t) vcsv_num(&t, r, ct)};
        double delta = vcsv_num(&t, r, cd), mu = vcsv_num(&t, r, cmu);
        double eps = vcsv_num(&t, r, ceps);

        if (isnan(mu))
            continue;
        near(dp_gdp_mu_sgm(&s, 1), mu, 1e-9);
        rows++;
        /* Opacus searches [0, 500] with brentq (xtol 2e-12). */
        if (!isnan(eps) && eps > 1e-3) {
            near(dp_gdp_epsilon_for_delta(mu, delta), eps, 1e-7);
            eps_rows++;
        }
    }
    vcsv_free(&t);
    assert_true(rows > 100);
    assert_true(eps_rows > 100);
}

static void
test_risk_report(void **state)
{
    dp_sgm_t sgd = {0.01, 1.1, 1000};
    dp_sgm_t full = {1.0, 2.0, 1};
    dp_risk_t r;

    (void) state;
    /* DP-SGD style: the CLT mu is much tighter than eps = 8. */
    assert_int_equal(dp_risk_report(&sgd, 1, 8.0, 1e-5, &r), FL_OK);
    near(r.mu, dp_gdp_mu_sgm(&sgd, 1), 1e-15);
    assert_false(r.mu_exact);
    near(r.mu_eps, dp_gdp_epsilon_for_delta(r.mu, 1e-5), 1e-15);
    for (int i = 0; i < DP_RISK_N_FPR; i++) {
        assert_true(r.mia[i].at == dp_risk_fprs[i]);
        near(r.mia[i].gdp, dp_gdp_mia_tpr_bound(r.mu, dp_risk_fprs[i]), 1e-15);
        near(r.mia[i].epsdelta,
             dp_epsdelta_mia_tpr_bound(8.0, 1e-5, dp_risk_fprs[i]), 1e-15);
        assert_int_equal(r.mia[i].source, DP_RISK_FROM_GDP);
        assert_true(r.mia[i].bound == r.mia[i].gdp);
        assert_false(r.mia[i].rigorous);
    }
    assert_true(r.rero[0].at == 1e-4 && r.rero[2].at == 1e-2);
    /* q = 1: exact mu = 1/2, a rigorous bound. eps = 0.01 is tighter at
     * small priors: 1e-4 e^0.01 + 1e-5 < Phi(Phi^-1(1e-4) + 0.5). */
    assert_int_equal(dp_risk_report(&full, 1, 0.01, 1e-5, &r), FL_OK);
    near(r.mu, 0.5, 1e-15);
    assert_true(r.mu_exact);
    assert_int_equal(r.rero[0].source, DP_RISK_FROM_EPSDELTA);
    near(r.rero[0].bound, 1e-5 + exp(0.01) * 1e-4, 1e-14);
    assert_true(r.rero[0].rigorous);
    /* No history: only (eps, delta). */
    assert_int_equal(dp_risk_report(NULL, 0, 1.0, 1e-5, &r), FL_OK);
    assert_true(isnan(r.mu) && isnan(r.mia[0].gdp));
    assert_int_equal(r.mia[0].source, DP_RISK_FROM_EPSDELTA);
    near(r.mia[0].bound, 1e-5 + exp(1.0) * 1e-3, 1e-14);
    /* Invalid input. */
    assert_int_equal(dp_risk_report(NULL, 1, 1.0, 1e-5, &r), FL_ERR_INVALID);
    assert_int_equal(dp_risk_report(&sgd, 1, -1.0, 1e-5, &r), FL_ERR_INVALID);
    assert_int_equal(dp_risk_report(&sgd, 1, NAN, 1e-5, &r), FL_ERR_INVALID);
    assert_int_equal(dp_risk_report(&sgd, 1, 1.0, 1.0, &r), FL_ERR_INVALID);
    assert_int_equal(dp_risk_report(&sgd, 1, 1.0, 1e-5, NULL), FL_ERR_INVALID);
    {
        dp_sgm_t bad = {0.5, 0.0, 1};
        assert_int_equal(dp_risk_report(&bad, 1, 1.0, 1e-5, &r),
                         FL_ERR_INVALID);
    }
}

static void
test_tradeoff_curve(void **state)
{
    dp_sgm_t full = {1.0, 1.0, 1}; /* exact mu = 1 */
    dp_risk_t r;
    double a[5], g[5], e[5];

    (void) state;
    assert_int_equal(dp_risk_report(&full, 1, log(2.0), 0.0, &r), FL_OK);
    assert_int_equal(dp_risk_tradeoff_curve(&r, 5, a, g, e), FL_OK);
    /* alpha 0, 1/4, 1/2, 3/4, 1 */
    assert_true(a[0] == 0.0 && a[2] == 0.5 && a[4] == 1.0);
    assert_true(g[0] == 1.0 && g[4] == 0.0);
    near(g[2], 0.15865525393145705, 1e-14); /* Phi(-1) */
    /* eps = ln 2: max(0, 1 - 2a, (1 - a)/2) = 1, 0.5, 0.25, 0.125, 0 */
    near(e[0], 1.0, 1e-15);
    near(e[1], 0.5, 1e-15);
    near(e[2], 0.25, 1e-15);
    near(e[3], 0.125, 1e-15);
    assert_true(e[4] == 0.0);
    assert_int_equal(dp_risk_report(NULL, 0, 1.0, 0.0, &r), FL_OK);
    assert_int_equal(dp_risk_tradeoff_curve(&r, 2, a, g, e), FL_OK);
    assert_true(isnan(g[0]) && isnan(g[1]));
    assert_int_equal(dp_risk_tradeoff_curve(&r, 1, a, g, e), FL_ERR_INVALID);
    assert_int_equal(dp_risk_tradeoff_curve(NULL, 5, a, g, e), FL_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_cdf),
        cmocka_unit_test(test_norm_quantile),
        cmocka_unit_test(test_gdp_mu),
        cmocka_unit_test(test_gdp_tradeoff),
        cmocka_unit_test(test_epsdelta_tradeoff),
        cmocka_unit_test(test_gdp_epsilon),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_risk_report),
        cmocka_unit_test(test_tradeoff_curve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
