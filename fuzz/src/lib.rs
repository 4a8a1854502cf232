//! What the fuzz targets share: the files of one fuzz input, written to a scratch folder, and
//! the loader options its first bytes choose.
//!
//! The loaders read paths, so each target writes the input's files to a folder made once per
//! process and overwrites them on every run. An input that stands for several files holds them
//! one after the other, separated by [`SEPARATOR`] (`fuzz/make_corpus.py` writes the seeds in
//! this form, and `fuzz/fuzz.dict` gives the fuzzer the separator as a word to insert).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flate2::Compression;
use flate2::write::GzEncoder;
use softmax::data::LoadOptions;

/// Separates the files of one input.
pub const SEPARATOR: &[u8] = b"--8<--";

/// The first `n` files of `data` (split at [`SEPARATOR`]): missing ones are empty, and the
/// last keeps any further separators.
pub fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = data;
    while parts.len() + 1 < n {
        match rest.windows(SEPARATOR.len()).position(|window| window == SEPARATOR) {
            Some(at) => {
                parts.push(&rest[..at]);
                rest = &rest[at + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts.resize(n, &[]);
    parts
}

/// The first `N` bytes of `data` (the target's choices) and the rest; `None` when shorter.
pub fn choices<const N: usize>(data: &[u8]) -> Option<([u8; N], &[u8])> {
    let (head, rest) = data.split_first_chunk::<N>()?;
    Some((*head, rest))
}

/// This process's scratch folder, made on first use (and left behind: statics are not
/// dropped).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new().prefix("softmax-fuzz-").tempdir().expect("a scratch folder")
    })
    .path()
}

/// Writes `bytes` (gzip-compressed when `gzip`) to `name` in the scratch folder and returns
/// its path. Empty `bytes` remove the file instead, so that inputs also reach "missing file".
pub fn write(name: &str, bytes: &[u8], gzip: bool) -> PathBuf {
    let path = scratch().join(name);
    if bytes.is_empty() {
        let _ = std::fs::remove_file(&path);
        return path;
    }
    let contents = if gzip {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).expect("gzip into memory");
        encoder.finish().expect("gzip into memory")
    } else {
        bytes.to_vec()
    };
    std::fs::write(&path, contents).expect("a file in the scratch folder");
    path
}

/// Loader options from one byte: a validation fraction of 0 to 0.9 (low 4 bits, modulo 10),
/// and the seed (the whole byte). CIFAR-10's counts are set by its target.
pub fn options(byte: u8) -> LoadOptions {
    LoadOptions {
        val_fraction: f64::from(byte % 16 % 10) / 10.0,
        seed: u64::from(byte),
        ..LoadOptions::default()
    }
}

/// Whether bit `bit` of `byte` is set.
pub fn bit(byte: u8, bit: u32) -> bool {
    byte >> bit & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_pads_and_keeps_extra_separators_in_the_last_part() {
        assert_eq!(split(b"a--8<--b--8<--c", 2), [&b"a"[..], b"b--8<--c"]);
        assert_eq!(split(b"a", 3), [&b"a"[..], b"", b""]);
        assert_eq!(split(b"--8<--", 2), [&b""[..], b""]);
    }
}
