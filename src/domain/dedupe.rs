//! Duplicate detection: which contacts of a book are the same person, and how sure that is.
//!
//! Input is one [`Profile`] per contact (folded names, case-folded emails, E.164 numbers); the
//! store reads them in one pass over the book. Candidate pairs come from hash buckets, never
//! from comparing every contact with every other:
//!
//! - the same email address (case-insensitive);
//! - the same E.164 phone number;
//! - the same folded name, its words in any order ("Zhang Wei" / "Wei Zhang", "María García" /
//!   "maria garcia");
//! - similar names: contacts sharing a name word are compared by trigram similarity (the
//!   measure of PostgreSQL's `pg_trgm`), so "Jon Smith" meets "John Smith".
//!
//! Evidence is weighed, not counted ([`score`]): an email address is strong; a phone number is
//! strong when two contacts share it and weak when many do (a company switchboard); the same
//! name alone is weak (two people can share a name); and contacts whose names clearly differ,
//! or who each have email addresses none of which match, are marked down. Pairs at or above
//! the threshold join sets transitively, except across pairs the user dismissed as different
//! people ([`DuplicateFinder::dismissed`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::domain::text;

/// Why two contacts look like one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DuplicateReason {
    SameEmail,
    SamePhone,
    SameName,
    SimilarName,
}

/// What detection needs to know about one contact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub id: i64,
    pub address_book_id: i64,
    /// First, middle and last name, or the display name (or company) when there are none.
    pub name: String,
    /// Email addresses as stored; folded here.
    pub emails: Vec<String>,
    /// E.164 numbers (numbers that do not normalize are left out by the caller).
    pub phones: Vec<String>,
    /// How much the contact holds (fields, emails, phones, addresses): the most complete one
    /// of a set is the natural one to keep.
    pub completeness: u32,
}

/// A set of contacts that look like one person.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateSet {
    /// The weakest link that joined the set, in [0, 1].
    pub score: f64,
    pub reasons: BTreeSet<DuplicateReason>,
    /// Contact ids, the most complete first.
    pub ids: Vec<i64>,
}

/// Contacts in a bucket larger than this are not paired by it: a key that many contacts share
/// (a switchboard number, a very common name word) says little about any two of them, and
/// pairing them all would be quadratic in the bucket.
const MAX_BUCKET: usize = 64;

/// Weight of a shared email address.
const EMAIL_WEIGHT: f64 = 0.9;
/// Weight of a phone number shared by exactly two contacts; shared by more, it weighs less.
const PHONE_WEIGHT: f64 = 0.7;
/// Weight of the same name of two words or more; a one-word name weighs less.
const SAME_NAME_WEIGHT: f64 = 0.45;
const SAME_SHORT_NAME_WEIGHT: f64 = 0.3;
/// Names at least this similar (trigram similarity) are "similar".
const SIMILAR_NAME_THRESHOLD: f64 = 0.5;
/// Names less similar than this are "different": evidence for the pair is halved.
const DIFFERENT_NAME_THRESHOLD: f64 = 0.3;

/// The evidence found for one pair.
#[derive(Debug, Clone, Default)]
struct Evidence {
    email: bool,
    /// The largest weight of a shared phone number.
    phone: f64,
    same_name: bool,
    similar_name: f64,
}

/// Finds duplicate sets among profiles.
#[derive(Debug, Default)]
pub struct DuplicateFinder {
    /// Pairs (smaller id first) the user said are different people.
    pub dismissed: HashSet<(i64, i64)>,
    /// Compare contacts of different address books too.
    pub across_books: bool,
}

/// A profile's folded forms, computed once.
struct Prepared {
    name: String,
    words: Vec<String>,
    emails: Vec<String>,
}

fn ordered(a: i64, b: i64) -> (i64, i64) {
    if a < b { (a, b) } else { (b, a) }
}

impl DuplicateFinder {
    /// The duplicate sets among `profiles` scoring at least `min_score`, best first.
    pub fn find(&self, profiles: &[Profile], min_score: f64) -> Vec<DuplicateSet> {
        let prepared: Vec<Prepared> = profiles.iter().map(prepare).collect();
        let mut evidence: HashMap<(usize, usize), Evidence> = HashMap::new();
        let comparable = |a: usize, b: usize| {
            a != b
                && (self.across_books || profiles[a].address_book_id == profiles[b].address_book_id)
                && !self
                    .dismissed
                    .contains(&ordered(profiles[a].id, profiles[b].id))
        };
        let key = |a: usize, b: usize| (a.min(b), a.max(b));

        for bucket in buckets(prepared.iter().map(|p| p.emails.clone())) {
            for (a, b) in pairs(&bucket) {
                if comparable(a, b) {
                    evidence.entry(key(a, b)).or_default().email = true;
                }
            }
        }
        for bucket in buckets(profiles.iter().map(|p| p.phones.clone())) {
            // Two contacts sharing a number: strong; a number many share: a switchboard.
            let weight = PHONE_WEIGHT / (bucket.len() as f64 - 1.0);
            for (a, b) in pairs(&bucket) {
                if comparable(a, b) {
                    let e = evidence.entry(key(a, b)).or_default();
                    e.phone = e.phone.max(weight);
                }
            }
        }
        for bucket in buckets(prepared.iter().map(|p| {
            (!p.name.is_empty())
                .then(|| p.name.clone())
                .into_iter()
                .collect()
        })) {
            for (a, b) in pairs(&bucket) {
                if comparable(a, b) {
                    evidence.entry(key(a, b)).or_default().same_name = true;
                }
            }
        }
        // Similar names: compared only within a shared word of three letters or more.
        for bucket in buckets(prepared.iter().map(|p| {
            p.words
                .iter()
                .filter(|w| w.chars().count() >= 3)
                .cloned()
                .collect()
        })) {
            for (a, b) in pairs(&bucket) {
                if prepared[a].name == prepared[b].name {
                    continue;
                }
                let similarity = trigram_similarity(&prepared[a].name, &prepared[b].name);
                if similarity >= SIMILAR_NAME_THRESHOLD && comparable(a, b) {
                    let e = evidence.entry(key(a, b)).or_default();
                    e.similar_name = e.similar_name.max(similarity);
                }
            }
        }

        let mut scored: Vec<(f64, usize, usize, BTreeSet<DuplicateReason>)> = evidence
            .into_iter()
            .map(|((a, b), e)| {
                let (value, reasons) = score(&e, &prepared[a], &prepared[b]);
                (value, a, b, reasons)
            })
            .filter(|(value, ..)| *value >= min_score)
            .collect();
        // Strongest pairs join first, so a set's weakest link is as strong as it can be.
        scored.sort_by(|x, y| {
            y.0.total_cmp(&x.0)
                .then_with(|| profiles[x.1].id.cmp(&profiles[y.1].id))
                .then_with(|| profiles[x.2].id.cmp(&profiles[y.2].id))
        });
        self.join(profiles, scored)
    }

    /// Union-find over the scored pairs; two sets are not joined when that would put a
    /// dismissed pair together.
    fn join(
        &self,
        profiles: &[Profile],
        scored: Vec<(f64, usize, usize, BTreeSet<DuplicateReason>)>,
    ) -> Vec<DuplicateSet> {
        let mut parent: Vec<usize> = (0..profiles.len()).collect();
        let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut set_score: HashMap<usize, f64> = HashMap::new();
        let mut set_reasons: HashMap<usize, BTreeSet<DuplicateReason>> = HashMap::new();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for (value, a, b, reasons) in scored {
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            if ra == rb {
                set_reasons.entry(ra).or_default().extend(reasons);
                continue;
            }
            let left = members.get(&ra).cloned().unwrap_or_else(|| vec![ra]);
            let right = members.get(&rb).cloned().unwrap_or_else(|| vec![rb]);
            let conflict = !self.dismissed.is_empty()
                && left.iter().any(|&x| {
                    right.iter().any(|&y| {
                        self.dismissed
                            .contains(&ordered(profiles[x].id, profiles[y].id))
                    })
                });
            if conflict {
                continue;
            }
            parent[rb] = ra;
            let mut joined = left;
            joined.extend(right);
            members.remove(&rb);
            members.insert(ra, joined);
            let weakest = [
                set_score.remove(&rb),
                set_score.get(&ra).copied(),
                Some(value),
            ]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
            set_score.insert(ra, weakest);
            let mut all = set_reasons.remove(&rb).unwrap_or_default();
            all.extend(reasons);
            set_reasons.entry(ra).or_default().extend(all);
        }
        let mut sets: Vec<DuplicateSet> = members
            .into_iter()
            .map(|(root, mut ids)| {
                ids.sort_by(|&x, &y| {
                    profiles[y]
                        .completeness
                        .cmp(&profiles[x].completeness)
                        .then(profiles[x].id.cmp(&profiles[y].id))
                });
                DuplicateSet {
                    score: (set_score.get(&root).copied().unwrap_or(0.0) * 1000.0).round() / 1000.0,
                    reasons: set_reasons.remove(&root).unwrap_or_default(),
                    ids: ids.into_iter().map(|i| profiles[i].id).collect(),
                }
            })
            .collect();
        sets.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.ids[0].cmp(&y.ids[0])));
        sets
    }
}

fn prepare(profile: &Profile) -> Prepared {
    let mut words: Vec<String> = text::fold(&profile.name)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    // Word order does not matter ("Zhang Wei" is "Wei Zhang").
    words.sort_unstable();
    words.dedup();
    let mut emails: Vec<String> = profile
        .emails
        .iter()
        .map(|e| text::fold(e.trim()))
        .filter(|e| e.contains('@'))
        .collect();
    emails.sort_unstable();
    emails.dedup();
    Prepared {
        name: words.join(" "),
        words,
        emails,
    }
}

/// Groups of profile indexes sharing a key, each group of 2 to [`MAX_BUCKET`] profiles.
fn buckets(keys: impl Iterator<Item = Vec<String>>) -> Vec<Vec<usize>> {
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, profile_keys) in keys.enumerate() {
        let unique: HashSet<String> = profile_keys.into_iter().collect();
        for key in unique {
            by_key.entry(key).or_default().push(i);
        }
    }
    by_key
        .into_values()
        .filter(|members| (2..=MAX_BUCKET).contains(&members.len()))
        .collect()
}

fn pairs(bucket: &[usize]) -> impl Iterator<Item = (usize, usize)> + '_ {
    bucket
        .iter()
        .enumerate()
        .flat_map(move |(i, &a)| bucket[i + 1..].iter().map(move |&b| (a, b)))
}

/// The score of a pair in [0, 1] and the reasons that produced it: independent evidence
/// combined as a noisy-or (1 − Π(1 − wᵢ)), then marked down for what speaks against one
/// person (clearly different names; email addresses on both sides, none shared).
fn score(e: &Evidence, a: &Prepared, b: &Prepared) -> (f64, BTreeSet<DuplicateReason>) {
    let mut reasons = BTreeSet::new();
    let mut weights = Vec::new();
    if e.email {
        reasons.insert(DuplicateReason::SameEmail);
        weights.push(EMAIL_WEIGHT);
    }
    if e.phone > 0.0 {
        reasons.insert(DuplicateReason::SamePhone);
        weights.push(e.phone);
    }
    if e.same_name {
        reasons.insert(DuplicateReason::SameName);
        weights.push(if a.words.len() >= 2 {
            SAME_NAME_WEIGHT
        } else {
            SAME_SHORT_NAME_WEIGHT
        });
    } else if e.similar_name > 0.0 {
        reasons.insert(DuplicateReason::SimilarName);
        // 0.25 at the threshold, up to the same-name weight for near-identical names.
        let closeness = (e.similar_name - SIMILAR_NAME_THRESHOLD) / (1.0 - SIMILAR_NAME_THRESHOLD);
        weights.push(0.25 + (SAME_NAME_WEIGHT - 0.25) * closeness.clamp(0.0, 1.0));
    }
    let mut value = 1.0 - weights.iter().map(|w| 1.0 - w).product::<f64>();
    let names_differ = !a.name.is_empty()
        && !b.name.is_empty()
        && !e.same_name
        && trigram_similarity(&a.name, &b.name) < DIFFERENT_NAME_THRESHOLD;
    if names_differ {
        value *= 0.5;
    }
    if !e.email && !a.emails.is_empty() && !b.emails.is_empty() {
        value *= 0.8;
    }
    (value.clamp(0.0, 1.0), reasons)
}

/// Trigram similarity as `pg_trgm` computes it: each word padded with two spaces in front and
/// one behind, the set of its three-character windows, and |A ∩ B| / |A ∪ B|.
pub fn trigram_similarity(a: &str, b: &str) -> f64 {
    let (ta, tb) = (trigrams(a), trigrams(b));
    if ta.is_empty() && tb.is_empty() {
        return 0.0;
    }
    let shared = ta.intersection(&tb).count();
    shared as f64 / (ta.len() + tb.len() - shared) as f64
}

fn trigrams(text: &str) -> HashSet<[char; 3]> {
    let mut out = HashSet::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let padded: Vec<char> = "  "
            .chars()
            .chain(word.chars())
            .chain(" ".chars())
            .collect();
        for window in padded.windows(3) {
            out.insert([window[0], window[1], window[2]]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: i64, name: &str, emails: &[&str], phones: &[&str]) -> Profile {
        Profile {
            id,
            address_book_id: 1,
            name: name.to_owned(),
            emails: emails.iter().map(|e| (*e).to_owned()).collect(),
            phones: phones.iter().map(|p| (*p).to_owned()).collect(),
            completeness: (emails.len() + phones.len()) as u32,
        }
    }

    fn sets(profiles: &[Profile]) -> Vec<DuplicateSet> {
        DuplicateFinder::default().find(profiles, 0.5)
    }

    #[test]
    fn the_same_person_from_two_sources_is_one_set() {
        let found = sets(&[
            profile(
                1,
                "Maria García",
                &["MARIA.GARCIA@EXAMPLE.ORG"],
                &["+14155550101"],
            ),
            profile(
                2,
                "Maria Garcia",
                &["maria.garcia@example.org"],
                &["+14155550101"],
            ),
            profile(3, "Someone Else", &["else@example.org"], &[]),
        ]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].ids.len(), 2);
        assert!(found[0].score > 0.95, "{found:?}");
        assert_eq!(
            found[0].reasons,
            BTreeSet::from([
                DuplicateReason::SameEmail,
                DuplicateReason::SamePhone,
                DuplicateReason::SameName
            ])
        );
    }

    #[test]
    fn a_shared_switchboard_number_does_not_make_colleagues_one_person() {
        let found = sets(&[
            profile(
                1,
                "Alice Johnson",
                &["alice@acme.example"],
                &["+14155550000"],
            ),
            profile(2, "Robert Lee", &["robert@acme.example"], &["+14155550000"]),
            profile(
                3,
                "Carmen Ortiz",
                &["carmen@acme.example"],
                &["+14155550000"],
            ),
        ]);
        assert!(found.is_empty(), "{found:?}");
        // Even just two of them.
        assert!(
            sets(&[
                profile(
                    1,
                    "Alice Johnson",
                    &["alice@acme.example"],
                    &["+14155550000"]
                ),
                profile(2, "Robert Lee", &["robert@acme.example"], &["+14155550000"]),
            ])
            .is_empty()
        );
    }

    #[test]
    fn the_same_name_alone_is_weak_and_with_a_phone_is_strong() {
        let alone = DuplicateFinder::default().find(
            &[
                profile(1, "John Smith", &[], &[]),
                profile(2, "John Smith", &[], &[]),
            ],
            0.0,
        );
        assert_eq!(alone.len(), 1);
        assert!(alone[0].score < 0.5, "{alone:?}");
        let with_phone = sets(&[
            profile(1, "Zhang Wei", &[], &["+8613800138000"]),
            profile(2, "Wei Zhang", &[], &["+8613800138000"]),
        ]);
        assert_eq!(with_phone.len(), 1);
        assert!(with_phone[0].reasons.contains(&DuplicateReason::SameName));
    }

    #[test]
    fn similar_names_with_one_email_are_found() {
        let found = sets(&[
            profile(1, "Jon Smith", &["jsmith@example.org"], &[]),
            profile(2, "John Smith", &["JSmith@Example.org"], &[]),
        ]);
        assert_eq!(found.len(), 1);
        assert!(found[0].reasons.contains(&DuplicateReason::SimilarName));
        assert!(trigram_similarity("jon smith", "john smith") > 0.5);
    }

    #[test]
    fn sets_are_transitive_but_never_join_a_dismissed_pair() {
        let profiles = [
            profile(1, "Ana Silva", &["ana@example.org"], &[]),
            profile(2, "Ana Silva", &["ana@example.org"], &["+5511999990000"]),
            profile(3, "A. Silva", &[], &["+5511999990000"]),
        ];
        let found = sets(&profiles);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].ids.len(), 3);
        assert_eq!(found[0].ids[0], 2, "the most complete contact comes first");
        let finder = DuplicateFinder {
            dismissed: HashSet::from([(1, 3)]),
            across_books: false,
        };
        let found = finder.find(&profiles, 0.5);
        assert!(
            found
                .iter()
                .all(|s| !(s.ids.contains(&1) && s.ids.contains(&3)))
        );
        let finder = DuplicateFinder {
            dismissed: HashSet::from([(1, 2)]),
            across_books: false,
        };
        assert!(finder.find(&profiles[..2], 0.0).is_empty());
    }

    #[test]
    fn books_are_compared_apart_unless_asked() {
        let mut other = profile(2, "Maria Garcia", &["maria@example.org"], &[]);
        other.address_book_id = 2;
        let profiles = [
            profile(1, "Maria Garcia", &["maria@example.org"], &[]),
            other,
        ];
        assert!(sets(&profiles).is_empty());
        let across = DuplicateFinder {
            across_books: true,
            ..DuplicateFinder::default()
        };
        assert_eq!(across.find(&profiles, 0.5).len(), 1);
    }

    #[test]
    fn a_huge_bucket_is_not_paired() {
        let profiles: Vec<Profile> = (0..1000)
            .map(|i| profile(i, &format!("Person {i}"), &[], &["+14155550000"]))
            .collect();
        assert!(DuplicateFinder::default().find(&profiles, 0.0).is_empty());
    }
}
