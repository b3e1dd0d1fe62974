"""The well-behaved clients of test_soak.py, each a process of its own (so
that the attacks' threads in the test's process cannot delay what they
measure): one line on stdout for each poll or message, with the monotonic
clock's times (one clock for every process of the machine); they stop when
their stdin closes.

  soak_clients.py modbus PORT BLOCKS   pymodbus on one connection, reading the
                                       blocks (ADDR:COUNT,...) in turn:
                                       "T0 T1 ok W,W,...;W,...;..." or "T0 T1 error WHAT"
  soak_clients.py https PORT AUTH      GET /api/v1/status twice a second, a new
                                       connection each time: "T0 T1 STATUS"
  soak_clients.py mqtt PORT TOPIC      a paho subscriber: "T PAYLOAD" for each
                                       message (after a first line "subscribed")
"""

import http.client
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))

stop = threading.Event()


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def modbus(port, blocks):
    from pymodbus.client import ModbusTcpClient
    blocks = [tuple(int(x, 0) for x in b.split(":")) for b in blocks.split(",")]
    c = ModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
    if not c.connect():
        out("%.6f %.6f error could not connect" % (time.monotonic(), time.monotonic()))
    while not stop.is_set():
        t0 = time.monotonic()
        words = []
        try:
            for addr, n in blocks:
                r = c.read_holding_registers(addr, n, slave=1)
                if r.isError():
                    raise RuntimeError("read of %#x+%d: %s" % (addr, n, r))
                words.append(",".join("%d" % w for w in r.registers))
            out("%.6f %.6f ok %s" % (t0, time.monotonic(), ";".join(words)))
        except Exception as e:
            out("%.6f %.6f error %r" % (t0, time.monotonic(), e))
            c.close()
            c.connect()
        stop.wait(0.05)
    c.close()


def https(port, auth):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    while not stop.is_set():
        t0 = time.monotonic()
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        try:
            c.request("GET", "/api/v1/status", headers={"Authorization": auth})
            r = c.getresponse()
            r.read()
            st = "%d" % r.status
        except Exception as e:
            st = repr(e).replace(" ", "_")
        finally:
            c.close()
        out("%.6f %.6f %s" % (t0, time.monotonic(), st))
        stop.wait(0.5)


def mqtt(port, topic):
    import brokertest
    sub = brokertest.Subscriber(port, topic)
    out("subscribed")
    try:
        while not stop.is_set():
            try:
                _, payload, when = sub.get(timeout=0.2)
            except Exception:
                continue
            out("%.6f %s" % (when, payload.decode()))
    finally:
        sub.close()


def main():
    def watch():
        sys.stdin.read()
        stop.set()
    threading.Thread(target=watch, daemon=True).start()
    kind, port, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    {"modbus": modbus, "https": https, "mqtt": mqtt}[kind](port, arg)


if __name__ == "__main__":
    main()
