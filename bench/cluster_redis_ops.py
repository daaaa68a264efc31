"""Redis work per cluster operation (docs/CLUSTER.md, capacity model): starts its own
redis-server and two chorusd nodes (the integration harness), then counts Redis commands
(INFO commandstats, calls made inside scripts included) and Redis CPU time (usec) for: a join,
a chat event, a leave, and one second of an idle node (heartbeat).
    CHORUSD=build/chorusd /usr/bin/python3 bench/cluster_redis_ops.py [MEMBERS]
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))

from cluster_harness import Cluster, Collector, RedisServer, stop_collectors, wait_chat  # noqa
from harness import uniq, wait_until  # noqa: E402


def stats(redis):
    """{command: (calls, usec)} and the total."""
    out = {}
    for line in redis.command("INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_"):
            name, fields = line[len("cmdstat_"):].split(":", 1)
            kv = dict(x.split("=") for x in fields.split(","))
            out[name] = (int(kv["calls"]), int(kv["usec"]))
    return out


def diff(before, after):
    d = {k: (after[k][0] - before.get(k, (0, 0))[0], after[k][1] - before.get(k, (0, 0))[1])
         for k in after}
    return {k: v for k, v in d.items() if v[0]}


def show(what, count, d):
    calls = sum(v[0] for v in d.values())
    # usec of EVAL/EVALSHA already includes their inner calls: count those once.
    inner = {k for k in d if k not in ("evalsha", "eval", "publish", "subscribe", "unsubscribe",
                                       "zrem", "script|load", "info")}
    top = sum(v[1] for k, v in d.items() if k not in inner)
    print(f"{what:<22} commands/op={calls / count:6.1f}  redis_usec/op={top / count:7.1f}  "
          + " ".join(f"{k}={v[0] / count:.2f}" for k, v in sorted(d.items())))


def main():
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    redis = RedisServer()
    c = Cluster(redis, 2)
    try:
        room = uniq()
        s0 = stats(redis)
        clients = [c[i % 2].join(room, user=f"u{i}") for i in range(members)]
        cols = [Collector(x, f"u{i}") for i, x in enumerate(clients)]
        cols[0].wait(lambda s: len(s.of_type("joined")) >= members - 1, 30, "joins seen")
        s1 = stats(redis)
        show("join", members, diff(s0, s1))
        for i in range(members):
            clients[i].send_json({"type": "chat", "text": f"c{i}"})
        wait_chat(cols[0], f"c{members - 1}", 30)
        s2 = stats(redis)
        show("chat event", members, diff(s1, s2))
        t0 = time.monotonic()
        time.sleep(5)  # idle: only heartbeats (a measurement window, not a wait for an event)
        s3 = stats(redis)
        show("idle node-second", 2 * (time.monotonic() - t0), diff(s2, s3))
        stop_collectors()
        for x in clients:
            x.send_close(1000)
        key = f"chorus:{{{room}}}:m"
        wait_until(lambda: redis.command("HLEN", key) == 0, 30, "every leave in Redis")
        s4 = stats(redis)
        show("leave", members, diff(s3, s4))
    finally:
        stop_collectors()
        c.stop()
        redis.close()


if __name__ == "__main__":
    main()
