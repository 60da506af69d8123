/*
 * privacy/rdp.h: Renyi-DP accountant for the Poisson-subsampled Gaussian
 * mechanism (SGM), add/remove-one neighbours.
 *
 * The RDP of one SGM step at order alpha is log(A_alpha) / (alpha - 1) with
 * A_alpha = E_{z~N(0,s^2)}[(1 - q + q exp((2z - 1) / (2 s^2)))^alpha]
 * (Mironov, Talwar and Zhang 2019). At integer alpha A_alpha is a finite
 * binomial sum, computed exactly in log space; at fractional alpha it is the
 * two-series expansion of the same paper (section 3.3), whose alternating
 * tail is summed with the Cohen-Rodriguez Villegas-Zagier acceleration
 * (see rdp.c for why it applies). At q = 1 the RDP is alpha / (2 s^2).
 *
 * Composition adds RDP per order (different q, sigma, steps in any order);
 * the conversion to (epsilon, delta) is Balle et al. 2020, Theorem 21, in
 * the form Opacus and dp_accounting use:
 *   eps = rdp + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha -
 * 1) minimised over the orders, clamped at 0, with dp_accounting's shortcut eps
 * = 0 when delta^2 + expm1(-rdp) > 0 (the KL bound already gives delta).
 *
 * Most callers want privacy/accountant.h; this header is the RDP engine and
 * its per-order values (for tests and the audit log's recomputation).
 *
 * Thread-safety: every function is reentrant; nothing global is written.
 */
#ifndef DP_RDP_H
#define DP_RDP_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "privacy/sgm.h"

/* Order grids. */
typedef enum dp_rdp_grid {
    DP_RDP_GRID_DEFAULT = 0, /* Opacus's and dp_accounting's orders and more */
    DP_RDP_GRID_OPACUS = 1   /* exactly Opacus RDPAccountant.DEFAULT_ALPHAS */
} dp_rdp_grid_t;

/* Upper bound on the number of orders of any grid (for caller arrays). */
#define DP_RDP_MAX_ORDERS 256
/* Largest order accepted by dp_rdp_sgm() (integer orders cost alpha terms). */
#define DP_RDP_MAX_ORDER 4096.0
/* Largest number of history entries one call accepts. */
#define DP_RDP_MAX_HISTORY 10000000u
/* Largest step count of one entry (steps are exact in a double below 2^53). */
#define DP_RDP_MAX_STEPS 1000000000000ull

/*
 * Fills orders[0..cap) with the grid's orders, increasing, and returns how
 * many there are (at most DP_RDP_MAX_ORDERS; 0 if cap is too small or the
 * grid is unknown). DEFAULT: 1.1, 1.2, ..., 10.9, 11, 12, ..., 63, then
 * 64 ... 2048 (a superset of Opacus's and dp_accounting's default grids, so
 * never a looser bound than either). OPACUS: [1 + x/10 for x in 1..99] +
 * [12..63], 151 orders.
 */
size_t dp_rdp_grid_orders(dp_rdp_grid_t grid, double *orders, size_t cap);

/*
 * RDP of ONE step of the SGM with sampling rate q in (0, 1] and noise
 * multiplier sigma > 0, at order alpha in (1, DP_RDP_MAX_ORDER].
 * Returns the RDP (>= 0), +INFINITY if it overflows a double, or NaN if the
 * value cannot be computed reliably at this order (invalid input, or the
 * fractional series did not converge); a NaN order must simply be left out
 * of the minimum, which only loosens the bound.
 */
double dp_rdp_sgm(double q, double sigma, double alpha);

/*
 * RDP of the composition of hist[0..n) at each of orders[0..n_orders):
 * rdp[k] = sum_j hist[j].steps * dp_rdp_sgm(q_j, sigma_j, orders[k]).
 * Consecutive entries with the same (q, sigma) are evaluated once.
 * Returns FL_OK; FL_ERR_INVALID for a NULL pointer, q outside (0, 1],
 * sigma not finite and > 0, steps 0, or an order outside (1, MAX_ORDER];
 * FL_ERR_LIMIT if n > DP_RDP_MAX_HISTORY, steps > DP_RDP_MAX_STEPS or
 * n_orders > DP_RDP_MAX_ORDERS. n == 0 gives rdp = 0 at every order.
 * On error the contents of rdp are unspecified.
 */
fl_err_t dp_rdp_compose(const dp_sgm_t *hist, size_t n, const double *orders,
                        size_t n_orders, double *rdp, fl_errbuf_t *eb) FL_WUR;

/*
 * A composition that grows one history entry at a time, for callers that
 * need the epsilon after every entry of a growing history (the audit
 * verifier): dp_rdp_running_add() of hist[0..n) in order, then
 * dp_rdp_running_epsilon(), gives bit for bit what dp_rdp_compose() and
 * dp_rdp_to_epsilon() give for hist[0..n) on the same orders
 * (dp_rdp_compose is built on it), at the cost of one entry per call.
 *
 * Ownership: dp_rdp_running_new() copies the orders and returns an object
 * (about 12 KB) the caller frees with dp_rdp_running_destroy().
 * Returns of new: FL_OK; FL_ERR_INVALID or FL_ERR_LIMIT for the orders as
 * dp_rdp_compose; FL_ERR_NOMEM. Returns of add: FL_OK, or the error
 * dp_rdp_compose would give for that entry (nothing is added then).
 */
typedef struct dp_rdp_running dp_rdp_running_t;

fl_err_t dp_rdp_running_new(const double *orders, size_t n_orders,
                            dp_rdp_running_t **out, fl_errbuf_t *eb) FL_WUR;
void dp_rdp_running_destroy(dp_rdp_running_t **r);
fl_err_t dp_rdp_running_add(dp_rdp_running_t *r, const dp_sgm_t *entry,
                            fl_errbuf_t *eb) FL_WUR;
/* Entries added so far. */
size_t dp_rdp_running_count(const dp_rdp_running_t *r);
/* dp_rdp_to_epsilon() of the composition so far; same returns. */
fl_err_t dp_rdp_running_epsilon(const dp_rdp_running_t *r, double delta,
                                double *epsilon, double *order,
                                fl_errbuf_t *eb) FL_WUR;

/*
 * Converts RDP values (rdp[k] at orders[k]) into the smallest epsilon for
 * delta in (0, 1), see the top of this file. Orders whose RDP is NaN are
 * skipped. Sets *epsilon and *order (the optimal order; for the KL
 * shortcut, the order whose RDP gave it).
 * Returns FL_OK; FL_ERR_INVALID for bad arguments; FL_ERR_NUMERIC when no
 * order gives a finite epsilon (every order infinite or NaN).
 */
fl_err_t dp_rdp_to_epsilon(const double *orders, const double *rdp,
                           size_t n_orders, double delta, double *epsilon,
                           double *order, fl_errbuf_t *eb) FL_WUR;

/*
 * dp_rdp_compose() then dp_rdp_to_epsilon() on the given grid.
 * Same return codes as those two.
 */
fl_err_t dp_rdp_epsilon(const dp_sgm_t *hist, size_t n, dp_rdp_grid_t grid,
                        double delta, double *epsilon, double *order,
                        fl_errbuf_t *eb) FL_WUR;

/*
 * Internal, for tests: log(A_alpha) at fractional alpha by plain term-by-term
 * summation of the two series (no acceleration), stopping when the terms
 * fall below exp(-32) of the running total. Slow at small sigma (10^4
 * terms); NaN if it does not converge. 0 < q < 1.
 */
double dp__rdp_log_a_frac_series(double q, double sigma, double alpha);

#endif
