/* analyze.c — fa-lint's checks: an abstract interpretation of each function
 * body (ir.h) in source order, path by path where it matters.
 *
 * What a variable holds is a set of origins (frame, pool, heap, malloc,
 * task memory, or "parameter i" inside a function being summarised). The
 * state along a path also knows whether a frame is open (fa_begin_frame ..
 * fa_end_frame in this function), which frame variables fa_end_frame made
 * stale, and the tags pushed. Branches are followed separately and joined:
 * origins by union (a mistake on one path is a mistake), staleness by
 * intersection (FA604 only when stale on every path). Loop bodies are
 * walked twice so that values flowing around the loop are seen.
 *
 * Functions of the same unit are summarised (what a parameter reaches, what
 * is returned, whether it allocates frame or heap memory, whether it opens
 * frames), and the summaries iterated to a fixed point before the reporting
 * pass: that is how a mistake split over two functions is found. */
#define _GNU_SOURCE /* strcasestr */
#include "analyze.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* ---- origins and sinks -------------------------------------------------- */

enum {
    O_FRAME = 1u << 0, /* points into frame memory */
    O_HELD = 1u << 1,  /* an aggregate that holds a frame pointer */
    O_POOL = 1u << 2,
    O_HEAP = 1u << 3,   /* fa_heap_alloc */
    O_MALLOC = 1u << 4, /* malloc and friends */
    O_TASK = 1u << 5,
    O_PARAM0 = 1u << 8, /* bits 8..23: the value of parameter i */
};
#define MAX_PARAMS 16
#define O_FRAMEISH (O_FRAME | O_HELD)
#define O_PARAMS (((1u << MAX_PARAMS) - 1) << 8)
#define O_LONG_LIVED (O_POOL | O_HEAP | O_MALLOC | O_TASK)

enum {
    S_ESCAPE = 1u << 0,
    S_THREAD = 1u << 1,
    S_ASYNC = 1u << 2,
    S_FREE_POOL = 1u << 3,
    S_FREE_HEAP = 1u << 4,
    S_FREE_MALLOC = 1u << 5,
    S_FREE_TASK = 1u << 6,
};

typedef struct alloc_site {
    unsigned line;
    const char *what;
} alloc_site_t;

typedef struct summary {
    unsigned returns; /* origins of returned values */
    unsigned param_sink[MAX_PARAMS];
    bool allocs_frame, allocs_heap, allocs_pool, begins_frame;
    bool opens_frame; /* calls fa_begin_frame: so it is called outside a frame */
    bool thread_fn, work_cb, fed_cb;
    alloc_site_t frame_site, heap_site; /* the first of each, for messages */
} summary_t;

/* ---- path state --------------------------------------------------------- */

enum { F_UNKNOWN, F_IN, F_OUT };

typedef struct tag_entry {
    const char *path; /* full path as far as this function knows */
    const node_t *at;
    bool scoped;   /* FA_TAG_SCOPE / FA_WITH_TAG: popped at scope exit */
    bool relative; /* pushed with no tag of this function below it */
    int depth;     /* block depth of a scoped entry */
} tag_entry_t;

#define MAX_TAGS 32

typedef struct state {
    unsigned *origin;
    unsigned char *stale;
    unsigned *stale_line; /* the fa_end_frame that made it stale */
    int frame;
    int ntags;
    tag_entry_t tags[MAX_TAGS];
    bool dead;
} state_t;

typedef struct saved_state {
    const char *label;
    state_t st;
} saved_state_t;

typedef struct flow_ctx {
    int tag_depth; /* non-scoped tags when entered */
    bool is_switch;
    bool have_break;
    state_t breaks;
    const state_t *entry; /* switch: state at the head, for case labels */
} flow_ctx_t;

typedef struct signal_rec {
    char key[128];
    const node_t *at;
    int var;
    bool waited, handed;
} signal_rec_t;

typedef struct actx {
    ir_unit_t *u;
    const analyze_opts_t *o;
    unit_result_t *out;
    summary_t *sums;
    unsigned nfuncs;
    strlist_t long_lived; /* struct tags/typedefs allocated from pool/heap here */
    strlist_t pool;       /* strings made during the analysis */
    bool report, changed;
    ir_function_t *fn;
    summary_t *sum;
    unsigned nvars;
    int block_depth, unbounded;
    flow_ctx_t flows[64];
    int nflows;
    saved_state_t *gotos;
    size_t ngotos, gotos_cap;
    signal_rec_t *signals;
    size_t nsignals, signals_cap;
    int wait_round;             /* evaluating fa_barrier_wait's round argument */
    strlist_t wait_keys;        /* barriers this function waits on */
    const node_t **push_of_var; /* a variable holding fa_tag_push's result */
    const node_t **pushed_flag; /* a variable that is true when that push succeeded */
    const node_t **reported_push;
    size_t nreported_push, reported_push_cap;
    unsigned char *stale_reported;
} actx_t;

static void state_init(actx_t *a, state_t *s) {
    memset(s, 0, sizeof *s);
    s->origin = xcalloc(a->nvars + 1, sizeof *s->origin);
    s->stale = xcalloc(a->nvars + 1, 1);
    s->stale_line = xcalloc(a->nvars + 1, sizeof *s->stale_line);
}

static void state_copy(actx_t *a, state_t *to, const state_t *from) {
    unsigned *o = to->origin;
    unsigned char *st = to->stale;
    unsigned *sl = to->stale_line;
    *to = *from;
    to->origin = o;
    to->stale = st;
    to->stale_line = sl;
    memcpy(o, from->origin, (a->nvars + 1) * sizeof *o);
    memcpy(st, from->stale, a->nvars + 1);
    memcpy(sl, from->stale_line, (a->nvars + 1) * sizeof *sl);
}

static void state_dup(actx_t *a, state_t *to, const state_t *from) {
    state_init(a, to);
    state_copy(a, to, from);
}

static void state_free(state_t *s) {
    free(s->origin);
    free(s->stale);
    free(s->stale_line);
    s->origin = NULL;
    s->stale = NULL;
    s->stale_line = NULL;
}

/* into = join(into, other). */
static void state_join(actx_t *a, state_t *into, const state_t *other) {
    if (other->dead) return;
    if (into->dead) {
        state_copy(a, into, other);
        return;
    }
    for (unsigned i = 0; i <= a->nvars; i++) {
        into->origin[i] |= other->origin[i];
        into->stale[i] = into->stale[i] && other->stale[i];
    }
    if (into->frame != other->frame) into->frame = F_UNKNOWN;
    /* Tags: a push left on any path is a push left. */
    if (other->ntags > into->ntags) {
        for (int i = into->ntags; i < other->ntags; i++)
            into->tags[i] = other->tags[i];
        into->ntags = other->ntags;
    }
}

/* ---- helpers ------------------------------------------------------------ */

static bool name_in(const char *name, const char *const *list) {
    for (; *list; list++)
        if (strcmp(name, *list) == 0) return true;
    return false;
}

static const char *const frame_sources[] = {
    "fa_frame_alloc", "fa_frame_alloc_batch", "fa_frame_alloc2", "fa_frame_alloc4", "fa_frame_alloc8",
    "fa_frame_strdup", "fa_frame_sprintf", "fa_frame_alloc_retained", "fa__frame_alloc_slow",
    /* fa_frame_vec.h: appending may grow the storage */
    "fa_frame_vec_push", "fa_frame_vec_push_n", "fa__frame_vec_push_slow", "fa__frame_vec_push_checked",
    "fa__frame_vec_push_typed", "fa_frame_map_put", "fa__frame_map_put_typed", NULL};
/* Point into frame memory without allocating. */
static const char *const frame_views[] = {"fa_frame_map_get", "fa__frame_map_get_typed", NULL};
/* Make their first argument (a container struct) hold frame memory. */
static const char *const frame_containers[] = {"fa_frame_vec_init", "fa_frame_map_init", NULL};
static const char *const malloc_sources[] = {"malloc",  "calloc",        "realloc", "reallocarray", "strdup",
                                             "strndup", "aligned_alloc", "valloc",  "memalign",     NULL};
static const char *const sync_callback_apis[] = {"qsort",   "qsort_r", "bsearch",      "lfind",     "lsearch",
                                                 "tsearch", "tfind",   "tdelete",      "twalk",     "scandir",
                                                 "ftw",     "nftw",    "pthread_once", "call_once", NULL};

/* A function that takes a callback and calls it before it returns (a sort,
 * a search, a visitor: dSpaceCollide, cpSpaceEachBody, cpSpacePointQuery),
 * so frame memory given with the callback is used within the frame. */
static bool calls_back_at_once(const actx_t *a, const char *name) {
    static const char *const visitor_words[] = {"each", "query", "collide", "walk", "visit", "iterate", NULL};
    if (name_in(name, sync_callback_apis) || config_sync_callback(a->o->cfg, name)) return true;
    for (const char *const *w = visitor_words; *w; w++)
        if (strcasestr(name, *w)) return true;
    return false;
}

static const char *pool_str(actx_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *pool_str(actx_t *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    va_start(ap, fmt);
    vsnprintf(p, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
    va_end(ap);
    xgrow(&a->pool.items, &a->pool.cap, a->pool.count + 1, sizeof *a->pool.items);
    a->pool.items[a->pool.count++] = p;
    return p;
}

/* A short spelling of an expression for messages: p, g->items, buf[]. */
static void expr_text(const node_t *n, char *buf, size_t len) {
    if (!len) return;
    buf[0] = 0;
    if (!n) return;
    char inner[160];
    switch (n->kind) {
    case K_VAR:
    case K_DECL:
        snprintf(buf, len, "%s", n->name ? n->name : "?");
        return;
    case K_FUNC:
        snprintf(buf, len, "%s", n->name ? n->name : "?");
        return;
    case K_CALL:
        snprintf(buf, len, "%s()", n->name && *n->name ? n->name : "(call)");
        return;
    case K_MEMBER:
        expr_text(n->nchild ? n->child[0] : NULL, inner, sizeof inner);
        snprintf(buf, len, "%s%s%s", inner, n->nchild && (n->child[0]->flags & NF_PTR) ? "->" : ".",
                 n->name ? n->name : "?");
        return;
    case K_INDEX:
        expr_text(n->nchild ? n->child[0] : NULL, inner, sizeof inner);
        snprintf(buf, len, "%s[]", inner);
        return;
    case K_DEREF:
        expr_text(n->nchild ? n->child[0] : NULL, inner, sizeof inner);
        snprintf(buf, len, "*%s", inner);
        return;
    case K_ADDR:
        expr_text(n->nchild ? n->child[0] : NULL, inner, sizeof inner);
        snprintf(buf, len, "&%s", inner);
        return;
    case K_ARITH:
    case K_COND:
        if (n->nchild) expr_text(n->child[n->kind == K_COND && n->nchild > 1 ? 1 : 0], buf, len);
        return;
    case K_ASSIGN:
        if (n->nchild) expr_text(n->child[0], buf, len);
        return;
    default:
        snprintf(buf, len, "(expression)");
        return;
    }
}

/* Whether findings at n are reported (its file is below the root and not
 * excluded); computes n's location. */
static bool reported_at(actx_t *a, const node_t *n) {
    ir_locate(a->u, n);
    return ir_file_at(a->u, n->file)->report;
}

/* n's line, for messages that point at a second place. */
static unsigned line_of(actx_t *a, const node_t *n) {
    ir_locate(a->u, n);
    return n->line;
}

static void emit(actx_t *a, rule_id rule, const node_t *at, const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void emit(actx_t *a, rule_id rule, const node_t *at, const char *subject, const char *fmt, ...) {
    if (!a->report || !reported_at(a, at)) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const ir_file_t *f = ir_file_at(a->u, at->file);
    findings_add(&a->out->findings, rule, f->path, at->line, at->col, at->end_line, at->end_col,
                 a->fn ? a->fn->name : "", subject, "%s", msg);
}

static const char *origin_name(unsigned o) {
    if (o & O_FRAME) return "frame memory";
    if (o & O_HELD) return "a struct holding frame memory";
    if (o & O_POOL) return "pool memory";
    if (o & O_HEAP) return "fa_heap_alloc memory";
    if (o & O_MALLOC) return "malloc memory";
    if (o & O_TASK) return "task memory";
    return "memory";
}

static summary_t *summary_of(actx_t *a, const char *name) {
    ir_function_t *f = name && *name ? ir_function_find(a->u, name) : NULL;
    if (!f) return NULL;
    return &a->sums[f - ir_function_at(a->u, 0)];
}

static void mark_changed_bool(actx_t *a, bool *flag) {
    if (!*flag) {
        *flag = true;
        a->changed = true;
    }
}

static void mark_changed_bits(actx_t *a, unsigned *bits, unsigned add) {
    if ((*bits | add) != *bits) {
        *bits |= add;
        a->changed = true;
    }
}

static void add_long_lived(actx_t *a, const char *record, const char *alias) {
    if (record && !strlist_has(&a->long_lived, record)) {
        strlist_add(&a->long_lived, record);
        a->changed = true;
    }
    if (alias && !strlist_has(&a->long_lived, alias)) {
        strlist_add(&a->long_lived, alias);
        a->changed = true;
    }
}

static bool long_lived_type(actx_t *a, const char *record, const char *alias) {
    if (record && (strlist_has(&a->long_lived, record) || config_long_lived_type(a->o->cfg, record)))
        return true;
    if (alias && (strlist_has(&a->long_lived, alias) || config_long_lived_type(a->o->cfg, alias)))
        return true;
    return false;
}

/* For each parameter bit in value, add sinks to this function's summary. */
static void param_sinks(actx_t *a, unsigned value, unsigned sinks) {
    for (unsigned i = 0; i < MAX_PARAMS; i++)
        if (value & (O_PARAM0 << i)) mark_changed_bits(a, &a->sum->param_sink[i], sinks);
}

/* ---- tags --------------------------------------------------------------- */

static const char *string_arg(const node_t *call, unsigned i) {
    if (call->nchild > i && call->child[i]->kind == K_STRING) return call->child[i]->name;
    return NULL;
}

/* A tag the code uses: FA801, FA802, and FA302's candidates. */
static void tag_used(actx_t *a, const node_t *at, const char *path, bool relative) {
    const lint_config_t *cfg = a->o->cfg;
    if (!a->report || !reported_at(a, at)) return;
    if (config_has_declared_tags(cfg) && !config_tag_declared(cfg, path)) {
        /* Pushed with no tag of this function below it, "contacts" may be
         * "physics/contacts" under a caller's tag. */
        if (!relative || !config_tag_declared_below(cfg, path))
            emit(a, R_FA801, at, path, "tag '%s' is not declared in .fa.toml [tags] declared", path);
    }
    const ir_file_t *f = ir_file_at(a->u, at->file);
    const char *module = f->rel ? config_module_tag(cfg, f->rel) : NULL;
    if (module && !tag_under(path, module))
        emit(a, R_FA802, at, path, "tag '%s' used in %s, which .fa.toml assigns to subsystem '%s'", path,
             f->rel, module);
    if (config_require_budgets(cfg)) emit(a, R_FA302, at, path, "tag '%s' has no budget", path);
}

static void tag_push(actx_t *a, state_t *s, const node_t *call, bool scoped) {
    const char *name = string_arg(call, 1);
    const char *path = NULL;
    bool relative = s->ntags == 0;
    if (name) {
        path = s->ntags && s->tags[s->ntags - 1].path ? pool_str(a, "%s/%s", s->tags[s->ntags - 1].path, name)
                                                      : name;
        if (s->ntags) relative = s->tags[s->ntags - 1].relative;
        tag_used(a, call, path, relative);
    }
    if (s->ntags == MAX_TAGS) return;
    s->tags[s->ntags++] = (tag_entry_t){
        .path = path, .at = call, .scoped = scoped, .relative = relative, .depth = a->block_depth};
}

static void tag_pop(state_t *s) {
    for (int i = s->ntags; i-- > 0;)
        if (!s->tags[i].scoped) {
            memmove(&s->tags[i], &s->tags[i + 1], (size_t)(s->ntags - i - 1) * sizeof s->tags[0]);
            s->ntags--;
            return;
        }
}

static void tags_leave_block(state_t *s, int depth) {
    int out = 0;
    for (int i = 0; i < s->ntags; i++)
        if (!(s->tags[i].scoped && s->tags[i].depth >= depth)) s->tags[out++] = s->tags[i];
    s->ntags = out;
}

static int open_pushes(const state_t *s) {
    int n = 0;
    for (int i = 0; i < s->ntags; i++)
        n += !s->tags[i].scoped;
    return n;
}

/* FA803: pushes still open when the path leaves (return, break, end). */
static void check_unpopped(actx_t *a, const state_t *s, int keep, const node_t *exit_at, const char *how) {
    int seen = 0;
    for (int i = 0; i < s->ntags; i++) {
        if (s->tags[i].scoped) continue;
        if (seen++ < keep) continue;
        const node_t *push = s->tags[i].at;
        bool done = false;
        for (size_t k = 0; k < a->nreported_push; k++)
            done |= a->reported_push[k] == push;
        if (done || !a->report || !reported_at(a, push)) continue;
        xgrow(&a->reported_push, &a->reported_push_cap, a->nreported_push + 1, sizeof *a->reported_push);
        a->reported_push[a->nreported_push++] = push;
        const char *tag = s->tags[i].path ? s->tags[i].path : "?";
        emit(a, R_FA803, push, tag, "fa_tag_push of '%s' in '%s' is not popped on the %s at line %u", tag,
             a->fn->name, how, line_of(a, exit_at));
    }
}

/* FA301: an allocation in an unbounded loop under a tag of this function. */
static void loop_allocation(actx_t *a, const state_t *s, const node_t *call) {
    if (!a->unbounded || !s->ntags) return;
    const tag_entry_t *t = &s->tags[s->ntags - 1];
    if (!t->path) return;
    emit(a, R_FA301, call, t->path, "%s%s in an unbounded loop under tag '%s', which no code gives a budget",
         call->name,
         name_in(call->name, frame_sources) || strncmp(call->name, "fa_", 3) == 0 ? "" : " (it allocates)",
         t->path);
}

/* ---- barriers (FA203) --------------------------------------------------- */

static void barrier_key(const node_t *n, char *buf, size_t len) {
    expr_text(n, buf, len);
}

static signal_rec_t *signal_of_var(actx_t *a, int var) {
    for (size_t i = a->nsignals; i-- > 0;)
        if (a->signals[i].var == var) return &a->signals[i];
    return NULL;
}

static void collect_wait_keys(actx_t *a, const node_t *n) {
    if (!n) return;
    if (n->kind == K_CALL && strcmp(n->name, "fa_barrier_wait") == 0 && n->nchild) {
        char key[128];
        barrier_key(n->child[0], key, sizeof key);
        if (!strlist_has(&a->wait_keys, key)) strlist_add(&a->wait_keys, key);
    }
    for (unsigned i = 0; i < n->nchild; i++)
        collect_wait_keys(a, n->child[i]);
}

/* A function that only signals a barrier is the producer side of a
 * hand-off (a one-party barrier as a signal): it is a mismatch only when
 * the function also waits on that barrier as a party. */
static void barrier_signal(actx_t *a, const node_t *call) {
    if (!call->nchild) return;
    char key[128];
    barrier_key(call->child[0], key, sizeof key);
    bool party = strlist_has(&a->wait_keys, key);
    for (size_t i = 0; i < a->nsignals; i++) {
        signal_rec_t *s = &a->signals[i];
        if (party && s->at != call && !s->waited && !s->handed && strcmp(s->key, key) == 0) {
            emit(a, R_FA203, call, key,
                 "barrier '%s' signalled again in '%s' before the round signalled at line %u was waited for",
                 key, a->fn->name, line_of(a, s->at));
            s->waited = true;
        }
    }
    for (size_t i = 0; i < a->nsignals; i++)
        if (a->signals[i].at == call) {
            a->signals[i].waited = a->signals[i].handed = false;
            return;
        }
    xgrow(&a->signals, &a->signals_cap, a->nsignals + 1, sizeof *a->signals);
    signal_rec_t *r = &a->signals[a->nsignals++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->at = call;
    r->var = -1;
}

static void barrier_wait(actx_t *a, const node_t *call) {
    if (call->nchild < 2) return;
    char key[128];
    barrier_key(call->child[0], key, sizeof key);
    const node_t *round = call->child[1];
    signal_rec_t *s = round->kind == K_VAR && round->var >= 0 ? signal_of_var(a, round->var) : NULL;
    if (s) {
        if (strcmp(s->key, key) != 0)
            emit(a, R_FA203, call, key,
                 "waits on barrier '%s' for round '%s', which signalled barrier '%s' (line %u)", key,
                 round->name, s->key, line_of(a, s->at));
        s->waited = true;
        return;
    }
    for (size_t i = 0; i < a->nsignals; i++)
        if (strcmp(a->signals[i].key, key) == 0) a->signals[i].waited = true;
}

static bool is_signal_call(const node_t *n) {
    return n && n->kind == K_CALL && strcmp(n->name, "fa_barrier_signal") == 0;
}

static void hand_over_signal(actx_t *a, const node_t *call) {
    for (size_t i = 0; i < a->nsignals; i++)
        if (a->signals[i].at == call) a->signals[i].handed = true;
}

/* ---- expressions -------------------------------------------------------- */

static unsigned eval(actx_t *a, state_t *s, const node_t *n);
static void exec(actx_t *a, state_t *s, const node_t *n);

static void describe(const node_t *n, char *buf, size_t len) {
    char t[200];
    expr_text(n, t, sizeof t);
    snprintf(buf, len, "'%s'", t);
}

static void frame_end(actx_t *a, state_t *s, const node_t *call) {
    s->frame = F_OUT;
    for (unsigned v = 0; v < a->nvars; v++)
        if ((s->origin[v] & O_FRAME) && !a->fn->vars[v].is_static) {
            s->stale[v] = 1;
            s->stale_line[v] = line_of(a, call);
        }
}

/* A store of value into lhs (assignment or initialisation). */
static void store(actx_t *a, state_t *s, const node_t *lhs, unsigned value, const node_t *rhs,
                  const node_t *at) {
    char what[224], target[224];
    describe(rhs, what, sizeof what);
    expr_text(lhs, target, sizeof target);
    if (lhs->kind == K_VAR) {
        if (lhs->var >= 0 && !(lhs->flags & NF_GLOBAL)) {
            s->origin[lhs->var] = value;
            s->stale[lhs->var] = 0;
            if (value & O_LONG_LIVED)
                add_long_lived(a, a->fn->vars[lhs->var].record, a->fn->vars[lhs->var].alias);
            return;
        }
        if (value & O_FRAMEISH)
            emit(a, R_FA601, at, target, "frame memory from %s stored in %s variable '%s'", what,
                 lhs->var >= 0 ? "static" : "global", target);
        param_sinks(a, value, S_ESCAPE);
        return;
    }
    if (lhs->kind != K_MEMBER && lhs->kind != K_INDEX && lhs->kind != K_DEREF) return;
    /* The innermost variable and what the written object is. */
    const node_t *base = lhs->nchild ? lhs->child[0] : NULL;
    unsigned base_origin = base ? eval(a, s, base) : 0;
    const node_t *root = base;
    bool through_pointer = base && (base->flags & NF_PTR) && !(base->flags & NF_ARRAY);
    while (
        root &&
        (root->kind == K_MEMBER || root->kind == K_INDEX || root->kind == K_DEREF || root->kind == K_ADDR) &&
        root->nchild) {
        if ((root->kind == K_MEMBER && (root->child[0]->flags & NF_PTR) &&
             !(root->child[0]->flags & NF_ARRAY)) ||
            root->kind == K_DEREF)
            through_pointer = true;
        root = root->child[0];
    }
    bool root_global = root && root->kind == K_VAR && (root->flags & NF_GLOBAL);
    if (lhs->kind == K_MEMBER && lhs->name && strcmp(lhs->name, "data") == 0 && lhs->record &&
        strncmp(lhs->record, "uv_", 3) == 0) {
        if (value & O_FRAMEISH)
            emit(a, R_FA701, at, target, "frame memory from %s stored in '%s' of libuv %s", what, target,
                 lhs->record);
        param_sinks(a, value, S_ASYNC);
        if (root && root->kind == K_VAR && root->var >= 0 && (value & O_FRAMEISH))
            s->origin[root->var] |= O_HELD;
        return;
    }
    const char *why = NULL;
    if (root_global)
        why = "global";
    else if (base_origin & O_LONG_LIVED)
        why = origin_name(base_origin & O_LONG_LIVED);
    else if (lhs->kind == K_MEMBER && long_lived_type(a, lhs->record, lhs->alias))
        why = "long-lived struct";
    if (why) {
        if (value & O_FRAMEISH) {
            if (strcmp(why, "long-lived struct") == 0)
                emit(a, R_FA601, at, target, "frame memory from %s stored in '%s' of long-lived struct '%s'",
                     what, target, lhs->alias ? lhs->alias : lhs->record);
            else
                emit(a, R_FA601, at, target, "frame memory from %s stored in %s '%s'", what, why, target);
        }
        param_sinks(a, value, S_ESCAPE);
        return;
    }
    if (root && root->kind == K_VAR && root->var >= 0 && (value & O_FRAMEISH)) {
        if (!through_pointer && lhs->kind == K_INDEX && root == base)
            s->origin[root->var] |= O_FRAME;
        else
            s->origin[root->var] |= O_HELD;
    }
}

static unsigned address_of(actx_t *a, state_t *s, const node_t *n) {
    if (!n) return 0;
    switch (n->kind) {
    case K_VAR:
        return n->var >= 0 ? s->origin[n->var] : 0;
    case K_MEMBER:
    case K_INDEX:
        if (n->nchild && (n->child[0]->flags & NF_PTR)) return eval(a, s, n->child[0]) & ~O_HELD;
        return n->nchild ? address_of(a, s, n->child[0]) : 0;
    case K_DEREF:
        return n->nchild ? eval(a, s, n->child[0]) : 0;
    default:
        return eval(a, s, n);
    }
}

/* FA605: a free of value by a function that expects `expects`. */
static void check_free(actx_t *a, const node_t *call, const node_t *arg, unsigned value, unsigned expects) {
    static const struct {
        unsigned origin, sink;
    } kinds[] = {
        {O_POOL, S_FREE_POOL}, {O_HEAP, S_FREE_HEAP}, {O_MALLOC, S_FREE_MALLOC}, {O_TASK, S_FREE_TASK}};
    unsigned sink = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].origin == expects) sink = kinds[i].sink;
    param_sinks(a, value, sink);
    unsigned wrong = value & (O_FRAME | O_LONG_LIVED) & ~expects;
    if (!wrong) return;
    char what[224];
    describe(arg, what, sizeof what);
    emit(a, R_FA605, call, call->name, "%s holds %s but is given to %s", what, origin_name(wrong),
         call->name);
}

static unsigned expected_by_sink(unsigned sink) {
    if (sink & S_FREE_POOL) return O_POOL;
    if (sink & S_FREE_HEAP) return O_HEAP;
    if (sink & S_FREE_MALLOC) return O_MALLOC;
    if (sink & S_FREE_TASK) return O_TASK;
    return 0;
}

static void note_alloc(actx_t *a, bool *flag, alloc_site_t *site, const node_t *call, const char *what) {
    if (!*flag) *site = (alloc_site_t){line_of(a, call), what};
    mark_changed_bool(a, flag);
}

static void mark_callback(actx_t *a, const node_t *fn_ref, int kind, bool fed) {
    if (!fn_ref || fn_ref->kind != K_FUNC) return;
    summary_t *cb = summary_of(a, fn_ref->name);
    if (!cb) return;
    if (kind == 0)
        mark_changed_bool(a, &cb->thread_fn);
    else
        mark_changed_bool(a, &cb->work_cb);
    if (fed) mark_changed_bool(a, &cb->fed_cb);
}

static unsigned eval_call(actx_t *a, state_t *s, const node_t *n) {
    const char *name = n->name;
    unsigned argo[MAX_PARAMS] = {0};
    bool is_wait = strcmp(name, "fa_barrier_wait") == 0;
    for (unsigned i = 0; i < n->nchild; i++) {
        if (is_wait && i == 1) a->wait_round++;
        unsigned o = eval(a, s, n->child[i]);
        if (is_wait && i == 1) a->wait_round--;
        if (i < MAX_PARAMS) argo[i] = o;
        if (is_signal_call(n->child[i])) hand_over_signal(a, n->child[i]);
    }
    char what[224];

    if (name_in(name, frame_sources)) {
        note_alloc(a, &a->sum->allocs_frame, &a->sum->frame_site, n, name);
        if (s->frame == F_OUT)
            emit(a, R_FA603, n, name,
                 "%s in '%s' outside any frame (no fa_begin_frame before it on this path)", name,
                 a->fn->name);
        loop_allocation(a, s, n);
        if ((strcmp(name, "fa_frame_alloc2") == 0 || strcmp(name, "fa_frame_alloc4") == 0 ||
             strcmp(name, "fa_frame_alloc8") == 0) &&
            n->nchild >= 4 && n->child[3]->kind == K_VAR && n->child[3]->var >= 0)
            s->origin[n->child[3]->var] |= O_FRAME;
        return O_FRAME;
    }
    if (name_in(name, frame_views)) return O_FRAME;
    if (name_in(name, frame_containers)) {
        if (n->nchild && n->child[0]->kind == K_ADDR && n->child[0]->nchild &&
            n->child[0]->child[0]->kind == K_VAR && n->child[0]->child[0]->var >= 0)
            s->origin[n->child[0]->child[0]->var] |= O_HELD;
        return 0;
    }
    if (strcmp(name, "fa_pool_alloc") == 0 || strcmp(name, "fa_pool_alloc_at") == 0 ||
        strcmp(name, "fa_pool_alloc_tagged") == 0 || strcmp(name, "fa_pool_realloc") == 0) {
        mark_changed_bool(a, &a->sum->allocs_pool);
        loop_allocation(a, s, n);
        if (strcmp(name, "fa_pool_realloc") == 0 && n->nchild > 1)
            check_free(a, n, n->child[1], argo[1], O_POOL);
        return O_POOL;
    }
    if (strcmp(name, "fa_task_alloc") == 0) {
        mark_changed_bool(a, &a->sum->allocs_pool);
        loop_allocation(a, s, n);
        return O_TASK;
    }
    bool is_malloc = name_in(name, malloc_sources) || strcmp(name, "posix_memalign") == 0;
    bool is_heap = strcmp(name, "fa_heap_alloc") == 0 || strcmp(name, "fa_heap_alloc_at") == 0 ||
                   strcmp(name, "fa_heap_alloc_tagged") == 0 || strcmp(name, "fa_heap_realloc") == 0;
    if (is_malloc || is_heap) {
        note_alloc(a, &a->sum->allocs_heap, &a->sum->heap_site, n, name);
        if (s->frame == F_IN)
            emit(a, R_FA602, n, name,
                 "%s inside the frame loop of '%s' (between fa_begin_frame and fa_end_frame)", name,
                 a->fn->name);
        if (!is_malloc) loop_allocation(a, s, n);
        if (strcmp(name, "realloc") == 0 && n->nchild) check_free(a, n, n->child[0], argo[0], O_MALLOC);
        if (strcmp(name, "fa_heap_realloc") == 0 && n->nchild > 1)
            check_free(a, n, n->child[1], argo[1], O_HEAP);
        if (strcmp(name, "posix_memalign") == 0 && n->nchild && n->child[0]->kind == K_ADDR &&
            n->child[0]->nchild && n->child[0]->child[0]->kind == K_VAR && n->child[0]->child[0]->var >= 0)
            s->origin[n->child[0]->child[0]->var] = O_MALLOC;
        return is_malloc ? O_MALLOC : O_HEAP;
    }
    if ((strcmp(name, "fa_pool_free") == 0 || strcmp(name, "fa_pool_free_at") == 0) && n->nchild >= 2) {
        check_free(a, n, n->child[1], argo[1], O_POOL);
        return 0;
    }
    if ((strcmp(name, "fa_heap_free") == 0 || strcmp(name, "fa_heap_free_at") == 0) && n->nchild >= 2) {
        check_free(a, n, n->child[1], argo[1], O_HEAP);
        return 0;
    }
    if (strcmp(name, "free") == 0 && n->nchild >= 1) {
        check_free(a, n, n->child[0], argo[0], O_MALLOC);
        return 0;
    }
    if (strcmp(name, "fa_task_free") == 0 && n->nchild >= 2) {
        check_free(a, n, n->child[1], argo[1], O_TASK);
        return 0;
    }
    if (strcmp(name, "fa_begin_frame") == 0) {
        s->frame = F_IN;
        mark_changed_bool(a, &a->sum->begins_frame);
        mark_changed_bool(a, &a->sum->opens_frame);
        return 0;
    }
    if (strcmp(name, "fa_end_frame") == 0 || strcmp(name, "fa_end_frame_with_promotions") == 0) {
        frame_end(a, s, n);
        mark_changed_bool(a, &a->sum->begins_frame);
        return 0;
    }
    if (strcmp(name, "fa_create") == 0) {
        s->frame = F_OUT;
        return 0;
    }
    if (strcmp(name, "fa_tag_push") == 0) {
        tag_push(a, s, n, false);
        return 0;
    }
    if (strcmp(name, "fa_tag_push_id") == 0) {
        tag_push(a, s, n, false); /* by id: the path is not known here */
        return 0;
    }
    if (strcmp(name, "fa__tag_guard_begin") == 0) {
        tag_push(a, s, n, true);
        return 0;
    }
    if (strcmp(name, "fa_tag_pop") == 0) {
        tag_pop(s);
        return 0;
    }
    if (strcmp(name, "fa_budget_set") == 0 || strcmp(name, "fa_budget_set_ex") == 0) {
        for (unsigned i = 0; i < n->nstrings; i++) {
            if (!strlist_has(&a->out->budgets, n->strings[i])) strlist_add(&a->out->budgets, n->strings[i]);
        }
        const char *tag = string_arg(n, 1);
        if (tag && a->report && reported_at(a, n) && config_has_declared_tags(a->o->cfg) &&
            !config_tag_declared(a->o->cfg, tag))
            emit(a, R_FA801, n, tag, "tag '%s' is not declared in .fa.toml [tags] declared", tag);
        return 0;
    }
    if (strcmp(name, "fa_task_begin") == 0) {
        const char *tag = string_arg(n, 1);
        if (tag) tag_used(a, n, tag, false);
        return 0;
    }
    if (strcmp(name, "fa_barrier_signal") == 0) {
        barrier_signal(a, n);
        return 0;
    }
    if (is_wait) {
        barrier_wait(a, n);
        return 0;
    }
    int thread_fn = -1, thread_arg = -1;
    if (strcmp(name, "pthread_create") == 0)
        thread_fn = 2, thread_arg = 3;
    else if (strcmp(name, "thrd_create") == 0 || strcmp(name, "uv_thread_create") == 0)
        thread_fn = 1, thread_arg = 2;
    if (thread_fn >= 0 && (int)n->nchild > thread_arg) {
        const node_t *fn = n->child[thread_fn];
        mark_callback(a, fn, 0, false);
        if (argo[thread_arg] & O_FRAMEISH) {
            describe(n->child[thread_arg], what, sizeof what);
            emit(a, R_FA201, n, fn->name ? fn->name : name,
                 "frame memory from %s passed to thread '%s' by %s without fa_transfer_*", what,
                 fn->kind == K_FUNC && fn->name ? fn->name : "?", name);
        }
        param_sinks(a, argo[thread_arg], S_THREAD);
        return 0;
    }
    if (strcmp(name, "uv_queue_work") == 0 && n->nchild >= 4) {
        bool fed = argo[1] & O_FRAMEISH;
        mark_callback(a, n->child[2], 1, fed);
        mark_callback(a, n->child[3], 1, fed);
        if (fed) {
            describe(n->child[1], what, sizeof what);
            emit(a, R_FA201, n, "uv_queue_work",
                 "request %s carries frame memory to libuv's thread pool (uv_queue_work) without "
                 "fa_transfer_*",
                 what);
        }
        param_sinks(a, argo[1], S_THREAD);
        return 0;
    }
    if ((strcmp(name, "uv_handle_set_data") == 0 || strcmp(name, "uv_req_set_data") == 0) && n->nchild >= 2) {
        if (argo[1] & O_FRAMEISH) {
            describe(n->child[1], what, sizeof what);
            emit(a, R_FA701, n, name, "frame memory from %s stored in a libuv %s by %s", what,
                 name[3] == 'h' ? "handle" : "request", name);
        }
        param_sinks(a, argo[1], S_ASYNC);
        return 0;
    }

    summary_t *callee = summary_of(a, name);
    if (callee) {
        unsigned ret = callee->returns & ~O_PARAMS;
        for (unsigned i = 0; i < n->nchild && i < MAX_PARAMS; i++) {
            if (callee->returns & (O_PARAM0 << i)) ret |= argo[i];
            unsigned sink = callee->param_sink[i];
            if (!sink) continue;
            param_sinks(a, argo[i], sink);
            if (!(argo[i] & (O_FRAMEISH | O_LONG_LIVED))) continue;
            describe(n->child[i], what, sizeof what);
            if ((sink & S_ESCAPE) && (argo[i] & O_FRAMEISH))
                emit(a, R_FA601, n, name,
                     "frame memory from %s passed to '%s', which stores it beyond the frame", what, name);
            if ((sink & S_THREAD) && (argo[i] & O_FRAMEISH))
                emit(a, R_FA201, n, name,
                     "frame memory from %s passed to '%s', which hands it to another thread", what, name);
            if ((sink & S_ASYNC) && (argo[i] & O_FRAMEISH))
                emit(a, R_FA701, n, name,
                     "frame memory from %s passed to '%s', which stores it for a libuv callback", what, name);
            unsigned expects = expected_by_sink(sink);
            unsigned wrong = argo[i] & (O_FRAME | O_LONG_LIVED) & ~expects;
            if (expects && wrong)
                emit(a, R_FA605, n, name, "%s holds %s but '%s' frees it as %s", what, origin_name(wrong),
                     name, origin_name(expects));
        }
        if (callee->allocs_frame && !callee->begins_frame) {
            note_alloc(a, &a->sum->allocs_frame, &a->sum->frame_site, n, name);
            if (s->frame == F_OUT)
                emit(a, R_FA603, n, name,
                     "call to '%s' allocates frame memory (%s at line %u) outside any frame", name,
                     callee->frame_site.what ? callee->frame_site.what : "?", callee->frame_site.line);
        }
        if (callee->allocs_pool) mark_changed_bool(a, &a->sum->allocs_pool);
        if ((callee->allocs_pool || callee->allocs_frame || callee->allocs_heap) && !callee->begins_frame)
            loop_allocation(a, s, n);
        if (callee->allocs_heap && !callee->begins_frame) {
            note_alloc(a, &a->sum->allocs_heap, &a->sum->heap_site, n, name);
            if (s->frame == F_IN)
                emit(a, R_FA602, n, name,
                     "call to '%s' allocates from the heap (%s at line %u) inside the frame loop of '%s'",
                     name, callee->heap_site.what ? callee->heap_site.what : "?", callee->heap_site.line,
                     a->fn->name);
        }
        return ret;
    }
    /* An outside function that takes a callback: what else it is given is
     * read when the callback runs (FA701), unless it calls back at once. */
    if (!calls_back_at_once(a, name)) {
        const node_t *cb = NULL;
        for (unsigned i = 0; i < n->nchild; i++)
            if (n->child[i]->kind == K_FUNC || (n->child[i]->flags & NF_FUNCPTR)) cb = n->child[i];
        if (cb) {
            for (unsigned i = 0; i < n->nchild && i < MAX_PARAMS; i++) {
                if (n->child[i] == cb || !(n->child[i]->flags & NF_PTR)) continue;
                param_sinks(a, argo[i], S_ASYNC);
                if (!(argo[i] & O_FRAMEISH)) continue;
                char cbname[160];
                expr_text(cb, cbname, sizeof cbname);
                describe(n->child[i], what, sizeof what);
                emit(a, R_FA701, n, name, "frame memory from %s passed to %s with callback '%s'", what, name,
                     cbname);
            }
        }
    }
    return 0;
}

static unsigned eval(actx_t *a, state_t *s, const node_t *n) {
    if (!n) return 0;
    switch (n->kind) {
    case K_VAR: {
        if (n->var < 0) return 0;
        if (s->stale[n->var] && !s->dead) {
            if (!a->stale_reported[n->var])
                emit(a, R_FA604, n, n->name, "'%s' holds frame memory released by fa_end_frame at line %u",
                     n->name, s->stale_line[n->var]);
            a->stale_reported[n->var] = 1;
        }
        if (!a->wait_round) {
            signal_rec_t *sig = signal_of_var(a, n->var);
            if (sig) sig->handed = true;
        }
        return s->origin[n->var];
    }
    case K_CALL:
        return eval_call(a, s, n);
    case K_ASSIGN: {
        if (n->nchild != 2) return 0;
        const node_t *lhs = n->child[0], *rhs = n->child[1];
        unsigned v = eval(a, s, rhs);
        if (n->op == 'c') {
            if (lhs->kind != K_VAR) eval(a, s, lhs);
            return lhs->kind == K_VAR && lhs->var >= 0 ? s->origin[lhs->var] : 0;
        }
        if (rhs->kind == K_CALL && strcmp(rhs->name, "fa_tag_push") == 0 && lhs->kind == K_VAR &&
            lhs->var >= 0)
            a->push_of_var[lhs->var] = rhs;
        if (is_signal_call(rhs) && lhs->kind == K_VAR && lhs->var >= 0) {
            for (size_t i = 0; i < a->nsignals; i++)
                if (a->signals[i].at == rhs) a->signals[i].var = lhs->var;
        } else if (is_signal_call(rhs)) {
            hand_over_signal(a, rhs);
        }
        store(a, s, lhs, v, rhs, n);
        return v;
    }
    case K_ADDR:
        return n->nchild ? address_of(a, s, n->child[0]) : 0;
    case K_DEREF:
        if (n->nchild) eval(a, s, n->child[0]);
        return 0;
    case K_MEMBER: {
        unsigned b = n->nchild ? eval(a, s, n->child[0]) : 0;
        if (n->name && strcmp(n->name, "data") == 0 && a->sum->fed_cb && n->nchild &&
            n->child[0]->kind == K_VAR && n->child[0]->var >= 0 && a->fn->vars[n->child[0]->var].is_param) {
            char t[200];
            expr_text(n, t, sizeof t);
            emit(a, R_FA702, n, a->fn->name,
                 "libuv callback '%s' reads '%s', which holds frame memory of an earlier frame", a->fn->name,
                 t);
        }
        return (b & O_HELD) && (n->flags & NF_PTR) ? O_FRAME : 0;
    }
    case K_INDEX: {
        unsigned b = n->nchild ? eval(a, s, n->child[0]) : 0;
        for (unsigned i = 1; i < n->nchild; i++)
            eval(a, s, n->child[i]);
        /* A local array carries its elements' origins; an element read
         * through a pointer is not the container's kind of memory. */
        const node_t *base = n->nchild ? n->child[0] : NULL;
        bool local_array = base && base->kind == K_VAR && (base->flags & NF_ARRAY) && base->var >= 0;
        return (n->flags & NF_PTR) && local_array ? b : 0;
    }
    case K_COND: {
        unsigned o = 0;
        for (unsigned i = 0; i < n->nchild; i++) {
            unsigned v = eval(a, s, n->child[i]);
            if (i > 0 || n->nchild == 2) o |= v;
        }
        return o;
    }
    case K_ARITH: {
        unsigned o = 0;
        for (unsigned i = 0; i < n->nchild; i++) {
            unsigned v = eval(a, s, n->child[i]);
            if (n->op == ',')
                o = v;
            else
                o |= v;
        }
        return (n->flags & NF_PTR) ? o : 0;
    }
    case K_CMP:
        for (unsigned i = 0; i < n->nchild; i++)
            eval(a, s, n->child[i]);
        return 0;
    case K_INIT: {
        unsigned o = 0;
        for (unsigned i = 0; i < n->nchild; i++)
            o |= eval(a, s, n->child[i]);
        return (o & O_FRAMEISH) ? (O_HELD | (o & O_PARAMS)) : (o & O_PARAMS);
    }
    case K_STRING:
    case K_INTEGER:
    case K_FUNC:
        return 0;
    case K_OTHER: {
        for (unsigned i = 0; i < n->nchild; i++)
            eval(a, s, n->child[i]);
        return 0;
    }
    default:
        /* A statement inside an expression (GNU statement expression). */
        exec(a, s, n);
        return 0;
    }
}

/* ---- statements --------------------------------------------------------- */

static const node_t *push_in_condition(actx_t *a, const node_t *cond, bool *then_failed) {
    if (cond->kind != K_CMP || cond->nchild != 2) return NULL;
    const node_t *call = cond->child[0], *rhs = cond->child[1];
    if (call->kind == K_VAR && call->var >= 0 && a->push_of_var[call->var]) call = a->push_of_var[call->var];
    if (call->kind != K_CALL || strcmp(call->name, "fa_tag_push") != 0 || rhs->kind != K_INTEGER ||
        ir_integer(rhs) != 0)
        return NULL;
    if (cond->op == '<')
        *then_failed = true;
    else if (cond->op == 'g')
        *then_failed = false;
    else
        return NULL;
    return call;
}

static bool is_push_call(const node_t *n) {
    return n->kind == K_CALL &&
           (strcmp(n->name, "fa_tag_push") == 0 || strcmp(n->name, "fa_tag_push_id") == 0);
}

/* The push whose success an expression tells: `fa_tag_push(...) >= 0`,
 * also under `x && ...` (bool pushed = !busy && fa_tag_push_id(...) >= 0). */
static const node_t *push_success_test(const node_t *n) {
    if (n->kind == K_CMP && n->nchild == 2 && is_push_call(n->child[0]) && n->child[1]->kind == K_INTEGER &&
        ir_integer(n->child[1]) == 0 && (n->op == 'g' || n->op == 'n'))
        return n->child[0];
    if (n->kind == K_ARITH && n->op == 'A' && n->nchild == 2) return push_success_test(n->child[1]);
    return NULL;
}

static void drop_push(state_t *s, const node_t *call) {
    for (int i = s->ntags; i-- > 0;)
        if (s->tags[i].at == call) {
            memmove(&s->tags[i], &s->tags[i + 1], (size_t)(s->ntags - i - 1) * sizeof s->tags[0]);
            s->ntags--;
            return;
        }
}

static void exec_if(actx_t *a, state_t *s, const node_t *n) {
    if (n->nchild < 2) return;
    eval(a, s, n->child[0]);
    bool then_failed = false;
    const node_t *push = push_in_condition(a, n->child[0], &then_failed);
    const node_t *cond = n->child[0];
    bool negated = cond->kind == K_ARITH && cond->op == '!' && cond->nchild == 1;
    const node_t *flag = negated ? cond->child[0] : cond;
    if (!push && flag->kind == K_VAR && flag->var >= 0 && a->pushed_flag[flag->var]) {
        /* if (pushed) fa_tag_pop(fa): the push only happened on one side. */
        push = a->pushed_flag[flag->var];
        then_failed = negated;
    }
    state_t other;
    state_dup(a, &other, s);
    if (push) drop_push(then_failed ? s : &other, push);
    exec(a, s, n->child[1]);
    if (n->nchild > 2) exec(a, &other, n->child[2]);
    state_join(a, s, &other);
    state_free(&other);
}

/* Enters a loop or switch: where break and continue go. NULL when nested
 * too deep to follow (the construct is then skipped). */
static flow_ctx_t *flow_enter(actx_t *a, const state_t *s, bool is_switch) {
    if (a->nflows == (int)(sizeof a->flows / sizeof a->flows[0])) return NULL;
    flow_ctx_t *f = &a->flows[a->nflows++];
    memset(f, 0, sizeof *f);
    f->is_switch = is_switch;
    f->tag_depth = open_pushes(s);
    state_init(a, &f->breaks);
    f->breaks.dead = true;
    return f;
}

static void flow_leave(actx_t *a, state_t *s, flow_ctx_t *f) {
    state_join(a, s, &f->breaks);
    state_free(&f->breaks);
    a->nflows--;
}

static void exec_loop(actx_t *a, state_t *s, const node_t *n) {
    if (!n->nchild) return;
    unsigned body = n->op == 'd' ? 0 : n->nchild - 1;
    flow_ctx_t *f = flow_enter(a, s, false);
    if (!f) return;
    bool unbounded = n->flags & NF_UNBOUNDED;
    a->unbounded += unbounded;
    state_t before;
    state_dup(a, &before, s);
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < n->nchild; i++)
            if (i != body) eval(a, s, n->child[i]);
        exec(a, s, n->child[body]);
        if (pass == 0) {
            state_t head;
            state_dup(a, &head, &before);
            state_join(a, &head, s);
            /* Staleness must hold on every path into the head. */
            state_copy(a, s, &head);
            state_free(&head);
        }
    }
    a->unbounded -= unbounded;
    state_join(a, s, &before);
    state_free(&before);
    flow_leave(a, s, f);
}

static void exec_switch(actx_t *a, state_t *s, const node_t *n) {
    if (n->nchild < 2) return;
    eval(a, s, n->child[0]);
    flow_ctx_t *f = flow_enter(a, s, true);
    if (!f) return;
    state_t entry;
    state_dup(a, &entry, s);
    f->entry = &entry;
    exec(a, s, n->child[1]);
    state_join(a, s, &entry);
    state_free(&entry);
    flow_leave(a, s, f);
}

static void leave_path(actx_t *a, state_t *s) {
    s->dead = true;
    (void)a;
}

static void exec(actx_t *a, state_t *s, const node_t *n) {
    if (!n) return;
    if (s->dead && n->kind != K_LABEL && n->kind != K_CASE && n->kind != K_BLOCK && n->kind != K_SEQ) return;
    switch (n->kind) {
    case K_BLOCK: {
        a->block_depth++;
        for (unsigned i = 0; i < n->nchild; i++)
            exec(a, s, n->child[i]);
        tags_leave_block(s, a->block_depth);
        a->block_depth--;
        return;
    }
    case K_SEQ:
        for (unsigned i = 0; i < n->nchild; i++)
            exec(a, s, n->child[i]);
        return;
    case K_TAGSCOPE:
        a->block_depth++;
        eval(a, s, n->child[0]);
        if (n->nchild > 1) exec(a, s, n->child[1]);
        tags_leave_block(s, a->block_depth);
        a->block_depth--;
        return;
    case K_IF:
        exec_if(a, s, n);
        return;
    case K_LOOP:
        exec_loop(a, s, n);
        return;
    case K_SWITCH:
        exec_switch(a, s, n);
        return;
    case K_CASE:
        if (s->dead) {
            for (int i = a->nflows; i-- > 0;)
                if (a->flows[i].is_switch) {
                    state_copy(a, s, a->flows[i].entry);
                    break;
                }
        } else {
            for (int i = a->nflows; i-- > 0;)
                if (a->flows[i].is_switch) {
                    state_join(a, s, a->flows[i].entry);
                    break;
                }
        }
        for (unsigned i = 0; i < n->nchild; i++)
            exec(a, s, n->child[i]);
        return;
    case K_RETURN: {
        if (n->nchild) {
            const node_t *v = n->child[0];
            unsigned o = eval(a, s, v);
            if (is_signal_call(v)) hand_over_signal(a, v);
            if ((o & O_FRAME) && !name_in(a->fn->name, frame_sources) && !name_in(a->fn->name, frame_views) &&
                !config_frame_function(a->o->cfg, a->fn->name)) {
                char what[224];
                describe(v, what, sizeof what);
                emit(a, R_FA601, n, a->fn->name,
                     "'%s' returns frame memory from %s (if that is its job, list it in .fa.toml "
                     "lint.frame_functions)",
                     a->fn->name, what);
            }
            mark_changed_bits(a, &a->sum->returns, o & (O_FRAME | O_LONG_LIVED | O_PARAMS));
        }
        check_unpopped(a, s, 0, n, "return");
        leave_path(a, s);
        return;
    }
    case K_BREAK:
    case K_CONTINUE: {
        int k = a->nflows - 1;
        if (n->kind == K_CONTINUE)
            while (k >= 0 && a->flows[k].is_switch)
                k--;
        if (k >= 0) {
            check_unpopped(a, s, a->flows[k].tag_depth, n, n->kind == K_BREAK ? "break" : "continue");
            if (n->kind == K_BREAK) state_join(a, &a->flows[k].breaks, s);
        }
        leave_path(a, s);
        return;
    }
    case K_GOTO:
        xgrow(&a->gotos, &a->gotos_cap, a->ngotos + 1, sizeof *a->gotos);
        a->gotos[a->ngotos].label = n->name;
        state_dup(a, &a->gotos[a->ngotos].st, s);
        a->ngotos++;
        leave_path(a, s);
        return;
    case K_LABEL:
        for (size_t i = 0; i < a->ngotos; i++)
            if (n->name && a->gotos[i].label && strcmp(n->name, a->gotos[i].label) == 0)
                state_join(a, s, &a->gotos[i].st);
        for (unsigned i = 0; i < n->nchild; i++)
            exec(a, s, n->child[i]);
        return;
    case K_DECL: {
        if (!n->nchild) {
            if (n->var >= 0) s->origin[n->var] = 0;
            return;
        }
        const node_t *init = n->child[0];
        unsigned v = eval(a, s, init);
        if (n->var < 0) return;
        const ir_var_t *var = &a->fn->vars[n->var];
        if (init->kind == K_CALL && strcmp(init->name, "fa_tag_push") == 0) a->push_of_var[n->var] = init;
        a->pushed_flag[n->var] = push_success_test(init);
        if (is_signal_call(init)) {
            for (size_t i = 0; i < a->nsignals; i++)
                if (a->signals[i].at == init) a->signals[i].var = n->var;
        }
        if (var->is_static) {
            if (v & O_FRAMEISH) {
                char what[224];
                describe(init, what, sizeof what);
                emit(a, R_FA601, n, var->name, "frame memory from %s stored in static variable '%s'", what,
                     var->name);
            }
            return;
        }
        if (var->is_array && (v & O_HELD)) v |= O_FRAME;
        s->origin[n->var] = v;
        s->stale[n->var] = 0;
        if (v & O_LONG_LIVED) add_long_lived(a, var->record, var->alias);
        return;
    }
    default:
        eval(a, s, n);
        return;
    }
}

/* ---- functions and the unit ------------------------------------------------ */

static void analyze_function(actx_t *a, unsigned index) {
    ir_function_t *f = ir_function_at(a->u, index);
    a->fn = f;
    a->sum = &a->sums[index];
    a->nvars = f->nvars;
    a->block_depth = 0;
    a->unbounded = 0;
    a->nflows = 0;
    a->nsignals = 0;
    a->nreported_push = 0;
    a->wait_round = 0;
    free(a->stale_reported);
    a->stale_reported = xcalloc(f->nvars + 1, 1);
    free(a->push_of_var);
    a->push_of_var = xcalloc(f->nvars + 1, sizeof *a->push_of_var);
    free(a->pushed_flag);
    a->pushed_flag = xcalloc(f->nvars + 1, sizeof *a->pushed_flag);
    strlist_free(&a->wait_keys);
    collect_wait_keys(a, f->body);
    state_t s;
    state_init(a, &s);
    for (unsigned v = 0; v < f->nvars; v++)
        if (f->vars[v].is_param && f->vars[v].param_index < MAX_PARAMS)
            s.origin[v] = O_PARAM0 << f->vars[v].param_index;
    bool is_main = strcmp(f->name, "main") == 0;
    /* fa_begin_frame twice is an error, so a function that opens frames is
     * called outside one; so is main. */
    s.frame = is_main || a->sum->opens_frame ? F_OUT : F_UNKNOWN;
    exec(a, &s, f->body);
    if (!s.dead) {
        ir_locate(a->u, f->body);
        node_t end = {
            .file = f->body->file, .line = f->body->end_line, .col = f->body->end_col, .located = true};
        check_unpopped(a, &s, 0, &end, "end of the function");
    }
    for (size_t i = 0; i < a->ngotos; i++)
        state_free(&a->gotos[i].st);
    a->ngotos = 0;
    state_free(&s);
}

static void function_checks(actx_t *a, unsigned index) {
    ir_function_t *f = ir_function_at(a->u, index);
    summary_t *sum = &a->sums[index];
    a->fn = f;
    node_t at = {.file = f->file,
                 .line = f->line,
                 .col = f->col,
                 .end_line = f->line,
                 .end_col = f->col,
                 .located = true};
    if (sum->thread_fn && sum->allocs_frame && !sum->begins_frame)
        emit(a, R_FA202, &at, f->name,
             "thread function '%s' allocates frame memory (%s at line %u) without its own "
             "fa_begin_frame/fa_end_frame",
             f->name, sum->frame_site.what ? sum->frame_site.what : "?", sum->frame_site.line);
    if (sum->work_cb && sum->allocs_frame && !sum->begins_frame)
        emit(a, R_FA702, &at, f->name,
             "libuv callback '%s' allocates frame memory (%s at line %u), where no frame is open", f->name,
             sum->frame_site.what ? sum->frame_site.what : "?", sum->frame_site.line);
}

char *path_below(const char *root, const char *abs) {
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') return xstrdup(abs + (abs[0] == '/'));
    if (strncmp(abs, root, n) != 0 || abs[n] != '/') return NULL;
    return xstrdup(abs + n + 1);
}

static bool report_file(const char *abs, char **rel_out, void *user) {
    actx_t *a = user;
    char *rel = path_below(a->o->root, abs);
    *rel_out = rel;
    if (!rel) return false;
    if (config_excluded(a->o->cfg, rel)) return false;
    if (!strlist_has(&a->out->files, abs)) strlist_add(&a->out->files, abs);
    return true;
}

void analyze_unit(CXTranslationUnit tu, const analyze_opts_t *opts, unit_result_t *out) {
    actx_t a = {.o = opts, .out = out};
    a.u = ir_build(tu, report_file, &a);
    a.nfuncs = ir_function_count(a.u);
    a.sums = xcalloc(a.nfuncs + 1, sizeof *a.sums);
    /* Summaries only grow, so this ends; 8 rounds cover call chains deeper
     * than any seen in practice, and a missed round only loses findings. */
    for (int round = 0; round < 8; round++) {
        a.changed = false;
        for (unsigned i = 0; i < a.nfuncs; i++)
            analyze_function(&a, i);
        if (!a.changed) break;
    }
    a.report = true;
    for (unsigned i = 0; i < a.nfuncs; i++)
        analyze_function(&a, i);
    for (unsigned i = 0; i < a.nfuncs; i++)
        function_checks(&a, i);
    free(a.sums);
    free(a.gotos);
    free(a.signals);
    free(a.reported_push);
    free(a.stale_reported);
    free(a.push_of_var);
    free(a.pushed_flag);
    strlist_free(&a.wait_keys);
    strlist_free(&a.long_lived);
    strlist_free(&a.pool);
    ir_free(a.u);
}

void unit_result_free(unit_result_t *r) {
    findings_free(&r->findings);
    strlist_free(&r->budgets);
    strlist_free(&r->files);
}
