/*
 * test_http_ssrf.c - the address classifier and allow-list entries, by table
 * (no network).
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "nebula/alloc.h"

#include "http_internal.h"
#include "http_ssrf.h"

typedef struct class_case {
    const char *addr;
    nr__http_addr_class want;
} class_case;

static const class_case class_cases[] = {
    /* IPv4 */
    {"8.8.8.8", NR__HTTP_ADDR_PUBLIC},
    {"93.184.216.34", NR__HTTP_ADDR_PUBLIC},
    {"1.1.1.1", NR__HTTP_ADDR_PUBLIC},
    {"127.0.0.1", NR__HTTP_ADDR_LOOPBACK},
    {"127.255.255.254", NR__HTTP_ADDR_LOOPBACK},
    {"127.0.0.2", NR__HTTP_ADDR_LOOPBACK},
    {"10.0.0.1", NR__HTTP_ADDR_PRIVATE},
    {"10.255.255.255", NR__HTTP_ADDR_PRIVATE},
    {"172.16.0.1", NR__HTTP_ADDR_PRIVATE},
    {"172.31.255.255", NR__HTTP_ADDR_PRIVATE},
    {"172.15.255.255", NR__HTTP_ADDR_PUBLIC},
    {"172.32.0.0", NR__HTTP_ADDR_PUBLIC},
    {"192.168.1.1", NR__HTTP_ADDR_PRIVATE},
    {"192.169.0.1", NR__HTTP_ADDR_PUBLIC},
    {"169.254.0.1", NR__HTTP_ADDR_LINK_LOCAL},
    {"169.254.169.254", NR__HTTP_ADDR_METADATA},
    {"169.254.169.253", NR__HTTP_ADDR_LINK_LOCAL},
    {"100.100.100.200", NR__HTTP_ADDR_METADATA},
    {"168.63.129.16", NR__HTTP_ADDR_METADATA},
    {"100.64.0.1", NR__HTTP_ADDR_CGNAT},
    {"100.127.255.255", NR__HTTP_ADDR_CGNAT},
    {"100.63.255.255", NR__HTTP_ADDR_PUBLIC},
    {"100.128.0.0", NR__HTTP_ADDR_PUBLIC},
    {"0.0.0.0", NR__HTTP_ADDR_UNSPECIFIED},
    {"0.1.2.3", NR__HTTP_ADDR_UNSPECIFIED},
    {"224.0.0.1", NR__HTTP_ADDR_MULTICAST},
    {"239.255.255.250", NR__HTTP_ADDR_MULTICAST},
    {"255.255.255.255", NR__HTTP_ADDR_BROADCAST},
    {"240.0.0.1", NR__HTTP_ADDR_RESERVED},
    {"192.0.0.8", NR__HTTP_ADDR_RESERVED},
    /* IPv6 */
    {"2606:4700:4700::1111", NR__HTTP_ADDR_PUBLIC},
    {"2001:4860:4860::8888", NR__HTTP_ADDR_PUBLIC},
    {"::1", NR__HTTP_ADDR_LOOPBACK},
    {"::", NR__HTTP_ADDR_UNSPECIFIED},
    {"fc00::1", NR__HTTP_ADDR_PRIVATE},
    {"fd12:3456::1", NR__HTTP_ADDR_PRIVATE},
    {"fd00:ec2::254", NR__HTTP_ADDR_METADATA},
    {"fe80::1", NR__HTTP_ADDR_LINK_LOCAL},
    {"febf::1", NR__HTTP_ADDR_LINK_LOCAL},
    {"fec0::1", NR__HTTP_ADDR_PRIVATE},
    {"ff02::1", NR__HTTP_ADDR_MULTICAST},
    {"100::1", NR__HTTP_ADDR_RESERVED},
    /* IPv4-mapped, -compatible, NAT64 and 6to4 forms */
    {"::ffff:127.0.0.1", NR__HTTP_ADDR_LOOPBACK},
    {"::ffff:7f00:1", NR__HTTP_ADDR_LOOPBACK},
    {"::ffff:169.254.169.254", NR__HTTP_ADDR_METADATA},
    {"::ffff:10.1.2.3", NR__HTTP_ADDR_PRIVATE},
    {"::ffff:192.168.0.1", NR__HTTP_ADDR_PRIVATE},
    {"::ffff:0.0.0.0", NR__HTTP_ADDR_UNSPECIFIED},
    {"::ffff:100.64.1.1", NR__HTTP_ADDR_CGNAT},
    {"::ffff:8.8.8.8", NR__HTTP_ADDR_PUBLIC},
    {"::127.0.0.1", NR__HTTP_ADDR_LOOPBACK},
    {"::8.8.8.8", NR__HTTP_ADDR_PUBLIC},
    {"64:ff9b::a9fe:a9fe", NR__HTTP_ADDR_METADATA},
    {"64:ff9b::7f00:1", NR__HTTP_ADDR_LOOPBACK},
    {"64:ff9b::808:808", NR__HTTP_ADDR_PUBLIC},
    {"64:ff9b:1::1", NR__HTTP_ADDR_PRIVATE},
    {"2002:7f00:1::1", NR__HTTP_ADDR_LOOPBACK},
    {"2002:a9fe:a9fe::", NR__HTTP_ADDR_METADATA},
    {"2002:808:808::1", NR__HTTP_ADDR_PUBLIC},
};

static void test_classify_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(class_cases) / sizeof(class_cases[0]); i++) {
        nr__http_addr a;
        if (!nr__http_addr_parse(class_cases[i].addr, &a))
            fail_msg("%s does not parse", class_cases[i].addr);
        nr__http_addr_class got = nr__http_addr_classify(&a);
        if (got != class_cases[i].want)
            fail_msg("%s: got %s, want %s", class_cases[i].addr, nr__http_addr_class_name(got),
                     nr__http_addr_class_name(class_cases[i].want));
    }
}

static void test_classify_bad_input(void **state)
{
    (void)state;
    nr__http_addr a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(nr__http_addr_classify(NULL), NR__HTTP_ADDR_RESERVED);
    assert_int_equal(nr__http_addr_classify(&a), NR__HTTP_ADDR_RESERVED); /* family 0 */
    assert_false(nr__http_addr_parse("localhost", &a));
    assert_false(nr__http_addr_parse("2130706433", &a)); /* inet_pton takes dotted quads only */
    assert_false(nr__http_addr_parse("", &a));
    assert_false(nr__http_addr_parse(NULL, &a));
    assert_string_equal(nr__http_addr_class_name(NR__HTTP_ADDR_METADATA),
                        "link-local/cloud-metadata");
    char buf[64];
    assert_true(nr__http_addr_parse("::ffff:127.0.0.1", &a));
    nr__http_addr u = nr__http_addr_unmap(&a);
    assert_int_equal(u.family, 4);
    nr__http_addr_format(&u, buf, sizeof(buf));
    assert_string_equal(buf, "127.0.0.1");
}

typedef struct match_case {
    const char *list;
    const char *addr;
    int port;
    bool want;
} match_case;

static const match_case match_cases[] = {
    {"127.0.0.1/32:8080", "127.0.0.1", 8080, true},
    {"127.0.0.1/32:8080", "127.0.0.1", 8081, false},
    {"127.0.0.1/32:8080", "127.0.0.2", 8080, false},
    {"127.0.0.1/32:8080", "::ffff:127.0.0.1", 8080, true}, /* mapped form of an allowed one */
    {"127.0.0.1:8080", "127.0.0.1", 8080, true},           /* no /len: the address itself */
    {"127.0.0.0/8", "127.9.9.9", 1, true},
    {"10.0.0.0/8, 192.168.0.0/16", "192.168.4.4", 443, true},
    {"10.0.0.0/8 192.168.0.0/16", "172.16.0.1", 443, false},
    {"[::1]/128:8080", "::1", 8080, true},
    {"[::1]:8080", "::1", 8081, false},
    {"::1/128", "::1", 9, true},
    {"fd00::/8", "fd12::1", 80, true},
    {"fd00::/8", "fe80::1", 80, false},
    {"::ffff:127.0.0.0/104", "127.1.2.3", 80, true},
    {"0.0.0.0/0", "169.254.169.254", 80, true},
    {"0.0.0.0/0", "::1", 80, false},
    {"", "127.0.0.1", 80, false},
};

static void test_allow_match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const match_case *m = &match_cases[i];
        nr__http_cidr *l = NULL;
        size_t n = 0;
        char why[160];
        if (nr__http_cidr_parse_list(m->list, &l, &n, why, sizeof(why)) != 0)
            fail_msg("'%s' does not parse: %s", m->list, why);
        nr__http_addr a;
        assert_true(nr__http_addr_parse(m->addr, &a));
        bool got = nr__http_cidr_match(l, n, &a, m->port);
        nr_free(l);
        if (got != m->want)
            fail_msg("'%s' vs %s port %d: got %d", m->list, m->addr, m->port, got);
    }
}

static void test_allow_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"127.0.0.1/33", "prefix length"}, {"127.0.0.1/32:0", "port"},
        {"127.0.0.1/32:65536", "port"},    {"127.0.0.1/24", "host bits"},
        {"localhost", "not a numeric IP"}, {"[::1/128", "missing ']'"},
        {"::1/129", "prefix length"},      {"1.2.3.4/32:80x", "port"},
        {"1.2.3.4x", "not a numeric IP"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nr__http_cidr *l = NULL;
        size_t n = 0;
        char why[160];
        int rc = nr__http_cidr_parse_list(bad[i].text, &l, &n, why, sizeof(why));
        if (rc != -1 || !strstr(why, bad[i].needle))
            fail_msg("'%s': rc %d, why '%s' (want '%s')", bad[i].text, rc, why, bad[i].needle);
        assert_null(l);
    }
}

static void test_status_and_urls(void **state)
{
    (void)state;
    nr__http_status_range *r = NULL;
    size_t n = 0;
    char why[160];
    assert_int_equal(nr__http_status_parse("200-299, 304 418", &r, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 3);
    assert_true(nr__http_status_match(r, n, 200));
    assert_true(nr__http_status_match(r, n, 299));
    assert_true(nr__http_status_match(r, n, 304));
    assert_true(nr__http_status_match(r, n, 418));
    assert_false(nr__http_status_match(r, n, 300));
    assert_false(nr__http_status_match(r, n, 503));
    nr_free(r);
    assert_int_equal(nr__http_status_parse("99", &r, &n, why, sizeof(why)), -1);
    assert_int_equal(nr__http_status_parse("300-200", &r, &n, why, sizeof(why)), -1);
    assert_int_equal(nr__http_status_parse("2xx", &r, &n, why, sizeof(why)), -1);
    assert_int_equal(nr__http_status_parse("", &r, &n, why, sizeof(why)), -1);

    char shown[96];
    nr__http_shown_url("https://user:pw@example.com:8443/a/b?token=abc#frag", shown, sizeof(shown));
    assert_string_equal(shown, "https://example.com:8443/a/b");
    nr__http_shown_url("/status/200?x=1", shown, sizeof(shown));
    assert_string_equal(shown, "/status/200");

    assert_true(nr__http_url_check("http://127.0.0.1:8080/x", why, sizeof(why)));
    assert_true(nr__http_url_check("HTTPS://example.com", why, sizeof(why)));
    assert_false(nr__http_url_check("file:///etc/passwd", why, sizeof(why)));
    assert_non_null(strstr(why, "scheme 'file' is not allowed"));
    assert_false(nr__http_url_check("gopher://127.0.0.1:70/", why, sizeof(why)));
    assert_false(nr__http_url_check("example.com/x", why, sizeof(why)));
    assert_false(nr__http_url_check("http://", why, sizeof(why)));
    assert_true(nr__http_resolve_check("meta.test:80:169.254.169.254, v6.test:443:[::1]", why,
                                       sizeof(why)));
    assert_false(nr__http_resolve_check("meta.test:80", why, sizeof(why)));
    assert_false(nr__http_resolve_check("meta.test:x:1.2.3.4", why, sizeof(why)));
    assert_false(nr__http_resolve_check("meta.test:80:not-an-ip", why, sizeof(why)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_table),    cmocka_unit_test(test_classify_bad_input),
        cmocka_unit_test(test_allow_match_table), cmocka_unit_test(test_allow_parse_errors),
        cmocka_unit_test(test_status_and_urls),
    };
    return cmocka_run_group_tests_name("http_ssrf", tests, NULL, NULL);
}
