//! Thin entry point: see `aidetect::cli`.

fn main() {
    // A panic must never print a trace into splunkd's pipe or search.log noise: the
    // session turns it into an error reply; here it only leaves a one-line note on stderr.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("aidetect: internal error: {info}");
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(aidetect::cli::main(args));
}
