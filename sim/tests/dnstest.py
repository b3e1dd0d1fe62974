"""DNS servers for tests and benchmarks, on a loopback address of their own
(port 53: root), and the wrapper that makes sc-sim use one: a mount
namespace whose /etc/resolv.conf names it."""

import os
import socket
import threading


class _Dns:
    """A UDP socket on port 53 of addr, read by a thread of its own that
    hands each datagram to self.query(data, peer) until close()."""

    def __init__(self, addr):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 53))
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.query(data, peer)

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


class SilentDns(_Dns):
    """Reads every query and answers none; counts them."""

    def __init__(self, addr):
        self.queries = 0
        super().__init__(addr)

    def query(self, data, peer):
        self.queries += 1


class SlowDns(_Dns):
    """Answers every query after delay seconds: A records of the names in
    hosts, no record (NOERROR) for anything else. Counts the queries by
    (name, type)."""

    def __init__(self, addr, hosts, delay):
        self.hosts, self.delay = hosts, delay
        self.queries = {}
        self.lock = threading.Lock()
        super().__init__(addr)

    def count(self, name, qtype):
        with self.lock:
            return self.queries.get((name, qtype), 0)

    def query(self, q, peer):
        labels, i = [], 12
        while i < len(q) and q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        if len(q) < i + 5:
            return  # not a query this server understands: no answer
        name, qtype = ".".join(labels).lower(), int.from_bytes(q[i + 1:i + 3], "big")
        with self.lock:
            self.queries[(name, qtype)] = self.queries.get((name, qtype), 0) + 1
        question = q[12:i + 5]
        addr = self.hosts.get(name) if qtype == 1 else None
        reply = (q[:2] + b"\x81\x80" + b"\x00\x01" + (b"\x00\x01" if addr else b"\x00\x00")
                 + b"\x00\x00\x00\x00" + question)
        if addr:
            reply += (b"\xc0\x0c\x00\x01\x00\x01" + (60).to_bytes(4, "big") + b"\x00\x04"
                      + socket.inet_aton(addr))
        t = threading.Timer(self.delay, self._send, (reply, peer))
        t.daemon = True
        t.start()

    def _send(self, reply, peer):
        try:
            self.sock.sendto(reply, peer)
        except OSError:
            pass


def resolv_conf_wrap(directory, nameserver):
    """The command sc-sim runs under to see nameserver as its only DNS
    server: a mount namespace of its own with a resolv.conf naming it."""
    conf = os.path.join(directory, "resolv.conf")
    with open(conf, "w") as f:
        f.write("nameserver %s\noptions timeout:5 attempts:2\n" % nameserver)
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && exec "$@"', conf]
