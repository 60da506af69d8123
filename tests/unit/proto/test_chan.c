/*
 * tests/unit/proto/test_chan.c: the secure channel over real TCP loopback:
 * a valid node exchanges 1 MiB and 64 MiB messages byte-exact (copying and
 * owning sends); invalid certificates are refused with a reason on both
 * sides; TLS files are checked at start (CRL required and current).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/proto/test_chan_fixture.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

static void
fpr_of(const char *path, char out[65])
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    unsigned char md[32];
    unsigned int n = 0;
    int i;

    assert_non_null(x);
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
    for (i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    X509_free(x);
    fclose(f);
}

/* Sends one request of len bytes and waits for its echo, byte-exact. */
static void
roundtrip(chan_server_t *srv, echo_t *e, chan_client_t *cli, cev_t *c,
          uint64_t id, size_t len)
{
    uint8_t *req = tmsg_new(id, 0, len, (uint32_t) id), *got = NULL;
    size_t glen = 0;
    fl_errbuf_t eb = {{0}};
    int64_t end = fl_clock_mono_ms() + 20000;
    int before = e->n_got;

    assert_int_equal(chan_client_send(cli, req, len, 0, &eb), FL_OK);
    assert_int_equal(chan_client_outbox_len(cli), 1);
    while (fl_clock_mono_ms() < end &&
           chan_client_recv(cli, &got, &glen) != FL_OK) {
        pump_once(srv, e, cli, c);
    }
    assert_non_null(got);
    /* Server side: delivered once, from hosp-a, with our id. */
    assert_int_equal(e->n_got, before + 1);
    assert_int_equal(e->got[before], id);
    /* Client side: the echo answers our id, payload byte-exact. */
    assert_int_equal(glen, len);
    assert_int_equal(get64(got + 8), id);
    assert_memory_equal(got + 16, req + 16, len - 16);
    assert_int_equal(chan_client_outbox_len(cli), 0);
    free(got);
    free(req);
}

/*
 * Pumps until the server has reported a refusal containing server_why and,
 * when client_why is not NULL, the client one containing client_why, or
 * until ms pass. Waiting on the events rather than a fixed time keeps a
 * slow (sanitized, loaded) machine from failing these tests. Returns
 * whether the client ever got ready.
 */
static bool
pump_refused(chan_server_t *srv, echo_t *e, chan_client_t *cli, cev_t *c,
             const char *server_why, const char *client_why, int ms)
{
    int64_t end = fl_clock_mono_ms() + ms;
    bool ready = false;

    while (fl_clock_mono_ms() < end) {
        pump_once(srv, e, cli, c);
        ready = ready || chan_client_is_ready(cli);
        if (find_ev(e->ev, e->n_ev, CHAN_EV_REFUSED, server_why) != NULL &&
            (client_why == NULL ||
             find_ev(c->ev, c->n, CHAN_EV_REFUSED, client_why) != NULL)) {
            break;
        }
    }
    return ready;
}

static void
test_valid_node(void **state)
{
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    echo_t e = {.echo = true};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};
    uint8_t *w = NULL;
    size_t wl = 0;
    char fpr[65];
    const chan_event_t *ev;

    (void) state;
    server_opts(&so, "tcp://127.0.0.1:*");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    client_opts(&co, chan_server_port(srv), "hosp-a");
    assert_int_equal(chan_client_new(&co, &cli, &eb), FL_OK);
    assert_true(pump_ready(srv, &e, cli, &c, 5000));

    /* Both sides saw the authentication, with the right identity. */
    fpr_of(pki_file("hosp-a/hosp-a.pem"), fpr);
    ev = find_ev(e.ev, e.n_ev, CHAN_EV_AUTHENTICATED, NULL);
    assert_non_null(ev);
    assert_string_equal(ev->site_id, "hosp-a");
    assert_string_equal(ev->fingerprint, fpr);
    assert_true(chan_server_is_live(srv, "hosp-a"));
    assert_non_null(find_ev(c.ev, c.n, CHAN_EV_READY, NULL));
    assert_true(chan_client_last_handshake_ms(cli) > 0.0);
    /* The Welcome is the first message. */
    assert_int_equal(chan_client_recv(cli, &w, &wl), FL_OK);
    assert_int_equal(wl, 32);
    assert_int_equal(get64(w + 8), 0);
    free(w);

    roundtrip(srv, &e, cli, &c, 11, 100);
    roundtrip(srv, &e, cli, &c, 12, (size_t) 1 << 20);
    roundtrip(srv, &e, cli, &c, 13, (size_t) 64 << 20);

    chan_client_destroy(&cli);
    assert_null(cli);
    chan_server_destroy(&srv);
    assert_null(srv);
}

/* Polls both sides once without draining the server's inbox. */
static void
poll_both(chan_server_t *srv, chan_client_t *cli)
{
    fl_errbuf_t eb = {{0}};

    assert_int_equal(chan_server_poll(srv, 1, &eb), FL_OK);
    assert_int_equal(chan_client_poll(cli, 1, &eb), FL_OK);
}

/* The owning sends: a 3 MiB request and its echo travel without copies
 * (several pool-buffer frames each way), byte-exact; the buffers are the
 * channel's on every return, errors included (ASan checks the frees). */
static void
test_owned_sends(void **state)
{
    const size_t len = ((size_t) 3 << 20) + 12345;
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    echo_t e = {.echo = false};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};
    uint8_t *ref = tmsg_new(21, 0, len, 21), *req, *got = NULL, *bad;
    char site[CHAN_SITE_ID_MAX + 1];
    size_t glen = 0;
    int64_t end;

    (void) state;
    server_opts(&so, "tcp://127.0.0.1:*");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    client_opts(&co, chan_server_port(srv), "hosp-a");
    assert_int_equal(chan_client_new(&co, &cli, &eb), FL_OK);
    assert_true(pump_ready(srv, &e, cli, &c, 5000));
    assert_int_equal(chan_client_recv(cli, &got, &glen), FL_OK); /* Welcome */
    free(got);
    got = NULL;

    req = malloc(len);
    assert_non_null(req);
    memcpy(req, ref, len);
    assert_int_equal(chan_client_send_owned(cli, req, len, 0, &eb), FL_OK);
    assert_int_equal(chan_client_outbox_len(cli), 1); /* kept, not copied */
    end = fl_clock_mono_ms() + 20000;
    while (fl_clock_mono_ms() < end &&
           chan_server_recv(srv, site, &got, &glen) != FL_OK) {
        poll_both(srv, cli);
    }
    assert_non_null(got);
    assert_string_equal(site, "hosp-a");
    assert_int_equal(glen, len);
    assert_memory_equal(got, ref, len);
    /* Echo the received buffer itself. */
    put64(got + 8, 21);
    put64(got, 2000021);
    assert_int_equal(chan_server_send_owned(srv, "hosp-a", got, glen, 0, &eb),
                     FL_OK);
    got = NULL;
    end = fl_clock_mono_ms() + 20000;
    while (fl_clock_mono_ms() < end &&
           chan_client_recv(cli, &got, &glen) != FL_OK) {
        poll_both(srv, cli);
    }
    assert_non_null(got);
    assert_int_equal(glen, len);
    assert_int_equal(get64(got), 2000021);
    assert_int_equal(get64(got + 8), 21);
    assert_memory_equal(got + 16, ref + 16, len - 16);
    assert_int_equal(chan_client_outbox_len(cli), 0); /* answered */

    /* Refusals still take the buffer: bad id, unknown site, NULL. */
    bad = tmsg_new(0, 0, 64, 1);
    assert_int_equal(chan_client_send_owned(cli, bad, 64, 0, &eb),
                     FL_ERR_PARSE);
    bad = tmsg_new(22, 0, 64, 1);
    assert_int_equal(chan_server_send_owned(srv, "nobody", bad, 64, 0, &eb),
                     FL_ERR_NOT_FOUND);
    bad = tmsg_new(23, 0, (size_t) 66 << 20, 1);
    assert_int_equal(
        chan_client_send_owned(cli, bad, (size_t) 66 << 20, 0, &eb),
        FL_ERR_LIMIT);
    assert_int_equal(chan_client_send_owned(cli, NULL, 64, 0, &eb),
                     FL_ERR_INVALID);
    /* A no-reply request: sent, not kept. */
    bad = tmsg_new(24, 0, 64, 1);
    assert_int_equal(
        chan_client_send_owned(cli, bad, 64, CHAN_SEND_NO_REPLY, &eb), FL_OK);
    assert_int_equal(chan_client_outbox_len(cli), 0);

    free(got);
    free(ref);
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
}

/* An application that does not drain its inbox: the channel stops reading
 * (frames wait in ZeroMQ's bounded queue), and nothing is lost once it
 * drains. */
static void
test_inbox_is_bounded(void **state)
{
    enum { N = 40, LEN = 60 * 1024 };
    const size_t max_msg = 64 * 1024;
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    echo_t e = {.echo = true};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};
    chan_stats_t st;
    size_t peak = 0;
    uint64_t next = 1;
    int64_t end;

    (void) state;
    server_opts(&so, "tcp://127.0.0.1:*");
    so.max_msg_size = max_msg;
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    client_opts(&co, chan_server_port(srv), "hosp-a");
    co.max_msg_size = max_msg;
    co.max_outbox_bytes = (size_t) N * LEN;
    assert_int_equal(chan_client_new(&co, &cli, &eb), FL_OK);
    assert_true(pump_ready(srv, &e, cli, &c, 5000));
    for (uint64_t id = 1000; id < 1000 + N; id++) {
        uint8_t *m = tmsg_new(id, 0, LEN, (uint32_t) id);

        assert_int_equal(chan_client_send(cli, m, LEN, CHAN_SEND_NO_REPLY, &eb),
                         FL_OK);
        free(m);
    }
    end = fl_clock_mono_ms() + 3000;
    while (fl_clock_mono_ms() < end) {
        assert_int_equal(chan_client_poll(cli, 0, &eb), FL_OK);
        assert_int_equal(chan_server_poll(srv, 10, &eb), FL_OK);
        chan_server_stats(srv, &st);
        if (st.inbox_bytes > peak)
            peak = st.inbox_bytes;
    }
    assert_true(peak >= 2 * (size_t) LEN); /* the test did fill it */
    assert_true(peak <= CHAN_INBOX_MSGS * max_msg + max_msg);
    end = fl_clock_mono_ms() + 10000;
    while (next <= N && fl_clock_mono_ms() < end) {
        char site[CHAN_SITE_ID_MAX + 1];
        uint8_t *buf;
        size_t len;

        assert_int_equal(chan_client_poll(cli, 0, &eb), FL_OK);
        assert_int_equal(chan_server_poll(srv, 10, &eb), FL_OK);
        while (chan_server_recv(srv, site, &buf, &len) == FL_OK) {
            assert_int_equal(len, LEN);
            assert_int_equal(get64(buf), 999 + next);
            next++;
            free(buf);
        }
    }
    assert_int_equal(next, N + 1);
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
}

typedef struct bad_case {
    const char *site;       /* directory and file name in the PKI */
    const char *server_why; /* substring of the server's reason */
    const char *client_why; /* substring of the client's reason */
} bad_case_t;

static void
refused(const bad_case_t *bc, const char *server_name)
{
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    echo_t e = {.echo = true};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};
    const chan_event_t *sev, *cev;
    chan_stats_t st;

    server_opts(&so, "tcp://127.0.0.1:*");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    client_opts(&co, chan_server_port(srv), bc->site);
    if (server_name != NULL) {
        co.server_name = server_name;
    }
    assert_int_equal(chan_client_new(&co, &cli, &eb), FL_OK);
    assert_false(
        pump_refused(srv, &e, cli, &c, bc->server_why, bc->client_why, 5000));
    sev = find_ev(e.ev, e.n_ev, CHAN_EV_REFUSED, bc->server_why);
    cev = find_ev(c.ev, c.n, CHAN_EV_REFUSED, bc->client_why);
    if (sev == NULL || cev == NULL) {
        int i;
        for (i = 0; i < e.n_ev; i++) {
            fprintf(stderr, "server %s: %s\n", chan_event_name(e.ev[i].type),
                    e.ev[i].reason);
        }
        for (i = 0; i < c.n; i++) {
            fprintf(stderr, "client %s: %s\n", chan_event_name(c.ev[i].type),
                    c.ev[i].reason);
        }
    }
    assert_non_null(sev);
    assert_non_null(cev);
    assert_null(find_ev(e.ev, e.n_ev, CHAN_EV_AUTHENTICATED, NULL));
    assert_null(find_ev(c.ev, c.n, CHAN_EV_READY, NULL));
    chan_server_stats(srv, &st);
    assert_true(st.handshakes_refused >= 1);
    assert_int_equal(st.handshakes_ok, 0);
    assert_int_equal(st.sessions_live, 0);
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
}

static void
test_refuse_other_ca(void **state)
{
    bad_case_t bc = {"hosp-o", "unable to get local issuer certificate",
                     "unknown ca"};
    (void) state;
    refused(&bc, NULL);
}

static void
test_refuse_revoked(void **state)
{
    bad_case_t bc = {"hosp-r", "certificate revoked", "certificate revoked"};
    (void) state;
    refused(&bc, NULL);
}

/* The node checks the coordinator's certificate against the CRL too. */
static void
test_node_refuses_revoked_coordinator(void **state)
{
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    echo_t e = {.echo = true};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};

    (void) state;
    server_opts(&so, "tcp://127.0.0.1:*");
    so.tls.cert_file = pki_file("s2/coordinator.pem");
    so.tls.key_file = pki_file("s2/coordinator.key");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    client_opts(&co, chan_server_port(srv), "hosp-a");
    assert_int_equal(chan_client_new(&co, &cli, &eb), FL_OK);
    assert_false(
        pump_refused(srv, &e, cli, &c, "revoked", "certificate revoked", 5000));
    assert_non_null(find_ev(c.ev, c.n, CHAN_EV_REFUSED, "certificate revoked"));
    assert_non_null(find_ev(e.ev, e.n_ev, CHAN_EV_REFUSED, "revoked"));
    assert_null(find_ev(c.ev, c.n, CHAN_EV_READY, NULL));
    assert_null(find_ev(e.ev, e.n_ev, CHAN_EV_AUTHENTICATED, NULL));
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
}

/* One handshake of site against srv; true when the session got ready. */
static bool
try_site(chan_server_t *srv, const char *site, const char *server_why)
{
    chan_client_opts_t co;
    chan_client_t *cli = NULL;
    echo_t e = {.echo = true};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};
    bool ready;

    client_opts(&co, chan_server_port(srv), site);
    assert_int_equal(chan_client_new(&co, &cli, &eb), FL_OK);
    if (server_why == NULL) {
        ready = pump_ready(srv, &e, cli, &c, 5000);
    } else {
        ready = pump_refused(srv, &e, cli, &c, server_why, NULL, 5000);
        assert_non_null(find_ev(e.ev, e.n_ev, CHAN_EV_REFUSED, server_why));
    }
    chan_client_destroy(&cli);
    return ready;
}

/*
 * Two processes sharing one certificate: a second session for an identity
 * whose live session was active within dup_guard_ms is refused; once the
 * first has been quiet that long, the newest session wins.
 */
static void
test_shared_certificate_guard(void **state)
{
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *first = NULL;
    echo_t e = {.echo = true};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};

    (void) state;
    server_opts(&so, "tcp://127.0.0.1:*");
    so.dup_guard_ms = 2000; /* wide: a slow sanitized run must not age out */
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    client_opts(&co, chan_server_port(srv), "hosp-a");
    assert_int_equal(chan_client_new(&co, &first, &eb), FL_OK);
    assert_true(pump_ready(srv, &e, first, &c, 5000));
    assert_false(try_site(srv, "hosp-a", "already has a live session"));
    {
        const struct timespec quiet = {2, 200 * 1000 * 1000};

        (void) nanosleep(&quiet, NULL);
    }
    assert_true(try_site(srv, "hosp-a", NULL));
    chan_client_destroy(&first);
    chan_server_destroy(&srv);
}

/*
 * A revocation reaches a running coordinator through chan_server_reload()
 * (SIGHUP in dpfl-coordinator): until then the old CRL stays in force; a
 * CRL that does not load leaves the files in force unchanged. Runs last:
 * it revokes hosp-v in the fixture's CA.
 */
static void
test_reload_applies_new_crl(void **state)
{
    chan_server_opts_t so;
    chan_server_t *srv = NULL;
    fl_errbuf_t eb = {{0}};

    (void) state;
    assert_int_equal(pki_sh("cp ca/crl.pem crl-live.pem"), 0);
    server_opts(&so, "tcp://127.0.0.1:*");
    so.tls.crl_file = pki_file("crl-live.pem");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    assert_true(try_site(srv, "hosp-v", NULL));
    assert_int_equal(
        pki_sh("exec >>pki.log 2>&1 && "
               "$P revoke --ca ca --cert hosp-v/hosp-v.pem --reason "
               "keyCompromise && cp ca/crl.pem crl-live.pem"),
        0);
    /* The new CRL is on disk, but the server has not re-read it. */
    assert_true(try_site(srv, "hosp-v", NULL));
    assert_int_equal(chan_server_reload(srv, &eb), FL_OK);
    assert_false(try_site(srv, "hosp-v", "certificate revoked"));
    assert_true(try_site(srv, "hosp-a", NULL));
    /* A CRL that does not load: refused, the old one stays in force. */
    assert_int_equal(pki_sh("echo garbage > crl-live.pem"), 0);
    assert_int_not_equal(chan_server_reload(srv, &eb), FL_OK);
    assert_false(try_site(srv, "hosp-v", "certificate revoked"));
    assert_true(try_site(srv, "hosp-a", NULL));
    chan_server_destroy(&srv);
}

static void
test_refuse_expired(void **state)
{
    bad_case_t bc = {"hosp-x", "certificate has expired",
                     "certificate expired"};
    (void) state;
    refused(&bc, NULL);
}

static void
test_refuse_not_allowed(void **state)
{
    bad_case_t bc = {"hosp-z", "site 'hosp-z' is not on the allow-list",
                     "coordinator refused the session"};
    (void) state;
    refused(&bc, NULL);
}

static void
test_refuse_server_cert_as_client(void **state)
{
    bad_case_t bc = {"hosp-s", "unsuitable certificate purpose",
                     "unsupported certificate"};
    (void) state;
    refused(&bc, NULL);
}

static void
test_node_checks_coordinator_name(void **state)
{
    bad_case_t bc = {"hosp-a", "node sent an alert", "hostname mismatch"};
    (void) state;
    refused(&bc, "wrong.example");
}

static void
test_fingerprint_pinning(void **state)
{
    chan_allow_t allow[] = {{"hosp-a", "00:11"}, {"hosp-b", NULL}};
    chan_allow_t pinned[] = {
        {"hosp-a",
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}};
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    echo_t e = {0};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};

    (void) state;
    server_opts(&so, "tcp://127.0.0.1:*");
    so.allow = allow;
    so.n_allow = 2;
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "fingerprint"));
    so.allow = pinned;
    so.n_allow = 1;
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    client_opts(&co, chan_server_port(srv), "hosp-a");
    assert_int_equal(chan_client_new(&co, &cli, &eb), FL_OK);
    assert_false(pump_refused(srv, &e, cli, &c, "does not match the allow-list",
                              NULL, 5000));
    assert_non_null(find_ev(e.ev, e.n_ev, CHAN_EV_REFUSED,
                            "does not match the allow-list"));
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
}

static void
test_crl_fail_closed(void **state)
{
    chan_server_opts_t so;
    chan_server_t *srv = NULL;
    fl_errbuf_t eb = {{0}};

    (void) state;
    server_opts(&so, "tcp://127.0.0.1:*");
    so.tls.crl_file = pki_file("nonexistent.pem");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "fail closed"));
    /* A CRL of another CA is refused. */
    so.tls.crl_file = pki_file("ca2/crl.pem");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_ERR_CRYPTO);
    assert_non_null(strstr(eb.msg, "not issued by the CA"));
    /* A CRL past its nextUpdate is refused. */
    assert_int_equal(pki_sh("openssl ca -config ca/openssl.cnf -gencrl "
                            "-crlsec 1 -out old-crl.pem 2>/dev/null"),
                     0);
    sleep(2);
    so.tls.crl_file = pki_file("old-crl.pem");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_ERR_CRYPTO);
    assert_non_null(strstr(eb.msg, "nextUpdate"));
    /* A readable private key is refused. */
    so.tls.crl_file = pki_file("ca/crl.pem");
    assert_int_equal(pki_sh("cp s/coordinator.key open.key && "
                            "chmod 644 open.key"),
                     0);
    so.tls.key_file = pki_file("open.key");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_ERR_CRYPTO);
    assert_non_null(strstr(eb.msg, "readable"));
    assert_null(srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_node),
        cmocka_unit_test(test_owned_sends),
        cmocka_unit_test(test_inbox_is_bounded),
        cmocka_unit_test(test_refuse_other_ca),
        cmocka_unit_test(test_refuse_revoked),
        cmocka_unit_test(test_node_refuses_revoked_coordinator),
        cmocka_unit_test(test_refuse_expired),
        cmocka_unit_test(test_refuse_not_allowed),
        cmocka_unit_test(test_refuse_server_cert_as_client),
        cmocka_unit_test(test_node_checks_coordinator_name),
        cmocka_unit_test(test_fingerprint_pinning),
        cmocka_unit_test(test_crl_fail_closed),
        cmocka_unit_test(test_shared_certificate_guard),
        cmocka_unit_test(test_reload_applies_new_crl),
    };

    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
