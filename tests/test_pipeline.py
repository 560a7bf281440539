"""The multi-process pipeline with shared-memory hand-off, and the predicted-vs-measured report."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from devices.chain import ChainRunner, Stage
from devices.inputs import seeded_inputs
from devices.pipeline import PipelineError, PipelineSettings, run_pipeline
from solver.commands import pipeline as pipeline_command
from solver.deploy.pipeline import ComparisonSettings, compare_pipeline
from solver.deploy.report import pipeline_text
from solver.errors import UsageError
from solver.deploy.split import split_model

QUICK = PipelineSettings(requests=12, warmup=2, timeout=120)


def _stages(split):
    return [Stage(split.out_dir / p.file, p.inputs, p.outputs) for p in split.parts]


@pytest.mark.parametrize(
    "name, parts",
    [
        ("skip_chain", [0, 0, 0, 1, 1, 1, 2, 2]),  # a tensor skips the middle stage
        ("two_output_mlp", [0, 0, 0, 0, 0, 1, 1, 1]),  # two inputs, a model output from the first stage
    ],
)
def test_pipeline_outputs_equal_the_chain(tflite_model, tmp_path, name, parts):
    split = split_model(tflite_model(name), parts, tmp_path)
    run = run_pipeline(_stages(split), split.model_inputs, split.model_outputs, QUICK)
    chain = ChainRunner(_stages(split), env={"EXECUTOR": "Dataflow"})
    expected = chain.run(_model_feeds(split, chain))
    for output in split.model_outputs:
        np.testing.assert_array_equal(run.outputs[output], expected[output])
    assert run.num_stages == len(split.parts) and run.requests == QUICK.requests
    assert run.throughput > 0 and len(run.latencies_ms) == QUICK.requests
    assert all(len(c) == QUICK.requests for c in run.compute_ms)


def _model_feeds(split, chain):
    """Seeded inputs in model input order, with specs taken from whichever part reads each input."""
    specs = {}
    for stage, runner in zip(chain.stages, chain.runners):
        specs.update(zip(stage.inputs, runner.input_specs()))
    arrays = seeded_inputs([specs[n] for n in split.model_inputs], QUICK.seed)
    return dict(zip(split.model_inputs, arrays))


def test_a_stage_that_cannot_load_is_reported(tflite_model, tmp_path):
    split = split_model(tflite_model("skip_chain"), [0, 0, 0, 0, 1, 1, 1, 1], tmp_path)
    (tmp_path / split.parts[1].file).write_bytes(b"not a model")
    # onert 0.1.0 either refuses the file or crashes on it; both must come back as one error.
    with pytest.raises(PipelineError, match=rf"stage 1 \(?{split.parts[1].file}\)? .*(died|cannot load)"):
        run_pipeline(_stages(split), split.model_inputs, split.model_outputs, QUICK)


def test_comparison_reports_prediction_measurement_and_verdict(tflite_model, tmp_path):
    path = tflite_model("branchy_cnn")
    split_model(path, [0] * 5 + [1] * 6, tmp_path, op_weights=[100.0] * 11)
    comparison = compare_pipeline(tmp_path, ComparisonSettings(QUICK, rounds=1))
    assert comparison.predicted_ms == [0.5, 0.6]
    assert comparison.predicted_speedup == pytest.approx(1.1 / 0.6)
    assert comparison.whole_throughput > 0 and comparison.throughput > 0
    text = pipeline_text(comparison)
    assert "predicted" in text and "measured" in text and "whole model, 2 thread(s)" in text
    assert ("the pipeline wins" in text) != ("the pipeline loses" in text)
    if comparison.speedup < 1.05:
        assert comparison.reasons  # a loss always comes with reasons


def test_pipeline_command(tflite_model, tmp_path, capsys):
    split_model(tflite_model("skip_chain"), [0, 0, 0, 1, 1, 1, 2, 2], tmp_path)
    parser = argparse.ArgumentParser()
    pipeline_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["pipeline", str(tmp_path), "--requests", "10", "--warmup", "2"])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "3 stages x 1 thread(s)" in out
    assert "too few cores: 3 stages x 1 thread(s) need 3 cores" in out or "the pipeline wins" in out
    args = parser.parse_args(["pipeline", str(tmp_path), "--requests", "10", "--warmup", "2", "--json"])
    assert args.run(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document)[:2] == ["schema", "out_dir"] and document["schema"] == "nnpart.pipeline/1"
    assert document["num_parts"] == 3 and document["predicted"] is None and document["requests"] == 10
    assert document["measured"]["throughput"] > 0 and len(document["measured"]["stage_ms"]) == 3
    assert document["wins"] == ("the pipeline wins" in document["verdict"])


@pytest.mark.parametrize(
    "options, run, rounds, message",
    [
        (["--threads-per-stage", "0"], {"threads_per_stage": 0}, 1, "threads per stage must be at least 1, got 0"),
        (["--rounds", "0"], {}, 0, "rounds must be at least 1, got 0"),
        (["--requests", "1"], {"requests": 1}, 1, "timed requests must be at least 2, got 1"),
        (["--warmup", "-1"], {"warmup": -1}, 1, "warm-up requests must be at least 0, got -1"),
        (["--timeout", "0"], {"timeout": 0.0}, 1, "the time-out must be positive, got 0 s"),
    ],
)
def test_pipeline_settings_refuse_the_same_via_api_and_cli(tmp_path, options, run, rounds, message):
    parser = argparse.ArgumentParser()
    pipeline_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["pipeline", str(tmp_path), *options])
    with pytest.raises(UsageError) as cli:
        args.run(args)
    with pytest.raises(UsageError) as api:
        ComparisonSettings(PipelineSettings(**run), rounds=rounds)
    assert str(cli.value) == str(api.value) == message
