//! Writing to standard output without panicking when the reader goes away (`| head`), errors to
//! standard error in one piece, and checking output files' places before a run.

use std::io::{self, Write};
use std::path::Path;

/// Writes `text` and a newline to standard output.
pub fn print_line(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

/// Writes "error: " and `err` with its causes to standard error in one write: standard error
/// is unbuffered, and under `mpirun` the processes' lines would otherwise interleave mid-line.
pub fn print_error(err: &anyhow::Error) {
    let line = format!("error: {err:#}\n");
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// Checks, before any work, that the folder `dir` (the value of `option`, made if missing) can
/// take files: it is a folder, or the nearest of its ancestors that exists is a folder that
/// takes new files. Nothing is created, so a run that fails leaves no empty folder behind.
pub fn check_folder_writable(option: &str, dir: &Path) -> anyhow::Result<()> {
    let existing = dir.ancestors().find(|a| a.as_os_str().is_empty() || a.exists());
    let existing = match existing {
        Some(a) if !a.as_os_str().is_empty() => a,
        _ => Path::new("."),
    };
    anyhow::ensure!(
        existing.is_dir(),
        "{option} {}: {} is not a folder",
        dir.display(),
        existing.display()
    );
    check_takes_files(option, dir, existing)
}

/// Whether `err` is a closed pipe on standard output: not an error for a command-line tool.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_err| io_err.kind() == io::ErrorKind::BrokenPipe)
}

/// Checks, before any work, that the file `path` (the value of `option`) can be written: it is
/// not a folder, and its folder exists and takes new files (an unnamed temporary file is made
/// there and dropped). A run whose output cannot be written then fails at once, not after
/// training, when its result would be lost.
pub fn check_writable(option: &str, path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(!path.is_dir(), "{option} {}: a folder, not a file", path.display());
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    check_takes_files(option, path, folder)
}

/// Checks that `folder`, where the value `path` of `option` will be written, takes new files:
/// an unnamed temporary file is made there and dropped.
fn check_takes_files(option: &str, path: &Path, folder: &Path) -> anyhow::Result<()> {
    match tempfile::tempfile_in(folder) {
        Ok(_) => Ok(()),
        Err(err) => anyhow::bail!(
            "{option} {}: cannot write a file in the folder {}: {err}",
            path.display(),
            folder.display()
        ),
    }
}
