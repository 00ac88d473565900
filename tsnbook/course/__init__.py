"""The course's own code, apart from the library: the SynthActions generator, the demo, the notebooks' figures.

``tsnbook`` never imports this package (a test checks): `import tsnbook` needs neither matplotlib nor the
generator. The notebooks and ``python -m tsnbook demo`` / ``data synthactions`` use it.

* `tsnbook.course.synth`: SynthActions, the embedded dataset (and the zoo twins' replicas of it);
* `tsnbook.course.demo`: the two-stream experiment (``make demo``);
* `tsnbook.course.figures`: frame grids, flow images, training curves, confusion matrices, fusion sweeps;
* `tsnbook.course.notebook`: helpers every notebook shares (claims, zoo tables, cached runs);
* `tsnbook.course.tasks`: the small synthetic tasks of notebooks 21 and 22 (one per good practice);
* `tsnbook.course.experiments`: many short runs with seeds, decoded once and kept in memory (notebooks 21, 22);
* `tsnbook.course.exercises`: the check functions of the notebooks' exercises.
"""
