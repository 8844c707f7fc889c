//! What both seed test suites (`seed_rules.rs`, `seed_reference.rs`) take from
//! `seed-detection.md`, written once: the hosts, the output columns, and real user agents
//! for the browser rule.
#![allow(dead_code)]

/// The 12 hosts of the seed's base search.
pub const SEED_HOSTS: [&str; 12] = [
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
];

/// The output columns of `profile=seed`, in order.
pub const COLUMNS: [&str; 9] = [
    "src_ip",
    "user",
    "Requests",
    "TotalBytesUploaded",
    "UniqueSourceIPs",
    "AIServices",
    "EndpointPaths",
    "UserAgents",
    "MaxSuspicionScore",
];

/// A browser's user agent for each token of rule 3.
pub const BROWSER_AGENTS: [(&str, &str); 7] = [
    (
        "chrome/",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0",
    ),
    (
        "firefox/",
        "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
    ),
    (
        "safari/",
        "Mozilla/5.0 (Macintosh) Version/17.0 Safari/605.1.15",
    ),
    ("msie", "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)"),
    (
        "trident/",
        "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
    ),
    ("edg/", "Mozilla/5.0 (Windows NT 10.0) Edg/120.0.2210.91"),
    (
        "opera/",
        "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.12.388",
    ),
];

/// Electron AI apps and PowerShell's `-UserAgent [PSUserAgent]::Chrome`, `::Safari`,
/// `::InternetExplorer` and `::Opera` presets: programmatic, but they carry a browser token.
pub const BROWSER_LIKE_AGENTS: [&str; 7] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Cursor/2.4.21 Chrome/142.0.7444.235 Electron/39.2.7 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ChatGPT/26.715.72359 Chrome/148.0.7778.180 Electron/42.3.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Claude/1.24012.1 Chrome/148.0.7778.280 Electron/42.7.0 Safari/537.36 MSIX",
    "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) AppleWebKit/534.6 (KHTML, like Gecko) Chrome/7.0.500.0 Safari/534.6",
    "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) AppleWebKit/533.16 (KHTML, like Gecko) Version/5.0 Safari/533.16",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 10.0; Microsoft Windows 10.0.22631; en-US)",
    "Opera/9.70 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) Presto/2.2.1",
];

/// PowerShell's own default agents (Windows PowerShell 5.1, PowerShell 7): not browsers.
pub const POWERSHELL_AGENTS: [&str; 2] = [
    "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.1682",
    "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.6",
];

/// Paths that rule 5 counts as API endpoints: each prefix, and prefixes of longer words.
pub const API_PATHS: [&str; 14] = [
    "/v1/chat/completions",
    "/v2/generate",
    "/api/generate",
    "/generate",
    "/chat",
    "/completions",
    "/embeddings",
    "/images/generations",
    "/audio/speech",
    "/models",
    "/v1beta/models/gemini-pro:generateContent",
    "/api2",
    "/v10",
    "/chatter",
];

/// Paths that rule 5 does not count: other case, no leading `/`, not at the start.
pub const NON_API_PATHS: [&str; 11] = [
    "/V1/chat", "/Chat", "/MODELS", "v1/chat", " /v1", "//v1", "/ v1", "/health", "/", "", "/x/v1",
];

/// Hosts that rule 1 must not take for a seed host: no trimming, no port or scheme
/// stripping, no suffix or prefix matching, and case folded for ASCII letters only.
pub const LOOK_ALIKE_HOSTS: [&str; 27] = [
    "api.openai.com.evil.example",
    "xapi.openai.com",
    "api.openai.com:443",
    " api.openai.com",
    "api.openai.com ",
    "api.openai.com.",
    "api.openai.com\n",
    "openai.com",
    "chat.openai.com",
    "https://api.openai.com",
    "api.openai.com/v1",
    "api_openai.com",
    "*.openai.com",
    "apı.openai.com",    // dotless ı
    "apİ.openai.com",    // dotted İ: not ASCII, so never equal to `i`
    "ａｐｉ.openai.com", // fullwidth
    "ΑΡΙ.openai.com",    // Greek capitals
    "api.mistraI.ai",    // capital I for l
    "inference.azure.com.evil",
    "myresource.openai.azure.com",
    "api.openai.com,api.groq.com",
    "\"api.openai.com\"",
    "$api.openai.com$",
    "api.openai.com;",
    "api.openai.com\t",
    "api.openai.co",
    "api-openai.com",
];
