/*
 * privacy/dpfl-privacy.c: the privacy calculator. `epsilon` accounts for
 * one DP-SGD run, `compose` for a sequence of runs with different settings,
 * `calibrate` finds the noise multiplier for a target epsilon, `report`
 * translates a run into attack bounds. docs/privacy.md documents it.
 *
 * Exit codes: 0 success; 1 the accountant cannot answer (e.g. no finite
 * epsilon, unreachable target, a limit); 2 usage error (unknown command or
 * option, missing or malformed value, value out of range).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/accountant.h"
#include "privacy/risk.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define MAX_MECHANISMS 4096
#define MAX_STEPS 1000000000000ull

static const char USAGE[] =
    "usage: dpfl-privacy epsilon --sampling-rate Q --noise-multiplier S\n"
    "                            --steps T --delta D [common options]\n"
    "       dpfl-privacy compose --delta D --mechanism Q,S,T\n"
    "                            [--mechanism Q,S,T]... [common options]\n"
    "       dpfl-privacy calibrate --sampling-rate Q --steps T --delta D\n"
    "                              --target-epsilon E [common options]\n"
    "       dpfl-privacy report --sampling-rate Q --noise-multiplier S\n"
    "                           --steps T [--delta D] [common options]\n"
    "       dpfl-privacy --help | --version\n"
    "\n"
    "common options: --accountant rdp|pld (default rdp)\n"
    "                --orders default|opacus (RDP order grid)\n"
    "                --json (one JSON object on stdout)\n"
    "\n"
    "The mechanism is DP-SGD's Poisson-subsampled Gaussian: each record is\n"
    "sampled with probability Q, noise std is S times the clipping norm, T\n"
    "steps; neighbouring datasets differ by adding or removing one record.\n"
    "compose takes the mechanisms in the order they ran.\n"
    "exit: 0 ok, 1 the accountant cannot answer, 2 usage error.\n";

enum opt_bit {
    O_Q = 1 << 0,
    O_S = 1 << 1,
    O_T = 1 << 2,
    O_D = 1 << 3,
    O_E = 1 << 4,
    O_M = 1 << 5,
    O_ACC = 1 << 6,
    O_ORD = 1 << 7,
    O_JSON = 1 << 8
};

typedef struct cli {
    const char *cmd;
    unsigned seen;
    double q, sigma, delta, target;
    uint64_t steps;
    dp_sgm_t mech[MAX_MECHANISMS];
    size_t n_mech;
    dp_accountant_opts_t acc;
} cli_t;

/* One line on stderr: "dpfl-privacy: msg[: arg] (see ...)". */
static int
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "dpfl-privacy: %s%s%s (see dpfl-privacy --help)\n", msg,
            arg != NULL ? ": " : "", arg != NULL ? arg : "");
    return EXIT_USAGE;
}

/* A finite number with nothing after it. */
static int
parse_num(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        return 0;
    }
    *out = v;
    return 1;
}

/* Decimal digits only, 1 .. MAX_STEPS. */
static int
parse_steps(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0') {
        return 0;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > MAX_STEPS / 10) {
            return 0;
        }
        v = v * 10 + (uint64_t) (*p - '0');
    }
    if (v < 1 || v > MAX_STEPS) {
        return 0;
    }
    *out = v;
    return 1;
}

static int
parse_rate(const char *s, double *q)
{
    return parse_num(s, q) && *q > 0.0 && *q <= 1.0;
}

static int
parse_positive(const char *s, double *v)
{
    return parse_num(s, v) && *v > 0.0;
}

static int
parse_delta(const char *s, double *d)
{
    return parse_num(s, d) && *d > 0.0 && *d < 1.0;
}

/* "Q,S,T". */
static int
parse_mechanism(const char *s, dp_sgm_t *m)
{
    char buf[128];
    char *c1;
    char *c2;

    if (strlen(s) >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, s, strlen(s) + 1);
    c1 = strchr(buf, ',');
    if (c1 == NULL) {
        return 0;
    }
    *c1++ = '\0';
    c2 = strchr(c1, ',');
    if (c2 == NULL) {
        return 0;
    }
    *c2++ = '\0';
    return parse_rate(buf, &m->sampling_rate) &&
           parse_positive(c1, &m->noise_multiplier) &&
           parse_steps(c2, &m->steps);
}

/* Which options each command takes, and which it needs. */
static int
command_bits(const char *cmd, unsigned *allowed, unsigned *required)
{
    const unsigned common = O_ACC | O_ORD | O_JSON;

    if (strcmp(cmd, "epsilon") == 0) {
        *required = O_Q | O_S | O_T | O_D;
    } else if (strcmp(cmd, "compose") == 0) {
        *required = O_D | O_M;
    } else if (strcmp(cmd, "calibrate") == 0) {
        *required = O_Q | O_T | O_D | O_E;
    } else if (strcmp(cmd, "report") == 0) {
        *required = O_Q | O_S | O_T;
        *allowed = *required | O_D | common;
        return 1;
    } else {
        return 0;
    }
    *allowed = *required | common;
    return 1;
}

static const struct {
    const char *name;
    unsigned bit;
    const char *what; /* the error when the value is bad */
} OPTIONS[] = {
    {"--sampling-rate", O_Q, "--sampling-rate must be a number in (0, 1]"},
    {"--noise-multiplier", O_S, "--noise-multiplier must be a number > 0"},
    {"--steps", O_T, "--steps must be an integer in [1, 10^12]"},
    {"--delta", O_D, "--delta must be a number in (0, 1)"},
    {"--target-epsilon", O_E, "--target-epsilon must be a number > 0"},
    {"--mechanism", O_M,
     "--mechanism must be Q,S,T with Q in (0, 1], S > 0 "
     "and T an integer in [1, 10^12]"},
    {"--accountant", O_ACC, "--accountant must be rdp or pld"},
    {"--orders", O_ORD, "--orders must be default or opacus"},
    {"--json", O_JSON, ""},
};

/* Stores one option's value; returns 0 if it is malformed. */
static int
set_option(cli_t *c, unsigned bit, const char *v)
{
    switch (bit) {
    case O_Q:
        return parse_rate(v, &c->q);
    case O_S:
        return parse_positive(v, &c->sigma);
    case O_T:
        return parse_steps(v, &c->steps);
    case O_D:
        return parse_delta(v, &c->delta);
    case O_E:
        return parse_positive(v, &c->target);
    case O_M:
        if (c->n_mech >= MAX_MECHANISMS) {
            return 0;
        }
        return parse_mechanism(v, &c->mech[c->n_mech++]);
    case O_ACC:
        return dp_accountant_kind_parse(v, &c->acc.kind) == FL_OK;
    case O_ORD:
        return dp_orders_parse(v, &c->acc.orders) == FL_OK;
    default:
        return 1;
    }
}

/* Finds the option named by arg (which may be --name=value). */
static int
find_option(const char *arg, size_t *idx, const char **inline_val)
{
    const char *eq = strchr(arg, '=');
    const size_t len = eq != NULL ? (size_t) (eq - arg) : strlen(arg);

    for (size_t i = 0; i < sizeof(OPTIONS) / sizeof(OPTIONS[0]); i++) {
        if (strlen(OPTIONS[i].name) == len &&
            strncmp(OPTIONS[i].name, arg, len) == 0) {
            *idx = i;
            *inline_val = eq != NULL ? eq + 1 : NULL;
            return 1;
        }
    }
    return 0;
}

/* Parses argv[2..]; returns -1 when parsed, else the exit code. */
static int
parse_options(int argc, char **argv, cli_t *c, unsigned allowed)
{
    for (int i = 2; i < argc; i++) {
        size_t k;
        const char *val;
        unsigned bit;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        }
        if (!find_option(argv[i], &k, &val)) {
            return usage_error("unknown option", argv[i]);
        }
        bit = OPTIONS[k].bit;
        if (!(allowed & bit)) {
            return usage_error("option not valid for this command",
                               OPTIONS[k].name);
        }
        if ((c->seen & bit) && bit != O_M) {
            return usage_error("option given twice", OPTIONS[k].name);
        }
        c->seen |= bit;
        if (bit == O_JSON) {
            if (val != NULL) {
                return usage_error("--json takes no value", NULL);
            }
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                return usage_error("missing value for", OPTIONS[k].name);
            }
            val = argv[++i];
        }
        if (!set_option(c, bit, val)) {
            return usage_error(OPTIONS[k].what, NULL);
        }
    }
    return -1;
}

/* Parses the command line; returns -1 when parsed, else the exit code. */
static int
parse_cli(int argc, char **argv, cli_t *c)
{
    unsigned allowed = 0;
    unsigned required = 0;
    int rc;

    memset(c, 0, sizeof(*c));
    c->acc.kind = DP_ACCOUNTANT_RDP;
    c->acc.orders = DP_ORDERS_DEFAULT;
    c->delta = 1e-5;
    if (argc < 2) {
        return usage_error("no command", NULL);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dpfl-privacy %s\n", DPFL_VERSION);
        return 0;
    }
    c->cmd = argv[1];
    if (!command_bits(c->cmd, &allowed, &required)) {
        return usage_error("unknown command", argv[1]);
    }
    rc = parse_options(argc, argv, c, allowed);
    if (rc >= 0) {
        return rc;
    }
    for (size_t i = 0; i < sizeof(OPTIONS) / sizeof(OPTIONS[0]); i++) {
        if ((required & OPTIONS[i].bit) && !(c->seen & OPTIONS[i].bit)) {
            return usage_error("missing option", OPTIONS[i].name);
        }
    }
    if ((c->seen & O_ORD) && c->acc.kind == DP_ACCOUNTANT_PLD) {
        return usage_error("--orders applies to the rdp accountant only", NULL);
    }
    return -1;
}

static int
fail(const cli_t *c, fl_err_t err, const fl_errbuf_t *eb)
{
    (void) c;
    fprintf(stderr, "dpfl-privacy: %s\n", fl_errbuf_str(eb, err));
    return EXIT_FAIL;
}

/* Prints and frees a JSON object. */
static int
emit_json(json_t *o)
{
    int rc = EXIT_FAIL;

    if (o != NULL &&
        json_dumpf(o, stdout, JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) == 0) {
        fputc('\n', stdout);
        rc = 0;
    }
    json_decref(o);
    return rc;
}

static json_t *
base_json(const cli_t *c)
{
    json_t *o = json_object();

    json_object_set_new(o, "command", json_string(c->cmd));
    json_object_set_new(o, "accountant",
                        json_string(dp_accountant_kind_name(c->acc.kind)));
    if (c->acc.kind == DP_ACCOUNTANT_RDP) {
        json_object_set_new(o, "orders",
                            json_string(dp_orders_name(c->acc.orders)));
    }
    return o;
}

static void
print_accountant(const cli_t *c)
{
    if (c->acc.kind == DP_ACCOUNTANT_RDP) {
        printf("accountant        rdp (orders: %s)\n",
               dp_orders_name(c->acc.orders));
    } else {
        printf("accountant        pld\n");
    }
}

static int
print_epsilon(const cli_t *c, const dp_sgm_t *h, size_t n,
              const dp_epsilon_t *e)
{
    uint64_t total = 0;

    for (size_t i = 0; i < n; i++) {
        total += h[i].steps;
    }
    if (c->seen & O_JSON) {
        json_t *o = base_json(c);

        json_object_set_new(o, "epsilon", json_real(e->epsilon));
        json_object_set_new(o, "delta", json_real(e->delta));
        if (c->acc.kind == DP_ACCOUNTANT_RDP) {
            json_object_set_new(o, "order", json_real(e->order));
        }
        json_object_set_new(o, "mechanisms", json_integer((json_int_t) n));
        json_object_set_new(o, "steps", json_integer((json_int_t) total));
        return emit_json(o);
    }
    print_accountant(c);
    printf("mechanisms        %zu (%llu steps)\n", n,
           (unsigned long long) total);
    printf("epsilon           %.6g\n", e->epsilon);
    printf("delta             %g\n", e->delta);
    if (c->acc.kind == DP_ACCOUNTANT_RDP) {
        printf("optimal order     %g\n", e->order);
    }
    return 0;
}

static int
cmd_epsilon(const cli_t *c)
{
    const dp_sgm_t *h = c->mech;
    size_t n = c->n_mech;
    dp_sgm_t one = {c->q, c->sigma, c->steps};
    dp_epsilon_t e;
    fl_errbuf_t eb = {{0}};
    fl_err_t err;

    if (strcmp(c->cmd, "epsilon") == 0) {
        h = &one;
        n = 1;
    }
    err = dp_accountant_epsilon(&c->acc, h, n, c->delta, &e, &eb);
    if (err != FL_OK) {
        return fail(c, err, &eb);
    }
    return print_epsilon(c, h, n, &e);
}

static int
cmd_calibrate(const cli_t *c)
{
    double sigma = 0.0;
    double eps = 0.0;
    fl_errbuf_t eb = {{0}};
    fl_err_t err;

    /* Calibration bisects over steps up to the accountant's own limit: a
     * larger --steps is a usage error (exit 2), not a failed computation. */
    if (c->steps > DP_ACCOUNTANT_MAX_STEPS) {
        return usage_error("calibrate: --steps must be at most 10^9", NULL);
    }
    err = dp_accountant_calibrate(&c->acc, c->q, c->steps, c->delta, c->target,
                                  &sigma, &eps, &eb);
    if (err != FL_OK) {
        return fail(c, err, &eb);
    }
    if (c->seen & O_JSON) {
        json_t *o = base_json(c);

        json_object_set_new(o, "noise_multiplier", json_real(sigma));
        json_object_set_new(o, "epsilon", json_real(eps));
        json_object_set_new(o, "target_epsilon", json_real(c->target));
        json_object_set_new(o, "delta", json_real(c->delta));
        json_object_set_new(o, "sampling_rate", json_real(c->q));
        json_object_set_new(o, "steps", json_integer((json_int_t) c->steps));
        return emit_json(o);
    }
    print_accountant(c);
    printf("noise multiplier  %.6g\n", sigma);
    printf("epsilon reached   %.6g (target %g)\n", eps, c->target);
    printf("delta             %g\n", c->delta);
    return 0;
}

/* The deltas the report shows besides the one asked for. */
static const double REPORT_DELTAS[] = {1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8};
#define N_REPORT_DELTAS (sizeof(REPORT_DELTAS) / sizeof(REPORT_DELTAS[0]))

static json_t *
num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The proven bound: the smaller candidate when it is rigorous, else the
 * one from (epsilon, delta). */
static double
proven(const dp_risk_bound_t *b)
{
    return b->rigorous ? b->bound : b->epsdelta;
}

static json_t *
bounds_json(const dp_risk_bound_t *b, size_t n, const char *at_key,
            const char *bound_key)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();

        json_object_set_new(o, at_key, json_real(b[i].at));
        json_object_set_new(o, bound_key, num_or_null(proven(&b[i])));
        json_object_set_new(o, "from_epsilon_delta",
                            num_or_null(b[i].epsdelta));
        json_object_set_new(o, "from_mu", num_or_null(b[i].gdp));
        json_object_set_new(o, "source",
                            json_string(b[i].source == DP_RISK_FROM_GDP
                                            ? "mu"
                                            : "epsilon_delta"));
        json_object_set_new(o, "rigorous", json_boolean(b[i].rigorous));
        json_array_append_new(a, o);
    }
    return a;
}

static int
report_json(const cli_t *c, const double *eps, const dp_risk_t *r)
{
    json_t *o = base_json(c);
    json_t *list = json_array();

    for (size_t i = 0; i < N_REPORT_DELTAS; i++) {
        json_t *row = json_object();

        json_object_set_new(row, "delta", json_real(REPORT_DELTAS[i]));
        json_object_set_new(row, "epsilon", num_or_null(eps[i]));
        json_array_append_new(list, row);
    }
    json_object_set_new(o, "sampling_rate", json_real(c->q));
    json_object_set_new(o, "noise_multiplier", json_real(c->sigma));
    json_object_set_new(o, "steps", json_integer((json_int_t) c->steps));
    json_object_set_new(o, "delta", json_real(r->delta));
    json_object_set_new(o, "epsilon", json_real(r->eps));
    json_object_set_new(o, "epsilons", list);
    json_object_set_new(o, "mu", num_or_null(r->mu));
    json_object_set_new(o, "mu_exact", json_boolean(r->mu_exact));
    json_object_set_new(o, "mu_epsilon", num_or_null(r->mu_eps));
    json_object_set_new(o, "membership_inference",
                        bounds_json(r->mia, DP_RISK_N_FPR, "fpr", "tpr_bound"));
    json_object_set_new(
        o, "reconstruction",
        bounds_json(r->rero, DP_RISK_N_PRIOR, "prior", "success_bound"));
    return emit_json(o);
}

static void
print_bounds(const dp_risk_bound_t *b, size_t n, const char *at_name,
             int mu_exact)
{
    printf("  %-8s  %-14s  %s\n", at_name, "proven bound",
           mu_exact ? "from mu (exact)" : "from mu (CLT estimate)");
    for (size_t i = 0; i < n; i++) {
        printf("  %-8g  %-14.4g  %.4g\n", b[i].at, proven(&b[i]), b[i].gdp);
    }
}

static void
report_table(const cli_t *c, const double *eps, const dp_risk_t *r)
{
    printf("Privacy report: q = %g, sigma = %g, %llu steps\n", c->q, c->sigma,
           (unsigned long long) c->steps);
    printf("(Poisson-subsampled Gaussian; neighbours differ by one record)\n");
    print_accountant(c);
    printf("\n  %-8s  %s\n", "delta", "epsilon");
    for (size_t i = 0; i < N_REPORT_DELTAS; i++) {
        if (isfinite(eps[i])) {
            printf("  %-8g  %.6g\n", REPORT_DELTAS[i], eps[i]);
        } else {
            printf("  %-8g  n/a\n", REPORT_DELTAS[i]);
        }
    }
    printf("\nGaussian DP mu    %.6g (%s)\n", r->mu,
           r->mu_exact ? "exact: q = 1"
                       : "central-limit approximation, not a bound");
    printf("epsilon from mu   %.6g at delta %g\n", r->mu_eps, r->delta);
    printf("\nMembership inference: highest true-positive rate of any "
           "attacker\nat a given false-positive rate (epsilon %.6g, delta "
           "%g)\n",
           r->eps, r->delta);
    print_bounds(r->mia, DP_RISK_N_FPR, "FPR", r->mu_exact);
    printf("\nReconstruction: highest success probability of any attack "
           "whose\nsuccess without the model is `prior`\n");
    print_bounds(r->rero, DP_RISK_N_PRIOR, "prior", r->mu_exact);
}

static int
cmd_report(const cli_t *c)
{
    const dp_sgm_t h = {c->q, c->sigma, c->steps};
    double eps[N_REPORT_DELTAS];
    dp_epsilon_t e;
    dp_risk_t risk;
    fl_errbuf_t eb = {{0}};
    fl_err_t err;

    for (size_t i = 0; i < N_REPORT_DELTAS; i++) {
        /* A delta the accountant cannot resolve is shown as n/a. */
        eps[i] = dp_accountant_epsilon(&c->acc, &h, 1, REPORT_DELTAS[i], &e,
                                       NULL) == FL_OK
                     ? e.epsilon
                     : NAN;
    }
    err = dp_accountant_epsilon(&c->acc, &h, 1, c->delta, &e, &eb);
    if (err != FL_OK) {
        return fail(c, err, &eb);
    }
    err = dp_risk_report(&h, 1, e.epsilon, c->delta, &risk);
    if (err != FL_OK) {
        return fail(c, err, NULL);
    }
    if (c->seen & O_JSON) {
        return report_json(c, eps, &risk);
    }
    report_table(c, eps, &risk);
    return 0;
}

int
main(int argc, char **argv)
{
    static cli_t c;
    int rc = parse_cli(argc, argv, &c);

    if (rc >= 0) {
        return rc;
    }
    if (strcmp(c.cmd, "calibrate") == 0) {
        rc = cmd_calibrate(&c);
    } else if (strcmp(c.cmd, "report") == 0) {
        rc = cmd_report(&c);
    } else {
        rc = cmd_epsilon(&c);
    }
    if (fflush(stdout) != 0) {
        rc = EXIT_FAIL;
    }
    return rc;
}
