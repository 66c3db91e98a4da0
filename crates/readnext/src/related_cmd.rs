//! `readnext related`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use readnext_index::Filter;
use readnext_ingest::{Format, parse_bytes};
use readnext_recommend::RelatedOptions;
use readnext_render::{Block, BlockQuery};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    Text,
    Json,
    Html,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["id", "file"])))]
pub struct RelatedArgs {
    /// A stored article's id.
    #[arg(long)]
    id: Option<String>,
    /// An article page file (any ingest format), analysed on the fly and not stored.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Number of picks.
    #[arg(short, long, default_value_t = 8)]
    k: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
    /// Only picks in this language (ISO 639-1).
    #[arg(long)]
    lang: Option<String>,
    /// Only picks published on or after this date (YYYY-MM-DD).
    #[arg(long)]
    since: Option<String>,
    /// Only picks from this section.
    #[arg(long)]
    section: Option<String>,
    /// Weight of closeness in time to the query article (0 turns it off).
    #[arg(long, default_value_t = RelatedOptions::default().recency_weight)]
    recency_weight: f32,
    /// Time scale of the recency decay, in days.
    #[arg(long, default_value_t = RelatedOptions::default().recency_days)]
    recency_days: f32,
    /// Diversity trade-off (1 = relevance only).
    #[arg(long, default_value_t = RelatedOptions::default().mmr_lambda)]
    mmr_lambda: f32,
    /// Pseudo-relevance feedback weight (0 turns it off).
    #[arg(long, default_value_t = RelatedOptions::default().feedback)]
    feedback: f32,
    /// Print the story so far first, then related background from outside it.
    #[arg(long)]
    story: bool,
    /// Pivoted length normalisation slope (1 = plain cosine).
    #[arg(long, default_value_t = RelatedOptions::default().length_slope)]
    length_slope: f32,
}

pub fn run(store: &Path, model: &crate::ModelArgs, args: RelatedArgs) -> anyhow::Result<ExitCode> {
    let engine = crate::open_with_model(store, model)?;
    let mut page = None;
    let query = match (&args.id, &args.file) {
        (Some(id), _) => engine.query_for_id(id)?,
        (None, Some(file)) => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let parsed = parse_bytes(file, file, &bytes, Format::Auto)?;
            let Some(article) = parsed.articles.into_iter().next() else {
                bail!("{}: no article found", file.display());
            };
            let q = engine.query_for_article(&article, false)?;
            page = Some(article);
            q
        }
        (None, None) => bail!("give --id or --file"),
    };
    let since = match &args.since {
        Some(s) => Some(readnext_core::parse_date(s).context("--since")?),
        None => None,
    };
    let opts = RelatedOptions {
        k: args.k,
        filter: Filter { lang: args.lang, since, section: args.section, until: None },
        recency_weight: args.recency_weight,
        recency_days: args.recency_days,
        mmr_lambda: args.mmr_lambda,
        feedback: args.feedback,
        length_slope: args.length_slope,
        ..Default::default()
    };
    let now = readnext_recommend::now_ms();
    let (story, mut picks) = if args.story {
        engine.story_block(&query, page.as_ref(), &opts, now)?
    } else {
        (None, engine.related(&query, &opts)?)
    };
    if let Some(id) = &query.id {
        engine.mark_story(id, &mut picks)?;
    }
    let block = Block { query: BlockQuery { id: query.id.clone(), title: query.title.clone() }, picks, story };
    match args.format {
        OutFormat::Text => out!("{}", readnext_render::text(&block)),
        OutFormat::Json => outln!("{}", readnext_render::json(&block)?),
        OutFormat::Html => out!("{}", readnext_render::html(&block)),
    }
    Ok(ExitCode::SUCCESS)
}
