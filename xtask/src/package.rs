//! `cargo xtask package`: the release binary plus the app files, as `dist/aidetect-<version>.tgz`.
//!
//! The binary is linked against glibc 2.17 (RHEL/CentOS 7, the oldest Linux that Splunk
//! Enterprise supported) with cargo-zigbuild, so that one build runs on every Linux search
//! head. The archive is ustar with a single `aidetect/` folder, numeric owner 0, directories
//! 0755, files 0644 and only the binary executable: what AppInspect and Splunk Cloud accept.

use crate::{gen_macros, read};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target: x86-64 Linux, glibc symbols no newer than 2.17.
const ZIG_TARGET: &str = "x86_64-unknown-linux-gnu.2.17";
const RUST_TARGET: &str = "x86_64-unknown-linux-gnu";
/// The build tools, from PyPI, pinned to versions the project was tested with.
const PIP_TOOLS: [&str; 2] = ["cargo-zigbuild==0.24.1", "ziglang==0.17.1"];

const APP: &str = "aidetect";
/// Repository paths copied into the app, with their place in it.
const APP_FILES: [(&str, &str); 2] = [
    ("app.manifest", "app.manifest"),
    ("app/README.md", "README.md"),
];
const APP_DIRS: [&str; 5] = ["default", "metadata", "lookups", "static", "bin"];
const BINARY_IN_APP: &str = "linux_x86_64/bin/aidetect";

pub fn run(root: &Path) -> Result<(), String> {
    gen_macros(root, true)?;
    let version = cargo_version(root)?;
    check_app_versions(root, &version)?;
    let binary = build_binary(root)?;
    let entries = collect(root, &binary)?;
    let out = root.join("dist").join(format!("{APP}-{version}.tgz"));
    write_tgz(&out, &entries, source_date(root))?;
    let files = entries.iter().filter(|e| e.source.is_some()).count();
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({files} files, {} KiB)",
        out.strip_prefix(root).unwrap_or(&out).display(),
        size.div_ceil(1024)
    );
    Ok(())
}

/// `version` of the `[package]` table in the root Cargo.toml.
fn cargo_version(root: &Path) -> Result<String, String> {
    let text = read(&root.join("Cargo.toml"))?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("version") {
            let value = value.trim_start().trim_start_matches('=').trim();
            return Ok(value.trim_matches('"').to_string());
        }
    }
    Err("Cargo.toml has no [package] version".to_string())
}

/// app.conf and app.manifest must carry Cargo.toml's version (AppInspect wants them equal).
fn check_app_versions(root: &Path, version: &str) -> Result<(), String> {
    let app_conf = read(&root.join("default/app.conf"))?;
    let conf_versions: Vec<&str> = app_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("version"))
        .map(|v| v.trim_start().trim_start_matches('=').trim())
        .collect();
    let manifest: serde_json::Value = serde_json::from_str(&read(&root.join("app.manifest"))?)
        .map_err(|e| format!("app.manifest is not JSON: {e}"))?;
    let manifest_version = manifest["info"]["id"]["version"].as_str().unwrap_or("");
    if conf_versions.len() != 2
        || conf_versions.iter().any(|v| *v != version)
        || manifest_version != version
    {
        return Err(format!(
            "Cargo.toml says version {version}, default/app.conf says {conf_versions:?} and \
             app.manifest says {manifest_version:?}: make them equal"
        ));
    }
    Ok(())
}

/// PATH with the project's virtual environment first, where the build tools may live.
fn tool_path(root: &Path) -> std::ffi::OsString {
    let mut paths = vec![root.join(".venv/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

fn succeeds(program: &str, args: &[&str], path: &std::ffi::OsStr) -> bool {
    Command::new(program)
        .args(args)
        .env("PATH", path)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_checked(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// cargo-zigbuild and a zig it can use; installed into .venv from PyPI when missing.
fn ensure_zigbuild(root: &Path, path: &std::ffi::OsStr) -> Result<(), String> {
    let has_zig = || {
        succeeds("zig", &["version"], path)
            || succeeds("python3", &["-m", "ziglang", "version"], path)
    };
    if succeeds("cargo-zigbuild", &["--version"], path) && has_zig() {
        return Ok(());
    }
    println!("installing {} into .venv", PIP_TOOLS.join(" "));
    let venv = root.join(".venv");
    if !venv.join("bin/python").exists() {
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv)).map_err(|e| {
            format!(
                "{e}\ncargo xtask package needs cargo-zigbuild and zig to build a binary for glibc 2.17; \
                 install them (`pip install {}`) or install python3 with venv support",
                PIP_TOOLS.join(" ")
            )
        })?;
    }
    run_checked(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PIP_TOOLS),
    )
    .map_err(|e| format!("{e}\ncould not install cargo-zigbuild and ziglang from PyPI"))?;
    if succeeds("cargo-zigbuild", &["--version"], path) && has_zig() {
        Ok(())
    } else {
        Err(
            "cargo-zigbuild or zig still cannot be run after installing them into .venv"
                .to_string(),
        )
    }
}

fn build_binary(root: &Path) -> Result<PathBuf, String> {
    let path = tool_path(root);
    ensure_zigbuild(root, &path)?;
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if let Ok(out) = installed
        && !String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == RUST_TARGET)
    {
        run_checked(Command::new("rustup").args(["target", "add", RUST_TARGET]))?;
    }
    run_checked(
        Command::new("cargo")
            .args([
                "zigbuild",
                "--release",
                "--locked",
                "--package",
                APP,
                "--bin",
                APP,
                "--target",
                ZIG_TARGET,
            ])
            .current_dir(root)
            .env("PATH", &path),
    )?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let binary = target_dir.join(RUST_TARGET).join("release").join(APP);
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("the build did not produce {}", binary.display()))
    }
}

/// One archive member: a directory (no source) or a file.
struct Entry {
    name: String,
    source: Option<PathBuf>,
    mode: u32,
}

/// Files a Splunk app must not ship (AppInspect: no dotfiles, no local/, no local.meta).
fn excluded(name: &str) -> bool {
    name.starts_with('.')
        || name == "local"
        || name == "local.meta"
        || name == "__pycache__"
        || name.ends_with(".pyc")
        || name.ends_with('~')
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    let listing =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for item in listing {
        let item = item.map_err(|e| e.to_string())?;
        let name = item.file_name().to_string_lossy().into_owned();
        if excluded(&name) {
            continue;
        }
        let child_rel = format!("{rel}/{name}");
        let kind = item.file_type().map_err(|e| e.to_string())?;
        if kind.is_dir() {
            walk(&item.path(), &child_rel, out)?;
        } else if kind.is_file() {
            out.push((child_rel, item.path()));
        }
    }
    Ok(())
}

fn collect(root: &Path, binary: &Path) -> Result<Vec<Entry>, String> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (from, to) in APP_FILES {
        files.push((to.to_string(), root.join(from)));
    }
    for dir in APP_DIRS {
        if root.join(dir).is_dir() {
            walk(&root.join(dir), dir, &mut files)?;
        }
    }
    files.push((BINARY_IN_APP.to_string(), binary.to_path_buf()));
    let mut dirs = std::collections::BTreeSet::new();
    for (name, _) in &files {
        let mut parent = Path::new(name).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_string_lossy().into_owned());
            parent = p.parent();
        }
    }
    let mut entries = vec![Entry {
        name: format!("{APP}/"),
        source: None,
        mode: 0o755,
    }];
    entries.extend(dirs.into_iter().map(|d| Entry {
        name: format!("{APP}/{d}/"),
        source: None,
        mode: 0o755,
    }));
    files.sort();
    for (name, source) in files {
        let mode = if name == BINARY_IN_APP { 0o755 } else { 0o644 };
        entries.push(Entry {
            name: format!("{APP}/{name}"),
            source: Some(source),
            mode,
        });
    }
    Ok(entries)
}

/// The time stamp for every member: SOURCE_DATE_EPOCH, else the last commit, else now.
fn source_date(root: &Path) -> u64 {
    if let Some(t) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return t;
    }
    let commit = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(root)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok());
    commit.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

fn write_tgz(out: &Path, entries: &[Entry], mtime: u64) -> Result<(), String> {
    let dist = out.parent().expect("dist/<file>");
    std::fs::create_dir_all(dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    let partial = out.with_extension("tgz.partial");
    let file = std::fs::File::create(&partial)
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let gz = flate2::GzBuilder::new().write(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    let err = |e: std::io::Error| format!("cannot write {}: {e}", partial.display());
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_path(&entry.name).map_err(err)?;
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        match &entry.source {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_cksum();
                tar.append(&header, std::io::empty()).map_err(err)?;
            }
            Some(source) => {
                let data = std::fs::read(source)
                    .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                header.set_cksum();
                tar.append(&header, data.as_slice()).map_err(err)?;
            }
        }
    }
    let mut gz = tar.into_inner().map_err(err)?;
    gz.flush().map_err(err)?;
    gz.finish().map_err(err)?;
    std::fs::rename(&partial, out).map_err(|e| format!("cannot rename to {}: {e}", out.display()))
}
