#!/usr/bin/env python3
"""Generates dsmr_obis_table.h: the OBIS objects of dsmr.md section 7 and a perfect hash.

Key of an object A-B:C.D.E (dsmr.md section 3): class << 28 | the low nibbles of the
characters of "C.D.E" ('.' gives 0xE), the first character in the lowest nibble (dsmr.c
reads them 8 bytes at a time), at most 7 characters. Class: 0 = 0-0, 1 = 0-n
(M-Bus channel n = 1..4), 2 = 1-0, 3 = 1-1, 4 = 1-3. The slot of a key is
(key * MUL) >> 24 in a 256-entry byte table; MUL is searched here so no two keys share
a slot. The keys are emitted in ascending order, for the firmware's binary search. Run: python3 gen_obis_table.py > dsmr_obis_table.h

The fifth column is the unit the companion standards give the object (dsmr.md section 7);
a value sent without a unit is read in it (DK_KILO when it starts with 'k').
`--doc` prints that table for docs/decode.md.
"""
import random
import sys

CLS = {"0-0": 0, "0-n": 1, "1-0": 2, "1-1": 3, "1-3": 4}

# (A-B, C.D.E, kind, field)
OBJ = [
    ("1-3", "0.2.8", "VERSION", "0", ""),
    ("0-0", "96.1.4", "EMUCS", "0", ""),
    ("0-0", "1.0.0", "TS", "TS_UTC", ""),
    ("0-0", "96.1.1", "EQUIP", "0", ""),
    ("0-0", "42.0.0", "LDN", "0", ""),
    ("0-0", "96.1.0", "EQUIP", "0", ""),
    ("1-0", "1.8.1", "NUM3", "E_IMP_T1", "kWh"),
    ("1-0", "1.8.2", "NUM3", "E_IMP_T2", "kWh"),
    ("1-0", "1.8.3", "NUM3", "E_IMP_T3", "kWh"),
    ("1-0", "1.8.4", "NUM3", "E_IMP_T4", "kWh"),
    ("1-0", "2.8.1", "NUM3", "E_EXP_T1", "kWh"),
    ("1-0", "2.8.2", "NUM3", "E_EXP_T2", "kWh"),
    ("1-0", "2.8.3", "NUM3", "E_EXP_T3", "kWh"),
    ("1-0", "2.8.4", "NUM3", "E_EXP_T4", "kWh"),
    ("1-0", "1.8.0", "NUM3", "E_IMP", "kWh"),
    ("1-0", "2.8.0", "NUM3", "E_EXP", "kWh"),
    ("1-0", "3.8.0", "NUM3", "EQ_IMP", "kvarh"),
    ("1-0", "4.8.0", "NUM3", "EQ_EXP", "kvarh"),
    ("1-0", "5.8.0", "NUM3", "EQ1", "kvarh"),
    ("1-0", "6.8.0", "NUM3", "EQ2", "kvarh"),
    ("1-0", "7.8.0", "NUM3", "EQ3", "kvarh"),
    ("1-0", "8.8.0", "NUM3", "EQ4", "kvarh"),
    ("0-0", "96.14.0", "TARIFF", "TARIFF", ""),
    ("1-0", "1.7.0", "NUM3", "P_IMP", "kW"),
    ("1-0", "2.7.0", "NUM3", "P_EXP", "kW"),
    ("1-0", "3.7.0", "NUM3", "Q_IMP", "kvar"),
    ("1-0", "4.7.0", "NUM3", "Q_EXP", "kvar"),
    ("1-0", "9.7.0", "NUM3", "S_IMP", "kVA"),
    ("1-0", "10.7.0", "NUM3", "S_EXP", "kVA"),
    ("1-0", "13.7.0", "NUM3", "PF", ""),
    ("1-0", "14.7.0", "NUM3", "FREQ", "Hz"),
    ("0-0", "96.7.21", "NUM0", "PFAIL", ""),
    ("0-0", "96.7.9", "NUM0", "LPFAIL", ""),
    ("1-0", "99.97.0", "PFLOG", "0", ""),
    ("0-0", "96.13.0", "TEXT", "0", ""),
    ("1-0", "1.4.0", "NUM3", "DEMAND_AVG", "kW"),
    ("1-0", "1.6.0", "DMAX", "DEMAND_MAX", "kW"),
    ("0-0", "98.1.0", "DHIST", "0", "kW"),
    ("0-0", "96.3.10", "NUM0", "BREAKER", ""),
    ("0-0", "17.0.0", "LIMITER", "LIMITER", "kW"),
    ("1-0", "31.4.0", "NUM3", "FUSE_I", "A"),
    ("1-1", "31.4.0", "IMAX", "I_MAX_IMP", "A"),
    ("0-n", "24.1.0", "MB_TYPE", "0", ""),
    ("0-n", "96.1.0", "MB_ID", "0", ""),
    ("0-n", "96.1.1", "MB_ID", "0", ""),
    ("0-n", "24.2.1", "MB_VAL", "0", ""),
    ("0-n", "24.2.3", "MB_VAL_NC", "0", ""),
    ("0-n", "24.4.0", "MB_VALVE", "0", ""),
    ("0-n", "96.3.10", "MB_BREAKER", "0", ""),
    ("0-n", "24.3.0", "MB_PROFILE", "0", ""),
    ("0-n", "24.3.1", "MB_PROFILE", "0", ""),
]
for i, ph in enumerate(("L1", "L2", "L3")):
    base = 20 * i
    OBJ += [
        ("1-0", f"{32 + base}.32.0", "NUM0", f"{ph}_SAGS", ""),
        ("1-0", f"{32 + base}.36.0", "NUM0", f"{ph}_SWELLS", ""),
        ("1-0", f"{32 + base}.7.0", "NUM3", f"{ph}_U", "V"),
        ("1-0", f"{31 + base}.7.0", "NUM3", f"{ph}_I", "A"),
        ("1-0", f"{21 + base}.7.0", "NUM3", f"{ph}_P_IMP", "kW"),
        ("1-0", f"{22 + base}.7.0", "NUM3", f"{ph}_P_EXP", "kW"),
        ("1-0", f"{23 + base}.7.0", "NUM3", f"{ph}_Q_IMP", "kvar"),
        ("1-0", f"{24 + base}.7.0", "NUM3", f"{ph}_Q_EXP", "kvar"),
        ("1-0", f"{33 + base}.7.0", "NUM3", f"{ph}_PF", ""),
    ]


def key(ab, cde):
    k = 0
    for i, ch in enumerate(cde):
        k |= (ord(ch) & 0xF) << (4 * i)
    assert len(cde) <= 7
    return (CLS[ab] << 28) | k


if len(sys.argv) > 1 and sys.argv[1] == "--doc":
    # The unit table of docs/decode.md: the unit a value without one is read in.
    print("| OBIS | reading field | unit when the value has none |")
    print("| --- | --- | --- |")
    for ab, cde, kind, field, unit in OBJ:
        if field != "0" and kind not in ("TS", "TARIFF", "VERSION", "EMUCS"):
            print(f"| `{ab}:{cde}` | `{field.lower()}` | {unit or '(as sent)'} |")
    sys.exit(0)

# The arrays are in key order: the firmware build looks keys up by binary search (no
# slot table, 256 B less flash), the host by the hash.
OBJ.sort(key=lambda o: key(o[0], o[1]))
keys = [key(ab, cde) for ab, cde, _, _, _ in OBJ]
assert len(set(keys)) == len(keys)
rng = random.Random(1)
while True:
    mul = rng.getrandbits(32) | 1
    slots = {((k * mul) & 0xFFFFFFFF) >> 24 for k in keys}
    if len(slots) == len(keys):
        break
slot = [0] * 256
for i, k in enumerate(keys):
    slot[((k * mul) & 0xFFFFFFFF) >> 24] = i + 1

print("/* generated by gen_obis_table.py: do not edit; the OBIS list lives there. */")
print("#ifndef FIRMWARE_CORE_DSMR_DSMR_OBIS_TABLE_H")
print("#define FIRMWARE_CORE_DSMR_DSMR_OBIS_TABLE_H")
print(f"#define DSMR_OBIS_MUL 0x{mul:08X}u")
print(f"#define DSMR_OBIS_COUNT {len(OBJ)}")
print("#ifdef DSMR_WIDE")
print("static const uint8_t dsmr_obis_slot[256] = {")
for i in range(0, 256, 16):
    print("    " + ", ".join(str(v) for v in slot[i:i + 16]) + ",")
print("};")
print("#endif")
print("/* in ascending order */")
print("static const uint32_t dsmr_obis_key[DSMR_OBIS_COUNT] = {")
for (ab, cde, kind, field, _), k in zip(OBJ, keys):
    print(f"    0x{k:08X}u, /* {ab}:{cde} */")
print("};")
print("/* (kind | DK_KILO when the unit the standard gives starts with k) << 8 | field */")
print("static const uint16_t dsmr_obis_act[DSMR_OBIS_COUNT] = {")
for ab, cde, kind, field, unit in OBJ:
    f = "0" if field == "0" else f"READING_{field}"
    k = f"DK_{kind} | DK_KILO" if unit.startswith("k") else f"DK_{kind}"
    print(f"    DSMR_ACT({k}, {f}), /* {ab}:{cde} {unit} */")
print("};")
print("#endif /* FIRMWARE_CORE_DSMR_DSMR_OBIS_TABLE_H */")
