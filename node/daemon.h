/*
 * node/daemon.h: a hospital's side of the federation.
 *
 * A node_daemon_t connects to the coordinator over the TLS channel, judges
 * the offered job against local policy and budget, and answers training
 * and evaluation requests. Before each round it computes with its own
 * accountant and dataset size what its epsilon would be after the round;
 * over budget it declines. Otherwise it appends a reservation to its
 * ledger (fsynced) and a privacy_spent entry to its audit log before it
 * trains, sends the clipped, noised update with a privacy receipt, then
 * commits the reservation. A request for a round it already answered gets
 * the same update again (never a second spend); a round interrupted by a
 * crash stays spent and is declined.
 *
 * dpfl-node and dpfl-sim drive it with node_daemon_step(). It is daemon
 * logic, so it logs (common/log.h). Ownership: the caller owns the object
 * (node_daemon_destroy). Not thread-safe.
 */
#ifndef NODE_DAEMON_H
#define NODE_DAEMON_H

#include <stdint.h>

#include "common/err.h"
#include "node/config.h"
#include "node/data.h"

typedef struct node_daemon node_daemon_t;

/* Simulations and tests only: misbehaviour to study aggregators with. */
typedef enum node_byzantine {
    NODE_HONEST = 0,
    NODE_BYZ_SCALED = 1, /* sends -10 times its real update */
    NODE_BYZ_RANDOM = 2  /* sends N(0, 1) noise in place of an update */
} node_byzantine_t;

typedef struct node_faults {
    double drop_rate;     /* a training request goes unanswered */
    double straggle_rate; /* the answer leaves after the round deadline */
    node_byzantine_t byzantine;
} node_faults_t;

typedef struct node_daemon_opts {
    const node_config_t *cfg;
    /* Tests and simulations only: a seeded generator (not private). */
    int seeded;
    uint64_t seed;
    /* Simulations: the hospital's records already in memory (borrowed,
     * features scaled); cfg->data is then not read. NULL in production. */
    const node_dataset_t *dataset;
    /* Simulations: injected faults (NULL: none). Needs seeded. */
    const node_faults_t *faults;
    /* dpfl-sim: a ZeroMQ context shared with the coordinator (inproc),
     * borrowed; NULL: the channel's own. */
    void *zmq_context;
} node_daemon_opts_t;

/* Replays the ledger (a bad ledger stops here, naming file:line), opens
 * the audit log and the channel. */
fl_err_t node_daemon_new(const node_daemon_opts_t *o, node_daemon_t **out,
                         fl_errbuf_t *eb) FL_WUR;
void node_daemon_destroy(node_daemon_t **d_p);

/* One turn of the loop: wait up to timeout_ms, handle traffic. */
fl_err_t node_daemon_step(node_daemon_t *d, int timeout_ms,
                          fl_errbuf_t *eb) FL_WUR;

/* Whether the coordinator said the job is over. */
int node_daemon_finished(const node_daemon_t *d);

/* Rounds this process trained and sent. */
uint64_t node_daemon_rounds_trained(const node_daemon_t *d);

#endif
