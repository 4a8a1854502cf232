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
    match tempfile::tempfile_in(folder) {
        Ok(_) => Ok(()),
        Err(err) => anyhow::bail!(
            "{option} {}: cannot write a file in the folder {}: {err}",
            path.display(),
            folder.display()
        ),
    }
}
