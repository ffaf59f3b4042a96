/*
 * sim_core.c: the firmware thread, virtual/real time, idle detection, and the
 * poll loop that serves fds (ptys, sockets) while virtual time stands still.
 */
#define _GNU_SOURCE
#include "sim_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

#define SIM_POLL_MAX 64

/* Busy-poll: the default bound (sim_config.busy_poll_us == 0), the ceiling a
 * config may ask for, and the window below which polling is not worth it. */
#define SIM_BUSY_POLL_DEFAULT_US    50u
#define SIM_BUSY_POLL_CEIL_US       1000u
#define SIM_BUSY_POLL_MIN_US        4u
/* A sched_yield() that returns sooner than this ran nobody else. */
#define SIM_BUSY_POLL_YIELD_IDLE_US 3u
/* A window that ends this much later than planned was preempted. */
#define SIM_BUSY_POLL_PREEMPTED_US  20u

struct sim_pollent {
    int fd;
    sim_poll_fn cb;
    void *ctx;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool running;  /* the firmware thread exists */
    bool shutdown; /* host asked the thread to end */
    bool stop_req; /* hal_sys_should_stop() */
    sim_app_main_fn app;
    struct sim_config cfg;
    char serial[24];
    char password[9];
    char flash_file[512];

    uint64_t vnow_us;     /* virtual clock */
    struct timespec t0;   /* real clock origin */
    int64_t utc_offset_s; /* UTC = offset + now */

    bool fw_idle;            /* loop is waiting in hal_time_wait_until() */
    uint64_t fw_deadline_us; /* its deadline while idle */
    bool wake_pending;       /* an event was posted and the loop has not woken yet */
    int wake_pipe[2];
    uint32_t boot_count;

    struct sim_pollent polls[SIM_POLL_MAX];
    size_t npolls;

    /* Adaptive busy-poll (real time only; firmware thread only, no lock). */
    uint32_t bp_max_us; /* configured bound, 0: off */
    uint32_t bp_cur_us; /* current window, 0 .. bp_max_us */
    bool bp_armed;      /* the last pass served a socket or pty */
    bool bp_read_ahead; /* the last window ended by reading ahead */
    struct sim_busy_poll_stats bp;
} S = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .wake_pipe = {-1, -1},
};

/* ------------------------------------------------------------------------- */
/* Lock, wake, registry                                                      */
/* ------------------------------------------------------------------------- */

void sim_lock(void)
{
    pthread_mutex_lock(&S.lock);
}

void sim_unlock(void)
{
    pthread_mutex_unlock(&S.lock);
}

void sim_wake_locked(void)
{
    if (!S.wake_pending) {
        S.wake_pending = true;
        if (S.wake_pipe[1] >= 0) {
            ssize_t n = write(S.wake_pipe[1], "w", 1);
            (void)n; /* a full pipe already wakes the loop */
        }
    }
}

void sim_wake(void)
{
    sim_lock();
    sim_wake_locked();
    sim_unlock();
}

static uint64_t real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t d = (int64_t)(ts.tv_sec - S.t0.tv_sec) * 1000000 + (ts.tv_nsec - S.t0.tv_nsec) / 1000;
    return d < 0 ? 0 : (uint64_t)d;
}

uint64_t sim_time_us(void)
{
    if (S.cfg.time_mode == SIM_TIME_REAL) {
        return real_now_us();
    }
    return __atomic_load_n(&S.vnow_us, __ATOMIC_SEQ_CST);
}

int sim_poll_add(int fd, sim_poll_fn cb, void *ctx)
{
    int rc = ML_ENOMEM;
    sim_lock();
    if (S.npolls < SIM_POLL_MAX) {
        S.polls[S.npolls++] = (struct sim_pollent){fd, cb, ctx};
        rc = ML_OK;
    }
    sim_wake_locked(); /* the loop must rebuild its poll set */
    sim_unlock();
    return rc;
}

void sim_poll_remove(int fd)
{
    sim_lock();
    for (size_t i = 0; i < S.npolls; i++) {
        if (S.polls[i].fd == fd) {
            S.polls[i] = S.polls[--S.npolls];
            break;
        }
    }
    sim_unlock();
}

static void drain_wake_pipe(void)
{
    char buf[64];
    while (read(S.wake_pipe[0], buf, sizeof buf) > 0) {
    }
}

/* ------------------------------------------------------------------------- */
/* HAL time                                                                  */
/* ------------------------------------------------------------------------- */

uint64_t hal_time_us(void)
{
    return sim_time_us();
}

uint64_t hal_time_ms(void)
{
    return sim_time_us() / 1000u;
}

int64_t hal_time_utc(void)
{
    return S.utc_offset_s + (int64_t)(sim_time_us() / 1000000u);
}

/* An fd other than the wake pipe (the last entry) is ready. */
static bool fd_event(const struct pollfd *pfd, size_t nfds, int rc)
{
    for (size_t i = 0; rc > 0 && i + 1 < nfds; i++) {
        if (pfd[i].revents != 0) {
            return true;
        }
    }
    return false;
}

/* Counters: one writer (the firmware thread), readers on any thread. */
static void bp_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

static void set_window(uint32_t us)
{
    __atomic_store_n(&S.bp_cur_us, us, __ATOMIC_RELAXED);
}

static void shrink_window(void)
{
    uint32_t w = S.bp_cur_us / 2u;
    set_window(w < SIM_BUSY_POLL_MIN_US ? 0u : w);
}

/*
 * poll() the set, blocking for up to @p timeout ms (-1: forever). In real time,
 * right after a pass that served a socket or pty, first try without blocking
 * for up to the busy-poll window, yielding the CPU between tries (a client that
 * answers within microseconds then does not pay for this thread's sleep and
 * wake-up); most tries read ahead on the TCP connection served last (see
 * sim_net_read_ahead()), so the request is taken by the try itself and the
 * app's hal_tcp_recv() needs no system call. The window adapts like KVM's
 * halt polling: it grows (up to the configured bound) when the next event
 * came soon after a window that was too short, and halves down to off when
 * events come later than the bound (a slow client costs at most a few windows
 * of CPU) or when a window overran because other threads held the CPU (on a
 * loaded machine polling competes with them instead of saving a wake-up).
 * Never in virtual time.
 */
static int wait_for_events(struct pollfd *pfd, size_t nfds, int timeout, uint64_t deadline_us)
{
    if (timeout == 0 || !S.bp_armed || S.bp_max_us == 0) {
        return poll(pfd, nfds, timeout);
    }
    uint64_t t0 = real_now_us();
    uint64_t until = t0 + S.bp_cur_us;
    if (until > deadline_us) {
        until = deadline_us;
    }
    int rc = 0;
    if (S.bp_cur_us > 0) {
        bp_add(&S.bp.windows, 1);
        bool yield = true;
        for (unsigned i = 0;; i++) {
            /* Mostly read ahead on the connection served last (one system call
             * that also takes the request), with a full poll() every sixteenth
             * try for the other fds (a few µs late at most; the blocking poll()
             * after the window sees all). Every fourth try was too often: a
             * client whose next request came in time for that poll() cost an
             * extra recv() per request. */
            bool ra = sim_net_read_ahead_possible() && (i & 15u) != 15u;
            if (ra) {
                bp_add(&S.bp.polls, 1);
                if (sim_net_read_ahead()) {
                    bp_add(&S.bp.read_aheads, 1);
                    S.bp_read_ahead = true;
                    rc = 1; /* nothing for the callbacks: every revents is 0 */
                    for (size_t k = 0; k < nfds; k++) {
                        pfd[k].revents = 0;
                    }
                    break;
                }
            } else {
                rc = poll(pfd, nfds, 0);
                bp_add(&S.bp.polls, 1);
                if (rc != 0) {
                    break;
                }
            }
            uint64_t t = real_now_us();
            if (t >= until) {
                break;
            }
            if (yield) {
                /* another thread of this CPU (the client?) goes first; when the
                 * yield comes back at once nobody else wants this CPU, and the
                 * rest of the window polls without it (one system call a try
                 * instead of two: the request is seen sooner) */
                sched_yield();
                yield = real_now_us() - t >= SIM_BUSY_POLL_YIELD_IDLE_US;
            }
        }
        if (rc != 0) {
            uint64_t spun = real_now_us() - t0;
            bp_add(&S.bp.hits, 1);
            bp_add(&S.bp.spin_us, spun);
            if (spun > S.bp_cur_us + SIM_BUSY_POLL_PREEMPTED_US) {
                /* the window overran: other threads held this CPU, so polling
                 * competes with them rather than saving a wake-up: halve it */
                bp_add(&S.bp.preempted, 1);
                shrink_window();
            }
            return rc;
        }
        bp_add(&S.bp.spin_us, real_now_us() - t0);
        if (timeout > 0) {
            uint64_t now = real_now_us();
            uint64_t left = deadline_us > now ? deadline_us - now : 0;
            timeout = (int)((left + 999u) / 1000u);
        }
    }
    rc = poll(pfd, nfds, timeout);
    uint64_t waited = real_now_us() - t0;
    if (fd_event(pfd, nfds, rc) && waited <= S.bp_max_us) {
        /* the window was too short for this traffic: grow it */
        uint32_t grown = S.bp_cur_us == 0 ? SIM_BUSY_POLL_MIN_US * 2u : S.bp_cur_us * 2u;
        set_window(grown > S.bp_max_us ? S.bp_max_us : grown);
    } else if (waited > S.bp_max_us) {
        /* nothing came within the bound: polling only burns CPU, halve it */
        shrink_window();
    }
    return rc;
}

void sim_busy_poll_get_stats(struct sim_busy_poll_stats *out)
{
    out->windows = __atomic_load_n(&S.bp.windows, __ATOMIC_RELAXED);
    out->hits = __atomic_load_n(&S.bp.hits, __ATOMIC_RELAXED);
    out->polls = __atomic_load_n(&S.bp.polls, __ATOMIC_RELAXED);
    out->read_aheads = __atomic_load_n(&S.bp.read_aheads, __ATOMIC_RELAXED);
    out->preempted = __atomic_load_n(&S.bp.preempted, __ATOMIC_RELAXED);
    out->spin_us = __atomic_load_n(&S.bp.spin_us, __ATOMIC_RELAXED);
    out->window_us = __atomic_load_n(&S.bp_cur_us, __ATOMIC_RELAXED);
}

void hal_time_wait_until(uint64_t deadline_ms)
{
    uint64_t deadline_us = deadline_ms >= UINT64_MAX / 1000u ? UINT64_MAX : deadline_ms * 1000u;
    struct pollfd pfd[SIM_POLL_MAX + 1];
    struct sim_pollent ents[SIM_POLL_MAX];
    size_t n;

    uint64_t port_next = sim_net_next_event_us();
    if (port_next < deadline_us) {
        deadline_us = port_next;
    }
    uint64_t mqtt_next = sim_mqtt_next_event_us();
    if (mqtt_next < deadline_us) {
        deadline_us = mqtt_next;
    }
    uint64_t wdog_due = sim_sys_watchdog_due_us(); /* the watchdog wakes it to reset */
    if (wdog_due < deadline_us) {
        deadline_us = wdog_due;
    }

    sim_lock();
    /* bytes read ahead are input poll() can no longer report: do not sleep on them */
    if (S.stop_req || S.wake_pending || sim_time_us() >= deadline_us || sim_net_has_staged()) {
        S.wake_pending = false;
        drain_wake_pipe();
        sim_unlock();
        if (!S.stop_req) {
            /* still serve fds that are ready, without blocking */
            goto poll_now;
        }
        sim_net_check();
        sim_mqtt_net_check();
        sim_sys_watchdog_check();
        return;
    }
    S.fw_idle = true;
    S.fw_deadline_us = deadline_us;
    pthread_cond_broadcast(&S.cond);
    sim_unlock();

poll_now:
    sim_lock();
    n = S.npolls;
    memcpy(ents, S.polls, n * sizeof ents[0]);
    bool idle = S.fw_idle;
    sim_unlock();
    for (size_t i = 0; i < n; i++) {
        pfd[i] = (struct pollfd){.fd = ents[i].fd, .events = POLLIN};
    }
    pfd[n] = (struct pollfd){.fd = S.wake_pipe[0], .events = POLLIN};

    int timeout = 0;
    if (idle) {
        if (S.cfg.time_mode == SIM_TIME_VIRTUAL || deadline_us == UINT64_MAX) {
            timeout = -1; /* only the host (or an fd) moves us on */
        } else {
            uint64_t now = sim_time_us();
            uint64_t left = deadline_us > now ? deadline_us - now : 0;
            timeout = (int)((left + 999u) / 1000u);
        }
    }
    int rc = wait_for_events(pfd, n + 1, timeout, deadline_us);

    sim_lock();
    S.fw_idle = false;
    S.wake_pending = false;
    if (rc > 0 && (pfd[n].revents & POLLIN) != 0) {
        drain_wake_pipe(); /* only when it holds something: one syscall less per event */
    }
    sim_unlock();

    S.bp_armed = S.bp_read_ahead; /* the app gets a request this pass */
    S.bp_read_ahead = false;
    if (rc > 0) {
        for (size_t i = 0; i < n; i++) {
            if (pfd[i].revents != 0 && ents[i].cb != NULL) {
                ents[i].cb(pfd[i].fd, pfd[i].revents, ents[i].ctx);
                S.bp_armed = true; /* I/O now: more may follow within µs */
            }
        }
    }
    sim_net_check();
    sim_mqtt_net_check();
    sim_sys_watchdog_check();
}

void sim_busy_us(uint64_t us)
{
    if (!S.running || !pthread_equal(pthread_self(), S.thread)) {
        return; /* the host's own calls (tests, tools) take no device time */
    }
    uint64_t until = sim_time_us() + us;
    if (S.cfg.time_mode == SIM_TIME_REAL) {
        struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        sim_sys_watchdog_check();
        return;
    }
    /* virtual time: the blocked loop moves the clock on by itself, to the end of the
     * operation or to the watchdog's expiry, whichever comes first; what the host
     * schedules meanwhile reaches the loop after it (as bytes wait in a ring) */
    uint64_t wdog_due = sim_sys_watchdog_due_us();
    uint64_t to = wdog_due < until ? wdog_due : until;
    sim_lock();
    if (to > S.vnow_us) {
        __atomic_store_n(&S.vnow_us, to, __ATOMIC_SEQ_CST);
    }
    sim_unlock();
    sim_sys_watchdog_check();
}

/* ------------------------------------------------------------------------- */
/* Thread and lifecycle                                                      */
/* ------------------------------------------------------------------------- */

static void reset_volatile(int cause)
{
    sim_uart_reset();
    sim_gpio_reset();
    sim_net_reset();
    sim_mqtt_reset();
    sim_sys_reset(&S.cfg, cause);
}

static void *fw_thread(void *arg)
{
    (void)arg;
    for (;;) {
        sim_lock();
        S.boot_count++;
        S.stop_req = false;
        sim_unlock();

        S.app();

        int reboot_cause = sim_sys_take_reboot_request();
        sim_lock();
        if (reboot_cause >= 0 && !S.shutdown) {
            sim_unlock();
            reset_volatile(reboot_cause);
            continue;
        }
        S.running = false;
        S.fw_idle = false;
        pthread_cond_broadcast(&S.cond);
        sim_unlock();
        return NULL;
    }
}

bool hal_sys_should_stop(void)
{
    return __atomic_load_n(&S.stop_req, __ATOMIC_SEQ_CST);
}

/* Called by hal_sys_reboot(): make the loop return. */
void sim_core_request_stop(void);
void sim_core_request_stop(void)
{
    sim_lock();
    S.stop_req = true;
    sim_wake_locked();
    sim_unlock();
}

static int start_thread(int cause)
{
    reset_volatile(cause);
    S.shutdown = false;
    S.running = true;
    S.fw_idle = false;
    S.wake_pending = false;
    if (pthread_create(&S.thread, NULL, fw_thread, NULL) != 0) {
        S.running = false;
        return ML_ENOMEM;
    }
    sim_wait_idle();
    return ML_OK;
}

int sim_start(const struct sim_config *cfg, sim_app_main_fn app)
{
    ML_VERIFY(cfg != NULL && app != NULL, ML_EINVAL);
    if (S.running) {
        return ML_EBUSY;
    }
    S.cfg = *cfg;
    snprintf(S.serial, sizeof S.serial, "%s", cfg->serial ? cfg->serial : "SIM0000001");
    snprintf(S.password, sizeof S.password, "%s",
             cfg->label_password ? cfg->label_password : "simlabel");
    S.cfg.serial = S.serial;
    S.cfg.label_password = S.password;
    S.flash_file[0] = '\0';
    if (cfg->flash_file != NULL) {
        snprintf(S.flash_file, sizeof S.flash_file, "%s", cfg->flash_file);
        S.cfg.flash_file = S.flash_file;
    }
    S.app = app;
    uint32_t bp = cfg->busy_poll_us == 0  ? SIM_BUSY_POLL_DEFAULT_US
                  : cfg->busy_poll_us < 0 ? 0u
                                          : (uint32_t)cfg->busy_poll_us;
    S.bp_max_us = cfg->time_mode == SIM_TIME_REAL
                      ? (bp > SIM_BUSY_POLL_CEIL_US ? SIM_BUSY_POLL_CEIL_US : bp)
                      : 0u;
    S.bp_cur_us = S.bp_max_us;
    S.bp_armed = false;
    memset(&S.bp, 0, sizeof S.bp);
    S.vnow_us = 0;
    S.boot_count = 0;
    sim_sys_start();
    clock_gettime(CLOCK_MONOTONIC, &S.t0);
    S.utc_offset_s = cfg->utc_at_start != 0 ? cfg->utc_at_start : (int64_t)time(NULL);
    if (S.wake_pipe[0] < 0) {
        if (pipe2(S.wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
            return ML_EIO;
        }
    }
    sim_flash_open(S.cfg.flash_file);
    sim_tls_set_dir(cfg->tls_dir);
    S.cfg.tls_dir = NULL; /* copied by sim_tls_set_dir() */
    sim_net_world_reset();
    return start_thread(HAL_SYS_RESET_POWER_ON);
}

static void stop_thread(void)
{
    if (!S.running) {
        return;
    }
    sim_lock();
    S.shutdown = true;
    S.stop_req = true;
    sim_wake_locked();
    sim_unlock();
    pthread_join(S.thread, NULL);
    S.running = false;
}

void sim_stop(void)
{
    stop_thread();
    reset_volatile(HAL_SYS_RESET_POWER_ON); /* closes sockets and fds */
    sim_flash_close();
}

int sim_power_cycle(void)
{
    if (S.app == NULL) {
        return ML_EINVAL;
    }
    stop_thread();
    return start_thread(HAL_SYS_RESET_POWER_ON);
}

uint32_t sim_boot_count(void)
{
    return S.boot_count;
}

/* ------------------------------------------------------------------------- */
/* Host-side time control                                                    */
/* ------------------------------------------------------------------------- */

uint64_t sim_now_us(void)
{
    return sim_time_us();
}

static bool busy_locked(void)
{
    return S.running && (!S.fw_idle || S.wake_pending);
}

void sim_wait_idle(void)
{
    sim_lock();
    /* Force one full pass of the loop: a socket or pty that became readable just
     * before this call is then served before we return (poll sees it on that pass),
     * not merely "the loop is asleep". Virtual time does not move. */
    if (S.running) {
        sim_wake_locked();
    }
    while (busy_locked()) {
        pthread_cond_wait(&S.cond, &S.lock);
    }
    sim_unlock();
}

uint64_t sim_next_deadline_us(void)
{
    sim_lock();
    uint64_t d = (S.running && S.fw_idle) ? S.fw_deadline_us : UINT64_MAX;
    sim_unlock();
    return d;
}

void sim_advance_to_us(uint64_t t_us)
{
    if (S.cfg.time_mode == SIM_TIME_REAL) {
        uint64_t now = real_now_us();
        if (t_us > now) {
            uint64_t d = t_us - now;
            struct timespec ts = {(time_t)(d / 1000000u), (long)(d % 1000000u) * 1000};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        return;
    }
    sim_lock();
    for (;;) {
        while (busy_locked()) {
            pthread_cond_wait(&S.cond, &S.lock);
        }
        if (S.running && S.fw_deadline_us <= t_us) {
            /* Jump to the loop's own deadline and let it run there. */
            if (S.fw_deadline_us > S.vnow_us) {
                __atomic_store_n(&S.vnow_us, S.fw_deadline_us, __ATOMIC_SEQ_CST);
            }
            sim_wake_locked();
            continue;
        }
        if (t_us > S.vnow_us) {
            __atomic_store_n(&S.vnow_us, t_us, __ATOMIC_SEQ_CST);
        }
        break;
    }
    sim_unlock();
}

void sim_advance_ms(uint64_t ms)
{
    sim_advance_to_us(sim_time_us() + ms * 1000u);
}

void sim_set_utc(int64_t epoch_s)
{
    sim_lock();
    S.utc_offset_s = epoch_s - (int64_t)(sim_time_us() / 1000000u);
    sim_unlock();
}
