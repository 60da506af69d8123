/*
 * proto/chan_server.c: the coordinator's side of the channel (ROUTER).
 *
 * Sessions are keyed by (routing id, node-chosen session id). An HS frame
 * with an unknown key starts a half-open session; half-open sessions are
 * capped in number and in TLS bytes each, and dropped after the handshake
 * timeout, so a flood of peers costs bounded memory. The client
 * certificate is judged in the verify callback (CRL, purpose, SAN URI,
 * allow-list, fingerprint, duplicate guard), so a refusal reaches the node
 * as a TLS alert. An authorised session waits for the application's
 * Welcome; one live session per identity, the newest wins.
 *
 * Per identity the server keeps its unanswered requests (sent again after
 * the next Welcome), its recent replies (sent again when the request comes
 * again) and the ids it delivered (duplicates are not delivered twice).
 */
#include "proto/chan_internal.h"
#include "proto/codec.h"
#include "common/clock.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_CACHE_MAX 16u
#define RECV_BATCH 4096

typedef enum { S_HS, S_WELCOME, S_LIVE } sstate_t;

typedef struct peer peer_t;
typedef struct sess sess_t;

struct peer {
    char site_id[CHAN_SITE_ID_MAX + 1];
    char fpr[CHAN_FPR_HEX_LEN + 1]; /* required fingerprint or "" */
    sess_t *live;                   /* welcomed or awaiting Welcome */
    chan__seen_t seen;
    chan__fifo_t kept;    /* requests not yet answered */
    chan__fifo_t replies; /* recent replies */
};

struct sess {
    sess_t *next;
    chan_server_t *srv;
    uint8_t rid[256];
    size_t rid_len;
    uint8_t sid[CHAN_SID_LEN];
    sstate_t state;
    chan__stream_t st;
    int64_t created_ms, last_rx_ms;
    size_t rx_bytes;
    char addr[64];
    char site_id[CHAN_SITE_ID_MAX + 1];
    char fpr[CHAN_FPR_HEX_LEN + 1];
    char refuse[CHAN_REASON_MAX]; /* set by the verify callback */
    peer_t *peer;
};

struct chan_server {
    void *zctx, *sock;
    bool own_zctx; /* false: borrowed from the options */
    int port;
    chan_tls_files_t files;
    SSL_CTX *ctx;
    peer_t *peers;
    size_t n_peers;
    sess_t *sessions;
    chan__fifo_t inbox;
    chan__evq_t evq;
    chan_stats_t stats;
    chan_msgid_fn msgid;
    size_t max_msg, max_unauth, max_unauth_bytes, max_retained;
    int hs_timeout, idle_timeout, dup_guard, reply_timeout;
};

static fl_err_t live_write(chan_server_t *srv, sess_t *s, const uint8_t *buf,
                           size_t len);

static peer_t *
find_peer(const chan_server_t *srv, const char *site_id)
{
    size_t i;

    for (i = 0; i < srv->n_peers; i++) {
        if (strcmp(srv->peers[i].site_id, site_id) == 0) {
            return &srv->peers[i];
        }
    }
    return NULL;
}

static sess_t *
find_sess(const chan_server_t *srv, const chan__inmsg_t *in)
{
    sess_t *s;

    for (s = srv->sessions; s != NULL; s = s->next) {
        if (s->rid_len == in->rid_len &&
            memcmp(s->rid, in->rid, in->rid_len) == 0 &&
            memcmp(s->sid, in->hdr.sid, CHAN_SID_LEN) == 0) {
            return s;
        }
    }
    return NULL;
}

static fl_err_t
emit(void *arg, uint8_t type, zmq_msg_t *m)
{
    sess_t *s = arg;

    return chan__frame_send(s->srv->sock, s->rid, s->rid_len, type, s->sid, m);
}

static void
sess_drop(chan_server_t *srv, sess_t *s)
{
    sess_t **pp;

    for (pp = &srv->sessions; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (s->state == S_HS) {
        srv->stats.sessions_unauth--;
        srv->stats.unauth_bytes -= s->rx_bytes;
    } else {
        srv->stats.sessions_live--;
    }
    if (s->peer != NULL && s->peer->live == s) {
        s->peer->live = NULL;
    }
    chan__stream_free(&s->st);
    free(s);
}

/* Sends close_notify (best effort), reports and drops a session. */
static void
sess_close(chan_server_t *srv, sess_t *s, chan_event_type_t ev, const char *why)
{
    if (s->state != S_HS) {
        chan__stream_close(&s->st, emit, s);
    }
    chan__evq_push(&srv->evq, ev, s->site_id, s->fpr, s->addr, "%s", why);
    if (ev == CHAN_EV_REFUSED) {
        srv->stats.handshakes_refused++;
    }
    sess_drop(srv, s);
}

/* Judges the client certificate (depth 0) once the chain has verified. */
static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    sess_t *s = ssl ? SSL_get_app_data(ssl) : NULL;
    const chan_server_t *srv;
    const peer_t *p;
    char why[CHAN_REASON_MAX] = "";
    int64_t now;
    fl_err_t rc;

    ok = chan__check_revocation(ok, xs);
    if (s == NULL || X509_STORE_CTX_get_error_depth(xs) != 0) {
        return ok;
    }
    srv = s->srv;
    rc = chan__cert_identity(X509_STORE_CTX_get_current_cert(xs), s->site_id,
                             s->fpr, why, sizeof(why));
    if (!ok) {
        return 0; /* the chain's own error is the reason */
    }
    if (rc != FL_OK) {
        snprintf(s->refuse, sizeof(s->refuse), "%s", why);
        goto refuse;
    }
    p = find_peer(srv, s->site_id);
    now = fl_clock_mono_ms();
    if (p == NULL) {
        snprintf(s->refuse, sizeof(s->refuse),
                 "site '%s' is not on the allow-list", s->site_id);
        goto refuse;
    }
    if (p->fpr[0] != '\0' && strcmp(p->fpr, s->fpr) != 0) {
        snprintf(s->refuse, sizeof(s->refuse),
                 "site '%s': certificate fingerprint %s does not match the "
                 "allow-list",
                 s->site_id, s->fpr);
        goto refuse;
    }
    if (srv->dup_guard > 0 && p->live != NULL &&
        (p->live->rid_len != s->rid_len ||
         memcmp(p->live->rid, s->rid, s->rid_len) != 0) &&
        now - p->live->last_rx_ms < srv->dup_guard) {
        snprintf(s->refuse, sizeof(s->refuse),
                 "site '%s' already has a live session active %lld ms ago "
                 "from %s (two processes sharing one certificate?)",
                 s->site_id, (long long) (now - p->live->last_rx_ms),
                 p->live->addr);
        goto refuse;
    }
    return 1;
refuse:
    X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

/* Evicts the oldest half-open session when the cap is reached. */
static void
make_room(chan_server_t *srv)
{
    sess_t *s;

    if (srv->stats.sessions_unauth < srv->max_unauth) {
        return;
    }
    for (s = srv->sessions; s != NULL; s = s->next) {
        if (s->state == S_HS) {
            srv->stats.evicted_unauth++;
            sess_drop(srv, s);
            return;
        }
    }
}

static sess_t *
sess_new(chan_server_t *srv, const chan__inmsg_t *in)
{
    sess_t *s, **pp;

    make_room(srv);
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->srv = srv;
    memcpy(s->rid, in->rid, in->rid_len);
    s->rid_len = in->rid_len;
    memcpy(s->sid, in->hdr.sid, CHAN_SID_LEN);
    s->state = S_HS;
    s->created_ms = s->last_rx_ms = fl_clock_mono_ms();
    chan__strlcpy(s->addr, in->peer_addr, sizeof(s->addr));
    if (chan__stream_init(&s->st, srv->ctx, true, NULL, srv->max_msg, s) !=
        FL_OK) {
        free(s);
        return NULL;
    }
    for (pp = &srv->sessions; *pp != NULL; pp = &(*pp)->next) {
    }
    *pp = s;
    srv->stats.sessions_unauth++;
    return s;
}

static void
authenticated(chan_server_t *srv, sess_t *s)
{
    peer_t *p = find_peer(srv, s->site_id);

    srv->stats.sessions_unauth--;
    srv->stats.unauth_bytes -= s->rx_bytes;
    srv->stats.sessions_live++;
    s->state = S_WELCOME;
    srv->stats.handshakes_ok++;
    if (p->live != NULL && p->live != s) {
        sess_close(srv, p->live, CHAN_EV_CLOSED,
                   "replaced by a newer session of the same site");
    }
    p->live = s;
    s->peer = p;
    chan__evq_push(&srv->evq, CHAN_EV_AUTHENTICATED, s->site_id, s->fpr,
                   s->addr, "site '%s' authenticated (fingerprint %s)",
                   s->site_id, s->fpr);
}

static void
on_hs(chan_server_t *srv, sess_t *s, const chan__inmsg_t *in)
{
    char why[CHAN_REASON_MAX] = "";
    size_t n = zmq_msg_size((zmq_msg_t *) &in->tls);
    fl_err_t rc;

    if (s->state != S_HS) {
        sess_close(srv, s, CHAN_EV_PROTO, "handshake frame on a live session");
        return;
    }
    s->rx_bytes += n;
    srv->stats.unauth_bytes += n;
    if (s->rx_bytes > srv->max_unauth_bytes) {
        sess_close(srv, s, CHAN_EV_REFUSED,
                   "handshake exceeds the byte limit for unauthenticated "
                   "peers");
        return;
    }
    rc = chan__stream_feed(&s->st, zmq_msg_data((zmq_msg_t *) &in->tls), n);
    if (rc == FL_OK) {
        rc = chan__stream_handshake(&s->st, emit, s, why, sizeof(why));
    }
    if (rc == FL_OK) {
        authenticated(srv, s);
    } else if (rc != FL_ERR_AGAIN) {
        sess_close(srv, s, CHAN_EV_REFUSED, s->refuse[0] ? s->refuse : why);
    }
}

/* Cached reply to a request sent again, if any. */
static void
resend_reply(sess_t *s, uint64_t req_id)
{
    chan__msg_t *m;

    for (m = s->peer->replies.head; m != NULL; m = m->next) {
        if (m->reply_to == req_id) {
            /* A failed send shows as a broken session on the next read. */
            fl_err_t rc = chan__stream_write(&s->st, m->buf, m->len, emit, s);
            (void) rc;
            return;
        }
    }
}

static fl_err_t
deliver(void *arg, uint8_t *buf, size_t len)
{
    sess_t *s = arg;
    chan_server_t *srv = s->srv;
    peer_t *p = s->peer;
    uint64_t id = 0, re = 0;
    chan__msg_t *m;

    if (srv->msgid(buf, len, &id, &re) != FL_OK || id == 0) {
        chan__evq_push(&srv->evq, CHAN_EV_PROTO, s->site_id, s->fpr, s->addr,
                       "site '%s' sent a %zu-byte message without a valid "
                       "envelope id; dropped",
                       s->site_id, len);
        free(buf);
        return FL_OK;
    }
    if (re != 0) {
        chan__msg_free(chan__fifo_take(&p->kept, re));
    }
    if (chan__seen_has(&p->seen, id)) {
        srv->stats.dups_dropped++;
        free(buf);
        resend_reply(s, id);
        return FL_OK;
    }
    m = chan__msg_new(buf, len, false);
    if (m == NULL) {
        free(buf);
        return FL_ERR_NOMEM;
    }
    chan__seen_add(&p->seen, id);
    m->id = id;
    m->reply_to = re;
    chan__strlcpy(m->site_id, s->site_id, sizeof(m->site_id));
    chan__fifo_push(&srv->inbox, m);
    return FL_OK;
}

static void
on_rec(chan_server_t *srv, sess_t *s, const chan__inmsg_t *in)
{
    char why[CHAN_REASON_MAX] = "";
    fl_err_t rc;

    if (s->state == S_WELCOME) {
        sess_close(srv, s, CHAN_EV_PROTO,
                   "node sent application data before the Welcome");
        return;
    }
    rc = chan__stream_feed(&s->st, zmq_msg_data((zmq_msg_t *) &in->tls),
                           zmq_msg_size((zmq_msg_t *) &in->tls));
    if (rc == FL_OK) {
        rc = chan__stream_read(&s->st, deliver, s, emit, s, why, sizeof(why));
    }
    if (rc == FL_ERR_CLOSED) {
        sess_close(srv, s, CHAN_EV_CLOSED, "node closed the session");
    } else if (rc != FL_OK) {
        sess_close(srv, s, CHAN_EV_CLOSED, why[0] ? why : fl_strerror(rc));
    }
}

/* ALERT or CLOSE from the node: read it for the reason, then drop. */
static void
on_end(chan_server_t *srv, sess_t *s, const chan__inmsg_t *in)
{
    char why[CHAN_REASON_MAX] = "peer ended the session";
    fl_err_t rc;
    chan_event_type_t ev = s->state == S_HS ? CHAN_EV_REFUSED : CHAN_EV_CLOSED;

    rc = chan__stream_feed(&s->st, zmq_msg_data((zmq_msg_t *) &in->tls),
                           zmq_msg_size((zmq_msg_t *) &in->tls));
    if (rc == FL_OK && s->state == S_HS) {
        (void) chan__stream_handshake(&s->st, emit, s, why, sizeof(why));
    } else if (rc == FL_OK && s->state != S_WELCOME) {
        /* Before the Welcome a node may send nothing (as in on_rec). */
        rc = chan__stream_read(&s->st, deliver, s, emit, s, why, sizeof(why));
    }
    chan__evq_push(&srv->evq, ev, s->site_id, s->fpr, s->addr, "node %s: %s",
                   in->hdr.type == CHAN_T_CLOSE ? "closed" : "sent an alert",
                   why);
    if (ev == CHAN_EV_REFUSED) {
        srv->stats.handshakes_refused++;
    }
    sess_drop(srv, s);
}

static void
handle(chan_server_t *srv, chan__inmsg_t *in)
{
    sess_t *s = find_sess(srv, in);

    if (s == NULL && in->hdr.type == CHAN_T_HS) {
        s = sess_new(srv, in);
        if (s == NULL) {
            return;
        }
    }
    if (s == NULL) {
        /* Unknown session: tell the node to handshake again. */
        if (in->hdr.type == CHAN_T_REC) {
            (void) chan__frame_send(srv->sock, in->rid, in->rid_len,
                                    CHAN_T_RESET, in->hdr.sid, NULL);
        }
        return;
    }
    s->last_rx_ms = fl_clock_mono_ms();
    switch (in->hdr.type) {
    case CHAN_T_HS:
        on_hs(srv, s, in);
        break;
    case CHAN_T_REC:
        if (s->state == S_HS) {
            sess_close(srv, s, CHAN_EV_REFUSED, "records before handshake");
        } else {
            on_rec(srv, s, in);
        }
        break;
    case CHAN_T_ALERT:
    case CHAN_T_CLOSE:
        on_end(srv, s, in);
        break;
    default:
        srv->stats.frames_bad++;
        break;
    }
}

/* Sends again the requests a live peer left unanswered too long, so a
 * frame lost towards the node shows up (and is recovered) there. */
static void
resend_kept(chan_server_t *srv, int64_t now)
{
    size_t i;

    for (i = 0; srv->reply_timeout > 0 && i < srv->n_peers; i++) {
        peer_t *p = &srv->peers[i];
        chan__msg_t *m;
        if (p->live == NULL || p->live->state != S_LIVE) {
            continue;
        }
        for (m = p->kept.head; m != NULL; m = m->next) {
            if (now - m->sent_ms < srv->reply_timeout) {
                continue;
            }
            m->sent_ms = now;
            if (live_write(srv, p->live, m->buf, m->len) != FL_OK) {
                break;
            }
        }
    }
}

/* Handshake and idle timeouts; returns ms until the next deadline. */
static int
timers(chan_server_t *srv)
{
    int64_t now = fl_clock_mono_ms(), next = INT32_MAX;
    sess_t *s = srv->sessions, *nx;
    char why[CHAN_REASON_MAX];

    for (; s != NULL; s = nx) {
        int64_t dl = s->state == S_HS ? s->created_ms + srv->hs_timeout
                                      : s->last_rx_ms + srv->idle_timeout;
        nx = s->next;
        if (now >= dl) {
            snprintf(why, sizeof(why), "%s for %d ms",
                     s->state == S_HS ? "handshake incomplete" : "idle",
                     s->state == S_HS ? srv->hs_timeout : srv->idle_timeout);
            sess_close(srv, s,
                       s->state == S_HS ? CHAN_EV_REFUSED : CHAN_EV_CLOSED,
                       why);
        } else if (dl - now < next) {
            next = dl - now;
        }
    }
    resend_kept(srv, now);
    if (srv->reply_timeout > 0 && srv->reply_timeout < next) {
        next = srv->reply_timeout;
    }
    return (int) next;
}

fl_err_t
chan_server_poll(chan_server_t *srv, int timeout_ms, fl_errbuf_t *eb)
{
    zmq_pollitem_t item = {srv->sock, 0, ZMQ_POLLIN, 0};
    int next = timers(srv), i;

    if (timeout_ms < 0 || next < timeout_ms) {
        timeout_ms = next;
    }
    if (zmq_poll(&item, 1, timeout_ms) < 0 && errno != EINTR) {
        return fl_fail(eb, FL_ERR_IO, "channel: zmq_poll: %s",
                       zmq_strerror(errno));
    }
    for (i = 0;
         i < RECV_BATCH && srv->inbox.bytes < CHAN_INBOX_MSGS * srv->max_msg;
         i++) {
        chan__inmsg_t in;
        char why[CHAN_REASON_MAX] = "";
        fl_err_t rc = chan__frame_recv(srv->sock, true, &in, why, sizeof(why));
        if (rc == FL_ERR_AGAIN || rc == FL_ERR_IO) {
            break;
        }
        if (rc != FL_OK) {
            srv->stats.frames_bad++;
            continue;
        }
        handle(srv, &in);
        chan__inmsg_close(&in);
    }
    (void) timers(srv);
    return FL_OK;
}

fl_err_t
chan_server_event(chan_server_t *srv, chan_event_t *ev)
{
    return chan__evq_pop(&srv->evq, ev) ? FL_OK : FL_ERR_AGAIN;
}

fl_err_t
chan_server_recv(chan_server_t *srv, char site_id[CHAN_SITE_ID_MAX + 1],
                 uint8_t **buf, size_t *len)
{
    chan__msg_t *m = chan__fifo_pop(&srv->inbox);

    if (m == NULL) {
        return FL_ERR_AGAIN;
    }
    chan__strlcpy(site_id, m->site_id, CHAN_SITE_ID_MAX + 1);
    *buf = m->buf;
    *len = m->len;
    m->buf = NULL;
    chan__msg_free(m);
    return FL_OK;
}

static fl_err_t
live_write(chan_server_t *srv, sess_t *s, const uint8_t *buf, size_t len)
{
    fl_err_t rc = chan__stream_write(&s->st, buf, len, emit, s);

    if (rc != FL_OK) {
        sess_close(srv, s, CHAN_EV_CLOSED, "send to the node failed");
    }
    return rc;
}

fl_err_t
chan_server_welcome(chan_server_t *srv, const char *site_id, const uint8_t *buf,
                    size_t len, fl_errbuf_t *eb)
{
    peer_t *p = find_peer(srv, site_id);
    sess_t *s = p ? p->live : NULL;
    chan__msg_t *m;
    int64_t now = fl_clock_mono_ms();

    if (s == NULL || s->state != S_WELCOME) {
        return fl_fail(eb, FL_ERR_NOT_FOUND,
                       "channel: no session of '%s' awaits a Welcome", site_id);
    }
    if (len == 0 || len > srv->max_msg) {
        return fl_fail(eb, FL_ERR_LIMIT, "channel: Welcome of %zu bytes", len);
    }
    if (live_write(srv, s, buf, len) != FL_OK) {
        return fl_fail(eb, FL_ERR_CLOSED, "channel: send to '%s' failed",
                       site_id);
    }
    s->state = S_LIVE;
    for (m = p->kept.head; m != NULL; m = m->next) {
        m->sent_ms = now;
        if (live_write(srv, s, m->buf, m->len) != FL_OK) {
            return fl_fail(eb, FL_ERR_CLOSED, "channel: send to '%s' failed",
                           site_id);
        }
    }
    return FL_OK;
}

static fl_err_t
retain(chan_server_t *srv, peer_t *p, chan__msg_t *m, bool reply)
{
    while (reply && p->replies.head != NULL &&
           (p->replies.count >= REPLY_CACHE_MAX ||
            p->kept.bytes + p->replies.bytes + m->len > srv->max_retained)) {
        chan__msg_free(chan__fifo_pop(&p->replies));
    }
    if (p->kept.bytes + p->replies.bytes + m->len > srv->max_retained) {
        return FL_ERR_LIMIT;
    }
    chan__fifo_push(reply ? &p->replies : &p->kept, m);
    return FL_OK;
}

/* Shared by the copying and the owning send: own is buf when the caller
 * handed it over (freed here unless kept), NULL when buf is borrowed. */
static fl_err_t
server_send(chan_server_t *srv, const char *site_id, const uint8_t *buf,
            uint8_t *own, size_t len, unsigned flags, fl_errbuf_t *eb)
{
    peer_t *p = find_peer(srv, site_id);
    sess_t *s = p ? p->live : NULL;
    bool live = s != NULL && s->state == S_LIVE;
    uint64_t id = 0, re = 0;
    chan__msg_t *m;
    fl_err_t rc = FL_OK;

    if (p == NULL) {
        rc = fl_fail(eb, FL_ERR_NOT_FOUND,
                     "channel: site '%s' is not on the allow-list", site_id);
        goto out;
    }
    if (len == 0 || len > srv->max_msg) {
        rc = fl_fail(eb, FL_ERR_LIMIT, "channel: message of %zu bytes", len);
        goto out;
    }
    if (srv->msgid(buf, len, &id, &re) != FL_OK || id == 0) {
        rc = fl_fail(eb, FL_ERR_PARSE, "channel: message has no valid id");
        goto out;
    }
    if (re == 0 && (flags & CHAN_SEND_NO_REPLY)) {
        if (!live) {
            rc = fl_fail(eb, FL_ERR_CLOSED, "channel: no live session of '%s'",
                         site_id);
        } else if (live_write(srv, s, buf, len) != FL_OK) {
            rc = fl_fail(eb, FL_ERR_CLOSED, "channel: send to '%s' failed",
                         site_id);
        }
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
    rc = retain(srv, p, m, re != 0);
    if (rc != FL_OK) {
        if (re != 0 && live) { /* too big to cache: send it once */
            (void) live_write(srv, s, m->buf, len);
            rc = FL_OK;
        } else {
            rc = fl_fail(eb, rc,
                         "channel: retained messages of '%s' exceed %zu bytes",
                         site_id, srv->max_retained);
        }
        chan__msg_free(m);
        goto out;
    }
    if (live) {
        (void) live_write(srv, s, m->buf, len);
    }
out:
    free(own);
    return rc;
}

fl_err_t
chan_server_send(chan_server_t *srv, const char *site_id, const uint8_t *buf,
                 size_t len, unsigned flags, fl_errbuf_t *eb)
{
    return server_send(srv, site_id, buf, NULL, len, flags, eb);
}

fl_err_t
chan_server_send_owned(chan_server_t *srv, const char *site_id, uint8_t *buf,
                       size_t len, unsigned flags, fl_errbuf_t *eb)
{
    if (buf == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "channel: NULL message");
    }
    return server_send(srv, site_id, buf, buf, len, flags, eb);
}

fl_err_t
chan_server_ack(chan_server_t *srv, const char *site_id, uint64_t msg_id)
{
    peer_t *p = find_peer(srv, site_id);
    chan__msg_t *m = p ? chan__fifo_take(&p->kept, msg_id) : NULL;

    if (m == NULL) {
        return FL_ERR_NOT_FOUND;
    }
    chan__msg_free(m);
    return FL_OK;
}

bool
chan_server_is_live(const chan_server_t *srv, const char *site_id)
{
    const peer_t *p = find_peer(srv, site_id);

    return p != NULL && p->live != NULL && p->live->state == S_LIVE;
}

void
chan_server_stats(const chan_server_t *srv, chan_stats_t *st)
{
    *st = srv->stats;
    st->events_dropped = srv->evq.dropped;
    st->inbox_bytes = srv->inbox.bytes;
    st->retained_bytes = 0;
    for (size_t i = 0; i < srv->n_peers; i++) {
        st->retained_bytes +=
            srv->peers[i].kept.bytes + srv->peers[i].replies.bytes;
    }
}

int
chan_server_port(const chan_server_t *srv)
{
    return srv ? srv->port : -1;
}

fl_err_t
chan_server_reload(chan_server_t *srv, fl_errbuf_t *eb)
{
    SSL_CTX *ctx = NULL;
    fl_err_t rc = chan__ctx_new(&srv->files, true, verify_cb, &ctx, eb);

    if (rc == FL_OK) {
        SSL_CTX_free(srv->ctx); /* live sessions hold their own reference */
        srv->ctx = ctx;
    }
    return rc;
}

static fl_err_t
load_allow(chan_server_t *srv, const chan_server_opts_t *o, fl_errbuf_t *eb)
{
    size_t i;

    if (o->n_allow > 0 && o->allow == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "channel: allow-list is NULL");
    }
    srv->peers = calloc(o->n_allow ? o->n_allow : 1, sizeof(peer_t));
    if (srv->peers == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "channel: out of memory");
    }
    for (i = 0; i < o->n_allow; i++) {
        const chan_allow_t *a = &o->allow[i];
        peer_t *p = &srv->peers[i];
        if (!chan__site_id_valid(a->site_id)) {
            return fl_fail(eb, FL_ERR_INVALID,
                           "allow-list entry %zu: invalid site id", i + 1);
        }
        if (find_peer(srv, a->site_id) != NULL) {
            return fl_fail(eb, FL_ERR_INVALID,
                           "allow-list entry %zu: site '%s' listed twice",
                           i + 1, a->site_id);
        }
        if (a->fingerprint != NULL && a->fingerprint[0] != '\0' &&
            chan__fpr_normalise(a->fingerprint, p->fpr) != FL_OK) {
            return fl_fail(eb, FL_ERR_INVALID,
                           "allow-list entry %zu ('%s'): fingerprint is not "
                           "a SHA-256 in hex",
                           i + 1, a->site_id);
        }
        chan__strlcpy(p->site_id, a->site_id, sizeof(p->site_id));
        srv->n_peers++;
    }
    return FL_OK;
}

static void
set_defaults(chan_server_t *srv, const chan_server_opts_t *o)
{
    srv->msgid = o->msgid ? o->msgid : pb_envelope_peek;
    srv->max_msg = o->max_msg_size ? o->max_msg_size : PB_MAX_MESSAGE_DEFAULT;
    srv->hs_timeout =
        o->handshake_timeout_ms > 0 ? o->handshake_timeout_ms : 5000;
    srv->idle_timeout = o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 600000;
    srv->dup_guard = o->dup_guard_ms == 0 ? 2000 : o->dup_guard_ms;
    srv->reply_timeout = o->reply_timeout_ms == 0 ? 30000 : o->reply_timeout_ms;
    srv->max_unauth = o->max_unauth ? o->max_unauth : 256;
    srv->max_unauth_bytes =
        o->max_unauth_bytes ? o->max_unauth_bytes : (size_t) 64 << 10;
    srv->max_retained =
        o->max_retained_bytes ? o->max_retained_bytes : 4 * srv->max_msg;
}

static fl_err_t
open_socket(chan_server_t *srv, const chan_server_opts_t *o, fl_errbuf_t *eb)
{
    int one = 1;
    char ep[256];
    size_t eplen = sizeof(ep);
    const char *colon;
    fl_err_t rc;

    srv->own_zctx = o->zmq_context == NULL;
    srv->zctx = srv->own_zctx ? zmq_ctx_new() : o->zmq_context;
    srv->sock = srv->zctx ? zmq_socket(srv->zctx, ZMQ_ROUTER) : NULL;
    if (srv->sock == NULL) {
        return fl_fail(eb, FL_ERR_IO, "channel: zmq socket: %s",
                       zmq_strerror(errno));
    }
    rc = chan__sock_setup(
        srv->sock, o->heartbeat_ms > 0 ? o->heartbeat_ms : 2000,
        o->send_timeout_ms > 0 ? o->send_timeout_ms : 2000, eb);
    if (rc != FL_OK) {
        return rc;
    }
    if (zmq_setsockopt(srv->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) ||
        zmq_setsockopt(srv->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof(one))) {
        return fl_fail(eb, FL_ERR_IO, "channel: router options: %s",
                       zmq_strerror(errno));
    }
    if (zmq_bind(srv->sock, o->endpoint) != 0) {
        return fl_fail(eb, FL_ERR_IO, "channel: bind %s: %s", o->endpoint,
                       zmq_strerror(errno));
    }
    srv->port = -1;
    if (zmq_getsockopt(srv->sock, ZMQ_LAST_ENDPOINT, ep, &eplen) == 0 &&
        (colon = strrchr(ep, ':')) != NULL) {
        long v = strtol(colon + 1, NULL, 10);
        srv->port = v > 0 && v < 65536 ? (int) v : -1;
    }
    return FL_OK;
}

fl_err_t
chan_server_new(const chan_server_opts_t *o, chan_server_t **out,
                fl_errbuf_t *eb)
{
    chan_server_t *srv = NULL;
    fl_err_t rc;

    *out = NULL;
    if (o == NULL || o->endpoint == NULL) {
        return fl_fail(eb, FL_ERR_INVALID, "channel: endpoint is required");
    }
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return fl_fail(eb, FL_ERR_NOMEM, "channel: out of memory");
    }
    set_defaults(srv, o);
    rc = chan__files_copy(&srv->files, &o->tls, eb);
    if (rc == FL_OK) {
        rc = load_allow(srv, o, eb);
    }
    if (rc == FL_OK) {
        rc = chan__ctx_new(&srv->files, true, verify_cb, &srv->ctx, eb);
    }
    if (rc == FL_OK) {
        rc = open_socket(srv, o, eb);
    }
    if (rc != FL_OK) {
        chan_server_destroy(&srv);
        return rc;
    }
    *out = srv;
    return FL_OK;
}

void
chan_server_destroy(chan_server_t **p)
{
    chan_server_t *srv = p ? *p : NULL;
    size_t i;

    if (srv == NULL) {
        return;
    }
    while (srv->sessions != NULL) {
        sess_t *s = srv->sessions;
        if (s->state != S_HS && srv->sock != NULL) {
            chan__stream_close(&s->st, emit, s);
        }
        sess_drop(srv, s);
    }
    for (i = 0; i < srv->n_peers; i++) {
        chan__fifo_clear(&srv->peers[i].kept);
        chan__fifo_clear(&srv->peers[i].replies);
    }
    free(srv->peers);
    chan__fifo_clear(&srv->inbox);
    if (srv->sock != NULL) {
        zmq_close(srv->sock);
    }
    if (srv->zctx != NULL && srv->own_zctx) {
        zmq_ctx_term(srv->zctx);
    }
    SSL_CTX_free(srv->ctx);
    chan__files_free(&srv->files);
    free(srv);
    *p = NULL;
}
