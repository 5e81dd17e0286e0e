#!/bin/bash
# Run a sweep as a Slurm job array: each array task runs one deterministic shard.
#   sbatch --array=0-15 docs/slurm-sweep.sh reports/sweeps/default.json
# then, once all tasks are done:
#   npx expertflow merge reports/sweeps/default.json out/shards/*.jsonl --out out/results.jsonl
#SBATCH --job-name=expertflow-sweep
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=02:00:00
#SBATCH --output=out/shards/slurm-%A_%a.log
set -euo pipefail
SWEEP=${1:?sweep file}
N=${SLURM_ARRAY_TASK_COUNT:?run as an array job}
I=${SLURM_ARRAY_TASK_ID}
mkdir -p out/shards
# Rerunning a task resumes its shard: finished cells are skipped.
npx expertflow sweep "$SWEEP" --shard "$I/$N" --workers "${SLURM_CPUS_PER_TASK:-1}" --out "out/shards/shard-$I-of-$N.jsonl"
