/*
 * proto/chan_internal.h: pieces shared by the channel's server and client
 * (not a public interface): TLS contexts and identities (chan_tls.c), the
 * wire header and ZeroMQ frame I/O (chan_frame.c), one TLS stream over
 * memory BIOs with message framing (chan_stream.c), and small bounded
 * containers (chan_queue.c).
 */
#ifndef CHAN_INTERNAL_H
#define CHAN_INTERNAL_H

#include "proto/chan.h"

#include <openssl/ssl.h>
#include <zmq.h>

/* ---- chan_tls.c ---- */

/* Builds an SSL_CTX for one side: TLS 1.3 only, mutual authentication, CRL
 * checked (the CRL must be present and current), no tickets or cache. */
/* The verify callback's revocation check (chan_tls.c): a callback that
 * replaces the default must call it first. */
int chan__check_revocation(int ok, X509_STORE_CTX *xs);

fl_err_t chan__ctx_new(const chan_tls_files_t *f, bool server,
                       SSL_verify_cb verify_cb, SSL_CTX **out,
                       fl_errbuf_t *eb) FL_WUR;

/* Deep-copies the file paths of src into dst (free with chan__files_free). */
fl_err_t chan__files_copy(chan_tls_files_t *dst, const chan_tls_files_t *src,
                          fl_errbuf_t *eb) FL_WUR;
void chan__files_free(chan_tls_files_t *f);

/* Whether s is a valid site id (1..64 of [A-Za-z0-9._-]). */
bool chan__site_id_valid(const char *s);

/* Normalises a fingerprint (hex, colons and case ignored) to 64 lowercase
 * hex digits. FL_ERR_PARSE if it is not 32 bytes of hex. */
fl_err_t chan__fpr_normalise(const char *in, char out[CHAN_FPR_HEX_LEN + 1]);

/* Reads the site id from the one SAN URI urn:dpfl:site:<id> of cert and its
 * SHA-256 fingerprint. FL_ERR_AUTH with a reason in why otherwise. */
fl_err_t chan__cert_identity(X509 *cert, char id[CHAN_SITE_ID_MAX + 1],
                             char fpr[CHAN_FPR_HEX_LEN + 1], char *why,
                             size_t whylen) FL_WUR;

/* One line describing why the handshake on ssl failed (verify result,
 * alert received, or the OpenSSL error queue), which it clears. */
void chan__tls_reason(SSL *ssl, int ret, char *out, size_t outlen);

/* Fills n bytes from the CSPRNG. */
fl_err_t chan__random(uint8_t *out, size_t n) FL_WUR;

/* ---- chan_frame.c ---- */

typedef struct chan__hdr {
    uint8_t type;
    uint8_t sid[CHAN_SID_LEN];
} chan__hdr_t;

/* One received ZeroMQ message split into its parts. */
typedef struct chan__inmsg {
    uint8_t rid[256]; /* ROUTER routing id (server only) */
    size_t rid_len;
    chan__hdr_t hdr;
    zmq_msg_t tls; /* frame 1 (size 0 when absent) */
    bool has_tls;
    char peer_addr[64];
} chan__inmsg_t;

/* Receives one whole ZeroMQ message without waiting. router: expect the
 * routing-id frame first. FL_OK, FL_ERR_AGAIN (none), FL_ERR_PROTO
 * (malformed: dropped, routing id filled when known), FL_ERR_IO. On FL_OK
 * the caller closes in->tls with chan__inmsg_close(). */
fl_err_t chan__frame_recv(void *sock, bool router, chan__inmsg_t *in, char *why,
                          size_t whylen) FL_WUR;
void chan__inmsg_close(chan__inmsg_t *in);

/* Sends one message: [rid,] header, and tls (consumed, may be NULL). */
fl_err_t chan__frame_send(void *sock, const uint8_t *rid, size_t rid_len,
                          uint8_t type, const uint8_t sid[CHAN_SID_LEN],
                          zmq_msg_t *tls);

/* Sets ZMQ_MAXMSGSIZE, heartbeats, linger, timeouts on a socket. */
fl_err_t chan__sock_setup(void *sock, int heartbeat_ms, int send_timeout_ms,
                          fl_errbuf_t *eb) FL_WUR;

/* ---- chan_stream.c: one TLS session over in-memory BIOs ---- */

/* Bytes from the peer: borrowed from the current frame while it is being
 * processed, copied into own only if some are left over afterwards. */
typedef struct chan__inbuf {
    const uint8_t *p;
    size_t len;
    uint8_t *own;
} chan__inbuf_t;

/* Records OpenSSL wrote, handed to ZeroMQ without a copy when large. */
typedef struct chan__outbuf {
    uint8_t *buf;
    size_t len, cap;
} chan__outbuf_t;

/* The BIOs point into the struct: it must not move while in use. */
typedef struct chan__stream {
    SSL *ssl;
    chan__inbuf_t in;
    chan__outbuf_t out;
    size_t max_msg;
    uint8_t lenbuf[4]; /* reassembly of the current message */
    size_t len_have;
    uint8_t *msg;
    size_t msg_len, msg_have;
    bool done; /* handshake complete */
} chan__stream_t;

/* Delivers one complete application message; takes ownership of buf. */
typedef fl_err_t (*chan__deliver_fn)(void *arg, uint8_t *buf, size_t len);
/* Sends one frame of TLS bytes (consumes m). */
typedef fl_err_t (*chan__emit_fn)(void *arg, uint8_t type, zmq_msg_t *m);

fl_err_t chan__stream_init(chan__stream_t *st, SSL_CTX *ctx, bool server,
                           const char *host, size_t max_msg,
                           void *app_data) FL_WUR;
void chan__stream_free(chan__stream_t *st);

/* Feeds TLS bytes from the peer. FL_ERR_LIMIT if they cannot be stored. */
fl_err_t chan__stream_feed(chan__stream_t *st, const void *data,
                           size_t len) FL_WUR;

/* Advances the handshake; emits any flight produced (type HS, or ALERT when
 * the handshake failed). FL_OK: complete; FL_ERR_AGAIN: needs more; other:
 * failed, reason in why (an ALERT frame has been emitted when possible). */
fl_err_t chan__stream_handshake(chan__stream_t *st, chan__emit_fn emit,
                                void *arg, char *why, size_t whylen);

/* Reads all complete messages available, calling deliver for each.
 * FL_OK: all read; FL_ERR_CLOSED: close_notify received; other: TLS or
 * framing error, reason in why (an ALERT frame emitted when possible). */
fl_err_t chan__stream_read(chan__stream_t *st, chan__deliver_fn deliver,
                           void *darg, chan__emit_fn emit, void *earg,
                           char *why, size_t whylen) FL_WUR;

/* Writes one application message (length prefix then buf) as REC frames of
 * at most CHAN_MAX_TLS_FRAME TLS bytes each. */
fl_err_t chan__stream_write(chan__stream_t *st, const uint8_t *buf, size_t len,
                            chan__emit_fn emit, void *arg);

/* Emits close_notify as a CLOSE frame (best effort). */
void chan__stream_close(chan__stream_t *st, chan__emit_fn emit, void *arg);

/* ---- chan_queue.c ---- */

/* A FIFO of owned messages (received or kept for retransmission). */
typedef struct chan__msg {
    struct chan__msg *next;
    uint64_t id, reply_to;
    int64_t sent_ms; /* last transmission (kept messages) */
    char site_id[CHAN_SITE_ID_MAX + 1];
    size_t len;
    uint8_t *buf;
} chan__msg_t;

typedef struct chan__fifo {
    chan__msg_t *head, *tail;
    size_t count, bytes;
} chan__fifo_t;

void chan__fifo_push(chan__fifo_t *q, chan__msg_t *m);
chan__msg_t *chan__fifo_pop(chan__fifo_t *q);
/* Removes and returns the first message with this id, NULL if none. */
chan__msg_t *chan__fifo_take(chan__fifo_t *q, uint64_t id);
void chan__fifo_clear(chan__fifo_t *q);
chan__msg_t *chan__msg_new(const uint8_t *buf, size_t len, bool copy);
void chan__msg_free(chan__msg_t *m);

/* Ids recently delivered, to drop duplicates (bounded ring). */
#define CHAN__SEEN_MAX 1024u
typedef struct chan__seen {
    uint64_t ids[CHAN__SEEN_MAX];
    size_t n, next;
} chan__seen_t;

bool chan__seen_has(const chan__seen_t *s, uint64_t id);
void chan__seen_add(chan__seen_t *s, uint64_t id);

/* Bounded event queue. */
#define CHAN__EVQ_MAX 1024u
typedef struct chan__evq {
    chan_event_t ev[CHAN__EVQ_MAX];
    size_t head, count;
    uint64_t dropped;
} chan__evq_t;

void chan__evq_push(chan__evq_t *q, chan_event_type_t type, const char *site_id,
                    const char *fpr, const char *addr, const char *fmt, ...)
    FL_PRINTF(6, 7);
bool chan__evq_pop(chan__evq_t *q, chan_event_t *ev);

/* Bounded copy of a string (always NUL-terminated). */
void chan__strlcpy(char *dst, const char *src, size_t size);

#endif
