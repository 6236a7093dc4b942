//! Which settings file: `--config`, else `OPENCENSUS_SETTINGS` (must exist, must not be
//! empty), else `./opencensus.toml`, else `opencensus.toml` beside the executable. Never a
//! parent directory.

use std::path::{Path, PathBuf};

use crate::environment::EnvVar;
use crate::error::{ErrorKind, Problem};
use crate::origin::Origin;

pub(super) fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// `--config`, else `OPENCENSUS_SETTINGS` (must exist, must not be empty), else
/// `./opencensus.toml`, else `opencensus.toml` beside the executable. Never a parent directory.
pub(super) fn discover(
    config: Option<PathBuf>,
    env: &[EnvVar],
    cwd: Option<PathBuf>,
    exe_dir: Option<PathBuf>,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    if let Some(path) = config {
        if !path.is_file() {
            problems.push(
                Problem::new(
                    ErrorKind::Io,
                    format!("the settings file {} does not exist", path.display()),
                )
                .help("pass the path of an existing opencensus.toml"),
            );
            return None;
        }
        return Some(path);
    }
    if let Some(var) = env.iter().rev().find(|v| v.name == "OPENCENSUS_SETTINGS") {
        let origin = Origin::env("OPENCENSUS_SETTINGS");
        match &var.value {
            Ok(v) if v.trim().is_empty() => {
                problems.push(
                    Problem::new(ErrorKind::Io, "OPENCENSUS_SETTINGS is set but empty")
                        .at(origin)
                        .help("set it to the path of a settings file, or unset it to use ./opencensus.toml"),
                );
                return None;
            }
            Ok(v) => {
                let path = PathBuf::from(v);
                if !path.is_file() {
                    problems.push(
                        Problem::new(
                            ErrorKind::Io,
                            format!("the settings file {} named by OPENCENSUS_SETTINGS does not exist", path.display()),
                        )
                        .at(origin)
                        .help("set OPENCENSUS_SETTINGS to an existing file, or unset it to use ./opencensus.toml"),
                    );
                    return None;
                }
                return Some(path);
            }
            Err(()) => {
                problems.push(
                    Problem::new(ErrorKind::Io, "OPENCENSUS_SETTINGS is not valid UTF-8")
                        .at(origin),
                );
                return None;
            }
        }
    }
    let cwd = cwd.or_else(|| std::env::current_dir().ok());
    if let Some(dir) = cwd {
        let path = dir.join("opencensus.toml");
        if path.is_file() {
            return Some(path);
        }
    }
    if let Some(dir) = exe_dir {
        let path = dir.join("opencensus.toml");
        if path.is_file() {
            return Some(path);
        }
    }
    None
}
