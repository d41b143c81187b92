"""`reconciler evaluate`: the quality gate on the command line (DESIGN §6).

Offline: `--slo FILE --values FILE [--history FILE]` scores given values. Live: `--prometheus
URL --sli FILE... (--start T --end T | --timeframe 5m)` queries Prometheus for the window
first. Both end in the same `evaluate` the engine uses. Exit 0 on pass or warning, 1 on fail,
2 when an input is rejected (unreadable or invalid file, invalid SLO, bad arguments), 3 when
the gate errored (the SLI provider could not be asked: Prometheus unreachable, a failed query).
"""
from __future__ import annotations

import datetime as _dt
import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler.cli.output import EXIT_ERRORED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, output_option, render
from reconciler.quality.evidence import EvidenceError, from_evidence
from reconciler.quality.history import HistoryError, PreviousEvaluation, previous_from_json
from reconciler.quality.scoring import Evaluation, Target, evaluate, go_float
from reconciler.quality.values import ValuesError, values_from_json
from reconciler.spec.settings import PrometheusSettings, parse_duration

EXIT_REJECTED = EXIT_USAGE
_REJECTING_KINDS = ("invalid_slo", "invalid_criteria", "invalid_total_score")


@click.command("evaluate")
@click.option("--slo", "slo_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="slo.yaml to evaluate.")
@click.option("--values", "values_file", type=click.Path(dir_okay=False, path_type=Path),
              help='Offline: JSON object SLI name → number or {"error": "..."}.')
@click.option("--history", "history_file", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON list of earlier evaluations, newest first: {result, score, sli_values, "
                   "invalidated?} or evidence documents.")
@click.option("--prometheus", "prometheus_url", metavar="URL",
              help="Live: Prometheus base URL (default: $RECONCILER_PROMETHEUS_URL).")
@click.option("--sli", "sli_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Live: sli.yaml; repeat for project, stage, service layers (later wins).")
@click.option("--start", metavar="TIME", help="Live: window start (ISO 8601 or Unix seconds).")
@click.option("--end", metavar="TIME", help="Live: window end (default: now).")
@click.option("--timeframe", metavar="DURATION", help="Live: window length, e.g. 5m (instead of --start).")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Live: $LABEL.<key> values.")
@click.option("--project", default="", help="Live: $PROJECT. Default: the name of the config repository "
              "the first --sli file is in (as `serve` names the project), else empty.")
@click.option("--stage", default="", help="Live: $STAGE.")
@click.option("--service", default="", help="Live: $SERVICE.")
@click.option("--deployment", default="primary", show_default=True, help="Live: $DEPLOYMENT.")
@click.option("--timeout", metavar="DURATION", help="Live: per-query timeout (default 10s).")
@output_option
def command(slo_file: Path, values_file: Path | None, history_file: Path | None,
            prometheus_url: str | None, sli_files: tuple[Path, ...], start: str | None,
            end: str | None, timeframe: str | None, labels: tuple[str, ...], project: str,
            stage: str, service: str, deployment: str, timeout: str | None, output: str) -> None:
    """Evaluate an SLO like Keptn's quality gate and print the verdict with its reasons."""
    live = bool(prometheus_url or sli_files)
    if live == (values_file is not None):
        _usage("give either --values FILE (offline) or --prometheus URL --sli FILE (live)")
    slo_text = _read(slo_file)
    history = _history(history_file) if history_file else []

    if live:
        evaluation = _live(slo_text, sli_files, prometheus_url, start, end, timeframe, labels,
                           project, stage, service, deployment, timeout, history)
    else:
        assert values_file is not None
        try:
            values = values_from_json(_json(values_file))
        except ValuesError as exc:
            _reject(f"{values_file}: {exc}")
        if start or end or timeframe or labels or timeout:
            _usage("--start/--end/--timeframe/--label/--timeout only apply with --prometheus")
        evaluation = evaluate(slo_text, values, history, project=project)

    rejected = evaluation.error_kind in _REJECTING_KINDS
    if output != "text":
        click.echo(render(evaluation.to_json(), output))
    elif not rejected:
        click.echo(render_text(evaluation))
    if rejected:
        _reject(f"{slo_file}: {evaluation.error}")
    sys.exit(exit_code(evaluation))


def exit_code(evaluation: Evaluation) -> int:
    """0 pass/warning, 1 a failed gate, 3 a gate that errored (no SLI values could be had)."""
    if evaluation.event_status == "errored" or evaluation.error_kind == "sli_retrieval_failed":
        return EXIT_ERRORED
    return EXIT_OK if evaluation.passed else EXIT_FAILED


def _live(slo_text: str, sli_files, url, start, end, timeframe, labels, project, stage, service,
          deployment, timeout, history) -> Evaluation:
    # Imported here: the offline gate never pays for httpx.
    from reconciler.quality.provider import evaluate_window
    from reconciler.quality.providers.prometheus import PrometheusProvider
    from reconciler.quality.providers.prometheus.client import PrometheusConfig
    from reconciler.quality.sli import SliContext, SliFileError, merge_indicators, parse_sli

    if not sli_files:
        _usage("live evaluation needs --sli FILE (the queries of the SLIs)")
    try:
        indicators = merge_indicators(*(parse_sli(_read(f), str(f)) for f in sli_files))
    except SliFileError as exc:
        _reject(str(exc))
    window_start, window_end = _window(start, end, timeframe)
    label_map = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _usage(f"--label expects KEY=VALUE, got {item!r}")
        label_map[key] = value
    settings = PrometheusSettings()
    if timeout:
        try:
            seconds = parse_duration(timeout)
        except ValueError as exc:
            _usage(f"--timeout: {exc}")
        if seconds <= 0:
            _usage("--timeout must be longer than 0s")
        settings = PrometheusSettings(timeout=seconds)
    try:
        config = PrometheusConfig.from_settings(settings, url=url)
    except ValueError as exc:
        _usage(str(exc))
    if not project:
        from reconciler.gitstore.snapshot import discovered_project_name
        project = discovered_project_name(Path(sli_files[0]).resolve().parent) or ""
    window = SliContext(window_start, window_end, project, stage, service, deployment, label_map)
    return evaluate_window(slo_text, indicators, window, PrometheusProvider(config), history)


def _window(start: str | None, end: str | None, timeframe: str | None) -> tuple[float, float]:
    if start and timeframe and end:
        _usage("give --start with --end, or --timeframe (optionally with --start or --end), not all three")
    length = None
    if timeframe:
        try:
            length = parse_duration(timeframe)
        except ValueError as exc:
            _usage(f"--timeframe: {exc}")
        if length <= 0:
            _usage("--timeframe must be longer than 0s")
    t_start = _time(start, "--start") if start else None
    t_end = _time(end, "--end") if end else None
    if t_start is None and length is None:
        _usage("give the window: --start and --end, or --timeframe")
    if t_start is not None and length is not None:
        t_end = t_start + length
    if t_end is None:
        t_end = time.time()
    if t_start is None:
        assert length is not None
        t_start = t_end - length
    if t_end <= t_start:
        _usage("the window must end after it starts")
    return t_start, t_end


def _time(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        _usage(f"{option}: expected ISO 8601 (2024-05-01T10:00:00Z) or Unix seconds, got {text!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment.timestamp()


def _history(path: Path) -> list[PreviousEvaluation]:
    raw = _json(path)
    if not isinstance(raw, list):
        _reject(f"{path}: expected a JSON list of earlier evaluations, newest first")
    out = []
    for i, item in enumerate(raw):
        try:
            if isinstance(item, dict) and item.get("kind") == "Evaluation":
                out.append(from_evidence(item, f"{path}[{i}]"))
            else:
                out.append(previous_from_json(item, i))
        except (HistoryError, EvidenceError) as exc:
            _reject(f"{path}: {exc}")
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _reject(f"{path}: cannot read: {exc}")


def _json(path: Path) -> Any:
    try:
        return json.loads(_read(path))
    except json.JSONDecodeError as exc:
        _reject(f"{path}:{exc.lineno}: not JSON: {exc.msg}")


def _reject(message: str) -> NoReturn:
    fail(message, EXIT_REJECTED)


def _usage(message: str) -> NoReturn:
    fail(message, EXIT_USAGE)


# --------------------------------------------------------------------------- human output

def render_text(evaluation: Evaluation) -> str:
    """A table per objective and the total, then the reasons for anything that failed."""
    lines: list[str] = []
    if evaluation.objectives:
        rows = [("SLI", "value", "pass targets", "warning targets", "status", "points")]
        for o in evaluation.objectives:
            value = go_float(o.value.value) if o.value is not None and o.value.success else "-"
            points = f"{go_float(o.score)}/{o.objective.weight}" if o.status != "info" else "-"
            rows.append((o.sli + (" (key)" if o.objective.key_sli else ""), value,
                         _targets(o.pass_targets), _targets(o.warning_targets), o.status, points))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())
        reasons = [f"  {o.sli}: {o.error}" for o in evaluation.objectives if o.error]
        if reasons:
            lines += ["", "No usable value:", *reasons]
        lines.append("")
    thresholds = []
    if evaluation.pass_threshold is not None:
        thresholds.append(f"pass >= {go_float(evaluation.pass_threshold)}")
    if evaluation.warning_threshold is not None:
        thresholds.append(f"warning >= {go_float(evaluation.warning_threshold)}")
    total = f"Total: {go_float(evaluation.score)}"
    if thresholds:
        total += f" ({', '.join(thresholds)})"
    total += f" -> {evaluation.event_result.upper()}"
    if evaluation.compared_count is not None:
        total += f", compared with {evaluation.compared_count} earlier evaluation(s)"
    lines.append(total)
    lines.append(evaluation.message)
    return "\n".join(lines)


def _targets(targets: tuple[Target, ...]) -> str:
    return ", ".join(f"{t.criteria.strip()} ({go_float(t.target_value)}, {'missed' if t.violated else 'met'})"
                     for t in targets) or "-"
