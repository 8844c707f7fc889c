"""Splunk AppInspect on the package, as Splunkbase precert and as Splunk Cloud vetting do."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Checks whose warning or manual check cannot be avoided, with the reason (app/README.md
# repeats it). None today.
ALLOWED = {}

RUNS = {
    "precert": ["--mode", "precert"],
    "cloud": ["--mode", "precert", "--included-tags", "cloud"],
}
BAD = ("failure", "error", "warning", "manual_check", "future_failure")


def appinspect():
    exe = Path(sys.executable).with_name("splunk-appinspect")
    return str(exe) if exe.exists() else shutil.which("splunk-appinspect")


@pytest.mark.parametrize("run", RUNS)
def test_appinspect_reports_no_failure_error_or_warning(run, package, tmp_path):
    tool = appinspect()
    if tool is None:
        pytest.fail("splunk-appinspect is missing: pip install -r app/requirements.txt (app/check.sh does)")
    report = tmp_path / f"{run}.json"
    # Offline: the trusted-libraries update would download a list from Splunk.
    subprocess.run([tool, "inspect", str(package), *RUNS[run], "--skip-trusted-libraries-update",
                    "--max-messages", "all", "--data-format", "json", "--output-file", str(report)],
                   check=True, capture_output=True, text=True)
    data = json.loads(report.read_text())
    summary = data["summary"]
    print(f"AppInspect {run}: " + ", ".join(f"{k}={v}" for k, v in sorted(summary.items())))
    problems = [
        (check["name"], check["result"], [m.get("message", "") for m in check.get("messages", [])][:3])
        for r in data["reports"] for group in r["groups"] for check in group["checks"]
        if check["result"] in BAD and check["name"] not in ALLOWED
    ]
    assert not problems, problems
    assert summary["success"] > 100, summary
