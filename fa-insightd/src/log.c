/* log.c — level-filtered logging with a printf attribute, and rate limits
 * for conditions that could otherwise flood the log (malformed input). */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

int log_level = LOG_INFO;

static log_hook_fn log_hook;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *name) {
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) return i;
    if (strcmp(name, "warning") == 0) return LOG_WARN;
    return -1;
}

const char *log_level_name(int level) {
    return level >= 0 && level < 4 ? level_names[level] : "?";
}

void log_set_hook(log_hook_fn hook) {
    pthread_mutex_lock(&log_lock);
    log_hook = hook;
    pthread_mutex_unlock(&log_lock);
}

static void log_vwrite(int level, const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(&log_lock);
    if (log_hook) {
        log_hook(level, msg);
    } else {
        struct timespec ts;
        struct tm tm;
        char when[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ld %-5s %s: %s\n", when, ts.tv_nsec / 1000000L, log_level_name(level),
                "fa-insightd", msg);
        fflush(stderr);
    }
    pthread_mutex_unlock(&log_lock);
}

void log_write(int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, fmt, ap);
    va_end(ap);
}

void log_limited(log_limiter_t *lim, uint64_t interval_ms, int level, const char *fmt, ...) {
    if (level > log_level) return;
    uint64_t now = clock_mono_ms();
    if (lim->last_ms != 0 && now - lim->last_ms < interval_ms) {
        lim->suppressed++;
        return;
    }
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lim->suppressed)
        log_write(level, "%s (%llu similar suppressed)", msg, (unsigned long long)lim->suppressed);
    else
        log_write(level, "%s", msg);
    lim->last_ms = now;
    lim->suppressed = 0;
}
