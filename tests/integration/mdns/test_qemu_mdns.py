#!/usr/bin/python3
"""mDNS of the Smart P1 Connect target image in QEMU, checked with a real
resolver (python3-zeroconf) inside a network namespace (run_in_netns.sh): the
image sends AT+MDNS=1,"smart-connect",... to its co-processor, whose emulator
(`meterlab device --target qemu --mdns`, servers on 127.0.0.2) answers;
smart-connect.local resolves to 127.0.0.2, whose HTTP port serves the image's
landing page. A simulated device started beside it (127.0.0.3) meets that
answer and becomes smart-connect-2.local.
usage: test_qemu_mdns.py MET   (ML_TARGET_BIN: the images; QEMU: the program)"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdns_resolver import Resolver  # noqa: E402

if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
    print(__doc__)
    sys.exit(0 if len(sys.argv) == 2 else 2)
MET = sys.argv[1]
if not os.access(MET, os.X_OK):
    print("skipped: %s not built (build the host preset first: make sim)" % MET)
    sys.exit(77)
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def start(args, log, timeout):
    p = subprocess.Popen([MET, "device"] + args, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        text = open(log).read()
        if "stop with Ctrl-C" in text or p.poll() is not None:
            break
        time.sleep(0.1)
    m = re.search(r"HTTP +http://[0-9.]+:(\d+)/", text)
    if m is None:
        print(text)
        p.kill()
        raise SystemExit("FAIL: meterlab device %s did not start" % " ".join(args))
    return p, int(m.group(1))


def main():
    work = tempfile.mkdtemp(prefix="ml-qemu-mdns-")
    r = Resolver()
    procs = []
    logs = [os.path.join(work, "qemu.log"), os.path.join(work, "sim.log")]
    try:
        q, q_http = start(["--target", "qemu", "--product", "p1", "--mdns", "--bind", "127.0.0.2",
                           "--modbus-port", "0", "--http-port", "0", "--https-port", "0"],
                          logs[0], 30)
        procs.append(q)
        t0 = time.time()
        got = r.resolve("smart-connect.local.", timeout=15.0)
        check(got == {"127.0.0.2"}, "qemu: smart-connect.local -> %s" % sorted(got))
        print("     (resolved %.1f s after the banner)" % (time.time() - t0))
        page = urllib.request.urlopen("http://127.0.0.2:%d/" % q_http, timeout=10).read()
        check(b"<h1>smart-connect-mps2an386-000001</h1>" in page,
              "qemu: the resolved address serves the image's landing page")
        s, _ = start(["--product", "p1", "--serial", "SC9", "--mdns", "--bind", "127.0.0.3",
                      "--modbus-port", "0", "--http-port", "0", "--https-port", "0",
                      "--p1-out", "none"], logs[1], 10)
        procs.append(s)
        got = r.resolve("smart-connect-2.local.", timeout=8.0)
        check(got == {"127.0.0.3"}, "sim beside it: smart-connect-2.local -> %s" % sorted(got))
        got = r.fresh("smart-connect.local.")
        check(got == {"127.0.0.2"}, "both: smart-connect.local only -> %s" % sorted(got))
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        r.close()
        if failures:
            for f in logs:
                if os.path.exists(f):
                    print("---- " + f)
                    print(open(f).read())
        subprocess.run(["rm", "-rf", work])
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


main()
