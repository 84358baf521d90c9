// framealloc.hpp under g++ and clang++ (C++17 and C++20), with ASan+UBSan:
// RAII frames and tags, std::pmr containers on frame and pool memory,
// frame_allocator<T> in std containers, frame_new, and (C++20) call sites
// from std::source_location in FA_DEBUG reports. A plain harness: each
// CHECK that fails prints its line; the exit status is the failure count.
#include <framealloc.hpp>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

static int failures, checks;
#define CHECK(cond)                                                                                                \
    do {                                                                                                           \
        checks++;                                                                                                  \
        if (!(cond)) {                                                                                             \
            failures++;                                                                                            \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                          \
        }                                                                                                          \
    } while (0)

static fa_tag_row_t row(fa_alloc_t *fa, const char *path) {
    static fa_tag_row_t rows[64];
    fa_snapshot_t s{};
    s.rows = rows;
    s.rows_capacity = 64;
    fa_snapshot_take(fa, &s);
    for (uint32_t i = 0; i < s.row_count; i++)
        if (std::strcmp(rows[i].path, path) == 0) return rows[i];
    return fa_tag_row_t{};
}

static int tag_of(fa_alloc_t *fa) { return fa_tag_current(fa); }

static int leave_early(fa_alloc_t *fa, int root) {
    fa::tag_scope t(fa, "early");
    if (tag_of(fa) != root) return 1; // returns with the tag pushed
    return 0;
}

static void tags_pop_on_every_exit(fa_alloc_t *fa) {
    int root = tag_of(fa);
    CHECK(leave_early(fa, root) == 1);
    CHECK(tag_of(fa) == root);
    try {
        fa::tag_scope t(fa, "throws");
        throw std::runtime_error("x");
    } catch (const std::runtime_error &) {
    }
    CHECK(tag_of(fa) == root);
    int id = fa_tag_find(fa, "physics/contacts", true);
    {
        fa::tag_scope outer(fa, "render");
        fa::tag_scope by_id(fa, id);
        CHECK(by_id.pushed());
        CHECK(tag_of(fa) == id); // absolute, not render/physics/contacts
    }
    CHECK(tag_of(fa) == root);
    fa::tag_scope bad(fa, "a//b");
    CHECK(!bad.pushed());
}

static void frame_scope_resets(fa_alloc_t *fa) {
    {
        fa::frame_scope frame(fa);
        CHECK(fa_frame_alloc(fa, 1000, 16) != nullptr);
        CHECK(fa_frame_used(fa) >= 1000);
    }
    CHECK(fa_frame_used(fa) == 0);
}

static void pmr_containers_in_frame_memory(fa_alloc_t *fa) {
    fa::frame_scope frame(fa);
    fa::tag_scope tag(fa, "ai");
    fa::frame_resource scratch(fa);
    std::pmr::vector<int> v(&scratch);
    for (int i = 0; i < 10000; i++) v.push_back(i);
    long sum = 0;
    for (int x : v) sum += x;
    CHECK(sum == 49995000L);
    std::pmr::unordered_map<int, std::pmr::string> names(&scratch);
    for (int i = 0; i < 2000; i++) names.emplace(i, std::pmr::string("a string longer than the small buffer #") + std::to_string(i).c_str());
    CHECK(names.size() == 2000);
    CHECK(names.at(1234) == "a string longer than the small buffer #1234");
    std::pmr::string s("frame string that does not fit in SSO storage at all", &scratch);
    CHECK(s.size() > 40);
    fa_tag_row_t r = row(fa, "ai");
    CHECK(r.self.frame_bytes > 10000 * sizeof(int));
    CHECK(r.self.pool_bytes == 0 && r.self.heap_bytes == 0);
    fa::frame_resource other(fa);
    CHECK(scratch.is_equal(other));
}

static void pmr_containers_on_pools_free_their_memory(fa_alloc_t *fa) {
    {
        fa::tag_scope tag(fa, "entities");
        fa::pool_resource pools(fa);
        std::pmr::unordered_map<int, std::pmr::string> by_id(&pools);
        for (int i = 0; i < 3000; i++) by_id.emplace(i, std::pmr::string(100, 'x'));
        std::pmr::vector<double> big(&pools);
        big.resize(10000); // 80 KB: the heap fallback
        struct alignas(64) cache_line {
            char b[64];
        };
        std::pmr::vector<cache_line> aligned(&pools);
        aligned.resize(10);
        CHECK(reinterpret_cast<uintptr_t>(aligned.data()) % 64 == 0);
        fa_tag_row_t r = row(fa, "entities");
        CHECK(r.self.pool_bytes > 3000 * 100);
        CHECK(r.self.heap_bytes >= 80000);
    }
    fa_tag_row_t r = row(fa, "entities");
    CHECK(r.self.pool_bytes == 0);
    CHECK(r.self.heap_bytes == 0);
}

static void frame_allocator_in_std_containers(fa_alloc_t *fa) {
    fa::frame_scope frame(fa);
    fa::frame_allocator<int> alloc(fa);
    std::vector<int, fa::frame_allocator<int>> v(alloc);
    for (int i = 0; i < 5000; i++) v.push_back(i);
    CHECK(v[4999] == 4999);
    using pair_alloc = fa::frame_allocator<std::pair<const int, double>>;
    std::map<int, double, std::less<int>, pair_alloc> m{pair_alloc(alloc)}; // rebinds to tree nodes
    for (int i = 0; i < 1000; i++) m[i] = i * 0.5;
    CHECK(m.size() == 1000 && m[10] == 5.0);
    CHECK(alloc == fa::frame_allocator<double>(fa));
    bool threw = false;
    try {
        (void)alloc.allocate(std::numeric_limits<std::size_t>::max() / 2);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
}

struct point {
    float x, y;
    int id;
    point(float a, float b, int i) : x(a), y(b), id(i) {}
};

static void frame_new_constructs_in_frame_memory(fa_alloc_t *fa) {
    fa::frame_scope frame(fa);
    size_t before = fa_frame_used(fa);
    point *p = fa::frame_new<point>(fa, 1.5f, 2.5f, 7);
    CHECK(p && p->x == 1.5f && p->y == 2.5f && p->id == 7);
    CHECK(reinterpret_cast<uintptr_t>(p) % alignof(point) == 0);
    CHECK(fa_frame_used(fa) >= before + sizeof(point));
}

static void a_full_arena_throws_bad_alloc(void) {
    fa_config_t cfg{};
    cfg.frame_chunk_bytes = 64 * 1024;
    cfg.frame_limit_bytes = 64 * 1024;
    fa_alloc_t *fa = fa_create(&cfg);
    {
        fa::frame_scope frame(fa);
        fa::frame_resource scratch(fa);
        std::pmr::vector<char> v(&scratch);
        bool threw = false;
        try {
            v.resize(1 << 20);
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        CHECK(threw);
        CHECK(fa_last_error() == FA_ERR_ARENA_LIMIT);
        CHECK(fa::frame_new<point>(fa, 1.f, 1.f, 1) != nullptr); // small ones still fit
    }
    fa_destroy(fa);
}

#if defined(FA_HPP_SOURCE_LOCATION) && defined(FA_DEBUG)
struct leak_seen {
    int line;
    const char *file;
};
static void on_error(const fa_error_event_t *ev, void *user) {
    if (ev->code != FA_ERR_LEAK) return;
    auto *seen = static_cast<leak_seen *>(user);
    seen->line = ev->line;
    seen->file = ev->file;
}

static void cxx20_call_sites_reach_debug_reports(void) {
    leak_seen seen{0, nullptr};
    fa_config_t cfg{};
    cfg.error_cb = on_error;
    cfg.error_user = &seen;
    fa_alloc_t *fa = fa_create(&cfg);
    int expected_line = __LINE__ + 1;
    fa::pool_resource pools(fa);
    CHECK(pools.line() == expected_line);
    void *leaked = pools.allocate(48); // never deallocated
    CHECK(leaked != nullptr);
    fa_destroy(fa); // FA_DEBUG reports the leak with its call site
    CHECK(seen.line == expected_line);
    CHECK(seen.file && std::strstr(seen.file, "test_framealloc_hpp.cpp"));
}
#endif

#if defined(FA_HPP_SOURCE_LOCATION) && FA_SITES && !defined(FA_DEBUG)
/* C++20: the resources' allocations count for the lines that constructed
 * them in the call-site rows. */
static const fa_site_row_t *row_at_line(const fa_snapshot_t &s, int line) {
    for (uint32_t i = 0; i < s.site_count; i++)
        if (s.sites[i].site && static_cast<int>(s.sites[i].site->line) == line &&
            std::strstr(s.sites[i].site->file, "test_framealloc_hpp.cpp"))
            return &s.sites[i];
    return nullptr;
}

static void cxx20_resources_count_for_their_lines() {
    fa_alloc_t *fa = fa_create(nullptr);
    fa_begin_frame(fa);
    int frame_line = __LINE__ + 1;
    fa::frame_resource scratch(fa);
    int pool_line = __LINE__ + 1;
    fa::pool_resource pools(fa);
    {
        std::pmr::vector<int> v(&scratch);
        v.resize(100);
        void *p = pools.allocate(48);
        fa_site_row_t rows[16];
        fa_snapshot_t s{};
        s.sites = rows;
        s.sites_capacity = 16;
        CHECK(fa_snapshot_take(fa, &s) == FA_OK);
        const fa_site_row_t *f = row_at_line(s, frame_line), *q = row_at_line(s, pool_line);
        CHECK(f && f->bytes >= 400 && f->site->kind == FA_KIND_FRAME);
        CHECK(q && q->live_bytes == 48 && q->site->kind == FA_KIND_POOL);
        CHECK(pools.site() && scratch.site() && pools.site() != scratch.site());
        pools.deallocate(p, 48);
    }
    fa_end_frame(fa);
    fa_destroy(fa);
}
#endif

int main() {
#if defined(FA_HPP_SOURCE_LOCATION) && FA_SITES && !defined(FA_DEBUG)
    cxx20_resources_count_for_their_lines();
#endif
    fa_alloc_t *fa = fa_create(nullptr);
    tags_pop_on_every_exit(fa);
    frame_scope_resets(fa);
    pmr_containers_in_frame_memory(fa);
    pmr_containers_on_pools_free_their_memory(fa);
    frame_allocator_in_std_containers(fa);
    frame_new_constructs_in_frame_memory(fa);
    fa_destroy(fa);
    a_full_arena_throws_bad_alloc();
#if defined(FA_HPP_SOURCE_LOCATION) && defined(FA_DEBUG)
    cxx20_call_sites_reach_debug_reports();
#endif
    std::printf("framealloc.hpp [%s, C++%ld]: %d checks, %d failed\n",
#if defined(__clang__)
                "clang++",
#else
                "g++",
#endif
                __cplusplus / 100 % 100, checks, failures);
    return failures ? 1 : 0;
}
