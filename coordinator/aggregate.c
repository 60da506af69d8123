/* coordinator/aggregate.c: streaming FedAvg, coordinate-wise median and
 * trimmed mean. */
#include "coordinator/aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct coord_agg {
    pb_aggregator_t kind;
    size_t dim;
    size_t max_updates;
    double trim_fraction;
    size_t count;
    double *sum;       /* FedAvg: weighted sum, dim doubles */
    double weight_sum; /* FedAvg: sum of weights */
    float *kept;       /* robust: count rows of dim floats */
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
    if (kind == PB_AGG_FEDAVG) {
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
    if (agg->sum != NULL)
        memset(agg->sum, 0, agg->dim * sizeof *agg->sum);
}

size_t
coord_agg_count(const coord_agg_t *agg)
{
    return agg->count;
}

static fl_err_t
agg_keep(coord_agg_t *agg, const float *update, fl_errbuf_t *eb)
{
    size_t rows = agg->count + 1;
    float *p = realloc(agg->kept, rows * agg->dim * sizeof *p);

    if (p == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "aggregator: out of memory");
    agg->kept = p;
    memcpy(p + agg->count * agg->dim, update, agg->dim * sizeof *p);
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
    if (agg->kind == PB_AGG_FEDAVG) {
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
