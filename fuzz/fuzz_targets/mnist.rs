//! MNIST IDX files (`mnist:DIR`), plain and gzipped. Input: a choice byte (bits 0–3: gzip
//! each file; bits 4–7: loader options), then the four files separated by SEPARATOR:
//! train images, train labels, t10k images, t10k labels. An input file that is itself gzip
//! data (a seed from the fixtures) is read as such, so corrupt gzip streams are fuzzed too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softmax::data::{self, DataSpec};
use softmax_fuzz::{bit, choices, options, scratch, split, write};

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fuzz_target!(|data: &[u8]| {
    let Some(([choice], files)) = choices(data) else { return };
    for (index, (name, bytes)) in FILES.iter().zip(split(files, FILES.len())).enumerate() {
        write(name, bytes, bit(choice, index as u32));
    }
    let _ = data::load(&DataSpec::Mnist(scratch().to_path_buf()), &options(choice >> 4));
});
