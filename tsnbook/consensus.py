"""TSN's segmental consensus: how the K snippets of one video become one prediction (TSN paper §3.1 and its
table of consensus functions).

TSN scores K snippets spread over the whole video and combines them with a consensus function g,
``G = g(F(T_1), ..., F(T_K))``, before the softmax and the loss. The paper compared three g's, and so can a
config (``consensus``):

* ``"avg"`` (the default, and MMAction2's only one): the mean over the segments. Every snippet counts the same,
  so the whole video votes; the paper found it best on UCF101, whose actions fill their videos.
* ``"max"``: per class, the best snippet's score. One snippet decides, and the loss reaches only that snippet:
  right when the evidence is brief and anywhere, wasteful (and noisy) when it is everywhere.
* ``"weighted"``: a learned weighted mean with one weight per segment *position* (the softmax of K learnable
  numbers: positive, summing to 1, and all equal at the start, so an untrained weighted TSN is an average
  one). It can learn that the end of a video matters more than its start; on videos whose evidence sits
  anywhere it has nothing to learn.

**Where the consensus sits.** The paper applies g to class scores. tsnbook, like MMAction2's TSNHead, averages
the pooled *features* and runs the classifier once (the class docstring of `tsnbook.models.TSN`); for "avg" and
"weighted" that is the same thing, since the classifier is linear and the weights sum to 1:
``fc(sum_k w_k f_k) = sum_k w_k fc(f_k)``. So both stay on the features (and "avg" keeps its exact old
arithmetic). A max does not commute with a linear map, so "max" takes each class's maximum *score* over the
snippets, as the paper defines it. Dropout sits before the classifier in both orders.

**Test time** (`view_weights`, `pool_view_scores`). A test scores ``V = blocks x clips`` views: the blocks are
the crops (and a dense sampler's window positions), each holding ``num_clips`` clips in time order
(MMAction2's order: all clips of crop 1, then all clips of crop 2, ...). The consensus runs over the clips of
each block - the time axis, as the segments in training - and the blocks are averaged, as every TSN test
averages its crops. "avg": the mean of all views (unchanged). "max": each class's best clip in every block,
then the mean over blocks. "weighted": clip j of n takes the weight of the training segment its centre falls
in, ``floor((j + 1/2) K / n)`` (exact for the segment-centre clips of a test), shared among that segment's
clips.
"""
import torch
import torch.nn.functional as F
from torch import nn

CONSENSUS = ("avg", "max", "weighted")


class SegmentalConsensus(nn.Module):
    """``g`` over the segment axis: ``[B, K, X] -> [B, X]`` (features for avg / weighted, class scores for max).

    ``weight`` (only for "weighted"): K learnable numbers whose softmax is the segment weights.
    """

    def __init__(self, kind="avg", num_segments=3):
        super().__init__()
        if kind not in CONSENSUS:
            raise ValueError(f"consensus must be one of {', '.join(CONSENSUS)} (TSN paper §3.1), got {kind!r}")
        self.kind, self.num_segments = kind, num_segments
        if kind == "weighted":
            self.weight = nn.Parameter(torch.zeros(num_segments))

    @property
    def on_scores(self):
        """True when the consensus pools class scores (max), False when it pools features (avg, weighted)."""
        return self.kind == "max"

    def segment_weights(self):
        """The K segment weights (positive, summing to 1); uniform for "avg" and "max"."""
        if self.kind == "weighted":
            return F.softmax(self.weight, dim=0)
        return torch.full((self.num_segments,), 1 / self.num_segments)

    def forward(self, x):
        if self.kind == "avg":
            return x.mean(dim=1)
        if self.kind == "max":
            return x.amax(dim=1)
        if x.shape[1] != self.num_segments:
            raise ValueError(f"weighted consensus learns one weight per segment ({self.num_segments}) but got "
                             f"{x.shape[1]} views: score a test's views with TSN.score_views(views, num_clips=...)")
        return (x * self.segment_weights().to(x.dtype)[:, None]).sum(dim=1)

    def _blocks(self, num_views, num_clips):
        clips = num_clips or num_views
        if num_views % clips:
            raise ValueError(f"{num_views} test views do not split into blocks of num_clips={clips} clips (views = "
                             f"crops x clips, all clips of one crop together)")
        return num_views // clips, clips

    def view_weights(self, num_views, num_clips=None):
        """Weights of ``num_views`` test views (avg, weighted), summing to 1: ``[num_views]`` float64.

        ``num_clips``: clips per block (None: one block of all views). Clip j of n gets the weight of segment
        ``floor((j + 1/2) K / n)`` divided by that segment's clip count; segments without a clip (n < K) give
        their share to the others. The blocks share equally.
        """
        if self.kind == "max":
            raise ValueError("max consensus pools class scores, not features: use pool_view_scores")
        blocks, clips = self._blocks(num_views, num_clips)
        if self.kind == "avg":
            return torch.full((num_views,), 1 / num_views, dtype=torch.float64)
        segment = ((torch.arange(clips, dtype=torch.float64) + 0.5) * self.num_segments / clips).long()
        counts = torch.bincount(segment, minlength=self.num_segments)
        weights = self.segment_weights().detach().double().cpu()[segment] / counts[segment]
        return (weights / weights.sum()).repeat(blocks) / blocks

    def pool_view_scores(self, scores, num_clips=None):
        """The max consensus of test views' class scores ``[V, C] -> [C]``: the best clip of each block (time
        axis), averaged over the blocks (crops)."""
        blocks, clips = self._blocks(len(scores), num_clips)
        return scores.reshape(blocks, clips, -1).amax(dim=1).mean(dim=0)
