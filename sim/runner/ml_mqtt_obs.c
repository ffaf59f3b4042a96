/*
 * The runner's MQTT observer (ml_mqtt_obs.h): a libmosquitto subscriber on
 * devices/# whose network thread queues every message for the runner.
 */
#define _GNU_SOURCE
#include "ml_mqtt_obs.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REAL_WAIT_MS 10000 /* bound of every wait on a real peer */

static void sub_on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)obj;
    if (rc == 0) {
        mosquitto_subscribe(m, NULL, "devices/#", 0);
    }
}

static void sub_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q)
{
    (void)m;
    (void)mid;
    (void)n;
    (void)q;
    ((struct ml_mqtt_obs *)obj)->subscribed = true;
}

static void sub_on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    (void)rc;
    ((struct ml_mqtt_obs *)obj)->subscribed = false;
}

static void sub_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    struct ml_mqtt_obs *s = obj;
    struct ml_mqtt_msg *x = calloc(1, sizeof *x);
    x->topic = strdup(msg->topic);
    x->payload = strndup(msg->payload ? (const char *)msg->payload : "", (size_t)msg->payloadlen);
    pthread_mutex_lock(&s->mu);
    if (s->tail) {
        s->tail->next = x;
    } else {
        s->head = x;
    }
    s->tail = x;
    s->received++;
    size_t tl = strlen(x->topic);
    if (strstr(x->topic, "/cmd/") != NULL && tl > 7 && strcmp(x->topic + tl - 7, "/result") == 0) {
        s->results++;
    }
    pthread_mutex_unlock(&s->mu);
}

static uint64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool ml_mqtt_obs_wait_subscribed(struct ml_mqtt_obs *s)
{
    uint64_t end = real_ms() + REAL_WAIT_MS;
    while (!s->subscribed && real_ms() < end) {
        usleep(2000);
    }
    return s->subscribed;
}

int ml_mqtt_obs_start(struct ml_mqtt_obs *s, const char *host, int port, const char *user,
                      const char *password)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->m = mosquitto_new(NULL, true, s);
    if (s->m == NULL) {
        return -1;
    }
    mosquitto_connect_callback_set(s->m, sub_on_connect);
    mosquitto_subscribe_callback_set(s->m, sub_on_subscribe);
    mosquitto_disconnect_callback_set(s->m, sub_on_disconnect);
    mosquitto_message_callback_set(s->m, sub_on_message);
    mosquitto_reconnect_delay_set(s->m, 1, 1, false);
    if (user && user[0]) {
        mosquitto_username_pw_set(s->m, user, password);
    }
    if (mosquitto_connect(s->m, host, port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(s->m) != MOSQ_ERR_SUCCESS) {
        return -1;
    }
    return ml_mqtt_obs_wait_subscribed(s) ? 0 : -1;
}

struct ml_mqtt_msg *ml_mqtt_obs_take_all(struct ml_mqtt_obs *s)
{
    pthread_mutex_lock(&s->mu);
    struct ml_mqtt_msg *h = s->head;
    s->head = s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return h;
}

int ml_mqtt_obs_publish(struct ml_mqtt_obs *s, const char *topic, const char *payload)
{
    return s->m != NULL && mosquitto_publish(s->m, NULL, topic, (int)strlen(payload), payload, 0,
                                             false) == MOSQ_ERR_SUCCESS
               ? 0
               : -1;
}

uint64_t ml_mqtt_obs_results(struct ml_mqtt_obs *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->results;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t ml_mqtt_obs_received(struct ml_mqtt_obs *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->received;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void ml_mqtt_obs_stop(struct ml_mqtt_obs *s)
{
    if (s->m) {
        mosquitto_disconnect(s->m);
        mosquitto_loop_stop(s->m, true);
        mosquitto_destroy(s->m);
        s->m = NULL;
    }
    struct ml_mqtt_msg *h = ml_mqtt_obs_take_all(s);
    while (h) {
        struct ml_mqtt_msg *n = h->next;
        free(h->topic);
        free(h->payload);
        free(h);
        h = n;
    }
    pthread_mutex_destroy(&s->mu);
}
