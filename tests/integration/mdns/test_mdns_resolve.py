#!/usr/bin/python3
"""mDNS of the simulated Smart Connect, checked with a real resolver
(python3-zeroconf: its message parser, cache and multicast socket) inside a
network namespace (run_in_netns.sh):
 1. device A (serial SC1, servers on 127.0.0.2) resolves as smart-connect.local
    and smart-connect-sc1.local to 127.0.0.2, whose HTTP port serves its landing
    page; a legacy unicast query (from a port other than 5353, RFC 6762 6.7)
    gets a direct answer with its id and TTL 10;
 2. device B (SC2, 127.0.0.3) started beside it probes, meets A's answer and
    becomes smart-connect-2.local; smart-connect-2.local and
    smart-connect-sc2.local resolve to 127.0.0.3, smart-connect.local still
    only to 127.0.0.2;
 3. both report the DHCP host name smart-connect (the sim has no DHCP server:
    the port records what the firmware asked for, printed by meterlab device).
usage: test_mdns_resolve.py MET"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdns_resolver import Resolver  # noqa: E402
from zeroconf import DNSIncoming, DNSOutgoing, DNSQuestion, const  # noqa: E402

if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
    print(__doc__)
    sys.exit(0 if len(sys.argv) == 2 else 2)
MET = sys.argv[1]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def start_device(serial, addr, workdir):
    log = os.path.join(workdir, serial + ".log")
    f = open(log, "w")
    p = subprocess.Popen([MET, "device", "--product", "p1", "--serial", serial, "--bind", addr,
                          "--modbus-port", "0", "--http-port", "0", "--https-port", "0",
                          "--p1-out", "none", "--mdns"], stdout=f, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    text = ""
    while time.time() < deadline:
        text = open(log).read()
        if "stop with Ctrl-C" in text or p.poll() is not None:
            break
        time.sleep(0.05)
    m = re.search(r"HTTP +http://[0-9.]+:(\d+)/", text)
    if m is None:
        print(text)
        raise SystemExit("FAIL: device %s did not start" % serial)
    return p, log, int(m.group(1))


def legacy_query(name, qid=0x4D4C):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.settimeout(2.0)
    out = DNSOutgoing(const._FLAGS_QR_QUERY, multicast=False, id_=qid)
    out.add_question(DNSQuestion(name, const._TYPE_A, const._CLASS_IN))
    s.sendto(out.packets()[0], ("224.0.0.251", 5353))
    try:
        data, src = s.recvfrom(9000)
    except socket.timeout:
        return None, None
    finally:
        s.close()
    return DNSIncoming(data), src


def main():
    work = tempfile.mkdtemp(prefix="ml-mdns-")
    r = Resolver()
    devs = []
    try:
        t0 = time.time()
        a, a_log, a_http = start_device("SC1", "127.0.0.2", work)
        devs.append(a)
        got = r.resolve("smart-connect.local.")
        check(got == {"127.0.0.2"}, "A: smart-connect.local -> %s" % sorted(got))
        print("     (resolved %.1f s after start)" % (time.time() - t0))
        got = r.resolve("smart-connect-sc1.local.")
        check(got == {"127.0.0.2"}, "A: smart-connect-sc1.local -> %s" % sorted(got))
        page = urllib.request.urlopen("http://127.0.0.2:%d/" % a_http, timeout=5).read()
        check(b"<h1>smart-connect-sc1</h1>" in page,
              "A: the resolved address serves A's landing page")
        msg, src = legacy_query("smart-connect.local.")
        check(msg is not None and msg.id == 0x4D4C and len(msg.questions) == 1 and
              [(r.name.lower(), socket.inet_ntoa(r.address), r.ttl) for r in msg.answers] ==
              [("smart-connect.local.", "127.0.0.2", 10)],
              "A: legacy unicast query answered to its port, id echoed, TTL 10 (%s)" %
              (None if msg is None else [(r.name, r.ttl) for r in msg.answers]))
        check(r.resolve("printer.local.", timeout=1.0) == set(),
              "A: another name is not answered")

        t1 = time.time()
        b, b_log, b_http = start_device("SC2", "127.0.0.3", work)
        devs.append(b)
        got = r.resolve("smart-connect-2.local.", timeout=8.0)
        check(got == {"127.0.0.3"}, "B: smart-connect-2.local -> %s" % sorted(got))
        print("     (resolved %.1f s after start)" % (time.time() - t1))
        got = r.resolve("smart-connect-sc2.local.")
        check(got == {"127.0.0.3"}, "B: smart-connect-sc2.local -> %s" % sorted(got))
        got = r.resolve("smart-connect-sc1.local.")
        check(got == {"127.0.0.2"}, "A: smart-connect-sc1.local still -> %s" % sorted(got))
        # a fresh question: every answer that comes within 1 s is A's
        got = r.fresh("smart-connect.local.")
        check(got == {"127.0.0.2"}, "A and B: smart-connect.local only -> %s" % sorted(got))
        page = urllib.request.urlopen("http://127.0.0.3:%d/" % b_http, timeout=5).read()
        check(b"<h1>smart-connect-sc2</h1>" in page,
              "B: the resolved address serves B's landing page")
        for name, log in (("A", a_log), ("B", b_log)):
            text = open(log).read()
            check(re.search(r"^  DHCP host name smart-connect$", text, re.M) is not None,
                  "%s: DHCP host name smart-connect" % name)
        check("mDNS: smart-connect-2.local, smart-connect-sc2.local (1 conflicts)" in
              open(b_log).read(), "B: reports its rename after one conflict")
        print("     total %.1f s" % (time.time() - t0))
    finally:
        for p in devs:
            p.send_signal(signal.SIGINT)
        for p in devs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for p, log in zip(devs, sorted(os.path.join(work, f) for f in os.listdir(work))):
            text = open(log).read()
            check(p.returncode == 0 and "Sanitizer" not in text and "runtime error" not in text,
                  "%s: stopped cleanly (exit %s)" % (os.path.basename(log), p.returncode))
        r.close()
        if failures:
            for f in os.listdir(work):
                print("---- " + f)
                print(open(os.path.join(work, f)).read())
        subprocess.run(["rm", "-rf", work])
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


main()
