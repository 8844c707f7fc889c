"""The app's .conf files, read by real Splunk conf parsers, and the lookups they name."""

import csv
import re
from pathlib import Path

import pytest
from addonfactory_splunk_conf_parser_lib import TABConfigParser
from ksconf.conf.parser import PARSECONF_STRICT_NC, parse_conf

ROOT = Path(__file__).resolve().parents[2]
CONF_FILES = sorted(ROOT.glob("default/*.conf")) + [ROOT / "metadata" / "default.meta"]
SHARED_SEED_SPEC = ROOT.parent / "shared" / "spec" / "seed-detection.md"
SEED_STANZA = "aidetect - T1588.007 seed search - original SPL"
CATEGORIES = {
    "llm_api", "cloud_ai_platform", "router_gateway", "voice_cloning_tts", "video_avatar",
    "image", "coding_assistant", "consumer_chat", "model_hub", "self_hosted_inference",
    "enterprise_copilot", "speech_to_text", "agent_backend", "auth_telemetry", "other",
}
HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def conf(name):
    return parse_conf(str(ROOT / "default" / name), profile=PARSECONF_STRICT_NC)


def seed_text():
    return (ROOT / "tests" / "data" / "seed_query.spl").read_text().removesuffix("\n")


def catalog():
    with open(ROOT / "lookups" / "aidetect_services.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("path", CONF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_conf_file_parses_strictly_with_ksconf(path):
    """No duplicate stanza or key, no stray line: what Splunk reads is what we wrote."""
    assert parse_conf(str(path), profile=PARSECONF_STRICT_NC)


@pytest.mark.parametrize("path", CONF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_conf_file_parses_with_the_add_on_factory_parser(path):
    parser = TABConfigParser()
    parser.read(str(path))
    assert parser.sections()


@pytest.mark.parametrize("path", CONF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_packaged_conf_file_is_the_repository_file(path, extracted):
    assert (extracted / path.relative_to(ROOT)).read_bytes() == path.read_bytes()


def test_seed_stanza_search_is_the_seed_text():
    assert conf("savedsearches.conf")[SEED_STANZA]["search"] == seed_text()


def test_seed_text_is_the_query_of_the_shared_seed_spec():
    if not SHARED_SEED_SPEC.is_file():
        pytest.skip(f"note: {SHARED_SEED_SPEC} is absent; compared with tests/data/seed_query.spl only")
    spec = SHARED_SEED_SPEC.read_text()
    query = re.search(r"## The query, verbatim.*?```\n(.*?)\n```", spec, re.S).group(1)
    assert query == seed_text()


def test_alert_is_escu_style_hourly_disabled_and_throttled_per_source_and_user():
    alert = conf("savedsearches.conf")["aidetect - Programmatic AI API access - Rule"]
    assert "| aidetect" in alert["search"]
    assert (alert["cron_schedule"], alert["dispatch.earliest_time"], alert["dispatch.latest_time"]) == (
        "0 * * * *", "-60m", "now")
    assert alert["disabled"] == "1" and alert["enableSched"] == "1"
    assert alert["alert.suppress"] == "1" and alert["alert.suppress.fields"] == "src_ip,user"
    assert alert["alert.severity"] and alert["description"]
    assert alert["action.notable"] == "0" and alert["action.risk"] == "0"


def test_dashboard_reports_exist_and_are_scheduled():
    searches = conf("savedsearches.conf")
    view = (ROOT / "default/data/ui/views/aidetect_overview.xml").read_text()
    refs = re.findall(r'"ref": "([^"]+)"', view)
    assert refs
    for ref in refs:
        assert searches[ref]["enableSched"] == "1", ref
        assert searches[ref]["dispatch.earliest_time"], ref


def test_commands_conf_declares_a_chunked_binary_without_python_or_v1_keys():
    stanza = conf("commands.conf")["aidetect"]
    assert stanza == {"chunked": "true", "filename": "aidetect"}


def test_lookups_are_defined_and_exported():
    transforms = conf("transforms.conf")
    for name in ("aidetect_services", "aidetect_allowlist"):
        assert (ROOT / "lookups" / transforms[name]["filename"]).is_file()
    meta = parse_conf(str(ROOT / "metadata" / "default.meta"), profile=PARSECONF_STRICT_NC)
    for kind in ("commands", "lookups", "transforms", "macros", "searchbnf"):
        assert meta[kind]["export"] == "system", kind
    assert "write : [ admin, sc_admin ]" in meta[""]["access"]


def test_catalog_rows_are_well_formed():
    rows = catalog()
    assert list(rows[0].keys()) == ["provider", "pattern", "match", "category", "weight", "seed", "api_paths"]
    seen = set()
    for row in rows:
        key = (row["pattern"], row["match"])
        assert key not in seen, key
        seen.add(key)
        assert row["provider"], key
        assert row["category"] in CATEGORIES, key
        assert 0 <= int(row["weight"]) <= 100, key
        assert row["seed"] in ("true", "false"), key
        if row["match"] == "regex":
            assert row["pattern"].startswith("^") and row["pattern"].endswith("$"), key
            re.compile(row["pattern"])
        else:
            assert row["match"] in ("exact", "suffix"), key
            assert HOST.match(row["pattern"]), key
        for path in filter(None, row["api_paths"].split(";")):
            assert path.startswith("/") and " " not in path, (key, path)


def test_catalog_seed_rows_are_the_seed_hosts():
    seeds = {r["pattern"] for r in catalog() if r["seed"] == "true"}
    assert seeds == set(re.findall(r'dest_host="([^"]+)"', seed_text()))
    assert len(seeds) == 12
    assert all(r["match"] == "exact" for r in catalog() if r["seed"] == "true")


def test_allowlist_has_its_header():
    assert (ROOT / "lookups" / "aidetect_allowlist.csv").read_text().splitlines()[0] == (
        "user,src,host,client,reason,expires")


def splunk_wildcard(term):
    return re.compile("^" + ".*".join(map(re.escape, term.split("*"))) + "$", re.I)


def sample_host(regex):
    """A host that the catalog regex matches: first alternatives, classes as 'a1'."""
    s = regex[1:-1]
    s = re.sub(r"\(([^()|]*)\)\?", "", s)
    s = re.sub(r"\(([^()|]*)(\|[^()]*)?\)", r"\1", s)
    s = re.sub(r"\[[^\]]*\][+*]?", "a1", s)
    return s.replace("\\.", ".")


def test_host_macro_matches_every_catalog_host_with_or_without_port():
    """The base-search macro is a superset of the catalog, so no AI event is lost on the indexers."""
    macros = conf("macros.conf")
    definition = macros["aidetect_ai_hosts(1)"]["definition"]
    terms = [splunk_wildcard(t) for t in re.findall(r'\$field\$="([^"]+)"', definition)]
    assert terms
    for row in catalog():
        if row["match"] == "exact":
            hosts = [row["pattern"]]
        elif row["match"] == "suffix":
            hosts = [row["pattern"], "x1." + row["pattern"]]
        else:
            hosts = [sample_host(row["pattern"])]
            assert re.fullmatch(row["pattern"], hosts[0]), (row["pattern"], hosts[0])
        for host in hosts:
            for seen in (host, host.upper(), host + ":443", host + "."):
                assert any(t.match(seen) for t in terms), (row["pattern"], seen)
    assert macros["aidetect_ai_hosts"]["definition"] == "`aidetect_ai_hosts(dest_host)`"
    assert macros["aidetect_filter"]["definition"] == "search *"
