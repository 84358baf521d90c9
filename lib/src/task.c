/* The task allocator: blocks for one asynchronous task, all released when
 * the task ends. Each block carries a small header that links it into the
 * task's list and names its task, so fa_task_end() walks and frees them and
 * fa_task_free() refuses a block of another task. Blocks come from the pool
 * (or the heap above 4 KiB), never from a frame arena. */
#include "internal.h"

/* 32 bytes, so the block after it stays 16-aligned. */
typedef struct task_block {
    struct task_block *next, *prev;
    size_t size;
    const struct fa_task *owner; /* NULL once freed */
} task_block_t;

struct fa_task {
    fa_alloc_t *fa;
    uint32_t tag;
    fa_site_t *site; /* where it began: its record counts there */
    task_block_t head; /* circular list sentinel */
    size_t bytes, blocks;
};

/* Allocates size bytes from the pool under tag for site, as an operation
 * of t. */
static void *alloc_under(fa_alloc_t *fa, fa__thread_t *t, uint32_t tag, size_t size, fa_site_t *site) {
    fa__op_begin(t);
    uint32_t saved = t->fast.tag;
    fa__stats_set_tag(t, tag);
    void *p = fa__pool_alloc_raw(fa, t, size, site);
    fa__stats_set_tag(t, saved);
    fa__op_end(t);
    return p;
}

static void free_block(fa_alloc_t *fa, void *b, const char *who) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    fa__op_begin(t);
    fa__pool_free_raw(fa, t, b, who);
    fa__op_end(t);
}

fa_task_t *fa_task_begin_site(fa_alloc_t *fa, const char *tag_path, fa_site_t *site) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    int tag = tag_path && tag_path[0] ? fa_tag_find(fa, tag_path, true) : (int)t->fast.tag;
    if (tag < 0) return NULL;
    fa_task_t *task = alloc_under(fa, t, (uint32_t)tag, sizeof *task, site);
    if (!task) return NULL;
    *task = (fa_task_t){.fa = fa, .tag = (uint32_t)tag, .site = site};
    task->head.next = task->head.prev = &task->head;
    return task;
}

fa_task_t *fa_task_begin(fa_alloc_t *fa, const char *tag_path) { return fa_task_begin_site(fa, tag_path, NULL); }

void *fa_task_alloc(fa_task_t *task, size_t size) { return fa_task_alloc_site(task, size, NULL); }

void *fa_task_alloc_site(fa_task_t *task, size_t size, fa_site_t *site) {
    if (!task) return NULL;
    fa__thread_t *t = fa__thread_get(task->fa);
    if (!t) return NULL;
    if (size > FA__SIZE_MAX - sizeof(task_block_t)) {
        fa__report(task->fa, FA_ERR_OVERFLOW, NULL, "fa_task_alloc: size %zu overflows", size);
        return NULL;
    }
    /* Allocate under the task's tag, whatever thread runs it. */
    task_block_t *b = alloc_under(task->fa, t, task->tag, sizeof *b + size, site);
    if (!b) return NULL;
    b->size = size;
    b->owner = task;
    b->next = task->head.next;
    b->prev = &task->head;
    b->next->prev = b;
    task->head.next = b;
    task->bytes += size;
    task->blocks++;
    return b + 1;
}

void fa_task_free(fa_task_t *task, void *p) {
    if (!task || !p) return;
    fa_alloc_t *fa = task->fa;
    /* The header is read only once the block is known to be a pool or heap
     * block of this context; then it must name this task. */
    uintptr_t addr = (uintptr_t)p - sizeof(task_block_t);
    task_block_t *b = (task_block_t *)addr;
    bool ours = addr < (uintptr_t)p &&
                (fa__pool_owns(fa, b) ? fa__pool_is_block(fa, b) : fa__heap_is_live(fa, b));
    if (!ours || b->owner != task) {
        fa__report(fa, FA_ERR_FOREIGN_PTR, p, "fa_task_free: %p is not a live block of this task", p);
        return;
    }
    b->prev->next = b->next;
    b->next->prev = b->prev;
    b->owner = NULL;
    task->blocks--;
    task->bytes -= b->size;
    free_block(fa, b, "fa_task_free");
}

size_t fa_task_bytes(const fa_task_t *task) { return task ? task->bytes : 0; }

void fa_task_end(fa_task_t *task) {
    if (!task) return;
    fa_alloc_t *fa = task->fa;
    for (task_block_t *b = task->head.next, *next; b != &task->head; b = next) {
        next = b->next;
        b->owner = NULL;
        free_block(fa, b, "fa_task_end");
    }
    free_block(fa, task, "fa_task_end");
}
