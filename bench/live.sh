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
# (10000), OPENS (1000000), ROUNDS (3), LATENCY_EXECS (500). Copy the printed table into
# BENCHMARKS.md.
source "$(dirname "$0")/lib.sh"
SOURCE="${SOURCE:-ebpf}"
EXECS="${EXECS:-10000}"
OPENS="${OPENS:-1000000}"
LATENCY_EXECS="${LATENCY_EXECS:-500}"
ROUNDS="${ROUNDS:-3}"
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

median() { python3 -c 'import statistics, sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }

# Rounds alternate no-agent and agent runs, so a busy machine slows both alike; medians reported.
base_execs=(); base_opens=(); agent_execs=(); agent_opens=()
cpu_exec_total=0; cpu_open_total=0; rss_idle=0; rss_end=0; rss_peak=0; drops=0; records=0
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS: load without the agent"
  base_execs+=("$("$WORK/loadgen" execs "$EXECS")")
  base_opens+=("$("$WORK/loadgen" opens "$OPENS")")

  echo "== round $round/$ROUNDS: load with sealwatch watch --live --source $SOURCE (stable rules)"
  "$SEALWATCH" watch --live --source "$SOURCE" -r "$RULES" --no-stdout 2>"$WORK/agent.err" &
  AGENT_PID=$!
  for _ in $(seq 1 200); do grep -q "live source" "$WORK/agent.err" && break; sleep 0.05; done
  grep -q "live source" "$WORK/agent.err" || { cat "$WORK/agent.err" >&2; exit 1; }
  sleep 1
  cpu0=$(cpu_ticks "$AGENT_PID")
  idle=$(status_kib "$AGENT_PID" VmRSS)
  agent_execs+=("$("$WORK/loadgen" execs "$EXECS")")
  cpu_exec=$(cpu_ticks "$AGENT_PID")
  agent_opens+=("$("$WORK/loadgen" opens "$OPENS")")
  sleep 1 # let the agent drain what is left in the ring buffer
  cpu1=$(cpu_ticks "$AGENT_PID")
  end=$(status_kib "$AGENT_PID" VmRSS)
  peak=$(status_kib "$AGENT_PID" VmHWM)
  kill -INT "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=
  cpu_exec_total=$((cpu_exec_total + cpu_exec - cpu0))
  cpu_open_total=$((cpu_open_total + cpu1 - cpu_exec))
  [ "$idle" -gt "$rss_idle" ] && rss_idle=$idle
  [ "$end" -gt "$rss_end" ] && rss_end=$end
  [ "$peak" -gt "$rss_peak" ] && rss_peak=$peak
  summary=$(grep "kernel record" "$WORK/agent.err" || true)
  records=$((records + $(sed -E 's/.*: ([0-9]+) kernel record.*/\1/' <<<"$summary")))
  drops=$((drops + $(sed -E 's/.*, ([0-9]+) dropped in kernel.*/\1/' <<<"$summary")))
done
hz=$(getconf CLK_TCK)
base_exec=$(median "${base_execs[@]}"); agent_exec=$(median "${agent_execs[@]}")
base_open=$(median "${base_opens[@]}"); agent_open=$(median "${agent_opens[@]}")

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
| $EXECS execs, no agent / with agent (s, median of $ROUNDS) | $base_exec / $agent_exec ($(python3 -c "print(f'{($agent_exec / $base_exec - 1) * 100:+.1f} %')")) |
| $OPENS opens, no agent / with agent (s, median of $ROUNDS) | $base_open / $agent_open ($(python3 -c "print(f'{($agent_open / $base_open - 1) * 100:+.1f} %')")) |
| all runs, no agent: execs / opens (s) | ${base_execs[*]} / ${base_opens[*]} |
| all runs, with agent: execs / opens (s) | ${agent_execs[*]} / ${agent_opens[*]} |
| agent CPU per exec / per open (µs) | $(python3 -c "print(f'{$cpu_exec_total / $hz / ($EXECS * $ROUNDS) * 1e6:.1f} / {$cpu_open_total / $hz / ($OPENS * $ROUNDS) * 1e6:.2f}')") |
| agent RSS idle / after the load / peak (MiB, max over rounds) | $((rss_idle / 1024)) / $((rss_end / 1024)) / $((rss_peak / 1024)) |
| kernel records / dropped (all rounds) | $records / $drops |
| exec-to-alert p50 / p99 (ms) | $e50 / $e99 ($seen seen, $missed missed) |
| spawn-to-alert p50 / p99 (ms) | $s50 / $s99 |

REPORT
