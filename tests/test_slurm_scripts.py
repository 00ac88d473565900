"""tools/slurm_train.sh and tools/slurm_test.sh without a cluster: stand-ins for ``srun`` and ``scontrol`` run the
task once per node with the variables Slurm sets, and a stand-in Python records the torchrun command each node
runs - the same on every node, meeting at the first node's rendezvous."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: srun: its own options go to srun.log; the command runs once per node, as Slurm's task there
_SRUN = """#!/usr/bin/env bash
nodes=1
while [ "$1" != bash ]; do
    echo "$1" >> "$LOG_DIR/srun.log"
    case "$1" in --nodes=*) nodes=${1#--nodes=} ;; esac
    shift
done
for node in $(seq 0 $((nodes - 1))); do
    JOB_VARIABLES SLURM_JOB_ID=4242 SLURM_NODEID=$node "$@" || exit $?
done
"""


def srun_of_a_job(job_variables):
    """The srun stand-in whose tasks see ``job_variables`` ("NAME=VALUE ..." in bash) besides the job id and node."""
    return _SRUN.replace("JOB_VARIABLES", job_variables)


SRUN = srun_of_a_job('SLURM_JOB_NODELIST="gpu[007-008]" SLURM_NNODES=$nodes')


@pytest.fixture()
def cluster(tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "srun").write_text(SRUN)
    (tools / "scontrol").write_text("#!/usr/bin/env bash\n"  # the job's nodes, one a line
                                    "[ \"$1 $2\" = 'show hostnames' ] && printf 'gpu007\\ngpu008\\n'\n")
    (tools / "python").write_text(f"#!{sys.executable}\nimport json, os, sys\n"  # records the command a node runs
                                  "with open(os.environ['LOG_DIR'] + '/python.log', 'a') as log:\n"
                                  "    log.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    for path in tools.iterdir():
        path.chmod(0o755)

    def run(script, *args, unset=()):
        env = dict(os.environ, PATH=f"{tools}{os.pathsep}{os.environ['PATH']}", LOG_DIR=str(tmp_path), NODES="2",
                   GPUS_PER_NODE="4", PORT="29999", PYTHON=str(tools / "python"))
        env = {key: value for key, value in env.items() if key not in unset}
        result = subprocess.run(["bash", str(ROOT / "tools" / script), *args], env=env, capture_output=True, text=True)
        logs = {name: (tmp_path / f"{name}.log").read_text().splitlines() if (tmp_path / f"{name}.log").exists()
                else [] for name in ("srun", "python")}
        return result, logs["srun"], [json.loads(line) for line in logs["python"]]
    return run


def test_train_runs_one_torchrun_per_node_meeting_at_the_first_nodes_rendezvous(cluster):
    result, srun, nodes = cluster("slurm_train.sh", "gpu", "tsn_k400", "tsn_r50_1x1x3_100e_kinetics400_rgb",
                                  "--validate", "--cfg-options", "data_root=data/kinetics 400")
    assert result.returncode == 0, result.stderr
    assert {"--partition=gpu", "--job-name=tsn_k400", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1",
            "--gres=gpu:4", "--cpus-per-task=20", "--kill-on-bad-exit=1"} <= set(srun)
    torchrun = ["-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=4", "--rdzv_id=4242",
                "--rdzv_backend=c10d", "--rdzv_endpoint=gpu007:29999", "-m", "tsnbook"]
    assert nodes == [torchrun + ["train", "tsn_r50_1x1x3_100e_kinetics400_rgb", "--validate", "--cfg-options",
                                 "data_root=data/kinetics 400"]] * 2  # the same command on both nodes


def test_test_passes_the_checkpoint_and_options_and_usage_errors_say_what_is_missing(cluster):
    result, _, nodes = cluster("slurm_test.sh", "gpu", "t", "CONFIG", "work_dirs/x/latest.pth", "--eval",
                               "top_k_accuracy", "mean_class_accuracy")
    assert result.returncode == 0, result.stderr
    assert [node[9:] for node in nodes] == [["test", "CONFIG", "work_dirs/x/latest.pth", "--eval", "top_k_accuracy",
                                             "mean_class_accuracy"]] * 2
    result, _, nodes = cluster("slurm_test.sh", "gpu", "t", "CONFIG")
    assert result.returncode == 2 and "usage:" in result.stderr and "CHECKPOINT" in result.stderr
    result, _, _ = cluster("slurm_train.sh", "gpu")
    assert result.returncode == 2 and "PARTITION JOB_NAME CONFIG" in result.stderr


#: srun inside a job of 4 nodes, gpu[007-010] (sbatch -N 4): the step's tasks on the nodes STEP_NODES names,
#: which SLURM_STEP_NODELIST lists; SLURM_NNODES and SLURM_JOB_NODELIST describe the job - as srun
#: --preserve-env (-E) leaves them, and SLURM_JOB_NODELIST always.
SRUN_IN_A_JOB_OF_4 = srun_of_a_job('SLURM_JOB_NODELIST="gpu[007-010]" SLURM_NNODES=4 '
                                   'SLURM_STEP_NODELIST="$STEP_NODES" SLURM_STEP_NUM_NODES=$nodes')
SCONTROL_OF_THE_JOB = """#!/usr/bin/env bash
case "$3" in
    "gpu[007-010]") printf 'gpu007\\ngpu008\\ngpu009\\ngpu010\\n' ;;
    "gpu[009-010]") printf 'gpu009\\ngpu010\\n' ;;
esac
"""


@pytest.fixture()
def job_of_4_nodes(cluster, tmp_path, monkeypatch):
    (tmp_path / "bin" / "srun").write_text(SRUN_IN_A_JOB_OF_4)
    (tmp_path / "bin" / "scontrol").write_text(SCONTROL_OF_THE_JOB)
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "4")  # what sbatch -N 4 sets for its script
    return cluster


def test_a_step_on_some_of_the_jobs_nodes_meets_on_its_own_first_node(job_of_4_nodes, monkeypatch):
    """NODES=2 in a job of 4, on its last two nodes (SRUN_ARGS="--relative=2 --preserve-env"): torchrun waits for
    the 2 torchruns srun starts, not the job's 4, and meets on the step's first node, where one of them runs."""
    monkeypatch.setenv("STEP_NODES", "gpu[009-010]")
    monkeypatch.setenv("SRUN_ARGS", "--relative=2 --preserve-env")
    result, srun, nodes = job_of_4_nodes("slurm_train.sh", "gpu", "j", "CONFIG")
    assert result.returncode == 0, result.stderr
    assert "--nodes=2" in srun and "--relative=2" in srun
    assert len(nodes) == 2 and all("--nnodes=2" in node and "--rdzv_endpoint=gpu009:29999" in node
                                   for node in nodes), nodes


def test_without_nodes_the_run_takes_every_node_of_its_job(job_of_4_nodes, monkeypatch):
    """Started inside an allocation (sbatch -N 4, salloc) without NODES: all 4 nodes, not 1 of them."""
    monkeypatch.setenv("STEP_NODES", "gpu[007-010]")
    result, srun, nodes = job_of_4_nodes("slurm_train.sh", "gpu", "j", "CONFIG", unset=["NODES"])
    assert result.returncode == 0, result.stderr
    assert "--nodes=4" in srun and "--ntasks=4" in srun
    assert len(nodes) == 4 and all("--nnodes=4" in node and "--rdzv_endpoint=gpu007:29999" in node
                                   for node in nodes), nodes
