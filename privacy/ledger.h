/*
 * privacy/ledger.h: the node's write-ahead privacy budget ledger.
 *
 * Before a node trains a round it appends a reservation (the mechanism it is
 * about to run and the epsilon it will have spent afterwards) and fsyncs it;
 * after the update has left it appends a commit naming the reservation.
 * Both are single text lines guarded by a CRC-32 (format: docs/ledger.md).
 *
 * At open the ledger is replayed. Every reservation counts as spent, whether
 * or not it was committed: a crash between reserve and commit may have
 * released an update, so budgets never go back. A ledger that does not parse
 * (bad checksum, bad field, sequence gap, incomplete final line, ...) is an
 * error naming `file:line: reason`, and the file is left untouched: it is
 * never truncated, rewritten or repaired by this code.
 *
 * The budget is per hospital per dataset: one ledger file per dataset, and
 * the history that counts is every reservation in it, across all jobs.
 *
 * Thread-safety: a dp_ledger_t is not thread-safe; use it from one thread.
 * The file is locked (POSIX record lock) while open so that a second process
 * cannot append to the same ledger.
 */
#ifndef DP_LEDGER_H
#define DP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "privacy/sgm.h"

/* Limits: longest accepted line (bytes, newline excluded) and most
 * reservations one ledger may hold. */
#define DP_LEDGER_MAX_LINE 512
#define DP_LEDGER_MAX_ENTRIES 100000
/* Steps per reservation at most (a round is local steps, not epochs). */
#define DP_LEDGER_MAX_STEPS 100000000ULL

/* Lowercase hex SHA-256 of the job file, NUL-terminated. */
#define DP_LEDGER_JOB_HASH_LEN 64
/* Accountant names are [a-z0-9_], 1 to 15 bytes ("rdp", "pld"). */
#define DP_LEDGER_ACCOUNTANT_MAX 15

typedef struct dp_ledger_entry {
    uint64_t seq;                              /* 1, 2, ... (set by reserve) */
    char job_hash[DP_LEDGER_JOB_HASH_LEN + 1]; /* 64 lowercase hex digits */
    uint64_t round;                            /* round id of the job */
    dp_sgm_t sgm; /* q, sigma, steps of the round */
    double clip;  /* L2 clip norm C > 0 */
    double delta; /* delta in (0, 1) */
    char accountant[DP_LEDGER_ACCOUNTANT_MAX + 1]; /* "rdp" or "pld" */
    double epsilon;  /* epsilon after this round, as the node computed it */
    int64_t time_ms; /* wall clock of the reservation (set by reserve) */
    int committed;   /* 1 once a commit line names it (set by replay) */
    int64_t commit_time_ms; /* wall clock of the commit, 0 if none */
} dp_ledger_entry_t;

typedef struct dp_ledger dp_ledger_t;

/*
 * Opens (creating with a header line when absent or empty) and replays the
 * ledger at path. On any error *out is NULL, nothing was written, and eb says
 * `path:line: reason` (FL_ERR_PARSE for content, FL_ERR_LIMIT for limits,
 * FL_ERR_IO / FL_ERR_NOT_FOUND for the file, FL_ERR_STATE when another
 * process holds the lock). The caller owns *out: dp_ledger_close().
 */
fl_err_t dp_ledger_open(const char *path, dp_ledger_t **out,
                        fl_errbuf_t *eb) FL_WUR;

/* Closes the file, releases the lock, frees *ledger_p and sets it NULL. */
void dp_ledger_close(dp_ledger_t **ledger_p);

/*
 * Appends a reservation built from entry's job_hash, round, sgm, clip,
 * delta, accountant and epsilon (its seq, time and commit fields are
 * ignored), fsyncs it, and returns its sequence number in *seq. When this
 * returns FL_OK the reservation survives a crash. FL_ERR_INVALID for a bad
 * field, FL_ERR_LIMIT when the ledger is full, FL_ERR_IO when the write or
 * fsync failed: then the ledger refuses every further write
 * (FL_ERR_STATE) because the file's tail is unknown; reopen to replay.
 */
fl_err_t dp_ledger_reserve(dp_ledger_t *ledger, const dp_ledger_entry_t *entry,
                           uint64_t *seq, fl_errbuf_t *eb) FL_WUR;

/*
 * Appends and fsyncs a commit of reservation seq. FL_ERR_NOT_FOUND when no
 * such reservation, FL_ERR_STATE when it is already committed or the ledger
 * is broken by an earlier failed write, FL_ERR_IO as for reserve.
 */
fl_err_t dp_ledger_commit(dp_ledger_t *ledger, uint64_t seq,
                          fl_errbuf_t *eb) FL_WUR;

/*
 * The mechanisms spent, one dp_sgm_t per reservation in ledger order,
 * committed or not. job_hash NULL gives every reservation (the history the
 * node's budget is computed from); a job hash gives that job's only (for
 * reports). *hist is a new array the caller frees with free() (NULL when
 * *n is 0).
 */
fl_err_t dp_ledger_history(const dp_ledger_t *ledger, const char *job_hash,
                           dp_sgm_t **hist, size_t *n, fl_errbuf_t *eb) FL_WUR;

/* Number of reservations (committed or not). */
size_t dp_ledger_count(const dp_ledger_t *ledger);

/* Number of reservations without a commit (crashes or rounds in flight). */
size_t dp_ledger_uncommitted_count(const dp_ledger_t *ledger);

/*
 * The i-th reservation (0-based, i < dp_ledger_count()), or NULL. The
 * pointer stays valid until the next reserve or close.
 */
const dp_ledger_entry_t *dp_ledger_get(const dp_ledger_t *ledger, size_t i);

/* Largest epsilon recorded in any reservation, 0 for an empty ledger. */
double dp_ledger_last_epsilon(const dp_ledger_t *ledger);

#endif
