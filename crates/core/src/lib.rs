//! Core types shared by every readnext crate.
//!
//! This crate owns the vocabulary of the engine (articles, their analysis, the
//! picks of a recommendation block and their explanations, stories, and the unit-length
//! convention of embeddings) and nothing else: no IO, no parsing, no scoring. Every other crate depends on it, and it
//! depends on no other readnext crate.
#![warn(missing_docs)]

mod article;
mod bucket;
mod embedding;
mod event;
mod hash;
mod permits;
mod pick;
mod story;
mod time;

pub use article::{Analysis, Article, Entity, EntityKind, Keyphrase, MIN_TOKENS_FOR_LANG, RankInput, Term};
pub use bucket::TokenBucket;
pub use embedding::{TASTE_DECAY, add_to_taste, dot, normalize};
pub use event::{Event, EventKind, Profile, Rules, StoryRules};
pub use hash::{FastMap, FastSet, FnvHasher, fnv1a64, stable_id};
pub use permits::{Permit, Permits};
pub use pick::{Pick, Signal, Why};
pub use story::{Story, StoryEntry};
pub use time::{civil_from_days, days_from_civil, format_date, format_datetime, parse_date};

/// Errors raised by core helpers.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A date string could not be understood.
    #[error("unrecognised date {0:?} (expected YYYY-MM-DD, RFC 3339 or RFC 2822)")]
    BadDate(String),
}
