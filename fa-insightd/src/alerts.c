/* alerts.c — the budget alert state machine of one tag.
 *
 *        usage >= 80 %          usage >= 100 %
 *   none ──────────────▶ warning ──────────────▶ critical
 *     ▲                     │                       │
 *     └──── usage < 75 % ───┴───────────────────────┘
 *
 * An episode opens at 80 % (or directly critical at 100 %), can only
 * escalate, and closes below 75 %. The 5-point gap is the hysteresis: a
 * tag oscillating around 80 % (or 100 %) raises one alert, not one per
 * crossing. Percentages are compared in integers (usage * 100 against
 * hard * pct) in 128 bits, so no rounding decides an edge case. */
#include "alerts.h"

static bool at_least(uint64_t usage, uint64_t hard, unsigned pct) {
    return (unsigned __int128)usage * 100u >= (unsigned __int128)hard * pct;
}

double alerts_pct(uint64_t usage, uint64_t hard) {
    return hard ? (double)usage * 100.0 / (double)hard : 0.0;
}

const char *alerts_level_name(int level) {
    switch (level) {
    case ALERT_WARNING:
        return "warning";
    case ALERT_CRITICAL:
        return "critical";
    default:
        return "none";
    }
}

int alerts_eval(alert_state_t *st, uint64_t usage, uint64_t hard, uint64_t t_ms) {
    if (st->level == ALERT_NONE) {
        if (hard == 0 || !at_least(usage, hard, ALERT_WARN_PCT)) return ALERT_EV_NONE;
        st->level = at_least(usage, hard, ALERT_CRIT_PCT) ? ALERT_CRITICAL : ALERT_WARNING;
        st->episode_level = st->level;
        st->id = 0;
        st->raised_ms = t_ms;
        st->raised_bytes = usage;
        st->peak_bytes = usage;
        st->budget_hard = hard;
        st->peak_dirty = false;
        return ALERT_EV_RAISED;
    }
    if (usage > st->peak_bytes) {
        st->peak_bytes = usage;
        st->peak_dirty = true;
    }
    if (hard == 0 || !at_least(usage, hard, ALERT_CLEAR_PCT)) {
        st->level = ALERT_NONE;
        return ALERT_EV_CLEARED;
    }
    st->budget_hard = hard;
    if (st->level == ALERT_WARNING && at_least(usage, hard, ALERT_CRIT_PCT)) {
        st->level = ALERT_CRITICAL;
        st->episode_level = ALERT_CRITICAL;
        return ALERT_EV_ESCALATED;
    }
    return ALERT_EV_NONE;
}
