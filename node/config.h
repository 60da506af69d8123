/*
 * node/config.h: node.ini, validated before anything runs.
 *
 *   [node]           name, coordinator, coordinator_name, coordinator_id,
 *                    data, state_dir, log_level, max_message_mb
 *   [tls]            ca, crl, cert, key
 *   [budget]         epsilon_max, delta, accountant       (node/policy.h)
 *   [policy]         min_noise_multiplier, max_clip_norm, max_delta,
 *                    max_rounds, allow_non_dp
 *   [approved_jobs]  <label> = <job hash>
 *   [limits]         max_rows, max_columns, max_line_bytes
 *   [audit]          key (Ed25519 private key; the audit log is off without)
 *
 * docs/configuration.md documents every key. Strings point into the
 * fl_config_t returned in *keep (destroy it after the struct).
 */
#ifndef NODE_CONFIG_H
#define NODE_CONFIG_H

#include <stddef.h>

#include "common/config.h"
#include "common/err.h"
#include "node/data.h"
#include "node/policy.h"
#include "proto/chan.h"

typedef struct node_config {
    const char *name; /* this hospital's name in logs and its audit log */
    const char *coordinator;      /* endpoint */
    const char *coordinator_name; /* the name its certificate must hold */
    const char *coordinator_id;   /* its name in its audit log (witness) */
    const char *data;             /* CSV file */
    const char *state_dir;        /* ledger, audit log */
    const char *log_level;
    size_t max_message_bytes;
    chan_tls_files_t tls;
    node_policy_t policy;
    node_data_limits_t limits;
    const char *audit_key;
} node_config_t;

fl_err_t node_config_load(const char *path, node_config_t *cfg,
                          fl_config_t **keep, fl_errbuf_t *eb) FL_WUR;

#endif
