/* id.c - the id rule (nebula/id.h), written once. */
#include <string.h>

#include "nebula/id.h"

bool nr_id_char_ok(char ch)
{
    unsigned char c = (unsigned char)ch;
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '@' || c == '-';
}

int nr_id_check_n(const char *id, size_t n, const char *what, nr_error *err)
{
    if (!what)
        what = "id";
    if (!id)
        return nr_error_set(err, NR_EINVAL, NULL, "%s is required", what);
    if (n == 0)
        return nr_error_set(err, NR_EINVAL, NULL, "%s is empty", what);
    if (n > NR_ID_MAX)
        return nr_error_set(err, NR_EINVAL, NULL, "%s is %zu bytes long; at most %d are allowed",
                            what, n, NR_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (nr_id_char_ok((char)c))
            continue;
        if (c >= 0x20 && c < 0x7f)
            return nr_error_set(
                err, NR_EINVAL, NULL,
                "%s has invalid character '%c' at offset %zu (allowed: " NR_ID_CHARS_TEXT ")", what,
                (char)c, i);
        return nr_error_set(err, NR_EINVAL, NULL,
                            "%s has invalid byte 0x%02x at offset %zu (allowed: " NR_ID_CHARS_TEXT
                            ")",
                            what, (unsigned)c, i);
    }
    return NR_OK;
}

int nr_id_check(const char *id, const char *what, nr_error *err)
{
    return nr_id_check_n(id, id ? strlen(id) : 0, what, err);
}
