#!/bin/sh
# Scale figures for `stepsim sweep` (README "Scale-out sweeps"): executions per second per core
# on the COSMIC-AI sweep, memory per in-flight execution, and a 100,000-execution sweep's wall
# time and peak memory, all with /usr/bin/time -v on a release binary.
#
#   cargo build --release && benches/sweep_scale.sh            # or STEPSIM=path/to/stepsim
#   EXECUTIONS=10000 benches/sweep_scale.sh                     # a smaller big run
#
# The big run is heavy: run it once, on a quiet machine, and say what else was running.
set -eu
cd "$(dirname "$0")/.."
STEPSIM=${STEPSIM:-target/release/stepsim}
SPEC=${SPEC:-asl-examples/cosmic-ai/sweep.toml}
EXECUTIONS=${EXECUTIONS:-100000}
POINTS=20 # the COSMIC-AI grid: world_size 4 x batch_size 5
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$STEPSIM" ] || { echo "no binary at $STEPSIM (cargo build --release)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 2; }

# measure NAME ARGS...: runs stepsim under GNU time; prints "wall_s peak_kib cpu_s" (cpu is
# user + system time, which a busy shared machine disturbs less than wall time).
measure() {
	name=$1
	shift
	/usr/bin/time -v -o "$TMP/$name.time" "$STEPSIM" "$@" >/dev/null
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$TMP/$name.time")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TMP/$name.time")
	cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$TMP/$name.time")
	echo "$wall $rss $cpu"
}

echo "binary: $STEPSIM ($("$STEPSIM" --version 2>/dev/null || echo unknown)), $(nproc) core(s)"

# 1. Executions per second per core: the COSMIC-AI sweep at 10x its repetitions, one thread.
reps=50
set -- $(measure rate sweep "$SPEC" --out "$TMP/rate" --jobs 1 --repetitions $reps -q)
n=$((POINTS * reps))
echo "executions/s per core (COSMIC-AI, $n executions, --jobs 1): $(awk -v n=$n -v w="$1" 'BEGIN {printf "%.0f", n / w}') by wall time ($1 s), $(awk -v n=$n -v c="$3" 'BEGIN {printf "%.0f", n / c}') per CPU-second ($3 s)"

# 2. Memory per in-flight execution: the same small sweep on 1 and on 2 threads holds one and
#    two worlds at a time; the difference in peak RSS is one in-flight execution and its world.
set -- $(measure one sweep "$SPEC" --out "$TMP/one" --jobs 1 --repetitions 1 -q)
one=$2
set -- $(measure two sweep "$SPEC" --out "$TMP/two" --jobs 2 --repetitions 1 -q)
two=$2
echo "peak RSS, 20 executions: $one KiB on 1 thread, $two KiB on 2 threads: about $((two - one)) KiB per in-flight execution"

# 3. The big sweep on every core.
reps=$((EXECUTIONS / POINTS))
set -- $(measure big sweep "$SPEC" --out "$TMP/big" --repetitions $reps -q)
echo "$((POINTS * reps)) executions on $(nproc) core(s): wall $1 s, CPU $3 s, peak RSS $2 KiB; $(awk -v k="$2" -v base="$two" -v n=$((POINTS * reps - POINTS)) 'BEGIN {printf "%.0f", (k - base) * 1024 / n}') bytes more per execution than the 20-execution run"
wc -c "$TMP/big/results.csv" "$TMP/big/results.json" | sed 's/^/  /'
