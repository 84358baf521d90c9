/* test_gate.c — admission of ingest connections by the shared secret:
 * per connection, withdrawn by a later HELLO without it, counted, and a
 * table that forgets closed connections instead of growing. */
#include "helpers.h"

#include "access.h"
#include "gate.h"

#define SECRET "fleet-secret-0123456789"

static unsigned char buf[4096];

/* A message of type `type` for session 7; a HELLO with `secret` (NULL:
 * none). Returns its length. */
static size_t message(uint8_t type, const char *secret) {
    fa_proto_msg_t m = {.header = {.type = type, .session_id = 7}};
    if (type == FA_PROTO_HELLO) m.hello.ingest_secret = fa_proto_str(secret);
    int n = fa_proto_encode(&m, buf, sizeof buf);
    cr_assert(n > 0, "%s", fa_proto_err_name(n));
    return (size_t)n;
}

static bool admit(gate_t *g, uint8_t type, const char *secret, uint32_t source) {
    size_t n = message(type, secret);
    return gate_admit(g, buf, n, source);
}

static bool all_open(uint32_t source) {
    (void)source;
    return true;
}

static uint32_t open_below; /* sources below this are open */
static bool open_if_low(uint32_t source) {
    return source < open_below;
}

Test(gate, a_connection_is_admitted_by_its_hello_with_the_secret_and_only_that_one) {
    memset(&g_stats, 0, sizeof g_stats);
    gate_t *g = gate_create(SECRET, all_open);
    cr_assert(g);
    cr_assert_not(admit(g, FA_PROTO_FRAME, NULL, 1), "a FRAME before any HELLO");
    cr_assert(admit(g, FA_PROTO_HELLO, SECRET, 1));
    cr_assert(admit(g, FA_PROTO_FRAME, NULL, 1));
    cr_assert(admit(g, FA_PROTO_BYE, NULL, 1));
    cr_assert_not(admit(g, FA_PROTO_FRAME, NULL, 2), "another connection is not admitted by it");
    cr_assert_not(admit(g, FA_PROTO_HELLO, "fleet-secret-012345678", 2), "a prefix of the secret");
    cr_assert_not(admit(g, FA_PROTO_HELLO, SECRET "9", 2), "the secret and more");
    cr_assert_not(admit(g, FA_PROTO_HELLO, NULL, 3));
    cr_assert_not(admit(g, FA_PROTO_FRAME, NULL, 3));
    cr_assert_eq(g_stats.ingest_refused_secret_wrong, 2);
    cr_assert_eq(g_stats.ingest_refused_secret_missing, 1);
    cr_assert_eq(g_stats.ingest_refused_unauthenticated, 3);
    cr_assert_eq(g_stats.ingest_refused_connections, 3, "each connection once (1 too, for its early FRAME)");
    /* Bytes that are no message, from a connection not admitted: refused. */
    cr_assert_not(gate_admit(g, "GET / HTTP/1.1\r\n", 16, 4));
    cr_assert_eq(g_stats.ingest_refused_unauthenticated, 4);
    /* ... from an admitted one: the sessions reject and count them. */
    cr_assert(gate_admit(g, "GET / HTTP/1.1\r\n", 16, 1));
    /* Source 0 is no connection: never admitted, even with the secret. */
    cr_assert_not(admit(g, FA_PROTO_HELLO, SECRET, 0));
    cr_assert_not(admit(g, FA_PROTO_FRAME, NULL, 0));
    gate_destroy(g);
}

Test(gate, a_later_hello_without_the_secret_withdraws_the_admission) {
    memset(&g_stats, 0, sizeof g_stats);
    gate_t *g = gate_create(SECRET, all_open);
    cr_assert(admit(g, FA_PROTO_HELLO, SECRET, 9));
    cr_assert(admit(g, FA_PROTO_FRAME, NULL, 9));
    cr_assert_not(admit(g, FA_PROTO_HELLO, "", 9));
    cr_assert_not(admit(g, FA_PROTO_FRAME, NULL, 9));
    cr_assert_eq(g_stats.ingest_refused_connections, 1);
    cr_assert(admit(g, FA_PROTO_HELLO, SECRET, 9), "and the secret admits it again");
    cr_assert(admit(g, FA_PROTO_FRAME, NULL, 9));
    gate_destroy(g);
}

Test(gate, closed_connections_are_forgotten_and_open_ones_kept_as_it_grows) {
    memset(&g_stats, 0, sizeof g_stats);
    open_below = UINT32_MAX;
    gate_t *g = gate_create(SECRET, open_if_low);
    /* 5000 connections come and go; the 10 oldest stay open throughout. */
    for (uint32_t s = 1; s <= 5000; s++) {
        cr_assert(admit(g, FA_PROTO_HELLO, SECRET, s));
        if (s == 10) open_below = 11; /* from now on, only 1..10 are open */
    }
    for (uint32_t s = 1; s <= 10; s++)
        cr_assert(admit(g, FA_PROTO_FRAME, NULL, s), "open connection %u kept", s);
    cr_assert_not(admit(g, FA_PROTO_FRAME, NULL, 20), "a forgotten connection is not admitted");
    cr_assert_leq(gate_connections(g), 128, "closed connections forgotten (%u kept)", gate_connections(g));
    gate_destroy(g);
}

Test(gate, no_gate_without_a_secret_or_with_one_too_long) {
    char longer[300];
    memset(longer, 's', 256);
    longer[256] = '\0';
    cr_assert_null(gate_create("", all_open));
    cr_assert_null(gate_create(NULL, all_open));
    cr_assert_null(gate_create(longer, all_open));
}

Test(gate, secret_comparison_is_exact) {
    cr_assert(access_secret_equal(SECRET, strlen(SECRET), SECRET));
    cr_assert_not(access_secret_equal(SECRET, strlen(SECRET) - 1, SECRET));
    cr_assert_not(access_secret_equal("", 0, ""), "an empty token matches nothing");
    cr_assert_not(access_secret_equal("fleet-secret-0123456780", 23, SECRET));
    cr_assert_not(access_secret_equal("fleet-secret-0123456789\0", 24, SECRET), "a NUL more");
}
