#!/usr/bin/env python3
"""The seed detection written the way a Splunk user would write it with splunklib.

A reporting command (splunk-sdk 2.1.1, `ReportingCommand.reduce`) that computes what
`| aidetect profile=seed` computes: the rules of the seed search, `stats ... by src_ip,
user`, the filter and the sort. The benchmark drives it through the same pipe as aidetect
and compares the two outputs row for row.

splunklib calls reduce() once per execute chunk, so the groups live on the command and the
rows are produced on the chunk marked finished (the usual way to aggregate across chunks).
"""

import re
import sys

from splunklib.searchcommands import Configuration, ReportingCommand, dispatch

SEED_HOSTS = {
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "api.cohere.ai",
    "api-inference.huggingface.co",
    "api.mistral.ai",
    "api.together.xyz",
    "api.groq.com",
    "api.perplexity.ai",
    "api.replicate.com",
    "api.stability.ai",
    "inference.azure.com",
}
BROWSER = re.compile(r"(chrome/|firefox/|safari/|msie|trident/|edg/|opera/)")
API_PATH = re.compile(r"^/(v1|v2|api|generate|chat|completions|embeddings|images|audio|models)")
NUMBER = re.compile(r"^[ \t\n\x0c\r]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[ \t\n\x0c\r]*$")
COLUMNS = [
    "src_ip",
    "user",
    "Requests",
    "TotalBytesUploaded",
    "UniqueSourceIPs",
    "AIServices",
    "EndpointPaths",
    "UserAgents",
    "MaxSuspicionScore",
]


def values(record, name):
    """The non-null values of a field (a multivalue field arrives as a list)."""
    v = record.get(name)
    if v is None:
        return []
    if isinstance(v, list):
        return [x for x in v if x]
    return [v] if v else []


def coalesce(record, *names):
    for name in names:
        v = values(record, name)
        if v:
            return v[0]
    return None


def tonumber(text):
    if NUMBER.match(text) is None:
        return None
    x = float(text)
    return x if x not in (float("inf"), float("-inf")) else None


def number(x):
    if x is None:
        return None
    return int(x) if x == int(x) else x


def listed(items):
    items = sorted(items, key=lambda s: s.encode("utf-8"))
    if not items:
        return None
    return items[0] if len(items) == 1 else items


@Configuration(
    required_fields=[
        "dest_host",
        "http_user_agent",
        "cs_user_agent",
        "bytes_out",
        "cs_bytes",
        "uri_path",
        "cs_uri_stem",
        "http_method",
        "cs_method",
        "src_ip",
        "user",
    ]
)
class SeedCommand(ReportingCommand):
    def __init__(self):
        super().__init__()
        self.groups = {}

    def reduce(self, records):
        groups = self.groups
        for r in records:
            hosts = values(r, "dest_host")
            if not any(h.isascii() and h.lower() in SEED_HOSTS for h in hosts):
                continue
            ua = (coalesce(r, "http_user_agent", "cs_user_agent") or "unknown").lower()
            if BROWSER.search(ua):
                continue
            raw = coalesce(r, "bytes_out", "cs_bytes")
            uploaded = 0.0 if raw is None else tonumber(raw)
            path = coalesce(r, "uri_path", "cs_uri_stem") or ""
            method = (coalesce(r, "http_method", "cs_method") or "UNKNOWN").upper()
            score = (
                (1 if API_PATH.match(path) else 0)
                + (1 if method == "POST" else 0)
                + (1 if uploaded is not None and uploaded > 50000 else 0)
            )
            for src in values(r, "src_ip"):
                for user in values(r, "user"):
                    g = groups.get((src, user))
                    if g is None:
                        g = groups[(src, user)] = [0, None, set(), set(), set(), 0]
                    g[0] += 1
                    if uploaded is not None:
                        g[1] = (g[1] or 0.0) + uploaded
                    g[2].update(hosts)
                    g[3].update(values(r, "uri_path"))
                    g[4].add(ua)
                    g[5] = max(g[5], score)
        if not self.metadata.finished:
            return
        rows = [(k, g) for k, g in groups.items() if g[0] > 0 and g[5] >= 1]
        rows.sort(key=lambda kg: (kg[0][0].encode("utf-8"), kg[0][1].encode("utf-8")))
        rows.sort(key=lambda kg: (kg[1][1] is None, -(kg[1][1] or 0.0)))
        for (src, user), g in rows[:10000]:
            yield dict(
                zip(
                    COLUMNS,
                    [
                        src,
                        user,
                        g[0],
                        number(g[1]),
                        1,
                        listed(g[2]),
                        listed(g[3]),
                        listed(g[4]),
                        g[5],
                    ],
                )
            )


dispatch(SeedCommand, sys.argv, sys.stdin, sys.stdout, __name__)
