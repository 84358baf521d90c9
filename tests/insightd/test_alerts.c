/* test_alerts.c — warning at 80 %, critical at 100 %, cleared below 75 %,
 * one alert per episode however usage wobbles. */
#include "helpers.h"

static int feed(alert_state_t *a, unsigned pct) {
    return alerts_eval(a, 10u * pct, 1000, pct);
}

Test(alerts, nothing_below_80_percent) {
    alert_state_t a = {0};
    cr_assert_eq(feed(&a, 0), ALERT_EV_NONE);
    cr_assert_eq(feed(&a, 79), ALERT_EV_NONE);
    cr_assert_eq(alerts_eval(&a, 799, 1000, 0), ALERT_EV_NONE); /* 79.9 % */
    cr_assert_eq(a.level, ALERT_NONE);
}

Test(alerts, warning_at_exactly_80_percent_then_critical_at_100) {
    alert_state_t a = {0};
    cr_assert_eq(feed(&a, 80), ALERT_EV_RAISED);
    cr_assert_eq(a.level, ALERT_WARNING);
    cr_assert_eq(a.raised_bytes, 800);
    cr_assert_eq(feed(&a, 99), ALERT_EV_NONE);
    cr_assert_eq(feed(&a, 100), ALERT_EV_ESCALATED);
    cr_assert_eq(a.level, ALERT_CRITICAL);
    cr_assert_eq(a.episode_level, ALERT_CRITICAL);
    cr_assert_eq(feed(&a, 120), ALERT_EV_NONE);
    cr_assert_eq(a.peak_bytes, 1200);
}

Test(alerts, straight_to_critical) {
    alert_state_t a = {0};
    cr_assert_eq(feed(&a, 150), ALERT_EV_RAISED);
    cr_assert_eq(a.level, ALERT_CRITICAL);
}

Test(alerts, hysteresis_no_flapping_at_the_edges) {
    alert_state_t a = {0};
    int events = 0;
    static const unsigned wobble[] = {80, 79, 81, 78, 80, 76, 75, 99, 100, 99, 101, 98, 100, 75, 76};
    for (size_t i = 0; i < sizeof wobble / sizeof wobble[0]; i++)
        if (feed(&a, wobble[i]) != ALERT_EV_NONE) events++;
    cr_assert_eq(events, 2, "one raise and one escalation, got %d events",
                 events); /* 80 raise, 100 escalate */
    cr_assert_eq(a.level, ALERT_CRITICAL, "75 %% is not below 75 %%");
    cr_assert_eq(feed(&a, 74), ALERT_EV_CLEARED);
    cr_assert_eq(a.level, ALERT_NONE);
    cr_assert_eq(a.episode_level, ALERT_CRITICAL, "the cleared episode keeps its level");
    cr_assert_eq(feed(&a, 79), ALERT_EV_NONE);
    cr_assert_eq(feed(&a, 80), ALERT_EV_RAISED, "a new episode");
}

Test(alerts, removing_the_budget_clears) {
    alert_state_t a = {0};
    cr_assert_eq(feed(&a, 90), ALERT_EV_RAISED);
    cr_assert_eq(alerts_eval(&a, 900, 0, 1), ALERT_EV_CLEARED);
    cr_assert_eq(alerts_eval(&a, 900, 0, 2), ALERT_EV_NONE, "no budget, no alert");
}

Test(alerts, huge_values_do_not_overflow) {
    alert_state_t a = {0};
    uint64_t hard = UINT64_MAX / 10 * 9;
    cr_assert_eq(alerts_eval(&a, hard / 100 * 79, hard, 0), ALERT_EV_NONE);
    cr_assert_eq(alerts_eval(&a, UINT64_MAX, hard, 0), ALERT_EV_RAISED);
    cr_assert_eq(a.level, ALERT_CRITICAL);
}

Test(alerts, percentages) {
    cr_assert_float_eq(alerts_pct(50, 200), 25.0, 1e-9);
    cr_assert_float_eq(alerts_pct(50, 0), 0.0, 1e-9);
    cr_assert_str_eq(alerts_level_name(ALERT_WARNING), "warning");
    cr_assert_str_eq(alerts_level_name(ALERT_CRITICAL), "critical");
}
