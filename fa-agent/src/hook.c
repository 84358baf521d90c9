/*
 * hook.c — the agent's part on the game thread: lib's frame-end hook. It
 * takes one snapshot into the agent's arrays and turns it into messages in
 * the ring (TAGS when tags appeared or budgets changed, then the FRAME),
 * encodes the HELLO of a new connection, and copies the snapshot for the
 * file emitter when the sender asked for one.
 *
 * Rules that hold for every line here: no malloc, no lock of the agent, no
 * blocking call, no system call except clock reads; everything is O(rows).
 * When something does not fit (ring full, connection down) the frame is
 * dropped and counted, never waited for.
 */
#include "agent_internal.h"

#include <string.h>
#include <time.h>

static void drop(fa_agent_t *a, _Atomic uint64_t *reason) {
    fa__count(reason, 1);
    fa__count(&a->game.drops, 1);
}

static void take_snapshot(fa_agent_t *a) {
    fa_snapshot_t *s = &a->snap;
    /* Figures lib may not fill (yet) must not leak from the previous frame. */
    s->finding_count = 0;
    s->findings_total = 0;
    memset(&s->promotions, 0, sizeof s->promotions);
    memset(&s->transfers, 0, sizeof s->transfers);
    /* FA_ERR_TRUNCATED is expected when the game has more tags than
     * max_tags: tags_total tells the daemon. */
    (void)fa_snapshot_take(a->fa, s);
}

/* The side copy for the file emitter (only when the sender asked). */
static void copy_for_emitter(fa_agent_t *a) {
    fa_snapshot_t *e = &a->emit.snap;
    fa_tag_row_t *rows = e->rows;
    fa_thread_row_t *threads = e->threads;
    fa_finding_t *findings = e->findings;
    *e = a->snap;
    e->rows = rows;
    e->threads = threads;
    e->findings = findings;
    memcpy(rows, a->snap.rows, sizeof *rows * a->snap.row_count);
    memcpy(threads, a->snap.threads, sizeof *threads * a->snap.thread_count);
    if (e->finding_count > e->findings_capacity) e->finding_count = e->findings_capacity;
    memcpy(findings, a->snap.findings, sizeof *findings * e->finding_count);
    a->emit.wall_ns = fa__agent_real_ns();
    atomic_store_explicit(&a->emit.state, FA__EMIT_READY, memory_order_release);
}

static fa_proto_tag_def_t def_of(const fa_tag_row_t *r) {
    return (fa_proto_tag_def_t){
        .id = r->id,
        .parent_id = r->parent_id,
        .budget_soft = r->budget_soft,
        .budget_hard = r->budget_hard,
        .path = fa_proto_str(r->path),
    };
}

static void remember(fa_agent_t *a, const fa_proto_tag_def_t *defs, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        a->game.known_soft[defs[i].id] = defs[i].budget_soft;
        a->game.known_hard[defs[i].id] = defs[i].budget_hard;
    }
}

bool fa__agent_encode_hello(fa_agent_t *a, uint32_t gen) {
    if (atomic_load_explicit(&a->hello.state, memory_order_acquire) != FA__HELLO_FREE) return false;
    int n = fa_proto_tag_defs_from_snapshot(&a->snap, 0, a->defs, a->desc.max_tags);
    if (n < 0) n = 0;
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_HELLO;
    m.header.session_id = a->meta.session_id;
    m.hello = (fa_proto_hello_t){
        .pid = a->meta.pid,
        .lib_version = (FA_VERSION_MAJOR << 16) | (FA_VERSION_MINOR << 8) | FA_VERSION_PATCH,
        .start_unix_ns = a->meta.start_unix_ns,
        .start_mono_ns = a->meta.start_mono_ns,
        .app_name = fa_proto_str(a->meta.app_name),
        .session_label = fa_proto_str(a->meta.session_label),
        .host = fa_proto_str(a->meta.host),
        .build_id = fa_proto_str(a->meta.build_id),
        .tags = a->defs,
        .tag_count = (uint32_t)n,
    };
    /* The buffer holds max_tags definitions of maximal paths and the
     * strings were cut to 255 bytes at start, so this cannot fail; if it
     * ever did, an empty dictionary still opens the session. */
    int len = fa_proto_encode(&m, a->hello.buf, a->hello.capacity);
    if (len < 0) {
        m.hello.tag_count = 0;
        n = 0;
        len = fa_proto_encode(&m, a->hello.buf, a->hello.capacity);
        if (len < 0) return false;
    }
    remember(a, a->defs, (uint32_t)n);
    a->game.tags_announced = (uint32_t)n;
    a->game.hello_gen = gen;
    a->hello.gen = gen;
    a->hello.len = (uint32_t)len;
    atomic_store_explicit(&a->hello.state, FA__HELLO_READY, memory_order_release);
    return true;
}

/* Queues TAGS messages for tags that appeared and budgets that changed
 * since the last HELLO/TAGS, split over as many slots as needed, keeping one
 * slot free for the FRAME. All or nothing: returns false (nothing queued,
 * retried next frame) when the ring has no room. */
static bool queue_tag_changes(fa_agent_t *a) {
    const fa_snapshot_t *s = &a->snap;
    uint32_t rows = s->row_count, announced = a->game.tags_announced, n = 0;
    if (announced > rows) announced = rows;
    for (uint32_t i = 0; i < announced; i++) {
        const fa_tag_row_t *r = &s->rows[i];
        if (r->budget_soft != a->game.known_soft[i] || r->budget_hard != a->game.known_hard[i])
            a->defs[n++] = def_of(r);
    }
    for (uint32_t i = announced; i < rows; i++) a->defs[n++] = def_of(&s->rows[i]);
    if (n == 0) return true;

    fa__agent_ring_t *ring = &a->ring;
    uint32_t free_slots = fa__ring_free(ring, ring->capacity);
    uint32_t used = 0;
    for (uint32_t i = 0; i < n;) {
        if (used + 1 >= free_slots) return false;
        /* As many definitions as fit one slot (at least one always does). */
        size_t size = FA_PROTO_HEADER_SIZE + 4u;
        uint32_t j = i;
        while (j < n && size + FA_PROTO_TAG_DEF_ROW_SIZE + 2u + a->defs[j].path.len <= ring->slot_size) {
            size += FA_PROTO_TAG_DEF_ROW_SIZE + 2u + a->defs[j].path.len;
            j++;
        }
        fa_proto_msg_t m;
        memset(&m, 0, sizeof m);
        m.header.type = FA_PROTO_TAGS;
        m.header.session_id = a->meta.session_id;
        m.tags.tags = &a->defs[i];
        m.tags.tag_count = j - i;
        fa__agent_slot_t *slot = fa__ring_slot(ring, used);
        int len = fa_proto_encode(&m, slot->data, ring->slot_size);
        if (len < 0) return false;
        slot->len = (uint32_t)len;
        slot->type = FA_PROTO_TAGS;
        slot->game_drops = 0;
        used++;
        i = j;
    }
    fa__ring_publish(ring, used);
    remember(a, a->defs, n);
    a->game.tags_announced = rows;
    return true;
}

static void queue_frame(fa_agent_t *a) {
    fa__agent_ring_t *ring = &a->ring;
    if (fa__ring_free(ring, 1) == 0) {
        drop(a, &a->game.drop_ring_full);
        return;
    }
    const fa_snapshot_t *s = &a->snap;
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_FRAME;
    m.header.session_id = a->meta.session_id;
    (void)fa_proto_frame_from_snapshot(&m.frame, s, a->tag_stats, a->desc.max_tags, a->thread_rows,
                                       a->desc.max_threads);
    (void)fa_proto_frame_findings_from_snapshot(&m.frame, s, a->proto_findings, a->desc.max_findings);
    /* frames_dropped and seq are filled by the sender at send time. */
    fa__agent_slot_t *slot = fa__ring_slot(ring, 0);
    int len = fa_proto_encode(&m, slot->data, ring->slot_size);
    if (len < 0) {
        drop(a, &a->game.drop_encode_failed);
        return;
    }
    slot->len = (uint32_t)len;
    slot->type = FA_PROTO_FRAME;
    slot->game_drops = fa__read(&a->game.drops);
    fa__ring_publish(ring, 1);
}

void fa__agent_frame_hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)fa;
    (void)frame;
    fa_agent_t *a = user;
    fa__count(&a->game.frames_seen, 1);
    /* Connected implies the connection's want_gen is visible (the pipe
     * callback bumps it before publishing the pipe id). */
    bool connected = atomic_load_explicit(&a->link.pipe_id, memory_order_acquire) != 0;
    bool emit = a->emit.enabled &&
                atomic_load_explicit(&a->emit.state, memory_order_acquire) == FA__EMIT_REQUESTED;
    if (!connected && !emit) {
        /* The common "no daemon" case costs two loads: no snapshot at all. */
        drop(a, &a->game.drop_disconnected);
        return;
    }
    take_snapshot(a);
    if (emit) copy_for_emitter(a);
    if (!connected) {
        drop(a, &a->game.drop_disconnected);
        return;
    }
    uint32_t want = atomic_load_explicit(&a->link.want_gen, memory_order_acquire);
    if (want != a->game.hello_gen) (void)fa__agent_encode_hello(a, want);
    /* Until this connection's HELLO is encoded, it will carry every tag:
     * no TAGS needed. */
    if (want == a->game.hello_gen && !queue_tag_changes(a)) {
        drop(a, &a->game.drop_ring_full);
        return;
    }
    queue_frame(a);
}
