//! Loaders of the evaluation datasets, each into articles with labels.

use std::path::{Path, PathBuf};

use readnext_core::Article;
use readnext_ingest::{Format, JsonArticle, parse_bytes};

use crate::EvalError;

/// How the relevance of one document to another is graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grading {
    /// ECB+: 2 for the same event (topic and file kind), 1 for the same topic.
    EcbPlus,
    /// Binary: 1 for the same category (first label).
    Category,
    /// 1 for at least one shared label, 2 when the `event` also matches.
    Labels,
}

/// One document of a dataset.
#[derive(Debug, Clone)]
pub struct EvalDoc {
    /// The article (its id is the document's index, `d{i}`).
    pub article: Article,
    /// Labels: topic or category first.
    pub labels: Vec<String>,
    /// Event id for graded gain.
    pub event: Option<String>,
}

/// A dataset for the `related` task.
#[derive(Debug, Clone)]
pub struct RelatedSet {
    /// Dataset name.
    pub name: String,
    /// Documents.
    pub docs: Vec<EvalDoc>,
    /// The grading rule.
    pub grading: Grading,
    /// The files read, for the data fingerprint.
    pub files: Vec<PathBuf>,
}

impl RelatedSet {
    /// Graded relevance of document `d` to query `q`.
    pub fn gain(&self, q: usize, d: usize) -> u8 {
        let (a, b) = (&self.docs[q], &self.docs[d]);
        match self.grading {
            Grading::EcbPlus => match (a.labels.first() == b.labels.first(), a.event == b.event) {
                (true, true) => 2,
                (true, false) => 1,
                _ => 0,
            },
            Grading::Category => u8::from(!a.labels.is_empty() && a.labels.first() == b.labels.first()),
            Grading::Labels => {
                let shared = a.labels.iter().any(|l| b.labels.contains(l));
                match (shared, a.event.is_some() && a.event == b.event) {
                    (_, true) => 2,
                    (true, false) => 1,
                    _ => 0,
                }
            }
        }
    }
}

/// One pair of the SemEval-2022 task 8 set.
#[derive(Debug, Clone)]
pub struct Pair {
    /// First article.
    pub a: Article,
    /// Second article.
    pub b: Article,
    /// Language of the first.
    pub lang1: String,
    /// Language of the second.
    pub lang2: String,
    /// Human `Overall` score: 1 very similar .. 4 very dissimilar.
    pub overall: f64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Io { path: path.to_path_buf(), source }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), EvalError> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(io(dir))?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn doc(i: usize, title: String, body: Vec<String>, labels: Vec<String>, event: Option<String>) -> EvalDoc {
    EvalDoc { article: Article { id: format!("d{i}"), title, body, ..Default::default() }, labels, event }
}

/// ECB+: every `*ecb.xml` / `*ecbplus.xml` under `dir`; topic = folder.
///
/// Sentence 0 of an `*ecbplus.xml` file is its source URL (no `*ecb.xml`
/// has one), and here it stays the headline, as the `related` figures have
/// always been measured; the story evaluation drops it
/// ([`ecbplus_with`]).
pub fn ecbplus(dir: &Path) -> Result<RelatedSet, EvalError> {
    ecbplus_with(dir, false)
}

/// [`ecbplus`], dropping the source URL of `*ecbplus.xml` files when
/// `drop_url` (the headline is then the next sentence).
pub fn ecbplus_with(dir: &Path, drop_url: bool) -> Result<RelatedSet, EvalError> {
    let mut files = Vec::new();
    files_under(dir, &mut files)?;
    files.retain(|f| f.extension().is_some_and(|e| e == "xml"));
    let mut docs = Vec::new();
    for f in &files {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let kind = if name.ends_with("ecbplus.xml") {
            "ecbplus"
        } else if name.ends_with("ecb.xml") {
            "ecb"
        } else {
            continue;
        };
        let topic = f.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let xml = std::fs::read_to_string(f).map_err(io(f))?;
        let mut sentences = ecb_sentences(&xml);
        if drop_url && kind == "ecbplus" && !sentences.is_empty() {
            sentences.remove(0);
        }
        let Some((title, body)) = sentences.split_first() else { continue };
        let i = docs.len();
        docs.push(doc(i, title.clone(), body.to_vec(), vec![topic.clone()], Some(format!("{topic}/{kind}"))));
    }
    if docs.is_empty() {
        return Err(EvalError::Data(format!("{}: no ECB+ *.xml documents found", dir.display())));
    }
    Ok(RelatedSet { name: "ecbplus".into(), docs, grading: Grading::EcbPlus, files })
}

/// Rebuilds the sentences of an ECB+ document from its `<token>` elements.
fn ecb_sentences(xml: &str) -> Vec<String> {
    let mut sentences: Vec<Vec<String>> = Vec::new();
    let mut last_sentence = None;
    let mut rest = xml;
    while let Some(start) = rest.find("<token") {
        rest = &rest[start..];
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[..gt];
        let Some(end) = rest.find("</token>") else { break };
        let text = unescape(rest.get(gt + 1..end).unwrap_or(""));
        let sentence = tag.split("sentence=\"").nth(1).and_then(|s| s.split('"').next()).map(str::to_string);
        if sentence != last_sentence || sentences.is_empty() {
            sentences.push(Vec::new());
            last_sentence = sentence;
        }
        if let Some(s) = sentences.last_mut() {
            s.push(text);
        }
        rest = &rest[end + 8..];
    }
    sentences.into_iter().map(|toks| detokenize(&toks)).filter(|s| !s.is_empty()).collect()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// Joins tokens with spaces, except before closing punctuation and clitics.
fn detokenize(toks: &[String]) -> String {
    let mut out = String::new();
    for t in toks {
        let attach = matches!(t.as_str(), "," | "." | ";" | ":" | "!" | "?" | ")" | "'s" | "n't" | "'" | "%");
        if !out.is_empty() && !attach && !out.ends_with('(') {
            out.push(' ');
        }
        out.push_str(t);
    }
    out
}

/// BBC: one folder per category.
pub fn bbc(dir: &Path) -> Result<RelatedSet, EvalError> {
    let mut files = Vec::new();
    files_under(dir, &mut files)?;
    files.retain(|f| f.extension().is_some_and(|e| e == "txt") && f.parent() != Some(dir));
    let mut docs = Vec::new();
    for f in &files {
        let category =
            f.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = std::fs::read(f).map_err(io(f))?;
        // The BBC files are Latin-1 in places: decode lossily rather than drop them.
        let text = String::from_utf8_lossy(&bytes);
        let parsed = parse_bytes(f, dir, text.as_bytes(), Format::Bbc).map_err(|e| EvalError::Data(e.to_string()))?;
        for a in parsed.articles {
            let i = docs.len();
            docs.push(doc(i, a.title, a.body, vec![category.clone()], None));
        }
    }
    if docs.is_empty() {
        return Err(EvalError::Data(format!("{}: no BBC category folders with .txt files", dir.display())));
    }
    Ok(RelatedSet { name: "bbc".into(), docs, grading: Grading::Category, files })
}

/// AG News test CSV: `class, title, description`, no header.
pub fn agnews(path: &Path) -> Result<RelatedSet, EvalError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_path(path).map_err(|e| csv_err(path, e))?;
    let mut docs = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| csv_err(path, e))?;
        let (Some(class), Some(title), Some(desc)) = (rec.get(0), rec.get(1), rec.get(2)) else {
            return Err(EvalError::Data(format!("{}:{}: expected 3 columns", path.display(), line + 1)));
        };
        let i = docs.len();
        let body = desc.replace('\\', " ").replace("#36;", "$").replace("#39;", "'");
        docs.push(doc(i, title.to_string(), vec![body], vec![class.to_string()], None));
    }
    Ok(RelatedSet { name: "agnews".into(), docs, grading: Grading::Category, files: vec![path.to_path_buf()] })
}

/// Calls `each` with every non-blank line of the JSON Lines file `path` and
/// a function that names the file and line in an error.
pub(crate) fn json_lines(
    path: &Path,
    mut each: impl FnMut(&str, &dyn Fn(String) -> EvalError) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    for (line, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let bad = |m: String| EvalError::Data(format!("{}:{}: {m}", path.display(), line + 1));
        each(l, &bad)?;
    }
    Ok(())
}

/// A publisher's JSON Lines with `labels` (and optionally `event`).
pub fn labeled_jsonl(path: &Path) -> Result<RelatedSet, EvalError> {
    let mut docs = Vec::new();
    json_lines(path, |l, bad| {
        let j: JsonArticle = serde_json::from_str(l).map_err(|e| bad(e.to_string()))?;
        if j.labels.is_empty() {
            return Err(bad("field `labels` is missing or empty".into()));
        }
        let (labels, event) = (j.labels.clone(), j.event.clone());
        let mut article = j.into_article().map_err(bad)?;
        article.id = format!("d{}", docs.len());
        docs.push(EvalDoc { article, labels, event });
        Ok(())
    })?;
    if docs.len() < 2 {
        return Err(EvalError::Data(format!("{}: need at least two labelled articles", path.display())));
    }
    Ok(RelatedSet { name: "labeled-jsonl".into(), docs, grading: Grading::Labels, files: vec![path.to_path_buf()] })
}

fn csv_err(path: &Path, e: csv::Error) -> EvalError {
    EvalError::Data(format!("{}: {e}", path.display()))
}

/// SemEval-2022 task 8 CSV (`pair_id, lang1, lang2, text1, text2, ..., Overall`).
pub fn semeval(path: &Path) -> Result<Vec<Pair>, EvalError> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| csv_err(path, e))?;
    let headers = rdr.headers().map_err(|e| csv_err(path, e))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| EvalError::Data(format!("{}: no `{name}` column", path.display())))
    };
    let (l1, l2, t1, t2, ov) = (col("lang1")?, col("lang2")?, col("text1")?, col("text2")?, col("Overall")?);
    let mut out = Vec::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| csv_err(path, e))?;
        let get = |i: usize| rec.get(i).unwrap_or("").to_string();
        let overall: f64 = get(ov)
            .trim()
            .parse()
            .map_err(|_| EvalError::Data(format!("{}:{}: `Overall` is not a number", path.display(), line + 2)))?;
        let article = |id: String, text: String, lang: &str| Article {
            id,
            body: vec![text],
            lang: Some(lang.to_string()),
            ..Default::default()
        };
        let (lang1, lang2) = (get(l1), get(l2));
        out.push(Pair {
            a: article(format!("p{line}a"), get(t1), &lang1),
            b: article(format!("p{line}b"), get(t2), &lang2),
            lang1,
            lang2,
            overall,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecb_tokens_rebuild_sentences() {
        let xml = r#"<Document><token t_id="1" sentence="0">Tara</token><token t_id="2" sentence="0">Reid</token>
<token t_id="3" sentence="0">'s</token><token t_id="4" sentence="0">rehab</token><token t_id="5" sentence="0">.</token>
<token t_id="6" sentence="1">She</token><token t_id="7" sentence="1">left</token><token t_id="8" sentence="1">&amp;</token>
<token t_id="9" sentence="1">came</token><token t_id="10" sentence="1">,</token></Document>"#;
        assert_eq!(ecb_sentences(xml), ["Tara Reid's rehab.", "She left & came,"]);
    }

    #[test]
    fn gains_follow_the_grading_rules() {
        let mk = |labels: &[&str], event: Option<&str>| EvalDoc {
            article: Article::default(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            event: event.map(str::to_string),
        };
        let ecb = RelatedSet {
            name: "x".into(),
            docs: vec![
                mk(&["1"], Some("1/ecb")),
                mk(&["1"], Some("1/ecb")),
                mk(&["1"], Some("1/ecbplus")),
                mk(&["2"], Some("2/ecb")),
            ],
            grading: Grading::EcbPlus,
            files: vec![],
        };
        assert_eq!([ecb.gain(0, 1), ecb.gain(0, 2), ecb.gain(0, 3)], [2, 1, 0]);
        let labels = RelatedSet {
            grading: Grading::Labels,
            docs: vec![mk(&["a", "b"], Some("e")), mk(&["b"], None), mk(&["c"], Some("e")), mk(&["c"], None)],
            ..ecb
        };
        assert_eq!([labels.gain(0, 1), labels.gain(0, 2), labels.gain(0, 3)], [1, 2, 0]);
    }
}
