/*
 * proto/chan_stream.c: one TLS session over in-memory BIOs, and the
 * message framing inside it.
 *
 * Two small BIOs replace memory BIOs to save copies: OpenSSL reads the
 * peer's frame where ZeroMQ received it, and the records it writes are
 * collected in one buffer that becomes a ZeroMQ frame without a copy (emit
 * callback). Application messages are a 4-byte big-endian length then the
 * bytes; a big message is written in pieces so that no frame holds more
 * than CHAN_MAX_TLS_FRAME bytes of whole TLS records. Received messages are
 * decrypted straight into a buffer of their announced length, which is
 * checked against the maximum before anything is allocated.
 *
 * Big frames are written into buffers of CHAN_MAX_TLS_FRAME bytes taken
 * from a small process-wide pool; ZeroMQ hands each back (from its I/O
 * thread) once the frame is on the wire. Reusing them saves a fresh
 * allocation, and its page faults, for every megabyte sent. The pool
 * keeps at most POOL_MAX idle buffers.
 */
#include "proto/chan_internal.h"

#include <openssl/err.h>

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Plaintext per SSL_write: 62 full records (16 KiB each, 22 bytes of
 * overhead) plus the 4-byte length record stay under 1 MiB per frame. */
#define PIECE ((size_t) 62 * 16384)

/* Frames smaller than this are copied into a right-sized message and the
 * buffer is kept; larger ones are handed to ZeroMQ as they are. */
#define HANDOFF_MIN ((size_t) 64 << 10)

/* Idle frame buffers kept for reuse (process-wide, each
 * CHAN_MAX_TLS_FRAME bytes): 16 MiB at most. */
#define POOL_MAX 16u

static BIO_METHOD *g_in_meth, *g_out_meth;
static pthread_once_t g_meth_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t g_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *g_pool[POOL_MAX];
static size_t g_pool_n;

/* A frame buffer of CHAN_MAX_TLS_FRAME bytes (from the pool if one is
 * idle), or NULL. */
static uint8_t *
pool_get(void)
{
    uint8_t *b = NULL;

    if (pthread_mutex_lock(&g_pool_mu) == 0) {
        if (g_pool_n > 0) {
            b = g_pool[--g_pool_n];
        }
        (void) pthread_mutex_unlock(&g_pool_mu);
    }
    return b != NULL ? b : malloc(CHAN_MAX_TLS_FRAME);
}

/* Returns a frame buffer; ZeroMQ calls it from its I/O thread. Buffers
 * hold only ciphertext, so they are not wiped. */
static void
pool_put(void *data, void *hint)
{
    (void) hint;
    if (data == NULL) {
        return;
    }
    if (pthread_mutex_lock(&g_pool_mu) == 0) {
        if (g_pool_n < POOL_MAX) {
            g_pool[g_pool_n++] = data;
            data = NULL;
        }
        (void) pthread_mutex_unlock(&g_pool_mu);
    }
    free(data);
}

static int
in_read(BIO *b, char *out, int outl)
{
    chan__inbuf_t *in = BIO_get_data(b);
    size_t n = outl > 0 ? (size_t) outl : 0;

    BIO_clear_retry_flags(b);
    if (in->len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    if (n > in->len) {
        n = in->len;
    }
    memcpy(out, in->p, n);
    in->p += n;
    in->len -= n;
    return (int) n;
}

static int
out_write(BIO *b, const char *data, int dlen)
{
    chan__outbuf_t *o = BIO_get_data(b);
    size_t n = dlen > 0 ? (size_t) dlen : 0;

    BIO_clear_retry_flags(b);
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 16384;
        uint8_t *nb;
        while (cap < o->len + n) {
            cap *= 2;
        }
        nb = realloc(o->buf, cap);
        if (nb == NULL) {
            return -1;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, data, n);
    o->len += n;
    return (int) n;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void) b;
    (void) num;
    (void) ptr;
    /* OpenSSL flushes after each flight; the bytes wait for emit. */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void
make_methods(void)
{
    g_in_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                             "dpfl channel input");
    g_out_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                              "dpfl channel output");
    if (g_in_meth != NULL) {
        BIO_meth_set_read(g_in_meth, in_read);
        BIO_meth_set_ctrl(g_in_meth, bio_ctrl);
        BIO_meth_set_create(g_in_meth, bio_create);
    }
    if (g_out_meth != NULL) {
        BIO_meth_set_write(g_out_meth, out_write);
        BIO_meth_set_ctrl(g_out_meth, bio_ctrl);
        BIO_meth_set_create(g_out_meth, bio_create);
    }
}

fl_err_t
chan__stream_init(chan__stream_t *st, SSL_CTX *ctx, bool server,
                  const char *host, size_t max_msg, void *app_data)
{
    BIO *in = NULL, *out = NULL;

    memset(st, 0, sizeof(*st));
    st->max_msg = max_msg;
    ERR_clear_error();
    if (pthread_once(&g_meth_once, make_methods) != 0 || g_in_meth == NULL ||
        g_out_meth == NULL) {
        return FL_ERR_NOMEM;
    }
    st->ssl = SSL_new(ctx);
    in = BIO_new(g_in_meth);
    out = BIO_new(g_out_meth);
    if (st->ssl == NULL || in == NULL || out == NULL) {
        goto fail;
    }
    BIO_set_data(in, &st->in);
    BIO_set_data(out, &st->out);
    SSL_set_bio(st->ssl, in, out);
    in = out = NULL;
    SSL_set_app_data(st->ssl, app_data);
    if (server) {
        SSL_set_accept_state(st->ssl);
    } else {
        SSL_set_connect_state(st->ssl);
        if (host == NULL || SSL_set1_host(st->ssl, host) != 1 ||
            SSL_set_tlsext_host_name(st->ssl, host) != 1) {
            goto fail;
        }
    }
    return FL_OK;
fail:
    ERR_clear_error();
    BIO_free(in);
    BIO_free(out);
    chan__stream_free(st);
    return FL_ERR_NOMEM;
}

void
chan__stream_free(chan__stream_t *st)
{
    SSL_free(st->ssl);
    free(st->msg);
    free(st->in.own);
    free(st->out.buf);
    memset(st, 0, sizeof(*st));
}

fl_err_t
chan__stream_feed(chan__stream_t *st, const void *data, size_t len)
{
    uint8_t *own;

    if (st->in.len == 0) {
        st->in.p = data; /* borrowed until chan__stream_settle */
        st->in.len = len;
        return FL_OK;
    }
    /* Rare: bytes left from an earlier frame; join them. */
    if (st->in.len + len > 2 * CHAN_MAX_TLS_FRAME) {
        return FL_ERR_LIMIT;
    }
    own = malloc(st->in.len + len);
    if (own == NULL) {
        return FL_ERR_NOMEM;
    }
    memcpy(own, st->in.p, st->in.len);
    memcpy(own + st->in.len, data, len);
    free(st->in.own);
    st->in.own = own;
    st->in.p = own;
    st->in.len += len;
    return FL_OK;
}

/* Copies bytes OpenSSL left unread out of the borrowed frame. */
static fl_err_t
settle(chan__stream_t *st)
{
    uint8_t *own;

    if (st->in.len == 0 || st->in.p == st->in.own) {
        return FL_OK;
    }
    own = malloc(st->in.len);
    if (own == NULL) {
        return FL_ERR_NOMEM;
    }
    memcpy(own, st->in.p, st->in.len);
    free(st->in.own);
    st->in.own = own;
    st->in.p = own;
    return FL_OK;
}

/* Moves what OpenSSL wrote into frames of at most CHAN_MAX_TLS_FRAME. */
static fl_err_t
emit_pending(chan__stream_t *st, uint8_t type, chan__emit_fn emit, void *arg)
{
    chan__outbuf_t *o = &st->out;
    size_t off = 0;
    fl_err_t rc = FL_OK;

    if (o->len >= HANDOFF_MIN && o->cap == CHAN_MAX_TLS_FRAME) {
        /* A pool buffer (see reserve): ZeroMQ gives it back when sent. */
        zmq_msg_t m;
        if (zmq_msg_init_data(&m, o->buf, o->len, pool_put, NULL) != 0) {
            return FL_ERR_NOMEM;
        }
        o->buf = NULL;
        o->len = o->cap = 0;
        return emit(arg, type, &m);
    }
    while (rc == FL_OK && off < o->len) {
        zmq_msg_t m;
        size_t n = o->len - off;
        if (n > CHAN_MAX_TLS_FRAME) {
            n = CHAN_MAX_TLS_FRAME;
        }
        if (zmq_msg_init_size(&m, n) != 0) {
            rc = FL_ERR_NOMEM;
            break;
        }
        memcpy(zmq_msg_data(&m), o->buf + off, n);
        off += n;
        rc = emit(arg, type, &m);
    }
    o->len = 0;
    if (o->cap == CHAN_MAX_TLS_FRAME) {
        pool_put(o->buf, NULL);
        o->buf = NULL;
        o->cap = 0;
    } else if (o->cap > HANDOFF_MIN) { /* no big buffer kept per session */
        free(o->buf);
        o->buf = NULL;
        o->cap = 0;
    }
    return rc;
}

/* Before a big SSL_write (n bytes of records at most, n <= one frame):
 * a pool buffer of one frame holding what is pending. */
static void
reserve(chan__stream_t *st, size_t n)
{
    chan__outbuf_t *o = &st->out;
    uint8_t *nb;

    if (n < HANDOFF_MIN || o->cap >= o->len + n ||
        o->len + n > CHAN_MAX_TLS_FRAME) {
        return;
    }
    nb = pool_get();
    if (nb == NULL) {
        return; /* out_write grows the buffer instead */
    }
    if (o->len > 0) {
        memcpy(nb, o->buf, o->len);
    }
    free(o->buf);
    o->buf = nb;
    o->cap = CHAN_MAX_TLS_FRAME;
}

/* After a failed SSL call: the reason, and the fatal alert if any. */
static fl_err_t
fail_tls(chan__stream_t *st, int ret, chan__emit_fn emit, void *arg, char *why,
         size_t whylen)
{
    long vr = SSL_get_verify_result(st->ssl);

    chan__tls_reason(st->ssl, ret, why, whylen);
    (void) emit_pending(st, CHAN_T_ALERT, emit, arg);
    return vr != X509_V_OK ? FL_ERR_AUTH : FL_ERR_PROTO;
}

fl_err_t
chan__stream_handshake(chan__stream_t *st, chan__emit_fn emit, void *arg,
                       char *why, size_t whylen)
{
    int r, e;
    fl_err_t rc;

    ERR_clear_error();
    r = SSL_do_handshake(st->ssl);
    if (r == 1) {
        st->done = true;
        rc = emit_pending(st, CHAN_T_HS, emit, arg);
        return rc == FL_OK ? settle(st) : rc;
    }
    e = SSL_get_error(st->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        rc = emit_pending(st, CHAN_T_HS, emit, arg);
        if (rc == FL_OK) {
            rc = settle(st);
        }
        return rc == FL_OK ? FL_ERR_AGAIN : rc;
    }
    return fail_tls(st, r, emit, arg, why, whylen);
}

/* One SSL_read into dst; FL_OK with *got > 0, FL_ERR_AGAIN, or failure. */
static fl_err_t
read_some(chan__stream_t *st, uint8_t *dst, size_t want, size_t *got,
          chan__emit_fn emit, void *arg, char *why, size_t whylen)
{
    int r, e;

    if (want > INT_MAX) {
        want = INT_MAX;
    }
    /* The error queue was cleared by chan__stream_read; a successful
     * SSL_read leaves it empty. */
    r = SSL_read(st->ssl, dst, (int) want);
    if (r > 0) {
        *got = (size_t) r;
        return FL_OK;
    }
    e = SSL_get_error(st->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        return FL_ERR_AGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(why, whylen, "peer closed the session (close_notify)");
        return FL_ERR_CLOSED;
    }
    return fail_tls(st, r, emit, arg, why, whylen);
}

/* Called when the 4-byte length is complete: allocates the message. */
static fl_err_t
start_message(chan__stream_t *st, char *why, size_t whylen)
{
    const uint8_t *b = st->lenbuf;
    size_t n = ((size_t) b[0] << 24) | ((size_t) b[1] << 16) |
               ((size_t) b[2] << 8) | (size_t) b[3];

    if (n == 0 || n > st->max_msg) {
        snprintf(why, whylen,
                 "message of %zu bytes announced (limit 1..%zu bytes)", n,
                 st->max_msg);
        return FL_ERR_LIMIT;
    }
    st->msg = malloc(n);
    if (st->msg == NULL) {
        snprintf(why, whylen, "out of memory for a %zu-byte message", n);
        return FL_ERR_NOMEM;
    }
    st->msg_len = n;
    st->msg_have = 0;
    return FL_OK;
}

fl_err_t
chan__stream_read(chan__stream_t *st, chan__deliver_fn deliver, void *darg,
                  chan__emit_fn emit, void *earg, char *why, size_t whylen)
{
    fl_err_t rc = FL_OK;
    size_t got = 0;

    ERR_clear_error(); /* once: SSL_get_error needs an empty queue */
    for (;;) {
        if (st->msg == NULL) {
            rc = read_some(st, st->lenbuf + st->len_have, 4 - st->len_have,
                           &got, emit, earg, why, whylen);
            if (rc != FL_OK) {
                break;
            }
            st->len_have += got;
            if (st->len_have == 4) {
                st->len_have = 0;
                rc = start_message(st, why, whylen);
                if (rc != FL_OK) {
                    return rc;
                }
            }
            continue;
        }
        rc = read_some(st, st->msg + st->msg_have, st->msg_len - st->msg_have,
                       &got, emit, earg, why, whylen);
        if (rc != FL_OK) {
            break;
        }
        st->msg_have += got;
        if (st->msg_have == st->msg_len) {
            uint8_t *m = st->msg;
            st->msg = NULL;
            rc = deliver(darg, m, st->msg_len);
            if (rc != FL_OK) {
                return rc;
            }
        }
    }
    return rc == FL_ERR_AGAIN ? settle(st) : rc;
}

/* The error queue is cleared once by chan__stream_write. */
static fl_err_t
write_all(chan__stream_t *st, const uint8_t *buf, size_t len)
{
    if (SSL_write(st->ssl, buf, (int) len) != (int) len) {
        ERR_clear_error();
        return FL_ERR_CRYPTO;
    }
    return FL_OK;
}

fl_err_t
chan__stream_write(chan__stream_t *st, const uint8_t *buf, size_t len,
                   chan__emit_fn emit, void *arg)
{
    uint8_t hdr[4];
    size_t off = 0;
    fl_err_t rc;

    if (len == 0 || len > st->max_msg || len > UINT32_MAX) {
        return FL_ERR_LIMIT;
    }
    hdr[0] = (uint8_t) (len >> 24);
    hdr[1] = (uint8_t) (len >> 16);
    hdr[2] = (uint8_t) (len >> 8);
    hdr[3] = (uint8_t) len;
    ERR_clear_error();
    rc = write_all(st, hdr, sizeof(hdr));
    while (rc == FL_OK && off < len) {
        size_t n = len - off < PIECE ? len - off : PIECE;
        reserve(st, n + n / 512 + 1024);
        rc = write_all(st, buf + off, n);
        if (rc == FL_OK) {
            rc = emit_pending(st, CHAN_T_REC, emit, arg);
        }
        off += n;
    }
    return rc;
}

void
chan__stream_close(chan__stream_t *st, chan__emit_fn emit, void *arg)
{
    if (st->ssl == NULL || !st->done) {
        return;
    }
    ERR_clear_error();
    (void) SSL_shutdown(st->ssl);
    ERR_clear_error();
    (void) emit_pending(st, CHAN_T_CLOSE, emit, arg);
}
