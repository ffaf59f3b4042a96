/**
 * @file ml_broker.h
 * @brief A real mosquitto broker for tests and the scenario runner, run as a
 * child process on loopback (product code of the bench: sim/broker).
 *
 * Each broker lives in its own temporary directory (mosquitto.conf, password
 * file, certificates, broker.log) and listens on two free 127.0.0.1 ports
 * (the device port can be 8883 instead, see ml_broker_opts::port_8883):
 *
 * - the device port (@ref ml_broker::port): plain, TLS, or mutual TLS, anonymous
 *   or with a password file, as @ref ml_broker_opts asks;
 * - the observer port (@ref ml_broker::obs_port): always plain and anonymous,
 *   for the test's subscriber (ml_mqtt_sub.h), so that a test of refused
 *   credentials or certificates still has a working observer.
 *
 * Certificates are generated with the openssl CLI (EC P-256, valid 2 days): a
 * CA, a server certificate for 127.0.0.1 / localhost, and a client certificate
 * whose CN is @ref ml_broker_opts::client_cn. For mutual TLS the broker requires
 * a client certificate and uses its CN as the MQTT username.
 *
 * Every wait is bounded in real time (ML_BROKER_TIMEOUT_MS) so a loaded machine
 * slows a test down instead of failing it. Not thread-safe: use one broker
 * from one thread. Errors are printed to stderr with the reason.
 */
#ifndef SIM_BROKER_ML_BROKER_H
#define SIM_BROKER_ML_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/** Real-time bound of every wait on the broker process (start, stop). */
#define ML_BROKER_TIMEOUT_MS 10000

struct ml_broker_opts {
    bool tls;              /**< TLS on the device port (server cert for 127.0.0.1) */
    bool require_cert;     /**< mutual TLS: a client certificate is required (implies tls) */
    const char *username;  /**< non-NULL: password file with this one user, anonymous off */
    const char *password;  /**< the user's password (with username) */
    const char *client_cn; /**< CN of the generated client certificate (NULL: "SIM0000001") */
    /** Device port 8883 (the manual's broker form) on a loopback address of its
     *  own, 127.88.83.N, so that parallel tests do not collide; the server
     *  certificate names that address and url is "mqtt://127.88.83.N:8883". */
    bool port_8883;
};

struct ml_broker {
    pid_t pid;         /**< child process, 0 when stopped */
    uint16_t port;     /**< device port (kept across restarts) */
    uint16_t obs_port; /**< observer port, plain and anonymous (kept across restarts) */
    char host[16];     /**< the device listener's address ("127.0.0.1", or 127.88.83.N) */
    char url[64];      /**< "mqtt://127.0.0.1:<port>" or "mqtts://127.0.0.1:<port>" */
    char dir[128];     /**< the temp directory holding everything below */
    char conf_file[192];
    char log_file[192];    /**< broker log (useful when a test fails) */
    char ca_file[192];     /**< CA certificate (TLS only, else "") */
    char client_cert[192]; /**< client certificate with CN = client_cn (TLS only) */
    char client_key[192];  /**< its private key (TLS only) */
    struct ml_broker_opts opts;
    bool auth; /**< the device port wants a username/password (password file) */
};

/**
 * Create the temp dir, the config (and password file / certificates), pick two
 * free loopback ports, start /usr/sbin/mosquitto and wait until both ports
 * accept connections. Retries with new ports when one was taken in between.
 * @p opts may be NULL (plain, anonymous). The strings in @p opts need only live
 * for this call.
 * @retval 0 running  @retval -1 failed (message on stderr; @p b is cleaned up)
 */
int ml_broker_start(struct ml_broker *b, const struct ml_broker_opts *opts);

/**
 * Stop the broker: SIGTERM, then waitpid (SIGKILL after ML_BROKER_TIMEOUT_MS).
 * The directory, ports and config stay, for ml_broker_restart(). No-op when
 * already stopped.
 */
void ml_broker_stop(struct ml_broker *b);

/**
 * Start the broker again with the same config on the same ports (a broker
 * down/up test), and wait until it accepts connections.
 * @retval 0 running  @retval -1 failed (message on stderr)
 */
int ml_broker_restart(struct ml_broker *b);

/**
 * Change the device port's authentication and restart on the same ports:
 * @p username non-NULL writes a password file with that one user (so a device
 * with other credentials is refused); NULL allows anonymous clients again.
 * @retval 0 running  @retval -1 failed (message on stderr)
 */
int ml_broker_set_auth(struct ml_broker *b, const char *username, const char *password);

/** True while the child process is alive. */
bool ml_broker_is_running(struct ml_broker *b);

/** Stop the broker (if running) and remove its temp directory. Safe twice. */
void ml_broker_destroy(struct ml_broker *b);

/** Print the broker log to stderr (call when a test fails, to see why). */
void ml_broker_dump_log(const struct ml_broker *b);

/** Milliseconds of CLOCK_MONOTONIC, for the tests' real-time timeouts. */
uint64_t ml_broker_real_ms(void);

#endif /* SIM_BROKER_ML_BROKER_H */
