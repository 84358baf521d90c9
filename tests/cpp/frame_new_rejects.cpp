// MUST NOT compile: fa::frame_new of a type with a destructor (make test-cpp
// checks that the compiler refuses it with fa::frame_new's message).
#include <framealloc.hpp>
#include <string>

struct owns_memory {
    std::string name;
};

int main() {
    fa_alloc_t *fa = fa_create(nullptr);
    (void)fa::frame_new<owns_memory>(fa);
    fa_destroy(fa);
}
