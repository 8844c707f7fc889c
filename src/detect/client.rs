//! Client classes from the user agent: AI SDKs, AI CLI agents, scripting tools, HTTP
//! libraries, Electron apps, headless and spoofed browsers, real browsers, and no agent.
//! Electron, headless and app tokens are checked before the browser test, because those
//! agents carry `Chrome/` and `Safari/` too.

use regex::{Regex, RegexSet};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientClass {
    AiSdk,
    AiCliAgent,
    AiCodingTool,
    Scripting,
    HttpLibrary,
    ElectronAiApp,
    ElectronApp,
    HeadlessBrowser,
    SpoofedBrowser,
    Browser,
    NoUserAgent,
    Other,
}

impl ClientClass {
    pub const ALL: [ClientClass; 12] = [
        ClientClass::AiSdk,
        ClientClass::AiCliAgent,
        ClientClass::AiCodingTool,
        ClientClass::Scripting,
        ClientClass::HttpLibrary,
        ClientClass::ElectronAiApp,
        ClientClass::ElectronApp,
        ClientClass::HeadlessBrowser,
        ClientClass::SpoofedBrowser,
        ClientClass::Browser,
        ClientClass::NoUserAgent,
        ClientClass::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ClientClass::AiSdk => "ai_sdk",
            ClientClass::AiCliAgent => "ai_cli_agent",
            ClientClass::AiCodingTool => "ai_coding_tool",
            ClientClass::Scripting => "scripting",
            ClientClass::HttpLibrary => "http_library",
            ClientClass::ElectronAiApp => "electron_ai_app",
            ClientClass::ElectronApp => "electron_app",
            ClientClass::HeadlessBrowser => "headless_browser",
            ClientClass::SpoofedBrowser => "spoofed_browser",
            ClientClass::Browser => "browser",
            ClientClass::NoUserAgent => "no_user_agent",
            ClientClass::Other => "other",
        }
    }

    /// The class as a reason (`client_` and its name; checked in `tests`).
    pub fn reason(self) -> &'static str {
        match self {
            ClientClass::AiSdk => "client_ai_sdk",
            ClientClass::AiCliAgent => "client_ai_cli_agent",
            ClientClass::AiCodingTool => "client_ai_coding_tool",
            ClientClass::Scripting => "client_scripting",
            ClientClass::HttpLibrary => "client_http_library",
            ClientClass::ElectronAiApp => "client_electron_ai_app",
            ClientClass::ElectronApp => "client_electron_app",
            ClientClass::HeadlessBrowser => "client_headless_browser",
            ClientClass::SpoofedBrowser => "client_spoofed_browser",
            ClientClass::Browser => "client_browser",
            ClientClass::NoUserAgent => "client_no_user_agent",
            ClientClass::Other => "client_other",
        }
    }

    /// How strongly the class points at programmatic use (part of the risk score).
    pub fn points(self) -> u32 {
        match self {
            ClientClass::AiSdk | ClientClass::AiCliAgent | ClientClass::SpoofedBrowser => 30,
            ClientClass::Scripting | ClientClass::HeadlessBrowser => 25,
            ClientClass::HttpLibrary => 20,
            ClientClass::AiCodingTool | ClientClass::NoUserAgent | ClientClass::Other => 15,
            ClientClass::ElectronAiApp | ClientClass::ElectronApp => 10,
            ClientClass::Browser => 0,
        }
    }
}

/// A classified user agent: the class and the client's name (`openai-python`, `curl`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client {
    pub class: ClientClass,
    pub name: &'static str,
}

impl Client {
    /// `class:name`, as shown in the `Clients` column.
    pub fn label(&self) -> String {
        format!("{}:{}", self.class.name(), self.name)
    }
}

/// Fingerprints in priority order (facts from the clients' own source code).
const FINGERPRINTS: &[(&str, ClientClass, &str)] = &[
    // AI command-line agents (before SDKs: some wrap an SDK).
    (
        r"^claude-cli/\d+\.\d+\.\d+ \(external, ",
        ClientClass::AiCliAgent,
        "claude-code",
    ),
    (
        r"^(codex_cli_rs|codex-tui|codex_vscode|Codex [A-Za-z]+)/\d",
        ClientClass::AiCliAgent,
        "codex-cli",
    ),
    (
        r"^GeminiCLI(-[\w-]+)?/\d",
        ClientClass::AiCliAgent,
        "gemini-cli",
    ),
    // AI coding tools.
    (
        r"^GitHubCopilotChat/\d",
        ClientClass::AiCodingTool,
        "github-copilot-chat",
    ),
    (
        r"^CloudCodeVSCode/",
        ClientClass::AiCodingTool,
        "gemini-code-assist",
    ),
    // AI SDKs.
    (
        r"^(Async)?(Azure)?OpenAI/Python \d",
        ClientClass::AiSdk,
        "openai-python",
    ),
    (
        r"^OpenAI/v1 PythonBindings/",
        ClientClass::AiSdk,
        "openai-python-legacy",
    ),
    (r"^OpenAI/JS \d", ClientClass::AiSdk, "openai-node"),
    (r"^OpenAI/Go \d", ClientClass::AiSdk, "openai-go"),
    (
        r"^OpenAIClient(Async)?Impl/Java \d",
        ClientClass::AiSdk,
        "openai-java",
    ),
    (
        r"^OpenAI/\d+\.\d+\.\d+\S* \(\.NET",
        ClientClass::AiSdk,
        "openai-dotnet",
    ),
    (
        r"azsdk-net-AI\.OpenAI/",
        ClientClass::AiSdk,
        "azure-ai-openai-dotnet",
    ),
    (r"^Semantic-Kernel", ClientClass::AiSdk, "semantic-kernel"),
    (
        r"^(Async)?Anthropic(Bedrock|Vertex)?/Python \d",
        ClientClass::AiSdk,
        "anthropic-python",
    ),
    (
        r"^Anthropic/JS \d",
        ClientClass::AiSdk,
        "anthropic-typescript",
    ),
    (r"^Anthropic/Go \d", ClientClass::AiSdk, "anthropic-go"),
    (
        r"google-genai-sdk/\d[\w.]* gl-python/",
        ClientClass::AiSdk,
        "google-genai-python",
    ),
    (
        r"google-genai-sdk/\d[\w.]* gl-node/",
        ClientClass::AiSdk,
        "google-genai-js",
    ),
    (r"genai-py/\d", ClientClass::AiSdk, "google-generativeai"),
    (
        r"langchain-google-(genai|vertexai)/\d",
        ClientClass::AiSdk,
        "langchain-google",
    ),
    (r"^litellm/\d", ClientClass::AiSdk, "litellm"),
    (r"llama[-_]index/\d", ClientClass::AiSdk, "llama-index"),
    (r"(^|\s)@?ai-sdk/", ClientClass::AiSdk, "vercel-ai-sdk"),
    (r"^cohere/\d", ClientClass::AiSdk, "cohere"),
    (
        r"^mistral-client-python/\d",
        ClientClass::AiSdk,
        "mistralai",
    ),
    (
        r"^(Async)?Groq/Python \d",
        ClientClass::AiSdk,
        "groq-python",
    ),
    (
        r"^(Async)?Cerebras/Python \d",
        ClientClass::AiSdk,
        "cerebras-python",
    ),
    (
        r"^Together/v1 PythonBindings/",
        ClientClass::AiSdk,
        "together-python",
    ),
    (
        r"^replicate-python/\d",
        ClientClass::AiSdk,
        "replicate-python",
    ),
    (r"hf_hub/\d", ClientClass::AiSdk, "huggingface-hub"),
    (r"^elevenlabs/\d", ClientClass::AiSdk, "elevenlabs"),
    (r"^cartesia-python/\d", ClientClass::AiSdk, "cartesia"),
    (r"XaiSdk/\d", ClientClass::AiSdk, "xai-sdk"),
    (
        r"api/bedrock-(runtime|agent-runtime)#",
        ClientClass::AiSdk,
        "aws-sdk-bedrock",
    ),
    // Stainless-generated JS SDKs name themselves after the (possibly minified) class.
    (
        r"^[A-Za-z_$][\w$]*/JS \d",
        ClientClass::AiSdk,
        "stainless-js-sdk",
    ),
    // Electron and headless browsers (before the browser test).
    (
        r" Claude/\d[\d.]* Chrome/.* Electron/",
        ClientClass::ElectronAiApp,
        "claude-desktop",
    ),
    (
        r" ChatGPT/\d[\d.]* Chrome/",
        ClientClass::ElectronAiApp,
        "chatgpt-desktop",
    ),
    (
        r" Cursor/\d+\.\d+\.\d+ Chrome/.* Electron/",
        ClientClass::ElectronAiApp,
        "cursor",
    ),
    (
        r" Code/\d+\.\d+\.\d+ Chrome/.* Electron/",
        ClientClass::ElectronApp,
        "vscode",
    ),
    (r" Electron/\d", ClientClass::ElectronApp, "electron"),
    (
        r"HeadlessChrome/",
        ClientClass::HeadlessBrowser,
        "headless-chrome",
    ),
    (r"PhantomJS/", ClientClass::HeadlessBrowser, "phantomjs"),
    // Scripting tools.
    (r"^curl/\d", ClientClass::Scripting, "curl"),
    (r"^Wget/\d", ClientClass::Scripting, "wget"),
    (
        r"WindowsPowerShell/\d",
        ClientClass::Scripting,
        "powershell-5",
    ),
    (r"\) PowerShell/\d", ClientClass::Scripting, "powershell-7"),
    // HTTP libraries.
    (
        r"^python-requests/\d",
        ClientClass::HttpLibrary,
        "python-requests",
    ),
    (
        r"^python-httpx/\d",
        ClientClass::HttpLibrary,
        "python-httpx",
    ),
    (
        r"^Python/\d+\.\d+ aiohttp/\d",
        ClientClass::HttpLibrary,
        "aiohttp",
    ),
    (
        r"^Python-urllib/\d",
        ClientClass::HttpLibrary,
        "python-urllib",
    ),
    (
        r"^Go-http-client/[12]\.\d",
        ClientClass::HttpLibrary,
        "go-http-client",
    ),
    (r"^okhttp/\d", ClientClass::HttpLibrary, "okhttp"),
    (r"^node$", ClientClass::HttpLibrary, "node-fetch-builtin"),
    (r"^undici$", ClientClass::HttpLibrary, "undici"),
    (r"^node-fetch", ClientClass::HttpLibrary, "node-fetch"),
    (r"^axios/\d", ClientClass::HttpLibrary, "axios"),
    (
        r"^Java-http-client/\d",
        ClientClass::HttpLibrary,
        "java-http-client",
    ),
    (r"^Java/\d", ClientClass::HttpLibrary, "java-urlconnection"),
    (r"^Bun/\d", ClientClass::HttpLibrary, "bun"),
    (r"^Boto3/\d", ClientClass::HttpLibrary, "boto3"),
    (r"^aws-sdk-", ClientClass::HttpLibrary, "aws-sdk"),
    (r"^libwww-perl/", ClientClass::HttpLibrary, "libwww-perl"),
    (
        r"^Apache-HttpClient/",
        ClientClass::HttpLibrary,
        "apache-httpclient",
    ),
];

struct Matchers {
    /// The fingerprints with ASCII classes (`\d`, `\w`, `\S`), for ASCII agents: on ASCII
    /// text they match as the Unicode classes do, and building the Unicode tables would cost
    /// more than all the agents of a search take to match. Agents are ASCII (RFC 9110); any
    /// other goes to `unicode_fingerprints`.
    set: regex::bytes::RegexSet,
    browser: Regex,
    powershell_platform: Regex,
    impossible_version: Regex,
}

fn matchers() -> &'static Matchers {
    static M: OnceLock<Matchers> = OnceLock::new();
    M.get_or_init(|| Matchers {
        set: regex::bytes::RegexSetBuilder::new(FINGERPRINTS.iter().map(|f| f.0))
            .unicode(false)
            .build()
            .expect("fingerprints compile"),
        browser: Regex::new(r"(?i)chrome/|firefox/|safari/|msie|trident/|edg/|opera/|opr/").expect("compiles"),
        // PowerShell's -UserAgent presets keep its own platform token.
        powershell_platform: Regex::new(r"Microsoft Windows \d|\(Windows NT; Windows NT ").expect("compiles"),
        // Browser versions no real browser has sent for a decade.
        impossible_version: Regex::new(r"(?i)\b(chrome|firefox)/([0-9]|[1-4][0-9])\.|^opera/9\.|version/[1-5]\.[0-9.]* safari/")
            .expect("compiles"),
    })
}

/// The fingerprints as written (Unicode classes), built only when an agent is not ASCII.
fn unicode_fingerprints() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        RegexSet::new(FINGERPRINTS.iter().map(|f| f.0)).expect("fingerprints compile")
    })
}

/// Classifies a raw user agent (`None` = absent).
pub fn classify(user_agent: Option<&[u8]>) -> Client {
    let text = match user_agent {
        None => "",
        Some(b) => std::str::from_utf8(b).unwrap_or(""),
    };
    let text = text.trim();
    if text.is_empty() || text == "-" {
        return Client {
            class: ClientClass::NoUserAgent,
            name: "none",
        };
    }
    let m = matchers();
    let fingerprint = if text.is_ascii() {
        m.set.matches(text.as_bytes()).iter().next()
    } else {
        unicode_fingerprints().matches(text).iter().next()
    };
    if let Some(i) = fingerprint {
        let (_, class, name) = FINGERPRINTS[i];
        return Client { class, name };
    }
    if m.browser.is_match(text) {
        if m.powershell_platform.is_match(text) {
            return Client {
                class: ClientClass::SpoofedBrowser,
                name: "powershell-browser-preset",
            };
        }
        if m.impossible_version.is_match(text) {
            return Client {
                class: ClientClass::SpoofedBrowser,
                name: "impossible-browser-version",
            };
        }
        return Client {
            class: ClientClass::Browser,
            name: browser_name(text),
        };
    }
    Client {
        class: ClientClass::Other,
        name: "other",
    }
}

fn browser_name(ua: &str) -> &'static str {
    let lower = ua.to_ascii_lowercase();
    if lower.contains("edg/") {
        "edge"
    } else if lower.contains("opr/") || lower.contains("opera/") {
        "opera"
    } else if lower.contains("firefox/") {
        "firefox"
    } else if lower.contains("chrome/") {
        "chrome"
    } else if lower.contains("safari/") {
        "safari"
    } else {
        "internet-explorer"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_fingerprints_match_as_the_unicode_ones_on_ascii_agents() {
        let ascii = &matchers().set;
        let unicode = unicode_fingerprints();
        let mut rng = crate::test_rng::Rng(0xa6e7_0000_5eed_0001);
        let pieces: Vec<&str> = FINGERPRINTS
            .iter()
            .map(|f| f.2)
            .chain([
                "/",
                "1",
                ".",
                " ",
                "(",
                ")",
                "-",
                "_",
                "x",
                "K",
                "s",
                "\t",
                "OpenAI",
                "python",
                "curl",
                "Go-http-client",
                "node",
                "claude-cli",
                "1.2.3",
                "(external, ",
                "٣",
                "é",
            ])
            .collect();
        let mut non_ascii = 0;
        for _ in 0..20_000 {
            let agent: String = (0..1 + rng.below(6))
                .map(|_| pieces[rng.below(pieces.len())])
                .collect();
            let want: Vec<usize> = unicode.matches(&agent).into_iter().collect();
            if agent.is_ascii() {
                let got: Vec<usize> = ascii.matches(agent.as_bytes()).into_iter().collect();
                assert_eq!(got, want, "{agent:?}");
            } else {
                non_ascii += 1;
            }
        }
        assert!(non_ascii > 1000, "{non_ascii}");
        // An agent that is not ASCII is classified by the Unicode fingerprints.
        assert_eq!(classify(Some("curl/٣".as_bytes())).name, "curl");
    }

    #[test]
    fn each_class_reason_is_client_and_its_name() {
        for c in ClientClass::ALL {
            assert_eq!(c.reason(), format!("client_{}", c.name()));
        }
    }

    fn class(ua: &str) -> (&'static str, &'static str) {
        let c = classify(Some(ua.as_bytes()));
        (c.class.name(), c.name)
    }

    #[test]
    fn ai_sdks_are_named() {
        assert_eq!(class("OpenAI/Python 1.109.1"), ("ai_sdk", "openai-python"));
        assert_eq!(
            class("AsyncAzureOpenAI/Python 1.2.0"),
            ("ai_sdk", "openai-python")
        );
        assert_eq!(
            class("Anthropic/Python 0.69.0"),
            ("ai_sdk", "anthropic-python")
        );
        assert_eq!(
            class("Anthropic/JS 0.65.0"),
            ("ai_sdk", "anthropic-typescript")
        );
        assert_eq!(
            class("google-genai-sdk/1.52.0 gl-python/3.12.3"),
            ("ai_sdk", "google-genai-python")
        );
        assert_eq!(class("t/JS 4.2.0"), ("ai_sdk", "stainless-js-sdk"));
        assert_eq!(
            class(
                "aws-sdk-js/3.1126.0 ua/2.1 os/linux lang/js md/nodejs#26 api/bedrock-runtime#3.1"
            ),
            ("ai_sdk", "aws-sdk-bedrock")
        );
    }

    #[test]
    fn cli_agents_and_coding_tools() {
        assert_eq!(
            class("claude-cli/2.1.154 (external, cli)"),
            ("ai_cli_agent", "claude-code")
        );
        assert_eq!(
            class("codex_cli_rs/0.59.0 (Ubuntu 24.04; x86_64) tmux/3.4"),
            ("ai_cli_agent", "codex-cli")
        );
        assert_eq!(
            class("GitHubCopilotChat/0.27.2"),
            ("ai_coding_tool", "github-copilot-chat")
        );
    }

    #[test]
    fn scripting_tools_including_both_powershells() {
        assert_eq!(class("curl/8.5.0"), ("scripting", "curl"));
        assert_eq!(class("Wget/1.21.4 (linux-gnu)"), ("scripting", "wget"));
        assert_eq!(
            class(
                "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803"
            ),
            ("scripting", "powershell-5")
        );
        assert_eq!(
            class(
                "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.0"
            ),
            ("scripting", "powershell-7")
        );
    }

    #[test]
    fn electron_and_headless_are_checked_before_the_browser_test() {
        let claude = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Claude/1.24012.1 Chrome/148.0.0.0 Electron/42.0.0 Safari/537.36";
        assert_eq!(class(claude), ("electron_ai_app", "claude-desktop"));
        let cursor = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Cursor/2.4.21 Chrome/142.0.0.0 Electron/39.0.0 Safari/537.36";
        assert_eq!(class(cursor), ("electron_ai_app", "cursor"));
        let code = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Code/1.105.1 Chrome/138.0.0.0 Electron/37.0.0 Safari/537.36";
        assert_eq!(class(code), ("electron_app", "vscode"));
        let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36";
        assert_eq!(class(headless), ("headless_browser", "headless-chrome"));
    }

    #[test]
    fn spoofed_browsers_are_told_from_real_ones() {
        let preset = "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) AppleWebKit/534.6 (KHTML, like Gecko) Chrome/7.0.500.0 Safari/534.6";
        assert_eq!(class(preset).0, "spoofed_browser");
        assert_eq!(
            class("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/534.6 Chrome/7.0.500.0 Safari/534.6")
                .0,
            "spoofed_browser"
        );
        assert_eq!(
            class("Mozilla/5.0 (Windows NT 6.1; rv:2.0) Gecko/20100101 Firefox/4.0").0,
            "spoofed_browser"
        );
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(class(chrome), ("browser", "chrome"));
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(class(edge), ("browser", "edge"));
        assert_eq!(
            class("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
            ("browser", "firefox")
        );
    }

    #[test]
    fn absent_and_unknown_agents() {
        assert_eq!(classify(None).class, ClientClass::NoUserAgent);
        assert_eq!(class("-").0, "no_user_agent");
        assert_eq!(class("  ").0, "no_user_agent");
        assert_eq!(class("soar-enrichment/2.1").0, "other");
    }
}
