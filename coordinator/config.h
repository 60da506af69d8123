/*
 * coordinator/config.h: coordinator.ini, validated before anything runs.
 *
 *   [coordinator]  listen, state_dir, name, max_message_mb, log_level,
 *                  quorum_wait_s
 *   [tls]          ca, crl, cert, key
 *   [allow]        <site id> = <certificate SHA-256 fingerprint, or "any">
 *   [audit]        key (Ed25519 private key; the audit log is off without)
 *
 * docs/configuration.md documents every key with an example.
 * Ownership: coord_config_load() fills a caller-allocated struct whose
 * strings point into the fl_config_t it returns in *keep; destroy that
 * (fl_config_destroy) when done with the struct.
 */
#ifndef COORD_CONFIG_H
#define COORD_CONFIG_H

#include <stddef.h>

#include "common/config.h"
#include "common/err.h"
#include "proto/chan.h"

#define COORD_MAX_ALLOW 10000

typedef struct coord_config {
    const char *listen;
    const char *state_dir;
    const char *name; /* this coordinator's name in logs and records */
    size_t max_message_bytes;
    const char *log_level;
    int quorum_wait_s; /* how long to wait for min_nodes before a round */
    chan_tls_files_t tls;
    chan_allow_t *allow; /* owned: free() */
    size_t n_allow;
    const char *audit_key; /* NULL: no audit log */
    int json;              /* progress as JSON lines (command line) */
} coord_config_t;

fl_err_t coord_config_load(const char *path, coord_config_t *cfg,
                           fl_config_t **keep, fl_errbuf_t *eb) FL_WUR;
void coord_config_cleanup(coord_config_t *cfg);

#endif
