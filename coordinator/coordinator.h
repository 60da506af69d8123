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

#include <stdio.h>

#include "common/err.h"
#include "coordinator/config.h"

typedef struct coord coord_t;

/* Where the run stands. */
typedef enum coord_phase {
    COORD_PHASE_WAIT = 0,  /* waiting for enough sites */
    COORD_PHASE_TRAIN = 1, /* a training round is open */
    COORD_PHASE_EVAL = 2,  /* an evaluation round is open */
    COORD_PHASE_DONE = 3   /* the job ended */
} coord_phase_t;

typedef struct coord_opts {
    const coord_config_t *cfg;
    const char *config_path; /* hashed into the audit log's start entry */
    const char *job_path;    /* for messages */
    const char *job_bytes;
    size_t job_len;
    FILE *progress; /* NULL: stdout */
    int json;       /* progress as JSON lines */
} coord_opts_t;

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

/* Completed training rounds. */
unsigned coord_rounds_done(const coord_t *c);

/* The bound port (for tcp://...:* endpoints), or -1. */
int coord_port(const coord_t *c);

#endif
