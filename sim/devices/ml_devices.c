#include "ml_devices.h"

#include <string.h>

#include "err.h"

static struct sc_app sc_app;
static struct sc_settings sc_set;
static bool sc_running;

static void sc_main(void)
{
    sc_app_run(&sc_app, &sc_set);
}

int ml_dev_sc_start(const struct sc_settings *set, const struct sim_config *cfg)
{
    if (sc_running) {
        return ML_EBUSY;
    }
    sc_set = *set;
    int rc = sim_start(cfg, sc_main);
    sc_running = rc == 0;
    return rc;
}

void ml_dev_sc_stop(void)
{
    if (sc_running) {
        sim_stop();
        sc_running = false;
    }
}

const struct sc_app *ml_dev_sc_app(void)
{
    return &sc_app;
}

struct sc_settings *ml_dev_sc_settings(void)
{
    return &sc_set;
}
