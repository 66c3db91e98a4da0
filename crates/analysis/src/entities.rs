//! Named entities from capitalisation, titles and context.
//!
//! No model: runs of capitalised words are mentions; a leading title
//! ("Secretary of Defense", "President") marks a person and is cut off; a
//! possessive or a comma ends a name; and within one article a bare surname or
//! first name resolves to the full name it abbreviates, so "President Claudia
//! Sheinbaum", "Sheinbaum's government" and a later "Sheinbaum" are one
//! entity. A small gazetteer names places and maps demonyms and Spanish names
//! to one key ("Mexican", "México" → Mexico), which is what lets entities carry
//! matches across languages.

use readnext_core::{Entity, EntityKind, FastMap, FastSet};

use crate::stopwords::is_stop;
use crate::tokens::{Word, fold};

/// Words that introduce a person: they are cut from the mention.
const TITLES: &[&str] = &[
    "ambassador",
    "attorney",
    "canciller",
    "chair",
    "chairman",
    "chairwoman",
    "chancellor",
    "chief",
    "commissioner",
    "congressman",
    "congresswoman",
    "director",
    "doctor",
    "don",
    "doña",
    "dr",
    "embajador",
    "embajadora",
    "fiscal",
    "general",
    "gobernador",
    "gobernadora",
    "gov",
    "governor",
    "judge",
    "king",
    "leader",
    "mayor",
    "minister",
    "ministra",
    "ministro",
    "mr",
    "mrs",
    "ms",
    "pope",
    "premier",
    "president",
    "presidenta",
    "presidente",
    "prime",
    "queen",
    "rep",
    "representative",
    "secretaria",
    "secretario",
    "secretary",
    "sen",
    "senador",
    "senadora",
    "senator",
    "señor",
    "señora",
    "speaker",
    "spokesman",
    "spokesperson",
    "spokeswoman",
    "vice",
    "vocera",
    "vocero",
];

/// Words naming an office inside a title ("Secretary of *Homeland Security*").
const OFFICES: &[&str] = &[
    "affairs",
    "agriculture",
    "commerce",
    "defence",
    "defense",
    "economía",
    "economy",
    "education",
    "energy",
    "exteriores",
    "finance",
    "foreign",
    "gobernación",
    "hacienda",
    "health",
    "homeland",
    "house",
    "interior",
    "justice",
    "labor",
    "relaciones",
    "security",
    "seguridad",
    "state",
    "transportation",
    "treasury",
    "war",
];

/// Words that make a name an organisation.
const ORG_WORDS: &[&str] = &[
    "administration",
    "agency",
    "airlines",
    "army",
    "assembly",
    "association",
    "bank",
    "board",
    "bureau",
    "cartel",
    "club",
    "co",
    "command",
    "commission",
    "committee",
    "company",
    "congress",
    "corp",
    "corporation",
    "council",
    "court",
    "department",
    "fund",
    "gobierno",
    "group",
    "guard",
    "inc",
    "institute",
    "journal",
    "league",
    "ltd",
    "ministry",
    "news",
    "office",
    "organization",
    "partido",
    "party",
    "pentagon",
    "post",
    "reserve",
    "secretaría",
    "senate",
    "service",
    "times",
    "union",
    "united",
    "university",
    "ventures",
];

/// Connectors allowed inside a multi-word name.
const CONNECTORS: &[&str] = &["de", "del", "for", "la", "las", "los", "of"];

/// Capitalised words that are not names: sentence openers, days and months.
/// They are cut from the edges of a run.
const NOT_NAMES: &[&str] = &[
    "abril",
    "according",
    "additionally",
    "agosto",
    "also",
    "april",
    "asked",
    "august",
    "currently",
    "december",
    "despite",
    "diciembre",
    "domingo",
    "earlier",
    "enero",
    "febrero",
    "february",
    "finally",
    "first",
    "following",
    "friday",
    "furthermore",
    "however",
    "instead",
    "january",
    "jueves",
    "julio",
    "july",
    "june",
    "junio",
    "last",
    "later",
    "lunes",
    "martes",
    "march",
    "marzo",
    "mayo",
    "meanwhile",
    "miercoles",
    "monday",
    "moreover",
    "next",
    "noviembre",
    "november",
    "now",
    "octubre",
    "october",
    "overall",
    "previously",
    "recently",
    "regarding",
    "sabado",
    "saturday",
    "second",
    "septiembre",
    "september",
    "speaking",
    "still",
    "sunday",
    "thursday",
    "today",
    "tomorrow",
    "tonight",
    "tuesday",
    "viernes",
    "wednesday",
    "yesterday",
    "yet",
];

/// Places, demonyms and cross-language names, mapped to a canonical name.
const PLACES: &[(&str, &str)] = &[
    ("afghanistan", "Afghanistan"),
    ("afghan", "Afghanistan"),
    ("alemania", "Germany"),
    ("america", "United States"),
    ("american", "United States"),
    ("argentina", "Argentina"),
    ("arizona", "Arizona"),
    ("asia", "Asia"),
    ("australia", "Australia"),
    ("beijing", "Beijing"),
    ("brasil", "Brazil"),
    ("brazil", "Brazil"),
    ("britain", "United Kingdom"),
    ("british", "United Kingdom"),
    ("california", "California"),
    ("canada", "Canada"),
    ("canadian", "Canada"),
    ("chicago", "Chicago"),
    ("chile", "Chile"),
    ("china", "China"),
    ("chinese", "China"),
    ("chino", "China"),
    ("colombia", "Colombia"),
    ("cuba", "Cuba"),
    ("cuban", "Cuba"),
    ("ee.uu.", "United States"),
    ("ee.uu", "United States"),
    ("egypt", "Egypt"),
    ("el salvador", "El Salvador"),
    ("england", "United Kingdom"),
    ("espana", "Spain"),
    ("estados unidos", "United States"),
    ("europa", "Europe"),
    ("europe", "Europe"),
    ("european", "Europe"),
    ("florida", "Florida"),
    ("france", "France"),
    ("francia", "France"),
    ("french", "France"),
    ("gaza", "Gaza"),
    ("german", "Germany"),
    ("germany", "Germany"),
    ("guatemala", "Guatemala"),
    ("haiti", "Haiti"),
    ("honduras", "Honduras"),
    ("india", "India"),
    ("indian", "India"),
    ("iran", "Iran"),
    ("iranian", "Iran"),
    ("iraq", "Iraq"),
    ("israel", "Israel"),
    ("israeli", "Israel"),
    ("italia", "Italy"),
    ("italy", "Italy"),
    ("japan", "Japan"),
    ("japanese", "Japan"),
    ("japon", "Japan"),
    ("korea", "Korea"),
    ("london", "London"),
    ("londres", "London"),
    ("mexican", "Mexico"),
    ("mexico", "Mexico"),
    ("mexico city", "Mexico City"),
    ("ciudad de mexico", "Mexico City"),
    ("new york", "New York"),
    ("nicaragua", "Nicaragua"),
    ("north korea", "North Korea"),
    ("panama", "Panama"),
    ("paris", "Paris"),
    ("peru", "Peru"),
    ("russia", "Russia"),
    ("russian", "Russia"),
    ("rusia", "Russia"),
    ("saudi arabia", "Saudi Arabia"),
    ("sinaloa", "Sinaloa"),
    ("south korea", "South Korea"),
    ("spain", "Spain"),
    ("spanish", "Spain"),
    ("syria", "Syria"),
    ("taiwan", "Taiwan"),
    ("texas", "Texas"),
    ("tijuana", "Tijuana"),
    ("u.k.", "United Kingdom"),
    ("u.s.", "United States"),
    ("u.s.a.", "United States"),
    ("ucrania", "Ukraine"),
    ("uk", "United Kingdom"),
    ("ukraine", "Ukraine"),
    ("ukrainian", "Ukraine"),
    ("united kingdom", "United Kingdom"),
    ("united states", "United States"),
    ("united states of america", "United States"),
    ("us", "United States"),
    ("usa", "United States"),
    ("venezuela", "Venezuela"),
    ("venezuelan", "Venezuela"),
    ("washington", "Washington"),
];

fn place(folded: &str) -> Option<&'static str> {
    // Hashed: this runs for every capitalised word.
    static MAP: std::sync::OnceLock<readnext_core::FastMap<&'static str, &'static str>> = std::sync::OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut m = readnext_core::FastMap::default();
        for (k, v) in PLACES {
            // The first spelling listed wins, as a linear scan would have it.
            m.entry(k.trim_end_matches('.')).or_insert(*v);
        }
        m
    });
    map.get(folded.trim_end_matches('.')).copied()
}

/// Whether `w` is in one of the word lists above (hashed lookups: these run
/// for every capitalised word).
fn in_list(list: &'static [&'static str], w: &str) -> bool {
    static SETS: [(&[&str], crate::WordSet); 5] = [
        (TITLES, crate::WordSet::new(TITLES)),
        (OFFICES, crate::WordSet::new(OFFICES)),
        (ORG_WORDS, crate::WordSet::new(ORG_WORDS)),
        (CONNECTORS, crate::WordSet::new(CONNECTORS)),
        (NOT_NAMES, crate::WordSet::new(NOT_NAMES)),
    ];
    match SETS.iter().find(|(l, _)| std::ptr::eq(*l, list)) {
        Some((_, set)) => set.contains(w),
        None => list.contains(&w),
    }
}

/// Whether a word counts as capitalised for name detection. Long all-caps
/// words are left out: they are speaker labels and shouted headlines in
/// transcripts ("THE PRESIDENT:"), not names.
fn is_cap(w: &str) -> bool {
    let mut chars = w.chars();
    let Some(first) = chars.next() else { return false };
    if !first.is_uppercase() {
        return false;
    }
    let letters = w.chars().filter(|c| c.is_alphabetic()).count();
    let upper = w.chars().filter(|c| c.is_uppercase()).count();
    !(letters > 5 && upper == letters)
}

#[derive(Default)]
struct Mention {
    words: Vec<String>,
    titled: bool,
    only_sentence_start: bool,
}

/// Extracts the entities of one text. `lower_vocab` holds the folded words
/// that also occur in lower case in the article: a capitalised word that is
/// otherwise written in lower case is just a sentence start.
pub fn extract(
    words: &[Word<'_>],
    lang: &str,
    lower_vocab: &FastSet<std::borrow::Cow<'_, str>>,
    title_case: &[Word<'_>],
) -> Vec<Entity> {
    let mut mentions = mentions(words, lang, lower_vocab);
    resolve(&mut mentions, title_case)
}

fn mentions(words: &[Word<'_>], lang: &str, lower_vocab: &FastSet<std::borrow::Cow<'_, str>>) -> Vec<Mention> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !is_cap(words[i].text) {
            i += 1;
            continue;
        }
        // Grow a run of capitalised words, allowing inner connectors.
        let start = i;
        let mut end = i + 1;
        while end < words.len() && !words[end].after_break && end - start < 8 {
            let w = words[end].text;
            if is_cap(w) {
                end += 1;
            } else if in_list(CONNECTORS, &fold(w))
                && end + 1 < words.len()
                && !words[end + 1].after_break
                && is_cap(words[end + 1].text)
            {
                end += 2;
            } else {
                break;
            }
            if words[end - 1].possessive {
                break;
            }
        }
        if words[start].possessive {
            end = start + 1;
        }
        push_run(&words[start..end], lang, lower_vocab, &mut out);
        i = end;
    }
    out
}

fn push_run(run: &[Word<'_>], lang: &str, lower_vocab: &FastSet<std::borrow::Cow<'_, str>>, out: &mut Vec<Mention>) {
    let mut s = 0;
    // A sentence-initial word that is a stop word or is written in lower case
    // elsewhere is not part of the name ("The", "Following", "Regarding").
    while s < run.len() {
        let rest: Vec<&str> = run[s..].iter().map(|w| w.text).collect();
        if place(&fold(&rest.join(" "))).is_some() {
            break;
        }
        let f = fold(run[s].text);
        let common = is_stop(lang, &f) || is_stop("en", &f) || is_stop("es", &f) || lower_vocab.contains(f.as_str());
        if in_list(NOT_NAMES, &f)
            || (common
                && (run[s].sentence_start || is_stop(lang, &f) || in_list(CONNECTORS, &f))
                && place(&f).is_none())
        {
            s += 1;
        } else {
            break;
        }
    }
    let mut e = run.len();
    while e > s && in_list(NOT_NAMES, &fold(run[e - 1].text)) {
        e -= 1;
    }
    let run = &run[s..e];
    if run.is_empty() {
        return;
    }
    let folded: Vec<String> = run.iter().map(|w| fold(w.text.trim_end_matches('.'))).collect();
    // Cut a leading title: everything up to the last title, office or connector word.
    let mut cut = 0;
    let mut titled = false;
    if folded.iter().any(|w| in_list(TITLES, w)) {
        for (k, w) in folded.iter().enumerate() {
            if in_list(TITLES, w)
                || (titled && (in_list(OFFICES, w) || in_list(CONNECTORS, w)))
                || (k == 0 && place(w).is_some())
            {
                titled |= in_list(TITLES, w);
                cut = k + 1;
            } else if titled {
                break;
            }
        }
        if !titled {
            cut = 0;
        }
    }
    // A place before the title ("U.S. Secretary of Defense ...") is still a place.
    if titled && place(&folded[0]).is_some() {
        out.push(Mention {
            words: vec![run[0].text.to_string()],
            titled: false,
            only_sentence_start: run[0].sentence_start,
        });
    }
    let name = &run[cut..];
    if name.is_empty() {
        return;
    }
    let mut words: Vec<String> = name.iter().map(|w| w.text.to_string()).collect();
    while words.last().is_some_and(|w| in_list(CONNECTORS, &fold(w))) {
        words.pop();
    }
    if words.is_empty() {
        return;
    }
    out.push(Mention { words, titled, only_sentence_start: name[0].sentence_start && name.len() == 1 });
}

fn key_of(words: &[String]) -> String {
    words
        .iter()
        .map(|w| fold(w))
        // Initials do not distinguish people: "Donald J. Trump" is "Donald Trump".
        .filter(|w| !(w.chars().filter(|c| c.is_alphabetic()).count() == 1 && w.ends_with('.')))
        .map(|w| w.trim_end_matches('.').to_string())
        .collect::<Vec<_>>()
        .join("_")
}

fn kind_of(words: &[String], titled: bool) -> EntityKind {
    let folded: Vec<String> = words.iter().map(|w| fold(w)).collect();
    if place(&folded.join(" ")).is_some() {
        return EntityKind::Place;
    }
    if titled {
        return EntityKind::Person;
    }
    if folded.iter().any(|w| in_list(ORG_WORDS, w)) {
        return EntityKind::Organization;
    }
    if words.len() == 1 && words[0].len() >= 2 && words[0].chars().all(|c| c.is_uppercase() || c == '.') {
        return EntityKind::Organization;
    }
    if folded.last().is_some_and(|w| w == "city" || w == "county" || w == "state" || w == "river") {
        return EntityKind::Place;
    }
    if (2..=4).contains(&words.len()) && !folded.iter().any(|w| in_list(CONNECTORS, w)) {
        return EntityKind::Person;
    }
    EntityKind::Other
}

struct Cluster {
    key: String,
    person: bool,
    words: Vec<String>,
    titled: bool,
    count: u32,
    non_initial: bool,
}

fn resolve(mentions: &mut [Mention], title_case: &[Word<'_>]) -> Vec<Entity> {
    // Canonical names: places by the gazetteer, the rest by their own words.
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut by_key: FastMap<String, usize> = FastMap::default();
    // Longest mentions first, so that short forms can attach to them.
    let mut order: Vec<usize> = (0..mentions.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(mentions[i].words.len()));
    for i in order {
        let m = &mentions[i];
        let folded = fold(&m.words.join(" "));
        let words = match place(&folded) {
            Some(p) => p.split(' ').map(str::to_string).collect(),
            None => m.words.clone(),
        };
        let key = key_of(&words);
        if key.is_empty() {
            continue;
        }
        let target = by_key.get(&key).copied().or_else(|| {
            if words.len() != 1 {
                return None;
            }
            // A bare surname or first name joins the one longer person name it abbreviates.
            let k = &key;
            let (suffix, prefix) = (format!("_{k}"), format!("{k}_"));
            let hits: Vec<usize> = clusters
                .iter()
                .enumerate()
                .filter(|(_, c)| c.person && (c.key.ends_with(&suffix) || c.key.starts_with(&prefix)))
                .map(|(i, _)| i)
                .collect();
            (hits.len() == 1).then(|| hits[0])
        });
        match target {
            Some(t) => {
                let c = &mut clusters[t];
                c.count += 1;
                c.titled |= m.titled;
                c.person = c.words.len() > 1 && kind_of(&c.words, c.titled) == EntityKind::Person;
                c.non_initial |= !m.only_sentence_start;
            }
            None => {
                by_key.insert(key.clone(), clusters.len());
                let person = words.len() > 1 && kind_of(&words, m.titled) == EntityKind::Person;
                clusters.push(Cluster {
                    key,
                    person,
                    words,
                    titled: m.titled,
                    count: 1,
                    non_initial: !m.only_sentence_start,
                });
            }
        }
    }
    // A title-case headline ("President Trump Imposes Tariffs on Mexico") is
    // not searched for runs; it only adds mentions of names found elsewhere.
    if !title_case.is_empty() {
        let folded: Vec<String> = title_case.iter().map(|w| fold(w.text)).collect();
        for c in clusters.iter_mut() {
            let last = fold(c.words.last().map_or("", String::as_str));
            if folded.contains(&last) {
                c.count += 1;
            }
        }
    }
    let mut out: Vec<Entity> = clusters
        .into_iter()
        .filter(|c| c.non_initial || place(&fold(&c.words.join(" "))).is_some())
        .map(|c| Entity { kind: kind_of(&c.words, c.titled), name: c.words.join(" "), key: c.key, count: c.count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::words;

    fn ents(text: &str) -> Vec<Entity> {
        let w = words(text);
        let lower: FastSet<std::borrow::Cow<str>> =
            w.iter().filter(|w| !is_cap(w.text)).map(|w| fold(w.text).into()).collect();
        extract(&w, "en", &lower, &[])
    }

    fn find<'a>(e: &'a [Entity], key: &str) -> Option<&'a Entity> {
        e.iter().find(|e| e.key == key)
    }

    #[test]
    fn titles_possessives_and_bare_names_resolve_to_one_person() {
        let e = ents(
            "U.S. Secretary of Defense Pete Hegseth spoke. Senior officials of President Claudia Sheinbaum's \
             government answered. Sheinbaum's team met Defense Secretary Pete Hegseth. Later, Sheinbaum said no. \
             Hegseth said yes.",
        );
        let hegseth = find(&e, "pete_hegseth").expect("Hegseth");
        assert_eq!(hegseth.kind, EntityKind::Person);
        assert_eq!(hegseth.count, 3);
        let sheinbaum = find(&e, "claudia_sheinbaum").expect("Sheinbaum");
        assert_eq!(sheinbaum.kind, EntityKind::Person);
        assert_eq!(sheinbaum.count, 3);
        assert!(find(&e, "united_states").is_some());
        assert!(find(&e, "sheinbaum").is_none() && find(&e, "secretary").is_none());
    }

    #[test]
    fn demonyms_and_spanish_names_share_the_place_key() {
        let e = ents("Mexican officials flew to Mexico City. Later Mexico replied, and the United States waited.");
        assert!(find(&e, "mexico").is_some_and(|m| m.count == 2 && m.kind == EntityKind::Place));
        assert!(find(&e, "mexico_city").is_some());
        let w = words("El gobierno de México y Estados Unidos.");
        let es = extract(&w, "es", &FastSet::default(), &[]);
        assert!(find(&es, "mexico").is_some() && find(&es, "united_states").is_some());
    }

    #[test]
    fn sentence_starts_and_speaker_labels_are_not_names() {
        let e = ents("Following the talks, officials left. THE PRESIDENT: Thank you. Regarding the following issue.");
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn organisations_are_named() {
        let e = ents("The Wall Street Journal revealed it. The newspaper said the Department of State agreed.");
        assert_eq!(find(&e, "wall_street_journal").map(|e| e.kind), Some(EntityKind::Organization));
        assert_eq!(find(&e, "department_of_state").map(|e| e.kind), Some(EntityKind::Organization));
    }
}
