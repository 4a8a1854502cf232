//! `.npy` files: a float matrix and integer labels (`npy:X.npy,y.npy`), each read alone and
//! as a data set. Input: one choice byte (loader options), then `X.npy`, SEPARATOR, `y.npy`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softmax::data::{self, DataSpec};
use softmax::npy;
use softmax_fuzz::{choices, options, split, write};

fuzz_target!(|data: &[u8]| {
    let Some(([options_byte], files)) = choices(data) else { return };
    let files = split(files, 2);
    let inputs = write("X.npy", files[0], false);
    let labels = write("y.npy", files[1], false);
    let _ = npy::read_matrix(&inputs);
    let _ = npy::read_labels(&labels);
    let _ = data::load(&DataSpec::Npy { inputs, labels }, &options(options_byte));
});
