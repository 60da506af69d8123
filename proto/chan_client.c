/*
 * proto/chan_client.c: the node's side of the channel (DEALER).
 *
 * States: CONNECTING (no transport) -> HS (handshake flights) -> WELCOME
 * (our handshake is done; TLS 1.3 lets the coordinator judge our
 * certificate after that, so we send nothing until its Welcome) -> READY.
 * A socket monitor reports transport reconnects; each one, and each RESET,
 * ALERT, broken record or reply timeout, starts a new session with a new
 * random session id. Refusals back off exponentially.
 *
 * Requests (in_reply_to 0) stay in the outbox until answered and are sent
 * again, in order, after every Welcome. Replies are cached so that a
 * request the coordinator sends again is answered again, not delivered
 * twice.
 */
#include "proto/chan_internal.h"
#include "proto/codec.h"
#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_CACHE_MAX 16u

typedef enum { C_CONNECTING, C_WAIT, C_HS, C_WELCOME, C_READY } cstate_t;

struct chan_client {
    void *zctx, *sock, *mon;
    bool own_zctx; /* false: borrowed from the options */
    chan_tls_files_t files;
    char *server_name;
    SSL_CTX *ctx;
    cstate_t state;
    bool connected, has_st, flush;
    chan__stream_t st;
    uint8_t sid[CHAN_SID_LEN];
    int64_t hs_start_ms, hs_start_ns, retry_at_ms;
    int backoff_ms;
    chan__fifo_t outbox, replies, inbox;
    chan__seen_t seen;
    chan__evq_t evq;
    chan_msgid_fn msgid;
    size_t max_msg, max_outbox;
    int hs_timeout, reply_timeout, retry_min, retry_max;
    double last_hs_ms;
};

static fl_err_t
emit(void *arg, uint8_t type, zmq_msg_t *m)
{
    chan_client_t *c = arg;

    return chan__frame_send(c->sock, NULL, 0, type, c->sid, m);
}

static void
drop_stream(chan_client_t *c)
{
    if (c->has_st) {
        chan__stream_free(&c->st);
        c->has_st = false;
    }
}

/* Ends the current session; the next starts after delay_ms. */
static void
end_session(chan_client_t *c, int delay_ms)
{
    drop_stream(c);
    c->state = c->connected ? C_WAIT : C_CONNECTING;
    c->retry_at_ms = fl_clock_mono_ms() + delay_ms;
}

/* After a refusal: wait, doubling the wait each time up to the maximum. */
static void
back_off(chan_client_t *c)
{
    end_session(c, c->backoff_ms);
    c->backoff_ms =
        c->backoff_ms * 2 > c->retry_max ? c->retry_max : c->backoff_ms * 2;
}

static void
start_session(chan_client_t *c)
{
    char why[CHAN_REASON_MAX] = "";
    fl_err_t rc;

    drop_stream(c);
    if (!c->connected) {
        c->state = C_CONNECTING;
        return;
    }
    if (chan__random(c->sid, sizeof(c->sid)) != FL_OK ||
        chan__stream_init(&c->st, c->ctx, false, c->server_name, c->max_msg,
                          c) != FL_OK) {
        back_off(c);
        return;
    }
    c->has_st = true;
    c->state = C_HS;
    c->hs_start_ms = fl_clock_mono_ms();
    c->hs_start_ns = fl_clock_mono_ns();
    rc = chan__stream_handshake(&c->st, emit, c, why, sizeof(why));
    if (rc != FL_ERR_AGAIN) {
        chan__evq_push(&c->evq, CHAN_EV_REFUSED, "", "", "",
                       "cannot start a handshake: %s",
                       why[0] ? why : fl_strerror(rc));
        back_off(c);
    }
}

static fl_err_t
send_now(chan_client_t *c, const uint8_t *buf, size_t len)
{
    fl_err_t rc = chan__stream_write(&c->st, buf, len, emit, c);

    if (rc != FL_OK) {
        chan__evq_push(&c->evq, CHAN_EV_CLOSED, "", "", "",
                       "send to the coordinator failed (%s); new session",
                       fl_strerror(rc));
        end_session(c, 0);
    }
    return rc;
}

/* After the Welcome: every kept request again, in order. */
static void
flush_outbox(chan_client_t *c)
{
    int64_t now = fl_clock_mono_ms();
    chan__msg_t *m;

    for (m = c->outbox.head; m != NULL && c->state == C_READY; m = m->next) {
        m->sent_ms = now;
        (void) send_now(c, m->buf, m->len);
    }
}

static void
resend_reply(chan_client_t *c, uint64_t req_id)
{
    chan__msg_t *m;

    for (m = c->replies.head; m != NULL; m = m->next) {
        if (m->reply_to == req_id) {
            /* A failed send shows as a broken session on the next read. */
            fl_err_t rc = chan__stream_write(&c->st, m->buf, m->len, emit, c);
            (void) rc;
            return;
        }
    }
}

static fl_err_t
deliver(void *arg, uint8_t *buf, size_t len)
{
    chan_client_t *c = arg;
    uint64_t id = 0, re = 0;
    chan__msg_t *m;

    if (c->msgid(buf, len, &id, &re) != FL_OK || id == 0) {
        chan__evq_push(&c->evq, CHAN_EV_PROTO, "", "", "",
                       "coordinator sent a %zu-byte message without a valid "
                       "envelope id; dropped",
                       len);
        free(buf);
        return FL_OK;
    }
    if (c->state == C_WELCOME) {
        c->state = C_READY;
        c->flush = true;
        c->backoff_ms = c->retry_min;
        c->last_hs_ms = (double) (fl_clock_mono_ns() - c->hs_start_ns) / 1e6;
        chan__evq_push(&c->evq, CHAN_EV_READY, "", "", "",
                       "Welcome received; session ready");
    }
    if (re != 0) {
        chan__msg_free(chan__fifo_take(&c->outbox, re));
    }
    if (chan__seen_has(&c->seen, id)) {
        free(buf);
        resend_reply(c, id);
        return FL_OK;
    }
    m = chan__msg_new(buf, len, false);
    if (m == NULL) {
        free(buf);
        return FL_ERR_NOMEM;
    }
    chan__seen_add(&c->seen, id);
    m->id = id;
    m->reply_to = re;
    chan__fifo_push(&c->inbox, m);
    return FL_OK;
}

static void
on_hs(chan_client_t *c)
{
    char why[CHAN_REASON_MAX] = "";
    fl_err_t rc = chan__stream_handshake(&c->st, emit, c, why, sizeof(why));

    if (rc == FL_OK) {
        c->state = C_WELCOME;
    } else if (rc != FL_ERR_AGAIN) {
        chan__evq_push(&c->evq, CHAN_EV_REFUSED, "", "", "",
                       "handshake with the coordinator failed: %s", why);
        back_off(c);
    }
}

static void
on_rec(chan_client_t *c, uint8_t type)
{
    char why[CHAN_REASON_MAX] = "";
    bool judging = c->state == C_WELCOME;
    fl_err_t rc;

    if (type == CHAN_T_ALERT && c->state == C_HS) {
        rc = chan__stream_handshake(&c->st, emit, c, why, sizeof(why));
    } else {
        rc = chan__stream_read(&c->st, deliver, c, emit, c, why, sizeof(why));
    }
    if (rc == FL_OK && type != CHAN_T_REC) {
        snprintf(why, sizeof(why), "session ended by the coordinator");
        rc = FL_ERR_CLOSED;
    }
    if (rc == FL_OK || rc == FL_ERR_AGAIN) {
        if (c->flush) {
            c->flush = false;
            flush_outbox(c);
        }
        return;
    }
    if (judging || c->state == C_HS) {
        /* The coordinator judged our certificate and said no. */
        chan__evq_push(&c->evq, CHAN_EV_REFUSED, "", "", "",
                       "coordinator refused the session: %s", why);
        back_off(c);
    } else {
        chan__evq_push(&c->evq, CHAN_EV_CLOSED, "", "", "",
                       "session lost: %s; new session", why);
        end_session(c, rc == FL_ERR_CLOSED ? c->retry_min : 0);
    }
}

static void
handle(chan_client_t *c, chan__inmsg_t *in)
{
    if (!c->has_st || memcmp(in->hdr.sid, c->sid, CHAN_SID_LEN) != 0) {
        return; /* a frame of an older session */
    }
    if (in->hdr.type == CHAN_T_RESET) {
        chan__evq_push(&c->evq, CHAN_EV_CLOSED, "", "", "",
                       "coordinator does not know the session (RESET); "
                       "new session");
        end_session(c, c->state == C_READY ? 0 : c->backoff_ms);
        return;
    }
    if (chan__stream_feed(&c->st, zmq_msg_data(&in->tls),
                          zmq_msg_size(&in->tls)) != FL_OK) {
        end_session(c, 0);
        return;
    }
    if (in->hdr.type == CHAN_T_HS && c->state == C_HS) {
        on_hs(c);
    } else if (in->hdr.type == CHAN_T_HS) {
        chan__evq_push(&c->evq, CHAN_EV_PROTO, "", "", "",
                       "handshake frame after the handshake; new session");
        end_session(c, c->retry_min);
    } else {
        on_rec(c, in->hdr.type);
    }
}

static void
on_monitor(chan_client_t *c)
{
    zmq_msg_t part;
    uint16_t ev = 0;

    zmq_msg_init(&part);
    while (zmq_msg_recv(&part, c->mon, ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_size(&part) >= 6 && zmq_msg_more(&part)) {
            memcpy(&ev, zmq_msg_data(&part), sizeof(ev));
            if (ev == ZMQ_EVENT_CONNECTED) {
                c->connected = true;
                start_session(c);
            } else if (ev == ZMQ_EVENT_DISCONNECTED) {
                if (c->state == C_READY || c->state == C_WELCOME) {
                    chan__evq_push(&c->evq, CHAN_EV_CLOSED, "", "", "",
                                   "transport to the coordinator lost");
                }
                c->connected = false;
                end_session(c, 0);
            }
        }
        zmq_msg_close(&part);
        zmq_msg_init(&part);
    }
    zmq_msg_close(&part);
}

/* Handshake, reply and retry timers; returns ms until the next one. */
static int
timers(chan_client_t *c)
{
    int64_t now = fl_clock_mono_ms(), dl = now + 3600000;

    if (c->state == C_HS || c->state == C_WELCOME) {
        dl = c->hs_start_ms + c->hs_timeout;
        if (now >= dl) {
            chan__evq_push(&c->evq, CHAN_EV_REFUSED, "", "", "",
                           "no %s from the coordinator within %d ms",
                           c->state == C_HS ? "handshake answer" : "Welcome",
                           c->hs_timeout);
            back_off(c);
        }
    } else if (c->state == C_READY && c->reply_timeout > 0 &&
               c->outbox.head != NULL) {
        dl = c->outbox.head->sent_ms + c->reply_timeout;
        if (now >= dl) {
            chan__evq_push(&c->evq, CHAN_EV_CLOSED, "", "", "",
                           "no reply to message %llu within %d ms; new "
                           "session",
                           (unsigned long long) c->outbox.head->id,
                           c->reply_timeout);
            end_session(c, 0);
        }
    }
    if (c->state == C_WAIT) {
        dl = c->retry_at_ms;
        if (now >= dl) {
            start_session(c);
            dl = now + 1;
        }
    }
    return dl - now > 3600000 ? 3600000 : (int) (dl > now ? dl - now : 0);
}

fl_err_t
chan_client_poll(chan_client_t *cli, int timeout_ms, fl_errbuf_t *eb)
{
    zmq_pollitem_t items[2] = {{cli->sock, 0, ZMQ_POLLIN, 0},
                               {cli->mon, 0, ZMQ_POLLIN, 0}};
    int next = timers(cli), i;

    if (timeout_ms < 0 || next < timeout_ms) {
        timeout_ms = next;
    }
    if (zmq_poll(items, 2, timeout_ms) < 0 && errno != EINTR) {
        return fl_fail(eb, FL_ERR_IO, "channel: zmq_poll: %s",
                       zmq_strerror(errno));
    }
    on_monitor(cli);
    for (i = 0; i < 4096 && cli->inbox.bytes < CHAN_INBOX_MSGS * cli->max_msg;
         i++) {
        chan__inmsg_t in;
        char why[CHAN_REASON_MAX] = "";
        fl_err_t rc = chan__frame_recv(cli->sock, false, &in, why, sizeof(why));
        if (rc == FL_ERR_AGAIN || rc == FL_ERR_IO) {
            break;
        }
        if (rc != FL_OK) {
            chan__evq_push(&cli->evq, CHAN_EV_PROTO, "", "", "",
                           "malformed frame from the coordinator: %s", why);
            continue;
        }
        handle(cli, &in);
        chan__inmsg_close(&in);
    }
    (void) timers(cli);
    return FL_OK;
}

fl_err_t
chan_client_event(chan_client_t *cli, chan_event_t *ev)
{
    return chan__evq_pop(&cli->evq, ev) ? FL_OK : FL_ERR_AGAIN;
}

fl_err_t
chan_client_recv(chan_client_t *cli, uint8_t **buf, size_t *len)
{
    chan__msg_t *m = chan__fifo_pop(&cli->inbox);

    if (m == NULL) {
        return FL_ERR_AGAIN;
    }
    *buf = m->buf;
    *len = m->len;
    m->buf = NULL;
    chan__msg_free(m);
    return FL_OK;
}

static fl_err_t
cache_reply(chan_client_t *c, chan__msg_t *m)
{
    while (c->replies.head != NULL &&
           (c->replies.count >= REPLY_CACHE_MAX ||
            c->outbox.bytes + c->replies.bytes + m->len > c->max_outbox)) {
        chan__msg_free(chan__fifo_pop(&c->replies));
    }
    if (c->outbox.bytes + c->replies.bytes + m->len > c->max_outbox) {
        return FL_ERR_LIMIT;
    }
    chan__fifo_push(&c->replies, m);
    return FL_OK;
}

/* Shared by the copying and the owning send: own is buf when the caller
 * handed it over (freed here unless kept), NULL when buf is borrowed. */
static fl_err_t
client_send(chan_client_t *cli, const uint8_t *buf, uint8_t *own, size_t len,
            unsigned flags, fl_errbuf_t *eb)
{
    uint64_t id = 0, re = 0;
    bool ready = cli->state == C_READY;
    chan__msg_t *m;
    fl_err_t rc = FL_OK;

    if (len == 0 || len > cli->max_msg) {
        rc = fl_fail(eb, FL_ERR_LIMIT,
                     "channel: message of %zu bytes (limit %zu)", len,
                     cli->max_msg);
        goto out;
    }
    if (cli->msgid(buf, len, &id, &re) != FL_OK || id == 0) {
        rc = fl_fail(eb, FL_ERR_PARSE, "channel: message has no valid id");
        goto out;
    }
    if (re == 0 && (flags & CHAN_SEND_NO_REPLY)) {
        if (!ready || send_now(cli, buf, len) != FL_OK) {
            rc = fl_fail(eb, FL_ERR_CLOSED, "channel: no ready session");
        }
        goto out;
    }
    if (re == 0 &&
        cli->outbox.bytes + cli->replies.bytes + len > cli->max_outbox) {
        rc = fl_fail(eb, FL_ERR_LIMIT, "channel: outbox full (%zu bytes)",
                     cli->max_outbox);
        goto out;
    }
    m = chan__msg_new(own != NULL ? own : buf, len, own == NULL);
    if (m == NULL) {
        rc = fl_fail(eb, FL_ERR_NOMEM, "channel: out of memory");
        goto out;
    }
    own = NULL; /* m holds it now */
    m->id = id;
    m->reply_to = re;
    m->sent_ms = fl_clock_mono_ms();
    if (ready) {
        /* A failed send ends the session; m is kept for the next one. */
        (void) send_now(cli, m->buf, len);
    }
    if (re == 0) {
        chan__fifo_push(&cli->outbox, m);
    } else if (cache_reply(cli, m) != FL_OK) {
        chan__msg_free(m); /* too big to cache: sent once */
    }
out:
    free(own);
    return rc;
}

fl_err_t
chan_client_send(chan_client_t *cli, const uint8_t *buf, size_t len,
                 unsigned flags, fl_errbuf_t *eb)
{
    return client_send(cli, buf, NULL, len, flags, eb);
}

fl_err_t
chan_client_send_owned(chan_client_t *cli, uint8_t *buf, size_t len,
                       unsigned flags, fl_errbuf_t *eb)
{
    if (buf == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "channel: NULL message");
    }
    return client_send(cli, buf, buf, len, flags, eb);
}

bool
chan_client_is_ready(const chan_client_t *cli)
{
    return cli->state == C_READY;
}

size_t
chan_client_outbox_len(const chan_client_t *cli)
{
    return cli->outbox.count;
}

void
chan_client_rehandshake(chan_client_t *cli)
{
    end_session(cli, 0);
}

double
chan_client_last_handshake_ms(const chan_client_t *cli)
{
    return cli->last_hs_ms;
}

static fl_err_t
open_sockets(chan_client_t *c, const chan_client_opts_t *o, fl_errbuf_t *eb)
{
    uint8_t rid[8];
    char mon_ep[64];
    int one = 1;
    int hb = o->heartbeat_ms > 0 ? o->heartbeat_ms : 2000;
    int sndto = o->send_timeout_ms > 0 ? o->send_timeout_ms : 5000;
    fl_err_t rc;

    c->own_zctx = o->zmq_context == NULL;
    c->zctx = c->own_zctx ? zmq_ctx_new() : o->zmq_context;
    c->sock = c->zctx ? zmq_socket(c->zctx, ZMQ_DEALER) : NULL;
    c->mon = c->zctx ? zmq_socket(c->zctx, ZMQ_PAIR) : NULL;
    if (c->sock == NULL || c->mon == NULL) {
        return fl_fail(eb, FL_ERR_IO, "channel: zmq socket: %s",
                       zmq_strerror(errno));
    }
    rc = chan__sock_setup(c->sock, hb, sndto, eb);
    if (rc != FL_OK) {
        return rc;
    }
    /* A stable routing id lets ROUTER_HANDOVER move us to a new
     * connection; ids starting with 0 are reserved by ZeroMQ. */
    if (chan__random(rid, sizeof(rid)) != FL_OK) {
        return fl_fail(eb, FL_ERR_CRYPTO, "channel: no randomness");
    }
    rid[0] = (uint8_t) (rid[0] | 1);
    snprintf(mon_ep, sizeof(mon_ep), "inproc://chan-mon-%p", (void *) c);
    if (zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, rid, sizeof(rid)) ||
        zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) ||
        zmq_socket_monitor(c->sock, mon_ep,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) ||
        zmq_connect(c->mon, mon_ep)) {
        return fl_fail(eb, FL_ERR_IO, "channel: socket options: %s",
                       zmq_strerror(errno));
    }
    if (zmq_connect(c->sock, o->endpoint) != 0) {
        return fl_fail(eb, FL_ERR_IO, "channel: connect %s: %s", o->endpoint,
                       zmq_strerror(errno));
    }
    /* inproc emits no monitor events: connected once connect returns. */
    if (strncmp(o->endpoint, "inproc://", 9) == 0) {
        c->connected = true;
        c->state = C_WAIT; /* the handshake starts at the next poll */
        c->retry_at_ms = 0;
    }
    return FL_OK;
}

static void
set_defaults(chan_client_t *c, const chan_client_opts_t *o)
{
    c->msgid = o->msgid ? o->msgid : pb_envelope_peek;
    c->max_msg = o->max_msg_size ? o->max_msg_size : PB_MAX_MESSAGE_DEFAULT;
    c->hs_timeout =
        o->handshake_timeout_ms > 0 ? o->handshake_timeout_ms : 5000;
    c->reply_timeout = o->reply_timeout_ms == 0 ? 30000 : o->reply_timeout_ms;
    c->retry_min = o->retry_min_ms > 0 ? o->retry_min_ms : 200;
    c->retry_max = o->retry_max_ms > 0 ? o->retry_max_ms : 5000;
    if (c->retry_max < c->retry_min) {
        c->retry_max = c->retry_min;
    }
    c->backoff_ms = c->retry_min;
    c->max_outbox = o->max_outbox_bytes ? o->max_outbox_bytes : 4 * c->max_msg;
    c->last_hs_ms = -1.0;
    c->state = C_CONNECTING;
}

fl_err_t
chan_client_new(const chan_client_opts_t *o, chan_client_t **out,
                fl_errbuf_t *eb)
{
    chan_client_t *c;
    fl_err_t rc;

    *out = NULL;
    if (o == NULL || o->endpoint == NULL || o->server_name == NULL ||
        o->server_name[0] == '\0') {
        return fl_fail(eb, FL_ERR_INVALID,
                       "channel: endpoint and server_name are required");
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "channel: out of memory");
    }
    set_defaults(c, o);
    c->server_name = strdup(o->server_name);
    rc = c->server_name ? chan__files_copy(&c->files, &o->tls, eb)
                        : fl_fail(eb, FL_ERR_NOMEM, "channel: out of memory");
    if (rc == FL_OK) {
        rc = chan__ctx_new(&c->files, false, NULL, &c->ctx, eb);
    }
    if (rc == FL_OK) {
        rc = open_sockets(c, o, eb);
    }
    if (rc != FL_OK) {
        chan_client_destroy(&c);
        return rc;
    }
    *out = c;
    return FL_OK;
}

void
chan_client_destroy(chan_client_t **p)
{
    chan_client_t *c = p ? *p : NULL;

    if (c == NULL) {
        return;
    }
    if (c->has_st && c->state == C_READY) {
        chan__stream_close(&c->st, emit, c);
    }
    drop_stream(c);
    chan__fifo_clear(&c->outbox);
    chan__fifo_clear(&c->replies);
    chan__fifo_clear(&c->inbox);
    if (c->sock != NULL) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
    }
    if (c->mon != NULL) {
        zmq_close(c->mon);
    }
    if (c->zctx != NULL && c->own_zctx) {
        zmq_ctx_term(c->zctx);
    }
    SSL_CTX_free(c->ctx);
    chan__files_free(&c->files);
    free(c->server_name);
    free(c);
    *p = NULL;
}
