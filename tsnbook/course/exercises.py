"""Exercises at the end of each notebook: the learner's answer checked in place, a hint when it is not there yet.

Every notebook ends with 2-4 exercises. Each is a code cell where the learner writes an answer (the stored
notebook leaves it as ``None``: not tried yet) and a call of `check` that says "right", "not yet" with a hint,
or "not answered yet" with the hint - never a traceback, so that a notebook always runs top to bottom (strict
nbval runs it with the answers empty). A worked solution follows in a collapsed ``<details>`` block of Markdown,
so that the learner opens it only when they want it.

    answer = None  # e.g. the number of frames the val protocol decodes
    check(answer, lambda a: a == 8 * 1, hint="clips x crops, and one frame per clip")

Where the right answer takes more than a line to compute (notebooks 21 and 22), a ``check_...`` function here
computes it and calls `check`.
"""
import numpy as np

from ..sampling import sample_frames
from . import tasks


def check(answer, is_right, hint, name="exercise"):
    """Print whether ``answer`` is right; returns True, False or None (not answered: ``answer`` is None).

    ``is_right(answer)`` decides; an answer it cannot even evaluate (a wrong type, an exception) counts as "not
    yet" with the error's one line, since a learner's half-finished code must not stop the notebook.
    """
    if answer is None:
        print(f"{name}: not answered yet - hint: {hint}")
        return None
    try:
        right = bool(is_right(answer))
    except Exception as err:  # the learner's value may be anything: say why it could not be checked
        print(f"{name}: not yet - {type(err).__name__}: {err} - hint: {hint}")
        return False
    print(f"{name}: right" if right else f"{name}: not yet - hint: {hint}")
    return right


def flash_hit_rates(num_segments=(1, 3, 8)):
    """{K: the fraction of ``flash`` clips in which a test with K segment centres sees the flash}: the flash
    starts at any frame 0..T-6 with equal chance and lasts 6 frames."""
    frames = tasks.TASKS["flash"][1]
    starts = np.arange(frames - 6 + 1)
    rates = {}
    for k in num_segments:
        centres = sample_frames(frames, num_clips=k, test_mode=True)
        rates[k] = float(np.mean([np.any((centres >= s) & (centres < s + 6)) for s in starts]))
    return rates


def check_flash_hit_rates(answer, tolerance=0.01, name="exercise 1"):
    """Notebook 21, exercise 1: ``answer`` = {K: hit rate} (fractions, 0..1), e.g. for K = 1, 3, 8. When right,
    also the top-1 each rate predicts if a seen flash is always recognised and an unseen one guessed."""
    def is_right(rates):
        right = flash_hit_rates(tuple(rates))
        return all(abs(rate - right[k]) <= tolerance for k, rate in rates.items())

    verdict = check(answer, is_right, name=name,
                    hint="which frames does a test with K segments look at (tsnbook.sample_frames(48, num_clips=K, "
                         "test_mode=True)), and for how many of the 43 possible flash starts does one of them fall "
                         "inside the 6 flash frames?")
    if verdict:
        chance = 1 / len(tasks.TASKS["flash"][0])
        rates = flash_hit_rates(tuple(answer))
        print("expected top-1 if a seen flash is always recognised and an unseen one guessed: " +
              ", ".join(f"K={k}: {100 * (r + (1 - r) * chance):.0f} %" for k, r in rates.items()))
    return verdict


def check_frozen_parameter_count(answer, feature_dim=96, name="exercise 1"):
    """Notebook 22, exercise 1: how many numbers a frozen-backbone TSN trains on the ``finetune`` task."""
    classes = len(tasks.TASKS["finetune"][0])
    return check(answer, lambda count: count == feature_dim * classes + classes, name=name,
                 hint="with frozen_stages=4 every backbone layer is frozen. What is left, and how big is it "
                      "(model.fc.weight.shape)?")
