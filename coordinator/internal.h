/*
 * coordinator/internal.h: state shared by the coordinator's own files
 * (coordinator.c: lifecycle and dispatch; round.c: rounds; report.c:
 * progress, summary, audit). Not for use outside coordinator/.
 */
#ifndef COORD_INTERNAL_H
#define COORD_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>

#include "coordinator/aggregate.h"
#include "coordinator/budget.h"
#include "coordinator/coordinator.h"
#include "coordinator/server_opt.h"
#include "privacy/audit.h"
#include "proto/chan.h"
#include "proto/codec.h"
#include "proto/job.h"

typedef enum peer_job {
    PEER_NEW = 0,
    PEER_OFFERED = 1,
    PEER_ACCEPTED = 2,
    PEER_DECLINED = 3
} peer_job_t;

/* Held-out metrics a site reported in the last evaluation. */
typedef struct peer_metrics {
    int valid;
    uint64_t n;
    double loss;
    double accuracy;
    int has_auroc;
    double auroc;
} peer_metrics_t;

/* One site of the allow-list. */
typedef struct coord_peer {
    char id[CHAN_SITE_ID_MAX + 1];
    char fingerprint[CHAN_FPR_HEX_LEN + 1];
    int live;
    peer_job_t job;
    long budget_idx; /* index into budget.sites, or -1 */
    char decline_reason[PB_MAX_TEXT_LEN + 1];
    uint64_t offer_id; /* the job offer kept for this site, or 0 */
    /* the open round */
    int asked;
    int answered;
    int declined;
    uint64_t req_id;
    /* the open evaluation */
    int eval_asked;
    int eval_answered;
    uint64_t eval_req_id;
    peer_metrics_t metrics;
    uint32_t updates_accepted;
} coord_peer_t;

struct coord {
    const coord_config_t *cfg;
    pb_job_t job;
    char *job_bytes;
    size_t job_len;
    pb_limits_t lim;
    size_t dim;
    float *model;
    float *delta;
    coord_agg_t *agg;
    coord_server_opt_t *opt;
    coord_budget_t budget;
    chan_server_t *srv;
    EVP_PKEY *audit_key;
    dp_audit_log_t *audit;
    char ckpt_path[PATH_MAX];
    char model_path[PATH_MAX];
    coord_peer_t *peers;
    size_t n_peers;
    coord_phase_t phase;
    uint32_t rounds_done;
    uint64_t round_id;
    int64_t deadline_ms;
    int64_t phase_start_ms;
    int64_t last_wait_log_ms;
    uint64_t next_msg_id;
    int final_eval;
    uint32_t round_asked;
    uint32_t round_answered;
    uint32_t round_updates;
    double round_seconds;
    FILE *progress;
    int json;
    coord_round_fn on_round;
    void *zmq_context;
    void *on_round_ctx;
    char end_reason[160];
};

/* coordinator.c */
uint64_t coord__next_id(coord_t *c);
coord_peer_t *coord__peer(coord_t *c, const char *site_id);
coord_site_t *coord__site(coord_t *c, const coord_peer_t *p);
fl_err_t coord__send(coord_t *c, coord_peer_t *p, pb_msg_t *msg, unsigned flags,
                     uint64_t *sent_id);
void coord__sha256_hex(const void *data, size_t len, char out[65]);
dp_sgm_t coord__round_mechanism(const coord_t *c, const coord_site_t *s);
void coord__drop_kept(coord_t *c, const coord_peer_t *p, uint64_t msg_id);

/* round.c */
void coord__tick(coord_t *c);
void coord__on_train_result(coord_t *c, coord_peer_t *p, pb_msg_t *msg);
void coord__on_decline(coord_t *c, coord_peer_t *p, const pb_msg_t *msg);
void coord__on_eval_result(coord_t *c, coord_peer_t *p, const pb_msg_t *msg);
void coord__resend_round(coord_t *c, coord_peer_t *p);
void coord__answered_badly(coord_t *c, coord_peer_t *p);

/* report.c */
void coord__audit(coord_t *c, const char *type, const char *actor,
                  json_t *body);
void coord__print_round(coord_t *c, int with_metrics);
void coord__print_summary(coord_t *c);

#endif
