/*
 * tests/fuzz/fuzz_corpus_gen_files.c: writes the seed corpora of the fuzz
 * targets of the file parsers, each seed produced by the real writer:
 *
 *   fuzz_csv/         small CSV files under fuzz_csv's spec (written here)
 *   fuzz_ledger/      ledgers written by dp_ledger_open/reserve/commit
 *   fuzz_audit/       audit logs written by dp_audit_open/append with the
 *                     fixed key of fuzz_file.h
 *   fuzz_checkpoint/  checkpoints written by coord_ckpt_save for the job of
 *                     fuzz_ckpt_job.h, whole and without their trailer
 *
 * and checks each one loads back with the real reader. Usage:
 * fuzz_corpus_gen_files <corpus-dir>; the four directories must exist and
 * the files are replaced. Exit 0 on success. Ledgers and logs hold wall
 * clock times, so the output differs from run to run.
 */
#include "coordinator/checkpoint.h"
#include "node/data.h"
#include "privacy/audit.h"
#include "privacy/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/durable.h"
#include "tests/fuzz/fuzz_ckpt_job.h"
#include "tests/fuzz/fuzz_file.h"

static const char *corpus;

#define CHECK(call)                                                            \
    do {                                                                       \
        fl_errbuf_t eb_ = {{0}};                                               \
        fl_errbuf_t *eb = &eb_;                                                \
        if ((call) != FL_OK) {                                                 \
            (void) fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,          \
                           eb_.msg);                                           \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static void
seed_path(char *buf, size_t cap, const char *target, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s/%s", corpus, target, name);

    FUZZ_ASSERT(n > 0 && (size_t) n < cap);
}

static void
write_seed(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    FILE *f;

    seed_path(path, sizeof path, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- CSV --------------------------------------------------------------- */

static void
csv_seed(const char *name, const char *text, int grouped)
{
    static const node_feature_spec_t features[] = {
        {"age", 50.0, 10.0}, {"x1", 0.0, 1.0}, {"x2", 1.0, 2.0}};
    node_data_spec_t spec;
    node_dataset_t *ds = NULL;
    char path[4096];

    write_seed("fuzz_csv", name, text, strlen(text));
    seed_path(path, sizeof path, "fuzz_csv", name);
    memset(&spec, 0, sizeof spec);
    spec.features = features;
    spec.n_features = 3;
    spec.label = "y";
    spec.n_classes = 3;
    spec.group = grouped ? "site" : NULL;
    spec.limits.max_rows = 64;
    spec.limits.max_cols = 16;
    spec.limits.max_line = 256;
    CHECK(node_dataset_load_csv(path, &spec, &ds, eb));
    node_dataset_destroy(&ds);
}

static void
gen_csv(void)
{
    csv_seed("grouped.csv",
             "age,x1,x2,y,site\n"
             "63,0.5,1.25,0,north\n"
             "41,-1.5,3,1,south\n"
             "55,2e-1,0.75,2,north\n"
             "70,0,1,1,east\n",
             1);
    csv_seed("plain.csv",
             "y,x2,x1,age\n"
             "2,1.5,0.25,48\n"
             "0,0.5,-0.75,39.5\n"
             "1,1,1,61\n",
             0);
    csv_seed("crlf_extra.csv",
             "id,age,x1,x2,note,y,site\r\n"
             "1,50,1,1,a,0,s1\r\n"
             "2,51,1.5,2,b,2,s2\r\n"
             "3,49,-0.5,0,,1,s1\r\n",
             1);
}

/* ---- ledger ------------------------------------------------------------ */

static dp_ledger_entry_t
ledger_entry(char job, uint64_t round, double q, double sigma, uint64_t steps,
             const char *acct, double eps)
{
    dp_ledger_entry_t e;

    memset(&e, 0, sizeof e);
    memset(e.job_hash, job, DP_LEDGER_JOB_HASH_LEN);
    e.round = round;
    e.sgm.sampling_rate = q;
    e.sgm.noise_multiplier = sigma;
    e.sgm.steps = steps;
    e.clip = 1.0;
    e.delta = 1e-5;
    (void) snprintf(e.accountant, sizeof e.accountant, "%s", acct);
    e.epsilon = eps;
    return e;
}

/* n reservations, the ones with a bit set in commit_mask committed. */
static void
ledger_seed(const char *name, size_t n, unsigned commit_mask)
{
    char path[4096];
    dp_ledger_t *l = NULL;
    uint64_t seq = 0;

    seed_path(path, sizeof path, "fuzz_ledger", name);
    (void) unlink(path);
    CHECK(dp_ledger_open(path, &l, eb));
    for (size_t i = 0; i < n; i++) {
        dp_ledger_entry_t e = ledger_entry(
            i % 2 ? 'b' : 'a', i, 0.01 + 0.001 * (double) i, 1.1, 100 * (i + 1),
            i % 3 == 2 ? "pld" : "rdp", 0.1 * (double) (i + 1));

        CHECK(dp_ledger_reserve(l, &e, &seq, eb));
        if (commit_mask & (1U << i))
            CHECK(dp_ledger_commit(l, seq, eb));
    }
    dp_ledger_close(&l);
    CHECK(dp_ledger_open(path, &l, eb));
    FUZZ_ASSERT(dp_ledger_count(l) == n);
    dp_ledger_close(&l);
}

static void
gen_ledger(void)
{
    ledger_seed("header_only", 0, 0);
    ledger_seed("one_uncommitted", 1, 0);
    ledger_seed("three_mixed", 3, 0x5);
}

/* ---- audit log --------------------------------------------------------- */

static void
gen_audit(void)
{
    static const char owner[] = "urn:dpfl:site:fuzz";
    EVP_PKEY *key = fuzz_audit_private_key();
    EVP_PKEY *pub = fuzz_audit_public_key();
    dp_audit_log_t *log = NULL;
    dp_audit_reader_t *r = NULL;
    dp_audit_spend_t sp;
    dp_audit_accounting_t acct;
    dp_sgm_t hist[1];
    unsigned char head[32];
    char path[4096];
    json_t *body;
    int eof = 0;
    size_t n = 0;

    FUZZ_ASSERT(key != NULL && pub != NULL);
    seed_path(path, sizeof path, "fuzz_audit", "created_only.log");
    (void) unlink(path);
    CHECK(dp_audit_open(path, key, owner, &log, eb));
    dp_audit_close(&log);

    seed_path(path, sizeof path, "fuzz_audit", "small.log");
    (void) unlink(path);
    CHECK(dp_audit_open(path, key, owner, &log, eb));
    body = json_pack("{s:s,s:s,s:s,s:b}", "program", "dpfl-node", "version",
                     "0.1.0", "rng", "secure", "dp", 1);
    FUZZ_ASSERT(body != NULL);
    CHECK(dp_audit_append(log, DP_AUDIT_EV_START, NULL, body, eb));
    json_decref(body);
    body = json_pack("{s:s,s:s}", "site", owner, "job_hash",
                     "0123456789abcdef0123456789abcdef"
                     "0123456789abcdef0123456789abcdef");
    FUZZ_ASSERT(body != NULL);
    CHECK(dp_audit_append(log, DP_AUDIT_EV_JOB_ACCEPTED, NULL, body, eb));
    json_decref(body);
    memset(head, 0xab, sizeof head);
    CHECK(dp_audit_log_coordinator_head(log, "urn:dpfl:coordinator", 5, head, 0,
                                        eb));
    memset(&sp, 0, sizeof sp);
    sp.site = owner;
    sp.job_hash = "0123456789abcdef0123456789abcdef"
                  "0123456789abcdef0123456789abcdef";
    sp.round = 0;
    sp.sgm.sampling_rate = 0.01;
    sp.sgm.noise_multiplier = 1.1;
    sp.sgm.steps = 100;
    sp.clip = 1.0;
    sp.delta = 1e-5;
    sp.accountant = "rdp";
    sp.dataset_size = -1;
    acct.accountant = "rdp";
    acct.pld_interval = 0;
    acct.rdp_orders = "default";
    acct.delta = sp.delta;
    hist[0] = sp.sgm;
    CHECK(dp_audit_epsilon_accountant(NULL, &acct, hist, 1, &sp.epsilon, eb));
    CHECK(dp_audit_log_privacy_spent(log, &sp, eb));
    body = json_pack("{s:s}", "reason", "done");
    FUZZ_ASSERT(body != NULL);
    CHECK(dp_audit_append(log, DP_AUDIT_EV_SHUTDOWN, NULL, body, eb));
    json_decref(body);
    dp_audit_close(&log);

    /* Both read back under the public key alone. */
    CHECK(dp_audit_reader_open(path, pub, &r, eb));
    for (;;) {
        dp_audit_entry_t e;

        CHECK(dp_audit_reader_next(r, &e, &eof, eb));
        if (eof)
            break;
        n++;
    }
    FUZZ_ASSERT(n == 6);
    dp_audit_reader_close(&r);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
}

/* ---- checkpoint -------------------------------------------------------- */

static void
ckpt_seed(const char *name, size_t n_sites, uint32_t rounds)
{
    coord_server_opt_t *opt = NULL;
    coord_budget_t budget;
    coord_ckpt_t ck;
    float model[FUZZ_DIM];
    char path[4096], cut[64];
    char *bytes = NULL;
    size_t len = 0;

    CHECK(coord_server_opt_new(PB_SERVER_ADAM, FUZZ_DIM, 0.1, 0.9, &opt, eb));
    coord_budget_init(&budget, DP_ACCOUNTANT_RDP);
    for (size_t i = 0; i < FUZZ_DIM; i++) {
        model[i] = 0.25f * (float) i - 0.5f;
        opt->m[i] = 0.01f * (float) i;
        opt->v[i] = 0.001f * (float) (i + 1);
    }
    opt->steps = rounds;
    for (size_t s = 0; s < n_sites; s++) {
        char id[32];
        coord_site_t *site = NULL;
        dp_sgm_t m = {0.02, 1.2, 50};

        (void) snprintf(id, sizeof id, "urn:dpfl:site:%c", (char) ('a' + s));
        CHECK(coord_budget_add_site(
            &budget, id, 500 + 100 * s, 4.0, 1e-5,
            s % 2 ? DP_ACCOUNTANT_PLD : DP_ACCOUNTANT_RDP, &site, eb));
        for (uint32_t r = 0; r < rounds; r++) {
            m.sampling_rate = r % 2 ? 0.02 : 0.03;
            CHECK(coord_budget_charge(&budget, site, &m, eb));
        }
    }
    memset(&ck, 0, sizeof ck);
    memcpy(ck.job_hash, fuzz_ckpt_job_hash, sizeof ck.job_hash);
    ck.rounds_done = rounds;
    ck.dim = FUZZ_DIM;
    ck.model = model;
    ck.opt = opt;
    ck.budget = &budget;
    seed_path(path, sizeof path, "fuzz_checkpoint", name);
    CHECK(coord_ckpt_save(path, &ck, eb));
    coord_budget_cleanup(&budget);

    /* It loads back; and the same without its trailer, which the target
     * seals again on its second load. */
    coord_budget_init(&budget, DP_ACCOUNTANT_RDP);
    ck.budget = &budget;
    CHECK(coord_ckpt_load(path, &ck, eb));
    FUZZ_ASSERT(budget.n == n_sites && ck.rounds_done == rounds);
    coord_budget_cleanup(&budget);
    CHECK(fl_file_read_all(path, 1 << 20, &bytes, &len, eb));
    FUZZ_ASSERT(len > 32);
    (void) snprintf(cut, sizeof cut, "%s_unsealed", name);
    write_seed("fuzz_checkpoint", cut, bytes, len - 32);
    free(bytes);
    coord_server_opt_destroy(&opt);
}

static void
gen_checkpoint(void)
{
    ckpt_seed("fresh", 0, 0);
    ckpt_seed("two_sites", 2, 3);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        (void) fprintf(stderr, "usage: fuzz_corpus_gen_files <corpus-dir>\n");
        return 2;
    }
    corpus = argv[1];
    gen_csv();
    gen_ledger();
    gen_audit();
    gen_checkpoint();
    return 0;
}
