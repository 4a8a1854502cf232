//! The `--data` argument (`DataSpec`'s parser): any text parses or is refused, and what
//! parses prints back as the same text, which parses to the same spec. Input: the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softmax::data::DataSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = text.parse::<DataSpec>() else { return };
    let printed = spec.to_string();
    assert_eq!(printed, text);
    assert_eq!(printed.parse::<DataSpec>().ok(), Some(spec));
});
