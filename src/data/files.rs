//! Reading whole files (gzip-compressed or not), finding a data set's files in its folder, and
//! checking that a binary file holds a whole number of fixed-size records.
//!
//! Every loader reads its file with one read and works on the bytes in memory: the data sets
//! this crate trains on (MNIST: 47 MB of pixels, CIFAR-10: 150 MB) fit, and one pass over a
//! byte slice is the fastest way to convert them.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::{Error, Result};

/// The two bytes every gzip stream starts with (RFC 1952).
pub(super) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The contents of `path`, decompressed when they are gzip (recognized by the gzip magic
/// bytes, whatever the file's name).
///
/// # Errors
/// A missing or unreadable file, corrupt gzip data, or an empty file (before or after
/// decompression).
pub(super) fn read(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = gunzip_if_compressed(path, bytes)?;
    if bytes.is_empty() {
        return Err(Error::file(path, "the file is empty"));
    }
    Ok(bytes)
}

/// `bytes` decompressed if they start with the gzip magic, unchanged otherwise. `path` names
/// the source in errors.
pub(super) fn gunzip_if_compressed(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    // A capacity hint only: the stream's own size field is not trusted.
    let mut plain = Vec::with_capacity(bytes.len().saturating_mul(4));
    MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut plain)
        .map_err(|e| Error::file(path, format!("corrupt gzip data: {e}")))?;
    Ok(plain)
}

/// Checks that `dir` is an existing directory.
pub(super) fn require_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else if dir.exists() {
        Err(Error::file(dir, "not a directory"))
    } else {
        Err(Error::file(dir, "directory does not exist"))
    }
}

/// The path of `name` in `dir`, or of `name.gz` when only that one exists (the plain file
/// wins when both do).
pub(super) fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let compressed = dir.join(format!("{name}.gz"));
    if compressed.is_file() {
        return Ok(compressed);
    }
    Err(Error::file(dir, format!("missing {name}(.gz)")))
}

/// Checks that `data` (a file's bytes after any header) is a whole number of records of
/// `record_bytes` each, and exactly `declared` of them when a header declares the count.
/// Returns the number of records. `item` names a record in messages ("record", "image").
pub(super) fn count_records(
    path: &Path,
    data: &[u8],
    record_bytes: usize,
    declared: Option<usize>,
    item: &str,
) -> Result<usize> {
    let whole = data.len() / record_bytes;
    let partial = data.len() % record_bytes;
    if partial != 0 && declared.is_none_or(|declared| whole < declared) {
        let message = format!(
            "file ends inside {item} {whole}: {}, {item}s are {}",
            plural(partial, "byte"),
            grouped(record_bytes)
        );
        return Err(Error::file(path, message));
    }
    match declared {
        Some(declared) if whole < declared => {
            let message = format!(
                "file ends after {}: the header declares {}",
                plural(whole, item),
                grouped(declared)
            );
            Err(Error::file(path, message))
        }
        Some(declared) if whole > declared || partial != 0 => {
            // `whole >= declared` here, so the product fits in the file's length.
            let message = format!(
                "{} after the {} the header declares",
                plural(data.len() - declared * record_bytes, "byte"),
                plural(declared, item)
            );
            Err(Error::file(path, message))
        }
        _ => Ok(whole),
    }
}

/// `n` and `word`, plural unless `n` is 1: `1 image`, `60,000 images`.
pub(super) fn plural(n: usize, word: &str) -> String {
    match n {
        1 => format!("1 {word}"),
        _ => format!("{} {word}s", grouped(n)),
    }
}

/// `n` with thousands separators: `60,000`.
pub(crate) fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_inserts_separators_every_three_digits() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(3073), "3,073");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn count_records_names_the_partial_record() {
        let path = Path::new("f.bin");
        assert_eq!(count_records(path, &[0; 12], 4, None, "record").unwrap(), 3);
        let error = count_records(path, &[0; 14], 4, None, "record").unwrap_err().to_string();
        assert_eq!(error, "f.bin: file ends inside record 3: 2 bytes, records are 4");
        let error = count_records(path, &[0; 8], 4, Some(3), "image").unwrap_err().to_string();
        assert_eq!(error, "f.bin: file ends after 2 images: the header declares 3");
        let error = count_records(path, &[0; 13], 4, Some(3), "image").unwrap_err().to_string();
        assert_eq!(error, "f.bin: 1 byte after the 3 images the header declares");
    }
}
