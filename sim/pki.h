/*
 * sim/pki.h: a throwaway federation PKI for one simulation, made in
 * process with the OpenSSL API (what deploy/dpfl-pki does with the CLI).
 *
 * In a folder the caller gives (it must exist, mode 0700 advised):
 *   ca.pem             the CA certificate (ECDSA P-256, CA:TRUE, pathlen 0,
 *                      keyCertSign + cRLSign); its key never leaves memory
 *   crl.pem            an empty CRL signed by the CA, nextUpdate in 2 days
 *   coordinator.pem/.key  serverAuth, SAN URI urn:dpfl:site:coordinator and
 *                      DNS SIM_PKI_SERVER_NAME
 *   node-<i>.pem/.key  clientAuth, SAN URI urn:dpfl:site:<id of node i>
 * Leaf certificates carry the extensions dpfl-pki sets (basicConstraints
 * CA:FALSE critical, keyUsage digitalSignature critical, EKU, SAN, SKI,
 * AKI); keys are written mode 0600. Node ids are sim_pki_node_id(). One
 * key and signature each: 1,000 nodes take well under a second.
 *
 * Ownership: sim_pki_new() gives a sim_pki_t freed with sim_pki_destroy(),
 * which does not delete the files (the caller removes the folder).
 * Not thread-safe.
 */
#ifndef SIM_PKI_H
#define SIM_PKI_H

#include <stddef.h>

#include "common/err.h"
#include "proto/chan.h"

#define SIM_PKI_SERVER_NAME "coordinator.dpfl.sim"
#define SIM_PKI_COORD_ID "coordinator"

typedef struct sim_pki sim_pki_t;

/* Writes the CA, CRL, coordinator and n_nodes node certificates into dir.
 * FL_OK, FL_ERR_INVALID, FL_ERR_CRYPTO, FL_ERR_IO, FL_ERR_NOMEM. */
fl_err_t sim_pki_new(const char *dir, size_t n_nodes, sim_pki_t **out,
                     fl_errbuf_t *eb) FL_WUR;

void sim_pki_destroy(sim_pki_t **p);

/* The site id of node i ("hospital-0001" for i = 0, zero-padded to the
 * width of the count). The string lives as long as p. */
const char *sim_pki_node_id(const sim_pki_t *p, size_t i);

/* The SHA-256 fingerprint (64 hex) of node i's certificate; lives as p. */
const char *sim_pki_node_fingerprint(const sim_pki_t *p, size_t i);

/* The TLS files of the coordinator, or of node i. Strings live as p. */
void sim_pki_coord_files(const sim_pki_t *p, chan_tls_files_t *out);
void sim_pki_node_files(const sim_pki_t *p, size_t i, chan_tls_files_t *out);

#endif
