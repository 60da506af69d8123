/*
 * privacy/calibrate.c: the noise multiplier that reaches a target epsilon
 * (dp_accountant_calibrate, declared in accountant.h).
 *
 * Epsilon decreases as sigma grows, so the smallest certified sigma is
 * found by bracketing then bisection. The upper end of the bracket is
 * always a sigma whose epsilon the accountant computed and found within
 * the target, so the answer is certified whatever the accountant's small
 * non-monotonicities (PLD discretisation).
 */
#include "privacy/accountant.h"

#include <math.h>

#define CAL_SIGMA_MIN 1e-2
#define CAL_SIGMA_MAX 1e4
#define CAL_TOL_RDP 1e-7
#define CAL_TOL_PLD 1e-4
/* Bracket growth factor: RDP evaluations are cheap, PLD ones are not and
 * start from the RDP answer, which is close. */
#define CAL_FACTOR_RDP 2.0
#define CAL_FACTOR_PLD 1.25

typedef struct cal {
    const dp_accountant_opts_t *opts;
    double q;
    uint64_t steps;
    double delta;
    double target;
    fl_errbuf_t *eb;
    fl_err_t last_err; /* last accountant error treated as "not certified" */
} cal_t;

/*
 * Evaluates epsilon at sigma. *ok is 1 when it is certified within the
 * target. An accountant that cannot certify any epsilon at this sigma
 * (FL_ERR_NUMERIC, FL_ERR_LIMIT: too little noise for its grid) counts as
 * not ok; other errors are returned.
 */
static fl_err_t
cal_eval(cal_t *c, double sigma, double *eps, int *ok)
{
    dp_sgm_t h = {c->q, sigma, c->steps};
    dp_epsilon_t e;
    fl_err_t err;

    err = dp_accountant_epsilon(c->opts, &h, 1, c->delta, &e, c->eb);
    if (err == FL_ERR_NUMERIC || err == FL_ERR_LIMIT) {
        c->last_err = err;
        *eps = INFINITY;
        *ok = 0;
        return FL_OK;
    }
    if (err != FL_OK) {
        return err;
    }
    *eps = e.epsilon;
    *ok = e.epsilon <= c->target;
    return FL_OK;
}

static fl_err_t
cal_unreachable(const cal_t *c, double eps_at_max)
{
    if (c->last_err != FL_OK && isinf(eps_at_max)) {
        /* The accountant failed even with the most noise: say why. */
        return fl_fail_prefix(c->eb, c->last_err,
                              "calibrate: no sigma <= %g can be certified",
                              CAL_SIGMA_MAX);
    }
    return fl_fail(c->eb, FL_ERR_RANGE,
                   "calibrate: target epsilon %g is below what the "
                   "accountant certifies at delta %g with sigma %g "
                   "(epsilon %g)",
                   c->target, c->delta, CAL_SIGMA_MAX, eps_at_max);
}

/* Finds lo < hi with hi ok (eps_hi its epsilon) and lo not ok, starting
 * from x0 and growing or shrinking by factor. */
static fl_err_t
cal_bracket(cal_t *c, double x0, double factor, double *lo, double *hi,
            double *eps_hi)
{
    double eps;
    int ok;
    fl_err_t err;

    err = cal_eval(c, x0, &eps, &ok);
    if (err != FL_OK) {
        return err;
    }
    if (ok) {
        *hi = x0;
        *eps_hi = eps;
        for (;;) {
            double x = *hi / factor;

            if (x < CAL_SIGMA_MIN) {
                return fl_fail(c->eb, FL_ERR_RANGE,
                               "calibrate: target epsilon %g is met "
                               "already at sigma %g (epsilon %g)",
                               c->target, *hi, *eps_hi);
            }
            err = cal_eval(c, x, &eps, &ok);
            if (err != FL_OK) {
                return err;
            }
            if (!ok) {
                *lo = x;
                return FL_OK;
            }
            *hi = x;
            *eps_hi = eps;
        }
    }
    *lo = x0;
    for (;;) {
        double x = *lo * factor;

        if (x > CAL_SIGMA_MAX) {
            x = CAL_SIGMA_MAX;
        }
        err = cal_eval(c, x, &eps, &ok);
        if (err != FL_OK) {
            return err;
        }
        if (ok) {
            *hi = x;
            *eps_hi = eps;
            return FL_OK;
        }
        if (x >= CAL_SIGMA_MAX) {
            return cal_unreachable(c, eps);
        }
        *lo = x;
    }
}

static fl_err_t
cal_bisect(cal_t *c, double tol, double *lo, double *hi, double *eps_hi)
{
    while (*hi - *lo > tol * *hi) {
        const double mid = 0.5 * (*lo + *hi);
        double eps;
        int ok;
        fl_err_t err;

        err = cal_eval(c, mid, &eps, &ok);
        if (err != FL_OK) {
            return err;
        }
        if (ok) {
            *hi = mid;
            *eps_hi = eps;
        } else {
            *lo = mid;
        }
    }
    return FL_OK;
}

static fl_err_t
cal_check(double q, uint64_t steps, double delta, double target,
          const double *sigma, fl_errbuf_t *eb)
{
    if (sigma == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "calibrate: sigma is NULL");
    }
    if (!(q > 0.0 && q <= 1.0)) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "calibrate: sampling rate %g not in (0, 1]", q);
    }
    if (steps == 0) {
        return fl_fail(eb, FL_ERR_INVALID, "calibrate: steps is 0");
    }
    if (steps > DP_ACCOUNTANT_MAX_STEPS) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "calibrate: %llu steps exceed the limit %llu",
                       (unsigned long long) steps,
                       (unsigned long long) DP_ACCOUNTANT_MAX_STEPS);
    }
    if (!(delta > 0.0 && delta < 1.0)) {
        return fl_fail(eb, FL_ERR_INVALID, "calibrate: delta %g not in (0, 1)",
                       delta);
    }
    if (!(target > 0.0) || !isfinite(target)) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "calibrate: target epsilon %g is not a finite "
                       "positive number",
                       target);
    }
    return FL_OK;
}

/* Bracket from x0, then bisect to relative width tol. */
static fl_err_t
cal_solve(cal_t *c, double x0, double factor, double tol, double *sigma,
          double *eps)
{
    double lo = 0.0;
    double hi = 0.0;
    double eps_hi = 0.0;
    fl_err_t err;

    err = cal_bracket(c, x0, factor, &lo, &hi, &eps_hi);
    if (err == FL_OK) {
        err = cal_bisect(c, tol, &lo, &hi, &eps_hi);
    }
    if (err == FL_OK) {
        *sigma = hi;
        *eps = eps_hi;
    }
    return err;
}

fl_err_t
dp_accountant_calibrate(const dp_accountant_opts_t *opts, double sampling_rate,
                        uint64_t steps, double delta, double target_epsilon,
                        double *sigma, double *epsilon_reached, fl_errbuf_t *eb)
{
    static const dp_accountant_opts_t rdp = {DP_ACCOUNTANT_RDP,
                                             DP_ORDERS_DEFAULT, 0.0};
    cal_t c = {opts, sampling_rate, steps, delta, target_epsilon, eb, FL_OK};
    double x0 = 1.0;
    double s = 0.0;
    double eps = 0.0;
    fl_err_t err;

    err = cal_check(sampling_rate, steps, delta, target_epsilon, sigma, eb);
    if (err != FL_OK) {
        return err;
    }
    if (opts == NULL || opts->kind != DP_ACCOUNTANT_PLD) {
        err = cal_solve(&c, x0, CAL_FACTOR_RDP, CAL_TOL_RDP, &s, &eps);
    } else {
        /* Start from the RDP answer: RDP's epsilon is (almost always) the
         * larger, so its sigma is at or just above the PLD one. */
        cal_t r = {&rdp, sampling_rate, steps, delta, target_epsilon,
                   eb,   FL_OK};

        if (cal_solve(&r, 1.0, CAL_FACTOR_RDP, CAL_TOL_RDP, &x0, &eps) !=
            FL_OK) {
            x0 = 1.0;
        }
        err = cal_solve(&c, x0, CAL_FACTOR_PLD, CAL_TOL_PLD, &s, &eps);
    }
    if (err != FL_OK) {
        return err;
    }
    *sigma = s;
    if (epsilon_reached != NULL) {
        *epsilon_reached = eps;
    }
    return FL_OK;
}
