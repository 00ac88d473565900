"""A golden record of what ``prepare.py`` does on each of the twelve replicas, to keep refactors honest.

For every dataset, `SCENARIO` runs the command's steps on its replica as a user would - ``download``,
``extract``, ``lists``, ``verify`` (what ``all`` runs), then frames and flow (``extract --frames both``, where
the dataset allows it), then a damaged copy (a stray file, a stale list line, a deleted video, a gap in a frame
folder) checked, listed and deep-checked again - and records after each step:

* the exit status and everything the command printed (paths under the root written ``ROOT``);
* every file the step wrote or changed at the root's top level (list files, label maps, reports) in full, the
  other files under the root (annotations, videos, downloads) by name and size, and frame folders by their
  naming (`verify.describe_names`: template, first index, count).

`record` writes ``tests/data/datasets_golden/<dataset>.json``; ``tests/test_datasets_golden.py`` runs the
scenario again and compares step by step. Only what the code decides is recorded: frame *files* are counted, not
read (their JPEG bytes may depend on the CPU), and video bytes are not recorded.

    PYTHONPATH=$PWD python tests/datasets_golden.py record [DATASET ...]
    PYTHONPATH=$PWD python tests/datasets_golden.py check [DATASET ...]    # what the test does, with counts
"""
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "data" / "datasets_golden"
DATASETS = ("ucf101", "hmdb51", "kinetics400", "kinetics600", "kinetics700", "sthv1", "sthv2", "diving48", "mit",
            "mmit", "activitynet", "hvu")

#: dataset -> the extract options of the frames step (after the defaults of ``all``)
FRAMES = {"sthv1": ["--frames", "both"],  # refused (exit 2): V1 ships its frames
          "kinetics400": ["--frames", "both", "--resolution", "short320"],  # the _320p lists and their flow aliases
          "activitynet": ["--frames", "both"]}
#: what the damage step does per dataset: (a stray file to add, a video to delete, a list whose first line goes
#: stale); paths relative to the root, found on the replica after the frames step
DAMAGE = {
    "ucf101": ("videos/Hammering/v_Hammering_g09_c09.avi", "videos/Hammering/v_Hammering_g01_c01.avi",
               "ucf101_train_split_1_videos.txt"),
    "hmdb51": ("videos/pour/extra_pour_u_nm_np1_fr_goo_0.avi",
               "videos/cartwheel/Acrobacias_cartwheel_f_cm_np1_ba_med_1.avi", "hmdb51_train_split_1_rawframes.txt"),
    "sthv1": ("rawframes/77777/00001.jpg", None, "sthv1_train_list_rawframes.txt"),
    "sthv2": ("videos/777.webm", "videos/104.webm", "sthv2_val_list_videos.txt"),
    "diving48": ("videos/stray_00001.mp4", None, "diving48_train_list_videos.txt"),
    "mit": ("videos/training/blocking/yt-stray_1.mp4", None, "mit_val_list_rawframes.txt"),
    "mmit": ("videos/dancing/yt-stray_1.mp4", None, "mmit_train_list_videos.txt"),
    "activitynet": ("videos/v_strayVideo1.mp4", "videos/v_p00lDiving1.mp4", "anet_train_clip.txt"),
    "hvu": ("videos_val/stray_000000_000100.mp4", None, "hvu_train_video.json"),
}
for _version in (400, 600, 700):
    DAMAGE[f"kinetics{_version}"] = ("videos_val/zumba/stray_000001_000011.mp4", None,
                                     f"kinetics{_version}_train_list_videos.txt")


def scenario(name):
    """``[(title, argv or "damage"), ...]``: the steps recorded for dataset ``name``."""
    steps = [(step, [step]) for step in ("download", "extract", "lists", "verify")]
    steps += [("extract frames", ["extract"] + FRAMES.get(name, ["--frames", "both"])), ("lists again", ["lists"]),
              ("verify again", ["verify"]), ("damage", "damage"), ("verify damaged", ["verify"]),
              ("lists damaged", ["lists"]), ("verify deep", ["verify", "--deep"])]
    return steps


def damage(name, root):
    """Break the prepared copy in four ways a real copy breaks (see `DAMAGE`); returns what was done."""
    stray, deleted, stale = DAMAGE[name]
    done = []
    source = next(p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix == Path(stray).suffix
                  and "downloads" not in p.parts)
    (root / stray).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, root / stray)
    done.append(f"stray {stray}")
    if deleted:
        (root / deleted).unlink()
        done.append(f"deleted {deleted}")
    path = root / stale
    if stale.endswith(".json"):
        items = json.loads(path.read_text())
        items[0]["label"] = {"action": [0, 1]}
        path.write_text(json.dumps(items))
    else:
        lines = path.read_text().splitlines()
        parts = lines[0].split()
        parts[-1] = str(int(parts[-1]) + 1)
        path.write_text("\n".join([" ".join(parts)] + lines[1:]) + "\n")
    done.append(f"stale first line of {stale}")
    folders = sorted(p for p in root.rglob("*") if p.is_dir() and "downloads" not in p.relative_to(root).parts
                     and len(os.listdir(p)) > 3 and all(f.suffix == ".jpg" for f in p.iterdir()))
    if folders:
        names = sorted(folders[0].iterdir())
        second = next((p for p in names if p.name in ("img_00002.jpg", "00002.jpg")), names[1])  # an RGB frame
        second.unlink()
        done.append(f"gap: deleted {second.relative_to(root)}")
    return "; ".join(done)


def snapshot(root):
    """``{relative path: description}`` of everything under ``root``: top-level files in full (text), text files
    below by size, other files by name, frame folders by their naming."""
    from tsnbook.datasets.verify import describe_names

    found = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        folder = Path(folder)
        relative = folder.relative_to(root)
        if folder != root and files and all(f.endswith(".jpg") for f in files):
            found[f"{relative.as_posix()}/"] = [list(g) for g in describe_names(files)]
            continue
        for name in sorted(files):
            path = folder / name
            key = (relative / name).as_posix()
            if folder == root:
                data = path.read_bytes()
                try:
                    found[key] = data.decode("utf-8").replace(str(root), "ROOT")
                except UnicodeDecodeError:
                    found[key] = f"{len(data)} bytes"
            elif path.suffix in (".txt", ".csv", ".json"):
                found[key] = f"{path.stat().st_size} bytes"
            else:
                found[key] = "a file"  # videos and archives: their bytes are the replica's, not the steps'
    return found


def run(name, work):
    """Run `scenario` for ``name`` in ``work``; returns ``[{step, argv, code, printed, changed, removed}]``."""
    from tsnbook.datasets.command import main

    root = Path(work) / name
    shutil.rmtree(root, ignore_errors=True)
    printed = []
    code = main([name, "replica", "--root", str(root)], log=printed.append)
    assert code == 0, printed
    before = snapshot(root)
    record = []
    for title, argv in scenario(name):
        printed = []
        if argv == "damage":
            code, printed = None, [damage(name, root)]
        else:
            try:
                code = main([name, *argv, "--root", str(root), "--workers", "1"], log=printed.append)
            except Exception:  # a crash is behaviour too: recorded by its last line
                code = "crash"
                printed.append(traceback.format_exc().strip().splitlines()[-1])
        after = snapshot(root)
        record.append(dict(step=title, argv=argv, code=code,
                           printed="\n".join(printed).replace(str(root), "ROOT").splitlines(),
                           changed={k: v for k, v in after.items() if before.get(k) != v},
                           removed=sorted(set(before) - set(after))))
        before = after
    return record


def counts(record):
    """(list-file lines, report problems) in a record: what the comparison covers."""
    lines = problems = 0
    for step in record:
        for path, text in step["changed"].items():
            if "/" in path or not isinstance(text, str):
                continue
            if path.startswith("prepare_") and path.endswith("_report.txt"):
                problems += sum(1 for line in text.splitlines() if line.startswith(("error\t", "warning\t")))
            elif path.endswith(".txt") or path.endswith(".csv"):
                lines += len(text.splitlines())
            elif path.endswith(".json"):
                lines += len(json.loads(text)) if text.startswith("[") else 1
    return lines, problems


def golden_path(name):
    return GOLDEN / f"{name}.json"


def differences(name, record):
    """Lines describing where ``record`` differs from the golden record of ``name`` (empty: identical)."""
    golden = json.loads(golden_path(name).read_text())
    out = []
    if [s["step"] for s in golden] != [s["step"] for s in record]:
        return [f"{name}: steps {[s['step'] for s in record]} != golden {[s['step'] for s in golden]}"]
    for old, new in zip(golden, record):
        for key in ("code", "printed", "removed"):
            if old[key] != new[key]:
                out.append(f"{name} {old['step']}: {key}: golden {old[key]!r}\n    now {new[key]!r}")
        for path in sorted(set(old["changed"]) | set(new["changed"])):
            a, b = old["changed"].get(path), new["changed"].get(path)
            if a != b:
                a_lines = a.splitlines() if isinstance(a, str) else [repr(a)]
                b_lines = b.splitlines() if isinstance(b, str) else [repr(b)]
                first = next((i for i, (x, y) in enumerate(zip(a_lines, b_lines)) if x != y),
                             min(len(a_lines), len(b_lines)))
                out.append(f"{name} {old['step']}: {path} differs from line {first + 1}: golden "
                           f"{a_lines[first:first + 2]!r}, now {b_lines[first:first + 2]!r}")
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    action, names = argv[0], argv[1:] or list(DATASETS)
    from tsnbook.testenv import test_environment
    os.environ.update(test_environment())
    work = Path(tempfile.mkdtemp(prefix="tsnbook_golden_"))
    total = [0, 0, 0]
    failed = False
    try:
        for name in names:
            record = run(name, work)
            shutil.rmtree(work / name, ignore_errors=True)
            lines, problems = counts(record)
            total = [total[0] + len(record), total[1] + lines, total[2] + problems]
            if action == "record":
                GOLDEN.mkdir(parents=True, exist_ok=True)
                golden_path(name).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
                print(f"{name}: {len(record)} steps, {lines} list lines, {problems} problems recorded")
            else:
                found = differences(name, record)
                failed |= bool(found)
                print(f"{name}: {len(record)} steps, {lines} list lines, {problems} problems: "
                      + ("identical" if not found else "DIFFERENT\n  " + "\n  ".join(found)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(names)} datasets, {total[0]} steps, {total[1]} list lines, {total[2]} report problems "
          + ("recorded" if action == "record" else "compared: " + ("DIFFERENCES" if failed else "all identical")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
