/* session.c — which session a command looks at, and the "unknown X, did
 * you mean Y" answers for sessions and tags. */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t session_edit_distance(const char *a, const char *b, size_t cap) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 256 || lb > 256) return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap) return cap + 1;
    size_t prev[257], cur[257];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t row_min = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t v = prev[j - 1] + cost;
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            cur[j] = v;
            if (v < row_min) row_min = v;
        }
        if (row_min > cap) return cap + 1;
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb] > cap ? cap + 1 : prev[lb];
}

typedef struct near {
    const char *s;
    size_t score;
} near_t;

static int near_cmp(const void *a, const void *b) {
    const near_t *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return strcmp(x->s, y->s);
}

/* Last path component: "physics/contacts" → "contacts". */
static const char *leaf(const char *s) {
    const char *slash = strrchr(s, '/');
    return slash ? slash + 1 : s;
}

int session_print_unknown(const cli_t *cli, const char *what, const char *name, const char *where,
                          const char *const *candidates, size_t n) {
    fprintf(cli->err, CLI_NAME " %s: unknown %s '%s' in %s", cli->command ? cli->command : "", what, name,
            where);
    near_t *list = n ? calloc(n, sizeof *list) : NULL;
    size_t m = 0;
    size_t cap = strlen(name) / 4 + 2;
    for (size_t i = 0; list && i < n; i++) {
        const char *c = candidates[i];
        if (!c || !*c) continue;
        size_t d = session_edit_distance(name, c, cap);
        size_t dl = session_edit_distance(leaf(name), leaf(c), cap) + 1;
        if (dl < d) d = dl;
        /* A shared prefix or a substring is a good hint too. */
        if (strncasecmp(c, name, strlen(name)) == 0)
            d = d < 1 ? d : 1;
        else if (strncasecmp(name, c, strlen(c)) == 0 || strstr(c, name) || strstr(name, c))
            d = d < 2 ? d : 2;
        if (d <= cap) list[m++] = (near_t){c, d};
    }
    if (m) {
        qsort(list, m, sizeof *list, near_cmp);
        fputs("; did you mean ", cli->err);
        for (size_t i = 0; i < m && i < 5; i++)
            fprintf(cli->err, "%s'%s'", i ? (i + 1 == m || i == 4 ? " or " : ", ") : "", list[i].s);
        fputs("?\n", cli->err);
    } else if (n) {
        fputs("; known: ", cli->err);
        size_t shown = 0;
        for (size_t i = 0; i < n && shown < 8; i++) {
            if (!candidates[i] || !*candidates[i]) continue;
            fprintf(cli->err, "%s%s", shown ? ", " : "", candidates[i]);
            shown++;
        }
        if (n > shown) fprintf(cli->err, " (%zu in all)", n);
        fputc('\n', cli->err);
    } else {
        fputs(" (there are none)\n", cli->err);
    }
    free(list);
    return CLI_EXIT_USAGE;
}

static const cJSON *sessions_array(const cJSON *doc) {
    const cJSON *a = jv_array(doc, "sessions");
    return a ? a : jv_array(doc, NULL);
}

/* The newest activity of a session, for "latest". */
static uint64_t session_activity(const cJSON *s) {
    uint64_t t = jv_u64(s, "last_frame_ms", 0);
    uint64_t st = jv_u64(s, "started_ms", 0);
    return t > st ? t : st;
}

int api_get_pages(const cli_t *cli, const char *path_query, const char *key, uint32_t max_pages,
                  const char *sid, http_answer_t *out) {
    int rc = api_get(cli, path_query, out, sid, NULL);
    cJSON *all = rc ? NULL : cJSON_GetObjectItemCaseSensitive(out->json, key);
    uint32_t fetched = 1;
    for (; all && fetched < max_pages; fetched++) {
        const char *next = jv_str(out->json, "next", NULL);
        if (!next) break;
        char path[512];
        snprintf(path, sizeof path, "%s", path_query);
        if (http_query_add(path, sizeof path, "cursor", next) != 0) break;
        http_answer_t page;
        if ((rc = api_get(cli, path, &page, sid, NULL)) != 0) {
            http_answer_free(out);
            return rc;
        }
        cJSON *rows = cJSON_GetObjectItemCaseSensitive(page.json, key), *row;
        while (cJSON_IsArray(rows) && (row = cJSON_DetachItemFromArray(rows, 0)) != NULL)
            cJSON_AddItemToArray(all, row);
        /* The last page says whether more remain, and where. */
        static const char *const tail[] = {"next", "truncated"};
        for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++) {
            cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(page.json, tail[i]);
            if (v) cJSON_ReplaceItemInObjectCaseSensitive(out->json, tail[i], v);
        }
        http_answer_free(&page);
    }
    if (all && fetched > 1) {
        cJSON *count = cJSON_CreateNumber((double)cJSON_GetArraySize(all));
        if (count) cJSON_ReplaceItemInObjectCaseSensitive(out->json, "count", count);
        /* --json prints the body: the merged document, not the first page
         * (integers above 2^53 would lose precision here; the paged
         * routes carry none: ids, times, counts). */
        char *merged = cJSON_PrintUnformatted(out->json);
        if (merged) {
            free(out->body);
            out->body = merged;
            out->len = strlen(merged);
        }
    }
    return rc;
}

int api_get_sessions(const cli_t *cli, uint32_t limit, bool every, http_answer_t *out) {
    char path[256], num[16];
    snprintf(num, sizeof num, "%u", every ? 1000u : limit);
    snprintf(path, sizeof path, "/api/v1/sessions");
    http_query_add(path, sizeof path, "limit", num);
    return api_get_pages(cli, path, "sessions", every ? SESSIONS_PAGES_MAX : 1, NULL, out);
}

int session_resolve(const cli_t *cli, char id_out[32], cJSON **session_out) {
    return session_resolve_spec(cli, cli->session, id_out, session_out);
}

/* The most recently active session of app built as build ("app@build"). */
static const cJSON *by_app_build(const cJSON *arr, const char *want) {
    const char *at = strrchr(want, '@');
    if (!at || at == want || !at[1]) return NULL;
    size_t app_len = (size_t)(at - want);
    const cJSON *s, *best = NULL;
    cJSON_ArrayForEach(s, arr) {
        const char *app = jv_str(s, "app", "");
        if (strlen(app) != app_len || strncmp(app, want, app_len) != 0) continue;
        if (strcmp(jv_str(s, "build_id", ""), at + 1) != 0) continue;
        if (!best || session_activity(s) > session_activity(best)) best = s;
    }
    return best;
}

int session_resolve_spec(const cli_t *cli, const char *want, char id_out[32], cJSON **session_out) {
    http_answer_t a;
    /* "latest" is on the first page; an id, a prefix, an app name or
     * app@build may be on any. */
    int rc = api_get_sessions(cli, 100, want && strcmp(want, "latest") != 0, &a);
    if (rc) return rc;
    const cJSON *arr = sessions_array(a.json);
    const cJSON *pick = NULL;
    if (!want || strcmp(want, "latest") == 0) {
        /* The latest live session, else the most recently active one. */
        uint64_t best = 0;
        bool best_live = false;
        const cJSON *s;
        cJSON_ArrayForEach(s, arr) {
            bool live = jv_bool(s, "live", false);
            uint64_t act = session_activity(s);
            if (!pick || (live && !best_live) || (live == best_live && act > best)) {
                pick = s;
                best = act;
                best_live = live;
            }
        }
        if (!pick) {
            fprintf(cli->err,
                    CLI_NAME " %s: no sessions yet at %s: run a game linked with fa-agent (it sends to "
                             "$FA_INSIGHT_URL, default tcp://127.0.0.1:7879)\n",
                    cli->command, cli->server);
            http_answer_free(&a);
            return CLI_EXIT_SERVER;
        }
    } else {
        /* An exact id, a unique id prefix, or an app name (its latest session). */
        size_t wl = strlen(want), matches = 0;
        const cJSON *s, *by_app = NULL;
        uint64_t app_best = 0;
        cJSON_ArrayForEach(s, arr) {
            const char *id = jv_str(s, "id", "");
            if (strcasecmp(id, want) == 0) {
                pick = s;
                matches = 1;
                break;
            }
            if (strncasecmp(id, want, wl) == 0) {
                if (!matches) pick = s;
                matches++;
            }
            if (strcmp(jv_str(s, "app", ""), want) == 0 && (!by_app || session_activity(s) > app_best)) {
                by_app = s;
                app_best = session_activity(s);
            }
        }
        if (matches > 1) {
            fprintf(cli->err, CLI_NAME " %s: session prefix '%s' is ambiguous:", cli->command, want);
            cJSON_ArrayForEach(s, arr) {
                const char *id = jv_str(s, "id", "");
                if (strncasecmp(id, want, wl) == 0) fprintf(cli->err, " %s", id);
            }
            fputc('\n', cli->err);
            http_answer_free(&a);
            return CLI_EXIT_USAGE;
        }
        if (!matches) pick = by_app;
        if (!pick) pick = by_app_build(arr, want);
        if (!pick) {
            size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
            const char **ids = calloc(n ? n * 2 : 1, sizeof *ids);
            cJSON_ArrayForEach(s, arr) {
                if (!ids) break;
                ids[i++] = jv_str(s, "id", "");
            }
            cJSON_ArrayForEach(s, arr) {
                if (!ids) break;
                ids[i++] = jv_str(s, "app", "");
            }
            char where[400];
            snprintf(where, sizeof where, "the sessions of %s", cli->server);
            rc = session_print_unknown(cli, "session", want, where, ids, i);
            free(ids);
            http_answer_free(&a);
            return rc;
        }
    }
    snprintf(id_out, 32, "%s", jv_str(pick, "id", ""));
    if (session_out) *session_out = cJSON_Duplicate(pick, true);
    http_answer_free(&a);
    return 0;
}

/* Appends the paths of nodes and their children (depth first). */
static void collect_paths(const cJSON *nodes, const char **paths, size_t *n, size_t cap, int depth) {
    const cJSON *t;
    cJSON_ArrayForEach(t, nodes) {
        const char *p = jv_str(t, "path", NULL);
        if (!p) p = jv_str(t, "tag", NULL);
        if (p && *p && strcmp(p, "/") != 0 && *n < cap) paths[(*n)++] = p;
        if (depth < 64) collect_paths(jv_array(t, "children"), paths, n, cap, depth + 1);
    }
}

static size_t count_nodes(const cJSON *nodes, int depth) {
    size_t n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, nodes) {
        n++;
        if (depth < 64) n += count_nodes(jv_array(t, "children"), depth + 1);
    }
    return n;
}

const char **session_tag_paths(const cJSON *tags_doc, size_t *n) {
    /* The tags route answers a tree ("tree": nodes with "children"); a flat
     * list ("tags", "budgets") is read the same way. */
    const cJSON *arr = jv_array(tags_doc, "tree");
    if (!arr) arr = jv_array(tags_doc, "tags");
    if (!arr) arr = jv_array(tags_doc, "budgets");
    if (!arr) arr = jv_array(tags_doc, NULL);
    size_t cap = count_nodes(arr, 0);
    const char **paths = calloc(cap ? cap : 1, sizeof *paths);
    *n = 0;
    if (paths) collect_paths(arr, paths, n, cap, 0);
    return paths;
}

int session_unknown_tag(const cli_t *cli, const char *sid, const char *tag) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/tags", sid);
    http_answer_t a;
    int rc = api_get(cli, path, &a, sid, NULL);
    if (rc) return rc;
    size_t n = 0;
    const char **paths = session_tag_paths(a.json, &n);
    char where[64];
    snprintf(where, sizeof where, "session %s", sid);
    rc = session_print_unknown(cli, "tag", tag, where, paths, n);
    free(paths);
    http_answer_free(&a);
    return rc;
}

int api_get(const cli_t *cli, const char *path_query, http_answer_t *out, const char *sid, const char *tag) {
    int rc = http_get(cli, path_query, out);
    if (rc) return rc;
    if (out->status >= 200 && out->status < 300) {
        if (out->json) return 0;
        fprintf(cli->err, CLI_NAME " %s: the daemon's answer to %s is not JSON (HTTP %u)\n", cli->command,
                path_query, out->status);
        http_answer_free(out);
        return CLI_EXIT_SERVER;
    }
    const char *code = NULL, *message = NULL;
    http_error_fields(out, &code, &message);
    if (!code && !message) {
        /* Not fa-insightd's error object: a web server, a proxy, another
         * program on the port. That is a server problem, never bad
         * arguments. */
        fprintf(cli->err,
                CLI_NAME " %s: %s answered HTTP %u (%s) to %s, which is not an answer of fa-insightd: is "
                         "--server right?\n",
                cli->command, cli->server, out->status, out->content_type[0] ? out->content_type : "no type",
                path_query);
        http_answer_free(out);
        return CLI_EXIT_SERVER;
    }
    if (out->status == 404 && code && tag && strstr(code, "tag")) {
        http_answer_free(out);
        return session_unknown_tag(cli, sid, tag);
    }
    if (out->status == 404 && code && sid && strstr(code, "session")) {
        /* The session went away between resolving and asking. */
        fprintf(cli->err, CLI_NAME " %s: unknown session '%s' (%s)\n", cli->command, sid,
                message ? message : "not found");
        http_answer_free(out);
        return CLI_EXIT_USAGE;
    }
    /* Exit 2 only for what the command line can fix: a parameter it passed
     * on. A route the daemon does not know (another version), 405, 414 and
     * 5xx are the server's side. */
    rc = out->status == 400 && code && (strstr(code, "parameter") || strcmp(code, "bad_query") == 0)
             ? CLI_EXIT_USAGE
             : CLI_EXIT_SERVER;
    if (message)
        fprintf(cli->err, CLI_NAME " %s: %s (HTTP %u%s%s)\n", cli->command, message, out->status,
                code ? ", " : "", code ? code : "");
    else
        fprintf(cli->err, CLI_NAME " %s: the daemon answered HTTP %u to %s\n", cli->command, out->status,
                path_query);
    http_answer_free(out);
    return rc;
}
