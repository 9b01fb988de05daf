#!/usr/bin/env python3
"""Where the ingress's CPU goes, per request, from a perf profile.

usage: perf script -i PERF.DATA -F comm,tid,ip,sym,dso | perf_attrib.py [US_PER_REQ]

Reads `perf record --call-graph dwarf` samples of one process (bench/ingress/
run.sh --perf records the ingress) and attributes each sample to one category:
first by thread (MHD workers, librdkafka broker threads, the ingress's own
threads), then by the outermost envgate function on the stack (parse, HMAC,
produce, logging, metrics, answer), else by the innermost kernel entry point
(TCP send/receive, epoll, poll, futex, ...), else by the library the sample
landed in. With US_PER_REQ (the CPU µs per request measured without perf) the
shares are also printed as µs per request.
"""
import collections
import re
import sys

# Outermost match wins (walking from the thread's root to the leaf).
APP = [
    ("eg_event_parse", "parse: eg_event_parse (simdjson + rules)"),
    ("eg_signature_verify", "HMAC: eg_signature_verify"),
    ("ing_enqueue", "produce: ing_enqueue (headers + rd_kafka_producev)"),
    ("eg_log_emit", "logging: eg_log"),
    ("on_answer", "metrics"),
    ("eg_metric_", "metrics"),
    ("eg_http_respond", "answer: eg_http_respond + MHD_resume_connection"),
    ("eg_http_respond_error", "answer: eg_http_respond + MHD_resume_connection"),
    ("MHD_resume_connection", "answer: eg_http_respond + MHD_resume_connection"),
    ("eg_event_check_delivery_id", "checks: delivery id"),
]
# Innermost match wins (walking from the leaf).
KERNEL = [
    ("tcp_recvmsg", "kernel: TCP receive"),
    ("tcp_sendmsg", "kernel: TCP send (includes loopback delivery to the peer)"),
    ("do_epoll_wait", "kernel: epoll_wait"),
    ("do_epoll_ctl", "kernel: epoll_ctl"),
    ("do_sys_poll", "kernel: poll (includes sleeping/waking)"),
    ("do_futex", "kernel: futex (locks, condition variables)"),
    ("ksys_write", "kernel: write (log file, wake-up fds)"),
    ("ksys_read", "kernel: read (wake-up fds)"),
    ("__sys_accept4", "kernel: accept"),
]
SCHED = ("finish_task_switch", "__schedule", "schedule")


def thread_of(comm):
    if comm.startswith("MHD"):
        return "MHD server threads"
    if comm.startswith("rdk:broker"):
        return "librdkafka broker threads"
    if comm.startswith("rdk:"):
        return "librdkafka other threads"
    return "ingress threads (delivery-report poller, main, readiness)"


def matches(frame, key):
    return frame.startswith(key) if key.endswith("_") else frame == key


def category(frames, dsos):
    for f in reversed(frames):
        for key, name in APP:
            if matches(f, key):
                return name
    for f in frames:
        for key, name in KERNEL:
            if f.startswith(key):
                return name
    leaf = frames[0]
    dso = next((d for d in dsos if d), "")
    if leaf.startswith(SCHED):
        return "kernel: scheduling / context switches"
    if "rdkafka" in dso:
        return "librdkafka (user space)"
    if "microhttpd" in dso:
        return "libmicrohttpd (user space)"
    if "libcrypto" in dso:
        return "libcrypto (other)"
    if "libc.so" in dso:
        return "libc (malloc, memcpy, locks, ...)"
    if "kernel" in dso:
        return "kernel: other"
    return "other: " + dso.rsplit("/", 1)[-1]


def main():
    us = float(sys.argv[1]) if len(sys.argv) > 1 else None
    counts = collections.Counter()
    total = 0
    comm, frames, dsos = None, [], []

    def flush():
        nonlocal total
        if comm is not None and frames:
            total += 1
            counts[(thread_of(comm), category(frames, dsos))] += 1

    frame_re = re.compile(r"^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")
    for line in sys.stdin:
        if not line.strip():
            flush()
            comm, frames, dsos = None, [], []
        elif not line[0].isspace():
            flush()
            m = re.match(r"^(.*?)\s+\d+\s*$", line)
            comm = m.group(1) if m else line.split()[0]
            frames, dsos = [], []
        else:
            m = frame_re.match(line)
            if m:
                sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)).strip()
                dso = m.group(2)
                frames.append(sym)
                dsos.append("" if dso == "inlined" else dso)
    flush()
    if total == 0:
        sys.exit("perf_attrib: no samples with call graphs on stdin")
    threads = collections.Counter()
    for (th, _), n in counts.items():
        threads[th] += n
    print(f"{total} samples")
    for th, tn in threads.most_common():
        extra = f" = {us * tn / total:.1f} µs/req" if us else ""
        print(f"{th}: {100 * tn / total:.1f}%{extra}")
        for (t2, cat), n in counts.most_common():
            if t2 == th and 100 * n / total >= 0.3:
                extra = f" {us * n / total:6.1f} µs" if us else ""
                print(f"   {100 * n / total:5.1f}%{extra}  {cat}")


if __name__ == "__main__":
    main()
