/*
 * fake_type.h - an in-memory resource type for unit tests of the library's
 * own logic. It counts every callback, can be told to fail any of them, and
 * stamps each handle so that a double hand-out or a use after destroy is
 * caught.
 */
#ifndef NR_FAKE_TYPE_H
#define NR_FAKE_TYPE_H

#include <stdatomic.h>
#include <stdint.h>

#include "nebula/resource.h"

#define NR_FAKE_MAGIC    0xFA4EFA4E12345678ULL
#define NR_FAKE_SCRIPTED 64
#define NR_FAKE_LOG      256
#define NR_FAKE_STATE(s) ((int)(s) + 1)
#define NR_FAKE_DEAD     0xDEADDEADDEADDEADULL

typedef struct nr_fake_handle {
    uint64_t magic;      /* NR_FAKE_MAGIC while alive, NR_FAKE_DEAD after destroy */
    uint64_t serial;     /* 1-based creation number */
    int64_t weight;      /* the config's weight when it was created */
    atomic_int holders;  /* tests stamp +1 while they hold it */
    atomic_int dirty;    /* set by a test; recycle clears it */
    int credential_len;  /* length of the credential create() saw */
    char credential[64]; /* its first 63 bytes, NUL-terminated ("" when none) */
} nr_fake_handle;

/* Shared by every instance of one fake type (passed as type_ud). */
typedef struct nr_fake {
    atomic_long creates, create_calls, destroys, validates, recycles, health_checks;
    atomic_long live;            /* creates - destroys */
    atomic_long create_canceled; /* creates that gave up because their token was set */
    /* faults: every call fails while the flag is set; *_every fails every n-th call */
    atomic_int fail_create, fail_validate, fail_recycle;
    atomic_int create_fail_every;
    atomic_int health; /* nr_health_state the check reports */
    atomic_long create_delay_ns, destroy_delay_ns, health_delay_ns;
    atomic_int destroying_now, destroying_max; /* destroys running at once, and the peak */
    atomic_ullong health_serial;               /* serial of the instance the latest check is on (set
                                                  before on_call, so on_call can tell which one) */
    /* Scripted health, per instance: health_of[serial % NR_FAKE_SCRIPTED] is 0 to
     * report `health`, or NR_FAKE_STATE(state) to report state (nr_fake_script). */
    atomic_int health_of[NR_FAKE_SCRIPTED];
    /* The serials checked, in order (the first NR_FAKE_LOG of them). */
    atomic_ullong check_log[NR_FAKE_LOG];
    atomic_int check_log_n;
    atomic_long check_overlaps; /* checks that found the handle stamped as held */
    /* Called at the start of every callback with its name ("create",
     * "destroy", "validate", "recycle", "health"); set before use. */
    void (*on_call)(const char *what, void *arg);
    void *on_call_arg;
} nr_fake;

typedef struct nr_fake_config {
    char *label;
    int64_t weight;
    nr_secret *token;
} nr_fake_config;

extern const nr_config_schema nr_fake_config_schema;
extern const nr_resource_type nr_fake_type;

void nr_fake_init(nr_fake *f);
/* Make the checks of instance `serial` report state (until scripted again). */
void nr_fake_script(nr_fake *f, uint64_t serial, nr_health_state state);
/* Forget every per-instance script: all report `health` again. */
void nr_fake_script_clear(nr_fake *f);

#endif
