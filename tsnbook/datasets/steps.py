"""The steps of ``prepare.py``, written once for every dataset: `Dataset` turns a dataset's description - its
module: facts, reader, hooks - into ``download``, ``extract``, ``build_lists`` (the ``lists`` step), ``verify``
and ``merge_shards`` (the ``report`` step). A dataset module ends with

    download, extract, build_lists, verify, merge_shards = Dataset(sys.modules[__name__]).steps()

Each step returns a `report.Report` (``ok``: can training start?) or raises `files.DatasetError` (a one-line
reason and what to do). What each step reads from the description:

* facts: ``NAME``; ``ROOT_ENTRIES`` and ``INSIDE`` (or a hook ``looks_inside(folder)``: a root given at the
  wrong level is refused, `files.check_level`); ``FILES`` (`download.Remote`s; ``UNREACHABLE``: what to do when
  the host is down; ``OPTIONAL_FILES``: {name: why a refusal is only a warning}); ``DEFAULT_FRAMES``,
  ``DEFAULT_RESOLUTION``, ``FRAME_TMPL``, ``START_INDEX``, ``FLOW_TMPL`` (what the zoo's configs read; flow:
  ``flow_x_00001.jpg`` ... unless the dataset says otherwise);
  ``VIDEO_FOLDERS`` ({videos folder: frames folder} under ROOT) and ``LEVEL``; ``STYLE`` (`listing.Style`),
  ``STRAYS`` (what a stray video is in, ``{annotation}``: the subset's file), ``CLASS_FOLDERS`` (videos sit in
  folders named by the classes);
  ``NUM_CLASSES``, ``TITLE``, ``CLASSES_FILE``, ``CLASS_COUNT_NOTE`` (a copy with another number of classes);
* the reader: ``read_annotations(root)`` (an `AnnotationError` on a bad line) and ``subsets(root, annotations)``
  -> [`items.Subset`]; ``classes(annotations)`` (default: its first element);
* hooks, where a dataset differs (each optional): ``downloaded(root, remote)`` (skip it: already extracted),
  ``extracted(root)`` with ``ARCHIVES`` (a download behind a registration: `download.registered` checks the
  archives instead of fetching FILES), ``fetch_downloads(root, report, mirror, progress)`` (a registration of its own),
  ``after_download(root, report)``; ``check_frame_options(root, frames, resolution)``,
  ``extract_archives(root, report)`` (required), ``frame_pairs(root, resolution)`` (default: every video of
  VIDEO_FOLDERS), ``extract_frames(report, pairs, frames, options, work)`` (instead of the shared one);
  ``report_strays(report, root, annotations, subsets)``, ``write_lists(report, root, annotations, frame_tmpl,
  start_index, work)`` and ``check_copy(report, root, annotations, frame_tmpl, start_index, work, deep)`` (instead
  of `listing`'s: Kinetics, ActivityNet, HVU), ``check_annotations(report, root, annotations)`` (verify, first),
  ``check_videos(report, root, annotations, videos)`` (verify, after `listing.check`), ``check_counts(report,
  root, annotations)`` (lists and verify, last), ``write_label_map(root, annotations)`` (lists, last).

``--shard K/N`` (extract and verify) gives a step one share of the per-video work (`shards`); ``merge_shards``
reads every shard's results back and writes the report one machine would have written.
"""
from collections import Counter

from .. import flow
from . import frames as _frames, listing, shards
from .download import fetch_explained, registered
from .files import AnnotationError, DatasetError, check_level
from .items import scan_videos
from .report import Report


#: The facts a description may leave out.
DEFAULTS = dict(DEFAULT_RESOLUTION="original", FLOW_TMPL=flow.FLOW_TEMPLATES["flow"], OPTIONAL_FILES={},
                STRAYS="in no annotation file", CLASS_FOLDERS=False, CLASSES_FILE=None, MULTI_LABEL=False)


class Dataset:
    """The steps of one dataset, from its description ``facts`` (a module, or an object with the same names)."""

    def __init__(self, facts):
        self.facts = facts

    def steps(self):
        return self.download, self.extract, self.build_lists, self.verify, self.merge_shards

    def fact(self, name):
        return getattr(self.facts, name, DEFAULTS[name])

    def _hook(self, name):
        return getattr(self.facts, name, None)

    def root(self, root):
        """``root``, refused when it is a folder inside a dataset root (the message names the right one)."""
        return check_level(root, self.facts.ROOT_ENTRIES, self.looks_inside)

    def looks_inside(self, folder):
        """What ``folder`` is when it is a folder *inside* a root: the dataset's own rule (``looks_inside``), or
        the first of its ``INSIDE`` entries ``(name, pattern)`` whose pattern matches in it (a name ending in "/":
        the folder must also be called so)."""
        if self._hook("looks_inside"):
            return self.facts.looks_inside(folder)
        for name, pattern in self.facts.INSIDE:
            if (not name.endswith("/") or folder.name == name[:-1]) and any(folder.glob(pattern)):
                name = name.rstrip("/")
                return f"the {'frames' if name == 'rawframes' else name} folder (ROOT/{name})"
        return None

    # ---------------------------------------------------------------------------------------------- download
    def download(self, root, mirror=None, workers=None, progress=None):
        """Fetch the dataset's files into ``ROOT/downloads`` (resumable, `download.fetch`), each skipped when what
        it holds is already extracted; ``mirror``: a base URL serving the same names. A dataset behind a
        registration checks instead what is there and says where to get the rest."""
        facts, root = self.facts, self.root(root)
        report = Report(facts.NAME, "download", root)
        if self._hook("fetch_downloads"):
            facts.fetch_downloads(root, report, mirror, progress)
        elif self._hook("extracted"):  # behind a registration: one of ``ARCHIVES``, downloaded by hand
            registered(root, facts.ARCHIVES, facts.REGISTRATION, facts.extracted(root), mirror, progress, report)
        else:
            for remote in facts.FILES:
                if facts.downloaded(root, remote):
                    report.did("skipped (already extracted)")
                    continue
                fetch_explained(remote, root / "downloads", mirror, report, progress, facts.UNREACHABLE,
                                self.fact("OPTIONAL_FILES"))
        if self._hook("after_download"):
            facts.after_download(root, report)
        return report

    # ----------------------------------------------------------------------------------------------- extract
    def extract(self, root, workers=None, frames=None, resolution=None, flow_algorithm=flow.FAST_ALGORITHM,
                flow_tmpl=None, frame_tmpl=None, start_index=None, shard=None, results=None):
        """Unpack the downloads into MMAction2's layout (each part skipped when done), then extract ``frames``
        ("rgb", "flow", "both", "none"; default: what the zoo's configs read) of every video at ``resolution``.
        With ``shard`` (`shards.Shard`) only that share of the videos gets frames, the archives must be unpacked
        already (``extract --frames none``); ``results``: the shards' results, read back (`merge_shards`)."""
        facts, root = self.facts, self.root(root)
        frames, resolution = frames or facts.DEFAULT_FRAMES, resolution or self.fact("DEFAULT_RESOLUTION")
        if self._hook("check_frame_options"):
            facts.check_frame_options(root, frames, resolution)
        options = dict(frames=frames, resolution=resolution, flow_algorithm=flow_algorithm,
                       flow_tmpl=flow_tmpl or self.fact("FLOW_TMPL"), frame_tmpl=frame_tmpl or facts.FRAME_TMPL,
                       start_index=facts.START_INDEX if start_index is None else start_index)
        report = Report(facts.NAME, "extract", root)
        settings = _frames.frame_settings(frames, options["frame_tmpl"], options["flow_tmpl"], options["start_index"],
                                          resolution, flow_algorithm)
        work = shards.Work(root, workers, shard, results)
        if shard is None:
            facts.extract_archives(root, report)
        if settings is not None:
            pairs = facts.frame_pairs(root, resolution) if self._hook("frame_pairs") else self._frame_pairs(root)
            if shard is not None and not pairs:
                raise DatasetError(f"{root}: no videos to extract frames from; unpack the archives once, on one "
                                   f"machine (prepare.py {facts.NAME} extract --frames none), then run the shards")
            if self._hook("extract_frames"):
                facts.extract_frames(report, pairs, frames, options, work)
            else:
                _frames.extract_frames(report, pairs, settings, work)
        return self._shard_report(report, work, options)

    def _frame_pairs(self, root):
        """``[(video, frame folder)]`` of every video in the dataset's video folders."""
        pairs = []
        for videos, frames in self.facts.VIDEO_FOLDERS.items():
            found = scan_videos(root / videos, self.facts.LEVEL)
            pairs += [(root / videos / relative, root / frames / key) for key, relative in found.items()]
        return pairs

    # ------------------------------------------------------------------------------------------------- lists
    def build_lists(self, root, workers=None, frame_tmpl=None, start_index=None):
        """Write MMAction2's list files into ROOT from the annotations and what is on disk (videos by existence,
        frame folders by their frames); what is missing or damaged is left out *and reported*."""
        facts, root = self.facts, self.root(root)
        report = Report(facts.NAME, "lists", root)
        annotations = facts.read_annotations(root)
        frame_tmpl, start_index = self._frame_options(frame_tmpl, start_index)
        work = shards.Work(root, workers)
        if self._hook("write_lists"):
            facts.write_lists(report, root, annotations, frame_tmpl, start_index, work)
        else:
            subsets = facts.subsets(root, annotations)
            self.strays(report, root, annotations, subsets)
            listing.write_lists(report, facts, subsets, frame_tmpl, start_index, work)
        if self._hook("check_counts"):
            facts.check_counts(report, root, annotations)
        if self._hook("write_label_map"):
            facts.write_label_map(root, annotations)
        return report

    def _frame_options(self, frame_tmpl, start_index):
        return frame_tmpl or self.facts.FRAME_TMPL, self.facts.START_INDEX if start_index is None else start_index

    def strays(self, report, root, annotations, subsets):
        """Entries of each video folder that no annotation explains (`listing.strays`), or the dataset's own."""
        if self._hook("report_strays"):
            return self.facts.report_strays(report, root, annotations, subsets)
        classes = self.classes(annotations) if self.fact("CLASS_FOLDERS") else None
        for folder in dict.fromkeys(s.videos for s in subsets if s.videos is not None):
            group = [s for s in subsets if s.videos == folder]
            explain = self.fact("STRAYS").format(annotation=group[0].annotation.name)
            listing.strays(report, self.facts.STYLE, folder, group[0].level,
                           {item.key for s in group for item in s.items}, classes, explain)

    def classes(self, annotations):
        return self.facts.classes(annotations) if self._hook("classes") else annotations[0]

    # ------------------------------------------------------------------------------------------------ verify
    def verify(self, root, workers=None, deep=False, frame_tmpl=None, start_index=None, shard=None, results=None):
        """Check the copy in ROOT: the annotations, every annotated video (missing, unreadable, truncated, zero
        frames; ``deep`` decodes every frame), every frame folder (count, template, index base, against its
        video), stray entries, and the list files against all of that. ``ok`` is False on any error. ``shard``:
        only that share of the videos and frame folders is checked; ``results``: the shards', read back."""
        facts, root = self.facts, self.root(root)
        report = Report(facts.NAME, "verify", root)
        try:
            annotations = facts.read_annotations(root)
        except AnnotationError as error:
            return report.unreadable_annotations(error)
        frame_tmpl, start_index = self._frame_options(frame_tmpl, start_index)
        work = shards.Work(root, workers, shard, results)
        self._check_class_count(report, root, annotations)
        if self._hook("check_annotations"):
            facts.check_annotations(report, root, annotations)
        if self._hook("check_copy"):
            facts.check_copy(report, root, annotations, frame_tmpl, start_index, work, deep)
        else:
            subsets = facts.subsets(root, annotations)
            self.strays(report, root, annotations, subsets)
            videos = listing.check(report, facts, subsets, frame_tmpl, start_index, work, deep)
            if self._hook("check_videos"):
                facts.check_videos(report, root, annotations, videos)
        if self._hook("check_counts"):
            facts.check_counts(report, root, annotations)
        return self._shard_report(report, work, dict(deep=deep, frame_tmpl=frame_tmpl, start_index=start_index))

    def _check_class_count(self, report, root, annotations):
        expected = self.fact("CLASSES_FILE") and self.facts.NUM_CLASSES
        classes = self.classes(annotations) if expected else ()
        if expected and len(classes) != expected:
            report.problem("count", root / self.facts.CLASSES_FILE, f"{len(classes)} classes where "
                           f"{self.facts.TITLE} has {expected}: {self.facts.CLASS_COUNT_NOTE}", "warning")

    # ------------------------------------------------------------------------------------------------ shards
    def _shard_report(self, report, work, options):
        """On one machine, the step's report. A shard's holds what its share found (the problems about its own
        videos and folders, what it did); its results are saved for `merge_shards`."""
        if work.shard is None:
            return report
        report.shard = work.shard
        report.problems = [p for p in report.problems if p.path in work.names]
        report.counts, report.notes = {}, []
        if report.step == "verify":  # the step counted every video; a shard checks its share
            report.actions = Counter({"videos and frame folders checked": len(work.done)})
        work.save(report.step, options)
        return report

    def merge_shards(self, root, workers=None):
        """The ``report`` step: extract and verify run once more with every shard's results read back; their
        reports are the ones one machine would have written. Returns them (a `DatasetError` when no shard ran,
        or one is missing)."""
        root = self.root(root)
        merged = []
        for step, run in (("extract", self.extract), ("verify", self.verify)):
            found = shards.load(root, step, self.facts.NAME)
            if found is not None:
                options, results = found
                merged.append(run(root, workers=workers, results=results, **options))
        if not merged:
            raise DatasetError(f"{root}: no shard has written its results (prepare_<step>_results.shard-K-of-N.json); "
                               f"run prepare.py {self.facts.NAME} extract or verify --shard K/N first")
        return merged
