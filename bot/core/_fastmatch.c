/* Funkel's fast maximum-weight matching for large, sparse "shared curiosity" graphs.
 *
 * Loaded with ctypes by bot/core/fastmatch.py (it is built as an extension module only so that
 * `pip install` compiles it; it uses no Python C-API). Pure C99 (+ POSIX threads for the
 * candidate search; one thread on Windows), no globals: every call owns
 * its memory, so concurrent calls from several threads are safe.
 *
 * Why this algorithm (measured on Funkel's candidate graphs, ~10 edges per person): an exact
 * blossom algorithm is O(n^3) in Python and still ~1 s at n = 10,000 in C++; greedy plus local
 * search stalls at ~96-97 % of the optimum. What reaches > 99.5 % in tens of milliseconds is:
 *
 *   1. the bipartite double cover: a left copy and a right copy of every vertex, an edge u->v
 *      of weight w(u,v) for each graph edge (both directions) and u->u of weight 0 ("alone").
 *      A maximum-weight assignment on it is a maximum 2-matching (disjoint cycles and edges)
 *      and half its weight is the optimum of the matching LP with degree constraints only, so
 *      it is an upper bound on the best matching and usually within a fraction of a percent;
 *   2. solved by Bertsekas' forward auction with epsilon-scaling, which is fast on sparse
 *      graphs and whose prices give a certified upper bound for free (weak LP duality);
 *   3. the assignment's cycles (and, if the auction was cut short, paths) are rounded to a
 *      matching by an exact dynamic programme on each cycle/path;
 *   4. polishing, repeated while it gains: "move A" (add an edge (u,v), drop the matched edges
 *      of u and v, re-match their former partners with each other or with free vertices) and a
 *      bounded search for improving alternating paths and cycles restricted to (nearly) tight
 *      edges of the auction's LP duals. Rounding an odd cycle leaves a vertex out; placing it
 *      usually needs a chain of partner swaps longer than move A reaches.
 *
 * The result is always a valid matching (checked before returning); its quality is measured,
 * not guaranteed, and the bound says how far from optimal it can be at most.
 *
 * The candidate graph it runs on comes from fm_candidates (at the end of this file): each
 * person's best partners through an inverted index of their phrases, plus a few random
 * compatible partners so that people who share nothing with anyone are still placed.
 *
 * ABI (fixed-width integers, doubles; the ctypes declarations are in fastmatch.py):
 *   int32_t fm_abi_version(void);
 *   int32_t fm_max_weight_matching(int32_t n, int64_t m, const int32_t *ei, const int32_t *ej,
 *                                  const double *w, double eps_rel, int32_t max_polish_passes,
 *                                  uint64_t seed, int32_t *mate, double *stats);
 *   int64_t fm_candidates(int32_t n, const int32_t *pptr, const int32_t *ptopic,
 *                         const uint8_t *prole, int32_t ntopics, const double *wshared,
 *                         const double *wcomp, const uint64_t *lang, const int32_t *fptr,
 *                         const int32_t *fadj, int32_t k, int32_t fallbacks,
 *                         int64_t scan_budget, int32_t window, double base, uint64_t seed,
 *                         int32_t threads, int64_t max_out, int32_t *out_i, int32_t *out_j,
 *                         double *out_w);
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* sysconf, pthreads */
#include <pthread.h>
#include <unistd.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define FM_API __declspec(dllexport)
#else
#define FM_API __attribute__((visibility("default")))
#endif

#define FM_ABI_VERSION 2

/* Return codes. */
#define FM_OK 0
#define FM_EINVAL (-1)   /* vertex out of range, self-loop, non-finite weight, bad n/m */
#define FM_ENOMEM (-2)   /* an allocation failed; nothing was leaked */
#define FM_EINTERNAL (-3) /* the final self-check failed (a bug): the caller must not use mate */

/* Layout of the optional stats output (FM_NSTATS doubles). */
enum {
    FM_STAT_BOUND,      /* upper bound on the maximum matching weight (auction dual / 2) */
    FM_STAT_FRACTIONAL, /* weight of the auction's 2-matching / 2 */
    FM_STAT_ROUNDED,    /* weight after rounding cycles/paths */
    FM_STAT_FINAL,      /* weight of the returned matching */
    FM_STAT_PHASES,     /* epsilon-scaling phases run */
    FM_STAT_BIDS,       /* auction bids made */
    FM_STAT_CUT_SHORT,  /* 1 if the auction hit its bid budget (result still valid) */
    FM_STAT_POLISH,     /* polishing passes run */
    FM_NSTATS
};

/* Each phase divides epsilon by this. Larger means fewer phases but more bids per phase;
 * 4-8 measured best on candidate graphs, as Bertsekas also reports. */
#define FM_THETA 5.0

/* The auction provably terminates, but its bid count grows with maxw/eps and with "price
 * wars" on nearly-tied weights; a budget keeps a pathological input from hanging a meetup
 * round. Measured use on candidate graphs is < 20 bids per vertex over all phases. */
#define FM_BIDS_PER_ARC 2000

/* ------------------------------------------------------------------------------ graph */

typedef struct {
    int32_t v;
    double w;
} Arc;

typedef struct {
    int32_t n;
    int64_t *ptr; /* CSR over arcs, n + 1 entries */
    int32_t *adj; /* neighbour; each list sorted by weight descending, then index ascending */
    double *w;
    int32_t *mate; /* caller's output array, used as working state */
    double *mw;    /* weight of v's matched edge, 0 when free */
} Graph;

static int arc_by_vertex_then_heavier(const void *a, const void *b) {
    const Arc *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return 0;
}

static int arc_by_weight_desc(const void *a, const void *b) {
    const Arc *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->v < y->v ? -1 : (x->v > y->v);
}

static void graph_free(Graph *g) {
    free(g->ptr);
    free(g->adj);
    free(g->w);
    free(g->mw);
}

/* Builds the adjacency of the positive-weight edges, parallel edges collapsed to the heaviest.
 * Edges of weight <= 0 are dropped: a maximum-weight matching never needs them (same contract
 * as bot.core.matching without maxcardinality). Sorting each list heaviest-first lets every
 * "best free neighbour" scan stop early. Returns FM_OK or FM_ENOMEM; *maxw gets the top weight. */
static int graph_build(Graph *g, int32_t n, int64_t m, const int32_t *ei, const int32_t *ej,
                       const double *w, int32_t *mate, double *maxw) {
    memset(g, 0, sizeof *g);
    g->n = n;
    g->mate = mate;
    g->ptr = calloc((size_t)n + 1, sizeof *g->ptr);
    g->mw = calloc((size_t)n, sizeof *g->mw);
    int64_t *fill = malloc(sizeof *fill * ((size_t)n + 1));
    if (!g->ptr || !g->mw || !fill) {
        free(fill);
        graph_free(g);
        return FM_ENOMEM;
    }
    int64_t arcs = 0;
    *maxw = 0.0;
    for (int64_t e = 0; e < m; e++) {
        if (w[e] <= 0.0) continue;
        g->ptr[ei[e] + 1]++;
        g->ptr[ej[e] + 1]++;
        arcs += 2;
        if (w[e] > *maxw) *maxw = w[e];
    }
    for (int32_t v = 0; v < n; v++) g->ptr[v + 1] += g->ptr[v];
    Arc *tmp = malloc(sizeof *tmp * (size_t)(arcs ? arcs : 1));
    g->adj = malloc(sizeof *g->adj * (size_t)(arcs ? arcs : 1));
    g->w = malloc(sizeof *g->w * (size_t)(arcs ? arcs : 1));
    if (!tmp || !g->adj || !g->w) {
        free(tmp);
        free(fill);
        graph_free(g);
        return FM_ENOMEM;
    }
    memcpy(fill, g->ptr, sizeof *fill * ((size_t)n + 1));
    for (int64_t e = 0; e < m; e++) {
        if (w[e] <= 0.0) continue;
        tmp[fill[ei[e]]++] = (Arc){ej[e], w[e]};
        tmp[fill[ej[e]]++] = (Arc){ei[e], w[e]};
    }
    /* Deduplicate in place, compacting lists towards the front; fill[] becomes the new ptr. */
    int64_t out = 0;
    for (int32_t v = 0; v < n; v++) {
        int64_t lo = g->ptr[v], hi = g->ptr[v + 1], start = out;
        qsort(tmp + lo, (size_t)(hi - lo), sizeof *tmp, arc_by_vertex_then_heavier);
        for (int64_t k = lo; k < hi; k++)
            if (k == lo || tmp[k].v != tmp[k - 1].v) tmp[out++] = tmp[k];
        qsort(tmp + start, (size_t)(out - start), sizeof *tmp, arc_by_weight_desc);
        fill[v] = start;
    }
    fill[n] = out;
    memcpy(g->ptr, fill, sizeof *fill * ((size_t)n + 1));
    for (int64_t k = 0; k < out; k++) {
        g->adj[k] = tmp[k].v;
        g->w[k] = tmp[k].w;
    }
    free(tmp);
    free(fill);
    return FM_OK;
}

/* Weight of edge (a, b), or -1 when absent. Linear, but only called O(1) times per move. */
static double edge_w(const Graph *g, int32_t a, int32_t b) {
    for (int64_t k = g->ptr[a]; k < g->ptr[a + 1]; k++)
        if (g->adj[k] == b) return g->w[k];
    return -1.0;
}

static void unmatch(Graph *g, int32_t a) {
    int32_t b = g->mate[a];
    if (b >= 0) {
        g->mate[b] = -1;
        g->mw[b] = 0.0;
    }
    g->mate[a] = -1;
    g->mw[a] = 0.0;
}

static void domatch(Graph *g, int32_t a, int32_t b, double w) {
    g->mate[a] = b;
    g->mate[b] = a;
    g->mw[a] = w;
    g->mw[b] = w;
}

/* ------------------------------------------------------------------------------ rng */

/* splitmix64: a seeded, platform-independent order for the polishing pass, so the same input
 * and seed give the same matching everywhere. */
static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------------ auction */

typedef struct {
    double *price; /* price of each right copy */
    int32_t *owner; /* left copy assigned to each right copy, -1 if none */
    int32_t *sig;   /* right copy assigned to each left copy, -1 if none */
    double *sw;     /* weight of the arc sig[u] (0 for "alone") */
    int32_t *stack; /* unassigned left copies */
} Auction;

/* Runs the epsilon-scaled forward auction. The "alone" arc u->u keeps every left copy
 * assignable, so a complete assignment exists and each phase ends; the bid budget is only a
 * guard. Prices persist across phases (that is what makes scaling pay off). */
static void auction_run(const Graph *g, Auction *a, double maxw, double eps_final,
                        double *phases_out, double *bids_out, int *cut_short) {
    int32_t n = g->n;
    double eps = maxw / 4.0;
    if (eps < eps_final) eps = eps_final;
    int64_t budget = FM_BIDS_PER_ARC * (g->ptr[n] + (int64_t)n) + 1000000;
    int64_t bids = 0;
    int phases = 0;
    *cut_short = 0;
    for (;;) {
        phases++;
        int32_t top = 0;
        for (int32_t v = 0; v < n; v++) {
            a->owner[v] = -1;
            a->sig[v] = -1;
            a->sw[v] = 0.0;
            a->stack[top++] = n - 1 - v; /* pops in ascending order: deterministic */
        }
        while (top > 0) {
            if (bids >= budget) {
                *cut_short = 1;
                break;
            }
            int32_t u = a->stack[--top];
            double v1 = -a->price[u], v2 = -HUGE_VAL, a1 = 0.0;
            int32_t j1 = u;
            for (int64_t k = g->ptr[u]; k < g->ptr[u + 1]; k++) {
                double val = g->w[k] - a->price[g->adj[k]];
                if (val > v1) {
                    v2 = v1;
                    v1 = val;
                    j1 = g->adj[k];
                    a1 = g->w[k];
                } else if (val > v2) {
                    v2 = val;
                }
            }
            /* Only "alone" is available: nobody else can want right copy u, any raise works. */
            if (v2 == -HUGE_VAL) v2 = v1 - maxw - 1.0;
            a->price[j1] += v1 - v2 + eps;
            bids++;
            int32_t old = a->owner[j1];
            a->owner[j1] = u;
            a->sig[u] = j1;
            a->sw[u] = a1;
            if (old >= 0) {
                a->sig[old] = -1;
                a->sw[old] = 0.0;
                a->stack[top++] = old;
            }
        }
        if (*cut_short || eps <= eps_final) break;
        eps /= FM_THETA;
        if (eps < eps_final) eps = eps_final;
    }
    *phases_out = phases;
    *bids_out = (double)bids;
}

/* Weak duality: for ANY prices, sum(price) + sum over left copies of their best profit bounds
 * every assignment, hence twice every matching. Valid even if the auction was cut short. */
static double auction_bound(const Graph *g, const Auction *a, double *ydual) {
    double dual = 0.0;
    for (int32_t u = 0; u < g->n; u++) {
        double best = -a->price[u];
        for (int64_t k = g->ptr[u]; k < g->ptr[u + 1]; k++) {
            double val = g->w[k] - a->price[g->adj[k]];
            if (val > best) best = val;
        }
        dual += best + a->price[u];
        ydual[u] = (best + a->price[u]) / 2.0;
    }
    return dual / 2.0;
}

/* ------------------------------------------------------------------------------ rounding */

/* Maximum-weight matching on the path c[0]-c[1]-...-c[L] whose edge t joins c[t], c[t+1] with
 * weight e[t] (> 0). Exact DP; f and take are scratch of L + 1 entries. Applies it if asked. */
static double path_dp(Graph *g, const int32_t *c, const double *e, int64_t L, double *f,
                      char *take, int apply) {
    if (L <= 0) return 0.0;
    f[0] = 0.0;
    take[0] = 0;
    for (int64_t i = 1; i <= L; i++) {
        double with = (i >= 2 ? f[i - 2] : 0.0) + e[i - 1];
        take[i] = with > f[i - 1];
        f[i] = take[i] ? with : f[i - 1];
    }
    if (apply) {
        for (int64_t i = L; i >= 1;) {
            if (take[i]) {
                domatch(g, c[i - 1], c[i], e[i - 1]);
                i -= 2;
            } else {
                i -= 1;
            }
        }
    }
    return f[L];
}

/* Turns the assignment sig into a matching. Its components are cycles (paths only if the
 * auction was cut short). A 2-cycle u<->v is the edge uv; longer cycles and paths get the best
 * matching that uses only their own edges. Scratch: seen (n), cyc (n), e (n), f (n+1),
 * take (n+1). */
static double round_assignment(Graph *g, const Auction *a, char *seen, int32_t *cyc, double *e,
                               double *f, char *take) {
    int32_t n = g->n;
    double total = 0.0;
    for (int32_t v = 0; v < n; v++) {
        g->mate[v] = -1;
        seen[v] = 0;
    }
    /* Paths first: they start at a vertex nobody is assigned to. */
    for (int32_t s = 0; s < n; s++) {
        if (a->owner[s] >= 0 || a->sig[s] < 0) continue;
        int64_t k = 0;
        for (int32_t v = s; v >= 0 && !seen[v]; v = a->sig[v]) {
            seen[v] = 1;
            cyc[k] = v;
            e[k] = a->sw[v];
            k++;
        }
        total += path_dp(g, cyc, e, k - 1, f, take, 1);
    }
    for (int32_t s = 0; s < n; s++) {
        if (seen[s] || a->sig[s] < 0) continue;
        int64_t k = 0;
        for (int32_t v = s; v >= 0 && !seen[v]; v = a->sig[v]) {
            seen[v] = 1;
            cyc[k] = v;
            e[k] = a->sw[v];
            k++;
        }
        if (k < 2) continue; /* alone */
        if (k == 2) {
            domatch(g, cyc[0], cyc[1], e[0]);
            total += e[0];
            continue;
        }
        /* Either the closing edge c[k-1]-c[0] is unused (a path over all k vertices) or it is
         * used (then c[0], c[k-1] are taken and the rest is the path c[1..k-2]). */
        double open = path_dp(g, cyc, e, k - 1, f, take, 0);
        double closed = e[k - 1] + path_dp(g, cyc + 1, e + 1, k - 3, f, take, 0);
        if (open >= closed) {
            total += path_dp(g, cyc, e, k - 1, f, take, 1);
        } else {
            domatch(g, cyc[k - 1], cyc[0], e[k - 1]);
            total += closed;
            path_dp(g, cyc + 1, e + 1, k - 3, f, take, 1);
        }
    }
    return total;
}

/* ------------------------------------------------------------------------------ polishing */

/* Best free neighbour of x other than the up-to-three excluded vertices (and `skip`), heaviest
 * first thanks to the sorted lists. Returns its weight, or 0 with *who = -1. */
static double best_free(const Graph *g, int32_t x, int32_t ex1, int32_t ex2, int32_t ex3,
                        int32_t skip, int32_t *who) {
    *who = -1;
    if (x < 0) return 0.0;
    for (int64_t k = g->ptr[x]; k < g->ptr[x + 1]; k++) {
        int32_t y = g->adj[k];
        if (g->mate[y] >= 0 || y == ex1 || y == ex2 || y == ex3 || y == skip) continue;
        *who = y;
        return g->w[k];
    }
    return 0.0;
}

typedef struct {
    double gain;
    int32_t v;      /* new partner of u */
    double wuv;
    int32_t ab;     /* 1: former partners a and b are matched to each other */
    double wab;
    int32_t xa, xb; /* free vertices a / b take instead (-1: none) */
    double wxa, wxb;
} MoveA;

/* Move A centred at u: add (u,v), drop the matched edges of u and v, then re-match their former
 * partners a = mate(u), b = mate(v) with each other or with free vertices. Applies the best
 * strictly improving move (gain > tol) and returns its gain, else 0. O(deg(u) * deg) work. */
static double move_a(Graph *g, int32_t u, double tol) {
    MoveA best = {tol, -1, 0.0, 0, 0.0, -1, -1, 0.0, 0.0};
    int32_t a = g->mate[u];
    for (int64_t k = g->ptr[u]; k < g->ptr[u + 1]; k++) {
        int32_t v = g->adj[k];
        if (v == a) continue;
        double wuv = g->w[k];
        int32_t b = g->mate[v];
        double base = wuv - g->mw[u] - g->mw[v];
        /* Upper bound on what re-matching a and b can add: their heaviest edges. */
        double cap = (a >= 0 && g->ptr[a] < g->ptr[a + 1] ? g->w[g->ptr[a]] : 0.0) +
                     (b >= 0 && g->ptr[b] < g->ptr[b + 1] ? g->w[g->ptr[b]] : 0.0);
        if (base + cap <= best.gain) continue;
        MoveA cur = {base, v, wuv, 0, 0.0, -1, -1, 0.0, 0.0};
        double rab = (a >= 0 && b >= 0) ? edge_w(g, a, b) : -1.0;
        int32_t xa, xb;
        double fa = best_free(g, a, u, v, b, -1, &xa);
        double fb = best_free(g, b, u, v, a, -1, &xb);
        double both = 0.0;
        int32_t ya = xa, yb = xb;
        double wya = fa, wyb = fb;
        if (xa >= 0 && xb >= 0) {
            if (xa != xb) {
                both = fa + fb;
            } else { /* both want the same free vertex: one of them takes its second choice */
                int32_t xa2, xb2;
                double fa2 = best_free(g, a, u, v, b, xa, &xa2);
                double fb2 = best_free(g, b, u, v, a, xb, &xb2);
                if (fa + fb2 >= fa2 + fb) {
                    both = fa + fb2;
                    yb = xb2;
                    wyb = fb2;
                } else {
                    both = fa2 + fb;
                    ya = xa2;
                    wya = fa2;
                }
            }
        }
        double r = 0.0;
        if (rab > r) {
            r = rab;
            cur.ab = 1;
            cur.wab = rab;
        }
        if (both > r) {
            r = both;
            cur.ab = 0;
            cur.xa = ya;
            cur.wxa = wya;
            cur.xb = yb;
            cur.wxb = wyb;
        }
        if (fa > r) {
            r = fa;
            cur.ab = 0;
            cur.xa = xa;
            cur.wxa = fa;
            cur.xb = -1;
        }
        if (fb > r) {
            r = fb;
            cur.ab = 0;
            cur.xa = -1;
            cur.xb = xb;
            cur.wxb = fb;
        }
        cur.gain = base + r;
        if (cur.gain > best.gain) best = cur;
    }
    if (best.v < 0) return 0.0;
    int32_t v = best.v, b = g->mate[v];
    unmatch(g, u);
    unmatch(g, v);
    domatch(g, u, v, best.wuv);
    if (best.ab) domatch(g, a, b, best.wab);
    if (best.xa >= 0) domatch(g, a, best.xa, best.wxa);
    if (best.xb >= 0) domatch(g, b, best.xb, best.wxb);
    return best.gain;
}

/* Alternating-path search: from x add (x, y), and if y is matched drop (y, m) and continue from
 * m, up to a depth limit of added edges and within a budget of expansions. This is what rounding
 * an odd cycle most needs (its dropped vertex can usually be placed only by shifting a long chain
 * of partners: on a realistic 1,000-person candidate graph the gap to the optimum was one
 * 30-swap cycle and two paths of 6 and 30 swaps), and what move A cannot do beyond one step.
 * The depth limit and the budget keep each search O(budget * degree), the whole pass linear. */
#define FM_AUG_MAX_DEPTH 64
#define FM_AUG_BUDGET_FREE 4096   /* expansions per search from a free vertex */
#define FM_AUG_BUDGET_MATCHED 512 /* ... from a matched one (n of them: keep it cheap) */
/* Searches use only edges whose LP slack is at most a fraction of the largest weight, in two
 * rounds: deep (64 swaps) through nearly tight edges, then shallow (8) through looser ones.
 * Measured on random sparse graphs (n = 50-300, 300 seeds), mean / worst share of the optimum:
 * shallow only, no filter 99.945 / 98.86 %; slack 0.15: 99.993 / 99.78 %; with the deep round
 * 99.997 / 99.84 %. On the realistic 1,000-person graph: 99.65 % -> 99.92 %. */
#define FM_AUG_MAX_SLACK 0.15
#define FM_AUG_WIDE_DEPTH 8
#define FM_AUG_DEEP_SLACK 0.01
/* A matched vertex starts a (cycle) search only if its edge's slack exceeds this fraction of the
 * largest weight: same quality as searching from every vertex, 10x faster at n = 30,000. */
#define FM_AUG_MIN_DROP_SLACK 0.0015

typedef struct {
    int32_t path[2 * FM_AUG_MAX_DEPTH + 1]; /* x0, y1, x1 (= old mate of y1), y2, ... */
    double pw[FM_AUG_MAX_DEPTH + 1];        /* weight of added edge (x_{t-1}, y_t) */
    int32_t len;                            /* number of added edges */
    double gain;
} AugPath;

typedef struct {
    const Graph *g;
    const double *y; /* LP vertex duals from the auction: slack(x,y) = y[x] + y[y] - w >= 0 */
    double max_slack;
    int32_t max_depth; /* at most FM_AUG_MAX_DEPTH */
    char *onpath;
    AugPath cur, best;
    int64_t budget;
} AugSearch;

static void aug_dfs(AugSearch *s, int32_t x, double gain, int32_t depth) {
    const Graph *g = s->g;
    for (int64_t k = g->ptr[x]; k < g->ptr[x + 1] && s->budget > 0; k++) {
        int32_t y = g->adj[k];
        if (s->onpath[y]) continue;
        double wxy = g->w[k];
        /* The optimum lives almost entirely on (nearly) tight edges: skipping slack ones keeps
         * the search narrow enough to reach the long chains that rounding breaks. */
        if (s->y[x] + s->y[y] - wxy > s->max_slack) continue;
        s->budget--;
        int32_t m = g->mate[y];
        if (m >= 0 && s->onpath[m]) continue;
        double ng = gain + wxy - g->mw[y]; /* mw[y] is 0 when y is free */
        s->cur.path[2 * depth + 1] = y;
        s->cur.pw[depth] = wxy;
        if (ng > s->best.gain) { /* copy only the live prefix of the path */
            memcpy(s->best.path, s->cur.path, sizeof s->cur.path[0] * (size_t)(2 * depth + 2));
            memcpy(s->best.pw, s->cur.pw, sizeof s->cur.pw[0] * (size_t)(depth + 1));
            s->best.len = depth + 1;
            s->best.gain = ng;
        }
        if (m < 0 || depth + 1 >= s->max_depth) continue;
        s->onpath[y] = s->onpath[m] = 1;
        s->cur.path[2 * depth + 2] = m;
        aug_dfs(s, m, ng, depth + 1);
        s->onpath[y] = s->onpath[m] = 0;
    }
}

/* Finds and applies the best alternating path or cycle through u; returns its gain or 0.
 * A free u starts a path. A matched u first drops its edge (u, v): the search may then end at
 * v again, which closes an alternating cycle - the kind of improvement the optimum needs when
 * an odd cycle of the auction was rounded (exchanging a chain of partners all around). */
static double augment_from(Graph *g, const double *ydual, double max_slack, int32_t max_depth,
                           double min_drop_slack, char *onpath, int32_t u, double tol,
                           int64_t budget) {
    int32_t v = g->mate[u];
    double wuv = g->mw[u];
    /* An improving alternating cycle gains (slack of the edges it drops) - (slack of those it
     * adds), so it must drop a matched edge that is not tight: only those are worth a search. */
    if (v >= 0 && ydual[u] + ydual[v] - wuv <= min_drop_slack) return 0.0;
    if (v >= 0) unmatch(g, u);
    AugSearch s;
    s.g = g;
    s.onpath = onpath;
    s.y = ydual;
    s.max_slack = max_slack;
    s.max_depth = max_depth;
    s.budget = budget;
    s.best.len = 0;
    s.best.gain = tol + wuv; /* the dropped edge must be paid back first */
    s.cur.path[0] = u;
    onpath[u] = 1;
    aug_dfs(&s, u, 0.0, 0);
    onpath[u] = 0;
    if (s.best.len == 0) {
        if (v >= 0) domatch(g, u, v, wuv);
        return 0.0;
    }
    for (int32_t t = 1; t <= s.best.len; t++) {
        int32_t x = s.best.path[2 * t - 2], y = s.best.path[2 * t - 1];
        unmatch(g, y); /* frees y's old partner, the next x */
        domatch(g, x, y, s.best.pw[t - 1]);
    }
    return s.best.gain - wuv;
}

/* ------------------------------------------------------------------------------ entry */

/* Polishing stops after a pass that gained less than this share of the total. On the realistic
 * 100,000-person graph the passes gained 0.23 %, 0.010 %, 0.002 %, ... (10 passes, 18 s in
 * all); stopping at 2e-4 keeps the first two (3.8 s) and 99.89 % of the bound. */
#define FM_POLISH_MIN_GAIN 2e-4

FM_API int32_t fm_abi_version(void) { return FM_ABI_VERSION; }

/* Valid matching check: symmetric, only positive edges of the input. Never trust, verify. */
static int matching_ok(const Graph *g) {
    for (int32_t v = 0; v < g->n; v++) {
        int32_t u = g->mate[v];
        if (u < 0) continue;
        if (u >= g->n || u == v || g->mate[u] != v || edge_w(g, v, u) <= 0.0) return 0;
    }
    return 1;
}

/* A high-weight matching of the graph on vertices 0..n-1 with the m edges (ei[e], ej[e]) of
 * weight w[e]. Writes mate[v] (partner or -1) for all n vertices and, if stats is non-NULL,
 * FM_NSTATS doubles (see the enum; stats[FM_STAT_BOUND] >= optimum >= stats[FM_STAT_FINAL]).
 * eps_rel: final auction epsilon relative to the largest weight (smaller = closer to the
 * bound, slower; 1e-4 is a good default). max_polish_passes bounds the polishing. seed fixes
 * the polishing order. Returns FM_OK, FM_EINVAL, FM_ENOMEM or FM_EINTERNAL. */
FM_API int32_t fm_max_weight_matching(int32_t n, int64_t m, const int32_t *ei, const int32_t *ej,
                                      const double *w, double eps_rel, int32_t max_polish_passes,
                                      uint64_t seed, int32_t *mate, double *stats) {
    if (n < 0 || m < 0 || (n > 0 && !mate) || (m > 0 && (!ei || !ej || !w))) return FM_EINVAL;
    if (!(eps_rel > 0.0) || !isfinite(eps_rel) || max_polish_passes < 0) return FM_EINVAL;
    for (int64_t e = 0; e < m; e++) {
        if (ei[e] < 0 || ei[e] >= n || ej[e] < 0 || ej[e] >= n || ei[e] == ej[e] ||
            !isfinite(w[e]))
            return FM_EINVAL;
    }
    if (stats)
        for (int s = 0; s < FM_NSTATS; s++) stats[s] = 0.0;
    for (int32_t v = 0; v < n; v++) mate[v] = -1;
    if (n == 0) return FM_OK;

    Graph g;
    double maxw;
    if (graph_build(&g, n, m, ei, ej, w, mate, &maxw) != FM_OK) return FM_ENOMEM;
    if (maxw <= 0.0) { /* no positive edge: the empty matching is optimal */
        graph_free(&g);
        return FM_OK;
    }

    Auction a;
    a.price = calloc((size_t)n, sizeof *a.price);
    a.owner = malloc(sizeof *a.owner * (size_t)n);
    a.sig = malloc(sizeof *a.sig * (size_t)n);
    a.sw = malloc(sizeof *a.sw * (size_t)n);
    a.stack = malloc(sizeof *a.stack * (size_t)n);
    char *seen = malloc((size_t)n);
    double *e = malloc(sizeof *e * (size_t)n);
    double *f = malloc(sizeof *f * ((size_t)n + 1));
    char *take = malloc((size_t)n + 1);
    int32_t *perm = malloc(sizeof *perm * (size_t)n);
    double *ydual = malloc(sizeof *ydual * (size_t)n);
    int32_t rc = FM_OK;
    double phases = 0.0, bids = 0.0, bound, fractional = 0.0, rounded, total = 0.0;
    int cut_short = 0, passes = 0;
    if (!a.price || !a.owner || !a.sig || !a.sw || !a.stack || !seen || !e || !f || !take ||
        !perm || !ydual) {
        rc = FM_ENOMEM;
        goto done;
    }

    auction_run(&g, &a, maxw, eps_rel * maxw, &phases, &bids, &cut_short);
    bound = auction_bound(&g, &a, ydual);
    for (int32_t u = 0; u < n; u++) fractional += a.sw[u];
    fractional /= 2.0;

    /* a.stack is free scratch now: reuse it for the cycle vertices. */
    rounded = round_assignment(&g, &a, seen, a.stack, e, f, take);

    /* Polish in a seeded random order: a fixed order (e.g. by index) would let early vertices
     * grab improvements systematically; random order measured slightly better. */
    uint64_t state = seed;
    for (int32_t v = 0; v < n; v++) perm[v] = v;
    for (int32_t v = n - 1; v > 0; v--) {
        int32_t r = (int32_t)(splitmix64(&state) % (uint64_t)(v + 1));
        int32_t t = perm[v];
        perm[v] = perm[r];
        perm[r] = t;
    }
    for (int32_t v = 0; v < n; v++) seen[v] = 0; /* reused as augment_from's on-path marks */
    /* Edges the auction left tight have slack of order eps; only looser ones start cycles. */
    double min_drop = FM_AUG_MIN_DROP_SLACK * maxw;
    if (min_drop < 10.0 * eps_rel * maxw) min_drop = 10.0 * eps_rel * maxw;
    double tol = 1e-12 * maxw * (double)n + 1e-300; /* gains below float noise are not gains */
    double current = rounded;
    for (; passes < max_polish_passes;) {
        double gain = 0.0;
        for (int32_t k = 0; k < n; k++) {
            /* A move that drops only tight matched edges cannot gain (by LP duality, up to
             * the duals of free vertices): start from free vertices and loose edges only. */
            int32_t u = perm[k], m = g.mate[u];
            if (m < 0 || ydual[u] + ydual[m] - g.mw[u] > min_drop) gain += move_a(&g, u, tol);
        }
        /* Two widths: long chains along nearly tight edges (what a rounded odd cycle usually
         * needs), then short ones through looser edges. */
        for (int32_t k = 0; k < n; k++) {
            int32_t u = perm[k];
            int64_t budget = g.mate[u] < 0 ? FM_AUG_BUDGET_FREE : FM_AUG_BUDGET_MATCHED;
            gain += augment_from(&g, ydual, FM_AUG_DEEP_SLACK * maxw, FM_AUG_MAX_DEPTH, min_drop,
                                 seen, u, tol, budget);
            gain += augment_from(&g, ydual, FM_AUG_MAX_SLACK * maxw, FM_AUG_WIDE_DEPTH, min_drop,
                                 seen, u, tol, budget);
        }
        passes++;
        current += gain;
        if (gain <= tol || gain < FM_POLISH_MIN_GAIN * current) break;
    }

    if (!matching_ok(&g)) {
        rc = FM_EINTERNAL;
        goto done;
    }
    for (int32_t v = 0; v < n; v++) total += g.mw[v];
    total /= 2.0;
    if (stats) {
        stats[FM_STAT_BOUND] = bound > total ? bound : total;
        stats[FM_STAT_FRACTIONAL] = fractional;
        stats[FM_STAT_ROUNDED] = rounded;
        stats[FM_STAT_FINAL] = total;
        stats[FM_STAT_PHASES] = phases;
        stats[FM_STAT_BIDS] = bids;
        stats[FM_STAT_CUT_SHORT] = cut_short;
        stats[FM_STAT_POLISH] = passes;
    }

done:
    if (rc != FM_OK)
        for (int32_t v = 0; v < n; v++) mate[v] = -1;
    free(a.price);
    free(a.owner);
    free(a.sig);
    free(a.sw);
    free(a.stack);
    free(seen);
    free(e);
    free(f);
    free(take);
    free(perm);
    free(ydual);
    graph_free(&g);
    return rc;
}

/* ------------------------------------------------------------------------- candidates */

/* Who is worth considering as whose partner, without looking at all n^2 pairs.
 *
 * Each person holds a few topics (normalised phrases), each with a role: bit 1 "curious
 * about", bit 2 "can tell about". A pair scores, per topic both hold, wcomp[t] when exactly
 * one of them asks what the other can tell, else wshared[t] (the same formula as
 * bot.core.pairing._affinity; weights already include the topic's rarity).
 *
 * Every lower bound on a score found along the way ranks the candidates; the best 4k are then
 * scored exactly and the best k kept. For person i:
 *   (a) a pair index (each person's FM_PAIR_TOPICS most popular topics, every two of them)
 *       yields who shares two popular topics with i, up to `window` on each side of i in a
 *       seeded random order per pair. In a large crowd everyone shares a popular topic with
 *       thousands, and these are the best of them; scanning all co-holders would be
 *       quadratic, and a random sample of one topic finds few of them;
 *   (b) i's topics are visited rarest first and every co-holder's score summed, while the
 *       co-holders scanned stay within scan_budget; of a more popular topic only `window`
 *       co-holders on each side of i are seen. Rare topics, which weigh most, are always
 *       seen in full;
 *   (c) co-holders who are forbidden (blocked, met before) or share no language are dropped;
 *   (d) `fallbacks` random partners who are allowed and share a language are added, so that
 *       someone with an unusual card still has partners (a random graph of degree 3+ almost
 *       surely has a perfect matching);
 *   (e) people who found fewer than k sharing partners get up to k more among each other.
 * Measured on the benchmark's pools (bench/pairing.py): at 10,000 people the matching on
 * this graph reaches 99.2 % of the LP bound over all pairs; (a) lifts a 100,000-person
 * round's score by 8 % over (b) alone at the same cost.
 * Edges are written with i < j and weight score + base; the same pair may be written twice
 * (once from each side), which the matcher collapses. Ties are broken by a seeded hash, so
 * the same seed gives the same graph. Returns the number of edges, or FM_EINVAL/FM_ENOMEM. */

typedef struct {
    double s;
    uint32_t r; /* seeded tie-break */
    int32_t j;
} Cand;

static int cand_below(const Cand *a, const Cand *b) {
    if (a->s != b->s) return a->s < b->s;
    if (a->r != b->r) return a->r > b->r;
    return a->j > b->j;
}

/* A min-heap (the worst kept candidate on top) of at most cap entries. */
static void heap_offer(Cand *h, int32_t *size, int32_t cap, Cand c) {
    int32_t k;
    if (*size < cap) {
        k = (*size)++;
        while (k > 0 && cand_below(&c, &h[(k - 1) / 2])) {
            h[k] = h[(k - 1) / 2];
            k = (k - 1) / 2;
        }
        h[k] = c;
        return;
    }
    if (cap == 0 || !cand_below(&h[0], &c)) return;
    k = 0;
    for (;;) {
        int32_t l = 2 * k + 1, m = k;
        const Cand *worst = &c;
        if (l < cap && cand_below(&h[l], worst)) m = l, worst = &h[l];
        if (l + 1 < cap && cand_below(&h[l + 1], worst)) m = l + 1;
        if (m == k) break;
        h[k] = h[m];
        k = m;
    }
    h[k] = c;
}

static int cand_best_first(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    return cand_below(x, y) ? 1 : (cand_below(y, x) ? -1 : 0);
}

static inline double topic_weight(int32_t t, uint8_t ri, uint8_t rj, const double *wshared,
                                  const double *wcomp) {
    int i_asks = (ri & 1) && (rj & 2), j_asks = (rj & 1) && (ri & 2);
    return i_asks != j_asks ? wcomp[t] : wshared[t];
}

/* The exact score of i and j: a merge of their topic lists (sorted by topic id). */
static double pair_score(int32_t i, int32_t j, const int32_t *pptr, const int32_t *ptopic,
                         const uint8_t *prole, const double *wshared, const double *wcomp) {
    double s = 0.0;
    int32_t a = pptr[i], b = pptr[j];
    while (a < pptr[i + 1] && b < pptr[j + 1]) {
        if (ptopic[a] < ptopic[b])
            a++;
        else if (ptopic[a] > ptopic[b])
            b++;
        else {
            s += topic_weight(ptopic[a], prole[a], prole[b], wshared, wcomp);
            a++, b++;
        }
    }
    return s;
}

static inline uint32_t tie_hash(uint64_t seed, int32_t i, int32_t j) {
    uint64_t state = seed ^ ((uint64_t)(uint32_t)i << 32 | (uint32_t)j);
    return (uint32_t)(splitmix64(&state) >> 32);
}

static inline int languages_clash(uint64_t a, uint64_t b) { return a && b && !(a & b); }

typedef struct {
    int32_t h; /* holders of the topic */
    int32_t a; /* index into ptopic/prole */
} TopicVisit;

static int visit_rarest_first(const void *a, const void *b) {
    const TopicVisit *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->a < y->a ? -1 : (x->a > y->a);
}

/* Each person's this many most popular topics go into the pair index (at most 28 pairs). */
#define FM_PAIR_TOPICS 8

typedef struct {
    int32_t t2, who, rk;
    uint8_t r1, r2; /* who's roles for t1 and t2 */
} PairEntry;

static int pair_entry_order(const void *a, const void *b) {
    const PairEntry *x = a, *y = b;
    if (x->t2 != y->t2) return x->t2 < y->t2 ? -1 : 1;
    return x->rk < y->rk ? -1 : (x->rk > y->rk);
}

/* A person's most popular topics (up to FM_PAIR_TOPICS) as incidences, ascending by topic
 * id, from their topics sorted rarest first. Returns how many. */
static int32_t popular_topics(const TopicVisit *visit, int32_t nv, const int32_t *ptopic,
                              int32_t *sel) {
    int32_t m = nv < FM_PAIR_TOPICS ? nv : FM_PAIR_TOPICS;
    for (int32_t x = 0; x < m; x++) {
        int32_t a = visit[nv - 1 - x].a, y = x;
        for (; y > 0 && ptopic[sel[y - 1]] > ptopic[a]; y--) sel[y] = sel[y - 1];
        sel[y] = a;
    }
    return m;
}

/* First index in [lo, hi) whose key is >= want (keys ascending). */
static int64_t lower_t2(const PairEntry *e, int64_t lo, int64_t hi, int32_t want) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (e[mid].t2 < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t lower_rk(const PairEntry *e, int64_t lo, int64_t hi, int32_t want) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (e[mid].rk < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* People are handled in chunks of this many; chunk c writes its edges to its own slot and
 * draws its random fallbacks from its own seeded stream, so the graph is the same whatever
 * the number of threads. */
#define FM_CHUNK 1024
#define FM_MAX_THREADS 4

typedef struct {
    /* the problem (read-only) */
    int32_t n, ntopics, k, fallbacks, window;
    int64_t scan_budget;
    double base;
    uint64_t seed;
    const int32_t *pptr, *ptopic, *fptr, *fadj;
    const uint8_t *prole;
    const double *wshared, *wcomp;
    const uint64_t *lang;
    /* the inverted index (read-only once built) */
    const int32_t *rank, *tptr, *holder, *pos;
    const uint8_t *hrole;
    /* the pair index: entries (t2, who) for people holding both t1 < t2 among their
     * FM_PAIR_TOPICS most popular topics, by t1 (CSR), then t2, then rank */
    const int64_t *pair_ptr;
    const PairEntry *pairs;
    int32_t most_topics, nchunks, nthreads;
    /* outputs: chunk c's edges start at c * FM_CHUNK * (k + fallbacks) */
    int32_t *found; /* sharing partners kept per person */
    int64_t *written; /* edges per chunk */
    int32_t *out_i, *out_j;
    double *out_w;
} CandJob;

/* The exact score of i and j, with i's topics marked (mark[t] == i, i's role in mrole[t]):
 * one pass over j's topics instead of a merge of both lists. */
static double score_marked(const CandJob *J, const int32_t *mark, const uint8_t *mrole, int32_t i,
                           int32_t j) {
    double s = 0.0;
    for (int32_t b = J->pptr[j]; b < J->pptr[j + 1]; b++) {
        int32_t t = J->ptopic[b];
        if (mark[t] == i) s += topic_weight(t, mrole[t], J->prole[b], J->wshared, J->wcomp);
    }
    return s;
}

typedef struct {
    const CandJob *job;
    int32_t first_chunk;
    int rc;
} CandWorker;

static void put_edge(int32_t *oi, int32_t *oj, double *ow, int64_t *at, int32_t i, int32_t j,
                     double w) {
    oi[*at] = i < j ? i : j;
    oj[*at] = i < j ? j : i;
    ow[(*at)++] = w;
}

/* What i's search knows of a person: two lower bounds of their score with i (float is plenty
 * to rank; the kept ones are rescored exactly). One small slot per person, since this random
 * access is the search's main cost. */
typedef struct {
    int32_t seen; /* == i: touched by i's search */
    float pairs;  /* the best pair of popular topics they share with i */
    float sum;    /* the topics scanned so far */
} Tally;

/* One thread's share: chunks first_chunk, first_chunk + nthreads, ... */
static void *cand_worker(void *arg) {
    CandWorker *me = arg;
    const CandJob *J = me->job;
    int32_t n = J->n, k = J->k, cap = 4 * k;
    Tally *tally = malloc(sizeof *tally * (size_t)n);
    int32_t *mark = malloc(sizeof *mark * (size_t)(J->ntopics ? J->ntopics : 1)); /* i's topics */
    uint8_t *mrole = malloc((size_t)(J->ntopics ? J->ntopics : 1));
    int32_t *banned = malloc(sizeof *banned * (size_t)n); /* == i: forbidden or i's edge */
    int32_t *touched = malloc(sizeof *touched * (size_t)n);
    Cand *heap = malloc(sizeof *heap * (size_t)(cap ? cap : 1));
    TopicVisit *visit = malloc(sizeof *visit * (size_t)(J->most_topics ? J->most_topics : 1));
    if (!tally || !mark || !mrole || !banned || !touched || !heap || !visit) {
        me->rc = FM_ENOMEM;
        goto done;
    }
    for (int32_t v = 0; v < n; v++) {
        tally[v].seen = -1;
        banned[v] = -1;
    }
    for (int32_t t = 0; t < J->ntopics; t++) mark[t] = -1;
    for (int32_t c = me->first_chunk; c < J->nchunks; c += J->nthreads) {
        uint64_t state = J->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(c + 1));
        int64_t out = (int64_t)c * FM_CHUNK * (k + J->fallbacks), start = out;
        int32_t last = (c + 1) * FM_CHUNK < n ? (c + 1) * FM_CHUNK : n;
        for (int32_t i = c * FM_CHUNK; i < last; i++) {
            int32_t nt = 0, nv = 0, size = 0;
            banned[i] = i;
            for (int32_t f = J->fptr[i]; f < J->fptr[i + 1]; f++) banned[J->fadj[f]] = i;
            for (int32_t a = J->pptr[i]; a < J->pptr[i + 1]; a++) {
                mark[J->ptopic[a]] = i;
                mrole[J->ptopic[a]] = J->prole[a];
            }
            for (int32_t a = J->pptr[i]; a < J->pptr[i + 1]; a++)
                visit[nv++] = (TopicVisit){J->tptr[J->ptopic[a] + 1] - J->tptr[J->ptopic[a]], a};
            qsort(visit, (size_t)nv, sizeof *visit, visit_rarest_first);
            /* (a) Who shares two of i's popular topics. Scanning a popular topic in full is
             * too costly and a sample of it finds few of them, while they are the best
             * partners in a crowd where everyone shares something. Their score so far is
             * that of the best such pair of topics (a lower bound, like the partial sums). */
            int32_t sel[FM_PAIR_TOPICS];
            int32_t ns = popular_topics(visit, nv, J->ptopic, sel);
            for (int32_t x = 0; x < ns; x++) {
                int32_t t1 = J->ptopic[sel[x]];
                int64_t seg_lo = J->pair_ptr[t1], seg_hi = J->pair_ptr[t1 + 1];
                for (int32_t y = x + 1; y < ns; y++) {
                    int32_t t2 = J->ptopic[sel[y]];
                    int64_t lo = lower_t2(J->pairs, seg_lo, seg_hi, t2);
                    int64_t hi = lower_t2(J->pairs, lo, seg_hi, t2 + 1);
                    int64_t h = hi - lo, span = h, at = 0;
                    if (h > 2 * (int64_t)J->window + 1) { /* window around i, cyclically */
                        span = 2 * (int64_t)J->window + 1;
                        at = lower_rk(J->pairs, lo, hi, J->rank[i]) - lo - J->window + h;
                    }
                    float w1[4], w2[4];
                    for (uint8_t r = 0; r < 4; r++) {
                        w1[r] = (float)topic_weight(t1, J->prole[sel[x]], r, J->wshared, J->wcomp);
                        w2[r] = (float)topic_weight(t2, J->prole[sel[y]], r, J->wshared, J->wcomp);
                    }
                    for (int64_t d = 0; d < span; d++) {
                        const PairEntry *e = &J->pairs[lo + (at + d) % h];
                        float both = w1[e->r1 & 3] + w2[e->r2 & 3];
                        Tally *tj = &tally[e->who];
                        if (tj->seen != i) {
                            *tj = (Tally){i, both, 0.0f};
                            touched[nt++] = e->who;
                        } else if (both > tj->pairs)
                            tj->pairs = both;
                    }
                }
            }
            int64_t scanned = 0;
            for (int32_t x = 0; x < nv; x++) {
                int32_t a = visit[x].a, t = J->ptopic[a], h = visit[x].h;
                const int32_t *hs = J->holder + J->tptr[t];
                const uint8_t *rs = J->hrole + J->tptr[t];
                /* what a co-holder adds, by their role (bit 1 curious, bit 2 can tell) */
                float by_role[4];
                for (uint8_t r = 0; r < 4; r++)
                    by_role[r] = (float)topic_weight(t, J->prole[a], r, J->wshared, J->wcomp);
                int full = scanned + h <= J->scan_budget || h <= 2 * J->window + 1;
                int32_t span = full ? h : 2 * J->window;
                scanned += span;
                for (int32_t d = 0; d < span; d++) {
                    /* full: every holder; else `window` on each side of i, cyclically */
                    int32_t q = full ? d
                                     : (J->pos[a] + (d < J->window ? d + 1 : h - (d - J->window) - 1)) % h;
                    int32_t j = hs[q];
                    Tally *at = &tally[j];
                    if (at->seen != i) {
                        *at = (Tally){i, 0.0f, 0.0f};
                        touched[nt++] = j;
                    }
                    at->sum += by_role[rs[q] & 3];
                }
            }
            for (int32_t x = 0; x < nt; x++) {
                int32_t j = touched[x];
                float known = tally[j].sum > tally[j].pairs ? tally[j].sum : tally[j].pairs;
                if (size == cap && known < heap[0].s) continue; /* the usual case: skip early */
                if (banned[j] == i || languages_clash(J->lang[i], J->lang[j])) continue;
                heap_offer(heap, &size, cap, (Cand){known, tie_hash(J->seed, i, j), j});
            }
            /* Rescore exactly: the bounds missed unscanned topics, and were floats. */
            for (int32_t x = 0; x < size; x++) heap[x].s = score_marked(J, mark, mrole, i, heap[x].j);
            qsort(heap, (size_t)size, sizeof *heap, cand_best_first);
            if (size > k) size = k;
            J->found[i] = size;
            for (int32_t x = 0; x < size; x++) {
                banned[heap[x].j] = i;
                put_edge(J->out_i, J->out_j, J->out_w, &out, i, heap[x].j, heap[x].s + J->base);
            }
            int32_t got = 0;
            for (int32_t tries = 0; got < J->fallbacks && tries < 8 * J->fallbacks + 8; tries++) {
                int32_t j = (int32_t)(splitmix64(&state) % (uint64_t)n);
                if (banned[j] == i || languages_clash(J->lang[i], J->lang[j])) continue;
                banned[j] = i;
                double s = score_marked(J, mark, mrole, i, j);
                put_edge(J->out_i, J->out_j, J->out_w, &out, i, j, s + J->base);
                got++;
            }
        }
        J->written[c] = out - start;
    }
    me->rc = FM_OK;
done:
    free(tally);
    free(mark);
    free(mrole);
    free(banned);
    free(touched);
    free(heap);
    free(visit);
    return NULL;
}

/* Runs the workers on up to `threads` threads (0: one per processor, at most
 * FM_MAX_THREADS); falls back to the calling thread alone if threads cannot be started. */
static int run_workers(CandJob *J, int32_t threads) {
    CandWorker w[FM_MAX_THREADS];
    int32_t T = threads;
#if defined(_WIN32)
    T = 1;
#else
    if (T <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        T = cpus > 0 ? (int32_t)cpus : 1;
    }
#endif
    if (T > FM_MAX_THREADS) T = FM_MAX_THREADS;
    if (T > J->nchunks) T = J->nchunks;
    if (T < 1) T = 1;
#if !defined(_WIN32)
    pthread_t tid[FM_MAX_THREADS];
    int32_t started = 0;
    J->nthreads = T;
    for (int32_t t = 0; t < T; t++) w[t] = (CandWorker){J, t, FM_EINTERNAL};
    for (int32_t t = 1; t < T; t++) {
        if (pthread_create(&tid[t], NULL, cand_worker, &w[t]) != 0) break;
        started = t;
    }
    if (started < T - 1) { /* could not start them all: redo everything on one thread */
        for (int32_t t = 1; t <= started; t++) pthread_join(tid[t], NULL);
        J->nthreads = 1;
        w[0] = (CandWorker){J, 0, FM_EINTERNAL};
        cand_worker(&w[0]);
        return w[0].rc;
    }
    cand_worker(&w[0]);
    for (int32_t t = 1; t < T; t++) pthread_join(tid[t], NULL);
#else
    J->nthreads = 1;
    w[0] = (CandWorker){J, 0, FM_EINTERNAL};
    cand_worker(&w[0]);
#endif
    for (int32_t t = 0; t < J->nthreads; t++)
        if (w[t].rc != FM_OK) return w[t].rc;
    return FM_OK;
}

FM_API int64_t fm_candidates(int32_t n, const int32_t *pptr, const int32_t *ptopic,
                             const uint8_t *prole, int32_t ntopics, const double *wshared,
                             const double *wcomp, const uint64_t *lang, const int32_t *fptr,
                             const int32_t *fadj, int32_t k, int32_t fallbacks,
                             int64_t scan_budget, int32_t window, double base, uint64_t seed,
                             int32_t threads, int64_t max_out, int32_t *out_i, int32_t *out_j,
                             double *out_w) {
    if (n < 0 || ntopics < 0 || k < 0 || fallbacks < 0 || scan_budget < 0 || window < 0 ||
        !isfinite(base) || n > INT32_MAX / 2 || max_out < (int64_t)n * (2 * (int64_t)k + fallbacks))
        return FM_EINVAL;
    if (n == 0) return 0;
    if (!pptr || !fptr || !lang || !out_i || !out_j || !out_w) return FM_EINVAL;
    if (pptr[0] != 0 || fptr[0] != 0) return FM_EINVAL;
    int32_t most_topics = 0;
    for (int32_t v = 0; v < n; v++) {
        if (pptr[v + 1] < pptr[v] || fptr[v + 1] < fptr[v]) return FM_EINVAL;
        if (pptr[v + 1] - pptr[v] > most_topics) most_topics = pptr[v + 1] - pptr[v];
        for (int32_t a = pptr[v]; a < pptr[v + 1]; a++)
            if (ptopic[a] < 0 || ptopic[a] >= ntopics ||
                (a > pptr[v] && ptopic[a] <= ptopic[a - 1]))
                return FM_EINVAL; /* unknown topic, or a list not strictly ascending */
        for (int32_t f = fptr[v]; f < fptr[v + 1]; f++)
            if (fadj[f] < 0 || fadj[f] >= n) return FM_EINVAL;
    }
    for (int32_t t = 0; t < ntopics; t++)
        if (!isfinite(wshared[t]) || !isfinite(wcomp[t])) return FM_EINVAL;

    int32_t incidences = pptr[n], nchunks = (n + FM_CHUNK - 1) / FM_CHUNK;
    size_t some = (size_t)(incidences ? incidences : 1);
    int32_t *rank = malloc(sizeof *rank * (size_t)n);   /* seeded random order of people */
    int32_t *order = malloc(sizeof *order * (size_t)n); /* order[rank[v]] == v */
    int32_t *tptr = calloc((size_t)ntopics + 1, sizeof *tptr);
    int32_t *holder = malloc(sizeof *holder * some);
    uint8_t *hrole = malloc(some);
    int32_t *pos = malloc(sizeof *pos * some);
    int32_t *fill = malloc(sizeof *fill * ((size_t)ntopics + 1));
    int32_t *found = malloc(sizeof *found * (size_t)n);
    int64_t *written = calloc((size_t)nchunks, sizeof *written);
    int32_t *lonely = malloc(sizeof *lonely * (size_t)n), nlonely = 0;
    int32_t *banned = malloc(sizeof *banned * (size_t)n);
    int64_t *pair_ptr = NULL, *pair_fill = NULL;
    PairEntry *pairs = NULL;
    TopicVisit *visit = NULL;
    int64_t out = 0;
    if (!rank || !order || !tptr || !holder || !hrole || !pos || !fill || !found || !written ||
        !lonely || !banned) {
        out = FM_ENOMEM;
        goto done;
    }

    uint64_t state = seed;
    for (int32_t v = 0; v < n; v++) order[v] = v;
    for (int32_t v = n - 1; v > 0; v--) {
        int32_t r = (int32_t)(splitmix64(&state) % (uint64_t)(v + 1));
        int32_t t = order[v];
        order[v] = order[r];
        order[r] = t;
    }
    for (int32_t r = 0; r < n; r++) rank[order[r]] = r;

    /* The inverted index: each topic's holders in rank order, and where each incidence sits. */
    for (int32_t a = 0; a < incidences; a++) tptr[ptopic[a] + 1]++;
    for (int32_t t = 0; t < ntopics; t++) tptr[t + 1] += tptr[t];
    memcpy(fill, tptr, sizeof *fill * ((size_t)ntopics + 1));
    for (int32_t r = 0; r < n; r++) {
        int32_t v = order[r];
        for (int32_t a = pptr[v]; a < pptr[v + 1]; a++) {
            int32_t t = ptopic[a], at = fill[t]++;
            holder[at] = v;
            hrole[at] = prole[a];
            pos[a] = at - tptr[t];
        }
    }

    /* The pair index: count, then fill in rank order, then order each t1's entries. */
    pair_ptr = calloc((size_t)ntopics + 1, sizeof *pair_ptr);
    visit = malloc(sizeof *visit * (size_t)(most_topics ? most_topics : 1));
    if (!pair_ptr || !visit) {
        out = FM_ENOMEM;
        goto done;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t r = 0; r < n; r++) {
            int32_t v = order[r], nv = 0, sel[FM_PAIR_TOPICS];
            for (int32_t a = pptr[v]; a < pptr[v + 1]; a++)
                visit[nv++] = (TopicVisit){tptr[ptopic[a] + 1] - tptr[ptopic[a]], a};
            qsort(visit, (size_t)nv, sizeof *visit, visit_rarest_first);
            int32_t ns = popular_topics(visit, nv, ptopic, sel);
            for (int32_t x = 0; x < ns; x++)
                for (int32_t y = x + 1; y < ns; y++) {
                    if (pass == 0)
                        pair_ptr[ptopic[sel[x]] + 1]++;
                    else
                        pairs[pair_fill[ptopic[sel[x]]]++] = (PairEntry){
                            ptopic[sel[y]], v, r, prole[sel[x]], prole[sel[y]]};
                }
        }
        if (pass == 0) {
            for (int32_t t = 0; t < ntopics; t++) pair_ptr[t + 1] += pair_ptr[t];
            pairs = malloc(sizeof *pairs * (size_t)(pair_ptr[ntopics] ? pair_ptr[ntopics] : 1));
            pair_fill = malloc(sizeof *pair_fill * ((size_t)ntopics + 1));
            if (!pairs || !pair_fill) {
                out = FM_ENOMEM;
                goto done;
            }
            memcpy(pair_fill, pair_ptr, sizeof *pair_fill * ((size_t)ntopics + 1));
        }
    }
    for (int32_t t = 0; t < ntopics; t++)
        qsort(pairs + pair_ptr[t], (size_t)(pair_ptr[t + 1] - pair_ptr[t]), sizeof *pairs,
              pair_entry_order);

    CandJob job = {n, ntopics, k, fallbacks, window, scan_budget, base, seed, pptr, ptopic, fptr,
                   fadj, prole, wshared, wcomp, lang, rank, tptr, holder, pos, hrole,
                   pair_ptr, pairs, most_topics, nchunks, 1, found, written, out_i, out_j, out_w};
    int rc = run_workers(&job, threads);
    if (rc != FM_OK) {
        out = rc;
        goto done;
    }
    /* Close the gaps between the chunks' slots. */
    for (int32_t c = 0; c < nchunks; c++) {
        int64_t from = (int64_t)c * FM_CHUNK * (k + fallbacks);
        if (from != out) {
            memmove(out_i + out, out_i + from, sizeof *out_i * (size_t)written[c]);
            memmove(out_j + out, out_j + from, sizeof *out_j * (size_t)written[c]);
            memmove(out_w + out, out_w + from, sizeof *out_w * (size_t)written[c]);
        }
        out += written[c];
    }

    /* People with fewer than k sharing partners are best paired with each other: an optimal
     * round gives the few "nothing in common" pairs to those who have the fewest options,
     * instead of taking someone's good partner away. Random fallbacks rarely meet, so each
     * of them gets k more partners among the other lonely ones (all of them if few). */
    for (int32_t v = 0; v < n; v++) {
        banned[v] = -1;
        if (found[v] < k) lonely[nlonely++] = v;
    }
    for (int32_t x = 0; x < nlonely; x++) {
        int32_t i = lonely[x], got = 0;
        int32_t few = nlonely <= k + 1, tries_max = few ? nlonely : 8 * k;
        for (int32_t f = fptr[i]; f < fptr[i + 1]; f++) banned[fadj[f]] = i;
        banned[i] = i;
        for (int32_t tries = 0; got < k && tries < tries_max; tries++) {
            int32_t j = few ? lonely[tries] : lonely[splitmix64(&state) % (uint64_t)nlonely];
            if (banned[j] == i || languages_clash(lang[i], lang[j])) continue;
            banned[j] = i;
            double s = pair_score(i, j, pptr, ptopic, prole, wshared, wcomp);
            put_edge(out_i, out_j, out_w, &out, i, j, s + base);
            got++;
        }
    }

done:
    free(rank);
    free(order);
    free(tptr);
    free(holder);
    free(hrole);
    free(pos);
    free(fill);
    free(found);
    free(written);
    free(lonely);
    free(banned);
    free(pair_ptr);
    free(pair_fill);
    free(pairs);
    free(visit);
    return out;
}

#if defined(_WIN32)
/* MSVC's linker insists that an extension module exports its init function. We never import
 * this module (ctypes loads it), so a stub that would fail an import is all it needs. */
FM_API void *PyInit__fastmatch(void) { return NULL; }
#endif
