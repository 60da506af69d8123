/*
 * privacy/pld.c: privacy loss distribution accountant for histories of
 * Poisson-subsampled Gaussian mechanisms (add/remove neighbouring).
 *
 * Pipeline (docs/privacy-pld.md has the maths):
 *   1. merge the history into distinct (q, sigma) mechanisms with summed
 *      steps; q = 1 entries fold exactly into one Gaussian;
 *   2. for each neighbouring direction (remove, add) and each mechanism,
 *      discretise the privacy loss distribution on the grid interval * Z by
 *      pessimistic connect-the-dots from exact hockey-stick values;
 *   3. bound the composed loss range with a Chernoff bound (tail mass
 *      TAIL_MASS, moved to the infinite loss), FFT every mechanism's PMF at
 *      that length, raise to its step count, multiply, inverse FFT once;
 *   4. read epsilon(delta) or delta(epsilon) off the composed PMF, exact
 *      within each grid cell, and report the worse direction.
 */
#include "privacy/pld.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ln of the noise mass dropped from each tail before discretisation; the
 * dropped mass is charged to the infinite loss (as dp_accounting does). */
#define LOG_MASS_TRUNCATION (-50.0)
/* Mass of the composed distribution allowed outside the FFT window. */
#define TAIL_MASS 1e-15
/* Number of Chernoff orders tried on each side. */
#define CHERNOFF_ORDERS 48
/* Attempts at coarsening the default grid before giving up. */
#define MAX_COARSEN 12

#define SQRT1_2 0.70710678118654752440
#define LOG_SQRT_2PI 0.91893853320467274178

enum dir { DIR_REMOVE = 0, DIR_ADD = 1 };

typedef struct mech {
    double q;
    double sigma;
    uint64_t steps;
} mech_t;

/* Probability mass on losses (lo + i) * interval, i < len, plus inf. */
typedef struct pmf {
    int64_t lo;
    size_t len;
    double *p;
    double inf;
} pmf_t;

/* The merged history. */
typedef struct hist {
    mech_t mech[DP_PLD_MAX_MECHANISMS + 1];
    size_t m;
    double mu2; /* sum of steps / sigma^2 over folded q = 1 entries */
    int symmetric;
} hist_t;

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- normal distribution ------------------------------------------- */

static double
norm_cdf(double t)
{
    return 0.5 * erfc(-t * SQRT1_2);
}

/* log Phi(t), accurate in both tails. */
static double
norm_logcdf(double t)
{
    if (t > 3.0)
        return log1p(-0.5 * erfc(t * SQRT1_2));
    if (t > -30.0)
        return log(norm_cdf(t));
    /* Asymptotic series of the Mills ratio; next term < 2e-12 here. */
    double r = 1.0 / (t * t);
    double s = 1.0 - r * (1.0 - r * (3.0 - r * (15.0 - r * 105.0)));
    return -0.5 * t * t - log(-t) - LOG_SQRT_2PI + log(s);
}

/* z with Phi(z) = exp(LOG_MASS_TRUNCATION) / 2 (about -10.04). */
static double
truncation_z(void)
{
    double target = LOG_MASS_TRUNCATION - log(2.0);
    double lo = -40.0, hi = 0.0;
    for (int i = 0; i < 100; i++) {
        double mid = 0.5 * (lo + hi);
        if (norm_logcdf(mid) < target)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* ---- privacy loss of one subsampled Gaussian step ------------------ */

/* g(u) = log(1 - q + q e^u), the subsampled loss from the unsampled one. */
static double
sub_loss(double q, double u)
{
    if (q == 1.0)
        return u;
    if (u > 0.0)
        return u + log(q + (1.0 - q) * exp(-u));
    return log1p(q * expm1(u));
}

/* Inverse of sub_loss: log(1 + (e^e - 1) / q); -inf below log(1 - q). */
static double
sub_loss_inv(double q, double e)
{
    if (q == 1.0)
        return e;
    if (e > 0.0)
        return e + log(exp(-e) + (-expm1(-e)) / q);
    double a = expm1(e) / q;
    if (a <= -1.0)
        return -INFINITY;
    return log1p(a);
}

/*
 * Privacy loss at noise value x. Remove: upper (1-q) N(0,s) + q N(-1,s)
 * against lower N(0,s). Add: upper N(0,s) against lower (1-q) N(0,s) +
 * q N(1,s). Both are non-increasing in x.
 */
static double
loss_at(const mech_t *m, enum dir dir, double x)
{
    double s2 = m->sigma * m->sigma;
    if (dir == DIR_REMOVE)
        return sub_loss(m->q, (-0.5 - x) / s2);
    return -sub_loss(m->q, -(0.5 - x) / s2);
}

/* Largest x whose loss is at least eps (+-inf at the ends). */
static double
loss_inverse(const mech_t *m, enum dir dir, double eps)
{
    double s2 = m->sigma * m->sigma;
    if (dir == DIR_REMOVE) {
        double w = sub_loss_inv(m->q, eps);
        return w == -INFINITY ? INFINITY : -0.5 - s2 * w;
    }
    double w = -sub_loss_inv(m->q, -eps);
    return w == INFINITY ? -INFINITY : 0.5 - s2 * w;
}

/* Exact hockey-stick divergence of one step at eps, in one direction. */
static double
step_delta(const mech_t *m, enum dir dir, double eps)
{
    double q = m->q, s = m->sigma, d;
    if (dir == DIR_REMOVE) {
        if (q < 1.0 && eps <= log1p(-q))
            return -expm1(eps);
        double x = loss_inverse(m, dir, eps);
        double a = x / s, b = (x + 1.0) / s;
        d = (1.0 - q) * norm_cdf(a) + q * norm_cdf(b) -
            exp(eps + norm_logcdf(a));
    } else {
        if (q < 1.0 && eps >= -log1p(-q))
            return 0.0;
        double x = loss_inverse(m, dir, eps);
        double a = x / s, c = (x - 1.0) / s;
        d = norm_cdf(a) - (1.0 - q) * exp(eps + norm_logcdf(a)) -
            q * exp(eps + norm_logcdf(c));
    }
    if (!(d > 0.0))
        return 0.0;
    return d < 1.0 ? d : 1.0;
}

/* ---- discretisation: pessimistic connect-the-dots ------------------ */

/* Grid index range [*k_lo, *k_hi] the step's PMF needs at interval iv. */
static void
step_index_range(const mech_t *m, enum dir dir, double iv, double z,
                 double *k_lo, double *k_hi)
{
    double lo_x = m->sigma * z, hi_x = -m->sigma * z;
    if (dir == DIR_ADD)
        hi_x += 1.0;
    else
        lo_x -= 1.0;
    *k_lo = floor(loss_at(m, dir, hi_x) / iv);
    *k_hi = ceil(loss_at(m, dir, lo_x) / iv);
}

/*
 * Connect-the-dots PMF (Doroshenko et al. 2022, Algorithm 1, fixed gap):
 * the distribution on the grid whose hockey-stick curve passes through the
 * exact delta at every grid epsilon and dominates the true curve in
 * between. Mass beyond the top grid point is the exact delta there and
 * goes to the infinite loss. Returns FL_ERR_LIMIT (no message) when the
 * PMF would exceed max_len points; *need then holds the size required.
 */
static fl_err_t
pmf_connect_dots(const mech_t *m, enum dir dir, double iv, double z,
                 size_t max_len, pmf_t *out, size_t *need)
{
    double k_lo, k_hi;
    step_index_range(m, dir, iv, z, &k_lo, &k_hi);
    double width = k_hi - k_lo + 1.0;
    if (!(width <= (double) max_len)) {
        *need = width < 1e18 ? (size_t) width : SIZE_MAX;
        return FL_ERR_LIMIT;
    }
    size_t n = (size_t) width;
    double *p = malloc(n * sizeof *p);
    if (p == NULL)
        return FL_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        p[i] = step_delta(m, dir, (k_lo + (double) i) * iv);
    out->inf = p[n - 1];
    if (n == 1) {
        p[0] = 1.0 - p[0];
    } else {
        double em1 = expm1(iv), e = exp(iv), prev = 0.0;
        for (size_t i = 0; i < n; i++) {
            double di = p[i], v;
            if (i == 0)
                v = 1.0 - di + (p[1] - di) / em1;
            else if (i + 1 < n)
                v = ((p[i + 1] - di) - e * (di - prev)) / em1;
            else
                v = (di - prev) / expm1(-iv);
            prev = di;
            p[i] = v > 0.0 ? v : 0.0;
        }
    }
    out->lo = (int64_t) k_lo;
    out->len = n;
    out->p = p;
    return FL_OK;
}

/* ---- composition ---------------------------------------------------- */

/*
 * log E[e^{lambda L}; L finite] for one step's PMF, in loss units, with the
 * largest term factored out (so it neither overflows nor underflows).
 */
static double
pmf_log_mgf(const pmf_t *pm, double iv, double lambda)
{
    /* Terms shrink by r; once one is below 1e-17 of the sum, the rest
     * (total mass <= 1) cannot change it. */
    double r = exp(-fabs(lambda) * iv), term = 1.0, sum = 1e-300;
    double top;
    if (lambda > 0.0) {
        top = (double) (pm->lo + (int64_t) pm->len - 1) * iv;
        for (size_t i = pm->len; i-- > 0 && term > 1e-17 * sum; term *= r)
            sum += pm->p[i] * term;
    } else {
        top = (double) pm->lo * iv;
        for (size_t i = 0; i < pm->len && term > 1e-17 * sum; i++, term *= r)
            sum += pm->p[i] * term;
    }
    return sum > 0.0 ? lambda * top + log(sum) : -INFINITY;
}

/*
 * Grid index window [*lo, *hi] of the composed loss outside of which at
 * most TAIL_MASS / 2 lies on each side (Chernoff bound, optimised over
 * CHERNOFF_ORDERS orders per side), intersected with the full support.
 */
static void
chernoff_window(const pmf_t *pm, const mech_t *mech, size_t m, double iv,
                int64_t *lo, int64_t *hi)
{
    double full_lo = 0.0, full_hi = 0.0, c = log(2.0 / TAIL_MASS);
    for (size_t j = 0; j < m; j++) {
        full_lo += (double) mech[j].steps * (double) pm[j].lo;
        full_hi += (double) mech[j].steps *
                   (double) (pm[j].lo + (int64_t) pm[j].len - 1);
    }
    double best_hi = full_hi * iv, best_lo = full_lo * iv;
    for (int k = 0; k < CHERNOFF_ORDERS; k++) {
        double lam = pow(10.0, -3.0 + 6.0 * k / (CHERNOFF_ORDERS - 1));
        double up = 0.0, dn = 0.0;
        for (size_t j = 0; j < m; j++) {
            up += (double) mech[j].steps * pmf_log_mgf(&pm[j], iv, lam);
            dn += (double) mech[j].steps * pmf_log_mgf(&pm[j], iv, -lam);
        }
        if ((up + c) / lam < best_hi)
            best_hi = (up + c) / lam;
        if ((dn + c) / -lam > best_lo)
            best_lo = (dn + c) / -lam;
    }
    double h = fmin(full_hi, ceil(best_hi / iv) + 1.0);
    double l = fmax(full_lo, floor(best_lo / iv) - 1.0);
    if (l > h)
        l = h;
    *lo = (int64_t) l;
    *hi = (int64_t) h;
}

/* Smallest even n' >= n whose only prime factors are 2, 3, 5, 7. */
static size_t
fft_good_len(size_t n)
{
    size_t len = n + (n & 1);
    for (;; len += 2) {
        size_t r = len;
        const size_t f[] = {2, 3, 5, 7};
        for (size_t i = 0; i < 4; i++)
            while (r % f[i] == 0)
                r /= f[i];
        if (r == 1)
            return len;
    }
}

/*
 * acc[k] *= spec[k]^steps by binary exponentiation, bit by bit over the
 * whole array (branch-free inner loops); spec is consumed. Squares whose
 * modulus drops below 1e-200 are flushed to zero: they cannot matter next
 * to the zero-frequency term (modulus <= 1) and would turn subnormal.
 */
static void
mul_power(fftw_complex *acc, fftw_complex *spec, size_t nc, uint64_t steps)
{
    for (uint64_t e = steps; e != 0; e >>= 1) {
        if (e & 1) {
            for (size_t k = 0; k < nc; k++) {
                double ar = acc[k][0], ai = acc[k][1];
                double br = spec[k][0], bi = spec[k][1];
                acc[k][0] = ar * br - ai * bi;
                acc[k][1] = ar * bi + ai * br;
            }
        }
        if (e == 1)
            break;
        for (size_t k = 0; k < nc; k++) {
            double br = spec[k][0], bi = spec[k][1];
            double m = br * br + bi * bi;
            double keep = m < 1e-200 ? 0.0 : 1.0;
            spec[k][0] = keep * (br * br - bi * bi);
            spec[k][1] = keep * (2.0 * br * bi);
        }
    }
}

/* Composed mass of infinite loss: 1 - prod (1 - inf_j)^steps_j. */
static double
composed_inf(const pmf_t *pm, const mech_t *mech, size_t m)
{
    double s = 0.0;
    for (size_t j = 0; j < m; j++)
        s += (double) mech[j].steps * log1p(-fmin(pm[j].inf, 1.0));
    return -expm1(s);
}

/*
 * One step of one mechanism: no convolution, copy the window; mass below it
 * moves up to its first point, mass above it to the infinite loss.
 */
static fl_err_t
window_single(const pmf_t *pm, int64_t lo, int64_t hi, pmf_t *out)
{
    size_t n = (size_t) (hi - lo + 1);
    double *p = calloc(n, sizeof *p);
    if (p == NULL)
        return FL_ERR_NOMEM;
    double above = 0.0;
    for (size_t i = 0; i < pm->len; i++) {
        int64_t k = pm->lo + (int64_t) i;
        if (k < lo)
            p[0] += pm->p[i];
        else if (k > hi)
            above += pm->p[i];
        else
            p[k - lo] += pm->p[i];
    }
    out->lo = lo;
    out->len = n;
    out->p = p;
    out->inf = fmin(1.0, pm->inf + above);
    return FL_OK;
}

/*
 * Composes the step PMFs (each taken steps_j times) by one FFT of length
 * L >= hi - lo + 1: every PMF is folded modulo L (so circular convolution
 * equals the true convolution folded modulo L), transformed, raised to its
 * step count and multiplied in; one inverse transform gives the composed
 * PMF, from which the window [lo, hi] is read. Mass outside the window
 * (<= TAIL_MASS) lands inside it by wrap-around; TAIL_MASS is also charged
 * to the infinite loss so that delta stays an upper bound.
 */
static fl_err_t
fft_compose(const pmf_t *pm, const mech_t *mech, size_t m, int64_t lo,
            int64_t hi, pmf_t *out, size_t *fft_len)
{
    size_t n = (size_t) (hi - lo + 1), len = fft_good_len(n);
    size_t nc = len / 2 + 1;
    fl_err_t rc = FL_ERR_NOMEM;
    fftw_plan fwd = NULL, bwd = NULL;
    double *buf = fftw_alloc_real(len), *p = malloc(n * sizeof *p);
    fftw_complex *spec = fftw_alloc_complex(nc);
    fftw_complex *acc = fftw_alloc_complex(nc);
    if (buf == NULL || p == NULL || spec == NULL || acc == NULL)
        goto out;
    pthread_mutex_lock(&plan_lock);
    fwd = fftw_plan_dft_r2c_1d((int) len, buf, spec, FFTW_ESTIMATE);
    bwd = fftw_plan_dft_c2r_1d((int) len, acc, buf, FFTW_ESTIMATE);
    pthread_mutex_unlock(&plan_lock);
    if (fwd == NULL || bwd == NULL)
        goto out;
    for (size_t k = 0; k < nc; k++) {
        acc[k][0] = 1.0;
        acc[k][1] = 0.0;
    }
    int64_t base = 0;
    for (size_t j = 0; j < m; j++) {
        memset(buf, 0, len * sizeof *buf);
        for (size_t i = 0; i < pm[j].len; i++)
            buf[i % len] += pm[j].p[i];
        fftw_execute(fwd);
        mul_power(acc, spec, nc, mech[j].steps);
        base += (int64_t) mech[j].steps * pm[j].lo;
    }
    fftw_execute(bwd);
    uint64_t r0 = (uint64_t) (lo - base) % len;
    for (size_t i = 0; i < n; i++) {
        double v = buf[(r0 + i) % len] / (double) len;
        p[i] = v > 0.0 ? v : 0.0; /* FFT round-off can go below zero */
    }
    out->lo = lo;
    out->len = n;
    out->p = p;
    out->inf = fmin(1.0, composed_inf(pm, mech, m) + TAIL_MASS);
    p = NULL;
    *fft_len = len;
    rc = FL_OK;
out:
    pthread_mutex_lock(&plan_lock);
    if (fwd != NULL)
        fftw_destroy_plan(fwd);
    if (bwd != NULL)
        fftw_destroy_plan(bwd);
    pthread_mutex_unlock(&plan_lock);
    fftw_free(buf);
    fftw_free(spec);
    fftw_free(acc);
    free(p);
    return rc;
}

/*
 * Discretises and composes the history in one direction at interval iv.
 * FL_ERR_LIMIT (no message) when a grid would exceed max_grid; *need then
 * holds the size required.
 */
static fl_err_t
compose_direction(const hist_t *h, enum dir dir, double iv, double z,
                  size_t max_grid, pmf_t *out, size_t *fft_len, size_t *need)
{
    pmf_t pm[DP_PLD_MAX_MECHANISMS + 1];
    size_t built = 0;
    fl_err_t rc = FL_OK;
    for (; built < h->m; built++) {
        rc = pmf_connect_dots(&h->mech[built], dir, iv, z, max_grid, &pm[built],
                              need);
        if (rc != FL_OK)
            goto out;
    }
    int64_t lo, hi;
    chernoff_window(pm, h->mech, h->m, iv, &lo, &hi);
    if ((uint64_t) (hi - lo) >= (uint64_t) max_grid) {
        *need = (size_t) (hi - lo + 1);
        rc = FL_ERR_LIMIT;
        goto out;
    }
    *fft_len = 0;
    if (h->m == 1 && h->mech[0].steps == 1)
        rc = window_single(&pm[0], lo, hi, out);
    else
        rc = fft_compose(pm, h->mech, h->m, lo, hi, out, fft_len);
out:
    for (size_t j = 0; j < built; j++)
        free(pm[j].p);
    return rc;
}

/* ---- reading the composed distribution ----------------------------- */

/*
 * Smallest epsilon with delta(epsilon) <= delta for the PMF, exact within
 * each grid cell: for eps in [l_{k-1}, l_k], delta(eps) = U_k - e^{eps -
 * l_k} S_k with U_k = inf + sum_{j>=k} p_j and S_k = sum_{j>=k} p_j
 * e^{l_k - l_j}. INFINITY when the infinite-loss mass alone exceeds delta.
 */
static double
pmf_epsilon(const pmf_t *pm, double iv, double delta)
{
    if (pm->inf > delta)
        return INFINITY;
    double u = pm->inf, s = 0.0, ed = exp(-iv), lk = 0.0;
    for (size_t k = pm->len; k-- > 0;) {
        u += pm->p[k];
        s = pm->p[k] + s * ed;
        lk = (double) (pm->lo + (int64_t) k) * iv;
        if (u - ed * s > delta && s > 0.0) {
            double eps = lk + log((u - delta) / s);
            return fmax(0.0, fmax(eps, lk - iv));
        }
    }
    /* delta(eps) for eps below the grid: u - e^{eps - l_0} s. */
    if (u <= delta || s <= 0.0)
        return 0.0;
    return fmax(0.0, lk + log((u - delta) / s));
}

/* delta(eps) = inf + sum_{l_j > eps} p_j (1 - e^{eps - l_j}). */
static double
pmf_delta(const pmf_t *pm, double iv, double eps)
{
    double d = 0.0;
    for (size_t k = pm->len; k-- > 0;) {
        double l = (double) (pm->lo + (int64_t) k) * iv;
        if (l <= eps)
            break;
        d += pm->p[k] * -expm1(eps - l);
    }
    d += pm->inf;
    return d < 1.0 ? d : 1.0;
}

/* ---- the Gaussian mechanism in closed form ------------------------- */

static double
gauss_delta(double sigma, double eps)
{
    double a = 0.5 / sigma;
    double d =
        norm_cdf(-eps * sigma + a) - exp(eps + norm_logcdf(-eps * sigma - a));
    if (!(d > 0.0))
        return 0.0;
    return d < 1.0 ? d : 1.0;
}

static double
gauss_epsilon(double sigma, double delta)
{
    if (gauss_delta(sigma, 0.0) <= delta)
        return 0.0;
    double lo = 0.0, hi = 1.0;
    while (gauss_delta(sigma, hi) > delta && hi < 1e300) {
        lo = hi;
        hi *= 2.0;
    }
    while (hi - lo > 1e-13 * hi) {
        double mid = 0.5 * (lo + hi);
        if (gauss_delta(sigma, mid) > delta)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

fl_err_t
dp_pld_gaussian_delta(double sigma, double epsilon, double *delta,
                      fl_errbuf_t *eb)
{
    if (!(sigma > 0.0) || !isfinite(sigma))
        return fl_fail(eb, FL_ERR_INVALID, "pld: sigma %g not > 0", sigma);
    if (!(epsilon >= 0.0) || !isfinite(epsilon))
        return fl_fail(eb, FL_ERR_INVALID, "pld: epsilon %g not >= 0", epsilon);
    if (delta == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "pld: delta out is NULL");
    *delta = gauss_delta(sigma, epsilon);
    return FL_OK;
}

fl_err_t
dp_pld_gaussian_epsilon(double sigma, double delta, double *epsilon,
                        fl_errbuf_t *eb)
{
    if (!(sigma > 0.0) || !isfinite(sigma))
        return fl_fail(eb, FL_ERR_INVALID, "pld: sigma %g not > 0", sigma);
    if (!(delta > 0.0 && delta < 1.0))
        return fl_fail(eb, FL_ERR_INVALID, "pld: delta %g not in (0, 1)",
                       delta);
    if (epsilon == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "pld: epsilon out is NULL");
    *epsilon = gauss_epsilon(sigma, delta);
    return FL_OK;
}

/* ---- history and driver -------------------------------------------- */

void
dp_pld_opts_init(dp_pld_opts_t *opts)
{
    opts->interval = 0.0;
    opts->max_grid = 0;
    opts->exact_gaussian = 1;
}

static fl_err_t
check_entry(const dp_sgm_t *e, size_t i, fl_errbuf_t *eb)
{
    if (!(e->sampling_rate > 0.0 && e->sampling_rate <= 1.0))
        return fl_fail(eb, FL_ERR_INVALID,
                       "pld: history[%zu]: sampling rate %g not in (0, 1]", i,
                       e->sampling_rate);
    if (!(e->noise_multiplier > 0.0) || !isfinite(e->noise_multiplier))
        return fl_fail(eb, FL_ERR_INVALID,
                       "pld: history[%zu]: noise multiplier %g not > 0 and "
                       "finite",
                       i, e->noise_multiplier);
    if (e->steps < 1)
        return fl_fail(eb, FL_ERR_INVALID, "pld: history[%zu]: steps is 0", i);
    return FL_OK;
}

/* Canonical order (by q, then sigma), so that the floating-point result
 * does not depend on the order of the history. Insertion sort: m <= 256. */
static void
sort_mechanisms(mech_t *m, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        mech_t x = m[i];
        size_t j = i;
        while (j > 0 && (m[j - 1].q > x.q ||
                         (m[j - 1].q == x.q && m[j - 1].sigma > x.sigma))) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = x;
    }
}

/* Validates the history, merges equal (q, sigma) entries and sorts them. */
static fl_err_t
merge_history(const dp_sgm_t *hist, size_t n, int exact, hist_t *h,
              fl_errbuf_t *eb)
{
    if (hist == NULL || n == 0)
        return fl_fail(eb, FL_ERR_INVALID, "pld: empty history");
    if (n > DP_PLD_MAX_HISTORY)
        return fl_fail(eb, FL_ERR_LIMIT, "pld: history of %zu entries > %zu", n,
                       DP_PLD_MAX_HISTORY);
    uint64_t total = 0;
    size_t last = 0;
    h->m = 0;
    h->mu2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        const dp_sgm_t *e = &hist[i];
        fl_err_t rc = check_entry(e, i, eb);
        if (rc != FL_OK)
            return rc;
        if (e->steps > DP_PLD_MAX_STEPS - total)
            return fl_fail(eb, FL_ERR_LIMIT, "pld: total steps > %llu",
                           (unsigned long long) DP_PLD_MAX_STEPS);
        total += e->steps;
        if (exact && e->sampling_rate == 1.0) {
            double s = e->noise_multiplier;
            h->mu2 += (double) e->steps / (s * s);
            continue;
        }
        size_t j = last;
        if (j >= h->m || h->mech[j].q != e->sampling_rate ||
            h->mech[j].sigma != e->noise_multiplier)
            for (j = 0; j < h->m; j++)
                if (h->mech[j].q == e->sampling_rate &&
                    h->mech[j].sigma == e->noise_multiplier)
                    break;
        if (j == h->m) {
            if (h->m == DP_PLD_MAX_MECHANISMS)
                return fl_fail(eb, FL_ERR_LIMIT,
                               "pld: more than %d distinct (q, sigma) pairs",
                               DP_PLD_MAX_MECHANISMS);
            h->mech[j].q = e->sampling_rate;
            h->mech[j].sigma = e->noise_multiplier;
            h->mech[j].steps = 0;
            h->m++;
        }
        h->mech[j].steps += e->steps;
        last = j;
    }
    sort_mechanisms(h->mech, h->m);
    if (h->mu2 > 0.0 && h->m > 0) {
        if (!isfinite(h->mu2))
            return fl_fail(eb, FL_ERR_NUMERIC, "pld: Gaussian mu overflows");
        h->mech[h->m].q = 1.0;
        h->mech[h->m].sigma = 1.0 / sqrt(h->mu2);
        h->mech[h->m].steps = 1;
        h->m++;
    }
    h->symmetric = 1;
    for (size_t j = 0; j < h->m; j++)
        if (h->mech[j].q != 1.0)
            h->symmetric = 0;
    return FL_OK;
}

static fl_err_t
resolve_opts(const dp_pld_opts_t *opts, double *iv, size_t *max_grid,
             int *coarsen, int *exact, fl_errbuf_t *eb)
{
    dp_pld_opts_t o;
    dp_pld_opts_init(&o);
    if (opts != NULL)
        o = *opts;
    if (isnan(o.interval) ||
        (o.interval > 0.0 && (o.interval < DP_PLD_MIN_INTERVAL ||
                              o.interval > DP_PLD_MAX_INTERVAL)))
        return fl_fail(eb, FL_ERR_INVALID,
                       "pld: interval %g not in [%g, %g] (or <= 0 for the "
                       "default)",
                       o.interval, DP_PLD_MIN_INTERVAL, DP_PLD_MAX_INTERVAL);
    if (o.max_grid > DP_PLD_MAX_GRID_CEILING || o.max_grid == 1)
        return fl_fail(eb, FL_ERR_INVALID, "pld: max_grid %zu not in [2, %zu]",
                       o.max_grid, DP_PLD_MAX_GRID_CEILING);
    *coarsen = !(o.interval > 0.0);
    *iv = *coarsen ? DP_PLD_DEFAULT_INTERVAL : o.interval;
    *max_grid = o.max_grid == 0 ? DP_PLD_MAX_GRID : o.max_grid;
    *exact = o.exact_gaussian != 0;
    return FL_OK;
}

/* The composed PMF of each direction (one when symmetric), at an interval
 * that fits max_grid; the default interval is coarsened until it does. */
static fl_err_t
compose_all(const hist_t *h, double iv, size_t max_grid, int coarsen,
            pmf_t out[2], size_t *ndir, dp_pld_info_t *info, fl_errbuf_t *eb)
{
    double z = truncation_z();
    *ndir = h->symmetric ? 1 : 2;
    for (int attempt = 0;; attempt++) {
        size_t need = 0, fl[2] = {0, 0}, d;
        fl_err_t rc = FL_OK;
        for (d = 0; d < *ndir && rc == FL_OK; d++)
            rc = compose_direction(h, (enum dir) d, iv, z, max_grid, &out[d],
                                   &fl[d], &need);
        if (rc == FL_OK) {
            info->interval = iv;
            info->grid = out[0].len > out[*ndir - 1].len ? out[0].len
                                                         : out[*ndir - 1].len;
            info->fft_len = fl[0] > fl[1] ? fl[0] : fl[1];
            return FL_OK;
        }
        for (size_t k = 0; k + 1 < d; k++) {
            free(out[k].p);
            out[k].p = NULL;
        }
        if (rc != FL_ERR_LIMIT)
            return fl_fail(eb, rc, "pld: out of memory for the grid");
        if (!coarsen || attempt >= MAX_COARSEN)
            return fl_fail(eb, FL_ERR_LIMIT,
                           "pld: the grid at interval %g needs %zu points, "
                           "more than the limit %zu",
                           iv, need, max_grid);
        double f = (double) need / (double) max_grid * 1.1;
        iv *= f > 1.5 ? f : 1.5;
        if (iv > DP_PLD_MAX_INTERVAL)
            return fl_fail(eb, FL_ERR_LIMIT,
                           "pld: the composed loss range does not fit %zu "
                           "points at any interval up to %g",
                           max_grid, DP_PLD_MAX_INTERVAL);
    }
}

/* Shared body: want_eps selects epsilon(delta) or delta(epsilon). */
static fl_err_t
pld_eval(const dp_sgm_t *hist, size_t n, double arg, int want_eps,
         const dp_pld_opts_t *opts, double *res, dp_pld_info_t *info,
         fl_errbuf_t *eb)
{
    double iv = DP_PLD_DEFAULT_INTERVAL;
    size_t max_grid = DP_PLD_MAX_GRID, ndir = 0;
    int coarsen = 1, exact = 1;
    dp_pld_info_t dummy;
    pmf_t pm[2] = {{0, 0, NULL, 0.0}, {0, 0, NULL, 0.0}};
    hist_t *h = NULL;
    fl_err_t rc;
    if (info == NULL)
        info = &dummy;
    memset(info, 0, sizeof *info);
    if (res == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "pld: result pointer is NULL");
    if (want_eps && !(arg > 0.0 && arg < 1.0))
        return fl_fail(eb, FL_ERR_INVALID, "pld: delta %g not in (0, 1)", arg);
    if (!want_eps && !(arg >= 0.0 && isfinite(arg)))
        return fl_fail(eb, FL_ERR_INVALID,
                       "pld: epsilon %g not >= 0 and finite", arg);
    rc = resolve_opts(opts, &iv, &max_grid, &coarsen, &exact, eb);
    if (rc != FL_OK)
        return rc;
    h = malloc(sizeof *h);
    if (h == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "pld: out of memory");
    rc = merge_history(hist, n, exact, h, eb);
    if (rc != FL_OK)
        goto out;
    if (h->m == 0) { /* only q = 1 entries: one Gaussian, closed form */
        double s = 1.0 / sqrt(h->mu2);
        info->mechanisms = 1;
        *res = want_eps ? gauss_epsilon(s, arg) : gauss_delta(s, arg);
        goto out;
    }
    info->mechanisms = h->m;
    rc = compose_all(h, iv, max_grid, coarsen, pm, &ndir, info, eb);
    if (rc != FL_OK)
        goto out;
    double v = 0.0;
    for (size_t d = 0; d < ndir; d++) {
        double x = want_eps ? pmf_epsilon(&pm[d], info->interval, arg)
                            : pmf_delta(&pm[d], info->interval, arg);
        v = x > v ? x : v;
    }
    if (want_eps && !isfinite(v)) {
        rc = fl_fail(eb, FL_ERR_NUMERIC,
                     "pld: delta %g is below the accountant's resolution "
                     "(mass %g on infinite loss)",
                     arg, fmax(pm[0].inf, pm[ndir - 1].inf));
        goto out;
    }
    *res = v;
out:
    free(pm[0].p);
    free(pm[1].p);
    free(h);
    return rc;
}

fl_err_t
dp_pld_epsilon_opts(const dp_sgm_t *hist, size_t n, double delta,
                    const dp_pld_opts_t *opts, double *epsilon,
                    dp_pld_info_t *info, fl_errbuf_t *eb)
{
    return pld_eval(hist, n, delta, 1, opts, epsilon, info, eb);
}

fl_err_t
dp_pld_delta_opts(const dp_sgm_t *hist, size_t n, double epsilon,
                  const dp_pld_opts_t *opts, double *delta, dp_pld_info_t *info,
                  fl_errbuf_t *eb)
{
    return pld_eval(hist, n, epsilon, 0, opts, delta, info, eb);
}

fl_err_t
dp_pld_epsilon(const dp_sgm_t *hist, size_t n, double delta, double interval,
               double *epsilon, fl_errbuf_t *eb)
{
    dp_pld_opts_t o;
    dp_pld_opts_init(&o);
    o.interval = interval;
    return pld_eval(hist, n, delta, 1, &o, epsilon, NULL, eb);
}

fl_err_t
dp_pld_delta(const dp_sgm_t *hist, size_t n, double epsilon, double interval,
             double *delta, fl_errbuf_t *eb)
{
    dp_pld_opts_t o;
    dp_pld_opts_init(&o);
    o.interval = interval;
    return pld_eval(hist, n, epsilon, 0, &o, delta, NULL, eb);
}
