#!/usr/bin/env python3
"""Generate the bundled example logs (run once; the outputs are committed).

orders.csv      600 normal purchase-order cases: the training log.
orders-new.csv  60 new cases, 6 of them with a problem (a skipped approval,
                a payment before the invoice, a duplicated shipment, ...),
                the log the demo judges.
Deterministic: the same files every run.
"""
import random
from datetime import datetime, timedelta

rng = random.Random(20261121)
start = datetime(2026, 3, 2, 8, 0, 0)


def normal_case():
    acts = ["create order"]
    if rng.random() < 0.3:
        acts.append("change order")
    acts.append("approve order")
    if rng.random() < 0.15:
        acts += ["reject order"]
        return acts
    acts.append("ship goods")
    acts.append("send invoice")
    if rng.random() < 0.2:
        acts.append("send reminder")
    acts.append("receive payment")
    acts.append("close order")
    return acts


def broken_case(kind):
    acts = normal_case()
    while "ship goods" not in acts:
        acts = normal_case()
    if kind == 0:
        acts.remove("approve order")                       # skipped approval
    elif kind == 1:
        i, j = acts.index("send invoice"), acts.index("receive payment")
        acts[i], acts[j] = acts[j], acts[i]                 # paid before invoiced
    elif kind == 2:
        acts.insert(acts.index("ship goods"), "ship goods")  # shipped twice
    elif kind == 3:
        acts.insert(1, "refund payment")                   # never-seen activity
    elif kind == 4:
        acts = acts[:3]                                     # stops early (no END)
    else:
        acts.insert(acts.index("close order"), "change order")  # change after payment
    return acts


def write(path, cases, first):
    rows = []
    for n, acts in enumerate(cases):
        t = start + timedelta(minutes=17 * (first + n))
        for a in acts:
            rows.append((t, f"PO-{first + n:05d}", a, rng.choice(["ana", "ben", "chen", "dita"])))
            t += timedelta(minutes=rng.randint(5, 240))
    rows.sort(key=lambda r: r[0])
    with open(path, "w") as f:
        f.write("case,activity,time,resource\n")
        for t, c, a, r in rows:
            f.write(f"{c},{a},{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{r}\n")


write("orders.csv", [normal_case() for _ in range(600)], 0)
new = [normal_case() for _ in range(54)] + [broken_case(k) for k in range(6)]
rng.shuffle(new)
write("orders-new.csv", new, 10000)
