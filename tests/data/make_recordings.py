#!/usr/bin/env python3
"""Write the raw meter dumps of tests/data/recordings/: the sample "folder of recordings" of the
walk-through in docs/hil.md ("A folder of recordings becomes a regression suite"), used by
tests/cli/test_recordings_walkthrough.sh.

Each file is what `cat /dev/ttyUSB0 > file` on a meter would leave: raw bytes, no timing,
starting anywhere. Values are hand-chosen (the test greps some of them as hand-written
numbers); DSMR CRCs (CRC-16/ARC over '/' .. '!', dsmr.md section 4) and TIC checksums
(tic.md section 5) are computed here, independently of the firmware.
Re-run: python3 tests/data/make_recordings.py (writes tests/data/recordings/).
"""

CRLF = b"\r\n"


def crc16_arc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


assert crc16_arc(b"123456789") == 0xBB3D  # the CRC-16/ARC check value


def p1(lines, crc=True, bad_crc=False):
    body = CRLF.join(l.encode() for l in lines) + CRLF + b"!"
    if not crc:
        return body + CRLF
    c = crc16_arc(body) ^ (0x0101 if bad_crc else 0)
    return body + b"%04X" % c + CRLF


# --- kitchen: DSMR 2.2 (9600 7E1, no CRC, no clock); the dump starts mid-telegram ---
def dsmr22(p_kw, e1):
    return p1([
        "/ISk5\\2MT382-1004", "",
        "0-0:96.1.1(4B384547303034303436333935353037)",
        "1-0:1.8.1(%09.3f*kWh)" % e1, "1-0:1.8.2(00987.654*kWh)",
        "1-0:2.8.1(00000.000*kWh)", "1-0:2.8.2(00000.000*kWh)",
        "0-0:96.14.0(0001)",
        "1-0:1.7.0(%07.2f*kW)" % p_kw, "1-0:2.7.0(0000.00*kW)",
        "0-0:17.0.0(0999.00*kW)", "0-0:96.3.10(1)", "0-0:96.13.1()", "0-0:96.13.0()",
    ], crc=False)


kitchen = dsmr22(0.5, 1.0)[200:] + dsmr22(0.42, 1234.5) + dsmr22(1.23, 1234.6) + dsmr22(2.05, 1234.7)


# --- garage: DSMR 5 (115200 8N1, CRC), clock 10 s apart; the third has a bad CRC ---
def dsmr50(clock, p_kw, u, i, bad=False):
    return p1([
        "/ISK5\\2M550T-1012", "",
        "1-3:0.2.8(50)",
        "0-0:1.0.0(%sW)" % clock,
        "0-0:96.1.1(4530303434303037313331363530323137)",
        "1-0:1.8.1(003456.789*kWh)", "1-0:1.8.2(004567.891*kWh)",
        "1-0:2.8.1(000000.000*kWh)", "1-0:2.8.2(000000.000*kWh)",
        "0-0:96.14.0(0002)",
        "1-0:1.7.0(%06.3f*kW)" % p_kw, "1-0:2.7.0(00.000*kW)",
        "1-0:32.7.0(%05.1f*V)" % u, "1-0:31.7.0(%03d*A)" % i,
        "1-0:21.7.0(%06.3f*kW)" % p_kw, "1-0:22.7.0(00.000*kW)",
    ], bad_crc=bad)


garage = (b"\x00\xff noise " + dsmr50("261207120000", 0.777, 229.1, 4)
          + dsmr50("261207120010", 1.888, 230.2, 8)
          + dsmr50("261207120020", 2.999, 231.3, 13, bad=True)
          + dsmr50("261207120030", 3.111, 232.4, 14))

# --- attic: DSMR 3.0 read at 8N1 from a 7E1 line: bit 7 of each byte is the parity ---
def even_parity_7e1_as_8n1(data: bytes) -> bytes:
    return bytes(b | (0x80 if bin(b).count("1") % 2 else 0) for b in data)


attic = even_parity_7e1_as_8n1(dsmr22(0.66, 42.0) + dsmr22(0.67, 42.1))

# --- TIC (tic.md section 5) ---
STX, ETX, LF, CR, HT, SP = b"\x02", b"\x03", b"\n", b"\r", b"\t", b" "


def cs(b: bytes) -> bytes:
    return bytes([(sum(b) & 0x3F) + 0x20])


def std(label, data, hd=None):
    body = label.encode() + HT + ((hd.encode() + HT) if hd is not None else b"") + data.encode() + HT
    return LF + body + cs(body) + CR


def hist(label, data):
    body = label.encode() + SP + data.encode()
    return LF + body + SP + cs(body) + CR


assert std("PREF", "04") == b"\nPREF\t04\tC\r"
assert hist("OPTARIF", "BASE") == b"\nOPTARIF BASE 0\r"


def linky_std(date, east, sinsts, irms, urms):
    return STX + b"".join([
        std("ADSC", "041876543210"), std("VTIC", "02"), std("DATE", "", date),
        std("NGTF", "     BASE       "), std("LTARF", "      BASE      "),
        std("EAST", "%09d" % east), std("EASF01", "%09d" % east),
        std("IRMS1", "%03d" % irms), std("URMS1", "%03d" % urms),
        std("PREF", "09"), std("PCOUP", "09"), std("SINSTS", "%05d" % sinsts),
        std("STGE", "003A0001"), std("NTARF", "01"),
    ]) + ETX


# clock 2 s apart (the standard mode sends about every 1.5 s; the clock decides)
linky_standard = (linky_std("H261207120000", 7654321, 1500, 7, 231)
                  + linky_std("H261207120002", 7654322, 2600, 11, 230)
                  + linky_std("H261207120004", 7654323, 450, 2, 232))


def linky_hist(base, papp, iinst):
    return STX + b"".join([
        hist("ADCO", "031764123456"), hist("OPTARIF", "BASE"), hist("ISOUSC", "30"),
        hist("BASE", "%09d" % base), hist("PTEC", "TH.."), hist("IINST", "%03d" % iinst),
        hist("IMAX", "090"), hist("PAPP", "%05d" % papp), hist("HHPHC", "A"),
        hist("MOTDETAT", "000000"),
    ]) + ETX


linky_historic = linky_hist(12345678, 1230, 5) + linky_hist(12345679, 1240, 6)

FILES = {
    "kitchen-dsmr22.txt": kitchen,
    "garage-dsmr50.txt": garage,
    "attic-dsmr30-8bit.bin": attic,
    "linky-standard.bin": linky_standard,
    "linky-historic.bin": linky_historic,
}

if __name__ == "__main__":
    import os
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recordings")
    os.makedirs(out, exist_ok=True)
    for name, data in FILES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print("%s: %d bytes" % (name, len(data)))
