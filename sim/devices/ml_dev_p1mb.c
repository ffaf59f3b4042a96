#include "ml_dev_p1mb.h"

#include <strings.h>

#include "err.h"

static struct p1mb_app p1mb_app;
static struct p1mb_settings p1mb_set;
static bool p1mb_running;

static void p1mb_main(void)
{
    p1mb_app_run(&p1mb_app, &p1mb_set);
}

int ml_dev_p1mb_start(const struct p1mb_settings *set, const struct sim_config *cfg)
{
    if (p1mb_running) {
        return ML_EBUSY;
    }
    p1mb_set = *set;
    int rc = sim_start(cfg, p1mb_main);
    p1mb_running = rc == 0;
    return rc;
}

void ml_dev_p1mb_stop(void)
{
    if (p1mb_running) {
        sim_stop();
        p1mb_running = false;
    }
}

const struct p1mb_app *ml_dev_p1mb_app(void)
{
    return &p1mb_app;
}

struct p1mb_settings *ml_dev_p1mb_settings(void)
{
    return &p1mb_set;
}

int ml_dev_p1mb_variant_parse(const char *name, enum p1mb_variant *out)
{
    for (int v = 0; v < P1MB_VARIANT_COUNT; v++) {
        if (strcasecmp(name, p1mb_variant_name((enum p1mb_variant)v)) == 0) {
            *out = (enum p1mb_variant)v;
            return ML_OK;
        }
    }
    return ML_EINVAL;
}
