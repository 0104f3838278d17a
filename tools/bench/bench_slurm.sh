#!/usr/bin/env bash
# tools/bench/bench_slurm.sh — what planning and scheduling cost around the runs themselves.
#
#  1. `lensweep plan` of the ten-model sweep (no weights), and of the same sweep with the ten real
#     config.json files present (tests/fixtures/configs, --local-dir layout): median of 5;
#  2. `slurm/submit --dry-run` of that sweep (validation, lookup, sizing; nothing queued): median of 5;
#  3. on a real single-node cluster (tools/slurm_cluster.sh, needs root + slurm-wlm/munge): cluster
#     start, then a sweep of three tiny models (one with 2 ranks), from `slurm/submit` to the end of
#     the export/report job, with Slurm's own SubmitTime/StartTime/EndTime per job.
# Numbers go to BENCHMARKS.md ("Sweep planning and Slurm").
set -euo pipefail
cd "$(dirname "$0")/../.."
LW=$PWD/bin/lensweep
T=$(mktemp -d "${TMPDIR:-/tmp}/lwbench.XXXXXX")
C=$T/cluster
cleanup() { [ -f "$C/slurm.conf" ] && tools/slurm_cluster.sh stop "$C"; rm -rf "$T"; }
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export HF_HUB_CACHE=$T/hub LENSWEEP_MODEL_ROOT=$T/models
unset HF_HOME LENSWEEP_OUT

median_ms() { # CMD...: median wall time of 5 runs, ms
  local i s e times=()
  for i in 1 2 3 4 5; do
    s=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || true; e=$EPOCHREALTIME
    times+=("$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

echo "plan, ten models, no weights:           $(median_ms "$LW" plan configs/sweeps/ten-models.yaml --out "$T/run") ms"
for d in tests/fixtures/configs/*/; do
  m=$(basename "$d")
  id=$(sed -n 's/^model: *\([^ ]*\).*/\1/p' "configs/models/$m.yaml")
  mkdir -p "$T/models/$id" && cp "$d/config.json" "$T/models/$id/"
done
echo "plan, ten models, config.json present:  $(median_ms "$LW" plan configs/sweeps/ten-models.yaml --out "$T/run") ms"
echo "submit --dry-run, ten models:           $(median_ms slurm/submit configs/sweeps/ten-models.yaml --dry-run --out "$T/run") ms"

if [ "$(id -u)" != 0 ] || ! command -v slurmctld >/dev/null; then
  echo "cluster part skipped (needs root and slurm-wlm + munge)"; exit 0
fi
chmod 755 "$T"
s=$EPOCHREALTIME
eval "$(tools/slurm_cluster.sh start "$C")"
echo "cluster start (munged, slurmctld, slurmd, node idle): $(awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s"
TOK=${LW_SHARED:-../shared}/tokenizers/mistral-7b-v0.1/tokenizer.json
[ -f "$TOK" ] || TOK=/work/shared/tokenizers/mistral-7b-v0.1/tokenizer.json
for m in a:mistral:1 b:llama:2 c:mistral:3; do
  IFS=: read -r n f seed <<<"$m"
  "$LW" mktiny --family "$f" --seed "$seed" --out "$T/tiny/tiny-$n" --tokenizer "$TOK" >/dev/null
done
mkdir -p "$T/cfg"
cat >"$T/cfg/sweep.yaml" <<EOF
name: bench3
defaults: $PWD/configs/defaults.yaml
out_dir: $T/run3
device: cpu
skip_layers_m: [2]
slurm: {request_gpus: false, gpus_per_node: 2, cpus_per_task: 1, time: "00:10:00"}
models: [a.yaml, b.yaml, c.yaml]
EOF
printf 'model: %s\ntp_size: 2\n' "$T/tiny/tiny-a" >"$T/cfg/a.yaml"
printf 'model: %s\n' "$T/tiny/tiny-b" >"$T/cfg/b.yaml"
printf 'model: %s\n' "$T/tiny/tiny-c" >"$T/cfg/c.yaml"
s=$EPOCHREALTIME
out=$(slurm/submit "$T/cfg/sweep.yaml")
e_sub=$EPOCHREALTIME
ids=$(sed -n 's/^submitted=\([0-9 ]*\) finish=.*/\1/p' <<<"$out")
fin=$(sed -n 's/.* finish=\([0-9]*\) .*/\1/p' <<<"$out")
until grep -qE "JobState=(COMPLETED|FAILED|CANCELLED)" <<<"$(scontrol show job -o "$fin")"; do sleep 0.1; done
e=$EPOCHREALTIME
echo "slurm/submit (plan + 4 x sbatch --test-only + 4 x sbatch): $(awk -v a="$s" -v b="$e_sub" 'BEGIN { printf "%.2f", b - a }') s"
echo "submit -> export/report job ended: $(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.1f", b - a }') s"
for j in $ids $fin; do
  scontrol show job -o "$j" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(JobName|NumTasks|SubmitTime|StartTime|EndTime|JobState)=/) printf "%s ", $i; print "" }'
done
grep -A5 "=== sweep summary" "$T"/run3/logs/finish-bench3-"$fin".out
