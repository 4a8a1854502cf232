//! Atomic file writes: a failed or interrupted write never damages the file already there.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::{Error, Result};

/// Writes `path` through `write`, into a temporary file in the same folder that is renamed over
/// `path` only once everything is written and flushed. On any error the temporary file is
/// removed and an existing `path` is left as it was.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&std::fs::File>) -> io::Result<()>,
) -> Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temporary = tempfile::NamedTempFile::new_in(folder).map_err(|e| Error::io(path, e))?;
    let written = {
        let mut out = BufWriter::new(temporary.as_file());
        write(&mut out).and_then(|()| out.flush())
    };
    written.map_err(|e| Error::io(path, e))?;
    temporary.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    temporary.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
