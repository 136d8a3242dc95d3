/*
 * nebula/pool.hpp - a lease (Guard), a cancel token (Cancel), what an acquire
 * carries (Ctx), and the owner of an nr_pool (Pool); part of the C++ layer,
 * nebula/resource.hpp (docs/cpp.md, "Ownership" and "Threading").
 *
 * Thread safety: a Pool's member functions may be called from any thread at
 * once, but moving, assigning and destroying it; a Guard belongs to one
 * thread at a time and may be moved to another and released there; a
 * Cancel may be triggered from any thread.
 */
#ifndef NEBULA_POOL_HPP
#define NEBULA_POOL_HPP

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "nebula/cancel.h"
#include "nebula/config.hpp"
#include "nebula/ctx.h"
#include "nebula/error.hpp"
#include "nebula/pool.h"
#include "nebula/time.hpp"

namespace nebula
{

/* ---- handles ----------------------------------------------------------------------------- */

/* How Guard::handle<T>() turns the driver's handle into a T *. By default a
 * plain cast (the handle is a T *, as for a type of one's own); the driver
 * headers specialise it for what they give access to (nebula/sqlite.hpp:
 * handle<sqlite3>(), nebula/postgres.hpp: handle<PGconn>(),
 * nebula/redis.hpp: handle<redisContext>()). */
template <class T> struct handle_traits {
    static T *get(void *handle) noexcept
    {
        return static_cast<T *>(handle);
    }
};

/* ---- Guard ------------------------------------------------------------------------------- */

/*
 * A lease on one instance. Move-only; the lease is given back (released,
 * recycled first when the pool does) when the Guard is destroyed or assigned
 * over, unless release(), taint() or detach() gave it back before. An empty
 * Guard (default-made, moved from, given back) holds nothing.
 * Thread safety: one thread at a time; it may be moved to another thread.
 */
class Guard
{
  public:
    Guard() noexcept = default;
    /* Take over a lease obtained through the C API (g is left empty). */
    explicit Guard(nr_guard &&g) noexcept
    {
        (void)nr_guard_move(&g_, &g); /* word by word (see nr_guard_move) */
    }
    Guard(const Guard &) = delete;
    Guard &operator=(const Guard &) = delete;
    Guard(Guard &&other) noexcept
    {
        (void)nr_guard_move(&g_, &other.g_);
    }
    Guard &operator=(Guard &&other) noexcept
    {
        if (this != &other) {
            (void)release(); /* g_ is empty now, so the move cannot be refused */
            (void)nr_guard_move(&g_, &other.g_);
        }
        return *this;
    }
    ~Guard()
    {
        (void)release();
    }

    /* Whether the Guard holds a lease. */
    bool held() const noexcept
    {
        return g_.inst != nullptr;
    }
    explicit operator bool() const noexcept
    {
        return held();
    }

    /* Give the instance back now (recycled first when configured). An empty
     * Guard: no error. errc::state for a lease already given back through
     * another copy of the C guard. The Guard is empty afterwards. */
    std::error_code release() noexcept
    {
        if (!held())
            return {};
        int rc = nr_guard_release(&g_);
        g_ = nr_guard{nullptr, 0};
        return to_error_code(rc);
    }
    /* Give the instance back to be destroyed (it is broken). Same rules. */
    std::error_code taint() noexcept
    {
        if (!held())
            return {};
        int rc = nr_guard_taint(&g_);
        g_ = nr_guard{nullptr, 0};
        return to_error_code(rc);
    }
    /* Take the instance out of the pool for good: the driver's handle is the
     * caller's now (nr_guard_detach). errc::invalid_argument for an empty
     * Guard. */
    Result<void *> detach()
    {
        void *handle = nullptr;
        int rc = nr_guard_detach(&g_, &handle);
        if (rc != NR_OK)
            return Error(static_cast<errc>(rc), std::string("detach: ") + nr_strerror(rc));
        return handle;
    }

    /* The driver's handle; nullptr for an empty Guard. */
    void *handle() const noexcept
    {
        return nr_guard_handle(&g_);
    }
    /* The handle as a T * (see handle_traits); nullptr for an empty Guard. */
    template <class T> T *handle() const noexcept
    {
        void *h = handle();
        return h ? handle_traits<T>::get(h) : nullptr;
    }

    /* The leased instance's id, state, age and use count. */
    Result<nr_instance_info> info() const
    {
        nr_instance_info out;
        int rc = nr_guard_info(&g_, &out);
        if (rc != NR_OK)
            return Error(static_cast<errc>(rc), std::string("info: ") + nr_strerror(rc));
        return out;
    }

    /* The C guard, for C calls that take one; it stays owned here. */
    nr_guard *c() noexcept
    {
        return &g_;
    }
    const nr_guard *c() const noexcept
    {
        return &g_;
    }
    /* Give the lease up to C code: the Guard is empty, the caller releases. */
    nr_guard disown() noexcept
    {
        nr_guard out{nullptr, 0};
        (void)nr_guard_move(&out, &g_);
        return out;
    }

  private:
    nr_guard g_{nullptr, 0};
};

/* An nr_cancel token, owned. It must outlive every call it was given to.
 * trigger() and is_set() may be called from any thread. */
class Cancel
{
  public:
    static Result<Cancel> make(Cancel *parent = nullptr)
    {
        Cancel c;
        nr_error err{};
        int rc = nr_cancel_create(&c.t_, parent ? parent->t_ : nullptr, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return c;
    }
    Cancel(const Cancel &) = delete;
    Cancel &operator=(const Cancel &) = delete;
    Cancel(Cancel &&o) noexcept : t_(std::exchange(o.t_, nullptr))
    {
    }
    Cancel &operator=(Cancel &&o) noexcept
    {
        if (this != &o) {
            nr_cancel_destroy(t_);
            t_ = std::exchange(o.t_, nullptr);
        }
        return *this;
    }
    ~Cancel()
    {
        nr_cancel_destroy(t_);
    }
    void trigger() noexcept
    {
        nr_cancel_trigger(t_);
    }
    bool is_set() const noexcept
    {
        return nr_cancel_is_set(t_);
    }
    const nr_cancel *get() const noexcept
    {
        return t_;
    }

  private:
    Cancel() noexcept = default;
    nr_cancel *t_ = nullptr;
};

/* ---- what an acquire carries -------------------------------------------------------------- */

/* nr_ctx with a Deadline: pool.acquire(Ctx(200ms).in(scope).with(cancel)). */
struct Ctx {
    Ctx() noexcept = default;
    Ctx(Deadline d) noexcept : deadline(d)
    {
    }
    Ctx &in(const nr_scope &s) noexcept
    {
        scope = &s;
        return *this;
    }
    Ctx &with(const Cancel &c) noexcept
    {
        cancel = c.get();
        return *this;
    }
    Ctx &tag(const char *t) noexcept
    {
        caller = t;
        return *this;
    }
    nr_ctx c() const noexcept
    {
        nr_ctx out = sized<nr_ctx>();
        out.deadline = deadline.c();
        out.cancel = cancel;
        out.scope = scope;
        out.caller = caller;
        return out;
    }

    Deadline deadline;                 /* unset: the pool's acquire_timeout_ms */
    const nr_cancel *cancel = nullptr; /* borrowed */
    const nr_scope *scope = nullptr;   /* borrowed; null: Global */
    const char *caller = nullptr;      /* a tag for traces */
};

#if defined(__GNUC__) || defined(__clang__)
#define NEBULA_RESOURCE_FILE_ __builtin_FILE()
#define NEBULA_RESOURCE_LINE_ __builtin_LINE()
#define NEBULA_RESOURCE_FUNC_ __builtin_FUNCTION()
#else
#define NEBULA_RESOURCE_FILE_ "?"
#define NEBULA_RESOURCE_LINE_ 0
#define NEBULA_RESOURCE_FUNC_ "?"
#endif

/* ---- Pool --------------------------------------------------------------------------------- */

/*
 * An nr_pool, owned: destroyed by the destructor (which frees nothing if
 * leases are still out; see the top of this file). A Pool made from a
 * Config owns the config too (a pool borrows its config for its whole life).
 * Every member function but the moves may be called from any thread.
 */
class Pool
{
  public:
    Pool() noexcept = default;

    /* A pool from the C options (every pointer in them as nebula/pool.h says:
     * the config and the type are borrowed and must outlive the pool). */
    static Result<Pool> create(const nr_pool_options &options)
    {
        Pool p;
        nr_error err{};
        int rc = nr_pool_create(&p.p_, &options, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return p;
    }
    /* The same with the driver's config in `config`, which the Pool keeps
     * (options.config is ignored). */
    static Result<Pool> create(nr_pool_options options, Config config)
    {
        auto owned = std::make_unique<Config>(std::move(config));
        options.config = owned->get();
        Result<Pool> r = create(options);
        if (r)
            r->config_ = std::move(owned);
        return r;
    }
    /* A pool of `type` with `config`, which the Pool keeps. pool_config and
     * credential may be null (defaults, none); both are copied. */
    static Result<Pool> create(CStr id, const nr_resource_type &type, Config config,
                               const nr_pool_config *pool_config = nullptr,
                               const Secret *credential = nullptr)
    {
        nr_pool_options o = sized<nr_pool_options>();
        o.id = id.c_str();
        o.type = &type;
        o.pool = pool_config;
        o.credential = credential ? credential->get() : nullptr;
        return create(o, std::move(config));
    }
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    static Pool create_or_throw(const nr_pool_options &options)
    {
        return create(options).value();
    }
    static Pool create_or_throw(nr_pool_options options, Config config)
    {
        return create(options, std::move(config)).value();
    }
    static Pool create_or_throw(CStr id, const nr_resource_type &type, Config config,
                                const nr_pool_config *pool_config = nullptr,
                                const Secret *credential = nullptr)
    {
        return create(id, type, std::move(config), pool_config, credential).value();
    }
#endif

    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;
    Pool(Pool &&o) noexcept : p_(std::exchange(o.p_, nullptr)), config_(std::move(o.config_))
    {
    }
    Pool &operator=(Pool &&o) noexcept
    {
        if (this != &o) {
            dispose();
            p_ = std::exchange(o.p_, nullptr);
            config_ = std::move(o.config_);
        }
        return *this;
    }
    ~Pool()
    {
        dispose();
    }

    /*
     * Destroy the pool now (nr_pool_destroy). On success the Pool is empty.
     * errc::busy when leases are still out: the pool is closed (acquires
     * fail with errc::shut_down, leases given back are destroyed) and stays
     * owned here, so that a later destroy() can free it; the destructor
     * gives it up instead.
     */
    Result<void> destroy()
    {
        if (!p_)
            return {};
        nr_error err{};
        int rc = nr_pool_destroy(p_, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        p_ = nullptr;
        config_.reset();
        return {};
    }

    /* Lease an instance by the deadline (unset: the pool's acquire_timeout_ms);
     * see nr_pool_acquire for the codes. The caller's file, line and function
     * go to the leak report. */
    Result<Guard> acquire(const Ctx &ctx = {}, const char *file = NEBULA_RESOURCE_FILE_,
                          int line = NEBULA_RESOURCE_LINE_,
                          const char *func = NEBULA_RESOURCE_FUNC_)
    {
        if (!p_)
            return Error(errc::invalid_argument, "acquire: the Pool is empty");
        nr_ctx c = ctx.c();
        nr_guard g{nullptr, 0};
        nr_error err{};
        int rc = nr_pool_acquire_at(p_, &c, &g, &err, file, line, func);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return Guard(std::move(g));
    }
    Result<Guard> acquire(Deadline deadline, const char *file = NEBULA_RESOURCE_FILE_,
                          int line = NEBULA_RESOURCE_LINE_,
                          const char *func = NEBULA_RESOURCE_FUNC_)
    {
        return acquire(Ctx(deadline), file, line, func);
    }
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    Guard acquire_or_throw(const Ctx &ctx = {}, const char *file = NEBULA_RESOURCE_FILE_,
                           int line = NEBULA_RESOURCE_LINE_,
                           const char *func = NEBULA_RESOURCE_FUNC_)
    {
        return acquire(ctx, file, line, func).value();
    }
    Guard acquire_or_throw(Deadline deadline, const char *file = NEBULA_RESOURCE_FILE_,
                           int line = NEBULA_RESOURCE_LINE_,
                           const char *func = NEBULA_RESOURCE_FUNC_)
    {
        return acquire(Ctx(deadline), file, line, func).value();
    }
#endif

    /* Create instances until min_idle are idle (nr_pool_fill), or n (prime). */
    Result<void> fill(Deadline deadline)
    {
        nr_error err{};
        return detail::check(nr_pool_fill(p_, deadline.c(), &err), err);
    }
    Result<void> prime(uint32_t n, Deadline deadline)
    {
        nr_error err{};
        return detail::check(nr_pool_prime(p_, n, deadline.c(), &err), err);
    }
    Result<void> resize(int64_t min_idle, int64_t max_size)
    {
        nr_error err{};
        return detail::check(nr_pool_resize(p_, min_idle, max_size, &err), err);
    }
    void suspend() noexcept
    {
        nr_pool_suspend(p_);
    }
    void resume() noexcept
    {
        nr_pool_resume(p_);
    }
    uint32_t evict_all() noexcept
    {
        return nr_pool_evict_all(p_);
    }
    void close() noexcept
    {
        nr_pool_close(p_);
    }
    /* Close, then wait until every lease is back and destroyed. */
    Result<void> drain(Deadline deadline)
    {
        nr_error err{};
        return detail::check(nr_pool_drain(p_, deadline.c(), &err), err);
    }
    /* A snapshot of the statistics (all zero for an empty Pool). */
    nr_pool_stats stats() const noexcept
    {
        nr_pool_stats out = sized<nr_pool_stats>();
        if (p_)
            nr_pool_stats_get(p_, &out);
        return out;
    }
    const char *id() const noexcept
    {
        return p_ ? nr_pool_id(p_) : "";
    }

    explicit operator bool() const noexcept
    {
        return p_ != nullptr;
    }
    nr_pool *get() const noexcept
    {
        return p_;
    }

  private:
    /* Destroy, or give the pool and its config up when leases are still out:
     * the closed pool stays alive for them, so its config must too. */
    void dispose() noexcept
    {
        if (p_ && nr_pool_destroy(p_, nullptr) != NR_OK)
            (void)config_.release();
        p_ = nullptr;
        config_.reset();
    }

    nr_pool *p_ = nullptr;
    std::unique_ptr<Config> config_; /* the config the pool borrows, when it is ours */
};

} // namespace nebula

#endif
