"""The `studio` command line: plan output, errors as one line, weights commands."""
import json
import subprocess
import sys

import pytest


def studio(*args):
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True)


def test_plan_furious_json():
    r = studio("plan", "furious", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["affect"]["top_label"] == "anger" and d["affect"]["point"][1] > 0.3
    assert d["prosody"]["f0_shift_st"] > 0 and d["face"]["aus"]["4"] > 0.5


def test_plan_calm_contentment_json():
    d = json.loads(studio("plan", "calm contentment", "--json").stdout)
    assert d["affect"]["point"][0] > 0 and d["affect"]["point"][1] < 0


def test_plan_text_output_lists_all_three_plans():
    r = studio("plan", "joy:0.6,surprise:0.4", "--intensity", "0.8")
    assert r.returncode == 0
    for needle in ("speech (ProsodyPlan)", "face (ActionUnitPlan)", "image (ImagePlan)", "AU12"):
        assert needle in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["plan", "angr"], "closest known"),
    (["plan", "--vad", "2,0,0"], "[-1, 1]"),
    (["plan", "joy", "--intensity", "nan"], "intensity"),
    (["weights", "pull"], "--embedded"),
])
def test_errors_are_one_line_with_exit_code_2(args, needle):
    r = studio(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_weights_verify_and_list():
    r = studio("weights", "verify")
    assert r.returncode == 0 and r.stdout.count(" ok") >= 4
    assert "CC0" in studio("weights", "list").stdout


def test_help_lists_every_command():
    out = studio("--help").stdout
    for cmd in ("plan", "weights"):
        assert cmd in out
