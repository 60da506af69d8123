/*
 * proto/chan_tls.c: the channel's OpenSSL side: one SSL_CTX per role with
 * dpfl's TLS rules (TLS 1.3 only, mutual authentication, CRL checked and
 * fail-closed, no tickets, no session cache, purpose checks), identities
 * from certificates (SAN URI urn:dpfl:site:<id> plus SHA-256 fingerprint),
 * and one-line reasons for failed handshakes.
 */
#include "proto/chan_internal.h"

#include "common/hex.h"
#include "proto/job.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Suites in order of speed on CPUs with AES instructions; all TLS 1.3. */
#define CHAN_SUITES                                                            \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                           \
    "TLS_CHACHA20_POLY1305_SHA256"

void
chan__strlcpy(char *dst, const char *src, size_t size)
{
    size_t n;

    if (size == 0) {
        return;
    }
    n = src ? strlen(src) : 0;
    if (n >= size) {
        n = size - 1;
    }
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
}

fl_err_t
chan__random(uint8_t *out, size_t n)
{
    if (n > (size_t) INT32_MAX || RAND_bytes(out, (int) n) != 1) {
        ERR_clear_error();
        return FL_ERR_CRYPTO;
    }
    return FL_OK;
}

bool
chan__site_id_valid(const char *s)
{
    return pb_name_valid(s, CHAN_SITE_ID_MAX);
}

fl_err_t
chan__fpr_normalise(const char *in, char out[CHAN_FPR_HEX_LEN + 1])
{
    size_t n = 0;

    for (; *in != '\0'; in++) {
        char c = *in;
        if (c == ':') {
            continue;
        }
        if (c >= 'A' && c <= 'F') {
            c = (char) (c - 'A' + 'a');
        }
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) ||
            n >= CHAN_FPR_HEX_LEN) {
            return FL_ERR_PARSE;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return n == CHAN_FPR_HEX_LEN ? FL_OK : FL_ERR_PARSE;
}

/* Finds the one urn:dpfl:site: URI among the SANs. */
static fl_err_t
san_site_id(X509 *cert, char id[CHAN_SITE_ID_MAX + 1], char *why, size_t whylen)
{
    const size_t plen = strlen(CHAN_URI_PREFIX);
    GENERAL_NAMES *gens;
    fl_err_t rc = FL_ERR_AUTH;
    int i, found = 0;

    gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (gens == NULL) {
        snprintf(why, whylen, "certificate has no subjectAltName");
        goto out;
    }
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const unsigned char *d;
        size_t n;
        if (g->type != GEN_URI) {
            continue;
        }
        d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        n = (size_t) ASN1_STRING_length(g->d.uniformResourceIdentifier);
        if (n <= plen || memcmp(d, CHAN_URI_PREFIX, plen) != 0) {
            continue;
        }
        if (++found > 1 || n - plen > CHAN_SITE_ID_MAX ||
            memchr(d, '\0', n) != NULL) {
            break;
        }
        memcpy(id, d + plen, n - plen);
        id[n - plen] = '\0';
    }
    if (found == 0) {
        snprintf(why, whylen, "certificate has no SAN URI %s<id>",
                 CHAN_URI_PREFIX);
    } else if (found > 1) {
        snprintf(why, whylen, "certificate has several SAN URIs %s<id>",
                 CHAN_URI_PREFIX);
    } else if (!chan__site_id_valid(id)) {
        snprintf(why, whylen,
                 "certificate site id is invalid (1..64 of [A-Za-z0-9._-])");
    } else {
        rc = FL_OK;
    }
out:
    GENERAL_NAMES_free(gens);
    if (rc != FL_OK) {
        id[0] = '\0';
    }
    return rc;
}

fl_err_t
chan__cert_identity(X509 *cert, char id[CHAN_SITE_ID_MAX + 1],
                    char fpr[CHAN_FPR_HEX_LEN + 1], char *why, size_t whylen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    id[0] = '\0';
    fpr[0] = '\0';
    if (cert == NULL) {
        snprintf(why, whylen, "no peer certificate");
        return FL_ERR_AUTH;
    }
    if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
        ERR_clear_error();
        snprintf(why, whylen, "cannot hash the peer certificate");
        return FL_ERR_CRYPTO;
    }
    fl_hex_encode(md, mdlen, fpr);
    return san_site_id(cert, id, why, whylen);
}

void
chan__tls_reason(SSL *ssl, int ret, char *out, size_t outlen)
{
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = ERR_peek_last_error();
    int se = ssl ? SSL_get_error(ssl, ret) : SSL_ERROR_SSL;

    if (vr != X509_V_OK) {
        snprintf(out, outlen, "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    } else if (e != 0) {
        const char *r = ERR_reason_error_string(e);
        snprintf(out, outlen, "TLS error: %s",
                 r ? r : "unknown (no reason string)");
    } else if (se == SSL_ERROR_ZERO_RETURN) {
        snprintf(out, outlen, "peer closed the session");
    } else {
        snprintf(out, outlen, "TLS error (SSL_get_error %d)", se);
    }
    ERR_clear_error();
}

fl_err_t
chan__files_copy(chan_tls_files_t *dst, const chan_tls_files_t *src,
                 fl_errbuf_t *eb)
{
    memset(dst, 0, sizeof(*dst));
    if (src->ca_file == NULL || src->crl_file == NULL ||
        src->cert_file == NULL || src->key_file == NULL) {
        return fl_fail(eb, FL_ERR_INVALID,
                       "channel: ca_file, crl_file, cert_file and key_file "
                       "are all required");
    }
    dst->ca_file = strdup(src->ca_file);
    dst->crl_file = strdup(src->crl_file);
    dst->cert_file = strdup(src->cert_file);
    dst->key_file = strdup(src->key_file);
    if (!dst->ca_file || !dst->crl_file || !dst->cert_file || !dst->key_file) {
        chan__files_free(dst);
        return fl_fail(eb, FL_ERR_NOMEM, "channel: out of memory");
    }
    return FL_OK;
}

void
chan__files_free(chan_tls_files_t *f)
{
    free((char *) f->ca_file);
    free((char *) f->crl_file);
    free((char *) f->cert_file);
    free((char *) f->key_file);
    memset(f, 0, sizeof(*f));
}

static X509 *
read_cert(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *x = NULL;

    if (b != NULL) {
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
    }
    return x;
}

/* Loads the CRL into the store after checking it is the CA's, signed by
 * it, and current: a CRL past nextUpdate fails closed here already. */
static fl_err_t
load_crl(SSL_CTX *ctx, const char *ca_file, const char *crl_file,
         fl_errbuf_t *eb)
{
    X509 *ca = NULL;
    X509_CRL *crl = NULL;
    BIO *b = NULL;
    const ASN1_TIME *next;
    fl_err_t rc = FL_ERR_CRYPTO;

    ca = read_cert(ca_file);
    if (ca == NULL) {
        rc = fl_fail(eb, FL_ERR_PARSE, "%s: no PEM certificate", ca_file);
        goto out;
    }
    b = BIO_new_file(crl_file, "r");
    if (b == NULL) {
        rc = fl_fail(eb, FL_ERR_NOT_FOUND,
                     "%s: cannot open CRL (required: fail closed)", crl_file);
        goto out;
    }
    crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
    if (crl == NULL) {
        rc = fl_fail(eb, FL_ERR_PARSE, "%s: not a PEM CRL", crl_file);
        goto out;
    }
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca))) {
        rc = fl_fail(eb, FL_ERR_CRYPTO, "%s: CRL is not issued by the CA %s",
                     crl_file, ca_file);
        goto out;
    }
    if (X509_CRL_verify(crl, X509_get0_pubkey(ca)) != 1) {
        rc = fl_fail(eb, FL_ERR_CRYPTO, "%s: CRL signature does not verify",
                     crl_file);
        goto out;
    }
    next = X509_CRL_get0_nextUpdate(crl);
    if (next == NULL || X509_cmp_current_time(next) <= 0) {
        rc = fl_fail(eb, FL_ERR_CRYPTO,
                     "%s: CRL has no nextUpdate or is past it (regenerate "
                     "it with dpfl-pki crl)",
                     crl_file);
        goto out;
    }
    if (X509_STORE_add_crl(SSL_CTX_get_cert_store(ctx), crl) != 1) {
        rc = fl_fail(eb, FL_ERR_CRYPTO, "%s: cannot add CRL", crl_file);
        goto out;
    }
    rc = FL_OK;
out:
    ERR_clear_error();
    X509_CRL_free(crl);
    BIO_free(b);
    X509_free(ca);
    return rc;
}

static fl_err_t
load_own(SSL_CTX *ctx, const chan_tls_files_t *f, fl_errbuf_t *eb)
{
    struct stat sb;

    if (stat(f->key_file, &sb) != 0) {
        return fl_fail(eb, FL_ERR_NOT_FOUND, "%s: cannot stat private key",
                       f->key_file);
    }
    if ((sb.st_mode & 077) != 0) {
        return fl_fail(eb, FL_ERR_CRYPTO,
                       "%s: private key is readable by group or others "
                       "(chmod 600 it)",
                       f->key_file);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, f->cert_file) != 1) {
        ERR_clear_error();
        return fl_fail(eb, FL_ERR_PARSE, "%s: cannot load certificate",
                       f->cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, f->key_file, SSL_FILETYPE_PEM) != 1) {
        ERR_clear_error();
        return fl_fail(eb, FL_ERR_PARSE, "%s: cannot load private key",
                       f->key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return fl_fail(eb, FL_ERR_CRYPTO, "%s: key does not match %s",
                       f->key_file, f->cert_file);
    }
    return FL_OK;
}

/*
 * Revocation, checked by dpfl rather than by OpenSSL's X509_V_FLAG_CRL_CHECK
 * (which verifies the CRL's signature again on every handshake, about
 * 0.4 ms of CPU per side with OpenSSL 3.0). The federation PKI has one
 * level: the CA signs every leaf. load_crl() accepted the CRL into the
 * store only after checking that the CA issued it, that its signature
 * verifies with the CA's key and that it is current. Here, once OpenSSL
 * has verified the leaf (chain to the CA, purpose, validity, signature:
 * the callback runs at depth 0 with ok = 1), the leaf is refused, fail
 * closed, when the store holds no CRL of its issuer, when that CRL has
 * passed its nextUpdate, or when the leaf's serial is on it.
 */
int
chan__check_revocation(int ok, X509_STORE_CTX *xs)
{
    X509 *leaf = X509_STORE_CTX_get_current_cert(xs);
    STACK_OF(X509_CRL) * crls;
    int found = 0, err = X509_V_OK;

    if (!ok || X509_STORE_CTX_get_error_depth(xs) != 0 || leaf == NULL)
        return ok;
    crls = X509_STORE_CTX_get1_crls(xs, X509_get_issuer_name(leaf));
    for (int i = 0; i < sk_X509_CRL_num(crls) && err == X509_V_OK; i++) {
        X509_CRL *crl = sk_X509_CRL_value(crls, i);
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
        X509_REVOKED *rev = NULL;

        found = 1;
        if (next == NULL || X509_cmp_current_time(next) <= 0)
            err = X509_V_ERR_CRL_HAS_EXPIRED;
        else if (X509_CRL_get0_by_cert(crl, &rev, leaf) == 1)
            err = X509_V_ERR_CERT_REVOKED;
    }
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    if (!found)
        err = X509_V_ERR_UNABLE_TO_GET_CRL;
    if (err == X509_V_OK)
        return 1;
    X509_STORE_CTX_set_error(xs, err);
    return 0;
}

static fl_err_t
set_rules(SSL_CTX *ctx, bool server, SSL_verify_cb verify_cb, fl_errbuf_t *eb)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int mode = SSL_VERIFY_PEER;

    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, CHAN_SUITES) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 ||
        SSL_CTX_set_num_tickets(ctx, 0) != 1) {
        ERR_clear_error();
        return fl_fail(eb, FL_ERR_CRYPTO, "channel: cannot set TLS rules");
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Strict X.509 parsing. The CRL of the leaf's issuer is required and
     * checked by chan__check_revocation() from the verify callback. */
    X509_STORE_set_flags(store, X509_V_FLAG_X509_STRICT);
    /* A server checks client certificates for clientAuth, and back. */
    if (X509_STORE_set_purpose(store, server ? X509_PURPOSE_SSL_CLIENT
                                             : X509_PURPOSE_SSL_SERVER) != 1 ||
        SSL_CTX_set_purpose(ctx, server ? X509_PURPOSE_SSL_CLIENT
                                        : X509_PURPOSE_SSL_SERVER) != 1) {
        ERR_clear_error();
        return fl_fail(eb, FL_ERR_CRYPTO, "channel: cannot set purpose");
    }
    SSL_CTX_set_verify_depth(ctx, 2);
    if (server) {
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx, mode,
                       verify_cb != NULL ? verify_cb : chan__check_revocation);
    return FL_OK;
}

fl_err_t
chan__ctx_new(const chan_tls_files_t *f, bool server, SSL_verify_cb verify_cb,
              SSL_CTX **out, fl_errbuf_t *eb)
{
    SSL_CTX *ctx = NULL;
    fl_err_t rc;

    *out = NULL;
    ERR_clear_error();
    ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        rc = fl_fail(eb, FL_ERR_NOMEM, "channel: SSL_CTX_new failed");
        goto out;
    }
    rc = set_rules(ctx, server, verify_cb, eb);
    if (rc != FL_OK) {
        goto out;
    }
    if (SSL_CTX_load_verify_locations(ctx, f->ca_file, NULL) != 1) {
        rc = fl_fail(eb, FL_ERR_PARSE, "%s: cannot load CA certificate",
                     f->ca_file);
        goto out;
    }
    rc = load_crl(ctx, f->ca_file, f->crl_file, eb);
    if (rc != FL_OK) {
        goto out;
    }
    rc = load_own(ctx, f, eb);
    if (rc != FL_OK) {
        goto out;
    }
    *out = ctx;
    ctx = NULL;
out:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return rc;
}
