/*
 * sim/run.h: a simulated federation in one process.
 *
 * sim_run() partitions a data set into N virtual hospitals, makes a
 * throwaway PKI in a temporary folder, and runs the real coordinator
 * (coord_t) and N real nodes (node_daemon_t) over the real TLS channel,
 * on ZeroMQ inproc or on TCP loopback, from one single-threaded loop:
 * coord_step() then node_daemon_step() for every node. Nodes use the
 * SEEDED generator (reproducible, not for production): node i's seed is
 * derived from the run's seed and i, so the same seed gives the same model
 * to the bit. Faults (dropped rounds, stragglers, byzantine updates) are
 * injected by the node code (node_faults_t), drawn from seeded generators.
 *
 * The run's per-round and per-node figures come back in a sim_result_t
 * (sim/report.h writes them out). Every temporary file is removed at the
 * end unless keep_tmp is set. The run logs nothing itself; the coordinator
 * and nodes log through common/log.h as usual (set the level before).
 *
 * Ownership: *out of sim_run() is the caller's (sim_result_destroy).
 * Not thread-safe (and one run at a time per process with inproc).
 */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "node/daemon.h"
#include "privacy/risk.h"
#include "proto/chan.h"
#include "sim/partition.h"

typedef enum sim_transport {
    SIM_TRANSPORT_INPROC = 0,
    SIM_TRANSPORT_TCP = 1
} sim_transport_t;

typedef struct sim_opts {
    const char *job_path;  /* the job INI */
    const char *data_path; /* CSV with the job's feature and label columns */
    size_t n_nodes;        /* 1 .. SIM_MAX_NODES */
    sim_part_spec_t partition;
    uint64_t seed; /* partition, node generators, the job's seed */
    sim_transport_t transport;
    double drop_rate;           /* a node misses a training round */
    double straggle_rate;       /* its update arrives after the deadline */
    size_t n_byzantine;         /* nodes (seeded choice) that misbehave */
    node_byzantine_t byzantine; /* how (NODE_BYZ_SCALED by default) */
    /* > 0: the job's target_epsilon (its noise_multiplier dropped), every
     * node's budget, and calibration_records = the smallest training
     * partition, so every hospital stays within it. */
    double epsilon;
    double budget;          /* node budget when epsilon is 0; 0: the job's
                               target_epsilon, else 1e6 */
    const char *aggregator; /* NULL: the job's */
    unsigned rounds;        /* 0: the job's */
    unsigned deadline_s;    /* round_deadline_s; 0: the job's */
    double holdout;         /* holdout_fraction; 0: the job's */
    const char *tmp_parent; /* NULL: /dev/shm when writable, else TMPDIR
                               or /tmp */
    int keep_tmp;           /* leave the temporary folder (for debugging) */
    int timeout_s;          /* wall-clock limit; 0: 3600 */
    FILE *progress;         /* per-round lines; NULL: none */
    int json;               /* progress lines as JSON */
} sim_opts_t;

typedef struct sim_round {
    unsigned round;
    unsigned asked;
    unsigned updates;
    double seconds;     /* wall time of the training round */
    double cpu_seconds; /* process CPU time since the previous round */
    int has_metrics;
    uint64_t n_heldout;
    double accuracy;
    double loss;
    double eps_max;  /* over nodes, after the round */
    double eps_mean; /* over the hospitals that accepted the job */
} sim_round_t;

typedef struct sim_node {
    char id[CHAN_SITE_ID_MAX + 1];
    size_t rows;      /* its partition */
    uint64_t records; /* declared training records (0: declined) */
    int accepted;
    int byzantine;           /* node_byzantine_t */
    unsigned rounds_joined;  /* updates accepted */
    unsigned rounds_charged; /* rounds whose spend the mirror counted */
    double epsilon;
    double epsilon_max;
    int exhausted;
    int has_metrics; /* final held-out evaluation */
    uint64_t n_heldout;
    double accuracy;
} sim_node_t;

typedef struct sim_result {
    char job_name[65];
    char job_hash[65];
    char model_sha256[65];
    char aggregator[32];
    char partition[48]; /* "dirichlet:0.3" */
    char transport[8];
    uint64_t seed;
    size_t n_nodes;
    size_t n_rows;
    double label_skew; /* sim_partition_label_skew */
    size_t n_declined;
    unsigned rounds_planned;
    uint32_t batch_size;
    uint32_t local_steps;
    double sigma;
    double delta;
    double target_epsilon; /* 0 when the job gave sigma */
    uint64_t calibration_records;
    double drop_rate, straggle_rate;
    size_t n_byzantine;
    size_t n_rounds;
    sim_round_t *rounds;
    double *epsilon; /* epsilon[r * n_nodes + i]: node i after rounds[r] */
    sim_node_t *nodes;
    /* the final evaluation */
    int has_final;
    double final_accuracy;
    double final_loss;
    /* privacy of the most-spent hospital */
    double eps_max;
    size_t eps_max_node;
    int has_risk;
    dp_risk_t risk;
    /* cost */
    double setup_seconds; /* PKI, data, connecting */
    double pki_seconds;
    double run_seconds; /* first round to the end */
    double seconds_per_round;
    double cpu_seconds_per_round;
    long peak_rss_kb;
} sim_result_t;

/*
 * Runs one simulation. FL_OK with *out filled (caller destroys it), or
 * FL_ERR_INVALID (options), the loaders' errors (job, CSV), FL_ERR_CRYPTO
 * (PKI), FL_ERR_IO (temporary folder, channel), FL_ERR_TIMEOUT (the run
 * did not end within timeout_s), FL_ERR_NOMEM, or a coordinator or node
 * error; eb says which.
 */
fl_err_t sim_run(const sim_opts_t *o, sim_result_t **out,
                 fl_errbuf_t *eb) FL_WUR;

void sim_result_destroy(sim_result_t **r_p);

/* The seed of node i's generator in a run seeded with seed. */
uint64_t sim_node_seed(uint64_t seed, size_t i);

/*
 * Rewrites a job file's [job] section: each key[i] gets "key = value[i]"
 * (replacing its line, or added at the section's end); value[i] NULL
 * removes the key. *out (caller frees) is NUL-terminated. FL_OK,
 * FL_ERR_PARSE (no [job] section), FL_ERR_LIMIT, FL_ERR_NOMEM.
 */
fl_err_t sim_job_override(const char *bytes, size_t len, const char *const *key,
                          const char *const *value, size_t n, char **out,
                          size_t *out_len, fl_errbuf_t *eb) FL_WUR;

#endif
