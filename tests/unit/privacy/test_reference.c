/*
 * Agreement of dpfl's accountants with the reference accountants, on the
 * tables in vectors/ (copies of ../shared/refs; see its README for how each
 * column was produced):
 *   - dp_reference.csv (homogeneous q, sigma, steps) and dp_composition.csv
 *     (heterogeneous histories): RDP with Opacus's orders within 0.1%
 *     relative (or 1e-4 absolute) of Opacus's RDPAccountant, at the same
 *     optimal order; RDP with the default orders never above Opacus's or
 *     the union-of-grids value; PLD within 1% of dp_accounting's PLD
 *     accountant and never below the PRV accountant's certified lower
 *     bound (eps_msprv_lower).
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

#include "privacy/accountant.h"
#include "vectors_csv.h"

#define MAX_HIST 64

static const dp_accountant_opts_t opacus = {DP_ACCOUNTANT_RDP, DP_ORDERS_OPACUS,
                                            0.0};
static const dp_accountant_opts_t rdp_default = {DP_ACCOUNTANT_RDP,
                                                 DP_ORDERS_DEFAULT, 0.0};
static const dp_accountant_opts_t pld = {DP_ACCOUNTANT_PLD, DP_ORDERS_DEFAULT,
                                         0.0};

static int
close_enough(double got, double want, double rel, double abs_tol)
{
    return fabs(got - want) <= fmax(rel * fabs(want), abs_tol);
}

/* Checks one history against one table row; returns the number of
 * failures (each printed). */
static int
check_row(const char *what, const dp_sgm_t *h, size_t n, double delta,
          double opacus_eps, double opacus_order, double union_eps,
          double pld_eps, double prv_lower)
{
    dp_epsilon_t e;
    dp_epsilon_t d;
    int bad = 0;
    fl_errbuf_t eb = {{0}};

    if (dp_accountant_epsilon(&opacus, h, n, delta, &e, &eb) != FL_OK) {
        printf("%s: rdp/opacus failed: %s\n", what, eb.msg);
        return 1;
    }
    if (!close_enough(e.epsilon, opacus_eps, 1e-3, 1e-4)) {
        printf("%s: rdp/opacus %.10g want %.10g\n", what, e.epsilon,
               opacus_eps);
        bad++;
    }
    if (isfinite(opacus_order) && fabs(e.order - opacus_order) > 1e-9) {
        printf("%s: order %g want %g\n", what, e.order, opacus_order);
        bad++;
    }
    if (dp_accountant_epsilon(&rdp_default, h, n, delta, &d, &eb) != FL_OK) {
        printf("%s: rdp/default failed: %s\n", what, eb.msg);
        return bad + 1;
    }
    /* More orders only tighten. */
    if (d.epsilon > e.epsilon * (1.0 + 1e-12) ||
        (isfinite(union_eps) && d.epsilon > union_eps * (1.0 + 1e-6))) {
        printf("%s: rdp/default %.10g above opacus %.10g or union %.10g\n",
               what, d.epsilon, e.epsilon, union_eps);
        bad++;
    }
    if (isfinite(pld_eps)) {
        if (dp_accountant_epsilon(&pld, h, n, delta, &e, &eb) != FL_OK) {
            printf("%s: pld failed: %s\n", what, eb.msg);
            return bad + 1;
        }
        if (!close_enough(e.epsilon, pld_eps, 1e-2, 1e-4)) {
            printf("%s: pld %.10g want %.10g\n", what, e.epsilon, pld_eps);
            bad++;
        }
        if (isfinite(prv_lower) && e.epsilon < prv_lower) {
            printf("%s: pld %.10g below the PRV lower bound %.10g\n", what,
                   e.epsilon, prv_lower);
            bad++;
        }
    }
    return bad;
}

static void
test_homogeneous(void **state)
{
    vcsv_t *t = malloc(sizeof(*t));
    int cq, cs, ct, cd, ce, co, cu, cp, cl;
    int bad = 0;

    (void) state;
    assert_non_null(t);
    assert_int_equal(vcsv_load("dp_reference.csv", t), 0);
    cq = vcsv_col(t, "q");
    cs = vcsv_col(t, "sigma");
    ct = vcsv_col(t, "steps");
    cd = vcsv_col(t, "delta");
    ce = vcsv_col(t, "eps_opacus_rdp");
    co = vcsv_col(t, "best_order");
    cu = vcsv_col(t, "eps_rdp_union_orders");
    cp = vcsv_col(t, "eps_dpacc_pld");
    cl = vcsv_col(t, "eps_msprv_lower");
    assert_true(cq >= 0 && cs >= 0 && ct >= 0 && cd >= 0 && ce >= 0 &&
                co >= 0 && cu >= 0 && cp >= 0 && cl >= 0);
    assert_true(t->n_rows >= 180);
    for (size_t r = 0; r < t->n_rows; r++) {
        const dp_sgm_t h = {vcsv_num(t, r, cq), vcsv_num(t, r, cs),
                            (uint64_t) vcsv_num(t, r, ct)};
        char what[96];

        snprintf(what, sizeof(what), "q=%g sigma=%g T=%llu delta=%g",
                 h.sampling_rate, h.noise_multiplier,
                 (unsigned long long) h.steps, vcsv_num(t, r, cd));
        bad += check_row(what, &h, 1, vcsv_num(t, r, cd), vcsv_num(t, r, ce),
                         vcsv_num(t, r, co), vcsv_num(t, r, cu),
                         vcsv_num(t, r, cp), vcsv_num(t, r, cl));
    }
    assert_int_equal(bad, 0);
    vcsv_free(t);
    free(t);
}

/* "sigma/q/steps;sigma/q/steps;..." into hist; returns the count. */
static size_t
parse_history(const char *s, dp_sgm_t *hist)
{
    size_t n = 0;
    char *end;

    while (*s != '\0' && n < MAX_HIST) {
        hist[n].noise_multiplier = strtod(s, &end);
        assert_true(*end == '/');
        hist[n].sampling_rate = strtod(end + 1, &end);
        assert_true(*end == '/');
        hist[n].steps = strtoull(end + 1, &end, 10);
        n++;
        if (*end != ';') {
            break;
        }
        s = end + 1;
    }
    return n;
}

static void
test_composition(void **state)
{
    vcsv_t *t = malloc(sizeof(*t));
    int ch, cd, ce, co, cp, cl, cc;
    int bad = 0;

    (void) state;
    assert_non_null(t);
    assert_int_equal(vcsv_load("dp_composition.csv", t), 0);
    cc = vcsv_col(t, "case");
    ch = vcsv_col(t, "history_sigma_q_steps");
    cd = vcsv_col(t, "delta");
    ce = vcsv_col(t, "eps_opacus_rdp");
    co = vcsv_col(t, "best_order_opacus");
    cp = vcsv_col(t, "eps_dpacc_pld");
    cl = vcsv_col(t, "eps_msprv_lower");
    assert_true(cc >= 0 && ch >= 0 && cd >= 0 && ce >= 0 && co >= 0 &&
                cp >= 0 && cl >= 0);
    assert_true(t->n_rows >= 10);
    for (size_t r = 0; r < t->n_rows; r++) {
        dp_sgm_t hist[MAX_HIST];
        const size_t n = parse_history(vcsv_str(t, r, ch), hist);
        char what[96];

        assert_true(n >= 2);
        snprintf(what, sizeof(what), "%s delta=%g", vcsv_str(t, r, cc),
                 vcsv_num(t, r, cd));
        bad += check_row(what, hist, n, vcsv_num(t, r, cd), vcsv_num(t, r, ce),
                         vcsv_num(t, r, co), NAN, vcsv_num(t, r, cp),
                         vcsv_num(t, r, cl));
    }
    assert_int_equal(bad, 0);
    vcsv_free(t);
    free(t);
}

/* The order of a history does not change RDP: C1 reversed and interleaved
 * give Opacus's C1 value. */
static void
test_order_invariance(void **state)
{
    dp_sgm_t rev[10];
    dp_sgm_t inter[10];
    dp_epsilon_t a;
    dp_epsilon_t b;

    (void) state;
    for (int i = 0; i < 5; i++) {
        rev[i] = (dp_sgm_t){0.01, 2.0, 50};
        rev[5 + i] = (dp_sgm_t){0.01, 1.1, 50};
        inter[2 * i] = rev[5];
        inter[2 * i + 1] = rev[0];
    }
    assert_int_equal(dp_accountant_epsilon(&opacus, rev, 10, 1e-5, &a, NULL),
                     FL_OK);
    assert_int_equal(dp_accountant_epsilon(&opacus, inter, 10, 1e-5, &b, NULL),
                     FL_OK);
    assert_true(close_enough(a.epsilon, 1.1423152898753681, 1e-9, 0.0));
    assert_true(close_enough(b.epsilon, 1.1423152898753681, 1e-9, 0.0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_homogeneous),
        cmocka_unit_test(test_composition),
        cmocka_unit_test(test_order_invariance),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
