#!/usr/bin/python3
"""The ESP-AT emulator's AT+MDNS (the co-processor's mDNS in QEMU runs),
checked with a real resolver (python3-zeroconf) inside a network namespace
(run_in_netns.sh). Two emulators (`meterlab at-emu --mdns`, A records
127.0.0.2 and 127.0.0.3) get AT+MDNS=1,"smart-connect","_http",80 over their
ptys, as the firmware sends it: the first resolves as smart-connect.local, the
second probes, meets the first's answer and becomes smart-connect-2.local;
AT+MDNS=0 stops the answers.
usage: test_at_emu_mdns.py MET"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdns_resolver import Resolver  # noqa: E402

if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
    print(__doc__)
    sys.exit(0 if len(sys.argv) == 2 else 2)
MET = sys.argv[1]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Emu:
    def __init__(self, addr, work):
        self.log = os.path.join(work, "emu-%s.log" % addr)
        self.p = subprocess.Popen([MET, "at-emu", "--mdns", "--bind", addr],
                                  stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 5
        m = None
        while m is None and time.time() < deadline:
            time.sleep(0.05)
            m = re.search(r"on (/dev/pts/\d+)", open(self.log).read())
        if m is None:
            raise SystemExit("FAIL: meterlab at-emu did not start:\n" + open(self.log).read())
        self.fd = os.open(m.group(1), os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)

    def command(self, line, timeout=3.0):
        os.write(self.fd, line.encode() + b"\r\n")
        got = b""
        deadline = time.time() + timeout
        os.set_blocking(self.fd, False)
        while time.time() < deadline and b"OK\r\n" not in got and b"ERROR" not in got:
            try:
                got += os.read(self.fd, 4096)
            except BlockingIOError:
                time.sleep(0.02)
        return b"OK\r\n" in got

    def text(self):
        return open(self.log).read()

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        os.close(self.fd)
        text = self.text()
        check(self.p.returncode == 0 and "Sanitizer" not in text and "runtime error" not in text,
              "%s: stopped cleanly (exit %s)" % (os.path.basename(self.log), self.p.returncode))


def main():
    work = tempfile.mkdtemp(prefix="ml-emu-mdns-")
    r = Resolver()
    emus = []
    try:
        a = Emu("127.0.0.2", work)
        emus.append(a)
        check(a.command("ATE0") and a.command('AT+MDNS=1,"smart-connect","_http",80'),
              "emulator A: AT+MDNS=1 answered OK")
        got = r.resolve("smart-connect.local.")
        check(got == {"127.0.0.2"}, "A: smart-connect.local -> %s" % sorted(got))
        b = Emu("127.0.0.3", work)
        emus.append(b)
        check(b.command("ATE0") and b.command('AT+MDNS=1,"smart-connect","_http",80'),
              "emulator B: AT+MDNS=1 answered OK")
        got = r.resolve("smart-connect-2.local.", timeout=8.0)
        check(got == {"127.0.0.3"}, "B: smart-connect-2.local -> %s" % sorted(got))
        check("# mDNS: smart-connect-2.local claimed" in b.text(), "B: logs its rename")
        got = r.fresh("smart-connect.local.")
        check(got == {"127.0.0.2"}, "A and B: smart-connect.local only -> %s" % sorted(got))
        check(a.command("AT+MDNS=0"), "A: AT+MDNS=0 answered OK")
        r.forget("smart-connect.local.")
        got = r.resolve("smart-connect.local.", timeout=1.5)
        check(got == set(), "A: after AT+MDNS=0 smart-connect.local is not answered (%s)" %
              sorted(got))
    finally:
        for e in emus:
            e.stop()
        r.close()
        if failures:
            for e in emus:
                print("---- " + e.log)
                print(e.text())
        subprocess.run(["rm", "-rf", work])
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


main()
