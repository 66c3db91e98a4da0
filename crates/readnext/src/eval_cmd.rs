//! `readnext eval`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use readnext_recommend::RelatedOptions;

#[derive(Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    task: Task,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Task {
    /// Related-article relevance: ecbplus, ecbplus-lead, semeval, bbc, bbc-lead, agnews or labeled-jsonl.
    Related {
        /// Dataset kind.
        #[arg(long, required_unless_present = "suite")]
        dataset: Option<String>,
        /// Every dev set under $READNEXT_DATA (ecbplus, ecbplus-lead, semeval,
        /// bbc, bbc-lead, agnews; a missing one is named and skipped), each
        /// with its baselines, then
        /// a summary: each set's headline figure (nDCG@10; Pearson for
        /// SemEval en-en and en+es), their mean, and readnext against each
        /// set's best baseline with a paired bootstrap over queries.
        #[arg(long, conflicts_with_all = ["dataset", "data"])]
        suite: bool,
        /// With --suite: also run the suite at every point of the grid of
        /// --grid-terms × --grid-dense × --grid-dense-short (the other
        /// settings as given),
        /// and choose by leave-one-dataset-out: for each corpus, the point
        /// with the best mean over the other corpora, scored on the one
        /// left out (a set and its -lead cut are one corpus).
        #[arg(long, requires = "suite")]
        lodo: bool,
        /// Embedding shares for long texts that --lodo tries.
        #[arg(long, value_delimiter = ',', default_values_t = [0.35, 0.5])]
        grid_dense: Vec<f32>,
        /// Embedding shares for short texts that --lodo tries.
        #[arg(long, value_delimiter = ',', default_values_t = [0.65, 0.8])]
        grid_dense_short: Vec<f32>,
        /// Short and long text lengths (distinct stems, SHORT:LONG) that
        /// --lodo tries.
        #[arg(long, value_delimiter = ',', default_values_t = ["20:60".to_string(), "30:120".to_string()])]
        grid_terms: Vec<String>,
        /// Path of the dataset (folder or file); defaults under $READNEXT_DATA.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write a self-contained HTML report (and result.json) into this folder.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Length of the ranked lists (MAP depth).
        #[arg(long, default_value_t = 100)]
        depth: usize,
        /// Weight of the text signal (default: the engine's).
        #[arg(long)]
        w_text: Option<f32>,
        /// Weight of the entity signal.
        #[arg(long)]
        w_entities: Option<f32>,
        /// Weight of the keyphrase signal.
        #[arg(long)]
        w_keyphrases: Option<f32>,
        /// MMR trade-off.
        #[arg(long)]
        mmr_lambda: Option<f32>,
        /// Pseudo-relevance feedback weight.
        #[arg(long)]
        feedback: Option<f32>,
        /// Number of documents in the feedback centroid.
        #[arg(long)]
        feedback_docs: Option<usize>,
        /// Pivoted length normalisation slope (1 = cosine).
        #[arg(long)]
        length_slope: Option<f32>,
        /// Share of relevance from the embedding cosine for long texts
        /// (60 distinct stems or more; 0 with --w-dense-short 0 = lexical only).
        #[arg(long)]
        w_dense: Option<f32>,
        /// Share of relevance from the embedding cosine when both texts are
        /// short (20 distinct stems or fewer, such as a headline and a
        /// sentence); between the lengths it moves on a log scale.
        #[arg(long)]
        w_dense_short: Option<f32>,
        /// Embedding cosine counted as no similarity.
        #[arg(long)]
        dense_floor: Option<f32>,
        /// Factor on the relevance of two articles in different languages
        /// (1 = none).
        #[arg(long)]
        cross_lingual: Option<f32>,
        /// Near-copies (SimHash within a few bits, text cosine of 0.92 or
        /// more) are not collapsed, only identical texts: to measure what
        /// collapsing costs in relevance (readers get them collapsed).
        #[arg(long)]
        no_collapse: bool,
        /// Embed each article as the mean of its first N passages of the
        /// token limit instead of its headline and lead (to measure which
        /// is better).
        #[arg(long, default_value_t = 1)]
        passages: usize,
        /// Keep the dataset's vectors in this folder and reuse them in later
        /// runs (keyed by the texts, the token limit and the runtime).
        #[arg(long)]
        embed_cache: Option<PathBuf>,
    },
    /// Personalised ranking of MIND impressions (AUC, MRR, nDCG@5, nDCG@10),
    /// scored through the reader ranker, with the baselines in the same run.
    Mind {
        /// Folder of MIND CSV files to score (default: $READNEXT_DATA/mind-subset).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Folder of MIND CSV files to fit on; without it, cross-validation
        /// over --data grouped by impression id.
        #[arg(long)]
        train: Option<PathBuf>,
        /// Folds of the cross-validation.
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write a self-contained HTML report (and result.json) into this folder.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Keep the news items' vectors in this folder and reuse them in
        /// later runs (keyed by the texts, the token limit and the runtime).
        #[arg(long)]
        embed_cache: Option<PathBuf>,
    },
    /// Story threads: streams the documents once through the assignment
    /// code of the write path, and scores the stories against the gold
    /// ones (B-cubed, NMI, ARI), with the baselines of the same run.
    Stories {
        /// Dataset kind: ecbplus, ecbplus-lead, labeled-jsonl (a `story` or
        /// `event` field per line), or semeval (the rated pairs of
        /// SemEval-2022 task 8: how often very similar and dissimilar pairs
        /// land in one story).
        #[arg(long)]
        dataset: String,
        /// Path of the dataset (folder or file); defaults under $READNEXT_DATA.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The order the documents arrive in.
        #[arg(long, value_enum, default_value_t = StoryOrderArg::Shuffled)]
        order: StoryOrderArg,
        /// Seed of the shuffled order.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write a self-contained HTML report (story sizes, the largest
        /// stories' precision and recall) and result.json into this folder.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Similarity to a story's centroid needed to join it (default: the
        /// assigner's).
        #[arg(long)]
        join: Option<f32>,
        /// Share of the entity cosine in the similarity.
        #[arg(long)]
        entity_share: Option<f32>,
        /// Words of the body compared after the headline.
        #[arg(long)]
        lead_words: Option<usize>,
        /// Centroid similarity at which two stories merge.
        #[arg(long)]
        merge: Option<f32>,
        /// Share of articles past which a term or entity weighs nothing.
        #[arg(long)]
        max_df: Option<f32>,
        /// Recent articles the shares of --max-df count.
        #[arg(long)]
        window: Option<usize>,
        /// Share of the entity cosine across languages.
        #[arg(long)]
        cross_entity_share: Option<f32>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum StoryOrderArg {
    /// The dataset's own order (ECB+: topic by topic).
    Given,
    /// Shuffled with --seed.
    Shuffled,
    /// By publication time.
    Time,
}

/// The dataset's vectors: from the cache folder when an earlier run with the
/// same texts and token limit left them there, else from the encoder (with
/// a progress bar), saved to the cache when one is given.
fn cached_embedding(
    enc: &readnext_embed::Encoder,
    articles: &[&readnext_core::Article],
    passages: usize,
    cache: Option<&std::path::Path>,
) -> anyhow::Result<readnext_eval::Embedded> {
    use anyhow::Context;
    let max_tokens = enc.options().max_tokens;
    let texts: Vec<String> = if passages > 1 {
        // About six characters a token leaves room for every passage.
        articles.iter().map(|a| readnext_embed::article_text_chars(a, passages * max_tokens * 6)).collect()
    } else {
        articles.iter().map(|a| readnext_embed::article_text(a)).collect()
    };
    let mut key = format!("{}:{}:{max_tokens}", readnext_embed::MODEL_NAME, enc.runtime_name());
    if passages > 1 {
        key.push_str(&format!(":passages{passages}"));
    }
    for t in &texts {
        key.push('\u{0}');
        key.push_str(t);
    }
    let file = cache.map(|c| c.join(format!("{:016x}.f32", readnext_core::fnv1a64(key.as_bytes()))));
    if let Some(f) = &file
        && let Ok(bytes) = std::fs::read(f)
        && bytes.len() == texts.len() * readnext_embed::DIM * 4
    {
        let floats: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let vectors = floats.chunks(readnext_embed::DIM).map(<[f32]>::to_vec).collect();
        return Ok(readnext_eval::Embedded { vectors, seconds: 0.0, max_tokens });
    }
    let bar = crate::progress_bar(texts.len() as u64, "embedding");
    let started = std::time::Instant::now();
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(256) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        vectors.extend(enc.embed_pooled(&refs, passages)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let embedded = readnext_eval::Embedded { vectors, seconds: started.elapsed().as_secs_f64(), max_tokens };
    if let (Some(f), Some(dir)) = (&file, cache) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let bytes: Vec<u8> = embedded.vectors.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(f, bytes).with_context(|| format!("cannot write {}", f.display()))?;
    }
    Ok(embedded)
}

fn data_root() -> PathBuf {
    std::env::var_os("READNEXT_DATA").map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from)
}

/// A dev set in memory, with its vectors.
struct Loaded {
    set: LoadedSet,
    embedded: Option<readnext_eval::Embedded>,
}

enum LoadedSet {
    /// SemEval's pairs, and the file they came from.
    Pairs(Vec<readnext_eval::Pair>, PathBuf),
    Related(Box<readnext_eval::RelatedSet>),
}

/// The dev sets `eval related --suite` runs, in order.
const SUITE: [&str; 6] = ["ecbplus", "ecbplus-lead", "semeval", "bbc", "bbc-lead", "agnews"];

fn default_path(dataset: &str) -> PathBuf {
    let root = data_root();
    match dataset {
        "ecbplus" | "ecbplus-lead" => root.join("ecbplus"),
        "semeval" => root.join("semeval2022-task8/training_set.csv"),
        "bbc" | "bbc-lead" => root.join("bbc"),
        "agnews" => root.join("ag_news/test.csv"),
        _ => root,
    }
}

pub fn run(args: EvalArgs, model: &crate::ModelArgs) -> anyhow::Result<ExitCode> {
    match args.task {
        Task::Stories {
            dataset,
            data,
            order,
            seed,
            format,
            report: report_dir,
            join,
            entity_share,
            lead_words,
            merge,
            max_df,
            window,
            cross_entity_share,
        } => {
            let path = data.unwrap_or_else(|| default_path(&dataset));
            let set = match dataset.as_str() {
                "ecbplus" => Some(readnext_eval::ecbplus_stories(&path)?),
                "ecbplus-lead" => Some(readnext_eval::lead_only(readnext_eval::ecbplus_stories(&path)?)),
                "labeled-jsonl" => Some(readnext_eval::labeled_jsonl_stories(&path)?),
                "semeval" => None,
                other => {
                    anyhow::bail!("unknown story dataset {other:?} (ecbplus, ecbplus-lead, labeled-jsonl or semeval)")
                }
            };
            let mut opts = readnext_recommend::StoryOptions::default();
            if let Some(x) = join {
                opts.join = x;
            }
            if let Some(x) = entity_share {
                opts.entity_share = x;
            }
            if let Some(x) = lead_words {
                opts.lead_words = x;
            }
            if let Some(x) = merge {
                opts.merge = x;
            }
            if let Some(x) = max_df {
                opts.max_df = x;
            }
            if let Some(x) = window {
                opts.window = x;
            }
            if let Some(x) = cross_entity_share {
                opts.cross_entity_share = x;
            }
            let Some(set) = set else {
                // SemEval-2022 task 8 pairs: how often the rated pairs land
                // in one story (the cross-lingual check).
                let pairs = readnext_eval::semeval(&path)?;
                let report = readnext_eval::pair_story_rates(&pairs, &["es-en", "es-es", "en-en"], &opts)?;
                match format {
                    Format::Table => print!("{}", readnext_eval::pair_rates_table(&report)),
                    Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                }
                return Ok(ExitCode::SUCCESS);
            };
            let (order, name) = match order {
                StoryOrderArg::Given => (readnext_eval::StoryOrder::Given, "given".to_string()),
                StoryOrderArg::Shuffled => {
                    (readnext_eval::StoryOrder::Shuffled(seed), format!("shuffled (seed {seed})"))
                }
                StoryOrderArg::Time => (readnext_eval::StoryOrder::Time, "time".to_string()),
            };
            let report = readnext_eval::run_stories(&set, order, &name, &opts)?;
            if let Some(dir) = &report_dir {
                readnext_eval::write_stories_html(&report, dir)?;
            }
            match format {
                Format::Table => print!("{}", readnext_eval::stories_table(&report)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Task::Related {
            dataset,
            suite,
            lodo,
            grid_dense,
            grid_dense_short,
            grid_terms,
            data,
            format,
            report,
            depth,
            w_text,
            w_entities,
            w_keyphrases,
            mmr_lambda,
            feedback,
            feedback_docs,
            length_slope,
            w_dense,
            w_dense_short,
            dense_floor,
            cross_lingual,
            no_collapse,
            passages,
            embed_cache,
        } => {
            let mut opts = RelatedOptions::default();
            if let Some(w) = w_text {
                opts.weights.text = w;
            }
            if let Some(w) = w_entities {
                opts.weights.entities = w;
            }
            if let Some(w) = w_keyphrases {
                opts.weights.keyphrases = w;
            }
            if let Some(l) = mmr_lambda {
                opts.mmr_lambda = l;
            }
            if let Some(f) = feedback {
                opts.feedback = f;
            }
            if let Some(n) = feedback_docs {
                opts.feedback_docs = n;
            }
            if let Some(s) = length_slope {
                opts.length_slope = s;
            }
            if let Some(w) = w_dense {
                opts.weights.dense = w;
            }
            if let Some(w) = w_dense_short {
                opts.weights.dense_short = w;
            }
            if let Some(f) = dense_floor {
                opts.weights.dense_floor = f;
            }
            if let Some(c) = cross_lingual {
                opts.weights.cross_lingual = c;
            }
            if no_collapse {
                opts.dup_bits = 0;
                opts.dup_cosine = f32::INFINITY;
            }
            let encoder = model.load()?;
            let embed = |articles: Vec<&readnext_core::Article>| -> anyhow::Result<Option<readnext_eval::Embedded>> {
                let Some(enc) = &encoder else { return Ok(None) };
                Ok(Some(cached_embedding(enc, &articles, passages, embed_cache.as_deref())?))
            };
            // A set is loaded and embedded once; a grid reruns only the ranking.
            let load = |dataset: &str, path: &PathBuf| -> anyhow::Result<Loaded> {
                if dataset == "semeval" {
                    let pairs = readnext_eval::semeval(path)?;
                    let embedded = embed(pairs.iter().flat_map(|p| [&p.a, &p.b]).collect())?;
                    Ok(Loaded { set: LoadedSet::Pairs(pairs, path.clone()), embedded })
                } else {
                    let set = readnext_eval::load_related(dataset, path)?;
                    let embedded = embed(set.docs.iter().map(|d| &d.article).collect())?;
                    Ok(Loaded { set: LoadedSet::Related(Box::new(set)), embedded })
                }
            };
            let run_one = |l: &Loaded, opts: &RelatedOptions| -> anyhow::Result<readnext_eval::EvalRun> {
                Ok(match &l.set {
                    LoadedSet::Pairs(pairs, path) => {
                        readnext_eval::run_semeval(pairs, opts, std::slice::from_ref(path), l.embedded.as_ref())?
                    }
                    LoadedSet::Related(set) => {
                        readnext_eval::run_related(set, depth.max(10), opts, l.embedded.as_ref())?
                    }
                })
            };
            if !suite {
                // clap requires one of the two.
                let dataset = dataset.unwrap_or_default();
                let path = data.unwrap_or_else(|| default_path(&dataset));
                return finish(&run_one(&load(&dataset, &path)?, &opts)?, format, report);
            }
            let mut loaded = Vec::new();
            let mut runs = Vec::new();
            for dataset in SUITE {
                let path = default_path(dataset);
                if !path.exists() {
                    eprintln!("suite: {dataset} skipped: no data at {}", path.display());
                    continue;
                }
                eprintln!("suite: {dataset} ({})", path.display());
                let l = load(dataset, &path).map_err(|e| e.context(format!("suite set {dataset}")))?;
                let run = run_one(&l, &opts).map_err(|e| e.context(format!("suite set {dataset}")))?;
                if let Some(dir) = &report {
                    readnext_eval::write_html(&run, &dir.join(dataset))?;
                }
                runs.push(run);
                loaded.push(l);
            }
            anyhow::ensure!(!runs.is_empty(), "suite: no dev set found under {}", data_root().display());
            let summary = readnext_eval::suite_summary(&runs);
            let lodo = if lodo {
                // The settings as given first: it wins ties.
                let w = opts.weights;
                let mut terms = Vec::new();
                for t in &grid_terms {
                    let parsed =
                        t.split_once(':').and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)));
                    match parsed {
                        Some((a, b)) if a >= 1 && b > a => terms.push((a, b)),
                        _ => anyhow::bail!("--grid-terms: {t:?} is not SHORT:LONG with 1 <= SHORT < LONG"),
                    }
                }
                let mut grid = vec![(w.dense, w.dense_short, w.short_terms, w.long_terms)];
                for &(a, b) in &terms {
                    for &d in &grid_dense {
                        for &s in &grid_dense_short {
                            if !grid.contains(&(d, s, a, b)) {
                                grid.push((d, s, a, b));
                            }
                        }
                    }
                }
                let label = |(d, s, a, b): (f32, f32, u16, u16)| format!("dense {d}, dense_short {s}, terms {a}:{b}");
                let mut points = vec![readnext_eval::GridPoint { label: label(grid[0]), summary: summary.clone() }];
                let bar = crate::progress_bar(((grid.len() - 1) * loaded.len()) as u64, "lodo grid");
                for &(d, s, a, b) in &grid[1..] {
                    let o = RelatedOptions {
                        weights: readnext_recommend::Weights {
                            dense: d,
                            dense_short: s,
                            short_terms: a,
                            long_terms: b,
                            ..opts.weights
                        },
                        ..opts.clone()
                    };
                    let mut runs = Vec::new();
                    for l in &loaded {
                        runs.push(run_one(l, &o)?);
                        bar.inc(1);
                    }
                    points.push(readnext_eval::GridPoint {
                        label: label((d, s, a, b)),
                        summary: readnext_eval::suite_summary(&runs),
                    });
                }
                bar.finish_and_clear();
                let folds = readnext_eval::leave_one_dataset_out(&points);
                Some((points, folds))
            } else {
                None
            };
            match format {
                Format::Table => {
                    for run in &runs {
                        outln!("{}", readnext_eval::to_table(run));
                    }
                    out!("{}", readnext_eval::suite_table(&summary));
                    if let Some((points, folds)) = &lodo {
                        outln!();
                        out!("{}", readnext_eval::lodo_table(points, folds));
                    }
                }
                Format::Json => {
                    let mut v = serde_json::json!({
                        "sets": runs.iter().map(readnext_eval::to_json).collect::<Vec<_>>(),
                        "summary": readnext_eval::suite_json(&summary),
                    });
                    if let Some((points, folds)) = &lodo {
                        v["lodo"] = readnext_eval::lodo_json(points, folds);
                    }
                    outln!("{}", serde_json::to_string_pretty(&v)?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Task::Mind { data, train, folds, format, report, embed_cache } => {
            let data = data.unwrap_or_else(|| data_root().join("mind-subset"));
            let opts = readnext_eval::MindOptions { folds, ..Default::default() };
            let set = readnext_eval::load_mind_set(&data, train.as_deref())?;
            let embedded = match model.load()? {
                Some(enc) => {
                    Some(cached_embedding(&enc, &set.articles.iter().collect::<Vec<_>>(), 1, embed_cache.as_deref())?)
                }
                None => None,
            };
            let (run, models) = readnext_eval::run_mind(&set, &opts, embedded.as_ref())?;
            if format == Format::Table {
                // The figures the ranker learned, per fold: what it uses to get there.
                for (i, m) in models.iter().enumerate() {
                    let w: Vec<String> = readnext_recommend::FEATURE_NAMES
                        .iter()
                        .zip(&m.weights)
                        .map(|(n, w)| format!("{n}={w:+.2}"))
                        .collect();
                    outln!("fold {} ranker ({} examples, {} clicks): {}", i + 1, m.examples, m.positives, w.join(" "));
                }
            }
            finish(&run, format, report)
        }
    }
}

fn finish(run: &readnext_eval::EvalRun, format: Format, report: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match format {
        Format::Table => out!("{}", readnext_eval::to_table(run)),
        Format::Json => {
            let mut v = readnext_eval::to_json(run);
            if run.dataset == "mind" {
                v["impressions"] = serde_json::json!(run.queries);
            }
            outln!("{}", serde_json::to_string_pretty(&v)?)
        }
    }
    if let Some(dir) = report {
        readnext_eval::write_html(run, &dir)?;
        eprintln!("report written to {}", dir.join("index.html").display());
    }
    Ok(ExitCode::SUCCESS)
}
