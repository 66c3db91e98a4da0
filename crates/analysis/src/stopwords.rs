//! Stop-word lists. English is scikit-learn's `ENGLISH_STOP_WORDS` (318
//! words), so that readnext's lexical signal and the TF-IDF baseline of the
//! evaluation harness drop exactly the same words. Spanish is the Snowball
//! list plus a few spoken-register fillers common in press conferences.

/// English stop words, sorted.
pub const ENGLISH: &[&str] = &[
    "a", "about", "above", "across", "after", "afterwards", "again", "against", "all",
    "almost", "alone", "along", "already", "also", "although", "always", "am", "among",
    "amongst", "amoungst", "amount", "an", "and", "another", "any", "anyhow", "anyone",
    "anything", "anyway", "anywhere", "are", "around", "as", "at", "back", "be", "became",
    "because", "become", "becomes", "becoming", "been", "before", "beforehand", "behind",
    "being", "below", "beside", "besides", "between", "beyond", "bill", "both", "bottom",
    "but", "by", "call", "can", "cannot", "cant", "co", "con", "could", "couldnt", "cry", "de",
    "describe", "detail", "do", "done", "down", "due", "during", "each", "eg", "eight",
    "either", "eleven", "else", "elsewhere", "empty", "enough", "etc", "even", "ever", "every",
    "everyone", "everything", "everywhere", "except", "few", "fifteen", "fifty", "fill",
    "find", "fire", "first", "five", "for", "former", "formerly", "forty", "found", "four",
    "from", "front", "full", "further", "get", "give", "go", "had", "has", "hasnt", "have",
    "he", "hence", "her", "here", "hereafter", "hereby", "herein", "hereupon", "hers",
    "herself", "him", "himself", "his", "how", "however", "hundred", "i", "ie", "if", "in",
    "inc", "indeed", "interest", "into", "is", "it", "its", "itself", "keep", "last", "latter",
    "latterly", "least", "less", "ltd", "made", "many", "may", "me", "meanwhile", "might",
    "mill", "mine", "more", "moreover", "most", "mostly", "move", "much", "must", "my",
    "myself", "name", "namely", "neither", "never", "nevertheless", "next", "nine", "no",
    "nobody", "none", "noone", "nor", "not", "nothing", "now", "nowhere", "of", "off", "often",
    "on", "once", "one", "only", "onto", "or", "other", "others", "otherwise", "our", "ours",
    "ourselves", "out", "over", "own", "part", "per", "perhaps", "please", "put", "rather",
    "re", "same", "see", "seem", "seemed", "seeming", "seems", "serious", "several", "she",
    "should", "show", "side", "since", "sincere", "six", "sixty", "so", "some", "somehow",
    "someone", "something", "sometime", "sometimes", "somewhere", "still", "such", "system",
    "take", "ten", "than", "that", "the", "their", "them", "themselves", "then", "thence",
    "there", "thereafter", "thereby", "therefore", "therein", "thereupon", "these", "they",
    "thick", "thin", "third", "this", "those", "though", "three", "through", "throughout",
    "thru", "thus", "to", "together", "too", "top", "toward", "towards", "twelve", "twenty",
    "two", "un", "under", "until", "up", "upon", "us", "very", "via", "was", "we", "well",
    "were", "what", "whatever", "when", "whence", "whenever", "where", "whereafter", "whereas",
    "whereby", "wherein", "whereupon", "wherever", "whether", "which", "while", "whither",
    "who", "whoever", "whole", "whom", "whose", "why", "will", "with", "within", "without",
    "would", "yet", "you", "your", "yours", "yourself", "yourselves",
];

/// Spanish stop words, sorted.
pub const SPANISH: &[&str] = &[
    "a", "además", "ahí", "al", "algo", "algunas", "algunos", "allí", "ante", "antes", "aquel",
    "aquella", "aquellas", "aquellos", "aquí", "así", "aunque", "bueno", "cada", "como", "con",
    "contra", "cual", "cuando", "cuál", "cuáles", "cuándo", "cuánto", "cómo", "de", "decir",
    "del", "desde", "dice", "dijo", "donde", "durante", "dónde", "e", "el", "ella", "ellas",
    "ellos", "en", "entonces", "entre", "era", "erais", "eran", "eras", "eres", "es", "esa",
    "esas", "ese", "eso", "esos", "esta", "estaba", "estabais", "estaban", "estabas", "estad",
    "estada", "estadas", "estado", "estados", "estamos", "estando", "estar", "estaremos",
    "estará", "estarán", "estarás", "estaré", "estaréis", "estaría", "estaríais", "estaríamos",
    "estarían", "estarías", "estas", "este", "estemos", "esto", "estos", "estoy", "estuve",
    "estuviera", "estuvierais", "estuvieran", "estuvieras", "estuvieron", "estuviese",
    "estuvieseis", "estuviesen", "estuvieses", "estuvimos", "estuviste", "estuvisteis",
    "estuviéramos", "estuviésemos", "estuvo", "está", "estábamos", "estáis", "están", "estás",
    "esté", "estéis", "estén", "estés", "fue", "fuera", "fuerais", "fueran", "fueras",
    "fueron", "fuese", "fueseis", "fuesen", "fueses", "fui", "fuimos", "fuiste", "fuisteis",
    "fuéramos", "fuésemos", "ha", "habida", "habidas", "habido", "habidos", "habiendo",
    "habremos", "habrá", "habrán", "habrás", "habré", "habréis", "habría", "habríais",
    "habríamos", "habrían", "habrías", "habéis", "había", "habíais", "habíamos", "habían",
    "habías", "hace", "hacer", "han", "has", "hasta", "hay", "haya", "hayamos", "hayan",
    "hayas", "hayáis", "he", "hemos", "hube", "hubiera", "hubierais", "hubieran", "hubieras",
    "hubieron", "hubiese", "hubieseis", "hubiesen", "hubieses", "hubimos", "hubiste",
    "hubisteis", "hubiéramos", "hubiésemos", "hubo", "la", "las", "le", "les", "lo", "los",
    "luego", "mas", "me", "mi", "mientras", "mis", "mucho", "muchos", "muy", "más", "mí",
    "mía", "mías", "mío", "míos", "nada", "ni", "no", "nos", "nosotras", "nosotros", "nuestra",
    "nuestras", "nuestro", "nuestros", "o", "os", "otra", "otras", "otro", "otros", "para",
    "pero", "poco", "por", "porque", "pues", "que", "quien", "quienes", "qué", "se", "sea",
    "seamos", "sean", "seas", "seremos", "será", "serán", "serás", "seré", "seréis", "sería",
    "seríais", "seríamos", "serían", "serías", "seáis", "si", "sido", "siendo", "sin", "sino",
    "sobre", "sois", "solo", "somos", "son", "soy", "su", "sus", "suya", "suyas", "suyo",
    "suyos", "sí", "sólo", "también", "tan", "tanto", "te", "tendremos", "tendrá", "tendrán",
    "tendrás", "tendré", "tendréis", "tendría", "tendríais", "tendríamos", "tendrían",
    "tendrías", "tened", "tenemos", "tenga", "tengamos", "tengan", "tengas", "tengo",
    "tengáis", "tenida", "tenidas", "tenido", "tenidos", "teniendo", "tenéis", "tenía",
    "teníais", "teníamos", "tenían", "tenías", "ti", "tiene", "tienen", "tienes", "todo",
    "todos", "tu", "tus", "tuve", "tuviera", "tuvierais", "tuvieran", "tuvieras", "tuvieron",
    "tuviese", "tuvieseis", "tuviesen", "tuvieses", "tuvimos", "tuviste", "tuvisteis",
    "tuviéramos", "tuviésemos", "tuvo", "tuya", "tuyas", "tuyo", "tuyos", "tú", "un", "una",
    "uno", "unos", "usted", "ustedes", "va", "vamos", "van", "vosotras", "vosotros", "voy",
    "vuestra", "vuestras", "vuestro", "vuestros", "y", "ya", "yo", "él", "éramos",
];

/// Whether `word` (lower-case) is a stop word of `lang` (ISO 639-1).
pub fn is_stop(lang: &str, word: &str) -> bool {
    let list = match lang {
        "es" => SPANISH,
        _ => ENGLISH,
    };
    list.binary_search(&word).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_binary_search() {
        assert!(ENGLISH.windows(2).all(|w| w[0] < w[1]));
        assert!(SPANISH.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ENGLISH.len(), 318);
        assert!(is_stop("en", "the") && !is_stop("en", "cartel"));
        assert!(is_stop("es", "porque") && !is_stop("es", "aranceles"));
    }
}
