//! Atomic file writes: a failed or interrupted write never damages the file already there.
//!
//! The new file gets the permissions a plain create would give it (0o666 less the process's
//! umask, typically 0o644), not the temporary file's private 0o600, so that a report, plot or
//! model can be shared; a file that is replaced keeps its mode.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::{Error, Result};

/// Writes `path` through `write`, into a temporary file in the same folder that is renamed over
/// `path` only once everything is written and flushed. On any error the temporary file is
/// removed and an existing `path` is left as it was.
///
/// The file's mode is the existing file's, or for a new file what [`File::create`] gives.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let existing = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.permissions());
    let temporary = plain_create().tempfile_in(folder).map_err(|e| {
        let message =
            format!("cannot create a file in the folder {}: {}", folder.display(), os_cause(&e));
        Error::io(path, io::Error::new(e.kind(), message))
    })?;
    if let Some(permissions) = existing {
        // Set on the open file, where the umask does not apply: the mode is kept exactly.
        temporary.as_file().set_permissions(permissions).map_err(|e| Error::io(path, e))?;
    }
    let written = {
        let mut out = BufWriter::new(temporary.as_file());
        write(&mut out).and_then(|()| out.flush())
    };
    written.map_err(|e| Error::io(path, e))?;
    temporary.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    temporary.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The system's words for an error of tempfile's, which wraps them with the path of the
/// temporary file it could not make (a name the user never gave).
fn os_cause(err: &io::Error) -> String {
    let inner = err.get_ref().and_then(|wrapper| wrapper.source());
    let os_error = inner.and_then(|cause| cause.downcast_ref::<io::Error>()).unwrap_or(err);
    match os_error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code).to_string(),
        None => err.kind().to_string(),
    }
}

/// A temporary-file builder whose files get the mode [`File::create`] asks for (0o666; the
/// system takes the umask off it at creation). Elsewhere than Unix a file has no mode to set.
fn plain_create() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::write_atomically;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn write(path: &Path, text: &str) -> crate::Result<()> {
        write_atomically(path, |out| std::io::Write::write_all(out, text.as_bytes()))
    }

    /// A new file gets what a plain create gives under the same umask, not the temporary
    /// file's 0o600.
    #[test]
    fn a_new_file_gets_the_mode_of_a_plain_create() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.txt");
        std::fs::File::create(&plain).unwrap();
        let atomic = dir.path().join("atomic.txt");
        write(&atomic, "new").unwrap();
        assert_eq!(mode(&atomic), mode(&plain));
        assert_eq!(std::fs::read_to_string(&atomic).unwrap(), "new");
    }

    /// A replaced file keeps its mode exactly, even bits the umask would have taken off.
    #[test]
    fn a_replaced_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        for kept in [0o640, 0o666, 0o600] {
            let path = dir.path().join(format!("kept_{kept:o}.txt"));
            std::fs::write(&path, "old").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(kept)).unwrap();
            write(&path, "new").unwrap();
            assert_eq!(mode(&path), kept);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        }
    }

    /// A write that fails leaves the file there as it was, and no temporary file behind.
    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        std::fs::write(&path, "old").unwrap();
        let failed = write_atomically(&path, |_| Err(std::io::Error::other("disk full")));
        assert!(failed.unwrap_err().to_string().contains("disk full"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
