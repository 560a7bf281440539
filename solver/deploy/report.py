"""Text reports of the deploy room: what a split wrote, a verification's verdict, a pipeline's figures.

The one place where deploy results become text; their JSON documents come from their ``to_json()``.
"""

from __future__ import annotations

from solver.deploy.calibrate import TOLERANCE, Calibration, CalibrationRound
from solver.deploy.pipeline import OFF_PREDICTION, PipelineComparison
from solver.deploy.placed import PlacedComparison
from solver.deploy.profiling import ProfileResult
from solver.deploy.sequential import SequentialRun
from solver.deploy.split import SplitResult
from solver.deploy.verify import VerifyResult


def split_text(split: SplitResult) -> str:
    """What was written, one line per part, then the notes."""
    lines = [
        f"wrote {len(split.parts)} part models, {split.conn_json.name} and "
        f"{split.manifest.relative_to(split.out_dir)} to {split.out_dir}"
    ]
    for p in split.parts:
        load = f", predicted {split.loads_us[p.number] / 1000:.1f} ms" if split.loads_us else ""
        lines.append(f"  {p.file}: {len(p.ops)} ops, {len(p.inputs)} inputs, {len(p.outputs)} outputs{load}")
    lines += [f"note: {note}" for note in split.notes]
    return "\n".join(lines)


def verify_text(result: VerifyResult) -> str:
    """The settings, one line per model output with its differences and verdict, then the overall verdict."""
    s = result.settings
    lines = [
        f"verify {result.out_dir}: {result.num_parts} parts vs the whole model, onert cpu, {s.executor} executor, "
        f"seed {s.seed}, tolerance |diff| <= {s.atol:g} + {s.rtol:g} * max|output|",
        f"{'output':40} {'shape':>16} {'max abs diff':>13} {'max rel diff':>13}  verdict",
    ]
    for o in result.outputs:
        verdict = "ok" if o.ok else "MISMATCH"
        lines.append(f"{o.name[:40]:40} {str(o.shape):>16} {o.max_abs:13.3g} {o.max_rel:13.3g}  {verdict}")
    if result.package is not None:
        worked, what = result.package
        lines.append(f"onert loading the directory as one nnpackage: {'ok' if worked else 'failed'} ({what})")
    lines += result.notes
    lines.append("verdict: " + ("the parts compute the model's outputs" if result.ok else "MISMATCH"))
    return "\n".join(lines)


def pipeline_text(c: PipelineComparison) -> str:
    """Predicted beside measured throughput and speedup with their spread over the rounds, the whole model,
    each stage (flagged when off its prediction), the verdict, its reasons and the notes."""
    t, w, x = c.throughputs, c.whole_throughputs, c.speedups
    lines = [
        f"pipeline {c.out_dir}: {c.num_parts} stages x {c.threads_per_stage} thread(s) on {c.cores} cores, "
        f"{t.n} round(s) of {c.pipelines[0].requests} requests (medians over the rounds, then their range)",
        f"{'':34} {'predicted':>10} {'measured':>10}  range",
    ]
    predicted = (f"{c.predicted_throughput:10.2f}", f"{c.predicted_speedup:10.2f}") if c.predicted_ms else (f"{'-':>10}",) * 2
    lines.append(f"{'throughput (inferences/s)':34} {predicted[0]} {t.median:10.2f}  {t.min:.2f} to {t.max:.2f}")
    lines.append(f"{'speedup over the whole model':34} {predicted[1]} {x.median:10.2f}  {x.min:.2f} to {x.max:.2f}")
    lines.append(f"{'latency (ms, median, queueing incl.)':34} {'':>10} {c.latency_ms:10.1f}")
    lines.append(f"{'latency without queueing (ms)':34} {'':>10} {c.service_latency_ms:10.1f}")
    if c.cores_limit_prediction:
        lines.append(f"  (predicted with the {c.num_parts} stages x {c.threads_per_stage} thread(s) sharing {c.cores} "
                     f"core(s): a request every {c.predicted_period_ms:.2f} ms, not every {max(c.predicted_ms):.2f} ms "
                     "of the slowest stage)")
    lines.append(
        f"whole model, {c.whole_threads} thread(s): {w.median:.2f} inferences/s ({w.min:.2f} to {w.max:.2f}), "
        f"latency {c.whole_latency_ms:.1f} ms"
    )
    for s, h in zip(c.stages(), c.handoff_ms()):
        p = f"{s.predicted_us / 1000:8.2f} ms" if s.predicted_us else f"{'-':>8}   "
        error = f", {s.error:+.0%}" + (f" OFF (> {OFF_PREDICTION:.0%})" if s.off else "") if s.error is not None else ""
        lines.append(f"  stage {s.stage}: predicted {p}, measured {s.measured.median / 1000:8.2f} ms "
                     f"(IQR {s.measured.iqr / 1000:.2f}, hand-off {h:.3f} ms){error}")
    lines.append(c.verdict_text())
    lines += [f"  - {reason}" for reason in c.reasons]
    lines += [f"note: {note}" for note in c.notes]
    return "\n".join(lines)


def calibration_round_text(r: CalibrationRound, title: str = "") -> str:
    """One round: per part its predicted time, its measured median and IQR, and how far off the prediction was."""
    lines = [f"{title or f'calibration round {r.round}'}: measured bottleneck {r.measured_bottleneck_us / 1000:.3f} ms "
             f"(IQR {r.bottleneck_spread_us / 1000:.3f} ms), predicted {max(r.predicted_us) / 1000:.3f} ms",
             f"  {'part':>4} {'predicted ms':>13} {'measured ms':>12} {'IQR ms':>8} {'error':>8}"]
    for part, p, m, spread, error in zip(r.part_ids, r.predicted_us, r.measured_us, r.spread_us, r.errors):
        lines.append(f"  {part:>4} {p / 1000:>13.3f} {m / 1000:>12.3f} {spread / 1000:>8.3f} {error:>+8.1%}")
    return "\n".join(lines)


def calibration_text(c: Calibration) -> str:
    """Every round's table, then which round won and why the loop stopped."""
    lines = [calibration_round_text(r) for r in c.rounds]
    settings = c.config.env_string().split(" ", 1)[1] if c.config.settings else "onert's default settings"
    lines.append(f"calibration: {len(c.rounds)} round(s) measured with {settings}, stopped by {c.stop_reason}; "
                 f"{c.kept_text()}")  # fmt: skip
    if c.check is not None:
        lines.append(calibration_round_text(c.check, "check: the kept partition measured afresh against its calibrated "
                                                     "prediction"))  # fmt: skip
        if c.missed:
            error, k = max((abs(e), k) for k, e in enumerate(c.check.errors))
            lines.append(f"calibrated prediction MISSED its {TOLERANCE:.0%} tolerance by {error - TOLERANCE:.1%}: "
                         f"part {c.check.part_ids[k]} predicted {c.check.predicted_us[k] / 1000:.3f} ms, measured "
                         f"{c.check.measured_us[k] / 1000:.3f} ms ({c.check.errors[k]:+.1%})")  # fmt: skip
        else:
            lines.append(f"calibrated prediction: every part within {c.check_error:.1%} of its fresh measurement "
                         f"(tolerance {TOLERANCE:.0%})")  # fmt: skip
    return "\n".join(lines + [f"note: {n}" for n in c.notes])


def profile_table(result: ProfileResult, top: int = 15) -> str:
    """Where the figures come from and whether they are stable, the slowest ``top`` ops with their spread and
    share of the total, a summary line and the notes."""
    total = result.total_us or 1.0
    run = result.run_time
    lines = [
        f"{result.model.name} on {result.device} ({result.config.env_string()}): {result.origin()}",
        f"run time (onert): median {run.median:.3f} ms, min {run.min:.3f}, IQR {run.iqr:.3f}, CV {100 * run.cv:.1f}%, "
        f"{run.n} runs; peak RSS {result.peak_rss_kb} KB",
    ]
    if result.context is not None:
        context = result.context
        before = f"; before measuring {context.loads[0].describe()}" if context.loads else ""
        lines.append(f"measured on {context.describe()}{before}")
    memory = result.memory_kb
    if memory.n:
        lines.append(f"session memory (peak RSS above the RSS before the session): median {memory.median / 1024:.2f} MB, "
                     f"min {memory.min / 1024:.2f}, max {memory.max / 1024:.2f}, {memory.n} round(s)")
    if not result.stable:
        lines.append("UNSTABLE: " + "; ".join(result.reasons))
    weight = result.settings.weights
    lines.append(f"{'op':>5}  {'type':<22} {'backend':<8} {weight + ' us':>10} {'min':>8} {'IQR':>8} {'CV':>6} "
                 f"{'share':>7} {'cum.':>7}")  # fmt: skip
    cumulative = 0.0
    for row in result.rows[:top]:
        cumulative += row.time_us
        r = row.runs
        lines.append(
            f"{row.index:>5}  {row.type:<22} {row.backend:<8} {row.time_us:>10.1f} {r.min:>8.1f} {r.iqr:>8.1f} "
            f"{100 * r.cv:>5.1f}% {100 * row.time_us / total:>6.1f}% {100 * cumulative / total:>6.1f}%"
        )
    if len(result.rows) > top:
        rest = result.total_us - cumulative
        lines.append(f"{'':>5}  ... {len(result.rows) - top} more ops {'':<10} {rest:>10.1f} {'':>24} "
                     f"{100 * rest / total:>6.1f}%")  # fmt: skip
    lines.append(f"{'':>5}  {'total of op weights':<31} {result.total_us:>10.1f} {'':>24} {100.0:>6.1f}%")
    lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines)


def sequential_text(run: SequentialRun) -> str:
    """End-to-end latency of the parts run in sequence with its spread, per part, and the whole model on cpu."""
    split, loads = run.split, run.split.loads_us

    def spread(s) -> str:
        return f"{s.median:9.2f} ms  (min {s.min:.2f}, IQR {s.q25:.2f}-{s.q75:.2f}, max {s.max:.2f})"

    lines = [f"{split.out_dir}: {len(split.parts)} parts run in sequence, {run.rounds} rounds, "
             f"load average {' '.join(f'{x:.2f}' for x in run.load_average)}", ""]  # fmt: skip
    for k, (p, backend, s) in enumerate(zip(split.parts, run.backends, run.part_ms)):
        predicted = f", predicted {loads[k] / 1000:.2f} ms" if loads else ""
        memory = run.part_memory[k]
        alone = f"; memory alone {memory.session_kb / 1024:.1f} MB" if memory is not None else ""
        if run.predicted_memory:
            alone += f" (predicted {run.predicted_memory[k] / 2**20:.1f} MB, {run.memory_model.name} model)"
        lines.append(f"  {p.file} on {backend}: {spread(s)}{predicted}{alone}")
    predicted = f" (predicted {sum(loads) / 1000:.2f} ms, hand-offs not included)" if loads else ""
    lines += ["", f"end to end      {spread(run.latency_ms)}{predicted}",
              f"whole on cpu    {spread(run.whole_ms)}"]  # fmt: skip
    if run.off:
        lines.append(f"OFF the prediction: end to end {run.error:+.0%} (more than {OFF_PREDICTION:.0%}): the parts run "
                     "alone take other times than their ops in the whole model's trace (solve partition --calibrate "
                     "measures them), or the machine's load differs from the trace's")  # fmt: skip
    return "\n".join(lines + [f"note: {n}" for n in run.notes])


def placed_text(c: PlacedComparison) -> str:
    """A placed run: throughput and latency measured beside each prediction, per device and per link."""
    run, latency = c.run, c.latency
    what, us = c.measured_bottleneck()
    lines = [f"{c.out_dir}: {len(run.devices)} parts on {len(c.predictions[0].device_us)} devices ({c.cluster} workers), "
             f"{run.requests} timed requests, load average {c.load_average[0]:.2f} {c.load_average[1]:.2f}", ""]  # fmt: skip
    labels = [p.label for p in c.predictions]
    head = f"{'':<22}" + "".join(f"{'predicted (' + l + ' links)':>30}" for l in labels) + f"{'measured':>14}"
    lines.append(head)
    lines.append(f"{'throughput (inf/s)':<22}" + "".join(f"{p.throughput:>30.2f}" for p in c.predictions)
                 + f"{run.throughput:>14.2f}")  # fmt: skip
    lines.append(f"{'latency (ms)':<22}" + "".join(f"{p.latency_us / 1000:>30.2f}" for p in c.predictions)
                 + f"{latency.median / 1000:>14.2f}  (IQR {latency.q25 / 1000:.2f}-{latency.q75 / 1000:.2f}, "
                 f"max {latency.max / 1000:.2f})")  # fmt: skip
    measured = run.device_ms()
    links = c.measured_links()
    replica = {d: f" [{i + 1}/{len(devices)}]" for devices in run.devices if len(devices) > 1 for i, d in enumerate(devices)}
    for d in c.predictions[0].device_us:
        core = c.core_of.get(d)
        name = f"device {d}" + replica.get(d, "") + (f" @cpu{core}" if core is not None else "")
        got = f"{measured[d]:>11.2f} ms" if d in measured else f"{'-':>14}"
        lines.append(f"{name:<22}" + "".join(f"{p.device_us.get(d, 0) / 1000:>27.2f} ms" for p in c.predictions) + got)
    for pair in sorted(set(c.predictions[0].link_us) | set(links)):
        name = f"link {pair[0]} -> {pair[1]}"
        predicted = "".join(f"{p.link_us.get(pair, 0) / 1000:>27.2f} ms" for p in c.predictions)
        got = f"{links[pair][1] / 1000:>11.2f} ms" if pair in links else f"{'-':>14}"
        nbytes = c.predictions[0].link_bytes.get(pair)
        carried = f"  ({links[pair][0]:.0f} B measured" if pair in links else "  (nothing measured"
        lines.append(f"{name:<22}{predicted}{got}{carried}, {nbytes if nbytes is not None else 0} B predicted)")
    lines += ["", *(f"predicted bottleneck ({p.label} links): {p.bottleneck}, a request every {p.period_us / 1000:.2f} ms"
                    for p in c.predictions),
              *(f"the {p.label} prediction counts the engine's overhead per request: "
                + ", ".join(f"{d} {us / 1000:.2f} ms" for d, us in p.overhead_us.items())
                + (f"; the scheduler's and client's CPU, {p.host_us / 1000:.2f} ms, on the machine's cores"
                   if p.host_us else "")
                for p in c.predictions if p.overhead_us),
              f"measured bottleneck: {what}, {us / 1000:.2f} ms per request; a request left every "
              f"{1000 / run.throughput:.2f} ms",
              "outputs: " + ("equal to the whole model's" if c.ok else "DIFFER from the whole model's")]  # fmt: skip
    lines += compute_lines(c)
    lines += link_drift_lines(c)
    lines.append(f"steady state: {run.warmup} requests before the timed ones ({run.window} in flight), "
                 f"{run.window - 1} after; second half against first {run.steadiness():+.1%}; "
                 + ", ".join(f"link {a} -> {b} {ratio:.2f}x the predicted bytes" for (a, b), ratio in
                             sorted(c.bytes_ratio().items()))
                 + f"; {run.batched} transfer(s) carried several requests")  # fmt: skip
    lines.extend(f"note: {n}" for n in c.notes)
    return "\n".join(lines)


def compute_lines(c: PlacedComparison) -> list[str]:
    """Which compute the calibrated prediction used per part (CPU per inference in the run's session, or the trace's
    op sum) beside the trace, during the run and after it, with the drift."""
    if not c.compute:
        return []
    during = c.run.compute_cpu_ms()
    after = {(d.part_id, d.device): d for d in c.drifts}
    lines = ["", "compute per inference (ms): the trace's op sum (the uncalibrated prediction's) / measured in the run's "
             "session, CPU, every part busy (IQR) / onert's CPU in the throughput run / re-measured after it (IQR), "
             "drift; the machine probe (a fixed integer loop's CPU ms on the part's core after each inference) "
             "before / after; the calibrated prediction uses the session's where measured (its wall on a device "
             "with a core of its own)"]  # fmt: skip
    for s in c.compute:
        name = f"  part {s.part_id} on {s.device}"
        if s.measured is None:
            lines.append(f"{name}: trace {s.trace_us / 1000:.2f} (used: {s.reason})")
            continue
        b = s.measured.busy
        text = f"{name}: trace {s.trace_us / 1000:.2f} / session {b.cpu_us / 1000:.2f} ({b.cpu_iqr_us / 1000:.2f}, " \
               f"wall {b.wall_us / 1000:.2f}, {b.runs} runs) used ({'wall: a core of its own' if s.wall else 'CPU'})"
        if s.device in during and sum(1 for t in c.compute if s.device in (t.device,) or t.part_id == s.part_id) == 1:
            text += f" / run {during[s.device]:.2f}"
        d = after.get((s.part_id, s.device))
        if d is not None:
            text += (f" / after {d.after.cpu_us / 1000:.2f} ({d.after.cpu_iqr_us / 1000:.2f}), drift {d.change:+.1%}"
                     + (" DRIFTED" if d.drifted else ""))  # fmt: skip
            if d.machine_change is not None:
                text += (f"; machine probe {d.before.machine_ms:.2f} / {d.after.machine_ms:.2f} ms "
                         f"({d.machine_change:+.1%})" + (" MACHINE" if d.machine else ""))  # fmt: skip
        lines.append(text)
    return lines


def link_drift_lines(c: PlacedComparison) -> list[str]:
    """Each link the run used, fitted by the calibration and again right after the run: the fits, the link's time
    per request in the calibrated prediction with each, the drift; and the prediction made with the after-run fits."""
    if not c.link_drifts:
        return []
    lines = ["", "links fitted again right after the run (overhead + bytes / bandwidth, the calibration's ping-pong; rms: "
             "of the fit's residuals): before / after, and the link's time per request in the calibrated prediction with each fit"]  # fmt: skip
    for d in c.link_drifts:
        lines.append(f"  link {d.source} -> {d.target}: {d.before.overhead_us / 1000:.2f} ms + "
                     f"{d.before.bandwidth * 8e-6:.3f} Mbit/s (rms {d.before.rms_us / 1000:.2f} ms) / "
                     f"{d.after.overhead_us / 1000:.2f} ms + {d.after.bandwidth * 8e-6:.3f} Mbit/s (rms "
                     f"{d.after.rms_us / 1000:.2f} ms); {d.before_us / 1000:.2f} / {d.after_us / 1000:.2f} ms per "
                     f"request, drift {d.change:+.1%}" + (" LINK DRIFTED" if d.drifted else ""))  # fmt: skip
    after = c.relinked
    if after is not None:
        lines.append(f"  the calibrated prediction with the after-run links: {after.throughput:.2f} inf/s "
                     f"({after.throughput / c.run.throughput - 1:+.1%} against the measured), latency "
                     f"{after.latency_us / 1000:.2f} ms")  # fmt: skip
    return lines
