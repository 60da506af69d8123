/* sim/pki.c: the simulation's throwaway CA, CRL and leaf certificates. */
#include "sim/pki.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/hex.h"

#define VALID_S (2L * 24 * 3600)
#define BACKDATE_S 3600L

typedef struct pki_site {
    char id[CHAN_SITE_ID_MAX + 1];
    char fpr[CHAN_FPR_HEX_LEN + 1];
    char cert[PATH_MAX];
    char key[PATH_MAX];
} pki_site_t;

struct sim_pki {
    char ca[PATH_MAX];
    char crl[PATH_MAX];
    pki_site_t coord;
    pki_site_t *nodes;
    size_t n_nodes;
};

typedef struct issuer {
    X509 *cert;
    EVP_PKEY *key;
} issuer_t;

static fl_err_t
crypto_fail(fl_errbuf_t *eb, const char *what)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return fl_fail(eb, FL_ERR_CRYPTO, "pki: %s: %s", what,
                   r ? r : "OpenSSL error");
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return 0;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static int
set_serial(X509 *x)
{
    unsigned char b[16];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(b, sizeof b) != 1)
        return 0;
    b[0] &= 0x7f; /* positive */
    b[0] |= 0x01; /* and non-zero */
    bn = BN_bin2bn(b, sizeof b, NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok;
}

/* A certificate for key under subject CN cn, signed by iss (or self). */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, const issuer_t *iss,
          const char *const *exts, const int *nids, size_t n_ext)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    int ok = x != NULL && name != NULL;

    ok = ok && X509_set_version(x, 2) && set_serial(x) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *) cn, -1, -1, 0) &&
         X509_set_subject_name(x, name) &&
         X509_set_issuer_name(x,
                              iss ? X509_get_subject_name(iss->cert) : name) &&
         X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_S) &&
         X509_gmtime_adj(X509_getm_notAfter(x), VALID_S) &&
         X509_set_pubkey(x, key);
    for (size_t i = 0; ok && i < n_ext; i++)
        ok = add_ext(x, iss ? iss->cert : x, nids[i], exts[i]);
    ok = ok && X509_sign(x, iss ? iss->key : key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static fl_err_t
write_cert(const char *path, X509 *x, fl_errbuf_t *eb)
{
    FILE *f = fopen(path, "w");
    int ok = f != NULL && PEM_write_X509(f, x) == 1;

    if (f != NULL && fclose(f) != 0)
        ok = 0;
    return ok ? FL_OK : fl_fail(eb, FL_ERR_IO, "pki: cannot write %s", path);
}

static fl_err_t
write_key(const char *path, EVP_PKEY *key, fl_errbuf_t *eb)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok = f != NULL &&
             PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;

    if (f != NULL) {
        if (fclose(f) != 0)
            ok = 0;
    } else if (fd >= 0) {
        (void) close(fd);
    }
    return ok ? FL_OK : fl_fail(eb, FL_ERR_IO, "pki: cannot write %s", path);
}

static void
fingerprint(X509 *x, char out[CHAN_FPR_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    out[0] = '\0';
    if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
        return;
    fl_hex_encode(md, n, out);
}

static fl_err_t
make_ca(const char *path, issuer_t *ca, fl_errbuf_t *eb)
{
    static const int nids[] = {NID_basic_constraints, NID_key_usage,
                               NID_subject_key_identifier,
                               NID_authority_key_identifier};
    static const char *const vals[] = {"critical,CA:TRUE,pathlen:0",
                                       "critical,keyCertSign,cRLSign", "hash",
                                       "keyid:always"};

    ca->key = EVP_EC_gen("P-256");
    if (ca->key == NULL)
        return crypto_fail(eb, "CA key");
    ca->cert = make_cert("dpfl simulation CA", ca->key, NULL, vals, nids, 4);
    if (ca->cert == NULL)
        return crypto_fail(eb, "CA certificate");
    return write_cert(path, ca->cert, eb);
}

static fl_err_t
make_crl(const char *path, const issuer_t *ca, fl_errbuf_t *eb)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    X509V3_CTX ctx;
    X509_EXTENSION *aki = NULL;
    FILE *f = NULL;
    int ok = crl != NULL && t != NULL && num != NULL;

    ok = ok && X509_CRL_set_version(crl, 1) &&
         X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) &&
         X509_gmtime_adj(t, -BACKDATE_S) && X509_CRL_set1_lastUpdate(crl, t) &&
         X509_gmtime_adj(t, VALID_S) && X509_CRL_set1_nextUpdate(crl, t) &&
         ASN1_INTEGER_set(num, 1) &&
         X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1;
    if (ok) {
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
        aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
                                  "keyid:always");
        ok = aki != NULL && X509_CRL_add_ext(crl, aki, -1) &&
             X509_CRL_sort(crl) && X509_CRL_sign(crl, ca->key, EVP_sha256());
    }
    if (ok) {
        f = fopen(path, "w");
        ok = f != NULL && PEM_write_X509_CRL(f, crl) == 1;
        if (f != NULL && fclose(f) != 0)
            ok = 0;
    }
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    return ok ? FL_OK : crypto_fail(eb, "CRL");
}

/* One leaf: key, certificate (client or server), both files. */
static fl_err_t
make_leaf(pki_site_t *s, int server, const issuer_t *ca, fl_errbuf_t *eb)
{
    static const int nids[] = {
        NID_basic_constraints,      NID_key_usage,
        NID_ext_key_usage,          NID_subject_alt_name,
        NID_subject_key_identifier, NID_authority_key_identifier};
    const char *vals[6] = {"critical,CA:FALSE",
                           "critical,digitalSignature",
                           server ? "serverAuth" : "clientAuth",
                           NULL,
                           "hash",
                           "keyid,issuer"};
    char san[CHAN_SITE_ID_MAX + 128];
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = NULL;
    fl_err_t err;

    if (key == NULL)
        return crypto_fail(eb, "leaf key");
    if (server)
        (void) snprintf(san, sizeof san, "URI:%s%s,DNS:%s", CHAN_URI_PREFIX,
                        s->id, SIM_PKI_SERVER_NAME);
    else
        (void) snprintf(san, sizeof san, "URI:%s%s", CHAN_URI_PREFIX, s->id);
    vals[3] = san;
    x = make_cert(s->id, key, ca, vals, nids, 6);
    if (x == NULL) {
        err = crypto_fail(eb, s->id);
        goto out;
    }
    fingerprint(x, s->fpr);
    err = write_key(s->key, key, eb);
    if (err == FL_OK)
        err = write_cert(s->cert, x, eb);
out:
    X509_free(x);
    EVP_PKEY_free(key); /* OpenSSL clears the private scalar on free */
    return err;
}

static void
site_paths(pki_site_t *s, const char *dir, const char *stem)
{
    (void) snprintf(s->cert, sizeof s->cert, "%s/%s.pem", dir, stem);
    (void) snprintf(s->key, sizeof s->key, "%s/%s.key", dir, stem);
}

fl_err_t
sim_pki_new(const char *dir, size_t n_nodes, sim_pki_t **out, fl_errbuf_t *eb)
{
    sim_pki_t *p = NULL;
    issuer_t ca = {NULL, NULL};
    int wide = n_nodes >= 10000;
    fl_err_t err;

    *out = NULL;
    if (dir == NULL || n_nodes == 0 || n_nodes > 1000000 ||
        strlen(dir) > PATH_MAX - 64)
        return fl_fail(eb, FL_ERR_INVALID, "pki: bad folder or node count");
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->nodes = calloc(n_nodes, sizeof *p->nodes)) == NULL) {
        free(p);
        return fl_fail(eb, FL_ERR_NOMEM, "pki: out of memory");
    }
    p->n_nodes = n_nodes;
    (void) snprintf(p->ca, sizeof p->ca, "%s/ca.pem", dir);
    (void) snprintf(p->crl, sizeof p->crl, "%s/crl.pem", dir);
    (void) snprintf(p->coord.id, sizeof p->coord.id, "%s", SIM_PKI_COORD_ID);
    site_paths(&p->coord, dir, "coordinator");
    err = make_ca(p->ca, &ca, eb);
    if (err == FL_OK)
        err = make_crl(p->crl, &ca, eb);
    if (err == FL_OK)
        err = make_leaf(&p->coord, 1, &ca, eb);
    for (size_t i = 0; err == FL_OK && i < n_nodes; i++) {
        char stem[32];

        (void) snprintf(p->nodes[i].id, sizeof p->nodes[i].id,
                        wide ? "hospital-%07zu" : "hospital-%04zu", i + 1);
        (void) snprintf(stem, sizeof stem, "node-%zu", i + 1);
        site_paths(&p->nodes[i], dir, stem);
        err = make_leaf(&p->nodes[i], 0, &ca, eb);
    }
    X509_free(ca.cert);
    EVP_PKEY_free(ca.key);
    if (err != FL_OK) {
        sim_pki_destroy(&p);
        return err;
    }
    *out = p;
    return FL_OK;
}

void
sim_pki_destroy(sim_pki_t **pp)
{
    sim_pki_t *p = *pp;

    if (p == NULL)
        return;
    free(p->nodes);
    free(p);
    *pp = NULL;
}

const char *
sim_pki_node_id(const sim_pki_t *p, size_t i)
{
    return p->nodes[i].id;
}

const char *
sim_pki_node_fingerprint(const sim_pki_t *p, size_t i)
{
    return p->nodes[i].fpr;
}

static void
files(const sim_pki_t *p, const pki_site_t *s, chan_tls_files_t *out)
{
    out->ca_file = p->ca;
    out->crl_file = p->crl;
    out->cert_file = s->cert;
    out->key_file = s->key;
}

void
sim_pki_coord_files(const sim_pki_t *p, chan_tls_files_t *out)
{
    files(p, &p->coord, out);
}

void
sim_pki_node_files(const sim_pki_t *p, size_t i, chan_tls_files_t *out)
{
    files(p, &p->nodes[i], out);
}
