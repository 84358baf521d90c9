/*
 * framealloc.hpp — C++17 face of framealloc.h (header-only).
 *
 *   fa::frame_scope     RAII fa_begin_frame / fa_end_frame
 *   fa::tag_scope       RAII fa_tag_push / fa_tag_pop (any exit: return,
 *                       break, exception)
 *   fa::frame_resource  std::pmr::memory_resource over the calling thread's
 *                       frame arena: deallocate does nothing, fa_end_frame
 *                       releases everything
 *   fa::pool_resource   std::pmr::memory_resource over the pools (heap above
 *                       4 KiB or for alignments above 16): real frees, any
 *                       thread
 *   fa::frame_allocator<T>  an allocator for std containers, frame memory
 *   fa::frame_new<T>(fa, args...)  construct a T in frame memory; T MUST be
 *                       trivially destructible (checked at compile time): no
 *                       destructor runs at fa_end_frame
 *
 * QUICK START
 *     fa::frame_scope frame(fa);                       // fa_begin_frame
 *     fa::tag_scope tag(fa, "ai");                     // popped at scope exit
 *     fa::frame_resource scratch(fa);
 *     std::pmr::vector<int> open_set(&scratch);        // grows in frame memory
 *     std::pmr::unordered_map<int, float> cost(&scratch);
 *     auto *q = fa::frame_new<query_t>(fa, 3, 4.0f);   // nullptr on failure
 *     // containers declared after `frame` are destroyed before it ends
 *
 * LIFETIME AND THREADS
 *   Frame memory belongs to the calling thread's arena and dies at its
 *   fa_end_frame(): a container on a frame_resource or frame_allocator MUST
 *   be destroyed (or never touched again) before that, and MUST be used by
 *   the thread that allocated it. Declaring it after the frame_scope does
 *   both. pool_resource blocks may be freed by any thread.
 *
 * ERRORS
 *   The std::pmr contract has do_allocate throw: the resources and
 *   frame_allocator throw std::bad_alloc when framealloc returns NULL (the
 *   reason is in fa_last_error() and the error hook). Built with
 *   -fno-exceptions, they call std::abort() instead, as the standard library
 *   does. frame_new returns nullptr; it never throws (except from T's
 *   constructor). -fno-rtti builds work too; their resources compare equal
 *   only to themselves (see frame_resource).
 *
 * CALL SITES
 *   In C++20 with std::source_location (g++ 12 has it; clang++ 14 with
 *   libstdc++ 12 does not: __cpp_lib_source_location decides),
 *   frame_resource and pool_resource record where they were constructed:
 *   their allocations count for that line of your code in the call-site
 *   figures (fa_site_intern, once per resource), and FA_DEBUG's leak and
 *   double-free reports name it, rather than a line of the standard
 *   library. Without it (C++17, or FA_NO_SITES), they count as the unknown
 *   site of their kind. frame_new and frame_allocator count as the unknown
 *   frame site.
 */
#ifndef FRAMEALLOC_HPP
#define FRAMEALLOC_HPP

#include "framealloc.h"

#include <cstddef>
#include <cstdlib>
#include <limits>
#include <memory_resource>
#include <new>
#include <type_traits>
#include <utility>

/* std::source_location needs compiler support as well as the header
 * (libstdc++ 12 ships the header, clang++ 14 cannot build it): the
 * library's feature macro says whether it is there. */
#if __cplusplus >= 202002L
#include <version>
#if defined(__cpp_lib_source_location)
#include <source_location>
#define FA_HPP_SOURCE_LOCATION 1
#endif
#endif

namespace fa {

namespace detail {
/* Whether other is a Resource over fa. Without RTTI (-fno-rtti) another
 * resource's type cannot be told: a resource then equals only itself, and
 * moving a pmr container between two resources copies its elements. */
template <class Resource>
bool same_context(const Resource &self, const std::pmr::memory_resource &other, fa_alloc_t *fa) noexcept {
#if defined(__cpp_rtti) || defined(__GXX_RTTI)
    (void)self;
    auto *o = dynamic_cast<const Resource *>(&other);
    return o && o->context() == fa;
#else
    (void)fa;
    return &self == &other;
#endif
}

[[noreturn]] inline void out_of_memory() {
#if defined(__cpp_exceptions)
    throw std::bad_alloc();
#else
    std::abort();
#endif
}
#if defined(FA_HPP_SOURCE_LOCATION)
/* The call site of a resource constructed at `where`: interned once per
 * construction (a lock and, the first time, an allocation), nullptr without
 * call sites or when the registry is full. */
inline fa_site_t *site_of(const std::source_location &where, fa_kind kind) noexcept {
#if FA_SITES
    return fa_site_intern(where.file_name(), where.function_name(), static_cast<uint32_t>(where.line()), kind);
#else
    (void)where, (void)kind;
    return nullptr;
#endif
}
#endif
} // namespace detail

/* Begins a frame on the calling thread at construction and ends it at
 * destruction. Not copyable or movable: a frame is a scope. */
class frame_scope {
public:
    explicit frame_scope(fa_alloc_t *fa) noexcept : fa_(fa) { fa_begin_frame(fa); }
    ~frame_scope() { fa_end_frame(fa_); }
    frame_scope(const frame_scope &) = delete;
    frame_scope &operator=(const frame_scope &) = delete;

private:
    fa_alloc_t *fa_;
};

/* Pushes a tag for the scope: by name (a child of the current tag, as
 * fa_tag_push) or by id (an absolute tag, as fa_tag_push_id). If the push
 * fails nothing is popped; pushed() says which. */
class tag_scope {
public:
    tag_scope(fa_alloc_t *fa, const char *name) noexcept : fa_(fa), pushed_(fa_tag_push(fa, name) >= 0) {}
    tag_scope(fa_alloc_t *fa, int tag_id) noexcept : fa_(fa), pushed_(fa_tag_push_id(fa, tag_id) >= 0) {}
    ~tag_scope() {
        if (pushed_) fa_tag_pop(fa_);
    }
    bool pushed() const noexcept { return pushed_; }
    tag_scope(const tag_scope &) = delete;
    tag_scope &operator=(const tag_scope &) = delete;

private:
    fa_alloc_t *fa_;
    bool pushed_;
};

/* Frame memory of the calling thread as a pmr resource. O(1) bump
 * allocations; deallocate is a no-op. Two frame_resources of the same
 * context compare equal (built with -fno-rtti: only a resource and itself). */
class frame_resource : public std::pmr::memory_resource {
public:
#if defined(FA_HPP_SOURCE_LOCATION)
    explicit frame_resource(fa_alloc_t *fa, std::source_location where = std::source_location::current()) noexcept
        : fa_(fa), site_(detail::site_of(where, FA_KIND_FRAME)) {}
#else
    explicit frame_resource(fa_alloc_t *fa) noexcept : fa_(fa) {}
#endif
    fa_alloc_t *context() const noexcept { return fa_; }
    /* The call site its allocations count for (nullptr: the unknown one). */
    const fa_site_t *site() const noexcept { return site_; }

private:
    void *do_allocate(std::size_t bytes, std::size_t align) override {
        void *p = fa_frame_alloc_site(fa_, bytes, align, site_);
        if (!p) detail::out_of_memory();
        return p;
    }
    void do_deallocate(void *, std::size_t, std::size_t) override {}
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override {
        return detail::same_context(*this, other, fa_);
    }
    fa_alloc_t *fa_;
    fa_site_t *site_ = nullptr;
};

/* Pool blocks as a pmr resource: alignment up to 16 from the pools (heap
 * above FA_POOL_MAX_SIZE), larger alignments up to 4096 from the heap (above
 * that: std::bad_alloc, FA_ERR_BAD_ALIGN, as frame_resource). Any thread may
 * deallocate. Two pool_resources of the same context compare equal (built
 * with -fno-rtti: only a resource and itself). */
class pool_resource : public std::pmr::memory_resource {
public:
#if defined(FA_HPP_SOURCE_LOCATION)
    explicit pool_resource(fa_alloc_t *fa, std::source_location where = std::source_location::current()) noexcept
        : fa_(fa), file_(where.file_name()), line_(static_cast<int>(where.line())),
          site_(detail::site_of(where, FA_KIND_POOL)) {}
#else
    explicit pool_resource(fa_alloc_t *fa) noexcept : fa_(fa) {}
#endif
    fa_alloc_t *context() const noexcept { return fa_; }
    /* Where the resource was constructed (C++20), else nullptr and 0. */
    const char *file() const noexcept { return file_; }
    int line() const noexcept { return line_; }
    /* The call site its allocations count for (nullptr: the unknown one). */
    const fa_site_t *site() const noexcept { return site_; }

private:
    void *do_allocate(std::size_t bytes, std::size_t align) override {
        /* With a site, FA_DEBUG's reports take its file and line. */
        void *p = !site_ ? (align <= 16 ? fa_pool_alloc_at(fa_, bytes, file_, line_)
                                        : fa_heap_alloc_at(fa_, bytes, align, file_, line_))
                         : (align <= 16 ? fa_pool_alloc_site(fa_, bytes, site_)
                                        : fa_heap_alloc_site(fa_, bytes, align, site_));
        if (!p) detail::out_of_memory();
        return p;
    }
    void do_deallocate(void *p, std::size_t, std::size_t align) override {
        if (align <= 16)
            fa_pool_free_at(fa_, p, file_, line_);
        else
            fa_heap_free_at(fa_, p, file_, line_);
    }
    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override {
        return detail::same_context(*this, other, fa_);
    }
    fa_alloc_t *fa_;
    const char *file_ = nullptr;
    int line_ = 0;
    fa_site_t *site_ = nullptr;
};

/* A std allocator over the calling thread's frame arena (see LIFETIME). */
template <class T> class frame_allocator {
public:
    using value_type = T;
    using is_always_equal = std::false_type;

    explicit frame_allocator(fa_alloc_t *fa) noexcept : fa_(fa) {}
    template <class U> frame_allocator(const frame_allocator<U> &other) noexcept : fa_(other.context()) {}

    T *allocate(std::size_t n) {
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
#if defined(__cpp_exceptions)
            throw std::bad_array_new_length();
#else
            std::abort();
#endif
        }
        void *p = (fa_frame_alloc)(fa_, n * sizeof(T), alignof(T));
        if (!p) detail::out_of_memory();
        return static_cast<T *>(p);
    }
    void deallocate(T *, std::size_t) noexcept {}
    fa_alloc_t *context() const noexcept { return fa_; }

    template <class U> bool operator==(const frame_allocator<U> &o) const noexcept { return fa_ == o.context(); }
    template <class U> bool operator!=(const frame_allocator<U> &o) const noexcept { return fa_ != o.context(); }

private:
    fa_alloc_t *fa_;
};

/* Constructs a T from args in the calling thread's frame arena; nullptr
 * when the arena refuses (fa_last_error() says why). T's destructor never
 * runs, so T MUST be trivially destructible. */
template <class T, class... Args> T *frame_new(fa_alloc_t *fa, Args &&...args) {
    static_assert(std::is_trivially_destructible<T>::value,
                  "fa::frame_new: T must be trivially destructible (fa_end_frame runs no destructor)");
    void *p = (fa_frame_alloc)(fa, sizeof(T), alignof(T));
    return p ? ::new (p) T(std::forward<Args>(args)...) : nullptr;
}

} // namespace fa

#endif /* FRAMEALLOC_HPP */
