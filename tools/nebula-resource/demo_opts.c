/*
 * demo_opts.c - the demo's options: its help text and the parsing of its
 * command line.
 */
#include "demo_opts.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

void nr_cli_demo_usage(FILE *out)
{
    fprintf(out, "Usage: nebula-resource demo [--threads N] [--seconds S] [--pool-size M] "
                 "[--db DIR]\n"
                 "                            [--port P] [--listen ADDR] [--no-http]\n"
                 "                            [--no-outage | --outage-at S --outage-for S]\n"
                 "\n"
                 "Runs N worker threads for S seconds. Each workflow step, for one of four\n"
                 "tenants, leases connections from three SQLite resources under one manager:\n"
                 "orders-db (at most M connections, shared), audit-log (depends on orders-db)\n"
                 "and tenant-cache (one pool per tenant, depends on orders-db). Now and then a\n"
                 "step leaves its transaction open (the pool rolls it back) or throws its\n"
                 "connection away (the pool replaces it). The manager keeps the pools ready\n"
                 "and healthy in the background and shuts them down in phases at the end;\n"
                 "the demo then checks that no committed order was lost.\n"
                 "\n"
                 "Partway through, a batch job outside the pools takes orders-db's write lock\n"
                 "and stalls. orders-db's health check tests writability, so it turns\n"
                 "unhealthy; audit-log and tenant-cache are degraded by it (a cascade);\n"
                 "it is quarantined, and when the lock is free it comes back through\n"
                 "half-open. Acquires refused and writes that found the database locked\n"
                 "meanwhile are counted as what the outage cost, not as errors; the summary\n"
                 "tells the outage step by step.\n"
                 "\n"
                 "While it runs, a live status page (pools, health, dependency graph) and\n"
                 "the endpoints /status /metrics /healthz /readyz are served on loopback;\n"
                 "the URL is printed. SIGINT (Ctrl-C) ends the work early.\n"
                 "\n"
                 "  --threads N    worker threads, 1..256 (default 8)\n"
                 "  --seconds S    how long to run, 1..3600 (default 10)\n"
                 "  --pool-size M  most orders-db connections at once, 1..64 (default 4)\n"
                 "  --db DIR       folder for the database files (default: a new temporary\n"
                 "                 folder, removed at the end); their tables are emptied first\n"
                 "  --port P       port of the status page, 0..65535 (default 0: a free one)\n"
                 "  --listen ADDR  address of the status page (default 127.0.0.1)\n"
                 "  --no-http      serve no status page\n"
                 "  --no-outage    no outage: orders-db's write lock is never taken\n"
                 "  --outage-at S  take the lock S seconds after the start, 0..3600 (default:\n"
                 "                 a fifth of the run, at least 1)\n"
                 "  --outage-for S hold it S seconds, 1..60 (default: 40%% of the run, 2\n"
                 "                 to 6 s); after the run's time the demo waits (at most\n"
                 "                 20 s) for orders-db to recover\n");
}

int demo_parse_opts(int argc, char **argv, demo_opts *o)
{
    o->threads = 8;
    o->seconds = 10;
    o->pool_size = 4;
    o->db = NULL;
    o->port = 0;
    o->listen = "127.0.0.1";
    o->http = true;
    o->outage = true;
    o->outage_at_ms = o->outage_for_ms = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            nr_cli_demo_usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--no-http")) {
            o->http = false;
            continue;
        }
        if (!strcmp(a, "--no-outage")) {
            o->outage = false;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "nebula-resource demo: unknown option or missing value: '%s'\n", a);
            return -1;
        }
        const char *v = argv[++i];
        bool ok;
        if (!strcmp(a, "--threads"))
            ok = nr_cli_parse_int("--threads", v, 1, 256, &o->threads);
        else if (!strcmp(a, "--seconds"))
            ok = nr_cli_parse_int("--seconds", v, 1, 3600, &o->seconds);
        else if (!strcmp(a, "--pool-size"))
            ok = nr_cli_parse_int("--pool-size", v, 1, 64, &o->pool_size);
        else if (!strcmp(a, "--port"))
            ok = nr_cli_parse_int("--port", v, 0, 65535, &o->port);
        else if (!strcmp(a, "--outage-at")) {
            ok = nr_cli_parse_int("--outage-at", v, 0, 3600, &o->outage_at_ms);
            o->outage_at_ms *= 1000;
        } else if (!strcmp(a, "--outage-for")) {
            ok = nr_cli_parse_int("--outage-for", v, 1, 60, &o->outage_for_ms);
            o->outage_for_ms *= 1000;
        } else if (!strcmp(a, "--listen"))
            o->listen = v;
        else if (!strcmp(a, "--db")) {
            o->db = v;
            ok = *v != '\0';
            if (!ok)
                fprintf(stderr, "nebula-resource demo: --db must not be empty\n");
        } else {
            fprintf(stderr, "nebula-resource demo: unknown option '%s'\n", a);
            ok = false;
        }
        if (!ok)
            return -1;
    }
    if (!o->outage && (o->outage_at_ms >= 0 || o->outage_for_ms >= 0)) {
        fprintf(stderr, "nebula-resource demo: --outage-at and --outage-for cannot be combined "
                        "with --no-outage\n");
        return -1;
    }
    return 0;
}
