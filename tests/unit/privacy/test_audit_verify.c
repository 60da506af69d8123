/*
 * tests/unit/privacy/test_audit_verify.c: the offline verifier against a
 * synthetic multi-round federation (a coordinator and three nodes, epsilons
 * from the real accountant) and every kind of tampering it must name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/durable.h"
#include "privacy/accountant.h"
#include "privacy/audit.h"

#define N_NODES 3
#define ROUNDS 4
#define MAX_LINES 256

static const char JOB[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char COORD[] = "urn:dpfl:site:coord";
static const char *const SITES[N_NODES] = {"urn:dpfl:site:a", "urn:dpfl:site:b",
                                           "urn:dpfl:site:c"};
static const double Q[N_NODES] = {0.01, 0.02, 0.05};

typedef struct fed {
    char dir[64];
    char coord_path[128];
    char node_path[N_NODES][128];
    EVP_PKEY *coord_key;
    EVP_PKEY *node_key[N_NODES];
    dp_audit_witness_t wit[N_NODES];
    /* The coordinator log as lines (without newlines). */
    char *lines[MAX_LINES];
    size_t n_lines;
    size_t forge_line; /* site c's round-1 privacy_spent (1-based) */
} fed_t;

/* Does site i train in round r? Site c stops after round 1. */
static int
participates(size_t i, int r)
{
    return i != 2 || r <= 1;
}

static double
epsilon_for(const dp_sgm_t *hist, size_t n, double delta)
{
    dp_audit_accounting_t acct = {"rdp", 0.0, "default", delta};
    fl_errbuf_t eb = {{0}};
    double eps = -1.0;

    assert_int_equal(
        dp_audit_epsilon_accountant(NULL, &acct, hist, n, &eps, &eb), FL_OK);
    return eps;
}

static void
append_simple(dp_audit_log_t *l, const char *type, const char *actor,
              json_t *body)
{
    fl_errbuf_t eb = {{0}};

    assert_non_null(body);
    if (dp_audit_append(l, type, actor, body, &eb) != FL_OK)
        fail_msg("append %s: %s", type, eb.msg);
    json_decref(body);
}

static void
run_round(fed_t *f, dp_audit_log_t *coord, dp_audit_log_t **nodes, int r,
          dp_sgm_t hist[N_NODES][ROUNDS], size_t *hn)
{
    fl_errbuf_t eb = {{0}};
    unsigned char head[32];
    json_t *parts = json_array();
    uint64_t seq;

    for (size_t i = 0; i < N_NODES; i++)
        if (participates(i, r))
            json_array_append_new(parts, json_string(SITES[i]));
    append_simple(coord, DP_AUDIT_EV_ROUND_STARTED, NULL,
                  json_pack("{s:i, s:s, s:o}", "round", r, "job_hash", JOB,
                            "participants", parts));
    /* Each train request carries the head; the node logs it. */
    dp_audit_head(coord, &seq, head);
    for (size_t i = 0; i < N_NODES; i++) {
        dp_audit_spend_t s;

        if (!participates(i, r))
            continue;
        assert_int_equal(dp_audit_log_coordinator_head(nodes[i], COORD, seq,
                                                       head, (uint64_t) r, &eb),
                         FL_OK);
        hist[i][hn[i]].sampling_rate = Q[i];
        hist[i][hn[i]].noise_multiplier = 1.1;
        hist[i][hn[i]].steps = 50;
        hn[i]++;
        memset(&s, 0, sizeof s);
        s.site = SITES[i];
        s.job_hash = JOB;
        s.round = (uint64_t) r;
        s.sgm = hist[i][hn[i] - 1];
        s.clip = 1.0;
        s.delta = 1e-5;
        s.accountant = "rdp";
        s.epsilon = epsilon_for(hist[i], hn[i], 1e-5);
        s.dataset_size = -1;
        /* The node's own record, then the coordinator's mirror. */
        assert_int_equal(dp_audit_log_privacy_spent(nodes[i], &s, &eb), FL_OK);
        append_simple(coord, DP_AUDIT_EV_UPDATE_RECEIVED, SITES[i],
                      json_pack("{s:i, s:s, s:s}", "round", r, "site", SITES[i],
                                "update_sha256", JOB));
        assert_int_equal(dp_audit_log_privacy_spent(coord, &s, &eb), FL_OK);
        dp_audit_head(coord, &seq, head);
        if (i == 2 && r == 1)
            f->forge_line = (size_t) seq;
    }
    append_simple(coord, DP_AUDIT_EV_AGGREGATE_APPLIED, NULL,
                  json_pack("{s:i, s:s, s:s, s:i}", "round", r, "model_sha256",
                            JOB, "aggregator", "mean", "updates", 2));
}

static void
load_lines(fed_t *f)
{
    fl_errbuf_t eb = {{0}};
    char *buf = NULL, *p, *nl;
    size_t len;

    assert_int_equal(fl_file_read_all(f->coord_path, 1 << 24, &buf, &len, &eb),
                     FL_OK);
    f->n_lines = 0;
    for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        assert_true(f->n_lines < MAX_LINES);
        f->lines[f->n_lines++] = strndup(p, (size_t) (nl - p));
    }
    free(buf);
}

static int
setup(void **state)
{
    fed_t *f = calloc(1, sizeof *f);
    dp_audit_log_t *coord = NULL, *nodes[N_NODES] = {0};
    dp_sgm_t hist[N_NODES][ROUNDS];
    size_t hn[N_NODES] = {0};
    fl_errbuf_t eb = {{0}};

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dpfl-auditv-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->coord_path, sizeof f->coord_path, "%s/coord.audit.jsonl",
             f->dir);
    f->coord_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_int_equal(
        dp_audit_open(f->coord_path, f->coord_key, COORD, &coord, &eb), FL_OK);
    for (size_t i = 0; i < N_NODES; i++) {
        snprintf(f->node_path[i], sizeof f->node_path[i],
                 "%s/node-%c.audit.jsonl", f->dir, (int) ('a' + i));
        f->node_key[i] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        assert_int_equal(dp_audit_open(f->node_path[i], f->node_key[i],
                                       SITES[i], &nodes[i], &eb),
                         FL_OK);
        f->wit[i].path = f->node_path[i];
        f->wit[i].key = f->node_key[i];
    }
    append_simple(coord, DP_AUDIT_EV_START, NULL,
                  json_pack("{s:s, s:s, s:s, s:b}", "program",
                            "dpfl-coordinator", "version", "0.1.0", "rng",
                            "secure", "dp", 1));
    append_simple(coord, DP_AUDIT_EV_JOB_LOADED, NULL,
                  json_pack("{s:s, s:i, s:f, s:f, s:f, s:s, s:i}", "job_hash",
                            JOB, "rounds", ROUNDS, "clip", 1.0,
                            "noise_multiplier", 1.1, "delta", 1e-5,
                            "accountant", "rdp", "min_nodes", 2));
    for (int r = 0; r < ROUNDS; r++)
        run_round(f, coord, nodes, r, hist, hn);
    append_simple(coord, DP_AUDIT_EV_SHUTDOWN, NULL,
                  json_pack("{s:s}", "reason", "job finished"));
    dp_audit_close(&coord);
    for (size_t i = 0; i < N_NODES; i++)
        dp_audit_close(&nodes[i]);
    load_lines(f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fed_t *f = *state;

    (void) unlink(f->coord_path);
    for (size_t i = 0; i < N_NODES; i++) {
        (void) unlink(f->node_path[i]);
        EVP_PKEY_free(f->node_key[i]);
    }
    for (size_t i = 0; i < f->n_lines; i++)
        free(f->lines[i]);
    (void) rmdir(f->dir);
    EVP_PKEY_free(f->coord_key);
    free(f);
    return 0;
}

/* Writes lines (a permutation/edit of f->lines) as the coordinator log. */
static void
write_lines(fed_t *f, char **lines, size_t n)
{
    FILE *fp = fopen(f->coord_path, "wb");

    assert_non_null(fp);
    for (size_t i = 0; i < n; i++)
        assert_true(fprintf(fp, "%s\n", lines[i]) > 0);
    assert_int_equal(fclose(fp), 0);
}

static fl_err_t
verify(fed_t *f, size_t n_witness, dp_audit_verify_report_t *rep,
       fl_errbuf_t *eb)
{
    dp_audit_verify_opts_t o;

    dp_audit_verify_opts_init(&o);
    o.epsilon = dp_audit_epsilon_accountant;
    memset(eb, 0, sizeof *eb);
    return dp_audit_verify(f->coord_path, f->coord_key, f->wit, n_witness, &o,
                           rep, eb);
}

static void
expect_bad(fed_t *f, size_t n_witness, const char *where, const char *why)
{
    fl_errbuf_t eb;
    fl_err_t err = verify(f, n_witness, NULL, &eb);

    if (err == FL_OK)
        fail_msg("tampering not detected (want `%s`)", where);
    if (strstr(eb.msg, where) == NULL || strstr(eb.msg, why) == NULL)
        fail_msg("message `%s` lacks `%s` / `%s`", eb.msg, where, why);
}

static void
restore(fed_t *f)
{
    write_lines(f, f->lines, f->n_lines);
}

static void
test_clean_run_verifies(void **state)
{
    fed_t *f = *state;
    dp_audit_verify_report_t rep;
    fl_errbuf_t eb;
    /* Spends: a, b 4 rounds, c 2 rounds: 10 in the coordinator log and 10
     * in the node logs. Heads: one per participant per round = 10. */
    if (verify(f, N_NODES, &rep, &eb) != FL_OK)
        fail_msg("%s", eb.msg);
    assert_int_equal(rep.entries, f->n_lines);
    assert_int_equal(rep.spends, 20);
    assert_int_equal(rep.sites, 3);
    assert_int_equal(rep.heads, 10);
    assert_int_equal(rep.heads_other, 0);
    assert_true(rep.epsilon_checked);
    assert_string_equal(rep.owner, COORD);
    /* 1 + start + job + 4 * (round_started + aggregate) + 10 * 2 + end. */
    assert_int_equal(f->n_lines, 1 + 2 + 8 + 20 + 1);
}

static void
test_every_entry_changed_byte(void **state)
{
    fed_t *f = *state;
    char where[200];

    for (size_t i = 0; i < f->n_lines; i++) {
        char *saved = f->lines[i];
        char *copy = strdup(saved);
        size_t len = strlen(copy);
        size_t pos = (i * 7919 + 13) % len;

        copy[pos] = (char) (copy[pos] ^ 0x01);
        f->lines[i] = copy;
        write_lines(f, f->lines, f->n_lines);
        snprintf(where, sizeof where, "coord.audit.jsonl:%zu", i + 1);
        expect_bad(f, N_NODES, where, "");
        f->lines[i] = saved;
        free(copy);
    }
    restore(f);
}

static void
test_deleted_inserted_swapped(void **state)
{
    fed_t *f = *state;
    char *edit[MAX_LINES + 1];
    size_t k = 9, n;

    /* Deleted entry k+1: line k+1 now holds seq k+2. */
    n = 0;
    for (size_t i = 0; i < f->n_lines; i++)
        if (i != k)
            edit[n++] = f->lines[i];
    write_lines(f, edit, n);
    expect_bad(f, N_NODES, "coord.audit.jsonl:10 (seq 11)",
               "where 10 was expected");
    /* Inserted entry (a replayed copy of entry 10 after itself). */
    n = 0;
    for (size_t i = 0; i < f->n_lines; i++) {
        edit[n++] = f->lines[i];
        if (i == k)
            edit[n++] = f->lines[i];
    }
    write_lines(f, edit, n);
    expect_bad(f, N_NODES, "coord.audit.jsonl:11 (seq 10)",
               "where 11 was expected");
    /* Two entries swapped. */
    memcpy(edit, f->lines, f->n_lines * sizeof edit[0]);
    edit[k] = f->lines[k + 1];
    edit[k + 1] = f->lines[k];
    write_lines(f, edit, f->n_lines);
    expect_bad(f, N_NODES, "coord.audit.jsonl:10 (seq 11)",
               "where 10 was expected");
    restore(f);
}

static void
test_truncated_tail_caught_by_witnesses(void **state)
{
    fed_t *f = *state;
    fl_errbuf_t eb;
    size_t keep = f->n_lines - 8; /* cuts round 3 off */

    write_lines(f, f->lines, keep);
    /* Alone, a cut log is a valid shorter log ... */
    if (verify(f, 0, NULL, &eb) != FL_OK)
        fail_msg("%s", eb.msg);
    /* ... the nodes' logs witnessed heads beyond its end. */
    expect_bad(f, N_NODES, "node-a.audit.jsonl:", "its tail was cut off");
    restore(f);
}

static char *
resign(const char *line, const char *prev_line, EVP_PKEY *key,
       const char *field, double value)
{
    json_error_t jerr;
    json_t *o = json_loads(line, 0, &jerr);
    unsigned char sig[64], h[32];
    char hex[129];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = sizeof sig;
    char *msg, *out;
    unsigned int hn = 0;

    assert_non_null(o);
    if (field != NULL)
        json_object_set_new(json_object_get(o, "body"), field,
                            json_real(value));
    if (prev_line != NULL) {
        assert_int_equal(EVP_Digest(prev_line, strlen(prev_line), h, &hn,
                                    EVP_sha256(), NULL),
                         1);
        dp_audit_hex(h, 32, hex);
        json_object_set_new(o, "prev", json_string(hex));
    }
    json_object_del(o, "sig");
    msg = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen,
                                    (const unsigned char *) msg, strlen(msg)),
                     1);
    EVP_MD_CTX_free(ctx);
    dp_audit_hex(sig, 64, hex);
    json_object_set_new(o, "sig", json_string(hex));
    out = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    free(msg);
    json_decref(o);
    return out;
}

static void
test_signature_by_another_key(void **state)
{
    fed_t *f = *state;
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *saved = f->lines[5];

    f->lines[5] = resign(saved, NULL, other, NULL, 0.0);
    write_lines(f, f->lines, f->n_lines);
    expect_bad(f, N_NODES, "coord.audit.jsonl:6 (seq 6)",
               "signature does not verify");
    free(f->lines[5]);
    f->lines[5] = saved;
    EVP_PKEY_free(other);
    restore(f);
}

/* The key holder edits entry k and re-signs the chain from there on. */
static void
forge_from(fed_t *f, char **edit, size_t k, const char *field, double v,
           const char *field2, double v2)
{
    char *tmp;

    memcpy(edit, f->lines, f->n_lines * sizeof edit[0]);
    edit[k] = resign(f->lines[k], f->lines[k - 1], f->coord_key, field, v);
    if (field2 != NULL) {
        tmp = resign(edit[k], f->lines[k - 1], f->coord_key, field2, v2);
        free(edit[k]);
        edit[k] = tmp;
    }
    for (size_t i = k + 1; i < f->n_lines; i++)
        edit[i] = resign(f->lines[i], edit[i - 1], f->coord_key, NULL, 0.0);
    write_lines(f, edit, f->n_lines);
}

static void
free_forged(fed_t *f, char **edit, size_t k)
{
    for (size_t i = k; i < f->n_lines; i++)
        free(edit[i]);
}

static void
test_resigned_smaller_epsilon(void **state)
{
    fed_t *f = *state;
    char *edit[MAX_LINES];
    char where[64];
    size_t k = f->forge_line - 1; /* 0-based */
    dp_audit_spend_t s;
    json_t *o = json_loads(f->lines[k], 0, NULL);
    const char *why;
    fl_errbuf_t eb;

    assert_non_null(o);
    assert_true(dp_audit_parse_spend(json_object_get(o, "body"), &s, &why));
    assert_string_equal(s.site, SITES[2]);
    /* The operator holds the key, so chain and signatures are all valid:
     * only the recomputation catches the smaller epsilon. */
    forge_from(f, edit, k, "epsilon", s.epsilon * 0.8, NULL, 0.0);
    snprintf(where, sizeof where, "coord.audit.jsonl:%zu (seq %zu)", k + 1,
             k + 1);
    expect_bad(f, 0, where, "logged epsilon");
    expect_bad(f, N_NODES, where, "accountant gives");
    free_forged(f, edit, k);

    /* A consistent lie (more noise claimed, its epsilon recomputed) passes
     * the recomputation but contradicts the heads the nodes witnessed. */
    {
        dp_sgm_t hist[2] = {{Q[2], 1.1, 50}, {Q[2], 2.0, 50}};
        double eps = epsilon_for(hist, 2, 1e-5);

        assert_true(eps < s.epsilon);
        forge_from(f, edit, k, "sigma", 2.0, "epsilon", eps);
        if (verify(f, 0, NULL, &eb) != FL_OK)
            fail_msg("consistent forgery should pass alone: %s", eb.msg);
        expect_bad(f, N_NODES, "coord.audit.jsonl:", "was rewritten");
        free_forged(f, edit, k);
    }
    json_decref(o);
    restore(f);
}

static void
test_witness_damage_named(void **state)
{
    fed_t *f = *state;
    dp_audit_witness_t swapped[N_NODES];
    fl_errbuf_t eb = {{0}};
    char *buf = NULL;
    size_t len;

    /* A witness checked with the wrong node's key. */
    memcpy(swapped, f->wit, sizeof swapped);
    swapped[1].key = f->node_key[0];
    {
        dp_audit_verify_opts_t o;

        dp_audit_verify_opts_init(&o);
        o.epsilon = dp_audit_epsilon_accountant;
        assert_int_equal(dp_audit_verify(f->coord_path, f->coord_key, swapped,
                                         N_NODES, &o, NULL, &eb),
                         FL_ERR_AUTH);
        assert_non_null(strstr(eb.msg, "node-b.audit.jsonl:1 (seq 1)"));
    }
    /* A malformed witness line never crashes: named, refused. */
    assert_int_equal(
        fl_file_read_all(f->node_path[0], 1 << 20, &buf, &len, &eb), FL_OK);
    {
        FILE *fp = fopen(f->node_path[0], "ab");

        assert_non_null(fp);
        assert_true(fputs("{\"seq\": [1, {\"x\": null}]}\n", fp) >= 0);
        assert_int_equal(fclose(fp), 0);
    }
    expect_bad(f, N_NODES, "node-a.audit.jsonl:", "not exactly the fields");
    {
        FILE *fp = fopen(f->node_path[0], "wb");

        assert_non_null(fp);
        assert_int_equal(fwrite(buf, 1, len, fp), len);
        assert_int_equal(fclose(fp), 0);
    }
    free(buf);
}

static void
test_pld_spend_recomputed(void **state)
{
    fed_t *f = *state;
    dp_audit_log_t *l = NULL;
    dp_audit_verify_opts_t o;
    fl_errbuf_t eb = {{0}};
    dp_audit_spend_t s;
    dp_sgm_t h = {0.05, 1.0, 20};
    dp_audit_accounting_t acct = {"pld", 1e-3, NULL, 1e-5};
    char path[160];

    snprintf(path, sizeof path, "%s/pld.audit.jsonl", f->dir);
    memset(&s, 0, sizeof s);
    s.site = SITES[0];
    s.job_hash = JOB;
    s.sgm = h;
    s.clip = 1.0;
    s.delta = 1e-5;
    s.accountant = "pld";
    s.pld_interval = 1e-3;
    s.dataset_size = 200;
    assert_int_equal(
        dp_audit_epsilon_accountant(NULL, &acct, &h, 1, &s.epsilon, &eb),
        FL_OK);
    assert_true(s.epsilon > 0.0);
    assert_int_equal(dp_audit_open(path, f->coord_key, COORD, &l, &eb), FL_OK);
    assert_int_equal(dp_audit_log_privacy_spent(l, &s, &eb), FL_OK);
    {
        dp_sgm_t two[2] = {h, h};

        assert_int_equal(
            dp_audit_epsilon_accountant(NULL, &acct, two, 2, &s.epsilon, &eb),
            FL_OK);
    }
    s.epsilon *= 1.001; /* off by 0.1%: well outside the tolerance */
    assert_int_equal(dp_audit_log_privacy_spent(l, &s, &eb), FL_OK);
    dp_audit_close(&l);
    dp_audit_verify_opts_init(&o);
    o.epsilon = dp_audit_epsilon_accountant;
    assert_int_equal(
        dp_audit_verify(path, f->coord_key, NULL, 0, &o, NULL, &eb),
        FL_ERR_AUTH);
    assert_non_null(strstr(eb.msg, "pld.audit.jsonl:3 (seq 3)"));
    assert_non_null(strstr(eb.msg, "pld accountant"));
    (void) unlink(path);
}

/* ---- long logs: the verifier's running (incremental) RDP state -------- */

#define LONG_SPENDS 2000

/* Spend i of the long log: site a three times out of four (q 0.01, then
 * 0.02 from the middle on, every 100th on the opacus grid), sites b and c
 * the rest (b: two of them pld at a coarse interval, between rdp spends;
 * c: alternating between the two order grids). */
static void
long_spend(size_t i, dp_audit_spend_t *s)
{
    memset(s, 0, sizeof *s);
    s->job_hash = JOB;
    s->round = i;
    s->clip = 1.0;
    s->delta = 1e-5;
    s->accountant = "rdp";
    s->dataset_size = -1;
    if (i % 4 != 3) {
        s->site = SITES[0];
        s->sgm.sampling_rate = i < LONG_SPENDS / 2 ? 0.01 : 0.02;
        s->sgm.noise_multiplier = 1.1;
        s->sgm.steps = 50;
        if (i % 100 == 50)
            s->rdp_orders = "opacus";
    } else if (i % 8 == 7) {
        /* Little spent, so the best orders are above 11, where the two
         * grids differ; every other spend on the other grid. */
        s->site = SITES[2];
        s->sgm.sampling_rate = 0.001;
        s->sgm.noise_multiplier = 3.0;
        s->sgm.steps = 1;
        if (i % 16 == 15)
            s->rdp_orders = "opacus";
    } else {
        s->site = SITES[1];
        s->sgm.sampling_rate = 0.05;
        s->sgm.noise_multiplier = 1.3;
        s->sgm.steps = 10;
        if (i == 403 || i == 1203) {
            s->accountant = "pld";
            s->pld_interval = 1e-2;
        }
    }
}

/* Writes the long log at path with epsilons eps[]; spend k (0-based, or
 * none when k >= LONG_SPENDS) logs eps[k] * factor instead. */
static void
write_long(fed_t *f, const char *path, const double *eps, size_t k,
           double factor)
{
    dp_audit_log_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    dp_audit_spend_t s;

    (void) unlink(path);
    assert_int_equal(dp_audit_open(path, f->coord_key, COORD, &l, &eb), FL_OK);
    for (size_t i = 0; i < LONG_SPENDS; i++) {
        long_spend(i, &s);
        s.epsilon = i == k ? eps[i] * factor : eps[i];
        if (dp_audit_log_privacy_spent(l, &s, &eb) != FL_OK)
            fail_msg("spend %zu: %s", i, eb.msg);
    }
    dp_audit_close(&l);
}

static void
test_long_log_incremental(void **state)
{
    fed_t *f = *state;
    dp_sgm_t *hist[3];
    size_t hn[3] = {0, 0, 0}, k = LONG_SPENDS - 10; /* site a (k % 4 != 3) */
    double *eps = calloc(LONG_SPENDS, sizeof *eps);
    dp_audit_verify_opts_t o;
    dp_audit_verify_report_t rep;
    fl_errbuf_t eb = {{0}};
    char path[160], want[200];

    assert_non_null(eps);
    for (int i = 0; i < 3; i++)
        assert_non_null(hist[i] = calloc(LONG_SPENDS, sizeof *hist[i]));
    /* The oracle: each epsilon from the site's whole history, as a daemon
     * computes what it logs. */
    for (size_t i = 0; i < LONG_SPENDS; i++) {
        dp_audit_spend_t s;
        int si;
        dp_audit_accounting_t acct;

        long_spend(i, &s);
        si = s.site == SITES[0] ? 0 : s.site == SITES[1] ? 1 : 2;
        hist[si][hn[si]++] = s.sgm;
        acct.accountant = s.accountant;
        acct.pld_interval = s.pld_interval;
        acct.rdp_orders = s.rdp_orders != NULL ? s.rdp_orders : "default";
        acct.delta = s.delta;
        if (dp_audit_epsilon_accountant(NULL, &acct, hist[si], hn[si], &eps[i],
                                        &eb) != FL_OK)
            fail_msg("spend %zu: %s", i, eb.msg);
    }
    snprintf(path, sizeof path, "%s/long.audit.jsonl", f->dir);
    dp_audit_verify_opts_init(&o);
    o.epsilon = dp_audit_epsilon_accountant;
    /* Zero tolerance: every spend's epsilon must be the whole-history one
     * to the last bit, across q changes, grid switches and pld spends. */
    o.rel_tol = 0.0;
    o.abs_tol = 0.0;
    write_long(f, path, eps, LONG_SPENDS, 1.0);
    if (dp_audit_verify(path, f->coord_key, NULL, 0, &o, &rep, &eb) != FL_OK)
        fail_msg("%s", eb.msg);
    assert_int_equal(rep.spends, LONG_SPENDS);
    assert_int_equal(rep.sites, 3);
    assert_int_equal(rep.entries, LONG_SPENDS + 1);

    /* A slightly smaller epsilon near the end of the log: 1e-5 relative,
     * ten times the default tolerance. */
    dp_audit_verify_opts_init(&o);
    o.epsilon = dp_audit_epsilon_accountant;
    write_long(f, path, eps, k, 1.0 - 1e-5);
    assert_int_equal(
        dp_audit_verify(path, f->coord_key, NULL, 0, &o, NULL, &eb),
        FL_ERR_AUTH);
    snprintf(want, sizeof want, "long.audit.jsonl:%zu (seq %zu): %s round %zu",
             k + 2, k + 2, SITES[0], k);
    if (strstr(eb.msg, want) == NULL)
        fail_msg("message `%s` lacks `%s`", eb.msg, want);
    /* The recomputed value in the message is the whole-history one. */
    snprintf(want, sizeof want,
             "but the rdp accountant gives %.17g for its %zu-round history",
             eps[k], (k / 4) * 3 + k % 4 + 1);
    if (strstr(eb.msg, want) == NULL)
        fail_msg("message `%s` lacks `%s`", eb.msg, want);
    (void) unlink(path);
    for (int i = 0; i < 3; i++)
        free(hist[i]);
    free(eps);
}

/* An epsilon function of the caller's own is still called for every spend
 * with the site's whole history. */
typedef struct count_ctx {
    size_t calls;
    size_t max_n;
} count_ctx_t;

static fl_err_t
counting_epsilon(void *ctx, const dp_audit_accounting_t *acct,
                 const dp_sgm_t *hist, size_t n, double *epsilon,
                 fl_errbuf_t *eb)
{
    count_ctx_t *c = ctx;

    c->calls++;
    if (n > c->max_n)
        c->max_n = n;
    return dp_audit_epsilon_accountant(NULL, acct, hist, n, epsilon, eb);
}

static void
test_own_epsilon_function_called(void **state)
{
    fed_t *f = *state;
    dp_audit_verify_opts_t o;
    count_ctx_t c = {0, 0};
    fl_errbuf_t eb = {{0}};

    dp_audit_verify_opts_init(&o);
    o.epsilon = counting_epsilon;
    o.epsilon_ctx = &c;
    if (dp_audit_verify(f->coord_path, f->coord_key, f->wit, N_NODES, &o, NULL,
                        &eb) != FL_OK)
        fail_msg("%s", eb.msg);
    assert_int_equal(c.calls, 20); /* every spend of every log */
    assert_int_equal(c.max_n, ROUNDS);
}

/* An entry the RDP accountant refuses is named as the whole-history
 * recomputation names it (here: too many steps in the 6th entry). */
static void
test_refused_entry_named(void **state)
{
    fed_t *f = *state;
    dp_audit_log_t *l = NULL;
    dp_audit_verify_opts_t o;
    fl_errbuf_t eb = {{0}};
    dp_sgm_t hist[6];
    char path[160];

    snprintf(path, sizeof path, "%s/big.audit.jsonl", f->dir);
    assert_int_equal(dp_audit_open(path, f->coord_key, COORD, &l, &eb), FL_OK);
    for (size_t i = 0; i < 6; i++) {
        dp_audit_spend_t s;

        long_spend(0, &s);
        s.round = i;
        if (i == 5)
            s.sgm.steps = 2000000000000ULL;
        hist[i] = s.sgm;
        s.epsilon = 1.0;
        if (i < 5)
            s.epsilon = epsilon_for(hist, i + 1, s.delta);
        assert_int_equal(dp_audit_log_privacy_spent(l, &s, &eb), FL_OK);
    }
    dp_audit_close(&l);
    dp_audit_verify_opts_init(&o);
    o.epsilon = dp_audit_epsilon_accountant;
    assert_int_equal(
        dp_audit_verify(path, f->coord_key, NULL, 0, &o, NULL, &eb),
        FL_ERR_LIMIT);
    assert_non_null(strstr(eb.msg, "big.audit.jsonl:7 (seq 7): "
                                   "urn:dpfl:site:a: rdp: entry 5: "
                                   "2000000000000 steps exceed the limit"));
    (void) unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_run_verifies),
        cmocka_unit_test(test_every_entry_changed_byte),
        cmocka_unit_test(test_deleted_inserted_swapped),
        cmocka_unit_test(test_truncated_tail_caught_by_witnesses),
        cmocka_unit_test(test_signature_by_another_key),
        cmocka_unit_test(test_resigned_smaller_epsilon),
        cmocka_unit_test(test_witness_damage_named),
        cmocka_unit_test(test_pld_spend_recomputed),
        cmocka_unit_test(test_long_log_incremental),
        cmocka_unit_test(test_own_epsilon_function_called),
        cmocka_unit_test(test_refused_entry_named),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
