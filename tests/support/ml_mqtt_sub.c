/*
 * ml_mqtt_sub.c: a libmosquitto subscriber for tests (threaded interface:
 * unlike the firmware side, the observer runs in real time).
 */
#define _GNU_SOURCE
#include "ml_mqtt_sub.h"

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ml_mqtt_sub {
    struct mosquitto *mosq;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool subscribed;
    int connack_rc; /* -1 until CONNACK */
    size_t count;   /* received since start/clear */
    size_t kept;
    struct ml_mqtt_msg msgs[ML_MQTT_SUB_MAX];
    char filter[ML_MQTT_SUB_TOPIC_MAX];
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000u);
    ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct ml_mqtt_sub *s = obj;
    pthread_mutex_lock(&s->mu);
    s->connack_rc = rc;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0) {
        /* (re)subscribe on every connect: the session is clean */
        mosquitto_subscribe(mosq, NULL, s->filter, 0);
    }
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted)
{
    (void)mosq;
    (void)mid;
    struct ml_mqtt_sub *s = obj;
    pthread_mutex_lock(&s->mu);
    s->subscribed = qos_count > 0 && granted[0] <= 2;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    (void)mosq;
    struct ml_mqtt_sub *s = obj;
    pthread_mutex_lock(&s->mu);
    if (s->kept < ML_MQTT_SUB_MAX) {
        struct ml_mqtt_msg *out = &s->msgs[s->kept++];
        snprintf(out->topic, sizeof out->topic, "%s", m->topic);
        size_t len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
        size_t keep = len < ML_MQTT_SUB_PAYLOAD_MAX ? len : ML_MQTT_SUB_PAYLOAD_MAX;
        if (keep > 0) {
            memcpy(out->payload, m->payload, keep);
        }
        out->payload[keep] = '\0';
        out->len = len;
    }
    s->count++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

struct ml_mqtt_sub *ml_mqtt_sub_start(uint16_t port, const char *filter, unsigned timeout_ms)
{
    pthread_once(&lib_once, lib_init);
    struct ml_mqtt_sub *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    s->connack_rc = -1;
    snprintf(s->filter, sizeof s->filter, "%s", filter);

    s->mosq = mosquitto_new(NULL, true, s);
    if (s->mosq == NULL) {
        goto fail;
    }
    mosquitto_connect_callback_set(s->mosq, on_connect);
    mosquitto_subscribe_callback_set(s->mosq, on_subscribe);
    mosquitto_message_callback_set(s->mosq, on_message);
    int rc = mosquitto_connect(s->mosq, "127.0.0.1", port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "ml_mqtt_sub: connect to %u: %s\n", port, mosquitto_strerror(rc));
        goto fail;
    }
    rc = mosquitto_loop_start(s->mosq);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "ml_mqtt_sub: loop_start: %s\n", mosquitto_strerror(rc));
        goto fail;
    }
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (!s->subscribed) {
        if (pthread_cond_timedwait(&s->cond, &s->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    bool ok = s->subscribed;
    int connack = s->connack_rc;
    pthread_mutex_unlock(&s->mu);
    if (!ok) {
        fprintf(stderr, "ml_mqtt_sub: no SUBACK for '%s' within %u ms (CONNACK %d)\n", filter,
                timeout_ms, connack);
        goto fail;
    }
    return s;

fail:
    ml_mqtt_sub_stop(s);
    return NULL;
}

bool ml_mqtt_sub_wait(struct ml_mqtt_sub *s, size_t n, unsigned timeout_ms)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->count < n) {
        if (pthread_cond_timedwait(&s->cond, &s->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    bool ok = s->count >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

size_t ml_mqtt_sub_count(struct ml_mqtt_sub *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t ml_mqtt_sub_dropped(struct ml_mqtt_sub *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->count - s->kept;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool ml_mqtt_sub_get(struct ml_mqtt_sub *s, size_t i, struct ml_mqtt_msg *out)
{
    pthread_mutex_lock(&s->mu);
    bool ok = i < s->kept;
    if (ok) {
        *out = s->msgs[i];
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void ml_mqtt_sub_clear(struct ml_mqtt_sub *s)
{
    pthread_mutex_lock(&s->mu);
    s->count = 0;
    s->kept = 0;
    pthread_mutex_unlock(&s->mu);
}

void ml_mqtt_sub_stop(struct ml_mqtt_sub *s)
{
    if (s == NULL) {
        return;
    }
    if (s->mosq != NULL) {
        mosquitto_disconnect(s->mosq);
        mosquitto_loop_stop(s->mosq, true); /* force: the broker may be gone */
        mosquitto_destroy(s->mosq);
    }
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
