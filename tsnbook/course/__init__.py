"""The course's own code, apart from the library: the SynthActions generator, the demo, the notebooks' figures.

``tsnbook`` never imports this package (a test checks): `import tsnbook` needs neither matplotlib nor the
generator. The notebooks and ``python -m tsnbook demo`` / ``data synthactions`` use it.

* `tsnbook.course.synth`: SynthActions, the embedded dataset (and the zoo twins' replicas of it);
* `tsnbook.course.demo`: the two-stream experiment (``make demo``);
* `tsnbook.course.figures`: frame grids, flow images, training curves, confusion matrices, fusion sweeps.
"""
