#!/usr/bin/env python3
"""A bench of simulated boards for `meterlab run --dut rig` tests (issue 22).

serve DIR METERLAB NAME...  For each NAME a Smart P1/A1 Connect (`meterlab device
    --product p1`) whose P1 input and console sit behind ser2net on loopback
    (RFC 2217), as adapters of a remote bench host do: the input is a null-modem
    of two ptys (ser2net holds one end, the device the other), the console is the
    device's stdout written into a pty that ser2net exports. Writes DIR/NAME.yaml
    (the rig file: rfc2217:// ports, network, lock, power commands) and DIR/ready,
    then serves power commands until SIGTERM, which stops everything it started.
    A NAME=IMAGE is a P1MB target image in QEMU driven by the rig itself
    (`driver: qemu`): its rig file's ports (console, inject, rs485) are ser2net's
    exports of the links the driver makes in DIR/NAME.ports; nothing else runs
    here for it.
ctl DIR NAME on|off  Power a board on or off (what the rig's commands run).
"""
import os, select, signal, socket, subprocess, sys, time, termios, tty

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def raw_pty():
    m, s = os.openpty()
    tty.setraw(s)
    os.set_blocking(m, False)
    return m, s, os.ttyname(s)

class Board:
    def __init__(self, d, ml, name):
        self.d, self.ml, self.name = d, ml, name
        self.m1, self.s1, self.p1 = raw_pty()   # ser2net's end of the P1 null-modem
        self.m2, self.s2, self.p2 = raw_pty()   # the device's end
        self.m3, self.s3, self.p3 = raw_pty()   # the console (ser2net reads s3)
        self.mb, self.http, self.https = free_port(), free_port(), free_port()
        self.state = os.path.join(d, name + ".state")
        self.inj_port, self.con_port = free_port(), free_port()
        self.proc, self.buf, self.login = None, b"", None

    def on(self):
        if self.proc:
            return
        termios.tcflush(self.s2, termios.TCIFLUSH)  # what was sent while it was off
        self.proc = subprocess.Popen(
            [self.ml, "device", "--product", "p1", "--serial", "SC" + self.name[-1] * 8,
             "--p1-in", self.p2, "--p1-out", "none", "--modbus-port", str(self.mb),
             "--http-port", str(self.http), "--https-port", str(self.https),
             "--state-dir", self.state],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        os.set_blocking(self.proc.stdout.fileno(), False)
        end = time.time() + 15
        banner = b""
        while b"stop with Ctrl-C" not in banner and time.time() < end:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                b = os.read(self.proc.stdout.fileno(), 4096)
                if not b:
                    break
                banner += b
                self.console(b)
        for l in banner.decode(errors="replace").splitlines():
            if l.strip().startswith("login"):
                self.login = l.split()[-1]

    def off(self):
        if not self.proc:
            return
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=10)
            self.console(out or b"")
        except subprocess.TimeoutExpired:
            self.proc.kill(); self.proc.wait()
        self.proc = None

    def console(self, b):
        try:
            os.write(self.m3, b.replace(b"\n", b"\r\n"))
        except BlockingIOError:
            pass  # nobody reads the console: drop it, as a UART does

def qemu_rig(d, name, image):
    """The rig file and ser2net connections of a QEMU board (driver: qemu)."""
    ports = {r: free_port() for r in ("inject", "rs485", "console")}
    cfg = ""
    for r, port in ports.items():
        line = "9600e81" if r == "rs485" else "115200n81"
        cfg += ("connection: &%s_%s\n  accepter: telnet(rfc2217),tcp,127.0.0.1,%d\n"
                "  connector: serialdev,%s,%s,local\n"
                % (name.replace("-", "_"), r, port, os.path.join(d, name + ".ports", r), line))
    with open(os.path.join(d, name + ".yaml"), "w") as f:
        f.write(f"""name: {name}
dut: {{product: p1mb, variant: sdm630}}
lock: {name}.lock
driver: qemu
qemu: {{image: "{image}", ports: {name}.ports}}
serial:
  inject: {{path: "rfc2217://127.0.0.1:{ports['inject']}"}}
  rs485: {{path: "rfc2217://127.0.0.1:{ports['rs485']}", line: "9600 8E1", slave_id: 16}}
  console: {{path: "rfc2217://127.0.0.1:{ports['console']}", banner: "meterlab p1mb"}}
timeouts: {{boot_s: 20, modbus_s: 1}}
""")
    return cfg, list(ports.values())

def serve(d, ml, names):
    qemus = dict(n.split("=", 1) for n in names if "=" in n)
    boards = {n: Board(d, ml, n) for n in names if "=" not in n}
    for b in boards.values():
        b.on()
    cfg = ""
    wait_ports = []
    for n, image in qemus.items():
        c, p = qemu_rig(d, n, image)
        cfg += c
        wait_ports += p
    for b in boards.values():
        for tag, port, path in (("inj", b.inj_port, b.p1), ("con", b.con_port, b.p3)):
            cfg += ("connection: &%s_%s\n  accepter: telnet(rfc2217),tcp,127.0.0.1,%d\n"
                    "  connector: serialdev,%s,115200n81,local\n" % (b.name.replace("-", "_"), tag, port, path))
    with open(os.path.join(d, "ser2net.yaml"), "w") as f:
        f.write(cfg)
    s2n = subprocess.Popen(["ser2net", "-n", "-u", "-c", os.path.join(d, "ser2net.yaml"),
                            "-P", os.path.join(d, "ser2net.pid")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    here = os.path.abspath(__file__)
    for b in boards.values():
        with open(os.path.join(d, b.name + ".yaml"), "w") as f:
            f.write(f"""name: {b.name}
dut: {{product: p1, serial: SC{b.name[-1] * 8}}}
lock: {b.name}.lock
serial:
  inject: {{path: "rfc2217://127.0.0.1:{b.inj_port}"}}
  console: {{path: "rfc2217://127.0.0.1:{b.con_port}", banner: "meterlab device: Smart"}}
network: {{host: 127.0.0.1, modbus_port: {b.mb}, http_port: {b.https},
          https_ca: "{os.path.join(b.state, 'https_cert.pem')}",
          http_user: user, http_password: "{b.login}"}}
commands:
  power_off: "python3 {here} ctl {d} {{name}} off"
  power_on: "python3 {here} ctl {d} {{name}} on"
  timeout_s: 30
timeouts: {{boot_s: 20, modbus_s: 1, http_s: 3}}
""")
    ctl = socket.socket(socket.AF_UNIX)
    ctl.bind(os.path.join(d, "ctl")); ctl.listen(4)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    # ser2net listening on every port: ready
    for p in wait_ports + [p for b in boards.values() for p in (b.inj_port, b.con_port)]:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", p)).close(); break
            except OSError:
                time.sleep(0.05)
    open(os.path.join(d, "ready"), "w").write("%d\n" % os.getpid())
    while not stop:
        fds = [ctl]
        for b in boards.values():
            fds += [b.m1, b.m2] + ([b.proc.stdout] if b.proc else [])
        try:
            r, _, _ = select.select(fds, [], [], 0.2)
        except InterruptedError:
            continue
        for b in boards.values():
            for src, dst in ((b.m1, b.m2), (b.m2, b.m1)):
                if src in r:
                    try:
                        os.write(dst, os.read(src, 4096))
                    except (BlockingIOError, OSError):
                        pass
            if b.proc and b.proc.stdout in r:
                try:
                    data = os.read(b.proc.stdout.fileno(), 4096)
                    b.console(data)
                except BlockingIOError:
                    pass
        if ctl in r:
            c, _ = ctl.accept()
            try:
                name, what = c.recv(200).decode().split()
                b = boards.get(name)
                if b is None:
                    c.send(b"no such board\n")
                else:
                    b.on() if what == "on" else b.off()
                    c.send(b"ok\n")
            except (OSError, ValueError):
                pass  # the command was killed (its timeout, a stop signal) while waiting
            c.close()
    for b in boards.values():
        b.off()
    s2n.terminate(); s2n.wait()

def ctl(d, name, what):
    c = socket.socket(socket.AF_UNIX)
    c.connect(os.path.join(d, "ctl"))
    c.send(f"{name} {what}".encode())
    reply = c.recv(200).decode().strip()
    if reply != "ok":
        sys.exit(f"bench_sim: {name} {what}: {reply}")

if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 5 and sys.argv[1] == "ctl":
        ctl(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
