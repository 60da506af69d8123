/*
 * proto/job.h: the job file, the contract both daemons parse.
 *
 * The coordinator loads a job INI file and offers its exact bytes to every
 * node; each side parses the same bytes with pb_job_parse() and names the job
 * by the SHA-256 of those bytes (the job hash). A node approves a job by its
 * hash or by checking its parameters against local policy.
 *
 * Format (docs/configuration.md has every key):
 *
 *   [job]       name, model ("30-16-2"), activation, rounds, local_steps,
 *               batch_size, learning_rate, optimizer, momentum, clip_norm,
 *               noise_multiplier | target_epsilon + calibration_records,
 *               delta, accountant, aggregator, trim_fraction, weighting,
 *               server_optimizer, server_learning_rate, server_momentum,
 *               min_nodes, fraction, round_deadline_s, eval_every, seed,
 *               holdout_fraction, dp
 *   [data]      label, classes, group
 *   [features]  one line per feature: <column> = <centre> <scale>
 *
 * Ownership: pb_job_parse() fills a caller-allocated pb_job_t whose
 * feature arrays it allocates; pb_job_cleanup() frees them.
 */
#ifndef PB_JOB_H
#define PB_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define PB_JOB_MAX_BYTES (256 * 1024)
#define PB_JOB_MAX_FEATURES 4096
#define PB_JOB_MAX_LAYERS 16
#define PB_JOB_MAX_WIDTH 65536
#define PB_JOB_MAX_CLASSES 64 /* what a node trains (node/data.h) */
#define PB_JOB_NAME_MAX 64
#define PB_JOB_COLUMN_MAX 64

typedef enum pb_activation { PB_ACT_RELU = 0, PB_ACT_TANH = 1 } pb_activation_t;
typedef enum pb_optimizer { PB_OPT_SGD = 0, PB_OPT_ADAM = 1 } pb_optimizer_t;
typedef enum pb_aggregator {
    PB_AGG_FEDAVG = 0,
    PB_AGG_MEDIAN = 1,
    PB_AGG_TRIMMED_MEAN = 2
} pb_aggregator_t;
typedef enum pb_weighting {
    PB_WEIGHT_UNIFORM = 0, /* every update counts the same */
    PB_WEIGHT_RECORDS = 1  /* by declared dataset size (disclosed) */
} pb_weighting_t;
typedef enum pb_server_opt {
    PB_SERVER_PLAIN = 0,
    PB_SERVER_MOMENTUM = 1, /* FedAvgM */
    PB_SERVER_ADAM = 2      /* FedAdam */
} pb_server_opt_t;

typedef struct pb_feature {
    char column[PB_JOB_COLUMN_MAX + 1];
    double centre; /* public scaling constants: x' = (x - centre) / scale */
    double scale;
} pb_feature_t;

typedef struct pb_job {
    char name[PB_JOB_NAME_MAX + 1];
    uint8_t hash[32]; /* SHA-256 of the job file bytes */
    char hash_hex[65];

    /* model */
    uint32_t layers[PB_JOB_MAX_LAYERS + 1]; /* widths, input first */
    size_t n_layers;                        /* number of widths */
    pb_activation_t activation;

    /* local training (DP-SGD) */
    uint32_t rounds;
    uint32_t local_steps;
    uint32_t batch_size; /* expected batch B; q = B / N at each node */
    double learning_rate;
    pb_optimizer_t optimizer;
    double momentum;
    int dp; /* 0 only when the job says dp = false explicitly */
    double clip_norm;
    double noise_multiplier;
    double target_epsilon;        /* 0 when sigma was given */
    uint64_t calibration_records; /* N the target epsilon holds for */
    double delta;
    int accountant; /* dp_accountant_kind_t: 0 rdp, 1 pld */

    /* aggregation */
    pb_aggregator_t aggregator;
    double trim_fraction;
    pb_weighting_t weighting;
    pb_server_opt_t server_optimizer;
    double server_learning_rate;
    double server_momentum;
    uint32_t min_nodes;
    double fraction; /* of eligible nodes asked each round */
    uint32_t round_deadline_s;
    uint32_t eval_every; /* evaluation every k rounds, 0: only at the end */
    uint64_t seed;
    double holdout_fraction;

    /* data */
    char label[PB_JOB_COLUMN_MAX + 1];
    char group[PB_JOB_COLUMN_MAX + 1]; /* "" when none */
    uint32_t classes;
    pb_feature_t *features;
    size_t n_features;
} pb_job_t;

/*
 * Parses and validates len bytes of a job file called name (for messages)
 * into *job, computing its hash. On error *job is left cleaned up.
 * When the job gives target_epsilon instead of noise_multiplier, the
 * caller calibrates sigma (privacy/ does that; proto/ cannot) and stores
 * it in job->noise_multiplier; pb_job_parse sets it to 0.
 */
fl_err_t pb_job_parse(const char *name, const char *bytes, size_t len,
                      pb_job_t *job, fl_errbuf_t *eb) FL_WUR;

/* Reads the file at path (at most PB_JOB_MAX_BYTES) and parses it. */
fl_err_t pb_job_load(const char *path, pb_job_t *job, char **bytes, size_t *len,
                     fl_errbuf_t *eb) FL_WUR;

void pb_job_cleanup(pb_job_t *job);

/*
 * What a target epsilon is calibrated for: sampling rate batch_size /
 * calibration_records over rounds * local_steps steps at the job's delta.
 * Both daemons calibrate from these, so they agree on sigma to the bit.
 */
void pb_job_calibration_inputs(const pb_job_t *job, double *sampling_rate,
                               uint64_t *steps);

/* Number of model parameters (weights and biases of every layer). */
size_t pb_job_param_count(const pb_job_t *job);

/* Lower-case hex of 32 bytes into out (65 bytes). */
void pb_hex32(const uint8_t in[32], char out[65]);

/*
 * Whether s is a name: 1..max characters from [A-Za-z0-9._-]. Job names,
 * column names and site ids (the channel) follow this rule.
 */
bool pb_name_valid(const char *s, size_t max);

/* Names for logs and records. */
const char *pb_aggregator_name(pb_aggregator_t a);
const char *pb_server_opt_name(pb_server_opt_t s);

#endif
