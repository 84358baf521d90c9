/*
 * log.c — the agent's log items (one X-macro table: ids, names, texts), the
 * path to the game's log callback, and the clocks.
 */
#include "agent_internal.h"

#include <time.h>

const char *fa_agent_log_name(int id) {
    switch (id) {
#define FA_AGENT__LOG_NAME(name, value, msg)                                                                 \
    case value:                                                                                              \
        return #name;
        FA_AGENT_LOG_TABLE(FA_AGENT__LOG_NAME)
#undef FA_AGENT__LOG_NAME
    default:
        return "FA_AGENT_LOG_UNKNOWN";
    }
}

const char *fa_agent_log_text(int id) {
    switch (id) {
#define FA_AGENT__LOG_TEXT(name, value, msg)                                                                 \
    case value:                                                                                              \
        return msg;
        FA_AGENT_LOG_TABLE(FA_AGENT__LOG_TEXT)
#undef FA_AGENT__LOG_TEXT
    default:
        return "unknown log item";
    }
}

void fa__agent_log(const fa_agent_t *a, fa_agent_log_id id, int code, uint64_t value, const char *detail) {
    if (!a->desc.log_cb) return;
    fa_agent_log_event_t ev = {.id = id, .code = code, .value = value, .detail = detail};
    a->desc.log_cb(&ev, a->desc.log_user);
}

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t fa__agent_mono_ns(void) {
    return clock_ns(CLOCK_MONOTONIC);
}
uint64_t fa__agent_real_ns(void) {
    return clock_ns(CLOCK_REALTIME);
}
