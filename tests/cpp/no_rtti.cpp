// framealloc.hpp in an engine build: -fno-exceptions -fno-rtti (g++ and
// clang++, C++17, ASan+UBSan). The header must compile there (it used
// dynamic_cast in do_is_equal) and its resources must work: pmr containers
// on frame and pool memory, frame_allocator, and is_equal as documented for
// builds without RTTI (a resource equals itself). The exit status is the
// number of failed checks.
#include <framealloc.hpp>

#include <cstdio>
#include <memory_resource>
#include <unordered_map>
#include <vector>

static int failures;
#define CHECK(cond)                                                                                                \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            failures++;                                                                                            \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                          \
        }                                                                                                          \
    } while (0)

#if defined(__cpp_rtti) || defined(__cpp_exceptions)
#error "build this test with -fno-rtti -fno-exceptions"
#endif

int main() {
    fa_alloc_t *fa = fa_create(nullptr);
    {
        fa::frame_scope frame(fa);
        fa::tag_scope tag(fa, "ai");
        fa::frame_resource scratch(fa);
        std::pmr::vector<int> v(&scratch);
        for (int i = 0; i < 10000; i++) v.push_back(i);
        CHECK(v[9999] == 9999);
        std::pmr::unordered_map<int, int> m(&scratch);
        for (int i = 0; i < 1000; i++) m[i] = 2 * i;
        CHECK(m[500] == 1000);
        CHECK(scratch.is_equal(scratch));
        fa::pool_resource other_kind(fa);
        CHECK(!scratch.is_equal(other_kind));
        std::vector<int, fa::frame_allocator<int>> fv{fa::frame_allocator<int>(fa)};
        fv.resize(100, 7);
        CHECK(fv[99] == 7);
    }
    {
        fa::pool_resource pool(fa);
        std::pmr::vector<std::pmr::vector<int>> vv(&pool);
        for (int i = 0; i < 100; i++) vv.emplace_back(static_cast<std::size_t>(i), i);
        CHECK(vv[99].size() == 99);
        CHECK(pool.is_equal(pool));
    }
    fa_destroy(fa);
    std::printf("framealloc.hpp without exceptions and RTTI: %s\n", failures ? "FAILED" : "ok");
    return failures;
}
