/*
 * scope.c - scope values: a level plus the id chain from Tenant down.
 *
 * Text form: "global", or one "<level>:<id>" segment per level from tenant
 * down, joined by '/': "tenant:acme/workflow:billing/execution:42/action:a1".
 * The level names are fixed and in order, so the first ':' of a segment ends
 * its level name and everything after it is the id (ids may hold ':').
 */
#include "nebula/scope.h"
#include "nebula/id.h"

#include <stdio.h>
#include <string.h>

static const char *const level_names[NR_SCOPE_LEVELS] = {
    "global", "tenant", "workflow", "execution", "action",
};

static bool level_valid(int level)
{
    return level >= NR_SCOPE_GLOBAL && level <= NR_SCOPE_ACTION;
}

/* Check the id of n bytes at id, for the given level; NR_EINVAL names the rule. */
static int check_id(const char *id, size_t n, nr_scope_level level, nr_error *err)
{
    char what[32];
    snprintf(what, sizeof(what), "%s scope id", level_names[level]);
    return nr_id_check_n(id, n, what, err);
}

void nr_scope_global(nr_scope *out)
{
    memset(out, 0, sizeof(*out));
    out->level = NR_SCOPE_GLOBAL;
}

/* out = parent's chain plus n bytes of id one level down. Checks everything;
 * writes out only on success, so out may alias parent. */
static int child_n(nr_scope *out, const nr_scope *parent, const char *id, size_t n, nr_error *err)
{
    if (!level_valid((int)parent->level))
        return nr_error_set(err, NR_EINVAL, NULL, "parent scope has invalid level %d",
                            (int)parent->level);
    if (parent->level == NR_SCOPE_ACTION)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "an action scope is the innermost level and has no child scope");
    nr_scope_level level = (nr_scope_level)(parent->level + 1);
    int rc = check_id(id, n, level, err);
    if (rc != NR_OK)
        return rc;
    nr_scope s;
    memset(&s, 0, sizeof(s));
    s.level = level;
    for (int i = 1; i < (int)level; i++)
        memcpy(s.ids[i], parent->ids[i], sizeof(s.ids[i]));
    memcpy(s.ids[level], id, n);
    s.ids[level][n] = '\0';
    *out = s;
    return NR_OK;
}

int nr_scope_child(nr_scope *out, const nr_scope *parent, const char *id, nr_error *err)
{
    if (!out || !parent)
        return nr_error_set(err, NR_EINVAL, NULL, "scope child: NULL scope pointer");
    if (!id)
        return nr_error_set(err, NR_EINVAL, NULL, "%s scope id is missing (NULL)",
                            level_valid((int)parent->level) && parent->level < NR_SCOPE_ACTION
                                ? level_names[parent->level + 1]
                                : "child");
    return child_n(out, parent, id, strlen(id), err);
}

int nr_scope_make(nr_scope *out, const char *tenant, const char *workflow, const char *execution,
                  const char *action, nr_error *err)
{
    if (!out)
        return nr_error_set(err, NR_EINVAL, NULL, "scope make: NULL scope pointer");
    const char *ids[NR_SCOPE_LEVELS] = {NULL, tenant, workflow, execution, action};
    nr_scope s;
    nr_scope_global(&s);
    for (int i = 1; i < NR_SCOPE_LEVELS; i++) {
        if (!ids[i]) {
            for (int j = i + 1; j < NR_SCOPE_LEVELS; j++) {
                if (ids[j])
                    return nr_error_set(err, NR_EINVAL, NULL,
                                        "%s scope id given, but no %s scope id", level_names[j],
                                        level_names[i]);
            }
            break;
        }
        int rc = child_n(&s, &s, ids[i], strlen(ids[i]), err);
        if (rc != NR_OK)
            return rc;
    }
    *out = s;
    return NR_OK;
}

int nr_scope_parent(nr_scope *out, const nr_scope *s, nr_error *err)
{
    if (!out || !s)
        return nr_error_set(err, NR_EINVAL, NULL, "scope parent: NULL scope pointer");
    if (!level_valid((int)s->level))
        return nr_error_set(err, NR_EINVAL, NULL, "scope has invalid level %d", (int)s->level);
    if (s->level == NR_SCOPE_GLOBAL)
        return nr_error_set(err, NR_EINVAL, NULL,
                            "the global scope is the outermost level and has no parent");
    nr_scope p = *s;
    p.level = (nr_scope_level)(s->level - 1);
    memset(p.ids[s->level], 0, sizeof(p.ids[s->level]));
    *out = p;
    return NR_OK;
}

const char *nr_scope_id(const nr_scope *s)
{
    if (!s || !level_valid((int)s->level))
        return "";
    return s->ids[s->level];
}

/* Whether the ids of levels 1..level are equal in a and b. */
static bool chain_equal(const nr_scope *a, const nr_scope *b, nr_scope_level level)
{
    for (int i = 1; i <= (int)level; i++) {
        if (strncmp(a->ids[i], b->ids[i], NR_SCOPE_ID_MAX) != 0)
            return false;
    }
    return true;
}

bool nr_scope_contains(const nr_scope *outer, const nr_scope *inner)
{
    if (!outer || !inner || !level_valid((int)outer->level) || !level_valid((int)inner->level))
        return false;
    return outer->level <= inner->level && chain_equal(outer, inner, outer->level);
}

bool nr_scope_equal(const nr_scope *a, const nr_scope *b)
{
    if (!a || !b || !level_valid((int)a->level) || !level_valid((int)b->level))
        return false;
    return a->level == b->level && chain_equal(a, b, a->level);
}

const char *nr_scope_level_name(nr_scope_level level)
{
    return level_valid((int)level) ? level_names[level] : "invalid";
}

/* Append text to buf (capacity len) at *pos, always counting its full length. */
static void put(char *buf, size_t len, size_t *pos, const char *text)
{
    size_t n = strlen(text);
    if (*pos < len) {
        size_t room = len - 1 - *pos;
        size_t k = n < room ? n : room;
        memcpy(buf + *pos, text, k);
        buf[*pos + k] = '\0';
    }
    *pos += n;
}

size_t nr_scope_format(const nr_scope *s, char *buf, size_t len)
{
    size_t pos = 0;
    if (buf && len > 0)
        buf[0] = '\0';
    else
        len = 0;
    if (!s || !level_valid((int)s->level)) {
        put(buf, len, &pos, "invalid");
        return pos;
    }
    if (s->level == NR_SCOPE_GLOBAL) {
        put(buf, len, &pos, "global");
        return pos;
    }
    for (int i = 1; i <= (int)s->level; i++) {
        char id[NR_SCOPE_ID_MAX];
        memcpy(id, s->ids[i], sizeof(id));
        id[NR_SCOPE_ID_MAX - 1] = '\0';
        if (i > 1)
            put(buf, len, &pos, "/");
        put(buf, len, &pos, level_names[i]);
        put(buf, len, &pos, ":");
        put(buf, len, &pos, id);
    }
    return pos;
}

int nr_scope_parse(nr_scope *out, const char *text, nr_error *err)
{
    if (!out || !text)
        return nr_error_set(err, NR_EINVAL, NULL, "scope parse: NULL pointer");
    if (strcmp(text, "global") == 0) {
        nr_scope_global(out);
        return NR_OK;
    }
    if (text[0] == '\0')
        return nr_error_set(err, NR_EINVAL, NULL, "scope text is empty");
    nr_scope s;
    nr_scope_global(&s);
    const char *p = text;
    for (int level = 1;; level++) {
        const char *end = strchr(p, '/');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        if (level >= NR_SCOPE_LEVELS)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "scope text has more than %d segments; action is the "
                                "innermost level",
                                NR_SCOPE_LEVELS - 1);
        const char *name = level_names[level];
        size_t name_len = strlen(name);
        if (seg == 0)
            return nr_error_set(err, NR_EINVAL, NULL,
                                "scope text has an empty segment %d (expected \"%s:<id>\")", level,
                                name);
        if (seg <= name_len || strncmp(p, name, name_len) != 0 || p[name_len] != ':')
            return nr_error_set(err, NR_EINVAL, NULL, "scope text segment %d must be \"%s:<id>\"%s",
                                level, name, level == 1 ? " or the whole text \"global\"" : "");
        int rc = child_n(&s, &s, p + name_len + 1, seg - name_len - 1, err);
        if (rc != NR_OK) {
            nr_error_prefix(err, "scope text segment %d", level);
            return rc;
        }
        if (!end)
            break;
        p = end + 1;
    }
    *out = s;
    return NR_OK;
}
