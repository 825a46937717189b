//! XML namespaces and property names: the properties this server knows, as a closed enum, and
//! any other name a client may ask for (answered with a 404 propstat).

use std::borrow::Cow;

pub const DAV: &str = "DAV:";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";

/// A qualified element name (namespace URI + local name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QName {
    pub ns: Cow<'static, str>,
    pub local: Cow<'static, str>,
}

impl QName {
    pub const fn dav(local: &'static str) -> QName {
        QName {
            ns: Cow::Borrowed(DAV),
            local: Cow::Borrowed(local),
        }
    }

    pub const fn carddav(local: &'static str) -> QName {
        QName {
            ns: Cow::Borrowed(CARDDAV),
            local: Cow::Borrowed(local),
        }
    }

    pub const fn cs(local: &'static str) -> QName {
        QName {
            ns: Cow::Borrowed(CALENDARSERVER),
            local: Cow::Borrowed(local),
        }
    }

    pub fn new(ns: &str, local: &str) -> QName {
        QName {
            ns: Cow::Owned(ns.to_owned()),
            local: Cow::Owned(local.to_owned()),
        }
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

/// Every property this server computes. Anything else is a dead property where one is
/// stored (address books and cards) and "not found" (404 propstat) otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Known {
    ResourceType,
    DisplayName,
    GetEtag,
    GetContentType,
    GetContentLength,
    GetLastModified,
    SyncToken,
    GetCtag,
    SupportedReportSet,
    SupportedAddressData,
    MaxResourceSize,
    AddressbookDescription,
    CurrentUserPrivilegeSet,
    Owner,
    CurrentUserPrincipal,
    PrincipalUrl,
    AddressbookHomeSet,
    PrincipalCollectionSet,
    AddressData,
    /// Apple's `CS:me-card` on the home: accepted by PROPPATCH, never stored.
    MeCard,
}

const TABLE: &[(Known, &str, &str)] = &[
    (Known::ResourceType, DAV, "resourcetype"),
    (Known::DisplayName, DAV, "displayname"),
    (Known::GetEtag, DAV, "getetag"),
    (Known::GetContentType, DAV, "getcontenttype"),
    (Known::GetContentLength, DAV, "getcontentlength"),
    (Known::GetLastModified, DAV, "getlastmodified"),
    (Known::SyncToken, DAV, "sync-token"),
    (Known::GetCtag, CALENDARSERVER, "getctag"),
    (Known::SupportedReportSet, DAV, "supported-report-set"),
    (
        Known::SupportedAddressData,
        CARDDAV,
        "supported-address-data",
    ),
    (Known::MaxResourceSize, CARDDAV, "max-resource-size"),
    (
        Known::AddressbookDescription,
        CARDDAV,
        "addressbook-description",
    ),
    (
        Known::CurrentUserPrivilegeSet,
        DAV,
        "current-user-privilege-set",
    ),
    (Known::Owner, DAV, "owner"),
    (Known::CurrentUserPrincipal, DAV, "current-user-principal"),
    (Known::PrincipalUrl, DAV, "principal-URL"),
    (Known::AddressbookHomeSet, CARDDAV, "addressbook-home-set"),
    (
        Known::PrincipalCollectionSet,
        DAV,
        "principal-collection-set",
    ),
    (Known::AddressData, CARDDAV, "address-data"),
    (Known::MeCard, CALENDARSERVER, "me-card"),
];

impl Known {
    pub fn from_name(ns: &str, local: &str) -> Option<Known> {
        TABLE
            .iter()
            .find(|(_, n, l)| *n == ns && *l == local)
            .map(|(k, _, _)| *k)
    }

    pub fn name(self) -> QName {
        let (_, ns, local) = TABLE
            .iter()
            .find(|(k, _, _)| *k == self)
            .copied()
            .unwrap_or((self, DAV, "unknown"));
        QName {
            ns: Cow::Borrowed(ns),
            local: Cow::Borrowed(local),
        }
    }

    /// Properties no client may set (RFC 4918 protected properties and our computed ones).
    pub fn is_protected(self) -> bool {
        !matches!(
            self,
            Known::DisplayName | Known::AddressbookDescription | Known::MeCard
        )
    }
}

/// The prefix written for a namespace we declare on the root element, if it is one of ours.
pub fn prefix_for(ns: &str) -> Option<&'static str> {
    match ns {
        DAV => Some("d"),
        CARDDAV => Some("card"),
        CALENDARSERVER => Some("cs"),
        _ => None,
    }
}

/// The namespace of `xml:` attributes (Namespaces in XML 1.0 §3): always bound to the `xml`
/// prefix, never declared as a default namespace.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of `xmlns` declarations themselves (Namespaces in XML 1.0 §3): no element may
/// be in it.
pub const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// XML 1.0 (fifth edition) §2.3 `NameStartChar`, without the colon (Namespaces in XML 1.0 §3
/// NCName).
fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (fifth edition) §2.3 `NameChar`, without the colon.
fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether `name` is an NCName (Namespaces in XML 1.0 §3): a name without a colon, as element
/// local names, prefixes and attribute names must be. Requests with other names are refused
/// when read, so anything echoed back is a name every XML parser accepts.
pub fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

/// Whether an element named `name` can be written: its local name is an NCName and its
/// namespace is one an element may have. Names reach the writer from parsed requests; a name
/// we cannot echo as well-formed XML is left out.
pub fn is_writable(name: &QName) -> bool {
    is_ncname(&name.local) && name.ns != XMLNS_NS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip() {
        for (known, ns, local) in TABLE {
            assert_eq!(Known::from_name(ns, local), Some(*known));
            assert!(known.name().is(ns, local));
        }
        assert_eq!(Known::from_name(DAV, "nope"), None);
    }

    #[test]
    fn names_are_ncnames() {
        assert!(is_ncname("getetag"));
        assert!(is_ncname("principal-URL"));
        assert!(!is_ncname("a\"b"));
        assert!(!is_ncname(""));
        assert!(!is_ncname("1abc"));
        assert!(!is_ncname("a:b"));
        // Not every Unicode letter or digit is an XML name character: U+00AA and U+00B2 are
        // refused, U+00B7 may follow but not start a name.
        assert!(!is_ncname("\u{aa}"));
        assert!(!is_ncname("a\u{b2}"));
        assert!(!is_ncname("\u{b7}a"));
        assert!(is_ncname("a\u{b7}"));
        assert!(is_ncname("Jürgen"));
        assert!(!is_writable(&QName::new(XMLNS_NS, "x")));
        assert!(is_writable(&QName::new(XML_NS, "lang")));
    }
}
