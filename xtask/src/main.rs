//! Project tasks: `cargo xtask package` builds the Splunk app, `cargo xtask gen-macros`
//! regenerates the catalog-derived search macro.

mod host_filter;
mod package;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
cargo xtask <task>

TASKS:
    package          build the release binary for every Linux that Splunk runs on
                     (glibc 2.17, via cargo-zigbuild) and write dist/aidetect-<version>.tgz
    gen-macros       regenerate the aidetect_ai_hosts macro in default/macros.conf from
                     lookups/aidetect_services.csv
    gen-macros --check
                     fail when default/macros.conf is not what gen-macros would write
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["package"] => package::run(&root()),
        ["gen-macros"] => gen_macros(&root(), false),
        ["gen-macros", "--check"] => gen_macros(&root(), true),
        [] | ["help" | "-h" | "--help"] => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown task {args:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the xtask crate lives one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the repository")
        .to_path_buf()
}

pub(crate) fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes (or with `check`, compares) the generated block of default/macros.conf.
pub(crate) fn gen_macros(root: &Path, check: bool) -> Result<(), String> {
    let macros_path = root.join("default/macros.conf");
    let current = read(&macros_path)?;
    let catalog = read(&root.join("lookups/aidetect_services.csv"))?;
    let wanted = host_filter::regenerate(&current, &catalog)?;
    if wanted == current {
        if !check {
            println!("default/macros.conf is up to date");
        }
        return Ok(());
    }
    if check {
        return Err(
            "default/macros.conf does not match lookups/aidetect_services.csv: run `cargo xtask gen-macros`"
                .to_string(),
        );
    }
    std::fs::write(&macros_path, wanted)
        .map_err(|e| format!("cannot write {}: {e}", macros_path.display()))?;
    println!("wrote default/macros.conf");
    Ok(())
}
