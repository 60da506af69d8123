/* sim/partition.c: iid, label-skew and size-skew partitions, seeded. */
#include "sim/partition.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t
sim_mix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
sim_rng_seed(sim_rng_t *r, uint64_t seed)
{
    uint64_t x = seed;

    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = sim_mix64(x);
    }
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
sim_rng_next(sim_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double
sim_rng_uniform(sim_rng_t *r)
{
    return (double) (sim_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t
sim_rng_below(sim_rng_t *r, uint64_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;

    do {
        x = sim_rng_next(r);
    } while (x >= lim);
    return x % n;
}

static double
rng_normal(sim_rng_t *r)
{
    /* Box-Muller, one of the pair; u1 in (0, 1]. */
    double u1 = 1.0 - sim_rng_uniform(r);
    double u2 = sim_rng_uniform(r);

    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double
sim_rng_gamma(sim_rng_t *r, double shape)
{
    double d, c, x, v, u, boost = 1.0;

    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a + 1) * U^(1/a). */
        u = 1.0 - sim_rng_uniform(r);
        boost = pow(u, 1.0 / shape);
        shape += 1.0;
    }
    d = shape - 1.0 / 3.0;
    c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        do {
            x = rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        u = sim_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return boost * d * v;
        if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return boost * d * v;
    }
}

/* p[0..n) ~ Dirichlet(alpha, ..., alpha); all-zero draws (tiny alpha
 * underflows) become one uniformly chosen vertex, the limit as alpha->0. */
static void
dirichlet(sim_rng_t *r, double alpha, double *p, size_t n)
{
    double sum = 0;

    for (size_t i = 0; i < n; i++) {
        p[i] = sim_rng_gamma(r, alpha);
        sum += p[i];
    }
    if (!(sum > 0) || !isfinite(sum)) {
        size_t k = (size_t) sim_rng_below(r, n);

        for (size_t i = 0; i < n; i++)
            p[i] = i == k;
        return;
    }
    for (size_t i = 0; i < n; i++)
        p[i] /= sum;
}

static void
shuffle(sim_rng_t *r, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t) sim_rng_below(r, i);
        size_t t = a[i - 1];

        a[i - 1] = a[j];
        a[j] = t;
    }
}

static int
cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *) a, y = *(const size_t *) b;

    return (x > y) - (x < y);
}

const char *
sim_part_kind_name(sim_part_kind_t kind)
{
    switch (kind) {
    case SIM_PART_IID:
        return "iid";
    case SIM_PART_DIRICHLET:
        return "dirichlet";
    case SIM_PART_QUANTITY:
        return "quantity";
    }
    return "unknown";
}

fl_err_t
sim_part_spec_parse(const char *text, sim_part_spec_t *out, fl_errbuf_t *eb)
{
    const char *colon;
    char *end = NULL;
    size_t klen;

    if (text == NULL)
        return fl_fail(eb, FL_ERR_PARSE, "partition: missing");
    memset(out, 0, sizeof *out);
    if (strcmp(text, "iid") == 0)
        return FL_OK;
    colon = strchr(text, ':');
    klen = colon ? (size_t) (colon - text) : strlen(text);
    if (klen == 9 && strncmp(text, "dirichlet", 9) == 0)
        out->kind = SIM_PART_DIRICHLET;
    else if (klen == 8 && strncmp(text, "quantity", 8) == 0)
        out->kind = SIM_PART_QUANTITY;
    else
        return fl_fail(eb, FL_ERR_PARSE,
                       "partition '%s': expected iid, dirichlet:ALPHA or "
                       "quantity:ALPHA",
                       text);
    if (colon == NULL || colon[1] == '\0')
        return fl_fail(eb, FL_ERR_PARSE, "partition '%s': ALPHA missing", text);
    errno = 0;
    out->alpha = strtod(colon + 1, &end);
    if (errno != 0 || *end != '\0' || !isfinite(out->alpha) ||
        out->alpha <= 0 || out->alpha > 1e6)
        return fl_fail(eb, FL_ERR_PARSE,
                       "partition '%s': ALPHA must be a number in (0, 1e6]",
                       text);
    return FL_OK;
}

/* Node sizes: equal shares, or min_rows plus a Dirichlet share. */
static void
node_sizes(const sim_part_spec_t *spec, sim_rng_t *r, size_t n_rows,
           size_t n_nodes, size_t min_rows, size_t *size, double *p)
{
    size_t extra, given = 0;
    size_t *order;

    if (spec->kind != SIM_PART_QUANTITY || n_rows < n_nodes * min_rows) {
        for (size_t k = 0; k < n_nodes; k++)
            size[k] = n_rows / n_nodes + (k < n_rows % n_nodes);
        return;
    }
    extra = n_rows - n_nodes * min_rows;
    dirichlet(r, spec->alpha, p, n_nodes);
    for (size_t k = 0; k < n_nodes; k++) {
        size[k] = min_rows + (size_t) floor((double) extra * p[k]);
        given += size[k];
    }
    /* The rows floor() left over go one each to nodes in a seeded order. */
    order = malloc(n_nodes * sizeof *order);
    if (order != NULL) {
        for (size_t k = 0; k < n_nodes; k++)
            order[k] = k;
        shuffle(r, order, n_nodes);
    }
    for (size_t k = 0; given < n_rows; k = (k + 1) % n_nodes, given++)
        size[order != NULL ? order[k] : k]++;
    free(order);
}

/* Label skew: node by node, one slot at a time, a class drawn from the
 * node's Dirichlet mix over the classes that still have rows. */
static fl_err_t
deal_dirichlet(const sim_part_spec_t *spec, sim_rng_t *r, const int32_t *labels,
               size_t n_rows, uint32_t n_classes, size_t n_nodes,
               const size_t *size, size_t *start, size_t *idx, fl_errbuf_t *eb)
{
    size_t *cls_rows = malloc(n_rows * sizeof *cls_rows);
    size_t *cls_start = calloc((size_t) n_classes + 1, sizeof *cls_start);
    size_t *cls_next = calloc(n_classes, sizeof *cls_next);
    size_t *fill = calloc(n_nodes, sizeof *fill);
    double *mix = malloc(n_nodes * n_classes * sizeof *mix);
    size_t max_size = 0;
    fl_err_t err = FL_OK;

    if (!cls_rows || !cls_start || !cls_next || !fill || !mix) {
        err = fl_fail(eb, FL_ERR_NOMEM, "partition: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_rows; i++)
        cls_start[labels[i] + 1]++;
    for (uint32_t c = 0; c < n_classes; c++)
        cls_start[c + 1] += cls_start[c];
    for (size_t i = 0; i < n_rows; i++)
        cls_rows[cls_start[labels[i]] + cls_next[labels[i]]++] = i;
    for (uint32_t c = 0; c < n_classes; c++) {
        shuffle(r, cls_rows + cls_start[c], cls_start[c + 1] - cls_start[c]);
        cls_next[c] = cls_start[c];
    }
    for (size_t k = 0; k < n_nodes; k++) {
        dirichlet(r, spec->alpha, mix + k * n_classes, n_classes);
        if (size[k] > max_size)
            max_size = size[k];
    }
    for (size_t t = 0; t < max_size; t++) {
        for (size_t k = 0; k < n_nodes; k++) {
            const double *pk = mix + k * n_classes;
            double mass = 0, u;
            uint32_t c = 0;
            int by_count;

            if (fill[k] >= size[k])
                continue;
            for (uint32_t j = 0; j < n_classes; j++)
                if (cls_next[j] < cls_start[j + 1])
                    mass += pk[j];
            /* The node's classes are used up: take what is left, in
             * proportion to the rows left. */
            by_count = !(mass > 0);
            if (by_count)
                mass = 0;
            for (uint32_t j = 0; by_count && j < n_classes; j++)
                mass += (double) (cls_start[j + 1] - cls_next[j]);
            u = sim_rng_uniform(r) * mass;
            for (uint32_t j = 0; j < n_classes; j++) {
                double w =
                    cls_next[j] < cls_start[j + 1]
                        ? (by_count ? (double) (cls_start[j + 1] - cls_next[j])
                                    : pk[j])
                        : 0.0;

                if (w <= 0)
                    continue;
                c = j;
                if (u < w)
                    break;
                u -= w;
            }
            idx[start[k] + fill[k]++] = cls_rows[cls_next[c]++];
        }
    }
out:
    free(cls_rows);
    free(cls_start);
    free(cls_next);
    free(fill);
    free(mix);
    return err;
}

static fl_err_t
check_args(const sim_part_spec_t *spec, const int32_t *labels, size_t n_rows,
           uint32_t n_classes, size_t n_nodes, fl_errbuf_t *eb)
{
    if (spec == NULL || n_nodes == 0 || n_nodes > SIM_MAX_NODES ||
        n_nodes > n_rows)
        return fl_fail(eb, FL_ERR_INVALID,
                       "partition: %zu nodes for %zu rows (1 .. min(rows, "
                       "%d))",
                       n_nodes, n_rows, SIM_MAX_NODES);
    if (spec->kind != SIM_PART_IID && !(spec->alpha > 0))
        return fl_fail(eb, FL_ERR_INVALID, "partition: alpha must be > 0");
    if (spec->kind != SIM_PART_DIRICHLET)
        return FL_OK;
    if (labels == NULL || n_classes == 0)
        return fl_fail(eb, FL_ERR_INVALID,
                       "partition: dirichlet needs the labels");
    for (size_t i = 0; i < n_rows; i++)
        if (labels[i] < 0 || (uint32_t) labels[i] >= n_classes)
            return fl_fail(eb, FL_ERR_INVALID,
                           "partition: row %zu has label %d outside 0..%u", i,
                           (int) labels[i], n_classes - 1);
    return FL_OK;
}

fl_err_t
sim_partition_make(const sim_part_spec_t *spec, const int32_t *labels,
                   size_t n_rows, uint32_t n_classes, size_t n_nodes,
                   size_t min_rows, uint64_t seed, sim_partition_t *out,
                   fl_errbuf_t *eb)
{
    size_t *size = NULL;
    double *p = NULL;
    sim_rng_t r;
    fl_err_t err;

    memset(out, 0, sizeof *out);
    err = check_args(spec, labels, n_rows, n_classes, n_nodes, eb);
    if (err != FL_OK)
        return err;
    sim_rng_seed(&r, seed);
    out->n_nodes = n_nodes;
    out->n_rows = n_rows;
    out->start = calloc(n_nodes + 1, sizeof *out->start);
    out->idx = malloc(n_rows * sizeof *out->idx);
    size = calloc(n_nodes, sizeof *size);
    p = calloc(n_nodes, sizeof *p);
    if (!out->start || !out->idx || !size || !p) {
        err = fl_fail(eb, FL_ERR_NOMEM, "partition: out of memory");
        goto out;
    }
    node_sizes(spec, &r, n_rows, n_nodes, min_rows, size, p);
    for (size_t k = 0; k < n_nodes; k++)
        out->start[k + 1] = out->start[k] + size[k];
    if (spec->kind == SIM_PART_DIRICHLET) {
        err = deal_dirichlet(spec, &r, labels, n_rows, n_classes, n_nodes, size,
                             out->start, out->idx, eb);
    } else {
        for (size_t i = 0; i < n_rows; i++)
            out->idx[i] = i;
        shuffle(&r, out->idx, n_rows);
    }
    for (size_t k = 0; err == FL_OK && k < n_nodes; k++)
        qsort(out->idx + out->start[k], size[k], sizeof(size_t), cmp_size);
out:
    free(size);
    free(p);
    if (err != FL_OK)
        sim_partition_cleanup(out);
    return err;
}

void
sim_partition_cleanup(sim_partition_t *p)
{
    if (p == NULL)
        return;
    free(p->start);
    free(p->idx);
    memset(p, 0, sizeof *p);
}

size_t
sim_partition_size(const sim_partition_t *p, size_t k)
{
    return p->start[k + 1] - p->start[k];
}

fl_err_t
sim_partition_label_skew(const sim_partition_t *p, const int32_t *labels,
                         uint32_t n_classes, double *skew, fl_errbuf_t *eb)
{
    double *all, *node, total = 0;

    if (p == NULL || labels == NULL || n_classes == 0 || p->n_rows == 0)
        return fl_fail(eb, FL_ERR_INVALID, "label skew: bad arguments");
    all = calloc(n_classes, sizeof *all);
    node = calloc(n_classes, sizeof *node);
    if (all == NULL || node == NULL) {
        free(all);
        free(node);
        return fl_fail(eb, FL_ERR_NOMEM, "label skew: out of memory");
    }
    for (size_t i = 0; i < p->n_rows; i++)
        all[labels[p->idx[i]]] += 1.0 / (double) p->n_rows;
    for (size_t k = 0; k < p->n_nodes; k++) {
        size_t n = sim_partition_size(p, k);
        double tv = 0;

        if (n == 0)
            continue;
        memset(node, 0, n_classes * sizeof *node);
        for (size_t i = p->start[k]; i < p->start[k + 1]; i++)
            node[labels[p->idx[i]]] += 1.0 / (double) n;
        for (uint32_t c = 0; c < n_classes; c++)
            tv += fabs(node[c] - all[c]);
        total += 0.5 * tv * (double) n / (double) p->n_rows;
    }
    free(all);
    free(node);
    *skew = total;
    return FL_OK;
}
