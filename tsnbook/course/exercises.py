"""Check functions for the exercises at the end of notebooks 21 and 22: each computes the right answer itself
and says whether the learner's agrees (and, if not, what to look at), without printing the answer."""
import numpy as np

from ..sampling import sample_frames
from . import tasks


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


def check_flash_hit_rates(answer, tolerance=0.01):
    """Exercise 21.1: ``answer`` = {K: hit rate} for K = 1, 3, 8 (fractions, 0..1)."""
    right = flash_hit_rates(tuple(answer))
    wrong = [k for k, rate in answer.items() if abs(rate - right[k]) > tolerance]
    if wrong:
        print(f"not yet: the rate for K = {', '.join(map(str, wrong))} is off. Which frames does a test with K "
              f"segments look at (tsnbook.sample_frames(48, num_clips=K, test_mode=True)), and for how many of the "
              f"43 possible flash starts does one of them fall inside the 6 flash frames?")
        return False
    chance = 1 / len(tasks.TASKS["flash"][0])
    print("right. Expected top-1 if a seen flash is always recognised and an unseen one guessed: " +
          ", ".join(f"K={k}: {100 * (r + (1 - r) * chance):.0f} %" for k, r in right.items()))
    return True


def check_frozen_parameter_count(answer, feature_dim=96):
    """Exercise 22.1: how many numbers a frozen-backbone TSN trains on the ``finetune`` task."""
    classes = len(tasks.TASKS["finetune"][0])
    right = feature_dim * classes + classes
    if answer == right:
        print("right: only the classifier trains, a weight per feature and class plus a bias per class")
        return True
    print("not yet: with frozen_stages=4 every backbone layer is frozen. What is left, and how big is it "
          "(model.fc.weight.shape)?")
    return False
