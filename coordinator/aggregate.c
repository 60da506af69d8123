/* coordinator/aggregate.c: streaming FedAvg, coordinate-wise median and
 * trimmed mean. */
#include "coordinator/aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * FedAvg sums exactly: each weighted value (a double) is added into a
 * fixed-point accumulator of ACC_LIMBS signed 64-bit limbs, each limb
 * holding 32 bits of weight 2^(32 i + ACC_BASE). Integer addition is
 * associative, so the aggregate does not depend on the order the updates
 * arrived in: the same updates give the same model to the bit (what makes
 * dpfl-sim reproducible). Each add puts less than 2^32 in a limb, so 2^31
 * updates fit before a carry could overflow. Magnitudes below 2^ACC_BASE
 * (far below float32's resolution of any useful update) are truncated.
 */
#define ACC_LIMBS 12
#define ACC_BASE (-192)
/* Above this dimension the exact accumulator would take too much memory:
 * plain double sums are used (order-dependent in the last bits). */
#define ACC_MAX_DIM ((size_t) 1 << 22)

struct coord_agg {
    pb_aggregator_t kind;
    size_t dim;
    size_t max_updates;
    double trim_fraction;
    size_t count;
    int64_t *acc;      /* FedAvg, exact: dim * ACC_LIMBS limbs */
    double *sum;       /* FedAvg, large models: weighted sum, dim doubles */
    double weight_sum; /* FedAvg: sum of weights */
    float *kept;       /* robust: count rows of dim floats ... */
    size_t kept_rows;  /* ... in room for this many (kept across rounds) */
    float *column;     /* robust: one coordinate across updates */
};

fl_err_t
coord_agg_new(pb_aggregator_t kind, size_t dim, size_t max_updates,
              double trim_fraction, coord_agg_t **out, fl_errbuf_t *eb)
{
    coord_agg_t *agg;

    *out = NULL;
    if (dim == 0 || max_updates == 0 || !(trim_fraction >= 0) ||
        trim_fraction >= 0.5 || (int) kind < 0 || kind > PB_AGG_TRIMMED_MEAN)
        return fl_fail(eb, FL_ERR_INVALID, "aggregator: invalid parameters");
    if (kind != PB_AGG_FEDAVG && max_updates > SIZE_MAX / sizeof(float) / dim)
        return fl_fail(eb, FL_ERR_LIMIT, "aggregator: too many updates");
    agg = calloc(1, sizeof *agg);
    if (agg == NULL)
        goto nomem;
    agg->kind = kind;
    agg->dim = dim;
    agg->max_updates = max_updates;
    agg->trim_fraction = trim_fraction;
    if (kind == PB_AGG_FEDAVG && dim <= ACC_MAX_DIM) {
        agg->acc = calloc(dim * ACC_LIMBS, sizeof *agg->acc);
        if (agg->acc == NULL)
            goto nomem;
    } else if (kind == PB_AGG_FEDAVG) {
        agg->sum = calloc(dim, sizeof *agg->sum);
        if (agg->sum == NULL)
            goto nomem;
    } else {
        /* Grown on demand up to max_updates rows. */
        agg->column = malloc(max_updates * sizeof *agg->column);
        if (agg->column == NULL)
            goto nomem;
    }
    *out = agg;
    return FL_OK;
nomem:
    coord_agg_destroy(&agg);
    return fl_fail(eb, FL_ERR_NOMEM, "aggregator: out of memory");
}

void
coord_agg_destroy(coord_agg_t **agg_p)
{
    coord_agg_t *agg = *agg_p;

    if (agg == NULL)
        return;
    free(agg->acc);
    free(agg->sum);
    free(agg->kept);
    free(agg->column);
    free(agg);
    *agg_p = NULL;
}

void
coord_agg_reset(coord_agg_t *agg)
{
    agg->count = 0;
    agg->weight_sum = 0;
    if (agg->acc != NULL)
        memset(agg->acc, 0, agg->dim * ACC_LIMBS * sizeof *agg->acc);
    if (agg->sum != NULL)
        memset(agg->sum, 0, agg->dim * sizeof *agg->sum);
}

/* Adds x exactly into the limbs of one coordinate. */
static void
acc_add(int64_t *limb, double x)
{
    int e, off, k;
    int64_t sign = x < 0 ? -1 : 1;
    uint64_t mag, lo, hi, t0, t1;
    long p;

    if (x == 0)
        return;
    /* x = M * 2^p with M an integer of at most 53 bits */
    mag = (uint64_t) ldexp(fabs(frexp(x, &e)), 53);
    p = (long) e - 53;
    if (p < ACC_BASE) {
        if (ACC_BASE - p >= 64)
            return;
        mag >>= ACC_BASE - p;
        p = ACC_BASE;
    }
    k = (int) ((p - ACC_BASE) / 32);
    off = (int) ((p - ACC_BASE) % 32);
    if (k + 2 >= ACC_LIMBS)
        return; /* beyond 2^160: cannot come from float32 times a weight */
    lo = mag & 0xffffffffu;
    hi = mag >> 32;
    t0 = lo << off;
    t1 = (hi << off) + (t0 >> 32);
    limb[k] += sign * (int64_t) (t0 & 0xffffffffu);
    limb[k + 1] += sign * (int64_t) (t1 & 0xffffffffu);
    limb[k + 2] += sign * (int64_t) (t1 >> 32);
}

/* The accumulated value of one coordinate (limbs normalised in place). */
static double
acc_value(int64_t *limb)
{
    const int64_t radix = (int64_t) 1 << 32;
    double r = 0;

    for (int i = 0; i + 1 < ACC_LIMBS; i++) {
        int64_t low = limb[i] % radix;

        if (low < 0)
            low += radix;
        limb[i + 1] += (limb[i] - low) / radix;
        limb[i] = low;
    }
    for (int i = ACC_LIMBS - 1; i >= 0; i--)
        r += ldexp((double) limb[i], 32 * i + ACC_BASE);
    return r;
}

size_t
coord_agg_count(const coord_agg_t *agg)
{
    return agg->count;
}

/* Keeps a copy of update; the room grows by doubling, up to max_updates
 * rows, and is reused by later rounds. */
static fl_err_t
agg_keep(coord_agg_t *agg, const float *update, fl_errbuf_t *eb)
{
    if (agg->count == agg->kept_rows) {
        size_t rows = agg->kept_rows ? agg->kept_rows * 2 : 8;
        float *p;

        if (rows > agg->max_updates)
            rows = agg->max_updates;
        p = realloc(agg->kept, rows * agg->dim * sizeof *p);
        if (p == NULL)
            return fl_fail(eb, FL_ERR_NOMEM, "aggregator: out of memory");
        agg->kept = p;
        agg->kept_rows = rows;
    }
    memcpy(agg->kept + agg->count * agg->dim, update,
           agg->dim * sizeof *agg->kept);
    return FL_OK;
}

fl_err_t
coord_agg_add(coord_agg_t *agg, const float *update, double weight,
              fl_errbuf_t *eb)
{
    fl_err_t err;

    if (agg->count == agg->max_updates)
        return fl_fail(eb, FL_ERR_LIMIT, "aggregator: more than %zu updates",
                       agg->max_updates);
    if (!(weight > 0) || !isfinite(weight))
        return fl_fail(eb, FL_ERR_RANGE, "update weight: %g is not > 0",
                       weight);
    for (size_t i = 0; i < agg->dim; i++)
        if (!isfinite(update[i]))
            return fl_fail(eb, FL_ERR_RANGE, "update[%zu]: not a finite number",
                           i);
    if (agg->acc != NULL) {
        for (size_t i = 0; i < agg->dim; i++)
            acc_add(agg->acc + i * ACC_LIMBS, weight * (double) update[i]);
        agg->weight_sum += weight;
    } else if (agg->kind == PB_AGG_FEDAVG) {
        for (size_t i = 0; i < agg->dim; i++)
            agg->sum[i] += weight * (double) update[i];
        agg->weight_sum += weight;
    } else {
        err = agg_keep(agg, update, eb);
        if (err != FL_OK)
            return err;
    }
    agg->count++;
    return FL_OK;
}

static int
cmp_float(const void *a, const void *b)
{
    float x = *(const float *) a;
    float y = *(const float *) b;

    return (x > y) - (x < y);
}

/* Median (k == 0) or mean of the middle n - 2k values of column[0..n). */
static float
robust_column(float *column, size_t n, size_t k, int median)
{
    double s = 0;

    qsort(column, n, sizeof *column, cmp_float);
    if (median)
        return n % 2 ? column[n / 2]
                     : (float) (((double) column[n / 2 - 1] +
                                 (double) column[n / 2]) /
                                2.0);
    for (size_t i = k; i < n - k; i++)
        s += (double) column[i];
    return (float) (s / (double) (n - 2 * k));
}

fl_err_t
coord_agg_result(coord_agg_t *agg, float *out, fl_errbuf_t *eb)
{
    size_t n = agg->count;
    size_t k;

    if (n == 0)
        return fl_fail(eb, FL_ERR_STATE, "aggregator: no update to aggregate");
    if (agg->acc != NULL) {
        for (size_t i = 0; i < agg->dim; i++)
            out[i] =
                (float) (acc_value(agg->acc + i * ACC_LIMBS) / agg->weight_sum);
        return FL_OK;
    }
    if (agg->kind == PB_AGG_FEDAVG) {
        for (size_t i = 0; i < agg->dim; i++)
            out[i] = (float) (agg->sum[i] / agg->weight_sum);
        return FL_OK;
    }
    /* Trim k from each end, keeping at least one value. */
    k = (size_t) floor(agg->trim_fraction * (double) n);
    if (2 * k >= n)
        k = (n - 1) / 2;
    for (size_t i = 0; i < agg->dim; i++) {
        for (size_t r = 0; r < n; r++)
            agg->column[r] = agg->kept[r * agg->dim + i];
        out[i] = robust_column(agg->column, n, k, agg->kind == PB_AGG_MEDIAN);
    }
    return FL_OK;
}
