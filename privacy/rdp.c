/*
 * privacy/rdp.c: Renyi-DP of the Poisson-subsampled Gaussian mechanism,
 * its composition and its conversion to (epsilon, delta). See rdp.h.
 *
 * Everything is computed in log space: A_alpha reaches exp(10^6) for small
 * sigma and large orders, and the per-step RDP can be 1e-20 for tiny q.
 */
#include "privacy/rdp.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_HALF (-0.69314718055994530942)
#define HALF_LOG_PI 0.57236494292470008707
#define SQRT2 1.41421356237309504880

/* The plain fractional series (kept as a cross-check for the accelerated
 * one) stops when its terms fall below exp(-STOP_GAP) of the running total
 * (the tail is alternating and decreasing, so it is bounded by its first
 * term); it gives up after MAX_TERMS terms. */
#define FRAC_STOP_GAP 32.0
#define FRAC_MAX_TERMS 4000000u
/* Rounding pad of log(A) at fractional orders, in units of DBL_EPSILON. */
#define FRAC_PAD 32.0

/* Orders appended to Opacus's grid in the default grid. */
static const double large_orders[] = {64,  72,  80,  96,  112, 128, 160, 192,
                                      256, 320, 384, 512, 640, 768, 1024};

size_t
dp_rdp_grid_orders(dp_rdp_grid_t grid, double *orders, size_t cap)
{
    size_t n = 0;
    size_t need;
    const size_t n_large = sizeof(large_orders) / sizeof(large_orders[0]);

    if (grid != DP_RDP_GRID_DEFAULT && grid != DP_RDP_GRID_OPACUS) {
        return 0;
    }
    /* 99 orders 1.1..10.9, then 12..63 (52); the default adds 11 and the
     * large orders. */
    need = 99 + 52 + (grid == DP_RDP_GRID_DEFAULT ? 1 + n_large : 0);
    if (orders == NULL || cap < need) {
        return 0;
    }
    for (int x = 1; x < 100; x++) {
        /* Computed as Opacus does, 1 + x / 10.0, so the same doubles. */
        orders[n++] = 1.0 + (double) x / 10.0;
    }
    if (grid == DP_RDP_GRID_DEFAULT) {
        orders[n++] = 11.0;
    }
    for (int a = 12; a < 64; a++) {
        orders[n++] = (double) a;
    }
    if (grid == DP_RDP_GRID_DEFAULT) {
        for (size_t k = 0; k < n_large; k++) {
            orders[n++] = large_orders[k];
        }
    }
    return n;
}

/* log(erfc(x)), accurate where erfc underflows (x >= 26). */
static double
log_erfc(double x)
{
    double r;
    double s;

    if (x < 26.0) {
        return log(erfc(x));
    }
    /* Asymptotic series; at x >= 26 the omitted term is below 1e-12. */
    r = 1.0 / (x * x);
    s = 1.0 - 0.5 * r * (1.0 - 1.5 * r * (1.0 - 2.5 * r * (1.0 - 3.5 * r)));
    return -x * x - log(x) - HALF_LOG_PI + log(s);
}

/* A signed sum kept as s * exp(m), so terms of any magnitude can be added
 * with one exp each. */
typedef struct scaled_sum {
    double m;
    double s;
} scaled_sum_t;

static void
scaled_add(scaled_sum_t *acc, double sign, double log_term)
{
    if (log_term == -INFINITY) {
        return;
    }
    if (acc->s == 0.0) {
        acc->m = log_term;
        acc->s = sign;
    } else if (log_term > acc->m) {
        acc->s = acc->s * exp(acc->m - log_term) + sign;
        acc->m = log_term;
    } else {
        acc->s += sign * exp(log_term - acc->m);
    }
}

/* log of the sum, NaN if the sum is not positive (rounding ate it). */
static double
scaled_log(const scaled_sum_t *acc)
{
    if (acc->s <= 0.0) {
        return acc->s == 0.0 ? -INFINITY : NAN;
    }
    return acc->m + log(acc->s);
}

/* log(exp(a) + exp(b)). */
static double
log_add(double a, double b)
{
    double hi = a > b ? a : b;
    double lo = a > b ? b : a;

    if (lo == -INFINITY) {
        return hi;
    }
    return hi + log1p(exp(lo - hi));
}

/*
 * log(A_alpha) at integer alpha >= 2, 0 < q < 1. A_alpha = sum_i C(a,i)
 * q^i (1-q)^(a-i) exp((i^2 - i) / (2 s^2)); since the terms without the
 * exponential sum to 1, A - 1 = sum_{i>=2} C(a,i) q^i (1-q)^(a-i)
 * expm1((i^2 - i) / (2 s^2)), a sum of positive terms. Summing A - 1 keeps
 * full relative precision when the RDP is tiny (no cancellation against 1).
 */
static double
log_a_int(double q, double sigma, unsigned alpha, const double *logk)
{
    const double lq = log(q);
    const double l1q = log1p(-q);
    const double step = lq - l1q;
    const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
    const double a = (double) alpha;
    /* log(C(a, i) q^i (1-q)^(a-i)) at i = 2. */
    double base = log(a * (a - 1.0) / 2.0) + 2.0 * lq + (a - 2.0) * l1q;
    double m = -INFINITY;
    double s = 0.0;
    double log_am1;

    for (unsigned i = 2; i <= alpha; i++) {
        const double fi = (double) i;
        const double c = (fi * fi - fi) * inv_2s2;

        /* log(expm1(c)) <= c: a term below exp(-45) of the largest so far
         * cannot change the sum of at most 4096 terms in a double. */
        if (base + c >= m - 45.0) {
            /* log(expm1(c)): c itself once exp(-c) is below rounding. */
            const double t = base + (c > 40.0 ? c : log(expm1(c)));

            if (t > m) {
                s = t - m > 50.0 ? 1.0 : s * exp(m - t) + 1.0;
                m = t;
            } else {
                s += exp(t - m);
            }
        }
        if (i < alpha) {
            base += logk[alpha - i] - logk[i + 1] + step;
        }
    }
    log_am1 = m + log(s);
    /* log(A) = log(1 + exp(log_am1)). */
    if (log_am1 > 0.0) {
        return log_am1 + log1p(exp(-log_am1));
    }
    return log1p(exp(log_am1));
}

/* Terms of the two series of Mironov, Talwar and Zhang 2019, section 3.3,
 * for fractional alpha, 0 < q < 1: A_alpha = sum_i C(alpha, i) (e^s0_i +
 * e^s1_i), the integrals of the binomial expansion over z <= z0 and
 * z >= z0, z0 = s^2 log(1/q - 1) + 1/2. */
typedef struct frac_series {
    double lq, l1q, inv_2s2, z0, inv_sqrt2s, alpha;
} frac_series_t;

static void
frac_init(frac_series_t *f, double q, double sigma, double alpha)
{
    f->lq = log(q);
    f->l1q = log1p(-q);
    f->inv_2s2 = 1.0 / (2.0 * sigma * sigma);
    f->z0 = sigma * sigma * (f->l1q - f->lq) + 0.5;
    f->inv_sqrt2s = 1.0 / (SQRT2 * sigma);
    f->alpha = alpha;
}

/* log_s0 and log_s1 of term i without the coefficient log|C(alpha, i)|. */
static void
frac_terms(const frac_series_t *f, double fi, double *log_s0, double *log_s1)
{
    const double j = f->alpha - fi;

    *log_s0 = fi * f->lq + j * f->l1q + (fi * fi - fi) * f->inv_2s2 + LOG_HALF +
              log_erfc((fi - f->z0) * f->inv_sqrt2s);
    *log_s1 = j * f->lq + fi * f->l1q + (j * j - j) * f->inv_2s2 + LOG_HALF +
              log_erfc((f->z0 - j) * f->inv_sqrt2s);
}

/* log|C(alpha, i + 1)| from log|C(alpha, i)|. */
static double
next_log_coef(double log_coef, double alpha, double fi)
{
    return log_coef + log(fabs((alpha - fi) / (fi + 1.0)));
}

/* Number of terms of the accelerated alternating tail (error bound
 * 2 / (3 + sqrt 8)^n relative, below 1.1e-15 at n = 20). */
#define CRVZ_TERMS 20

/*
 * log(A_alpha) at fractional alpha > 1, 0 < q < 1.
 *
 * Terms i <= floor(alpha) have C(alpha, i) > 0 and are summed directly.
 * From k0 = floor(alpha) + 1 on, the signs alternate and the magnitudes
 * u_i = |C(alpha, i)| (e^s0_i + e^s1_i) form a Hausdorff moment sequence:
 * |C(alpha, i)| is proportional to the integral of t^(i - alpha - 1)
 * (1 - t)^alpha over [0, 1], and e^s0_i, e^s1_i are a constant times the
 * Mills ratio of (i - z0) / s and (i + z0 - alpha) / s, each a Laplace
 * transform of a positive density, i.e. (t = e^-x) moments too; products
 * and sums of moment sequences are moment sequences. The tail's tail decays
 * only polynomially (like i^-(alpha + 2)), which is why summing it term by
 * term takes 10^4 terms at small sigma, but for a moment sequence the
 * alternating sum is accelerated with a proven geometric rate by Cohen,
 * Rodriguez Villegas and Zagier (2000), Algorithm 1: CRVZ_TERMS terms give
 * a relative error below 2 / (3 + sqrt 8)^CRVZ_TERMS.
 */
static double
log_a_frac(double q, double sigma, double alpha)
{
    frac_series_t f;
    const unsigned k0 = (unsigned) floor(alpha) + 1u;
    double log_coef = 0.0; /* log|C(alpha, i)| */
    double head = -INFINITY;
    double log_u0 = 0.0;
    double d;
    double b = -1.0;
    double c;
    double tail = 0.0;
    unsigned i;

    frac_init(&f, q, sigma, alpha);
    for (i = 0; i < k0; i++) {
        double s0;
        double s1;

        frac_terms(&f, (double) i, &s0, &s1);
        head = log_add(head, log_add(log_coef + s0, log_coef + s1));
        log_coef = next_log_coef(log_coef, alpha, (double) i);
    }
    d = pow(3.0 + sqrt(8.0), CRVZ_TERMS);
    d = (d + 1.0 / d) / 2.0;
    c = -d;
    for (unsigned k = 0; k < CRVZ_TERMS; k++, i++) {
        double s0;
        double s1;
        const double fk = (double) k;

        frac_terms(&f, (double) i, &s0, &s1);
        if (k == 0) {
            log_u0 = log_coef + log_add(s0, s1);
        }
        /* The weights are in (0, 1] after the division by d; the terms are
         * scaled by the first (largest) one. */
        c = b - c;
        tail += c * (exp(log_coef + s0 - log_u0) + exp(log_coef + s1 - log_u0));
        b = (fk + CRVZ_TERMS) * (fk - CRVZ_TERMS) * b /
            ((fk + 0.5) * (fk + 1.0));
        log_coef = next_log_coef(log_coef, alpha, (double) i);
    }
    tail /= d;
    if (!(tail > 0.0) || isnan(head) || isnan(log_u0)) {
        /* The alternating tail of a moment sequence is at least half its
         * first term; anything else is a numerical failure. */
        return NAN;
    }
    head = log_add(head, log_u0 + log(tail));
    /* A >= 1 (Jensen): a negative log is rounding. The sum is near 1 when
     * the RDP is tiny, so rounding is absolute, a few ulps of 1 (or of A):
     * a pad of FRAC_PAD ulps keeps the result an upper bound. */
    if (head < 0.0) {
        head = 0.0;
    }
    return head + FRAC_PAD * DBL_EPSILON * (1.0 + head);
}

double
dp__rdp_log_a_frac_series(double q, double sigma, double alpha)
{
    frac_series_t f;
    scaled_sum_t a0 = {-INFINITY, 0.0};
    scaled_sum_t a1 = {-INFINITY, 0.0};
    double log_coef = 0.0;
    double sign = 1.0;

    if (!(q > 0.0 && q < 1.0) || !(sigma > 0.0) || !(alpha > 1.0)) {
        return NAN;
    }
    frac_init(&f, q, sigma, alpha);
    for (unsigned i = 0; i < FRAC_MAX_TERMS; i++) {
        const double fi = (double) i;
        double s0;
        double s1;

        frac_terms(&f, fi, &s0, &s1);
        s0 += log_coef;
        s1 += log_coef;
        if (isnan(s0) || isnan(s1)) {
            return NAN;
        }
        scaled_add(&a0, sign, s0);
        scaled_add(&a1, sign, s1);
        if (fi > alpha + 1.0) {
            const double l0 = scaled_log(&a0);
            const double l1 = scaled_log(&a1);
            const double big = s0 > s1 ? s0 : s1;
            double la;

            if (isnan(l0) || isnan(l1)) {
                return NAN;
            }
            la = log_add(l0, l1);
            if (big < (la > 0.0 ? la : 0.0) - FRAC_STOP_GAP) {
                return la > 0.0 ? la : 0.0;
            }
        }
        if (alpha - fi < 0.0) {
            sign = -sign;
        }
        log_coef = next_log_coef(log_coef, alpha, fi);
    }
    return NAN;
}

/* Largest integer order + 1: size of the table of log(k). */
#define LOGK_SIZE ((size_t) DP_RDP_MAX_ORDER + 2)

static int
valid_one(double q, double sigma, double alpha)
{
    return q > 0.0 && q <= 1.0 && sigma > 0.0 && isfinite(sigma) &&
           alpha > 1.0 && alpha <= DP_RDP_MAX_ORDER;
}

/* out[k] = dp_rdp_sgm(q, sigma, orders[k]); the table of log(k) for the
 * integer orders is built once for all orders. */
static void
rdp_sgm_many(double q, double sigma, const double *orders, size_t n,
             double *out)
{
    double logk[LOGK_SIZE];
    size_t top = 0;

    for (size_t k = 0; k < n; k++) {
        if (valid_one(q, sigma, orders[k]) && orders[k] == floor(orders[k]) &&
            (size_t) orders[k] > top) {
            top = (size_t) orders[k];
        }
    }
    logk[0] = -INFINITY;
    for (size_t k = 1; k <= top + 1 && k < LOGK_SIZE; k++) {
        logk[k] = log((double) k);
    }
    for (size_t k = 0; k < n; k++) {
        const double alpha = orders[k];
        double la;

        if (!valid_one(q, sigma, alpha)) {
            out[k] = NAN;
            continue;
        }
        if (q == 1.0) {
            out[k] = alpha / (2.0 * sigma * sigma);
            continue;
        }
        if (alpha == floor(alpha)) {
            la = log_a_int(q, sigma, (unsigned) alpha, logk);
        } else {
            la = log_a_frac(q, sigma, alpha);
        }
        out[k] = isnan(la) ? NAN : la / (alpha - 1.0);
    }
}

double
dp_rdp_sgm(double q, double sigma, double alpha)
{
    double out;

    rdp_sgm_many(q, sigma, &alpha, 1, &out);
    return out;
}

/* Validates one history entry (index j, for the message). */
static fl_err_t
check_entry(const dp_sgm_t *h, size_t j, fl_errbuf_t *eb)
{
    if (!(h->sampling_rate > 0.0 && h->sampling_rate <= 1.0)) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "rdp: entry %zu: sampling rate %g not in (0, 1]", j,
                       h->sampling_rate);
    }
    if (!(h->noise_multiplier > 0.0) || !isfinite(h->noise_multiplier)) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "rdp: entry %zu: noise multiplier %g is not a "
                       "finite positive number",
                       j, h->noise_multiplier);
    }
    if (h->steps == 0) {
        return fl_fail(eb, FL_ERR_INVALID, "rdp: entry %zu: steps is 0", j);
    }
    if (h->steps > DP_RDP_MAX_STEPS) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "rdp: entry %zu: %llu steps exceed the limit %llu", j,
                       (unsigned long long) h->steps,
                       (unsigned long long) DP_RDP_MAX_STEPS);
    }
    return FL_OK;
}

static fl_err_t
check_history(const dp_sgm_t *hist, size_t n, fl_errbuf_t *eb)
{
    if (n > DP_RDP_MAX_HISTORY) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "rdp: history of %zu entries exceeds the limit %u", n,
                       DP_RDP_MAX_HISTORY);
    }
    if (n > 0 && hist == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "rdp: history is NULL");
    }
    for (size_t j = 0; j < n; j++) {
        fl_err_t err = check_entry(&hist[j], j, eb);

        if (err != FL_OK) {
            return err;
        }
    }
    return FL_OK;
}

static fl_err_t
check_orders(const double *orders, size_t n_orders, fl_errbuf_t *eb)
{
    if (n_orders > DP_RDP_MAX_ORDERS) {
        return fl_fail(eb, FL_ERR_LIMIT, "rdp: %zu orders exceed the limit %d",
                       n_orders, DP_RDP_MAX_ORDERS);
    }
    if (n_orders > 0 && orders == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "rdp: orders is NULL");
    }
    for (size_t k = 0; k < n_orders; k++) {
        if (!(orders[k] > 1.0 && orders[k] <= DP_RDP_MAX_ORDER)) {
            return fl_fail(eb, FL_ERR_INVALID, "rdp: order %g not in (1, %g]",
                           orders[k], DP_RDP_MAX_ORDER);
        }
    }
    return FL_OK;
}

/* A few recently used (q, sigma) pairs and their per-step RDP, so that an
 * interleaved history (round-robin of a few settings) costs no more than a
 * merged one. */
#define RDP_CACHE_SLOTS 4

typedef struct rdp_cache {
    double q[RDP_CACHE_SLOTS];
    double sigma[RDP_CACHE_SLOTS];
    int used[RDP_CACHE_SLOTS];
    double rdp[RDP_CACHE_SLOTS][DP_RDP_MAX_ORDERS];
    unsigned next;
} rdp_cache_t;

static const double *
cache_get(rdp_cache_t *c, double q, double sigma, const double *orders,
          size_t n_orders)
{
    unsigned slot;

    for (unsigned k = 0; k < RDP_CACHE_SLOTS; k++) {
        if (c->used[k] && c->q[k] == q && c->sigma[k] == sigma) {
            return c->rdp[k];
        }
    }
    slot = c->next;
    c->next = (c->next + 1) % RDP_CACHE_SLOTS;
    rdp_sgm_many(q, sigma, orders, n_orders, c->rdp[slot]);
    c->q[slot] = q;
    c->sigma[slot] = sigma;
    c->used[slot] = 1;
    return c->rdp[slot];
}

/*
 * A composition built one entry at a time. `closed` holds the sum over the
 * finished runs of equal consecutive (q, sigma); the current run is
 * (q, sigma, steps) with one-step RDP `one` (a cache slot: no other cache
 * lookup happens while the run lasts). The total at every order is
 * closed + steps * one: the same operations, in the same order, whether
 * entries arrive all at once (dp_rdp_compose) or one per spend.
 */
struct dp_rdp_running {
    double orders[DP_RDP_MAX_ORDERS];
    size_t n_orders;
    size_t n; /* entries added */
    double q, sigma, steps;
    const double *one;
    double closed[DP_RDP_MAX_ORDERS];
    rdp_cache_t cache;
};

static void
running_reset(dp_rdp_running_t *r)
{
    r->n = 0;
    r->steps = 0.0;
    r->one = NULL;
    memset(r->cache.used, 0, sizeof(r->cache.used));
    r->cache.next = 0;
    for (size_t k = 0; k < r->n_orders; k++) {
        r->closed[k] = 0.0;
    }
}

static void
running_add(dp_rdp_running_t *r, const dp_sgm_t *e)
{
    if (r->n > 0 && e->sampling_rate == r->q &&
        e->noise_multiplier == r->sigma) {
        r->steps += (double) e->steps;
        r->n++;
        return;
    }
    for (size_t k = 0; r->n > 0 && k < r->n_orders; k++) {
        r->closed[k] += r->steps * r->one[k]; /* NaN stays NaN */
    }
    r->q = e->sampling_rate;
    r->sigma = e->noise_multiplier;
    r->steps = (double) e->steps;
    r->one = cache_get(&r->cache, r->q, r->sigma, r->orders, r->n_orders);
    r->n++;
}

static void
running_total(const dp_rdp_running_t *r, double *rdp)
{
    for (size_t k = 0; k < r->n_orders; k++) {
        rdp[k] = r->n > 0 ? r->closed[k] + r->steps * r->one[k] : 0.0;
    }
}

fl_err_t
dp_rdp_running_new(const double *orders, size_t n_orders,
                   dp_rdp_running_t **out, fl_errbuf_t *eb)
{
    dp_rdp_running_t *r;
    fl_err_t err = check_orders(orders, n_orders, eb);

    if (out == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "rdp: NULL argument");
    }
    *out = NULL;
    if (err != FL_OK) {
        return err;
    }
    r = malloc(sizeof *r);
    if (r == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "rdp: out of memory");
    }
    if (n_orders > 0) {
        memcpy(r->orders, orders, n_orders * sizeof orders[0]);
    }
    r->n_orders = n_orders;
    running_reset(r);
    *out = r;
    return FL_OK;
}

void
dp_rdp_running_destroy(dp_rdp_running_t **r)
{
    if (r != NULL) {
        free(*r);
        *r = NULL;
    }
}

size_t
dp_rdp_running_count(const dp_rdp_running_t *r)
{
    return r->n;
}

fl_err_t
dp_rdp_running_add(dp_rdp_running_t *r, const dp_sgm_t *e, fl_errbuf_t *eb)
{
    fl_err_t err;

    if (r->n >= DP_RDP_MAX_HISTORY) {
        return fl_fail(eb, FL_ERR_LIMIT,
                       "rdp: history of %zu entries exceeds the limit %u",
                       r->n + 1, DP_RDP_MAX_HISTORY);
    }
    err = check_entry(e, r->n, eb);
    if (err == FL_OK) {
        running_add(r, e);
    }
    return err;
}

fl_err_t
dp_rdp_running_epsilon(const dp_rdp_running_t *r, double delta, double *epsilon,
                       double *order, fl_errbuf_t *eb)
{
    double rdp[DP_RDP_MAX_ORDERS];

    running_total(r, rdp);
    return dp_rdp_to_epsilon(r->orders, rdp, r->n_orders, delta, epsilon, order,
                             eb);
}

fl_err_t
dp_rdp_compose(const dp_sgm_t *hist, size_t n, const double *orders,
               size_t n_orders, double *rdp, fl_errbuf_t *eb)
{
    dp_rdp_running_t r;
    fl_err_t err;

    err = check_history(hist, n, eb);
    if (err != FL_OK) {
        return err;
    }
    err = check_orders(orders, n_orders, eb);
    if (err != FL_OK) {
        return err;
    }
    if (n_orders > 0 && rdp == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "rdp: output array is NULL");
    }
    if (n_orders > 0) {
        memcpy(r.orders, orders, n_orders * sizeof orders[0]);
    }
    r.n_orders = n_orders;
    running_reset(&r);
    for (size_t j = 0; j < n; j++) {
        running_add(&r, &hist[j]);
    }
    running_total(&r, rdp);
    return FL_OK;
}

fl_err_t
dp_rdp_to_epsilon(const double *orders, const double *rdp, size_t n_orders,
                  double delta, double *epsilon, double *order, fl_errbuf_t *eb)
{
    double best = INFINITY;
    double best_order = NAN;
    fl_err_t err;

    if (epsilon == NULL || order == NULL || (n_orders > 0 && rdp == NULL)) {
        return fl_fail(eb, FL_ERR_INVALID, "rdp: NULL argument");
    }
    if (!(delta > 0.0 && delta < 1.0)) {
        return fl_fail(eb, FL_ERR_INVALID, "rdp: delta %g not in (0, 1)",
                       delta);
    }
    err = check_orders(orders, n_orders, eb);
    if (err != FL_OK) {
        return err;
    }
    for (size_t k = 0; k < n_orders; k++) {
        const double a = orders[k];
        const double r = rdp[k];
        double eps;

        if (isnan(r) || r < 0.0) {
            continue;
        }
        if (delta * delta + expm1(-r) > 0.0) {
            /* KL shortcut: RDP at any order bounds the KL divergence, and
             * delta >= sqrt(1 - exp(-KL)) already gives (0, delta)-DP. */
            eps = 0.0;
        } else {
            eps = r + log1p(-1.0 / a) - (log(delta) + log(a)) / (a - 1.0);
        }
        if (eps < best) {
            best = eps;
            best_order = a;
        }
    }
    if (!isfinite(best)) {
        return fl_fail(eb, FL_ERR_NUMERIC,
                       "rdp: no order gives a finite epsilon (the RDP is "
                       "infinite or not computable at every order)");
    }
    *epsilon = best > 0.0 ? best : 0.0;
    *order = best_order;
    return FL_OK;
}

fl_err_t
dp_rdp_epsilon(const dp_sgm_t *hist, size_t n, dp_rdp_grid_t grid, double delta,
               double *epsilon, double *order, fl_errbuf_t *eb)
{
    double orders[DP_RDP_MAX_ORDERS];
    double rdp[DP_RDP_MAX_ORDERS];
    size_t n_orders;
    fl_err_t err;

    n_orders = dp_rdp_grid_orders(grid, orders, DP_RDP_MAX_ORDERS);
    if (n_orders == 0) {
        return fl_fail(eb, FL_ERR_INVALID, "rdp: unknown order grid %d",
                       (int) grid);
    }
    err = dp_rdp_compose(hist, n, orders, n_orders, rdp, eb);
    if (err != FL_OK) {
        return err;
    }
    return dp_rdp_to_epsilon(orders, rdp, n_orders, delta, epsilon, order, eb);
}
