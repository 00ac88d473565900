"""The "did you mean ...?" of every error that names an unknown word: a config, a config key, a transform or its
argument, a class name.

One helper, so that every such message reads alike and a typo is answered the same way wherever it is made: the
nearest valid name by `difflib.get_close_matches` (its similarity ratio, 0.6 and above), compared in any case and
written as the valid name is spelled.
"""
import difflib


def did_you_mean(word, choices):
    """``" (did you mean NAME?)"`` with the valid name nearest to ``word`` among ``choices``, or ``""`` when none
    is near: appended to the message that names the unknown ``word``."""
    spelled = {str(choice).lower(): str(choice) for choice in reversed(list(choices))}  # the first of equal names
    close = difflib.get_close_matches(str(word).lower(), list(spelled), n=1)
    return f" (did you mean {spelled[close[0]]}?)" if close else ""
