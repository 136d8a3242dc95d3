/*
 * config_names.c - how a config file's names are written and matched. See
 * config_names.h.
 */
#include "config_names.h"
#include "nebula/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append ", name" (or "name" first) to buf; when it does not fit, end buf in
 * "..." instead (once) and return false. */
static bool list_add(char *buf, size_t len, size_t *used, const char *name)
{
    if (*used >= len)
        return false;
    int w = snprintf(buf + *used, len - *used, "%s%s", *used ? ", " : "", name);
    if (w >= 0 && (size_t)w < len - *used) {
        *used += (size_t)w;
        return true;
    }
    size_t at = *used + 3 < len ? *used : (len > 4 ? len - 4 : 0);
    snprintf(buf + at, len - at, "...");
    *used = len;
    return false;
}

/* "a, b, c" of a schema's field names (plus extra ones) into buf. */
void cf_field_list(char *buf, size_t len, const nr_config_schema *s, const char *const *extra)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->nfields; i++)
        if (!list_add(buf, len, &used, s->fields[i].name))
            return;
    for (size_t i = 0; extra && extra[i]; i++)
        if (!list_add(buf, len, &used, extra[i]))
            return;
}

/* "; did you mean \"x\"?" when one of names is close to word (the library's
 * rule, nr_config_suggest), else "". */
void cf_hint(char *buf, size_t len, const char *word, const char *const *names, size_t count)
{
    const char *best = nr_config_suggest(word, names, count);
    if (best)
        snprintf(buf, len, "; did you mean \"%s\"?", best);
    else if (len)
        buf[0] = '\0';
}

/* The path of member key under prefix, in the report's form. */
void cf_member_path(char *out, size_t cap, const char *prefix, const char *key)
{
    bool plain = *key != '\0';
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            plain = false;
    if (plain) {
        snprintf(out, cap, "%s.%s", prefix, key);
        return;
    }
    json_t *k = json_string(key);
    char *q = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
    snprintf(out, cap, "%s[%s]", prefix, q ? q : "\"?\"");
    free(q);
    json_decref(k);
}

/* The hint for the unknown key of obj at path (the key the library reported),
 * among the schema's fields and the extra keys. false when the key is not
 * found (a path cut short) or memory ran out: the library's rule stands. */
bool cf_key_hint(char *buf, size_t len, const json_t *obj, const char *prefix, const char *path,
                 const nr_config_schema *s, const char *const *extra)
{
    const char *key, *word = NULL;
    json_t *v;
    char p[512];
    json_object_foreach((json_t *)obj, key, v)
    {
        cf_member_path(p, sizeof(p), prefix, key);
        if (strcmp(p, path) == 0)
            word = key;
    }
    size_t n = 0, nextra = 0;
    while (extra && extra[nextra])
        nextra++;
    const char **names = word ? malloc((s->nfields + nextra + 1) * sizeof(*names)) : NULL;
    if (!names)
        return false;
    for (size_t i = 0; i < s->nfields; i++)
        names[n++] = s->fields[i].name;
    for (size_t i = 0; i < nextra; i++)
        names[n++] = extra[i];
    cf_hint(buf, len, word, names, n);
    free(names);
    return true;
}

/* A credential ref names a secret, often "<resource>/<what>": an id's
 * characters plus '/', 1 to 127 bytes. */
bool cf_ref_ok(const char *ref)
{
    size_t n = strlen(ref);
    if (n < 1 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = ref[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ':' || c == '@' || c == '/'))
            return false;
    }
    return true;
}

bool cf_id_ok(const char *id)
{
    return nr_id_check(id, NULL, NULL) == NR_OK;
}

/* The value of j as JSON text for an issue (short). */
void cf_json_text(char *out, size_t cap, const json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        snprintf(out, cap, "?");
        return;
    }
    if (strlen(t) >= cap && cap > 4) {
        memcpy(out, t, cap - 4);
        memcpy(out + cap - 4, "...", 4);
    } else {
        snprintf(out, cap, "%s", t);
    }
    free(t);
}
