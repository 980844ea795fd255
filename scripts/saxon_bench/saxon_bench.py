#!/usr/bin/env python3
"""fse2 versus Saxon-HE + SchXslt (the Gateway's engine family), same corpus, same run.

Runs the documents of the validation corpus (default: ../shared/corpus
validation/docs and cda) through

  1. fse2: the `validate_corpus` example of fse-cda, built in release mode,
     which validates each document (parse, XSD, schematron, vocabulary) once
     to warm up, then --repeat more times, and reports the median per
     document, with the error and warning ids it found;
  2. Saxon-HE (PyPI `saxonche`) running each official schematron compiled by
     SchXslt 1.10.1 (XSLT 2.0 `pipeline-for-svrl.xsl`): per document, parse
     the text and apply the schematron once to warm up, then --repeat more
     times; the median per document (schematron only: Saxon does less work
     than fse2 here, which only flatters Saxon).

The two take turns on chunks of the corpus (--chunk, default 100 documents):
fse2 validates a chunk, then Saxon the same chunk, and so on, so that a slow or
fast spell of a shared machine falls on both. Besides the ratio of the two
overall medians, the ratio of each chunk's medians is printed (median, lowest,
highest): the pairs of measurements closest in time.

Then prints both medians (over the documents both ran) and their ratio, the
time each takes to load the rules, and cross-checks the ids: for each
document, the multisets of error ids and of warning ids of fse2 against
Saxon's, and Saxon's against `expected.json`. Last, where the margin is
thinnest: how many documents are each at least 10x faster, and both medians
with their ratio per schematron (document type); --per-document FILE writes
every document's two medians as JSON. A single document's ratio carries the
machine's noise of the moment; the medians over many documents do not.

How to run (from the repository root):

    python3 -m pip install saxonche==13.1.1
    python3 scripts/saxon_bench/saxon_bench.py [--repeat 5] [--limit N] [--chunk 100]
        [--corpus ../shared/corpus] [--rules DIR] [--show-diffs 10]
        [--per-document FILE]

SchXslt is not on a registry this project may use as such (it ships on
Maven and Codeberg); PyPI's `camat` 0.2.8 wheel carries its XSLT 2.0 files
unmodified (MIT, see its LICENSES/SchXslt-MIT.txt). The script fetches that
wheel with `pip download --no-deps` into a cache (~/.cache/fse2/schxslt, or
$FSE_SCHXSLT_CACHE), checks its SHA-256, and extracts only SchXslt. Nothing
of it is committed; camat itself is never installed.

Needs: python3 >= 3.9, pip, saxonche, cargo. The fse2 build uses
CARGO_TARGET_DIR as set in the environment.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCHXSLT_VERSION = "1.10.1"
WHEEL = "camat-0.2.8-py3-none-any.whl"
WHEEL_SHA256 = "61d11bb1952c31808118de7eb1a4a0111838cafe0c66098f27f757fb19c7fe01"
WHEEL_SCHXSLT_DIR = "camat/schemas/schxslt/"
HL7 = "{urn:hl7-org:v3}"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"
# The id of a finding: the leading token of its message (corpus README).
ID_RE = re.compile(r"^\s*([A-Za-z]+[-_ ]?[\w.]*)")


def fail(message: str) -> None:
    print(f"saxon_bench: {message}", file=sys.stderr)
    sys.exit(2)


def schxslt_dir() -> Path:
    """SchXslt's XSLT 2.0 files, fetched from PyPI on first use."""
    cache = Path(os.environ.get("FSE_SCHXSLT_CACHE", Path.home() / ".cache" / "fse2" / "schxslt"))
    target = cache / f"schxslt-{SCHXSLT_VERSION}"
    pipeline = target / "pipeline-for-svrl.xsl"
    if pipeline.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / WHEEL
    if not wheel.is_file():
        print(f"fetching SchXslt {SCHXSLT_VERSION} (inside {WHEEL}) from PyPI ...", file=sys.stderr)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(cache), "camat==0.2.8"]
        if subprocess.run(cmd).returncode != 0:
            fail("pip download of camat==0.2.8 failed")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        wheel.unlink()
        fail(f"{WHEEL} has SHA-256 {digest}, expected {WHEEL_SHA256}: removed")
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if not name.startswith(WHEEL_SCHXSLT_DIR) or name.endswith("/"):
                continue
            rel = Path(name[len(WHEEL_SCHXSLT_DIR):])
            if rel.is_absolute() or ".." in rel.parts:
                fail(f"unexpected entry {name} in {WHEEL}")
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(name))
    if not pipeline.is_file():
        fail(f"{WHEEL} has no {WHEEL_SCHXSLT_DIR}pipeline-for-svrl.xsl")
    return target


def documents(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() == ".xml"))
        else:
            out.append(p)
    return out


def version_key(version: str) -> tuple:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.\-_]", version))


def pick_schematron(index: list[dict], doc: Path) -> str | None:
    """As the Gateway: the newest live schematron of the first templateId root."""
    try:
        root = next((e.get("root") for e in ET.parse(doc).iter(f"{HL7}templateId")), None)
    except ET.ParseError:
        return None
    live = [e for e in index if e.get("template_id_root") == root and not e.get("deleted")]
    if not live:
        return None
    return max(live, key=lambda e: version_key(str(e["version"])))["name_schematron"]


def ids_of(svrl_text: str) -> tuple[Counter, Counter]:
    errors, warnings = Counter(), Counter()
    root = ET.fromstring(svrl_text)
    for kind, into in (("failed-assert", errors), ("successful-report", warnings)):
        for hit in root.iter(f"{SVRL}{kind}"):
            text = "".join(t for el in hit.iter(f"{SVRL}text") for t in el.itertext())
            m = ID_RE.match(text)
            into[m.group(1) if m else text.strip()[:40]] += 1
    return errors, warnings


def run_fse2(files: list[Path], rules: Path, repeat: int) -> tuple[dict, dict]:
    """Builds and runs validate_corpus; returns per-file results and the summary."""
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "fse-cda", "--example", "validate_corpus", "--",
           "--json", "--repeat", str(repeat), "--rules", str(rules), *map(str, files)]
    print("running fse2:", " ".join(cmd[:9]), "... (%d files)" % len(files), file=sys.stderr)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"validate_corpus failed:\n{proc.stderr[-2000:]}")
    per_file, summary = {}, {}
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        if "summary" in record:
            summary = record["summary"]
        else:
            per_file[Path(record["file"]).name] = record
    return per_file, summary


def print_by_schematron(both: list[str], ours: dict, saxon_times: dict) -> None:
    """Where the margin is thinnest: the medians and ratio per schematron
    (document type), and how many documents are each at least 10x faster."""
    per_doc = {d: saxon_times[d] / max(ours[d]["micros"] / 1e6, 1e-9) for d in both}
    at_least_10 = sum(1 for r in per_doc.values() if r >= 10)
    print(f"documents each at least 10x faster than Saxon: {at_least_10}/{len(both)}; "
          f"per-document ratio median {statistics.median(per_doc.values()):.1f}x, "
          f"lowest {min(per_doc.values()):.1f}x")
    groups: dict[str, list[str]] = {}
    for d in both:
        groups.setdefault(ours[d].get("schematron") or "(none)", []).append(d)
    print("by schematron: documents, fse2 median, Saxon median, ratio")
    for name, docs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        o = statistics.median(ours[d]["micros"] / 1e3 for d in docs)
        s = statistics.median(saxon_times[d] * 1e3 for d in docs)
        print(f"  {name:45} {len(docs):4}  {o:7.3f} ms  {s:7.3f} ms  {s / o:5.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("FSE_CORPUS", REPO.parent / "shared" / "corpus")))
    ap.add_argument("--rules", type=Path, help="catalogs tree (default: CORPUS/catalogs)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per document after one warm-up")
    ap.add_argument("--limit", type=int, help="only the first N documents")
    ap.add_argument("--show-diffs", type=int, default=10, help="how many id differences to print")
    ap.add_argument("--chunk", type=int, default=100,
                    help="documents per turn: fse2 and Saxon take turns on chunks of the corpus, so a "
                         "slower or faster spell of the machine weighs on both sides alike")
    ap.add_argument("--per-document", type=Path, metavar="FILE",
                    help="write each document's medians (ms) and schematron to FILE as JSON")
    args = ap.parse_args()
    if args.repeat < 1:
        fail("--repeat must be at least 1")
    try:
        from saxonche import PySaxonProcessor
    except ImportError:
        fail("saxonche is not installed: python3 -m pip install saxonche==13.1.1")

    rules = args.rules or args.corpus / "catalogs"
    index = json.loads((rules / "schematron" / "index.json").read_text(encoding="utf-8"))
    files = documents([args.corpus / "validation" / "docs", args.corpus / "cda"])
    if args.limit:
        files = files[: args.limit]
    expected = {}
    for exp in (args.corpus / "validation" / "expected.json", args.corpus / "cda" / "expected.json"):
        if exp.is_file():
            expected.update(json.loads(exp.read_text(encoding="utf-8")))
    schxslt = schxslt_dir()

    if args.chunk < 1:
        fail("--chunk must be at least 1")
    chunks = [files[i:i + args.chunk] for i in range(0, len(files), args.chunk)]
    ours, summaries, chunk_ratios = {}, [], []

    with PySaxonProcessor(license=False) as proc:
        xslt = proc.new_xslt30_processor()
        pipeline = xslt.compile_stylesheet(stylesheet_file=str(schxslt / "pipeline-for-svrl.xsl"))
        executables, compile_seconds = {}, 0.0
        saxon_times, saxon_ids, skipped = {}, {}, Counter()
        done = 0
        for chunk in chunks:
            chunk_ours, summary = run_fse2(chunk, rules, args.repeat)
            ours.update(chunk_ours)
            summaries.append(summary)
            chunk_saxon = []
            for doc in chunk:
                name = pick_schematron(index, doc)
                if name is None:
                    skipped["not well-formed or no schematron for its templateId"] += 1
                    continue
                if name not in executables:
                    t = time.perf_counter()
                    compiled = pipeline.transform_to_string(source_file=str(rules / "schematron" / name))
                    executables[name] = xslt.compile_stylesheet(stylesheet_text=compiled)
                    compile_seconds += time.perf_counter() - t
                exe = executables[name]
                text = doc.read_text(encoding="utf-8", errors="replace")
                try:
                    node = proc.parse_xml(xml_text=text)
                    saxon_ids[doc.name] = ids_of(exe.transform_to_string(xdm_node=node))
                except Exception as e:  # Saxon raises its own PySaxonApiError
                    skipped[f"Saxon error: {str(e)[:60]}"] += 1
                    continue
                runs = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    node = proc.parse_xml(xml_text=text)
                    exe.transform_to_value(xdm_node=node)
                    runs.append(time.perf_counter() - t)
                saxon_times[doc.name] = statistics.median(runs)
                if doc.name in chunk_ours:
                    chunk_saxon.append(doc.name)
            if chunk_saxon:
                chunk_ratios.append(
                    statistics.median(saxon_times[d] for d in chunk_saxon)
                    / statistics.median(chunk_ours[d]["micros"] / 1e6 for d in chunk_saxon))
            done += len(chunk)
            print(f"  fse2 and saxon: {done}/{len(files)}", file=sys.stderr)
        saxon_version = proc.version

    both = sorted(set(saxon_times) & set(ours))
    if not both:
        fail("no document ran on both sides")
    ours_median = statistics.median(ours[d]["micros"] / 1e6 for d in both)
    saxon_median = statistics.median(saxon_times[d] for d in both)

    agree, diffs, expected_agree, expected_total = 0, [], 0, 0
    for d in both:
        o = ours[d]
        # Saxon runs the schematron alone: compare that stage's findings.
        mine = (Counter(o["schematron_errors"]), Counter(o["schematron_warnings"]))
        theirs = saxon_ids[d]
        if mine == theirs:
            agree += 1
        else:
            diffs.append((d, theirs, mine))
        if d in expected:
            expected_total += 1
            e = expected[d]
            if (Counter(e["errors"]), Counter(e["warnings"])) == theirs:
                expected_agree += 1

    print()
    print(f"documents: {len(files)}; compared: {len(both)}; skipped: {sum(skipped.values())} {dict(skipped)}")
    print(f"fse2 validate_corpus (release; parse + XSD + schematron + vocabulary): "
          f"median {ours_median * 1e3:.3f} ms/document")
    print(f"{saxon_version} + SchXslt {SCHXSLT_VERSION} (parse + schematron), warm: "
          f"median {saxon_median * 1e3:.3f} ms/document")
    print(f"ratio (Saxon / fse2): {saxon_median / ours_median:.1f}x")
    if chunk_ratios:
        print(f"ratio per chunk of {args.chunk} (each side timed within minutes of the other): "
              f"median {statistics.median(chunk_ratios):.1f}x, "
              f"lowest {min(chunk_ratios):.1f}x, highest {max(chunk_ratios):.1f}x over {len(chunk_ratios)} chunks")
    load_ms = statistics.median(x.get("rules_load_ms", float("nan")) for x in summaries)
    print(f"rules load: fse2 {load_ms:.1f} ms for all schematrons (median over its runs); "
          f"Saxon+SchXslt {compile_seconds * 1e3:.0f} ms to compile the {len(executables)} used")
    peak = max((x.get("peak_rss_kib") or 0) for x in summaries)
    print(f"fse2 peak RSS (the largest of its runs, one per chunk): {peak / 1024:.1f} MiB")
    print(f"schematron ids: fse2 = Saxon on {agree}/{len(both)} documents; "
          f"Saxon = expected.json on {expected_agree}/{expected_total}")
    print_by_schematron(both, ours, saxon_times)
    if args.per_document:
        args.per_document.write_text(json.dumps({
            d: {"schematron": ours[d].get("schematron"), "fse2_ms": ours[d]["micros"] / 1e3,
                "saxon_ms": saxon_times[d] * 1e3} for d in both}, indent=1), encoding="utf-8")
    for d, theirs, mine in diffs[: args.show_diffs]:
        missing = (theirs[0] - mine[0]) + (theirs[1] - mine[1])
        extra = (mine[0] - theirs[0]) + (mine[1] - theirs[1])
        print(f"  {d}: fse2 lacks {dict(missing)}, fse2 adds {dict(extra)}")


if __name__ == "__main__":
    main()
