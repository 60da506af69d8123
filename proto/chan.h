/*
 * proto/chan.h: the secure channel (chan_): TLS 1.3 carried in ZeroMQ frames.
 *
 * libzmq has no TLS transport, so each peer pair runs a real OpenSSL TLS 1.3
 * session over memory BIOs and its records travel in ZeroMQ frames
 * (DESIGN.md section 3, docs/protocol.md): a 10-byte header frame
 * (version 1, type, 8-byte session id chosen by the node) then a frame of
 * whole TLS records, never more than CHAN_MAX_TLS_FRAME bytes. Inside the
 * TLS stream each application message is a 4-byte big-endian length then
 * that many bytes (an encoded protobuf Envelope).
 *
 * The coordinator side is a chan_server_t over a ZeroMQ ROUTER; the node
 * side a chan_client_t over a DEALER. Both are poll-driven: the daemon's
 * loop calls chan_*_poll(), then drains events and messages. Neither
 * object logs: refusals, authentications and closures come back as
 * chan_event_t with a one-line reason for the daemon to log.
 *
 * Reliability: every application message carries a non-zero id and the id
 * of the message it answers (read by the msgid callback, by default
 * pb_envelope_peek). A message that is not a reply (in_reply_to == 0) is
 * kept by its sender until the peer answers it (a message arrives whose
 * in_reply_to is its id) or the application calls chan_*_ack(); after each
 * new session the kept messages are sent again, in order. Receivers drop
 * ids they have already delivered; the server keeps its recent replies and
 * sends the cached reply when a request comes again. So a lost frame, a
 * reconnect or a coordinator restart costs a re-handshake, never a lost or
 * duplicated message at the application (within one server lifetime for
 * duplicates: the dedup state is in memory).
 *
 * Thread-safety: an object is used by one thread at a time. Distinct
 * objects may be used from distinct threads.
 */
#ifndef CHAN_H
#define CHAN_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAN_VERSION 1u
#define CHAN_HEADER_LEN 10u
#define CHAN_SID_LEN 8u
/* Most TLS bytes one ZeroMQ frame may carry (DESIGN.md section 3). */
#define CHAN_MAX_TLS_FRAME ((size_t) 1 << 20)
/* Site ids: 1..64 characters of [A-Za-z0-9._-]. */
#define CHAN_SITE_ID_MAX 64u
/* SHA-256 of the DER certificate as 64 lowercase hex digits. */
#define CHAN_FPR_HEX_LEN 64u
#define CHAN_REASON_MAX 256u
#define CHAN_URI_PREFIX "urn:dpfl:site:"
/* Messages delivered but not yet taken by the application are bounded:
 * past this many times the largest message, the channel stops reading
 * frames (they wait in ZeroMQ's queue, itself bounded by its high-water
 * mark) until the application drains its inbox with chan_*_recv. */
#define CHAN_INBOX_MSGS 4

/* Frame types (header byte 1). */
enum chan_frame_type {
    CHAN_T_HS = 1,    /* handshake flight */
    CHAN_T_REC = 2,   /* records after the sender's handshake completed */
    CHAN_T_ALERT = 3, /* records holding a fatal alert; session dropped */
    CHAN_T_RESET = 4, /* no such session, handshake again (no TLS frame) */
    CHAN_T_CLOSE = 5  /* close_notify follows */
};

/*
 * Reads the message id (non-zero) and the id it answers (0 if none) from an
 * application message. Returns FL_OK or an error for a malformed message.
 * Same contract as pb_envelope_peek(), which is the default.
 */
typedef fl_err_t (*chan_msgid_fn)(const uint8_t *buf, size_t len,
                                  uint64_t *msg_id, uint64_t *in_reply_to);

/* Flags of chan_client_send() and chan_server_send(). */
#define CHAN_SEND_NO_REPLY 1u /* not kept for retransmission */

typedef enum chan_event_type {
    CHAN_EV_NONE = 0,
    CHAN_EV_AUTHENTICATED = 1, /* server: peer authorised; send Welcome */
    CHAN_EV_REFUSED = 2,       /* a handshake was refused (reason) */
    CHAN_EV_CLOSED = 3,        /* a live session ended (reason) */
    CHAN_EV_READY = 4,         /* client: Welcome received, session usable */
    CHAN_EV_PROTO = 5          /* a peer broke the protocol (reason) */
} chan_event_type_t;

/* One event. Strings are NUL-terminated, empty when unknown. */
typedef struct chan_event {
    chan_event_type_t type;
    char site_id[CHAN_SITE_ID_MAX + 1];
    char fingerprint[CHAN_FPR_HEX_LEN + 1];
    char peer_addr[64];
    char reason[CHAN_REASON_MAX];
} chan_event_t;

/* The event type's name ("authenticated", ...). Static string. */
const char *chan_event_name(chan_event_type_t type);

/* One allow-list entry: the site id and, optionally, its fingerprint. */
typedef struct chan_allow {
    const char *site_id;
    const char *fingerprint; /* NULL or "" = any certificate for site_id;
                                hex, colons and case ignored */
} chan_allow_t;

/* TLS files common to both sides. Paths are copied by *_new(). */
typedef struct chan_tls_files {
    const char *ca_file;   /* federation CA certificate (PEM) */
    const char *crl_file;  /* the CA's current CRL (PEM); required */
    const char *cert_file; /* own certificate (PEM) */
    const char *key_file;  /* own private key (PEM), mode 0600 or stricter */
} chan_tls_files_t;

typedef struct chan_server_opts {
    const char *endpoint; /* e.g. "tcp://0.0.0.0:7600" */
    chan_tls_files_t tls;
    const chan_allow_t *allow; /* allow-list, n_allow entries (copied) */
    size_t n_allow;
    chan_msgid_fn msgid;       /* NULL: pb_envelope_peek */
    size_t max_msg_size;       /* largest application message; 0: 16 MiB */
    int handshake_timeout_ms;  /* half-open sessions dropped; 0: 5000 */
    int idle_timeout_ms;       /* silent live sessions dropped; 0: 600000 */
    int dup_guard_ms;          /* refuse a second live session of an
                                  identity active this recently on another
                                  connection; 0: 2000, <0: off */
    size_t max_unauth;         /* half-open sessions; 0: 256 */
    size_t max_unauth_bytes;   /* TLS bytes one half-open session may send;
                                  0: 64 KiB */
    size_t max_retained_bytes; /* per identity: kept requests and cached
                                  replies; 0: 4 * max_msg_size */
    int reply_timeout_ms;      /* a kept request unanswered this long is
                                  sent again; 0: 30000, <0: off */
    int heartbeat_ms;          /* ZMTP heartbeat interval; 0: 2000 */
    int send_timeout_ms;       /* a blocked send drops the session; 0: 2000*/
    void *zmq_context;         /* borrowed ZeroMQ context (outlives the
                                  server; inproc:// needs one shared by both
                                  ends); NULL: own context */
} chan_server_opts_t;

typedef struct chan_client_opts {
    const char *endpoint;    /* e.g. "tcp://coordinator.example:7600" */
    const char *server_name; /* DNS name the coordinator's cert must hold */
    chan_tls_files_t tls;
    chan_msgid_fn msgid;      /* NULL: pb_envelope_peek */
    size_t max_msg_size;      /* 0: 16 MiB */
    int handshake_timeout_ms; /* until Welcome; 0: 5000 */
    int reply_timeout_ms;     /* unanswered kept message triggers a new
                                 session; 0: 30000, <0: off */
    int retry_min_ms;         /* back-off after a refusal; 0: 200 */
    int retry_max_ms;         /* 0: 5000 */
    size_t max_outbox_bytes;  /* kept messages; 0: 4 * max_msg_size */
    int heartbeat_ms;         /* 0: 2000 */
    int send_timeout_ms;      /* 0: 5000 */
    void *zmq_context;        /* borrowed ZeroMQ context (outlives the
                                 client); NULL: own context */
} chan_client_opts_t;

typedef struct chan_server chan_server_t;
typedef struct chan_client chan_client_t;

/* Counters for monitoring and tests. */
typedef struct chan_stats {
    size_t sessions_unauth; /* half-open sessions now */
    size_t sessions_live;   /* authenticated sessions now */
    size_t unauth_bytes;    /* TLS bytes buffered for half-open sessions */
    size_t retained_bytes;  /* kept and cached application bytes */
    size_t inbox_bytes;     /* delivered, not yet taken by chan_*_recv;
                               at most CHAN_INBOX_MSGS * max_msg_size plus
                               one message: reading pauses past that */
    uint64_t handshakes_ok; /* completed and authorised */
    uint64_t handshakes_refused;
    uint64_t frames_bad;     /* malformed frames dropped */
    uint64_t evicted_unauth; /* half-open sessions evicted by the cap */
    uint64_t dups_dropped;   /* duplicate messages not delivered */
    uint64_t events_dropped; /* events lost to a full event queue */
} chan_stats_t;

/* ---- server (coordinator, ROUTER) ---- */

/*
 * Loads the CA, CRL, certificate and key, checks them (CRL present and not
 * past nextUpdate, key matches certificate, key file not readable by
 * others), binds a ROUTER to o->endpoint. *out: caller owns it, destroy with
 * chan_server_destroy(). Returns FL_OK, FL_ERR_INVALID (options),
 * FL_ERR_CRYPTO / FL_ERR_NOT_FOUND / FL_ERR_PARSE (TLS files), FL_ERR_IO
 * (bind), FL_ERR_NOMEM.
 */
fl_err_t chan_server_new(const chan_server_opts_t *o, chan_server_t **out,
                         fl_errbuf_t *eb) FL_WUR;

/* Closes all sessions (close_notify to live ones), frees, sets *p NULL. */
void chan_server_destroy(chan_server_t **p);

/* The port actually bound (useful with "tcp://127.0.0.1:*"), or -1. */
int chan_server_port(const chan_server_t *srv);

/*
 * Waits up to timeout_ms (0: do not wait, -1: forever) for frames, handles
 * every frame that arrived and the timers. Then drain chan_server_event()
 * and chan_server_recv(). Returns FL_OK or FL_ERR_IO (poll failed).
 */
fl_err_t chan_server_poll(chan_server_t *srv, int timeout_ms,
                          fl_errbuf_t *eb) FL_WUR;

/*
 * Next event into *ev. Returns FL_OK, or FL_ERR_AGAIN when there is none.
 */
fl_err_t chan_server_event(chan_server_t *srv, chan_event_t *ev) FL_WUR;

/*
 * Next application message from an authorised peer. site_id receives the
 * sender's identity (from its certificate); *buf (caller frees with free())
 * and *len the message. Returns FL_OK or FL_ERR_AGAIN.
 */
fl_err_t chan_server_recv(chan_server_t *srv,
                          char site_id[CHAN_SITE_ID_MAX + 1], uint8_t **buf,
                          size_t *len) FL_WUR;

/*
 * Sends the Welcome on the session that just authenticated site_id (after
 * CHAN_EV_AUTHENTICATED), then the requests still kept for it. The Welcome
 * itself is not kept. Returns FL_OK, FL_ERR_NOT_FOUND (no session awaiting
 * a Welcome), FL_ERR_LIMIT (too big), FL_ERR_CLOSED (send failed).
 */
fl_err_t chan_server_welcome(chan_server_t *srv, const char *site_id,
                             const uint8_t *buf, size_t len,
                             fl_errbuf_t *eb) FL_WUR;

/*
 * Sends one message (copied) to site_id. Requests (in_reply_to 0) are kept
 * until answered unless flags has CHAN_SEND_NO_REPLY; replies are cached
 * for repeated requests. With no live session a kept or cached message
 * waits for the next one (FL_OK); a CHAN_SEND_NO_REPLY request gives
 * FL_ERR_CLOSED. Returns FL_OK, FL_ERR_NOT_FOUND (site not on the
 * allow-list), FL_ERR_PARSE (msgid refused the message), FL_ERR_LIMIT,
 * FL_ERR_CLOSED.
 */
fl_err_t chan_server_send(chan_server_t *srv, const char *site_id,
                          const uint8_t *buf, size_t len, unsigned flags,
                          fl_errbuf_t *eb) FL_WUR;

/*
 * As chan_server_send(), but takes ownership of buf (from malloc(), e.g. a
 * buffer chan_server_recv() returned) instead of copying it: the channel
 * keeps it for retransmission or frees it, on every return including
 * errors; the caller must not use buf afterwards. Saves one copy of the
 * message (the one worth saving for big ones). FL_ERR_INVALID if buf is
 * NULL; otherwise the same codes as chan_server_send().
 */
fl_err_t chan_server_send_owned(chan_server_t *srv, const char *site_id,
                                uint8_t *buf, size_t len, unsigned flags,
                                fl_errbuf_t *eb) FL_WUR;

/* Stops keeping request msg_id sent to site_id. FL_OK or FL_ERR_NOT_FOUND. */
fl_err_t chan_server_ack(chan_server_t *srv, const char *site_id,
                         uint64_t msg_id) FL_WUR;

/* Whether site_id has an authenticated, welcomed session now. */
bool chan_server_is_live(const chan_server_t *srv, const char *site_id);

/* Copies the counters into *st. */
void chan_server_stats(const chan_server_t *srv, chan_stats_t *st);

/*
 * Re-reads the CA, CRL, certificate and key (e.g. on SIGHUP) for new
 * handshakes; live sessions go on. On error the old files stay in force.
 */
fl_err_t chan_server_reload(chan_server_t *srv, fl_errbuf_t *eb) FL_WUR;

/* ---- client (node, DEALER) ---- */

/*
 * Loads and checks the TLS files as chan_server_new() does, connects a
 * DEALER to o->endpoint and starts a handshake once connected. Returns as
 * chan_server_new(). *out: caller owns it (chan_client_destroy()).
 */
fl_err_t chan_client_new(const chan_client_opts_t *o, chan_client_t **out,
                         fl_errbuf_t *eb) FL_WUR;

/* Sends close_notify if a session is live, frees, sets *p NULL. */
void chan_client_destroy(chan_client_t **p);

/*
 * Waits up to timeout_ms for frames or connection events and handles them
 * and the timers (handshake and reply timeouts, retries). Returns FL_OK or
 * FL_ERR_IO.
 */
fl_err_t chan_client_poll(chan_client_t *cli, int timeout_ms,
                          fl_errbuf_t *eb) FL_WUR;

/* Next event (CHAN_EV_READY, _REFUSED, _CLOSED, _PROTO). FL_ERR_AGAIN: none*/
fl_err_t chan_client_event(chan_client_t *cli, chan_event_t *ev) FL_WUR;

/*
 * Next message from the coordinator (the first of each session is its
 * Welcome). *buf: caller frees with free(). FL_OK or FL_ERR_AGAIN.
 */
fl_err_t chan_client_recv(chan_client_t *cli, uint8_t **buf,
                          size_t *len) FL_WUR;

/*
 * Queues one message (copied); it is sent at once when the session is
 * ready, else after the next Welcome. Requests are kept until answered
 * unless flags has CHAN_SEND_NO_REPLY. Returns FL_OK, FL_ERR_PARSE (msgid
 * refused the message), FL_ERR_LIMIT (too big or outbox full).
 */
fl_err_t chan_client_send(chan_client_t *cli, const uint8_t *buf, size_t len,
                          unsigned flags, fl_errbuf_t *eb) FL_WUR;

/*
 * As chan_client_send(), but takes ownership of buf (from malloc()): kept
 * for retransmission or freed by the channel on every return including
 * errors; the caller must not use buf afterwards. Saves one copy of the
 * message. FL_ERR_INVALID if buf is NULL; otherwise as chan_client_send().
 */
fl_err_t chan_client_send_owned(chan_client_t *cli, uint8_t *buf, size_t len,
                                unsigned flags, fl_errbuf_t *eb) FL_WUR;

/* Whether the Welcome of the current session has arrived. */
bool chan_client_is_ready(const chan_client_t *cli);

/* Number of messages kept for retransmission. */
size_t chan_client_outbox_len(const chan_client_t *cli);

/* Drops the current session and starts a new handshake now. */
void chan_client_rehandshake(chan_client_t *cli);

/* Milliseconds the last completed handshake took (to Welcome), or -1. */
double chan_client_last_handshake_ms(const chan_client_t *cli);

#endif
