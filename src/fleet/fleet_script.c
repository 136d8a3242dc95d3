/*
 * fleet_script.c - the one Lua script every change of a fleet budget is,
 * and the reading of its reply.
 *
 * KEYS: budget, leases, procs. ARGV: process (escaped), want, ttl_ms,
 * min_per_process, initial budget (0: none), leave (1: remove the process),
 * believed (the leases the process believes it holds), known (1: it
 * registered before, so its entry in procs should be there).
 * In one atomic run, with now = Redis TIME in ms:
 *   1. the budget is read (set to the initial one when missing and given);
 *      anything but a decimal integer is an error naming the key
 *   2. expired members of leases and procs are removed (score <= now)
 *   3. the process is registered until now + ttl (or removed: leave)
 *   4. its leases beyond `want` are removed, highest slots first; the rest
 *      renewed until now + ttl
 *   5. lost: fewer of its leases are left than min(want, believed), or a
 *      known process is no longer registered (Redis lost its keys, or they
 *      expired while it was away). Then slots are added up to
 *      min(want, believed) only, while the fleet's leases stay below the
 *      budget (they stand for places the process holds: no reservation
 *      holds them back), and nothing beyond
 *   6. not lost, short of `want`: slots are added (the lowest free numbers,
 *      so the same ids come back after a loss) while the fleet's leases plus
 *      the places reserved for other live processes under min_per_process
 *      stay below the budget
 *   7. the cap: when the fleet's leases plus the places reserved for every
 *      live process under min_per_process exceed the budget (a process is
 *      starved of its minimum), a process holding more than its share,
 *      max(min_per_process, budget / live processes), is answered that
 *      share as its cap
 * Reply: {leases of the process, leases of the fleet, budget, processes,
 * lost (0/1), cap (0: none)}.
 * Errors it raises start with "NRFLEET" and name the key.
 */
#define _POSIX_C_SOURCE 200809L
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_internal.h"

static const char SCRIPT[] =
    "local function bad(k, why) return redis.error_reply('NRFLEET malformed value at key ' .. k "
    ".. ': ' .. why) end\n"
    /* Redis before 5 needs effects replication for writes after TIME */
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local me, want, ttl, min = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), "
    "tonumber(ARGV[4])\n"
    "local believed, known = tonumber(ARGV[7]), ARGV[8] == '1'\n"
    "local ok, raw = pcall(redis.call, 'GET', KEYS[1])\n"
    "if not ok then return bad(KEYS[1], 'not a string') end\n"
    "if not raw then\n"
    "  if ARGV[5] == '0' then return redis.error_reply('NRFLEET no budget at key ' .. KEYS[1]) "
    "end\n"
    "  redis.call('SET', KEYS[1], ARGV[5]); raw = ARGV[5]\n"
    "end\n"
    "if not string.match(raw, '^%d+$') or string.len(raw) > 10 then return bad(KEYS[1], "
    "'not a decimal integer') end\n"
    "local budget = tonumber(raw)\n"
    "if budget > 4294967295 then return bad(KEYS[1], 'too large') end\n"
    "if not pcall(redis.call, 'ZREMRANGEBYSCORE', KEYS[2], '-inf', now) then return bad(KEYS[2], "
    "'not a sorted set') end\n"
    "if not pcall(redis.call, 'ZREMRANGEBYSCORE', KEYS[3], '-inf', now) then return bad(KEYS[3], "
    "'not a sorted set') end\n"
    "local registered = redis.call('ZSCORE', KEYS[3], me)\n"
    "if ARGV[6] == '1' then redis.call('ZREM', KEYS[3], me) else redis.call('ZADD', KEYS[3], now "
    "+ ttl, me) end\n"
    "local members = redis.call('ZRANGE', KEYS[2], 0, -1)\n"
    "local per, slots, total = {}, {}, #members\n"
    "for _, m in ipairs(members) do\n"
    "  local p, s = string.match(m, '^(.+)/(%d+)$')\n"
    "  if not p then return bad(KEYS[2], 'a member is not PROCESS/SLOT') end\n"
    "  per[p] = (per[p] or 0) + 1\n"
    "  if p == me then slots[#slots + 1] = tonumber(s) end\n"
    "end\n"
    "table.sort(slots)\n"
    "while #slots > want do\n"
    "  redis.call('ZREM', KEYS[2], me .. '/' .. slots[#slots]); slots[#slots] = nil; total = "
    "total - 1\n"
    "end\n"
    "local used = {}\n"
    "for _, s in ipairs(slots) do redis.call('ZADD', KEYS[2], now + ttl, me .. '/' .. s); used[s] "
    "= true end\n"
    "local have, keep, s = #slots, math.min(want, believed), 0\n"
    "local lost = 0\n"
    "if have < keep or (known and not registered and ARGV[6] ~= '1') then lost = 1 end\n"
    "local function add()\n"
    "  while used[s] do s = s + 1 end\n"
    "  redis.call('ZADD', KEYS[2], now + ttl, me .. '/' .. s); used[s] = true\n"
    "  have = have + 1; total = total + 1\n"
    "end\n"
    "while have < keep and total < budget do add() end\n"
    "local live = redis.call('ZRANGE', KEYS[3], 0, -1)\n"
    "if lost == 0 and have < want then\n"
    "  local reserve = 0\n"
    "  if min > 0 then\n"
    "    for _, p in ipairs(live) do\n"
    "      if p ~= me and (per[p] or 0) < min then reserve = reserve + min - (per[p] or 0) end\n"
    "    end\n"
    "  end\n"
    "  while have < want and total + reserve < budget do add() end\n"
    "end\n"
    "per[me] = have\n"
    "local cap = 0\n"
    "if min > 0 and ARGV[6] ~= '1' then\n"
    "  local need = 0\n"
    "  for _, p in ipairs(live) do\n"
    "    if (per[p] or 0) < min then need = need + min - (per[p] or 0) end\n"
    "  end\n"
    "  local share = math.max(min, math.floor(budget / #live))\n"
    "  if total + need > budget and have > share then cap = share end\n"
    "end\n"
    "return {have, total, budget, #live, lost, cap}\n";

/* The reply's integer i, into *v. */
static int int_at(const redisReply *r, size_t i, uint32_t *v)
{
    if (r->elements <= i || r->element[i]->type != REDIS_REPLY_INTEGER ||
        r->element[i]->integer < 0 || r->element[i]->integer > (long long)UINT32_MAX)
        return -1;
    *v = (uint32_t)r->element[i]->integer;
    return 0;
}

/* Run a command; NULL (conn closed, err set) when Redis failed. */
static redisReply *command(const nr__fleet_cfg *cfg, nr__fleet_conn *conn, int argc,
                           const char **argv, const size_t *lens, nr_error *err)
{
    if (!conn->c && nr__fleet_connect(cfg, conn, err) != NR_OK)
        return NULL;
    nr__fleet_pipe g;
    nr__fleet_pipe_block(&g);
    redisReply *r = redisCommandArgv(conn->c, argc, argv, lens);
    nr__fleet_pipe_restore(&g);
    if (!r) {
        nr_error_set(err, NR_EUNAVAIL, cfg->resource, "fleet '%s': Redis: %s", cfg->resource,
                     conn->c->errstr[0] ? conn->c->errstr : "connection lost");
        nr__fleet_disconnect(conn);
    }
    return r;
}

/* SCRIPT LOAD on this connection: conn->sha. NR_EUNAVAIL. */
static int load(const nr__fleet_cfg *cfg, nr__fleet_conn *conn, nr_error *err)
{
    const char *argv[] = {"SCRIPT", "LOAD", SCRIPT};
    size_t lens[] = {6, 4, sizeof(SCRIPT) - 1};
    redisReply *r = command(cfg, conn, 3, argv, lens, err);
    if (!r)
        return NR_EUNAVAIL;
    int ok = r->type == REDIS_REPLY_STRING && r->len < sizeof(conn->sha);
    if (ok)
        memcpy(conn->sha, r->str, r->len + 1);
    else
        nr_error_set(err, NR_EUNAVAIL, cfg->resource, "fleet '%s': SCRIPT LOAD: %.120s",
                     cfg->resource, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return ok ? NR_OK : NR_EUNAVAIL;
}

int nr__fleet_sync(const nr__fleet_cfg *cfg, nr__fleet_conn *conn, uint32_t want, uint32_t believed,
                   int flags, nr__fleet_reply *out, nr_error *err)
{
    char swant[16], sttl[24], smin[16], sinit[16], sbel[16];
    snprintf(swant, sizeof(swant), "%u", want);
    snprintf(sbel, sizeof(sbel), "%u", believed);
    snprintf(sttl, sizeof(sttl), "%lld", (long long)cfg->ttl_ms);
    snprintf(smin, sizeof(smin), "%u", cfg->min_per_process);
    snprintf(sinit, sizeof(sinit), "%u", cfg->init_budget);
    if (!conn->c && nr__fleet_connect(cfg, conn, err) != NR_OK)
        return NR_EUNAVAIL;
    if (!conn->sha[0] && load(cfg, conn, err) != NR_OK)
        return NR_EUNAVAIL;
    const char *argv[] = {"EVALSHA",
                          conn->sha,
                          "3",
                          cfg->key_budget,
                          cfg->key_leases,
                          cfg->key_procs,
                          cfg->proc_esc,
                          swant,
                          sttl,
                          smin,
                          sinit,
                          (flags & NR__FLEET_LEAVE) ? "1" : "0",
                          sbel,
                          (flags & NR__FLEET_KNOWN) ? "1" : "0"};
    enum { ARGC = sizeof(argv) / sizeof(argv[0]) };
    size_t lens[ARGC];
    for (size_t i = 0; i < ARGC; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = command(cfg, conn, ARGC, argv, lens, err);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        /* the script cache was emptied (a restart, SCRIPT FLUSH): load it again */
        freeReplyObject(r);
        r = NULL;
        conn->sha[0] = '\0';
        if (load(cfg, conn, err) == NR_OK) {
            argv[1] = conn->sha;
            lens[1] = strlen(conn->sha);
            r = command(cfg, conn, ARGC, argv, lens, err);
        }
    }
    if (!r)
        return NR_EUNAVAIL;
    int rc = NR_OK;
    if (r->type == REDIS_REPLY_ERROR)
        rc = nr_error_set(err, NR_EUNAVAIL, cfg->resource, "fleet '%s': %s%.200s", cfg->resource,
                          strncmp(r->str, "NRFLEET ", 8) == 0 ? "" : "Redis: ",
                          strncmp(r->str, "NRFLEET ", 8) == 0 ? r->str + 8 : r->str);
    else if (r->type != REDIS_REPLY_ARRAY || int_at(r, 0, &out->leases) ||
             int_at(r, 1, &out->total) || int_at(r, 2, &out->budget) ||
             int_at(r, 3, &out->processes) || int_at(r, 4, &out->lost) || int_at(r, 5, &out->cap))
        rc = nr_error_set(err, NR_EUNAVAIL, cfg->resource,
                          "fleet '%s': the script's reply is not 6 integers", cfg->resource);
    freeReplyObject(r);
    return rc;
}

int nr__fleet_write_budget(const nr__fleet_cfg *cfg, nr__fleet_conn *conn, uint32_t budget,
                           nr_error *err)
{
    char sb[16];
    snprintf(sb, sizeof(sb), "%u", budget);
    const char *argv[] = {"SET", cfg->key_budget, sb};
    size_t lens[] = {3, strlen(cfg->key_budget), strlen(sb)};
    redisReply *r = command(cfg, conn, 3, argv, lens, err);
    if (!r)
        return NR_EUNAVAIL;
    int rc = r->type == REDIS_REPLY_STATUS
                 ? NR_OK
                 : nr_error_set(err, NR_EUNAVAIL, cfg->resource, "fleet '%s': SET %s: %.120s",
                                cfg->resource, cfg->key_budget,
                                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return rc;
}
