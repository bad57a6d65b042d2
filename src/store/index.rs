//! The tantivy full-text index, derived from SQLite.
//!
//! Invariants: the index holds nothing SQLite does not; it can always be rebuilt (`reindex`).
//! Every commit records the catalog generation it reflects; an index whose generation differs
//! from the database's (a crash between the two commits, a `reclassify`, an older index) is stale
//! and is rebuilt before it is used, never trusted.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TantivyDocument, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{doc, Index, IndexWriter, Term};

use super::db::Db;
use crate::classify::features::push_words;
use crate::model::Risk;

/// Heap for the index writer (split between its threads).
const WRITER_HEAP: usize = 256 * 1024 * 1024;
/// Bumped when the document layout changes, so older indexes are rebuilt.
const LAYOUT: &str = "2";

/// Where the index of a database lives: beside it.
pub fn index_dir(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".index");
    db_path.with_file_name(name)
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the search index at {dir} failed")]
    Tantivy { dir: PathBuf, source: tantivy::TantivyError },
    #[error("cannot prepare the search index directory {dir}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("cannot read the catalog to index it")]
    Sqlite(#[from] rusqlite::Error),
    #[error("invalid search query `{query}`: {message}")]
    Query { query: String, message: String },
}

#[derive(Clone, Copy)]
struct Fields {
    tool_id: Field,
    server_id: Field,
    server: Field,
    server_text: Field,
    name: Field,
    name_words: Field,
    title: Field,
    description: Field,
    category: Field,
    risk: Field,
    risk_level: Field,
    tags: Field,
    confidence: Field,
}

/// Words, lowercased and stemmed (English), so `records` finds `record`.
fn words() -> TextOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer("en_stem")
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    TextOptions::default().set_indexing_options(indexing)
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        tool_id: b.add_u64_field("tool_id", INDEXED | STORED),
        server_id: b.add_u64_field("server_id", INDEXED),
        server: b.add_text_field("server", STRING | STORED),
        server_text: b.add_text_field("server_text", words()),
        name: b.add_text_field("name", STORED),
        name_words: b.add_text_field("name_words", words()),
        title: b.add_text_field("title", words() | STORED),
        description: b.add_text_field("description", words() | STORED),
        category: b.add_text_field("category", STRING | STORED),
        risk: b.add_text_field("risk", STRING | STORED),
        risk_level: b.add_u64_field("risk_level", INDEXED | FAST),
        tags: b.add_text_field("tags", STRING | STORED),
        confidence: b.add_f64_field("confidence", STORED),
    };
    (b.build(), fields)
}

/// One tool as the index sees it (read from SQLite).
#[derive(Debug, Clone)]
pub struct IndexRow {
    pub tool_id: i64,
    pub server_id: i64,
    pub server: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub risk: String,
    pub tags: String,
    pub confidence: f64,
}

/// What to search for.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub category: Option<String>,
    pub risk: Option<Risk>,
    pub min_risk: Option<Risk>,
    pub server: Option<String>,
    pub tag: Option<String>,
    pub limit: usize,
}

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub score: f32,
    pub tool_id: i64,
    pub server: String,
    pub name: String,
    pub category: String,
    pub risk: String,
    pub tags: Vec<String>,
    pub confidence: f64,
    /// The description's best fragment, matched words marked `[[like this]]`.
    pub snippet: String,
    /// The query words found in the name.
    pub name_matches: Vec<String>,
}

/// The search index of one catalog.
pub struct SearchIndex {
    index: Index,
    fields: Fields,
    dir: PathBuf,
    /// One reader for all searches, reloaded after this handle's own commits.
    reader: std::sync::OnceLock<tantivy::IndexReader>,
}

impl SearchIndex {
    /// Opens the index beside `db`, creating it (empty, hence stale) when it is missing or
    /// unreadable: it is derived data, so a damaged index is replaced, never repaired.
    pub fn open(db: &Db) -> Result<SearchIndex, IndexError> {
        let dir = index_dir(db.path());
        let (schema, fields) = schema();
        let io = |source| IndexError::Io { dir: dir.clone(), source };
        let tv = |source| IndexError::Tantivy { dir: dir.clone(), source };
        let existing = dir.join("meta.json").exists().then(|| Index::open_in_dir(&dir)).and_then(Result::ok);
        let index = match existing.filter(|i| i.schema() == schema) {
            Some(index) => index,
            None => {
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).map_err(io)?;
                }
                std::fs::create_dir_all(&dir).map_err(io)?;
                Index::create_in_dir(&dir, schema).map_err(tv)?
            }
        };
        Ok(SearchIndex { index, fields, dir, reader: std::sync::OnceLock::new() })
    }

    fn tv(&self) -> impl Fn(tantivy::TantivyError) -> IndexError + '_ {
        |source| IndexError::Tantivy { dir: self.dir.clone(), source }
    }

    /// The catalog generation the index reflects, if it says.
    pub fn generation(&self) -> Option<i64> {
        let payload = self.index.load_metas().ok()?.payload?;
        let (layout, generation) = payload.split_once(':')?;
        (layout == LAYOUT).then(|| generation.parse().ok()).flatten()
    }

    /// Whether the index reflects the database as it is now.
    pub fn is_fresh(&self, db: &Db) -> Result<bool, IndexError> {
        Ok(self.generation() == Some(db.generation()?))
    }

    /// Rebuilds the index from SQLite if it is stale; returns whether it did.
    pub fn ensure_fresh(&self, db: &Db) -> Result<bool, IndexError> {
        if self.is_fresh(db)? {
            return Ok(false);
        }
        self.rebuild(db)?;
        Ok(true)
    }

    fn writer(&self) -> Result<IndexWriter, IndexError> {
        self.index.writer(WRITER_HEAP).map_err(self.tv())
    }

    fn add(&self, writer: &IndexWriter, row: &IndexRow) -> Result<(), IndexError> {
        let f = self.fields;
        let mut words = String::with_capacity(row.name.len() + 4);
        push_words(&mut words, &row.name, ' ');
        let mut server_words = String::with_capacity(row.server.len() + 4);
        push_words(&mut server_words, &row.server, ' ');
        let level = row.risk.parse::<Risk>().map_or(0, |r| r as u64);
        let mut doc = doc!(
            f.tool_id => row.tool_id as u64,
            f.server_id => row.server_id as u64,
            f.server => row.server.as_str(),
            f.server_text => server_words,
            f.name => row.name.as_str(),
            f.name_words => words,
            f.title => row.title.as_str(),
            f.description => row.description.as_str(),
            f.category => row.category.as_str(),
            f.risk => row.risk.as_str(),
            f.risk_level => level,
            f.confidence => row.confidence,
        );
        for tag in row.tags.split_whitespace() {
            doc.add_text(f.tags, tag);
        }
        writer.add_document(doc).map_err(self.tv())?;
        Ok(())
    }

    fn commit(&self, mut writer: IndexWriter, generation: i64) -> Result<(), IndexError> {
        let mut prepared = writer.prepare_commit().map_err(self.tv())?;
        prepared.set_payload(&format!("{LAYOUT}:{generation}"));
        prepared.commit().map_err(self.tv())?;
        writer.wait_merging_threads().map_err(self.tv())?;
        if let Some(reader) = self.reader.get() {
            reader.reload().map_err(self.tv())?;
        }
        Ok(())
    }

    /// Throws the index away and indexes every current tool again. Returns how many.
    pub fn rebuild(&self, db: &Db) -> Result<usize, IndexError> {
        let generation = db.generation()?;
        let writer = self.writer()?;
        writer.delete_all_documents().map_err(self.tv())?;
        let mut count = 0;
        let mut failed = None;
        db.index_rows(None, &mut |row| {
            if failed.is_none() {
                match self.add(&writer, &row) {
                    Ok(()) => count += 1,
                    Err(e) => failed = Some(e),
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        self.commit(writer, generation)?;
        Ok(count)
    }

    /// Re-indexes the tools of these servers, if the index was fresh before they changed
    /// (`before` is the generation then); otherwise rebuilds everything.
    pub fn update_servers(&self, db: &Db, server_ids: &[i64], before: i64) -> Result<(), IndexError> {
        if self.generation() != Some(before) {
            self.rebuild(db)?;
            return Ok(());
        }
        let generation = db.generation()?;
        let writer = self.writer()?;
        for id in server_ids {
            writer.delete_term(Term::from_field_u64(self.fields.server_id, *id as u64));
        }
        let mut failed = None;
        db.index_rows(Some(server_ids), &mut |row| {
            if failed.is_none() {
                if let Err(e) = self.add(&writer, &row) {
                    failed = Some(e);
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        self.commit(writer, generation)
    }

    /// Searches: words over names (ranked first), titles, descriptions and server names; filters
    /// by category, exact risk, minimum risk, server and tag.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<Hit>, IndexError> {
        let f = self.fields;
        let reader = match self.reader.get() {
            Some(r) => r,
            None => {
                let r = self
                    .index
                    .reader_builder()
                    .reload_policy(tantivy::ReloadPolicy::Manual)
                    .try_into()
                    .map_err(self.tv())?;
                self.reader.get_or_init(|| r)
            }
        };
        let searcher = reader.searcher();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text_query = if q.text.trim().is_empty() {
            None
        } else {
            let mut parser =
                QueryParser::for_index(&self.index, vec![f.name_words, f.title, f.description, f.server_text]);
            parser.set_field_boost(f.name_words, 4.0);
            parser.set_field_boost(f.title, 2.0);
            parser.set_conjunction_by_default();
            // Plain words only: the query language's syntax is not for end users' input.
            let cleaned: String = q.text.chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
            let mut words = String::new();
            push_words(&mut words, &cleaned, ' ');
            let parsed = parser
                .parse_query(&words)
                .map_err(|e| IndexError::Query { query: q.text.clone(), message: e.to_string() })?;
            Some(parsed)
        };
        if let Some(t) = &text_query {
            clauses.push((Occur::Must, t.box_clone()));
        }
        // Filters narrow the results; they do not score them.
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            let q = TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic);
            Box::new(ConstScoreQuery::new(Box::new(q), 0.0))
        };
        if let Some(c) = &q.category {
            clauses.push((Occur::Must, term(f.category, c)));
        }
        if let Some(r) = q.risk {
            clauses.push((Occur::Must, term(f.risk, r.as_str())));
        }
        if let Some(s) = &q.server {
            clauses.push((Occur::Must, term(f.server, s)));
        }
        if let Some(t) = &q.tag {
            clauses.push((Occur::Must, term(f.tags, t)));
        }
        // Every tool is at least low risk: that filter would only cost time.
        if let Some(min) = q.min_risk.filter(|m| *m > Risk::Low) {
            let range = RangeQuery::new_u64_bounds(
                "risk_level".to_string(),
                Bound::Included(min as u64),
                Bound::Included(Risk::Critical as u64),
            );
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(range), 0.0))));
        }
        let query: Box<dyn Query> =
            if clauses.is_empty() { Box::new(AllQuery) } else { Box::new(BooleanQuery::new(clauses)) };
        let top = searcher.search(&query, &TopDocs::with_limit(q.limit.max(1))).map_err(self.tv())?;
        let snippets = match &text_query {
            Some(t) => Some(tantivy::SnippetGenerator::create(&searcher, &**t, f.description).map_err(self.tv())?),
            None => None,
        };
        let query_words: Vec<String> = {
            let mut w = String::new();
            push_words(&mut w, &q.text, ' ');
            w.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect()
        };
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(self.tv())?;
            let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let name = text(f.name);
            let snippet = match &snippets {
                Some(gen) => {
                    let s = gen.snippet_from_doc(&doc);
                    mark(s.fragment(), s.highlighted())
                }
                None => String::new(),
            };
            let mut name_words = String::new();
            push_words(&mut name_words, &name, ' ');
            let name_matches =
                query_words.iter().filter(|w| name_words.split(' ').any(|n| n == w.as_str())).cloned().collect();
            hits.push(Hit {
                score,
                tool_id: doc.get_first(f.tool_id).and_then(|v| v.as_u64()).unwrap_or(0) as i64,
                server: text(f.server),
                name,
                category: text(f.category),
                risk: text(f.risk),
                tags: doc.get_all(f.tags).filter_map(|v| v.as_str()).map(str::to_string).collect(),
                confidence: doc.get_first(f.confidence).and_then(|v| v.as_f64()).unwrap_or(0.0),
                snippet,
                name_matches,
            });
        }
        Ok(hits)
    }
}

/// Marks highlighted ranges of a fragment as `[[word]]`.
fn mark(fragment: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut out = String::with_capacity(fragment.len() + ranges.len() * 4);
    let mut at = 0;
    for r in ranges {
        if r.start < at || r.end > fragment.len() {
            continue;
        }
        out.push_str(&fragment[at..r.start]);
        out.push_str("[[");
        out.push_str(&fragment[r.start..r.end]);
        out.push_str("]]");
        at = r.end;
    }
    out.push_str(&fragment[at..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
