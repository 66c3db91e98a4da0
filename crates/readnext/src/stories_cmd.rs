//! `readnext stories` and `readnext story`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use readnext_ingest::{Format, parse_bytes};
use readnext_recommend::now_ms;
use readnext_recommend::{StoryOrder, StoryQuery};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StoryFormat {
    Text,
    Json,
    Html,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ByArg {
    /// Newest last article first.
    Recent,
    /// Most read in the last day first.
    Trending,
}

#[derive(Args)]
pub struct StoriesArgs {
    /// Only stories with an article published on or after this date (YYYY-MM-DD).
    #[arg(long)]
    since: Option<String>,
    /// Number of stories.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Which stories first.
    #[arg(long, value_enum, default_value_t = ByArg::Recent)]
    by: ByArg,
    /// Timeline entries shown per story (the newest; 0 shows all).
    #[arg(long, default_value_t = 3)]
    timeline: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StoryFormat::Text)]
    format: StoryFormat,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "article", "file"])))]
pub struct StoryArgs {
    /// A story id (the id of its first article).
    #[arg(long)]
    id: Option<String>,
    /// A stored article's id: its story.
    #[arg(long)]
    article: Option<String>,
    /// An article page file (any ingest format): the story it belongs to,
    /// matched without storing it.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StoryFormat::Text)]
    format: StoryFormat,
}

pub fn stories(store: &Path, args: StoriesArgs) -> anyhow::Result<ExitCode> {
    let engine = crate::open(store)?;
    let since = match &args.since {
        Some(s) => Some(readnext_core::parse_date(s).context("--since")?),
        None => None,
    };
    let q = StoryQuery {
        since,
        k: args.k,
        order: match args.by {
            ByArg::Recent => StoryOrder::Recent,
            ByArg::Trending => StoryOrder::Trending,
        },
        timeline: args.timeline,
        now_ms: now_ms(),
        window_ms: 24 * 3_600_000,
    };
    let list = engine.stories(&q)?;
    match args.format {
        StoryFormat::Json => outln!("{}", serde_json::to_string_pretty(&serde_json::json!({ "stories": list }))?),
        StoryFormat::Html => list.iter().for_each(|s| out!("{}", readnext_render::story_html(s))),
        StoryFormat::Text => {
            if list.is_empty() {
                outln!("(no stories)");
            }
            for s in &list {
                outln!("{}", readnext_render::story_text(s));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn story(store: &Path, args: StoryArgs) -> anyhow::Result<ExitCode> {
    let engine = crate::open(store)?;
    let now = now_ms();
    let found = match (&args.id, &args.article, &args.file) {
        (Some(id), _, _) => match engine.story(id, now)? {
            Some(s) => s,
            None => bail!("no story has the id {id:?} (a story's id is its first article's; try --article)"),
        },
        (None, Some(article), _) => engine.story_of_article(article, now)?,
        (None, None, Some(file)) => {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let parsed = parse_bytes(file, file, &bytes, Format::Auto)?;
            let Some(article) = parsed.articles.into_iter().next() else {
                bail!("{}: no article found", file.display());
            };
            match engine.story_for_article(&article, now)? {
                Some(s) => s,
                None => {
                    outln!("{}: no stored story matches this page; it would start a story of its own", file.display());
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        (None, None, None) => bail!("give --id, --article or --file"),
    };
    match args.format {
        StoryFormat::Json => outln!("{}", serde_json::to_string_pretty(&found)?),
        StoryFormat::Html => out!("{}", readnext_render::story_html(&found)),
        StoryFormat::Text => out!("{}", readnext_render::story_text(&found)),
    }
    Ok(ExitCode::SUCCESS)
}
