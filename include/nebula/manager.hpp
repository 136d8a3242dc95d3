/*
 * nebula/manager.hpp - the owner of an nr_manager (part of the C++ layer,
 * nebula/resource.hpp; docs/cpp.md, "Under a manager").
 *
 * Thread safety: its member functions may be called from any thread at
 * once, but moving, assigning and destroying it.
 */
#ifndef NEBULA_MANAGER_HPP
#define NEBULA_MANAGER_HPP

#include <chrono>
#include <cstring>
#include <initializer_list>
#include <utility>
#include <vector>

#include "nebula/config.hpp"
#include "nebula/error.hpp"
#include "nebula/manager.h"
#include "nebula/pool.hpp"
#include "nebula/time.hpp"

namespace nebula
{

/* ---- Manager ------------------------------------------------------------------------------ */

/*
 * An nr_manager, owned: shut down with the default phase timeouts (when
 * shutdown() was not called) and destroyed by the destructor, which frees
 * nothing if leases are still out. The manager copies every resource's
 * config, so a Config given to register_resource may go right after.
 * Every member function but the moves may be called from any thread.
 */
class Manager
{
  public:
    Manager() noexcept = default;
    /* options null: the defaults (nr_manager_options_default). */
    static Result<Manager> create(const nr_manager_options *options = nullptr)
    {
        Manager m;
        nr_error err{};
        int rc = nr_manager_create(&m.m_, options, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return m;
    }
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    static Manager create_or_throw(const nr_manager_options *options = nullptr)
    {
        return create(options).value();
    }
#endif
    Manager(const Manager &) = delete;
    Manager &operator=(const Manager &) = delete;
    Manager(Manager &&o) noexcept : m_(std::exchange(o.m_, nullptr))
    {
    }
    Manager &operator=(Manager &&o) noexcept
    {
        if (this != &o) {
            dispose();
            m_ = std::exchange(o.m_, nullptr);
        }
        return *this;
    }
    ~Manager()
    {
        dispose();
    }

    /* Shut down if needed, then free (nr_manager_destroy); errc::busy with
     * leases out (nothing freed; call again once they are back). */
    Result<void> destroy()
    {
        if (!m_)
            return {};
        nr_error err{};
        int rc = nr_manager_destroy(m_, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        m_ = nullptr;
        return {};
    }

    /* Register a resource from the C spec (nr_manager_register). */
    Result<void> register_resource(const nr_resource_spec &spec)
    {
        nr_error err{};
        return detail::check(nr_manager_register(m_, &spec, &err), err);
    }
    /* Register resource `id` of `type` with `config` (copied), depending on
     * the resources named in depends_on; pool_config null: the defaults. */
    Result<void> register_resource(CStr id, const nr_resource_type &type, const Config &config,
                                   std::initializer_list<const char *> depends_on = {},
                                   const nr_pool_config *pool_config = nullptr)
    {
        std::vector<const char *> deps(depends_on);
        nr_resource_spec spec = sized<nr_resource_spec>();
        spec.id = id.c_str();
        spec.type = &type;
        spec.config = config.get();
        spec.pool = pool_config;
        spec.depends_on = deps.empty() ? nullptr : deps.data();
        spec.ndepends = deps.size();
        return register_resource(spec);
    }

    /* Start every resource in dependency order (nr_manager_start). */
    Result<void> start(Deadline deadline)
    {
        nr_error err{};
        return detail::check(nr_manager_start(m_, deadline.c(), &err), err);
    }
    Result<void> start(const Ctx &ctx)
    {
        nr_ctx c = ctx.c();
        nr_error err{};
        return detail::check(nr_manager_start_ctx(m_, &c, &err), err);
    }

    /* Lease an instance of resource id (nr_manager_acquire). */
    Result<Guard> acquire(CStr id, const Ctx &ctx = {})
    {
        if (!m_)
            return Error(errc::invalid_argument, "acquire: the Manager is empty");
        nr_ctx c = ctx.c();
        nr_guard g{nullptr, 0};
        nr_error err{};
        int rc = nr_manager_acquire(m_, id.c_str(), &c, &g, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return Guard(std::move(g));
    }
    Result<Guard> acquire(CStr id, Deadline deadline)
    {
        return acquire(id, Ctx(deadline));
    }
    /* Lease from the healthiest member of a group (nr_manager_acquire_group);
     * choice (may be null) says which member served. */
    Result<Guard> acquire_group(CStr group, const Ctx &ctx = {}, nr_group_choice *choice = nullptr)
    {
        if (!m_)
            return Error(errc::invalid_argument, "acquire_group: the Manager is empty");
        nr_ctx c = ctx.c();
        nr_guard g{nullptr, 0};
        nr_error err{};
        int rc = nr_manager_acquire_group(m_, group.c_str(), &c, &g, choice, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return Guard(std::move(g));
    }
    Result<Guard> acquire_group(CStr group, Deadline deadline, nr_group_choice *choice = nullptr)
    {
        return acquire_group(group, Ctx(deadline), choice);
    }
#if NEBULA_RESOURCE_HAS_EXCEPTIONS
    Guard acquire_or_throw(CStr id, const Ctx &ctx = {})
    {
        return acquire(id, ctx).value();
    }
    Guard acquire_or_throw(CStr id, Deadline deadline)
    {
        return acquire(id, Ctx(deadline)).value();
    }
    void register_resource_or_throw(const nr_resource_spec &spec)
    {
        register_resource(spec).value();
    }
    void register_resource_or_throw(CStr id, const nr_resource_type &type, const Config &config,
                                    std::initializer_list<const char *> depends_on = {},
                                    const nr_pool_config *pool_config = nullptr)
    {
        register_resource(id, type, config, depends_on, pool_config).value();
    }
    void start_or_throw(Deadline deadline)
    {
        start(deadline).value();
    }
#endif

    /* One resource's state, health and statistics. */
    Result<nr_resource_info> info(CStr id) const
    {
        nr_resource_info out = sized<nr_resource_info>();
        nr_error err{};
        int rc = nr_manager_resource_info(m_, id.c_str(), &out, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return out;
    }
    size_t count() const noexcept
    {
        return nr_manager_count(m_);
    }
    /* One maintenance and one health round now, on the calling thread. */
    void tick() noexcept
    {
        nr_manager_tick(m_);
    }

    /* Phased shutdown (drain, cleanup, terminate; nr_manager_shutdown) with
     * these phase timeouts; report (may be null) gets what each phase did
     * and what was still out, also on errc::timed_out. A second call
     * succeeds at once. */
    Result<void> shutdown(std::chrono::milliseconds drain = std::chrono::seconds(30),
                          std::chrono::milliseconds cleanup = std::chrono::seconds(10),
                          nr_shutdown_report *report = nullptr)
    {
        nr_shutdown_options so = sized<nr_shutdown_options>();
        nr_shutdown_options_default(&so);
        so.drain_timeout_ms = drain.count();
        so.cleanup_timeout_ms = cleanup.count();
        nr_error err{};
        return detail::check(nr_manager_shutdown(m_, &so, report, &err), err);
    }

    /* The provider port backed by this manager (valid while it lives). */
    nr_provider provider() noexcept
    {
        return nr_manager_provider(m_);
    }
    explicit operator bool() const noexcept
    {
        return m_ != nullptr;
    }
    nr_manager *get() const noexcept
    {
        return m_;
    }

  private:
    /* Destroy, or give the manager up when leases are still out. */
    void dispose() noexcept
    {
        if (m_)
            (void)nr_manager_destroy(m_, nullptr);
        m_ = nullptr;
    }

    nr_manager *m_ = nullptr;
};

} // namespace nebula

#endif
