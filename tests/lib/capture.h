/* Test helpers: a context whose error hook and budget callback record what
 * they receive, so tests assert on error ids and event kinds, not on text. */
#ifndef FA_TEST_CAPTURE_H
#define FA_TEST_CAPTURE_H

#include <criterion/criterion.h>
#include <framealloc.h>
#include <pthread.h>
#include <string.h>

#define CAPTURE_MAX 256

/* Tests that check exact byte figures: FA_MINIMAL has none, and FA_DEBUG
 * counts its guard bytes and headers too. */
#if !defined(FA_MINIMAL) && !defined(FA_DEBUG)
#define FA_EXACT_FIGURES 1
#endif

typedef struct capture {
    pthread_mutex_t lock;
    int errors[CAPTURE_MAX];
    int error_count;
    fa_budget_event_t events[CAPTURE_MAX];
    char event_paths[CAPTURE_MAX][FA_TAG_PATH_MAX + 1];
    int event_count;
    bool allow; /* answer of the budget callback under FA_POLICY_CALLBACK */
} capture_t;

static inline void capture_error(const fa_error_event_t *ev, void *user) {
    capture_t *c = user;
    pthread_mutex_lock(&c->lock);
    if (c->error_count < CAPTURE_MAX) c->errors[c->error_count] = ev->code;
    c->error_count++;
    pthread_mutex_unlock(&c->lock);
}

static inline bool capture_budget(const fa_budget_event_t *ev, void *user) {
    capture_t *c = user;
    pthread_mutex_lock(&c->lock);
    if (c->event_count < CAPTURE_MAX) {
        c->events[c->event_count] = *ev;
        strncpy(c->event_paths[c->event_count], ev->tag_path, FA_TAG_PATH_MAX);
    }
    c->event_count++;
    pthread_mutex_unlock(&c->lock);
    return c->allow;
}

static inline void capture_init(capture_t *c) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
}

/* A context wired to c; cfg_in may be NULL. */
static inline fa_alloc_t *capture_create(capture_t *c, const fa_config_t *cfg_in) {
    capture_init(c);
    fa_config_t cfg = cfg_in ? *cfg_in : (fa_config_t){0};
    cfg.error_cb = capture_error;
    cfg.error_user = c;
    cfg.budget_cb = capture_budget;
    cfg.budget_user = c;
    fa_alloc_t *fa = fa_create(&cfg);
    cr_assert_not_null(fa);
    return fa;
}

static inline int capture_count_error(capture_t *c, int code) {
    int n = 0;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->error_count && i < CAPTURE_MAX; i++) n += c->errors[i] == code;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static inline int capture_count_event(capture_t *c, fa_budget_event_kind kind, const char *path) {
    int n = 0;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->event_count && i < CAPTURE_MAX; i++)
        n += c->events[i].kind == kind && (!path || strcmp(c->event_paths[i], path) == 0);
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* The snapshot row of a tag path, or NULL. */
static inline const fa_tag_row_t *row_of(const fa_snapshot_t *s, const char *path) {
    for (uint32_t i = 0; i < s->row_count; i++)
        if (strcmp(s->rows[i].path, path) == 0) return &s->rows[i];
    return NULL;
}

#endif
