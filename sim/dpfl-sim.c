/*
 * sim/dpfl-sim.c: a simulated federation of N hospitals in one process.
 *
 *   dpfl-sim --job job.ini --data FILE.csv --nodes N
 *            --partition iid|dirichlet:ALPHA|quantity:ALPHA --seed S
 *            [--transport inproc|tcp] [--json] [--out DIR]
 *            [--epsilon E] [--aggregator fedavg|median|trimmed_mean]
 *            [--rounds R] [--deadline S] [--holdout F] [--drop-rate P]
 *            [--straggle-rate P] [--byzantine K[:scaled|random]]
 *            [--timeout S] [--log-level L] [--keep-tmp]
 *
 * docs/simulation.md describes every option. Exit 0 when the run ended,
 * 1 on a run error, 2 on a usage error.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "node/blas.h"
#include "sim/report.h"
#include "sim/run.h"

static void
usage(FILE *f)
{
    (void) fputs(
        "usage: dpfl-sim --job JOB.ini --data FILE.csv --nodes N\n"
        "                --partition iid|dirichlet:ALPHA|quantity:ALPHA "
        "--seed S\n"
        "                [--transport inproc|tcp] [--json] [--out DIR]\n"
        "                [--epsilon E] [--aggregator fedavg|median|"
        "trimmed_mean]\n"
        "                [--rounds R] [--deadline SECONDS] [--holdout F]\n"
        "                [--drop-rate P]\n"
        "                [--straggle-rate P] [--byzantine K[:scaled|random]]\n"
        "                [--timeout SECONDS] [--log-level off|error|warn|info|"
        "debug]\n                [--keep-tmp]\n"
        "A simulated federation in one process: the real coordinator, nodes "
        "and TLS\nchannel, with a SEEDED generator (reproducible, not for "
        "production).\n",
        f);
}

static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || *s == '\0' || *s == '-')
        return 0;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return 0;
    *out = (uint64_t) v;
    return 1;
}

static int
parse_rate(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v;

    if (s == NULL || *s == '\0')
        return 0;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

static int
parse_byzantine(const char *s, sim_opts_t *o)
{
    char num[32];
    const char *colon = s ? strchr(s, ':') : NULL;
    size_t n = colon ? (size_t) (colon - s) : (s ? strlen(s) : 0);
    uint64_t k;

    if (s == NULL || n == 0 || n >= sizeof num)
        return 0;
    memcpy(num, s, n);
    num[n] = '\0';
    if (!parse_u64(num, SIM_MAX_NODES, &k))
        return 0;
    o->n_byzantine = (size_t) k;
    o->byzantine = NODE_BYZ_SCALED;
    if (colon != NULL && strcmp(colon + 1, "random") == 0)
        o->byzantine = NODE_BYZ_RANDOM;
    else if (colon != NULL && strcmp(colon + 1, "scaled") != 0)
        return 0;
    return 1;
}

typedef struct args {
    sim_opts_t o;
    const char *out_dir;
    const char *log_level;
    int have_seed;
    int have_partition;
} args_t;

/* One option with its value; 0 on a bad or unknown option. */
static int
parse_opt(args_t *a, const char *k, const char *v, fl_errbuf_t *eb)
{
    sim_opts_t *o = &a->o;
    uint64_t u = 0;

    if (strcmp(k, "--job") == 0)
        return (o->job_path = v) != NULL;
    if (strcmp(k, "--data") == 0)
        return (o->data_path = v) != NULL;
    if (strcmp(k, "--out") == 0)
        return (a->out_dir = v) != NULL;
    if (strcmp(k, "--log-level") == 0)
        return (a->log_level = v) != NULL;
    if (strcmp(k, "--aggregator") == 0)
        return (o->aggregator = v) != NULL;
    if (strcmp(k, "--nodes") == 0 && parse_u64(v, SIM_MAX_NODES, &u) && u > 0)
        return (o->n_nodes = (size_t) u) > 0;
    if (strcmp(k, "--seed") == 0 && parse_u64(v, UINT64_MAX, &o->seed))
        return a->have_seed = 1;
    if (strcmp(k, "--partition") == 0)
        return (a->have_partition =
                    sim_part_spec_parse(v, &o->partition, eb) == FL_OK);
    if (strcmp(k, "--transport") == 0 && v != NULL) {
        o->transport =
            strcmp(v, "tcp") == 0 ? SIM_TRANSPORT_TCP : SIM_TRANSPORT_INPROC;
        return strcmp(v, "tcp") == 0 || strcmp(v, "inproc") == 0;
    }
    if (strcmp(k, "--epsilon") == 0)
        return parse_rate(v, 1e-3, 1e4, &o->epsilon);
    if (strcmp(k, "--holdout") == 0)
        return parse_rate(v, 0.01, 0.9, &o->holdout);
    if (strcmp(k, "--drop-rate") == 0)
        return parse_rate(v, 0, 1, &o->drop_rate);
    if (strcmp(k, "--straggle-rate") == 0)
        return parse_rate(v, 0, 1, &o->straggle_rate);
    if (strcmp(k, "--byzantine") == 0)
        return parse_byzantine(v, o);
    if (strcmp(k, "--rounds") == 0 && parse_u64(v, 100000, &u) && u > 0)
        return (o->rounds = (unsigned) u) > 0;
    if (strcmp(k, "--deadline") == 0 && parse_u64(v, 86400, &u) && u > 0)
        return (o->deadline_s = (unsigned) u) > 0;
    if (strcmp(k, "--timeout") == 0 && parse_u64(v, 864000, &u) && u > 0)
        return (o->timeout_s = (int) u) > 0;
    return 0;
}

static int
parse_args(int argc, char **argv, args_t *a)
{
    fl_errbuf_t eb = {{0}};

    memset(a, 0, sizeof *a);
    a->log_level = "off";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            a->o.json = 1;
        } else if (strcmp(argv[i], "--keep-tmp") == 0) {
            a->o.keep_tmp = 1;
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (i + 1 >= argc || !parse_opt(a, argv[i], argv[i + 1], &eb)) {
            (void) fprintf(stderr, "dpfl-sim: bad option %s%s%s%s%s\n", argv[i],
                           i + 1 < argc ? " " : "",
                           i + 1 < argc ? argv[i + 1] : "",
                           eb.msg[0] ? ": " : "", eb.msg);
            return 0;
        } else {
            i++;
        }
    }
    if (!a->o.job_path || !a->o.data_path || !a->o.n_nodes || !a->have_seed ||
        !a->have_partition) {
        (void) fputs("dpfl-sim: --job, --data, --nodes, --partition and "
                     "--seed are required\n",
                     stderr);
        return 0;
    }
    return 1;
}

/* TCP needs a few descriptors per node: raise the soft limit. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
main(int argc, char **argv)
{
    fl_errbuf_t eb = {{0}};
    sim_result_t *res = NULL;
    fl_log_level_t level;
    FILE *devnull = NULL;
    char hint[256];
    args_t a;
    fl_err_t err;

    if (!parse_args(argc, argv, &a)) {
        usage(stderr);
        return 2;
    }
    /* Off by default: N daemons would each log, e.g. every hospital too
     * small to split its rows; the summary counts them. */
    if (strcmp(a.log_level, "off") == 0) {
        devnull = fopen("/dev/null", "w");
        fl_log_set_stream(devnull != NULL ? devnull : stderr);
        a.log_level = "error";
    }
    if (fl_log_level_parse(a.log_level, &level) != FL_OK) {
        (void) fprintf(stderr, "dpfl-sim: unknown log level %s\n", a.log_level);
        return 2;
    }
    fl_log_set_level(level);
    fl_log_set_json(a.o.json);
    raise_nofile();
    a.o.progress = stdout;
    if (!a.o.json)
        (void) printf("dpfl-sim: generator SEEDED (seed %llu): reproducible, "
                      "NOT for production; %zu hospitals, %s\n",
                      (unsigned long long) a.o.seed, a.o.n_nodes,
                      a.o.transport == SIM_TRANSPORT_TCP ? "tcp loopback"
                                                         : "inproc");
    if (node_blas_check(hint, sizeof hint))
        (void) fprintf(stderr, "dpfl-sim: %s\n", hint);
    err = sim_run(&a.o, &res, &eb);
    if (err != FL_OK) {
        (void) fprintf(stderr, "dpfl-sim: %s\n", fl_errbuf_str(&eb, err));
        if (devnull != NULL)
            (void) fclose(devnull);
        return 1;
    }
    if (a.o.json)
        err = sim_report_json(res, stdout, &eb);
    else
        sim_report_text(res, stdout);
    if (err == FL_OK && a.out_dir != NULL) {
        err = sim_report_write(res, a.out_dir, &eb);
        if (err == FL_OK && !a.o.json)
            (void) printf("report: %s/report.html\n", a.out_dir);
    }
    sim_result_destroy(&res);
    if (devnull != NULL)
        (void) fclose(devnull);
    if (err != FL_OK) {
        (void) fprintf(stderr, "dpfl-sim: %s\n", fl_errbuf_str(&eb, err));
        return 1;
    }
    return 0;
}
