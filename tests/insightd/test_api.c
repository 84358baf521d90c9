/* test_api.c — the pure parts of request handling: percent-decoding, query
 * strings, session ids, the streaming JSON writer. */
#include "helpers.h"

Test(api, url_decode_handles_escapes_and_refuses_nul_and_bad_ones) {
    char a[] = "%2e%2E%2f%41+b";
    cr_assert_eq(url_decode(a, false), 6);
    cr_assert_str_eq(a, "../A+b");
    char b[] = "x+y%20z";
    url_decode(b, true);
    cr_assert_str_eq(b, "x y z");
    char c[] = "%00";
    cr_assert_eq(url_decode(c, false), -1);
    char d[] = "%zz";
    cr_assert_eq(url_decode(d, false), -1);
    char e[] = "abc%4";
    cr_assert_eq(url_decode(e, false), -1);
}

Test(api, query_parsing) {
    url_param_t p[URL_MAX_PARAMS];
    char err[200];
    cr_assert_eq(url_parse_query(NULL, p, URL_MAX_PARAMS, err, sizeof err), 0);
    cr_assert_eq(url_parse_query("", p, URL_MAX_PARAMS, err, sizeof err), 0);
    int n =
        url_parse_query("tag=physics%2Fcontacts&window=5m&&points=&flag", p, URL_MAX_PARAMS, err, sizeof err);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(p[0].name, "tag");
    cr_assert_str_eq(p[0].value, "physics/contacts");
    cr_assert_str_eq(p[2].name, "points");
    cr_assert_str_eq(p[2].value, "");
    cr_assert_str_eq(p[3].name, "flag");
    cr_assert_eq(url_parse_query("a=1&a=2", p, URL_MAX_PARAMS, err, sizeof err), -1);
    cr_assert(strstr(err, "'a'"), "%s", err);
    cr_assert_eq(url_parse_query("=1", p, URL_MAX_PARAMS, err, sizeof err), -1);
    cr_assert_eq(url_parse_query("a=%zz", p, URL_MAX_PARAMS, err, sizeof err), -1);
    char many[512] = "";
    for (int i = 0; i < 20; i++)
        sprintf(many + strlen(many), "p%d=1&", i);
    cr_assert_eq(url_parse_query(many, p, URL_MAX_PARAMS, err, sizeof err), -1);
    char big[1200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = 'a', big[1] = '=';
    cr_assert_eq(url_parse_query(big, p, URL_MAX_PARAMS, err, sizeof err), -1);
}

Test(api, session_ids_are_exactly_16_hex_digits) {
    uint64_t id;
    cr_assert(sid_parse("c0ffee0123456789", &id) == 0 && id == 0xc0ffee0123456789ull);
    cr_assert(sid_parse("C0FFEE0123456789", &id) == 0 && id == 0xc0ffee0123456789ull);
    cr_assert(sid_parse("c0ffee012345678", &id) < 0);
    cr_assert(sid_parse("c0ffee01234567890", &id) < 0);
    cr_assert(sid_parse("0000000000000000", &id) < 0);
    cr_assert(sid_parse("g0ffee0123456789", &id) < 0);
    cr_assert(sid_parse("", &id) < 0);
    char out[17];
    sid_format(0xabcull, out);
    cr_assert_str_eq(out, "0000000000000abc");
}

Test(api, json_writer_escapes_and_nests) {
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    jw_u64(&w, "big", UINT64_MAX);
    jw_str(&w, "s", "a\"b\\c\x01\x7f\xc3\xa9");
    jw_begin_array(&w, "list");
    jw_u64(&w, NULL, 0);
    jw_bool(&w, NULL, true);
    jw_begin_object(&w, NULL);
    jw_end_object(&w);
    jw_end_array(&w);
    jw_sid(&w, "id", 0x1234);
    jw_raw(&w, "raw", "[1,2]", 5);
    jw_end_object(&w);
    size_t len;
    char *s = jw_finish(&w, &len);
    cr_assert_str_eq(s, "{\"big\":18446744073709551615,\"s\":\"a\\\"b\\\\c\\u0001\\u007f\xc3\xa9\","
                        "\"list\":[0,true,{}],\"id\":\"0000000000001234\",\"raw\":[1,2]}");
    cr_assert_eq(len, strlen(s));
    cJSON *doc = cJSON_Parse(s);
    cr_assert_not_null(doc, "valid JSON");
    cJSON_Delete(doc);
    free(s);
}

Test(api, error_bodies_name_the_parameter) {
    char *s = json_error_body("bad_parameter", "parameter 'limit' must be ...", "limit");
    cJSON *doc = cJSON_Parse(s);
    cJSON *e = cJSON_GetObjectItem(doc, "error");
    cr_assert_str_eq(cJSON_GetObjectItem(e, "code")->valuestring, "bad_parameter");
    cr_assert_str_eq(cJSON_GetObjectItem(e, "parameter")->valuestring, "limit");
    cJSON_Delete(doc);
    free(s);
    s = json_error_body("not_found", "no such route", NULL);
    cr_assert_null(strstr(s, "parameter"));
    free(s);
}

Test(api, u64_values_are_printed_exactly) {
    cJSON *o = cJSON_CreateObject();
    json_add_u64(o, "v", 9007199254740993ull); /* 2^53 + 1: a double would round it */
    json_add_u64(o, "max", UINT64_MAX);
    char *s = cJSON_PrintUnformatted(o);
    cr_assert_str_eq(s, "{\"v\":9007199254740993,\"max\":18446744073709551615}");
    free(s);
    cJSON_Delete(o);
}
