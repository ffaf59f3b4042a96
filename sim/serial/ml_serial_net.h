/**
 * @file ml_serial_net.h
 * @brief Remote serial ports for the bench: `rfc2217://HOST:PORT` (Telnet
 * COM-PORT-OPTION, RFC 2217: the line settings travel to the remote port) and
 * `tcp://HOST:PORT` (raw bytes; the exporter's line settings apply), as ser2net
 * and labgrid's NetworkSerialPort export them. Host only.
 *
 * ml_serial_open() takes these URLs too, so every tool that opens a port by
 * path (record, play, rigs) drives a port on another host unchanged. The fd
 * returned reads and writes the port's bytes like a tty fd (non-blocking):
 * for RFC 2217 it is one end of a socketpair served by a relay thread that
 * does the Telnet escaping and negotiation; closing it closes the session.
 */
#ifndef SIM_SERIAL_ML_SERIAL_NET_H
#define SIM_SERIAL_ML_SERIAL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_serial.h"

struct ml_serial_net_addr {
    bool rfc2217;   /**< rfc2217:// (else tcp://) */
    char host[256]; /**< name or address (IPv6 without the brackets) */
    uint16_t port;
};

/** True when @p path is an rfc2217:// or tcp:// URL. */
bool ml_serial_is_net(const char *path);

/**
 * Parse "rfc2217://HOST:PORT" or "tcp://HOST:PORT" ("[::1]:PORT" for IPv6).
 * @return 0, or -EINVAL with a message in @p err.
 */
int ml_serial_net_parse(const char *url, struct ml_serial_net_addr *out, char *err, size_t cap);

/**
 * Connect to the remote port @p url (5 s connect limit). RFC 2217: waits up
 * to 3 s for the server to agree to COM-PORT-OPTION (never for modem-control
 * acknowledgements), then sends @p cfg (baud, data bits, parity, stop bits,
 * no flow control). Raw TCP ignores @p cfg.
 * @return a non-blocking fd, or -errno with a message naming @p url in @p err:
 * -EINVAL bad URL, -EHOSTUNREACH unknown host, -ECONNREFUSED / -ETIMEDOUT,
 * -EPROTO the server does not speak RFC 2217.
 */
int ml_serial_net_open(const char *url, const struct ml_serial_cfg *cfg, char *err, size_t cap);

/**
 * Send new line settings on an RFC 2217 fd from ml_serial_net_open().
 * @return 0, -ENOENT when @p fd is not one, or -errno of the send.
 */
int ml_serial_net_set_cfg(int fd, const struct ml_serial_cfg *cfg);

/** True when @p fd is a socket (a remote port) rather than a tty. */
bool ml_serial_net_is_fd(int fd);

/**
 * A local pty standing for the port @p path, for libraries that open device
 * paths only (libmodbus RTU): a remote port (rfc2217://, tcp://) is opened
 * with @p cfg and a thread relays its bytes to and from a new pty, whose path
 * goes into @p pty. A local path is passed through (no thread, *@p out NULL).
 * @return 0 (close with ml_serial_bridge_close), or -errno with a message
 * naming @p path in @p err.
 */
struct ml_serial_bridge;
int ml_serial_bridge_open(struct ml_serial_bridge **out, const char *path,
                          const struct ml_serial_cfg *cfg, char *pty, size_t pcap, char *err,
                          size_t cap);

/** Stop the relay, close the remote port and the pty (NULL: nothing). */
void ml_serial_bridge_close(struct ml_serial_bridge *b);

#endif /* SIM_SERIAL_ML_SERIAL_NET_H */
