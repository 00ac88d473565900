#!/usr/bin/env bash
# tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [TEST OPTIONS ...]: `python -m tsnbook test CONFIG
# CHECKPOINT ...` on NODES nodes of a Slurm cluster, GPUS_PER_NODE GPUs each (srun + torchrun's rendezvous:
# tools/slurm_torchrun.sh, which lists the environment variables). The videos are sharded over the processes and
# the scores gathered, the same as on one machine, e.g.
#
#   NODES=2 tools/slurm_test.sh gpu tsn_k400_test tsn_r50_1x1x3_100e_kinetics400_rgb work_dirs/tsn_k400/latest.pth \
#       --eval top_k_accuracy mean_class_accuracy --out work_dirs/tsn_k400/scores.npz
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [python -m tsnbook test options ...]" >&2
    exit 2
fi
exec "$(dirname "$0")/slurm_torchrun.sh" "$1" "$2" test "${@:3}"
