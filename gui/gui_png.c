/*
 * Minimal PNG writer (8-bit RGB, filter 0, zlib from the SDL2_ttf/freetype
 * dependency chain) so screenshots for docs stay small; BMP comes from SDL.
 */
#include "gui_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len)
{
    uint8_t hdr[8];
    put32(hdr, len);
    memcpy(hdr + 4, type, 4);
    uLong crc = crc32(0L, hdr + 4, 4);
    if (len > 0) {
        crc = crc32(crc, data, len);
    }
    uint8_t tail[4];
    put32(tail, (uint32_t)crc);
    if (fwrite(hdr, 1, 8, f) != 8 || (len > 0 && fwrite(data, 1, len, f) != len) ||
        fwrite(tail, 1, 4, f) != 4) {
        return -1;
    }
    return 0;
}

int gui_png_write(const char *path, const uint32_t *argb, int w, int h, int pitch_px)
{
    size_t raw_len = (size_t)h * (1 + (size_t)w * 3);
    uint8_t *raw = malloc(raw_len);
    uLongf z_len = compressBound((uLong)raw_len);
    uint8_t *z = malloc(z_len);
    int rc = -1;
    FILE *f = NULL;
    if (raw == NULL || z == NULL) {
        goto out;
    }
    uint8_t *q = raw;
    for (int yy = 0; yy < h; yy++) {
        *q++ = 0; /* filter: none */
        const uint32_t *row = argb + (size_t)yy * (size_t)pitch_px;
        for (int xx = 0; xx < w; xx++) {
            *q++ = (uint8_t)(row[xx] >> 16);
            *q++ = (uint8_t)(row[xx] >> 8);
            *q++ = (uint8_t)row[xx];
        }
    }
    if (compress2(z, &z_len, raw, (uLong)raw_len, 9) != Z_OK) {
        goto out;
    }
    f = fopen(path, "wb");
    if (f == NULL) {
        goto out;
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13];
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: RGB */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* filter method */
    ihdr[12] = 0; /* no interlace */
    if (fwrite(sig, 1, 8, f) != 8 || chunk(f, "IHDR", ihdr, 13) != 0 ||
        chunk(f, "IDAT", z, (uint32_t)z_len) != 0 || chunk(f, "IEND", NULL, 0) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (f != NULL && fclose(f) != 0) {
        rc = -1;
    }
    free(raw);
    free(z);
    return rc;
}
