/* rules.c — the table of fa-lint's checks and their explanations. Codes are
 * stable: a code is never reused for another check. */
#include "rules.h"

#include <string.h>
#include <strings.h>

static const rule_info rules[RULE_COUNT] = {
    [R_FA001] =
        {"FA001", "suppression-without-reason", GROUP_META, false, "an in-code suppression gives no reason",
         "A `fa-lint: allow(FAxxx)` comment with nothing after the closing parenthesis.",
         "A suppression is a claim that the code is right although it looks wrong; without the why, the "
         "next reader cannot check the claim and the suppression outlives the reason it had. An "
         "unreasoned suppression also suppresses nothing: the finding it names is still reported.",
         "Write the reason after the codes, in the same comment.",
         "p = fa_heap_alloc(fa, n, 0); /* fa-lint: allow(FA602) */",
         "p = fa_heap_alloc(fa, n, 0); /* fa-lint: allow(FA602) level load, once per session */"},
    [R_FA201] =
        {"FA201", "frame-memory-to-thread", GROUP_THREADING, false,
         "frame memory passed to another thread without fa_transfer_*",
         "Frame memory (or a struct holding a frame pointer) given to pthread_create/thrd_create as the "
         "thread's argument, or to uv_queue_work through its request's data.",
         "Frame memory belongs to the thread that allocated it and is reset by that thread's "
         "fa_end_frame(), whatever the other thread is doing with it: the other thread reads memory "
         "that is being reused.",
         "Hand the data over with a transfer: fa_transfer_from_frame() copies it out of the frame, "
         "fa_transfer_send() publishes it and the receiver calls fa_transfer_receive()/_release(). Or "
         "allocate the shared data from the pool.",
         "int *job = FA_FRAME_ARRAY(fa, int, n);\npthread_create(&t, NULL, worker, job);",
         "fa_transfer_t h = fa_transfer_from_frame(fa, job, n * sizeof *job);\nfa_transfer_send(fa, h);\n"
         "pthread_create(&t, NULL, worker, (void *)(uintptr_t)h.id); /* worker: fa_transfer_receive */"},
    [R_FA202] =
        {"FA202", "thread-frame-without-begin", GROUP_THREADING, false,
         "a thread function allocates frame memory without its own begin/end frame",
         "A function started as a thread (pthread_create/thrd_create) that allocates frame memory, "
         "directly or through a function it calls, and never calls fa_begin_frame/fa_end_frame.",
         "Each thread has its own arena and its own frames. Without fa_begin_frame() on that thread its "
         "allocations are outside any frame: they are never reset, so the arena grows until the "
         "thread ends, and the behaviour filter reports them.",
         "Give the thread its own frame loop: fa_begin_frame(fa) at the start of each unit of work and "
         "fa_end_frame(fa) at its end; or use the pool for data that outlives the work.",
         "void *worker(void *arg) {\n    for (;;) { float *v = FA_FRAME_ARRAY(fa, float, 256); work(v); }\n}",
         "void *worker(void *arg) {\n    for (;;) {\n        fa_begin_frame(fa);\n        float *v = "
         "FA_FRAME_ARRAY(fa, float, 256); work(v);\n        fa_end_frame(fa);\n    }\n}"},
    [R_FA203] =
        {"FA203", "barrier-mismatch", GROUP_THREADING, false,
         "fa_barrier_signal and fa_barrier_wait do not match in one function",
         "In one function: a barrier signalled whose round is never waited for, a wait on one barrier "
         "with the round returned by signalling another, or two signals of the same barrier with no "
         "wait between them.",
         "A party that signals round r+1 before round r completed breaks the barrier's contract "
         "(framealloc.h: MUST NOT), and waiting on another barrier's round waits for the wrong event: "
         "either hangs or returns before the work is done.",
         "Wait for the round that signal() returned, on the same barrier, before signalling again; or "
         "use fa_barrier_arrive_and_wait(), which does both.",
         "uint64_t r = fa_barrier_signal(&physics_done);\nfa_barrier_wait(&render_done, r, FA_WAIT_FOREVER);",
         "uint64_t r = fa_barrier_signal(&physics_done);\nfa_barrier_wait(&physics_done, r, "
         "FA_WAIT_FOREVER);"},
    [R_FA301] =
        {"FA301", "unbudgeted-loop-allocation", GROUP_BUDGETS, false,
         "allocation in an unbounded loop under a tag that no code gives a budget",
         "A frame, pool, heap or task allocation inside a loop with no visible bound (for(;;), "
         "while(running), do-while) under a tag pushed in the same function, when no fa_budget_set or "
         "fa_budget_set_ex of the program (every translation unit linted) names that tag or a parent "
         "of it, and the config does not list it under tags.budgeted.",
         "An unbounded loop is where memory grows without limit; a budget is what turns that growth "
         "into an 80 % warning and a 100 % alert instead of an out-of-memory crash hours later.",
         "Give the tag (or a parent) a budget at start-up with fa_budget_set(); if budgets come from "
         "data at run time, list the tag under [tags] budgeted in .fa.toml.",
         "FA_TAG_SCOPE(fa, \"particles\");\nwhile (running) { spawn(fa_pool_alloc(fa, 64)); }",
         "fa_budget_set(fa, \"particles\", 1 << 20, 2 << 20); /* at start-up */\n"
         "FA_TAG_SCOPE(fa, \"particles\");\nwhile (running) { spawn(fa_pool_alloc(fa, 64)); }"},
    [R_FA302] =
        {"FA302", "tag-without-budget", GROUP_BUDGETS, true,
         "a tag used in code is never budgeted (config: require_budgets)",
         "With `require_budgets = true` in .fa.toml: a tag pushed or scoped in code for which no "
         "budget call in the program, and no tags.budgeted entry, covers it (a parent's budget covers "
         "its children). Silent without that setting.",
         "A team that asks for budgets everywhere wants every subsystem's memory to be bounded and "
         "visible on the dashboard's budget bars; a tag without a budget is a blind spot.",
         "Add fa_budget_set(fa, \"tag\", soft, hard) at start-up, or list the tag under tags.budgeted.",
         "FA_TAG_SCOPE(fa, \"audio\"); /* no budget anywhere */",
         "fa_budget_set(fa, \"audio\", 0, 4 << 20); /* at start-up */"},
    [R_FA601] =
        {"FA601", "frame-escape", GROUP_LIFETIME, false, "a frame pointer escapes its frame",
         "A pointer to frame memory stored in a global or static variable, in pool/heap/malloc memory, "
         "in a struct of a type that is pool- or heap-allocated in the same file or listed as "
         "long-lived in .fa.toml, or returned from a function (unless the function is listed in "
         "lint.frame_functions). Followed through local variables, casts, pointer arithmetic, struct "
         "members and calls to functions of the same file.",
         "Frame memory is reset by fa_end_frame(): whatever holds the pointer after that reads memory "
         "that the next frame overwrites. In C nothing stops the store; the crash comes frames later, "
         "far from the cause.",
         "Keep frame pointers in locals of the frame, or copy what must survive: fa_frame_retain() / "
         "fa_frame_alloc_retained() to promote it, or allocate long-lived data from the pool.",
         "static const char *last_name;\nlast_name = fa_frame_strdup(fa, name);",
         "static char last_name[64];\nsnprintf(last_name, sizeof last_name, \"%s\", name);"},
    [R_FA602] = {"FA602", "heap-in-frame-loop", GROUP_LIFETIME, false,
                 "heap or malloc allocation inside the frame loop",
                 "malloc/calloc/realloc/strdup/aligned_alloc or fa_heap_alloc between fa_begin_frame() and "
                 "fa_end_frame() of the same function, or a call made there to a function of the same file "
                 "that allocates that way.",
                 "The heap takes locks and may call the OS: its cost is unbounded, which is what a frame "
                 "cannot afford, and per-frame heap traffic fragments memory over a long session.",
                 "Allocate per-frame data from the frame arena (fa_frame_alloc, FA_FRAME_ARRAY), objects "
                 "from the pool (fa_pool_alloc), or hoist the heap allocation out of the loop.",
                 "fa_begin_frame(fa);\nchar *line = malloc(256);",
                 "fa_begin_frame(fa);\nchar *line = fa_frame_alloc(fa, 256, 1);"},
    [R_FA603] = {"FA603", "frame-alloc-outside-frame", GROUP_LIFETIME, false,
                 "frame allocation outside any begin/end frame",
                 "A frame allocation (or a call to a same-file function that makes one) at a point where the "
                 "same function provably has no frame open: before its fa_begin_frame(), after its "
                 "fa_end_frame(), or in main() or after fa_create() with no frame begun.",
                 "Outside a frame the arena is never reset: the memory lives until the thread ends, the "
                 "statistics attribute it to no frame, and the behaviour filter reports it.",
                 "Move the allocation between fa_begin_frame() and fa_end_frame(), or use the pool for data "
                 "that lives longer than a frame.",
                 "fa_end_frame(fa);\nchar *summary = fa_frame_sprintf(fa, \"%d\", n);",
                 "char *summary = fa_frame_sprintf(fa, \"%d\", n);\nfa_end_frame(fa);"},
    [R_FA604] =
        {"FA604", "frame-use-after-end", GROUP_LIFETIME, false, "frame memory used after fa_end_frame",
         "A variable that holds frame memory read after the fa_end_frame() that released it, on every "
         "path, without being assigned again in between.",
         "fa_end_frame() resets the arena: the next frame's allocations reuse the same bytes, so the "
         "old pointer sees them change under it (FA_DEBUG poisons them with 0xDD).",
         "Use the data before fa_end_frame(), copy what must survive, or promote it with "
         "fa_frame_retain() and use the pointer that fa_end_frame_with_promotions() hands back.",
         "char *msg = fa_frame_strdup(fa, text);\nfa_end_frame(fa);\nputs(msg);",
         "char *msg = fa_frame_strdup(fa, text);\nputs(msg);\nfa_end_frame(fa);"},
    [R_FA605] =
        {"FA605", "mismatched-free", GROUP_LIFETIME, false, "memory given to the wrong free",
         "Frame memory given to fa_pool_free, fa_heap_free, free or fa_task_free; malloc memory given "
         "to fa_pool_free or fa_heap_free; pool, heap or task memory given to another allocator's free.",
         "Each allocator finds its block from the pointer: a foreign pointer is at best reported and "
         "leaked (FA_ERR_FOREIGN_PTR), at worst (free() of a pool block) corrupts the C heap. Frame "
         "memory is never freed one block at a time.",
         "Free with the function that matches the allocation: fa_pool_free for fa_pool_alloc, "
         "fa_heap_free for fa_heap_alloc, free for malloc; frame memory needs no free.",
         "char *s = fa_frame_strdup(fa, name);\nfree(s);",
         "char *s = fa_frame_strdup(fa, name);\n/* released by fa_end_frame() */"},
    [R_FA701] =
        {"FA701", "frame-memory-in-async", GROUP_ASYNC, false,
         "frame memory stored in a libuv request/handle or passed as a callback's argument",
         "Frame memory stored into `->data`/`.data` of a uv_* request or handle, given to "
         "uv_handle_set_data/uv_req_set_data, or passed as the user pointer of a call that also takes "
         "a callback (it is read when the callback runs).",
         "A callback runs later: after this frame ended, on another thread for libuv work items. By "
         "then the frame memory has been reset and reused.",
         "Give callbacks pool memory (or a fa_task_* allocation freed when the task ends), or copy "
         "the data with a transfer.",
         "req->data = FA_FRAME_NEW(fa, job_t);\nuv_queue_work(loop, req, work_cb, after_cb);",
         "fa_task_t *task = fa_task_begin(fa, \"jobs\");\nreq->data = fa_task_alloc(task, sizeof(job_t));"},
    [R_FA702] =
        {"FA702", "frame-memory-in-callback", GROUP_ASYNC, false,
         "frame memory used inside a libuv work or after-work callback",
         "A function given to uv_queue_work as work or after-work callback that allocates frame "
         "memory, or that reads the request's data when the request was given frame memory in the "
         "same file.",
         "The work callback runs on libuv's thread pool, where no frame is open (frame memory there "
         "is never reset); the after-work callback runs on the loop thread at an unknown later frame.",
         "Allocate inside callbacks with fa_task_alloc/fa_pool_alloc, or open a frame on that "
         "thread around the work.",
         "static void work_cb(uv_work_t *req) { float *tmp = FA_FRAME_ARRAY(fa, float, 64); }",
         "static void work_cb(uv_work_t *req) { float *tmp = fa_task_alloc(task, 64 * sizeof(float)); }"},
    [R_FA801] = {"FA801", "undeclared-tag", GROUP_ARCHITECTURE, true,
                 "a tag string not declared in the config",
                 "With a [tags] declared list in .fa.toml: a tag pushed, scoped, budgeted or used by "
                 "fa_task_begin that matches no declared entry (entries may be globs: \"physics/*\"). Silent "
                 "without that list.",
                 "Tags are the dashboard's vocabulary: a typo (\"phyiscs\") silently creates a new subsystem "
                 "with no budget, and its memory disappears from the one it belongs to.",
                 "Fix the spelling, or declare the new tag in .fa.toml.", "FA_TAG_SCOPE(fa, \"phyiscs\");",
                 "FA_TAG_SCOPE(fa, \"physics\");"},
    [R_FA802] =
        {"FA802", "tag-in-foreign-module", GROUP_ARCHITECTURE, true,
         "a tag used in a module that the config assigns to another subsystem",
         "With a [modules] map in .fa.toml (file glob = subsystem tag): a file of one subsystem that "
         "pushes a tag outside it (neither the subsystem's tag nor below it). Silent without that map.",
         "Attribution is only useful when it is honest: audio code that tags its memory \"render\" "
         "makes the render budget break for audio's growth.",
         "Use a tag under the module's subsystem, or move the code to the module it belongs to.",
         "/* src/audio/mixer.c, modules: \"src/audio/**\" = \"audio\" */\nFA_TAG_SCOPE(fa, \"render\");",
         "FA_TAG_SCOPE(fa, \"audio/mixer\");"},
    [R_FA803] = {"FA803", "tag-push-without-pop", GROUP_ARCHITECTURE, false,
                 "fa_tag_push without a matching pop on every path of a function",
                 "A successful fa_tag_push() still on the stack when the function returns, or when break, "
                 "continue or goto leaves the loop or block it was pushed in.",
                 "The thread's tag stack stays one deeper: every later allocation on that thread, in every "
                 "subsystem, is attributed to the leaked tag, and the stack overflows after 32 such leaks.",
                 "Use FA_TAG_SCOPE(fa, \"tag\") (popped at scope exit however the scope is left), or pop "
                 "before each return.",
                 "fa_tag_push(fa, \"ai\");\nif (!path) return -1;\nfa_tag_pop(fa);",
                 "FA_TAG_SCOPE(fa, \"ai\");\nif (!path) return -1;"},
};

const rule_info *rule_get(rule_id id) {
    return &rules[id];
}

int rule_find(const char *code) {
    for (int i = 0; i < RULE_COUNT; i++)
        if (strcasecmp(rules[i].code, code) == 0) return i;
    return -1;
}

static const char *const group_names[GROUP_COUNT] = {"meta",     "threading", "budgets",
                                                     "lifetime", "async",     "architecture"};

const char *rule_group_name(rule_group g) {
    return group_names[g];
}

int rule_group_find(const char *word) {
    for (int g = 1; g < GROUP_COUNT; g++)
        if (strcmp(group_names[g], word) == 0) return g;
    return -1;
}

static void indented(FILE *out, const char *text) {
    fputs("    ", out);
    for (const char *p = text; *p; p++) {
        fputc(*p, out);
        if (*p == '\n') fputs("    ", out);
    }
    fputc('\n', out);
}

void rule_explain(FILE *out, rule_id id) {
    const rule_info *r = &rules[id];
    fprintf(out,
            "%s %s (%s%s)\n\n%s.\n\nWhat it finds\n  %s\n\nWhy it matters\n  %s\n\nHow to fix it\n  %s\n\n",
            r->code, r->name, group_names[r->group], r->needs_config ? ", needs .fa.toml" : "", r->summary,
            r->what, r->why, r->fix);
    fputs("Wrong\n", out);
    indented(out, r->wrong);
    fputs("\nRight\n", out);
    indented(out, r->right);
    fprintf(out, "\nSuppress one finding with a reason: /* fa-lint: allow(%s) why this is right */\n",
            r->code);
}
