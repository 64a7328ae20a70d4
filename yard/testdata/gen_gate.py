#!/usr/bin/env python3
"""Regenerates the gate read streams (JSON Lines of revloop.RFIDRead).

Readers report each tag many times per pass: every antenna polls at about
20 Hz, misses some reads, and reports RSSI that rises and falls as the tag
passes. Antennas 1 and 2 face outside, 3 and 4 inside.
"""
import json, random
from datetime import datetime, timezone, timedelta

T0 = datetime(2026, 11, 26, 7, 0, 0, tzinfo=timezone.utc)

def reads(rng, epc, ants, start, end, rate=20.0, miss=0.3, base=-60.0):
    out = []
    t = start
    while t < end:
        for a in ants:
            if rng.random() > miss:
                out.append((t + rng.uniform(0, 0.01), epc, a, round(base + rng.uniform(-8, 4), 1)))
        t += 1.0 / rate
    return out

def write(name, rs):
    rs.sort(key=lambda r: r[0])
    seen = set()
    with open(name, "w") as f:
        for t, epc, a, rssi in rs:
            ts = (T0 + timedelta(seconds=t)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            if (ts, epc, a) in seen:  # a reader reports one read per antenna and millisecond
                continue
            seen.add((ts, epc, a))
            f.write(json.dumps({"device": "gate-1", "ts": ts, "epc": epc, "antenna": a, "rssi_dbm": rssi}) + "\n")

def drive(rng, epc, t, direction="in", rate=20.0, base=-60.0):
    first, second = ([1, 2], [3, 4]) if direction == "in" else ([3, 4], [1, 2])
    return (reads(rng, epc, first, t, t + 2.5, rate, base=base)
            + reads(rng, epc, first + second, t + 2.5, t + 3.5, rate, base=base)
            + reads(rng, epc, second, t + 3.5, t + 6.0, rate, base=base))

rng = random.Random(6)
TRUCK1, TRUCK2, TRUCK3 = "E28011700000020A1B2C0001", "E28011700000020A1B2C0002", "E28011700000020A1B2C0003"
CONT1, CONT2, STRAY = "E2003412B802011826000C01", "E2003412B802011826000C02", "E2003412B8020118260FFFFF"

# A truck with two containers drives in; a tag far away is read once.
write("gate_truck_in.jsonl", drive(rng, TRUCK1, 10) + drive(rng, CONT1, 10.3, rate=8, base=-70)
      + drive(rng, CONT2, 10.4, rate=8, base=-72) + [(30.0, STRAY, 1, -80.0)])

# A truck waits at the gate for 90 s (read on the outside antennas with
# short dropouts), then drives in.
wait = []
t = 5.0
while t < 95:
    seg = rng.uniform(3, 8)
    wait += reads(rng, TRUCK1, [1, 2], t, t + seg, rate=10, miss=0.5)
    t += seg + rng.uniform(0.5, 2.0)
write("gate_waiting.jsonl", wait + drive(rng, TRUCK1, 96))

# A truck pulls up, noses past the inside antennas and backs out.
write("gate_backing_out.jsonl", reads(rng, TRUCK1, [1, 2], 5, 8) + reads(rng, TRUCK1, [1, 2, 3], 8, 9)
      + reads(rng, TRUCK1, [1, 2], 9, 12))

# Two trucks follow each other in, 2 s apart, while a third drives out.
write("gate_two_trucks.jsonl", drive(rng, TRUCK1, 10) + drive(rng, TRUCK2, 12) + drive(rng, TRUCK3, 11, "out"))

# A tag is read only by one inside antenna (the other side's antennas are
# blocked), then a second pass of the same tag 20 s later on both sides.
write("gate_one_antenna.jsonl", reads(rng, TRUCK1, [3], 5, 10) + drive(rng, TRUCK1, 30, "out"))
