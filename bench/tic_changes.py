"""How much of a TIC stream changes from one frame to the next: for each
frame after the first, the share of its groups (LF .. CR) that are not the
previous frame's group at the same place, byte for byte (what an
incremental decoder has to read again), and the share of frames whose
bytes are the previous frame's exactly. Frames are STX .. ETX; an
interrupted or damaged frame counts like any other.

usage: /usr/bin/python3 bench/tic_changes.py [--json FILE] CAPTURE...
"""

import json
import re
import sys

FRAME = re.compile(rb"\x02([^\x02\x03]*)\x03", re.S)
GROUP = re.compile(rb"\n([^\r\n]*)\r")


def changes(data):
    """(frames, compared groups, changed groups, frames identical to the one before)."""
    prev = None
    frames = compared = changed = same = 0
    for m in FRAME.finditer(data):
        frames += 1
        body = m.group(1)
        groups = [(g.start(), g.group(1)) for g in GROUP.finditer(body)]
        if prev is not None:
            old = dict(prev[1])
            compared += len(groups)
            changed += sum(1 for at, g in groups if old.get(at) != g)
            same += body == prev[0]
        prev = (body, groups)
    return frames, compared, changed, same


def main():
    args = sys.argv[1:]
    out = None
    if len(args) >= 2 and args[0] == "--json":
        out = args[1]
        args = args[2:]
    if not args or any(a.startswith("-") for a in args):
        sys.exit(__doc__)
    doc = []
    for name in args:
        with open(name, "rb") as f:
            frames, compared, changed, same = changes(f.read())
        share = changed / compared if compared else 0.0
        print("%s: %d frames, %.1f %% of groups changed from the frame before (%d of %d), "
              "%d frames the same as the one before" % (name, frames, 100 * share, changed,
                                                        compared, same))
        doc.append({"input": name, "frames": frames, "groups_compared": compared,
                    "groups_changed": changed, "changed_share": round(share, 4),
                    "frames_unchanged": same})
    if out:
        with open(out, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
