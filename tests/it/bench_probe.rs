//! `softmax bench --shape probe`: a linear probe on embeddings, N × 768 with 1,000 classes in
//! float32, N = 16,000 unless --n replaces it (as --d and --c replace D and C of any shape).

use softmax::bench::Shape;

use crate::common::{failure, softmax};

#[test]
fn the_probe_shape_and_its_overrides() {
    assert_eq!(Shape::Probe.dims(), (16_000, 768, 1_000));
    let out =
        softmax(&["bench", "--shape", "probe", "--n", "64", "--kernel", "auto", "--reps", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("loss+gradient pass, N=64 D=768 C=1000, float32"), "{text}");
    // `auto` is the gemm kernel for a thousand classes.
    assert!(text.lines().nth(2).unwrap().starts_with("gemm "), "{text}");
    let json = softmax(&[
        "bench", "--shape", "mnist", "--n", "50", "--c", "3", "--json", "--kernel", "fused",
    ]);
    let timing: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (timing["n"].as_u64(), timing["d"].as_u64(), timing["c"].as_u64()),
        (Some(50), Some(785), Some(3))
    );
    let stderr = failure(&["bench", "--shape", "probe", "--n", "0"]);
    assert!(stderr.contains("at least 1"), "{stderr}");
}
