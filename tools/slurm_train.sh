#!/usr/bin/env bash
# tools/slurm_train.sh PARTITION JOB_NAME CONFIG [TRAIN OPTIONS ...]: `python -m tsnbook train CONFIG ...` on NODES
# nodes of a Slurm cluster, GPUS_PER_NODE GPUs each (srun + torchrun's rendezvous: tools/slurm_torchrun.sh, which
# lists the environment variables). batch_size is per process, as with torchrun on one machine, e.g.
#
#   NODES=4 GPUS_PER_NODE=8 tools/slurm_train.sh gpu tsn_k400 tsn_r50_1x1x3_100e_kinetics400_rgb --validate \
#       --work-dir work_dirs/tsn_k400 --cfg-options data_root=data/kinetics400
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [python -m tsnbook train options ...]" >&2
    exit 2
fi
exec "$(dirname "$0")/slurm_torchrun.sh" "$1" "$2" train "${@:3}"
