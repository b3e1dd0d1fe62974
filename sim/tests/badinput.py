"""The bad-input catalogue: every malformed input class tried per surface, the
input itself and the answer it must get. One list, read by two programs:
test_badinput.py runs every case against the real programs (sc-telegram,
sc-sim's Modbus and HTTP servers, sc-sim --scenario, the command lines) and
checks each answer; docs/tables.py writes the table of
docs/developer/bad-input.md from it (and test_badinput.py checks that the
documented table is that one).

A case is Case(surface, what, data, answer, expect):
  surface  P1, TIC, Modbus, HTTP, JSON, Scenario or Flags
  what     the class of bad input, as the documentation shows it
  data     the input: bytes for P1, TIC, Modbus and HTTP; a JSON text (str) for
           JSON (a PATCH body of /api/v1/config) and Scenario; a list of
           arguments for Flags (the program first)
  answer   the answer in words, as the documentation shows it
  expect   what the runner checks: a regex the program's answer must match
           (for Modbus: the reply bytes in hex, or "closed"; for HTTP the
           status line and body; for the others exit status and stderr)
"""

import collections
import json

Case = collections.namedtuple("Case", "surface what data answer expect")


def p1_crc(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


P1_LINES = [
    "1-3:0.2.8(50)",
    "0-0:1.0.0(251201010000W)",
    "0-0:96.1.1(4530303434303037363537363330343533)",
    "1-0:1.8.1(008147.107*kWh)",
    "1-0:1.8.2(011564.488*kWh)",
    "1-0:2.8.1(000000.000*kWh)",
    "1-0:2.8.2(000000.000*kWh)",
    "0-0:96.14.0(0001)",
    "1-0:1.7.0(00.227*kW)",
    "1-0:2.7.0(00.000*kW)",
    "1-0:32.7.0(231.4*V)",
    "1-0:31.7.0(001*A)",
    "1-0:21.7.0(00.115*kW)",
    "0-1:24.1.0(003)",
    "0-1:96.1.0(4730303339303031363033343133313834)",
    "0-1:24.2.1(251201010000W)(03853.488*m3)",
]
P1_HEADER = "ISK5\\2M550T-1012"


def p1(lines=None, header=P1_HEADER, crc=True, eol="\r\n"):
    """A DSMR 5 telegram with a valid CRC (crc=False: none), lines replaced."""
    body = "/" + header + eol + eol + "".join(l + eol for l in (lines or P1_LINES)) + "!"
    b = body.encode("latin-1")
    return b + (b"%04X\r\n" % p1_crc(b) if crc else b"\r\n")


def p1_with(old, new):
    return p1([new if l == old else l for l in P1_LINES])


def p1_obj(obis, value):
    """The telegram with OBIS code obis's value text replaced by value."""
    return p1([obis + value if l.startswith(obis + "(") else l for l in P1_LINES])


GOOD_P1 = p1()


def tic_group(label, value, date=None, sep="\t"):
    fields = [label] + ([date] if date else []) + [value]
    text = sep.join(fields) + sep
    ck = (sum(text.encode("latin-1")) & 0x3F) + 0x20
    return b"\n" + text.encode("latin-1") + bytes([ck]) + b"\r"


TIC_GROUPS = [
    ("ADSC", "011871630453"), ("VTIC", "02"), ("DATE", "", "H251201010000"),
    ("NGTF", "BASE            "), ("LTARF", "BASE            "), ("EAST", "019711591"),
    ("EASF01", "019711591"), ("IRMS1", "001"), ("URMS1", "231"), ("PREF", "12"),
    ("PCOUP", "12"), ("SINSTS", "00261"), ("STGE", "003A0000"), ("RELAIS", "001"),
    ("NTARF", "01"),
]


def tic(groups=None, raw=None):
    """A Linky standard frame: STX, the groups, ETX; raw groups (bytes) as given."""
    out = b"\x02"
    for g in (groups or TIC_GROUPS):
        out += g if isinstance(g, bytes) else tic_group(g[0], g[1], g[2] if len(g) > 2 else None)
    return out + (raw or b"") + b"\x03"


def tic_with(label, value=None, group=None):
    """The frame with label's group replaced (by value, or a whole raw group)."""
    gs = []
    for g in TIC_GROUPS:
        if g[0] == label:
            if group is not None:
                gs.append(group)
            elif value is not None:
                gs.append((label, value) + tuple(g[2:]))
        else:
            gs.append(g)
    return tic(gs)


def tic_bad_ck(label):
    g = bytearray(tic_group(label, dict((x[0], x[1]) for x in TIC_GROUPS)[label]))
    g[-2] = 0x20 if g[-2] != 0x20 else 0x21
    return tic_with(label, group=bytes(g))


def mbap(fc_and_data, tid=1, proto=0, unit=1, length=None):
    n = len(fc_and_data) + 1 if length is None else length
    return tid.to_bytes(2, "big") + proto.to_bytes(2, "big") + n.to_bytes(2, "big") + \
        bytes([unit]) + fc_and_data


def rd(fc, addr, count):
    return bytes([fc]) + addr.to_bytes(2, "big") + count.to_bytes(2, "big")


def exc(fc, code, tid=1):
    """The hex of an exception reply to function fc."""
    return "^reply %04x00000003%02x%02x%02x$" % (tid, 1, fc | 0x80, code)


def http(method, path, headers=(), body=b"", auth=True, version="HTTP/1.1"):
    h = "%s %s %s\r\nHost: smart-connect.local\r\nConnection: close\r\n" % (method, path, version)
    if auth is True:
        h += "Authorization: Basic dXNlcjpiYWQtaW5wdXQtcHc=\r\n"  # user:bad-input-pw
    elif auth:
        h += "Authorization: %s\r\n" % auth
    for k in headers:
        h += k + "\r\n"
    if body:
        h += "Content-Type: application/json\r\n"
    if body or method in ("PATCH", "POST"):
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body


PASSWORD = "bad-input-pw"


def nested(depth):
    text = '"x"'
    for _ in range(depth):
        text = '{"a":%s}' % text
    return text


def scenario(steps=None, **top):
    doc = {"scenario": 1, "name": "bad", "meter": {"protocol": "dsmr50"},
           "steps": steps if steps is not None else [{"at": 0, "telegrams": {"count": 1}}]}
    doc.update(top)
    return json.dumps(doc)


def sc(steps=None, **top):
    return scenario(steps, **top)


CASES = []


def add(surface, what, data, answer, expect):
    CASES.append(Case(surface, what, data, answer, expect))


# ---- P1 (sc-telegram parse: the parser the device's serial input uses) ----
P = "P1"
bad = "^(?!.*ok: 1)"  # never a good telegram
add(P, "CRC of another telegram", GOOD_P1[:-6] + b"0000\r\n",
    "crc: both CRCs and the offset named, the telegram dropped", r"crc: CRC 0000 in telegram, [0-9A-F]{4} computed.*offset 0")
add(P, "CRC in lower-case hex digits", GOOD_P1[:-6] + GOOD_P1[-6:-2].lower() + b"\r\n",
    "accepted (hex digits either case)", r"ok: 1 failed: 0")
add(P, "CRC with 3 digits", GOOD_P1[:-3] + b"\r\n", "crc: read as an unpadded CRC, which does not match",
    r"crc: CRC 0[0-9A-F]{3} in telegram")
add(P, "CRC with non-hex digits", GOOD_P1[:-6] + b"ZZZZ\r\n", "framing: the byte named",
    r"framing: byte 0x5A where a CRC digit")
add(P, "no CRC on a DSMR 5 meter", p1(crc=False), "framing: no CRC (the no-CRC option named)",
    r"framing: no CRC after '!'")
add(P, "one bit flipped in a value", GOOD_P1.replace(b"008147.107", b"008147.106"), "crc", r"\bcrc\b")
add(P, "one byte dropped mid-telegram", GOOD_P1.replace(b"1-0:1.8.2(", b"1-0:1.8.2", 1), "crc", r"\bcrc\b")
add(P, "telegram cut before '!'", GOOD_P1[:300], "framing: cut short, the byte offset named",
    r"<stdin>:300: framing: telegram cut short")
add(P, "telegram cut after '!'", GOOD_P1[:GOOD_P1.index(b"!") + 1], "framing: no CRC after '!'",
    r"framing: no CRC")
add(P, "a new '/' before the end (restart)", GOOD_P1[:200] + GOOD_P1,
    "the cut one: framing; the next one read", r"ok: 1 failed: 1")
add(P, "empty input", b"", "nothing: 0 telegrams", r"telegrams: 0")
add(P, "only line noise", bytes(range(1, 47)) * 3, "garbage skipped, 0 telegrams", r"telegrams: 0")
add(P, "line noise before a telegram", b"\x00\xff\x13garbage" + GOOD_P1, "noise skipped, the telegram read",
    r"ok: 1 failed: 0")
add(P, "NUL bytes inside a telegram", p1_obj("1-0:1.8.1", "(0081\x0047.107*kWh)"), "syntax: control byte inside a value",
    r"syntax: control or non-ASCII byte inside a value: '1-0:1\.8\.1")
add(P, "bytes with bit 7 set inside a value", p1_obj("1-0:1.8.1", "(0081\xe947.107*kWh)"),
    "syntax: non-ASCII byte inside a value", r"syntax: control or non-ASCII byte inside a value: '1-0:1\.8\.1")
add(P, "a telegram longer than the device's buffer", p1(P1_LINES + ["0-0:96.13.0(" + "41" * 4200 + ")"]),
    "overflow: counted, dropped", r"overflow")
add(P, "DSMR 2.2 meter (no version line, no CRC)",
    p1([l for l in P1_LINES if not l.startswith("1-3:0.2.8")], crc=False),
    "unsupported: older than DSMR 4.2", r"unsupported: DSMR 2\.2/3\.0")
add(P, "version line missing, CRC present", p1([l for l in P1_LINES if not l.startswith("1-3:0.2.8")]),
    "accepted: a CRC means DSMR 4 or later", r"ok: 1 failed: 0")
add(P, "DSMR 3 version 30", p1_obj("1-3:0.2.8", "(30)"), "unsupported: version 3.0 named",
    r"unsupported: P1 version 3\.0")
add(P, "version not a number", p1_obj("1-3:0.2.8", "(5X)"), "syntax: bad integer, object named",
    r"syntax: 1-3:0\.2\.8: bad integer")
add(P, "header without identification", p1(header=""), "syntax: identification line too short",
    r"syntax: identification line too short")
add(P, "header of 3 letters only", p1(header="ISK"),
    "accepted: the manufacturer code is enough", r"ok: 1 failed: 0")
add(P, "LF line ends instead of CR LF", p1(eol="\n"), "accepted: bare LF tolerated",
    r"ok: 1 failed: 0")
add(P, "energy with a letter in the number", p1_obj("1-0:1.8.1", "(X08147.107*kWh)"),
    "syntax: bad number, object named", r"syntax: 1-0:1\.8\.1: bad number")
add(P, "energy in kW instead of kWh", p1_obj("1-0:1.8.1", "(008147.107*kW)"), "syntax: unit named",
    r"syntax: 1-0:1\.8\.1: unit 'kW'")
add(P, "energy without unit", p1_obj("1-0:1.8.1", "(008147.107)"), "syntax: unit missing",
    r"syntax: 1-0:1\.8\.1")
add(P, "energy with empty value", p1_obj("1-0:1.8.1", "()"), "syntax: object named", r"syntax: 1-0:1\.8\.1")
add(P, "energy negative", p1_obj("1-0:1.8.1", "(-08147.107*kWh)"), "syntax: object named",
    r"syntax: 1-0:1\.8\.1")
add(P, "energy with two decimal points", p1_obj("1-0:1.8.1", "(0081.47.107*kWh)"), "syntax: bad number",
    r"syntax: 1-0:1\.8\.1")
add(P, "energy 40 digits long", p1_obj("1-0:1.8.1", "(" + "9" * 40 + "*kWh)"), "syntax: object named",
    r"syntax: 1-0:1\.8\.1")
add(P, "closing parenthesis missing", p1_obj("1-0:1.8.1", "(008147.107*kWh"),
    "syntax: value not closed, the line quoted", r"syntax: value not closed by '\)': '1-0:1\.8\.1")
add(P, "opening parenthesis missing", p1([("1-0:1.8.1008147.107*kWh)" if l.startswith("1-0:1.8.1(") else l)
                                          for l in P1_LINES]), "syntax", r"syntax")
add(P, "power in W instead of kW", p1_obj("1-0:1.7.0", "(227*W)"), "accepted: W is a power unit, converted",
    r"ok: 1 failed: 0.*\"P\":227,")
add(P, "power with a comma decimal", p1_obj("1-0:1.7.0", "(00,227*kW)"), "syntax: bad number",
    r"syntax: 1-0:1\.7\.0")
add(P, "voltage in kV", p1_obj("1-0:32.7.0", "(0.2314*kV)"), "syntax: unit named", r"syntax: 1-0:32\.7\.0")
add(P, "current with a letter", p1_obj("1-0:31.7.0", "(0A1*A)"), "syntax: bad number", r"syntax: 1-0:31\.7\.0")
add(P, "timestamp month 13", p1_obj("0-0:1.0.0", "(251301010000W)"), "syntax: bad timestamp",
    r"syntax: 0-0:1\.0\.0: bad timestamp")
add(P, "timestamp day 32", p1_obj("0-0:1.0.0", "(251232010000W)"), "syntax: bad timestamp",
    r"syntax: 0-0:1\.0\.0: bad timestamp")
add(P, "timestamp hour 25", p1_obj("0-0:1.0.0", "(251201250000W)"), "syntax: bad timestamp",
    r"syntax: 0-0:1\.0\.0: bad timestamp")
add(P, "timestamp minute 61", p1_obj("0-0:1.0.0", "(251201016100W)"), "syntax: bad timestamp",
    r"syntax: 0-0:1\.0\.0: bad timestamp")
add(P, "timestamp DST letter X", p1_obj("0-0:1.0.0", "(251201010000X)"), "syntax: bad timestamp",
    r"syntax: 0-0:1\.0\.0: bad timestamp")
add(P, "timestamp too long", p1_obj("0-0:1.0.0", "(99251201010000W)"), "syntax: bad timestamp",
    r"syntax: 0-0:1\.0\.0: bad timestamp")
add(P, "timestamp 30 February", p1_obj("0-0:1.0.0", "(250230010000W)"), "syntax: bad timestamp",
    r"syntax: 0-0:1\.0\.0: bad timestamp")
add(P, "OBIS code with a letter", p1_with("1-0:1.7.0(00.227*kW)", "1-0:1.X.0(00.227*kW)"), "syntax",
    r"syntax")
add(P, "OBIS code without value", p1_with("1-0:1.7.0(00.227*kW)", "1-0:1.7.0"), "syntax", r"syntax")
add(P, "tariff indicator not a number", p1_obj("0-0:96.14.0", "(00X1)"), "syntax: object named",
    r"syntax: 0-0:96\.14\.0")
add(P, "equipment id with odd hex length", p1_obj("0-0:96.1.1", "(453)"), "syntax: hex string of odd length",
    r"syntax: 0-0:96\.1\.1: hex string of odd length")
add(P, "gas reading without timestamp", p1_obj("0-1:24.2.1", "(03853.488*m3)"), "syntax: object named",
    r"syntax: 0-1:24\.2\.1")
add(P, "gas reading in kWh", p1_obj("0-1:24.2.1", "(251201010000W)(03853.488*kWh)"),
    "accepted; not taken as a gas volume", r"ok: 1 failed: 0")
add(P, "M-Bus channel 9", p1([l.replace("0-1:", "0-9:") for l in P1_LINES]),
    "accepted: gas chosen by device type, not channel", r"ok: 1 failed: 0")
add(P, "power-failure log count 3 with one entry",
    p1(P1_LINES + ["1-0:99.97.0(3)(0-0:96.7.19)(241202054751W)(0000008258*s)"]), "syntax: object named",
    r"syntax: 1-0:99\.97\.0")
add(P, "power-failure log with a bad duration",
    p1(P1_LINES + ["1-0:99.97.0(1)(0-0:96.7.19)(241202054751W)(00000X8258*s)"]), "syntax: object named",
    r"syntax: 1-0:99\.97\.0")
add(P, "reactive power unit in capitals (kVAr, Swedish meters)", p1(P1_LINES + ["1-0:3.7.0(0000.069*kVAr)"]),
    "accepted: unit names compare without case", r"ok: 1 failed: 0.*\"Q\+\":69,")
add(P, "reactive power without unit", p1(P1_LINES + ["1-0:3.7.0(00.000)", "1-0:4.7.0(00.200*kvar)"]),
    "accepted: that object set aside, Q+ and Q null", r"ok: 1 failed: 0.*\"Q\":null,\"Q\+\":null,\"Q-\":200,")
add(P, "limiter in kVA (Luxembourg)", p1(P1_LINES + ["0-0:17.0.0(27.600*kVA)"]),
    "accepted: a unit the standards give the limiter", r"ok: 1 failed: 0")
add(P, "limiter in a unit no standard gives it", p1(P1_LINES + ["0-0:17.0.0(27.600*kvar)"]),
    "accepted: the limiter set aside (it feeds nothing of the reading)", r"ok: 1 failed: 0")
add(P, "empty M-Bus device type 0-1:24.1.0()", p1_obj("0-1:24.1.0", "()"),
    "accepted: no device on that channel, so no gas", r"ok: 1 failed: 0")
add(P, "power-failure duration without unit",
    p1(P1_LINES + ["1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647)"]),
    "accepted: seconds", r"ok: 1 failed: 0")
add(P, "power-failure duration in kW",
    p1(P1_LINES + ["1-0:99.97.0(1)(0-0:96.7.19)(241202054751W)(0000008258*kW)"]),
    "accepted: the log set aside", r"ok: 1 failed: 0")
add(P, "meter clock never set (000101010000W)", p1_obj("0-0:1.0.0", "(000101010000W)"),
    "accepted: a placeholder, ts null", r"ok: 1 failed: 0.*\"ts\":null,")
add(P, "DSMR 3.0 meter, limiter in A (no version line, no CRC)",
    p1([l for l in P1_LINES if not l.startswith("1-3:0.2.8")] + ["0-0:17.0.0(999*A)"], crc=False),
    "unsupported: older than DSMR 4.2 (not its content)", r"unsupported: DSMR 2\.2/3\.0")
add(P, "energy and power on B-field 1 (1-1:1.8.1)",
    p1([l.replace("1-0:1.8.", "1-1:1.8.").replace("1-0:1.7.0", "1-1:1.7.0") for l in P1_LINES]),
    "accepted: those lines kept raw, P and E_IMPORT null (decisions.md)",
    r"ok: 1 failed: 0.*\"P\":null,.*\"E_IMPORT\":null,")
add(P, "TIC frame on the P1 input", tic(), "unsupported: a TIC frame named", r"unsupported")
add(P, "two telegrams glued without CR LF", GOOD_P1[:-2] + GOOD_P1, "both read",
    r"ok: 2 failed: 0")
add(P, "10,000 '/' characters", b"/" * 10000, "framing: each cut short by the next '/', 0 good",
    r"framing: telegram cut short.*ok: 0")
add(P, "a 70 KB line", b"/" + b"A" * 70000 + b"\r\n!0000\r\n",
    "overflow: the limit named", r"overflow: telegram longer than \d+ bytes")

# ---- TIC (sc-telegram parse --protocol tic: the TIC variant's input) ----
T = "TIC"
add(T, "checksum of one group wrong", tic_bad_ck("EAST"), 'bad group: EAST checksum, its offset named',
    r"EAST checksum at \d+")
add(T, "checksum of the first group wrong", tic_bad_ck("ADSC"), 'bad group: ADSC checksum',
    r"ADSC checksum at 1")
add(T, "no STX", tic()[1:], 'garbage: skipped, 0 frames',
    r"garbage: \d+ bytes outside any frame.*telegrams: 0")
add(T, "no ETX (cut)", tic()[:-1], 'framing: input ended inside a frame',
    r"framing: input ended inside a frame")
add(T, "frame cut mid-group", tic()[:120], 'framing: input ended inside a frame',
    r"<stdin>:120: framing: input ended inside a frame")
add(T, "EOT interrupting a frame", tic()[:150] + b"\x04" + tic(), 'framing: interrupted by EOT; the next frame read',
    r"framing: frame interrupted by EOT.*ok: 1")
add(T, "empty frame STX ETX", b"\x02\x03", 'framing: frame without groups',
    r"framing: frame without groups")
add(T, "group without CR", tic(raw=b"\nEAIT\t000000123\t5"), 'bad group: syntax, label named',
    r"EAIT syntax")
add(T, "group without LF", tic(raw=b"EAIT\t000000123\t5\r"), 'bad group: syntax',
    r"\(no label\) syntax")
add(T, "group with space separators (historic mode)", tic([tic_group(g[0], g[1], g[2] if len(g) > 2 else None,
                                                                    sep=" ") for g in TIC_GROUPS]),
    'bad groups: every group named',
    r"15 bad groups: ADSC syntax")
add(T, "group with one field only", tic(raw=tic_group("EAIT", "")[:1] + b"EAIT\t=\r"),
    'bad group: checksum',
    r"EAIT checksum")
add(T, "bytes with bit 7 set", tic_with("NGTF", "B\xc9SE            "), 'bad group: bit7, label named',
    r"NGTF bit7 at \d+")
add(T, "NUL byte in a value", tic_with("EAST", "0197\x0011591"), 'bad group: syntax',
    r"EAST syntax")
add(T, "energy with a letter", tic_with("EAST", "01971X591"), 'bad group: syntax, label named',
    r"EAST syntax")
add(T, "energy negative", tic_with("EAST", "-19711591"), 'bad group: syntax',
    r"EAST syntax")
add(T, "energy 20 digits", tic_with("EAST", "9" * 20), 'bad group: length',
    r"EAST length")
add(T, "energy empty", tic_with("EAST", ""), 'bad group: length',
    r"EAST length")
add(T, "text label shorter than its length (a producer-only meter's NGTF PRODUCTEUR, 10 of 16)",
    tic_with("NGTF", "PRODUCTEUR"), 'accepted: text labels at or below their length',
    r"ok: 1 failed: 0")
add(T, "text label one character too long (NGTF, 17)", tic_with("NGTF", "BASE             "),
    'bad group: length', r"NGTF length")
add(T, "apparent power one digit short", tic_with("SINSTS", "0261"),
    'bad group: length (numeric labels stay exact)', r"SINSTS length")
add(T, "current with a letter", tic_with("IRMS1", "0A1"), 'bad group: syntax',
    r"IRMS1 syntax")
add(T, "voltage empty", tic_with("URMS1", ""), 'bad group: length',
    r"URMS1 length")
add(T, "apparent power with a letter", tic_with("SINSTS", "00X61"), 'bad group: syntax',
    r"SINSTS syntax")
add(T, "date with month 13", tic_with("DATE", group=tic_group("DATE", "", "H251301010000")),
    'bad group: DATE syntax',
    r"DATE syntax")
add(T, "date with season letter Q", tic_with("DATE", group=tic_group("DATE", "", "Q251201010000")),
    'bad group: DATE syntax',
    r"DATE syntax")
add(T, "date too short", tic_with("DATE", group=tic_group("DATE", "", "H2512")), 'bad group: DATE syntax',
    r"DATE syntax")
add(T, "status register not hex", tic_with("STGE", "003A00G0"), 'bad group: STGE syntax',
    r"STGE syntax")
add(T, "ADSC missing", tic([g for g in TIC_GROUPS if g[0] != "ADSC"]), 'accepted: the serial is not served',
    r"ok: 1 failed: 0")
add(T, "EAST missing", tic([g for g in TIC_GROUPS if g[0] != "EAST"]),
    'accepted: energy served as unknown',
    r"ok: 1 failed: 0.*E_IMPORT.:null")
add(T, "label of 20 letters", tic(raw=tic_group("ABCDEFGHIJKLMNOPQRST", "1")), 'bad group: syntax',
    r"ABCDEFGHI syntax")
add(T, "unknown label", tic(raw=tic_group("ZZZZ", "1")), 'accepted: the group skipped',
    r"ok: 1 failed: 0")
add(T, "a frame longer than the device's buffer", tic(raw=tic_group("MSG1", "A" * 2000) * 4),
    'overflow: the limit named',
    r"overflow: frame longer than 4096 bytes")
add(T, "P1 telegram on the TIC input", GOOD_P1, 'unsupported: a P1 telegram named',
    r"unsupported: a DSMR P1 telegram on a TIC input")
add(T, "only line noise", bytes(range(4, 120)) * 4, 'garbage: skipped, 0 frames',
    r"garbage: \d+ bytes outside any frame.*telegrams: 0")
add(T, "noise before a good frame", b"noise\x7f\x7f" + tic(), 'garbage skipped, the frame read',
    r"garbage: 7 bytes.*ok: 1 failed: 0")
add(T, "two STX in a row", b"\x02" + tic(), 'framing: cut short by a new frame; the next read',
    r"framing: frame cut short: a new frame began.*ok: 1")

# ---- Modbus TCP frames (sc-sim's Modbus server, one connection a case) ----
M = "Modbus"
add(M, "function 01 read coils", mbap(rd(1, 0x8000, 1)), "exception 01 illegal function", exc(1, 1))
add(M, "function 02 read discrete inputs", mbap(rd(2, 0x8000, 1)), "exception 01", exc(2, 1))
add(M, "function 05 write coil", mbap(bytes([5, 0x80, 0, 0xFF, 0])), "exception 01", exc(5, 1))
add(M, "function 06 write register", mbap(bytes([6, 0x80, 0x06, 0, 1])), "exception 01", exc(6, 1))
add(M, "function 16 write registers", mbap(bytes([16, 0x80, 0x06, 0, 1, 2, 0, 1])), "exception 01", exc(16, 1))
add(M, "function 0x2B device identification", mbap(bytes([0x2B, 0x0E, 1, 0])), "exception 01", exc(0x2B, 1))
add(M, "function 0x7F", mbap(bytes([0x7F, 0, 0])), "exception 01", exc(0x7F, 1))
add(M, "function 0x83 (an exception code as request)", mbap(rd(0x83, 0x8000, 1)), 'exception 01, function code 0x83 (never 0x03)',
    r"^reply 000100000003018301$")
add(M, "function 00", mbap(rd(0, 0x8000, 1)), "exception 01", exc(0, 1))
add(M, "read 0 registers", mbap(rd(3, 0x8006, 0)), "exception 03 illegal data value", exc(3, 3))
add(M, "read 126 registers", mbap(rd(3, 0x8006, 126)), "exception 03", exc(3, 3))
add(M, "read 0xFFFF registers", mbap(rd(3, 0x8006, 0xFFFF)), "exception 03", exc(3, 3))
add(M, "read below the map (0x0000)", mbap(rd(3, 0x0000, 2)), "exception 02 illegal data address",
    exc(3, 2))
add(M, "read 0x7FFF, just below the map", mbap(rd(3, 0x7FFF, 2)), "exception 02", exc(3, 2))
add(M, "read past the map's end (0xFFFE x2)", mbap(rd(3, 0xFFFE, 2)), "exception 02", exc(3, 2))
add(M, "read 0xFFFF x1", mbap(rd(3, 0xFFFF, 1)), "exception 02", exc(3, 2))
add(M, "protocol id 1", mbap(rd(3, 0x8006, 2), proto=1), 'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "protocol id 0xFFFF", mbap(rd(3, 0x8006, 2), proto=0xFFFF), 'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "length 0", mbap(b"", length=0), 'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "length 1 (unit only)", mbap(b"", length=1), 'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "length 300 (above 254)", mbap(rd(3, 0x8006, 2), length=300) + bytes(300), 'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "length 0xFFFF", mbap(rd(3, 0x8006, 2), length=0xFFFF), 'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "length larger than the bytes sent, then silence", mbap(rd(3, 0x8006, 2), length=9),
    'no reply; closed by the idle timeout, the slot freed',
    r"^closed \(idle timeout\)$")
add(M, "read with a 3-byte body", mbap(bytes([3, 0x80, 0x06])), 'exception 03 (PDU of the wrong size)',
    r"^reply 000100000003018303$")
add(M, "read with 2 extra bytes", mbap(rd(3, 0x8006, 2) + b"\x00\x00"), 'exception 03 (PDU of the wrong size)',
    r"^reply 000100000003018303$")
add(M, "header cut after 4 bytes, then silence", mbap(rd(3, 0x8006, 2))[:4], 'no reply; closed by the idle timeout, the slot freed',
    r"^closed \(idle timeout\)$")
add(M, "only a unit and function byte (no MBAP)", b"\x01\x03", 'no reply; closed by the idle timeout, the slot freed',
    r"^closed \(idle timeout\)$")
add(M, "HTTP request on the Modbus port", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "TLS ClientHello on the Modbus port", bytes.fromhex("160301002e010000") + bytes(46),
    'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "256 zero bytes", bytes(256), 'closed: not a Modbus TCP request',
    r"^closed \(not a Modbus TCP request\)$")
add(M, "unit id 0 (broadcast)", mbap(rd(3, 0x8006, 2), unit=0),
    'answered, unit 0 echoed (the device ignores the unit id)',
    r"^reply 000100000007000304[0-9a-f]{8}$")
add(M, "unit id 247", mbap(rd(3, 0x8006, 2), unit=247), 'answered, unit 247 echoed',
    r"^reply 000100000007f70304[0-9a-f]{8}$")
add(M, "transaction id 0xFFFF", mbap(rd(3, 0x8006, 2), tid=0xFFFF), 'answered with the same transaction id',
    r"^reply ffff00000007010304[0-9a-f]{8}$")
add(M, "FC04 input registers of the same map", mbap(rd(4, 0x8006, 2)), 'answered from the same image (manual 5.3)',
    r"^reply 000100000007010404[0-9a-f]{8}$")
add(M, "a good read then garbage in the same write", mbap(rd(3, 0x8006, 2)) + b"\xde\xad",
    'the read answered; the rest waits for its end',
    r"^reply 000100000007010304[0-9a-f]{8}$")

# ---- HTTP requests (sc-sim's HTTP server, API over plain HTTP here) ----
H = "HTTP"
add(H, "no Authorization header", http("GET", "/api/v1/config", auth=False), "401, WWW-Authenticate: Basic",
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "wrong password", http("GET", "/api/v1/config", auth="Basic dXNlcjp3cm9uZw=="), '401 wrong user name or password',
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "wrong user name", http("GET", "/api/v1/config", auth="Basic YWRtaW46YmFkLWlucHV0LXB3"), '401 wrong user name or password',
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "password with a trailing newline", http("GET", "/api/v1/config",
                                               auth="Basic dXNlcjpiYWQtaW5wdXQtcHcK"), '401 wrong user name or password',
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "base64 that is not base64", http("GET", "/api/v1/config", auth="Basic !!!!"), '401 wrong user name or password',
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "base64 without a colon", http("GET", "/api/v1/config", auth="Basic dXNlcg=="), '401 wrong user name or password',
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "Bearer scheme", http("GET", "/api/v1/config", auth="Bearer abc"), '401 wrong user name or password',
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "Basic with nothing after it", http("GET", "/api/v1/config", auth="Basic"), '401 wrong user name or password',
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "Authorization 4 KB long", http("GET", "/api/v1/config", auth="Basic " + "A" * 4096),
    '401 wrong user name or password',
    r"^HTTP/1\.1 401.*WWW-Authenticate: Basic")
add(H, "status without auth", http("GET", "/api/v1/status", auth=False), '401 authentication required',
    r"^HTTP/1\.1 401.*authentication required")
add(H, "telegram without auth", http("GET", "/api/v1/telegram", auth=False), '401 authentication required',
    r"^HTTP/1\.1 401.*authentication required")
add(H, "reset without auth", http("POST", "/api/v1/reset", auth=False), '401 authentication required',
    r"^HTTP/1\.1 401.*authentication required")
add(H, "unknown API path", http("GET", "/api/v1/nothing"), "404 not found", r"^HTTP/1\.1 404")
add(H, "API version 2", http("GET", "/api/v2/config"), "404", r"^HTTP/1\.1 404")
add(H, "path traversal", http("GET", "/api/v1/../../etc/passwd"), "404", r"^HTTP/1\.1 404")
add(H, "percent-encoded traversal", http("GET", "/%2e%2e/%2e%2e/etc/passwd"), '404 not found, no file served',
    r"^HTTP/1\.1 404(?!.*root:)")
add(H, "path 8 KB long", http("GET", "/api/v1/" + "a" * 8192), '404 not found',
    r"^HTTP/1\.1 404")
add(H, "PUT on config", http("PUT", "/api/v1/config", body=b"{}"), "405 with Allow", r"^HTTP/1\.1 405.*Allow:")
add(H, "DELETE on config", http("DELETE", "/api/v1/config"), "405", r"^HTTP/1\.1 405")
add(H, "POST on status", http("POST", "/api/v1/status"), "405", r"^HTTP/1\.1 405")
add(H, "PATCH on status", http("PATCH", "/api/v1/status", body=b"{}"), "405", r"^HTTP/1\.1 405")
add(H, "GET on reset", http("GET", "/api/v1/reset"), "405", r"^HTTP/1\.1 405")
add(H, "unknown method BREW", http("BREW", "/api/v1/config"), '405 method not allowed',
    r"^HTTP/1\.1 405")
add(H, "HTTP/0.9 request line", b"GET /api/v1/config\r\n\r\n", '400 bad request',
    r"^HTTP/1\.1 400")
add(H, "HTTP/2.0 version on HTTP/1", http("GET", "/api/v1/config", version="HTTP/2.0"), '505 version not supported',
    r"^HTTP/1\.1 505")
add(H, "request line only spaces", b"   \r\n\r\n", 'connection closed',
    r"^closed$")
add(H, "header without colon", http("GET", "/api/v1/config", headers=["Broken header"]), "400",
    r"^HTTP/1\.1 400")
add(H, "headers of 64 KB", http("GET", "/api/v1/config", headers=["X-Fill: " + "a" * 65536]),
    '431 header fields too large',
    r"^HTTP/1\.1 431")
add(H, "Content-Length larger than the body, then silence",
    http("PATCH", "/api/v1/config", body=b"{}").replace(b"Content-Length: 2", b"Content-Length: 200"),
    'no answer: waits for the body, closed 10 s after the connection opened (the request deadline)',
    r"^no answer within 3 s$")
add(H, "Content-Length negative", http("PATCH", "/api/v1/config", body=b"{}").replace(
    b"Content-Length: 2", b"Content-Length: -5"), "400", r"^HTTP/1\.1 400")
add(H, "Content-Length not a number", http("PATCH", "/api/v1/config", body=b"{}").replace(
    b"Content-Length: 2", b"Content-Length: two"), "400", r"^HTTP/1\.1 400")
add(H, "body of 9 KB (limit 8 KB)", http("PATCH", "/api/v1/config", body=b"{" + b" " * 9000 + b"}"),
    '400 request too large',
    r"^HTTP/1\.1 400.*too large")
add(H, "body of 1 MB", http("PATCH", "/api/v1/config", body=b" " * 1048576), '400 request too large',
    r"^HTTP/1\.1 400.*too large")
add(H, "chunked body with a bad chunk size", b"PATCH /api/v1/config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    b"Authorization: Basic dXNlcjpiYWQtaW5wdXQtcHc=\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",
    '400 bad request',
    r"^HTTP/1\.1 400")
add(H, "PATCH without a body", http("PATCH", "/api/v1/config"), '400 invalid configuration (not JSON)',
    r"^HTTP/1\.1 400.*not valid JSON")
add(H, "page path with a query of 4 KB", http("GET", "/?" + "a=1&" * 1000, auth=False),
    "no answer: libmicrohttpd's pool overflows (431 logged, not sent); closed at the 10 s request deadline",
    r"^no answer within 3 s$")
add(H, "Host header of a stranger", http("GET", "/", headers=["X: y"]).replace(
    b"Host: smart-connect.local", b"Host: evil.example<script>"), '421 not a name of this device; the host not echoed',
    r"^HTTP/1\.1 421(?!.*evil\.example)")
add(H, "Host of a rebound name (DNS rebinding)", http("GET", "/api/v1/config").replace(
    b"Host: smart-connect.local", b"Host: evil.example:8080"), '421 misdirected request',
    r"^HTTP/1\.1 421.*misdirected request")
add(H, "Origin of another site", http("POST", "/api/v1/reset", headers=["Origin: https://evil.example"]),
    '403 cross-site request refused', r"^HTTP/1\.1 403.*cross-site request refused")
add(H, "Origin null (a sandboxed page)", http("POST", "/api/v1/reset", headers=["Origin: null"]),
    '403 cross-site request refused', r"^HTTP/1\.1 403.*cross-site request refused")
add(H, "text/plain body on a state change", http("PATCH", "/api/v1/config", body=b'{"MQTT":{"Site":"x"}}').replace(
    b"Content-Type: application/json", b"Content-Type: text/plain"), '415 a request body must be application/json',
    r"^HTTP/1\.1 415.*must be application/json")
add(H, "form body on a state change", http("POST", "/api/v1/firmware", body=b'{"Version":"5.3.0"}').replace(
    b"Content-Type: application/json", b"Content-Type: application/x-www-form-urlencoded"),
    '415 a request body must be application/json', r"^HTTP/1\.1 415.*must be application/json")
add(H, "NUL byte in the path", b"GET /api/\x00v1/config HTTP/1.1\r\nHost: smart-connect.local\r\n\r\n", '401: the path ends at the NUL',
    r"^HTTP/1\.1 401")
add(H, "control API path without auth", http("GET", "/sim/v1/state", auth=False),
    '403: the control API is off',
    r"^HTTP/1\.1 403")
add(H, "firmware update without auth", http("POST", "/api/v1/firmware", body=b"{}", auth=False), '401 authentication required',
    r"^HTTP/1\.1 401.*authentication required")

# ---- JSON bodies of PATCH /api/v1/config ----
J = "JSON"
add(J, "not JSON", "hello", "400 not valid JSON, at byte N", r"^HTTP/1\.1 400.*not valid JSON \(at byte")
add(J, "empty text", "", '400 not valid JSON (at byte 0)',
    r"^HTTP/1\.1 400.*not valid JSON \(at byte 0\)")
add(J, "JSON cut short", '{"MQTT": {"Site": "a"', '400 not valid JSON, the byte named',
    r"^HTTP/1\.1 400.*not valid JSON \(at byte 20\)")
add(J, "an array", "[1, 2]", '400 must be an object',
    r"^HTTP/1\.1 400.*must be an object")
add(J, "a number", "42", '400 must be an object',
    r"^HTTP/1\.1 400.*must be an object")
add(J, "a string", '"config"', '400 must be an object',
    r"^HTTP/1\.1 400.*must be an object")
add(J, "null", "null", '400 must be an object',
    r"^HTTP/1\.1 400.*must be an object")
add(J, "unknown top-level key", '{"Bogus": 1}', '400 Bogus: unknown field',
    r"^HTTP/1\.1 400.*.Bogus.,.reason.:.unknown field")
add(J, "unknown nested key", '{"MQTT": {"Bogus": 1}}', '400 MQTT.Bogus: unknown field',
    r"^HTTP/1\.1 400.*MQTT\.Bogus.*unknown field")
add(J, "section not an object", '{"MQTT": 5}', '400 MQTT: must be an object',
    r"^HTTP/1\.1 400.*.MQTT.,.reason.:.must be an object")
add(J, "Site a number", '{"MQTT": {"Site": 5}}', '400 MQTT.Site: must be a string',
    r"^HTTP/1\.1 400.*MQTT\.Site.*must be a string")
add(J, "Site with a slash", '{"MQTT": {"Site": "a/b"}}', '400 MQTT.Site: one topic level',
    r"^HTTP/1\.1 400.*MQTT\.Site.*one topic level")
add(J, "Site with '+' wildcard", '{"MQTT": {"Site": "a+"}}', '400 MQTT.Site: one topic level',
    r"^HTTP/1\.1 400.*MQTT\.Site.*one topic level")
add(J, "Site with '#' wildcard", '{"MQTT": {"Site": "#"}}', '400 MQTT.Site: one topic level',
    r"^HTTP/1\.1 400.*MQTT\.Site.*one topic level")
add(J, "Site 300 characters", '{"MQTT": {"Site": "%s"}}' % ("a" * 300), '400 MQTT.Site: longer than 64 characters',
    r"^HTTP/1\.1 400.*longer than 64")
add(J, "nesting depth 5 (limit 4)", nested(5), "400 nested too deep", r"^HTTP/1\.1 400.*nested too deep")
add(J, "nesting depth 1000", nested(1000), "400 nested too deep", r"^HTTP/1\.1 400.*nested too deep")
add(J, "duplicate key", '{"MQTT": {"Site": "a", "Site": "b"}}', "400 given twice",
    r"^HTTP/1\.1 400.*given twice")
add(J, "NUL escaped in a string", '{"MQTT": {"Site": "a\\u0000b"}}', "400 a NUL character",
    r"^HTTP/1\.1 400.*NUL character")
add(J, "invalid UTF-8", b'{"MQTT": {"Site": "\xff\xfe"}}'.decode("latin-1"), "400 not valid UTF-8",
    r"^HTTP/1\.1 400.*not valid UTF-8")
add(J, "trailing garbage after the object", '{"MQTT": {"Site": "a"}} xyz', "400 text after the document",
    r"^HTTP/1\.1 400.*text after")
add(J, "two objects", '{} {}', '400 text after the JSON document',
    r"^HTTP/1\.1 400.*text after")
add(J, "a number 1e400 where a boolean goes", '{"MQTT": {"Enabled": 1e400}}', "400 must be true or false",
    r"^HTTP/1\.1 400.*MQTT\.Enabled.*true or false")
add(J, "broker port 0", '{"MQTT": {"Broker": "mqtt://h:0"}}', "400 MQTT.Broker: port",
    r"^HTTP/1\.1 400.*MQTT\.Broker.*port")
add(J, "broker port 70000", '{"MQTT": {"Broker": "mqtt://h:70000"}}', "400 MQTT.Broker: port",
    r"^HTTP/1\.1 400.*MQTT\.Broker.*port")
add(J, "broker port not a number", '{"MQTT": {"Broker": "mqtt://h:x"}}', "400 MQTT.Broker: port",
    r"^HTTP/1\.1 400.*MQTT\.Broker.*port")
add(J, "broker of scheme http", '{"MQTT": {"Broker": "http://h:80"}}', "400 MQTT.Broker: unknown scheme",
    r"^HTTP/1\.1 400.*MQTT\.Broker.*unknown scheme")
add(J, "broker a number", '{"MQTT": {"Broker": 1883}}', "400 MQTT.Broker: must be a string",
    r"^HTTP/1\.1 400.*MQTT\.Broker.*must be a string")
add(J, "broker host with a space", '{"MQTT": {"Broker": "mqtt://bad host"}}', "400 MQTT.Broker: not a host name",
    r"^HTTP/1\.1 400.*MQTT\.Broker.*not a host name")
add(J, "a boolean as a string", '{"MQTT": {"Enabled": "yes"}}', "400 MQTT.Enabled: must be true or false",
    r"^HTTP/1\.1 400.*MQTT\.Enabled.*true or false")
add(J, "static IP 300.1.1.1", '{"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "300.1.1.1", '
    '"Netmask": "255.255.255.0", "Gateway": "192.168.1.1", "DNS": "192.168.1.1"}}}',
    "400 Ethernet.StaticIPv4.IpAddress named", r"^HTTP/1\.1 400.*Ethernet\.StaticIPv4\.IpAddress")
add(J, "IP mode Auto", '{"Ethernet": {"IpMode": "Auto"}}', "400 Ethernet.IpMode: DHCP or Static",
    r"^HTTP/1\.1 400.*Ethernet\.IpMode")
add(J, "Wi-Fi without SSID", '{"DefaultNetIf": "WiFi"}', "400 WiFi.ConnectionData.WiFiSSID needed",
    r"^HTTP/1\.1 400.*WiFiSSID")
add(J, "Wi-Fi passphrase of 7 characters", '{"WiFi": {"ConnectionData": {"WiFiSSID": "lab", '
    '"WiFiPassword": "1234567"}}}', "400 WiFiPassword: 8-63 characters", r"^HTTP/1\.1 400.*WiFiPassword")
add(J, "Wi-Fi SSID without a password (an open network)", '{"WiFi": {"ConnectionData": {"WiFiSSID": "open-net"}}}',
    "400 WiFiPassword: WPA2-PSK only", r"^HTTP/1\.1 400.*WiFiPassword.*WPA2-PSK")
add(J, "Wi-Fi SSID with an empty password", '{"WiFi": {"ConnectionData": {"WiFiSSID": "open-net", '
    '"WiFiPassword": ""}}}', "400 WiFiPassword: WPA2-PSK only", r"^HTTP/1\.1 400.*WiFiPassword.*WPA2-PSK")
add(J, "Wi-Fi passphrase of 64 characters, not hex", '{"WiFi": {"ConnectionData": {"WiFiSSID": "lab", '
    '"WiFiPassword": "%s"}}}' % ("p" * 64), "400 WiFiPassword: 8-63 characters",
    r"^HTTP/1\.1 400.*WiFiPassword.*WPA2-PSK.*8-63")
add(J, "meter type of another device (a Modbus map template not known)", '{"MeterType": "Other"}',
    "400 MeterType: the templates known listed",
    r'^HTTP/1\.1 400.*MeterType.*the templates known: \\"PhoenixContact-EMPro\\"')
add(J, "2,000-element array as a site", '{"MQTT": {"Site": [%s]}}' % ",".join(["1"] * 2000),
    "400 MQTT.Site: must be a string", r"^HTTP/1\.1 400.*MQTT\.Site.*must be a string")
add(J, "string with an escaped control character", '{"MQTT": {"Site": "a\\u0007"}}', '400 MQTT.Site: control characters',
    r"^HTTP/1\.1 400.*control characters")
add(J, "Site with U+0085 (a C1 control character)", '{"MQTT": {"Site": "a\\u0085"}}',
    '400 MQTT.Site: U+0085 is not allowed in an MQTT topic',
    r"^HTTP/1\.1 400.*MQTT\.Site.*U\+0085 is not allowed in an MQTT topic")
add(J, "Site with U+FFFF (a non-character)", '{"MQTT": {"Site": "\\uffff"}}',
    '400 MQTT.Site: U+FFFF is not allowed in an MQTT topic',
    r"^HTTP/1\.1 400.*MQTT\.Site.*U\+FFFF is not allowed in an MQTT topic")
add(J, "Site with U+FDD0 (a non-character)", '{"MQTT": {"Site": "\\ufdd0"}}',
    '400 MQTT.Site: U+FDD0 is not allowed in an MQTT topic',
    r"^HTTP/1\.1 400.*MQTT\.Site.*U\+FDD0 is not allowed in an MQTT topic")
add(J, "MQTT user name with U+0085", '{"MQTT": {"Username": "u\\u0085"}}',
    '400 MQTT.Username: U+0085 is not allowed in an MQTT user name',
    r"^HTTP/1\.1 400.*MQTT\.Username.*U\+0085 is not allowed in an MQTT user name")
add(J, "MQTT user name with U+FFFF", '{"MQTT": {"Username": "\\uffff"}}',
    '400 MQTT.Username: U+FFFF is not allowed in an MQTT user name',
    r"^HTTP/1\.1 400.*MQTT\.Username.*U\+FFFF is not allowed in an MQTT user name")
add(J, "a status field PATCHed", '{"System": {"Version": "9.9.9"}}', "400 System: unknown field",
    r"^HTTP/1\.1 400.*System.*unknown field")

# ---- Scenario files (sc-sim --scenario FILE) ----
S = "Scenario"
usage = r"rc=2"
add(S, "not JSON", "steps:\n - at 0", 'exit 2: not valid JSON, line and column',
    r"^rc=2 .*: not valid JSON \(line 1, column 1\)")
add(S, "empty file", "", 'exit 2: not valid JSON',
    r"^rc=2 .*: not valid JSON")
add(S, "an array", "[]", 'exit 2: must be an object',
    r"^rc=2 .*: must be an object")
add(S, "format version missing", json.dumps({"steps": []}), 'exit 2: scenario: missing',
    r"^rc=2 .*: scenario: missing: the format version")
add(S, "format version 2", sc(scenario=2), 'exit 2: scenario: must be from 1 to 1',
    r"^rc=2 .*: scenario: must be from 1 to 1")
add(S, "format version a string", sc(scenario="1"), 'exit 2: scenario: must be a number',
    r"^rc=2 .*: scenario: must be a number")
add(S, "steps missing", json.dumps({"scenario": 1, "name": "x", "meter": {"protocol": "dsmr50"}}),
    'exit 2: steps: missing or empty',
    r"^rc=2 .*: steps: missing or empty")
add(S, "steps not an array", sc(steps=3), 'exit 2: steps: missing or empty',
    r"^rc=2 .*: steps: missing or empty")
add(S, "a step not an object", sc(steps=[5]), 'exit 2: steps[0]: must be an object',
    r"^rc=2 .*: steps\[0\]: must be an object")
add(S, "step time negative", sc(steps=[{"at": -1, "telegrams": {"count": 1}}]), 'exit 2: steps[0].at: the range',
    r"^rc=2 .*: steps\[0\]\.at: must be from 0 to 2678400")
add(S, "step time a string", sc(steps=[{"at": "0", "telegrams": {"count": 1}}]), 'exit 2: steps[0].at: must be a number',
    r"^rc=2 .*: steps\[0\]\.at: must be a number")
add(S, "steps going back in time", sc(steps=[{"at": 5, "telegrams": {"count": 1}},
                                             {"at": 2, "telegrams": {"count": 1}}]),
    'accepted: steps run in time order',
    r"^rc=0 .*scenario bad: 2 steps over 5 s")
add(S, "unknown step key", sc(steps=[{"at": 0, "bogus": 1}]), 'exit 2: the key and the known ones named',
    r"^rc=2 .*: steps\[0\]\.bogus: unknown key \(known here: at,")
add(S, "unknown top-level key", sc(bogus=1), 'exit 2: the key and the known ones named',
    r"^rc=2 .*: bogus: unknown key \(known here: scenario,")
add(S, "meter protocol unknown", sc(meter={"protocol": "dsmr99"}), 'exit 2: the protocols listed',
    r"^rc=2 .*: meter\.protocol: 'dsmr99' is not dsmr42")
add(S, "meter phases 2", sc(meter={"protocol": "dsmr50", "phases": 2}), 'exit 2: 1 or 3',
    r"^rc=2 .*: meter\.phases: 1 or 3")
add(S, "meter tic_total unknown", sc(meter={"protocol": "tic", "tic_total": "avg"}), 'exit 2: sum or net',
    r"^rc=2 .*: meter\.tic_total: 'avg' is not sum or net")
add(S, "meter tic_total on a P1 meter", sc(meter={"protocol": "dsmr50", "tic_total": "net"}),
    "exit 2: a TIC meter's", r"^rc=2 .*: meter\.tic_total: the phase totals are a TIC meter's")
add(S, "meter profile unknown", sc(meter={"protocol": "dsmr50", "profile": "factory"}), 'exit 2: the profiles listed',
    r"^rc=2 .*: meter\.profile: 'factory' is not household")
add(S, "telegram count negative", sc(steps=[{"at": 0, "telegrams": {"count": -3}}]), 'exit 2: the range',
    r"^rc=2 .*: steps\[0\]\.telegrams\.count: must be from 1 to 10000000")
add(S, "telegram count 10^12", sc(steps=[{"at": 0, "telegrams": {"count": 10 ** 12}}]), 'exit 2: the range',
    r"^rc=2 .*: steps\[0\]\.telegrams\.count: must be from 1 to 10000000")
add(S, "expect not an array", sc(steps=[{"at": 0, "telegrams": {"count": 1}, "expect": 5}]), 'exit 2: an expectation or a list',
    r"^rc=2 .*: steps\[0\]\.expect: an expectation or a list")
add(S, "expect of an unknown kind", sc(steps=[{"at": 0, "telegrams": {"count": 1}, "expect": [{"smell": 1}]}]),
    'exit 2: the kinds listed',
    r"^rc=2 .*: steps\[0\]\.expect\[0\]\.smell: unknown key")
add(S, "expect an unknown LED state", sc(steps=[{"at": 0, "expect": [{"led": "purple"}]}]), 'exit 2: the LED states listed',
    r"^rc=2 .*: steps\[0\]\.expect\[0\]\.led: a LED state: power-up")
add(S, "expect a register by an unknown name", sc(steps=[{"at": 0, "expect": [{"modbus": {"bogus": 1}}]}]),
    'exit 2: the keys listed',
    r"^rc=2 .*: steps\[0\]\.expect\[0\]\.modbus\.bogus: unknown key")
add(S, "within negative", sc(steps=[{"at": 0, "expect": [{"led": "normal", "within": -1}]}]), 'exit 2: the range',
    r"^rc=2 .*: steps\[0\]\.expect\[0\]\.within: must be from 0 to 86400")
add(S, "button press negative", sc(steps=[{"at": 0, "button": -1}]), 'exit 2: the range',
    r"^rc=2 .*: steps\[0\]\.button: must be from 0\.01 to 60")
add(S, "capture file missing", sc(steps=[{"at": 0, "capture": {"file": "/nonexistent.p1"}}]),
    'exit 2: the file named',
    r"^rc=2 .*: steps\[0\]\.capture\.file: /nonexistent\.p1: No such file")
add(S, "nesting 10,000 deep", "[" * 10000 + "]" * 10000, "exit 2: not valid JSON (cJSON's depth limit)",
    r"^rc=2 .*: not valid JSON \(line 1, column 1001\)")
add(S, "a 1e308 time", sc(steps=[{"at": 1e308, "telegrams": {"count": 1}}]), 'exit 2: the range',
    r"^rc=2 .*: steps\[0\]\.at: must be from 0")
add(S, "HTTP expect without a path", sc(steps=[{"at": 0, "expect": [{"http": {"status": 200}}]}]), 'exit 2: a path beginning with /',
    r"^rc=2 .*: steps\[0\]\.expect\[0\]\.http\.path: a path beginning with /")
add(S, "binary bytes", "\x00\x01\x02\xff", 'exit 2: not valid JSON',
    r"^rc=2 .*: not valid JSON \(line 1, column 4\)")

# ---- Command-line flags ----
F = "Flags"
add(F, "sc-sim: unknown option", ["sc-sim", "--bogus"], 'exit 2: unrecognized option, the usage',
    r"^rc=2 .*unrecognized option '--bogus' Usage: sc-sim")
add(F, "sc-sim: option without its argument", ["sc-sim", "--modbus"], 'exit 2: requires an argument',
    r"^rc=2 .*option '--modbus' requires an argument")
add(F, "sc-sim: Modbus port 70000", ["sc-sim", "--modbus", "127.0.0.1:70000"], 'exit 2: not ADDR:PORT',
    r"^rc=2 sc-sim: --modbus: '127\.0\.0\.1:70000' is not ADDR:PORT")
add(F, "sc-sim: Modbus address not an address", ["sc-sim", "--modbus", "999.1.1.1:502"], 'exit 2: not ADDR:PORT (never read as every address)',
    r"^rc=2 sc-sim: --modbus: '999\.1\.1\.1:502' is not ADDR:PORT")
add(F, "sc-sim: Modbus address without port", ["sc-sim", "--modbus", "127.0.0.1"], 'exit 2: not ADDR:PORT',
    r"^rc=2 sc-sim: --modbus: '127\.0\.0\.1' is not ADDR:PORT")
add(F, "sc-sim: source of an unknown kind", ["sc-sim", "--source", "bogus:1"], 'exit 2: the source forms listed',
    r"^rc=2 sc-sim: --source: 'bogus:1' is not gen:METER")
add(F, "sc-sim: generator of an unknown meter", ["sc-sim", "--source", "gen:dsmr99"], 'exit 2: the meters listed',
    r"^rc=2 sc-sim: --source: unknown meter 'dsmr99'")
add(F, "sc-sim: phases 2", ["sc-sim", "--phases", "2"], 'exit 2: 1 or 3',
    r"^rc=2 sc-sim: --phases must be 1 or 3")
add(F, "sc-sim: seed not a number", ["sc-sim", "--seed", "abc"], 'exit 2: the range named',
    r"^rc=2 sc-sim: --seed: 'abc' is not a number")
add(F, "sc-sim: speed 0", ["sc-sim", "--speed", "0"], 'exit 2: the range named',
    r"^rc=2 sc-sim: --speed: '0' is not a number from 0\.001")
add(F, "sc-sim: speed negative", ["sc-sim", "--speed", "-2"], 'exit 2: the range named',
    r"^rc=2 sc-sim: --speed: '-2' is not a number")
add(F, "sc-sim: speed a word", ["sc-sim", "--speed", "fast"], 'exit 2: the range named',
    r"^rc=2 sc-sim: --speed: 'fast' is not a number")
add(F, "sc-sim: 5 Modbus clients (max 4)", ["sc-sim", "--modbus-clients", "5"], 'exit 2: from 1 to 4',
    r"^rc=2 sc-sim: --modbus-clients: '5' is not a number from 1 to 4")
add(F, "sc-sim: idle timeout 0", ["sc-sim", "--modbus-idle-timeout", "0"], 'exit 2: from 1 to 86400',
    r"^rc=2 sc-sim: --modbus-idle-timeout: '0' is not a number from 1")
add(F, "sc-sim: word order xyzw", ["sc-sim", "--word-order", "xyzw"], 'exit 2: cdab or abcd',
    r"^rc=2 sc-sim: --word-order: 'xyzw' is not cdab or abcd")
add(F, "sc-sim: firmware not a version", ["sc-sim", "--firmware", "five"], 'exit 2: a version like 5.1.2',
    r"^rc=2 sc-sim: --firmware: 'five' is not a version")
add(F, "sc-sim: broker URL of another scheme", ["sc-sim", "--mqtt", "http://127.0.0.1:1883"], 'exit 2: the schemes listed',
    r"^rc=2 sc-sim: --mqtt: 'http://127\.0\.0\.1:1883': unknown scheme")
add(F, "sc-sim: broker port 0", ["sc-sim", "--mqtt", "mqtt://127.0.0.1:0"], 'exit 2: port 1-65535',
    r"^rc=2 sc-sim: --mqtt: 'mqtt://127\.0\.0\.1:0': the port must be 1-65535")
add(F, "sc-sim: password over plain TCP", ["sc-sim", "--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-user", "u",
                                           "--mqtt-password", "p"],
    'runs, sends no credentials: an error names --mqtt-plaintext-ok',
    r"^rc=running .*refusing to send credentials in plain text.*--mqtt-plaintext-ok")
add(F, "sc-sim: site with a slash", ["sc-sim", "--site", "a/b"], 'exit 2: one topic level',
    r"^rc=2 sc-sim: --site: '/' is not allowed in an MQTT topic: a site is one topic level")
add(F, "sc-sim: site with U+0085", ["sc-sim", "--site", "a\u0085"], 'exit 2: U+0085 is not allowed',
    r"^rc=2 sc-sim: --site: U\+0085 is not allowed in an MQTT topic")
add(F, "sc-sim: MQTT user name with U+FFFF", ["sc-sim", "--mqtt-user", "\uffff"], 'exit 2: U+FFFF is not allowed',
    r"^rc=2 sc-sim: --mqtt-user: U\+FFFF is not allowed in an MQTT user name")
add(F, "sc-sim: serial number with a slash", ["sc-sim", "--serial-number", "E8DB/84"], 'exit 2: letters and digits',
    r"^rc=2 sc-sim: --serial-number: 'E8DB/84' is not")
add(F, "sc-sim: QoS 2", ["sc-sim", "--mqtt-qos", "2"], 'exit 2: 0 or 1',
    r"^rc=2 sc-sim: --mqtt-qos must be 0 or 1")
add(F, "sc-sim: password of 100 characters", ["sc-sim", "--password", "p" * 100], 'exit 2: 1-64 printable ASCII',
    r"^rc=2 sc-sim: --password: 1-64 printable ASCII")
# A (name, bytes) pair in a command line: a new state directory holding that file.
add(F, "sc-sim: saved password file beginning with a NUL", ["sc-sim", "--state-dir", ("password", b"\x00secret1\n")],
    'exit 2: the file and the byte named (never the empty password)',
    r"^rc=2 .*/password: byte 1 is 0x00: the password must be 1-64 printable ASCII")
add(F, "sc-sim: saved password file with a NUL inside", ["sc-sim", "--state-dir", ("password", b"secr\x00et1\n")],
    'exit 2: the file and the byte named (never a cut password)',
    r"^rc=2 .*/password: byte 5 is 0x00")
add(F, "sc-sim: saved password file with a control character", ["sc-sim", "--state-dir", ("password", b"sec\x1bret\n")],
    'exit 2: the file and the byte named', r"^rc=2 .*/password: byte 4 is 0x1b")
add(F, "sc-sim: saved password file empty", ["sc-sim", "--state-dir", ("password", b"")],
    'exit 2: the file named', r"^rc=2 .*/password: 0 characters: the password must be 1-64")
add(F, "sc-sim: saved password file of 65 characters", ["sc-sim", "--state-dir", ("password", b"p" * 65 + b"\n")],
    'exit 2: the file named', r"^rc=2 .*/password: 65 characters: the password must be 1-64")
add(F, "sc-sim: --devices 0", ["sc-sim", "--devices", "0"], 'exit 2: from 1 to 100000',
    r"^rc=2 sc-sim: --devices: '0' is not a number from 1 to 100000")
add(F, "sc-sim: --devices 10^9", ["sc-sim", "--devices", "1000000000"], 'exit 2: from 1 to 100000',
    r"^rc=2 sc-sim: --devices: '1000000000' is not a number")
add(F, "sc-sim: control maybe", ["sc-sim", "--control", "maybe"], 'exit 2: on, off or auto',
    r"^rc=2 sc-sim: --control: 'maybe' is not on, off or auto")
add(F, "sc-sim: log level loud", ["sc-sim", "--log-level", "loud"], 'exit 2: the levels listed',
    r"^rc=2 sc-sim: --log-level: 'loud' is not error, warn")
add(F, "sc-sim: stray argument", ["sc-sim", "extra"], 'exit 2: unexpected argument',
    r"^rc=2 sc-sim: unexpected argument 'extra'")
# Issue 27 (robustness). NEW-DIR in an argument is a folder that does not exist yet
# (the runner makes it a fresh path under a temporary folder).
add(F, "sc-sim: fleet --state-dir that does not exist yet", ["sc-sim", "--devices", "2", "--password", "pw",
                                                            "--state-dir", "NEW-DIR"],
    'runs: the folder created, one folder per device in it',
    r"^rc=running .*ready: fleet of 2")
add(F, "sc-sim: capture file missing", ["sc-sim", "--source", "file:/nonexistent.p1"], 'exit 3: the source cannot start, the file named',
    r"^rc=3 .*source: /nonexistent\.p1: No such file")
add(F, "sc-sim: start time a word", ["sc-sim", "--start", "yesterday"], 'exit 2: the range named',
    r"^rc=2 sc-sim: --start: 'yesterday' is not a number")
add(F, "sc-telegram: no command", ["sc-telegram"], 'exit 2: the usage',
    r"^rc=2 Usage: sc-telegram COMMAND")
add(F, "sc-telegram: unknown command", ["sc-telegram", "frobnicate"], 'exit 2: unknown command',
    r"^rc=2 sc-telegram: unknown command 'frobnicate'")
add(F, "sc-telegram gen: count negative", ["sc-telegram", "gen", "--count", "-1"], 'exit 2: invalid number',
    r"^rc=2 sc-telegram: --count: invalid number '-1'")
add(F, "sc-telegram gen: unknown fault", ["sc-telegram", "gen", "--fault", "melt"], 'exit 2: the faults listed',
    r"^rc=2 sc-telegram gen: --fault: unknown P1 fault 'melt'")
add(F, "sc-telegram gen: protocol unknown", ["sc-telegram", "gen", "--protocol", "x"], 'exit 2: the protocols listed',
    r"^rc=2 sc-telegram gen: --protocol: 'x' is not dsmr42")
add(F, "sc-telegram gen: unknown TIC total rule", ["sc-telegram", "gen", "--protocol", "tic", "--tic-total", "avg"],
    'exit 2: sum or net', r"^rc=2 sc-telegram gen: --tic-total: 'avg' is not sum or net")
add(F, "sc-telegram gen: TIC total rule on a P1 meter", ["sc-telegram", "gen", "--tic-total", "net"],
    'exit 2: needs --protocol tic', r"^rc=2 sc-telegram gen: --producer, --calendar and --tic-total need")
add(F, "sc-telegram check: missing file", ["sc-telegram", "check", "/nonexistent.p1"], 'exit 2: the file named',
    r"^rc=2 sc-telegram: /nonexistent\.p1: No such file")
add(F, "sc-telegram parse: protocol unknown", ["sc-telegram", "parse", "--protocol", "x", "-"], 'exit 2: auto, p1 or tic',
    r"^rc=2 sc-telegram parse: --protocol: 'x' is not auto, p1 or tic")
add(F, "sc-hil: no command", ["sc-hil"], 'exit 2: the usage',
    r"^rc=2 Usage: sc-hil run")
add(F, "sc-hil: unknown option", ["sc-hil", "run", "--bogus"], 'exit 2: unrecognized option',
    r"^rc=2 run: unrecognized option '--bogus'")
add(F, "sc-ctl: unknown command", ["sc-ctl", "frobnicate"], 'exit 2: not a command, the usage',
    r"^rc=2 sc-ctl: 'frobnicate' with these arguments is not a command")
add(F, "sc-ctl set: unknown key", ["sc-ctl", "set", "power=9000"], 'exit 2: the key named, the keys listed',
    r"^rc=2 sc-ctl: power: unknown key \(P, l1\.P, ")
add(F, "sc-ctl set: value not a number", ["sc-ctl", "set", "P=9kW"], 'exit 2: the key and value named',
    r"^rc=2 sc-ctl: P: '9kW' is not a number")
add(F, "sc-ctl set: value NaN", ["sc-ctl", "set", "l1.U=nan"], 'exit 2: not a number',
    r"^rc=2 sc-ctl: l1\.U: 'nan' is not a number")
add(F, "sc-ctl set: no KEY=VALUE", ["sc-ctl", "set", "P"], 'exit 2: not KEY=VALUE',
    r"^rc=2 sc-ctl: set: 'P' is not KEY=VALUE")
add(F, "sc-ctl ramp: seconds not a number", ["sc-ctl", "ramp", "P", "0", "9000", "soon"],
    'exit 2: the argument named', r"^rc=2 sc-ctl: ramp P: SECONDS 'soon' is not a number")
add(F, "sc-telegram crc: not a telegram", ["sc-telegram", "crc", "-"], 'exit 1: not a telegram, nothing written',
    r"^rc=1 sc-telegram crc: <stdin>: not a telegram")
add(F, "sc-telegram crc: missing file", ["sc-telegram", "crc", "/nonexistent.p1"], 'exit 2: the file named',
    r"^rc=2 sc-telegram crc: /nonexistent\.p1: No such file")


# ---- Bad conditions that are not a request ----
# Time, signals, slow peers, a silent DNS server, damaged files: each needs a
# run of its own (a deadline to pass, a namespace, a peer of the test's
# own), so test_badinput.py does not run them; the test named does, under
# the sanitizers too. A Condition is (surface, what, answer, test), test
# being "FILE: CLASS.METHOD" of sim/tests (conditions_missing() checks that
# it is there: docs/tables.py and test_badinput.py fail otherwise).
Condition = collections.namedtuple("Condition", "surface what answer test")
CONDITIONS = []


def condition(surface, what, answer, test):
    CONDITIONS.append(Condition(surface, what, answer, test))


condition("Signals", "SIGHUP, SIGUSR1 or SIGQUIT to sc-sim",
          "exit 0 as on SIGTERM: 'stopping on signal N', the ready file withdrawn",
          "test_robust.py: Signals.test_hup_usr1_and_quit_stop_cleanly_and_withdraw_the_ready_file")
condition("Modbus", "a request dripped a byte a second (the idle timeout never reached)",
          "closed 5 s after its first byte ('request not complete within its deadline'), the slot freed",
          "test_robust.py: ModbusDeadline.test_a_request_dripped_a_byte_a_second_is_closed_and_the_slot_freed")
condition("HTTPS", "slowloris: 16 half-sent requests from each of 4 addresses, a header line every 3 s",
          "8 an address at once, the rest closed at once; each closed by the 10 s request deadline; "
          "a normal client served throughout",
          "test_http_limits.py: SlowRequests.test_slowloris")
condition("HTTPS", "wrong passwords from 64 addresses",
          "401 each; past 5 an address or 32 failing addresses a minute, answered a second late",
          "test_http_limits.py: ManyAddresses.test_budget")
condition("HTTPS", "a TLS 1.0 or 1.1 handshake, or TLS 1.2 with CBC suites only",
          "handshake refused (TLS 1.2 and 1.3 with AEAD suites only)",
          "test_http_limits.py: TlsVersions.test_versions")
condition("MQTT", "the broker's name on a DNS server that never answers",
          "resolved off the event loop: each attempt fails after 5 s naming the name; "
          "Modbus answered throughout",
          "test_mqtt_faults.py: SilentDnsServer.test_modbus_answers_while_the_broker_name_never_resolves")
condition("MQTT", "a broker that never sends PUBACK (QoS 1)",
          "the stall logged once, shown in Status.MQTT.LastError, reconnected; no publish sent twice",
          "test_mqtt_faults.py: NoPuback.test_stall_detected_shown_and_resumed_without_duplicates")
condition("Meter input", "32 MB of noise with telegram starts and ends among it",
          "a log under 1 MB: a message 200 times in 10 s, then 'N more like this in the last S s'",
          "test_robust.py: Logging.test_noise_on_the_input_gives_a_bounded_log_with_a_summary")
condition("Log", "a stderr nobody reads (the pipe full) while noise arrives",
          "Modbus answered and the input read on: writing the log never blocks",
          "test_robust.py: Logging.test_a_stderr_nobody_reads_never_stops_modbus")
condition("State files", "a firmware file that is not a version",
          "a warning naming the file and its content; the --firmware version runs",
          "test_robust.py: StateFiles.test_a_damaged_firmware_file_is_named_in_a_warning")
condition("State files", "an HTTPS key or certificate file that is not PEM, empty or with a NUL byte",
          "exit, the file and what is wrong named (never 'Protocol error')",
          "test_robust.py: StateFiles.test_a_broken_key_or_certificate_is_named_with_what_is_wrong")
condition("State files", "an HTTPS key of another certificate", "exit: 'the key is not the certificate's'",
          "test_robust.py: StateFiles.test_a_key_of_another_certificate_is_named")
condition("Files", "a capture cut shorter by another program while sc-telegram parse or check reads it "
          "(a regular file is read through a mapping of it)",
          "'FILE: file shrank while being read at byte N' (its new end), the telegrams before it "
          "reported, exit 2 as for a read error; never SIGBUS",
          "test_sc_telegram_files.py: ShrinkingFile.test_a_file_cut_while_read_is_reported_with_where_it_ended")
condition("All", "the attacks above and the probe's request-shaped ones at once for about a minute, "
          "clients killed -9 mid-request",
          "each answered as listed; Modbus, MQTT and HTTPS clients served with the right values; "
          "RSS flat, configuration and saved files unchanged",
          "test_soak.py: Soak.test_the_probes_attacks_together")


def conditions_missing():
    """The tests CONDITIONS names that are not in sim/tests (FILE: CLASS.METHOD)."""
    import ast
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    missing = []
    for c in CONDITIONS:
        name, _, where = c.test.partition(": ")
        cls, _, method = where.partition(".")
        path = os.path.join(here, name)
        found = False
        if os.path.isfile(path):
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            found = any(isinstance(n, ast.ClassDef) and n.name == cls and
                        any(isinstance(m, ast.FunctionDef) and m.name == method for m in n.body)
                        for n in tree.body)
        if not found:
            missing.append(c.test)
    return missing


def conditions_table():
    """The documented table of CONDITIONS (markdown), one row each, the test
    linked from docs/developer/."""
    missing = conditions_missing()
    if missing:
        raise RuntimeError("badinput.CONDITIONS names tests that are not there: %s" % ", ".join(missing))
    lines = ["| surface | bad condition | answer | checked by |", "|---|---|---|---|"]
    for c in CONDITIONS:
        name, _, where = c.test.partition(": ")
        lines.append("| %s | %s | %s | [%s](../../sim/tests/%s) `%s` |"
                     % (c.surface, c.what.replace("|", "\\|"), c.answer.replace("|", "\\|"), name, name, where))
    lines.append("")
    lines.append("%d conditions." % len(CONDITIONS))
    return "\n".join(lines) + "\n"


def by_surface():
    out = collections.OrderedDict()
    for c in CASES:
        out.setdefault(c.surface, []).append(c)
    return out


def table():
    """The documented table (markdown), one row a case."""
    lines = ["| surface | malformed input | answer |", "|---|---|---|"]
    for c in CASES:
        lines.append("| %s | %s | %s |" % (c.surface, c.what.replace("|", "\\|"), c.answer.replace("|", "\\|")))
    counts = ", ".join("%s %d" % (s, len(cs)) for s, cs in by_surface().items())
    lines.append("")
    lines.append("%d cases: %s." % (len(CASES), counts))
    return "\n".join(lines) + "\n"
