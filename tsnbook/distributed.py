"""Several processes, one model: what ``torchrun --nproc_per_node N -m tsnbook train CONFIG`` needs.

torchrun starts N copies of the command and tells each one who it is through environment variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). Each process then joins a *process group*
(NCCL between GPUs, Gloo between CPU processes), wraps its model in DistributedDataParallel (gradients are
averaged across processes after every backward) and reads its own share of the data (DistributedSampler).
A plain ``python -m tsnbook train`` has none of these variables and runs as a world of one.

Joining is where multi-machine runs usually fail: a wrong MASTER_ADDR, a firewalled port, a peer that was never
started. torch then waits for ``timeout`` and raises a long traceback; `init_process_group` here turns that into
one message that says where it tried to connect, for how long, and what to check.
"""
import contextlib
import datetime
import os
import sys
import tempfile
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class World:
    """Who this process is: ``rank`` of ``size`` processes, ``local_rank`` on its machine (its GPU index)."""
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self):
        """Rank 0 writes logs and checkpoints and prints; the others only compute."""
        return self.rank == 0


def world_from_environment():
    """The `World` torchrun describes in the environment; a world of one when not launched by torchrun."""
    return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                 int(os.environ.get("LOCAL_RANK", 0)))


BACKENDS = ("nccl", "gloo")


def backend_for(device_type):
    """The process-group backend: NCCL on CUDA, Gloo otherwise; ``TSNBOOK_DIST_BACKEND`` (nccl | gloo) overrides.

    The override exists for several processes on *one* GPU (a test, or a small machine): NCCL refuses two ranks
    on the same device ("Duplicate GPU detected"), while Gloo reduces CUDA tensors too, only slower.
    """
    chosen = os.environ.get("TSNBOOK_DIST_BACKEND")
    if chosen and chosen not in BACKENDS:
        raise ValueError(f"TSNBOOK_DIST_BACKEND={chosen!r}: choose one of {', '.join(BACKENDS)} (or leave it unset)")
    if chosen == "nccl" and device_type != "cuda":
        raise ValueError("TSNBOOK_DIST_BACKEND=nccl needs CUDA devices; CPU processes use gloo")
    return chosen or ("nccl" if device_type == "cuda" else "gloo")


def init_process_group(world, device, timeout_s=600):
    """Join the process group of ``world`` (`backend_for` the device); returns True if this call joined it.

    ``device``: this process's torch.device (or its type, "cuda" / "cpu"). Nothing happens for a world of one, or
    when the caller already joined (then the caller also leaves). Failing to meet every peer within
    ``timeout_s`` seconds raises a RuntimeError naming MASTER_ADDR:MASTER_PORT.
    """
    if world.size == 1 or dist.is_initialized():
        return False
    device = torch.device(device)
    backend = backend_for(device.type)
    gpu = device.index if device.index is not None else world.local_rank  # NCCL's barrier needs this rank's GPU
    address = f"{os.environ.get('MASTER_ADDR', '(MASTER_ADDR unset)')}:{os.environ.get('MASTER_PORT', '(unset)')}"
    try:
        with _stderr_held_back() as held_back:
            dist.init_process_group(backend, rank=world.rank, world_size=world.size,
                                    timeout=datetime.timedelta(seconds=timeout_s))
            # The store rendezvous may return before every rank has arrived; one collective proves they all did.
            dist.barrier(device_ids=[gpu] if backend == "nccl" else None)
        sys.stderr.write(held_back[0])  # joined: show whatever c10d said on the way
    except Exception as err:  # DistStoreError, DistNetworkError, RuntimeError, TimeoutError: all mean "no peers"
        if dist.is_initialized():
            dist.destroy_process_group()
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeError(
            f"rank {world.rank} of {world.size} could not meet its peers at MASTER_ADDR:MASTER_PORT = {address} "
            f"within the {timeout_s} s timeout (dist_timeout) [{type(err).__name__}: {first_line[:200]}]. Check "
            f"that MASTER_ADDR is the rank-0 machine's address and is reachable from this machine, that "
            f"MASTER_PORT is free there and not blocked by a firewall, and that all {world.size} processes were "
            f"started (torchrun --nnodes / --nproc_per_node on every machine); raise dist_timeout if some start "
            f"slowly.") from None
    return True


@contextlib.contextmanager
def _stderr_held_back():
    """Send file descriptor 2 to a temporary file for the ``with`` body; the yielded list then holds its text.

    c10d prints every failed connection attempt from C++ with a full native stack trace; when joining fails
    our one message says it all, so those lines are dropped, and replayed when joining succeeds.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    text = []
    with tempfile.TemporaryFile("w+") as held_back:
        os.dup2(held_back.fileno(), 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held_back.seek(0)
            text.append(held_back.read())


def destroy_process_group():
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def failing_together():
    """Under DDP, an exception that some ranks raise in the block is raised on every rank (the others': a
    RuntimeError naming the first rank and its message). A rank that leaves alone - its node-local checkpoint
    unreadable - would leave the others waiting in their next collective, to end on Gloo's "Connection closed by
    peer" or NCCL's timeout instead of the reason. Every rank gathers once after the block; alone, nothing changes."""
    if not dist.is_initialized():
        yield
        return
    error = None
    try:
        yield
    except Exception as err:  # a bug too: whatever it is, the others must not wait for this rank
        error = err
    failed = [(rank, said) for rank, said in enumerate(gather_objects(error and str(error))) if said is not None]
    if error is not None:
        raise stopped_together(error) if str(error) == failed[0][1] else error  # rank 0 names the first failure
    if failed:
        rank, said = failed[0]
        more = f" (and {len(failed) - 1} more ranks)" if len(failed) > 1 else ""
        raise stopped_together(RuntimeError(f"rank {rank} stopped{more}: {said}"))


def stopped_together(error):
    """Mark ``error`` as raised by every rank at once, rank 0's carrying what it says (the same message, or ``rank N
    stopped: ...`` with it); returns it. The command's ``error:`` line is then rank 0's alone (`error_line`):
    torchrun shows every process's output, and N copies of one reason bury it. A rank whose error says something
    rank 0's does not (another failure of its own) is not marked, and speaks."""
    error.rank_0_says_it = True
    return error


def error_line(message, error):
    """The ``error: ...`` line a command ends with on this process: ``message``, or - on a rank other than 0, for
    an error rank 0 reports too (`stopped_together`) - one short line that points there. The exit code is the
    same (not 0) on every rank either way."""
    rank = int(os.environ.get("RANK", 0))
    if rank and getattr(error, "rank_0_says_it", False):
        return f"error: rank {rank} stopped with rank 0, whose error line says why"
    return f"error: {message}"


def gather_objects(obj):
    """Every rank's ``obj`` as a list, in rank order, on every rank (``[obj]`` when not distributed)."""
    if not dist.is_initialized():
        return [obj]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def convert_sync_batchnorm(model, device_type):
    """``sync_bn: True``: BatchNorm statistics over the whole global batch (SyncBatchNorm), GPUs only."""
    if device_type != "cuda":
        raise RuntimeError("sync_bn=True needs CUDA: torch's SyncBatchNorm runs on GPUs only (NCCL). Train with "
                           "--cfg-options sync_bn=False on CPU (plain BatchNorm, statistics per process).")
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def broadcast_buffers(model):
    """Give every rank rank 0's buffers (BatchNorm's running statistics), in place; nothing outside DDP.

    DDP averages gradients, so the weights stay equal, but each rank's BatchNorm layers update their running
    mean and variance from its own share of the batch (DDP copies rank 0's buffers only at the start of the next
    training forward). Before a sharded validation every rank must score with the same model - the one rank 0
    saves (MMAction2's ``broadcast_bn_buffer=True``).
    """
    if not dist.is_initialized():
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def wait_for_every_rank():
    """A barrier (nothing outside DDP): e.g. no rank removes files another rank may still be reading."""
    if not dist.is_initialized():
        return
    nccl = dist.get_backend() == "nccl"
    dist.barrier(device_ids=[torch.cuda.current_device()] if nccl else None)
