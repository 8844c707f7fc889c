#!/usr/bin/env python3
"""Builds lookups/aidetect_services.csv from the research catalogue (one-off import).

The research files (ai_hosts.csv, ai_host_regexes.txt) carry provider names, host patterns,
categories, API paths and their sources. This script keeps the facts and turns them into the
lookup the app ships: one primary category from a fixed set, a risk weight, the seed flag, and
API path prefixes that a command can compare with `startswith`. Rows it cannot use are
printed on stderr with the reason (app/README.md lists them).

    python3 app/tools/import_research.py ../shared/research > lookups/aidetect_services.csv

The lookup is the source of truth once imported: edit it, then run `cargo xtask gen-macros`.
"""

import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED_QUERY = ROOT / "tests" / "data" / "seed_query.spl"

HEADER = ["provider", "pattern", "match", "category", "weight", "seed", "api_paths"]

# Risk weight of programmatic use, per category (app/README.md explains the scale).
WEIGHTS = {
    "voice_cloning_tts": 90,
    "video_avatar": 90,
    "llm_api": 70,
    "router_gateway": 70,
    "cloud_ai_platform": 60,
    "image": 60,
    "self_hosted_inference": 50,
    "speech_to_text": 50,
    "agent_backend": 50,
    "consumer_chat": 40,
    "model_hub": 40,
    "coding_assistant": 30,
    "other": 30,
    "enterprise_copilot": 20,
    "auth_telemetry": 10,
}

# The research file's first listed category decides, after the overrides in primary().
FIRST = {
    "llm-text": "llm_api",
    "multimodal": "llm_api",
    "embeddings": "llm_api",
    "rerank": "llm_api",
    "ocr": "llm_api",
    "search": "llm_api",
    "cloud-llm-platform": "cloud_ai_platform",
    "ai-multi": "cloud_ai_platform",
    "router": "router_gateway",
    "image": "image",
    "video": "video_avatar",
    "avatar": "video_avatar",
    "audio": "voice_cloning_tts",
    "audio/voice": "voice_cloning_tts",
    "music": "voice_cloning_tts",
    "dubbing": "voice_cloning_tts",
    "speech-to-text": "speech_to_text",
    "coding-assistant": "coding_assistant",
    "coding": "coding_assistant",
    "consumer-chat": "consumer_chat",
    "dev-console": "consumer_chat",
    "model-hub": "model_hub",
    "model-demo": "model_hub",
    "self-hosted-inference": "self_hosted_inference",
    "self-hosted": "self_hosted_inference",
    "enterprise-copilot": "enterprise_copilot",
    "agent-backend": "agent_backend",
    "auth": "auth_telemetry",
    "telemetry": "auth_telemetry",
    "llm-admin": "other",
}

# Speech synthesis without a documented voice-cloning API.
TTS_WITHOUT_CLONING = 70

# Rows whose weight is not their category's.
WEIGHT_OVERRIDES = {
    # A general Cloudflare API host: AI only under its /ai/ paths.
    ("api.cloudflare.com", "exact"): 20,
}

PROVIDER_OVERRIDES = {
    "Anthropic Claude Code / Claude desktop downloads & telemetry": "Anthropic",
    "Azure AI Services / Azure OpenAI": "Azure AI Services",
    "Microsoft Copilot backend": "Microsoft Copilot",
    "JetBrains AI Assistant / Junie": "JetBrains AI",
    "Zhipu": "Zhipu / Z.ai",
    "Windsurf": "Windsurf / Codeium",
    "Modal web endpoints": "Modal",
    "Poe API": "Poe",
    "Google AI Studio backend": "Google AI Studio",
}

# API path entries that are prose, not a path, with what they say as paths.
PATH_ENTRY_OVERRIDES = {
    "Connect-RPC (application/proto) e.g. api2.cursor.sh /aiserver.v1.*": ["/aiserver.v1."],
    "gRPC xai_api.* over HTTP/2": [],
    "registry.ollama.ai /v2/...": [],  # another host's paths; that host has its own row
    "(api.anthropic.com, statsig/console, downloads)": [],
}

# Regex rows: provider, category, the host row whose API paths they share, weight.
REGEX_ROWS = {
    r"^bedrock-runtime(-fips)?\.[a-z0-9-]+\.(amazonaws\.com|api\.aws|amazonaws\.com\.cn|api\.amazonwebservices\.com\.cn|amazonaws\.eu|api\.amazonwebservices\.eu)$":
        ("AWS Bedrock Runtime", "cloud_ai_platform", "bedrock-runtime.us-east-1.amazonaws.com", 60),
    r"^bedrock-agent-runtime(-fips)?\.[a-z0-9-]+\.(amazonaws\.com|api\.aws)$":
        ("AWS Bedrock Agent Runtime", "cloud_ai_platform", None, 60),
    r"^bedrock-mantle\.[a-z0-9-]+\.api\.aws$":
        ("AWS Bedrock Mantle", "cloud_ai_platform", "bedrock-mantle.us-east-1.api.aws", 60),
    r"^[a-z0-9-]+-aiplatform\.googleapis\.com$":
        ("Google Vertex AI", "cloud_ai_platform", "aiplatform.googleapis.com", 60),
    r"^aiplatform\.[a-z0-9-]+\.rep\.googleapis\.com$":
        ("Google Vertex AI", "cloud_ai_platform", "aiplatform.googleapis.com", 60),
    r"^[a-z0-9-]+\.openai\.azure\.com$":
        ("Azure OpenAI", "cloud_ai_platform", "openai.azure.com", 60),
    r"^[a-z0-9-]+\.services\.ai\.azure\.com$":
        ("Azure AI Foundry", "cloud_ai_platform", "services.ai.azure.com", 60),
    r"^[a-z0-9-]+\.[a-z0-9]+\.models\.ai\.azure\.com$":
        ("Azure AI serverless endpoints", "cloud_ai_platform", "models.ai.azure.com", 60),
    r"^[a-z0-9-]+\.[a-z0-9]+\.inference\.ml\.azure\.com$":
        ("Azure ML managed online endpoints", "self_hosted_inference", "inference.ml.azure.com", 50),
    r"^[a-z0-9-]+\.tts\.speech\.microsoft\.com$":
        ("Azure AI Speech", "voice_cloning_tts", "tts.speech.microsoft.com", 90),
    r"^polly(-fips)?\.[a-z0-9-]+\.amazonaws\.com$":
        ("AWS Polly", "voice_cloning_tts", None, TTS_WITHOUT_CLONING),
    r"^[a-z0-9-]+\.endpoints\.huggingface\.cloud$":
        ("Hugging Face Inference Endpoints", "self_hosted_inference", "endpoints.huggingface.cloud", 50),
    r"^[a-z0-9-]+\.hf\.space$":
        ("Hugging Face Spaces", "model_hub", "hf.space", 40),
}

HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def seed_hosts():
    return re.findall(r'dest_host="([^"]+)"', SEED_QUERY.read_text())


def provider_name(raw):
    name = re.sub(r"\s*\([^)]*\)", "", raw).strip()
    return PROVIDER_OVERRIDES.get(name, name)


def primary(categories):
    cats = [c.strip() for c in categories.split(";") if c.strip()]
    if "avatar" in cats:
        return "video_avatar"
    if "voice-cloning" in cats:
        return "voice_cloning_tts"
    if any(c in ("auth", "telemetry") for c in cats):
        return "auth_telemetry"
    first = re.sub(r"\s*\(.*\)$", "", cats[0])
    return FIRST[first]


def path_prefix(entry):
    """One research path entry -> a literal prefix, or None."""
    entry = re.sub(r"\s*\([^)]*\)\s*$", "", entry.strip())  # " (wss)", " (instant clone)"
    if not entry.startswith("/"):
        return None
    cut = len(entry)
    for mark in ("{", "[", "...", "*", "|", "?", " "):
        i = entry.find(mark)
        if i != -1:
            cut = min(cut, i)
    prefix = entry[:cut]
    return prefix if prefix != "/" else None


def api_paths(raw, by_host):
    raw = raw.strip()
    same = re.fullmatch(r"\(same as ([^)]+)\)", raw)
    if same:
        ref = same.group(1)
        if ref == "bedrock-runtime":
            ref = "bedrock-runtime.us-east-1.amazonaws.com"
        return api_paths(by_host[ref], by_host)
    out = []
    for entry in raw.split(";"):
        entry = entry.strip()
        if entry in PATH_ENTRY_OVERRIDES:
            candidates = PATH_ENTRY_OVERRIDES[entry]
        else:
            p = path_prefix(entry)
            candidates = [p] if p else []
        for p in candidates:
            if p not in out:
                out.append(p)
    return ";".join(out)


def main(research):
    research = Path(research)
    rows_in = list(csv.DictReader(open(research / "ai_hosts.csv", newline="")))
    by_host = {r["host_pattern"].strip().lower().lstrip("."): r["api_path_prefixes"] for r in rows_in}
    seeds = seed_hosts()
    out, seen, skipped = [], set(), []

    def add(row):
        key = (row["pattern"], row["match"])
        if key in seen:
            skipped.append((row["pattern"], "duplicate of an earlier row"))
            return
        seen.add(key)
        out.append(row)

    for r in rows_in:
        pattern = r["host_pattern"].strip().lower().rstrip(".")
        match = r["match_type"].strip().lower()
        if match == "suffix" and pattern.startswith("."):
            pattern = pattern[1:]
        if not HOSTNAME.match(pattern):
            skipped.append((r["host_pattern"], "not a host name on a label boundary"))
            continue
        category = primary(r["category"])
        weight = WEIGHTS[category]
        if category == "voice_cloning_tts" and "voice-cloning" not in r["category"]:
            weight = TTS_WITHOUT_CLONING
        add({
            "provider": provider_name(r["provider"]),
            "pattern": pattern,
            "match": match,
            "category": category,
            "weight": WEIGHT_OVERRIDES.get((pattern, match), weight),
            "seed": "true" if match == "exact" and pattern in seeds else "false",
            "api_paths": api_paths(r["api_path_prefixes"], by_host),
        })

    for host in seeds:
        if (host, "exact") not in seen:
            # The seed's own host that the research does not list (inference.azure.com).
            add({"provider": "Azure (seed list)", "pattern": host, "match": "exact",
                 "category": "cloud_ai_platform", "weight": 10, "seed": "true", "api_paths": ""})

    for line in open(research / "ai_host_regexes.txt"):
        if not line.strip() or line.startswith("#"):
            continue
        regex = line.split("\t")[0].strip()
        provider, category, paths_from, weight = REGEX_ROWS[regex]
        re.compile(regex)
        add({
            "provider": provider,
            "pattern": regex,
            "match": "regex",
            "category": category,
            "weight": weight,
            "seed": "false",
            "api_paths": api_paths(by_host[paths_from], by_host) if paths_from else "",
        })

    w = csv.DictWriter(sys.stdout, fieldnames=HEADER, lineterminator="\n")
    w.writeheader()
    w.writerows(out)
    for pattern, why in skipped:
        print(f"skipped {pattern}: {why}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/research")
