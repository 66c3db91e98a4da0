//! Markdown with optional YAML front matter (`title`, `date`,
//! `published_time`, `tags`, `source_url`, and the JSON Lines field names).
//! Without front matter the first `#` heading is the title and a
//! `YYYY-MM-DD` file name gives the date.

use readnext_core::{Article, parse_date};
use yaml_rust2::{Yaml, YamlLoader};

use crate::text::{squash, strip_markdown};
use crate::{Context, IngestError};

pub(crate) fn parse(ctx: &Context<'_>, text: &str) -> Result<Article, IngestError> {
    let (front, body, body_line) = split_front_matter(ctx, text)?;
    let mut a = Article::default();
    if let Some(yaml) = front {
        apply_front_matter(ctx, &yaml, &mut a)?;
    }
    // Body: paragraphs at blank lines; headings become subheads (the first
    // one is the title when front matter gave none).
    let mut para = String::new();
    let flush = |para: &mut String, a: &mut Article| {
        let p = squash(para);
        if !p.is_empty() {
            a.body.push(p);
        }
        para.clear();
    };
    let mut in_code = false;
    for line in body.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if t.is_empty() || t == "---" || t == "***" {
            flush(&mut para, &mut a);
        } else if t.starts_with('#') {
            flush(&mut para, &mut a);
            let h = squash(&strip_markdown(t.trim_start_matches('#')));
            if h.is_empty() {
                continue;
            }
            if a.title.is_empty() {
                a.title = h;
            } else {
                a.subheads.push(h);
            }
        } else {
            para.push(' ');
            para.push_str(&strip_markdown(t.trim_start_matches(['>', '-', '+']).trim_start()));
        }
    }
    flush(&mut para, &mut a);
    if a.title.is_empty() {
        // No title anywhere: the first short paragraph is the headline.
        match a.body.first() {
            Some(p) if p.split_whitespace().count() <= 25 => a.title = a.body.remove(0),
            _ => return Err(ctx.malformed(body_line, "no title (front matter `title` or a `#` heading)")),
        }
    }
    if a.body.is_empty() && a.dek.is_none() {
        return Err(ctx.malformed(body_line, "no body text"));
    }
    Ok(ctx.finish(a))
}

/// Splits `---` front matter from the body. Returns the parsed YAML, the body
/// and the 1-based line where the body starts.
fn split_front_matter<'t>(ctx: &Context<'_>, text: &'t str) -> Result<(Option<Yaml>, &'t str, usize), IngestError> {
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
        return Ok((None, text, 1));
    };
    let mut offset = 0;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        if line.trim_end() == "---" || line.trim_end() == "..." {
            let yaml_src = &rest[..offset];
            let body = &rest[offset + line.len()..];
            let docs = YamlLoader::load_from_str(yaml_src)
                .map_err(|e| ctx.malformed(e.marker().line() + 1, format!("malformed front matter: {}", e.info())))?;
            return Ok((docs.into_iter().next(), body, i + 3));
        }
        offset += line.len();
    }
    Err(ctx.malformed(1, "front matter opened with `---` is never closed"))
}

fn yaml_str(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        _ => None,
    }
    .map(|s| squash(&s))
    .filter(|s| !s.is_empty())
}

fn yaml_list(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(items) => items.iter().filter_map(yaml_str).collect(),
        other => yaml_str(other)
            .map(|s| s.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect())
            .unwrap_or_default(),
    }
}

fn apply_front_matter(ctx: &Context<'_>, yaml: &Yaml, a: &mut Article) -> Result<(), IngestError> {
    let Yaml::Hash(map) = yaml else {
        if matches!(yaml, Yaml::Null) {
            return Ok(());
        }
        return Err(ctx.malformed(2, "front matter is not a mapping of fields"));
    };
    let get = |k: &str| map.get(&Yaml::String(k.to_string()));
    a.title = get("title").and_then(yaml_str).unwrap_or_default();
    a.id = get("id").and_then(yaml_str).unwrap_or_default();
    a.url = get("source_url").or_else(|| get("url")).or_else(|| get("canonical_url")).and_then(yaml_str);
    a.dek = get("dek").or_else(|| get("description")).or_else(|| get("summary")).and_then(yaml_str);
    a.lang = get("lang").or_else(|| get("language")).and_then(yaml_str);
    a.section = get("section").or_else(|| get("category")).and_then(yaml_str);
    a.tags = get("tags").map(yaml_list).unwrap_or_default();
    a.authors = get("authors").or_else(|| get("author")).map(yaml_list).unwrap_or_default();
    a.image = get("image").and_then(yaml_str);
    for key in ["published_time", "published", "date"] {
        if let Some(v) = get(key).and_then(yaml_str) {
            match parse_date(&v) {
                Ok(t) => {
                    a.published = Some(t);
                    break;
                }
                Err(e) => return Err(ctx.malformed(2, format!("front matter `{key}`: {e}"))),
            }
        }
    }
    Ok(())
}
