/*
 * node/daemon_internal.h: state shared by node/daemon.c (lifecycle, job)
 * and node/daemon_round.c (training and evaluation). Not for use outside.
 */
#ifndef NODE_DAEMON_INTERNAL_H
#define NODE_DAEMON_INTERNAL_H

#include <jansson.h>
#include <openssl/evp.h>

#include "node/daemon.h"
#include "node/data.h"
#include "node/model.h"
#include "node/trainer.h"
#include "privacy/accountant.h"
#include "privacy/audit.h"
#include "privacy/ledger.h"
#include "privacy/rng.h"
#include "proto/chan.h"
#include "proto/codec.h"
#include "proto/job.h"

struct node_daemon {
    const node_config_t *cfg;
    const node_dataset_t *dataset; /* sim: borrowed records, or NULL */
    void *zmq_context;             /* sim: borrowed shared context */
    node_faults_t faults;
    dp_rng_t *fault_rng; /* sim: draws the faults, apart from the noise */
    /* sim: a result held back past the deadline (straggler) */
    int held;
    uint64_t held_reply_to;
    uint64_t held_round;
    int64_t held_due_ms;
    chan_client_t *cli;
    dp_ledger_t *ledger;
    EVP_PKEY *audit_key;
    dp_audit_log_t *audit;
    dp_rng_t *rng;
    pb_limits_t lim;
    uint64_t next_msg_id;
    int finished;
    uint64_t rounds_trained;
    /* the accepted job */
    int have_job;
    pb_job_t job;
    node_model_t *model;
    node_trainer_t *trainer;
    node_dataset_t *train;
    node_dataset_t *heldout;
    size_t dim;
    float *params;
    /* evaluations answered in this job, and the last round evaluated */
    uint32_t evals;
    uint64_t last_eval_round;
    /* a record could not be written: the node must stop */
    int fatal;
    char fatal_msg[FL_ERRBUF_SIZE + 32];
    /* the last round answered, for a repeated request */
    uint64_t cached_round;
    float *cached_update;
    pb_receipt_t cached_receipt;
};

/* daemon.c */
fl_err_t node__reply(node_daemon_t *d, pb_msg_t *msg, uint64_t in_reply_to);
void node__audit(node_daemon_t *d, const char *type, json_t *body);
fl_err_t node__epsilon(const node_daemon_t *d, const dp_sgm_t *next,
                       double *epsilon, fl_errbuf_t *eb);
dp_sgm_t node__round_mechanism(const node_daemon_t *d);
pb_accountant_t node__wire_accountant(const node_daemon_t *d);

/* daemon_round.c */
void node__send_held(node_daemon_t *d);
void node__on_train_request(node_daemon_t *d, const pb_msg_t *msg);
void node__on_eval_request(node_daemon_t *d, const pb_msg_t *msg);
void node__decline(node_daemon_t *d, uint64_t in_reply_to, uint64_t round,
                   pb_decline_reason_t reason, const char *text);

#endif
