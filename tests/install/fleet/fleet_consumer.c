/* fleet_consumer.c - the fleet library as installed, with no Redis: options
 * that break a rule are refused naming the field (NR_ECONFIG), a Redis that
 * cannot be reached refuses the create (NR_EUNAVAIL naming the budget), and
 * nothing is handed out on failure; the local budget type it hands out is the
 * core's, usable alone. Exits 0 when all of that holds. */
#include <nebula/fleet.h>
#include <stdio.h>
#include <string.h>

static int expect(const char *what, const nr_fleet_options *o, int code, const char *text)
{
    nr_fleet *f = NULL;
    nr_error err = {0};
    int rc = nr_fleet_create(&f, o, &err);
    if (rc == code && f == NULL && strstr(err.message, text))
        return 0;
    fprintf(stderr, "fleet consumer: %s: got %s (%s), want %s with \"%s\"\n", what, nr_err_name(rc),
            err.message, nr_err_name(code), text);
    nr_fleet_destroy(f, NULL);
    return 1;
}

int main(void)
{
    int bad = 0;
    nr_fleet_options no_name = NR_FLEET_OPTIONS(.budget = 10);
    bad |= expect("no resource", &no_name, NR_ECONFIG, "resource: required");
    nr_fleet_options port =
        NR_FLEET_OPTIONS(.resource = "orders-db", .budget = 10, .redis_port = 70000);
    bad |= expect("port", &port, NR_ECONFIG, "redis_port: must be between 1 and 65535");
    nr_fleet_options renew = NR_FLEET_OPTIONS(.resource = "orders-db", .budget = 10,
                                              .lease_ttl_ms = 2000, .renew_interval_ms = 1500);
    bad |= expect("renew", &renew, NR_ECONFIG, "renew_interval_ms: must be between 10 and 1000");
    nr_fleet_options mode =
        NR_FLEET_OPTIONS(.resource = "orders-db", .budget = 10, .on_redis_down = 7);
    bad |= expect("mode", &mode, NR_ECONFIG, "on_redis_down: must be fail_closed or fail_open");
    /* nothing listens on 127.0.0.1:1: the first contact must succeed */
    nr_fleet_options away =
        NR_FLEET_OPTIONS(.resource = "orders-db", .budget = 10, .redis_host = "127.0.0.1",
                         .redis_port = 1, .redis_timeout_ms = 200);
    bad |= expect("no Redis", &away, NR_EUNAVAIL, "fleet 'orders-db': Redis at 127.0.0.1");
    if (strcmp(nr_fleet_mode_name(NR_FLEET_FAIL_OPEN), "fail_open") != 0) {
        fprintf(stderr, "fleet consumer: nr_fleet_mode_name\n");
        bad = 1;
    }
    nr_budget *b = NULL;
    nr_budget_counts c = NR_BUDGET_COUNTS_INIT;
    if (nr_budget_create(&b, 3, NULL) != NR_OK || nr_budget_get_counts(b, &c) != NR_OK ||
        c.limit != 3 || nr_budget_destroy(b, NULL) != NR_OK) {
        fprintf(stderr, "fleet consumer: a local budget alone\n");
        bad = 1;
    }
    if (!bad)
        printf("nebula-resource-fleet: ok (options refused naming the field; no Redis: %s)\n",
               nr_err_name(NR_EUNAVAIL));
    return bad;
}
