/* stats.c — the counters' storage (see stats.h). */
#include "stats.h"

insightd_stats_t g_stats;
