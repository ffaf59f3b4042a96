/**
 * @file ml_mqtt_obs.h
 * @brief The scenario runner's MQTT observer (library ml_runner): a libmosquitto
 * subscriber to `devices/#` on the broker the device publishes to. Messages are
 * queued in arrival order by libmosquitto's network thread and taken by the runner's
 * thread; a count of every message received lets the runner wait until it holds
 * all the device published. Host only.
 */
#ifndef SIM_RUNNER_ML_MQTT_OBS_H
#define SIM_RUNNER_ML_MQTT_OBS_H

#include <mosquitto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/** One message: topic and payload (NUL-terminated, malloc'ed), in a list. */
struct ml_mqtt_msg {
    char *topic, *payload;
    struct ml_mqtt_msg *next;
};

/** Caller-owned observer state (set up by ml_mqtt_obs_start()). */
struct ml_mqtt_obs {
    struct mosquitto *m;
    pthread_mutex_t mu;
    struct ml_mqtt_msg *head, *tail;
    uint64_t received;
    uint64_t results; /**< messages on .../cmd/<name>/result (command answers) */
    volatile bool subscribed;
};

/**
 * Connect to @p host:@p port (login @p user / @p password when @p user is not
 * empty), subscribe to devices/# and wait (at most 10 s) until the broker confirmed
 * the subscription. Reconnects by itself after a broker restart.
 * @return 0, or -1 (not connected or not subscribed; call ml_mqtt_obs_stop()).
 */
int ml_mqtt_obs_start(struct ml_mqtt_obs *s, const char *host, int port, const char *user,
                      const char *password);

/** Wait (at most 10 s) until the subscription holds again (after a reconnect).
 * @return whether it does. */
bool ml_mqtt_obs_wait_subscribed(struct ml_mqtt_obs *s);

/** Every message queued so far, oldest first; the caller frees each (topic, payload,
 * the node). */
struct ml_mqtt_msg *ml_mqtt_obs_take_all(struct ml_mqtt_obs *s);

/** Publish @p payload on @p topic (QoS 0; an mqtt_cmd step). @return 0 or -1. */
int ml_mqtt_obs_publish(struct ml_mqtt_obs *s, const char *topic, const char *payload);

/** How many command results (topics .../cmd/<name>/result) arrived since the start. */
uint64_t ml_mqtt_obs_results(struct ml_mqtt_obs *s);

/** How many messages arrived since the start (taken or not). */
uint64_t ml_mqtt_obs_received(struct ml_mqtt_obs *s);

/** Disconnect, stop the thread and free what is still queued (safe after a failed
 * start). */
void ml_mqtt_obs_stop(struct ml_mqtt_obs *s);

#endif /* SIM_RUNNER_ML_MQTT_OBS_H */
