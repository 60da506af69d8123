/*
 * privacy/risk.h: what a privacy guarantee means for an attacker.
 *
 * A lone (epsilon, delta) says little to a data-protection officer, so the
 * report translates guarantees into trade-off curves (f-DP, Dong, Roth and
 * Su 2019/2022) and from them into two attack bounds:
 *   - membership inference: the highest true-positive rate any attacker can
 *     reach at a given false-positive rate, TPR <= 1 - f(FPR);
 *   - reconstruction (ReRo, Hayes, Mahloujifar and Balle 2023, "Bounding
 *     Training Data Reconstruction in DP-SGD", NeurIPS): if the mechanism
 *     is f-DP, any reconstruction attack whose success probability without
 *     the model (its prior, kappa) is kappa succeeds with probability at
 *     most 1 - f(kappa).
 * Two sources of trade-off curve: Gaussian DP with parameter mu, and a
 * single (epsilon, delta) pair. For DP-SGD, mu comes from the central limit
 * theorem of Bu, Dong, Long and Su (2020): an APPROXIMATION that is good
 * when q is small and T large, and can understate the privacy loss badly
 * for few steps (it is not an upper bound). At q = 1 the mechanism is an
 * exact Gaussian mechanism and mu = sqrt(sum T_i / sigma_i^2) exactly.
 *
 * All functions are pure and thread-safe. Invalid arguments (out of range,
 * NaN) give NaN, never a crash.
 */
#ifndef DP_RISK_H
#define DP_RISK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "privacy/sgm.h"

/* Standard normal CDF Phi(x) = erfc(-x/sqrt 2)/2 (libm erfc: accurate
 * relative error in the lower tail). */
double dp_norm_cdf(double x);

/* log Phi(x), accurate for x down to -1e150 (asymptotic series below -37). */
double dp_norm_logcdf(double x);

/*
 * Phi^-1(p) for p in [0, 1] (-inf at 0, +inf at 1): Acklam's rational
 * approximation (relative error 1.15e-9) refined by two Halley steps on
 * erfc, computed on the lower half (p > 1/2 by symmetry, 1 - p being exact
 * there), so the result is accurate to a few ulps of double.
 */
double dp_norm_quantile(double p);

/*
 * Bu, Dong, Long, Su 2020 (Deep Learning with Gaussian Differential
 * Privacy, Harvard Data Science Review), CLT for the Poisson-subsampled
 * Gaussian: mu = sqrt(sum_i q_i^2 T_i (exp(1/sigma_i^2) - 1)).
 * An approximation, good when q small and T large. n = 0 gives 0.
 * Each entry needs q in (0, 1], sigma > 0, T >= 1 (else NaN).
 */
double dp_gdp_mu_sgm(const dp_sgm_t *hist, size_t n);

/*
 * Exact mu when every entry has q = 1 (the unsampled Gaussian mechanism
 * composed: mu = sqrt(sum_i T_i / sigma_i^2), Dong et al. 2022, Sec. 3);
 * NaN when some q < 1 or an entry is invalid; 0 for n = 0.
 */
double dp_gdp_mu_full_batch(const dp_sgm_t *hist, size_t n);

/*
 * Dong, Roth, Su 2019 (Gaussian Differential Privacy, JRSS-B 2022), the
 * trade-off function of mu-GDP: G_mu(alpha) = Phi(Phi^-1(1-alpha) - mu),
 * the smallest type II error (1 - TPR) of any test of level alpha.
 * mu >= 0 (+inf allowed: G = 0), alpha in [0, 1].
 */
double dp_gdp_tradeoff(double mu, double alpha);

/* 1 - G_mu(fpr) = Phi(Phi^-1(fpr) + mu): the membership-inference TPR bound
 * at false-positive rate fpr. */
double dp_gdp_mia_tpr_bound(double mu, double fpr);

/* Hayes et al. 2023: 1 - G_mu(prior), the reconstruction-success bound for
 * an attack whose baseline success is prior (in [0, 1]). */
double dp_gdp_rero_bound(double mu, double prior);

/*
 * Kairouz, Oh, Viswanath 2015 / Dong et al. 2019 (Sec. 2), the trade-off
 * function of (eps, delta)-DP: max(0, 1 - delta - e^eps alpha,
 * e^-eps (1 - delta - alpha)). eps >= 0 (+inf allowed), delta in [0, 1],
 * alpha in [0, 1].
 */
double dp_epsdelta_tradeoff(double eps, double delta, double alpha);

/* 1 - f_{eps,delta}(fpr) = min(1, delta + e^eps fpr,
 * 1 - e^-eps (1 - delta - fpr)). */
double dp_epsdelta_mia_tpr_bound(double eps, double delta, double fpr);

/* Hayes et al. 2023: 1 - f_{eps,delta}(prior). */
double dp_epsdelta_rero_bound(double eps, double delta, double prior);

/*
 * Exact conversion of mu-GDP to (eps, delta) (Dong et al. 2019, Cor. 2.13):
 * delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2), solved for
 * eps >= 0 by bisection on the bracket [0, mu^2/2 - mu Phi^-1(delta)]
 * (the first term alone reaches delta there) to 1e-12 relative. mu >= 0,
 * delta in (0, 1). 0 when delta(0) <= delta.
 */
double dp_gdp_epsilon_for_delta(double mu, double delta);

/* The false-positive rates and priors the report evaluates. */
#define DP_RISK_N_FPR 3
#define DP_RISK_N_PRIOR 3
extern const double dp_risk_fprs[DP_RISK_N_FPR];     /* 0.001 0.01 0.1 */
extern const double dp_risk_priors[DP_RISK_N_PRIOR]; /* 1e-4 1e-3 1e-2 */

typedef enum dp_risk_source {
    DP_RISK_FROM_GDP = 0,     /* the mu-GDP curve */
    DP_RISK_FROM_EPSDELTA = 1 /* the single (eps, delta) curve */
} dp_risk_source_t;

/* One attack bound: both candidates, the smaller one, where it came from,
 * and whether it is a proven bound (see dp_risk_t.mu_exact). */
typedef struct dp_risk_bound {
    double at;       /* the fpr or the prior */
    double gdp;      /* from mu (NaN without a history) */
    double epsdelta; /* from (eps, delta) */
    double bound;    /* min of the two */
    dp_risk_source_t source;
    bool rigorous; /* false when taken from a CLT mu */
} dp_risk_bound_t;

typedef struct dp_risk {
    double mu;     /* GDP mu: exact at q = 1, else the CLT value */
    bool mu_exact; /* true when every step had q = 1 */
    double mu_eps; /* dp_gdp_epsilon_for_delta(mu, delta) */
    double eps;    /* as given (from the accountant) */
    double delta;  /* as given */
    dp_risk_bound_t mia[DP_RISK_N_FPR];
    dp_risk_bound_t rero[DP_RISK_N_PRIOR];
} dp_risk_t;

/*
 * Fills out with mu (exact when every q = 1, otherwise CLT), the epsilon mu
 * implies at delta, and the membership-inference bounds at dp_risk_fprs and
 * reconstruction bounds at dp_risk_priors from both mu and (eps, delta);
 * each bound is the tighter (smaller) candidate, with its source. A bound
 * taken from a CLT mu is marked rigorous = false: it is an estimate, not a
 * guarantee. hist may be NULL with n = 0: then only (eps, delta) is used
 * (mu, mu_eps and the gdp fields are NaN).
 * Returns FL_OK, or FL_ERR_INVALID (out NULL, hist NULL with n > 0, an
 * invalid history entry, eps < 0 or NaN, delta outside [0, 1)).
 */
fl_err_t dp_risk_report(const dp_sgm_t *hist, size_t n, double eps,
                        double delta, dp_risk_t *out) FL_WUR;

/* Most points dp_risk_tradeoff_curve fills. */
#define DP_RISK_CURVE_MAX 100000

/*
 * Samples both trade-off curves of a filled report for plotting: for
 * i = 0..n-1, alpha[i] = i / (n - 1), beta_gdp[i] = G_mu(alpha[i]) (NaN
 * when the report has no mu) and beta_epsdelta[i] = f_{eps,delta}(alpha[i]).
 * The caller owns the three arrays of n doubles. Returns FL_OK, or
 * FL_ERR_INVALID (a NULL pointer, n < 2 or n > DP_RISK_CURVE_MAX).
 */
fl_err_t dp_risk_tradeoff_curve(const dp_risk_t *r, size_t n, double *alpha,
                                double *beta_gdp, double *beta_epsdelta) FL_WUR;

#endif
