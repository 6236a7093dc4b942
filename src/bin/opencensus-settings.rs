//! `opencensus-settings check [--config PATH]`: validate the settings the way
//! `init_from_settings()` would, print every effective value with its origin, exit non-zero on
//! any error. Run it in CI and deploy pipelines, like `nginx -t`.

use std::process::ExitCode;

const USAGE: &str = "usage: opencensus-settings check [--config PATH]

Loads opencensus.toml (OPENCENSUS_SETTINGS, ./opencensus.toml, or beside the executable) and the
environment exactly as init_from_settings() does, prints every effective value with its origin,
and exits 0 only when the settings are valid. Nothing is exported, no connection is made.

  --config PATH   read this settings file (overrides OPENCENSUS_SETTINGS)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut loader = opencensus_settings::Settings::loader();
    let mut iter = args.iter();
    match iter.next().map(String::as_str) {
        Some("check") => {}
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            if let Some(other) = other {
                eprintln!("error: unknown command `{other}`");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--config" | "-c" => match iter.next() {
                Some(path) => {
                    if let Some(code) = missing(path) {
                        return code;
                    }
                    loader = loader.config_file(path);
                }
                None => {
                    eprintln!("error: --config needs a path\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            s if s.starts_with("--config=") => {
                let path = &s["--config=".len()..];
                if let Some(code) = missing(path) {
                    return code;
                }
                loader = loader.config_file(path);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("error: unknown argument `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let outcome = opencensus_settings::check(loader);
    print!("{}", outcome.report);
    match outcome.error {
        None => {
            println!("ok: the settings are valid");
            ExitCode::SUCCESS
        }
        Some(err) => {
            eprintln!("\n{err}");
            ExitCode::FAILURE
        }
    }
}

/// A `--config` file that does not exist is the error, before any report (a report of the
/// defaults would only mislead).
fn missing(path: &str) -> Option<ExitCode> {
    if std::path::Path::new(path).is_file() {
        return None;
    }
    eprintln!(
        "error: the settings file {path} does not exist\n  = help: pass the path of an existing opencensus.toml"
    );
    Some(ExitCode::FAILURE)
}
