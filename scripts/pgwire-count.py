#!/usr/bin/env python3
"""Count what an app says to PostgreSQL: a logging TCP proxy, and a report over its log.

Used by scripts/count-roundtrips (read that first); standard library only.

  pgwire-count.py proxy  --listen-port P --upstream HOST:PORT --log FILE
      Forwards every byte unchanged between the app and PostgreSQL and appends one JSON
      line per protocol message to FILE (flushed at once, so a line count of FILE marks
      a point in time). It refuses SSL/GSS encryption requests itself (answers 'N', as a
      server without TLS would), so the stream stays readable.

  pgwire-count.py report --log FILE --from N --to M [--title T] [--checkouts]
      Reads lines [N, M) of FILE (the window of one login) and prints, as Markdown:
      the round trips (a *round trip* is a client flight: the client sends one or more
      messages, then waits for the server's answer before sending again on that
      connection; pipelined messages share one flight; a flight of nothing but
      statement Closes is not waited for and counted apart), the protocol exchanges
      (each Sync or simple Query ends in one ReadyForQuery), transactions, statements
      in order with the server's CommandComplete tag, and new connections.

      --checkouts also counts pool checkouts as runs of consecutive flights on one
      connection. That is only right for a FIFO pool with at least two idle
      connections (deadpool's default, as in the starter): each checkout then takes a
      different connection than the one before, and a checkout's statements stay on
      its connection. scripts/count-roundtrips checks that assumption with GET /health
      (one checkout each) before it trusts the count.
"""

import argparse
import asyncio
import itertools
import json
import struct
import sys
import time

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

CLIENT_NAMES = {
    "Q": "Query", "P": "Parse", "B": "Bind", "D": "Describe", "E": "Execute",
    "S": "Sync", "H": "Flush", "C": "Close", "X": "Terminate", "p": "Password",
    "F": "FunctionCall", "d": "CopyData", "c": "CopyDone", "f": "CopyFail",
}


# --------------------------------------------------------------------------- proxy

class Log:
    def __init__(self, path):
        self.file = open(path, "a", buffering=1)

    def write(self, **event):
        event["t"] = round(time.monotonic(), 6)
        self.file.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.file.flush()


def cstring(buf, pos):
    end = buf.index(b"\0", pos)
    return buf[pos:end].decode("utf-8", "replace"), end + 1


def client_event(kind, body):
    """One frontend message -> the fields worth logging."""
    event = {"dir": "C", "type": kind}
    try:
        if kind == "Q":
            event["sql"] = body[:-1].decode("utf-8", "replace")
        elif kind == "P":
            name, pos = cstring(body, 0)
            sql, _ = cstring(body, pos)
            event["stmt"], event["sql"] = name, sql
        elif kind == "B":
            _portal, pos = cstring(body, 0)
            event["stmt"], _ = cstring(body, pos)
        elif kind == "p":
            pass  # never log a password
    except ValueError:
        pass
    return event


def server_event(kind, body):
    event = {"dir": "S", "type": kind}
    try:
        if kind == "C":
            event["tag"], _ = cstring(body, 0)
        elif kind == "Z":
            event["tx"] = body[:1].decode()
        elif kind == "E":
            fields = {}
            pos = 0
            while pos < len(body) and body[pos] != 0:
                code = chr(body[pos])
                value, pos = cstring(body, pos + 1)
                fields[code] = value
            event["error"] = fields.get("M", "?")
    except ValueError:
        pass
    return event


async def pump_client(reader, writer, server_writer, log, conn):
    """App -> PostgreSQL: untyped start-up packets first, then typed messages."""
    buf = b""
    started = False
    while True:
        data = await reader.read(65536)
        if not data:
            break
        buf += data
        out = b""
        while True:
            if not started:
                if len(buf) < 8:
                    break
                length, code = struct.unpack("!II", buf[:8])
                if len(buf) < length:
                    break
                packet, buf = buf[:length], buf[length:]
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    writer.write(b"N")  # "no encryption here": the client goes on in clear
                    await writer.drain()
                    continue
                out += packet
                if code == CANCEL_REQUEST:
                    log.write(conn=conn, dir="C", type="CancelRequest")
                else:
                    started = True
                    log.write(conn=conn, dir="C", type="Startup")
                continue
            if len(buf) < 5:
                break
            kind = chr(buf[0])
            (length,) = struct.unpack("!I", buf[1:5])
            if len(buf) < 1 + length:
                break
            body, packet, buf = buf[5:1 + length], buf[:1 + length], buf[1 + length:]
            out += packet
            log.write(conn=conn, **client_event(kind, body))
        if out:
            server_writer.write(out)
            await server_writer.drain()
    server_writer.close()


async def pump_server(reader, writer, log, conn):
    buf = b""
    while True:
        data = await reader.read(65536)
        if not data:
            break
        buf += data
        while len(buf) >= 5:
            kind = chr(buf[0])
            (length,) = struct.unpack("!I", buf[1:5])
            if len(buf) < 1 + length:
                break
            body, buf = buf[5:1 + length], buf[1 + length:]
            if kind in "CZE":  # the rest (rows, descriptions...) adds nothing to a count
                log.write(conn=conn, **server_event(kind, body))
        writer.write(data)
        await writer.drain()
    writer.close()


async def serve(args):
    log = Log(args.log)
    host, port = args.upstream.rsplit(":", 1)
    ids = itertools.count(1)

    async def handle(client_reader, client_writer):
        conn = next(ids)
        try:
            server_reader, server_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        log.write(conn=conn, dir="C", type="Connect")
        await asyncio.gather(
            pump_client(client_reader, client_writer, server_writer, log, conn),
            pump_server(server_reader, client_writer, log, conn),
            return_exceptions=True,
        )
        log.write(conn=conn, dir="C", type="Disconnect")

    server = await asyncio.start_server(handle, "127.0.0.1", args.listen_port)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


# --------------------------------------------------------------------------- report

def flights(events):
    """Groups the window's events into client flights, in time order.

    A flight is the client messages sent on one connection between two answers of the
    server; it gets the server's answer (CommandComplete tags, errors, ReadyForQuery)."""
    current = {}  # conn -> open flight (client still sending, no answer yet)
    answered = {}  # conn -> last flight (now receiving its answer)
    out = []
    for ev in events:
        conn = ev["conn"]
        if ev["dir"] == "C":
            if ev["type"] in ("Connect", "Disconnect"):
                out.append({"conn": conn, "kind": ev["type"], "messages": [], "answer": []})
                current.pop(conn, None)
                continue
            flight = current.get(conn)
            if flight is None:
                flight = {"conn": conn, "kind": "flight", "messages": [], "answer": []}
                current[conn] = flight
                out.append(flight)
            flight["messages"].append(ev)
        else:
            flight = current.pop(conn, None) or answered.get(conn)
            if flight is not None:
                answered[conn] = flight
                flight["answer"].append(ev)
    return out


def describe(flight, prepared):
    """What one flight did: its SQL (a Bind names a statement Parsed earlier)."""
    sqls = []
    for m in flight["messages"]:
        if m["type"] == "P":
            prepared[(flight["conn"], m.get("stmt", ""))] = m.get("sql", "?")
            sqls.append(("prepare " if m.get("stmt") else "") + m.get("sql", "?"))
        elif m["type"] == "Q":
            sqls.append(m.get("sql", "?"))
        elif m["type"] == "B" and m.get("stmt"):
            # A named statement prepared earlier: show what it runs.
            sqls.append(prepared.get((flight["conn"], m["stmt"]), f"<statement {m['stmt']}>"))
    return sqls


def shorten(sql, limit=200):
    sql = " ".join(sql.split())
    return sql if len(sql) <= limit else sql[: limit - 3] + "..."


def report(args):
    with open(args.log) as f:
        lines = f.readlines()
    events = [json.loads(line) for line in lines[args.start:args.end] if line.strip()]
    # Statements prepared before the window are named in it by Bind: learn them.
    prepared = {}
    for line in lines[:args.start]:
        ev = json.loads(line)
        if ev.get("type") == "P" and ev.get("stmt"):
            prepared[(ev["conn"], ev["stmt"])] = ev.get("sql", "?")

    all_flights = flights(events)
    trips = [f for f in all_flights if f["kind"] == "flight"]
    # tokio-postgres closes a dropped statement (Close + Sync) without waiting for the
    # answer: such a flight costs PostgreSQL a message and a wake-up but the request does
    # not wait for it, so it is not a round trip. (When the next statement follows on the
    # same connection, the Close rides along in that statement's flight.)
    close_only = [f for f in trips if {m["type"] for m in f["messages"]} <= {"C", "S"}]
    awaited = [f for f in trips if f not in close_only]
    # A flight that only prepares a named statement (Parse, Describe, Sync): the statement
    # is not in the connection's statement cache, so it costs a round trip of its own.
    prepares = [f for f in awaited if "".join(m["type"] for m in f["messages"]).lstrip("CS") == "PDS"]
    connects = sum(1 for f in all_flights if f["kind"] == "Connect")
    counts = {}
    for f in trips:
        for m in f["messages"]:
            counts[m["type"]] = counts.get(m["type"], 0) + 1
    exchanges = counts.get("S", 0) + counts.get("Q", 0)
    commits = sum(1 for f in trips for a in f["answer"] if a["type"] == "C" and a.get("tag") == "COMMIT")
    errors = [a.get("error") for f in trips for a in f["answer"] if a["type"] == "E"]

    # Checkouts: runs of consecutive flights on one connection (see the module doc).
    runs, last = 0, None
    for f in awaited:
        if f["conn"] != last:
            runs += 1
            last = f["conn"]

    # The profile page is the login's last request and follows the callback's transaction:
    # its round trips are the flights after the last COMMIT.
    last_commit = max((i for i, f in enumerate(awaited)
                       if any(a["type"] == "C" and a.get("tag") == "COMMIT" for a in f["answer"])),
                      default=None)
    page = len(awaited) - last_commit - 1 if last_commit is not None else None

    title = args.title or "window"
    print(f"### {title}\n")
    print(f"- round trips (client flights the request waits for): **{len(awaited)}**, "
          f"of which {len(prepares)} only prepare a statement (Parse/Describe: not cached)")
    if page is not None:
        print(f"- of them, the profile page after the login (the flights after the callback's COMMIT): **{page}**")
    print(f"- fire-and-forget statement closes: {counts.get('C', 0)} Close messages, "
          f"{len(close_only)} of them in a flight of their own (not awaited)")
    print(f"- protocol exchanges (Sync + simple Query, one ReadyForQuery each): {exchanges}")
    print(f"- transactions committed: {commits}")
    if args.checkouts:
        print(f"- pool checkouts (runs of flights on one connection, FIFO pool): **{runs}**")
    print(f"- connections used: {len({f['conn'] for f in trips})}; new connections opened: {connects}")
    print("- messages: " + ", ".join(f"{CLIENT_NAMES.get(k, k)} {v}" for k, v in sorted(counts.items())))
    if errors:
        print(f"- errors from PostgreSQL: {errors}")
    print()
    # How long the app waited for each answer: from its flight's last message to the
    # server's last answer (ReadyForQuery), on loopback: mostly PostgreSQL's own work.
    def waited_ms(f):
        if not f["messages"] or not f["answer"]:
            return None
        return (f["answer"][-1]["t"] - f["messages"][-1]["t"]) * 1000
    total_wait = sum(w for w in (waited_ms(f) for f in awaited) if w is not None)
    print(f"- waited for PostgreSQL's answers: {total_wait:.2f} ms in all (one sample: a few tenths of a ms each, noisy)")
    print()
    print("| # | conn | client messages | SQL | server answered | waited (ms) |")
    print("|---|---|---|---|---|---|")
    for i, f in enumerate(trips, 1):
        kinds = "".join(m["type"] for m in f["messages"])
        if f in close_only:
            kinds += " (not awaited)"
        sql = "<br>".join(f"`{shorten(s)}`" for s in describe(f, prepared)) or "–"
        answer = ", ".join(a.get("tag") or a.get("error") or "" for a in f["answer"] if a["type"] in "CE")
        waited = waited_ms(f)
        waited = "–" if waited is None or f in close_only else f"{waited:.3f}"
        print(f"| {i} | c{f['conn']} | {kinds} | {sql} | {answer or '–'} | {waited} |")
    print()
    if args.json:
        print(json.dumps({"round_trips": len(awaited), "page_round_trips": page, "prepares": len(prepares),
                          "close_only_flights": len(close_only), "exchanges": exchanges, "commits": commits,
                          "checkouts": runs, "connections_opened": connects}), file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--listen-port", type=int, default=0)
    p.add_argument("--upstream", default="127.0.0.1:5432")
    p.add_argument("--log", required=True)
    r = sub.add_parser("report")
    r.add_argument("--log", required=True)
    r.add_argument("--from", dest="start", type=int, required=True)
    r.add_argument("--to", dest="end", type=int, required=True)
    r.add_argument("--title")
    r.add_argument("--checkouts", action="store_true")
    r.add_argument("--json", action="store_true", help="also print the counts as JSON on stderr")
    args = parser.parse_args()
    if args.command == "proxy":
        try:
            asyncio.run(serve(args))
        except KeyboardInterrupt:
            pass
    else:
        report(args)


if __name__ == "__main__":
    main()
