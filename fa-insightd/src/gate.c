/* gate.c — the shared ingest secret (see gate.h). */
#include "gate.h"

#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "fa_proto.h"
#include "log.h"
#include "stats.h"

enum { CONN_ADMITTED = 1, CONN_REFUSED = 2 };

typedef struct conn {
    uint32_t source; /* 0: free slot */
    uint8_t state;
} conn_t;

struct gate {
    char secret[FA_PROTO_MAX_STRING + 1];
    bool (*source_open)(uint32_t source);
    conn_t *conns; /* open addressing, linear probing; cap a power of two */
    uint32_t cap, used;
    fa_proto_tag_def_t *defs; /* decode storage for HELLOs */
    log_limiter_t refuse_lim;
};

#define GATE_MIN_CAP 256u

gate_t *gate_create(const char *secret, bool (*source_open)(uint32_t source)) {
    size_t n = secret ? strlen(secret) : 0;
    if (n == 0 || n > FA_PROTO_MAX_STRING) return NULL;
    gate_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    memcpy(g->secret, secret, n + 1);
    g->source_open = source_open;
    g->cap = GATE_MIN_CAP;
    g->conns = calloc(g->cap, sizeof *g->conns);
    g->defs = calloc(FA_PROTO_MAX_ROWS, sizeof *g->defs);
    if (!g->conns || !g->defs) {
        gate_destroy(g);
        return NULL;
    }
    return g;
}

void gate_destroy(gate_t *g) {
    if (!g) return;
    explicit_bzero(g->secret, sizeof g->secret);
    free(g->conns);
    free(g->defs);
    free(g);
}

uint32_t gate_connections(const gate_t *g) {
    return g->used;
}

static uint32_t slot_of(const gate_t *g, uint32_t source) {
    uint32_t i = (source * 2654435761u) & (g->cap - 1);
    while (g->conns[i].source && g->conns[i].source != source)
        i = (i + 1) & (g->cap - 1);
    return i;
}

/* Rebuilds the table at cap, keeping the connections still open. */
static bool rebuild(gate_t *g, uint32_t cap) {
    conn_t *old = g->conns;
    uint32_t old_cap = g->cap;
    conn_t *fresh = calloc(cap, sizeof *fresh);
    if (!fresh) return false;
    g->conns = fresh;
    g->cap = cap;
    g->used = 0;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].source && (!g->source_open || g->source_open(old[i].source))) {
            g->conns[slot_of(g, old[i].source)] = old[i];
            g->used++;
        }
    free(old);
    return true;
}

/* The entry of source, created when missing (NULL: out of memory). */
static conn_t *entry(gate_t *g, uint32_t source) {
    uint32_t i = slot_of(g, source);
    if (g->conns[i].source) return &g->conns[i];
    if (g->used + 1 > g->cap / 2) {
        /* Forget closed pipes first; grow only if the open ones need it. */
        if (!rebuild(g, g->cap)) return NULL;
        if (g->used + 1 > g->cap / 4 && !rebuild(g, g->cap * 2)) return NULL;
        i = slot_of(g, source);
    }
    g->conns[i].source = source;
    g->used++;
    return &g->conns[i];
}

/* Marks source refused (an admission is withdrawn); counts and logs each
 * connection once. */
static void refuse(gate_t *g, conn_t *c, uint32_t source, const char *why) {
    if (c && c->state != CONN_REFUSED) {
        c->state = CONN_REFUSED;
        g_stats.ingest_refused_connections++;
        /* Never the secret: only what was wrong and which connection. */
        log_limited(&g->refuse_lim, 5000, LOG_WARN, "ingest connection %u refused: %s (--ingest-secret-file)",
                    source, why);
    }
}

bool gate_admit(gate_t *g, const void *buf, size_t len, uint32_t source) {
    conn_t *c = source ? entry(g, source) : NULL; /* 0 is no connection: never admitted */
    fa_proto_header_t h;
    if (fa_proto_decode_header(buf, len, &h) != FA_PROTO_OK || h.type != FA_PROTO_HELLO) {
        if (c && c->state == CONN_ADMITTED) return true;
        g_stats.ingest_refused_unauthenticated++;
        refuse(g, c, source, "messages before a HELLO with the ingest secret");
        return false;
    }
    fa_proto_storage_t st = {.tag_defs = g->defs, .tag_defs_capacity = FA_PROTO_MAX_ROWS};
    fa_proto_msg_t m;
    if (fa_proto_decode(buf, len, &m, &st) != FA_PROTO_OK) {
        /* From an admitted connection the sessions reject and count it. */
        if (c && c->state == CONN_ADMITTED) return true;
        g_stats.ingest_refused_unauthenticated++;
        refuse(g, c, source, "a HELLO that does not decode");
        return false;
    }
    const fa_proto_str_t s = m.hello.ingest_secret;
    if (s.len && access_secret_equal(s.data, s.len, g->secret)) {
        if (c) c->state = CONN_ADMITTED;
        return c != NULL;
    }
    if (s.len)
        g_stats.ingest_refused_secret_wrong++;
    else
        g_stats.ingest_refused_secret_missing++;
    refuse(g, c, source, s.len ? "a HELLO with a wrong ingest secret" : "a HELLO without the ingest secret");
    return false;
}
