/* admin_consumer.c - the admin library as installed: a config file loaded
 * into a manager, the admin server started on a free port and stopped. */
#define _DEFAULT_SOURCE /* mkstemp */
#include <nebula/admin.h>
#include <nebula/config_file.h>
#include <nebula/sqlite.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    char path[] = "/tmp/nr-admin-consumer.XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "{\"http\": {\"port\": 0}, \"resources\": [{\"id\": \"db\", \"driver\": "
                        "\"sqlite\", \"config\": {\"path\": \":memory:\"}}]}";
    if (fd < 0 || write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1))
        return 1;
    close(fd);
    static const nr_config_driver drivers[] = {{.name = "sqlite", .type = &nr_sqlite_type}};
    nr_config_load_options lo = NR_CONFIG_LOAD_OPTIONS_INIT;
    nr_config_load_options_default(&lo);
    lo.drivers = drivers;
    lo.ndrivers = 1;
    nr_config_file *cf = NULL;
    nr_manager *m = NULL;
    nr_admin *a = NULL;
    nr_error err = {0};
    nr_manager_options mo = NR_MANAGER_OPTIONS_INIT;
    nr_admin_options ao = NR_ADMIN_OPTIONS_INIT;
    int ok = nr_config_file_load(&cf, path, &lo, &err) == NR_OK;
    unlink(path);
    if (ok) {
        nr_config_file_manager_options(cf, &mo);
        nr_admin_options_default(&ao);
        nr_config_file_admin_options(cf, &ao);
        ok = nr_manager_create(&m, &mo, &err) == NR_OK &&
             nr_manager_load_config(m, cf, &err) == NR_OK &&
             nr_manager_start(m, nr_deadline_in_ms(5000), &err) == NR_OK &&
             nr_admin_start(&a, m, &ao, &err) == NR_OK && nr_admin_port(a) > 0;
    }
    nr_admin_stop(a);
    nr_manager_destroy(m, NULL);
    nr_config_file_free(cf);
    printf("nebula-resource-admin: %s\n", ok ? "ok" : err.message);
    return ok ? 0 : 1;
}
