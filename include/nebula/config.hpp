/*
 * nebula/config.hpp - a config struct of a schema, owned, with the typed
 * setters of nebula/config.h; and an owned nr_secret (part of the C++ layer,
 * nebula/resource.hpp; docs/cpp.md, "Configs").
 *
 * Thread safety: a Config is owned by one thread at a time; a Secret may be
 * read by many threads at once.
 */
#ifndef NEBULA_CONFIG_HPP
#define NEBULA_CONFIG_HPP

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "nebula/alloc.h"
#include "nebula/config.h"
#include "nebula/error.hpp"
#include "nebula/secret.h"

namespace nebula
{

/* ---- Config ------------------------------------------------------------------------------- */

/*
 * A config struct of one schema, owned: made with the defaults
 * (nr_config_init) or from JSON, set field by field with the checked setters
 * of nebula/config.h, freed by the destructor (nr_config_free).
 *
 *     auto cfg = nebula::Config::make(nr_sqlite_config_schema).value();
 *     cfg.set("path", "app.db").value();              // a string field: copied
 *     cfg.set("busy_timeout_ms", 2000).value();        // integers, doubles, bools
 *     cfg.set("health_check", "write").value();        // an enum field, by name
 *     cfg.as<nr_sqlite_config>().wal = true;           // or the struct itself
 *
 * Never store a pointer of one's own in a string field through as<T>(): the
 * destructor frees every string (use set()).
 */
class Config
{
  public:
    Config() noexcept = default;
    static Result<Config> make(const nr_config_schema &schema)
    {
        Config c(schema);
        nr_error err{};
        int rc = nr_config_init(&schema, c.data_.get(), &err);
        if (rc != NR_OK) {
            c.schema_ = nullptr; /* nothing to free */
            return Error::from(rc, err);
        }
        return c;
    }
    /* From JSON text (defaults, then the keys given); the Error's message
     * summarises the problems and names the first, report (may be null)
     * gets all of them. */
    static Result<Config> parse(const nr_config_schema &schema, std::string_view json,
                                nr_config_report *report = nullptr)
    {
        Config c(schema);
        nr_error err{};
        int rc = nr_config_parse(&schema, json.data(), json.size(), c.data_.get(), report, &err);
        if (rc != NR_OK) {
            nr_config_free(&schema, c.data_.get());
            c.schema_ = nullptr;
            return Error::from(rc, err);
        }
        return c;
    }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;
    Config(Config &&other) noexcept
        : schema_(std::exchange(other.schema_, nullptr)), data_(std::move(other.data_))
    {
    }
    Config &operator=(Config &&other) noexcept
    {
        if (this != &other) {
            reset();
            schema_ = std::exchange(other.schema_, nullptr);
            data_ = std::move(other.data_);
        }
        return *this;
    }
    ~Config()
    {
        reset();
    }

    bool empty() const noexcept
    {
        return schema_ == nullptr;
    }
    const nr_config_schema *schema() const noexcept
    {
        return schema_;
    }
    /* The struct, for the C calls that take one (a pool's or a resource's config). */
    void *get() noexcept
    {
        return data_.get();
    }
    const void *get() const noexcept
    {
        return data_.get();
    }
    /* The struct as its C type; T must be the schema's struct (its size is
     * checked, the rest is the caller's word). */
    template <class T> T &as()
    {
        check_size(sizeof(T));
        return *static_cast<T *>(get());
    }
    template <class T> const T &as() const
    {
        check_size(sizeof(T));
        return *static_cast<const T *>(get());
    }

    /* Typed setters (nr_config_set_*): the field must exist and have that type. */
    Result<void> set_str(CStr field, const char *value)
    {
        nr_error err{};
        return detail::check(nr_config_set_str(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    Result<void> set_int(CStr field, int64_t value)
    {
        nr_error err{};
        return detail::check(nr_config_set_int(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    Result<void> set_bool(CStr field, bool value)
    {
        nr_error err{};
        return detail::check(nr_config_set_bool(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    Result<void> set_double(CStr field, double value)
    {
        nr_error err{};
        return detail::check(nr_config_set_double(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    Result<void> set_enum(CStr field, const char *name)
    {
        nr_error err{};
        return detail::check(nr_config_set_enum(schema_, data_.get(), field.c_str(), name, &err),
                             err);
    }
    Result<void> set_secret(CStr field, const char *value)
    {
        nr_error err{};
        return detail::check(nr_config_set_secret(schema_, data_.get(), field.c_str(), value, &err),
                             err);
    }
    /* One setter for every type, chosen by the value's C++ type: bool, an
     * integer, a floating-point number, or text (a string field, or an enum
     * field by name). A secret field takes set_secret only. */
    template <class V> Result<void> set(CStr field, const V &value)
    {
        if constexpr (std::is_same_v<V, bool>) {
            return set_bool(field, value);
        } else if constexpr (std::is_integral_v<V>) {
            if constexpr (std::is_unsigned_v<V> && sizeof(V) >= sizeof(int64_t)) {
                if (value > static_cast<V>(std::numeric_limits<int64_t>::max()))
                    return Error(errc::config,
                                 std::string(field.c_str()) + ": value beyond the int64 range");
            }
            return set_int(field, static_cast<int64_t>(value));
        } else if constexpr (std::is_floating_point_v<V>) {
            return set_double(field, static_cast<double>(value));
        } else if constexpr (std::is_same_v<V, std::nullptr_t>) {
            return set_str(field, nullptr);
        } else if constexpr (std::is_convertible_v<const V &, const char *>) {
            return set_text(field, value); /* a literal, a char pointer (null: unset) */
        } else if constexpr (std::is_convertible_v<const V &, std::string_view>) {
            std::string text{std::string_view(value)}; /* std::string and the like */
            return set_text(field, text.c_str());
        } else {
            static_assert(std::is_same_v<V, bool>, "Config::set takes bool, integers, "
                                                   "floating-point numbers and text");
            return {};
        }
    }

    /* Check every field's rule and the schema's cross-field check. */
    Result<void> validate(nr_config_report *report = nullptr) const
    {
        nr_error err{};
        return detail::check(nr_config_validate(schema_, data_.get(), "$", report, &err), err);
    }
    /* Compact JSON, secrets written "<redacted>" unless asked otherwise. */
    Result<std::string> to_json(nr_config_secrets secrets = NR_CONFIG_SECRETS_REDACT) const
    {
        nr_error err{};
        char *text = nr_config_serialize(schema_, data_.get(), secrets, &err);
        if (!text)
            return Error::from(err.code != NR_OK ? err.code : NR_ENOMEM, err);
        std::string out(text);
        nr_free(text);
        return out;
    }

  private:
    /* Text for a string field, or for an enum field by name. */
    Result<void> set_text(CStr field, const char *text)
    {
        const nr_field *f = nr_config_field(schema_, field.c_str());
        if (f && f->type == NR_FT_ENUM)
            return set_enum(field, text);
        return set_str(field, text);
    }
    struct free_storage {
        void operator()(void *p) const noexcept
        {
            ::operator delete(p);
        }
    };
    explicit Config(const nr_config_schema &schema)
        : schema_(&schema), data_(::operator new(schema.struct_size ? schema.struct_size : 1))
    {
        std::memset(data_.get(), 0, schema.struct_size);
    }
    void reset() noexcept
    {
        if (schema_ && data_)
            nr_config_free(schema_, data_.get());
        schema_ = nullptr;
        data_.reset();
    }
    void check_size(size_t size) const
    {
        if (!schema_ || schema_->struct_size != size)
            detail::fail(
                Error(errc::invalid_argument, "Config::as: the type is not the schema's struct"));
    }

    const nr_config_schema *schema_ = nullptr;
    std::unique_ptr<void, free_storage> data_;
};

/* ---- Secret and Cancel --------------------------------------------------------------------- */

/* An nr_secret, owned (zeroed and freed by the destructor). */
class Secret
{
  public:
    Secret() noexcept = default;
    static Result<Secret> from_str(CStr text)
    {
        Secret s;
        nr_error err{};
        int rc = nr_secret_from_str(&s.s_, text.c_str(), &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return s;
    }
    static Result<Secret> from_bytes(const void *data, size_t len)
    {
        Secret s;
        nr_error err{};
        int rc = nr_secret_create(&s.s_, data, len, &err);
        if (rc != NR_OK)
            return Error::from(rc, err);
        return s;
    }
    Secret(const Secret &) = delete;
    Secret &operator=(const Secret &) = delete;
    Secret(Secret &&o) noexcept : s_(std::exchange(o.s_, nullptr))
    {
    }
    Secret &operator=(Secret &&o) noexcept
    {
        if (this != &o) {
            nr_secret_free(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    ~Secret()
    {
        nr_secret_free(s_);
    }
    const nr_secret *get() const noexcept
    {
        return s_;
    }
    size_t size() const noexcept
    {
        return s_ ? nr_secret_len(s_) : 0;
    }

  private:
    nr_secret *s_ = nullptr;
};

} // namespace nebula

#endif
