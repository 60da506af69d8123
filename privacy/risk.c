/*
 * privacy/risk.c: trade-off curves and attack bounds (see risk.h for the
 * formulas and their sources).
 *
 * Numerics: every 1 - Phi(x) is written as Phi(-x) so that small tail
 * probabilities keep their relative precision, and Phi^-1(1 - alpha) as
 * -Phi^-1(alpha) so that a small alpha is never rounded against 1.
 */
#include "privacy/risk.h"

#include <math.h>

#define SQRT2 1.41421356237309504880
#define SQRT2PI 2.50662827463100050242
#define LOG_SQRT2PI 0.91893853320467274178

const double dp_risk_fprs[DP_RISK_N_FPR] = {0.001, 0.01, 0.1};
const double dp_risk_priors[DP_RISK_N_PRIOR] = {1e-4, 1e-3, 1e-2};

double
dp_norm_cdf(double x)
{
    return 0.5 * erfc(-x / SQRT2);
}

double
dp_norm_logcdf(double x)
{
    double r, s;

    if (x > -37.0)
        return log(dp_norm_cdf(x));
    /* Mills ratio: Phi(x) = phi(x)/|x| (1 - r + 3r^2 - 15r^3 + 105r^4 -
     * 945r^5 + ...), r = 1/x^2; at |x| >= 37 the next term is below 2e-15.
     */
    r = 1.0 / (x * x);
    s = 1.0 - r * (1.0 - r * (3.0 - r * (15.0 - r * (105.0 - 945.0 * r))));
    return -0.5 * x * x - log(-x) - LOG_SQRT2PI + log(s);
}

/* Acklam's rational approximation of Phi^-1 on (0, 1/2]. */
static double
acklam_lower(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                                2.445134137142996e+00, 3.754408661907416e+00};
    double q, r;

    if (p < 0.02425) {
        q = sqrt(-2.0 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
                c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    q = p - 0.5;
    r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
            a[5]) *
           q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

double
dp_norm_quantile(double p)
{
    double x, lo, sign = -1.0;

    if (isnan(p) || p < 0.0 || p > 1.0)
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    if (p == 0.5)
        return 0.0;
    /* Work on the lower half: Phi^-1(p) = -Phi^-1(1 - p), and 1 - p is
     * exact for p in (1/2, 1). x = Phi^-1(lo) <= 0. */
    lo = p;
    if (p > 0.5) {
        lo = 1.0 - p;
        sign = 1.0;
    }
    x = acklam_lower(lo);
    if (lo >= 1e-300) {
        /* Halley steps on Phi(x) - lo; the error is taken relative to the
         * density, which erfc keeps accurate deep in the lower tail (below
         * 1e-300, exp(x^2/2) would overflow: Acklam's 1e-9 is kept). */
        for (int it = 0; it < 2; it++) {
            double e = dp_norm_cdf(x) - lo;
            double u = e * SQRT2PI * exp(0.5 * x * x);
            x = x - u / (1.0 + 0.5 * x * u);
        }
    }
    return sign * -x;
}

static bool
sgm_valid(const dp_sgm_t *s)
{
    return s->sampling_rate > 0.0 && s->sampling_rate <= 1.0 &&
           s->noise_multiplier > 0.0 && isfinite(s->noise_multiplier) &&
           s->steps >= 1;
}

double
dp_gdp_mu_sgm(const dp_sgm_t *hist, size_t n)
{
    double sum = 0.0;

    if (n > 0 && hist == NULL)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        const dp_sgm_t *s = &hist[i];
        double q = s->sampling_rate, sig = s->noise_multiplier;

        if (!sgm_valid(s))
            return NAN;
        sum += q * q * (double) s->steps * expm1(1.0 / (sig * sig));
    }
    return sqrt(sum);
}

double
dp_gdp_mu_full_batch(const dp_sgm_t *hist, size_t n)
{
    double sum = 0.0;

    if (n > 0 && hist == NULL)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        const dp_sgm_t *s = &hist[i];
        double sig = s->noise_multiplier;

        if (!sgm_valid(s) || s->sampling_rate != 1.0)
            return NAN;
        sum += (double) s->steps / (sig * sig);
    }
    return sqrt(sum);
}

static bool
prob_valid(double p)
{
    return p >= 0.0 && p <= 1.0; /* false for NaN */
}

double
dp_gdp_tradeoff(double mu, double alpha)
{
    if (!(mu >= 0.0) || !prob_valid(alpha))
        return NAN;
    if (isinf(mu))
        return 0.0;
    /* Phi(Phi^-1(1 - alpha) - mu) with Phi^-1(1 - alpha) = -Phi^-1(alpha).
     */
    return dp_norm_cdf(-dp_norm_quantile(alpha) - mu);
}

double
dp_gdp_mia_tpr_bound(double mu, double fpr)
{
    if (!(mu >= 0.0) || !prob_valid(fpr))
        return NAN;
    if (isinf(mu))
        return 1.0;
    /* 1 - Phi(-z - mu) = Phi(z + mu), z = Phi^-1(fpr). */
    return dp_norm_cdf(dp_norm_quantile(fpr) + mu);
}

double
dp_gdp_rero_bound(double mu, double prior)
{
    return dp_gdp_mia_tpr_bound(mu, prior);
}

static bool
epsdelta_valid(double eps, double delta)
{
    return eps >= 0.0 && prob_valid(delta);
}

double
dp_epsdelta_tradeoff(double eps, double delta, double alpha)
{
    double f = 0.0, a, b;

    if (!epsdelta_valid(eps, delta) || !prob_valid(alpha))
        return NAN;
    if (isinf(eps))
        return 0.0; /* no guarantee: a perfect test may exist */
    a = 1.0 - delta - exp(eps) * alpha;
    b = exp(-eps) * (1.0 - delta - alpha);
    if (a > f)
        f = a;
    if (b > f)
        f = b;
    return f;
}

double
dp_epsdelta_mia_tpr_bound(double eps, double delta, double fpr)
{
    double t = 1.0, a, b;

    if (!epsdelta_valid(eps, delta) || !prob_valid(fpr))
        return NAN;
    if (isinf(eps))
        return 1.0;
    /* 1 - f written out, so a small bound keeps its relative precision. */
    a = delta + exp(eps) * fpr;
    b = 1.0 - exp(-eps) * (1.0 - delta - fpr);
    if (a < t)
        t = a;
    if (b < t)
        t = b;
    return t;
}

double
dp_epsdelta_rero_bound(double eps, double delta, double prior)
{
    return dp_epsdelta_mia_tpr_bound(eps, delta, prior);
}

/* delta(eps) of mu-GDP, the second term in log space (e^eps overflows
 * long before the product does). */
static double
gdp_delta(double mu, double eps)
{
    double t1 = dp_norm_cdf(-eps / mu + 0.5 * mu);
    double t2 = exp(eps + dp_norm_logcdf(-eps / mu - 0.5 * mu));

    return t1 - t2;
}

double
dp_gdp_epsilon_for_delta(double mu, double delta)
{
    double lo = 0.0, hi;

    if (!(mu >= 0.0) || !(delta > 0.0 && delta < 1.0) || isinf(mu))
        return isinf(mu) && delta > 0.0 && delta < 1.0 ? INFINITY : NAN;
    if (mu == 0.0 || gdp_delta(mu, 0.0) <= delta)
        return 0.0;
    /* delta(eps) < Phi(-eps/mu + mu/2), which equals delta at hi. */
    hi = 0.5 * mu * mu - mu * dp_norm_quantile(delta);
    for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; it++) {
        double mid = 0.5 * (lo + hi);

        if (gdp_delta(mu, mid) > delta)
            lo = mid;
        else
            hi = mid;
    }
    /* hi keeps delta(hi) <= delta: the conservative end. */
    return hi;
}

static void
fill_bound(dp_risk_bound_t *b, double at, double gdp, double epsdelta,
           bool mu_exact)
{
    b->at = at;
    b->gdp = gdp;
    b->epsdelta = epsdelta;
    if (!isnan(gdp) && gdp < epsdelta) {
        b->bound = gdp;
        b->source = DP_RISK_FROM_GDP;
        b->rigorous = mu_exact;
    } else {
        b->bound = epsdelta;
        b->source = DP_RISK_FROM_EPSDELTA;
        b->rigorous = true;
    }
}

fl_err_t
dp_risk_report(const dp_sgm_t *hist, size_t n, double eps, double delta,
               dp_risk_t *out)
{
    double mu = NAN;
    bool exact = false;

    if (out == NULL || (n > 0 && hist == NULL) || !(eps >= 0.0) ||
        !(delta >= 0.0 && delta < 1.0))
        return FL_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!sgm_valid(&hist[i]))
            return FL_ERR_INVALID;
    if (n > 0) {
        mu = dp_gdp_mu_full_batch(hist, n);
        exact = !isnan(mu);
        if (!exact)
            mu = dp_gdp_mu_sgm(hist, n);
    }
    out->mu = mu;
    out->mu_exact = exact;
    out->mu_eps =
        isnan(mu) || delta <= 0.0 ? NAN : dp_gdp_epsilon_for_delta(mu, delta);
    out->eps = eps;
    out->delta = delta;
    for (int i = 0; i < DP_RISK_N_FPR; i++) {
        double a = dp_risk_fprs[i];
        fill_bound(&out->mia[i], a,
                   isnan(mu) ? NAN : dp_gdp_mia_tpr_bound(mu, a),
                   dp_epsdelta_mia_tpr_bound(eps, delta, a), exact);
    }
    for (int i = 0; i < DP_RISK_N_PRIOR; i++) {
        double a = dp_risk_priors[i];
        fill_bound(&out->rero[i], a, isnan(mu) ? NAN : dp_gdp_rero_bound(mu, a),
                   dp_epsdelta_rero_bound(eps, delta, a), exact);
    }
    return FL_OK;
}

fl_err_t
dp_risk_tradeoff_curve(const dp_risk_t *r, size_t n, double *alpha,
                       double *beta_gdp, double *beta_epsdelta)
{
    if (r == NULL || alpha == NULL || beta_gdp == NULL ||
        beta_epsdelta == NULL || n < 2 || n > DP_RISK_CURVE_MAX)
        return FL_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        /* The last point exactly 1, not a rounded sum. */
        double a = i + 1 == n ? 1.0 : (double) i / (double) (n - 1);

        alpha[i] = a;
        beta_gdp[i] = isnan(r->mu) ? NAN : dp_gdp_tradeoff(r->mu, a);
        beta_epsdelta[i] = dp_epsdelta_tradeoff(r->eps, r->delta, a);
    }
    return FL_OK;
}
