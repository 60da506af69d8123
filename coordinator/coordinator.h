/*
 * coordinator/coordinator.h: the coordinator's round state machine.
 *
 * A coord_t runs one job: it offers the job to every authenticated site,
 * mirrors each accepting site's privacy spend, runs training rounds (select
 * the sites that can afford one more round, send the model, fold the
 * updates into a streaming aggregate until all answered or the deadline,
 * apply the aggregator and server optimiser, checkpoint atomically),
 * evaluation rounds, and ends when the rounds are done or no site can
 * afford another round. dpfl-coordinator and dpfl-sim drive it with
 * coord_step() from their loops.
 *
 * It is daemon logic, so it logs (common/log.h) and prints the progress
 * lines and the final summary to cfg->progress (stdout when NULL).
 * Ownership: coord_new() gives the caller a coord_t freed with
 * coord_destroy(). Not thread-safe.
 */
#ifndef COORD_COORDINATOR_H
#define COORD_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "coordinator/config.h"

/* Where the run stands. */
typedef enum coord_phase {
    COORD_PHASE_WAIT = 0,  /* waiting for enough sites */
    COORD_PHASE_TRAIN = 1, /* a training round is open */
    COORD_PHASE_EVAL = 2,  /* an evaluation round is open */
    COORD_PHASE_DONE = 3   /* the job ended */
} coord_phase_t;

typedef struct coord coord_t;

/* Called after every round's progress line (and the final one). */
typedef void (*coord_round_fn)(void *ctx, const coord_t *c, int evaluated);

typedef struct coord_opts {
    const coord_config_t *cfg;
    const char *config_path; /* hashed into the audit log's start entry */
    const char *job_path;    /* for messages */
    const char *job_bytes;
    size_t job_len;
    FILE *progress;          /* NULL: stdout */
    int json;                /* progress as JSON lines */
    coord_round_fn on_round; /* NULL: none (dpfl-sim records rounds) */
    /* dpfl-sim: a ZeroMQ context shared with the nodes (inproc), borrowed;
     * NULL: the channel's own. */
    void *zmq_context;
    void *on_round_ctx;
} coord_opts_t;

/* A read-only view of one site, for reports (strings live as long as c). */
typedef struct coord_site_view {
    const char *id;
    int accepted;
    int live;
    int exhausted;
    unsigned rounds_joined;  /* updates accepted */
    unsigned rounds_charged; /* rounds the mirror charged */
    uint64_t records;        /* declared; 0 before the job answer */
    double epsilon;          /* the mirror's epsilon */
    double epsilon_max;
    double delta;
    int has_metrics; /* from the last evaluation */
    uint64_t n_heldout;
    double accuracy;
    double loss;
    int has_auroc;
    double auroc;
} coord_site_view_t;

/* The last closed round. */
typedef struct coord_round_view {
    unsigned round;
    unsigned rounds;
    unsigned asked;
    unsigned updates;
    double seconds;
    int has_metrics; /* held-out metrics over all sites, by examples */
    uint64_t n_heldout;
    double accuracy;
    double loss;
    int has_auroc;
    double auroc;
} coord_round_view_t;

void coord_site_view(const coord_t *c, size_t i, coord_site_view_t *out);
void coord_round_view(const coord_t *c, coord_round_view_t *out);
/* The global model (dim floats, owned by c) and its dimension. */
const float *coord_model(const coord_t *c, size_t *dim);
/* The job's noise multiplier after calibration. */
double coord_noise_multiplier(const coord_t *c);

/*
 * Parses the job, calibrates sigma when the job gives a target epsilon,
 * opens the state directory (resuming from its checkpoint when there is
 * one for this job), the audit log and the channel.
 */
fl_err_t coord_new(const coord_opts_t *o, coord_t **out,
                   fl_errbuf_t *eb) FL_WUR;

/* Sends Bye to the live sites, logs shutdown, closes everything. */
void coord_destroy(coord_t **c_p);

/* One turn of the loop: wait up to timeout_ms for traffic, handle it and
 * the timers. FL_OK, or an error that stops the coordinator. */
fl_err_t coord_step(coord_t *c, int timeout_ms, fl_errbuf_t *eb) FL_WUR;

coord_phase_t coord_phase(const coord_t *c);

/* Re-reads the CA, CRL, certificate and key for new handshakes (SIGHUP);
 * on error the files in force stay. Live sessions go on. */
fl_err_t coord_reload(coord_t *c, fl_errbuf_t *eb) FL_WUR;

/* Completed training rounds. */
unsigned coord_rounds_done(const coord_t *c);

/* The bound port (for tcp://...:* endpoints), or -1. */
int coord_port(const coord_t *c);

#endif
