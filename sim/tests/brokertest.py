"""A real mosquitto broker for tests: started on a free loopback port with
the configuration a test needs (anonymous, password file, TLS, mutual TLS),
waited for by polling, stopped by its pid. Certificates are made at test
time with the openssl command line; a subscriber (paho) collects messages."""

import os
import pwd
import queue
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    """A loopback port nobody listens on now. Another process may take it
    before the caller binds it: a program given this number must be retried
    with a fresh one when it reports the port in use (Broker does), and a test
    that only needs a port where nothing answers holds closed_port() instead."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def closed_port(test):
    """A loopback port bound but not listening, held until the end of the
    unittest test: a connection to it is refused, and no other program can
    take the number meanwhile."""
    s = socket.socket()
    test.addCleanup(s.close)
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


class Pki:
    """A test CA, certificates signed by it, and a second CA nobody trusts."""

    def __init__(self, directory):
        self.dir = directory
        self.ca_key, self.ca = self._ca("ca", "smartconnect-twin test CA")
        self.other_key, self.other_ca = self._ca("other-ca", "some other CA")

    def _run(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        key, crt = self.path(name + ".key"), self.path(name + ".pem")
        self._run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                  "-days", "30", "-subj", "/CN=" + cn)
        return key, crt

    def cert(self, name, cn, sans=None, ca=None, days=30):
        """A key and a certificate signed by the test CA (or another one)."""
        ca_key, ca_crt = ca or (self.ca_key, self.ca)
        key, csr, crt = (self.path(name + ext) for ext in (".key", ".csr", ".pem"))
        self._run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                  "-subj", "/CN=" + cn)
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            if sans:
                f.write("subjectAltName=" + ",".join(sans) + "\n")
            f.write("basicConstraints=CA:FALSE\n")
        self._run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                  "-out", crt, "-days", str(days), "-extfile", ext)
        return crt, key


class Broker:
    """mosquitto on 127.0.0.1:<free port>. tls = (cert, key, cafile) or None;
    require_cert: mutual TLS; users: {name: password} or None (anonymous).

    mosquitto cannot be handed a listening socket, so the port is chosen free
    and, when another program takes it first (mosquitto then exits with
    "Address already in use"), chosen again, up to PORT_TRIES times. Ready
    means mosquitto's own log says it is running, not merely that something
    answers on the port. While stopped (stop() then start()), the port is held
    bound but not listening, so a twin sees the broker gone and no other test
    takes the number."""

    PORT_TRIES = 20

    def __init__(self, directory, tls=None, require_cert=False, users=None):
        self.dir = directory
        self.tls, self.require_cert, self.users = tls, require_cert, users
        self.proc = None
        self.hold = None
        self.pwfile = None
        if users is not None:
            fd, self.pwfile = tempfile.mkstemp(prefix="passwd-", dir=directory)
            os.close(fd)
            for u, p in users.items():
                subprocess.run(["mosquitto_passwd", "-b", self.pwfile, u, p], check=True,
                               capture_output=True, timeout=30)
            os.chmod(self.pwfile, 0o600)
        fd, logname = tempfile.mkstemp(prefix="mosquitto-", suffix=".log", dir=directory)
        os.close(fd)
        self.log = open(logname, "ab")
        for _ in range(self.PORT_TRIES):
            self.port = free_port()
            self._configure()
            if self._launch():
                return
        self.log.close()
        raise AssertionError("mosquitto found no free port in %d tries; log:\n%s"
                             % (self.PORT_TRIES, self.log_text()))

    def _configure(self):
        self.conf = os.path.join(self.dir, "mosquitto-%d.conf" % self.port)
        # Started as root, mosquitto would switch to its own user, who cannot
        # read the test's files: it stays who we are.
        lines = ["user " + pwd.getpwuid(os.getuid()).pw_name,
                 "listener %d 127.0.0.1" % self.port, "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning", "log_type notice",
                 "log_type information"]
        if self.pwfile:
            lines += ["allow_anonymous false", "password_file " + self.pwfile]
        else:
            lines += ["allow_anonymous true"]
        if self.tls:
            cert, key, cafile = self.tls
            lines += ["certfile " + cert, "keyfile " + key, "cafile " + cafile]
            if self.require_cert:
                lines += ["require_certificate true", "use_identity_as_username true"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _launch(self, timeout=10):
        """Starts mosquitto on self.port: True once it runs, False when the
        port was taken; fails the test otherwise."""
        self.log.flush()
        start = os.path.getsize(self.log.name)
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log,
                                     stderr=self.log)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log.name, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            if re.search(r"mosquitto version \S+ running", text):
                return True
            if self.proc.poll() is not None:
                if "Address already in use" in text:
                    return False
                raise AssertionError("mosquitto exited with %s:\n%s" % (self.proc.returncode, text))
            if time.monotonic() > deadline:
                raise AssertionError("mosquitto did not start on %d within %s s:\n%s"
                                     % (self.port, timeout, text))
            time.sleep(0.02)

    def start(self):
        """Starts the stopped broker again, on the same port."""
        if self.hold:
            self.hold.close()
            self.hold = None
        if not self._launch():
            raise AssertionError("port %d was taken while the broker was stopped" % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if not self.hold:
            # The closed connections linger in TIME_WAIT on this port, which
            # only a socket with SO_REUSEADDR may share.
            hold = socket.socket()
            hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                hold.bind(("127.0.0.1", self.port))
                self.hold = hold
            except OSError:
                hold.close()

    def close(self):
        self.stop()
        if self.hold:
            self.hold.close()
            self.hold = None
        self.log.close()

    def log_text(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")


class Subscriber:
    """A paho client subscribed to a topic filter; messages land in a queue
    as (topic, payload bytes, monotonic time)."""

    def __init__(self, port, topic="#", tls=None, username=None, password=None):
        self.q = queue.Queue()
        self.connected = threading.Event()
        self.c = mqtt.Client(client_id="test-sub-%d" % os.getpid() + str(time.monotonic_ns()))
        if username:
            self.c.username_pw_set(username, password)
        if tls:
            ca, cert, key = tls
            self.c.tls_set(ca_certs=ca, certfile=cert, keyfile=key,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.topic = topic
        # A subscription is in place once its SUBACK came back.
        self.c.on_subscribe = lambda *a: self.connected.set()
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.q.put((m.topic, m.payload, time.monotonic()))
        self.c.connect("localhost" if tls else "127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise AssertionError("subscriber could not connect to port %d" % port)

    def _on_connect(self, c, userdata, flags, rc):
        if rc == 0:
            c.subscribe(self.topic, qos=1)

    def get(self, timeout=10):
        return self.q.get(timeout=timeout)

    def until(self, predicate, timeout=15):
        """Messages received until one satisfies predicate (returned last)."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching message within %s s; got %d: %s"
                                     % (timeout, len(got), [t for t, _, _ in got[-5:]]))
            try:
                m = self.q.get(timeout=left)
            except queue.Empty:
                continue
            got.append(m)
            if predicate(m):
                return got

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def tmpdir():
    return tempfile.mkdtemp(prefix="sc-mqtt-test-")
