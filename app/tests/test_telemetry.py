"""The endpoint and network telemetry content: selection and input macros, one alert and one
dashboard panel per source, and the macros and `| aidetect` options that every saved search
and dashboard search uses."""

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from ksconf.conf.parser import PARSECONF_STRICT_NC, parse_conf

ROOT = Path(__file__).resolve().parents[2]
VIEW = ROOT / "default" / "data" / "ui" / "views" / "aidetect_overview.xml"
MACRO_REF = re.compile(r"`([A-Za-z0-9_]+)(?:\(([^`]*)\))?`")
AIDETECT = re.compile(r"\|\s*aidetect\b([^|]*)")
TOKEN = re.compile(r"\$([A-Za-z_][A-Za-z0-9_.]*)\$")
ENDPOINT_COLUMNS = ["host", "user", "Events", "Kinds", "Processes", "ParentProcesses", "AIServices",
                    "FirstSeen", "LastSeen", "Providers", "Categories", "Clients", "Reasons",
                    "RiskScore", "Allowlisted"]

# Events as the source's input macro hands them to | aidetect, after the add-on's field
# extractions: the seed's test cases 1-5 (keys are fake).
KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
SYSMON = [
    {"_time": "1700000000", "EventCode": "1", "Computer": "WS01.corp.example", "User": "CORP\\alice",
     "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "ParentImage": "C:\\Windows\\explorer.exe",
     "CommandLine": "powershell.exe -c \"Invoke-WebRequest -Uri https://api.openai.com/v1/models\""},
    {"_time": "1700000010", "EventCode": "3", "Computer": "WS01.corp.example", "User": "CORP\\alice",
     "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "DestinationHostname": "api.openai.com", "DestinationIp": "104.18.7.192"},
    {"_time": "1700000020", "EventCode": "22", "Computer": "WS02.corp.example", "User": "CORP\\bob",
     "Image": "C:\\Python312\\python.exe", "QueryName": "api.openai.com"},
    {"_time": "1700000030", "EventCode": "11", "Computer": "WS02.corp.example", "User": "CORP\\bob",
     "Image": "C:\\Python312\\Scripts\\pip.exe",
     "TargetFilename": "C:\\Users\\bob\\AppData\\Roaming\\Python\\Python312\\site-packages\\openai\\__init__.py"},
]
# 4688 in XML rendering, after aidetect_wineventlog_input copied the XML names; and 4104.
WINEVENTLOG = [
    {"_time": "1700000000", "EventCode": "4688", "Computer": "WS03.corp.example", "SubjectUserName": "carol",
     "NewProcessName": "C:\\Windows\\System32\\curl.exe", "New_Process_Name": "C:\\Windows\\System32\\curl.exe",
     "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
     "Creator_Process_Name": "C:\\Windows\\System32\\cmd.exe",
     "CommandLine": "curl.exe -X POST https://api.openai.com/v1/chat/completions -d \"{}\""},
    {"_time": "1700000005", "EventCode": "4104", "Computer": "WS04.corp.example",
     "ScriptBlockText": f"$env:OPENAI_API_KEY = '{KEY}'\nInvoke-RestMethod -Uri https://api.openai.com/v1/chat/completions -Method Post"},
]
# An EXECVE record with the auid that aidetect_auditd_input took from its SYSCALL record.
AUDITD = [
    {"_time": "1700000000", "host": "lnx01", "type": "EXECVE", "argc": "5", "a0": "curl", "a1": "-X",
     "a2": "POST", "a3": "https://api.openai.com/v1/chat/completions", "a4": "-d", "auid": "1000",
     "aidetect_audit_record": "1700000000.123:456"},
]
ZEEK = [
    {"_time": "1700000000", "src_ip": "10.1.2.3", "id.orig_h": "10.1.2.3", "server_name": "api.openai.com"},
    {"_time": "1700000001", "src_ip": "10.1.2.3", "id.orig_h": "10.1.2.3", "query": "api.anthropic.com"},
]

# source: (selection macro, input macro, alert, kind, suppress fields, events, must appear in
# the selection macro, dashboard panel)
SOURCES = {
    "sysmon": ("aidetect_sysmon", "aidetect_sysmon_input", "aidetect - AI API use in Sysmon telemetry - Rule",
               "auto", "host,user", SYSMON,
               ['"XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"', "EventCode IN (1, 3, 11, 22)"],
               "viz_sysmon"),
    "wineventlog": ("aidetect_wineventlog", "aidetect_wineventlog_input",
                    "aidetect - AI API use in Windows process and PowerShell logs - Rule",
                    "auto", "host,user", WINEVENTLOG,
                    ['"XmlWinEventLog:Security"', "EventCode=4688",
                     '"XmlWinEventLog:Microsoft-Windows-PowerShell/Operational"', "EventCode=4104"],
                    "viz_wineventlog"),
    "auditd": ("aidetect_auditd", "aidetect_auditd_input", "aidetect - AI API use in Linux auditd commands - Rule",
               "auditd", "host,user", AUDITD,
               ['sourcetype="linux:audit"', "type=EXECVE", "type=SYSCALL"], "viz_auditd"),
    "zeek": ("aidetect_zeek", "aidetect_zeek_input",
             "aidetect - AI service connections in Zeek TLS and DNS logs - Rule",
             "proxy", "src_ip", ZEEK,
             ['"bro:ssl:json"', '"bro:dns:json"', '"zeek:ssl:json"', '"zeek:dns:json"',
              '"corelight_ssl"', '"corelight_dns"'], "viz_zeek"),
}


def conf(name):
    return parse_conf(str(ROOT / "default" / name), profile=PARSECONF_STRICT_NC)


def dashboard():
    text = VIEW.read_text()
    body = re.search(r"<!\[CDATA\[(.*)\]\]>", text, re.S).group(1)
    return json.loads(body)


def dashboard_queries():
    d = dashboard()
    for name, ds in d["dataSources"].items():
        if "query" in ds.get("options", {}):
            yield f"dataSources.{name}", ds["options"]["query"]
    for name, viz in d["visualizations"].items():
        for handler in viz.get("eventHandlers", []):
            if "query" in handler.get("options", {}):
                yield f"visualizations.{name}", handler["options"]["query"]


def saved_search_queries():
    for name, stanza in conf("savedsearches.conf").items():
        for key in ("search", "action.notable.param.drilldown_search"):
            if key in stanza:
                yield f"{name}/{key}", stanza[key]


def all_queries():
    yield from saved_search_queries()
    yield from dashboard_queries()
    for name, stanza in conf("macros.conf").items():
        if "definition" in stanza:
            yield f"macro {name}", stanza["definition"]


def macro_refs(text):
    """(stanza name a reference needs, reference) for each `macro` or `macro(args)` in text."""
    for m in MACRO_REF.finditer(text):
        name, args = m.group(1), m.group(2)
        yield (f"{name}({len(args.split(','))})" if args is not None else name), m.group(0)


def option_specs(binary):
    """name -> allowed values (a set), 'int', 'bool' or None (free text), from `aidetect help options`."""
    out = subprocess.run([str(binary), "help", "options"], check=True, capture_output=True, text=True).stdout
    specs = {}
    for line in out.splitlines()[1:]:
        name = re.match(r"\s+([a-z_]+)\s", line)
        rule = re.search(r"\((one of [^;]+|true or false|a whole number|text|a comma-separated list)[^;]*; default", line)
        assert name and rule, f"unexpected line in `aidetect help options`: {line!r}"
        name, rule = name.group(1), rule.group(1)
        if rule.startswith("one of "):
            specs[name] = {c.strip() for c in rule.removeprefix("one of ").split(",")}
        elif rule == "true or false":
            specs[name] = "bool"
        elif rule == "a whole number":
            specs[name] = "int"
        else:
            specs[name] = None
    assert {"kind", "redact", "allowlisted", "mode", "profile"} <= specs.keys(), specs
    return specs


def aidetect_options(query):
    """The name=value options of every `| aidetect` in a query."""
    for m in AIDETECT.finditer(query):
        words = m.group(1).split()
        assert all("=" in w for w in words), (query, words)
        yield dict(w.split("=", 1) for w in words)


def run(binary, events, options, tmp_path):
    """`aidetect run` over the events as JSON lines; the rows as dicts (multivalues as lists)."""
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    out = subprocess.run([str(binary), "run", str(path), "--format", "csv", *options],
                         check=True, capture_output=True, text=True).stdout
    return [{k: v.split("\n") if "\n" in v else v for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(out))]


@pytest.fixture(scope="session")
def binary(extracted):
    return extracted / "linux_x86_64" / "bin" / "aidetect"


@pytest.mark.parametrize("source", SOURCES)
def test_selection_macro_names_the_add_on_data_and_an_index_to_override(source):
    selection, _, _, _, _, _, needles, _ = SOURCES[source]
    stanza = conf("macros.conf")[selection]
    assert stanza["definition"].startswith("index=")
    for needle in needles:
        assert needle in stanza["definition"], (selection, needle)
    assert "override" in stanza["description"].lower()
    assert "|" not in stanza["definition"], "selection macros are search terms, so callers can add terms"


@pytest.mark.parametrize("source", SOURCES)
def test_input_macro_starts_from_the_selection_macro(source):
    selection, inp, *_ = SOURCES[source]
    stanza = conf("macros.conf")[inp]
    assert stanza["definition"].startswith(f"`{selection}`"), stanza["definition"]
    assert stanza["description"]


def test_every_macro_that_a_search_macro_or_dashboard_uses_is_defined():
    macros = conf("macros.conf")
    checked = 0
    for where, query in all_queries():
        for needed, ref in macro_refs(query):
            assert needed in macros, f"{where} uses {ref}: no [{needed}] in macros.conf"
            checked += 1
    assert checked > 20


def test_every_aidetect_in_a_search_or_dashboard_uses_valid_options(binary):
    specs = option_specs(binary)
    seen = 0
    for where, query in [*saved_search_queries(), *dashboard_queries()]:
        for options in aidetect_options(query):
            seen += 1
            for name, value in options.items():
                assert name in specs, f"{where}: | aidetect has no option {name}"
                spec = specs[name]
                if spec == "bool":
                    assert value in ("true", "false"), (where, name, value)
                elif spec == "int":
                    assert value.isdigit(), (where, name, value)
                elif spec is not None:
                    assert value in spec, (where, name, value, sorted(spec))
    assert seen >= 10


@pytest.mark.parametrize("source", SOURCES)
def test_telemetry_alert_is_escu_style_disabled_hourly_and_throttled(source):
    _, inp, alert_name, kind, suppress, *_ = SOURCES[source]
    alert = conf("savedsearches.conf")[alert_name]
    search = alert["search"]
    assert search.startswith(f"`{inp}`"), search
    assert list(aidetect_options(search)) == [{"kind": kind, "allowlisted": "hide"}], search
    assert search.rstrip().endswith("| `aidetect_filter`"), search
    assert alert["disabled"] == "1" and alert["enableSched"] == "1"
    assert (alert["cron_schedule"], alert["dispatch.earliest_time"], alert["dispatch.latest_time"]) == (
        "0 * * * *", "-60m", "now")
    assert (alert["counttype"], alert["relation"], alert["quantity"]) == ("number of events", "greater than", "0")
    assert alert["alert.suppress"] == "1" and alert["alert.suppress.fields"] == suppress
    assert alert["alert.suppress.period"] == "24h"
    assert alert["alert.severity"] in ("3", "4") and alert["description"]
    assert "T1588.007" in alert["description"]
    for action in ("action.correlationsearch.enabled", "action.notable", "action.risk"):
        assert alert[action] == "0", action
    assert alert["action.correlationsearch.label"] == alert_name
    assert json.loads(alert["action.correlationsearch.annotations"])["mitre_attack"] == ["T1588.007"]
    for key in ("rule_title", "rule_description", "security_domain", "severity", "drilldown_search"):
        assert alert[f"action.notable.param.{key}"], key
    assert alert["request.ui_dispatch_app"] == "aidetect"


@pytest.mark.parametrize("source", SOURCES)
def test_telemetry_alert_finds_its_sources_test_cases_and_names_existing_columns(source, binary, tmp_path):
    """The alert's | aidetect options over events of its source give rows, and every field the
    throttle, the notable and the risk action name is a column of those rows."""
    _, _, alert_name, kind, suppress, events, *_ = SOURCES[source]
    alert = conf("savedsearches.conf")[alert_name]
    (options,) = aidetect_options(alert["search"])
    rows = run(binary, events, [f"{k}={v}" for k, v in options.items()], tmp_path)
    assert rows, f"{alert_name}: no row for the test events"
    columns = set(rows[0])
    if kind == "proxy":
        assert {"src_ip", "user", "Requests", "AIServices", "Reasons", "RiskScore"} <= columns
    else:
        assert list(rows[0]) == ENDPOINT_COLUMNS
    named = set(suppress.split(","))
    for key, value in alert.items():
        if key.startswith(("action.notable.param.", "action.risk.param._risk_message")) and \
                not key.endswith("drilldown_search"):
            named |= set(TOKEN.findall(value))
    named |= {o["risk_object_field"] for o in json.loads(alert["action.risk.param._risk"])}
    assert named <= columns, (alert_name, sorted(named - columns))
    for row in rows:
        assert int(row["RiskScore"]) >= 40 and not row["Allowlisted"], row
        assert KEY not in json.dumps(row), "API keys are redacted by default"


def test_dashboard_definition_is_valid_json_with_existing_data_sources_and_a_coherent_grid():
    d = dashboard()
    sources, vizzes = d["dataSources"], d["visualizations"]
    for name, ds in sources.items():
        assert ds["type"] in ("ds.search", "ds.savedSearch", "ds.chain"), name
        if ds["type"] == "ds.chain":
            assert ds["options"]["extend"] in sources, name
    for name, viz in vizzes.items():
        for role, ref in viz.get("dataSources", {}).items():
            assert ref in sources, f"{name}.{role} -> {ref}"
    blocks = d["layout"]["structure"]
    items = [b["item"] for b in blocks]
    assert sorted(items) == sorted(vizzes), "every visualization is laid out once"
    boxes = [(b["item"], b["position"]) for b in blocks]
    for name, p in boxes:
        assert p["x"] >= 0 and p["y"] >= 0 and p["x"] + p["w"] <= 1200, name
    for i, (a, p) in enumerate(boxes):
        for b, q in boxes[i + 1:]:
            apart = (p["x"] + p["w"] <= q["x"] or q["x"] + q["w"] <= p["x"]
                     or p["y"] + p["h"] <= q["y"] or q["y"] + q["h"] <= p["y"])
            assert apart, f"{a} overlaps {b}"
    used = {ref for viz in vizzes.values() for ref in viz.get("dataSources", {}).values()}
    extended = {ds["options"]["extend"] for ds in sources.values() if ds["type"] == "ds.chain"}
    assert set(sources) == used | extended, "no unused data source"


@pytest.mark.parametrize("source", SOURCES)
def test_dashboard_has_a_panel_per_source_over_its_input_macro_below_the_overview(source):
    _, inp, _, kind, suppress, *_, viz_name = SOURCES[source]
    d = dashboard()
    viz = d["visualizations"][viz_name]
    assert viz["type"] == "splunk.table" and viz["title"]
    ds = d["dataSources"][viz["dataSources"]["primary"]]
    assert ds["type"] == "ds.search"
    query = ds["options"]["query"]
    assert query.startswith(f"`{inp}` | aidetect kind={kind} "), query
    assert ds["options"]["queryParameters"] == {"earliest": "-24h@h", "latest": "now"}
    assert "| sort 0 - RiskScore" in query
    table = re.search(r"\| table ([^|]+)$", query).group(1).split()
    assert {"user", "Reasons", "RiskScore", suppress.split(",")[0]} <= set(table), table
    assert "Processes" in table or kind == "proxy"
    for handler in viz.get("eventHandlers", []):
        drill = handler["options"]["query"]
        assert drill.startswith(f"`{inp}` | search "), drill
        for column in re.findall(r"\$row\.([A-Za-z_]+)\.value\$", drill):
            assert column in table, (viz_name, column)
    layout = {b["item"]: b["position"] for b in d["layout"]["structure"]}
    overview_bottom = max(p["y"] + p["h"] for item, p in layout.items()
                          if item not in {s[-1] for s in SOURCES.values()} | {"viz_telemetry"})
    assert layout[viz_name]["y"] >= overview_bottom
