/* alerts.h — the budget alert state machine of one tag (pure, any thread).
 *
 * An episode starts at >= 80 % of the hard budget (warning) or >= 100 %
 * (critical), may escalate from warning to critical, and ends only below
 * 75 %: usage hovering around 80 % or 100 % raises nothing new. */
#ifndef FA_INSIGHTD_ALERTS_H
#define FA_INSIGHTD_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

/* Thresholds in percent of the hard budget. */
#define ALERT_WARN_PCT 80u
#define ALERT_CRIT_PCT 100u
#define ALERT_CLEAR_PCT 75u

enum { ALERT_NONE = 0, ALERT_WARNING = 1, ALERT_CRITICAL = 2 };
enum { ALERT_EV_NONE = 0, ALERT_EV_RAISED, ALERT_EV_ESCALATED, ALERT_EV_CLEARED };

typedef struct alert_state {
    uint8_t level;         /* ALERT_* while an episode is open, else NONE */
    uint8_t episode_level; /* highest level of the current or last episode */
    int64_t id;            /* the episode's alert id (assigned by sessions.c), 0 before */
    uint64_t raised_ms;
    uint64_t raised_bytes;
    uint64_t peak_bytes;  /* highest usage in the episode */
    uint64_t budget_hard; /* the budget when raised (or last seen) */
    bool peak_dirty;      /* peak changed since the row was written */
} alert_state_t;

/* Feeds one usage sample. Returns an ALERT_EV_* and updates st (level,
 * raised_ms on raise, peak). A hard budget of 0 means no budget: an open
 * episode is cleared. O(1). */
int alerts_eval(alert_state_t *st, uint64_t usage, uint64_t hard, uint64_t t_ms);
const char *alerts_level_name(int level); /* "warning", "critical", "none" */
/* usage / hard in percent (0 when hard is 0). */
double alerts_pct(uint64_t usage, uint64_t hard);

#endif
