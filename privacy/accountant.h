/*
 * privacy/accountant.h: the one entry point for "how much privacy did this
 * training history spend", and its inverse, "how much noise for a budget".
 *
 * Two accountants for the Poisson-subsampled Gaussian mechanism with
 * add/remove-one neighbours (privacy/sgm.h):
 *   - RDP (privacy/rdp.h): Renyi DP, the analysis Opacus and dp_accounting
 *     use, a valid upper bound, fast (well under 1 ms) and independent of
 *     the number of steps;
 *   - PLD (privacy/pld.h): privacy loss distributions composed by FFT,
 *     tighter (typically 5-10% smaller epsilon) and slower (0.1 s or more).
 * Both return upper bounds on the true epsilon. docs/privacy.md says when
 * to prefer which.
 *
 * A history is an array of dp_sgm_t in the order the mechanisms ran;
 * entries with different q, sigma and steps compose.
 *
 * Thread-safety: every function is reentrant (the PLD path serialises FFTW
 * planning internally). Nothing is allocated that outlives a call.
 */
#ifndef DP_ACCOUNTANT_H
#define DP_ACCOUNTANT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "privacy/sgm.h"

typedef enum dp_accountant_kind {
    DP_ACCOUNTANT_RDP = 0,
    DP_ACCOUNTANT_PLD = 1
} dp_accountant_kind_t;

typedef enum dp_orders {
    DP_ORDERS_DEFAULT = 0, /* a superset of Opacus's and dp_accounting's */
    DP_ORDERS_OPACUS = 1   /* exactly Opacus's 151 orders (1.1 .. 63) */
} dp_orders_t;

typedef struct dp_accountant_opts {
    dp_accountant_kind_t kind;
    dp_orders_t orders;  /* RDP only */
    double pld_interval; /* PLD only: grid width; 0 = PLD default */
} dp_accountant_opts_t;

typedef struct dp_epsilon {
    double epsilon;
    double delta;
    double order; /* RDP: optimal order; PLD: 0 */
} dp_epsilon_t;

/* Largest step count dp_accountant_calibrate accepts. */
#define DP_ACCOUNTANT_MAX_STEPS 1000000000ull

/*
 * Epsilon of the composed history hist[0..n) at delta in (0, 1).
 *   opts: NULL means RDP with the default orders.
 *   hist: n entries in the order they ran; n == 0 gives epsilon 0.
 *   out:  filled on success (out->delta = delta).
 * Returns FL_OK;
 *   FL_ERR_INVALID  a NULL argument, delta outside (0, 1), an entry with q
 *                   outside (0, 1], sigma not finite and positive, steps 0,
 *                   or an unknown kind/orders/negative or NaN interval;
 *   FL_ERR_LIMIT    a history or grid limit of the accountant;
 *   FL_ERR_NUMERIC  no finite epsilon can be certified (RDP: every order
 *                   infinite or not computable; PLD: delta below its
 *                   resolution);
 *   FL_ERR_NOMEM    (PLD).
 * The message in eb names the cause.
 */
fl_err_t dp_accountant_epsilon(const dp_accountant_opts_t *opts,
                               const dp_sgm_t *hist, size_t n, double delta,
                               dp_epsilon_t *out, fl_errbuf_t *eb) FL_WUR;

/*
 * The smallest noise multiplier sigma for which `steps` runs of the SGM at
 * sampling_rate reach epsilon <= target_epsilon at delta, found by
 * bisection on the accountant (epsilon decreases as sigma grows). *sigma is
 * the upper end of the final bracket, so its epsilon (*epsilon_reached,
 * may be NULL) never exceeds the target; the bracket is 1e-7 of sigma wide
 * for RDP and 1e-4 for PLD (whose bracket starts from the RDP answer, an
 * upper bound on the PLD one).
 * Returns FL_OK; FL_ERR_INVALID for bad arguments (q outside (0, 1], steps
 * 0, delta outside (0, 1), target not finite and positive, NULL sigma);
 * FL_ERR_LIMIT for steps > DP_ACCOUNTANT_MAX_STEPS; FL_ERR_RANGE when the
 * target cannot be reached with sigma <= 10^4 (the accountant's floor, e.g.
 * the order grid, is above it) or is already met at sigma = 10^-2;
 * the accountant's other errors.
 */
fl_err_t dp_accountant_calibrate(const dp_accountant_opts_t *opts,
                                 double sampling_rate, uint64_t steps,
                                 double delta, double target_epsilon,
                                 double *sigma, double *epsilon_reached,
                                 fl_errbuf_t *eb) FL_WUR;

/* "rdp" / "pld"; "unknown" for other values. Static string. */
const char *dp_accountant_kind_name(dp_accountant_kind_t kind);

/* Parses "rdp" or "pld" (exact, lower case). FL_ERR_INVALID otherwise. */
fl_err_t dp_accountant_kind_parse(const char *name,
                                  dp_accountant_kind_t *out) FL_WUR;

/* "default" / "opacus"; "unknown" for other values. Static string. */
const char *dp_orders_name(dp_orders_t orders);

/* Parses "default" or "opacus". FL_ERR_INVALID otherwise. */
fl_err_t dp_orders_parse(const char *name, dp_orders_t *out) FL_WUR;

#endif
