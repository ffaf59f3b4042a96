/*
 * Drawing: everything is placed by gui_layout_compute() and drawn with SDL2
 * primitives and SDL2_ttf text (DejaVu). Only reads the model.
 */
#include "gui_priv.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ml_check.h"
#include "ml_config.h"
#include "ml_devices.h"
#include "regmap/regmap.h"
#include "sim.h"
#include "mqtt/mqtt_policy.h"

#define FONT_DIR "/usr/share/fonts/truetype/dejavu/"

/* palette */
#define C_BG         0x1B1F24u
#define C_TOPBAR     0x111418u
#define C_PANEL      0x262B33u
#define C_PANEL_LINE 0x363C46u
#define C_TEXT       0xE6E9EDu
#define C_DIM        0x98A2AEu
#define C_ACCENT     0x5AAFFFu
#define C_OK         0x57D17Au
#define C_BAD        0xFF6B5Eu
#define C_WARN       0xF3B54Au
#define C_BTN        0x39404Bu
#define C_BTN_ON     0xB8433Au
#define C_BTN_OFF    0x2C3139u
#define C_BODY       0xEEF0F2u
#define C_BODY_EDGE  0xB9C0C8u
#define C_INK        0x2B3138u
#define C_INK_DIM    0x6B737Cu
#define C_JACK       0x23272Cu

enum align { LEFT, CENTRE, RIGHT };

/* ------------------------------------------------------------------------- */
/* Fonts and text                                                            */
/* ------------------------------------------------------------------------- */

int gui_fonts_open(struct gui_ui *u)
{
    static const struct {
        const char *file;
        float pt;
    } spec[GUI_FONT_COUNT] = {
        [GUI_FONT_SMALL] = {"DejaVuSans.ttf", 11.5f},
        [GUI_FONT_TEXT] = {"DejaVuSans.ttf", 13.5f},
        [GUI_FONT_BOLD] = {"DejaVuSans-Bold.ttf", 13.5f},
        [GUI_FONT_BIG] = {"DejaVuSans-Bold.ttf", 26.0f},
        [GUI_FONT_MONO] = {"DejaVuSansMono.ttf", 11.5f},
    };
    gui_fonts_close(u);
    for (int i = 0; i < GUI_FONT_COUNT; i++) {
        int pt = (int)(spec[i].pt * u->L.scale + 0.5f);
        char path[256];
        snprintf(path, sizeof path, "%s%s", FONT_DIR, spec[i].file);
        u->font[i] = TTF_OpenFont(path, pt < 6 ? 6 : pt);
        if (u->font[i] == NULL) {
            fprintf(stderr, "meterlab gui: cannot open font %s: %s (install fonts-dejavu-core)\n",
                    path, TTF_GetError());
            return -1;
        }
    }
    u->font_scale = u->L.scale;
    return 0;
}

void gui_text_cache_clear(struct gui_ui *u)
{
    for (size_t i = 0; i < GUI_TEXT_CACHE; i++) {
        if (u->cache[i].tex != NULL) {
            SDL_DestroyTexture(u->cache[i].tex);
        }
        memset(&u->cache[i], 0, sizeof u->cache[i]);
    }
    u->cache_n = 0;
}

void gui_fonts_close(struct gui_ui *u)
{
    gui_text_cache_clear(u);
    for (int i = 0; i < GUI_FONT_COUNT; i++) {
        if (u->font[i] != NULL) {
            TTF_CloseFont(u->font[i]);
            u->font[i] = NULL;
        }
    }
}

static uint32_t fnv(const char *s, int font, uint32_t colour)
{
    uint32_t h = 2166136261u ^ (uint32_t)font ^ (colour * 16777619u);
    for (; *s; s++) {
        h = (h ^ (uint8_t)*s) * 16777619u;
    }
    return h;
}

/* A texture for @p s, from the cache when it was drawn before. The texture is
 * owned by the cache (or, for long strings, freed by the caller: *owned). */
static SDL_Texture *text_tex(struct gui_ui *u, int font, const char *s, uint32_t colour, int *w,
                             int *h, bool *owned)
{
    *owned = false;
    size_t len = strlen(s);
    uint32_t hash = fnv(s, font, colour);
    struct gui_text_entry *slot = NULL;
    if (len < GUI_TEXT_KEY) {
        for (size_t k = 0; k < GUI_TEXT_CACHE; k++) {
            struct gui_text_entry *e = &u->cache[(hash + k) % GUI_TEXT_CACHE];
            if (e->tex == NULL) {
                slot = e;
                break;
            }
            if (e->hash == hash && e->font == font && e->colour == colour &&
                strcmp(e->key, s) == 0) {
                *w = e->w;
                *h = e->h;
                return e->tex;
            }
        }
        if (u->cache_n > GUI_TEXT_CACHE * 3 / 4) {
            /* the strings that change (time, values) fill it: start again */
            gui_text_cache_clear(u);
            slot = &u->cache[hash % GUI_TEXT_CACHE];
        }
    }
    SDL_Color c = {(uint8_t)(colour >> 16), (uint8_t)(colour >> 8), (uint8_t)colour, 255};
    SDL_Surface *surf = TTF_RenderUTF8_Blended(u->font[font], s, c);
    if (surf == NULL) {
        return NULL;
    }
    SDL_Texture *t = SDL_CreateTextureFromSurface(u->ren, surf);
    *w = surf->w;
    *h = surf->h;
    SDL_FreeSurface(surf);
    if (t == NULL) {
        return NULL;
    }
    if (slot != NULL) {
        slot->tex = t;
        slot->hash = hash;
        slot->font = (uint8_t)font;
        slot->colour = colour;
        slot->w = *w;
        slot->h = *h;
        memcpy(slot->key, s, len + 1);
        u->cache_n++;
    } else {
        *owned = true;
    }
    return t;
}

/* Draw @p s with its top at @p y; returns the width drawn. */
static int text(struct gui_ui *u, int font, int x, int y, enum align a, uint32_t colour,
                const char *s)
{
    if (s[0] == '\0') {
        return 0;
    }
    int w, h;
    bool owned;
    SDL_Texture *t = text_tex(u, font, s, colour, &w, &h, &owned);
    if (t == NULL) {
        return 0;
    }
    SDL_Rect d = {a == LEFT ? x : a == CENTRE ? x - w / 2 : x - w, y, w, h};
    SDL_RenderCopy(u->ren, t, NULL, &d);
    if (owned) {
        SDL_DestroyTexture(t);
    }
    return w;
}

static int textf(struct gui_ui *u, int font, int x, int y, enum align a, uint32_t colour,
                 const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int textf(struct gui_ui *u, int font, int x, int y, enum align a, uint32_t colour,
                 const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return text(u, font, x, y, a, colour, buf);
}

static int line_h(struct gui_ui *u, int font)
{
    return TTF_FontLineSkip(u->font[font]);
}

static int text_w(struct gui_ui *u, int font, const char *s)
{
    int w = 0, h = 0;
    TTF_SizeUTF8(u->font[font], s, &w, &h);
    return w;
}

/* ------------------------------------------------------------------------- */
/* Shapes                                                                    */
/* ------------------------------------------------------------------------- */

static void colour(struct gui_ui *u, uint32_t rgb, uint8_t alpha)
{
    SDL_SetRenderDrawBlendMode(u->ren, alpha == 255 ? SDL_BLENDMODE_NONE : SDL_BLENDMODE_BLEND);
    SDL_SetRenderDrawColor(u->ren, (uint8_t)(rgb >> 16), (uint8_t)(rgb >> 8), (uint8_t)rgb, alpha);
}

static void fill(struct gui_ui *u, struct gui_rect r, uint32_t rgb)
{
    colour(u, rgb, 255);
    SDL_Rect s = {r.x, r.y, r.w, r.h};
    SDL_RenderFillRect(u->ren, &s);
}

static void hline(struct gui_ui *u, int x0, int x1, int y)
{
    if (x1 >= x0) {
        SDL_RenderDrawLine(u->ren, x0, y, x1, y);
    }
}

/* Filled rounded rectangle, drawn as scanlines (the current colour). */
static void round_fill_cur(struct gui_ui *u, struct gui_rect r, int rad)
{
    if (rad * 2 > r.h) {
        rad = r.h / 2;
    }
    if (rad * 2 > r.w) {
        rad = r.w / 2;
    }
    for (int yy = 0; yy < r.h; yy++) {
        int inset = 0;
        int dy = yy < rad ? rad - yy : yy >= r.h - rad ? yy - (r.h - rad - 1) : 0;
        if (dy > 0) {
            double f = (double)rad - sqrt((double)rad * rad - ((double)dy - 0.5) * (dy - 0.5));
            inset = (int)(f + 0.5);
        }
        hline(u, r.x + inset, r.x + r.w - 1 - inset, r.y + yy);
    }
}

static void round_fill(struct gui_ui *u, struct gui_rect r, int rad, uint32_t rgb, uint8_t a)
{
    colour(u, rgb, a);
    round_fill_cur(u, r, rad);
}

static struct gui_rect inset(struct gui_rect r, int d)
{
    return (struct gui_rect){r.x + d, r.y + d, r.w - 2 * d, r.h - 2 * d};
}

static void disc(struct gui_ui *u, int cx, int cy, int rad, uint32_t rgb, uint8_t a)
{
    colour(u, rgb, a);
    for (int dy = -rad; dy <= rad; dy++) {
        int dx = (int)sqrt((double)rad * rad - (double)dy * dy);
        hline(u, cx - dx, cx + dx, cy + dy);
    }
}

/* A ring (annulus) of outer radius @p ro and inner @p ri, for glows. */
static void ring(struct gui_ui *u, int cx, int cy, int ro, int ri, uint32_t rgb, uint8_t a)
{
    colour(u, rgb, a);
    for (int dy = -ro; dy <= ro; dy++) {
        int dxo = (int)sqrt((double)ro * ro - (double)dy * dy);
        if (abs(dy) > ri) {
            hline(u, cx - dxo, cx + dxo, cy + dy);
        } else {
            int dxi = (int)sqrt((double)ri * ri - (double)dy * dy);
            hline(u, cx - dxo, cx - dxi - 1, cy + dy);
            hline(u, cx + dxi + 1, cx + dxo, cy + dy);
        }
    }
}

static void thick_line(struct gui_ui *u, int x0, int y0, int x1, int y1, int t, uint32_t rgb)
{
    colour(u, rgb, 255);
    for (int k = -t / 2; k <= t / 2; k++) {
        if (y0 == y1) {
            SDL_RenderDrawLine(u->ren, x0, y0 + k, x1, y1 + k);
        } else {
            SDL_RenderDrawLine(u->ren, x0 + k, y0, x1 + k, y1);
        }
    }
}

static void triangle(struct gui_ui *u, float x0, float y0, float x1, float y1, float x2, float y2,
                     uint32_t rgb)
{
    SDL_Color c = {(uint8_t)(rgb >> 16), (uint8_t)(rgb >> 8), (uint8_t)rgb, 255};
    SDL_Vertex v[3] = {{{x0, y0}, c, {0, 0}}, {{x1, y1}, c, {0, 0}}, {{x2, y2}, c, {0, 0}}};
    SDL_RenderGeometry(u->ren, NULL, v, 3, NULL, 0);
}

static int S(struct gui_ui *u, float v)
{
    return (int)(v * u->L.scale + 0.5f);
}

/* A panel with a title; returns the y below the title. */
static int panel(struct gui_ui *u, struct gui_rect r, const char *title, const char *right)
{
    round_fill(u, r, S(u, 8), C_PANEL, 255);
    int y = r.y + S(u, 7);
    text(u, GUI_FONT_BOLD, r.x + S(u, 10), y, LEFT, C_TEXT, title);
    if (right != NULL) {
        text(u, GUI_FONT_SMALL, r.x + r.w - S(u, 10), y + S(u, 2), RIGHT, C_DIM, right);
    }
    y += line_h(u, GUI_FONT_BOLD) + S(u, 3);
    colour(u, C_PANEL_LINE, 255);
    hline(u, r.x + S(u, 10), r.x + r.w - S(u, 10), y);
    return y + S(u, 5);
}

static void button_box(struct gui_ui *u, struct gui_rect r, uint32_t bg, uint32_t fg,
                       const char *label)
{
    round_fill(u, r, S(u, 6), bg, 255);
    text(u, GUI_FONT_BOLD, r.x + r.w / 2, r.y + (r.h - line_h(u, GUI_FONT_BOLD)) / 2, CENTRE, fg,
         label);
}

/* ------------------------------------------------------------------------- */
/* Values                                                                    */
/* ------------------------------------------------------------------------- */

static bool activity(const struct gui_ui *u, uint64_t at_us)
{
    /* a blink of 120 ms (virtual), at most half a meter interval so it goes off in between */
    uint64_t len = 120000u;
    if (len > u->m->interval_us / 2) {
        len = u->m->interval_us / 2;
    }
    return at_us != 0 && u->m->now_us >= at_us && u->m->now_us - at_us < len;
}

static void fmt_si(char *out, size_t cap, const struct reading *r, enum reading_field f,
                   int decimals, const char *unit, double div)
{
    if (!reading_has(r, f)) {
        snprintf(out, cap, "—");
        return;
    }
    snprintf(out, cap, "%.*f %s", decimals, reading_get_si(r, f) / div, unit);
}

/* ------------------------------------------------------------------------- */
/* Top bar                                                                   */
/* ------------------------------------------------------------------------- */

static const char *product_name(const struct gui_ui *u)
{
    switch (u->m->opt.product) {
    case GUI_PRODUCT_TIC:
        return "Smart TIC Connect";
    case GUI_PRODUCT_P1MB:
        return "P1MB";
    default:
        return "Smart P1/A1 Connect";
    }
}

static bool p1mb(const struct gui_ui *u)
{
    return u->m->opt.product == GUI_PRODUCT_P1MB;
}

static void draw_top(struct gui_ui *u)
{
    const struct gui_layout *L = &u->L;
    fill(u, L->top, C_TOPBAR);
    int y = L->top.y + (L->top.h - line_h(u, GUI_FONT_BOLD)) / 2;
    int x = S(u, 14);
    x += text(u, GUI_FONT_BOLD, x, y, LEFT, C_ACCENT, "meterlab gui");
    if (p1mb(u)) {
        textf(u, GUI_FONT_TEXT, x + S(u, 12), y, LEFT, C_TEXT, "P1MB %s  ·  simulated, firmware %s",
              p1mb_variant_name(u->m->pset.variant), ML_FW_VERSION);
    } else {
        textf(u, GUI_FONT_TEXT, x + S(u, 12), y, LEFT, C_TEXT, "%s  ·  simulated, firmware %s",
              product_name(u), ML_FW_VERSION);
    }
    uint64_t t = u->m->now_us / 100000u; /* tenths */
    int rx = L->w - S(u, 14);
    rx -= text(u, GUI_FONT_SMALL, rx, y + S(u, 2), RIGHT, C_DIM, "F1 help") + S(u, 22);
    rx -= textf(u, GUI_FONT_BOLD, rx, y, RIGHT, u->playing ? C_OK : C_WARN, "%s  %gx",
                u->playing ? "playing" : "paused", u->speed) +
          S(u, 8);
    /* play / pause icon */
    int ih = S(u, 14), iy = L->top.y + (L->top.h - ih) / 2;
    if (u->playing) {
        triangle(u, (float)(rx - ih), (float)iy, (float)(rx - ih), (float)(iy + ih), (float)rx,
                 (float)iy + (float)ih / 2, C_OK);
    } else {
        fill(u, (struct gui_rect){rx - ih, iy, ih / 3, ih}, C_WARN);
        fill(u, (struct gui_rect){rx - ih / 3, iy, ih / 3, ih}, C_WARN);
    }
    rx -= ih + S(u, 22);
    textf(u, GUI_FONT_BOLD, rx, y, RIGHT, C_TEXT, "t = %02u:%02u:%02u.%u", (unsigned)(t / 36000u),
          (unsigned)(t / 600u % 60u), (unsigned)(t / 10u % 60u), (unsigned)(t % 10u));
}

/* ------------------------------------------------------------------------- */
/* Meter side                                                                */
/* ------------------------------------------------------------------------- */

const char *gui_fault_label(enum gui_fault f)
{
    static const char *const labels[GUI_FAULT_COUNT] = {
        "Unplug meter  (U)", "Noisy line  (N)",  "CRC errors  (C)",  "Historic TIC  (H)",
        "Network down  (D)", "Broker down  (B)", "Power cycle  (O)", "Bus garbage  (G)",
    };
    return (unsigned)f < GUI_FAULT_COUNT ? labels[f] : "?";
}

static void meter_port_xy(const struct gui_ui *u, int *x, int *y)
{
    const struct gui_rect *r = &u->L.meter;
    *x = r->x + r->w;
    *y = r->y + (int)((float)r->h * 0.58f);
}

static void draw_meter(struct gui_ui *u)
{
    const struct gui_layout *L = &u->L;
    const struct gui_model *m = u->m;
    bool tic = m->opt.product == GUI_PRODUCT_TIC;
    char right[64];
    snprintf(right, sizeof right, "%s every %.1f s", tic ? "frame" : "telegram",
             (double)m->interval_us / 1e6);
    panel(u, L->meter_panel, "Meter", right);

    /* the meter: a body with an LCD, as on the wall */
    struct gui_rect b = L->meter;
    b.h = (int)((float)b.h * 0.80f);
    round_fill(u, (struct gui_rect){b.x + S(u, 3), b.y + S(u, 4), b.w, b.h}, S(u, 10), 0x14171B,
               255);
    round_fill(u, b, S(u, 10), tic ? 0xBFD46Au : 0xD3D7DCu, 255);
    struct gui_rect lcd = {b.x + S(u, 12), b.y + S(u, 14), b.w - S(u, 24), S(u, 40)};
    round_fill(u, lcd, S(u, 4), 0x9DB39Au, 255);
    char v[48] = "- - - -";
    if (m->have_reading && reading_has(&m->reading, READING_P)) {
        snprintf(v, sizeof v, "%.3f kW", reading_get_si(&m->reading, READING_P) / 1000.0);
    }
    text(u, GUI_FONT_BOLD, lcd.x + lcd.w / 2, lcd.y + (lcd.h - line_h(u, GUI_FONT_BOLD)) / 2,
         CENTRE, 0x1E2A1Eu, v);
    const char *kind = tic ? "Linky (TIC standard)" : "DSMR 5 smart meter";
    if (m->scn.loaded) {
        static const char *const pn[ML_METER_PROTO_COUNT] = {
            "DSMR 2.2 meter", "DSMR 3.0 meter", "DSMR 4.0 meter",       "DSMR 4.2 meter",
            "DSMR 5 meter",   "e-MUCS meter",   "Linky (TIC standard)", "Linky (TIC historic)"};
        kind = pn[m->scn.s.meter.proto];
    }
    text(u, GUI_FONT_SMALL, b.x + b.w / 2, lcd.y + lcd.h + S(u, 8), CENTRE, C_INK, kind);
    text(u, GUI_FONT_SMALL, b.x + b.w / 2, lcd.y + lcd.h + S(u, 8) + line_h(u, GUI_FONT_SMALL),
         CENTRE, C_INK_DIM, tic ? "TIC" : "P1 port");
    /* its port: where the cable starts */
    int px, py;
    meter_port_xy(u, &px, &py);
    fill(u, (struct gui_rect){px - S(u, 10), py - S(u, 8), S(u, 10), S(u, 16)}, C_JACK);

    /* what is played: the scenario and its step, or the telegram file */
    struct gui_rect sr = L->scn;
    round_fill(u, sr, S(u, 6), 0x1F242Bu, 255);
    int sx = sr.x + S(u, 8), sy = sr.y + S(u, 5), slh = line_h(u, GUI_FONT_SMALL);
    SDL_Rect clip = {sr.x, sr.y, sr.w - S(u, 4), sr.h};
    SDL_RenderSetClipRect(u->ren, &clip);
    if (m->scn.loaded) {
        char what[96];
        text(u, GUI_FONT_BOLD, sx, sy, LEFT, C_ACCENT, m->scn.s.name);
        sy += line_h(u, GUI_FONT_BOLD);
        gui_model_step_text(m, m->scn.step, what, sizeof what);
        if (m->scn.step >= 0) {
            const struct ml_scn_step *st = &m->scn.s.steps[m->scn.step];
            textf(u, GUI_FONT_SMALL, sx, sy, LEFT, C_TEXT, "step %ld/%zu  ·  %.1f s  ·  %s",
                  m->scn.step + 1, m->scn.s.nsteps, (double)m->scn.step_us / 1e6, what);
            sy += slh;
            textf(u, GUI_FONT_SMALL, sx, sy, LEFT, C_DIM, "%s:%d", m->scn.base, st->loc.line);
        } else {
            textf(u, GUI_FONT_SMALL, sx, sy, LEFT, C_TEXT, "%zu steps, %.0f s", m->scn.s.nsteps,
                  m->scn.s.duration_s);
            sy += slh;
            text(u, GUI_FONT_SMALL, sx, sy, LEFT, C_DIM, m->scn.base);
        }
        textf(u, GUI_FONT_SMALL, sr.x + sr.w - S(u, 8), sy, RIGHT, m->scn.ended ? C_WARN : C_DIM,
              "%s", m->scn.ended ? "ended" : "");
    } else {
        const char *base = strrchr(m->telegram_path, '/');
        base = base != NULL ? base + 1 : m->telegram_path;
        text(u, GUI_FONT_BOLD, sx, sy, LEFT, C_TEXT,
             tic ? "Frames in a loop" : "Telegrams in a loop");
        sy += line_h(u, GUI_FONT_BOLD);
        text(u, GUI_FONT_SMALL, sx, sy, LEFT, C_DIM,
             m->fault[GUI_FAULT_HISTORIC] ? "hist-1ph.bin" : base);
        sy += slh;
        textf(u, GUI_FONT_SMALL, sx, sy, LEFT, C_DIM, "sent %u  ·  no scenario loaded",
              (unsigned)m->sent);
    }
    SDL_RenderSetClipRect(u->ren, NULL);

    /* controls */
    button_box(u, L->controls[GUI_CTRL_PLAY], C_BTN, C_TEXT,
               u->playing ? "Pause  (P)" : "Play  (P)");
    button_box(u, L->controls[GUI_CTRL_RESTART], C_BTN, C_TEXT, "Restart  (R)");
    button_box(u, L->controls[GUI_CTRL_SLOWER], C_BTN, C_TEXT, "−");
    button_box(u, L->controls[GUI_CTRL_FASTER], C_BTN, C_TEXT, "+");
    struct gui_rect sl = L->controls[GUI_CTRL_SLOWER], fa = L->controls[GUI_CTRL_FASTER];
    textf(u, GUI_FONT_BOLD, (sl.x + sl.w + fa.x) / 2, sl.y + (sl.h - line_h(u, GUI_FONT_BOLD)) / 2,
          CENTRE, C_TEXT, "speed %gx", u->speed);

    /* faults */
    int fy = L->faults[0].y - line_h(u, GUI_FONT_BOLD) - S(u, 4);
    text(u, GUI_FONT_BOLD, L->faults[0].x, fy, LEFT, C_TEXT, "Faults");
    for (int i = 0; i < GUI_FAULT_COUNT; i++) {
        bool avail = gui_model_fault_available(m, (enum gui_fault)i);
        char label[80];
        snprintf(label, sizeof label, "%s", gui_fault_label((enum gui_fault)i));
        if (!avail && i == GUI_FAULT_HISTORIC) {
            snprintf(label, sizeof label, "Historic TIC  (TIC only)");
        } else if (!avail && i == GUI_FAULT_BROKER_DOWN) {
            snprintf(label, sizeof label, "Broker down  (%s)",
                     p1mb(u)               ? "no MQTT"
                     : m->set.mqtt_enabled ? "own broker only"
                                           : "--mqtt local");
        } else if (!avail && i == GUI_FAULT_NET_DOWN) {
            snprintf(label, sizeof label, "Network down  (no network)");
        } else if (!avail && i == GUI_FAULT_BUS_GARBAGE) {
            snprintf(label, sizeof label, "Bus garbage  (P1MB only)");
        }
        uint32_t bg = !avail ? C_BTN_OFF : m->fault[i] ? C_BTN_ON : C_BTN;
        button_box(u, L->faults[i], bg, avail ? C_TEXT : 0x69717Cu, label);
    }
}

/* ------------------------------------------------------------------------- */
/* The device                                                                */
/* ------------------------------------------------------------------------- */

static void port_label(struct gui_ui *u, int x, int y, enum align a, const char *label, bool on,
                       uint32_t on_colour)
{
    int w = text_w(u, GUI_FONT_SMALL, label);
    int dot = S(u, 8), gap = S(u, 5);
    int x0 = a == LEFT ? x : a == CENTRE ? x - (w + dot + gap) / 2 : x - (w + dot + gap);
    int cy = y + line_h(u, GUI_FONT_SMALL) / 2;
    disc(u, x0 + dot / 2, cy, dot / 2, on ? on_colour : 0x4A515Bu, 255);
    text(u, GUI_FONT_SMALL, x0 + dot + gap, y, LEFT, C_DIM, label);
}

static void rj12(struct gui_ui *u, struct gui_rect r)
{
    round_fill(u, r, S(u, 3), C_JACK, 255);
    struct gui_rect hole = inset(r, S(u, 4));
    fill(u, hole, 0x0C0E10u);
    /* the latch notch */
    fill(u, (struct gui_rect){r.x + r.w / 2 - S(u, 3), r.y + r.h / 2 - S(u, 5), S(u, 6), S(u, 10)},
         C_JACK);
}

/* The cable from the meter: unplugged, it ends short of the port. */
static void meter_cable(struct gui_ui *u, uint32_t cable)
{
    const struct gui_layout *L = &u->L;
    const struct gui_model *m = u->m;
    int mx, my;
    meter_port_xy(u, &mx, &my);
    int ix = L->port_in.x, iy = L->port_in.y + L->port_in.h / 2;
    int elbow = L->meter_panel.x + L->meter_panel.w +
                (L->device_panel.x - (L->meter_panel.x + L->meter_panel.w)) / 2;
    int t = S(u, 4) | 1;
    if (!m->fault[GUI_FAULT_UNPLUG]) {
        thick_line(u, mx, my, elbow, my, t, cable);
        thick_line(u, elbow, my, elbow, iy, t, cable);
        thick_line(u, elbow, iy, ix, iy, t, cable);
        fill(u, (struct gui_rect){ix - S(u, 12), iy - S(u, 6), S(u, 12), S(u, 12)}, cable);
    } else {
        int end = mx + S(u, 26);
        thick_line(u, mx, my, end, my, t, cable);
        fill(u, (struct gui_rect){end, my - S(u, 6), S(u, 12), S(u, 12)}, cable);
        text(u, GUI_FONT_SMALL, mx + S(u, 4), my + S(u, 10), LEFT, C_BAD, "unplugged");
    }
}

/* One of the P1MB's small LEDs, in exactly the colour the firmware set; off, a dark
 * tint of its own colour (as a real LED behind its lens). */
static void small_led(struct gui_ui *u, struct gui_rect r, hal_rgb_t rgb, uint32_t off)
{
    int cx = r.x + r.w / 2, cy = r.y + r.h / 2, rad = r.w / 2;
    if (rgb != 0) {
        for (int k = 0; k < 4; k++) {
            int ro = rad + S(u, 4 + 4 * (float)k), ri = ro - S(u, 4);
            ring(u, cx, cy, ro, ri, rgb, (uint8_t)(80 - 18 * k));
        }
    }
    disc(u, cx, cy, rad + S(u, 3), 0x2A2E33u, 255);
    disc(u, cx, cy, rad, rgb != 0 ? rgb : off, 255);
}

static void draw_p1mb_device(struct gui_ui *u)
{
    const struct gui_layout *L = &u->L;
    struct gui_model *m = u->m;
    char right[64];
    snprintf(right, sizeof right, "SN %s", m->serial);
    panel(u, L->device_panel, "Device: P1MB  (P1 to Modbus RTU)", right);

    /* the DIN rail behind the module */
    struct gui_rect rl = L->rail;
    rl.w = L->charger.x - S(u, 24) - rl.x;
    fill(u, rl, 0xA7AFB8u);
    fill(u, (struct gui_rect){rl.x, rl.y + S(u, 3), rl.w, S(u, 2)}, 0xC9D0D6u);
    fill(u, (struct gui_rect){rl.x, rl.y + rl.h - S(u, 5), rl.w, S(u, 2)}, 0x7D858Eu);
    for (int x = rl.x + S(u, 14); x + S(u, 18) < rl.x + rl.w; x += S(u, 40)) {
        round_fill(u, (struct gui_rect){x, rl.y + rl.h / 2 - S(u, 4), S(u, 18), S(u, 8)}, S(u, 4),
                   0x6F7780u, 255);
    }
    meter_cable(u, 0x9AA3ADu);

    /* RS485 pair to the charger */
    struct gui_rect tb = L->port_out, ch = L->charger;
    int cy = tb.y + tb.h / 2, t = S(u, 3) | 1;
    thick_line(u, tb.x + tb.w, cy - S(u, 5), ch.x, cy - S(u, 5), t, 0x3E6FB0u);
    thick_line(u, tb.x + tb.w, cy + S(u, 5), ch.x, cy + S(u, 5), t, 0xE6E9EDu);

    /* the module: grey housing, terminal covers top and bottom, a front window */
    struct gui_rect b = L->device;
    round_fill(u, (struct gui_rect){b.x + S(u, 4), b.y + S(u, 6), b.w, b.h}, S(u, 6), 0x101316u,
               255);
    round_fill(u, b, S(u, 6), C_BODY_EDGE, 255);
    round_fill(u, inset(b, S(u, 2)), S(u, 5), 0xE4E7EAu, 255);
    int cov = (int)((float)b.h * 0.17f);
    fill(u, (struct gui_rect){b.x + S(u, 2), b.y + S(u, 2), b.w - S(u, 4), cov}, 0xD2D6DBu);
    fill(u, (struct gui_rect){b.x + S(u, 2), b.y + b.h - cov - S(u, 2), b.w - S(u, 4), cov},
         0xD2D6DBu);
    for (int k = 0; k < 3; k++) {
        /* screw heads of the unused top terminals */
        int sx = b.x + b.w * (2 * k + 3) / 8;
        disc(u, sx, b.y + cov / 2 + S(u, 2), S(u, 5), 0x9AA1A9u, 255);
        fill(u, (struct gui_rect){sx - S(u, 4), b.y + cov / 2 + S(u, 1), S(u, 8), S(u, 2)},
             0x5B636Cu);
    }
    int fy = b.y + cov + S(u, 8);
    text(u, GUI_FONT_BOLD, b.x + S(u, 24), fy, LEFT, C_INK, "P1MB");
    textf(u, GUI_FONT_SMALL, b.x + S(u, 24), fy + line_h(u, GUI_FONT_BOLD), LEFT, C_INK_DIM,
          "map: %s", p1mb_variant_name(m->pset.variant));

    /* the three LEDs with their labels */
    static const struct {
        enum hal_led_id id;
        const char *name;
        uint32_t off;
    } leds[3] = {{HAL_LED_PWR, "PWR", 0x57552Eu},
                 {HAL_LED_P1, "P1", 0x2E5234u},
                 {HAL_LED_485, "485", 0x5A2F2Fu}};
    const struct gui_rect *lr[3] = {&L->led_pwr, &L->led_p1, &L->led_485};
    for (int i = 0; i < 3; i++) {
        small_led(u, *lr[i], sim_led_get(leds[i].id) & 0xFFFFFFu, leds[i].off);
        text(u, GUI_FONT_BOLD, lr[i]->x + lr[i]->w + S(u, 12),
             lr[i]->y + (lr[i]->h - line_h(u, GUI_FONT_BOLD)) / 2, LEFT, C_INK, leds[i].name);
    }

    /* P1 in (RJ12, left) and the RS485 terminal block (A, B, GND) */
    rj12(u, L->port_in);
    port_label(u, L->port_in.x - S(u, 2), L->port_in.y - line_h(u, GUI_FONT_SMALL) - S(u, 4), RIGHT,
               "P1 in", activity(u, m->act_in_us), m->act_in_bad ? C_BAD : C_WARN);
    round_fill(u, tb, S(u, 3), 0x2F8F46u, 255);
    for (int k = 0; k < 3; k++) {
        int sy = tb.y + tb.h * (2 * k + 1) / 6;
        disc(u, tb.x + tb.w / 2, sy, tb.h / 8, 0x9AA3ADu, 255);
        fill(u, (struct gui_rect){tb.x + tb.w / 2 - tb.h / 10, sy - S(u, 1), tb.h / 5, S(u, 2)},
             0x4A515Bu);
    }
    static const char *const pins[3] = {"A", "B", "GND"};
    for (int k = 0; k < 3; k++) {
        int sy = tb.y + tb.h * (2 * k + 1) / 6;
        text(u, GUI_FONT_SMALL, tb.x - S(u, 4), sy - line_h(u, GUI_FONT_SMALL) / 2, RIGHT,
             C_INK_DIM, pins[k]);
    }
    bool act485 =
        m->act_485_us != 0 && m->now_us >= m->act_485_us && m->now_us - m->act_485_us < 120000u;
    port_label(u, tb.x + tb.w + S(u, 6), cy - S(u, 9) - line_h(u, GUI_FONT_SMALL), LEFT, "RS485",
               act485, m->act_485_bad ? C_BAD : C_WARN);

    /* the charger: a Modbus RTU master polling the P1MB */
    const struct gui_charger *c = &m->ch;
    round_fill(u, (struct gui_rect){ch.x + S(u, 3), ch.y + S(u, 4), ch.w, ch.h}, S(u, 10),
               0x101316u, 255);
    round_fill(u, ch, S(u, 10), 0x3A424Du, 255);
    round_fill(u, inset(ch, S(u, 3)), S(u, 8), 0x2C333Cu, 255);
    int cx = ch.x + ch.w / 2, yy = ch.y + S(u, 10);
    text(u, GUI_FONT_BOLD, cx, yy, CENTRE, C_TEXT, "Charger");
    yy += line_h(u, GUI_FONT_BOLD);
    text(u, GUI_FONT_SMALL, cx, yy, CENTRE, C_DIM, "RTU master");
    yy += line_h(u, GUI_FONT_SMALL) + S(u, 8);
    struct gui_rect disp = {ch.x + S(u, 10), yy, ch.w - S(u, 20), S(u, 34)};
    round_fill(u, disp, S(u, 4), 0x0F2A1Fu, 255);
    char v[64] = "- - -";
    if (c->have_value) {
        snprintf(v, sizeof v, "%s", c->value);
    }
    text(u, GUI_FONT_BOLD, cx, disp.y + (disp.h - line_h(u, GUI_FONT_BOLD)) / 2, CENTRE,
         c->have_value ? 0x7CF2A2u : 0x4F7A63u, v);
    yy = disp.y + disp.h + S(u, 6);
    text(u, GUI_FONT_SMALL, cx, yy, CENTRE, C_DIM, "reads P total");
    yy += line_h(u, GUI_FONT_SMALL);
    textf(u, GUI_FONT_SMALL, cx, yy, CENTRE, C_DIM, "every 1 s, addr %u", (unsigned)c->unit);
    /* its charging-cable socket */
    disc(u, cx, ch.y + ch.h - S(u, 22), S(u, 12), 0x1B1F24u, 255);
    disc(u, cx, ch.y + ch.h - S(u, 22), S(u, 8), 0x4A515Bu, 255);

    /* under the module: the LED states in words */
    int y = b.y + b.h + S(u, 30);
    int px = L->device_panel.x + L->device_panel.w / 2;
    text(u, GUI_FONT_BOLD, px, y, CENTRE, C_TEXT, gui_p1_led_text(m->pst.p1_led));
    y += line_h(u, GUI_FONT_BOLD) + S(u, 2);
    text(u, GUI_FONT_BOLD, px, y, CENTRE, m->pst.rs485_led == P1MB_485_LED_BLINK ? C_BAD : C_TEXT,
         m->pst.rs485_led == P1MB_485_LED_BLINK
             ? gui_485_led_text(m->pst.rs485_led)
             : (c->replies > 0 ? "485 LED: flashes 100 ms on each request for it"
                               : gui_485_led_text(m->pst.rs485_led)));
    y += line_h(u, GUI_FONT_BOLD) + S(u, 2);
    text(u, GUI_FONT_SMALL, px, y, CENTRE, C_DIM,
         "PWR yellow: powered  ·  9600 8E1, address 16 (factory settings)");
}

static void draw_device(struct gui_ui *u)
{
    if (p1mb(u)) {
        draw_p1mb_device(u);
        return;
    }
    const struct gui_layout *L = &u->L;
    struct gui_model *m = u->m;
    bool tic = m->opt.product == GUI_PRODUCT_TIC;
    char title[64];
    snprintf(title, sizeof title, "Device: %s", product_name(u));
    char sn[48];
    snprintf(sn, sizeof sn, "SN %s", m->serial);
    panel(u, L->device_panel, title, sn);

    meter_cable(u, tic ? 0x3F7F54u : 0x9AA3ADu);

    /* body with a shadow */
    struct gui_rect b = L->device;
    round_fill(u, (struct gui_rect){b.x + S(u, 4), b.y + S(u, 6), b.w, b.h}, S(u, 16), 0x101316u,
               255);
    round_fill(u, b, S(u, 16), C_BODY_EDGE, 255);
    round_fill(u, inset(b, S(u, 2)), S(u, 14), C_BODY, 255);
    text(u, GUI_FONT_BOLD, b.x + S(u, 14), b.y + S(u, 10), LEFT, C_INK, product_name(u));
    text(u, GUI_FONT_SMALL, b.x + S(u, 14), b.y + S(u, 10) + line_h(u, GUI_FONT_BOLD), LEFT,
         C_INK_DIM, "xemex · meterlab sim");

    /* ports */
    bool in_act = activity(u, m->act_in_us);
    if (tic) {
        struct gui_rect p = L->port_in;
        round_fill(u, p, S(u, 3), 0x2F8F46u, 255);
        disc(u, p.x + p.w / 2, p.y + p.h / 4 + S(u, 1), p.w / 4, 0x9AA3ADu, 255);
        disc(u, p.x + p.w / 2, p.y + p.h * 3 / 4 - S(u, 1), p.w / 4, 0x9AA3ADu, 255);
        port_label(u, p.x - S(u, 2), p.y - line_h(u, GUI_FONT_SMALL) - S(u, 4), RIGHT, "TIC",
                   in_act, m->act_in_bad ? C_BAD : C_WARN);
    } else {
        rj12(u, L->port_in);
        rj12(u, L->port_out);
        /* labels outside the body, above the jacks, with their activity dots */
        int ly = L->port_in.y - line_h(u, GUI_FONT_SMALL) - S(u, 4);
        port_label(u, L->port_in.x - S(u, 2), ly, RIGHT, "P1 in", in_act,
                   m->act_in_bad ? C_BAD : C_WARN);
        port_label(u, L->port_out.x + L->port_out.w + S(u, 2), ly, LEFT, "P1 ext",
                   activity(u, m->act_out_us), C_WARN);
    }
    struct sim_net_model net;
    sim_net_get(&net);
    struct gui_rect e = L->port_eth;
    round_fill(u, e, S(u, 3), 0xB5BCC4u, 255);
    fill(u, inset(e, S(u, 4)), 0x0C0E10u);
    fill(u, (struct gui_rect){e.x + e.w / 2 - S(u, 6), e.y + e.h - S(u, 8), S(u, 12), S(u, 4)},
         0xB5BCC4u);
    /* the jack's own LEDs: link (green) and activity (amber) */
    fill(u, (struct gui_rect){e.x + S(u, 5), e.y + S(u, 5), S(u, 7), S(u, 5)},
         net.link_up[HAL_NET_ETH] ? 0x3BD16Fu : 0x2A2E33u);
    fill(u, (struct gui_rect){e.x + e.w - S(u, 12), e.y + S(u, 5), S(u, 7), S(u, 5)},
         activity(u, m->act_eth_us) ? 0xF3B54Au : 0x2A2E33u);
    text(u, GUI_FONT_SMALL, e.x + e.w / 2, e.y + e.h + S(u, 3), CENTRE, C_DIM, "Ethernet");
    struct gui_rect usb = L->port_usb;
    round_fill(u, usb, usb.h / 2, C_JACK, 255);
    round_fill(u, inset(usb, S(u, 3)), S(u, 3), 0x4A515Bu, 255);
    text(u, GUI_FONT_SMALL, usb.x + usb.w / 2, e.y + e.h + S(u, 3), CENTRE, C_DIM, "USB-C 5 V");

    /* the backlit button: the status LED shines through it */
    hal_rgb_t led = sim_led_get(HAL_LED_STATUS) & 0xFFFFFFu;
    struct gui_rect bt = L->button, ld = L->led;
    int cx = ld.x + ld.w / 2, cy = ld.y + ld.h / 2, lr = ld.w / 2;
    bool pressed = m->button_down;
    if (led != 0) {
        for (int k = 0; k < 6; k++) {
            int ro = bt.w / 2 + S(u, 3 + 4 * (float)k), ri = ro - S(u, 4);
            ring(u, cx, cy, ro, ri, led, (uint8_t)(70 - 11 * k));
        }
    }
    disc(u, cx, cy + S(u, 2), bt.w / 2, 0x9AA1A9u, 255);
    disc(u, cx, cy, bt.w / 2, pressed ? 0x2A2E33u : 0x3B4048u, 255);
    disc(u, cx, cy, lr + S(u, 2), pressed ? 0x15181Bu : 0x23272Cu, 255);
    disc(u, cx, cy, lr, led != 0 ? led : 0x4A4F57u, 255);

    /* under the device: the LED state and the button */
    int y = L->port_eth.y + L->port_eth.h + S(u, 3) + line_h(u, GUI_FONT_SMALL) + S(u, 4);
    int px = L->device_panel.x + L->device_panel.w / 2;
    const struct sc_status *st = &m->st;
    textf(u, GUI_FONT_BOLD, px, y, CENTRE, C_TEXT, "LED  %s", gui_led_state_text(st->led));
    struct gui_rect hb = L->hold_bar;
    hb.y = y + line_h(u, GUI_FONT_BOLD) + S(u, 8);
    double held = pressed ? (double)(m->now_us - m->button_since_us) / 1e6 : 0.0;
    const double span = 12.0;
    round_fill(u, hb, hb.h / 2, 0x3A404Au, 255);
    if (held > 0) {
        double f = held > span ? 1.0 : held / span;
        uint32_t c = held < 2.0    ? C_ACCENT
                     : held < 5.0  ? 0x7D8794u
                     : held < 10.0 ? 0x3E7BFFu
                                   : C_BAD;
        round_fill(u, (struct gui_rect){hb.x, hb.y, (int)(hb.w * f), hb.h}, hb.h / 2, c, 255);
    }
    static const struct {
        double s;
        const char *label;
    } marks[] = {{2.0, "2 s"}, {5.0, "5 s AP"}, {10.0, "10 s reset"}};
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
        int mxk = hb.x + (int)(hb.w * marks[k].s / span);
        fill(u, (struct gui_rect){mxk, hb.y - S(u, 3), S(u, 2), hb.h + S(u, 6)}, C_TEXT);
        text(u, GUI_FONT_SMALL, mxk, hb.y + hb.h + S(u, 3), CENTRE, C_DIM, marks[k].label);
    }
    int ny = hb.y + hb.h + S(u, 5) + line_h(u, GUI_FONT_SMALL);
    if (pressed) {
        textf(u, GUI_FONT_BOLD, px, ny, CENTRE, C_WARN, "button held %.1f s", held);
    } else {
        text(u, GUI_FONT_SMALL, px, ny, CENTRE, C_DIM, "hold the button with the mouse or Space");
    }
}

/* ------------------------------------------------------------------------- */
/* Event log                                                                 */
/* ------------------------------------------------------------------------- */

static void draw_log(struct gui_ui *u)
{
    const struct gui_layout *L = &u->L;
    struct gui_rect r = L->log_panel;
    int y = panel(u, r, "Events", "newest first");
    int lh = line_h(u, GUI_FONT_SMALL);
    for (size_t i = 0; y + lh <= r.y + r.h - S(u, 6); i++) {
        const struct gui_log_line *l = gui_model_log_at(u->m, i);
        if (l == NULL) {
            break;
        }
        static const uint32_t kc[] = {C_TEXT, C_OK, C_BAD, 0xC6A0FFu, C_WARN};
        int x = r.x + S(u, 10);
        textf(u, GUI_FONT_SMALL, x + S(u, 52), y, RIGHT, C_DIM, "%.1f s", (double)l->t_us / 1e6);
        int w = text(u, GUI_FONT_SMALL, x + S(u, 62), y, LEFT, kc[l->kind], l->text);
        if (l->repeat > 1) {
            textf(u, GUI_FONT_SMALL, x + S(u, 68) + w, y, LEFT, C_DIM, "× %u", (unsigned)l->repeat);
        }
        y += lh;
    }
}

/* ------------------------------------------------------------------------- */
/* Outputs                                                                   */
/* ------------------------------------------------------------------------- */

static void draw_values(struct gui_ui *u)
{
    const struct gui_layout *L = &u->L;
    const struct gui_model *m = u->m;
    const struct reading *rd = &m->reading;
    struct gui_rect r = L->values_panel;
    char right[96] = "no telegram yet";
    if (m->have_reading) {
        bool fresh = p1mb(u)
                         ? m->pst.p1_led == P1MB_P1_LED_ON ||
                               (m->pst.have_telegram &&
                                m->now_us / 1000u - m->pst.last_telegram_ms < P1MB_P1_TIMEOUT_MS)
                         : m->st.meter_data;
        snprintf(right, sizeof right, "%s%s", rd->header.s[0] ? rd->header.s : "",
                 fresh ? "" : "  (stale)");
    }
    int y = panel(u, r, "Live values  (last good telegram)", right);
    int x = r.x + S(u, 12);
    char v[64];
    if (!m->have_reading) {
        text(u, GUI_FONT_TEXT, x, y + S(u, 6), LEFT, C_DIM, "waiting for the first good telegram");
        return;
    }
    fmt_si(v, sizeof v, rd, READING_P, 3, "kW", 1000.0);
    text(u, GUI_FONT_SMALL, x, y, LEFT, C_DIM, "P total (import +)");
    text(u, GUI_FONT_BIG, x, y + line_h(u, GUI_FONT_SMALL), LEFT,
         reading_get_si(rd, READING_P) < 0 ? C_OK : C_TEXT, v);
    /* energies on the right of the big number */
    int ex = r.x + r.w / 2 - S(u, 20);
    text(u, GUI_FONT_SMALL, ex, y, LEFT, C_DIM, "E import");
    fmt_si(v, sizeof v, rd, READING_E_IMP, 1, "kWh", 1000.0);
    text(u, GUI_FONT_BOLD, ex, y + line_h(u, GUI_FONT_SMALL), LEFT, C_TEXT, v);
    int ex2 = r.x + r.w * 3 / 4 - S(u, 10);
    text(u, GUI_FONT_SMALL, ex2, y, LEFT, C_DIM, "E export");
    fmt_si(v, sizeof v, rd, READING_E_EXP, 1, "kWh", 1000.0);
    text(u, GUI_FONT_BOLD, ex2, y + line_h(u, GUI_FONT_SMALL), LEFT, C_TEXT, v);
    int y2 = y + line_h(u, GUI_FONT_SMALL) + line_h(u, GUI_FONT_BOLD) + S(u, 2);
    if (reading_has(rd, READING_TARIFF)) {
        textf(u, GUI_FONT_SMALL, ex, y2, LEFT, C_DIM, "tariff %d",
              (int)reading_get_si(rd, READING_TARIFF));
    }
    if (reading_has(rd, READING_GAS)) {
        textf(u, GUI_FONT_SMALL, ex2, y2, LEFT, C_DIM, "gas %.3f m³",
              reading_get_si(rd, READING_GAS));
    }

    /* per phase */
    y += line_h(u, GUI_FONT_SMALL) + line_h(u, GUI_FONT_BIG) + S(u, 8);
    int cols[4] = {x, x + S(u, 70), x + S(u, 190), x + S(u, 310)};
    static const char *const hdr[] = {"phase", "U", "I", "P"};
    for (int c = 0; c < 4; c++) {
        text(u, GUI_FONT_SMALL, cols[c] + (c ? S(u, 90) : 0), y, c ? RIGHT : LEFT, C_DIM, hdr[c]);
    }
    y += line_h(u, GUI_FONT_SMALL);
    int lh = line_h(u, GUI_FONT_TEXT);
    for (int ph = 0; ph < 3 && y + lh <= r.y + r.h - S(u, 4); ph++) {
        textf(u, GUI_FONT_TEXT, cols[0], y, LEFT, C_TEXT, "L%d", ph + 1);
        fmt_si(v, sizeof v, rd, (enum reading_field)(READING_L1_U + ph), 1, "V", 1.0);
        text(u, GUI_FONT_TEXT, cols[1] + S(u, 90), y, RIGHT, C_TEXT, v);
        fmt_si(v, sizeof v, rd, (enum reading_field)(READING_L1_I + ph), 2, "A", 1.0);
        text(u, GUI_FONT_TEXT, cols[2] + S(u, 90), y, RIGHT, C_TEXT, v);
        fmt_si(v, sizeof v, rd, (enum reading_field)(READING_L1_P + ph), 0, "W", 1.0);
        text(u, GUI_FONT_TEXT, cols[3] + S(u, 90), y, RIGHT, C_TEXT, v);
        y += lh;
    }
}

void gui_reg_value(const struct regmap_template *t, const struct regmap_entry *e, const uint16_t *w,
                   char *out, size_t cap)
{
    double v = ml_check_regs_decode(e->type, (uint8_t)regmap_entry_order(t, e), w);
    bool is_float = e->type == REGMAP_F32;
    const char *unit = "";
    if (e->field >= 0) {
        const struct reading_field_info *fi = reading_field_info((enum reading_field)e->field);
        unit = fi != NULL ? fi->unit : "";
    }
    /* floats: about seven significant digits, as a float32 carries */
    int fd = fabs(v) >= 100000.0 ? 0 : fabs(v) >= 1000.0 ? 1 : 3;
    if (e->field < 0 || unit[0] == '\0') {
        snprintf(out, cap, "%.*f", is_float ? fd : 0, v);
        return;
    }
    /* the register's unit is 10^exp10 of the field's SI unit (regmap.h) */
    const char *prefix = e->exp10 == 3 ? "k" : e->exp10 == 6 ? "M" : "";
    if (e->exp10 < 0) {
        int dec = -e->exp10;
        snprintf(out, cap, "%.*f %s", dec, v * pow(10.0, e->exp10), unit);
    } else if (prefix[0] != '\0' || e->exp10 == 0) {
        if (is_float) {
            snprintf(out, cap, "%.*f %s%s", fd, v, prefix, unit);
        } else {
            snprintf(out, cap, "%.0f %s%s", v, prefix, unit);
        }
    } else {
        snprintf(out, cap, "%.0f ×10^%d %s", v, e->exp10, unit);
    }
}

static void draw_regs(struct gui_ui *u)
{
    const struct gui_layout *L = &u->L;
    const struct regmap_snapshot *snap = gui_model_regs(u->m);
    const struct regmap_template *t = snap->tpl;
    struct gui_rect r = L->regs_panel;
    char right[80];
    if (p1mb(u)) {
        snprintf(right, sizeof right, "RTU, address 16");
    } else {
        snprintf(right, sizeof right, "TCP port %u", (unsigned)u->m->st.modbus_port);
    }
    int y = panel(u, r, "Modbus registers", right);
    int x = r.x + S(u, 12);
    if (t == NULL) {
        text(u, GUI_FONT_TEXT, x, y, LEFT, C_DIM, "no template");
        return;
    }
    /* the space with the measurements (the SDM630 keeps only its identity in FC03) */
    const struct regmap_space *sp = t->holding.count > 0 ? &t->holding : &t->input;
    if (t->input.count > t->holding.count) {
        sp = &t->input;
    }
    uint8_t fc = sp == &t->holding ? 0x03 : 0x04;
    textf(u, GUI_FONT_SMALL, x, y, LEFT, C_ACCENT, "%s  ·  FC%02X  ·  %u entries", t->name,
          (unsigned)fc, (unsigned)sp->count);
    y += line_h(u, GUI_FONT_SMALL) + S(u, 2);
    int c_addr = x, c_name = x + S(u, 62), c_val = r.x + r.w - S(u, 12);
    text(u, GUI_FONT_SMALL, c_addr, y, LEFT, C_DIM, "addr");
    text(u, GUI_FONT_SMALL, c_name, y, LEFT, C_DIM, "register");
    text(u, GUI_FONT_SMALL, c_val, y, RIGHT, C_DIM, "value (as read)");
    y += line_h(u, GUI_FONT_SMALL);
    int lh = line_h(u, GUI_FONT_MONO) + S(u, 1);
    int rows = (r.y + r.h - S(u, 6) - y) / lh;
    if (rows < 1) {
        return;
    }
    int max_scroll = (int)sp->count - rows;
    if (u->regs_scroll > max_scroll) {
        u->regs_scroll = max_scroll > 0 ? max_scroll : 0;
    }
    if (u->regs_scroll < 0) {
        u->regs_scroll = 0;
    }
    for (int i = 0; i < rows && u->regs_scroll + i < (int)sp->count; i++) {
        const struct regmap_entry *e = &sp->entries[u->regs_scroll + i];
        uint16_t w[4] = {0};
        regmap_snapshot_read(snap, fc, e->addr, (uint16_t)regmap_entry_words(e), w);
        char name[48], val[64];
        const char *nm = e->name;
        if (nm == NULL) {
            const struct reading_field_info *fi =
                e->field >= 0 ? reading_field_info((enum reading_field)e->field) : NULL;
            nm = fi != NULL ? fi->key : e->field == REGMAP_SRC_PRESENT ? "present" : "const";
        }
        snprintf(name, sizeof name, "%.22s", nm);
        if (strlen(nm) > 22) {
            memcpy(name + 20, "..", 3);
        }
        gui_reg_value(t, e, w, val, sizeof val);
        if (i % 2 == 1) {
            colour(u, 0xFFFFFFu, 8);
            SDL_Rect band = {r.x + S(u, 6), y, r.w - S(u, 12), lh};
            SDL_RenderFillRect(u->ren, &band);
        }
        textf(u, GUI_FONT_MONO, c_addr, y, LEFT, C_DIM, "0x%04X", (unsigned)e->addr);
        text(u, GUI_FONT_MONO, c_name, y, LEFT, C_TEXT, name);
        text(u, GUI_FONT_MONO, c_val, y, RIGHT, C_TEXT, val);
        y += lh;
    }
    if (max_scroll > 0) {
        /* a scroll bar: the wheel scrolls the table */
        int track = rows * lh, top = y - track;
        int bh = track * rows / (int)sp->count;
        int by = top + (track - bh) * u->regs_scroll / max_scroll;
        fill(u, (struct gui_rect){r.x + r.w - S(u, 5), by, S(u, 3), bh}, 0x5A6370u);
    }
}

static void draw_counters(struct gui_ui *u)
{
    const struct gui_model *m = u->m;
    struct gui_rect r = u->L.counters_panel;
    int y = panel(u, r, "Counters", NULL);
    if (p1mb(u)) {
        const struct p1mb_counters *pc = &m->pcnt;
        struct {
            const char *k;
            uint32_t v;
            uint32_t col;
        } pr[] = {
            {"telegrams ok", pc->telegrams_pass, C_OK},
            {"CRC failed", pc->telegrams_fail, pc->telegrams_fail ? C_BAD : C_TEXT},
            {"frame failed", pc->telegrams_frame_fail, pc->telegrams_frame_fail ? C_BAD : C_TEXT},
            {"requests for us", pc->modbus_requests, C_TEXT},
            {"bad frames", pc->modbus_bad_frames, pc->modbus_bad_frames ? C_BAD : C_TEXT},
            {"charger replies", m->ch.replies, C_TEXT},
            {"charger no reply", m->ch.no_reply, m->ch.no_reply ? C_BAD : C_TEXT},
            {"boots", m->boots, C_TEXT},
        };
        int plh = line_h(u, GUI_FONT_SMALL) + S(u, 2);
        int px0 = r.x + S(u, 12), px1 = r.x + r.w - S(u, 12);
        for (size_t i = 0; i < sizeof pr / sizeof pr[0] && y + plh <= r.y + r.h; i++) {
            text(u, GUI_FONT_SMALL, px0, y, LEFT, C_DIM, pr[i].k);
            textf(u, GUI_FONT_BOLD, px1, y, RIGHT, pr[i].col, "%u", (unsigned)pr[i].v);
            y += plh;
        }
        return;
    }
    const struct sc_counters *c = &m->cnt;
    char ip[24];
    snprintf(ip, sizeof ip, "%s", m->st.has_ip ? "yes" : "no");
    struct {
        const char *k;
        uint32_t v;
        uint32_t col;
    } rows[] = {
        {"telegrams ok", c->telegrams_pass, C_OK},
        {"CRC / checksum failed", c->telegrams_fail, c->telegrams_fail ? C_BAD : C_TEXT},
        {"frame failed", c->telegrams_frame_fail, c->telegrams_frame_fail ? C_BAD : C_TEXT},
        {"Modbus requests", c->modbus_requests, C_TEXT},
        {"Modbus refused", c->modbus_clients_refused, C_TEXT},
        {"MQTT published", c->mqtt_publish_pass, C_TEXT},
        {"MQTT failed", c->mqtt_publish_fail, C_TEXT},
        {"boots", m->boots, C_TEXT},
    };
    int lh = line_h(u, GUI_FONT_SMALL) + S(u, 2);
    int x0 = r.x + S(u, 12), x1 = r.x + r.w - S(u, 12);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && y + lh <= r.y + r.h; i++) {
        text(u, GUI_FONT_SMALL, x0, y, LEFT, C_DIM, rows[i].k);
        textf(u, GUI_FONT_BOLD, x1, y, RIGHT, rows[i].col, "%u", (unsigned)rows[i].v);
        y += lh;
    }
    if (y + lh <= r.y + r.h) {
        text(u, GUI_FONT_SMALL, x0, y, LEFT, C_DIM, "IP address");
        text(u, GUI_FONT_BOLD, x1, y, RIGHT, m->st.has_ip ? C_OK : C_BAD, ip);
        y += lh;
    }
    if (y + lh <= r.y + r.h) {
        text(u, GUI_FONT_SMALL, x0, y, LEFT, C_DIM, "MQTT");
        text(u, GUI_FONT_BOLD, x1, y, RIGHT,
             !m->set.mqtt_enabled               ? C_DIM
             : m->st.mqtt == HAL_MQTT_CONNECTED ? C_OK
                                                : C_BAD,
             m->set.mqtt_enabled ? mqtt_state_name((int)m->st.mqtt) : "off");
    }
}

static void hex_line(char *out, size_t cap, const uint8_t *b, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        o += (size_t)snprintf(out + o, cap - o, "%02X ", b[i]);
    }
}

static void draw_charger_panel(struct gui_ui *u)
{
    const struct gui_model *m = u->m;
    const struct gui_charger *c = &m->ch;
    struct gui_rect r = u->L.payload_panel;
    char right[96];
    snprintf(right, sizeof right, "%u requests, %u replies", (unsigned)c->requests,
             (unsigned)c->replies);
    int y = panel(u, r, "RS485: what the charger sends and gets", right);
    int x = r.x + S(u, 12), lh = line_h(u, GUI_FONT_MONO) + S(u, 2);
    if (c->entry == NULL) {
        text(u, GUI_FONT_TEXT, x, y, LEFT, C_DIM, "no P register in this map");
        return;
    }
    char hex[200];
    textf(u, GUI_FONT_SMALL, x, y, LEFT, C_DIM,
          "read FC%02X, register 0x%04X, %u words (P total), address %u, every 1 s",
          (unsigned)c->fc, (unsigned)c->addr, (unsigned)c->words, (unsigned)c->unit);
    y += line_h(u, GUI_FONT_SMALL) + S(u, 2);
    hex_line(hex, sizeof hex, c->req, c->req_len);
    textf(u, GUI_FONT_MONO, x, y, LEFT, 0xF3B54Au, "request  %s", c->req_len ? hex : "-");
    y += lh;
    hex_line(hex, sizeof hex, c->rsp, c->rsp_len);
    textf(u, GUI_FONT_MONO, x, y, LEFT, 0xB8E0A8u, "reply    %s", c->rsp_len ? hex : "-");
    y += lh;
    if (c->have_value) {
        textf(u, GUI_FONT_TEXT, x, y, LEFT, C_TEXT, "decoded: %s  (at %.1f s)", c->value,
              (double)c->value_us / 1e6);
    }
    if (m->fault[GUI_FAULT_BUS_GARBAGE] || c->garbage > 0) {
        y += line_h(u, GUI_FONT_TEXT) + S(u, 2);
        textf(u, GUI_FONT_SMALL, x, y, LEFT, m->fault[GUI_FAULT_BUS_GARBAGE] ? C_BAD : C_DIM,
              "bus garbage: %u bursts of bytes that are no request%s", (unsigned)c->garbage,
              m->fault[GUI_FAULT_BUS_GARBAGE] ? " (instead of the polls, now)" : "");
    }
}

static void draw_payload(struct gui_ui *u)
{
    const struct gui_model *m = u->m;
    struct gui_rect r = u->L.payload_panel;
    if (p1mb(u)) {
        draw_charger_panel(u);
        return;
    }
    char right[96];
    if (m->set.mqtt_enabled) {
        snprintf(right, sizeof right, "MQTT %s%s%s", mqtt_state_name((int)m->st.mqtt),
                 m->own_broker ? (m->broker_up ? "  ·  local broker up" : "  ·  broker DOWN") : "",
                 m->cnt.mqtt_publish_fail ? "" : "");
    } else {
        snprintf(right, sizeof right, "MQTT off: built from the reading, not sent");
    }
    int y = panel(u, r, "MQTT power_instant  payload", right);
    int x = r.x + S(u, 12);
    if (m->payload_len == 0) {
        text(u, GUI_FONT_TEXT, x, y, LEFT, C_DIM, "no telegram yet");
        return;
    }
    int cw = 0, ch = 0;
    TTF_SizeUTF8(u->font[GUI_FONT_MONO], "0", &cw, &ch);
    int per = cw > 0 ? (r.w - S(u, 24)) / cw : 80;
    int lh = line_h(u, GUI_FONT_MONO);
    char line[256];
    size_t len = (size_t)m->payload_len;
    if (per > (int)sizeof line - 4) {
        per = (int)sizeof line - 4;
    }
    for (size_t off = 0; off < len && y + lh <= r.y + r.h - S(u, 4); off += (size_t)per) {
        size_t n = len - off < (size_t)per ? len - off : (size_t)per;
        memcpy(line, m->payload + off, n);
        line[n] = '\0';
        if (y + 2 * lh > r.y + r.h - S(u, 4) && off + n < len && n > 3) {
            memcpy(line + n - 3, "...", 4); /* the last row that fits */
        }
        text(u, GUI_FONT_MONO, x, y, LEFT, 0xB8E0A8u, line);
        y += lh;
    }
}

/* ------------------------------------------------------------------------- */
/* Help                                                                      */
/* ------------------------------------------------------------------------- */

static void draw_help(struct gui_ui *u)
{
    const struct gui_layout *L = &u->L;
    colour(u, 0x000000u, 160);
    SDL_Rect all = {0, 0, L->w, L->h};
    SDL_RenderFillRect(u->ren, &all);
    static const char *const keys[][2] = {
        {"Space (hold)", "press the device's button (also: mouse on the button)"},
        {"P", "play / pause the simulation (device, meter, scenario)"},
        {"R", "restart from t = 0 (faults off; a scenario from its start)"},
        {"+  /  −", "speed up / slow down (1x .. 100x)"},
        {"U", "unplug / plug the meter"},
        {"N", "noisy line: bit flips in every telegram"},
        {"C", "CRC errors: one wrong digit per telegram"},
        {"H", "historic TIC frames (Smart TIC Connect)"},
        {"D", "network down (Ethernet link)"},
        {"B", "MQTT broker down (the GUI's own broker: --mqtt local)"},
        {"O", "power cycle"},
        {"G", "garbage on the RS485 bus (P1MB)"},
        {"wheel", "scroll the Modbus register table"},
        {"F1", "this help"},
        {"Esc  /  Q", "quit"},
    };
    int n = (int)(sizeof keys / sizeof keys[0]);
    int lh = line_h(u, GUI_FONT_TEXT) + S(u, 4);
    struct gui_rect box = {L->w / 2 - S(u, 330), L->h / 2 - (n * lh + S(u, 104)) / 2, S(u, 660),
                           n * lh + S(u, 104)};
    round_fill(u, box, S(u, 12), 0x2E343Du, 255);
    int y = box.y + S(u, 16);
    text(u, GUI_FONT_BOLD, box.x + S(u, 20), y, LEFT, C_ACCENT, "Keyboard shortcuts");
    text(u, GUI_FONT_SMALL, box.x + box.w - S(u, 20), y + S(u, 2), RIGHT, C_DIM,
         "F1 or Esc closes");
    int fy = box.y + box.h - S(u, 12) - 2 * line_h(u, GUI_FONT_SMALL);
    text(u, GUI_FONT_SMALL, box.x + S(u, 20), fy, LEFT, C_DIM,
         "A scenario (meterlab gui SCENARIO.yaml) is played by the runner of 'meterlab run':");
    text(u, GUI_FONT_SMALL, box.x + S(u, 20), fy + line_h(u, GUI_FONT_SMALL), LEFT, C_DIM,
         "its expectations are checked as it plays; the log gives the count at its end.");
    y += lh + S(u, 12);
    for (int i = 0; i < n; i++) {
        text(u, GUI_FONT_BOLD, box.x + S(u, 150), y, RIGHT, C_WARN, keys[i][0]);
        text(u, GUI_FONT_TEXT, box.x + S(u, 170), y, LEFT, C_TEXT, keys[i][1]);
        y += lh;
    }
}

void gui_draw(struct gui_ui *u)
{
    colour(u, C_BG, 255);
    SDL_RenderClear(u->ren);
    draw_top(u);
    draw_meter(u);
    draw_device(u);
    draw_log(u);
    draw_values(u);
    draw_regs(u);
    draw_counters(u);
    draw_payload(u);
    if (u->help) {
        draw_help(u);
    }
}
