/**
 * @file ml_qemu.h
 * @brief A device's target image (Cortex-M, MPS2-AN386) booted in
 * qemu-system-arm (library ml_qemu, host only): QEMU's UARTs on ptys, the
 * console read line by line, the boot banner the image prints
 * (firmware/apps/<app>/target/main_*.c), the Smart Connect's network
 * co-processor served by the ESP-AT emulator (sim/at_emu), an empty
 * configuration seeded through the image's HTTP API, and a reset through
 * QEMU's monitor. `meterlab device --target qemu` is a thin command over it.
 *
 * QEMU's UARTs, in UART order (docs/target.md): UART0 console (QEMU's stdio,
 * a pipe read here), UART1 P1 in, UART2 P1 out, UART3 RS485, UART4 the
 * co-processor; each a pty or `null` when the product does not use it.
 *
 * Use:
 * @code
 *   struct ml_qemu_opts o = {.image = path, .p1mb = true};
 *   struct ml_qemu *q;
 *   char err[2048];
 *   if (ml_qemu_start(&q, &o, err, sizeof err) < 0) { fprintf(stderr, "%s\n", err); ... }
 *   ml_qemu_pty(q, ML_QEMU_P1_IN);     // write the meter there
 *   ml_qemu_line(q, line, sizeof line, 200);   // console lines
 *   ml_qemu_stop(q);                   // QEMU stopped, everything freed
 * @endcode
 */
#ifndef SIM_QEMU_ML_QEMU_H
#define SIM_QEMU_ML_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** QEMU's UARTs (docs/target.md). */
enum ml_qemu_uart {
    ML_QEMU_CONSOLE = 0,
    ML_QEMU_P1_IN,
    ML_QEMU_P1_OUT,
    ML_QEMU_RS485,
    ML_QEMU_COPROC,
    ML_QEMU_UARTS
};

/** The lines the image prints at boot, up to "ready". */
struct ml_qemu_banner {
    char title[160];    /**< "meterlab <app>: ..." */
    char serial[64];    /**< from "serial X, reset Y" */
    char reset[32];     /**< Y */
    char rs485[96];     /**< "9600 8E1, address 16, termination off" */
    char config[64];    /**< "factory defaults" / "stored (flash)" / "store empty" */
    char lines[8][160]; /**< other banner lines ("login PW", "template T", "mqtt ...") */
    int n_lines;
};

/** Value of banner line "<key> <value>" (NULL when absent). */
const char *ml_qemu_banner_get(const struct ml_qemu_banner *b, const char *key);

/** Take console line @p line into @p b; a "meterlab ..." line starts it over. */
void ml_qemu_banner_take(struct ml_qemu_banner *b, const char *line);

/** What seeds an empty Smart Connect configuration (NULL = not set). */
struct ml_qemu_seed {
    const char *meter_type, *mqtt_url, *site, *user, *password;
};

struct ml_qemu_opts {
    const char *qemu;  /**< the program (path or name on PATH); NULL: $QEMU or qemu-system-arm */
    const char *image; /**< the .elf (required) */
    bool p1mb;         /**< P1MB (RS485 pty) rather than a Smart Connect (co-processor) */
    bool p1_out;       /**< Smart Connect: a pty for P1 out (else `null`) */
    const char *bind;  /**< address the co-processor's host ports bind to (NULL: 127.0.0.1) */
    uint16_t modbus_port, http_port; /**< host ports for device ports 502 and 80 (0 = any) */
    uint16_t https_port;             /**< host port for device port 443, HTTPS (0 = any) */
    /** The co-processor's storage for its SSL server's key and certificate (made
     *  there at the first start, kept); NULL: a directory for this run only. */
    const char *tls_dir;
    const char *mqtt_url;        /**< broker the co-processor's MQTT goes to (NULL: none) */
    const char *ca, *cert, *key; /**< the co-processor's TLS files (NULL: none) */
    struct ml_qemu_seed seed;    /**< applied when the image's store is empty */
    /** A unix socket for QEMU's monitor (ml_qemu_reset); NULL: no monitor. */
    const char *monitor;
    /** QEMU's -icount value (e.g. ML_QEMU_VT_ICOUNT, ml_qemu_vt.h); NULL: none, the
     * guest's clock follows the host's. */
    const char *icount;
    /** A unix socket for QMP (-qmp unix:PATH,server,nowait; ml_qemu_vt); NULL: none. */
    const char *qmp;
    /** The co-processor emulator answers AT+MDNS on the host network (ml_at_emu_opts.mdns). */
    bool mdns;
    /** QEMU's -M: "mps2-an386" (NULL) or "netduinoplus2" (the STM32F405 images,
     *  firmware/ports/stm32). Both take the UARTs in the same -serial order. */
    const char *machine;
    int boot_ms; /**< the banner must be complete within this (0: 10 s) */
    /** Polled while waiting: true gives up (a stop signal). NULL: never. */
    bool (*stop)(void);
};

struct ml_qemu;

/** Find @p prog on PATH (or take it as a path when it has a '/'), executable. */
bool ml_qemu_find_program(const char *prog, char *out, size_t cap);

/**
 * The image @p name ("p1mb_sdm630.elf", "smart_connect_p1.elf"): in
 * $ML_TARGET_BIN, else <build>/../target/bin beside this program
 * (<build>/bin/<program>), else the source tree's build/target/bin.
 * @return true with the path in @p out; false with where it looked in @p tried.
 */
bool ml_qemu_find_image(const char *name, char *out, size_t cap, char *tried, size_t tcap);

/**
 * Start QEMU with the image, read its banner (into @p banner, may be NULL),
 * start the co-processor emulator (Smart Connect), seed the configuration when
 * the store is empty and a seed is given (PATCH /api/v1/config, POST
 * /api/v1/reset, the banner again), and wait until QEMU takes pty input.
 * @return 0 with *@p out (free with ml_qemu_stop), or -1 with a message in
 * @p err (what the console showed included) and nothing left running.
 */
int ml_qemu_start(struct ml_qemu **out, const struct ml_qemu_opts *o, struct ml_qemu_banner *banner,
                  char *err, size_t cap);

/** The pty of UART @p u ("" when not a pty). */
const char *ml_qemu_pty(const struct ml_qemu *q, enum ml_qemu_uart u);

/** The host port of the co-processor's device port @p device_port (502, 80); 0: none yet. */
uint16_t ml_qemu_host_port(const struct ml_qemu *q, uint16_t device_port);

/** The device's HTTPS certificate (PEM; the module's, in its storage): what a client
 *  of port 443 trusts. "" without a co-processor. */
const char *ml_qemu_cert(const struct ml_qemu *q);

/** Milliseconds since QEMU was started. */
uint64_t ml_qemu_uptime_ms(const struct ml_qemu *q);

/**
 * Next complete console line within @p timeout_ms (CR/LF stripped). A reboot's
 * first line ("meterlab ...") also resets the co-processor, as the board's MCU
 * does with the module's EN pin.
 * @return 1 a line, 0 timeout (or a signal), -1 QEMU's output ended.
 */
int ml_qemu_line(struct ml_qemu *q, char *line, size_t cap, int timeout_ms);

/** True while QEMU runs. */
bool ml_qemu_alive(struct ml_qemu *q);

/**
 * Reset the board: `system_reset` on QEMU's monitor (needs opts.monitor). The
 * image boots again (its console shows the banner); the emulated flash is kept.
 * @return 0, or -1 with the reason in @p err.
 */
int ml_qemu_reset(struct ml_qemu *q, char *err, size_t cap);

/**
 * Press (@p pressed) or release the board's button. QEMU 7.2 cannot set the
 * FPGA I/O BUTTON register, so this writes the images' stand-in on the console
 * input: 'B' / 'b' (ML_CM_CONSOLE_BUTTON in the Cortex-M port, docs/target.md).
 * @return 0, or -1 with the reason in @p err.
 */
int ml_qemu_button(struct ml_qemu *q, bool pressed, char *err, size_t cap);

/**
 * Pull (@p up false) or restore the network link of a Smart Connect image: the
 * ESP-AT emulator's link fault (ML_AT_EMU_LINK_DOWN: "+ETH_DISCONNECTED" /
 * "WIFI DISCONNECT", every link and the MQTT session closed, as the module
 * reports it; "+ETH_CONNECTED", "+ETH_GOT_IP" when it is back).
 * @return 0, or -1 (no co-processor: a P1MB image) with the reason in @p err.
 */
int ml_qemu_link(struct ml_qemu *q, bool up, char *err, size_t cap);

/** Stop QEMU (SIGTERM, SIGKILL after 2 s) and the emulator; free @p q (NULL: nothing). */
void ml_qemu_stop(struct ml_qemu *q);

#endif /* SIM_QEMU_ML_QEMU_H */
