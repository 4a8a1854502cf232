//! `.npz` archives (`npz:PATH`): the zip, its members' `.npy` headers and data, the array
//! names, image layouts and labels. Input: one choice byte (loader options), then the archive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softmax::data::{self, DataSpec};
use softmax_fuzz::{choices, options, write};

fuzz_target!(|data: &[u8]| {
    let Some(([options_byte], archive)) = choices(data) else { return };
    let path = write("data.npz", archive, false);
    let _ = data::load(&DataSpec::Npz(path), &options(options_byte));
});
