/*
 * tests/integration/audit_fixture.c: writes the audit logs of a small
 * synthetic federation (a coordinator, two nodes, three rounds, epsilons
 * from the real accountant) for test_dpfl_audit.sh, signing with the PEM
 * keys the script generated with the openssl CLI.
 *
 * usage: dpfl_audit_fixture DIR   (DIR holds coord.key, node-a.key,
 * node-b.key; writes coord.audit.jsonl, node-a.audit.jsonl,
 * node-b.audit.jsonl)
 */
#include <stdio.h>
#include <string.h>

#include "privacy/audit.h"

#define N 2
#define ROUNDS 3

static const char JOB[] =
    "5e1f0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
static const char COORD[] = "urn:dpfl:site:coordinator";
static const char *const SITES[N] = {"urn:dpfl:site:hospital-a",
                                     "urn:dpfl:site:hospital-b"};
static const double Q[N] = {0.02, 0.05};

static int
die(const char *what, const fl_errbuf_t *eb)
{
    fprintf(stderr, "audit_fixture: %s: %s\n", what, eb->msg);
    return 1;
}

int
main(int argc, char **argv)
{
    dp_audit_log_t *coord = NULL, *node[N] = {NULL, NULL};
    EVP_PKEY *ck = NULL, *nk[N] = {NULL, NULL};
    dp_sgm_t hist[N][ROUNDS];
    fl_errbuf_t eb = {{0}};
    char path[4096];
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: dpfl_audit_fixture DIR\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/coord.key", argv[1]);
    if (dp_audit_key_load_private(path, &ck, &eb) != FL_OK)
        return die(path, &eb);
    snprintf(path, sizeof path, "%s/coord.audit.jsonl", argv[1]);
    if (dp_audit_open(path, ck, COORD, &coord, &eb) != FL_OK) {
        rc = die(path, &eb);
        goto out;
    }
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "%s/node-%c.key", argv[1], 'a' + i);
        if (dp_audit_key_load_private(path, &nk[i], &eb) != FL_OK) {
            rc = die(path, &eb);
            goto out;
        }
        snprintf(path, sizeof path, "%s/node-%c.audit.jsonl", argv[1], 'a' + i);
        if (dp_audit_open(path, nk[i], SITES[i], &node[i], &eb) != FL_OK) {
            rc = die(path, &eb);
            goto out;
        }
    }
    for (int r = 0; r < ROUNDS; r++) {
        unsigned char head[32];
        uint64_t seq;
        json_t *b = json_pack("{s:i, s:s, s:[s,s]}", "round", r, "job_hash",
                              JOB, "participants", SITES[0], SITES[1]);

        if (dp_audit_append(coord, DP_AUDIT_EV_ROUND_STARTED, NULL, b, &eb) !=
            FL_OK) {
            json_decref(b);
            rc = die("round_started", &eb);
            goto out;
        }
        json_decref(b);
        dp_audit_head(coord, &seq, head);
        for (int i = 0; i < N; i++) {
            dp_audit_accounting_t acct = {"rdp", 0.0, "default", 1e-5};
            dp_audit_spend_t s;

            memset(&s, 0, sizeof s);
            hist[i][r].sampling_rate = Q[i];
            hist[i][r].noise_multiplier = 1.0;
            hist[i][r].steps = 40;
            s.site = SITES[i];
            s.job_hash = JOB;
            s.round = (uint64_t) r;
            s.sgm = hist[i][r];
            s.clip = 1.0;
            s.delta = 1e-5;
            s.accountant = "rdp";
            s.dataset_size = -1;
            if (dp_audit_epsilon_accountant(NULL, &acct, hist[i],
                                            (size_t) r + 1, &s.epsilon,
                                            &eb) != FL_OK ||
                dp_audit_log_coordinator_head(node[i], COORD, seq, head,
                                              (uint64_t) r, &eb) != FL_OK ||
                dp_audit_log_privacy_spent(node[i], &s, &eb) != FL_OK ||
                dp_audit_log_privacy_spent(coord, &s, &eb) != FL_OK) {
                rc = die("round", &eb);
                goto out;
            }
        }
    }
    rc = 0;
out:
    dp_audit_close(&coord);
    EVP_PKEY_free(ck);
    for (int i = 0; i < N; i++) {
        dp_audit_close(&node[i]);
        EVP_PKEY_free(nk[i]);
    }
    return rc;
}
