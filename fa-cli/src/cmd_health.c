/* cmd_health.c — `health`: is the daemon up, and what its ingest did. */
#include "cli.h"

const cmd_info_t cmd_health_info = {
    .name = "health",
    .summary = "check that the daemon answers; show its version, uptime and ingest counters",
    .synopsis = "",
    .details = "Exits 0 when the daemon answers, 1 when it is down (usable as a readiness probe).\n",
    .example = "  fa-cli health\n"
               "  until fa-cli health >/dev/null 2>&1; do sleep 0.2; done\n",
};

static void print_counters(const cJSON *obj, int indent) {
    const cJSON *c;
    cJSON_ArrayForEach(c, obj) {
        if (cJSON_IsObject(c)) {
            printf("%*s%s:\n", indent, "", c->string);
            print_counters(c, indent + 2);
        } else if (cJSON_IsNumber(c)) {
            printf("%*s%-20s %.0f\n", indent, "", c->string, c->valuedouble);
        } else if (cJSON_IsString(c)) {
            printf("%*s%-20s %s\n", indent, "", c->string, c->valuestring);
        } else if (cJSON_IsBool(c)) {
            printf("%*s%-20s %s\n", indent, "", c->string, cJSON_IsTrue(c) ? "yes" : "no");
        }
    }
}

int cmd_health(cli_t *cli, int argc, char **argv) {
    args_opt_t opts[] = {{0}};
    int rc = args_parse(cli, &cmd_health_info, opts, argc, argv);
    if (rc >= 0) return rc;
    http_answer_t a;
    if ((rc = api_get(cli, "/api/v1/health", &a, NULL, NULL)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
    } else {
        char up[32];
        uint64_t up_ms = jv_u64(a.json, "uptime_ms", jv_u64(a.json, "uptime_s", 0) * 1000u);
        printf("fa-insightd %s at %s: %s%s%s, up %s\n", jv_str(a.json, "version", "?"), cli->server,
               render_color_code(cli, RC_GREEN), jv_str(a.json, "status", "ok"),
               render_color_code(cli, RC_RESET), render_duration_ms(up, sizeof up, up_ms));
        const cJSON *c;
        cJSON_ArrayForEach(c, a.json) {
            if (cJSON_IsObject(c)) {
                printf("%s:\n", c->string);
                print_counters(c, 2);
            }
        }
    }
    http_answer_free(&a);
    return CLI_EXIT_OK;
}
