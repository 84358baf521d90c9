/*
 * hook.c — the agent's part on the game thread: lib's frame-end hook.
 *
 * It takes one snapshot straight into a free ring slot's preallocated
 * arrays and publishes the slot; the sender does everything else (messages,
 * encoding, JSON). Rules that hold for every line here: no malloc, no lock
 * of the agent, no blocking call, no system call; O(1) besides lib's
 * fa_snapshot_take(). When the snapshot cannot go anywhere (no daemon
 * connected, no capture file and no JSON file requested, or the ring is
 * full) the frame is dropped and counted without even taking it.
 */
#include "agent_internal.h"

#include <string.h>

static void drop(fa_agent_t *a, _Atomic uint64_t *reason) {
    fa__count(reason, 1);
    fa__count(&a->game.drops, 1);
}

void fa__agent_frame_hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame;
    fa_agent_t *a = user;
    fa__count(&a->game.frames_seen, 1);
    /* A forked copy (see FORK in fa_agent.h) has no sender: it only counts. */
    bool forked = fa__agent_is_forked_copy(a);
    bool connected = atomic_load_explicit(&a->link.pipe_id, memory_order_relaxed) != 0 && !forked;
    bool capture = a->capture.enabled && !forked;
    bool emit = a->emit.enabled && !forked &&
                atomic_load_explicit(&a->emit.state, memory_order_relaxed) == FA__EMIT_REQUESTED;
    if (!connected && !capture && !emit) {
        /* The common "no daemon" case costs a few loads. */
        drop(a, &a->game.drop_disconnected);
        return;
    }
    fa__agent_ring_t *ring = &a->ring;
    if (fa__ring_free(ring, 1) == 0) {
        /* The emitter's request stays pending for the next frame. */
        drop(a, &a->game.drop_ring_full);
        return;
    }
    fa__agent_slot_t *slot = fa__ring_slot(ring, 0);
    fa_snapshot_t *s = &slot->snap;
    /* Figures lib may leave alone must not leak from the slot's last use. */
    s->finding_count = 0;
    s->findings_total = 0;
    memset(&s->promotions, 0, sizeof s->promotions);
    memset(&s->transfers, 0, sizeof s->transfers);
    /* The sender finishes the snapshot: it sums the tag rows up the tree
     * and ranks the site pairs, copied as they are (it pointed sites at its
     * own rows when it finished this slot's last snapshot). */
    s->defer = 1;
    s->sites = slot->site_pairs;
    s->sites_capacity = ring->site_pairs;
    s->site_rows_max = a->desc.max_site_rows;
    /* FA_ERR_TRUNCATED is expected when the game has more tags than
     * max_tags: tags_total tells the daemon. */
    (void)fa_snapshot_take(fa, s);
    slot->send = connected;
    slot->capture = capture;
    slot->emit = emit;
    /* Taken for a file only: the daemon misses it (a capture-only agent has
     * no daemon to miss anything). */
    if (!connected && a->link.enabled) drop(a, &a->game.drop_disconnected);
    slot->game_drops = fa__read(&a->game.drops);
    slot->ring_drops = fa__read(&a->game.drop_ring_full);
    if (emit) atomic_store_explicit(&a->emit.state, FA__EMIT_TAKEN, memory_order_relaxed);
    fa__ring_publish(ring, 1);
}
