/*
 * credential_sources.c - the environment, directory and table providers.
 * See nebula/credential_sources.h.
 */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nebula/credential_sources.h"

int nr_credential_read_file(const char *ref, const char *path, nr_secret **out, nr_error *err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return nr_error_set(err, NR_ECRED, NULL, "credential '%s': cannot open %s: %s", ref, path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nr_error_set(err, NR_ECRED, NULL, "credential '%s': %s is not a regular file", ref,
                            path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return nr_error_set(err, NR_ENOMEM, NULL, "credential '%s': out of memory", ref);
    }
    char *buf = malloc(NR_CREDENTIAL_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return nr_error_set(err, NR_ENOMEM, NULL, "credential '%s': out of memory", ref);
    }
    size_t n = fread(buf, 1, NR_CREDENTIAL_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad || n > NR_CREDENTIAL_FILE_MAX) {
        rc = nr_error_set(err, NR_ECRED, NULL, "credential '%s': %s %s", ref, path,
                          bad ? "cannot be read" : "is larger than 64 KiB");
    } else {
        if (n && buf[n - 1] == '\n')
            n--;
        if (n && buf[n - 1] == '\r')
            n--;
        rc = nr_secret_create(out, buf, n, err);
    }
    explicit_bzero(buf, NR_CREDENTIAL_FILE_MAX + 1);
    free(buf);
    return rc;
}

static int read_env(const char *ref, const char *name, nr_secret **out, nr_error *err)
{
    const char *v = getenv(name);
    if (!v)
        return nr_error_set(err, NR_ECRED, NULL,
                            "credential '%s': environment variable %s is not set", ref, name);
    return nr_secret_from_str(out, v, err);
}

/* ---- environment ----------------------------------------------------------------- */

int nr_credential_env_name(const char *prefix, const char *ref, char *buf, size_t len,
                           nr_error *err)
{
    if (!ref || !*ref)
        return nr_error_set(err, NR_EINVAL, NULL, "credential ref is empty");
    size_t p = prefix ? strlen(prefix) : 0, r = strlen(ref);
    if (p + r + 1 > len)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "credential '%s': the environment variable name would be longer "
                            "than %zu bytes",
                            ref, len ? len - 1 : 0);
    if (p)
        memcpy(buf, prefix, p);
    for (size_t i = 0; i < r; i++) {
        unsigned char c = (unsigned char)ref[i];
        buf[p + i] = (char)((c >= 'a' && c <= 'z')                             ? c - 'a' + 'A'
                            : (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c
                                                                               : '_');
    }
    buf[p + r] = '\0';
    return NR_OK;
}

static int fetch_env(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    char name[256];
    int rc = nr_credential_env_name(ud, ref, name, sizeof(name), err);
    return rc != NR_OK ? rc : read_env(ref, name, out, err);
}

nr_credential_provider nr_credential_env_provider(const char *prefix)
{
    return (nr_credential_provider){.fetch = fetch_env, .ud = (void *)prefix};
}

/* ---- directory --------------------------------------------------------------------- */

/* Whether every '/'-separated part of ref is a plain name. */
static bool plain_path(const char *ref)
{
    if (!*ref || *ref == '/')
        return false;
    for (const char *part = ref;;) {
        const char *end = strchr(part, '/');
        size_t n = end ? (size_t)(end - part) : strlen(part);
        if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && part[0] == '.' && part[1] == '.'))
            return false;
        if (!end)
            return true;
        part = end + 1;
    }
}

static int fetch_dir(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    const char *dir = ud;
    if (!plain_path(ref))
        return nr_error_set(err, NR_ECRED, NULL,
                            "credential '%s': a ref read from a directory must be a relative path "
                            "of plain names (no empty, '.' or '..' part)",
                            ref);
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, ref);
    if (n < 0 || (size_t)n >= sizeof(path))
        return nr_error_set(err, NR_ECRED, NULL, "credential '%s': the path is too long", ref);
    return nr_credential_read_file(ref, path, out, err);
}

nr_credential_provider nr_credential_dir_provider(const char *dir)
{
    return (nr_credential_provider){.fetch = fetch_dir, .ud = (void *)dir};
}

/* ---- table ---------------------------------------------------------------------------- */

struct nr_credential_table {
    size_t n;
    struct entry {
        char *ref, *env, *file;
    } * v;
};

void nr_credential_table_destroy(nr_credential_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].ref);
        free(t->v[i].env);
        free(t->v[i].file);
    }
    free(t->v);
    free(t);
}

int nr_credential_table_create(nr_credential_table **out, const nr_credential_source *src, size_t n,
                               nr_error *err)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!src[i].ref || !*src[i].ref)
            return nr_error_set(err, NR_EINVAL, NULL, "credential source %zu: ref is missing", i);
        if (!src[i].env == !src[i].file)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "credential '%s': give exactly one of env and file", src[i].ref);
        for (size_t k = 0; k < i; k++)
            if (strcmp(src[k].ref, src[i].ref) == 0)
                return nr_error_set(err, NR_EINVAL, NULL, "credential '%s' is given twice",
                                    src[i].ref);
    }
    nr_credential_table *t = calloc(1, sizeof(*t));
    if (t && n)
        t->v = calloc(n, sizeof(*t->v));
    if (!t || (n && !t->v)) {
        free(t);
        return nr_error_set(err, NR_ENOMEM, NULL, "credentials: out of memory");
    }
    for (size_t i = 0; i < n; i++, t->n++) {
        struct entry *e = &t->v[i];
        e->ref = strdup(src[i].ref);
        e->env = src[i].env ? strdup(src[i].env) : NULL;
        e->file = src[i].file ? strdup(src[i].file) : NULL;
        if (!e->ref || (src[i].env && !e->env) || (src[i].file && !e->file)) {
            t->n++;
            nr_credential_table_destroy(t);
            return nr_error_set(err, NR_ENOMEM, NULL, "credentials: out of memory");
        }
    }
    *out = t;
    return NR_OK;
}

static const struct entry *find(const nr_credential_table *t, const char *ref)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].ref, ref) == 0)
            return &t->v[i];
    return NULL;
}

static int fetch_table(void *ud, const char *ref, nr_secret **out, nr_error *err)
{
    const struct entry *e = find(ud, ref);
    if (!e)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "credential '%s' is not defined", ref);
    return e->env ? read_env(ref, e->env, out, err)
                  : nr_credential_read_file(ref, e->file, out, err);
}

nr_credential_provider nr_credential_table_provider(nr_credential_table *t)
{
    return (nr_credential_provider){.fetch = fetch_table, .ud = t};
}

int nr_credential_table_check(const nr_credential_table *t, const char *ref, nr_error *err)
{
    const struct entry *e = find(t, ref);
    if (!e)
        return nr_error_set(err, NR_ENOTFOUND, NULL, "credential '%s' is not defined", ref);
    if (e->env)
        return getenv(e->env) ? NR_OK
                              : nr_error_set(err, NR_ECRED, NULL,
                                             "credential '%s': environment variable %s is not set",
                                             ref, e->env);
    if (access(e->file, R_OK) != 0)
        return nr_error_set(err, NR_ECRED, NULL, "credential '%s': cannot read %s: %s", ref,
                            e->file, strerror(errno));
    return NR_OK;
}
