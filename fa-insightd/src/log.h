/* log.h — level-filtered, rate-limited logging (any thread).
 *
 * One line per message, "<time> <level> fa-insightd: <message>", on
 * stderr (or to a hook in tests). Lines are written whole under a lock. */
#ifndef FA_INSIGHTD_LOG_H
#define FA_INSIGHTD_LOG_H

#include <stdint.h>

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* The level in force, set once at start-up before any thread runs;
 * messages above it are not formatted at all. */
extern int log_level;

/* Parses "error", "warn", "info" or "debug". Returns the level or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

/* Writes one line. Any thread. Prefer the LOG macro. */
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG(level, ...)                                                                                      \
    do {                                                                                                     \
        if ((level) <= log_level) log_write((level), __VA_ARGS__);                                           \
    } while (0)

/* At most one line per interval for a recurring condition (malformed
 * input, full queues, a failing disk). The next line written says how
 * many were suppressed. Zero-initialise; one limiter per condition; a
 * limiter is used by one thread only. */
typedef struct log_limiter {
    uint64_t last_ms;    /* monotonic time of the last line written */
    uint64_t suppressed; /* lines swallowed since */
} log_limiter_t;
void log_limited(log_limiter_t *lim, uint64_t interval_ms, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Tests: route every line to hook (NULL restores stderr). The hook gets
 * the level and the formatted message without the prefix. */
typedef void (*log_hook_fn)(int level, const char *msg);
void log_set_hook(log_hook_fn hook);

#endif
