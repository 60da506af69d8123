/*
 * tests/unit/proto/test_chan_recovery.c: lost frames and a coordinator
 * restart are recovered by a new handshake and retransmission, with no
 * message lost or duplicated at the application on either side.
 *
 * Frames are lost for real: a ZeroMQ proxy between node and coordinator
 * (its own TCP hops on loopback) forwards every frame except the one it is
 * told to drop. A request of the coordinator's whose frame is lost is sent
 * again by the coordinator after its reply timeout, which the node notices.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/proto/test_chan_fixture.h"

#include <zmq.h>

typedef struct proxy {
    void *zctx, *front, *back;
    int port;
    uint8_t rid[256];
    size_t rid_len;
    int rec_up, rec_down;   /* REC frames seen each way */
    int drop_up, drop_down; /* 1-based REC frame to drop, 0 none */
    int dropped;
    size_t down_len[64]; /* TLS bytes of REC frame k (at k - 1) towards the
                            node, dropped ones included, for k <= 64 */
} proxy_t;

static void
proxy_start(proxy_t *p, int server_port)
{
    char ep[64];
    size_t len = sizeof(ep);
    int zero = 0;

    memset(p, 0, sizeof(*p));
    p->zctx = zmq_ctx_new();
    p->front = zmq_socket(p->zctx, ZMQ_ROUTER);
    p->back = zmq_socket(p->zctx, ZMQ_DEALER);
    zmq_setsockopt(p->front, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(p->back, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_bind(p->front, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(p->front, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    p->port = atoi(strrchr(ep, ':') + 1);
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", server_port);
    assert_int_equal(zmq_connect(p->back, ep), 0);
}

static void
proxy_stop(proxy_t *p)
{
    zmq_close(p->front);
    zmq_close(p->back);
    zmq_ctx_term(p->zctx);
}

/* Moves every waiting message one hop; returns how many. */
static int
proxy_move(proxy_t *p, void *from, void *to, bool up)
{
    zmq_msg_t parts[4];
    int n = 0, i, moved = 0, more;
    bool drop;

    for (;;) {
        n = 0;
        do {
            zmq_msg_init(&parts[n]);
            if (zmq_msg_recv(&parts[n], from, n ? 0 : ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&parts[n]);
                return moved;
            }
            more = zmq_msg_more(&parts[n]);
            n++;
        } while (more && n < 4);
        i = 0;
        if (up) { /* strip and remember the node's routing id */
            p->rid_len = zmq_msg_size(&parts[0]);
            memcpy(p->rid, zmq_msg_data(&parts[0]), p->rid_len);
            zmq_msg_close(&parts[0]);
            i = 1;
        }
        drop = false;
        if (((uint8_t *) zmq_msg_data(&parts[i]))[1] == CHAN_T_REC) {
            int k = up ? ++p->rec_up : ++p->rec_down;
            drop = k == (up ? p->drop_up : p->drop_down);
            if (!up && k <= 64 && i + 1 < n) {
                p->down_len[k - 1] = zmq_msg_size(&parts[i + 1]);
            }
        }
        if (drop) {
            p->dropped++;
        }
        if (!up && !drop) {
            zmq_send(to, p->rid, p->rid_len, ZMQ_SNDMORE);
        }
        for (; i < n; i++) {
            if (!drop) {
                zmq_msg_send(&parts[i], to, i + 1 < n ? ZMQ_SNDMORE : 0);
            } else {
                zmq_msg_close(&parts[i]);
            }
        }
        moved++;
    }
}

static void
pump_all(chan_server_t *srv, echo_t *e, chan_client_t *cli, cev_t *c,
         proxy_t *p)
{
    pump_once(srv, e, cli, c);
    if (p != NULL) {
        proxy_move(p, p->front, p->back, true);
        proxy_move(p, p->back, p->front, false);
    }
}

/* Sends ids first..last as requests; waits for every echo; checks that
 * each reply arrived once and the server app saw each request once. */
static void
exchange(chan_server_t *srv, echo_t *e, chan_client_t *cli, cev_t *c,
         proxy_t *p, uint64_t first, uint64_t last, int64_t ms)
{
    int replies[64] = {0}, got = 0, want = (int) (last - first + 1), i, j;
    fl_errbuf_t eb = {{0}};
    int64_t end = fl_clock_mono_ms() + ms;
    uint64_t id;
    uint8_t *buf;
    size_t len;
    int before = e->n_got;

    for (id = first; id <= last; id++) {
        uint8_t *m = tmsg_new(id, 0, 3000, (uint32_t) id);
        assert_int_equal(chan_client_send(cli, m, 3000, 0, &eb), FL_OK);
        free(m);
    }
    while (got < want && fl_clock_mono_ms() < end) {
        pump_all(srv, e, cli, c, p);
        while (chan_client_recv(cli, &buf, &len) == FL_OK) {
            uint64_t re = get64(buf + 8);
            if (re >= first && re <= last) {
                uint8_t *m = tmsg_new(re, 0, 3000, (uint32_t) re);
                assert_int_equal(len, 3000);
                assert_memory_equal(buf + 16, m + 16, 3000 - 16);
                free(m);
                replies[re - first]++;
                got++;
            }
            free(buf);
        }
    }
    /* A little longer, to catch late duplicates. */
    end = fl_clock_mono_ms() + 300;
    while (fl_clock_mono_ms() < end) {
        pump_all(srv, e, cli, c, p);
        while (chan_client_recv(cli, &buf, &len) == FL_OK) {
            uint64_t re = get64(buf + 8);
            if (re >= first && re <= last) {
                replies[re - first]++;
            }
            free(buf);
        }
    }
    for (i = 0; i < want; i++) {
        int seen = 0;
        assert_int_equal(replies[i], 1);
        for (j = before; j < e->n_got; j++) {
            seen += e->got[j] == first + (uint64_t) i;
        }
        assert_int_equal(seen, 1);
    }
    assert_int_equal(chan_client_outbox_len(cli), 0);
}

/* Both sides' reply_timeout_ms in setup_pair. */
#define PAIR_REPLY_TIMEOUT_MS 400

static void
setup_pair(chan_server_t **srv, chan_client_t **cli, proxy_t *p, echo_t *e,
           cev_t *c)
{
    chan_server_opts_t so;
    chan_client_opts_t co;
    fl_errbuf_t eb = {{0}};
    uint8_t *w;
    size_t wl;
    int64_t end;

    server_opts(&so, "tcp://127.0.0.1:*");
    so.reply_timeout_ms = PAIR_REPLY_TIMEOUT_MS;
    assert_int_equal(chan_server_new(&so, srv, &eb), FL_OK);
    proxy_start(p, chan_server_port(*srv));
    client_opts(&co, p->port, "hosp-a");
    co.reply_timeout_ms = PAIR_REPLY_TIMEOUT_MS;
    assert_int_equal(chan_client_new(&co, cli, &eb), FL_OK);
    /* A handshake that never completes fails here, not at ctest's timeout. */
    end = fl_clock_mono_ms() + 10000;
    while (!chan_client_is_ready(*cli) && fl_clock_mono_ms() < end) {
        pump_all(*srv, e, *cli, c, p);
    }
    assert_true(chan_client_is_ready(*cli));
    assert_int_equal(chan_client_recv(*cli, &w, &wl), FL_OK);
    free(w);
}

static void
dropped(int drop_up, int drop_down, uint64_t n)
{
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    proxy_t p;
    echo_t e = {.echo = true};
    cev_t c = {0};
    chan_stats_t st;

    setup_pair(&srv, &cli, &p, &e, &c);
    p.drop_up = drop_up ? p.rec_up + drop_up : 0;
    p.drop_down = drop_down ? p.rec_down + drop_down : 0;
    exchange(srv, &e, cli, &c, &p, 1, n, 10000);
    assert_int_equal(p.dropped, 1);
    /* Recovery went through a second authenticated session. */
    chan_server_stats(srv, &st);
    assert_true(st.handshakes_ok >= 2);
    assert_non_null(find_ev(c.ev, c.n, CHAN_EV_CLOSED, NULL));
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
    proxy_stop(&p);
}

static void
test_drop_request_frame(void **state)
{
    (void) state;
    dropped(3, 0, 10); /* the node's 3rd request never arrives */
}

static void
test_drop_reply_frame(void **state)
{
    (void) state;
    dropped(0, 3, 10); /* the 3rd reply never arrives */
}

static void
test_drop_last_reply(void **state)
{
    (void) state;
    dropped(0, 1, 1); /* only the reply timeout can notice */
}

/* ---- requests of the coordinator's own ---- */

#define SREQ_LEN 3000
#define SREQ_FIRST 900001u /* the coordinator's request ids */
#define NREPLY_OFF 100000u /* the node answers request id with id - this */

/* The node's application: counts the coordinator's requests
 * SREQ_FIRST.. delivered to it (got[id - SREQ_FIRST], n of them) and
 * answers each one (a reply, so the node does not keep it). */
static void
node_answer(chan_client_t *cli, int *got, int n)
{
    fl_errbuf_t eb = {{0}};
    uint8_t *buf, *r;
    size_t len;

    while (chan_client_recv(cli, &buf, &len) == FL_OK) {
        uint64_t id = get64(buf), re = get64(buf + 8);
        if (re == 0 && id >= SREQ_FIRST && id < SREQ_FIRST + (uint64_t) n) {
            uint8_t *want = tmsg_new(id, 0, SREQ_LEN, (uint32_t) id);
            assert_int_equal(len, SREQ_LEN);
            assert_memory_equal(buf + 16, want + 16, SREQ_LEN - 16);
            free(want);
            got[id - SREQ_FIRST]++;
            r = tmsg_new(id - NREPLY_OFF, id, 64, 1);
            assert_int_equal(chan_client_send(cli, r, 64, 0, &eb), FL_OK);
            free(r);
        }
        free(buf);
    }
}

/* How many times the coordinator's application received message id. */
static int
app_got(const echo_t *e, uint64_t id)
{
    int i, k = 0;

    for (i = 0; i < e->n_got; i++) {
        k += e->got[i] == id;
    }
    return k;
}

static void
server_request(chan_server_t *srv, uint64_t id)
{
    fl_errbuf_t eb = {{0}};
    uint8_t *m = tmsg_new(id, 0, SREQ_LEN, (uint32_t) id);

    assert_int_equal(chan_server_send(srv, "hosp-a", m, SREQ_LEN, 0, &eb),
                     FL_OK);
    free(m);
}

/*
 * The coordinator sends two requests to a live node. The first is answered
 * in time and never sent again. The proxy drops the frame of the second:
 * nothing else would ever reach the node (it keeps nothing, so its own
 * reply timeout never fires), so only the coordinator's periodic resend
 * (resend_kept) can recover it: reply_timeout_ms after the send the same
 * message goes out again, the node finds its TLS stream broken by the gap
 * and starts a new session, whose Welcome brings the kept request again.
 * The node's application gets it once, answers, the coordinator's
 * application gets the answer once and nothing stays kept.
 */
static void
test_server_request_resent(void **state)
{
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    proxy_t p;
    echo_t e = {.echo = false};
    cev_t c = {0};
    chan_stats_t st;
    int got[2] = {0, 0}, rec, lost;
    const uint64_t a = SREQ_FIRST, b = SREQ_FIRST + 1;
    int64_t t0, t_resend = -1, end;

    (void) state;
    setup_pair(&srv, &cli, &p, &e, &c);
    chan_server_stats(srv, &st);
    assert_int_equal(st.handshakes_ok, 1);
    assert_int_equal(st.retained_bytes, 0);

    /* 1. Answered in time: one frame towards the node, never again. */
    rec = p.rec_down;
    server_request(srv, a);
    chan_server_stats(srv, &st);
    assert_int_equal(st.retained_bytes, SREQ_LEN); /* kept until answered */
    end = fl_clock_mono_ms() + 5000;
    while ((app_got(&e, a - NREPLY_OFF) == 0 || st.retained_bytes != 0) &&
           fl_clock_mono_ms() < end) {
        pump_all(srv, &e, cli, &c, &p);
        node_answer(cli, got, 2);
        chan_server_stats(srv, &st);
    }
    assert_int_equal(got[0], 1);
    assert_int_equal(app_got(&e, a - NREPLY_OFF), 1);
    assert_int_equal(st.retained_bytes, 0);
    assert_int_equal(p.rec_down, rec + 1);
    end = fl_clock_mono_ms() + 3 * PAIR_REPLY_TIMEOUT_MS;
    while (fl_clock_mono_ms() < end) {
        pump_all(srv, &e, cli, &c, &p);
        node_answer(cli, got, 2);
    }
    assert_int_equal(p.rec_down, rec + 1); /* not sent again */
    assert_int_equal(got[0], 1);
    assert_int_equal(app_got(&e, a - NREPLY_OFF), 1);
    assert_int_equal(chan_server_ack(srv, "hosp-a", a), FL_ERR_NOT_FOUND);
    chan_server_stats(srv, &st);
    assert_int_equal(st.handshakes_ok, 1);
    assert_int_equal(p.dropped, 0);

    /* 2. The frame carrying the next request is lost on its way. */
    lost = p.rec_down + 1;
    p.drop_down = lost;
    t0 = fl_clock_mono_ms();
    server_request(srv, b);
    end = t0 + 10000;
    while ((got[1] == 0 || app_got(&e, b - NREPLY_OFF) == 0 ||
            st.retained_bytes != 0) &&
           fl_clock_mono_ms() < end) {
        pump_all(srv, &e, cli, &c, &p);
        if (t_resend < 0 && p.rec_down > lost) {
            t_resend = fl_clock_mono_ms();
        }
        node_answer(cli, got, 2);
        chan_server_stats(srv, &st);
    }
    assert_int_equal(p.dropped, 1);
    if (t_resend < 0) {
        fail_msg("the coordinator never sent the unanswered request again "
                 "(%d of %d ms waited)",
                 (int) (fl_clock_mono_ms() - t0), 10000);
    }
    /* Not before the reply timeout, and the same message again (TLS 1.3
     * records of equal plaintexts have equal lengths). */
    assert_true(t_resend - t0 >= PAIR_REPLY_TIMEOUT_MS);
    assert_true(p.rec_down > lost && lost < 64);
    assert_int_equal(p.down_len[lost], p.down_len[lost - 1]);
    assert_int_equal(got[1], 1);
    assert_int_equal(app_got(&e, b - NREPLY_OFF), 1);
    assert_int_equal(st.retained_bytes, 0);

    /* Three reply timeouts more: no late copy either way, nothing sent
     * again, the kept list stays empty. */
    rec = p.rec_down;
    end = fl_clock_mono_ms() + 3 * PAIR_REPLY_TIMEOUT_MS;
    while (fl_clock_mono_ms() < end) {
        pump_all(srv, &e, cli, &c, &p);
        node_answer(cli, got, 2);
    }
    assert_int_equal(p.rec_down, rec);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 1);
    assert_int_equal(app_got(&e, a - NREPLY_OFF), 1);
    assert_int_equal(app_got(&e, b - NREPLY_OFF), 1);
    assert_int_equal(e.n_got, 2);
    assert_int_equal(chan_server_ack(srv, "hosp-a", b), FL_ERR_NOT_FOUND);
    assert_int_equal(chan_server_ack(srv, "hosp-a", a), FL_ERR_NOT_FOUND);
    chan_server_stats(srv, &st);
    assert_int_equal(st.retained_bytes, 0);
    assert_true(chan_server_is_live(srv, "hosp-a"));
    assert_true(chan_client_is_ready(cli));
    /* The resend broke the node's stream (the lost record left a gap), so
     * the request came back in a second session. */
    assert_int_equal(st.handshakes_ok, 2);
    assert_non_null(find_ev(c.ev, c.n, CHAN_EV_CLOSED, "session lost"));
    assert_int_equal(p.dropped, 1);
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
    proxy_stop(&p);
}

static void
test_coordinator_restart(void **state)
{
    chan_server_opts_t so;
    chan_client_opts_t co;
    chan_server_t *srv = NULL;
    chan_client_t *cli = NULL;
    /* Ids are unique per sender, across its restarts too. */
    echo_t e = {.echo = true}, e2 = {.echo = true, .next_id = 500000};
    cev_t c = {0};
    fl_errbuf_t eb = {{0}};
    char ep[64];
    uint8_t *w;
    size_t wl;
    int port, i;

    (void) state;
    server_opts(&so, "tcp://127.0.0.1:*");
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    port = chan_server_port(srv);
    client_opts(&co, port, "hosp-a");
    co.reply_timeout_ms = 1000;
    assert_int_equal(chan_client_new(&co, &cli, &eb), FL_OK);
    assert_true(pump_ready(srv, &e, cli, &c, 5000));
    assert_int_equal(chan_client_recv(cli, &w, &wl), FL_OK);
    free(w);
    exchange(srv, &e, cli, &c, NULL, 1, 5, 5000);

    /* The coordinator goes away; the node keeps sending. */
    chan_server_destroy(&srv);
    for (i = 0; i < 20; i++) {
        pump_once(NULL, NULL, cli, &c);
    }
    for (i = 6; i <= 10; i++) {
        uint8_t *m = tmsg_new((uint64_t) i, 0, 3000, (uint32_t) i);
        assert_int_equal(chan_client_send(cli, m, 3000, 0, &eb), FL_OK);
        free(m);
    }
    assert_int_equal(chan_client_outbox_len(cli), 5);
    for (i = 0; i < 50; i++) {
        pump_once(NULL, NULL, cli, &c);
    }
    assert_false(chan_client_is_ready(cli));

    /* A new coordinator process on the same port. */
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port);
    server_opts(&so, ep);
    assert_int_equal(chan_server_new(&so, &srv, &eb), FL_OK);
    assert_true(pump_ready(srv, &e2, cli, &c, 5000));
    /* Nothing new: exchange() waits for 6..10 already queued. */
    {
        int replies[5] = {0}, got = 0;
        int64_t end = fl_clock_mono_ms() + 5000;
        uint8_t *buf;
        size_t len;
        while (fl_clock_mono_ms() < end && got < 6) {
            pump_once(srv, &e2, cli, &c);
            while (chan_client_recv(cli, &buf, &len) == FL_OK) {
                uint64_t re = get64(buf + 8);
                got++;
                if (re >= 6 && re <= 10) {
                    replies[re - 6]++;
                }
                free(buf);
            }
        }
        assert_int_equal(got, 6); /* the new Welcome and 5 replies */
        for (i = 0; i < 5; i++) {
            assert_int_equal(replies[i], 1);
        }
    }
    assert_int_equal(e2.n_got, 5);
    for (i = 0; i < 5; i++) {
        assert_int_equal(e2.got[i], (uint64_t) (6 + i));
    }
    assert_int_equal(chan_client_outbox_len(cli), 0);
    assert_non_null(find_ev(c.ev, c.n, CHAN_EV_CLOSED, "transport"));
    chan_client_destroy(&cli);
    chan_server_destroy(&srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_request_frame),
        cmocka_unit_test(test_drop_reply_frame),
        cmocka_unit_test(test_drop_last_reply),
        cmocka_unit_test(test_server_request_resent),
        cmocka_unit_test(test_coordinator_restart),
    };

    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
