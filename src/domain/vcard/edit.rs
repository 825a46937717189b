//! Editing primitives over calcard's property list, shared by `patch`: replace or remove the
//! properties of one kind at the position of the first, reuse existing properties when a list
//! is rewritten, move preference markers, and drop Apple group helpers (`X-ABLabel`,
//! `X-ABADR`) left without the property they label.

use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardType, VCardValue, VCardValueType,
};

use super::extract::is_x;

pub(super) fn text_value(text: &str) -> Vec<VCardValue> {
    vec![VCardValue::Text(text.to_owned())]
}

pub(super) fn new_entry(
    name: VCardProperty,
    params: Vec<VCardParameter>,
    value: &str,
) -> VCardEntry {
    VCardEntry {
        group: None,
        name,
        params,
        values: text_value(value),
    }
}

pub(super) fn x_name(name: &str) -> VCardProperty {
    VCardProperty::Other(name.to_owned())
}

/// Removes every entry matching `pred`; returns the index of the first one removed and the
/// groups they belonged to.
pub(super) fn remove_where(
    vcard: &mut VCard,
    pred: impl Fn(&VCardEntry) -> bool,
) -> (Option<usize>, Vec<String>) {
    let mut first = None;
    let mut groups = Vec::new();
    let mut index = 0;
    vcard.entries.retain(|entry| {
        let remove = pred(entry);
        if remove {
            first.get_or_insert(index);
            if let Some(group) = &entry.group {
                groups.push(group.clone());
            }
        }
        index += 1;
        !remove
    });
    // `first` counted entries before removal; entries before it were all kept, so it is
    // still the right position after removal.
    (first, groups)
}

pub(super) fn insert_at(vcard: &mut VCard, at: Option<usize>, entries: Vec<VCardEntry>) {
    let at = at.unwrap_or(vcard.entries.len()).min(vcard.entries.len());
    vcard.entries.splice(at..at, entries);
}

/// Apple helpers that only label another property of their group.
pub(super) fn is_group_helper(entry: &VCardEntry) -> bool {
    is_x(entry, "X-ABLabel") || is_x(entry, "X-ABADR")
}

/// Drops the helpers of groups that no longer have a main property.
pub(super) fn drop_orphan_groups(vcard: &mut VCard, groups: &[String]) {
    for group in groups {
        let in_group = |e: &VCardEntry| {
            e.group
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(group))
        };
        let has_main = vcard
            .entries
            .iter()
            .any(|e| in_group(e) && !is_group_helper(e));
        if !has_main {
            vcard.entries.retain(|e| !in_group(e));
        }
    }
}

/// Replaces all entries matching `pred` by `entries` (at the position of the first one).
pub(super) fn replace_all(
    vcard: &mut VCard,
    pred: impl Fn(&VCardEntry) -> bool,
    entries: Vec<VCardEntry>,
) {
    let (at, groups) = remove_where(vcard, pred);
    insert_at(vcard, at, entries);
    drop_orphan_groups(vcard, &groups);
}

/// Sets the first property `name` to `value` (keeping its group and parameters) or removes
/// every such property when `value` is `None`.
pub(super) fn set_single(vcard: &mut VCard, name: &VCardProperty, value: Option<&str>) {
    match value {
        Some(value) => {
            if let Some(entry) = vcard.entries.iter_mut().find(|e| &e.name == name) {
                entry.values = text_value(value);
                drop_value_param(entry);
            } else {
                let entry = new_entry(name.clone(), Vec::new(), value);
                let at = default_position(vcard, name);
                insert_at(vcard, at, vec![entry]);
            }
        }
        None => replace_all(vcard, |e| &e.name == name, Vec::new()),
    }
}

/// Where a new property goes: FN and N near the top (after VERSION/PRODID/UID or the other of
/// the two), everything else at the end.
pub(super) fn default_position(vcard: &VCard, name: &VCardProperty) -> Option<usize> {
    let after =
        |pred: &dyn Fn(&VCardEntry) -> bool| vcard.entries.iter().rposition(pred).map(|i| i + 1);
    match name {
        VCardProperty::Fn => vcard
            .entries
            .iter()
            .position(|e| e.name == VCardProperty::N)
            .or_else(|| after(&|e| is_header(e))),
        VCardProperty::N => after(&|e| is_header(e) || e.name == VCardProperty::Fn),
        _ => None,
    }
}

pub(super) fn is_header(entry: &VCardEntry) -> bool {
    matches!(
        entry.name,
        VCardProperty::Version | VCardProperty::Prodid | VCardProperty::Uid
    )
}

/// A VALUE=... parameter describes the old value; a replaced text value needs none, except an
/// explicit VALUE=text, which stays correct.
pub(super) fn drop_value_param(entry: &mut VCardEntry) {
    entry.params.retain(|p| {
        p.name != VCardParameterName::Value
            || matches!(
                &p.value,
                VCardParameterValue::ValueType(VCardValueType::Text)
            )
    });
}

/// Replaces all properties of one extension name by one property per value.
pub(super) fn set_x_list(vcard: &mut VCard, name: &str, values: &[String]) {
    let entries = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| new_entry(x_name(name), Vec::new(), v))
        .collect();
    replace_all(vcard, |e| is_x(e, name), entries);
}

pub(super) fn set_x_single(vcard: &mut VCard, name: &str, value: Option<&str>) {
    let values: Vec<String> = value.map(str::to_owned).into_iter().collect();
    set_x_list(vcard, name, &values);
}

pub(super) fn set_pref(entry: &mut VCardEntry, legacy: bool, preferred: bool) {
    entry.params.retain(|p| {
        p.name != VCardParameterName::Pref
            && !(p.name == VCardParameterName::Type
                && p.value
                    .as_text()
                    .is_some_and(|t| t.eq_ignore_ascii_case("pref")))
    });
    if preferred {
        entry.params.push(if legacy {
            VCardParameter::new(
                VCardParameterName::Type,
                VCardParameterValue::Text("pref".into()),
            )
        } else {
            VCardParameter::new(VCardParameterName::Pref, VCardParameterValue::Integer(1))
        });
    }
}

/// Replaces the kind-bearing TYPE values (home/work/cell/fax/pager) of `entry` by `wanted`,
/// keeping other TYPE values (voice, pref, internet, ...) and every other parameter.
pub(super) fn set_kind_types(entry: &mut VCardEntry, wanted: &[VCardType]) {
    const KIND_TYPES: [&str; 7] = ["home", "work", "cell", "iphone", "mobile", "fax", "pager"];
    entry.params.retain(|p| {
        !(p.name == VCardParameterName::Type
            && p.value
                .as_text()
                .is_some_and(|t| KIND_TYPES.iter().any(|k| t.eq_ignore_ascii_case(k))))
    });
    let at = entry
        .params
        .iter()
        .position(|p| p.name == VCardParameterName::Type)
        .unwrap_or(0);
    let new: Vec<VCardParameter> = wanted
        .iter()
        .map(|t| VCardParameter::new(VCardParameterName::Type, t.clone()))
        .collect();
    entry.params.splice(at..at, new);
}

/// Rebuilds the list of properties selected by `is_kind` from `items`, reusing existing
/// properties where possible: first those that already say the same (`same`), then, for items
/// still unmatched, the unused property at the same list position (an edit of that entry).
/// Reused properties keep their group and parameters and are adjusted by `update`; items with
/// nothing to reuse are built by `build`.
pub(super) fn reconcile<T>(
    vcard: &mut VCard,
    is_kind: impl Fn(&VCardEntry) -> bool,
    items: &[T],
    same: impl Fn(&T, &VCardEntry) -> bool,
    update: impl Fn(&mut VCardEntry, &T, usize),
    build: impl Fn(&T, usize) -> VCardEntry,
) {
    let existing: Vec<VCardEntry> = vcard
        .entries
        .iter()
        .filter(|e| is_kind(e))
        .cloned()
        .collect();
    let mut used = vec![false; existing.len()];
    let mut assigned: Vec<Option<usize>> = vec![None; items.len()];
    for (i, item) in items.iter().enumerate() {
        if let Some(j) = (0..existing.len()).find(|&j| !used[j] && same(item, &existing[j])) {
            used[j] = true;
            assigned[i] = Some(j);
        }
    }
    for (i, slot) in assigned.iter_mut().enumerate() {
        if slot.is_none() && i < existing.len() && !used[i] {
            used[i] = true;
            *slot = Some(i);
        }
    }
    let entries = items
        .iter()
        .zip(assigned)
        .enumerate()
        .map(|(i, (item, slot))| match slot {
            Some(j) => {
                let mut entry = existing[j].clone();
                update(&mut entry, item, i);
                entry
            }
            None => build(item, i),
        })
        .collect();
    replace_all(vcard, is_kind, entries);
}
