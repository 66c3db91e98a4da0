use std::path::{Path, PathBuf};

use super::*;

fn parse(name: &str, text: &str, format: Format) -> Result<Parsed, IngestError> {
    parse_bytes(Path::new(name), Path::new("corpus"), text.as_bytes(), format)
}

const PAGE: &str = "Minister warns of floods along the river
Officials in the capital said the levees may not hold.

Volunteers fill sandbags near the old bridge.
The minister told reporters on Monday that the river would crest on Thursday.
Residents were asked to leave the lower town before nightfall.
Help from the army
Soldiers arrived in the evening with pumps and boats.
RECOMMENDATION



";

#[test]
fn page_layout_is_parsed_into_its_parts() {
    let p = parse("a.txt", PAGE, Format::Auto).unwrap();
    assert_eq!(p.format, Format::Page);
    let a = &p.articles[0];
    assert_eq!(a.title, "Minister warns of floods along the river");
    assert_eq!(a.dek.as_deref(), Some("Officials in the capital said the levees may not hold."));
    assert_eq!(a.caption.as_deref(), Some("Volunteers fill sandbags near the old bridge."));
    assert_eq!(a.subheads, ["Help from the army"]);
    assert_eq!(a.body.len(), 3);
    assert!(a.body.iter().all(|p| !p.contains("RECOMMENDATION")));
}

#[test]
fn the_reference_seed_page_parses() {
    let data = std::env::var_os("READNEXT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let seed = data.join("../seed/000_07b8cb05d29d32a1.txt");
    let text = std::fs::read_to_string(&seed).expect("the seed page beside the project");
    let a = parse_page(&seed, &text).unwrap();
    assert!(a.title.starts_with("Hegseth threatens to enter Mexico militarily"));
    assert!(a.dek.as_deref().is_some_and(|d| d.starts_with("Senior officials of President Claudia")));
    assert!(a.caption.as_deref().is_some_and(|c| c.starts_with("U.S. Secretary of Defense Pete Hegseth upon")));
    assert_eq!(a.subheads, ["Concessions to Trump"]);
    assert_eq!(a.body.len(), 5);
    assert!(a.body[0].starts_with("The Wall Street Journal revealed"));
    assert!(a.body.iter().all(|p| !p.contains("RECOMMENDATION")));
}

#[test]
fn markdown_front_matter_is_read() {
    let md = "---\ndate: '2025-02-01'\npublished_time: 2025-02-01 18:00:00-05:00\nsource_url: https://www.whitehouse.gov/fact-sheets/2025/02/x/\ntags: fact-sheets\ntitle: \"Fact Sheet: Tariffs\\_on Mexico\"\n---\n\n# Heading is a subhead\n\nFirst [linked](http://x) paragraph\ncontinues here.  \n\n![img](http://i.png)\nSecond **bold** paragraph.\n";
    let p = parse("briefings/2025-02/2025-02-01-x.md", md, Format::Auto).unwrap();
    let a = &p.articles[0];
    assert_eq!(a.title, "Fact Sheet: Tariffs on Mexico");
    assert_eq!(a.url.as_deref(), Some("https://www.whitehouse.gov/fact-sheets/2025/02/x/"));
    assert_eq!(a.source.as_deref(), Some("whitehouse.gov"));
    assert_eq!(a.section.as_deref(), Some("briefings"));
    assert_eq!(a.tags, ["fact-sheets"]);
    assert_eq!(readnext_core::format_date(a.published.unwrap()), "2025-02-01");
    assert_eq!(a.subheads, ["Heading is a subhead"]);
    assert_eq!(a.body, ["First linked paragraph continues here.", "Second bold paragraph."]);
    assert_eq!(a.id, readnext_core::stable_id(None, a.url.as_deref(), "", &[]));
}

#[test]
fn markdown_without_front_matter_uses_heading_and_file_date() {
    let md = "#  Versión estenográfica | Conferencia\n\nPresidencia de la República\n\nBuenos días.\n";
    let a = &parse("x/2019-01-03.md", md, Format::Auto).unwrap().articles[0];
    assert_eq!(a.title, "Versión estenográfica | Conferencia");
    assert_eq!(readnext_core::format_date(a.published.unwrap()), "2019-01-03");
}

#[test]
fn malformed_front_matter_names_the_line() {
    let err = parse("m.md", "---\ntitle: [unclosed\ndate: x\n---\nbody\n", Format::Auto).unwrap_err().to_string();
    assert!(err.starts_with("m.md:") && err.contains("malformed front matter"), "{err}");
    let err = parse("m.md", "---\ntitle: x\nbody without end\n", Format::Auto).unwrap_err().to_string();
    assert!(err.contains("never closed"), "{err}");
    let err = parse("m.md", "---\ntitle: x\ndate: someday\n---\nbody\n", Format::Auto).unwrap_err().to_string();
    assert!(err.contains("`date`"), "{err}");
}

#[test]
fn bbc_layout_takes_section_from_folder() {
    let p =
        parse("bbc/business/001.txt", "Ad sales boost profit\n\nProfits jumped 76%.\n\nSales rose.\n", Format::Auto)
            .unwrap();
    assert_eq!(p.format, Format::Bbc);
    let a = &p.articles[0];
    assert_eq!(a.title, "Ad sales boost profit");
    assert_eq!(a.body.len(), 2);
    assert_eq!(a.section.as_deref(), Some("business"));
}

#[test]
fn jsonl_reports_bad_lines_and_keeps_the_rest() {
    let text = concat!(
        r#"{"id":"a1","title":"One","body":"Para one.\n\nPara two.","published":"2025-02-03","lang":"en","tags":["x"]}"#,
        "\n",
        r#"{"title": "Two", "body": ["p"], "published": 1738540800, "url": "https://ex.com/2"}"#,
        "\nnot json\n",
        r#"{"title":"","body":"x"}"#,
        "\n",
        r#"{"title":"Bad date","published":"soon"}"#,
        "\n",
        r#"{"title":"Typo","bdy":"x"}"#,
        "\n"
    );
    let p = parse("f.jsonl", text, Format::Auto).unwrap();
    assert_eq!(p.articles.len(), 2);
    assert_eq!(p.articles[0].id, "a1");
    assert_eq!(p.articles[0].body.len(), 2);
    assert_eq!(p.articles[1].source.as_deref(), Some("ex.com"));
    let lines: Vec<usize> = p.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert!(p.errors[2].message.contains("published"));
    assert!(p.errors[3].message.contains("bdy"));
}

#[test]
fn html_article_with_meta_tags_and_hostile_title() {
    let html = r#"<!doctype html><html lang="en"><head><title>ignored</title>
<meta property="og:title" content="&lt;script&gt;alert(1)&lt;/script&gt; Floods">
<link rel="canonical" href="https://news.example.com/floods">
<meta property="article:published_time" content="2025-02-04T10:00:00Z">
</head><body><nav>Home | World</nav><article><h1>Floods</h1>
<p>The minister told reporters on Monday that the river would crest on Thursday, and that the army would help.</p>
<h2>Help from the army</h2>
<p>Soldiers arrived in the evening with pumps and boats to protect the lower town from the water.</p>
<p>Residents were asked to leave before nightfall <b>unclosed
</article></body></html>"#;
    let p = parse("page.html", html, Format::Auto).unwrap();
    let a = &p.articles[0];
    assert_eq!(a.title, "<script>alert(1)</script> Floods");
    assert_eq!(a.url.as_deref(), Some("https://news.example.com/floods"));
    assert_eq!(readnext_core::format_date(a.published.unwrap()), "2025-02-04");
    assert!(a.body.iter().any(|b| b.contains("Soldiers arrived")));
    assert!(!a.body.iter().any(|b| b.contains("Home | World")));
    assert_eq!(a.lang.as_deref(), Some("en"));
}

#[test]
fn rss_and_atom_entries_become_articles() {
    let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>First story</title><link>https://ex.com/1</link><pubDate>Tue, 04 Feb 2025 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Body of the first story.&lt;/p&gt;</description><category>world</category></item>
<item><link>https://ex.com/2</link><description>No title here</description></item>
</channel></rss>"#;
    let p = parse("f.rss", rss, Format::Auto).unwrap();
    assert_eq!(p.articles.len(), 1);
    assert_eq!(p.errors.len(), 1);
    let a = &p.articles[0];
    assert_eq!(a.title, "First story");
    assert_eq!(a.body, ["Body of the first story."]);
    assert_eq!(a.tags, ["world"]);
    let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>x</id><updated>2025-02-04T10:00:00Z</updated>
<entry><title>Atom story</title><id>urn:1</id><link href="https://ex.com/a"/><updated>2025-02-04T10:00:00Z</updated><content type="html">&lt;p&gt;Atom body.&lt;/p&gt;</content></entry></feed>"#;
    let p = parse("f.atom", atom, Format::Auto).unwrap();
    assert_eq!(p.articles[0].title, "Atom story");
    assert_eq!(p.articles[0].body, ["Atom body."]);
}

#[test]
fn bad_inputs_get_one_clear_error_each() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.txt", b"  \n\n".to_vec(), "empty file"),
        ("bin.txt", b"abc\0def".to_vec(), "binary file"),
        ("bad.md", b"---\ntitle: ok\n---\nline\n\xff\xfe bad".to_vec(), "bad.md:5: invalid UTF-8"),
        ("broken.rss", b"<rss><channel><item><title>x</ti".to_vec(), "not a valid RSS/Atom feed"),
        ("what.xml", b"<data>1</data>".to_vec(), "cannot tell the format"),
    ];
    for (name, bytes, expect) in cases {
        let err = parse_bytes(Path::new(name), Path::new("."), &bytes, Format::Auto).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
    }
    assert!("yaml".parse::<Format>().is_err());
}

#[test]
fn size_limit_and_unreadable_paths_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.txt");
    std::fs::write(&big, "x".repeat(100)).unwrap();
    let err = read_file(&big, dir.path(), &Options { format: Format::Auto, max_bytes: 10 }).unwrap_err();
    assert!(err.to_string().contains("over the size limit of 10 bytes"), "{err}");
    let (files, errors) = collect_files(&[dir.path().to_path_buf(), PathBuf::from("/nonexistent/readnext")]);
    assert_eq!(files.len(), 1);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("/nonexistent/readnext"));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// No input makes a parser panic, whatever format is forced.
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), f in 0usize..7) {
            let format = [Format::Auto, Format::Page, Format::Markdown, Format::Jsonl, Format::Bbc, Format::Html, Format::Feed][f];
            let _ = parse_bytes(Path::new("x"), Path::new("."), &bytes, format);
        }

        #[test]
        fn text_like_inputs_never_panic(s in "(---\n|# |\\{|<rss>|<html>|[a-zA-Z .:\n]){0,40}", f in 0usize..7) {
            let format = [Format::Auto, Format::Page, Format::Markdown, Format::Jsonl, Format::Bbc, Format::Html, Format::Feed][f];
            let _ = parse_bytes(Path::new("x.txt"), Path::new("."), s.as_bytes(), format);
        }
    }
}
