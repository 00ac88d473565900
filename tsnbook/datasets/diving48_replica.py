"""The dives of the Diving48 replica: four classes that differ in details of the motion, as Diving48's do.

Diving48 was built so that a frame or two says little: the pool, the diver and the crowd look the same in every
class, and a class is a dive (take-off, somersaults, twists, flight position). A replica whose classes differed
by colour would teach the opposite. So every replica clip is the same dive as a broadcast camera films it - the
diver stands on the board, flies, enters the water, and the camera follows, so the pool comes up into view - in
one of four venues (a crowd and a pool each, shared by all classes), and the four classes are the 2 x 2 of two
attributes:

* **somersaults**, 1.5 or 2.5: how many turns the body makes in the air. The body is a bar (alike after half a
  turn) that leaves the board at an angle drawn at random, so in any one frame of the flight every angle is
  equally likely, whatever the class and whatever the moment: no frame tells 1.5 from 2.5, and neither does an
  average of what each frame shows (TSN's consensus). Only the speed of the turning does - the change from one
  frame to the next, which optical flow or frame differences measure. The clips last 2.5-3.5 s and the flight
  about 70 % of that, so the two speeds never overlap: 7-11 degrees per frame for 1.5, 12-18 for 2.5.
* **twists**, none or one: a twist turns the diver's back to the camera, drawn dark and broad (a swimsuit, the
  shoulders), for a moment of `TWIST_FRACTION` of the clip. That moment is half the gap between two of 8 evenly
  spaced frames: 8 test frames catch it about every other time. An RGB TSN sees a twist only in a frame it
  samples.

Everything else - the clip's length, the take-off and entry times, when the twist happens, the venue, where the
diver is, which way it turns - is drawn from the same distributions for every class. The pixels are integer
OpenCV drawing on a bit-exact resize of random noise, so the same seed gives the same frames on every CPU.
"""
import math

import cv2
import numpy as np

#: the twist shows the diver's back for this fraction of the clip (rounded up to whole frames)
TWIST_FRACTION = 1 / 16
SOMERSAULTS = {"15som": 1.5, "25som": 2.5}
TWISTS = {"NoTwis": False, "1Twis": True}
FRONT, BACK = (235, 215, 190), (40, 40, 120)  # the diver's front (skin) and back (a dark swimsuit), RGB


def venue(rng, height, width):
    """What the camera pans over, twice the frame's height: a crowd (soft grey-brown blotches) above a pool (blue)
    from row ``water`` on; returns (image, water). Coarse noise upsampled by OpenCV's bit-exact bilinear resize."""
    coarse = rng.integers(0, 256, (16, 12), dtype=np.uint8)
    noise = cv2.resize(coarse, (width, 2 * height), interpolation=cv2.INTER_LINEAR_EXACT).astype(np.int64) - 128
    image = np.empty((2 * height, width, 3), np.int64)
    water = int(height * rng.uniform(1.45, 1.55))
    image[:water] = np.array([125, 110, 95]) + noise[:water, :, None] // 3
    image[water:] = np.array([40, 110, 170]) + noise[water:, :, None] // 6
    return np.clip(image, 0, 255).astype(np.uint8), water


def _draw_body(frame, centre, angle, length, back):
    """The diver, a bar of ``length`` at ``centre`` (x, y) turned by ``angle`` (radians): its front, or its back
    (broader, dark)."""
    half, thick = length / 2, max(3, int(round(length / (2 if back else 4))))
    dx, dy = math.cos(angle) * half, math.sin(angle) * half
    cx, cy = centre
    cv2.line(frame, (int(round(cx - dx)), int(round(cy - dy))), (int(round(cx + dx)), int(round(cy + dy))),
             BACK if back else FRONT, thick)


def render_dive(rng, num_frames, scene, somersaults, twist):
    """The frames [T, H, W, 3] (uint8 RGB) of one dive in ``scene`` (a `venue`): ``somersaults`` turns in the
    air, and with ``twist`` one moment with the back to the camera. Returns (frames, (first, last) frame of the
    twist, or None)."""
    image, water = scene
    height, width = image.shape[0] // 2, image.shape[1]
    length = height * rng.uniform(0.5, 0.6)
    takeoff = int(num_frames * rng.uniform(0.13, 0.17))
    entry = int(num_frames * rng.uniform(0.83, 0.87))
    span = math.ceil(num_frames * TWIST_FRACTION)
    start = int(rng.integers(takeoff, entry - span))  # drawn for every class: the same random stream
    moment = (start, start + span - 1) if twist else None
    x, drift = width * rng.uniform(0.45, 0.55), width * rng.uniform(-0.06, 0.06)
    direction, phase = int(rng.choice([-1, 1])), rng.uniform(0, math.pi)  # the angle at take-off: any
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        s = min(max((t - takeoff) / (entry - takeoff), 0.0), 1.0)  # 0 on the board, 1 at the entry
        top = int(round((water - 0.6 * height) * s))  # the camera follows the diver down: the pool comes up
        frame = image[top:top + height].copy()
        surface = max(water - top, 0)
        if t < entry:
            bounce = 3 * math.sin(math.pi * t / max(takeoff, 1)) if t < takeoff else 0.0
            centre = (x + drift * s, height * (0.5 - s * (1 - s) + 0.3 * s) - bounce)
            angle = math.pi / 2 + (direction * (phase + 2 * math.pi * somersaults * s) if t >= takeoff else 0)
            _draw_body(frame, centre, angle, length, moment is not None and moment[0] <= t <= moment[1])
            frame[surface:] = image[top + surface:top + height]  # under the surface the body is hidden
        else:  # the entry: a ripple
            radius = 4 + 3 * (t - entry)
            cv2.ellipse(frame, (int(x + drift), min(surface, height - 3)), (radius, max(2, radius // 4)), 0, 0, 360,
                        (230, 240, 250), 2)
        frames[t] = frame
    return frames, moment
