//! CIFAR-10 (Krizhevsky, 2009: "Learning Multiple Layers of Features from Tiny Images"), binary
//! version: `data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin` (each plain or `.gz`)
//! and `batches.meta.txt`.
//!
//! A batch file is a sequence of [`RECORD_BYTES`] = 3,073-byte records: one label byte, then
//! the 32×32 image as 1,024 red, 1,024 green and 1,024 blue bytes, each plane row by row — the
//! channel-major order of [`ImageShape`]. The released files hold 10,000 records each; any
//! whole number of records is accepted. `batches.meta.txt` names the classes, one per line in
//! label order (blank lines ignored); without it the ten standard names are used.
//!
//! The split is CS231n's: validation = the last [`LoadOptions::cifar_validation`] training
//! records (1,000 by default), train = the ones before, test = `test_batch` (or its first
//! [`LoadOptions::cifar_test`] records). Sample weights ([`LoadOptions::sample_weights`]) are
//! one per training record of the five batches, and go with their records.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use ndarray::Array2;

use super::files::{self, grouped, plural};
use super::records::{self, Records};
use super::{Dataset, ImageShape, LoadOptions, Splits, weights};
use crate::{Error, Result, distributed};

/// The image of a record: 3 channels of 32×32.
const IMAGE_SHAPE: ImageShape = ImageShape { channels: 3, height: 32, width: 32 };
/// Bytes of a record's image: 3·32·32 = 3,072.
const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of a record: the label byte and the image.
const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// The class names when `batches.meta.txt` is missing, in label order.
const CLASS_NAMES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
const TEST_FILE: &str = "test_batch.bin";
const META_FILE: &str = "batches.meta.txt";

/// The training records (train, then validation) and the test records: in a group of
/// processes, only this process's share of each is read (see [`super::load`]).
pub(super) fn load(dir: &Path, options: &LoadOptions) -> Result<Splits> {
    files::require_dir(dir)?;
    let class_names = read_class_names(dir)?;
    let batches =
        TRAIN_FILES.iter().map(|name| open_batch(dir, name)).collect::<Result<Vec<_>>>()?;
    let n_records: usize = batches.iter().map(Records::count).sum();
    let n_validation = options.cifar_validation;
    if n_validation >= n_records {
        let message = format!(
            "cannot hold out {} for validation: the training batches hold only {}",
            plural(n_validation, "record"),
            plural(n_records, "record")
        );
        return Err(Error::file(dir, message));
    }
    let n_train = n_records - n_validation;
    let source = format!("CIFAR-10 from {}", dir.display());
    let sample_weights = weights::for_rows(options, n_records, &source)?;
    let read = |records: Range<usize>| {
        let weights = sample_weights.as_ref().map(|weights| weights[records.clone()].to_vec());
        let data = decode(&batches, records, &class_names)?;
        Ok::<_, Error>(Dataset { sample_weights: weights, ..data })
    };
    let train = read(distributed::training_rows(n_train))?;
    let validation = (n_validation > 0)
        .then(|| {
            let share = distributed::held_out_rows(n_validation);
            read(n_train + share.start..n_train + share.end)
        })
        .transpose()?;
    drop(batches);
    let test = match options.cifar_test {
        Some(0) => None,
        wanted => {
            let batch = open_batch(dir, TEST_FILE)?;
            let available = batch.count();
            let n_test = wanted.unwrap_or(available);
            if n_test > available {
                let message = format!(
                    "{} asked for the test set, but the file holds {}",
                    grouped(n_test),
                    plural(available, "record")
                );
                return Err(Error::file(batch.path(), message));
            }
            let share = distributed::held_out_rows(n_test);
            Some((n_test, decode(&[batch], share, &class_names)?))
        }
    };
    let validation_origin = format!("the last {} training records", grouped(n_validation));
    let test_origin = match options.cifar_test {
        Some(n_test) => format!("the first {} of {TEST_FILE}", grouped(n_test)),
        None => TEST_FILE.to_string(),
    };
    let description = super::describe(
        &source,
        n_train,
        (n_validation > 0).then_some((n_validation, validation_origin.as_str())),
        test.as_ref().map(|(n_test, _)| (*n_test, test_origin.as_str())),
    );
    Ok(Splits { train, validation, test: test.map(|(_, test)| test), description })
}

/// The class names of `batches.meta.txt`, or the standard ones when it is missing.
fn read_class_names(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(META_FILE);
    if !path.exists() {
        return Ok(CLASS_NAMES.map(String::from).to_vec());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let names: Vec<String> =
        text.lines().map(str::trim).filter(|line| !line.is_empty()).map(String::from).collect();
    if names.is_empty() {
        return Err(Error::file(path, "no class names: expected one per line"));
    }
    let mut seen = HashSet::with_capacity(names.len());
    if let Some(name) = names.iter().find(|&name| !seen.insert(name)) {
        return Err(Error::file(&path, format!("class name '{name}' appears twice")));
    }
    Ok(names)
}

/// The records of batch file `name` in `dir`: by offset when it is a plain file of whole
/// records, else read whole (which names what is wrong with it).
fn open_batch(dir: &Path, name: &str) -> Result<Records> {
    let path = files::find(dir, name)?;
    if let Some((file, _, length)) = records::plain_head(&path, 2)
        && let Some(records) = Records::in_file(
            &path,
            (file, length),
            0,
            (RECORD_BYTES, length as usize / RECORD_BYTES),
        )
    {
        return Ok(records);
    }
    let bytes = files::read(&path)?;
    let count = files::count_records(&path, &bytes, RECORD_BYTES, None, "record")?;
    Ok(Records::in_memory(&path, bytes, 0, (RECORD_BYTES, count)))
}

/// The records `range` of the batches taken as one sequence, one row of pixels (0–255) each.
fn decode(batches: &[Records], range: Range<usize>, class_names: &[String]) -> Result<Dataset> {
    let n_samples = range.len();
    let mut inputs = Vec::with_capacity(n_samples * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(n_samples);
    let mut bytes = Vec::new();
    let mut first = 0; // the first record of `batch` in the sequence
    for batch in batches {
        let (start, end) = (range.start.max(first), range.end.min(first + batch.count()));
        let mine = start.saturating_sub(first)..end.saturating_sub(first); // in the batch
        first += batch.count();
        if mine.is_empty() {
            continue;
        }
        bytes.clear();
        batch.read_run(mine.clone(), &mut bytes)?;
        for (index, record) in mine.zip(bytes.chunks_exact(RECORD_BYTES)) {
            let label = usize::from(record[0]);
            if label >= class_names.len() {
                let message = format!(
                    "label {label} at record {index} is out of range: there are {} class names",
                    class_names.len()
                );
                return Err(Error::file(batch.path(), message));
            }
            labels.push(label);
            inputs.extend(record[1..].iter().map(|&pixel| f32::from(pixel)));
        }
    }
    let inputs = Array2::from_shape_vec((n_samples, IMAGE_BYTES), inputs).map_err(|e| {
        let path = batches.first().map_or(Path::new(""), Records::path);
        Error::file(path, format!("records do not fit: {e}"))
    })?;
    Ok(Dataset {
        inputs,
        labels,
        sample_weights: None,
        class_names: class_names.to_vec(),
        feature_names: None,
        image_shape: Some(IMAGE_SHAPE),
    })
}
