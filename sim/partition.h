/*
 * sim/partition.h: splitting one data set into N virtual hospitals.
 *
 * Three schemes, the usual ones of federated-learning benchmarks:
 *   - iid: a seeded shuffle dealt round-robin (sizes differ by at most 1);
 *   - dirichlet:ALPHA (label skew, Hsu, Qi and Brown 2019): node k draws
 *     its label mix p_k ~ Dirichlet(ALPHA, ..., ALPHA) and fills an equal
 *     share of the rows by drawing classes from p_k (renormalised over the
 *     classes that still have rows). Small ALPHA: few classes per node;
 *     large ALPHA: close to iid. Sizes are those of iid;
 *   - quantity:ALPHA (size skew): node sizes are min_rows plus a
 *     Dirichlet(ALPHA) share of the rest, the rows dealt as in iid.
 * Every row goes to exactly one node. Every node gets at least min_rows
 * rows when the data set has n_nodes * min_rows of them (otherwise sizes
 * are as equal as possible and some nodes get fewer).
 *
 * The same inputs and seed give the same partition on every machine (own
 * SplitMix64/xoshiro256** generator and Marsaglia-Tsang gamma draws, no
 * libm randomness). Pure functions; thread-safe.
 */
#ifndef SIM_PARTITION_H
#define SIM_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SIM_MAX_NODES 10000

typedef enum sim_part_kind {
    SIM_PART_IID = 0,
    SIM_PART_DIRICHLET = 1,
    SIM_PART_QUANTITY = 2
} sim_part_kind_t;

typedef struct sim_part_spec {
    sim_part_kind_t kind;
    double alpha; /* > 0 for dirichlet and quantity */
} sim_part_spec_t;

/* A partition: node k holds rows idx[start[k] .. start[k+1]-1], ascending. */
typedef struct sim_partition {
    size_t n_nodes;
    size_t n_rows;
    size_t *start; /* n_nodes + 1 offsets */
    size_t *idx;   /* n_rows row indices */
} sim_partition_t;

/* Parses "iid", "dirichlet:ALPHA" or "quantity:ALPHA" (ALPHA finite and in
 * (0, 1e6]). FL_OK or FL_ERR_PARSE with the reason. */
fl_err_t sim_part_spec_parse(const char *text, sim_part_spec_t *out,
                             fl_errbuf_t *eb) FL_WUR;

/* "iid", "dirichlet" or "quantity". Static string. */
const char *sim_part_kind_name(sim_part_kind_t kind);

/*
 * Partitions n_rows rows with labels[i] in [0, n_classes) (labels may be
 * NULL for iid and quantity) among n_nodes nodes (1 .. SIM_MAX_NODES and
 * at most n_rows). Fills *out (caller-allocated; free with
 * sim_partition_cleanup). Returns FL_OK, FL_ERR_INVALID (bad argument or a
 * label out of range), FL_ERR_NOMEM.
 */
fl_err_t sim_partition_make(const sim_part_spec_t *spec, const int32_t *labels,
                            size_t n_rows, uint32_t n_classes, size_t n_nodes,
                            size_t min_rows, uint64_t seed,
                            sim_partition_t *out, fl_errbuf_t *eb) FL_WUR;

void sim_partition_cleanup(sim_partition_t *p);

/* Rows of node k. */
size_t sim_partition_size(const sim_partition_t *p, size_t k);

/*
 * Label skew of a partition: the mean over nodes (weighted by rows) of the
 * total-variation distance between the node's label distribution and the
 * whole data set's, in [0, 1]: about 0 for iid with large nodes, near 1
 * when every node holds one class of many. FL_OK or FL_ERR_INVALID.
 */
fl_err_t sim_partition_label_skew(const sim_partition_t *p,
                                  const int32_t *labels, uint32_t n_classes,
                                  double *skew, fl_errbuf_t *eb) FL_WUR;

/* A seeded generator for the simulator (xoshiro256** seeded by
 * SplitMix64). */
typedef struct sim_rng {
    uint64_t s[4];
} sim_rng_t;

void sim_rng_seed(sim_rng_t *r, uint64_t seed);
uint64_t sim_rng_next(sim_rng_t *r);
/* Uniform in [0, 1) with 53 bits. */
double sim_rng_uniform(sim_rng_t *r);
/* Uniform in [0, n), n > 0, without modulo bias. */
uint64_t sim_rng_below(sim_rng_t *r, uint64_t n);
/* Gamma(shape, 1), shape > 0 (Marsaglia and Tsang 2000). */
double sim_rng_gamma(sim_rng_t *r, double shape);
/* SplitMix64 of x: a well-mixed 64-bit function, for deriving seeds. */
uint64_t sim_mix64(uint64_t x);

#endif
