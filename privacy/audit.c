/*
 * privacy/audit.c: the signed, hash-chained audit log: keys, writer, reader.
 *
 * Writer and reader share one definition of an entry: the canonical JSON
 * serialisation (sorted keys, compact). The reader accepts a line only when
 * it is byte for byte the canonical form of what it parses to, so the
 * signature (over the canonical form without "sig") and the chain (SHA-256
 * of the line) together cover every byte. See docs/audit.md.
 */
#include "privacy/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/clock.h"
#include "common/durable.h"
#include "common/hex.h"
#include "privacy/accountant.h"

#define JSON_FLAGS (JSON_SORT_KEYS | JSON_COMPACT)
#define SIG_LEN 64
#define READ_CHUNK 65536

/* ---- hex and small checks --------------------------------------------- */

void
dp_audit_hex(const unsigned char *in, size_t n, char *out)
{
    fl_hex_encode(in, n, out);
}

/* Canonical lines hold lower-case hex only. */
int
dp_audit_unhex(const char *hex, unsigned char *out, size_t n)
{
    return fl_hex_decode(hex, out, n, 0);
}

static int
is_hex_len(const char *s, size_t n)
{
    return strlen(s) == n && fl_hex_is_lower(s, n);
}

static int
valid_type(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > DP_AUDIT_MAX_TYPE)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || t[i] == '_'))
            return 0;
    return 1;
}

/* An identity: 1..DP_AUDIT_MAX_ACTOR bytes, no control characters. */
static int
valid_identity(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > DP_AUDIT_MAX_ACTOR)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int
sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;

    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

/* ---- body schemas ----------------------------------------------------- */

static const char *
get_str(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
get_u64(const json_t *o, const char *k, uint64_t *out)
{
    const json_t *v = json_object_get(o, k);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    *out = (uint64_t) json_integer_value(v);
    return 1;
}

static int
get_num(const json_t *o, const char *k, double *out)
{
    const json_t *v = json_object_get(o, k);

    if (!json_is_number(v))
        return 0;
    *out = json_number_value(v);
    return isfinite(*out);
}

/* Every key of o is one of the NULL-terminated list. */
static int
only_keys(const json_t *o, const char *const *keys)
{
    const char *k;
    const json_t *v;

    json_object_foreach((json_t *) o, k, v)
    {
        size_t i = 0;

        (void) v;
        while (keys[i] != NULL && strcmp(keys[i], k) != 0)
            i++;
        if (keys[i] == NULL)
            return 0;
    }
    return 1;
}

static const char *
spend_fields(const json_t *b, dp_audit_spend_t *s)
{
    dp_accountant_kind_t kind;
    dp_orders_t orders;
    uint64_t u;

    if ((s->site = get_str(b, "site")) == NULL || !valid_identity(s->site))
        return "site missing or not an identity";
    if ((s->job_hash = get_str(b, "job_hash")) == NULL ||
        !is_hex_len(s->job_hash, 64))
        return "job_hash is not 64 lowercase hex digits";
    if (!get_u64(b, "round", &s->round))
        return "round is not an integer >= 0";
    if (!get_num(b, "q", &s->sgm.sampling_rate) ||
        !(s->sgm.sampling_rate > 0.0 && s->sgm.sampling_rate <= 1.0))
        return "q is not a number in (0, 1]";
    if (!get_num(b, "sigma", &s->sgm.noise_multiplier) ||
        !(s->sgm.noise_multiplier > 0.0))
        return "sigma is not a number > 0";
    if (!get_u64(b, "steps", &s->sgm.steps) || s->sgm.steps < 1)
        return "steps is not an integer >= 1";
    if (!get_num(b, "clip", &s->clip) || !(s->clip > 0.0))
        return "clip is not a number > 0";
    if (!get_num(b, "delta", &s->delta) || !(s->delta > 0.0 && s->delta < 1.0))
        return "delta is not a number in (0, 1)";
    if ((s->accountant = get_str(b, "accountant")) == NULL ||
        dp_accountant_kind_parse(s->accountant, &kind) != FL_OK)
        return "accountant is not \"rdp\" or \"pld\"";
    if (!get_num(b, "epsilon", &s->epsilon) || !(s->epsilon >= 0.0))
        return "epsilon is not a number >= 0";
    s->pld_interval = 0.0;
    if (json_object_get(b, "pld_interval") != NULL &&
        (!get_num(b, "pld_interval", &s->pld_interval) ||
         !(s->pld_interval > 0.0) || kind != DP_ACCOUNTANT_PLD))
        return "pld_interval is not a number > 0 of a pld spend";
    s->rdp_orders = NULL;
    if (json_object_get(b, "rdp_orders") != NULL &&
        ((s->rdp_orders = get_str(b, "rdp_orders")) == NULL ||
         dp_orders_parse(s->rdp_orders, &orders) != FL_OK ||
         kind != DP_ACCOUNTANT_RDP))
        return "rdp_orders is not \"default\" or \"opacus\" of an rdp spend";
    s->dataset_size = -1;
    if (json_object_get(b, "dataset_size") != NULL) {
        if (!get_u64(b, "dataset_size", &u) || u < 1)
            return "dataset_size is not an integer >= 1";
        s->dataset_size = (int64_t) u;
    }
    return NULL;
}

int
dp_audit_parse_spend(const json_t *body, dp_audit_spend_t *out,
                     const char **why)
{
    static const char *const keys[] = {
        "site",         "job_hash",     "round",      "q",          "sigma",
        "steps",        "clip",         "delta",      "accountant", "epsilon",
        "pld_interval", "dataset_size", "rdp_orders", NULL};

    memset(out, 0, sizeof *out);
    if (!json_is_object(body) || !only_keys(body, keys)) {
        *why = "privacy_spent body has an unknown field";
        return 0;
    }
    *why = spend_fields(body, out);
    return *why == NULL;
}

int
dp_audit_parse_head(const json_t *body, const char **coordinator, uint64_t *seq,
                    unsigned char hash[32], uint64_t *round, const char **why)
{
    static const char *const keys[] = {"coordinator", "seq", "hash", "round",
                                       NULL};
    const char *h;

    *why = NULL;
    if (!json_is_object(body) || !only_keys(body, keys))
        *why = "coordinator_head body has an unknown field";
    else if ((*coordinator = get_str(body, "coordinator")) == NULL ||
             !valid_identity(*coordinator))
        *why = "coordinator missing or not an identity";
    else if (!get_u64(body, "seq", seq) || *seq < 1)
        *why = "seq is not an integer >= 1";
    else if ((h = get_str(body, "hash")) == NULL ||
             !dp_audit_unhex(h, hash, 32))
        *why = "hash is not 64 lowercase hex digits";
    else if (!get_u64(body, "round", round))
        *why = "round is not an integer >= 0";
    return *why == NULL;
}

static int
parse_created(const json_t *body, char fp[65], const char **why)
{
    static const char *const keys[] = {"format", "key_sha256", NULL};
    const char *k;
    uint64_t format;

    *why = NULL;
    if (!json_is_object(body) || !only_keys(body, keys))
        *why = "log_created body has an unknown field";
    else if (!get_u64(body, "format", &format) || format != 1)
        *why = "log_created format is not 1";
    else if ((k = get_str(body, "key_sha256")) == NULL || !is_hex_len(k, 64))
        *why = "log_created key_sha256 is not 64 lowercase hex digits";
    else
        memcpy(fp, k, 65);
    return *why == NULL;
}

/* ---- keys ------------------------------------------------------------- */

/* Never prompt for a passphrase: audit keys are unencrypted files. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) u;
    return 0;
}

/* A key file, at most DP_AUDIT_MAX_KEY_FILE bytes; a private key must not
 * be readable by group or others (checked on the descriptor read). The
 * caller wipes and frees *out. */
static fl_err_t
read_key_file(const char *path, int private_key, char **out, size_t *len,
              fl_errbuf_t *eb)
{
    struct stat st;
    fl_err_t err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *out = NULL;
    if (fd < 0)
        return fl_fail(eb, errno == ENOENT ? FL_ERR_NOT_FOUND : FL_ERR_IO,
                       "%s: %s", path, strerror(errno));
    if (private_key && fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
        err = fl_fail(eb, FL_ERR_AUTH,
                      "%s: private key readable by group or others "
                      "(chmod 600 it)",
                      path);
    else
        err = fl_fd_read_all(fd, path, DP_AUDIT_MAX_KEY_FILE, out, len, eb);
    (void) close(fd);
    return err;
}

static fl_err_t
load_key(const char *path, int private_key, EVP_PKEY **out, fl_errbuf_t *eb)
{
    EVP_PKEY *pk = NULL;
    BIO *bio = NULL;
    char *buf = NULL;
    size_t len = 0;
    fl_err_t err;

    *out = NULL;
    if ((err = read_key_file(path, private_key, &buf, &len, eb)) != FL_OK)
        return err;
    bio = BIO_new_mem_buf(buf, (int) len);
    if (bio == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    pk = private_key ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                     : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    ERR_clear_error();
    if (pk == NULL) {
        err = fl_fail(eb, FL_ERR_CRYPTO, "%s: not a PEM %s", path,
                      private_key ? "private key (unencrypted PKCS#8)"
                                  : "public key (SubjectPublicKeyInfo)");
        goto out;
    }
    if (!EVP_PKEY_is_a(pk, "ED25519")) {
        err = fl_fail(eb, FL_ERR_CRYPTO, "%s: not an Ed25519 key", path);
        goto out;
    }
    *out = pk;
    pk = NULL;
out:
    BIO_free(bio);
    EVP_PKEY_free(pk);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return err;
}

fl_err_t
dp_audit_key_load_private(const char *path, EVP_PKEY **out, fl_errbuf_t *eb)
{
    return load_key(path, 1, out, eb);
}

fl_err_t
dp_audit_key_load_public(const char *path, EVP_PKEY **out, fl_errbuf_t *eb)
{
    return load_key(path, 0, out, eb);
}

fl_err_t
dp_audit_key_fingerprint(EVP_PKEY *key, char hex[65], fl_errbuf_t *eb)
{
    unsigned char *der = NULL;
    unsigned char md[32];
    int n = i2d_PUBKEY(key, &der);
    int ok;

    if (n <= 0) {
        ERR_clear_error();
        return fl_fail(eb, FL_ERR_CRYPTO, "cannot encode the public key");
    }
    ok = sha256(der, (size_t) n, md);
    OPENSSL_free(der);
    if (!ok)
        return fl_fail(eb, FL_ERR_CRYPTO, "SHA-256 failed");
    dp_audit_hex(md, 32, hex);
    return FL_OK;
}

static int
sign_msg(EVP_PKEY *key, const char *msg, size_t len, unsigned char sig[SIG_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = SIG_LEN;
    int ok;

    ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
         EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *) msg, len) ==
             1 &&
         siglen == SIG_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        ERR_clear_error();
    return ok;
}

static int
verify_msg(EVP_PKEY *key, const char *msg, size_t len,
           const unsigned char sig[SIG_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
         EVP_DigestVerify(ctx, sig, SIG_LEN, (const unsigned char *) msg,
                          len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        ERR_clear_error();
    return ok;
}

/* ---- reader ----------------------------------------------------------- */

struct dp_audit_reader {
    char *path;
    int fd;
    int own_fd;
    EVP_PKEY *key; /* borrowed */
    char keyfp[65];
    char *buf; /* read buffer */
    size_t buf_len, buf_off;
    char *line; /* current line, DP_AUDIT_MAX_LINE + 1 bytes */
    size_t line_no;
    json_t *cur;
    uint64_t seq;
    unsigned char prev[32];
    int64_t last_time;
    char owner[DP_AUDIT_MAX_ACTOR + 1];
    int failed;
    int at_eof;
};

static fl_err_t
reader_new(const char *path, int fd, int own_fd, EVP_PKEY *key,
           dp_audit_reader_t **out, fl_errbuf_t *eb)
{
    dp_audit_reader_t *r = calloc(1, sizeof *r);
    fl_err_t err = FL_OK;

    *out = NULL;
    if (r == NULL || (r->path = strdup(path)) == NULL ||
        (r->buf = malloc(READ_CHUNK)) == NULL ||
        (r->line = malloc(DP_AUDIT_MAX_LINE + 1)) == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    r->fd = fd;
    r->own_fd = own_fd;
    r->key = key;
    if (key != NULL &&
        (err = dp_audit_key_fingerprint(key, r->keyfp, eb)) != FL_OK)
        goto out;
out:
    if (err != FL_OK) {
        if (r != NULL)
            r->own_fd = 0; /* the caller still owns fd on failure */
        dp_audit_reader_close(&r);
    }
    *out = r;
    return err;
}

fl_err_t
dp_audit_reader_open(const char *path, EVP_PKEY *key, dp_audit_reader_t **out,
                     fl_errbuf_t *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    fl_err_t err;

    *out = NULL;
    if (fd < 0)
        return fl_fail(eb, errno == ENOENT ? FL_ERR_NOT_FOUND : FL_ERR_IO,
                       "%s: %s", path, strerror(errno));
    err = reader_new(path, fd, 1, key, out, eb);
    if (err != FL_OK)
        (void) close(fd);
    return err;
}

void
dp_audit_reader_close(dp_audit_reader_t **r_p)
{
    dp_audit_reader_t *r = *r_p;

    if (r == NULL)
        return;
    if (r->own_fd)
        (void) close(r->fd);
    json_decref(r->cur);
    free(r->line);
    free(r->buf);
    free(r->path);
    free(r);
    *r_p = NULL;
}

const char *
dp_audit_reader_owner(const dp_audit_reader_t *r)
{
    return r->owner;
}

const char *
dp_audit_reader_path(const dp_audit_reader_t *r)
{
    return r->path;
}

/* Reads one line into r->line. *n = length; *eof at a clean end. */
static fl_err_t
read_line(dp_audit_reader_t *r, size_t *n, int *eof, fl_errbuf_t *eb)
{
    size_t len = 0;

    *eof = 0;
    for (;;) {
        if (r->buf_off == r->buf_len) {
            ssize_t got = read(r->fd, r->buf, READ_CHUNK);

            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                return fl_fail(eb, FL_ERR_IO, "%s: read: %s", r->path,
                               strerror(errno));
            if (got == 0) {
                if (len == 0) {
                    *eof = 1;
                    return FL_OK;
                }
                return fl_fail(eb, FL_ERR_PARSE,
                               "%s:%zu: incomplete final line (%zu bytes, no "
                               "newline): the writer stopped mid-entry or "
                               "the file was cut",
                               r->path, r->line_no + 1, len);
            }
            r->buf_len = (size_t) got;
            r->buf_off = 0;
        }
        while (r->buf_off < r->buf_len) {
            char c = r->buf[r->buf_off++];

            if (c == '\n') {
                r->line[len] = '\0';
                *n = len;
                return FL_OK;
            }
            if (len == DP_AUDIT_MAX_LINE)
                return fl_fail(eb, FL_ERR_LIMIT,
                               "%s:%zu: line longer than %d bytes", r->path,
                               r->line_no + 1, DP_AUDIT_MAX_LINE);
            r->line[len++] = c;
        }
    }
}

/* Checks the shape of an entry object; returns a reason or NULL. */
static const char *
entry_shape(const json_t *o)
{
    const json_t *v;

    if (!json_is_object(o))
        return "not a JSON object";
    if (json_object_size(o) != 7)
        return "not exactly the fields actor, body, prev, seq, sig, "
               "time_ms, type";
    v = json_object_get(o, "seq");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return "seq is not an integer >= 1";
    v = json_object_get(o, "time_ms");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return "time_ms is not an integer >= 0";
    if (get_str(o, "type") == NULL || !valid_type(get_str(o, "type")))
        return "type is not [a-z_]{1,32}";
    if (get_str(o, "actor") == NULL || !valid_identity(get_str(o, "actor")))
        return "actor is not an identity (1..256 bytes, no control chars)";
    if (!json_is_object(json_object_get(o, "body")))
        return "body is not an object";
    if (get_str(o, "prev") == NULL || !is_hex_len(get_str(o, "prev"), 64))
        return "prev is not 64 lowercase hex digits";
    if (get_str(o, "sig") == NULL || !is_hex_len(get_str(o, "sig"), 128))
        return "sig is not 128 lowercase hex digits";
    return NULL;
}

/* Canonical form of o equals the line's bytes. */
static int
is_canonical(const json_t *o, const char *line, size_t n)
{
    char *s = json_dumps(o, JSON_FLAGS);
    int ok = s != NULL && strlen(s) == n && memcmp(s, line, n) == 0;

    free(s);
    return ok;
}

/* Verifies the signature of o (which is modified: "sig" is removed). */
static int
signature_ok(EVP_PKEY *key, json_t *o)
{
    unsigned char sig[SIG_LEN];
    char *msg;
    int ok;

    if (!dp_audit_unhex(get_str(o, "sig"), sig, SIG_LEN))
        return 0;
    if (json_object_del(o, "sig") != 0)
        return 0;
    msg = json_dumps(o, JSON_FLAGS);
    ok = msg != NULL && verify_msg(key, msg, strlen(msg), sig);
    free(msg);
    return ok;
}

/* Semantic checks against the previous entry and the key. */
static fl_err_t
check_entry(dp_audit_reader_t *r, json_t *o, uint64_t seq, fl_errbuf_t *eb)
{
    unsigned char prev[32];
    const char *type = get_str(o, "type");
    const char *why;
    int64_t t = (int64_t) json_integer_value(json_object_get(o, "time_ms"));
    char fp[65];

    if (seq != r->seq + 1)
        return fl_fail(eb, FL_ERR_AUTH,
                       "%s:%zu (seq %" PRIu64
                       "): sequence number where %" PRIu64
                       " was expected (entry deleted, inserted or moved)",
                       r->path, r->line_no, seq, r->seq + 1);
    if (!dp_audit_unhex(get_str(o, "prev"), prev, 32) ||
        CRYPTO_memcmp(prev, r->prev, 32) != 0)
        return fl_fail(eb, FL_ERR_AUTH,
                       "%s:%zu (seq %" PRIu64 "): prev is not the hash of the "
                       "previous entry (chain broken)",
                       r->path, r->line_no, seq);
    if (t < r->last_time)
        return fl_fail(eb, FL_ERR_AUTH,
                       "%s:%zu (seq %" PRIu64 "): time_ms goes backwards",
                       r->path, r->line_no, seq);
    if (seq == 1) {
        if (strcmp(type, DP_AUDIT_EV_LOG_CREATED) != 0)
            return fl_fail(eb, FL_ERR_PARSE,
                           "%s:1 (seq 1): first entry is not log_created",
                           r->path);
        if (!parse_created(json_object_get(o, "body"), fp, &why))
            return fl_fail(eb, FL_ERR_PARSE, "%s:1 (seq 1): %s", r->path, why);
        if (r->key != NULL && strcmp(fp, r->keyfp) != 0)
            return fl_fail(eb, FL_ERR_AUTH,
                           "%s:1 (seq 1): log was created for key %.16s..., "
                           "not the given key %.16s...",
                           r->path, fp, r->keyfp);
        snprintf(r->owner, sizeof r->owner, "%s", get_str(o, "actor"));
    } else if (strcmp(type, DP_AUDIT_EV_LOG_CREATED) == 0) {
        return fl_fail(eb, FL_ERR_AUTH,
                       "%s:%zu (seq %" PRIu64 "): log_created after the start",
                       r->path, r->line_no, seq);
    }
    if (r->key != NULL && !signature_ok(r->key, o))
        return fl_fail(eb, FL_ERR_AUTH,
                       "%s:%zu (seq %" PRIu64 "): signature does not verify "
                       "with the given key",
                       r->path, r->line_no, seq);
    r->last_time = t;
    return FL_OK;
}

static fl_err_t
reader_next(dp_audit_reader_t *r, dp_audit_entry_t *e, int *eof,
            fl_errbuf_t *eb)
{
    json_error_t jerr;
    const char *why;
    json_t *o;
    size_t n = 0;
    uint64_t seq;
    fl_err_t err;

    json_decref(r->cur);
    r->cur = NULL;
    if ((err = read_line(r, &n, eof, eb)) != FL_OK || *eof)
        return err;
    r->line_no++;
    if (r->line_no > DP_AUDIT_MAX_ENTRIES)
        return fl_fail(eb, FL_ERR_LIMIT, "%s:%zu: more than %llu entries",
                       r->path, r->line_no, DP_AUDIT_MAX_ENTRIES);
    if (memchr(r->line, '\0', n) != NULL)
        return fl_fail(eb, FL_ERR_PARSE, "%s:%zu: NUL byte in line", r->path,
                       r->line_no);
    o = json_loadb(r->line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL)
        return fl_fail(eb, FL_ERR_PARSE, "%s:%zu: col %d: %s", r->path,
                       r->line_no, jerr.column, jerr.text);
    r->cur = o;
    if ((why = entry_shape(o)) != NULL)
        return fl_fail(eb, FL_ERR_PARSE, "%s:%zu: %s", r->path, r->line_no,
                       why);
    seq = (uint64_t) json_integer_value(json_object_get(o, "seq"));
    if (!is_canonical(o, r->line, n))
        return fl_fail(eb, FL_ERR_AUTH,
                       "%s:%zu (seq %" PRIu64 "): not in canonical form "
                       "(edited, or not written by dpfl)",
                       r->path, r->line_no, seq);
    if ((err = check_entry(r, o, seq, eb)) != FL_OK)
        return err;
    if (!sha256(r->line, n, r->prev))
        return fl_fail(eb, FL_ERR_CRYPTO, "%s: SHA-256 failed", r->path);
    r->seq = seq;
    e->line = r->line_no;
    e->seq = seq;
    e->time_ms = r->last_time;
    e->type = get_str(o, "type");
    e->actor = get_str(o, "actor");
    e->body = json_object_get(o, "body");
    memcpy(e->hash, r->prev, 32);
    return FL_OK;
}

fl_err_t
dp_audit_reader_next(dp_audit_reader_t *r, dp_audit_entry_t *entry, int *eof,
                     fl_errbuf_t *eb)
{
    fl_err_t err;

    *eof = 0;
    if (r->failed)
        return fl_fail(eb, FL_ERR_STATE, "%s: reader failed earlier", r->path);
    if (r->at_eof) {
        *eof = 1;
        return FL_OK;
    }
    err = reader_next(r, entry, eof, eb);
    if (err != FL_OK)
        r->failed = 1;
    if (*eof)
        r->at_eof = 1;
    return err;
}

/* ---- writer ----------------------------------------------------------- */

struct dp_audit_log {
    char *path;
    char *owner;
    int lock_fd;
    fl_appender_t *app;
    EVP_PKEY *key;
    uint64_t seq;
    unsigned char head[32];
    int64_t last_time;
    int broken;
};

void
dp_audit_close(dp_audit_log_t **log_p)
{
    dp_audit_log_t *l = *log_p;

    if (l == NULL)
        return;
    fl_appender_close(&l->app);
    if (l->lock_fd >= 0)
        (void) close(l->lock_fd);
    EVP_PKEY_free(l->key);
    free(l->owner);
    free(l->path);
    free(l);
    *log_p = NULL;
}

/*
 * Takes the log's POSIX record lock. Such locks drop when the process
 * closes any descriptor of the file, so the existing log is read through
 * this same descriptor and no other is closed while the log is open.
 */
static fl_err_t
lock_log(dp_audit_log_t *l, int *created, fl_errbuf_t *eb)
{
    return fl_file_lock_exclusive(l->path, &l->lock_fd, created, eb);
}

/* Reads the existing log through lock_fd and takes its head. */
static fl_err_t
replay_log(dp_audit_log_t *l, fl_errbuf_t *eb)
{
    dp_audit_reader_t *r = NULL;
    dp_audit_entry_t e;
    int eof = 0;
    fl_err_t err;

    if ((err = reader_new(l->path, l->lock_fd, 0, l->key, &r, eb)) != FL_OK)
        return err;
    for (;;) {
        if ((err = dp_audit_reader_next(r, &e, &eof, eb)) != FL_OK || eof)
            break;
        l->seq = e.seq;
        memcpy(l->head, e.hash, 32);
        l->last_time = e.time_ms;
    }
    if (err == FL_OK && l->seq > 0 && strcmp(r->owner, l->owner) != 0)
        err = fl_fail(eb, FL_ERR_STATE, "%s: log belongs to \"%s\", not \"%s\"",
                      l->path, r->owner, l->owner);
    dp_audit_reader_close(&r);
    return err;
}

static fl_err_t
append_created(dp_audit_log_t *l, fl_errbuf_t *eb)
{
    char fp[65];
    json_t *body;
    fl_err_t err;

    if ((err = dp_audit_key_fingerprint(l->key, fp, eb)) != FL_OK)
        return err;
    body = json_pack("{s:i, s:s}", "format", 1, "key_sha256", fp);
    if (body == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", l->path);
    err = dp_audit_append(l, DP_AUDIT_EV_LOG_CREATED, NULL, body, eb);
    json_decref(body);
    return err;
}

fl_err_t
dp_audit_open(const char *path, EVP_PKEY *key, const char *owner,
              dp_audit_log_t **out, fl_errbuf_t *eb)
{
    dp_audit_log_t *l = NULL;
    size_t privlen = 0;
    int created = 0;
    fl_err_t err = FL_OK;

    *out = NULL;
    if (key == NULL || !EVP_PKEY_is_a(key, "ED25519") ||
        EVP_PKEY_get_raw_private_key(key, NULL, &privlen) != 1) {
        ERR_clear_error();
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: audit key is not an Ed25519 private key", path);
    }
    if (owner == NULL || !valid_identity(owner))
        return fl_fail(eb, FL_ERR_INVALID, "%s: bad owner identity", path);
    l = calloc(1, sizeof *l);
    if (l == NULL)
        return fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
    l->lock_fd = -1;
    if ((l->path = strdup(path)) == NULL ||
        (l->owner = strdup(owner)) == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (EVP_PKEY_up_ref(key) != 1) {
        err = fl_fail(eb, FL_ERR_CRYPTO, "%s: key reference", path);
        goto out;
    }
    l->key = key;
    if ((err = lock_log(l, &created, eb)) != FL_OK)
        goto out;
    if (created && (err = fl_dir_fsync_parent(path, eb)) != FL_OK)
        goto out;
    if ((err = replay_log(l, eb)) != FL_OK)
        goto out;
    if ((err = fl_appender_open(path, &l->app, eb)) != FL_OK)
        goto out;
    if (l->seq == 0)
        err = append_created(l, eb);
out:
    if (err != FL_OK)
        dp_audit_close(&l);
    *out = l;
    return err;
}

void
dp_audit_head(const dp_audit_log_t *l, uint64_t *seq, unsigned char hash[32])
{
    *seq = l->seq;
    memcpy(hash, l->head, 32);
}

/* Builds the signed line of the next entry into *line (caller frees). */
static fl_err_t
build_line(dp_audit_log_t *l, const char *type, const char *actor,
           const json_t *body, int64_t t, char **line, fl_errbuf_t *eb)
{
    unsigned char sig[SIG_LEN];
    char prev[65], sighex[2 * SIG_LEN + 1];
    json_t *o;
    char *msg = NULL;
    fl_err_t err = FL_OK;

    *line = NULL;
    dp_audit_hex(l->head, 32, prev);
    o = json_pack("{s:s, s:O, s:s, s:I, s:I, s:s}", "actor", actor, "body",
                  body, "prev", prev, "seq", (json_int_t) (l->seq + 1),
                  "time_ms", (json_int_t) t, "type", type);
    if (o == NULL)
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: entry does not serialise (invalid UTF-8?)",
                       l->path);
    msg = json_dumps(o, JSON_FLAGS);
    if (msg == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "%s: serialise failed", l->path);
        goto out;
    }
    if (!sign_msg(l->key, msg, strlen(msg), sig)) {
        err = fl_fail(eb, FL_ERR_CRYPTO, "%s: signing failed", l->path);
        goto out;
    }
    dp_audit_hex(sig, SIG_LEN, sighex);
    if (json_object_set_new(o, "sig", json_string(sighex)) != 0 ||
        (*line = json_dumps(o, JSON_FLAGS)) == NULL) {
        err = fl_fail(eb, FL_ERR_NOMEM, "%s: serialise failed", l->path);
        goto out;
    }
    if (strlen(*line) > DP_AUDIT_MAX_LINE) {
        err = fl_fail(eb, FL_ERR_LIMIT, "%s: %s entry longer than %d bytes",
                      l->path, type, DP_AUDIT_MAX_LINE);
        free(*line);
        *line = NULL;
    }
out:
    free(msg);
    json_decref(o);
    return err;
}

static const char *
body_invalid(const char *type, const json_t *body)
{
    dp_audit_spend_t s;
    const char *why = NULL, *coord;
    unsigned char h[32];
    uint64_t seq, round;
    char fp[65];

    if (strcmp(type, DP_AUDIT_EV_PRIVACY_SPENT) == 0)
        (void) dp_audit_parse_spend(body, &s, &why);
    else if (strcmp(type, DP_AUDIT_EV_COORDINATOR_HEAD) == 0)
        (void) dp_audit_parse_head(body, &coord, &seq, h, &round, &why);
    else if (strcmp(type, DP_AUDIT_EV_LOG_CREATED) == 0)
        (void) parse_created(body, fp, &why);
    return why;
}

fl_err_t
dp_audit_append(dp_audit_log_t *l, const char *type, const char *actor,
                const json_t *body, fl_errbuf_t *eb)
{
    const char *why;
    char *line = NULL;
    unsigned char h[32];
    int64_t t;
    fl_err_t err;
    size_t n;

    if (l->broken)
        return fl_fail(eb, FL_ERR_STATE,
                       "%s: an earlier write failed; reopen the log", l->path);
    if (actor == NULL)
        actor = l->owner;
    if (type == NULL || !valid_type(type) || !valid_identity(actor) ||
        !json_is_object(body))
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: bad type, actor or body (not an object)", l->path);
    if ((strcmp(type, DP_AUDIT_EV_LOG_CREATED) == 0) != (l->seq == 0))
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: log_created is only the first entry", l->path);
    if ((why = body_invalid(type, body)) != NULL)
        return fl_fail(eb, FL_ERR_INVALID, "%s: %s body: %s", l->path, type,
                       why);
    if (l->seq >= DP_AUDIT_MAX_ENTRIES)
        return fl_fail(eb, FL_ERR_LIMIT, "%s: log full (%llu entries)", l->path,
                       DP_AUDIT_MAX_ENTRIES);
    t = fl_clock_wall_ms();
    if (t < l->last_time)
        t = l->last_time;
    if ((err = build_line(l, type, actor, body, t, &line, eb)) != FL_OK)
        return err;
    n = strlen(line);
    if (!sha256(line, n, h)) {
        free(line);
        return fl_fail(eb, FL_ERR_CRYPTO, "%s: SHA-256 failed", l->path);
    }
    line[n] = '\n'; /* replaces the NUL: write n + 1 bytes, no NUL */
    err = fl_appender_write(l->app, line, n + 1, eb);
    free(line);
    if (err != FL_OK) {
        l->broken = 1;
        return err;
    }
    l->seq++;
    memcpy(l->head, h, 32);
    l->last_time = t;
    return FL_OK;
}

fl_err_t
dp_audit_log_privacy_spent(dp_audit_log_t *l, const dp_audit_spend_t *s,
                           fl_errbuf_t *eb)
{
    json_t *body;
    fl_err_t err;
    int bad = 0;

    if (s->site == NULL || s->job_hash == NULL || s->accountant == NULL)
        return fl_fail(eb, FL_ERR_INVALID, "%s: privacy_spent: missing field",
                       l->path);
    body = json_pack(
        "{s:s, s:s, s:I, s:f, s:f, s:I, s:f, s:f, s:s, s:f}", "site", s->site,
        "job_hash", s->job_hash, "round", (json_int_t) s->round, "q",
        s->sgm.sampling_rate, "sigma", s->sgm.noise_multiplier, "steps",
        (json_int_t) s->sgm.steps, "clip", s->clip, "delta", s->delta,
        "accountant", s->accountant, "epsilon", s->epsilon);
    if (body == NULL)
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: privacy_spent: a value is not finite or a "
                       "string is not UTF-8",
                       l->path);
    if (s->pld_interval > 0.0)
        bad |= json_object_set_new(body, "pld_interval",
                                   json_real(s->pld_interval));
    if (s->rdp_orders != NULL)
        bad |=
            json_object_set_new(body, "rdp_orders", json_string(s->rdp_orders));
    if (s->dataset_size >= 0)
        bad |= json_object_set_new(body, "dataset_size",
                                   json_integer((json_int_t) s->dataset_size));
    err = bad ? fl_fail(eb, FL_ERR_INVALID, "%s: privacy_spent: bad value",
                        l->path)
              : dp_audit_append(l, DP_AUDIT_EV_PRIVACY_SPENT, NULL, body, eb);
    json_decref(body);
    return err;
}

fl_err_t
dp_audit_log_coordinator_head(dp_audit_log_t *l, const char *coordinator,
                              uint64_t seq, const unsigned char hash[32],
                              uint64_t round, fl_errbuf_t *eb)
{
    char hex[65];
    json_t *body;
    fl_err_t err;

    if (coordinator == NULL || seq > (uint64_t) INT64_MAX ||
        round > (uint64_t) INT64_MAX)
        return fl_fail(eb, FL_ERR_INVALID, "%s: coordinator_head: bad value",
                       l->path);
    dp_audit_hex(hash, 32, hex);
    body =
        json_pack("{s:s, s:I, s:s, s:I}", "coordinator", coordinator, "seq",
                  (json_int_t) seq, "hash", hex, "round", (json_int_t) round);
    if (body == NULL)
        return fl_fail(eb, FL_ERR_INVALID,
                       "%s: coordinator_head: coordinator is not UTF-8",
                       l->path);
    err = dp_audit_append(l, DP_AUDIT_EV_COORDINATOR_HEAD, NULL, body, eb);
    json_decref(body);
    return err;
}
