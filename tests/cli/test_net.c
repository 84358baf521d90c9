/* Pure parts of the network modules: server URL checks, query building,
 * the WebSocket JSON splitter, edit distance and near matches. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "cli.h"

#include <string.h>

Test(net, server_urls_must_be_http_or_https_with_host_and_port) {
    char err[256];
    cr_assert_eq(http_check_server_url("http://127.0.0.1:7878", err, sizeof err), 0);
    cr_assert_eq(http_check_server_url("http://localhost:7878/", err, sizeof err), 0);
    cr_assert_eq(http_check_server_url("http://[::1]:7878", err, sizeof err), 0);
    cr_assert_eq(http_check_server_url("http://example.org", err, sizeof err), 0);
    cr_assert_eq(http_check_server_url("https://127.0.0.1:7878", err, sizeof err), 0);
    cr_assert_eq(http_check_server_url("https://host:70000", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url("https://", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url("ftp://host:21", err, sizeof err), -1);
    cr_assert(strstr(err, "https://"));
    cr_assert_eq(http_check_server_url("127.0.0.1:7878", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url("http://", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url("http://host:0", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url("http://host:70000", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url("http://host:12ab", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url("http://host:7878/api", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url("", err, sizeof err), -1);
    cr_assert_eq(http_check_server_url(NULL, err, sizeof err), -1);
}

Test(net, an_https_server_needs_a_ca_file_nng_can_load) {
    char err[512];
    cli_t cli = {.server = "https://127.0.0.1:7878"};
    cr_assert_eq(http_tls_setup(&cli, err, sizeof err), -1);
    cr_assert(strstr(err, "--ca") && strstr(err, CLI_CA_ENV), "%s", err);
    cli.ca_file = "/nonexistent/ca.pem";
    cr_assert_eq(http_tls_setup(&cli, err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent/ca.pem") && !cli.tls, "%s", err);
    cli_t plain = {.server = "http://127.0.0.1:7878"};
    cr_assert_eq(http_tls_setup(&plain, err, sizeof err), 0);
    cr_assert_null(plain.tls);
}

Test(net, query_values_are_percent_encoded_and_joined) {
    char q[128] = "/api/v1/sessions/x/trend";
    cr_assert_eq(http_query_add(q, sizeof q, "tag", "physics/contacts"), 0);
    cr_assert_eq(http_query_add(q, sizeof q, "window", "5m"), 0);
    cr_assert_eq(http_query_add(q, sizeof q, "x", "a b&c=d%"), 0);
    cr_assert_str_eq(q, "/api/v1/sessions/x/trend?tag=physics/contacts&window=5m&x=a%20b%26c%3Dd%25");
    char small[24] = "/p";
    cr_assert_eq(http_query_add(small, sizeof small, "tag", "a-very-long-value-here"), -1);
    cr_assert_str_eq(small, "/p");
}

Test(net, json_splitter_finds_whole_objects_across_strings_and_nesting) {
    size_t skip;
    const char *a = "  {\"a\":\"}{\\\"\",\"b\":[1,{\"c\":2}]}{\"next\":1}";
    long n = ws_json_extent(a, strlen(a), &skip);
    cr_assert_eq(skip, 2);
    cr_assert_eq(n, (long)strlen("{\"a\":\"}{\\\"\",\"b\":[1,{\"c\":2}]}"));
    cr_assert_eq(ws_json_extent("{\"a\":", 5, &skip), 0);
    cr_assert_eq(ws_json_extent("   ", 3, &skip), 0);
    cr_assert_eq(skip, 3);
    cr_assert_eq(ws_json_extent("x{}", 3, &skip), -1);
    cr_assert_eq(ws_json_extent("[1,2]", 5, &skip), 5);
}

Test(net, edit_distance_is_capped_and_case_blind) {
    cr_assert_eq(session_edit_distance("render", "rendr", 5), 1);
    cr_assert_eq(session_edit_distance("Physics", "physics", 5), 0);
    cr_assert_eq(session_edit_distance("abc", "xyz", 5), 3);
    cr_assert_eq(session_edit_distance("a", "abcdefghij", 2), 3);
    cr_assert_eq(session_edit_distance("", "", 2), 0);
}

Test(net, unknown_names_list_near_matches_first, .init = cr_redirect_stderr) {
    cli_t cli = {.command = "trend", .err = stderr};
    const char *tags[] = {"physics", "physics/contacts", "render", "audio"};
    cr_assert_eq(session_print_unknown(&cli, "tag", "physics/contact", "session 1", tags, 4), CLI_EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_eq_str("fa-cli trend: unknown tag 'physics/contact' in session 1; did you mean "
                            "'physics/contacts' or 'physics'?\n");
}

Test(net, unknown_names_without_near_matches_list_what_exists, .init = cr_redirect_stderr) {
    cli_t cli = {.command = "budgets", .err = stderr};
    const char *tags[] = {"physics", "render"};
    session_print_unknown(&cli, "tag", "zzzzzzzz", "session 1", tags, 2);
    session_print_unknown(&cli, "tag", "x", "session 2", NULL, 0);
    fflush(stderr);
    cr_assert_stderr_eq_str("fa-cli budgets: unknown tag 'zzzzzzzz' in session 1; known: physics, render\n"
                            "fa-cli budgets: unknown tag 'x' in session 2 (there are none)\n");
}

Test(net, tag_paths_are_collected_from_the_tree_depth_first) {
    cJSON *doc = cJSON_Parse("{\"tree\":[{\"path\":\"\",\"children\":[{\"path\":\"physics\",\"children\":"
                             "[{\"path\":\"physics/contacts\",\"children\":[]}]},{\"path\":\"render\"}]}]}");
    size_t n = 0;
    const char **p = session_tag_paths(doc, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(p[0], "physics");
    cr_assert_str_eq(p[1], "physics/contacts");
    cr_assert_str_eq(p[2], "render");
    free(p);
    cJSON_Delete(doc);
    p = session_tag_paths(NULL, &n);
    cr_assert_eq(n, 0);
    free(p);
}

Test(net, json_accessors_read_defaults_for_missing_or_mistyped_members) {
    cJSON *o = cJSON_Parse("{\"n\":42,\"s\":\"x\",\"neg\":-3,\"b\":true,\"null\":null,\"digits\":\"123\","
                           "\"arr\":[1]}");
    cr_assert_eq(jv_u64(o, "n", 0), 42);
    cr_assert_eq(jv_u64(o, "neg", 7), 0);
    cr_assert_eq(jv_u64(o, "missing", 7), 7);
    cr_assert_eq(jv_u64(o, "null", 7), 7);
    cr_assert_eq(jv_u64(o, "digits", 0), 123);
    cr_assert_str_eq(jv_str(o, "s", "d"), "x");
    cr_assert_str_eq(jv_str(o, "n", "d"), "d");
    cr_assert(jv_bool(o, "b", false));
    cr_assert_not(jv_has(o, "null"));
    cr_assert_not_null(jv_array(o, "arr"));
    cr_assert_null(jv_array(o, "s"));
    cr_assert_eq(jv_u64(NULL, "n", 5), 5);
    cJSON_Delete(o);
}
