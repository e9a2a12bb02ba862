#!/usr/bin/python3
"""Generates paper/REPORT.md from what is in results/. Nothing in it is typed by hand:
rerun `make report` after any run. Every piece that is absent is named as missing (with
the target that makes it) instead of failing, so a partial tree still gets a report.

Sections: a summary table (one line per experiment: verdict, seeds, time, figures); the
machine and revision; the time of each stage of `make reproduce-all` and the total; the
model organism's evaluation (results/organism/eval.json); per experiment its report.md
(written by the experiment's driver: the paper's claim, our numbers, the verdict), the
exact commands, revision, seeds, threads, model hash and figures; every figure; every
benchmark table (results/bench/*.json).

Inputs from make (environment): MECHDRIFT_EXPERIMENTS="exp-a=results/a/manifest.json ..."
(the EXPERIMENTS list and each one's last output; without it every results/*/manifest.json
that is not a shared stage counts as an experiment), MECHDRIFT_MODEL (the MODEL the
experiments ran on). MECHDRIFT_RESULTS and MECHDRIFT_REPORT move the input and output
(tests use them)."""
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# SHARED holds what every MODEL shares (data, the organism, benchmarks); RESULTS the
# experiments and timing of this MODEL (results/on-<model>/ for a model other than the
# organism).
SHARED = os.path.join(ROOT, os.environ.get("MECHDRIFT_SHARED") or "results")
RESULTS = os.path.join(ROOT, os.environ.get("MECHDRIFT_RESULTS") or SHARED)
REPORT = os.path.join(ROOT, os.environ.get("MECHDRIFT_REPORT") or "paper/REPORT.md")
FIGURES = os.path.join(ROOT, os.environ.get("MECHDRIFT_FIGURES_DIR") or "paper/figures")
# results/ folders that are shared stages or bookkeeping, not experiments
NOT_EXPERIMENTS = {"bench", "models", "data", "organism", "timing", "slurm", "circuits"}
# stages of reproduce-all in pipeline order (experiments go between organism and figures)
STAGE_ORDER = ["deps", "build", "data", "organism-phase1", "organism-phase2", "organism-eval"]


def rel(path, start=ROOT):
    return os.path.relpath(path, start)


def load_json(path):
    """(object, None) or (None, reason)."""
    try:
        with open(path) as f:
            return json.load(f), None
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as e:
        return None, f"unreadable ({e})"


def run(cmd):
    try:
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def fmt_seconds(s):
    if not isinstance(s, (int, float)):
        return "-"
    if s >= 3600:
        return f"{s / 3600:.2f} h ({s:.0f} s)"
    if s >= 120:
        return f"{s / 60:.1f} min ({s:.0f} s)"
    return f"{s:.1f} s"


def utc(epoch):
    try:
        return datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


# ------------------------------------------------------------------ machine, revision

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def revision():
    rev = run(["git", "rev-parse", "--short=12", "HEAD"])
    if not rev:
        return "unknown (not a git checkout)"
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"])
    return rev + ("-dirty" if dirty else "")


def machine_lines():
    isa = run([os.path.join(ROOT, "bin", "mechdrift"), "isa"]) or ""
    best = re.search(r"best:\s*(\S+)", isa)
    cc = (run(["gcc", "--version"]) or "unknown").splitlines()[0]
    try:
        import numpy
        np_v = numpy.__version__
    except ImportError:
        np_v = "missing"
    try:
        import matplotlib
        mpl_v = matplotlib.__version__
    except ImportError:
        mpl_v = "missing"
    osname = platform.platform()
    try:
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M)
            osname = m.group(1) if m else osname
    except OSError:
        pass
    return [f"- machine: {cpu_model()}, {os.cpu_count()} cores, {osname} {platform.machine()}",
            f"- kernel path (bin/mechdrift isa): {best.group(1) if best else 'unknown (no bin/mechdrift)'}",
            f"- compiler: {cc}; python {platform.python_version()}, numpy {np_v}, "
            f"matplotlib {mpl_v}",
            f"- revision: {revision()}"]


# ------------------------------------------------------------------ timing

def timing_records():
    recs = []
    for p in sorted(glob.glob(os.path.join(RESULTS, "timing", "*.json"))):
        r, _ = load_json(p)
        if isinstance(r, dict) and "stage" in r:
            recs.append(r)
    return recs


def stage_key(name):
    base = name.split("@", 1)[0]
    if base in STAGE_ORDER:
        return (0, STAGE_ORDER.index(base), name)
    if base == "figures":
        return (2, 0, name)
    if base == "report":
        return (2, 1, name)
    return (1, 0, name)


def timing_section(recs, fallbacks):
    """The stage table and the total. fallbacks: {stage: (seconds, source)} from manifests
    for stages whose recipes do not run through tools/timed.sh."""
    out = ["## Time of each stage", ""]
    by_stage = {r["stage"]: r for r in recs}
    for stage, (secs, source) in fallbacks.items():
        if stage not in by_stage and isinstance(secs, (int, float)):
            by_stage[stage] = {"stage": stage, "seconds": secs, "note": f"from {source}"}
    if not by_stage:
        return out + ["missing: no timing records in results/timing/ (they are written by "
                      "`make reproduce-all`, one per stage)", ""]
    out += ["| stage | wall time | finished | note |", "| --- | ---: | --- | --- |"]
    for name in sorted(by_stage, key=stage_key):
        r = by_stage[name]
        note = r.get("note") or ""
        if r.get("threads"):
            note = (note + "; " if note else "") + f"OMP_NUM_THREADS={r['threads']}"
        out.append(f"| {name} | {fmt_seconds(r.get('seconds'))} | "
                   f"{utc(r['end']) if 'end' in r and r.get('seconds') is not None else '-'} | {note} |")
    out.append("")
    # The total of a make run: from its start (the run id) to its last record's end. The
    # report's own record is written after the report, so the newest run may lack it.
    runs = {}
    for r in recs:
        if isinstance(r.get("run"), (int, float)) and isinstance(r.get("end"), (int, float)):
            runs.setdefault(r["run"], []).append(r)
    summed = sum(r["seconds"] for r in by_stage.values()
                 if isinstance(r.get("seconds"), (int, float)) and r["stage"] != "report")
    if runs:
        last = max(runs)
        rs = [r for r in runs[last] if r.get("seconds") is not None]
        end = max(r["end"] for r in runs[last])
        names = sorted((r["stage"] for r in rs), key=stage_key)
        complete = all(s in names for s in ("deps", "build", "figures")) and \
            all(by_stage[s].get("run") == last for s in by_stage if "run" in by_stage[s]
                and s != "report")
        label = ("total `make reproduce-all` time (every stage ran in this run, from a "
                 "fresh tree)" if complete else "last make run that did work")
        out.append(f"- {label}: **{fmt_seconds(end - last)}** wall, started {utc(last)}, "
                   f"stages run: {', '.join(names) or 'none'}")
    out.append(f"- sum of the latest time of every stage (a from-scratch estimate, one "
               f"stage after another): {fmt_seconds(summed)}")
    out.append("")
    return out


# ------------------------------------------------------------------ experiments

def experiments():
    """[(target, result file)] in the order make lists them."""
    env = os.environ.get("MECHDRIFT_EXPERIMENTS")
    if env is not None:
        out = []
        for item in env.split():
            target, _, result = item.partition("=")
            if not result:
                result = os.path.join(RESULTS, target.removeprefix("exp-"), "manifest.json")
            out.append((target, result if os.path.isabs(result) else os.path.join(ROOT, result)))
        return out
    out = []
    for m in sorted(glob.glob(os.path.join(RESULTS, "*", "manifest.json"))):
        name = os.path.basename(os.path.dirname(m))
        # organism-seedN/ holds the organism's checks at other seeds (make organism-seeds)
        if name not in NOT_EXPERIMENTS and not name.startswith("organism-seed"):
            out.append(("exp-" + name, m))
    return out


def field_line(text, key):
    """The value of a 'key: value' line (markdown bold or list dashes allowed)."""
    m = re.search(rf"^[\s>*_-]*{key}[*_]*\s*:[*_]*\s*(.+)$", text, re.I | re.M)
    return m.group(1).strip().strip("*_ ") if m else None


def all_verdicts(text):
    """Every 'Verdict:' line of a fragment (one per claim), tallied in order of first
    appearance: 'holds (1), partly holds (2)'. One claim gives just its verdict."""
    found = [m.strip().strip("*_ ") for m in
             re.findall(r"^[\s>*_-]*verdict[*_]*\s*:[*_]*\s*(.+)$", text, re.I | re.M)]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    counts = {}
    for v in found:
        counts[v] = counts.get(v, 0) + 1
    return ", ".join(f"{v} ({n})" for v, n in counts.items()) + f" of {len(found)} claims"


def demote(md, levels=2):
    """Moves a fragment's headings down so they nest under the experiment's heading."""
    return re.sub(r"^(#+)", lambda m: m.group(1) + "#" * levels, md, flags=re.M)


def figure_index():
    idx, why = load_json(os.path.join(FIGURES, "index.json"))
    if not isinstance(idx, dict):
        return None, why
    return idx.get("scripts", []), None


def figures_for(name, scripts):
    """Figures whose script or file name contains the experiment's name."""
    key = name.removeprefix("exp-").replace("-", "_").lower()
    out = []
    for s in scripts or []:
        for f in s.get("figures", []):
            hay = (s.get("script", "") + " " + f).replace("-", "_").lower()
            if key and key in hay and f not in out:
                out.append(f)
    return out


def figure_link(f):
    return os.path.relpath(os.path.join(FIGURES, f), os.path.dirname(REPORT))


def manifest_lines(m, target, model):
    cmd = m.get("command")
    lines = [f"- make target: `make {target}`" + (f" (MODEL={model})" if model else "")]
    if cmd:
        lines.append(f"- exact command: `bin/mechdrift {cmd}`" if not cmd.startswith(
            ("bin/", "/")) else f"- exact command: `{cmd}`")
    lines.append(f"- revision {m.get('revision', '?')}, seeds {json.dumps(m.get('seeds', '?'))}, "
                 f"threads {m.get('threads', '?')}"
                 + (f", model hash {m['model_hash']}" if m.get("model_hash") else ""))
    if isinstance(m.get("wall_seconds"), (int, float)):
        lines.append(f"- wall time of the run: {fmt_seconds(m['wall_seconds'])}")
    stages = m.get("stage_seconds")
    if isinstance(stages, dict) and stages:
        lines.append("- its stages: " + ", ".join(
            f"{k} {fmt_seconds(v)}" for k, v in stages.items()))
    return lines


def experiment_section(target, result, scripts, timing, model):
    d = os.path.dirname(result)
    lines = [f"## {target}", ""]
    summary = {"target": target, "verdict": "missing", "seeds": "-", "time": "-", "figures": 0}
    frag_path = os.path.join(d, "report.md")
    m, why = load_json(os.path.join(d, "manifest.json"))
    if not os.path.exists(result):
        lines += [f"missing: {rel(result)} (run `make {target}`)", ""]
        return lines, summary
    frag = None
    if os.path.exists(frag_path):
        with open(frag_path) as f:
            frag = f.read().rstrip()
    claim = field_line(frag, "claim") if frag else None
    verdict = all_verdicts(frag) if frag else None
    summary["verdict"] = verdict or ("not stated in report.md" if frag else "no report.md")
    where = f"no 'Claim:' line in {rel(frag_path)}" if frag else f"no {rel(frag_path)}"
    lines.append(f"- claim: {claim}" if claim else f"- claim: missing ({where})")
    where = f"no 'Verdict:' line in {rel(frag_path)}" if frag else f"no {rel(frag_path)}"
    lines.append(f"- verdict: **{verdict}**" if verdict else f"- verdict: missing ({where})")
    if isinstance(m, dict):
        lines += manifest_lines(m, target, model)
        summary["seeds"] = json.dumps(m.get("seeds", "-"))
        if isinstance(m.get("wall_seconds"), (int, float)):
            summary["time"] = fmt_seconds(m["wall_seconds"])
    else:
        lines.append(f"- manifest: {rel(os.path.join(d, 'manifest.json'))} {why}")
    # per-seed runs (make exp-NAME SEEDS=s, e.g. from the slurm array) keep their manifests
    for sub in sorted(glob.glob(os.path.join(d, "*", "manifest.json"))):
        sm, _ = load_json(sub)
        if isinstance(sm, dict):
            lines.append(f"- {rel(os.path.dirname(sub), d)}: seeds {json.dumps(sm.get('seeds', '?'))}, "
                         f"revision {sm.get('revision', '?')}, wall "
                         f"{fmt_seconds(sm.get('wall_seconds'))}")
    times = [r for r in timing if r["stage"].split("@", 1)[0] == target]
    for r in sorted(times, key=lambda r: r["stage"]):
        lines.append(f"- stage time ({r['stage']}): {fmt_seconds(r.get('seconds'))}, finished "
                     f"{utc(r.get('end'))}")
        if isinstance(r.get("seconds"), (int, float)):
            summary["time"] = fmt_seconds(r["seconds"])
    figs = figures_for(target, scripts)
    summary["figures"] = len([f for f in figs if f.endswith(".png")])
    lines.append("")
    if frag:
        lines += [demote(frag), ""]
    else:
        lines += [f"missing: {rel(frag_path)} (the driver writes the claim, our numbers and "
                  "the verdict there)", ""]
    for f in figs:
        if f.endswith(".png"):
            pdf = f[:-4] + ".pdf"
            lines += [f"![{f[:-4]}]({figure_link(f)})", ""]
            if pdf in figs:
                lines += [f"([PDF]({figure_link(pdf)}))", ""]
    if not figs:
        lines += ["figures: none found for this experiment (paper/fig_*.py whose name "
                  f"contains '{target.removeprefix('exp-')}')", ""]
    return lines, summary


# ------------------------------------------------------------------ organism

def flatten(obj, prefix="", depth=0):
    """Scalar leaves as (key.path, value); long lists are summarised."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}{k}." if depth < 3 else prefix + f"{k}.", depth + 1)
    elif isinstance(obj, list):
        if obj and all(isinstance(x, (int, float)) for x in obj) and len(obj) <= 8:
            yield prefix[:-1], ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in obj)
        elif obj and all(isinstance(x, dict) for x in obj) and len(obj) <= 16:
            for i, x in enumerate(obj):
                yield from flatten(x, f"{prefix}{i}.", depth + 1)
        else:
            yield prefix[:-1], f"list of {len(obj)}"
    else:
        v = f"{obj:.4g}" if isinstance(obj, float) else str(obj)
        yield prefix[:-1], v


def seed_stability(ev):
    """The checks at pretraining seeds 2, 3, ... (make organism-seeds) beside seed 1's."""
    import glob
    runs = [("1", ev)]
    for path in sorted(glob.glob(os.path.join(SHARED, "organism-seed*", "eval.json"))):
        e, _ = load_json(path)
        if isinstance(e, dict):
            runs.append((os.path.basename(os.path.dirname(path))[len("organism-seed"):], e))
    if len(runs) < 2:
        return ["", "Seed stability: only seed 1 is trained (`make organism-seeds` adds 2 and 3)."]
    names = [c.get("name") for c in (ev.get("checks") or []) if isinstance(c, dict)]
    out = ["", f"Seed stability ({len(runs)} pretraining seeds; `make organism-seeds`):", "",
           "| check | " + " | ".join(f"seed {s}" for s, _ in runs) + " | passes at every seed |",
           "| --- |" + " ---: |" * len(runs) + " --- |"]
    for name in names:
        vals, passes = [], []
        for _, e in runs:
            c = next((c for c in e.get("checks", []) if c.get("name") == name), None)
            v = c.get("value") if c else None
            vals.append(f"{v:.3f}" if isinstance(v, (int, float)) else "-")
            passes.append(bool(c and c.get("pass")))
        out.append(f"| {name} | " + " | ".join(vals) + f" | {'yes' if all(passes) else '**no**'} |")
    return out


def organism_section(model):
    out = ["## The model organism", ""]
    org_dir = os.path.join(SHARED, "models", "organism")
    if model and os.path.abspath(os.path.join(ROOT, model)) != os.path.abspath(org_dir):
        out += [f"The experiments ran on MODEL={model}, not on the organism.", ""]
    # `make organism` trains two phases (mk/organism.mk): phase 1 on the corpus, phase 2
    # from it on the late corpus; a folder trained otherwise has only the second.
    phases = [("phase 1", org_dir + "-phase1"), ("phase 2", org_dir)]
    m, why = load_json(os.path.join(org_dir, "manifest.json"))
    for label, d in phases:
        pm, _ = load_json(os.path.join(d, "manifest.json"))
        if not isinstance(pm, dict):
            continue
        out.append(f"- {label} trained by `bin/mechdrift {pm.get('command', 'train ...')}`: "
                   f"revision {pm.get('revision', '?')}, seeds {json.dumps(pm.get('seeds', '?'))}, "
                   f"wall {fmt_seconds(pm.get('wall_seconds'))}")
        loss = os.path.join(d, "loss.npy")
        if os.path.exists(loss):
            try:
                import numpy as np
                curve = np.load(loss)
                if curve.size:
                    tail = curve[-max(1, curve.size // 50):]
                    out.append(f"- {label} training loss: {float(curve[0]):.3f} at step 1, "
                               f"{float(tail.mean()):.3f} nats over the last {tail.size} of "
                               f"{curve.size} steps")
            except Exception as e:  # a broken curve is reported, not fatal
                out.append(f"- {label} training loss: unreadable ({e})")
    if not isinstance(m, dict):
        out.append(f"- organism model: {rel(org_dir)}/manifest.json {why} (`make organism`)")
    eval_path = os.path.join(SHARED, "organism", "eval.json")
    ev, why = load_json(eval_path)
    if ev is None:
        out += [f"- evaluation: {rel(eval_path)} {why} (`make organism-eval`)", ""]
        return out
    seed1 = ev if isinstance(ev, dict) else {}
    checks = ev.get("checks") if isinstance(ev, dict) else None
    if isinstance(checks, list) and checks:
        out += ["", f"Acceptance checks ({rel(eval_path)}, held-out test prompts):", "",
                "| check | value | target | result |", "| --- | ---: | --- | --- |"]
        for c in checks:
            lo, hi = c.get("min"), c.get("max")
            target = (f"{lo:g} to {hi:g}" if lo is not None and hi is not None else
                      f">= {lo:g}" if lo is not None else f"<= {hi:g}" if hi is not None else "-")
            val = c.get("value")
            val = f"{val:.3f}" if isinstance(val, (int, float)) else str(val)
            out.append(f"| {c.get('name')} | {val} | {target} | "
                       f"{'pass' if c.get('pass') else '**fail**'} |")
        ev = {k: v for k, v in ev.items() if k != "checks"}
    out += ["", f"Evaluation ({rel(eval_path)}):", "", "| measure | value |", "| --- | --- |"]
    rows = list(flatten(ev))
    for k, v in rows[:200]:
        out.append(f"| {k or '(value)'} | {v} |")
    if len(rows) > 200:
        out.append(f"| ... | {len(rows) - 200} more entries in {rel(eval_path)} |")
    out += seed_stability(seed1)
    frag = os.path.join(SHARED, "organism", "report.md")
    if os.path.exists(frag):
        with open(frag) as f:
            out += ["", demote(f.read().rstrip(), 1)]
    out.append("")
    return out


# ------------------------------------------------------------------ benchmarks

def bench_sections():
    out = []
    for path in sorted(glob.glob(os.path.join(SHARED, "bench", "*.json"))):
        b, why = load_json(path)
        if not isinstance(b, dict):
            out += [f"### {os.path.basename(path)}", "", f"unreadable: {why}", ""]
            continue
        out.append(f"### {b.get('benchmark', os.path.basename(path))}\n")
        out.append(f"cpu: {b.get('cpu')}, ISA path: {b.get('isa')}, revision: "
                   f"{b.get('revision')}, date: {b.get('date')}\n")
        out.append("| case | impl | threads | value | unit | note |")
        out.append("| --- | --- | ---: | ---: | --- | --- |")
        for r in b.get("records", []):
            v = r.get("value")
            vs = f"{v:.4g}" if isinstance(v, (int, float)) else ("-" if v is None else str(v))
            out.append(f"| {r.get('case')} | {r.get('impl')} | {r.get('threads')} | {vs} | "
                       f"{r.get('unit', '')} | {r.get('note', '')} |")
        out.append("")
    return out


# ------------------------------------------------------------------ main

def main():
    model = os.environ.get("MECHDRIFT_MODEL", "")
    recs = timing_records()
    scripts, fig_why = figure_index()
    exps = experiments()
    fallbacks = {}
    for stage, path in (("data", os.path.join(SHARED, "data", "manifest.json")),
                        ("organism-phase1", os.path.join(SHARED, "models", "organism-phase1", "manifest.json")),
                        ("organism-phase2", os.path.join(SHARED, "models", "organism", "manifest.json")),
                        ("organism-eval", os.path.join(SHARED, "organism", "manifest.json"))):
        m, _ = load_json(path)
        if isinstance(m, dict):
            fallbacks[stage] = (m.get("wall_seconds"), rel(path) + " wall_seconds")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# mechdrift report", "",
             "Generated by `make report` (part of `make reproduce-all`) from results/; do not "
             "edit by hand.", "", f"- generated: {now}"] + machine_lines() + [
             f"- experiments run on: {model or 'the organism (results/models/organism)'}", ""]

    sections, summaries = [], []
    for target, result in exps:
        sec, summ = experiment_section(target, result, scripts, recs, model)
        sections += sec
        summaries.append(summ)
    lines += ["## Summary", ""]
    if summaries:
        lines += ["| experiment | verdict | seeds | time | figures |", "| --- | --- | --- | ---: | ---: |"]
        for s in summaries:
            lines.append(f"| [{s['target']}](#{s['target']}) | {s['verdict']} | {s['seeds']} | "
                         f"{s['time']} | {s['figures']} |")
    else:
        lines.append("No experiment exists in this revision yet (EXPERIMENTS is empty).")
    lines.append("")
    lines += timing_section(recs, fallbacks)
    lines += organism_section(model)
    lines += ["# Experiments", ""]
    lines += sections if sections else ["None yet.", ""]
    lines += ["# Figures", ""]
    if scripts is None:
        lines += [f"missing: {rel(os.path.join(FIGURES, 'index.json'))} {fig_why} "
                  "(`make figures`)", ""]
    elif not scripts:
        lines += ["No figure scripts yet (paper/fig_*.py).", ""]
    else:
        for s in scripts:
            figs = [f"[{f}]({figure_link(f)})" for f in s.get("figures", [])]
            lines.append(f"- {s.get('script')}: {s.get('status')}"
                         + (": " + ", ".join(figs) if figs else ""))
        lines.append("")
    benches = bench_sections()
    lines += ["# Benchmarks", ""]
    lines += benches if benches else ["No benchmark results yet (`make bench`).", ""]
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    tmp = f"{REPORT}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    os.replace(tmp, REPORT)
    missing = sum(1 for s in summaries if s["verdict"] == "missing")
    print(f"report: wrote {rel(REPORT)} ({len(exps)} experiments, {missing} without results, "
          f"{len(glob.glob(os.path.join(SHARED, 'bench', '*.json')))} benchmarks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
