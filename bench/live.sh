#!/usr/bin/env bash
# `sealwatch watch --live` under load (issue: live events). Needs root and kernel BTF.
#
#  1. Slowdown: bench/loadgen.c runs EXECS execs of /bin/true and OPENS opens of /etc/hostname,
#     first with no agent, then with `sealwatch watch --live` running the upstream stable rules;
#     prints both wall times. Meanwhile: the agent's CPU time (utime+stime from /proc) and its
#     peak and final RSS, and its own summary (records, events, kernel drops).
#  2. Exec-to-alert latency: the agent runs a one-rule file that fires on a marker program;
#     LATENCY_EXECS markers are spawned one after another and each alert is read from the
#     agent's JSON output. Exec-to-alert = time the alert line arrives minus the kernel's exec
#     timestamp (evt.rawtime); spawn-to-alert also counts fork and exec. Median and p99.
#
# Env: SEALWATCH_BIN (skip the release build), SOURCE (ebpf | cn_proc, default ebpf), EXECS
# (10000), OPENS (1000000), LATENCY_EXECS (500). Copy the printed table into BENCHMARKS.md.
source "$(dirname "$0")/lib.sh"
SOURCE="${SOURCE:-ebpf}"
EXECS="${EXECS:-10000}"
OPENS="${OPENS:-1000000}"
LATENCY_EXECS="${LATENCY_EXECS:-500}"
[ "$(id -u)" = 0 ] || { echo "bench/live.sh needs root (the agent loads BPF programs)" >&2; exit 2; }
if [ -n "${SEALWATCH_BIN:-}" ]; then SEALWATCH="$SEALWATCH_BIN"; else build_sealwatch; fi
RULES="$SHARED/conformance/falco/rules/falco_rules.yaml"
[ -f "$RULES" ] || { echo "missing $RULES" >&2; exit 2; }
for tool in cc python3; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }; done

WORK=$(mktemp -d)
AGENT_PID=
cleanup() {
  if [ -n "$AGENT_PID" ]; then kill -INT "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cc -O2 -o "$WORK/loadgen" "$ROOT/bench/loadgen.c"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

echo "== load without the agent"
base_exec=$("$WORK/loadgen" execs "$EXECS")
base_open=$("$WORK/loadgen" opens "$OPENS")

echo "== load with sealwatch watch --live --source $SOURCE (stable rules)"
"$SEALWATCH" watch --live --source "$SOURCE" -r "$RULES" --no-stdout 2>"$WORK/agent.err" &
AGENT_PID=$!
for _ in $(seq 1 200); do grep -q "live source" "$WORK/agent.err" && break; sleep 0.05; done
grep -q "live source" "$WORK/agent.err" || { cat "$WORK/agent.err" >&2; exit 1; }
sleep 1
cpu0=$(cpu_ticks "$AGENT_PID")
rss_idle=$(status_kib "$AGENT_PID" VmRSS)
agent_exec=$("$WORK/loadgen" execs "$EXECS")
cpu_exec=$(cpu_ticks "$AGENT_PID")
agent_open=$("$WORK/loadgen" opens "$OPENS")
sleep 1 # let the agent drain what is left in the ring buffer
cpu1=$(cpu_ticks "$AGENT_PID")
rss_end=$(status_kib "$AGENT_PID" VmRSS)
rss_peak=$(status_kib "$AGENT_PID" VmHWM)
kill -INT "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=
hz=$(getconf CLK_TCK)
summary=$(grep "kernel record" "$WORK/agent.err" || true)

echo "== exec-to-alert latency ($LATENCY_EXECS markers)"
mkdir -p "$WORK/bin"
ln -s /bin/true "$WORK/bin/swbench-marker"
cat > "$WORK/marker.yaml" <<YAML
- rule: bench marker
  desc: fires on the benchmark's marker program
  condition: evt.type in (execve, execveat) and proc.name = swbench-marker
  output: marker %evt.rawtime %proc.pid
  priority: NOTICE
YAML
latency=$(python3 - "$SEALWATCH" "$SOURCE" "$WORK/marker.yaml" "$WORK/bin/swbench-marker" "$LATENCY_EXECS" "$WORK/latency.err" <<'PY'
import json, os, select, signal, subprocess, sys, time
sealwatch, source, rules, marker, n, errpath = sys.argv[1:7]
n = int(n)
err = open(errpath, "w")
agent = subprocess.Popen([sealwatch, "watch", "--live", "--source", source, "-r", rules, "--output", "json"],
                         stdout=subprocess.PIPE, stderr=err)
try:
    deadline = time.time() + 20
    while time.time() < deadline and "live source" not in open(errpath).read():
        time.sleep(0.05)
    time.sleep(0.5)
    out = agent.stdout.fileno()
    buf = b""
    exec_to_alert, spawn_to_alert, missed = [], [], 0
    for _ in range(n):
        t_spawn = time.time_ns()
        child = subprocess.Popen([marker])
        got = None
        until = time.time() + 2
        while got is None and time.time() < until:
            r, _, _ = select.select([out], [], [], max(0.0, until - time.time()))
            if not r:
                break
            chunk = os.read(out, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                now = time.time_ns()
                fields = json.loads(line).get("output_fields", {})
                if fields.get("proc.pid") == child.pid:
                    got = (now, fields["evt.rawtime"])
        child.wait()
        if got is None:
            missed += 1
            continue
        exec_to_alert.append((got[0] - got[1]) / 1e6)
        spawn_to_alert.append((got[0] - t_spawn) / 1e6)
finally:
    agent.send_signal(signal.SIGINT)
    agent.wait()
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, (len(v) - 1) * p // 100)] if v else float("nan")
print(f"{pct(exec_to_alert, 50):.2f} {pct(exec_to_alert, 99):.2f} {pct(spawn_to_alert, 50):.2f} "
      f"{pct(spawn_to_alert, 99):.2f} {len(exec_to_alert)} {missed}")
PY
)
read -r e50 e99 s50 s99 seen missed <<<"$latency"

cat <<REPORT

| measure | value |
|---|---|
| source | $SOURCE |
| $EXECS execs, no agent / with agent (s) | $base_exec / $agent_exec ($(python3 -c "print(f'{($agent_exec / $base_exec - 1) * 100:+.1f} %')")) |
| $OPENS opens, no agent / with agent (s) | $base_open / $agent_open ($(python3 -c "print(f'{($agent_open / $base_open - 1) * 100:+.1f} %')")) |
| agent CPU during the execs / the opens (s) | $(python3 -c "print(f'{($cpu_exec - $cpu0) / $hz:.2f} / {($cpu1 - $cpu_exec) / $hz:.2f}')") |
| agent CPU per exec / per open (µs) | $(python3 -c "print(f'{($cpu_exec - $cpu0) / $hz / $EXECS * 1e6:.1f} / {($cpu1 - $cpu_exec) / $hz / $OPENS * 1e6:.2f}')") |
| agent RSS idle / after the load / peak (MiB) | $((rss_idle / 1024)) / $((rss_end / 1024)) / $((rss_peak / 1024)) |
| exec-to-alert p50 / p99 (ms) | $e50 / $e99 ($seen seen, $missed missed) |
| spawn-to-alert p50 / p99 (ms) | $s50 / $s99 |

agent: $summary
REPORT
