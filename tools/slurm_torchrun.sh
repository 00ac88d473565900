#!/usr/bin/env bash
# tools/slurm_torchrun.sh PARTITION JOB_NAME COMMAND [ARGS ...]: `python -m tsnbook COMMAND ARGS` as one DDP run over
# NODES nodes of a Slurm partition, GPUS_PER_NODE processes per node. tools/slurm_train.sh and tools/slurm_test.sh
# call it.
#
# srun starts one task per node; each runs torchrun, and the torchruns meet in torchrun's c10d rendezvous on the
# job's first node (port PORT), which numbers the processes. Every tsnbook process then has the environment it has
# under `torchrun --nproc_per_node N` on one machine (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR): nothing in
# tsnbook knows about Slurm. A node that fails ends the job (--kill-on-bad-exit); the checkpoints' resume works as
# on one machine.
#
# The torchruns count themselves and find their meeting node from the step srun starts (NODES, the step's node
# list), not from the job's: in a job of more nodes, or with srun --relative / --preserve-env in SRUN_ARGS, the
# job's first node may run no torchrun, and the job's node count would have them wait for torchruns never started.
#
# Environment: NODES (default: every node of the job it runs in, SLURM_JOB_NUM_NODES - sbatch -N 4, salloc -N 4 -;
# 1 outside a job), GPUS_PER_NODE (8), CPUS_PER_TASK (the CPUs of a node's processes and their
# DataLoader workers; default 5 per GPU), PORT (the rendezvous port; default 29400 + a random offset), SRUN_ARGS
# (more srun options, e.g. "--time=2-00:00:00 --mem=0"), PYTHON (the interpreter on the nodes; default python).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME COMMAND [ARGS ...]   (COMMAND: a python -m tsnbook command, e.g. train)" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
shift 2
export NODES=${NODES:-${SLURM_JOB_NUM_NODES:-1}}
export GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-$((5 * GPUS_PER_NODE))}
export PORT=${PORT:-$((29400 + RANDOM % 1000))}
export PYTHON=${PYTHON:-python}
PYTHONPATH="$(cd "$(dirname "$0")/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's tsnbook
export PYTHONPATH
# shellcheck disable=SC2086,SC2016  # SRUN_ARGS holds several options; the task's $variables are the node's
srun --partition="$PARTITION" --job-name="$JOB_NAME" --nodes="$NODES" --ntasks="$NODES" --ntasks-per-node=1 \
    --gres="gpu:$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
    bash -c 'head=$(scontrol show hostnames "${SLURM_STEP_NODELIST:-$SLURM_JOB_NODELIST}" | head -n 1)
        exec "$PYTHON" -m torch.distributed.run --nnodes="$NODES" --nproc_per_node="$GPUS_PER_NODE" \
            --rdzv_id="$SLURM_JOB_ID" --rdzv_backend=c10d --rdzv_endpoint="$head:$PORT" -m tsnbook "$@"' \
    slurm_torchrun "$@"
