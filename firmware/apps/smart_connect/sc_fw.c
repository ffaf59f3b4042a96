/*
 * Firmware update: signed image upload into a free slot, boot record with a
 * trial flag, confirmation and rollback (docs/firmware-update.md).
 *
 * Image (what POST /api/v1/firmware receives) = 128-byte header + payload:
 *
 *     off 0   magic        SC_FW_MAGIC ("MLFW"), u32 little-endian
 *     off 4   hdr_version  2 (1 was the unsigned format: refused)
 *     off 8   payload_len  bytes after the header
 *     off 12  version      16 bytes, NUL-padded printable ASCII (at least 1 char)
 *     off 28  sha256       SHA-256 of the payload
 *     off 60  key_id       first 4 bytes of the signing public key (diagnostics)
 *     off 64  signature    Ed25519 (RFC 8032) over bytes 0..63, by the key built
 *                          into the firmware (sc_fw_pubkey)
 *
 * The signature covers the header and, through its SHA-256, the payload. It is
 * checked as soon as the header has arrived, before any flash is touched; the
 * payload then goes to the target slot at offset 128 while its SHA-256 is
 * computed; the header is written last, only when the hash matched, so a slot
 * with a valid header always holds a verified image. The boot record then
 * names it "pending". On the next boot it becomes the active image in trial
 * (the signature and hash are checked again); when it has run
 * SC_FW_CONFIRM_MS it is confirmed; if the device reboots before that, the
 * previous image is restored (rollback). The sim cannot execute another
 * image: "booting slot X" means reporting X's version.
 *
 * Target slot: the first of A, B that is neither running nor pending, so a
 * rejected or interrupted upload never touches the running or the pending
 * image. When the two slots hold the running and the pending image there is
 * none: the upload is refused (409) until the pending image was installed.
 *
 * Boot record log (HAL_FLASH_BOOT): 32-byte records appended; the last one with
 * a good CRC wins; when the region is full it is erased and the log restarts.
 */
#include "crc.h"
#include "ed25519/ed25519.h"
#include "err.h"
#include "sc_fw.h"
#include "str.h"

#define REC_SIZE   32u
#define REC_MAGIC  0x52424C4Du /* "MLBR": CRC at 16 over 0..15 (before MQTT commands) */
#define REC_MAGIC2 0x32424C4Du /* "MLB2": + the MQTT command in flight, CRC at 28 over 0..27 */
#define REC_ID_OFF 16u

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static enum hal_flash_region slot_region(uint8_t slot)
{
    return slot == 0u ? HAL_FLASH_FW_A : HAL_FLASH_FW_B;
}

const char *sc_fw_slot_name(uint8_t slot)
{
    return slot == 0u ? "A" : slot == 1u ? "B" : "factory";
}

static uint32_t slot_size(uint8_t slot)
{
    struct hal_flash_info info;
    return hal_flash_get_info(slot_region(slot), &info) == ML_OK ? info.size : 0u;
}

/* Program @p len bytes at @p off, one program unit per call. */
static int flash_write(enum hal_flash_region r, uint32_t off, const uint8_t *p, size_t len)
{
    struct hal_flash_info info;
    int err = hal_flash_get_info(r, &info);
    if (err < 0) {
        return err;
    }
    uint32_t unit = info.write_unit == 0u ? 256u : info.write_unit;
    while (len > 0u) {
        size_t n = unit - off % unit;
        if (n > len) {
            n = len;
        }
        err = hal_flash_write(r, off, p, n);
        if (err < 0) {
            return err;
        }
        p += n;
        off += (uint32_t)n;
        len -= n;
    }
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* Boot record                                                               */
/* ------------------------------------------------------------------------- */

static void record_load(struct sc_fw *fw)
{
    struct hal_flash_info info;
    fw->active = SC_FW_SLOT_FACTORY;
    fw->prev = SC_FW_SLOT_FACTORY;
    fw->pending = SC_FW_SLOT_FACTORY;
    fw->trial = false;
    fw->tries = 0;
    fw->result = SC_FW_RES_NONE;
    fw->log_off = 0;
    fw->seq = 0;
    fw->cmd_kind = SC_CMD_NONE;
    fw->cmd_id[0] = '\0';
    if (hal_flash_get_info(HAL_FLASH_BOOT, &info) < 0) {
        return;
    }
    for (uint32_t off = 0; off + REC_SIZE <= info.size; off += REC_SIZE) {
        uint8_t r[REC_SIZE];
        if (hal_flash_read(HAL_FLASH_BOOT, off, r, sizeof r) < 0) {
            return;
        }
        if (get32(r) == 0xFFFFFFFFu) {
            fw->log_off = off; /* first erased record: the end of the log */
            return;
        }
        fw->log_off = off + REC_SIZE;
        bool v1 = get32(r) == REC_MAGIC && get32(&r[16]) == ml_crc32(ML_CRC32_INIT, r, 16);
        bool v2 = get32(r) == REC_MAGIC2 && get32(&r[28]) == ml_crc32(ML_CRC32_INIT, r, 28);
        if (!v1 && !v2) {
            continue; /* a torn record: skip it, the previous one stays in force */
        }
        fw->cmd_kind = v2 ? r[14] : (uint8_t)SC_CMD_NONE;
        for (size_t i = 0; i < SC_CMD_ID_MAX - 1u; i++) {
            fw->cmd_id[i] = v2 ? (char)r[REC_ID_OFF + i] : '\0';
        }
        fw->cmd_id[SC_CMD_ID_MAX - 1u] = '\0';
        fw->seq = get32(&r[4]);
        fw->active = r[8];
        fw->prev = r[9];
        fw->pending = r[10];
        fw->trial = (r[11] & 1u) != 0u;
        fw->tries = r[12];
        fw->result = r[13];
    }
}

static void record_save(struct sc_fw *fw)
{
    struct hal_flash_info info;
    if (hal_flash_get_info(HAL_FLASH_BOOT, &info) < 0) {
        return;
    }
    if (fw->log_off + REC_SIZE > info.size) {
        hal_flash_erase(HAL_FLASH_BOOT, 0, info.size);
        fw->log_off = 0;
    }
    uint8_t r[REC_SIZE];
    for (size_t i = 0; i < sizeof r; i++) {
        r[i] = 0xFF;
    }
    fw->seq++;
    put32(r, REC_MAGIC2);
    put32(&r[4], fw->seq);
    r[8] = fw->active;
    r[9] = fw->prev;
    r[10] = fw->pending;
    r[11] = fw->trial ? 1u : 0u;
    r[12] = fw->tries;
    r[13] = fw->result;
    r[14] = fw->cmd_kind;
    r[15] = 0;
    for (size_t i = 0; i < SC_CMD_ID_MAX - 1u; i++) {
        r[REC_ID_OFF + i] = (uint8_t)fw->cmd_id[i];
    }
    put32(&r[28], ml_crc32(ML_CRC32_INIT, r, 28));
    if (flash_write(HAL_FLASH_BOOT, fw->log_off, r, sizeof r) == ML_OK) {
        fw->log_off += REC_SIZE;
    }
}

/* ------------------------------------------------------------------------- */
/* Image header                                                              */
/* ------------------------------------------------------------------------- */

/*
 * Check a header's form (not its signature); copy the version out and set
 * @p len to the payload length. @return NULL or what is wrong.
 */
static const char *header_check(const uint8_t *h, uint32_t max_payload, char *version,
                                uint32_t *len)
{
    if (get32(h) != SC_FW_MAGIC) {
        return "bad image header";
    }
    if (get32(&h[4]) == 1u) {
        return "unsigned image (header version 1): sign it with meterlab fw-sign";
    }
    if (get32(&h[4]) != SC_FW_HDR_VERSION) {
        return "bad image header";
    }
    *len = get32(&h[8]);
    if (*len == 0u || *len > max_payload) {
        return "bad image header";
    }
    size_t n = 0;
    while (n < SC_FW_VERSION_MAX && h[12u + n] != 0u) {
        if (h[12u + n] < 0x20u || h[12u + n] >= 0x7Fu || h[12u + n] == '"' || h[12u + n] == '\\') {
            return "bad image header";
        }
        n++;
    }
    if (n == 0u || n >= SC_FW_VERSION_MAX) {
        return "bad image header";
    }
    for (size_t i = 0; i <= n; i++) {
        version[i] = (char)h[12u + i];
    }
    return 0;
}

/* Check a header's signature with the built-in key. @return NULL or what is wrong. */
static const char *header_auth(const uint8_t *h)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < 4u; i++) {
        diff |= (uint8_t)(h[60u + i] ^ sc_fw_pubkey[i]);
    }
    if (diff != 0u) {
        return "image signed by another key";
    }
    if (!ml_ed25519_verify(&h[SC_FW_HDR_SIGNED], h, SC_FW_HDR_SIGNED, sc_fw_pubkey)) {
        return "bad image signature";
    }
    return 0;
}

/* Verify the image in @p slot completely (header, signature and SHA-256). */
static bool slot_verify(uint8_t slot, char *version)
{
    uint8_t h[SC_FW_HDR_SIZE];
    uint32_t size = slot_size(slot);
    if (size <= SC_FW_HDR_SIZE || hal_flash_read(slot_region(slot), 0, h, sizeof h) < 0) {
        return false;
    }
    uint32_t len;
    if (header_check(h, size - SC_FW_HDR_SIZE, version, &len) != 0 || header_auth(h) != 0) {
        return false;
    }
    struct ml_sha256 sha;
    ml_sha256_init(&sha);
    uint8_t buf[256];
    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off < sizeof buf ? len - off : sizeof buf;
        if (hal_flash_read(slot_region(slot), SC_FW_HDR_SIZE + off, buf, n) < 0) {
            return false;
        }
        ml_sha256_update(&sha, buf, n);
        off += n;
    }
    uint8_t d[ML_SHA256_SIZE];
    ml_sha256_final(&sha, d);
    uint8_t diff = 0;
    for (size_t i = 0; i < sizeof d; i++) {
        diff |= (uint8_t)(d[i] ^ h[28u + i]);
    }
    return diff == 0u;
}

/* ------------------------------------------------------------------------- */
/* Boot, confirm, rollback                                                   */
/* ------------------------------------------------------------------------- */

void sc_fw_boot(struct sc_app *app, uint64_t now)
{
    (void)now;
    struct sc_fw *fw = &app->fw;
    record_load(fw);
    char version[SC_FW_VERSION_MAX];
    if (fw->pending != SC_FW_SLOT_FACTORY) {
        /* an image waits: boot it in trial (the bootloader verifies it first) */
        if (slot_verify(fw->pending, version)) {
            fw->prev = fw->active;
            fw->active = fw->pending;
            fw->trial = true;
            fw->tries = (uint8_t)(fw->tries + 1u);
            fw->result = SC_FW_RES_TRIAL;
        } else {
            fw->result = SC_FW_RES_REJECTED;
        }
        fw->pending = SC_FW_SLOT_FACTORY;
        record_save(fw);
    } else if (fw->trial) {
        /* rebooted before the trial image confirmed itself: roll back */
        fw->active = fw->prev;
        fw->prev = SC_FW_SLOT_FACTORY;
        fw->trial = false;
        fw->result = SC_FW_RES_ROLLED_BACK;
        record_save(fw);
    }
    if (fw->active != SC_FW_SLOT_FACTORY && !slot_verify(fw->active, version)) {
        fw->active = SC_FW_SLOT_FACTORY; /* the bootloader falls back to the factory image */
    }
    ml_str_copy(fw->version, sizeof fw->version,
                fw->active == SC_FW_SLOT_FACTORY ? ML_FW_VERSION : version);
}

/* Healthy enough to keep the trial image: after an MQTT firmware command the
 * image must also have reached the broker again (the channel that installed it). */
static bool trial_healthy(const struct sc_app *app)
{
    return app->fw.cmd_kind != SC_CMD_FIRMWARE || app->status.mqtt == HAL_MQTT_CONNECTED;
}

void sc_fw_poll(struct sc_app *app, uint64_t now)
{
    struct sc_fw *fw = &app->fw;
    if (fw->trial && now - app->boot_ms >= SC_FW_CONFIRM_MS && trial_healthy(app)) {
        fw->trial = false;
        fw->tries = 0;
        fw->result = SC_FW_RES_INSTALLED;
        record_save(fw);
    } else if (fw->trial && now - app->boot_ms >= SC_FW_TRIAL_MAX_MS) {
        hal_sys_reboot(); /* never became healthy: the next boot rolls back */
    }
}

uint64_t sc_fw_next_deadline(const struct sc_app *app)
{
    if (!app->fw.trial) {
        return UINT64_MAX;
    }
    uint64_t t = app->boot_ms + SC_FW_CONFIRM_MS;
    return hal_time_ms() < t || trial_healthy(app) ? t : app->boot_ms + SC_FW_TRIAL_MAX_MS;
}

void sc_fw_cmd_save(struct sc_app *app, uint8_t kind, const char *id)
{
    struct sc_fw *fw = &app->fw;
    fw->cmd_kind = kind;
    for (size_t i = 0; i < SC_CMD_ID_MAX; i++) {
        fw->cmd_id[i] = '\0';
    }
    ml_str_copy(fw->cmd_id, sizeof fw->cmd_id, id != 0 ? id : "");
    record_save(fw);
}

/* ------------------------------------------------------------------------- */
/* Upload                                                                    */
/* ------------------------------------------------------------------------- */

static int up_fail(struct sc_fw *fw, int err, const char *why)
{
    fw->up_active = false;
    fw->up_failed = true;
    fw->up_error = why;
    fw->result = SC_FW_RES_REJECTED;
    return err;
}

void sc_fw_upload_abort(struct sc_app *app)
{
    if (app->fw.up_active) {
        app->fw.up_active = false;
        app->fw.up_failed = true;
        app->fw.up_error = "upload interrupted";
    }
}

/* The slot an upload goes to: neither the running nor the pending one (or none). */
static uint8_t free_slot(const struct sc_fw *fw)
{
    for (uint8_t slot = 0; slot < 2u; slot++) {
        if (slot != fw->active && slot != fw->pending) {
            return slot;
        }
    }
    return SC_FW_SLOT_FACTORY;
}

/* Erase the upload slot's units up to byte @p end, one unit at a time as the data
 * reaches it, each on a fresh watchdog period: a sector erase blocks the loop (up to
 * 2 s for 128 KiB on the STM32F405) and a whole slot at once would outlast the
 * watchdog (ML_FLASH_* in ml_config.h). */
static int erase_upto(struct sc_fw *fw, uint32_t end)
{
    struct hal_flash_info info;
    enum hal_flash_region r = slot_region(fw->up_slot);
    int err = hal_flash_get_info(r, &info);
    if (err < 0) {
        return err;
    }
    while (fw->up_erased < end) {
        hal_sys_watchdog_kick();
        err = hal_flash_erase(r, fw->up_erased, info.erase_unit);
        if (err < 0) {
            return err;
        }
        fw->up_erased += info.erase_unit;
    }
    return ML_OK;
}

int sc_fw_upload(struct sc_app *app, uint32_t content_length, const uint8_t *chunk, size_t len)
{
    struct sc_fw *fw = &app->fw;
    if (!fw->up_active) {
        /* a new upload: a free slot (never the running one, never a trial, never the pending one)
         */
        fw->up_failed = false;
        fw->up_error = 0;
        if (fw->trial) {
            return up_fail(fw, ML_EBUSY, "a trial image runs: wait until it is confirmed");
        }
        fw->up_slot = free_slot(fw);
        if (fw->up_slot == SC_FW_SLOT_FACTORY) {
            return up_fail(fw, ML_EBUSY,
                           "an image is pending and the other slot runs: install it first (reset)");
        }
        uint32_t size = slot_size(fw->up_slot);
        if (content_length <= SC_FW_HDR_SIZE || content_length > size) {
            return up_fail(fw, ML_EINVAL, "image size out of range");
        }
        fw->up_active = true;
        fw->up_got = 0;
        fw->up_len = 0;
        ml_sha256_init(&fw->up_sha);
    }
    if (len == 0u) {
        /* end of body */
        fw->up_active = false;
        if (fw->up_got != content_length || fw->up_got < SC_FW_HDR_SIZE) {
            return up_fail(fw, ML_EINVAL, "image truncated");
        }
        uint8_t d[ML_SHA256_SIZE];
        ml_sha256_final(&fw->up_sha, d);
        uint8_t diff = 0;
        for (size_t i = 0; i < sizeof d; i++) {
            diff |= (uint8_t)(d[i] ^ fw->up_hdr[28u + i]);
        }
        if (diff != 0u) {
            return up_fail(fw, ML_EINVAL, "sha256 mismatch");
        }
        /* commit: header last, then the boot record names the slot pending */
        if (flash_write(slot_region(fw->up_slot), 0, fw->up_hdr, SC_FW_HDR_SIZE) < 0) {
            return up_fail(fw, ML_EIO, "flash write failed");
        }
        fw->pending = fw->up_slot;
        fw->result = SC_FW_RES_PENDING;
        record_save(fw);
        return ML_OK;
    }
    size_t i = 0;
    while (i < len && fw->up_got < SC_FW_HDR_SIZE) {
        fw->up_hdr[fw->up_got++] = chunk[i++];
        if (fw->up_got == SC_FW_HDR_SIZE) {
            char version[SC_FW_VERSION_MAX];
            uint32_t pl;
            const char *why =
                header_check(fw->up_hdr, slot_size(fw->up_slot) - SC_FW_HDR_SIZE, version, &pl);
            if (why != 0) {
                return up_fail(fw, ML_EINVAL, why);
            }
            if (pl != content_length - SC_FW_HDR_SIZE) {
                return up_fail(fw, ML_EINVAL, "payload length does not match the header");
            }
            why = header_auth(fw->up_hdr); /* before any flash is touched */
            if (why != 0) {
                return up_fail(fw, ML_EINVAL, why);
            }
            fw->up_len = pl;
            fw->up_erased = 0; /* an unused slot (neither running nor pending) */
        }
    }
    if (i < len) {
        ml_sha256_update(&fw->up_sha, chunk + i, len - i);
        if (erase_upto(fw, fw->up_got + (uint32_t)(len - i)) < 0) {
            return up_fail(fw, ML_EIO, "flash erase failed");
        }
        if (flash_write(slot_region(fw->up_slot), fw->up_got, chunk + i, len - i) < 0) {
            return up_fail(fw, ML_EIO, "flash write failed");
        }
        fw->up_got += (uint32_t)(len - i);
    }
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* GET /api/v1/firmware                                                      */
/* ------------------------------------------------------------------------- */

static const char *result_name(uint8_t r)
{
    switch (r) {
    case SC_FW_RES_PENDING:
        return "pending";
    case SC_FW_RES_TRIAL:
        return "trial";
    case SC_FW_RES_INSTALLED:
        return "installed";
    case SC_FW_RES_ROLLED_BACK:
        return "rolled back";
    case SC_FW_RES_REJECTED:
        return "rejected";
    default:
        return "none";
    }
}

void sc_fw_render(const struct sc_app *app, struct ml_text *w)
{
    const struct sc_fw *fw = &app->fw;
    ml_text_put(w, "{\"Version\":");
    ml_text_json_str(w, fw->version, ml_str_len(fw->version));
    ml_text_put(w, ",\"Slot\":\"");
    ml_text_put(w, sc_fw_slot_name(fw->active));
    ml_text_put(w, "\",\"State\":\"");
    ml_text_put(w, fw->trial ? "trial" : "confirmed");
    ml_text_put(w, "\",\"LastResult\":\"");
    ml_text_put(w, result_name(fw->result));
    ml_text_put(w, "\",\"Pending\":");
    if (fw->pending != SC_FW_SLOT_FACTORY) {
        char v[SC_FW_VERSION_MAX];
        uint8_t h[SC_FW_HDR_SIZE];
        v[0] = '\0';
        uint32_t pl;
        if (hal_flash_read(slot_region(fw->pending), 0, h, sizeof h) == ML_OK) {
            if (header_check(h, slot_size(fw->pending), v, &pl) != 0) {
                v[0] = '\0';
            }
        }
        ml_text_put(w, "{\"Slot\":\"");
        ml_text_put(w, sc_fw_slot_name(fw->pending));
        ml_text_put(w, "\",\"Version\":");
        ml_text_json_str(w, v, ml_str_len(v));
        ml_text_put(w, "}");
    } else {
        ml_text_put(w, "null");
    }
    ml_text_put(w, ",\"Error\":");
    if (fw->up_failed && fw->up_error != 0) {
        ml_text_json_str(w, fw->up_error, ml_str_len(fw->up_error));
    } else {
        ml_text_put(w, "null");
    }
    ml_text_put(w, ",\"MaxImageSize\":");
    ml_text_u64(w, slot_size(fw->active == 0u ? 1u : 0u));
    ml_text_put(w, "}\n");
}
