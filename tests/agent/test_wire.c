/* What reaches the daemon: every figure of a FRAME equals the snapshot lib
 * gives in the same frame-end, HELLO carries the session and the whole
 * dictionary, TAGS precede the first FRAME that uses a new tag or follows a
 * budget change, and seq numbers run without gaps. */
#include <criterion/criterion.h>

#include "agent_test.h"

/* Reference snapshots taken by a frame hook registered AFTER the agent's,
 * so in the same fa_end_frame and with the same figures. */
#define REF_FRAMES 256
#define REF_ROWS 128
#define REF_THREADS 8
#define REF_FINDINGS 16
#define REF_SITES 256 /* the agent's default max_site_rows: the same rows */
typedef struct ref {
    bool taken;
    fa_snapshot_t snap;
    fa_tag_row_t rows[REF_ROWS];
    fa_thread_row_t threads[REF_THREADS];
    fa_finding_t findings[REF_FINDINGS];
    fa_site_row_t sites[REF_SITES];
} ref_t;
static ref_t refs[REF_FRAMES];

static void ref_hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)user;
    ref_t *r = &refs[frame % REF_FRAMES];
    r->snap = (fa_snapshot_t){.rows = r->rows,
                              .rows_capacity = REF_ROWS,
                              .threads = r->threads,
                              .threads_capacity = REF_THREADS,
                              .findings = r->findings,
                              .findings_capacity = REF_FINDINGS,
                              .sites = r->sites,
                              .sites_capacity = REF_SITES};
    cr_assert_eq(fa_snapshot_take(fa, &r->snap), FA_OK);
    r->taken = true;
}

/* A second thread that allocated (pool and frame memory) and stays inside
 * its frame, so thread rows are not trivial and do not move. */
typedef struct worker {
    fa_alloc_t *fa;
    _Atomic int state; /* 1: allocated, 2: asked to finish */
    void *block;
} worker_t;

static void *worker_main(void *arg) {
    worker_t *w = arg;
    fa_begin_frame(w->fa);
    FA_WITH_TAG(w->fa, "sys2/part0") {
        (void)!fa_frame_alloc(w->fa, 3000, 16);
        w->block = fa_pool_alloc(w->fa, 700);
    }
    atomic_store(&w->state, 1);
    while (atomic_load(&w->state) != 2)
        t_sleep_us(200);
    fa_end_frame(w->fa);
    fa_pool_free(w->fa, w->block);
    return NULL;
}

/* Promotions (the pool copies stay until fa_destroy) and transfers, so
 * that those figures move too. */
static void promote_and_transfer(t_game_t *g, uint64_t frame) {
    void *p = fa_frame_alloc(g->fa, 200 + frame % 50, 16);
    fa_frame_retain(g->fa, p, 200, FA_RETAIN_PROMOTE_POOL, 0);
    (void)!fa_frame_alloc_retained(g->fa, 64, 16, FA_RETAIN_DISCARD, 0);
    fa_transfer_t h = fa_transfer_create(g->fa, 128);
    fa_transfer_send(g->fa, h);
    if (frame % 2) {
        size_t size;
        (void)fa_transfer_receive(g->fa, h, &size);
        fa_transfer_release(g->fa, h);
    } else {
        fa_transfer_drop(g->fa, h);
    }
}

static void check_frame(const fa_proto_frame_t *f, const fa_snapshot_t *s) {
    cr_assert_eq(f->frame, s->frame);
    cr_assert_eq(f->start_ns, s->frame_start_ns);
    /* The agent's snapshot is taken just before the reference one. */
    cr_assert_leq(f->duration_ns, s->frame_duration_ns);
    cr_assert_gt(f->duration_ns, 0);
    cr_assert_eq(f->tags_total, s->tag_count);
    cr_assert_eq(f->threads_total, s->threads_total);
    for (int k = 0; k < FA_KIND_COUNT_; k++) {
        cr_assert_eq(f->totals[k].in_use, s->totals[k].in_use, "kind %d", k);
        cr_assert_eq(f->totals[k].peak, s->totals[k].peak, "kind %d", k);
        cr_assert_eq(f->totals[k].alloc_count, s->totals[k].alloc_count, "kind %d", k);
        cr_assert_eq(f->totals[k].alloc_bytes, s->totals[k].alloc_bytes, "kind %d", k);
        cr_assert_eq(f->totals[k].free_count, s->totals[k].free_count, "kind %d", k);
    }
    cr_assert_eq(f->tag_count, s->row_count);
    for (uint32_t i = 0; i < f->tag_count; i++) {
        const fa_proto_tag_stat_t *t = &f->tags[i];
        const fa_tag_row_t *r = &s->rows[i];
        cr_assert_eq(t->id, r->id);
        cr_assert_eq(t->frame_bytes, r->self.frame_bytes, "tag %s", r->path);
        cr_assert_eq(t->pool_bytes, r->self.pool_bytes, "tag %s", r->path);
        cr_assert_eq(t->heap_bytes, r->self.heap_bytes, "tag %s", r->path);
        cr_assert_eq(t->alloc_count, r->self.alloc_count, "tag %s", r->path);
        cr_assert_eq(t->live_bytes, r->live_bytes, "tag %s", r->path);
        cr_assert_eq(t->peak_bytes, r->peak_bytes, "tag %s", r->path);
    }
    cr_assert_eq(f->thread_count, s->thread_count);
    for (uint32_t i = 0; i < f->thread_count; i++) {
        const fa_proto_thread_row_t *t = &f->threads[i];
        const fa_thread_row_t *r = &s->threads[i];
        cr_assert_eq(t->index, r->index);
        cr_assert_eq(t->overflow_chunks, r->overflow_chunks);
        cr_assert_eq(t->frame_used, r->frame_used);
        cr_assert_eq(t->frame_capacity, r->frame_capacity);
        cr_assert_eq(t->frames, r->frames);
        cr_assert_eq((t->flags & FA_PROTO_THREAD_IN_FRAME) != 0, r->in_frame);
    }
    const fa_promotion_totals_t *p = &s->promotions;
    cr_assert_eq(f->promotions.promoted_count, p->promoted_count);
    cr_assert_eq(f->promotions.promoted_bytes, p->promoted_bytes);
    cr_assert_eq(f->promotions.failed_count, p->failed_count);
    cr_assert_eq(f->promotions.failed_bytes, p->failed_bytes);
    cr_assert_eq(f->promotions.retained_count, p->retained_count);
    cr_assert_eq(f->promotions.retained_bytes, p->retained_bytes);
    cr_assert_eq(f->promotions.discarded_count, p->discarded_count);
    cr_assert_eq(f->promotions.discarded_bytes, p->discarded_bytes);
    cr_assert_eq(f->transfers.created, s->transfers.created);
    cr_assert_eq(f->transfers.received, s->transfers.received);
    cr_assert_eq(f->transfers.released, s->transfers.released);
    cr_assert_eq(f->transfers.dropped_unreceived, s->transfers.dropped_unreceived);
    cr_assert_eq(f->transfers.in_flight, s->transfers.in_flight);
    cr_assert_eq(f->finding_count, s->finding_count);
    cr_assert_eq(f->findings_dropped, s->findings_total - s->finding_count);
    for (uint32_t i = 0; i < f->finding_count; i++) {
        cr_assert_eq(f->findings[i].code, s->findings[i].code);
        cr_assert_eq(f->findings[i].tag_id, s->findings[i].tag_id);
        cr_assert_eq(f->findings[i].kind, s->findings[i].kind);
        cr_assert_eq(f->findings[i].count, s->findings[i].count);
        cr_assert_eq(f->findings[i].value, s->findings[i].value);
    }
    cr_assert_eq(f->sites_total, s->sites_total);
    cr_assert_eq(f->site_count, s->site_count);
    for (uint32_t i = 0; i < f->site_count; i++) {
        cr_assert_eq(f->sites[i].site_id, s->sites[i].site_id, "site row %u", i);
        cr_assert_eq(f->sites[i].tag_id, s->sites[i].tag_id, "site row %u", i);
        cr_assert_eq(f->sites[i].bytes, s->sites[i].bytes, "site row %u", i);
        cr_assert_eq(f->sites[i].count, s->sites[i].count, "site row %u", i);
        cr_assert_eq(f->sites[i].live_bytes, s->sites[i].live_bytes, "site row %u", i);
    }
}

/* FRAMEs received whose reference snapshot is still in the ring: on a
 * loaded machine the agent's first frames can arrive after the game ran
 * more than REF_FRAMES frames further, and their references are gone. */
static size_t comparable_frames(t_daemon_t *d) {
    size_t n = 0;
    for (size_t m = 0, count = t_daemon_count(d); m < count; m++) {
        fa_proto_msg_t msg;
        if (t_type(d, m) != FA_PROTO_FRAME || t_decode(t_daemon_msg(d, m), &msg) != FA_PROTO_OK) continue;
        const ref_t *r = &refs[msg.frame.frame % REF_FRAMES];
        n += r->taken && r->snap.frame == msg.frame.frame;
    }
    return n;
}

Test(wire, every_figure_of_a_frame_equals_the_snapshot_lib_took_in_the_same_frame_end) {
    char url[128];
    t_url(url, sizeof url, "equal");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);

    /* The behaviour filter on, and heap blocks in every frame: findings. */
    fa_alloc_t *fa = fa_create(&(fa_config_t){.behaviour = FA_BEHAVIOUR_STRICT});
    t_game_t g;
    t_game_init(&g, fa, 24);
    g.heap_every = 1;
    g.extra = promote_and_transfer;
    fa_budget_set(fa, "sys0", 0, 1 << 20);
    fa_budget_set(fa, "sys1/part2", 4096, 0);
    worker_t w = {.fa = fa};
    pthread_t wt;
    pthread_create(&wt, NULL, worker_main, &w);
    while (atomic_load(&w.state) != 1)
        t_sleep_us(200);

    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = url, .reconnect_max_ms = 100}, &agent), FA_OK);
    cr_assert_eq(fa_on_frame_end(fa, ref_hook, NULL), FA_OK);

    uint64_t deadline = t_now_ns() + 5000000000u;
    size_t frames = 0;
    for (uint64_t i = 0; frames < 40 && t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(500);
        if (i % 16 == 0) frames = comparable_frames(&d);
    }
    fa_remove_frame_hook(fa, ref_hook, NULL);
    cr_assert_eq(fa_agent_stop(agent, NULL), FA_OK);
    t_daemon_close(&d);

    size_t compared = 0, with_findings = 0, with_promotions = 0, with_sites = 0;
    uint64_t transfers = 0;
    for (size_t m = 0; m < d.count; m++) {
        fa_proto_msg_t msg;
        cr_assert_eq(t_decode(d.msgs[m], &msg), FA_PROTO_OK);
        if (msg.header.type != FA_PROTO_FRAME) continue;
        const ref_t *r = &refs[msg.frame.frame % REF_FRAMES];
        cr_assert(r->taken);
        if (r->snap.frame != msg.frame.frame) continue; /* its reference was overwritten */
        check_frame(&msg.frame, &r->snap);
        compared++;
        with_findings += msg.frame.finding_count > 0;
        with_promotions += msg.frame.promotions.promoted_count > 0;
        with_sites += msg.frame.site_count > 3;
        transfers = msg.frame.transfers.created;
    }
    cr_assert_gt(with_promotions, 0);
    cr_assert_gt(transfers, 0);
    cr_assert_geq(compared, 40);
    cr_assert_gt(with_findings, 0);
    cr_assert_geq(with_sites, 40);

    /* The HELLO's dictionary is the snapshot's tags with their budgets. */
    fa_proto_msg_t hello;
    cr_assert_eq(t_decode(d.msgs[0], &hello), FA_PROTO_OK);
    cr_assert_eq(hello.header.type, FA_PROTO_HELLO);
    const fa_snapshot_t *last = NULL;
    for (int i = 0; i < REF_FRAMES; i++)
        if (refs[i].taken && (!last || refs[i].snap.frame > last->frame)) last = &refs[i].snap;
    cr_assert_eq(hello.hello.tag_count, last->row_count);
    for (uint32_t i = 0; i < hello.hello.tag_count; i++) {
        const fa_proto_tag_def_t *t = &hello.hello.tags[i];
        const fa_tag_row_t *r = &last->rows[i];
        cr_assert_eq(t->id, r->id);
        cr_assert_eq(t->parent_id, r->parent_id);
        cr_assert_eq(t->budget_soft, r->budget_soft);
        cr_assert_eq(t->budget_hard, r->budget_hard);
        cr_assert_eq(t->path.len, strlen(r->path));
        cr_assert_eq(memcmp(t->path.data, r->path, t->path.len), 0);
    }

    atomic_store(&w.state, 2);
    pthread_join(wt, NULL);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

Test(wire, hello_opens_the_session_and_seq_numbers_run_without_gaps) {
    char url[128];
    t_url(url, sizeof url, "hello");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url,
                            .app_name = "wire-test",
                            .session_label = "level 3",
                            .build_id = "b-42",
                            .reconnect_max_ms = 100};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    uint64_t session = fa_agent_session_id(agent);
    cr_assert_neq(session, 0);
    for (uint64_t i = 0; i < 300; i++) {
        t_game_frame(&g, i);
        t_sleep_us(300);
    }
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);

    cr_assert_eq(d.received, st.messages_sent);
    cr_assert_gt(st.frames_sent, 0);
    /* The frames of one FRAMES message (1.2) share its seq. */
    uint64_t seq = 0;
    for (size_t m = 0; m < d.count; m++) {
        fa_proto_msg_t msg;
        cr_assert_eq(t_decode(d.msgs[m], &msg), FA_PROTO_OK);
        cr_assert_eq(msg.header.session_id, session);
        if (m && d.msgs[m].batch_pos == 0) seq++;
        cr_assert_eq(msg.header.seq, seq, "message %zu", m);
    }
    cr_assert_eq(seq + 1, st.messages_sent);
    fa_proto_msg_t msg;
    cr_assert_eq(t_decode(d.msgs[0], &msg), FA_PROTO_OK);
    cr_assert_eq(msg.header.type, FA_PROTO_HELLO);
    char text[256];
    fa_proto_str_copy(text, sizeof text, msg.hello.app_name);
    cr_assert_str_eq(text, "wire-test");
    fa_proto_str_copy(text, sizeof text, msg.hello.session_label);
    cr_assert_str_eq(text, "level 3");
    fa_proto_str_copy(text, sizeof text, msg.hello.build_id);
    cr_assert_str_eq(text, "b-42");
    cr_assert_eq(msg.hello.pid, (uint32_t)getpid());
    cr_assert_eq(msg.hello.lib_version,
                 (FA_VERSION_MAJOR << 16) | (FA_VERSION_MINOR << 8) | FA_VERSION_PATCH);
    cr_assert_gt(msg.hello.host.len, 0);
    cr_assert_gt(msg.hello.start_unix_ns, 0);
    cr_assert_gt(msg.hello.start_mono_ns, 0);
    /* The last message is the BYE, with the agent's final counts. */
    cr_assert_eq(t_decode(d.msgs[d.count - 1], &msg), FA_PROTO_OK);
    cr_assert_eq(msg.header.type, FA_PROTO_BYE);
    cr_assert_eq(msg.bye.frames_sent, st.frames_sent);
    cr_assert_eq(msg.bye.frames_dropped, st.frames_dropped);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

/* Call sites: before a FRAME whose rows name a site, a SITES defined it on
 * this connection (since the connection's last HELLO), exactly once, with
 * the site's file, line, function and kind; a new connection (the daemon
 * went away and came back) defines every site in use again. */
static void check_site_announcements(t_daemon_t *d, size_t *hellos, size_t *frames, size_t *defs) {
    static uint8_t defined[FA_SITE_MAX + 1];
    memset(defined, 0, sizeof defined);
    /* FRAMEs the agent encoded before this connection's first HELLO (lower
     * seq) were sent while no daemon listened and queued inside nng: they
     * reach the new connection first, under the definitions of the old one
     * (PROTOCOL.md section 8: a daemon keeps rows of ids it does not know
     * yet). Every FRAME encoded after the HELLO is checked. */
    uint64_t hello_seq = UINT64_MAX;
    for (size_t m = 0; m < t_daemon_count(d) && hello_seq == UINT64_MAX; m++) {
        fa_proto_msg_t msg;
        cr_assert_eq(t_decode(t_daemon_msg(d, m), &msg), FA_PROTO_OK);
        if (msg.header.type == FA_PROTO_HELLO) hello_seq = msg.header.seq;
    }
    cr_assert_neq(hello_seq, UINT64_MAX, "the connection has a HELLO");
    for (size_t m = 0; m < t_daemon_count(d); m++) {
        fa_proto_msg_t msg;
        cr_assert_eq(t_decode(t_daemon_msg(d, m), &msg), FA_PROTO_OK);
        if (msg.header.type == FA_PROTO_HELLO) {
            memset(defined, 0, sizeof defined);
            ++*hellos;
        } else if (msg.header.type == FA_PROTO_SITES) {
            for (uint32_t i = 0; i < msg.sites.site_count; i++) {
                const fa_proto_site_def_t *x = &msg.sites.sites[i];
                cr_assert(x->id > 0 && x->id <= FA_SITE_MAX);
                cr_assert_eq(defined[x->id], 0, "site %u defined twice on one connection", x->id);
                defined[x->id] = 1;
                const fa_site_t *site = fa_site_get(x->id);
                cr_assert_not_null(site);
                cr_assert(x->line == site->line && x->kind == site->kind);
                cr_assert(x->file.len == strlen(site->file) && !memcmp(x->file.data, site->file, x->file.len));
                cr_assert(x->function.len == strlen(site->function) &&
                          !memcmp(x->function.data, site->function, x->function.len));
                ++*defs;
            }
        } else if (msg.header.type == FA_PROTO_FRAME) {
            if (msg.header.seq < hello_seq) continue;
            for (uint32_t i = 0; i < msg.frame.site_count; i++) {
                uint32_t id = msg.frame.sites[i].site_id;
                cr_assert(id == 0 || defined[id], "FRAME %zu names site %u before its definition", m, id);
            }
            ++*frames;
        }
    }
}

Test(wire, sites_are_defined_once_per_connection_before_the_frames_that_use_them) {
    char url[128];
    t_url(url, sizeof url, "sites");
    t_daemon_t d1, d2;
    cr_assert_eq(t_daemon_open(&d1, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    g.heap_every = 3;
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = url, .reconnect_min_ms = 20, .reconnect_max_ms = 50},
                                &agent),
                 FA_OK);
    uint64_t i = 0;
    for (; i < 200; i++) {
        t_game_frame(&g, i);
        t_sleep_us(300);
    }
    t_daemon_close(&d1);
    for (; i < 260; i++) t_game_frame(&g, i); /* no daemon */
    cr_assert_eq(t_daemon_open(&d2, url), 0);
    uint64_t deadline = t_now_ns() + 5000000000u;
    while (t_find(&d2, FA_PROTO_FRAME, 0) < 0 && t_now_ns() < deadline) {
        t_game_frame(&g, i++);
        t_sleep_us(1000);
    }
    for (int k = 0; k < 50; k++) {
        t_game_frame(&g, i++);
        t_sleep_us(300);
    }
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d2);
    size_t hellos = 0, frames = 0, defs1 = 0, defs2 = 0;
    check_site_announcements(&d1, &hellos, &frames, &defs1);
    cr_assert_gt(frames, 0);
    /* The game's sites: the frame line, the pool line and the heap line of
     * t_game_frame (the heap one every third frame). */
    cr_assert_geq(defs1, 3);
    check_site_announcements(&d2, &hellos, &frames, &defs2);
    cr_assert_geq(defs2, 2, "the second connection defines the sites again");
    cr_assert_geq(st.sites_sent, 2);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d1);
    t_daemon_free(&d2);
}

/* The first FRAME (from `from` on) carrying a row for tag id. */
static long first_frame_with_tag(t_daemon_t *d, size_t from, uint16_t id) {
    for (size_t m = from; m < d->count; m++) {
        fa_proto_msg_t msg;
        cr_assert_eq(t_decode(d->msgs[m], &msg), FA_PROTO_OK);
        if (msg.header.type != FA_PROTO_FRAME) continue;
        for (uint32_t i = 0; i < msg.frame.tag_count; i++)
            if (msg.frame.tags[i].id == id) return (long)m;
    }
    return -1;
}

/* The first TAGS (from `from` on) defining id, with its definition. */
static long first_tags_with(t_daemon_t *d, size_t from, uint16_t id, fa_proto_tag_def_t *def) {
    for (size_t m = from; m < d->count; m++) {
        fa_proto_msg_t msg;
        cr_assert_eq(t_decode(d->msgs[m], &msg), FA_PROTO_OK);
        if (msg.header.type != FA_PROTO_TAGS) continue;
        for (uint32_t i = 0; i < msg.tags.tag_count; i++)
            if (msg.tags.tags[i].id == id) {
                *def = msg.tags.tags[i];
                return (long)m;
            }
    }
    return -1;
}

Test(wire, new_tags_and_budget_changes_go_out_as_tags_before_the_next_frame) {
    char url[128];
    t_url(url, sizeof url, "tags");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = url, .reconnect_max_ms = 100}, &agent), FA_OK);
    /* Until the session is announced. */
    uint64_t i = 0;
    for (uint64_t deadline = t_now_ns() + 5000000000u;
         t_find(&d, FA_PROTO_FRAME, 0) < 0 && t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(500);
    }
    cr_assert_geq(t_find(&d, FA_PROTO_FRAME, 0), 0);
    size_t before = t_daemon_count(&d);

    /* A tag appears (a path with a quote and a backslash, which the wire
     * carries as is) and a budget changes. */
    const char *odd = "late/we\"ird\\tag";
    int late = fa_tag_find(fa, odd, true);
    cr_assert_geq(late, 0);
    int sys0 = fa_tag_find(fa, "sys0", false);
    fa_budget_set(fa, "sys0", 1000, 2000);
    for (int k = 0; k < 20; k++, i++) {
        fa_begin_frame(fa);
        FA_WITH_TAG(fa, odd) {
            (void)!fa_frame_alloc(fa, 100, 8);
        }
        fa_end_frame(fa);
        t_sleep_us(500);
    }
    cr_assert_eq(fa_agent_stop(agent, NULL), FA_OK);
    t_daemon_close(&d);

    fa_proto_tag_def_t def;
    long tags_at = first_tags_with(&d, before, (uint16_t)late, &def);
    long frame_at = first_frame_with_tag(&d, before, (uint16_t)late);
    cr_assert_geq(tags_at, 0);
    cr_assert_gt(frame_at, tags_at, "TAGS (%ld) must precede the FRAME (%ld)", tags_at, frame_at);
    cr_assert_eq(def.path.len, strlen(odd));
    cr_assert_eq(memcmp(def.path.data, odd, def.path.len), 0);
    cr_assert_eq(def.parent_id, fa_tag_find(fa, "late", false));

    long budget_at = first_tags_with(&d, before, (uint16_t)sys0, &def);
    cr_assert_geq(budget_at, 0);
    cr_assert_eq(def.budget_soft, 1000);
    cr_assert_eq(def.budget_hard, 2000);
    /* Announced once: later TAGS do not repeat it. */
    cr_assert_lt(first_tags_with(&d, (size_t)budget_at + 1, (uint16_t)sys0, &def), 0);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

/* 1.2: a frame that finds the sender idle leaves at once, alone; frames
 * that pile up in the ring leave together in one FRAMES message. */
Test(wire, frames_leave_alone_when_the_sender_keeps_up_and_together_when_it_is_behind) {
    char url[128];
    t_url(url, sizeof url, "batch");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 16);
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url, .reconnect_max_ms = 50};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    cr_assert_eq(fa_agent_desc_effective(agent).max_batch, 32);
    cr_assert_eq(fa_agent_desc_effective(agent).protocol_minor, 2);
    uint64_t i = 0;
    cr_assert(t_play_until_connected(&d, &g, &i, 2000));
    /* One frame at a time: each arrives before the next is made. */
    for (int k = 0; k < 20; k++, i++) {
        pthread_mutex_lock(&d.lock);
        size_t frames_before = d.entries;
        pthread_mutex_unlock(&d.lock);
        t_game_frame(&g, i);
        uint64_t deadline = t_now_ns() + 2000000000u;
        while (t_now_ns() < deadline) {
            pthread_mutex_lock(&d.lock);
            size_t now = d.entries;
            pthread_mutex_unlock(&d.lock);
            if (now > frames_before) break;
            t_sleep_us(200);
        }
        pthread_mutex_lock(&d.lock);
        size_t now = d.entries;
        pthread_mutex_unlock(&d.lock);
        cr_assert_eq(now, frames_before + 1, "frame %llu was not sent on its own, at once",
                     (unsigned long long)i);
    }
    /* A burst the sender cannot follow frame by frame. */
    pthread_mutex_lock(&d.lock);
    size_t msgs_before = d.frames_msgs, entries_before = d.entries;
    pthread_mutex_unlock(&d.lock);
    fa_agent_stats_t before;
    fa_agent_stats(agent, &before);
    for (int k = 0; k < 60; k++, i++)
        t_game_frame(&g, i);
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);
    size_t burst_msgs = d.frames_msgs - msgs_before, burst_frames = d.entries - entries_before;
    cr_assert_eq(st.frames_seen, st.frames_sent + st.frames_dropped);
    cr_assert_eq(d.entries, st.frames_sent, "every frame sent arrived, in FRAMES");
    cr_assert_eq(burst_frames + st.frames_dropped - before.frames_dropped, 60);
    cr_assert_lt(burst_msgs, burst_frames, "%zu messages for %zu frames of a burst", burst_msgs,
                 burst_frames);
    cr_assert_eq(d.no_base, 0, "every delta followed the frame before it");
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

/* 1.2: tag rows that did not change since the previous frame are left out,
 * and a key frame comes at least every keyframe_interval frames. */
Test(wire, unchanged_tag_rows_are_left_out_with_a_key_frame_every_interval) {
    char url[128];
    t_url(url, sizeof url, "delta");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 32);
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url, .reconnect_max_ms = 50, .keyframe_interval = 10};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    uint64_t i = 0;
    cr_assert(t_play_until_connected(&d, &g, &i, 1000));
    /* The frames of the whole game (every tag changing) reach the daemon
     * first, then are left out of the counts: under load many of them were
     * still in flight and their rows made the deltas look large. */
    for (size_t n = 0, deadline = 0; deadline < 200; deadline++) {
        t_sleep_us(20000);
        size_t now = t_daemon_count(&d);
        if (now == n && n) break;
        n = now;
    }
    pthread_mutex_lock(&d.lock);
    size_t entries0 = d.entries, keys0 = d.keys, rows0 = d.delta_rows;
    pthread_mutex_unlock(&d.lock);
    /* Only one of the 32 tags (and its parents) allocates from now on. */
    g.tags = 0;
    for (int k = 0; k < 100; k++, i++) {
        fa_begin_frame(fa);
        FA_WITH_TAG(fa, "sys0/part1") {
            (void)!fa_frame_alloc(fa, 64 + (size_t)(k % 5) * 16, 16);
        }
        fa_end_frame(fa);
        t_sleep_us(500);
    }
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);
    size_t entries = d.entries - entries0, keys = d.keys - keys0, rows = d.delta_rows - rows0;
    size_t deltas = entries - keys;
    cr_assert_gt(deltas, 50);
    cr_assert_geq(keys * 10, entries, "%zu keys for %zu frames: one every 10 at least", keys, entries);
    cr_assert_lt(rows, deltas * 8, "%zu rows in %zu deltas of 40 tags", rows, deltas);
    cr_assert_eq(d.no_base, 0);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

/* A daemon older than 1.2 cannot read FRAMES: protocol_minor 1 (or
 * FA_INSIGHT_PROTO=1.1) sends one FRAME per frame and no FRAMES at all;
 * a protocol the agent does not speak refuses to start. */
Test(wire, protocol_1_1_sends_one_frame_per_message_for_an_older_daemon) {
    char url[128];
    t_url(url, sizeof url, "v11");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    fa_agent_t *agent = NULL;
    setenv(FA_AGENT_PROTO_ENV, "1.3", 1);
    t_log_t log = {0};
    fa_agent_desc_t desc = {.url = url, .reconnect_max_ms = 50, .log_cb = t_log_cb, .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_ERR_INVALID_ARG);
    cr_assert_eq(log.count[FA_AGENT_LOG_BAD_PROTOCOL], 1);
    setenv(FA_AGENT_PROTO_ENV, "1.1", 1);
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    unsetenv(FA_AGENT_PROTO_ENV);
    cr_assert_eq(fa_agent_desc_effective(agent).protocol_minor, 1);
    uint64_t i = 0;
    cr_assert(t_play_until_connected(&d, &g, &i, 1000));
    for (int k = 0; k < 50; k++, i++)
        t_game_frame(&g, i); /* a burst: the sender is behind */
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);
    cr_assert_gt(st.frames_sent, 0);
    cr_assert_eq(d.frames_msgs, 0, "no FRAMES for a 1.1 daemon");
    cr_assert_eq(d.received, d.count);
    size_t frames = 0;
    for (size_t m = 0; m < d.count; m++)
        frames += t_type(&d, m) == FA_PROTO_FRAME;
    cr_assert_eq(frames, st.frames_sent);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}
