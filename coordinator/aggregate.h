/*
 * coordinator/aggregate.h: folding the nodes' updates of one round into one.
 *
 * FedAvg (uniform or weighted) streams: each update is added into an exact
 * fixed-point accumulator and dropped, so memory is O(dimension) whatever
 * the number of nodes, and the result does not depend on the order the
 * updates arrived in (bit-reproducible runs). Coordinate-wise median and
 * trimmed mean (robust to a minority of bad updates) need every value of a
 * coordinate at once; they keep the updates, at most max_updates of them, so
 * their memory is bounded by max_updates * dimension floats. Robust aggregators
 * ignore weights.
 *
 * Ownership: coord_agg_new() gives the caller an object freed with
 * coord_agg_destroy(). Not thread-safe.
 */
#ifndef COORD_AGGREGATE_H
#define COORD_AGGREGATE_H

#include <stddef.h>

#include "common/err.h"
#include "proto/job.h"

typedef struct coord_agg coord_agg_t;

/*
 * dim: parameters per update (>= 1); max_updates: the most updates one
 * round may add (>= 1); trim_fraction in [0, 0.5) for the trimmed mean.
 */
fl_err_t coord_agg_new(pb_aggregator_t kind, size_t dim, size_t max_updates,
                       double trim_fraction, coord_agg_t **out,
                       fl_errbuf_t *eb) FL_WUR;
void coord_agg_destroy(coord_agg_t **agg_p);

/* Forgets every update: the start of a round. */
void coord_agg_reset(coord_agg_t *agg);

/*
 * Adds one update of dim floats with weight > 0 (FedAvg weights; ignored by
 * the robust aggregators). Refuses non-finite values (FL_ERR_RANGE, naming
 * the index) and more than max_updates updates (FL_ERR_LIMIT); a refused
 * update leaves the aggregate unchanged.
 */
fl_err_t coord_agg_add(coord_agg_t *agg, const float *update, double weight,
                       fl_errbuf_t *eb) FL_WUR;

size_t coord_agg_count(const coord_agg_t *agg);

/* Writes the aggregate (dim floats). FL_ERR_STATE when nothing was added. */
fl_err_t coord_agg_result(coord_agg_t *agg, float *out, fl_errbuf_t *eb) FL_WUR;

#endif
