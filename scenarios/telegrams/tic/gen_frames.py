#!/usr/bin/env python3
"""Write the TIC test frames of this directory (raw STX..ETX bytes).

Checksums are computed here, independently of firmware/core/tic, following
shared/spec/tic.md section 5; the worked examples of that section are checked
first. Values are hand-chosen; tests/unit/tic/test_tic.c asserts them as
hand-written numbers. Re-run: python3 gen_frames.py (from this directory).
"""
import os
import shutil

STX, ETX, EOT, LF, CR, HT, SP = b"\x02", b"\x03", b"\x04", b"\n", b"\r", b"\t", b" "


def cs(b: bytes) -> bytes:
    return bytes([(sum(b) & 0x3F) + 0x20])


def std(label, data, hd=None):
    """Standard group: LF label HT [horodate HT] data HT checksum CR."""
    body = label.encode() + HT + ((hd.encode() + HT) if hd is not None else b"") + data.encode() + HT
    return LF + body + cs(body) + CR


def hist(label, data):
    """Historic group: LF label SP data SP checksum CR; the sum excludes the last SP."""
    body = label.encode() + SP + data.encode()
    return LF + body + SP + cs(body) + CR


def frame(groups):
    return STX + b"".join(groups) + ETX


# tic.md section 5 worked examples
assert std("PREF", "04") == b"\nPREF\t04\tC\r"
assert std("DATE", "", "H081225223518") == b"\nDATE\tH081225223518\t\tH\r"
assert std("SINSTI", "01258") == b"\nSINSTI\t01258\tL\r"
assert hist("OPTARIF", "BASE") == b"\nOPTARIF BASE 0\r"

PJOURF = "00008002 0210C001 08108002 1440C001 16408002 NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE"
assert len(PJOURF) == 98
MSG1 = "PAS DE          MESSAGE         "
assert len(MSG1) == 32


def std_1ph(date="E240611143015", ngtf="H PLEINE/CREUSE ", adsc="022061123456", extra=()):
    g = []
    if adsc is not None:
        g.append(std("ADSC", adsc))
    g += [std("VTIC", "02"), std("DATE", "", date)]
    if ngtf is not None:
        g.append(std("NGTF", ngtf))
    g += [std("LTARF", " HEURE  CREUSE  "), std("EAST", "012345678"),
          std("EASF01", "004000111"), std("EASF02", "008345567")]
    g += [std("EASF%02d" % i, "000000000") for i in range(3, 11)]
    g += [std("EASD01", "004000111"), std("EASD02", "008345567"),
          std("EASD03", "000000000"), std("EASD04", "000000000"),
          std("IRMS1", "007"), std("URMS1", "236"), std("PREF", "06"), std("PCOUP", "06"),
          std("SINSTS", "01712"),
          std("SMAXSN", "05030", "E240611090512"), std("SMAXSN-1", "04210", "E240610193000"),
          std("CCASN", "01650", "E240611143000"), std("CCASN-1", "01580", "E240611140000"),
          std("UMOY1", "235", "E240611143000"), std("STGE", "003A0401"),
          std("MSG1", MSG1), std("PRM", "12345678901234"), std("RELAIS", "000"),
          std("NTARF", "02"), std("NJOURF", "00"), std("NJOURF+1", "00"),
          std("PJOURF+1", PJOURF)]
    g += list(extra)
    return g


def std_1ph_prod():
    g = [std("ADSC", "022061654321"), std("VTIC", "02"), std("DATE", "", "H231224103000"),
         std("NGTF", "PRODUCTEUR"), std("LTARF", "INDEX NON CONSO "),
         std("EAST", "000000000")]
    g += [std("EASF%02d" % i, "000000000") for i in range(1, 11)]
    g += [std("EASD%02d" % i, "000000000") for i in range(1, 5)]
    g += [std("EAIT", "004567123"), std("ERQ1", "000001234"), std("ERQ2", "000000567"),
          std("ERQ3", "000000089"), std("ERQ4", "000012345"),
          std("IRMS1", "005"), std("URMS1", "241"), std("PREF", "03"), std("PCOUP", "03"),
          std("SINSTS", "00000"), std("SMAXSN", "00012", "H231224000000"),
          std("SMAXSN-1", "00410", "H231223193000"), std("SINSTI", "01258"),
          std("SMAXIN", "02980", "H231224100512"), std("SMAXIN-1", "03010", "H231223131500"),
          std("CCAIN", "01210", "H231224100000"), std("CCAIN-1", "01190", "H231224093000"),
          std("UMOY1", "240", "H231224100000"), std("STGE", "002A0301"),
          std("MSG1", MSG1), std("PRM", "98765432109876"), std("RELAIS", "000"),
          std("NTARF", "01"), std("NJOURF", "00"), std("NJOURF+1", "00"),
          std("PJOURF+1", "00004001 NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE")]
    return g


def std_3ph_prod():
    g = [std("ADSC", "031963000777"), std("VTIC", "02"), std("DATE", "", "E220716131501"),
         std("NGTF", "      BASE      "), std("LTARF", "      BASE      "),
         std("EAST", "023456789"), std("EASF01", "023456789")]
    g += [std("EASF%02d" % i, "000000000") for i in range(2, 11)]
    g += [std("EASD01", "023456789")] + [std("EASD%02d" % i, "000000000") for i in range(2, 5)]
    g += [std("EAIT", "001002003"), std("ERQ1", "000100200"), std("ERQ2", "000000300"),
          std("ERQ3", "000000400"), std("ERQ4", "000050600"),
          std("IRMS1", "002"), std("IRMS2", "003"), std("IRMS3", "001"),
          std("URMS1", "238"), std("URMS2", "240"), std("URMS3", "239"),
          std("PREF", "09"), std("PCOUP", "09"),
          std("SINSTS", "00018"), std("SINSTS1", "00000"), std("SINSTS2", "00565"),
          std("SINSTS3", "00000"),
          std("SMAXSN", "03120", "E220716071001"), std("SMAXSN1", "01100", "E220716071001"),
          std("SMAXSN2", "01500", "E220716071001"), std("SMAXSN3", "00990", "E220716071001"),
          std("SMAXSN-1", "04000", "E220715201502"), std("SMAXSN1-1", "01400", "E220715201502"),
          std("SMAXSN2-1", "01700", "E220715201502"), std("SMAXSN3-1", "01210", "E220715201502"),
          std("SINSTI", "00000"), std("SMAXIN", "02450", "E220716123005"),
          std("SMAXIN-1", "02600", "E220715124510"),
          std("UMOY1", "238", "E220716131000"), std("UMOY2", "240", "E220716131000"),
          std("UMOY3", "239", "E220716131000"), std("STGE", "003A0301"),
          std("MSG1", MSG1), std("PRM", "11112222333344"), std("RELAIS", "000"),
          std("NTARF", "01"), std("NJOURF", "00"), std("NJOURF+1", "00"),
          std("PJOURF+1", "00004001 NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE")]
    return g


def hist_1ph():
    return [hist("ADCO", "021861123456"), hist("OPTARIF", "HC.."), hist("ISOUSC", "30"),
            hist("HCHC", "000723392"), hist("HCHP", "001234567"), hist("PTEC", "HP.."),
            hist("IINST", "007"), hist("IMAX", "090"), hist("PAPP", "01710"),
            hist("HHPHC", "A"), hist("MOTDETAT", "000000")]


def hist_3ph():
    return [hist("ADCO", "031963000777"), hist("OPTARIF", "BASE"), hist("ISOUSC", "20"),
            hist("BASE", "002565285"), hist("PTEC", "TH.."),
            hist("IINST1", "002"), hist("IINST2", "003"), hist("IINST3", "001"),
            hist("IMAX1", "060"), hist("IMAX2", "060"), hist("IMAX3", "060"),
            hist("PMAX", "06780"), hist("PAPP", "01230"), hist("HHPHC", "A"),
            hist("MOTDETAT", "000000"), hist("PPOT", "00")]


def flip(data: bytes, needle: bytes, at: int, bit: int) -> bytes:
    i = data.index(needle) + at
    return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = {}
    one = frame(std_1ph())
    out["std-1ph.bin"] = one
    out["std-1ph-producer.bin"] = frame(std_1ph_prod())
    out["std-3ph-producer.bin"] = frame(std_3ph_prod())
    # A capture starts mid-frame and ends mid-frame (tic.md §2, §10).
    out["std-1ph-stream.bin"] = one[500:] + one + frame(std_1ph(date="E240611143017")) + one[:300]
    # EOT interrupts a frame; the meter then restarts with a complete frame (tic.md §2).
    out["std-1ph-eot.bin"] = one[:400] + EOT + one
    # STX inside a frame: the interrupted frame fails, the next one is good.
    out["std-1ph-restart.bin"] = one[:250] + one
    # Noise (tic.md §10): IRMS1 data '7'->'6' (bit 0) so IRMS1 fails its checksum;
    # 'A' of "EAST" read as '@' (bit 0); SINSTS's CR read as FF, merging it with SMAXSN.
    noisy = flip(one, b"IRMS1\t007", 8, 0)
    noisy = flip(noisy, b"\nEAST\t", 2, 0)
    i = noisy.index(b"\nSINSTS\t") + 1
    j = noisy.index(CR, i)
    noisy = noisy[:j] + b"\x0c" + noisy[j + 1:]
    out["std-1ph-noisy.bin"] = noisy
    # The benchmark frame (std-3ph.bin, kept as it is: the peers' published figures are
    # measured on these bytes) with PREF's CR turned into FF and one bit of URMS2's data
    # flipped.
    bench = open(os.path.join(here, "std-3ph.bin"), "rb").read()
    b = flip(bench, b"URMS2\t231", 6, 1)  # '2'->'0'
    k = bench.index(b"\nPREF\t") + 1
    k = b.index(CR, k)
    out["std-3ph-noisy.bin"] = b[:k] + b"\x0c" + b[k + 1:]
    # Label variants: no ADSC, lower-case NGTF left-aligned, degraded clock (lower-case
    # season), DPM1/FPM1 with a space season, MSG2, an unknown label, a text-log frame
    # shape (STX CR LF ... CR LF ETX).
    var = std_1ph(date="e240611143015", ngtf="base            ", adsc=None,
                  extra=[std("DPM1", "00", " 240612060000"), std("FPM1", "00", " 240612220000"),
                         std("MSG2", "COUPURE DEMAIN  "), std("XYZ9", "123")])
    out["std-1ph-variants.bin"] = frame(var)
    out["std-1ph-textlog.bin"] = STX + CR + b"".join(std_1ph(adsc="12345678900")) + CR + LF + ETX
    out["std-3ph-producer-noisy.bin"] = flip(frame(std_3ph_prod()), b"SINSTI\t00000", 10, 0)
    out["hist-1ph.bin"] = frame(hist_1ph())
    out["hist-3ph.bin"] = frame(hist_3ph()) + frame(
        [hist("ADIR1", "003"), hist("ADCO", "031963000777"), hist("IINST1", "002"),
         hist("IINST2", "003"), hist("IINST3", "061")])
    for name, data in out.items():
        with open(os.path.join(here, name), "wb") as f:
            f.write(data)
        print("%-28s %5d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
