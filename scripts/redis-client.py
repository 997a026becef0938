#!/usr/bin/env python3
"""A tiny Redis client for the quickstart (no redis-cli needed): write keys, run a steady write load that
measures client-visible downtime, and verify that every acknowledged key is present.

  redis-client.py PORT write N PREFIX          SET PREFIX<i> = value<i> for i in 1..N
  redis-client.py PORT load ACKFILE [FIRST]    SET load<i> (i from FIRST+1) every 5 ms until SIGTERM (200 ms timeout, then a new
                                               connection); ACKFILE gets acked keys; prints the longest gap
                                               between two acknowledged writes
  redis-client.py PORT verify ACKFILES PREFIX N every acked load key (ACKFILES: comma-separated) and PREFIX1..N
                                               are present
  redis-client.py PORT cmd ARG...              one command (e.g. GET k, INCR n); prints the reply, "(nil)" for none
Only 127.0.0.1 is ever contacted.
"""
import signal, socket, sys, time

HOST = "127.0.0.1"


def connect(port, timeout=1.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.settimeout(timeout)
    return s, s.makefile("rb")


def command(sock, reader, *args):
    msg = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
    sock.sendall(msg)
    line = reader.readline()
    if not line:
        raise ConnectionError("connection closed")
    if line[:1] == b"$":
        n = int(line[1:])
        if n < 0:
            return None
        data = reader.read(n + 2)
        return data[:-2].decode()
    if line[:1] == b"-":
        raise RuntimeError(line.decode().strip())
    return line[1:].decode().strip()


def write(port, n, prefix):
    s, r = connect(port, 5)
    for i in range(1, n + 1):
        assert command(s, r, "SET", "%s%d" % (prefix, i), "value%d" % i) == "OK"
    print("wrote %d keys %s1..%s%d" % (n, prefix, prefix, n))


def load(port, ackfile, start=0):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    acked, last_ack, longest, gap_at, failures = 0, None, 0.0, None, 0
    sock = reader = None
    with open(ackfile, "w") as out:
        i = start
        while not stop:
            try:
                if sock is None:
                    sock, reader = connect(port, 0.2)
                i += 1
                if command(sock, reader, "SET", "load%d" % i, str(i)) == "OK":
                    now = time.monotonic()
                    out.write("load%d\n" % i)
                    out.flush()
                    acked += 1
                    if last_ack is not None and now - last_ack > longest:
                        longest, gap_at = now - last_ack, i
                    last_ack = now
                time.sleep(0.005)
            except (OSError, ConnectionError):
                failures += 1
                if sock is not None:
                    sock.close()
                sock = reader = None
                time.sleep(0.01)
    print("load: %d writes acknowledged, %d failed attempts, longest gap between acknowledged writes %.0f ms"
          % (acked, failures, longest * 1000))
    print("DOWNTIME_MS=%.0f" % (longest * 1000))


def verify(port, ackfiles, prefix, n):
    s, r = connect(port, 5)
    keys = [l.strip() for f in ackfiles.split(",") for l in open(f) if l.strip()]
    keys += ["%s%d" % (prefix, i) for i in range(1, n + 1)]
    missing = [k for k in keys if command(s, r, "GET", k) is None]
    print("verify: %d acknowledged keys checked, %d missing%s"
          % (len(keys), len(missing), (": " + ", ".join(missing[:10])) if missing else ""))
    return 1 if missing else 0


if __name__ == "__main__":
    port, verb = int(sys.argv[1]), sys.argv[2]
    if verb == "write":
        write(port, int(sys.argv[3]), sys.argv[4])
    elif verb == "load":
        load(port, sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif verb == "cmd":
        s, r = connect(port, 5)
        reply = command(s, r, *sys.argv[3:])
        print("(nil)" if reply is None else reply)
    elif verb == "verify":
        sys.exit(verify(port, sys.argv[3], sys.argv[4], int(sys.argv[5])))
    else:
        sys.exit("unknown verb " + verb)
