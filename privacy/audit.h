/*
 * privacy/audit.h: the signed, hash-chained audit log (writer and reader).
 *
 * The coordinator and every node keep one. Each entry is one line of JSON
 * with sorted keys and no spaces (jansson JSON_SORT_KEYS | JSON_COMPACT):
 *
 *   {"actor":"urn:dpfl:site:a","body":{...},"prev":"<64 hex>",
 *    "seq":7,"sig":"<128 hex>","time_ms":1764170000000,"type":"..."}
 *
 * prev is the SHA-256 of the previous line's bytes (without its newline);
 * the first entry's prev is 64 zeros. sig is the Ed25519 signature of the
 * canonical serialisation of the entry without "sig". A line must be exactly
 * the canonical serialisation of what it parses to, so every changed byte
 * either breaks the form or the signature. Each append is fsynced before it
 * returns. The first entry of every log is "log_created", naming the
 * fingerprint of the signing key. Format, events and what they prove:
 * docs/audit.md.
 *
 * Keys: Ed25519 in PEM (private: PKCS#8, file mode 0600 or stricter;
 * public: SubjectPublicKeyInfo), as `dpfl-pki audit-key` writes them. The
 * private key lives only in an EVP_PKEY; it is never written to a log or an
 * error message.
 *
 * Thread-safety: a dp_audit_log_t or dp_audit_reader_t is used by one thread
 * at a time. Functions without an object are thread-safe.
 */
#ifndef DP_AUDIT_H
#define DP_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "privacy/sgm.h"

/* Limits on what a reader accepts (and a writer produces). */
#define DP_AUDIT_MAX_LINE (256 * 1024)
#define DP_AUDIT_MAX_ENTRIES 10000000ULL
#define DP_AUDIT_MAX_ACTOR 256 /* bytes of an actor or site identity */
#define DP_AUDIT_MAX_TYPE 32   /* event type names: [a-z_]{1,32} */
#define DP_AUDIT_MAX_KEY_FILE (16 * 1024)

/*
 * Event types and their bodies (every body is a JSON object; fields listed
 * are required unless marked optional; docs/audit.md says what each proves).
 * The writer checks the bodies of the events the verifier relies on
 * (log_created, privacy_spent, coordinator_head); the rest are the daemons'
 * responsibility to fill as documented.
 */
/* {"format":1,"key_sha256":hex} written by dp_audit_open on a new log. */
#define DP_AUDIT_EV_LOG_CREATED "log_created"
/* {"program":s,"version":s,"rng":"secure"|"seeded","dp":true|false} */
#define DP_AUDIT_EV_START "start"
/* {"job_hash":hex,"rounds":n,"clip":x,"noise_multiplier":x,"delta":x,
 *  "accountant":"rdp"|"pld","min_nodes":n} (optional "target_epsilon") */
#define DP_AUDIT_EV_JOB_LOADED "job_loaded"
/* {"site":s,"cert_sha256":hex} */
#define DP_AUDIT_EV_NODE_AUTHENTICATED "node_authenticated"
/* {"peer":s,"reason":s} (peer: what is known: fingerprint or address) */
#define DP_AUDIT_EV_NODE_REFUSED "node_refused"
/* {"site":s,"job_hash":hex} (optional "dataset_size": disclosed size) */
#define DP_AUDIT_EV_JOB_ACCEPTED "job_accepted"
/* {"site":s,"job_hash":hex,"reason":s} */
#define DP_AUDIT_EV_JOB_DECLINED "job_declined"
/* {"round":n,"job_hash":hex,"participants":[s,...]} */
#define DP_AUDIT_EV_ROUND_STARTED "round_started"
/* {"round":n,"site":s,"update_sha256":hex} */
#define DP_AUDIT_EV_UPDATE_RECEIVED "update_received"
/* {"round":n,"site":s,"reason":s} */
#define DP_AUDIT_EV_UPDATE_REJECTED "update_rejected"
/* {"round":n,"site":s,"job_hash":hex,"q":x,"sigma":x,"steps":n,"clip":x,
 *  "delta":x,"accountant":"rdp"|"pld","epsilon":x}
 *  (optional "pld_interval":x for pld, "rdp_orders":"default"|"opacus" for
 *  rdp (absent: default), "dataset_size":n when disclosed)
 *  epsilon is the site's epsilon after this round over every privacy_spent
 *  of that site in this log so far: see dp_audit_log_privacy_spent(). */
#define DP_AUDIT_EV_PRIVACY_SPENT "privacy_spent"
/* {"round":n,"model_sha256":hex,"aggregator":s,"updates":n} */
#define DP_AUDIT_EV_AGGREGATE_APPLIED "aggregate_applied"
/* {"round":n,"sha256":hex} */
#define DP_AUDIT_EV_CHECKPOINT_WRITTEN "checkpoint_written"
/* {"site":s,"epsilon":x,"budget":x} */
#define DP_AUDIT_EV_BUDGET_EXHAUSTED "budget_exhausted"
/* {"coordinator":s,"seq":n,"hash":hex,"round":n}: a node's record of the
 * coordinator log head a train request carried (cross-witnessing). */
#define DP_AUDIT_EV_COORDINATOR_HEAD "coordinator_head"
/* {"reason":s} */
#define DP_AUDIT_EV_SHUTDOWN "shutdown"

/* ---- keys ------------------------------------------------------------- */

/*
 * Loads an Ed25519 private key (PEM, PKCS#8, unencrypted). Refuses a file
 * readable by group or others (FL_ERR_AUTH), another key type
 * (FL_ERR_CRYPTO), a file larger than DP_AUDIT_MAX_KEY_FILE. The file's
 * bytes are wiped after parsing. Caller owns *out (EVP_PKEY_free).
 */
fl_err_t dp_audit_key_load_private(const char *path, EVP_PKEY **out,
                                   fl_errbuf_t *eb) FL_WUR;

/* Loads an Ed25519 public key (PEM SubjectPublicKeyInfo). Caller owns. */
fl_err_t dp_audit_key_load_public(const char *path, EVP_PKEY **out,
                                  fl_errbuf_t *eb) FL_WUR;

/*
 * Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo of key (private or
 * public): the fingerprint "log_created" records. hex has 65 bytes.
 */
fl_err_t dp_audit_key_fingerprint(EVP_PKEY *key, char hex[65],
                                  fl_errbuf_t *eb) FL_WUR;

/* ---- writer ----------------------------------------------------------- */

typedef struct dp_audit_log dp_audit_log_t;

/*
 * Opens the log at path for appending, signing with key (an Ed25519 private
 * key; the log takes its own reference). owner is the identity of the log's
 * keeper (the site identity from its certificate, e.g. "urn:dpfl:site:a"),
 * the default actor of its entries. A new or empty file gets the
 * "log_created" entry. An existing log is read and checked first (chain,
 * signatures with key's public half, order, log_created naming this key);
 * if anything is wrong, including an incomplete final line, nothing is
 * written and eb names `path:line (seq N): reason`. Caller owns *out.
 */
fl_err_t dp_audit_open(const char *path, EVP_PKEY *key, const char *owner,
                       dp_audit_log_t **out, fl_errbuf_t *eb) FL_WUR;

/* Closes the file, frees *log_p (dropping its key reference), sets NULL. */
void dp_audit_close(dp_audit_log_t **log_p);

/*
 * Appends one entry: type (one of the DP_AUDIT_EV_* names or another
 * [a-z_]{1,32} name), actor (NULL: the log's owner), body (a JSON object,
 * borrowed: not modified or freed). The entry is signed and fsynced before
 * this returns FL_OK, so the caller may order an action after it. Times
 * never go backwards in a log: an entry gets max(now, previous time).
 * FL_ERR_INVALID for a bad argument, FL_ERR_LIMIT for a line longer than
 * DP_AUDIT_MAX_LINE, FL_ERR_IO when writing failed, after which the log
 * refuses further appends (FL_ERR_STATE): reopen it.
 */
fl_err_t dp_audit_append(dp_audit_log_t *log, const char *type,
                         const char *actor, const json_t *body,
                         fl_errbuf_t *eb) FL_WUR;

/* Sequence number and SHA-256 of the last entry (the log head). */
void dp_audit_head(const dp_audit_log_t *log, uint64_t *seq,
                   unsigned char hash[32]);

/* One site's spend in one round, as privacy_spent records it. */
typedef struct dp_audit_spend {
    const char *site;       /* identity of the node that spent */
    const char *job_hash;   /* 64 lowercase hex digits */
    uint64_t round;         /* round id */
    dp_sgm_t sgm;           /* q, sigma, steps of this round */
    double clip;            /* clip norm C */
    double delta;           /* delta the epsilon is reported at */
    const char *accountant; /* "rdp" or "pld" */
    double pld_interval;    /* pld grid width; <= 0: not recorded */
    const char *rdp_orders; /* rdp order grid "opacus"; NULL: "default" */
    double epsilon;         /* site's epsilon after this round */
    int64_t dataset_size;   /* disclosed dataset size, < 0: not disclosed */
} dp_audit_spend_t;

/*
 * Appends a privacy_spent entry (actor: the log owner). epsilon must be what
 * the accountant gives for the site's history in this log: every earlier
 * privacy_spent of the site, in order, then this round's sgm, at this delta
 * with this accountant. `dpfl-audit verify` recomputes exactly that.
 */
fl_err_t dp_audit_log_privacy_spent(dp_audit_log_t *log,
                                    const dp_audit_spend_t *spend,
                                    fl_errbuf_t *eb) FL_WUR;

/*
 * Appends a coordinator_head entry: a node records the coordinator log head
 * (seq, SHA-256) that a train request for round carried.
 */
fl_err_t dp_audit_log_coordinator_head(dp_audit_log_t *log,
                                       const char *coordinator, uint64_t seq,
                                       const unsigned char hash[32],
                                       uint64_t round, fl_errbuf_t *eb) FL_WUR;

/* ---- reader ----------------------------------------------------------- */

/* One checked entry. Strings and body point into the reader's current
 * entry and stay valid until the next dp_audit_reader_next() or close. */
typedef struct dp_audit_entry {
    size_t line;            /* 1-based line number in the file */
    uint64_t seq;           /* equals line */
    int64_t time_ms;        /* wall clock, milliseconds since 1970 */
    const char *type;       /* event type */
    const char *actor;      /* who acted */
    const json_t *body;     /* the event body (an object) */
    unsigned char hash[32]; /* SHA-256 of this line (the next prev) */
} dp_audit_entry_t;

typedef struct dp_audit_reader dp_audit_reader_t;

/*
 * Opens path for reading. key (public or private Ed25519; borrowed, must
 * outlive the reader) makes the reader verify every signature and that
 * log_created names this key; NULL checks everything else only (for
 * `dpfl-audit show`). Caller owns *out.
 */
fl_err_t dp_audit_reader_open(const char *path, EVP_PKEY *key,
                              dp_audit_reader_t **out, fl_errbuf_t *eb) FL_WUR;

/*
 * Reads and checks the next entry: line length, canonical JSON, field
 * types, seq = previous + 1, prev = hash of the previous line, time not
 * before the previous entry's, the signature (with a key), first entry
 * "log_created". *eof is 1 (and *entry untouched) at a clean end of file.
 * Errors name `path:line (seq N): reason`: FL_ERR_PARSE, FL_ERR_LIMIT,
 * FL_ERR_AUTH (chain, order or signature), FL_ERR_IO. After an error the
 * reader stays failed.
 */
fl_err_t dp_audit_reader_next(dp_audit_reader_t *r, dp_audit_entry_t *entry,
                              int *eof, fl_errbuf_t *eb) FL_WUR;

/* The owner (actor of log_created) once the first entry was read, or "". */
const char *dp_audit_reader_owner(const dp_audit_reader_t *r);

/* The path the reader was opened with. */
const char *dp_audit_reader_path(const dp_audit_reader_t *r);

void dp_audit_reader_close(dp_audit_reader_t **r_p);

/* ---- verifier (audit_verify.c) ---------------------------------------- */

/* How a privacy_spent entry says its epsilon was computed. */
typedef struct dp_audit_accounting {
    const char *accountant; /* "rdp" or "pld" */
    double pld_interval;    /* pld grid width, <= 0: the accountant default */
    const char *rdp_orders; /* "default" or "opacus" (rdp only) */
    double delta;
} dp_audit_accounting_t;

/*
 * Computes epsilon for a history (one dp_sgm_t per privacy_spent of the
 * site so far, in log order, the current round last). ctx is the caller's.
 */
typedef fl_err_t (*dp_audit_epsilon_fn)(void *ctx,
                                        const dp_audit_accounting_t *acct,
                                        const dp_sgm_t *hist, size_t n,
                                        double *epsilon, fl_errbuf_t *eb);

/*
 * The dp_audit_epsilon_fn over privacy/accountant.h (ctx unused): what
 * `dpfl-audit verify` recomputes with, and what a daemon should compute the
 * epsilon it logs with, so that both agree to the last bit.
 */
fl_err_t dp_audit_epsilon_accountant(void *ctx,
                                     const dp_audit_accounting_t *acct,
                                     const dp_sgm_t *hist, size_t n,
                                     double *epsilon, fl_errbuf_t *eb) FL_WUR;

/* A node's log, checked against its own key, witnessing the coordinator. */
typedef struct dp_audit_witness {
    const char *path;
    EVP_PKEY *key; /* the node's public audit key (borrowed) */
} dp_audit_witness_t;

typedef struct dp_audit_verify_opts {
    /* Recomputes epsilons; NULL skips the check (report says so). */
    dp_audit_epsilon_fn epsilon;
    void *epsilon_ctx;
    /* A logged epsilon e agrees with the recomputed r when
     * |e - r| <= abs_tol + rel_tol * |r|. Defaults 1e-6 and 1e-9. */
    double rel_tol;
    double abs_tol;
} dp_audit_verify_opts_t;

typedef struct dp_audit_verify_report {
    uint64_t entries;         /* entries of the main log */
    uint64_t spends;          /* privacy_spent entries checked, all logs */
    uint64_t sites;           /* distinct sites with spends in the main log */
    int epsilon_checked;      /* 1 when opts.epsilon was given */
    uint64_t witness_entries; /* entries of all witness logs */
    uint64_t heads;           /* witnessed heads matched to the main log */
    uint64_t heads_other;     /* witnessed heads of another coordinator */
    char owner[DP_AUDIT_MAX_ACTOR + 1]; /* the main log's owner */
} dp_audit_verify_report_t;

/* Default options: no epsilon function, tolerances 1e-6 / 1e-9. */
void dp_audit_verify_opts_init(dp_audit_verify_opts_t *opts);

/*
 * Verifies the log at path with key (its keeper's public key) and the
 * witness logs: each witness log's own chain, signatures and order with its
 * key; every coordinator_head it recorded for this log's owner must equal
 * (seq, SHA-256) of this log's entry at that seq, and a head beyond this
 * log's end means its tail was cut; every privacy_spent in every log is
 * recomputed with opts->epsilon over the site's history in that log. Stops
 * at the first problem: FL_ERR_AUTH (integrity, epsilon, witness),
 * FL_ERR_PARSE / FL_ERR_LIMIT (malformed), FL_ERR_IO / FL_ERR_NOT_FOUND
 * (files), with eb naming `file:line (seq N): reason`. report (may be NULL)
 * is filled as far as the check got.
 */
fl_err_t dp_audit_verify(const char *path, EVP_PKEY *key,
                         const dp_audit_witness_t *witnesses, size_t n_witness,
                         const dp_audit_verify_opts_t *opts,
                         dp_audit_verify_report_t *report,
                         fl_errbuf_t *eb) FL_WUR;

/* ---- helpers ---------------------------------------------------------- */

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void dp_audit_hex(const unsigned char *in, size_t n, char *out);

/* Parses exactly 2n lowercase hex digits. Returns 1 on success. */
int dp_audit_unhex(const char *hex, unsigned char *out, size_t n);

/*
 * Body schemas shared by the writer and the verifier. Each returns 1 when
 * body is a valid privacy_spent / coordinator_head body and fills the
 * output (strings point into body), else 0 with *why set to a static
 * reason.
 */
int dp_audit_parse_spend(const json_t *body, dp_audit_spend_t *out,
                         const char **why);
int dp_audit_parse_head(const json_t *body, const char **coordinator,
                        uint64_t *seq, unsigned char hash[32], uint64_t *round,
                        const char **why);

#endif
