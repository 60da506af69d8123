/* tests/unit/privacy/test_audit.c: audit log keys, writer and reader. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/durable.h"
#include "privacy/audit.h"

static const char JOB[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

typedef struct fixture {
    char dir[64];
    char log[128], priv[128], pub[128];
    EVP_PKEY *key;
} fixture_t;

static void
write_pem(const char *path, EVP_PKEY *k, int private_key)
{
    BIO *b = BIO_new_file(path, "w");

    assert_non_null(b);
    if (private_key)
        assert_int_equal(
            PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    BIO_free(b);
    assert_int_equal(chmod(path, 0600), 0);
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dpfl-audit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log, sizeof f->log, "%s/a.audit.jsonl", f->dir);
    snprintf(f->priv, sizeof f->priv, "%s/a.key", f->dir);
    snprintf(f->pub, sizeof f->pub, "%s/a.pub", f->dir);
    f->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(f->key);
    write_pem(f->priv, f->key, 1);
    write_pem(f->pub, f->key, 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    char p[160];

    (void) unlink(f->log);
    (void) unlink(f->priv);
    (void) unlink(f->pub);
    snprintf(p, sizeof p, "%s/other.pub", f->dir);
    (void) unlink(p);
    (void) rmdir(f->dir);
    EVP_PKEY_free(f->key);
    free(f);
    return 0;
}

static char *
slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    fl_errbuf_t eb = {{0}};

    assert_int_equal(fl_file_read_all(path, 1 << 26, &buf, len, &eb), FL_OK);
    return buf;
}

static void
spit(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static int
contains(const char *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static void
write_some(fixture_t *f, dp_audit_log_t *l)
{
    fl_errbuf_t eb = {{0}};
    dp_audit_spend_t s;
    json_t *body = json_pack("{s:s, s:s, s:s, s:b}", "program", "test",
                             "version", "0", "rng", "seeded", "dp", 1);

    (void) f;
    assert_int_equal(dp_audit_append(l, DP_AUDIT_EV_START, NULL, body, &eb),
                     FL_OK);
    json_decref(body);
    memset(&s, 0, sizeof s);
    s.site = "urn:dpfl:site:a";
    s.job_hash = JOB;
    s.round = 3;
    s.sgm.sampling_rate = 0.01;
    s.sgm.noise_multiplier = 1.1;
    s.sgm.steps = 100;
    s.clip = 1.0;
    s.delta = 1e-5;
    s.accountant = "rdp";
    s.epsilon = 0.1 / 3.0;
    s.dataset_size = -1;
    assert_int_equal(dp_audit_log_privacy_spent(l, &s, &eb), FL_OK);
}

static void
test_write_read_reopen(void **state)
{
    fixture_t *f = *state;
    dp_audit_log_t *l = NULL;
    dp_audit_reader_t *r = NULL;
    fl_errbuf_t eb = {{0}};
    EVP_PKEY *priv = NULL, *pub = NULL;
    unsigned char head[32], h2[32];
    dp_audit_entry_t e;
    dp_audit_spend_t s;
    const char *why;
    uint64_t seq = 0;
    int eof = 0;
    size_t n;

    assert_int_equal(dp_audit_key_load_private(f->priv, &priv, &eb), FL_OK);
    assert_int_equal(dp_audit_key_load_public(f->pub, &pub, &eb), FL_OK);
    assert_int_equal(
        dp_audit_open(f->log, priv, "urn:dpfl:site:coord", &l, &eb), FL_OK);
    dp_audit_head(l, &seq, head);
    assert_int_equal(seq, 1); /* log_created */
    write_some(f, l);
    dp_audit_head(l, &seq, head);
    assert_int_equal(seq, 3);
    dp_audit_close(&l);
    assert_null(l);

    /* Reopening continues the chain from the same head. */
    assert_int_equal(
        dp_audit_open(f->log, priv, "urn:dpfl:site:coord", &l, &eb), FL_OK);
    dp_audit_head(l, &seq, h2);
    assert_int_equal(seq, 3);
    assert_memory_equal(head, h2, 32);
    assert_int_equal(
        dp_audit_log_coordinator_head(l, "urn:dpfl:site:c", 7, head, 2, &eb),
        FL_OK);
    dp_audit_close(&l);
    /* Another owner is refused. */
    assert_int_equal(dp_audit_open(f->log, priv, "urn:dpfl:site:x", &l, &eb),
                     FL_ERR_STATE);

    assert_int_equal(dp_audit_reader_open(f->log, pub, &r, &eb), FL_OK);
    for (n = 0;; n++) {
        assert_int_equal(dp_audit_reader_next(r, &e, &eof, &eb), FL_OK);
        if (eof)
            break;
        assert_int_equal(e.seq, n + 1);
        assert_int_equal(e.line, n + 1);
        assert_string_equal(e.actor, "urn:dpfl:site:coord");
        if (n == 2) {
            assert_string_equal(e.type, "privacy_spent");
            assert_true(dp_audit_parse_spend(e.body, &s, &why));
            assert_true(s.epsilon == 0.1 / 3.0);
            assert_int_equal(s.sgm.steps, 100);
            assert_null(s.rdp_orders);
            assert_int_equal(s.dataset_size, -1);
        }
    }
    assert_int_equal(n, 4);
    assert_string_equal(dp_audit_reader_owner(r), "urn:dpfl:site:coord");
    dp_audit_reader_close(&r);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
}

static void
test_line_is_canonical_json(void **state)
{
    fixture_t *f = *state;
    dp_audit_log_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    char *buf, *nl;
    size_t len;

    assert_int_equal(dp_audit_open(f->log, f->key, "urn:dpfl:site:a", &l, &eb),
                     FL_OK);
    write_some(f, l);
    dp_audit_close(&l);
    buf = slurp(f->log, &len);
    nl = strchr(buf, '\n');
    *nl = '\0';
    /* Sorted keys, compact, first prev 64 zeros. */
    assert_memory_equal(buf, "{\"actor\":\"urn:dpfl:site:a\",\"body\":{", 34);
    assert_non_null(strstr(buf, "\"prev\":\"000000000000000000000000000000"
                                "0000000000000000000000000000000000\","
                                "\"seq\":1,\"sig\":\""));
    assert_non_null(strstr(buf, "\"type\":\"log_created\"}"));
    free(buf);
}

static void
test_private_key_never_in_log(void **state)
{
    fixture_t *f = *state;
    dp_audit_log_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    unsigned char raw[32];
    char rawhex[65];
    size_t rawlen = sizeof raw, len, pemlen;
    char *buf, *pem, *b64, *end;

    assert_int_equal(dp_audit_open(f->log, f->key, "urn:dpfl:site:a", &l, &eb),
                     FL_OK);
    for (int i = 0; i < 20; i++)
        write_some(f, l);
    dp_audit_close(&l);
    buf = slurp(f->log, &len);
    assert_int_equal(EVP_PKEY_get_raw_private_key(f->key, raw, &rawlen), 1);
    assert_int_equal(rawlen, 32);
    dp_audit_hex(raw, 32, rawhex);
    assert_false(contains(buf, len, raw, 32));
    assert_false(contains(buf, len, rawhex, 64));
    /* Nor the PEM body (base64 lines). */
    pem = slurp(f->priv, &pemlen);
    b64 = strchr(pem, '\n') + 1;
    end = strstr(b64, "\n-----END");
    assert_non_null(end);
    assert_false(contains(buf, len, b64, (size_t) (end - b64)));
    assert_null(strstr(buf, "PRIVATE KEY"));
    free(pem);
    free(buf);
}

static void
test_open_refuses_damaged_log(void **state)
{
    fixture_t *f = *state;
    dp_audit_log_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    char *buf, *after;
    size_t len, alen;

    assert_int_equal(dp_audit_open(f->log, f->key, "urn:dpfl:site:a", &l, &eb),
                     FL_OK);
    write_some(f, l);
    dp_audit_close(&l);
    buf = slurp(f->log, &len);

    /* Torn final line: refused, file untouched. */
    spit(f->log, buf, len - 7);
    assert_int_equal(dp_audit_open(f->log, f->key, "urn:dpfl:site:a", &l, &eb),
                     FL_ERR_PARSE);
    assert_null(l);
    assert_non_null(strstr(eb.msg, ":3: incomplete final line"));
    after = slurp(f->log, &alen);
    assert_int_equal(alen, len - 7);
    free(after);

    /* A log signed by another key is refused by this key's owner. */
    spit(f->log, buf, len);
    {
        EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

        assert_int_equal(
            dp_audit_open(f->log, other, "urn:dpfl:site:a", &l, &eb),
            FL_ERR_AUTH);
        assert_non_null(strstr(eb.msg, ":1 (seq 1): log was created for key"));
        EVP_PKEY_free(other);
    }
    free(buf);
}

static void
test_keys_validated(void **state)
{
    fixture_t *f = *state;
    fl_errbuf_t eb = {{0}};
    EVP_PKEY *k = NULL;
    char p[160];

    assert_int_equal(chmod(f->priv, 0640), 0);
    assert_int_equal(dp_audit_key_load_private(f->priv, &k, &eb), FL_ERR_AUTH);
    assert_non_null(strstr(eb.msg, "chmod 600"));
    assert_int_equal(chmod(f->priv, 0600), 0);
    /* A public key file is not a private key, and vice versa. */
    assert_int_equal(dp_audit_key_load_private(f->pub, &k, &eb), FL_ERR_CRYPTO);
    assert_int_equal(dp_audit_key_load_public(f->priv, &k, &eb), FL_ERR_CRYPTO);
    assert_null(k);
    /* Another algorithm is refused. */
    snprintf(p, sizeof p, "%s/other.pub", f->dir);
    {
        EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

        write_pem(p, ec, 0);
        EVP_PKEY_free(ec);
    }
    assert_int_equal(dp_audit_key_load_public(p, &k, &eb), FL_ERR_CRYPTO);
    assert_non_null(strstr(eb.msg, "not an Ed25519 key"));
    /* A public key cannot open a log for writing. */
    assert_int_equal(dp_audit_key_load_public(f->pub, &k, &eb), FL_OK);
    {
        dp_audit_log_t *l = NULL;

        assert_int_equal(dp_audit_open(f->log, k, "urn:dpfl:site:a", &l, &eb),
                         FL_ERR_INVALID);
    }
    EVP_PKEY_free(k);
}

static void
test_append_validates_bodies(void **state)
{
    fixture_t *f = *state;
    dp_audit_log_t *l = NULL;
    fl_errbuf_t eb = {{0}};
    dp_audit_spend_t s;
    json_t *body;
    uint64_t seq;
    unsigned char h[32];

    assert_int_equal(dp_audit_open(f->log, f->key, "urn:dpfl:site:a", &l, &eb),
                     FL_OK);
    body = json_pack("{s:i}", "seq", 1);
    assert_int_equal(dp_audit_append(l, "Bad-Type", NULL, body, &eb),
                     FL_ERR_INVALID);
    assert_int_equal(
        dp_audit_append(l, DP_AUDIT_EV_COORDINATOR_HEAD, NULL, body, &eb),
        FL_ERR_INVALID);
    assert_int_equal(
        dp_audit_append(l, DP_AUDIT_EV_LOG_CREATED, NULL, body, &eb),
        FL_ERR_INVALID);
    assert_int_equal(dp_audit_append(l, "shutdown", "bad\nactor", body, &eb),
                     FL_ERR_INVALID);
    json_decref(body);
    memset(&s, 0, sizeof s);
    s.site = "urn:dpfl:site:a";
    s.job_hash = JOB;
    s.sgm.sampling_rate = 1.5; /* out of range */
    s.sgm.noise_multiplier = 1.0;
    s.sgm.steps = 1;
    s.clip = 1.0;
    s.delta = 1e-5;
    s.accountant = "rdp";
    s.dataset_size = -1;
    assert_int_equal(dp_audit_log_privacy_spent(l, &s, &eb), FL_ERR_INVALID);
    s.sgm.sampling_rate = 0.5;
    s.accountant = "gdp";
    assert_int_equal(dp_audit_log_privacy_spent(l, &s, &eb), FL_ERR_INVALID);
    dp_audit_head(l, &seq, h);
    assert_int_equal(seq, 1);
    dp_audit_close(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_read_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_line_is_canonical_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_private_key_never_in_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_damaged_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keys_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_validates_bodies, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
