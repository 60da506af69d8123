/*
 * privacy/sgm.h: the mechanism every accountant in dpfl accounts for.
 *
 * DP-SGD's step is the Poisson-subsampled Gaussian mechanism (SGM): each
 * record is in the batch independently with probability sampling_rate (q),
 * the clipped sum gets N(0, (noise_multiplier * C)^2) noise. A dp_sgm_t is
 * `steps` runs of one such mechanism; a training history is an array of
 * them in the order they ran (different q, sigma, steps compose).
 * Neighbouring relation: add/remove one record.
 */
#ifndef DP_SGM_H
#define DP_SGM_H

#include <stdint.h>

typedef struct dp_sgm {
    double sampling_rate;    /* q in (0, 1] */
    double noise_multiplier; /* sigma > 0 */
    uint64_t steps;          /* T >= 1 */
} dp_sgm_t;

#endif
