"""Exercises at the end of each notebook: the learner's answer checked in place, a hint when it is not there yet.

Every notebook ends with 2-4 exercises. Each is a code cell where the learner writes an answer (the stored
notebook leaves it as ``None``: not tried yet) and a call of `check` that says "right", "not yet" with a hint,
or "not answered yet" with the hint - never a traceback, so that a notebook always runs top to bottom (strict
nbval runs it with the answers empty). A worked solution follows in a collapsed ``<details>`` block of Markdown,
so that the learner opens it only when they want it.

    answer = None  # e.g. the number of frames the val protocol decodes
    check(answer, lambda a: a == 8 * 1, hint="clips x crops, and one frame per clip")
"""


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
