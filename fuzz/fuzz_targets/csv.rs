//! CSV files, as a data set (`csv:PATH`, with or without `--label-column`) and as features
//! for prediction. Input: three choice bytes (the first: bit 0 gzip, bit 1 features instead
//! of a data set, bits 4–7 loader options; then the model's feature count, u16 little-endian,
//! modulo 4,096), then the label column (empty: the last), SEPARATOR, the CSV text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softmax::data::{self, DataSpec, LoadOptions};
use softmax_fuzz::{bit, choices, options, split, write};

/// The model's feature count is taken modulo this: the dense matrix of a prediction file is
/// its rows times the model's features, which the file does not bound.
const MAX_FEATURES: u16 = 4096;

fuzz_target!(|data: &[u8]| {
    let Some(([choice, low, high], rest)) = choices(data) else { return };
    let [label, text] = split(rest, 2)[..] else { return };
    let path = write("data.csv", text, bit(choice, 0));
    if bit(choice, 1) {
        let n_features = usize::from(u16::from_le_bytes([low, high]) % MAX_FEATURES);
        let _ = data::load_features(&path, n_features);
    } else {
        let csv_label = (!label.is_empty()).then(|| String::from_utf8_lossy(label).into_owned());
        let options = LoadOptions { csv_label, ..options(choice >> 4) };
        let _ = data::load(&DataSpec::Csv(path), &options);
    }
});
