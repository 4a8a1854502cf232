//! Files of fixed-size records after a header (MNIST's IDX images, CIFAR-10's batches), read a
//! run of records at a time: by offset from a plain file of exactly the length its header and
//! records make, so that a process reads only the records it keeps; or from the file's bytes
//! in memory, read whole (a gzip file, or one whose length is wrong: reading it whole is what
//! finds and names the problem).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// `count` records of `record_bytes` bytes each, after a header of `start` bytes.
pub(super) struct Records {
    path: PathBuf,
    data: Data,
    start: usize,
    record_bytes: usize,
    count: usize,
}

/// Where the records are read from.
enum Data {
    /// A plain file, checked to hold exactly the header and the records.
    File(File),
    /// The file's bytes (decompressed), the header included.
    Bytes(Vec<u8>),
}

/// The first `n` bytes of the file at `path`, with the open file and its length, when it is a
/// plain file of at least `n` bytes; `None` for a gzip file, a shorter one or one that cannot
/// be opened (reading it whole then says why).
pub(super) fn plain_head(path: &Path, n: usize) -> Option<(File, Vec<u8>, u64)> {
    let mut file = File::open(path).ok()?;
    let length = file.metadata().ok()?.len();
    let mut head = vec![0; n];
    file.read_exact(&mut head).ok()?;
    (!head.starts_with(&super::files::GZIP_MAGIC)).then_some((file, head, length))
}

impl Records {
    /// The records of the plain `file` (at `path`, `length` bytes long), when it holds exactly
    /// a `start`-byte header and `count` records of `record_bytes`; `None` otherwise.
    pub(super) fn in_file(
        path: &Path,
        (file, length): (File, u64),
        start: usize,
        (record_bytes, count): (usize, usize),
    ) -> Option<Records> {
        let expected = count.checked_mul(record_bytes)?.checked_add(start)?;
        (length == expected as u64).then(|| Records {
            path: path.to_path_buf(),
            data: Data::File(file),
            start,
            record_bytes,
            count,
        })
    }

    /// The records of a file's `bytes` in memory (its header of `start` bytes included), which
    /// hold at least `count` records of `record_bytes` after the header.
    pub(super) fn in_memory(
        path: &Path,
        bytes: Vec<u8>,
        start: usize,
        (record_bytes, count): (usize, usize),
    ) -> Records {
        debug_assert!(bytes.len() >= start + count * record_bytes);
        Records { path: path.to_path_buf(), data: Data::Bytes(bytes), start, record_bytes, count }
    }

    /// The file's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// How many records there are.
    pub(super) fn count(&self) -> usize {
        self.count
    }

    /// Appends the bytes of the records `run` (consecutive, below [`Self::count`]) to `out`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be read there (cut short since it was
    /// opened, say).
    pub(super) fn read_run(&self, run: Range<usize>, out: &mut Vec<u8>) -> Result<()> {
        assert!(run.end <= self.count, "records {run:?} of {}", self.count);
        let bytes =
            self.start + run.start * self.record_bytes..self.start + run.end * self.record_bytes;
        match &self.data {
            Data::Bytes(all) => out.extend_from_slice(&all[bytes]),
            Data::File(file) => {
                let old_len = out.len();
                out.resize(old_len + bytes.len(), 0);
                let mut file = file;
                file.seek(SeekFrom::Start(bytes.start as u64))
                    .and_then(|_| file.read_exact(&mut out[old_len..]))
                    .map_err(|e| Error::io(&self.path, e))?;
            }
        }
        Ok(())
    }
}

/// The runs of consecutive values of `indices`, in order: [3, 4, 5, 9] gives 3..6 and 9..10.
pub(super) fn runs(indices: &[usize]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut rest = indices;
    std::iter::from_fn(move || {
        let (&first, _) = rest.split_first()?;
        let length = rest.iter().enumerate().take_while(|&(k, &i)| i == first + k).count();
        rest = &rest[length..];
        Some(first..first + length)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_indices_where_they_stop_being_consecutive() {
        let runs: Vec<_> = runs(&[3, 4, 5, 9, 2, 3]).collect();
        assert_eq!(runs, [3..6, 9..10, 2..4]);
        assert_eq!(super::runs(&[]).count(), 0);
    }

    #[test]
    fn records_read_from_the_file_equal_those_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.bin");
        let bytes: Vec<u8> = (0..4 + 5 * 3).map(|b| b as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let (file, head, length) = plain_head(&path, 4).unwrap();
        assert_eq!(head, [0, 1, 2, 3]);
        let from_file = Records::in_file(&path, (file, length), 4, (3, 5)).unwrap();
        let in_memory = Records::in_memory(&path, bytes.clone(), 4, (3, 5));
        for records in [&from_file, &in_memory] {
            let mut out = vec![99];
            records.read_run(1..3, &mut out).unwrap();
            records.read_run(4..5, &mut out).unwrap();
            assert_eq!(out, [99, 7, 8, 9, 10, 11, 12, 16, 17, 18]);
        }
        let (file, _, length) = plain_head(&path, 4).unwrap();
        assert!(Records::in_file(&path, (file, length), 4, (3, 6)).is_none(), "a wrong length");
        std::fs::write(&path, [0x1f, 0x8b, 0, 0, 0]).unwrap();
        assert!(plain_head(&path, 4).is_none(), "gzip is read whole");
    }
}
