/*
 * tests/bench/bench_sim.c: dpfl-sim's cost at 10 and 100 hospitals (and
 * 1,000 with --full) on digits, 64-32-10, 10 rounds: seconds per round,
 * CPU seconds per round, setup (PKI, connecting) and peak RSS. Each size
 * runs in a child process so that peak RSS is that run's own. Prints one
 * JSON object.
 *
 *   bench_sim [--full] [--transport inproc|tcp] [--source DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "sim/run.h"

/* Runs one size in a child; the child writes one JSON object to fd. */
static void
child(const char *src, size_t n, sim_transport_t tr, int fd)
{
    char job[1024], data[1024];
    fl_errbuf_t eb = {{0}};
    sim_result_t *r = NULL;
    sim_opts_t o;
    FILE *f = fdopen(fd, "w");

    (void) snprintf(job, sizeof job, "%s/deploy/examples/sim-digits.ini", src);
    (void) snprintf(data, sizeof data, "%s/data/digits_8x8.csv", src);
    memset(&o, 0, sizeof o);
    o.job_path = job;
    o.data_path = data;
    o.n_nodes = n;
    o.seed = 1;
    o.transport = tr;
    o.epsilon = 3;
    o.rounds = 10;
    /* 1,797 rows over 1,000 hospitals: at most two each, so one to
     * train on and one held out. */
    o.holdout = n >= 500 ? 0.5 : 0;
    fl_log_set_level(FL_LOG_ERROR);
    fl_log_set_stream(fopen("/dev/null", "w")); /* the declining nodes */
    if (f == NULL || sim_run(&o, &r, &eb) != FL_OK) {
        (void) fprintf(stderr, "bench_sim: %zu nodes: %s\n", n, eb.msg);
        _exit(1);
    }
    (void) fprintf(f,
                   "{\"nodes\":%zu,\"declined\":%zu,\"rounds\":%zu,"
                   "\"seconds_per_round\":%.4f,\"cpu_seconds_per_round\":%.4f,"
                   "\"setup_seconds\":%.3f,\"pki_seconds\":%.3f,"
                   "\"peak_rss_mb\":%.1f,\"final_accuracy\":%.4f,"
                   "\"epsilon_max\":%.4f}",
                   n, r->n_declined, r->n_rounds, r->seconds_per_round,
                   r->cpu_seconds_per_round, r->setup_seconds, r->pki_seconds,
                   (double) r->peak_rss_kb / 1024.0, r->final_accuracy,
                   r->eps_max);
    (void) fclose(f);
    sim_result_destroy(&r);
    _exit(0);
}

static int
run_one(const char *src, size_t n, sim_transport_t tr, char *out, size_t len)
{
    int fds[2], status = 0;
    ssize_t got;
    size_t used = 0;
    pid_t pid;

    if (pipe(fds) != 0)
        return 0;
    pid = fork();
    if (pid == 0) {
        (void) close(fds[0]);
        child(src, n, tr, fds[1]);
    }
    (void) close(fds[1]);
    while (pid > 0 && used + 1 < len &&
           (got = read(fds[0], out + used, len - used - 1)) > 0)
        used += (size_t) got;
    out[used] = '\0';
    (void) close(fds[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && used > 0;
}

int
main(int argc, char **argv)
{
    const char *src = getenv("DPFL_SOURCE_DIR");
    sim_transport_t tr = SIM_TRANSPORT_INPROC;
    size_t sizes[3] = {10, 100, 1000}, n_sizes = 2;
    char buf[1024];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") == 0)
            n_sizes = 3;
        else if (strcmp(argv[i], "--transport") == 0 && i + 1 < argc)
            tr = strcmp(argv[++i], "tcp") == 0 ? SIM_TRANSPORT_TCP
                                               : SIM_TRANSPORT_INPROC;
        else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc)
            src = argv[++i];
    }
    if (src == NULL)
        src = ".";
    (void) printf("{\"bench\":\"sim\",\"job\":\"sim-digits 64-32-10, 10 "
                  "rounds, epsilon 3\",\"transport\":\"%s\",\"runs\":[",
                  tr == SIM_TRANSPORT_TCP ? "tcp" : "inproc");
    for (size_t i = 0; i < n_sizes; i++) {
        if (!run_one(src, sizes[i], tr, buf, sizeof buf)) {
            (void) printf("]}\n");
            (void) fprintf(stderr, "bench_sim: the %zu-node run failed\n",
                           sizes[i]);
            return 1;
        }
        (void) printf("%s%s", i ? "," : "", buf);
        (void) fflush(stdout);
    }
    (void) printf("]}\n");
    return 0;
}
