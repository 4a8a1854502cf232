//! CIFAR-10 binary batches and `batches.meta.txt` (`cifar10:DIR`). Input: two choice bytes
//! (the first: bits 0–5 gzip each batch; the second: bits 0–2 the validation count 0–7, bits
//! 3–4 the test count: all, 0, 1 or 2), then seven files separated by SEPARATOR:
//! `batches.meta.txt` (empty: absent), `data_batch_1.bin` … `data_batch_5.bin`,
//! `test_batch.bin`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softmax::data::{self, DataSpec, LoadOptions};
use softmax_fuzz::{bit, choices, scratch, split, write};

const BATCHES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

fuzz_target!(|data: &[u8]| {
    let Some(([gzip, counts], files)) = choices(data) else { return };
    let files = split(files, 1 + BATCHES.len());
    write("batches.meta.txt", files[0], false);
    for (index, (name, bytes)) in BATCHES.iter().zip(&files[1..]).enumerate() {
        write(name, bytes, bit(gzip, index as u32));
    }
    let options = LoadOptions {
        cifar_validation: usize::from(counts & 7),
        cifar_test: [None, Some(0), Some(1), Some(2)][usize::from(counts >> 3 & 3)],
        ..LoadOptions::default()
    };
    let _ = data::load(&DataSpec::Cifar10(scratch().to_path_buf()), &options);
});
