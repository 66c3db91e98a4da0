//! The encoder against an independent implementation of the same model:
//! `scripts/reference_embeddings.py` (numpy, its own WordPiece) computed the
//! values below once. Needs the model folder (`scripts/fetch-model.sh`).
//! The reference is the f32 model; the int8 encoder is held to it at int8
//! tolerances (its activations are quantised per batch).

use std::path::PathBuf;

use readnext_embed::{DIM, Encoder, EncoderOptions, MODEL_NAME, ONNX_FILE, Runtime};

/// `READNEXT_MODEL`, else the workspace's `models/` folder (tests run in
/// the crate's folder).
fn model_dir() -> PathBuf {
    std::env::var_os("READNEXT_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models").join(MODEL_NAME))
}

const SENTENCES: [&str; 3] = [
    "Hegseth threatens to enter Mexico militarily",
    "Designating cartels as foreign terrorist organizations",
    "The president signed the bill into law on Tuesday.",
];

const TOKENS: [usize; 3] = [12, 10, 12];

/// The first 16 components of each reference vector.
const REFERENCE: [[f32; 16]; 3] = [
    [
        0.007918, 0.097238, -0.018250, 0.057657, 0.006558, 0.010542, -0.007329, -0.000093, -0.098453, 0.003738,
        -0.070978, -0.035435, 0.125998, 0.060506, 0.045593, -0.003700,
    ],
    [
        -0.032668, -0.026875, -0.098542, -0.081765, -0.042664, -0.003429, 0.042435, -0.007373, 0.000265, -0.002298,
        0.011136, 0.020721, 0.135499, 0.070311, 0.011007, 0.033752,
    ],
    [
        -0.009055, 0.030265, -0.016636, -0.017850, 0.009317, 0.026713, -0.015074, 0.054361, -0.052223, 0.051695,
        -0.029985, 0.047817, -0.025669, 0.011993, 0.058752, -0.017858,
    ],
];

/// Reference cosines of the pairs 0-1, 0-2, 1-2.
const COSINES: [f32; 3] = [0.250111, 0.096801, 0.078545];

fn load(runtime: Runtime) -> Encoder {
    let dir = model_dir();
    Encoder::load(&dir, EncoderOptions { runtime, ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}\n(the encoder tests need the model: run scripts/fetch-model.sh)"))
}

fn encoder() -> Encoder {
    load(Runtime::Onnx)
}

/// How far a component and a cosine may stray from the f32 reference, and
/// how close a vector embedded alone stays to itself in a batch.
fn tolerances() -> (f32, f32, f32) {
    (0.02, 0.03, 0.99)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn vectors_match_the_numpy_reference() {
    let enc = encoder();
    let (component, cosine, _) = tolerances();
    assert_eq!(enc.token_counts(&SENTENCES).unwrap(), TOKENS);
    let vecs = enc.embed(&SENTENCES).unwrap();
    for (v, r) in vecs.iter().zip(REFERENCE) {
        assert_eq!(v.len(), DIM);
        assert!((dot(v, v) - 1.0).abs() < 1e-4, "not unit length");
        for (i, (x, y)) in v.iter().zip(r).enumerate() {
            assert!((x - y).abs() < component, "component {i}: {x} vs reference {y}");
        }
    }
    let pairs = [(0, 1), (0, 2), (1, 2)];
    for ((i, j), c) in pairs.into_iter().zip(COSINES) {
        let got = dot(&vecs[i], &vecs[j]);
        assert!((got - c).abs() < cosine, "cosine {i}-{j}: {got} vs reference {c}");
    }
    // The same story in other words is closer than an unrelated sentence.
    let c = |i: usize, j: usize| dot(&vecs[i], &vecs[j]);
    assert!(c(0, 1) > c(0, 2) && c(0, 1) > c(1, 2));
}

#[test]
fn padding_and_batching_do_not_change_a_vector() {
    let enc = encoder();
    let long = "A much longer text about tariffs, trade, the border, fentanyl and the cartels that \
                traffic it, which pads every shorter text of its batch with many tokens.";
    let alone = enc.embed(&[SENTENCES[0]]).unwrap();
    let batched = enc.embed(&[long, SENTENCES[0], SENTENCES[1]]).unwrap();
    let close = tolerances().2;
    assert!(dot(&alone[0], &batched[1]) > close, "cosine {}", dot(&alone[0], &batched[1]));
    assert!(enc.embed(&[]).unwrap().is_empty());
}

#[test]
fn long_texts_are_truncated_at_the_token_limit() {
    let dir = model_dir();
    let enc = Encoder::load(&dir, EncoderOptions { max_tokens: 16, batch: 4, ..Default::default() }).unwrap();
    let text = "word ".repeat(500);
    assert_eq!(enc.token_counts(&[&text]).unwrap(), [16]);
    // The tail beyond the limit does not change the vector.
    let a = enc.embed(&[&text]).unwrap();
    let b = enc.embed(&[&format!("{text} and a different ending")]).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_missing_model_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = Encoder::load(dir.path(), EncoderOptions::default()).unwrap_err().to_string();
    assert!(err.contains("config.json") && err.contains("fetch-model"), "{err}");
}

#[test]
fn passages_pool_the_whole_text_into_one_unit_vector() {
    let enc = Encoder::load(&model_dir(), EncoderOptions { max_tokens: 16, batch: 4, ..Default::default() }).unwrap();
    let text =
        format!("{}{}", "tariffs on imports from mexico. ".repeat(6), "the baseball season opening game. ".repeat(6));
    let first = enc.embed_pooled(&[&text], 1).unwrap();
    assert_eq!(first, enc.embed(&[&text]).unwrap());
    let pooled = enc.embed_pooled(&[&text], 4).unwrap();
    assert!((dot(&pooled[0], &pooled[0]) - 1.0).abs() < 1e-5);
    // The first window holds only tariffs; pooling reaches the baseball part.
    let baseball = enc.embed(&["the baseball season opening game"]).unwrap();
    assert!(dot(&pooled[0], &baseball[0]) > dot(&first[0], &baseball[0]) + 0.05);
}

#[test]
fn the_default_is_the_int8_path() {
    assert_eq!(load(Runtime::Auto).runtime_name(), "onnxruntime int8", "scripts/fetch-model.sh installs the int8 path");
}

#[test]
fn asking_for_the_int8_path_without_its_files_names_them() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(model_dir().join(name), dir.path().join(name)).unwrap();
    }
    let opts = EncoderOptions { runtime: Runtime::Onnx, ..Default::default() };
    let err = Encoder::load(dir.path(), opts).unwrap_err().to_string();
    assert!(err.contains(ONNX_FILE) && err.contains("fetch-model"), "{err}");
    let err = Encoder::load(dir.path(), EncoderOptions::default()).unwrap_err().to_string();
    assert!(err.contains(ONNX_FILE), "{err}");
    // The removed runtime's name says what to use instead.
    let err = "candle".parse::<Runtime>().unwrap_err();
    assert!(err.contains("removed") && err.contains("onnx"), "{err}");
}

#[test]
fn a_corrupt_int8_graph_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "model.safetensors", "tokenizer.json", readnext_embed::ORT_LIBRARY] {
        std::fs::copy(model_dir().join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join(ONNX_FILE), b"not a graph").unwrap();
    let opts = EncoderOptions { runtime: Runtime::Onnx, ..Default::default() };
    let err = Encoder::load(dir.path(), opts).unwrap_err().to_string();
    assert!(err.contains(ONNX_FILE), "{err}");
    let err = Encoder::load(dir.path(), EncoderOptions::default()).unwrap_err().to_string();
    assert!(err.contains(ONNX_FILE), "{err}");
}
