/*
 * main.c - nebula-resource: command dispatch, help and version.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nebula/resource.h"

static const char usage_text[] =
    "Usage: nebula-resource COMMAND [OPTIONS]\n"
    "       nebula-resource --help | --version | help [COMMAND]\n"
    "\n"
    "Commands:\n"
    "  check CONFIG   validate a config file and report every problem in it\n"
    "  run CONFIG     start the resources of a config file and serve their status,\n"
    "                 health, readiness and metrics over HTTP until SIGINT/SIGTERM\n"
    "  bench CONFIG   load-test one resource of a config file: acquire/release\n"
    "                 throughput and acquire latency percentiles\n"
    "  demo           run workflow-like work through SQLite pools, with a live\n"
    "                 status page, a progress line and a summary table\n"
    "  drivers        list the drivers built into this program\n"
    "  help COMMAND   the options of a command (also: COMMAND --help)\n"
    "\n"
    "Exit status: 0 success, 1 failure (invalid config, failed start, ...),\n"
    "2 usage error. The config file format is in docs/cli.md and nebula-resource(1).\n";

static const char check_text[] =
    "Usage: nebula-resource check CONFIG [--print] [--no-credentials]\n"
    "\n"
    "Reads the JSON config file CONFIG and checks every rule: JSON syntax, known\n"
    "keys, types and ranges of the manager, http, shutdown and credentials\n"
    "sections, each resource's id, driver, driver config (the driver's own\n"
    "schema), pool config, scope and partition, unique ids, dependencies that\n"
    "exist and form no cycle, credential refs that are defined, environment\n"
    "variables that are set and secret files that can be read. Every problem is\n"
    "reported, one per line:\n"
    "\n"
    "    CONFIG:LINE:COLUMN: PATH: RULE (got VALUE)\n"
    "\n"
    "then a summary line. Secret values are never shown.\n"
    "\n"
    "  --print            when valid, also print the whole config as understood,\n"
    "                     defaults included, secrets redacted\n"
    "  --no-credentials   do not check that each credential's environment variable\n"
    "                     is set and its file readable (for CI, where the secrets\n"
    "                     are not present); every other rule is still checked, and\n"
    "                     a valid file's summary line says they were not\n"
    "\n"
    "Exit status: 0 valid, 1 invalid (or unreadable), 2 usage error.\n";

static const char run_text[] =
    "Usage: nebula-resource run CONFIG [--port N] [--listen ADDR]\n"
    "\n"
    "Checks CONFIG (as 'check' does; any problem ends the program with status 1),\n"
    "creates a manager with an event bus and a metrics registry, starts the\n"
    "HTTP server, then starts the resources in dependency order, one line each.\n"
    "Serves until SIGINT or SIGTERM:\n"
    "\n"
    "  /         status page: pools, health and the dependency graph, live\n"
    "  /status   the same as JSON (resources, pool statistics, graph edges,\n"
    "            recent events)\n"
    "  /metrics  Prometheus text format 0.0.4\n"
    "  /healthz  200 while the process lives\n"
    "  /readyz   200 when every resource is running and healthy, else 503 and why\n"
    "\n"
    "On SIGINT or SIGTERM it shuts down in phases, a line each: lame duck\n"
    "(/readyz answers 503 for shutdown.grace_ms), drain (new acquires refused,\n"
    "leases waited for), cleanup (instances closed, dependents first),\n"
    "terminate (what is still out is named). A second signal forces the exit at\n"
    "once with status 128 + the signal number.\n"
    "\n"
    "  --port N       port to listen on, 0..65535 (default: http.port of the config,\n"
    "                 9464; 0 = pick a free one, printed)\n"
    "  --listen ADDR  address to listen on (default: http.listen, 127.0.0.1)\n"
    "\n"
    "Exit status: 0 after a completed graceful shutdown, 1 on a failure (invalid\n"
    "config, a resource that failed to start, a phase that ran out of time),\n"
    "2 usage error, 128 + N when forced by a second signal N.\n";

static const char bench_text[] =
    "Usage: nebula-resource bench CONFIG --resource ID [--threads N] [--seconds S]\n"
    "                             [--hold-us H] [--reload-every MS]\n"
    "\n"
    "Starts the resources of CONFIG (as 'run' does, without the HTTP server), then\n"
    "N threads acquire and release resource ID as fast as they can for S seconds,\n"
    "holding each lease H microseconds. Each acquire waits as the resource's\n"
    "pool.acquire_timeout_ms says (0: never wait). Prints the throughput, the\n"
    "latency of the acquires that succeeded (p50, p99, p99.9, max), the failed\n"
    "ones by code with their own latency (how long each waited to be refused),\n"
    "and the pool's statistics. A tenant-partitioned resource is acquired as\n"
    "tenant \"bench\".\n"
    "\n"
    "SIGHUP reloads CONFIG while the threads run, as it does for 'run' (the same\n"
    "report, then the acquires so far); the results add the reloads up by kind\n"
    "and count the acquires after the last one. SIGINT or SIGTERM ends it early.\n"
    "\n"
    "  --resource ID  the resource to load (required)\n"
    "  --threads N    threads, 1..1024 (default 4)\n"
    "  --seconds S    duration, 1..3600 (default 5)\n"
    "  --hold-us H    how long each lease is held, 0..10000000 us (default 0)\n"
    "  --reload-every MS\n"
    "                 also reload CONFIG every MS ms, 1..3600000 (default: only\n"
    "                 on SIGHUP)\n"
    "\n"
    "Exit status: 0 when every acquire succeeded, 1 otherwise, 2 usage error.\n";

static const char drivers_text[] = "Usage: nebula-resource drivers\n"
                                   "\n"
                                   "Lists the drivers built into this program, one per line,\n"
                                   "with the keys their \"config\" object takes.\n";

bool nr_cli_help(const char *command, FILE *out)
{
    if (!command) {
        fputs(usage_text, out);
        return true;
    }
    if (!strcmp(command, "check"))
        fputs(check_text, out);
    else if (!strcmp(command, "run"))
        fputs(run_text, out);
    else if (!strcmp(command, "bench"))
        fputs(bench_text, out);
    else if (!strcmp(command, "drivers"))
        fputs(drivers_text, out);
    else if (!strcmp(command, "demo"))
        nr_cli_demo_usage(out);
    else
        return false;
    return true;
}

bool nr_cli_parse_int(const char *name, const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || errno == ERANGE || v < min || v > max) {
        fprintf(stderr,
                "nebula-resource: %s must be a whole number between %lld and %lld (got '%s')\n",
                name, (long long)min, (long long)max, text ? text : "");
        return false;
    }
    *out = v;
    return true;
}

void cli_fmt_ns(char *buf, size_t n, int64_t ns)
{
    if (ns < NR_NS_PER_US)
        snprintf(buf, n, "%lld ns", (long long)ns);
    else if (ns < NR_NS_PER_MS)
        snprintf(buf, n, "%.1f us", (double)ns / 1e3);
    else if (ns < 10 * NR_NS_PER_S)
        snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, n, "%.2f s", (double)ns / 1e9);
}

static int cmd_drivers(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
            fputs(drivers_text, stdout);
            return 0;
        }
        fprintf(stderr, "nebula-resource drivers: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    size_t n;
    const nr_config_driver *d = cli_drivers(&n);
    for (size_t i = 0; i < n; i++) {
        if (!d[i].type)
            continue;
        const nr_config_schema *s = d[i].type->config_schema;
        printf("%-16s config keys:", d[i].name);
        for (size_t k = 0; k < s->nfields; k++)
            printf(" %s", s->fields[k].name);
        printf("\n");
    }
    return 0;
}

static void version(void)
{
    char list[256];
    cli_driver_list(list, sizeof(list));
    printf("nebula-resource %s\ndrivers: %s\n", nr_version(), list);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3)
            return nr_cli_help(NULL, stdout) ? 0 : 1;
        if (nr_cli_help(argv[2], stdout))
            return 0;
        fprintf(stderr, "nebula-resource: no help for unknown command '%s'\n\n", argv[2]);
        fputs(usage_text, stderr);
        return 2;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        version();
        return 0;
    }
    if (!strcmp(cmd, "demo"))
        return nr_cli_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "check"))
        return nr_cli_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "run"))
        return nr_cli_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return nr_cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "drivers"))
        return cmd_drivers(argc - 1, argv + 1);
    fprintf(stderr, "nebula-resource: unknown command '%s'\n\n", cmd);
    fputs(usage_text, stderr);
    return 2;
}
