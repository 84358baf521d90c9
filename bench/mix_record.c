/* mix_record.c — the recorder behind mix_record.h (see there). Linked into
 * build/bench/fa-demo-record with --wrap for the heap entry points.
 *
 * Environment: MIX_RECORD_FRAME (the main thread's frame to record, default
 * 600), MIX_RECORD_OUT (the trace file, default game_frame_mix.trace).
 *
 * Trace format, one event per line, in the order the calls happened (all
 * threads, under one lock):
 *   I id kind size tag          a block live before the frame (freed in it)
 *   A id kind size align tag    an allocation; kind F frame, P pool, H heap,
 *                               T a pool block of the named tag (the Lua
 *                               adapter's fa_pool_alloc_tagged)
 *   F id                        a free of block id
 * tag is the tag path current on the calling thread ("-" for the root). */
#define _GNU_SOURCE
#include <framealloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 200000
#define MAP_CAP (1u << 18)

typedef struct event {
    char op, kind;
    uint32_t id;
    size_t size, align;
    int tag;
} event_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static event_t events[MAX_EVENTS];
static uint32_t event_count, next_id = 1, frames_begun;
static int recording;
static pthread_t main_thread;
static int main_known;
static struct {
    const void *p;
    uint32_t id;
} map[MAP_CAP]; /* blocks allocated while recording: pointer -> id */

static uint32_t frame_to_record(void) {
    const char *e = getenv("MIX_RECORD_FRAME");
    return e ? (uint32_t)strtoul(e, NULL, 10) : 600;
}

static uint32_t slot(const void *p) { return (uint32_t)(((uintptr_t)p >> 4) * 0x9E3779B1u) & (MAP_CAP - 1); }

static void add(char op, char kind, uint32_t id, size_t size, size_t align, int tag) {
    if (event_count < MAX_EVENTS)
        events[event_count++] = (event_t){.op = op, .kind = kind, .id = id, .size = size, .align = align, .tag = tag};
}

static void note_alloc(fa_alloc_t *fa, const void *p, char kind, size_t size, size_t align, int tag) {
    if (!p) return;
    pthread_mutex_lock(&lock);
    if (recording) {
        uint32_t id = next_id++;
        if (kind != 'F') {
            uint32_t i = slot(p);
            while (map[i].p) i = (i + 1) & (MAP_CAP - 1);
            map[i].p = p;
            map[i].id = id;
        }
        add('A', kind, id, size, align, tag < 0 ? fa_tag_current(fa) : tag);
    }
    pthread_mutex_unlock(&lock);
}

/* Before the free: a block from before the frame becomes an I event. */
static void note_free(fa_alloc_t *fa, const void *p, char kind) {
    if (!p) return;
    pthread_mutex_lock(&lock);
    if (recording) {
        uint32_t i = slot(p), id = 0;
        for (; map[i].p; i = (i + 1) & (MAP_CAP - 1)) {
            if (map[i].p == p && map[i].id) {
                id = map[i].id;
                map[i].id = 0; /* a tombstone: the address may come back */
                break;
            }
        }
        if (!id) {
            id = next_id++;
            /* Before any event: the replay makes it before the frame. */
            if (event_count < MAX_EVENTS) {
                memmove(&events[1], &events[0], event_count * sizeof events[0]);
                events[0] = (event_t){.op = 'I', .kind = kind, .id = id, .size = fa_block_size(fa, p), .tag = 0};
                event_count++;
            }
        }
        add('F', kind, id, 0, 0, 0);
    }
    pthread_mutex_unlock(&lock);
}

void *mix_rec_pool_alloc(fa_alloc_t *fa, size_t size) {
    void *p = fa_pool_alloc(fa, size);
    note_alloc(fa, p, 'P', size, 16, -1);
    return p;
}
void *mix_rec_pool_alloc_tagged(fa_alloc_t *fa, int tag, size_t size, fa_site_t *site) {
    void *p = fa_pool_alloc_tagged_site(fa, tag, size, site);
    note_alloc(fa, p, size <= FA_POOL_MAX_SIZE ? 'T' : 'H', size, 16, tag);
    return p;
}
void mix_rec_pool_free(fa_alloc_t *fa, void *p) {
    note_free(fa, p, 'P');
    fa_pool_free(fa, p);
}
void *mix_rec_frame_alloc(fa_alloc_t *fa, size_t size, size_t align) {
    void *p = fa_frame_alloc(fa, size, align);
    note_alloc(fa, p, 'F', size, align, -1);
    return p;
}
void *mix_rec_frame_alloc_batch(fa_alloc_t *fa, size_t size, size_t align, size_t count) {
    void *p = fa_frame_alloc_batch(fa, size, align, count);
    size_t a = align ? align : 16, stride = (size + a - 1) & ~(a - 1);
    note_alloc(fa, p, 'F', stride * count, a, -1);
    return p;
}
void *mix_rec_frame_alloc8(fa_alloc_t *fa, size_t size, size_t align, void *out[8]) {
    void *p = fa_frame_alloc8(fa, size, align, out);
    size_t a = align ? align : 16, stride = (size + a - 1) & ~(a - 1);
    note_alloc(fa, p, 'F', stride * 8, a, -1);
    return p;
}
char *mix_rec_frame_sprintf(fa_alloc_t *fa, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *p = fa_frame_strdup(fa, buf);
    note_alloc(fa, p, 'F', strlen(buf) + 1, 1, -1);
    return p;
}
void *mix_rec_frame_alloc_retained(fa_alloc_t *fa, size_t size, size_t align, fa_retain_policy policy,
                                   uint32_t frames) {
    void *p = fa_frame_alloc_retained(fa, size, align, policy, frames);
    note_alloc(fa, p, 'F', size, align, -1);
    return p;
}

/* The heap entry points, wrapped at link time. */
void *__real_fa_heap_alloc_site(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site);
void *__real_fa_heap_alloc_tagged_site(fa_alloc_t *fa, int tag, size_t size, size_t align, fa_site_t *site);
void *__real_fa_heap_realloc_site(fa_alloc_t *fa, void *p, size_t size, int tag, fa_site_t *site);
void __real_fa_heap_free(fa_alloc_t *fa, void *p);
void *__wrap_fa_heap_alloc_site(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site) {
    void *p = __real_fa_heap_alloc_site(fa, size, align, site);
    note_alloc(fa, p, 'H', size, align ? align : 16, -1);
    return p;
}
void *__wrap_fa_heap_alloc_tagged_site(fa_alloc_t *fa, int tag, size_t size, size_t align, fa_site_t *site) {
    void *p = __real_fa_heap_alloc_tagged_site(fa, tag, size, align, site);
    note_alloc(fa, p, 'H', size, align ? align : 16, tag);
    return p;
}
void *__wrap_fa_heap_realloc_site(fa_alloc_t *fa, void *p, size_t size, int tag, fa_site_t *site) {
    size_t align = 16;
    void *q = __real_fa_heap_realloc_site(fa, p, size, tag, site);
    if (q) {
        note_alloc(fa, q, 'H', size, align, tag);
        note_free(fa, p, 'H');
    }
    return q;
}
/* A resize in place is not an event: the block stays what it was. */
void *__real_fa_pool_realloc_site(fa_alloc_t *fa, void *p, size_t size, int tag, fa_site_t *site);
void *__wrap_fa_pool_realloc_site(fa_alloc_t *fa, void *p, size_t size, int tag, fa_site_t *site) {
    void *q = __real_fa_pool_realloc_site(fa, p, size, tag, site);
    if (q && q != p) {
        note_alloc(fa, q, size <= FA_POOL_MAX_SIZE ? 'T' : 'H', size, 16, tag);
        note_free(fa, p, 'P');
    }
    return q;
}
void __wrap_fa_heap_free(fa_alloc_t *fa, void *p) {
    note_free(fa, p, 'H');
    __real_fa_heap_free(fa, p);
}

static int is_main(void) {
    pthread_mutex_lock(&lock);
    if (!main_known) {
        main_thread = pthread_self();
        main_known = 1;
    }
    int m = pthread_equal(main_thread, pthread_self());
    pthread_mutex_unlock(&lock);
    return m;
}

void mix_rec_begin_frame(fa_alloc_t *fa) {
    if (is_main()) {
        pthread_mutex_lock(&lock);
        recording = ++frames_begun == frame_to_record();
        pthread_mutex_unlock(&lock);
    }
    fa_begin_frame(fa);
}

static void write_trace(fa_alloc_t *fa) {
    const char *path = getenv("MIX_RECORD_OUT") ? getenv("MIX_RECORD_OUT") : "game_frame_mix.trace";
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fprintf(f, "# game_frame_mix: the allocations of frame %u of fa-demo (bench/mix_record.h), %u events\n",
            frame_to_record(), event_count);
    for (uint32_t i = 0; i < event_count; i++) {
        const event_t *e = &events[i];
        const char *tag = e->tag > 0 ? fa_tag_path(fa, e->tag) : "-";
        if (e->op == 'I') fprintf(f, "I %u %c %zu -\n", e->id, e->kind, e->size);
        else if (e->op == 'A') fprintf(f, "A %u %c %zu %zu %s\n", e->id, e->kind, e->size, e->align, tag);
        else fprintf(f, "F %u\n", e->id);
    }
    fclose(f);
    fprintf(stderr, "mix_record: %u events of frame %u written to %s\n", event_count, frame_to_record(), path);
}

static void frame_ends(fa_alloc_t *fa) {
    if (!is_main()) return;
    pthread_mutex_lock(&lock);
    int was = recording;
    recording = 0;
    pthread_mutex_unlock(&lock);
    if (was) write_trace(fa);
}

void mix_rec_end_frame(fa_alloc_t *fa) {
    frame_ends(fa);
    fa_end_frame(fa);
}
void mix_rec_end_frame_with_promotions(fa_alloc_t *fa, fa_promotion_result_t *out) {
    frame_ends(fa);
    fa_end_frame_with_promotions(fa, out);
}
