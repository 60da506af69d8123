/* sim/report_html.c: the self-contained HTML report with inline SVG. */
#include "sim/report.h"

#include <math.h>
#include <string.h>

/* Chart geometry (SVG user units). */
#define W 560.0
#define H 320.0
#define ML 56.0
#define MR 16.0
#define MT 20.0
#define MB 44.0
/* Most hospitals drawn one line each in the epsilon chart. */
#define MAX_NODE_LINES 100
#define CURVE_POINTS 201

typedef struct axes {
    double x0, x1, y0, y1;  /* data ranges */
    double left, top, w, h; /* plot area */
} axes_t;

static double
px(const axes_t *a, double x)
{
    return a->left + (x - a->x0) / (a->x1 - a->x0) * a->w;
}

static double
py(const axes_t *a, double y)
{
    return a->top + a->h - (y - a->y0) / (a->y1 - a->y0) * a->h;
}

static void
esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            (void) fputs("&lt;", f);
        else if (*s == '>')
            (void) fputs("&gt;", f);
        else if (*s == '&')
            (void) fputs("&amp;", f);
        else if (*s == '"')
            (void) fputs("&quot;", f);
        else
            (void) fputc(*s, f);
    }
}

/* A tick step of 1, 2 or 5 times a power of ten giving about n ticks. */
static double
nice_step(double span, int n)
{
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;

    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void
frame(FILE *f, const axes_t *a, const char *xlabel, const char *ylabel)
{
    double sx = nice_step(a->x1 - a->x0, 6), sy = nice_step(a->y1 - a->y0, 5);

    (void) fprintf(f,
                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                   "height=\"%.1f\" fill=\"#fff\" stroke=\"#888\"/>\n",
                   a->left, a->top, a->w, a->h);
    for (double x = ceil(a->x0 / sx) * sx; x <= a->x1 + 1e-9; x += sx)
        (void) fprintf(f,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" "
                       "text-anchor=\"middle\">%g</text>\n",
                       px(a, x), a->top, px(a, x), a->top + a->h, px(a, x),
                       a->top + a->h + 16, x);
    for (double y = ceil(a->y0 / sy) * sy; y <= a->y1 + 1e-9; y += sy)
        (void) fprintf(f,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" "
                       "text-anchor=\"end\">%g</text>\n",
                       a->left, py(a, y), a->left + a->w, py(a, y), a->left - 6,
                       py(a, y) + 4, y);
    (void) fprintf(f,
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s"
                   "</text>\n<text transform=\"translate(%.1f %.1f) "
                   "rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
                   a->left + a->w / 2, a->top + a->h + 36, xlabel, a->left - 40,
                   a->top + a->h / 2, ylabel);
}

static void
std_axes(axes_t *a, double x0, double x1, double y0, double y1)
{
    a->x0 = x0;
    a->x1 = x1 > x0 ? x1 : x0 + 1;
    a->y0 = y0;
    a->y1 = y1 > y0 ? y1 : y0 + 1;
    a->left = ML;
    a->top = MT;
    a->w = W - ML - MR;
    a->h = H - MT - MB;
}

static void
chart_accuracy(const sim_result_t *r, FILE *f)
{
    axes_t a;
    int first = 1;

    std_axes(&a, 0, r->rounds_planned, 0, 1);
    (void) fprintf(f,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                   "id=\"chart-accuracy\" width=\"%.0f\" height=\"%.0f\" "
                   "viewBox=\"0 0 %.0f %.0f\" data-final-accuracy=\"%.4f\">\n"
                   "<title>Held-out accuracy against rounds</title>\n",
                   W, H, W, H, r->has_final ? r->final_accuracy : 0.0);
    frame(f, &a, "round", "held-out accuracy");
    (void) fputs("<polyline fill=\"none\" stroke=\"#1f77b4\" "
                 "stroke-width=\"2\" points=\"",
                 f);
    for (size_t i = 0; i < r->n_rounds; i++) {
        if (!r->rounds[i].has_metrics)
            continue;
        (void) fprintf(f, "%s%.1f,%.1f", first ? "" : " ",
                       px(&a, r->rounds[i].round),
                       py(&a, r->rounds[i].accuracy));
        first = 0;
    }
    (void) fputs("\"/>\n", f);
    for (size_t i = 0; i < r->n_rounds; i++) {
        const sim_round_t *x = &r->rounds[i];

        if (!x->has_metrics)
            continue;
        (void) fprintf(f,
                       "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
                       "fill=\"#1f77b4\" data-round=\"%u\" "
                       "data-accuracy=\"%.4f\"><title>round %u: %.4f"
                       "</title></circle>\n<text x=\"%.1f\" y=\"%.1f\" "
                       "text-anchor=\"middle\">%.4f</text>\n",
                       px(&a, x->round), py(&a, x->accuracy), x->round,
                       x->accuracy, x->round, x->accuracy, px(&a, x->round),
                       py(&a, x->accuracy) - 9, x->accuracy);
    }
    (void) fputs("</svg>\n", f);
}

static void
eps_line(FILE *f, const sim_result_t *r, const axes_t *a, size_t node, int kind)
{
    (void) fprintf(f, "<polyline fill=\"none\" %s points=\"%.1f,%.1f",
                   kind == 0   ? "stroke=\"#ff7f0e\" stroke-opacity=\"0.35\" "
                                 "stroke-width=\"1\""
                   : kind == 1 ? "stroke=\"#d62728\" stroke-width=\"2.5\" "
                                 "stroke-dasharray=\"6 3\""
                               : "stroke=\"#000\" stroke-width=\"2.5\"",
                   px(a, 0), py(a, 0));
    for (size_t k = 0; k < r->n_rounds; k++) {
        double e;

        if (kind == 0)
            e = r->epsilon[k * r->n_nodes + node];
        else
            e = kind == 1 ? r->rounds[k].eps_max : r->rounds[k].eps_mean;
        (void) fprintf(f, " %.1f,%.1f", px(a, r->rounds[k].round), py(a, e));
    }
    (void) fputs("\"/>\n", f);
}

static void
chart_epsilon(const sim_result_t *r, FILE *f)
{
    double top =
        r->eps_max > r->target_epsilon ? r->eps_max : r->target_epsilon;
    size_t shown = r->n_nodes < MAX_NODE_LINES ? r->n_nodes : MAX_NODE_LINES;
    axes_t a;

    std_axes(&a, 0, r->rounds_planned, 0, top > 0 ? top * 1.1 : 1);
    (void) fprintf(f,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                   "id=\"chart-epsilon\" width=\"%.0f\" height=\"%.0f\" "
                   "viewBox=\"0 0 %.0f %.0f\" data-epsilon-max=\"%.4f\" "
                   "data-nodes-drawn=\"%zu\">\n<title>Epsilon spent against "
                   "rounds, per hospital</title>\n",
                   W, H, W, H, r->eps_max, shown);
    frame(f, &a, "round", "epsilon spent (per hospital)");
    /* Evenly spaced hospitals when there are more than the lines drawn. */
    for (size_t j = 0; j < shown; j++)
        eps_line(f, r, &a, j * r->n_nodes / shown, 0);
    eps_line(f, r, &a, 0, 2);
    eps_line(f, r, &a, 0, 1);
    if (r->target_epsilon > 0)
        (void) fprintf(f,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                       "stroke=\"#2ca02c\" stroke-dasharray=\"2 2\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
                       "budget %g</text>\n",
                       a.left, py(&a, r->target_epsilon), a.left + a.w,
                       py(&a, r->target_epsilon), a.left + a.w - 6,
                       py(&a, r->target_epsilon) + 14, r->target_epsilon);
    (void) fprintf(f,
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">max "
                   "%.4f (red), mean (black), %zu of %zu hospitals (orange)"
                   "</text>\n",
                   a.left + a.w - 6, a.top + a.h - 10, r->eps_max, shown,
                   r->n_nodes);
    (void) fputs("</svg>\n", f);
}

/* Left: the privacy-utility point; right: the membership-inference bound
 * (highest TPR of any attack against the most-spent hospital). */
static void
chart_privacy(const sim_result_t *r, FILE *f)
{
    double alpha[CURVE_POINTS], bg[CURVE_POINTS], be[CURVE_POINTS];
    double xmax = r->eps_max > 0 ? r->eps_max * 1.25 : 1;
    axes_t a, b;
    int curve = r->has_risk && dp_risk_tradeoff_curve(&r->risk, CURVE_POINTS,
                                                      alpha, bg, be) == FL_OK;

    std_axes(&a, 0, xmax, 0, 1);
    a.w = W / 2 - ML - 8;
    std_axes(&b, 0, 1, 0, 1);
    b.left = W / 2 + ML - 8;
    b.w = W / 2 - ML - MR + 8;
    (void) fprintf(f,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                   "id=\"chart-privacy\" width=\"%.0f\" height=\"%.0f\" "
                   "viewBox=\"0 0 %.0f %.0f\" data-epsilon=\"%.4f\" "
                   "data-accuracy=\"%.4f\">\n<title>Privacy and utility"
                   "</title>\n",
                   W, H, W, H, r->eps_max,
                   r->has_final ? r->final_accuracy : 0.0);
    frame(f, &a, "epsilon (most-spent hospital)", "held-out accuracy");
    if (r->has_final)
        (void) fprintf(f,
                       "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" "
                       "fill=\"#9467bd\"/><text x=\"%.1f\" y=\"%.1f\" "
                       "text-anchor=\"end\">(%.4f, %.4f)</text>\n",
                       px(&a, r->eps_max), py(&a, r->final_accuracy),
                       px(&a, r->eps_max) - 4, py(&a, r->final_accuracy) - 10,
                       r->eps_max, r->final_accuracy);
    frame(f, &b, "attack false-positive rate", "TPR bound");
    (void) fprintf(f,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\n",
                   px(&b, 0), py(&b, 0), px(&b, 1), py(&b, 1));
    if (curve) {
        (void) fputs("<polyline fill=\"none\" stroke=\"#d62728\" "
                     "stroke-width=\"2\" points=\"",
                     f);
        for (int i = 0; i < CURVE_POINTS; i++) {
            /* The tighter bound: the larger type II error. */
            double beta = isnan(bg[i]) || be[i] > bg[i] ? be[i] : bg[i];

            (void) fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(&b, alpha[i]),
                           py(&b, 1 - beta));
        }
        (void) fputs("\"/>\n", f);
    }
    for (int i = 0; r->has_risk && i < DP_RISK_N_FPR; i++)
        (void) fprintf(f,
                       "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                       "fill=\"#d62728\" data-fpr=\"%g\" data-tpr=\"%.4f\">"
                       "<title>FPR %g: TPR at most %.4f</title></circle>\n",
                       px(&b, r->risk.mia[i].at), py(&b, r->risk.mia[i].bound),
                       r->risk.mia[i].at, r->risk.mia[i].bound,
                       r->risk.mia[i].at, r->risk.mia[i].bound);
    (void) fputs("</svg>\n", f);
}

static void
risk_table(const sim_result_t *r, FILE *f)
{
    if (!r->has_risk) {
        (void) fputs("<p>No privacy spend to report.</p>\n", f);
        return;
    }
    (void) fprintf(f,
                   "<p>Most-spent hospital %s: epsilon %.4f at delta %g; "
                   "Gaussian-DP mu %.4f (%s).</p>\n<table>\n<tr><th>attack"
                   "</th><th>at</th><th>bound</th><th>from</th></tr>\n",
                   r->nodes[r->eps_max_node].id, r->eps_max, r->delta,
                   r->risk.mu,
                   r->risk.mu_exact ? "exact" : "CLT approximation");
    for (int i = 0; i < DP_RISK_N_FPR; i++)
        (void) fprintf(f,
                       "<tr><td>membership inference, TPR</td><td>FPR %g"
                       "</td><td>%.4f</td><td>%s%s</td></tr>\n",
                       r->risk.mia[i].at, r->risk.mia[i].bound,
                       r->risk.mia[i].source == DP_RISK_FROM_GDP
                           ? "mu-GDP"
                           : "(epsilon, delta)",
                       r->risk.mia[i].rigorous ? "" : " (estimate)");
    for (int i = 0; i < DP_RISK_N_PRIOR; i++)
        (void) fprintf(f,
                       "<tr><td>reconstruction, success</td><td>prior %g"
                       "</td><td>%.4g</td><td>%s%s</td></tr>\n",
                       r->risk.rero[i].at, r->risk.rero[i].bound,
                       r->risk.rero[i].source == DP_RISK_FROM_GDP
                           ? "mu-GDP"
                           : "(epsilon, delta)",
                       r->risk.rero[i].rigorous ? "" : " (estimate)");
    (void) fputs("</table>\n", f);
}

static void
head(const sim_result_t *r, FILE *f)
{
    (void) fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/"
                 "xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                 "<title>dpfl-sim report: ",
                 f);
    esc(f, r->job_name);
    (void) fputs("</title>\n<style>body{font-family:sans-serif;margin:24px;"
                 "max-width:1150px}svg{font-size:11px;margin:8px 8px 8px 0;"
                 "border:1px solid #ddd}table{border-collapse:collapse}"
                 "td,th{border:1px solid #ccc;padding:3px 8px;text-align:"
                 "left}.warn{color:#a00}</style>\n</head>\n<body>\n<h1>"
                 "dpfl-sim: ",
                 f);
    esc(f, r->job_name);
    (void) fprintf(f,
                   "</h1>\n<p class=\"warn\">Seeded generator (seed %llu): "
                   "reproducible, not for production.</p>\n<p>%zu hospitals, "
                   "partition %s (label skew %.3f), %zu declined; aggregator "
                   "%s; %zu of %u rounds; noise multiplier %.4f; delta %g; "
                   "drop rate %g, straggle rate %g, %zu byzantine; transport "
                   "%s.</p>\n",
                   (unsigned long long) r->seed, r->n_nodes, r->partition,
                   r->label_skew, r->n_declined, r->aggregator, r->n_rounds,
                   r->rounds_planned, r->sigma, r->delta, r->drop_rate,
                   r->straggle_rate, r->n_byzantine, r->transport);
    (void) fprintf(f,
                   "<p>Final held-out accuracy <b>%s%.4f</b>; epsilon of the "
                   "most-spent hospital <b>%.4f</b>; %.3f s per round, peak "
                   "RSS %.1f MB; model sha256 <code>%s</code>.</p>\n",
                   r->has_final ? "" : "(none) ",
                   r->has_final ? r->final_accuracy : 0.0, r->eps_max,
                   r->seconds_per_round, (double) r->peak_rss_kb / 1024.0,
                   r->model_sha256);
}

fl_err_t
sim_report_html(const sim_result_t *r, FILE *f, fl_errbuf_t *eb)
{
    head(r, f);
    (void) fputs("<h2>Held-out accuracy</h2>\n", f);
    chart_accuracy(r, f);
    (void) fputs("<h2>Privacy spent</h2>\n", f);
    chart_epsilon(r, f);
    (void) fputs("<h2>Privacy and utility</h2>\n<p>Left: the final point. "
                 "Right: the highest true-positive rate any membership-"
                 "inference attack can reach against the most-spent "
                 "hospital, by false-positive rate (dashed: guessing).</p>\n",
                 f);
    chart_privacy(r, f);
    risk_table(r, f);
    (void) fputs("</body>\n</html>\n", f);
    if (ferror(f))
        return fl_fail(eb, FL_ERR_IO, "report: write failed");
    return FL_OK;
}
