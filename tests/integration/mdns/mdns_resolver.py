"""A small mDNS resolver for the tests, built on python3-zeroconf (its message
parser, record cache and multicast socket on 127.0.0.1): multicast A queries
(QM) until an answer is cached."""
import socket
import sys
import time

try:
    from zeroconf import DNSOutgoing, DNSQuestion, Zeroconf, const
except ImportError:
    print("FAIL: python3-zeroconf is not installed (tools/bootstrap installs it)")
    sys.exit(1)


class Resolver:
    def __init__(self):
        self.zc = Zeroconf(interfaces=["127.0.0.1"])

    def cached(self, name):
        return {socket.inet_ntoa(r.address)
                for r in self.zc.cache.get_all_by_details(name, const._TYPE_A, const._CLASS_IN)}

    def forget(self, name):
        self.zc.cache.async_remove_records(
            list(self.zc.cache.get_all_by_details(name, const._TYPE_A, const._CLASS_IN)))

    def resolve(self, name, timeout=6.0):
        """Query every 0.5 s until an answer is cached; the addresses (empty: none)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = DNSOutgoing(const._FLAGS_QR_QUERY)
            out.add_question(DNSQuestion(name, const._TYPE_A, const._CLASS_IN))
            self.zc.send(out)
            step = min(deadline, time.time() + 0.5)
            while time.time() < step:
                got = self.cached(name)
                if got:
                    return got
                time.sleep(0.02)
        return set()

    def fresh(self, name, listen=1.0):
        """Forget @name, ask again, and return every address answered within @listen s."""
        self.forget(name)
        self.resolve(name)
        time.sleep(listen)
        return self.cached(name)

    def close(self):
        self.zc.close()
