//! Model files (safetensors, read by `Model::load`): the header, the metadata, the tensors.
//! A model that loads then predicts two rows, to check that what was accepted is usable.
//! Input: the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::Array2;
use softmax::model::Model;
use softmax_fuzz::write;

/// Above this many features the prediction is skipped (its input would be large, not wrong).
const MAX_PREDICTED_FEATURES: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let path = write("model.safetensors", data, false);
    let Ok(model) = Model::load(&path) else { return };
    if model.n_features() <= MAX_PREDICTED_FEATURES {
        let inputs = Array2::<f32>::from_elem((2, model.n_features()), 1.0);
        let _ = model.predict(inputs.view());
    }
});
