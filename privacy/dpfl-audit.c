/*
 * privacy/dpfl-audit.c: the auditor's program. `verify` checks an audit log
 * (chain, signatures, order, witnessed heads, recomputed epsilons); `show`
 * prints who spent what, round by round. docs/audit.md documents both.
 *
 * Exit codes: 0 all checks hold (verify) or the log was read (show);
 * 1 the log fails a check or a file cannot be read; 2 usage error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/audit.h"

#define EXIT_USAGE 2
#define MAX_WITNESSES 4096

static const char USAGE[] =
    "usage: dpfl-audit verify --key COORD.pub LOG [--witness FILE:KEY]...\n"
    "                         [--witness FILE --witness-key KEY]...\n"
    "                         [--rel-tol X] [--abs-tol X] [--json]\n"
    "       dpfl-audit show [--key PUB] [--json] LOG\n"
    "       dpfl-audit --help | --version\n"
    "\n"
    "verify  checks LOG's hash chain, every Ed25519 signature against the\n"
    "        public key, sequence and time order, recomputes every\n"
    "        privacy_spent epsilon with the logged accountant, and checks\n"
    "        each witness (a node's own log, verified with that node's key)\n"
    "        recorded only heads that LOG still contains. Witness keys are\n"
    "        given as FILE:KEY, or with --witness-key options paired in\n"
    "        order with the --witness options (then no FILE:KEY split).\n"
    "show    prints per round and hospital the epsilon spent; signatures are\n"
    "        checked only with --key.\n"
    "exit    0 ok, 1 the log fails a check or cannot be read, 2 usage.\n";

typedef struct args {
    const char *cmd;
    const char *key;
    const char *log;
    const char *wfile[MAX_WITNESSES];
    const char *wkey[MAX_WITNESSES];
    size_t n_wfile, n_wkey;
    double rel_tol, abs_tol;
    int json;
} args_t;

static int
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "dpfl-audit: %s%s%s\n%s", msg, arg ? ": " : "",
            arg ? arg : "", USAGE);
    return EXIT_USAGE;
}

static int
parse_tol(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end != '\0' || !(v >= 0.0 && v < 1.0))
        return 0;
    *out = v;
    return 1;
}

/* Returns -1 when parsed, else the exit code to leave with. */
static int
parse_args(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof *a);
    a->rel_tol = 1e-6;
    a->abs_tol = 1e-9;
    if (argc < 2)
        return usage_error("no command", NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dpfl-audit %s\n", DPFL_VERSION);
        return 0;
    }
    a->cmd = argv[1];
    if (strcmp(a->cmd, "verify") != 0 && strcmp(a->cmd, "show") != 0)
        return usage_error("unknown command", a->cmd);
    int seen_rel = 0, seen_abs = 0;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        int has_val = i + 1 < argc;

        if (strcmp(o, "--json") == 0) {
            a->json = 1;
        } else if (strcmp(o, "--key") == 0 && has_val) {
            if (a->key != NULL)
                return usage_error("option given twice", o);
            a->key = argv[++i];
        } else if (strcmp(o, "--witness") == 0 && has_val) {
            if (a->n_wfile == MAX_WITNESSES)
                return usage_error("too many --witness", NULL);
            a->wfile[a->n_wfile++] = argv[++i];
        } else if (strcmp(o, "--witness-key") == 0 && has_val) {
            if (a->n_wkey == MAX_WITNESSES)
                return usage_error("too many --witness-key", NULL);
            a->wkey[a->n_wkey++] = argv[++i];
        } else if (strcmp(o, "--rel-tol") == 0 && has_val) {
            if (seen_rel++)
                return usage_error("option given twice", o);
            if (!parse_tol(argv[++i], &a->rel_tol))
                return usage_error("bad --rel-tol (want [0, 1))", argv[i]);
        } else if (strcmp(o, "--abs-tol") == 0 && has_val) {
            if (seen_abs++)
                return usage_error("option given twice", o);
            if (!parse_tol(argv[++i], &a->abs_tol))
                return usage_error("bad --abs-tol (want [0, 1))", argv[i]);
        } else if (o[0] == '-' && o[1] != '\0') {
            return usage_error("unknown option or missing value", o);
        } else if (a->log == NULL) {
            a->log = o;
        } else {
            return usage_error("more than one log file", o);
        }
    }
    if (a->log == NULL)
        return usage_error("no log file", NULL);
    if (strcmp(a->cmd, "show") == 0 && (a->n_wfile || a->n_wkey))
        return usage_error("show takes no witnesses", NULL);
    if (strcmp(a->cmd, "verify") == 0 && a->key == NULL)
        return usage_error("verify needs --key", NULL);
    if (a->n_wkey != 0 && a->n_wkey != a->n_wfile)
        return usage_error("--witness-key count differs from --witness", NULL);
    return -1;
}

/* Splits FILE:KEY at the last ':' (in place). */
static int
split_witness(char *arg, const char **file, const char **key)
{
    char *c = strrchr(arg, ':');

    if (c == NULL || c == arg || c[1] == '\0')
        return 0;
    *c = '\0';
    *file = arg;
    *key = c + 1;
    return 1;
}

static void
print_verify(const args_t *a, fl_err_t err, const fl_errbuf_t *eb,
             const dp_audit_verify_report_t *rep, size_t n_wit)
{
    if (a->json) {
        json_t *o = json_pack(
            "{s:b, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok",
            err == FL_OK, "log", a->log, "owner", rep->owner, "entries",
            (json_int_t) rep->entries, "spends", (json_int_t) rep->spends,
            "sites", (json_int_t) rep->sites, "witnesses", (json_int_t) n_wit,
            "witness_entries", (json_int_t) rep->witness_entries,
            "heads_matched", (json_int_t) rep->heads, "heads_other_coordinator",
            (json_int_t) rep->heads_other);
        char *s;

        if (o != NULL && err != FL_OK)
            json_object_set_new(o, "error",
                                json_string(fl_errbuf_str(eb, err)));
        s = o != NULL ? json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(o);
        return;
    }
    if (err != FL_OK) {
        fprintf(stderr, "dpfl-audit: FAIL: %s\n", fl_errbuf_str(eb, err));
        return;
    }
    printf("OK %s (owner %s): %" PRIu64 " entries, chain, signatures and "
           "order hold; %" PRIu64 " privacy_spent epsilons recomputed "
           "(%" PRIu64 " sites in this log); %zu witness logs (%" PRIu64
           " entries), %" PRIu64 " witnessed heads match",
           a->log, rep->owner, rep->entries, rep->spends, rep->sites, n_wit,
           rep->witness_entries, rep->heads);
    if (rep->heads_other)
        printf(", %" PRIu64 " heads of other coordinators skipped",
               rep->heads_other);
    putchar('\n');
}

static int
cmd_verify(args_t *a, char **wargs)
{
    dp_audit_witness_t wit[MAX_WITNESSES];
    dp_audit_verify_report_t rep;
    dp_audit_verify_opts_t opts;
    fl_errbuf_t eb = {{0}};
    EVP_PKEY *key = NULL;
    size_t nk = 0;
    fl_err_t err;
    int rc = 1;

    memset(&rep, 0, sizeof rep);
    memset(wit, 0, sizeof wit);
    for (size_t i = 0; i < a->n_wfile; i++) {
        const char *file = a->wfile[i], *kf = NULL;

        if (a->n_wkey == 0 && !split_witness(wargs[i], &file, &kf)) {
            rc = usage_error("--witness needs FILE:KEY (or --witness-key)",
                             a->wfile[i]);
            goto out;
        }
        if (a->n_wkey != 0)
            kf = a->wkey[i];
        wit[i].path = file;
        err = dp_audit_key_load_public(kf, &wit[i].key, &eb);
        nk = i + 1;
        if (err != FL_OK)
            goto fail;
    }
    if ((err = dp_audit_key_load_public(a->key, &key, &eb)) != FL_OK)
        goto fail;
    dp_audit_verify_opts_init(&opts);
    opts.epsilon = dp_audit_epsilon_accountant;
    opts.rel_tol = a->rel_tol;
    opts.abs_tol = a->abs_tol;
    err = dp_audit_verify(a->log, key, wit, a->n_wfile, &opts, &rep, &eb);
fail:
    print_verify(a, err, &eb, &rep, a->n_wfile);
    rc = err == FL_OK ? 0 : 1;
out:
    for (size_t i = 0; i < nk; i++)
        EVP_PKEY_free(wit[i].key);
    EVP_PKEY_free(key);
    return rc;
}

/* ---- show ------------------------------------------------------------- */

typedef struct row {
    char job[65];
    uint64_t round;
    char *site;
    double epsilon, delta, q, sigma;
    uint64_t steps;
    char accountant[8];
} row_t;

typedef struct rows {
    row_t *v;
    size_t n, cap;
} rows_t;

/* privacy_spent entries `show` holds at once (about 400 bytes each). */
#define MAX_SHOW_ROWS 1000000

static int
rows_push(rows_t *r, const dp_audit_spend_t *s)
{
    row_t *x;

    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        row_t *nv = realloc(r->v, cap * sizeof *nv);

        if (nv == NULL)
            return 0;
        r->v = nv;
        r->cap = cap;
    }
    x = &r->v[r->n];
    snprintf(x->job, sizeof x->job, "%s", s->job_hash);
    snprintf(x->accountant, sizeof x->accountant, "%s", s->accountant);
    x->round = s->round;
    x->epsilon = s->epsilon;
    x->delta = s->delta;
    x->q = s->sgm.sampling_rate;
    x->sigma = s->sgm.noise_multiplier;
    x->steps = s->sgm.steps;
    if ((x->site = strdup(s->site)) == NULL)
        return 0;
    r->n++;
    return 1;
}

static int
same_round(const row_t *a, const row_t *b)
{
    return a->round == b->round && strcmp(a->job, b->job) == 0;
}

static void
print_group_json(const row_t *g, size_t n)
{
    json_t *parts = json_array();
    json_t *o;
    char *s;

    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            parts,
            json_pack("{s:s, s:f, s:f, s:s, s:f, s:f, s:I}", "site", g[i].site,
                      "epsilon", g[i].epsilon, "delta", g[i].delta,
                      "accountant", g[i].accountant, "q", g[i].q, "sigma",
                      g[i].sigma, "steps", (json_int_t) g[i].steps));
    o = json_pack("{s:s, s:I, s:o}", "job_hash", g[0].job, "round",
                  (json_int_t) g[0].round, "participants", parts);
    s = o != NULL ? json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    if (s != NULL)
        puts(s);
    free(s);
    json_decref(o);
}

static void
print_rows(const rows_t *r, int json)
{
    size_t i = 0;

    if (!json)
        printf("%-8s %6s %5s  %-28s %12s %8s %4s %8s %10s %8s\n", "job",
               "round", "nodes", "site", "epsilon", "delta", "acct", "sigma",
               "q", "steps");
    while (i < r->n) {
        size_t j = i + 1;

        while (j < r->n && same_round(&r->v[i], &r->v[j]))
            j++;
        if (json) {
            print_group_json(&r->v[i], j - i);
        } else {
            for (size_t k = i; k < j; k++)
                printf("%.8s %6" PRIu64 " %5zu  %-28s %12.6g %8.2g %4s "
                       "%8.4g %10.4g %8" PRIu64 "\n",
                       r->v[k].job, r->v[k].round, j - i, r->v[k].site,
                       r->v[k].epsilon, r->v[k].delta, r->v[k].accountant,
                       r->v[k].sigma, r->v[k].q, r->v[k].steps);
        }
        i = j;
    }
}

static int
cmd_show(const args_t *a)
{
    dp_audit_reader_t *r = NULL;
    fl_errbuf_t eb = {{0}};
    EVP_PKEY *key = NULL;
    rows_t rows = {0};
    dp_audit_entry_t e;
    uint64_t entries = 0;
    fl_err_t err;
    int eof = 0;

    if (a->key != NULL &&
        (err = dp_audit_key_load_public(a->key, &key, &eb)) != FL_OK)
        goto out;
    if ((err = dp_audit_reader_open(a->log, key, &r, &eb)) != FL_OK)
        goto out;
    for (;;) {
        dp_audit_spend_t s;
        const char *why;

        if ((err = dp_audit_reader_next(r, &e, &eof, &eb)) != FL_OK || eof)
            break;
        entries++;
        if (strcmp(e.type, DP_AUDIT_EV_PRIVACY_SPENT) != 0)
            continue;
        if (!dp_audit_parse_spend(e.body, &s, &why)) {
            err = fl_fail(&eb, FL_ERR_PARSE, "%s:%zu (seq %" PRIu64 "): %s",
                          a->log, e.line, e.seq, why);
            break;
        }
        if (rows.n == MAX_SHOW_ROWS) {
            err = fl_fail(&eb, FL_ERR_LIMIT,
                          "%s:%zu: more than %d privacy_spent entries", a->log,
                          e.line, MAX_SHOW_ROWS);
            break;
        }
        if (!rows_push(&rows, &s)) {
            err = fl_fail(&eb, FL_ERR_NOMEM, "out of memory");
            break;
        }
    }
    if (!a->json)
        printf("# %s: owner %s, %" PRIu64 " entries%s\n", a->log,
               r != NULL ? dp_audit_reader_owner(r) : "?", entries,
               key != NULL ? ", signatures verified"
                           : "; signatures NOT checked (pass --key, or run "
                             "verify)");
    print_rows(&rows, a->json);
out:
    if (err != FL_OK)
        fprintf(stderr, "dpfl-audit: %s\n", fl_errbuf_str(&eb, err));
    for (size_t i = 0; i < rows.n; i++)
        free(rows.v[i].site);
    free(rows.v);
    dp_audit_reader_close(&r);
    EVP_PKEY_free(key);
    return err == FL_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
    args_t a;
    char *wargs[MAX_WITNESSES];
    int rc = parse_args(argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (strcmp(a.cmd, "show") == 0)
        return cmd_show(&a);
    /* FILE:KEY arguments are split in place (argv is writable). */
    for (size_t i = 0; i < a.n_wfile; i++)
        wargs[i] = (char *) a.wfile[i];
    return cmd_verify(&a, wargs);
}
