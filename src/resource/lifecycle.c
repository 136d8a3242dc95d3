/*
 * lifecycle.c - the lifecycle state machine of a resource instance.
 *
 * The happy path:
 *
 *   Created -> Initializing -> Ready -> InUse <-> Idle -> Draining -> Cleanup -> Terminated
 *
 * and around it:
 *
 *   Ready -> InUse | Idle                     (Idle -> InUse, InUse -> Idle)
 *   Ready | InUse | Idle -> Maintenance       (Maintenance -> Ready | InUse | Idle)
 *   Ready | InUse | Idle | Maintenance -> Draining | Cleanup
 *   Draining -> Cleanup,  Cleanup -> Terminated
 *   every state except Terminated and Failed -> Failed
 *
 * No state goes to itself. The transition table `table` below spells this
 * out cell by cell and is the only source of truth for every function in
 * this file (terminal states are the rows with no allowed cell).
 */
#include "nebula/lifecycle.h"

#include <stdio.h>

/* Y = allowed, N = refused; rows are "from", columns are "to". */
#define Y true
#define N false
// clang-format off
static const bool table[NR_LC_COUNT][NR_LC_COUNT] = {
    /*                      Cre Ini Rdy Use Idl Mnt Drn Cln Trm Fld */
    [NR_LC_CREATED]      = { N,  Y,  N,  N,  N,  N,  N,  N,  N,  Y },
    [NR_LC_INITIALIZING] = { N,  N,  Y,  N,  N,  N,  N,  N,  N,  Y },
    [NR_LC_READY]        = { N,  N,  N,  Y,  Y,  Y,  Y,  Y,  N,  Y },
    [NR_LC_IN_USE]       = { N,  N,  N,  N,  Y,  Y,  Y,  Y,  N,  Y },
    [NR_LC_IDLE]         = { N,  N,  N,  Y,  N,  Y,  Y,  Y,  N,  Y },
    [NR_LC_MAINTENANCE]  = { N,  N,  Y,  Y,  Y,  N,  Y,  Y,  N,  Y },
    [NR_LC_DRAINING]     = { N,  N,  N,  N,  N,  N,  N,  Y,  N,  Y },
    [NR_LC_CLEANUP]      = { N,  N,  N,  N,  N,  N,  N,  N,  Y,  Y },
    [NR_LC_TERMINATED]   = { N,  N,  N,  N,  N,  N,  N,  N,  N,  N },
    [NR_LC_FAILED]       = { N,  N,  N,  N,  N,  N,  N,  N,  N,  N },
};
// clang-format on
#undef Y
#undef N

static const char *const names[NR_LC_COUNT] = {
    "Created",     "Initializing", "Ready",   "InUse",      "Idle",
    "Maintenance", "Draining",     "Cleanup", "Terminated", "Failed",
};

static bool in_range(nr_lifecycle s)
{
    return (int)s >= 0 && (int)s < NR_LC_COUNT;
}

const char *nr_lifecycle_name(nr_lifecycle s)
{
    return in_range(s) ? names[s] : "Invalid";
}

bool nr_lifecycle_can(nr_lifecycle from, nr_lifecycle to)
{
    return in_range(from) && in_range(to) && table[from][to];
}

bool nr_lifecycle_is_terminal(nr_lifecycle s)
{
    if (!in_range(s))
        return false;
    for (int to = 0; to < NR_LC_COUNT; to++) {
        if (table[s][to])
            return false;
    }
    return true;
}

bool nr_lifecycle_is_available(nr_lifecycle s)
{
    return s == NR_LC_READY || s == NR_LC_IDLE;
}

/* The name of s for a message: "Ready", or "Invalid(<n>)" out of range. */
static const char *describe(nr_lifecycle s, char *buf, size_t len)
{
    if (in_range(s))
        return names[s];
    snprintf(buf, len, "Invalid(%d)", (int)s);
    return buf;
}

int nr_lifecycle_transition(nr_lifecycle *state, nr_lifecycle to, const char *resource_id,
                            nr_error *err)
{
    if (!state)
        return nr_error_set(err, NR_EINVAL, resource_id, "lifecycle transition: state is NULL");
    nr_lifecycle from = *state;
    if (!nr_lifecycle_can(from, to)) {
        char a[32], b[32];
        return nr_error_set(err, NR_ESTATE, resource_id, "invalid state transition: %s -> %s",
                            describe(from, a, sizeof(a)), describe(to, b, sizeof(b)));
    }
    *state = to;
    return NR_OK;
}
