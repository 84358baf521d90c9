/* The public headers as C11 (gcc and clang, -Wall -Wextra -pedantic). */
#include "use_headers.inc"

int main(void) {
    int failed = run();
    printf("headers as C: %s\n", failed ? "FAILED" : "ok");
    return failed != 0;
}
