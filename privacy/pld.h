/*
 * privacy/pld.h: the privacy loss distribution (PLD) accountant.
 *
 * Computes (epsilon, delta) for a history of Poisson-subsampled Gaussian
 * mechanisms (privacy/sgm.h) under add/remove-one neighbouring, by
 * discretising each mechanism's privacy loss distribution pessimistically
 * (connect-the-dots, Doroshenko et al. 2022) and composing the history by
 * FFT (FFTW, double precision). Both neighbouring directions (the "remove"
 * pair and the "add" pair) are composed separately and the worse one is
 * reported. Every number returned is an upper bound on the true value, up to
 * double rounding: epsilon is never below the true epsilon, delta never
 * below the true hockey-stick divergence. docs/privacy-pld.md explains the
 * method, its accuracy and its cost.
 *
 * Thread-safety: all functions are reentrant; FFTW planning is serialised
 * by an internal mutex, so concurrent calls from several threads are safe.
 * Memory: a call allocates O(grid) doubles (about 24 bytes per grid point;
 * at most about 100 MB with the default DP_PLD_MAX_GRID) and frees them
 * before it returns.
 */
#ifndef DP_PLD_H
#define DP_PLD_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "privacy/sgm.h"

/*
 * Default width of the privacy-loss grid. With it the reference suite
 * (docs/perf-pld.md) agrees with Google dp_accounting's PLD accountant to
 * within 1e-5 relative, and 10^4 steps at q = 0.01, sigma = 1.1 take about
 * 0.1 s. When the default is used and a history's composed loss range would
 * need more than DP_PLD_MAX_GRID points, the grid is coarsened just enough
 * to fit (still pessimistic; the interval used is reported in
 * dp_pld_info_t). An explicitly requested interval is never changed.
 */
#define DP_PLD_DEFAULT_INTERVAL 1e-4
/* Accepted range for an explicit interval. */
#define DP_PLD_MIN_INTERVAL 1e-7
#define DP_PLD_MAX_INTERVAL 1.0
/* Default limit on grid points (per mechanism and for the composition). */
#define DP_PLD_MAX_GRID ((size_t) 1 << 22)
/* Hard ceiling for dp_pld_opts_t.max_grid. */
#define DP_PLD_MAX_GRID_CEILING ((size_t) 1 << 26)
/* Limits on the history: entries, distinct (q, sigma) pairs, total steps. */
#define DP_PLD_MAX_HISTORY ((size_t) 1 << 20)
#define DP_PLD_MAX_MECHANISMS 256
#define DP_PLD_MAX_STEPS ((uint64_t) 1 << 32)

/* Tuning knobs of dp_pld_epsilon_opts / dp_pld_delta_opts. */
typedef struct dp_pld_opts {
    /* Grid width; <= 0 means DP_PLD_DEFAULT_INTERVAL, coarsened if needed. */
    double interval;
    /* Limit on grid points; 0 means DP_PLD_MAX_GRID. */
    size_t max_grid;
    /*
     * Nonzero (the default): entries with q = 1 are folded exactly into one
     * Gaussian mechanism with 1/sigma_eff^2 = sum(steps_i / sigma_i^2)
     * before discretisation, and a history of only such entries is answered
     * in closed form (Balle & Wang 2018) without a grid. Zero: every entry
     * goes through the discretised FFT path (used by tests).
     */
    int exact_gaussian;
} dp_pld_opts_t;

/* What a computation used; filled when a non-NULL pointer is passed. */
typedef struct dp_pld_info {
    double interval;   /* grid width used (0 when answered in closed form) */
    size_t grid;       /* points of the composed grid (largest direction) */
    size_t fft_len;    /* FFT length used (0 when no FFT ran) */
    size_t mechanisms; /* distinct mechanisms after merging the history */
} dp_pld_info_t;

/* Sets the defaults: interval 0, max_grid 0, exact_gaussian 1. */
void dp_pld_opts_init(dp_pld_opts_t *opts);

/*
 * Epsilon such that the composed history is (epsilon, delta)-DP; pessimistic:
 * never below the true epsilon.
 *   hist, n:  the history (n >= 1, n <= DP_PLD_MAX_HISTORY), in any order
 *             (composition is commutative; identical (q, sigma) entries are
 *             merged). Each entry: q in (0, 1], sigma > 0 finite, steps >= 1;
 *             total steps <= DP_PLD_MAX_STEPS.
 *   delta:    in (0, 1).
 *   interval: grid width; <= 0 means the default (see above).
 *   epsilon:  out, >= 0.
 * Returns FL_OK; FL_ERR_INVALID for a bad argument (message names it);
 * FL_ERR_LIMIT when the grid would exceed DP_PLD_MAX_GRID at an explicit
 * interval, or a history limit is exceeded; FL_ERR_NUMERIC when delta is
 * below the accountant's resolution (the discretised distribution puts more
 * than delta on an infinite loss) so no finite epsilon can be certified;
 * FL_ERR_NOMEM.
 */
fl_err_t dp_pld_epsilon(const dp_sgm_t *hist, size_t n, double delta,
                        double interval, double *epsilon,
                        fl_errbuf_t *eb) FL_WUR;

/*
 * The delta at a given epsilon (the hockey-stick divergence of the composed
 * history, the worse of the two neighbouring directions), also pessimistic.
 * epsilon >= 0 finite; other arguments and return codes as dp_pld_epsilon
 * (no FL_ERR_NUMERIC: a delta is always defined). *delta is in [0, 1].
 */
fl_err_t dp_pld_delta(const dp_sgm_t *hist, size_t n, double epsilon,
                      double interval, double *delta, fl_errbuf_t *eb) FL_WUR;

/* As dp_pld_epsilon, with options (NULL: defaults) and an optional report. */
fl_err_t dp_pld_epsilon_opts(const dp_sgm_t *hist, size_t n, double delta,
                             const dp_pld_opts_t *opts, double *epsilon,
                             dp_pld_info_t *info, fl_errbuf_t *eb) FL_WUR;

/* As dp_pld_delta, with options (NULL: defaults) and an optional report. */
fl_err_t dp_pld_delta_opts(const dp_sgm_t *hist, size_t n, double epsilon,
                           const dp_pld_opts_t *opts, double *delta,
                           dp_pld_info_t *info, fl_errbuf_t *eb) FL_WUR;

/*
 * Exact (epsilon, delta) of the Gaussian mechanism with sensitivity 1 and
 * noise sigma (no subsampling): delta(eps) = Phi(-eps*sigma + 1/(2 sigma))
 * - e^eps Phi(-eps*sigma - 1/(2 sigma)), evaluated in log space so that
 * large epsilon does not overflow. dp_pld_gaussian_epsilon returns the upper
 * end of a bisection bracket of relative width 1e-13, so it is never below
 * the exact value. sigma > 0 finite; delta in (0, 1); epsilon >= 0 finite.
 * Returns FL_OK or FL_ERR_INVALID.
 */
fl_err_t dp_pld_gaussian_delta(double sigma, double epsilon, double *delta,
                               fl_errbuf_t *eb) FL_WUR;
fl_err_t dp_pld_gaussian_epsilon(double sigma, double delta, double *epsilon,
                                 fl_errbuf_t *eb) FL_WUR;

#endif
