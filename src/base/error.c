/* error.c - error names, descriptions and the caller-owned detail struct. */
#include "nebula/error.h"
#include "base/strutil.h"

#include <stdio.h>
#include <string.h>

const char *nr_strerror(int code)
{
    switch (code) {
#define NR__ERR_TEXT(name, value, text)                                                            \
    case value:                                                                                    \
        return text;
        NR_ERRNO_MAP(NR__ERR_TEXT)
#undef NR__ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *nr_err_name(int code)
{
    switch (code) {
#define NR__ERR_NAME(name, value, text)                                                            \
    case value:                                                                                    \
        return "NR_" #name;
        NR_ERRNO_MAP(NR__ERR_NAME)
#undef NR__ERR_NAME
    default:
        return "NR_E?";
    }
}

void nr_error_clear(nr_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int nr__copy_marked(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len < n) {
        memcpy(dst, src, len + 1);
        return 0;
    }
    memcpy(dst, src, n - 4);
    memcpy(dst + n - 4, "...", 4);
    return 1;
}

int nr_error_setv(nr_error *err, int code, const char *resource_id, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    err->cause = NR_OK;
    err->driver_code = 0;
    err->truncated =
        nr__copy_marked(err->resource_id, sizeof(err->resource_id), resource_id ? resource_id : "");
    int n = vsnprintf(err->message, sizeof(err->message), fmt ? fmt : "", ap);
    if (n < 0) {
        err->message[0] = '\0';
    } else if ((size_t)n >= sizeof(err->message)) {
        memcpy(err->message + sizeof(err->message) - 4, "...", 4);
        err->truncated = 1;
    }
    return code;
}

int nr_error_set(nr_error *err, int code, const char *resource_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nr_error_setv(err, code, resource_id, fmt, ap);
    va_end(ap);
    return code;
}

int nr_error_set_cause(nr_error *err, int code, int cause, long driver_code,
                       const char *resource_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nr_error_setv(err, code, resource_id, fmt, ap);
    va_end(ap);
    if (err) {
        err->cause = cause;
        err->driver_code = driver_code;
    }
    return code;
}

void nr_error_prefix(nr_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[NR_ERROR_MESSAGE_MAX];
    char old[NR_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    int n = snprintf(err->message, sizeof(err->message), "%s: %s", prefix, old);
    if (n >= 0 && (size_t)n >= sizeof(err->message)) {
        memcpy(err->message + sizeof(err->message) - 4, "...", 4);
        err->truncated = 1;
    }
}
