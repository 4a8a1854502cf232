//! svmlight / libsvm text, as a data set (`libsvm:PATH`) and as features for prediction
//! (under an svmlight extension, or under another name, which tries the format sniffing).
//! Input: three choice bytes (the first: bit 0 gzip, bit 1 features instead of a data set,
//! bit 2 the sniffed name, bits 4–7 loader options; then the model's feature count, u16
//! little-endian, modulo 4,096), then the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softmax::data::{self, DataSpec};
use softmax_fuzz::{bit, choices, options, write};

/// The model's feature count is taken modulo this: the dense matrix of a prediction file is
/// its rows times the model's features, which the file does not bound.
const MAX_FEATURES: u16 = 4096;

fuzz_target!(|data: &[u8]| {
    let Some(([choice, low, high], text)) = choices(data) else { return };
    let name = if bit(choice, 2) { "features.dat" } else { "data.svm" };
    let path = write(name, text, bit(choice, 0));
    if bit(choice, 1) {
        let n_features = usize::from(u16::from_le_bytes([low, high]) % MAX_FEATURES);
        let _ = data::load_features(&path, n_features);
    } else {
        let _ = data::load(&DataSpec::Libsvm(path), &options(choice >> 4));
    }
});
