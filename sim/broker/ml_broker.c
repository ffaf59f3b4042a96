/*
 * ml_broker.c: a real mosquitto broker as a child process, for integration
 * tests and the scenario runner. See ml_broker.h for the model.
 */
#define _GNU_SOURCE
#include "ml_broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BROKER_BIN  "/usr/sbin/mosquitto"
#define START_TRIES 5

extern char **environ;

/* ------------------------------------------------------------------------- */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------- */

uint64_t ml_broker_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A port that was free a moment ago (the kernel picks it; a race with another
 * process is possible, which is why start retries). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        port = ntohs(sa.sin_port);
    }
    close(fd);
    return port;
}

static bool port_accepts(const char *host, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static int run(const char *what, const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "ml_broker: %s failed (status %d): %s\n", what, rc, cmd);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Config, password file, certificates                                      */
/* ------------------------------------------------------------------------- */

static int make_certs(struct ml_broker *b)
{
    char cmd[2048];
    const char *d = b->dir;
    const char *cn = b->opts.client_cn != NULL ? b->opts.client_cn : "SIM0000001";
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

    snprintf(cmd, sizeof cmd,
             "printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost\\n' > %s/server.ext && "
             "printf 'extendedKeyUsage=clientAuth\\n' > %s/client.ext",
             b->host, d, d);
    if (run("write cert extensions", cmd) != 0) {
        return -1;
    }
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 %s -keyout %s/ca.key -out %s/ca.crt -days 2 "
             "-subj '/CN=meterlab test CA' 2>>%s/openssl.log",
             ec, d, d, d);
    if (run("generate CA", cmd) != 0) {
        return -1;
    }
    snprintf(cmd, sizeof cmd,
             "openssl req %s -keyout %s/server.key -out %s/server.csr -subj '/CN=127.0.0.1' "
             "2>>%s/openssl.log && "
             "openssl x509 -req -in %s/server.csr -CA %s/ca.crt -CAkey %s/ca.key "
             "-CAcreateserial -out %s/server.crt -days 2 -extfile %s/server.ext "
             "2>>%s/openssl.log",
             ec, d, d, d, d, d, d, d, d, d);
    if (run("generate server certificate", cmd) != 0) {
        return -1;
    }
    snprintf(cmd, sizeof cmd,
             "openssl req %s -keyout %s/client.key -out %s/client.csr -subj '/CN=%s' "
             "2>>%s/openssl.log && "
             "openssl x509 -req -in %s/client.csr -CA %s/ca.crt -CAkey %s/ca.key "
             "-CAcreateserial -out %s/client.crt -days 2 -extfile %s/client.ext "
             "2>>%s/openssl.log",
             ec, d, d, cn, d, d, d, d, d, d, d);
    if (run("generate client certificate", cmd) != 0) {
        return -1;
    }
    snprintf(b->ca_file, sizeof b->ca_file, "%s/ca.crt", d);
    snprintf(b->client_cert, sizeof b->client_cert, "%s/client.crt", d);
    snprintf(b->client_key, sizeof b->client_key, "%s/client.key", d);
    return 0;
}

static int make_passwd_for(struct ml_broker *b, const char *user, const char *password)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mosquitto_passwd -c -b %s/passwd '%s' '%s' >>%s/openssl.log 2>&1",
             b->dir, user, password != NULL ? password : "", b->dir);
    return run("mosquitto_passwd", cmd);
}

static int make_passwd(struct ml_broker *b)
{
    return make_passwd_for(b, b->opts.username, b->opts.password);
}

static int write_conf(struct ml_broker *b)
{
    FILE *f = fopen(b->conf_file, "w");
    if (f == NULL) {
        fprintf(stderr, "ml_broker: cannot write %s: %s\n", b->conf_file, strerror(errno));
        return -1;
    }
    /* Running as root, mosquitto would switch to user "mosquitto", which cannot
     * read our 0700 temp dir; as another user the option is ignored. */
    fprintf(f, "user root\npersistence false\nper_listener_settings true\n");
    fprintf(f, "log_dest file %s\nlog_type all\nconnection_messages true\n", b->log_file);
    fprintf(f, "\n# observer: the test's subscriber\nlistener %u 127.0.0.1\nallow_anonymous true\n",
            b->obs_port);
    fprintf(f, "\n# device\nlistener %u %s\n", b->port, b->host);
    if (b->auth) {
        fprintf(f, "allow_anonymous false\npassword_file %s/passwd\n", b->dir);
    } else {
        fprintf(f, "allow_anonymous true\n");
    }
    if (b->opts.tls) {
        fprintf(f, "cafile %s\ncertfile %s/server.crt\nkeyfile %s/server.key\n", b->ca_file, b->dir,
                b->dir);
        if (b->opts.require_cert) {
            fprintf(f, "require_certificate true\nuse_identity_as_username true\n");
        }
    }
    fclose(f);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Process                                                                   */
/* ------------------------------------------------------------------------- */

/* Spawn the broker and wait until both ports accept. 0 ok, -1 the child died
 * (port taken, bad config), -2 it did not come up in time. */
static int spawn_and_wait(struct ml_broker *b)
{
    char errlog[192];
    snprintf(errlog, sizeof errlog, "%s/stderr.log", b->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
    /* none of the test's descriptors (a device's sockets) live on in the broker */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    char *argv[] = {(char *)BROKER_BIN, (char *)"-c", b->conf_file, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, BROKER_BIN, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "ml_broker: cannot start %s: %s\n", BROKER_BIN, strerror(rc));
        return -1;
    }
    b->pid = pid;
    uint64_t t_end = ml_broker_real_ms() + ML_BROKER_TIMEOUT_MS;
    while (ml_broker_real_ms() < t_end) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            b->pid = 0;
            return -1;
        }
        if (port_accepts(b->host, b->port) && port_accepts("127.0.0.1", b->obs_port)) {
            return 0;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "ml_broker: broker did not accept on %u within %d ms\n", b->port,
            ML_BROKER_TIMEOUT_MS);
    ml_broker_stop(b);
    return -2;
}

static int start_on_new_ports(struct ml_broker *b)
{
    for (int i = 0; i < START_TRIES; i++) {
        b->port = b->opts.port_8883 ? 8883 : free_port();
        do {
            b->obs_port = free_port();
        } while (b->obs_port == b->port);
        if (b->port == 0 || b->obs_port == 0) {
            continue;
        }
        snprintf(b->url, sizeof b->url, "%s://%s:%u",
                 b->opts.tls && !b->opts.port_8883 ? "mqtts" : "mqtt", b->host, b->port);
        if (write_conf(b) != 0) {
            return -1;
        }
        int rc = spawn_and_wait(b);
        if (rc == 0) {
            return 0;
        }
        if (rc == -2) {
            break;
        }
        /* died: most likely a port was taken in between; try new ones */
    }
    fprintf(stderr, "ml_broker: could not start the broker (see %s)\n", b->log_file);
    ml_broker_dump_log(b);
    return -1;
}

int ml_broker_start(struct ml_broker *b, const struct ml_broker_opts *opts)
{
    memset(b, 0, sizeof *b);
    if (opts != NULL) {
        b->opts = *opts;
    }
    if (b->opts.require_cert) {
        b->opts.tls = true;
    }
    b->auth = b->opts.username != NULL;
    snprintf(b->host, sizeof b->host, "127.0.0.1");
    if (b->opts.port_8883) {
        /* an address of this process's own: port 8883 is then free there */
        snprintf(b->host, sizeof b->host, "127.88.83.%u", 1u + (unsigned)getpid() % 254u);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/ml_broker.XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(b->dir) == NULL) {
        fprintf(stderr, "ml_broker: mkdtemp: %s\n", strerror(errno));
        b->dir[0] = '\0';
        return -1;
    }
    snprintf(b->conf_file, sizeof b->conf_file, "%s/mosquitto.conf", b->dir);
    snprintf(b->log_file, sizeof b->log_file, "%s/broker.log", b->dir);
    if ((b->opts.tls && make_certs(b) != 0) || (b->opts.username != NULL && make_passwd(b) != 0) ||
        start_on_new_ports(b) != 0) {
        ml_broker_destroy(b);
        return -1;
    }
    /* the option strings belong to the caller: do not keep them */
    b->opts.username = NULL;
    b->opts.password = NULL;
    b->opts.client_cn = NULL;
    return 0;
}

void ml_broker_stop(struct ml_broker *b)
{
    if (b->pid <= 0) {
        return;
    }
    kill(b->pid, SIGTERM);
    uint64_t t_end = ml_broker_real_ms() + ML_BROKER_TIMEOUT_MS;
    int st;
    for (;;) {
        pid_t r = waitpid(b->pid, &st, WNOHANG);
        if (r == b->pid || (r < 0 && errno != EINTR)) {
            break;
        }
        if (ml_broker_real_ms() >= t_end) {
            fprintf(stderr, "ml_broker: broker %d ignored SIGTERM; killing it\n", (int)b->pid);
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &st, 0);
            break;
        }
        sleep_ms(5);
    }
    b->pid = 0;
}

int ml_broker_restart(struct ml_broker *b)
{
    ml_broker_stop(b);
    /* The same ports: the old listener is gone, but a slow machine (or another
     * process grabbing the port) may make the first tries fail. */
    uint64_t t_end = ml_broker_real_ms() + ML_BROKER_TIMEOUT_MS;
    do {
        if (spawn_and_wait(b) == 0) {
            return 0;
        }
        sleep_ms(100);
    } while (ml_broker_real_ms() < t_end);
    fprintf(stderr, "ml_broker: restart on port %u failed\n", b->port);
    ml_broker_dump_log(b);
    return -1;
}

int ml_broker_set_auth(struct ml_broker *b, const char *username, const char *password)
{
    if (username != NULL && make_passwd_for(b, username, password) != 0) {
        return -1;
    }
    b->auth = username != NULL;
    if (write_conf(b) != 0) {
        return -1;
    }
    return ml_broker_restart(b);
}

bool ml_broker_is_running(struct ml_broker *b)
{
    if (b->pid <= 0) {
        return false;
    }
    int st;
    if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
        b->pid = 0;
        return false;
    }
    return true;
}

void ml_broker_destroy(struct ml_broker *b)
{
    ml_broker_stop(b);
    if (b->dir[0] != '\0' && getenv("ML_BROKER_KEEP") == NULL) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "ml_broker: could not remove %s\n", b->dir);
        }
    }
    b->dir[0] = '\0';
}

void ml_broker_dump_log(const struct ml_broker *b)
{
    const char *files[] = {b->log_file, "stderr.log"};
    for (size_t i = 0; i < 2; i++) {
        char path[256];
        if (i == 0) {
            snprintf(path, sizeof path, "%s", files[0]);
        } else {
            snprintf(path, sizeof path, "%s/%s", b->dir, files[1]);
        }
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        fprintf(stderr, "---- %s ----\n", path);
        char line[512];
        while (fgets(line, sizeof line, f) != NULL) {
            fputs(line, stderr);
        }
        fclose(f);
    }
}
