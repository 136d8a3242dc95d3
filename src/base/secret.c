/* secret.c - owned buffers for secrets, zeroed before they are freed. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "nebula/secret.h"

#include <stdint.h>
#include <string.h>

#include "nebula/alloc.h"

struct nr_secret {
    size_t len;
    char data[]; /* len bytes, then a NUL */
};

static size_t block_size(size_t len)
{
    return sizeof(nr_secret) + len + 1;
}

int nr_secret_create(nr_secret **out, const void *data, size_t len, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "secret: no output pointer");
    *out = NULL;
    if (!data && len > 0)
        return nr_error_set(err, NR_EINVAL, NULL, "secret: no data for a non-empty secret");
    if (len > SIZE_MAX - sizeof(nr_secret) - 1)
        return nr_error_set(err, NR_EINVAL, NULL, "secret: too long");
    nr_secret *s = nr_malloc(block_size(len));
    if (!s)
        return nr_error_set(err, NR_ENOMEM, NULL, "secret: out of memory");
    s->len = len;
    if (len > 0)
        memcpy(s->data, data, len);
    s->data[len] = '\0';
    *out = s;
    return NR_OK;
}

int nr_secret_from_str(nr_secret **out, const char *str, nr_error *err)
{
    if (!str) {
        if (out)
            *out = NULL;
        return nr_error_set(err, NR_EINVAL, NULL, "secret: no string");
    }
    return nr_secret_create(out, str, strlen(str), err);
}

int nr_secret_dup(nr_secret **out, const nr_secret *src, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "secret: no output pointer");
    if (!src) {
        *out = NULL;
        return NR_OK;
    }
    return nr_secret_create(out, src->data, src->len, err);
}

void nr_secret_free(nr_secret *s)
{
    if (!s)
        return;
    explicit_bzero(s, block_size(s->len));
    nr_free(s);
}

const char *nr_secret_reveal(const nr_secret *s, size_t *len_out)
{
    if (len_out)
        *len_out = s ? s->len : 0;
    return s ? s->data : NULL;
}

size_t nr_secret_len(const nr_secret *s)
{
    return s ? s->len : 0;
}

/* The time taken depends on the longer length only, never on where the
 * contents first differ. Reads past a buffer's end stay on its NUL. */
bool nr_secret_equal(const nr_secret *a, const nr_secret *b)
{
    if (!a || !b)
        return a == b;
    size_t n = a->len > b->len ? a->len : b->len;
    volatile unsigned char diff = (unsigned char)(a->len != b->len);
    for (size_t i = 0; i < n; i++) {
        size_t ia = i < a->len ? i : a->len;
        size_t ib = i < b->len ? i : b->len;
        diff |= (unsigned char)(a->data[ia] ^ b->data[ib]);
    }
    return diff == 0;
}
