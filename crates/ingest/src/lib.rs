//! Formats to articles: every input readnext accepts is turned into
//! [`readnext_core::Article`]s here, with a diagnostic for whatever cannot be.
//!
//! The crate reads files and parses them; it never stores anything. A bad
//! file is an [`IngestError`] naming the file and the reason; a bad line of a
//! JSON Lines file is an [`ItemError`] naming the line, and the other lines
//! still come through.
#![warn(missing_docs)]

mod bbc;
mod detect;
mod events;
mod feed;
mod html;
mod jsonl;
mod markdown;
mod page;
mod text;
mod walk;

use std::path::{Path, PathBuf};

pub use detect::detect;
pub use events::{FieldError, MAX_ID_CHARS, parse_event};
pub use jsonl::JsonArticle;
pub use page::parse_page;
pub use walk::collect_files;

use readnext_core::Article;

/// Default size limit of one input file: 50 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 50 * 1024 * 1024;

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decide per file (see [`detect`]).
    Auto,
    /// Plain-text article page: headline, dek, caption, body, subheads, RECOMMENDATION block.
    Page,
    /// Markdown, with or without YAML front matter.
    Markdown,
    /// JSON Lines, one article per line ([`JsonArticle`]).
    Jsonl,
    /// BBC text layout: headline on line 1, then the body.
    Bbc,
    /// A saved article web page.
    Html,
    /// RSS 2.0 or Atom feed, one article per entry.
    Feed,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Page => "page",
            Format::Markdown => "markdown",
            Format::Jsonl => "jsonl",
            Format::Bbc => "bbc",
            Format::Html => "html",
            Format::Feed => "feed",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = IngestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Format::Auto,
            "page" => Format::Page,
            "markdown" | "md" => Format::Markdown,
            "jsonl" => Format::Jsonl,
            "bbc" => Format::Bbc,
            "html" => Format::Html,
            "feed" | "rss" | "atom" => Format::Feed,
            other => return Err(IngestError::UnknownFormat(other.to_string())),
        })
    }
}

/// Why a whole file could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The format name is not one readnext knows.
    #[error("unknown format {0:?} (expected auto, page, markdown, jsonl, bbc, html or feed)")]
    UnknownFormat(String),
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than the configured limit.
    #[error("{path}: {size} bytes is over the size limit of {limit} bytes (raise it with --max-bytes)")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file is empty or only white space.
    #[error("{path}: empty file")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file holds binary data.
    #[error("{path}: binary file (NUL byte at offset {offset}), not an article")]
    Binary {
        /// The file.
        path: PathBuf,
        /// Where the first NUL byte is.
        offset: usize,
    },
    /// The file is not valid UTF-8.
    #[error("{path}:{line}: invalid UTF-8 (byte offset {offset})")]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first bad byte.
        line: usize,
        /// Byte offset of the first bad byte.
        offset: usize,
    },
    /// The content does not fit the format.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line where the problem is (1 when the whole file is at fault).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Auto-detection could not tell the format.
    #[error("{path}: cannot tell the format (use --format)")]
    UnknownContent {
        /// The file.
        path: PathBuf,
    },
}

/// One bad item inside an otherwise readable file (a JSON Lines line, a feed entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// 1-based line (or entry number for feeds).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// What one file yielded.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The format used.
    pub format: Format,
    /// The articles, in file order.
    pub articles: Vec<Article>,
    /// Items that failed; the others are in `articles`.
    pub errors: Vec<ItemError>,
}

/// Options for reading files.
#[derive(Debug, Clone)]
pub struct Options {
    /// The format, or [`Format::Auto`].
    pub format: Format,
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { format: Format::Auto, max_bytes: DEFAULT_MAX_BYTES }
    }
}

/// Reads and parses one file. `root` is the folder or file the user named,
/// used to name the source of articles that have no URL.
pub fn read_file(path: &Path, root: &Path, opts: &Options) -> Result<Parsed, IngestError> {
    let io = |source| IngestError::Io { path: path.to_path_buf(), source };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > opts.max_bytes {
        return Err(IngestError::TooLarge { path: path.to_path_buf(), size, limit: opts.max_bytes });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    parse_bytes(path, root, &bytes, opts.format)
}

/// Parses the bytes of one file (already read).
pub fn parse_bytes(path: &Path, root: &Path, bytes: &[u8], format: Format) -> Result<Parsed, IngestError> {
    let text = text::decode(path, bytes)?;
    if text.trim().is_empty() {
        return Err(IngestError::Empty { path: path.to_path_buf() });
    }
    let format = match format {
        Format::Auto => detect(path, text).ok_or_else(|| IngestError::UnknownContent { path: path.to_path_buf() })?,
        f => f,
    };
    let ctx = Context { path, source: source_name(root), section: section_from_path(path) };
    let (articles, errors) = match format {
        Format::Page => (vec![page::parse(&ctx, text)?], vec![]),
        Format::Markdown => (vec![markdown::parse(&ctx, text)?], vec![]),
        Format::Bbc => (vec![bbc::parse(&ctx, text)?], vec![]),
        Format::Jsonl => jsonl::parse(&ctx, text),
        Format::Html => (vec![html::parse(&ctx, text)?], vec![]),
        Format::Feed => feed::parse(&ctx, text)?,
        Format::Auto => unreachable_auto(path)?,
    };
    Ok(Parsed { format, articles, errors })
}

// `detect` never answers Auto; this keeps the match total without a panic.
fn unreachable_auto(path: &Path) -> Result<(Vec<Article>, Vec<ItemError>), IngestError> {
    Err(IngestError::UnknownContent { path: path.to_path_buf() })
}

/// What a parser knows about the file besides its text.
pub(crate) struct Context<'a> {
    pub path: &'a Path,
    pub source: Option<String>,
    pub section: Option<String>,
}

impl Context<'_> {
    pub(crate) fn malformed(&self, line: usize, message: impl Into<String>) -> IngestError {
        IngestError::Malformed { path: self.path.to_path_buf(), line, message: message.into() }
    }

    /// Fills the fields every format derives the same way.
    pub(crate) fn finish(&self, mut a: Article) -> Article {
        if a.source.is_none() {
            a.source = a.url.as_deref().and_then(host).or_else(|| self.source.clone());
        }
        if a.section.is_none() {
            a.section = self.section.clone();
        }
        if a.published.is_none() {
            a.published = date_from_name(self.path);
        }
        a.id = readnext_core::stable_id(Some(&a.id), a.url.as_deref(), &a.title, &a.body);
        a
    }
}

/// The host of a URL, without `www.`.
pub fn host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let h = rest.split(['/', '?', '#']).next()?.trim_start_matches("www.");
    (!h.is_empty()).then(|| h.to_lowercase())
}

fn source_name(root: &Path) -> Option<String> {
    let name = if root.is_dir() { root.file_name() } else { root.parent().and_then(Path::file_name) };
    name.map(|n| n.to_string_lossy().into_owned()).filter(|n| !n.is_empty() && n != "." && n != "..")
}

/// The section of a file: its folder's name, skipping date folders (`2025-02`).
fn section_from_path(path: &Path) -> Option<String> {
    let mut dir = path.parent();
    while let Some(d) = dir {
        let name = d.file_name()?.to_string_lossy();
        if !name.chars().all(|c| c.is_ascii_digit() || c == '-') {
            return Some(name.into_owned());
        }
        dir = d.parent();
    }
    None
}

/// A `YYYY-MM-DD` at the start of the file name, as in `2019-01-03.md`.
fn date_from_name(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    readnext_core::parse_date(name.get(..10)?).ok()
}

#[cfg(test)]
mod tests;
