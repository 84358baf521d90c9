/* The task allocator: blocks for one asynchronous task, all released when
 * the task ends. Each block carries a small header that links it into the
 * task's list, so fa_task_end() walks and frees them. Blocks come from the
 * pool (or the heap above 4 KiB), never from a frame arena. */
#include "internal.h"

/* 32 bytes, so the block after it stays 16-aligned. */
typedef struct task_block {
    struct task_block *next, *prev;
    size_t size;
    size_t reserved;
} task_block_t;

struct fa_task {
    fa_alloc_t *fa;
    uint32_t tag;
    task_block_t head; /* circular list sentinel */
    size_t bytes, blocks;
};

fa_task_t *fa_task_begin(fa_alloc_t *fa, const char *tag_path) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    int tag = tag_path && tag_path[0] ? fa_tag_find(fa, tag_path, true) : (int)t->fast.tag;
    if (tag < 0) return NULL;
    uint32_t saved = t->fast.tag;
    t->fast.tag = (uint32_t)tag;
    fa_task_t *task = fa__pool_alloc_raw(fa, t, sizeof *task);
    t->fast.tag = saved;
    if (!task) return NULL;
    *task = (fa_task_t){.fa = fa, .tag = (uint32_t)tag};
    task->head.next = task->head.prev = &task->head;
    return task;
}

void *fa_task_alloc(fa_task_t *task, size_t size) {
    if (!task) return NULL;
    fa__thread_t *t = fa__thread_get(task->fa);
    if (!t) return NULL;
    if (size > SIZE_MAX - sizeof(task_block_t)) {
        fa__report(task->fa, FA_ERR_OVERFLOW, NULL, "fa_task_alloc: size %zu overflows", size);
        return NULL;
    }
    /* Allocate under the task's tag, whatever thread runs it. */
    uint32_t saved = t->fast.tag;
    t->fast.tag = task->tag;
    task_block_t *b = fa__pool_alloc_raw(task->fa, t, sizeof *b + size);
    t->fast.tag = saved;
    if (!b) return NULL;
    b->size = size;
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
    task_block_t *b = (task_block_t *)p - 1;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    task->blocks--;
    task->bytes -= b->size;
    fa__pool_free_raw(task->fa, b, "fa_task_free");
}

size_t fa_task_bytes(const fa_task_t *task) { return task ? task->bytes : 0; }

void fa_task_end(fa_task_t *task) {
    if (!task) return;
    fa_alloc_t *fa = task->fa;
    for (task_block_t *b = task->head.next, *next; b != &task->head; b = next) {
        next = b->next;
        fa__pool_free_raw(fa, b, "fa_task_end");
    }
    fa__pool_free_raw(fa, task, "fa_task_end");
}
