// The README's C++ example (make test-install-integrations builds it with g++ and pkg-config).
#include <framealloc.hpp>
#include <cstdio>
#include <memory_resource>
#include <vector>

struct hit { float distance; int entity; };               // trivially destructible

int main() {
    fa_alloc_t *fa = fa_create(nullptr);
    for (int frame = 0; frame < 3; frame++) {
        fa::frame_scope scope(fa);                       // fa_begin_frame ... fa_end_frame
        fa::tag_scope tag(fa, "ai");                     // popped however the scope is left
        fa::frame_resource scratch(fa);                  // std::pmr over frame memory
        std::pmr::vector<int> open_set(&scratch);
        for (int i = 0; i < 1000; i++) open_set.push_back(i);
        hit *h = fa::frame_new<hit>(fa, hit{1.5f, 7});   // no destructor to run: compile-time checked
        std::printf("frame %d: %zu nodes, hit %d\n", frame, open_set.size(), h ? h->entity : -1);
    }                                                    // containers die before the frame ends
    fa_destroy(fa);
}
