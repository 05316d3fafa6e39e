#!/usr/bin/env bash
# Scale-out on a real batch engine: starts a one-node Slurm cluster (munged, slurmctld and
# slurmd on this machine), submits a sharded `faultline sweep` and a sharded `faultline tune` as
# `sbatch --array=0-(N-1)` jobs running the release binary, waits for them, merges the parts and
# checks the merged results are byte-identical to the same commands run whole on one machine.
# A failed or missing array task is reported by its index. The daemons and the scratch
# directory are torn down on exit, whatever happens.
#
# Needs root (it installs Debian's slurm-wlm and munge with apt-get when they are missing and
# runs the daemons); without root, or when apt-get cannot install them, it says so and exits 0,
# so a developer machine is left alone. FAULTLINE_SLURM_REQUIRED=1 turns those skips into
# failures. FAULTLINE_BIN overrides the binary (default: target/release/faultline, built if
# missing).
#
# The daemons use their own configuration, ports (16817, 16818), munge socket and state under
# a scratch directory: a Slurm or munge already running on the machine is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

shards=4
timeout_s=${FAULTLINE_SLURM_TIMEOUT:-90}

skip() {
  if [ "${FAULTLINE_SLURM_REQUIRED:-0}" = 1 ]; then
    echo "slurm test: FAILED: $1" >&2
    exit 1
  fi
  echo "slurm test: SKIPPED: $1"
  exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root to install and run slurm-wlm and munge (CI runs it as root)"

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "slurm test: installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -q slurm-wlm munge || { apt-get update -q && apt-get install -y -q slurm-wlm munge; }; } \
    >/tmp/faultline-slurm-apt.log 2>&1 \
    || skip "apt-get could not install slurm-wlm and munge (see /tmp/faultline-slurm-apt.log)"
fi

if [ -n "${FAULTLINE_BIN:-}" ]; then
  bin=$FAULTLINE_BIN
else
  # A no-op when the release build is up to date (.ci/run has just made it).
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-$repo/target}/release/faultline
fi

dir=$(mktemp -d /tmp/faultline-slurm.XXXXXX)
chmod 755 "$dir"
pids=()
teardown() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$status" != 0 ] && [ -d "$dir" ]; then
    echo "slurm test: daemon logs:" >&2
    tail -n 20 "$dir"/*.log >&2 2>/dev/null || true
  fi
  rm -rf "$dir"
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

host=$(hostname -s)
cpus=$(nproc)

# munged: its own socket, pid and log, as the munge user, with the package's key.
install -d -o munge -g munge "$dir/munge"
runuser -u munge -- munged --foreground --key-file=/etc/munge/munge.key \
  --socket="$dir/munge/munge.sock" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
  >"$dir/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$dir/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$dir/munge/munge.sock" ] || { echo "slurm test: munged did not start" >&2; exit 1; }

mkdir -p "$dir/state" "$dir/spool" "$dir/out"
export SLURM_CONF="$dir/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=faultline
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=600
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=faultline Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -D -i -f "$SLURM_CONF" >"$dir/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$dir/slurmd.out" 2>&1 &
pids+=($!)
ready=0
for _ in $(seq 100); do
  if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then ready=1; break; fi
  sleep 0.2
done
[ "$ready" = 1 ] || { echo "slurm test: the node did not come up: $(sinfo 2>&1)" >&2; exit 1; }
echo "slurm test: one-node cluster up ($host, $cpus CPUs): $(sinfo -h -o '%P %D %t')"

scenario=$repo/scenarios/search/tune.ron
sweep_flags=(--seeds 1..8 --set 'clients.users.retry.max_attempts=3,5')
# The tune's space comes from the scenario's `tune` section; halving is forced so the merge
# replays rungs.
tune_flags=(--param 'clients.users.retry.max_attempts=1..8' --param 'services.api.workers=1..4'
  --grid-max 4 --samples 8 --seeds 1..4)

# One array job: task i runs shard i+1 of N into $dir/out/NAME-i.json.
submit() {
  local name=$1; shift
  local script="$dir/$name.sbatch"
  {
    echo '#!/usr/bin/env bash'
    echo 'set -eu'
    printf '%q ' "$bin" "$@"
    echo "--jobs 1 --shard \$((SLURM_ARRAY_TASK_ID + 1))/$shards --out $dir/out/$name-\$SLURM_ARRAY_TASK_ID.json"
  } >"$script"
  sbatch --parsable --job-name="faultline-$name" --array=0-$((shards - 1)) --cpus-per-task=1 \
    --chdir="$repo" --output="$dir/out/$name-%a.log" "$script"
}

sweep_job=$(submit sweep sweep "$scenario" "${sweep_flags[@]}")
tune_job=$(submit tune tune "$scenario" "${tune_flags[@]}")
echo "slurm test: submitted sweep as job $sweep_job and tune as job $tune_job, $shards array tasks each"

deadline=$((SECONDS + timeout_s))
while [ -n "$(squeue -h -j "$sweep_job,$tune_job" -o '%i' 2>/dev/null)" ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "slurm test: FAILED: the jobs did not finish within ${timeout_s}s:" >&2
    squeue -j "$sweep_job,$tune_job" >&2 || true
    scancel "$sweep_job" "$tune_job" 2>/dev/null || true
    exit 1
  fi
  sleep 1
done

# Every array task must have finished well and written its part; the failed ones by index.
failed=0
for name in sweep tune; do
  job=$sweep_job; [ "$name" = tune ] && job=$tune_job
  for i in $(seq 0 $((shards - 1))); do
    state=$(scontrol show job "${job}_$i" 2>/dev/null | grep -oE 'JobState=[A-Z_]+|ExitCode=[0-9:]+' | tr '\n' ' ')
    if ! echo "$state" | grep -q 'JobState=COMPLETED' || [ ! -s "$dir/out/$name-$i.json" ]; then
      echo "slurm test: $name array task $i (shard $((i + 1))/$shards) failed: ${state:-no state}" >&2
      sed 's/^/    /' "$dir/out/$name-$i.log" >&2 2>/dev/null || true
      failed=1
    fi
  done
done
[ "$failed" = 0 ] || exit 1

parts() { for i in $(seq 0 $((shards - 1))); do echo "$dir/out/$1-$i.json"; done; }
mapfile -t sweep_parts < <(parts sweep)
mapfile -t tune_parts < <(parts tune)

"$bin" merge "${sweep_parts[@]}" --format json >"$dir/sweep-merged.json"
"$bin" sweep "$scenario" "${sweep_flags[@]}" --format json >"$dir/sweep-whole.json"
"$bin" tune "$scenario" "${tune_flags[@]}" --format json --merge "${tune_parts[@]}" >"$dir/tune-merged.json"
"$bin" tune "$scenario" "${tune_flags[@]}" --format json >"$dir/tune-whole.json"

status=0
for name in sweep tune; do
  if cmp -s "$dir/$name-merged.json" "$dir/$name-whole.json"; then
    echo "slurm test: $name: $shards array tasks merged byte-identical to the unsharded run ($(wc -c <"$dir/$name-whole.json") bytes)"
  else
    echo "slurm test: FAILED: the merged $name differs from the unsharded run:" >&2
    diff "$dir/$name-merged.json" "$dir/$name-whole.json" | head -20 >&2 || true
    status=1
  fi
done
[ "$status" = 0 ] && echo "slurm test: ok"
exit "$status"
