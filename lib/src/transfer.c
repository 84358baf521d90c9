/* Transfer handles: a payload handed explicitly from one thread to another.
 * A fixed table of slots, each with a 48-bit generation and an atomic state;
 * a handle is (generation << 16 | slot + 1), so a stale handle never
 * matches (a slot would have to be reused 2^48 times). Generation and state
 * share one atomic word and every transition is one compare-and-swap on it:
 * "received at most once" holds between racing receivers, and a stale
 * handle cannot win against a reused slot. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define GEN_MAX ((UINT64_C(1) << 48) - 1)

typedef struct slot {
    _Atomic uint64_t word; /* generation (1..GEN_MAX) << 8 | fa_transfer_state */
    void *payload;         /* pool or heap block */
    size_t size;
} slot_t;

#define WORD(gen, state) ((uint64_t)(gen) << 8 | (uint64_t)(state))
#define GEN(word) ((word) >> 8)
#define STATE(word) ((word)&0xFFu)

typedef struct fa__transfers {
    pthread_mutex_t lock; /* the free list */
    uint32_t *free_list;
    uint32_t free_count;
    uint32_t capacity;
    slot_t *slots;
    _Atomic uint64_t created, received, released, dropped;
} fa__transfers_t;

int fa__transfers_init(fa_alloc_t *fa) {
    fa__transfers_t *x = calloc(1, sizeof *x);
    uint32_t n = fa->cfg.max_transfers;
    if (!x || !(x->slots = calloc(n, sizeof *x->slots)) || !(x->free_list = calloc(n, sizeof *x->free_list))) {
        if (x) free(x->slots);
        free(x);
        return FA_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&x->lock, NULL);
    x->capacity = n;
    for (uint32_t i = 0; i < n; i++) {
        x->free_list[i] = n - 1 - i;
        atomic_init(&x->slots[i].word, WORD(1, FA_TRANSFER_INVALID));
    }
    x->free_count = n;
    fa->transfers = x;
    return FA_OK;
}

static void slot_free(fa_alloc_t *fa, fa__transfers_t *x, uint32_t index) {
    slot_t *s = &x->slots[index];
    fa_pool_free_at(fa, s->payload, "transfer payload", 0);
    s->payload = NULL;
    uint64_t g = GEN(atomic_load(&s->word)) + 1;
    atomic_store(&s->word, WORD(g > GEN_MAX ? 1 : g, FA_TRANSFER_INVALID));
    pthread_mutex_lock(&x->lock);
    x->free_list[x->free_count++] = index;
    pthread_mutex_unlock(&x->lock);
}

void fa__transfers_fini(fa_alloc_t *fa) {
    fa__transfers_t *x = fa->transfers;
    if (!x) return;
    for (uint32_t i = 0; i < x->capacity; i++) {
        uint64_t st = STATE(atomic_load(&x->slots[i].word));
        if (st == FA_TRANSFER_OWNED || st == FA_TRANSFER_IN_FLIGHT) {
            atomic_fetch_add(&x->dropped, 1);
            fa__report(fa, FA_ERR_DROPPED, x->slots[i].payload,
                       "transfer of %zu bytes destroyed without being received", x->slots[i].size);
        }
        if (st != FA_TRANSFER_INVALID) fa_pool_free_at(fa, x->slots[i].payload, "transfer payload", 0);
    }
    pthread_mutex_destroy(&x->lock);
    free(x->slots);
    free(x->free_list);
    free(x);
    fa->transfers = NULL;
}

fa_transfer_totals_t fa__transfers_totals(fa_alloc_t *fa) {
    fa__transfers_t *x = fa->transfers;
    fa_transfer_totals_t t = {.created = atomic_load(&x->created),
                              .received = atomic_load(&x->received),
                              .released = atomic_load(&x->released),
                              .dropped_unreceived = atomic_load(&x->dropped)};
    t.in_flight = t.created - t.received - t.dropped_unreceived;
    return t;
}

/* The slot of a handle whose generation still matches, or NULL. */
static slot_t *lookup(fa__transfers_t *x, fa_transfer_t h, uint32_t *index) {
    uint32_t i = (uint32_t)(h.id & 0xFFFF) - 1;
    uint64_t g = h.id >> 16;
    if ((h.id & 0xFFFF) == 0 || i >= x->capacity || g > GEN_MAX) return NULL;
    slot_t *s = &x->slots[i];
    if (GEN(atomic_load(&s->word)) != g) return NULL;
    if (index) *index = i;
    return s;
}

static uint32_t state_of(const slot_t *s) { return (uint32_t)STATE(atomic_load(&s->word)); }

static bool transition(fa_alloc_t *fa, fa_transfer_t h, uint32_t from, uint32_t to, const char *what,
                       uint32_t *index) {
    slot_t *s = lookup(fa->transfers, h, index);
    uint64_t expected = WORD(h.id >> 16, from);
    if (s && atomic_compare_exchange_strong(&s->word, &expected, WORD(h.id >> 16, to))) return true;
    static const char *names[] = {"invalid", "owned", "in flight", "received", "released"};
    const char *now = "stale (released or never created)";
    if (s && GEN(expected) == h.id >> 16) now = names[STATE(expected) < 5 ? STATE(expected) : 0];
    fa__report(fa, FA_ERR_TRANSFER, NULL, "transfer %016llx: cannot %s, it is %s", (unsigned long long)h.id, what,
               now);
    return false;
}

fa_transfer_t fa_transfer_create(fa_alloc_t *fa, size_t size) {
    fa__transfers_t *x = fa->transfers;
    pthread_mutex_lock(&x->lock);
    uint32_t index = x->free_count ? x->free_list[--x->free_count] : UINT32_MAX;
    pthread_mutex_unlock(&x->lock);
    if (index == UINT32_MAX) {
        fa__report(fa, FA_ERR_TRANSFER, NULL, "no free transfer handle (max_transfers %u)", x->capacity);
        return (fa_transfer_t){0};
    }
    slot_t *s = &x->slots[index];
    s->payload = fa_pool_alloc_at(fa, size ? size : 1, "transfer payload", 0);
    if (!s->payload) {
        pthread_mutex_lock(&x->lock);
        x->free_list[x->free_count++] = index;
        pthread_mutex_unlock(&x->lock);
        return (fa_transfer_t){0};
    }
    s->size = size;
    uint64_t gen = GEN(atomic_load(&s->word));
    atomic_store(&s->word, WORD(gen, FA_TRANSFER_OWNED));
    atomic_fetch_add(&x->created, 1);
    return (fa_transfer_t){.id = gen << 16 | (index + 1)};
}

fa_transfer_t fa_transfer_from_frame(fa_alloc_t *fa, const void *p, size_t size) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return (fa_transfer_t){0};
    if (!p || !fa__arena_holds(t, p, size)) {
        fa__report(fa, FA_ERR_CROSS_THREAD, p,
                   "fa_transfer_from_frame: [%p, +%zu) is not frame memory of the calling thread's frame", p, size);
        return (fa_transfer_t){0};
    }
    fa_transfer_t h = fa_transfer_create(fa, size);
    if (h.id) memcpy(lookup(fa->transfers, h, NULL)->payload, p, size);
    return h;
}

void *fa_transfer_data(fa_alloc_t *fa, fa_transfer_t h) {
    slot_t *s = lookup(fa->transfers, h, NULL);
    if (!s || state_of(s) != FA_TRANSFER_OWNED) {
        fa__report(fa, FA_ERR_TRANSFER, NULL, "transfer %016llx: payload asked for outside the owned state",
                   (unsigned long long)h.id);
        return NULL;
    }
    return s->payload;
}

int fa_transfer_send(fa_alloc_t *fa, fa_transfer_t h) {
    return transition(fa, h, FA_TRANSFER_OWNED, FA_TRANSFER_IN_FLIGHT, "send", NULL) ? FA_OK : FA_ERR_TRANSFER;
}

void *fa_transfer_receive(fa_alloc_t *fa, fa_transfer_t h, size_t *size) {
    uint32_t index;
    if (!transition(fa, h, FA_TRANSFER_IN_FLIGHT, FA_TRANSFER_RECEIVED, "receive", &index)) return NULL;
    atomic_fetch_add(&fa->transfers->received, 1);
    slot_t *s = &fa->transfers->slots[index];
    if (size) *size = s->size;
    return s->payload;
}

int fa_transfer_release(fa_alloc_t *fa, fa_transfer_t h) {
    uint32_t index;
    if (!transition(fa, h, FA_TRANSFER_RECEIVED, FA_TRANSFER_RELEASED, "release", &index)) return FA_ERR_TRANSFER;
    atomic_fetch_add(&fa->transfers->released, 1);
    slot_free(fa, fa->transfers, index);
    return FA_OK;
}

int fa_transfer_drop(fa_alloc_t *fa, fa_transfer_t h) {
    uint32_t index;
    uint32_t from = FA_TRANSFER_OWNED;
    slot_t *s = lookup(fa->transfers, h, &index);
    if (s && state_of(s) == FA_TRANSFER_IN_FLIGHT) from = FA_TRANSFER_IN_FLIGHT;
    if (!transition(fa, h, from, FA_TRANSFER_RELEASED, "drop", &index)) return FA_ERR_TRANSFER;
    atomic_fetch_add(&fa->transfers->dropped, 1);
    fa__report(fa, FA_ERR_DROPPED, NULL, "transfer %016llx of %zu bytes dropped without being received",
               (unsigned long long)h.id, fa->transfers->slots[index].size);
    slot_free(fa, fa->transfers, index);
    return FA_OK;
}

fa_transfer_state fa_transfer_state_of(fa_alloc_t *fa, fa_transfer_t h) {
    slot_t *s = lookup(fa->transfers, h, NULL);
    return s ? (fa_transfer_state)state_of(s) : FA_TRANSFER_RELEASED;
}
