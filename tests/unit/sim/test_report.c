/*
 * tests/unit/sim/test_report.c: the report of a real 6-node run: the
 * HTML parses as XML, holds the three charts with the run's numbers and
 * no external reference; the CSV and JSON files have a row per round and
 * per node with the same figures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "sim/report.h"
#include "sim/run.h"

static char dir[64];
static sim_result_t *res;

static int
setup(void **state)
{
    const char *src = getenv("DPFL_SOURCE_DIR");
    char job[1024], data[1024];
    fl_errbuf_t eb = {{0}};
    sim_opts_t o;

    (void) state;
    if (src == NULL)
        src = ".";
    (void) snprintf(job, sizeof job, "%s/deploy/examples/sim-digits.ini", src);
    (void) snprintf(data, sizeof data, "%s/data/digits_8x8.csv", src);
    fl_log_set_level(FL_LOG_ERROR);
    memset(&o, 0, sizeof o);
    o.job_path = job;
    o.data_path = data;
    o.n_nodes = 6;
    o.seed = 4;
    o.transport = SIM_TRANSPORT_INPROC;
    o.partition.kind = SIM_PART_DIRICHLET;
    o.partition.alpha = 0.3;
    o.epsilon = 2;
    o.rounds = 4;
    o.timeout_s = 50;
    if (sim_run(&o, &res, &eb) != FL_OK) {
        fprintf(stderr, "sim_run: %s\n", eb.msg);
        return -1;
    }
    (void) snprintf(dir, sizeof dir, "/tmp/dpfl-test-report-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    if (sim_report_write(res, dir, &eb) != FL_OK) {
        fprintf(stderr, "report: %s\n", eb.msg);
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    static const char *const files[] = {
        "rounds.csv",   "rounds.json", "nodes.csv",       "nodes.json",
        "summary.json", "report.html", "node_epsilon.csv"};
    char p[128];

    (void) state;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        (void) snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        (void) unlink(p);
    }
    (void) rmdir(dir);
    sim_result_destroy(&res);
    return 0;
}

/* The value of attribute attr of the one element matching xpath. */
static char *
attr_of(xmlDocPtr doc, const char *xpath, const char *attr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr obj;
    char *v = NULL;

    assert_non_null(ctx);
    xmlXPathRegisterNs(ctx, BAD_CAST "h",
                       BAD_CAST "http://www.w3.org/1999/xhtml");
    xmlXPathRegisterNs(ctx, BAD_CAST "s",
                       BAD_CAST "http://www.w3.org/2000/svg");
    obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
    assert_non_null(obj);
    assert_non_null(obj->nodesetval);
    assert_int_equal(obj->nodesetval->nodeNr, 1);
    if (attr != NULL) {
        xmlChar *x = xmlGetProp(obj->nodesetval->nodeTab[0], BAD_CAST attr);

        assert_non_null(x);
        v = strdup((const char *) x);
        xmlFree(x);
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    return v;
}

static int
count(xmlDocPtr doc, const char *xpath)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr obj;
    int n;

    xmlXPathRegisterNs(ctx, BAD_CAST "h",
                       BAD_CAST "http://www.w3.org/1999/xhtml");
    xmlXPathRegisterNs(ctx, BAD_CAST "s",
                       BAD_CAST "http://www.w3.org/2000/svg");
    obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
    assert_non_null(obj);
    n = obj->nodesetval ? obj->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    return n;
}

static void
assert_attr(xmlDocPtr doc, const char *xpath, const char *attr, double want)
{
    char *v = attr_of(doc, xpath, attr), buf[32];

    (void) snprintf(buf, sizeof buf, "%.4f", want);
    assert_string_equal(v, buf);
    free(v);
}

static void
test_html(void **state)
{
    char path[128];
    xmlDocPtr doc;

    (void) state;
    (void) snprintf(path, sizeof path, "%s/report.html", dir);
    /* Well-formed XML, no network access for external entities. */
    doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
    assert_non_null(doc);
    assert_int_equal(count(doc, "//s:svg"), 3);
    assert_true(res->has_final);
    assert_attr(doc, "//s:svg[@id='chart-accuracy']", "data-final-accuracy",
                res->final_accuracy);
    assert_attr(doc, "//s:svg[@id='chart-epsilon']", "data-epsilon-max",
                res->eps_max);
    assert_attr(doc, "//s:svg[@id='chart-privacy']", "data-epsilon",
                res->eps_max);
    assert_attr(doc, "//s:svg[@id='chart-privacy']", "data-accuracy",
                res->final_accuracy);
    /* One accuracy point per evaluation (eval_every 5 > 4 rounds: the
     * final one), one epsilon line per node plus mean and max. */
    assert_int_equal(count(doc, "//s:svg[@id='chart-accuracy']//s:circle"), 1);
    assert_int_equal(count(doc, "//s:svg[@id='chart-epsilon']//s:polyline"),
                     (int) res->n_nodes + 2);
    /* The membership-inference bounds at the three false-positive rates,
     * each equal to the risk report's. */
    assert_true(res->has_risk);
    for (int i = 0; i < DP_RISK_N_FPR; i++) {
        char xp[128];

        (void) snprintf(
            xp, sizeof xp,
            "//s:svg[@id='chart-privacy']//s:circle[@data-fpr='%g']",
            res->risk.mia[i].at);
        assert_attr(doc, xp, "data-tpr", res->risk.mia[i].bound);
        assert_true(res->risk.mia[i].bound >= res->risk.mia[i].at);
    }
    /* The risk table: three MIA rows, three reconstruction rows. */
    assert_int_equal(count(doc, "//h:table/h:tr"), 1 + 3 + 3);
    /* Self-contained: nothing fetched. */
    assert_int_equal(count(doc, "//@src | //@href | //h:script"), 0);
    xmlFreeDoc(doc);
}

static size_t
lines_of(const char *name)
{
    char path[128], line[512];
    FILE *f;
    size_t n = 0;

    (void) snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL)
        n++;
    (void) fclose(f);
    return n;
}

static void
test_csv_json(void **state)
{
    char path[128];
    json_error_t je;
    json_t *rounds, *nodes, *sum;

    (void) state;
    assert_int_equal(res->n_rounds, 4);
    assert_int_equal(lines_of("rounds.csv"), 1 + res->n_rounds);
    assert_int_equal(lines_of("nodes.csv"), 1 + res->n_nodes);
    assert_int_equal(lines_of("node_epsilon.csv"),
                     1 + res->n_rounds * res->n_nodes);
    (void) snprintf(path, sizeof path, "%s/rounds.json", dir);
    rounds = json_load_file(path, 0, &je);
    assert_non_null(rounds);
    assert_int_equal(json_array_size(rounds), res->n_rounds);
    /* Ten significant digits in the files. */
    assert_true(fabs(json_real_value(json_object_get(json_array_get(rounds, 3),
                                                     "accuracy")) -
                     res->final_accuracy) < 1e-9);
    (void) snprintf(path, sizeof path, "%s/nodes.json", dir);
    nodes = json_load_file(path, 0, &je);
    assert_non_null(nodes);
    assert_int_equal(json_array_size(nodes), res->n_nodes);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(nodes, 0), "id")),
        res->nodes[0].id);
    (void) snprintf(path, sizeof path, "%s/summary.json", dir);
    sum = json_load_file(path, 0, &je);
    assert_non_null(sum);
    assert_string_equal(json_string_value(json_object_get(sum, "model_sha256")),
                        res->model_sha256);
    assert_non_null(strstr(json_string_value(json_object_get(sum, "generator")),
                           "not for production"));
    json_decref(rounds);
    json_decref(nodes);
    json_decref(sum);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_csv_json),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
