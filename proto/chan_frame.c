/*
 * proto/chan_frame.c: the channel's wire header and ZeroMQ frame I/O.
 *
 * One channel message on the wire is [routing id,] a 10-byte header
 * (version, type, session id) and, except for RESET, one frame of TLS
 * records. Receiving validates the shape before anything else looks at it;
 * malformed messages are drained whole so the next one starts clean.
 */
#include "proto/chan_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void
chan__inmsg_close(chan__inmsg_t *in)
{
    if (in->has_tls) {
        zmq_msg_close(&in->tls);
        in->has_tls = false;
    }
}

/* Reads and discards the rest of a multipart message. */
static void
drain(void *sock, zmq_msg_t *part)
{
    while (zmq_msg_more(part)) {
        zmq_msg_close(part);
        zmq_msg_init(part);
        if (zmq_msg_recv(part, sock, 0) < 0) {
            break;
        }
    }
}

static fl_err_t
parse_header(const zmq_msg_t *part, chan__hdr_t *h, char *why, size_t whylen)
{
    const uint8_t *d = zmq_msg_data((zmq_msg_t *) part);

    if (zmq_msg_size((zmq_msg_t *) part) != CHAN_HEADER_LEN) {
        snprintf(why, whylen, "header frame of %zu bytes, expected %u",
                 zmq_msg_size((zmq_msg_t *) part), CHAN_HEADER_LEN);
        return FL_ERR_PROTO;
    }
    if (d[0] != CHAN_VERSION) {
        snprintf(why, whylen, "channel version %u, expected %u", d[0],
                 CHAN_VERSION);
        return FL_ERR_PROTO;
    }
    if (d[1] < CHAN_T_HS || d[1] > CHAN_T_CLOSE) {
        snprintf(why, whylen, "unknown frame type %u", d[1]);
        return FL_ERR_PROTO;
    }
    h->type = d[1];
    memcpy(h->sid, d + 2, CHAN_SID_LEN);
    return FL_OK;
}

static void
peer_addr(zmq_msg_t *part, chan__inmsg_t *in)
{
    const char *a = zmq_msg_gets(part, "Peer-Address");

    chan__strlcpy(in->peer_addr, a ? a : "", sizeof(in->peer_addr));
}

/* Reads routing id (router) and header; part holds the header frame. */
static fl_err_t
recv_head(void *sock, bool router, chan__inmsg_t *in, zmq_msg_t *part,
          char *why, size_t whylen)
{
    if (zmq_msg_recv(part, sock, ZMQ_DONTWAIT) < 0) {
        return errno == EAGAIN ? FL_ERR_AGAIN : FL_ERR_IO;
    }
    peer_addr(part, in);
    if (router) {
        size_t n = zmq_msg_size(part);
        if (n == 0 || n > sizeof(in->rid) || !zmq_msg_more(part)) {
            snprintf(why, whylen, "bad routing id frame");
            return FL_ERR_PROTO;
        }
        memcpy(in->rid, zmq_msg_data(part), n);
        in->rid_len = n;
        zmq_msg_close(part);
        zmq_msg_init(part);
        if (zmq_msg_recv(part, sock, 0) < 0) {
            return FL_ERR_IO;
        }
        /* The routing-id frame is made by the ROUTER itself and may carry
         * no metadata; the header frame came over the wire. */
        if (in->peer_addr[0] == '\0') {
            peer_addr(part, in);
        }
    }
    return parse_header(part, &in->hdr, why, whylen);
}

fl_err_t
chan__frame_recv(void *sock, bool router, chan__inmsg_t *in, char *why,
                 size_t whylen)
{
    zmq_msg_t part;
    fl_err_t rc;

    in->rid_len = 0;
    in->has_tls = false;
    in->peer_addr[0] = '\0';
    zmq_msg_init(&part);
    rc = recv_head(sock, router, in, &part, why, whylen);
    if (rc != FL_OK) {
        goto out;
    }
    if (!zmq_msg_more(&part)) {
        if (in->hdr.type != CHAN_T_RESET) {
            snprintf(why, whylen, "frame type %u without TLS frame",
                     in->hdr.type);
            rc = FL_ERR_PROTO;
        }
        goto out;
    }
    if (in->hdr.type == CHAN_T_RESET) {
        snprintf(why, whylen, "RESET with a TLS frame");
        rc = FL_ERR_PROTO;
        goto out;
    }
    zmq_msg_init(&in->tls);
    in->has_tls = true;
    if (zmq_msg_recv(&in->tls, sock, 0) < 0) {
        rc = FL_ERR_IO;
        goto out;
    }
    if (zmq_msg_more(&in->tls) || zmq_msg_size(&in->tls) == 0 ||
        zmq_msg_size(&in->tls) > CHAN_MAX_TLS_FRAME) {
        snprintf(why, whylen, "extra frames or bad TLS frame size %zu",
                 zmq_msg_size(&in->tls));
        drain(sock, &in->tls);
        rc = FL_ERR_PROTO;
    }
out:
    if (rc == FL_ERR_PROTO) {
        drain(sock, &part);
    }
    zmq_msg_close(&part);
    if (rc != FL_OK) {
        chan__inmsg_close(in);
    }
    return rc;
}

static fl_err_t
send_errno(void)
{
    if (errno == EHOSTUNREACH) {
        return FL_ERR_CLOSED;
    }
    return errno == EAGAIN ? FL_ERR_AGAIN : FL_ERR_IO;
}

fl_err_t
chan__frame_send(void *sock, const uint8_t *rid, size_t rid_len, uint8_t type,
                 const uint8_t sid[CHAN_SID_LEN], zmq_msg_t *tls)
{
    uint8_t hdr[CHAN_HEADER_LEN];
    fl_err_t rc = FL_OK;

    hdr[0] = CHAN_VERSION;
    hdr[1] = type;
    memcpy(hdr + 2, sid, CHAN_SID_LEN);
    if (rid != NULL && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE) < 0) {
        rc = send_errno();
        goto out;
    }
    if (zmq_send(sock, hdr, sizeof(hdr), tls ? ZMQ_SNDMORE : 0) < 0) {
        rc = send_errno();
        goto out;
    }
    if (tls != NULL && zmq_msg_send(tls, sock, 0) < 0) {
        rc = send_errno();
        goto out;
    }
    tls = NULL; /* sent: zmq owns it now */
out:
    if (tls != NULL) {
        zmq_msg_close(tls);
    }
    return rc;
}

fl_err_t
chan__sock_setup(void *sock, int heartbeat_ms, int send_timeout_ms,
                 fl_errbuf_t *eb)
{
    int64_t maxmsg = (int64_t) CHAN_MAX_TLS_FRAME;
    int linger = 200, hb_timeout = heartbeat_ms * 3;

    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &heartbeat_ms, sizeof(int)) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(int)) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &hb_timeout, sizeof(int)) ||
        zmq_setsockopt(sock, ZMQ_SNDTIMEO, &send_timeout_ms, sizeof(int))) {
        return fl_fail(eb, FL_ERR_IO, "channel: zmq_setsockopt: %s",
                       zmq_strerror(errno));
    }
    return FL_OK;
}
