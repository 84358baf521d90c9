// The public headers as C++ (g++ and clang++, -std=c++11/17/20, -Wall -Wextra -pedantic).
#include "use_headers.inc"

int main() {
    int failed = run();
    printf("headers as C++ (%ld): %s\n", static_cast<long>(__cplusplus), failed ? "FAILED" : "ok");
    return failed != 0;
}
