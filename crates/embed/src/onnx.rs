//! The runtime: the int8 ONNX form of the model run by ONNX Runtime.
//!
//! `scripts/fetch-model.sh` writes the graph (`model_int8.onnx`, exported
//! from the same safetensors by `scripts/export_onnx.py`, pooling and
//! normalisation included) and copies ONNX Runtime's shared library from
//! the PyPI `onnxruntime` wheel next to it. Nothing links against ONNX
//! Runtime at build time: the library is loaded when a model is, so a
//! machine without it builds readnext and runs it lexically.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

use crate::EmbedError;

/// The int8 graph in the model folder.
pub const ONNX_FILE: &str = "model_int8.onnx";

/// The ONNX Runtime library in the model folder.
pub const ORT_LIBRARY: &str = "libonnxruntime.so";

/// One process holds one ONNX Runtime environment; every session shares it.
static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

fn environment(library: &Path) -> Result<&'static Environment, EmbedError> {
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library).map_err(|e| e.to_string())?.with_name("readnext").build().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| EmbedError::BadFile { path: library.to_path_buf(), reason: reason.clone() })
}

/// The two files the fast path needs, if both are in `dir`.
pub(crate) fn files(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (graph, library) = (dir.join(ONNX_FILE), dir.join(ORT_LIBRARY));
    (graph.is_file() && library.is_file()).then_some((graph, library))
}

/// A session over the int8 graph. ONNX Runtime spreads one run over the
/// cores itself, so runs take turns.
pub(crate) struct OnnxModel {
    session: Mutex<Session>,
    graph: PathBuf,
}

impl OnnxModel {
    pub(crate) fn load(graph: &Path, library: &Path) -> Result<OnnxModel, EmbedError> {
        let env = environment(library)?;
        let bad = |e: &dyn std::fmt::Display| EmbedError::BadFile { path: graph.to_path_buf(), reason: e.to_string() };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let session = Session::builder(env)
            .map_err(|e| bad(&e))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| bad(&e))?
            .with_intra_threads(threads)
            .map_err(|e| bad(&e))?
            // Its threads would otherwise spin between the model's parallel
            // steps: on a server, that is CPU taken from the reads (a
            // quarter of the reads a second at 5 article writes a second).
            .with_intra_op_spinning(false)
            .map_err(|e| bad(&e))?
            .commit_from_file(graph)
            .map_err(|e| bad(&e))?;
        Ok(OnnxModel { session: Mutex::new(session), graph: graph.to_path_buf() })
    }

    /// Unit vectors for `n` token sequences of `len` ids each (padded).
    pub(crate) fn run(&self, ids: Vec<i64>, mask: Vec<i64>, n: usize, len: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let fail = |e: ort::Error| EmbedError::Onnx { path: self.graph.clone(), reason: e.to_string() };
        let ids = Tensor::from_array(([n, len], ids)).map_err(fail)?;
        let mask = Tensor::from_array(([n, len], mask)).map_err(fail)?;
        // A poisoned lock only means another run panicked; the session
        // itself holds no state between runs.
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run(ort::inputs!["input_ids" => ids, "attention_mask" => mask]).map_err(fail)?;
        let (shape, data) = outputs["sentence_embedding"].try_extract_tensor::<f32>().map_err(fail)?;
        let dim = shape.get(1).copied().unwrap_or(0).max(0) as usize;
        if dim == 0 || data.len() != n * dim {
            return Err(EmbedError::Onnx {
                path: self.graph.clone(),
                reason: format!("unexpected output shape {shape:?} for {n} texts"),
            });
        }
        Ok(data.chunks(dim).map(<[f32]>::to_vec).collect())
    }
}
