/*
 * coordinator/server_opt.h: how the aggregate moves the global model.
 *
 * Nodes send update = local model - global model; the aggregate of those is
 * a pseudo-gradient step delta. Server optimisers (Reddi et al. 2021,
 * "Adaptive Federated Optimization"):
 *   plain:    w += lr * delta
 *   momentum: m = beta * m + delta;  w += lr * m            (FedAvgM)
 *   adam:     m = b1 m + (1-b1) delta;  v = b2 v + (1-b2) delta^2;
 *             w += lr * m / (sqrt(v) + tau)                  (FedAdam)
 * The state (m, v, step count) is part of the coordinator checkpoint.
 *
 * Ownership: the caller owns the object (coord_server_opt_destroy).
 */
#ifndef COORD_SERVER_OPT_H
#define COORD_SERVER_OPT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/job.h"

#define COORD_ADAM_BETA2 0.99
#define COORD_ADAM_TAU 1e-3

typedef struct coord_server_opt {
    pb_server_opt_t kind;
    size_t dim;
    double lr;
    double beta; /* momentum, or Adam's beta1 */
    uint64_t steps;
    float *m; /* NULL for plain */
    float *v; /* Adam only */
} coord_server_opt_t;

fl_err_t coord_server_opt_new(pb_server_opt_t kind, size_t dim, double lr,
                              double beta, coord_server_opt_t **out,
                              fl_errbuf_t *eb) FL_WUR;
void coord_server_opt_destroy(coord_server_opt_t **opt_p);

/* Applies one step of delta (dim floats) to model (dim floats). */
void coord_server_opt_step(coord_server_opt_t *opt, float *model,
                           const float *delta);

/* Number of float vectors of state (0 plain, 1 momentum, 2 adam). */
size_t coord_server_opt_state_vectors(pb_server_opt_t kind);

#endif
