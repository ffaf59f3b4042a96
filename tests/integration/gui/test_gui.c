/*
 * meterlab gui, end to end: start the real command with --screenshot at chosen
 * virtual instants and check the pixels of the status LED against the LED
 * table (products.md §1) at the phase the firmware's pattern engine gives.
 * Run under Xvfb (the window path) and headless (in-memory renderer).
 *
 * Phases: the network comes up at 0.5 s (the sim's DHCP delay), so a 1 Hz
 * pattern that starts then shows its first colour in [0.5 + k, 1.0 + k) s;
 * samples are taken in the middle of a half period, never on an edge.
 */
#define _GNU_SOURCE
#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gui.h"
#include "ml_test.h"

#define RED     0xFF0000u
#define GREEN   0x00FF00u
#define BLUE    0x0000FFu
#define YELLOW  0xFFFF00u
#define LEDOFF  0x4A4F57u /* how the GUI draws an LED that is off (gui_draw.c) */
/* the P1MB's LEDs when off: a dark tint of their own colour (gui_draw.c) */
#define PWR_OFF 0x57552Eu
#define P1_OFF  0x2E5234u
#define RS_OFF  0x5A2F2Fu

static const char *meterlab;
static char tmpdir[256];
static bool headless;

struct run {
    struct gui_rect led, led_pwr, led_p1, led_485;
    char states[GUI_SHOTS_MAX][24];
    unsigned rgb[GUI_SHOTS_MAX];
    unsigned pwr[GUI_SHOTS_MAX], p1[GUI_SHOTS_MAX], rs[GUI_SHOTS_MAX]; /* P1MB */
    char extra[GUI_SHOTS_MAX][24]; /* mqtt state (Smart Connect) or 485 state (P1MB) */
    size_t n;
    char log[16384];
};

/* Run `meterlab gui ARGS --verbose` and collect its layout and shot lines. */
static bool gui(struct run *r, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && %s gui %s --verbose%s 2>&1", tmpdir, meterlab, args,
             headless ? " --headless" : "");
    memset(r, 0, sizeof *r);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return false;
    }
    char line[512];
    while (fgets(line, sizeof line, p) != NULL) {
        if (strlen(r->log) + strlen(line) < sizeof r->log) {
            strcat(r->log, line);
        }
        int x, y, w, h;
        char file[256], st[24], ex[24] = "";
        unsigned rgb, a = 0, b = 0, c = 0;
        double t;
        if (sscanf(line, "led %d %d %d %d", &x, &y, &w, &h) == 4) {
            r->led = (struct gui_rect){x, y, w, h};
        } else if (sscanf(line, "led_pwr %d %d %d %d", &x, &y, &w, &h) == 4) {
            r->led_pwr = (struct gui_rect){x, y, w, h};
        } else if (sscanf(line, "led_p1 %d %d %d %d", &x, &y, &w, &h) == 4) {
            r->led_p1 = (struct gui_rect){x, y, w, h};
        } else if (sscanf(line, "led_485 %d %d %d %d", &x, &y, &w, &h) == 4) {
            r->led_485 = (struct gui_rect){x, y, w, h};
        } else if (sscanf(line, "shot %lf %255s led_state %23s rgb %x", &t, file, st, &rgb) == 4 &&
                   r->n < GUI_SHOTS_MAX) {
            if (sscanf(line, "shot %*f %*s led_state %*s rgb %*x pwr %x p1 %x 485 %x %23s", &a, &b,
                       &c, ex) != 4) {
                sscanf(line, "shot %*f %*s led_state %*s rgb %*x mqtt %23s", ex);
            }
            snprintf(r->states[r->n], sizeof r->states[0], "%s", st);
            snprintf(r->extra[r->n], sizeof r->extra[0], "%s", ex);
            r->pwr[r->n] = a;
            r->p1[r->n] = b;
            r->rs[r->n] = c;
            r->rgb[r->n++] = rgb;
        }
    }
    int rc = pclose(p);
    if (rc != 0) {
        fprintf(stderr, "\n%s\n-> exit %d\n%s\n", cmd, rc, r->log);
    }
    return rc == 0;
}

/* Every pixel of a 7x7 block at the centre of @p led has colour @p want (±8 per channel). */
static bool led_at_is(struct gui_rect led, const char *bmp, uint32_t want)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, bmp);
    SDL_Surface *raw = SDL_LoadBMP(path);
    if (raw == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", path, SDL_GetError());
        return false;
    }
    SDL_Surface *s = SDL_ConvertSurfaceFormat(raw, SDL_PIXELFORMAT_ARGB8888, 0);
    SDL_FreeSurface(raw);
    bool ok = s != NULL;
    int cx = led.x + led.w / 2, cy = led.y + led.h / 2;
    for (int dy = -3; ok && dy <= 3; dy++) {
        for (int dx = -3; ok && dx <= 3; dx++) {
            const uint32_t *row = (const uint32_t *)((const uint8_t *)s->pixels +
                                                     (size_t)(cy + dy) * (size_t)s->pitch);
            uint32_t px = row[cx + dx] & 0xFFFFFFu;
            for (int sh = 0; sh < 24; sh += 8) {
                int a = (int)((px >> sh) & 0xFF), b = (int)((want >> sh) & 0xFF);
                if (abs(a - b) > 8) {
                    fprintf(stderr, "%s: LED pixel (%d,%d) is %06x, want %06x\n", bmp, cx + dx,
                            cy + dy, px, want);
                    ok = false;
                    break;
                }
            }
        }
    }
    SDL_FreeSurface(s);
    return ok;
}

static bool led_is(const struct run *r, const char *bmp, uint32_t want)
{
    return led_at_is(r->led, bmp, want);
}

/* The P1MB's three LEDs in screenshot @p bmp. */
static bool p1mb_leds_are(const struct run *r, const char *bmp, uint32_t pwr, uint32_t p1,
                          uint32_t rs)
{
    bool a = led_at_is(r->led_pwr, bmp, pwr);
    bool b = led_at_is(r->led_p1, bmp, p1);
    bool c = led_at_is(r->led_485, bmp, rs);
    return a && b && c;
}

/* The colour of pixel (x, y) of screenshot @p bmp (0x00RRGGBB), or 0xFFFFFFFF. */
static uint32_t pixel_at(const char *bmp, int x, int y)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, bmp);
    SDL_Surface *raw = SDL_LoadBMP(path);
    if (raw == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", path, SDL_GetError());
        return 0xFFFFFFFFu;
    }
    SDL_Surface *s = SDL_ConvertSurfaceFormat(raw, SDL_PIXELFORMAT_ARGB8888, 0);
    SDL_FreeSurface(raw);
    if (s == NULL) {
        return 0xFFFFFFFFu;
    }
    uint32_t px =
        ((const uint32_t *)((const uint8_t *)s->pixels + (size_t)y * (size_t)s->pitch))[x] &
        0xFFFFFFu;
    SDL_FreeSurface(s);
    return px;
}

/* Run @p cmd (a shell command line); its output (stdout and stderr) into @p out. @return the
 * exit code, or -1. */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return -1;
    }
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int exit_code(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && %s gui %s --headless >/dev/null 2>&1", tmpdir, meterlab,
             args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* ------------------------------------------------------------------------- */
/* Cases                                                                     */
/* ------------------------------------------------------------------------- */

static void test_gui_layout_led_is_where_the_gui_says(void)
{
    static const int sizes[][2] = {{1280, 720}, {1920, 1080}};
    for (size_t i = 0; i < 2; i++) {
        struct run r;
        char args[256];
        snprintf(args, sizeof args, "--size %dx%d --screenshot size.bmp --at 1", sizes[i][0],
                 sizes[i][1]);
        CU_ASSERT_TRUE_FATAL(gui(&r, args));
        struct gui_layout L;
        gui_layout_compute(sizes[i][0], sizes[i][1], GUI_PRODUCT_P1, &L);
        CU_ASSERT_EQUAL(r.led.x, L.led.x);
        CU_ASSERT_EQUAL(r.led.y, L.led.y);
        CU_ASSERT_EQUAL(r.led.w, L.led.w);
        CU_ASSERT_TRUE(r.led.w >= 48); /* big enough to read across a room */
        /* the LED sits inside the button, the button inside the device body */
        CU_ASSERT_TRUE(L.led.x > L.button.x && L.led.x + L.led.w < L.button.x + L.button.w);
        CU_ASSERT_TRUE(L.button.x > L.device.x && L.button.y > L.device.y &&
                       L.button.x + L.button.w < L.device.x + L.device.w &&
                       L.button.y + L.button.h < L.device.y + L.device.h);
        /* the panels stay inside the window and do not overlap */
        struct gui_rect p[] = {L.meter_panel, L.device_panel,  L.log_panel,     L.values_panel,
                               L.regs_panel,  L.payload_panel, L.counters_panel};
        size_t n = sizeof p / sizeof p[0];
        for (size_t a = 0; a < n; a++) {
            CU_ASSERT_TRUE(p[a].x >= 0 && p[a].y >= L.top.h && p[a].x + p[a].w <= L.w &&
                           p[a].y + p[a].h <= L.h);
            for (size_t b = a + 1; b < n; b++) {
                bool apart = p[a].x + p[a].w <= p[b].x || p[b].x + p[b].w <= p[a].x ||
                             p[a].y + p[a].h <= p[b].y || p[b].y + p[b].h <= p[a].y;
                CU_ASSERT_TRUE(apart);
            }
        }
        CU_ASSERT_TRUE(led_is(&r, "size.bmp", GREEN));
    }
}

static void test_gui_p1_normal_green_steady(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--product p1 --screenshot n1.bmp --at 5.25 "
                                 "--screenshot n2.bmp --at 5.75"));
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_STRING_EQUAL(r.states[0], "normal");
    CU_ASSERT_TRUE(led_is(&r, "n1.bmp", GREEN));
    CU_ASSERT_TRUE(led_is(&r, "n2.bmp", GREEN));
}

static void test_gui_p1_no_meter_red_green_alternating(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--product p1 --fault unplug --screenshot m1.bmp --at 10.25 "
                                 "--screenshot m2.bmp --at 10.75"));
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_STRING_EQUAL(r.states[0], "no_meter");
    CU_ASSERT_STRING_EQUAL(r.states[1], "no_meter");
    /* red from 0.5 s, then green, 500 ms each: 10.25 is in a green half, 10.75 in a red one */
    CU_ASSERT_TRUE(led_is(&r, "m1.bmp", GREEN));
    CU_ASSERT_TRUE(led_is(&r, "m2.bmp", RED));
}

static void test_gui_p1_hold_5s_gives_ap_mode(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--product p1 --press 3:5.5 --screenshot h1.bmp --at 8.2 "
                                 "--screenshot h2.bmp --at 8.8 --screenshot h3.bmp --at 9.3"));
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    /* held past 5 s (factory-default state): blue blinking feedback from 8.0 s */
    CU_ASSERT_STRING_EQUAL(r.states[0], "button_ap");
    CU_ASSERT_TRUE(led_is(&r, "h1.bmp", BLUE));
    /* released at 8.5 s: the gesture happened, AP mode blinks blue from ~8.53 s */
    CU_ASSERT_STRING_EQUAL(r.states[1], "ap");
    CU_ASSERT_TRUE(strstr(r.log, "button released after 5.5 s: AP mode") != NULL);
    CU_ASSERT_TRUE(led_is(&r, "h2.bmp", BLUE));
    CU_ASSERT_TRUE(led_is(&r, "h3.bmp", LEDOFF));
}

static void test_gui_p1_hold_without_meter_blue_red(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--product p1 --fault unplug --press 3:5.5 "
                                 "--screenshot b1.bmp --at 8.8 --screenshot b2.bmp --at 9.3"));
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_STRING_EQUAL(r.states[0], "no_meter_ap");
    CU_ASSERT_TRUE(led_is(&r, "b1.bmp", BLUE));
    CU_ASSERT_TRUE(led_is(&r, "b2.bmp", RED));
}

static void test_gui_tic_normal_then_historic_no_meter(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--product tic --screenshot t1.bmp --at 5.25"));
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    CU_ASSERT_STRING_EQUAL(r.states[0], "normal");
    CU_ASSERT_TRUE(led_is(&r, "t1.bmp", GREEN));

    /* historic frames only: never meter data, the no-meter pattern from 0.5 s */
    CU_ASSERT_TRUE_FATAL(gui(&r, "--product tic --fault historic --screenshot t2.bmp --at 10.25 "
                                 "--screenshot t3.bmp --at 10.75"));
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_STRING_EQUAL(r.states[0], "no_meter");
    CU_ASSERT_TRUE(strstr(r.log, "historic TIC detected") != NULL);
    CU_ASSERT_TRUE(led_is(&r, "t2.bmp", GREEN));
    CU_ASSERT_TRUE(led_is(&r, "t3.bmp", RED));
}

static void test_gui_png_screenshot_is_a_png(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--screenshot s.png --at 2"));
    char path[512];
    snprintf(path, sizeof path, "%s/s.png", tmpdir);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned char sig[24];
    CU_ASSERT_EQUAL(fread(sig, 1, sizeof sig, f), sizeof sig);
    fclose(f);
    CU_ASSERT_EQUAL(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0);
    CU_ASSERT_EQUAL(memcmp(sig + 12, "IHDR", 4), 0);
    CU_ASSERT_EQUAL((sig[16] << 24 | sig[17] << 16 | sig[18] << 8 | sig[19]), 1280);
    CU_ASSERT_EQUAL((sig[20] << 24 | sig[21] << 16 | sig[22] << 8 | sig[23]), 720);
}

static void test_gui_bad_use_exits_2(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s gui --speed 1000 >/dev/null 2>&1", meterlab);
    int rc = system(cmd);
    CU_ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s gui --screenshot x.png >/dev/null 2>&1", meterlab);
    rc = system(cmd);
    CU_ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

/* P1MB, normal: PWR yellow, P1 green steady, and the charger's poll once a second
 * (at whole seconds) lights the 485 LED for 100 ms (p1mb.md, LEDs). */
static void test_gui_p1mb_normal_charger_polls(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--product p1mb --variant sdm630 --screenshot p1.bmp --at 5.05 "
                                 "--screenshot p2.bmp --at 5.5"));
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    struct gui_layout L;
    gui_layout_compute(1280, 720, GUI_PRODUCT_P1MB, &L);
    CU_ASSERT_EQUAL(r.led_pwr.x, L.led_pwr.x);
    CU_ASSERT_EQUAL(r.led_p1.y, L.led_p1.y);
    CU_ASSERT_EQUAL(r.led_485.y, L.led_485.y);
    CU_ASSERT_TRUE(r.led_485.w >= 20);
    /* the LEDs sit on the module, one under the other */
    CU_ASSERT_TRUE(L.led_pwr.x > L.device.x && L.led_485.y + L.led_485.h < L.device.y + L.device.h);
    CU_ASSERT_TRUE(L.led_pwr.y + L.led_pwr.h < L.led_p1.y && L.led_p1.y + L.led_p1.h < L.led_485.y);
    CU_ASSERT_STRING_EQUAL(r.states[0], "p1_on");
    CU_ASSERT_STRING_EQUAL(r.extra[0], "485_on");
    CU_ASSERT_EQUAL(r.pwr[0], YELLOW);
    CU_ASSERT_TRUE(p1mb_leds_are(&r, "p1.bmp", YELLOW, GREEN, RED));
    CU_ASSERT_STRING_EQUAL(r.extra[1], "485_off");
    CU_ASSERT_TRUE(p1mb_leds_are(&r, "p2.bmp", YELLOW, GREEN, RS_OFF));
    CU_ASSERT_TRUE(strstr(r.log, "P1MB (sdm630) started") != NULL);
}

/* P1MB, meter unplugged from the start: P1 never lights; the charger still gets
 * answers (the identity registers, zeros), so 485 flashes. Garbage on the bus
 * (a second master, a wrong baud rate) makes 485 blink at 5 Hz. */
static void test_gui_p1mb_no_meter_and_bus_garbage(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--product p1mb --fault unplug --screenshot u1.bmp --at 5.05 "
                                 "--fault busgarbage@8 --screenshot u2.bmp --at 9.05"));
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_STRING_EQUAL(r.states[0], "p1_off");
    CU_ASSERT_TRUE(p1mb_leds_are(&r, "u1.bmp", YELLOW, P1_OFF, RED));
    CU_ASSERT_STRING_EQUAL(r.extra[1], "485_blink");
    /* the pixel is what the firmware set at that instant (on or off in the 5 Hz cycle) */
    CU_ASSERT_TRUE(p1mb_leds_are(&r, "u2.bmp", YELLOW, P1_OFF, r.rs[1] != 0 ? r.rs[1] : RS_OFF));
    CU_ASSERT_TRUE(strstr(r.log, "485 LED blinking 5 Hz") != NULL);
    CU_ASSERT_TRUE(strstr(r.log, "telegram ok") == NULL);
}

/* A P1MB scenario (gui-p1mb.yaml): P1 on, then three telegrams with a wrong CRC from
 * 10 s blink it at 2 Hz from 10.0 s (250 ms on, 250 ms off), then unplugged from 20 s:
 * off 30 s after the last telegram (19 s), so from 49 s. */
static void test_gui_scenario_p1mb_leds(void)
{
    struct run r;
    char args[1024];
    snprintf(args, sizeof args,
             "%s/tests/integration/gui/gui-p1mb.yaml --screenshot g1.bmp --at 5.05 "
             "--screenshot g2.bmp --at 11.1 --screenshot g3.bmp --at 11.4 "
             "--screenshot g4.bmp --at 50.5",
             getenv("ML_SOURCE_DIR"));
    CU_ASSERT_TRUE_FATAL(gui(&r, args));
    CU_ASSERT_EQUAL_FATAL(r.n, 4);
    CU_ASSERT_TRUE(strstr(r.log, "scenario gui-p1mb") != NULL);
    CU_ASSERT_STRING_EQUAL(r.states[0], "p1_on");
    CU_ASSERT_TRUE(p1mb_leds_are(&r, "g1.bmp", YELLOW, GREEN, RED));
    CU_ASSERT_STRING_EQUAL(r.states[1], "p1_blink");
    CU_ASSERT_TRUE(led_at_is(r.led_p1, "g2.bmp", GREEN));
    CU_ASSERT_STRING_EQUAL(r.states[2], "p1_blink");
    CU_ASSERT_TRUE(p1mb_leds_are(&r, "g3.bmp", YELLOW, P1_OFF, RS_OFF));
    CU_ASSERT_TRUE(strstr(r.log, "log 10.000 step 2: fault crc_corrupt (line 22)") != NULL);
    CU_ASSERT_TRUE(strstr(r.log, "scenario gui-p1mb step 5 expect") != NULL);
    CU_ASSERT_STRING_EQUAL(r.states[3], "p1_off");
    CU_ASSERT_TRUE(led_at_is(r.led_p1, "g4.bmp", P1_OFF));
    /* 30 s after the last good telegram's last byte (sent at 19 s, 66 ms on the line),
     * seen by the GUI at its next look: the charger's RTU exchanges take device time that
     * depends on the host's scheduling, so the instant is within a few ms */
    const char *off = strstr(r.log, " P1 LED off");
    CU_ASSERT_PTR_NOT_NULL_FATAL(off);
    while (off > r.log && off[-1] != '\n') {
        off--;
    }
    double t_off = -1;
    CU_ASSERT_EQUAL(sscanf(off, "log %lf", &t_off), 1);
    CU_ASSERT_TRUE(t_off >= 49.066 && t_off < 49.2);
}

/* A Smart Connect scenario from scenarios/ (with MQTT: the GUI runs its own
 * broker): what p1-unplugged.yaml expects, seen on the LED: normal at 9.5 s; the
 * meter is silent from 10 s, the last telegram came at 9 s (its last byte 80 ms later
 * at 115200 baud), so "no meter data" from 39.08 s, red first, 500 ms each: red at 45.25 s, green at 45.75 s. */
static void test_gui_scenario_p1_unplugged(void)
{
    struct run r;
    char args[1024];
    snprintf(args, sizeof args,
             "%s/scenarios/p1-unplugged.yaml --screenshot s1.bmp --at 9.5 "
             "--screenshot s2.bmp --at 45.25 --screenshot s3.bmp --at 45.75",
             getenv("ML_SOURCE_DIR"));
    CU_ASSERT_TRUE_FATAL(gui(&r, args));
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT_STRING_EQUAL(r.states[0], "normal");
    CU_ASSERT_STRING_EQUAL(r.extra[0], "connected");
    CU_ASSERT_TRUE(led_is(&r, "s1.bmp", GREEN));
    CU_ASSERT_STRING_EQUAL(r.states[1], "no_meter");
    CU_ASSERT_TRUE(led_is(&r, "s2.bmp", RED));
    CU_ASSERT_TRUE(led_is(&r, "s3.bmp", GREEN));
    CU_ASSERT_TRUE(strstr(r.log, "step 1: fault silence (line 19)") != NULL);
    CU_ASSERT_TRUE(strstr(r.log, "log 39.080 meter data: none") != NULL);
    /* the scenario's silence (10 s to 55 s) is drawn as an unplugged cable: plugged, the
     * cable's plug (0x9AA3AD, gui_draw.c) sits just left of the device's P1 port; unplugged,
     * it ends at the meter */
    struct gui_layout L;
    gui_layout_compute(1280, 720, GUI_PRODUCT_P1, &L);
    int px = L.port_in.x - 6, py = L.port_in.y + L.port_in.h / 2;
    CU_ASSERT_EQUAL(pixel_at("s1.bmp", px, py), 0x9AA3ADu);
    CU_ASSERT_NOT_EQUAL(pixel_at("s2.bmp", px, py), 0x9AA3ADu);
}

/* The default meter is a believable household (telegrams/dsmr/dsmr50_household_3ph.txt):
 * what the device decoded, against the numbers written into that telegram by hand. The
 * phases add up to the total (652 + 215 + 380 = 1247 W), nothing is exported now, more
 * was imported than exported (4523.118 + 3876.402 kWh against 120.045 + 287.310 kWh), and
 * the voltages are near 230 V. */
static void test_gui_default_meter_is_a_household(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--screenshot d.bmp --at 3"));
    const char *v = strstr(r.log, "values ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    double p_imp = -1, p_exp = -1, l1 = -1, l2 = -1, l3 = -1, u1 = -1, u2 = -1, u3 = -1, e_imp = -1,
           e_exp = -1;
    CU_ASSERT_EQUAL_FATAL(sscanf(v,
                                 "values p_imp %lf p_exp %lf l1_p %lf l2_p %lf l3_p %lf l1_u %lf "
                                 "l2_u %lf l3_u %lf e_imp %lf e_exp %lf",
                                 &p_imp, &p_exp, &l1, &l2, &l3, &u1, &u2, &u3, &e_imp, &e_exp),
                          10);
    CU_ASSERT_DOUBLE_EQUAL(p_imp, 1247.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(p_exp, 0.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(l1, 652.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(l2, 215.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(l3, 380.0, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(l1 + l2 + l3, p_imp, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(u1, 236.1, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(u2, 231.8, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(u3, 233.4, 0.001);
    CU_ASSERT_DOUBLE_EQUAL(e_imp, 8399520.0, 0.5); /* Wh */
    CU_ASSERT_DOUBLE_EQUAL(e_exp, 407355.0, 0.5);
    CU_ASSERT_TRUE(e_imp > e_exp);
}

/* Register names are drawn whole (in the mono font, the small one, or on two lines), in
 * every template, at the default size: the Xemex map has the longest labels ("presence
 * bits of fields 0-15 (bit n = field n)"). */
static void test_gui_register_names_not_cut(void)
{
    static const char *const args[] = {
        "--screenshot n0.bmp --at 2",
        "--product p1mb --variant sdm630 --screenshot n1.bmp --at 2",
        "--product p1mb --variant pro380 --screenshot n2.bmp --at 2",
        "--product p1mb --variant acr10rh --screenshot n3.bmp --at 2",
        "--product p1mb --variant xemex --screenshot n4.bmp --at 2",
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        struct run r;
        CU_ASSERT_TRUE_FATAL(gui(&r, args[i]));
        if (strstr(r.log, "registers cut 0\n") == NULL) {
            fprintf(stderr, "%s:\n%s\n", args[i], r.log);
            CU_FAIL("register names cut");
        }
    }
}

/* Without a display, `meterlab gui` says so and how to run it (exit 2) instead of running
 * invisibly. */
static void test_gui_no_display_exits_2(void)
{
    static const char *const args[] = {"", "--screenshot x.bmp --at 1"};
    for (size_t i = 0; i < 2; i++) {
        char cmd[1024], out[4096];
        snprintf(cmd, sizeof cmd,
                 "cd %s && env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER timeout 30 %s gui "
                 "%s 2>&1",
                 tmpdir, meterlab, args[i]);
        CU_ASSERT_EQUAL(run_cmd(cmd, out, sizeof out), 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "no display"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "xvfb-run"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "--headless"));
    }
    /* --headless draws screenshots only */
    CU_ASSERT_EQUAL(exit_code(""), 2);
}

/* The data files are found next to the installed program (<prefix>/share/meterlab for
 * <prefix>/bin/meterlab), not in the source tree; missing, the error names where. */
static void test_gui_data_files_next_to_the_program(void)
{
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd,
             "rm -rf %s/inst && mkdir -p %s/inst/bin && cp %s %s/inst/bin/meterlab && cd %s && "
             "env -u ML_DATA_DIR inst/bin/meterlab gui --headless --screenshot x.bmp --at 1 2>&1",
             tmpdir, tmpdir, meterlab, tmpdir, tmpdir);
    CU_ASSERT_EQUAL(run_cmd(cmd, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "inst/share/meterlab/telegrams/dsmr/"
                                       "dsmr50_household_3ph.txt missing"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "ML_DATA_DIR"));
    /* installed next to it: found (the build tree has the same layout) */
    snprintf(cmd, sizeof cmd,
             "cp -r $(dirname %s)/../share %s/inst/ && cd %s && env -u ML_DATA_DIR "
             "inst/bin/meterlab gui --headless --product tic --screenshot x.bmp --at 1 2>&1",
             meterlab, tmpdir, tmpdir);
    CU_ASSERT_EQUAL(run_cmd(cmd, out, sizeof out), 0);
}

/* The window redraws on change, not in a loop: at 1x with nothing happening but the
 * telegrams, a few frames per second of virtual time (the clock's second, a telegram, its
 * activity dot going off). Drawing every iteration gives at least 10 per second (an
 * iteration moves virtual time by at most 0.1 s). Window path only. */
static void test_gui_idle_redraws_on_change(void)
{
    if (headless) {
        return;
    }
    char cmd[1024], out[16384];
    snprintf(cmd, sizeof cmd, "cd %s && %s gui --run-for 3 --verbose 2>&1", tmpdir, meterlab);
    CU_ASSERT_EQUAL_FATAL(run_cmd(cmd, out, sizeof out), 0);
    const char *f = strstr(out, "frames ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned long long frames = 0;
    double virt = 0;
    CU_ASSERT_EQUAL_FATAL(sscanf(f, "frames %llu in %lf s", &frames, &virt), 2);
    CU_ASSERT_TRUE(virt > 1.0);
    CU_ASSERT_TRUE(frames >= 2);
    if ((double)frames > 5.0 * virt + 5.0) {
        fprintf(stderr, "%llu frames in %.1f s of virtual time\n", frames, virt);
        CU_FAIL("redraws while nothing changes");
    }
}

/* The GUI plays a scenario through the runner of `meterlab run` (sim/runner): the
 * same expectations are decided while it plays, and the same count comes out as
 * `meterlab run scenarios/p1-meter-type-sdm630.yaml` prints (6 checks, all passed). */
static void test_gui_scenario_checks_by_the_runner(void)
{
    struct run r;
    char args[1024];
    snprintf(args, sizeof args,
             "%s/scenarios/p1-meter-type-sdm630.yaml --screenshot e1.bmp --at 5.5",
             getenv("ML_SOURCE_DIR"));
    CU_ASSERT_TRUE_FATAL(gui(&r, args));
    CU_ASSERT_TRUE(strstr(r.log, "end of the scenario (5 s): 6 checks, 0 failed, 0 skipped") !=
                   NULL);
}

/* Broker down (the GUI's own mosquitto stops): MQTT goes from connected to
 * connecting; the LED table has no MQTT state, so the LED stays green. */
static void test_gui_broker_down(void)
{
    struct run r;
    CU_ASSERT_TRUE_FATAL(gui(&r, "--fault brokerdown@5 --screenshot k1.bmp --at 4.5 "
                                 "--screenshot k2.bmp --at 8.5"));
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_STRING_EQUAL(r.extra[0], "connected");
    CU_ASSERT_STRING_EQUAL(r.states[0], "normal");
    CU_ASSERT_TRUE(led_is(&r, "k1.bmp", GREEN));
    CU_ASSERT_STRING_EQUAL(r.extra[1], "connecting");
    CU_ASSERT_STRING_EQUAL(r.states[1], "normal");
    CU_ASSERT_TRUE(led_is(&r, "k2.bmp", GREEN));
    CU_ASSERT_TRUE(strstr(r.log, "fault on: MQTT broker down") != NULL);
    CU_ASSERT_TRUE(strstr(r.log, "log 5.000 MQTT connecting") != NULL);
}

static void test_gui_bad_use_p1mb_and_scenarios(void)
{
    CU_ASSERT_EQUAL(exit_code("--product p1mb --variant sdm999 --screenshot x.bmp --at 1"), 2);
    CU_ASSERT_EQUAL(exit_code("--variant pro380 --screenshot x.bmp --at 1"), 2);
    CU_ASSERT_EQUAL(exit_code("--product p1mb --fault brokerdown --screenshot x.bmp --at 1"), 2);
    CU_ASSERT_EQUAL(exit_code("--mqtt mqtt://127.0.0.1:1 --fault brokerdown --screenshot x.bmp "
                              "--at 1"),
                    2);
    CU_ASSERT_EQUAL(exit_code("--product p1mb --mqtt local --screenshot x.bmp --at 1"), 2);
    CU_ASSERT_EQUAL(exit_code("no-such-scenario.yaml --screenshot x.bmp --at 1"), 2);
    char args[600];
    snprintf(args, sizeof args,
             "--product tic %s/tests/integration/gui/gui-p1mb.yaml --screenshot x.bmp --at 1",
             getenv("ML_SOURCE_DIR"));
    CU_ASSERT_EQUAL(exit_code(args), 2);
    snprintf(args, sizeof args, "a.yaml b.yaml --screenshot x.bmp --at 1");
    CU_ASSERT_EQUAL(exit_code(args), 2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_gui METERLAB [--headless]\n");
        return 2;
    }
    meterlab = argv[1];
    headless = argc > 2 && strcmp(argv[2], "--headless") == 0;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ml_test_gui.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    static const struct ml_test_case cases[] = {
        {"test_gui_layout_led_is_where_the_gui_says", test_gui_layout_led_is_where_the_gui_says},
        {"test_gui_p1_normal_green_steady", test_gui_p1_normal_green_steady},
        {"test_gui_p1_no_meter_red_green_alternating", test_gui_p1_no_meter_red_green_alternating},
        {"test_gui_p1_hold_5s_gives_ap_mode", test_gui_p1_hold_5s_gives_ap_mode},
        {"test_gui_p1_hold_without_meter_blue_red", test_gui_p1_hold_without_meter_blue_red},
        {"test_gui_tic_normal_then_historic_no_meter", test_gui_tic_normal_then_historic_no_meter},
        {"test_gui_png_screenshot_is_a_png", test_gui_png_screenshot_is_a_png},
        {"test_gui_bad_use_exits_2", test_gui_bad_use_exits_2},
        {"test_gui_p1mb_normal_charger_polls", test_gui_p1mb_normal_charger_polls},
        {"test_gui_idle_redraws_on_change", test_gui_idle_redraws_on_change},
        {"test_gui_no_display_exits_2", test_gui_no_display_exits_2},
        /* the window path is the same drawing for every case below; under Xvfb each run
         * costs about a second more, so they run headless only (the suite stays fast) */
        {"test_gui_p1mb_no_meter_and_bus_garbage", test_gui_p1mb_no_meter_and_bus_garbage},
        {"test_gui_scenario_p1mb_leds", test_gui_scenario_p1mb_leds},
        {"test_gui_scenario_p1_unplugged", test_gui_scenario_p1_unplugged},
        {"test_gui_scenario_checks_by_the_runner", test_gui_scenario_checks_by_the_runner},
        {"test_gui_broker_down", test_gui_broker_down},
        {"test_gui_bad_use_p1mb_and_scenarios", test_gui_bad_use_p1mb_and_scenarios},
        {"test_gui_default_meter_is_a_household", test_gui_default_meter_is_a_household},
        {"test_gui_register_names_not_cut", test_gui_register_names_not_cut},
        {"test_gui_data_files_next_to_the_program", test_gui_data_files_next_to_the_program},
    };
    size_t n = sizeof cases / sizeof cases[0];
    if (!headless) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(cases[i].name, "test_gui_p1mb_no_meter_and_bus_garbage") == 0) {
                n = i;
            }
        }
    }
    int rc = ml_test_run(headless ? "gui_headless" : "gui", cases, n, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return rc;
}
