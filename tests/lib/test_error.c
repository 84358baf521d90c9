/* Error codes: every code has a name and a message; unknown codes too. */
#include "capture.h"

Test(error, every_code_has_a_distinct_name_and_a_message) {
    static const int codes[] = {
#define X(name, value, msg) value,
        FA_ERR_TABLE(X)
#undef X
    };
    size_t n = sizeof codes / sizeof codes[0];
    cr_assert_geq(n, 19);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_neq(fa_strerror(codes[i]), "unknown error");
        cr_assert_str_neq(fa_err_name(codes[i]), "FA_ERR_UNKNOWN");
        for (size_t j = 0; j < i; j++) cr_assert_neq(codes[i], codes[j]);
        cr_assert(codes[i] <= 0);
    }
    cr_assert_str_eq(fa_err_name(FA_ERR_BUDGET), "FA_ERR_BUDGET");
    cr_assert_str_eq(fa_strerror(12345), "unknown error");
    cr_assert_str_eq(fa_err_name(-999), "FA_ERR_UNKNOWN");
}

Test(error, last_error_is_per_thread_and_sticky_until_cleared) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_clear_error();
    fa_begin_frame(fa);
    cr_assert_null(fa_frame_alloc(fa, 8, 5));
    cr_assert_not_null(fa_frame_alloc(fa, 8, 8));
    cr_assert_eq(fa_last_error(), FA_ERR_BAD_ALIGN);
    fa_clear_error();
    cr_assert_eq(fa_last_error(), FA_OK);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(error, a_bad_config_is_refused_with_a_reason) {
    capture_t c;
    capture_init(&c);
    fa_config_t cfg = {.max_tags = 70000, .error_cb = capture_error, .error_user = &c};
    cr_assert_null(fa_create(&cfg));
    cr_assert_eq(capture_count_error(&c, FA_ERR_INVALID_ARG), 1);
    fa_config_t cb = {.budget_policy = FA_POLICY_CALLBACK};
    cr_assert_null(fa_create(&cb), "the callback policy needs a callback");
    cr_assert_eq(fa_last_error(), FA_ERR_INVALID_ARG);
}

Test(error, config_effective_fills_defaults) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_config_t c = fa_config_effective(fa);
    cr_assert_eq(c.frame_chunk_bytes, 1u << 20);
    cr_assert_eq(c.max_tags, 1024);
    cr_assert_eq(c.budget_policy, FA_POLICY_WARN);
    fa_destroy(fa);
}
