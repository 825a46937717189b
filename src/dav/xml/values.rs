//! Fixed property values written into multistatus bodies as trusted XML (they use the `d` and
//! `card` prefixes every multistatus root declares): the reports each kind of resource answers,
//! the vCard versions served, the privileges of the owner and of everyone else.

/// `<d:supported-report-set>` of a card: the two CardDAV reports, applied to the card itself
/// (RFC 6352 3, 8.6, 8.7), and the ACL report.
pub const CARD_REPORTS: &str = concat!(
    "<d:supported-report><d:report><card:addressbook-multiget/></d:report></d:supported-report>",
    "<d:supported-report><d:report><card:addressbook-query/></d:report></d:supported-report>",
    "<d:supported-report><d:report><d:acl-principal-prop-set/></d:report></d:supported-report>"
);

/// `<d:supported-report-set>` of an address book.
pub const ADDRESSBOOK_REPORTS: &str = concat!(
    "<d:supported-report><d:report><card:addressbook-multiget/></d:report></d:supported-report>",
    "<d:supported-report><d:report><card:addressbook-query/></d:report></d:supported-report>",
    "<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>",
    "<d:supported-report><d:report><d:principal-match/></d:report></d:supported-report>",
    "<d:supported-report><d:report><d:acl-principal-prop-set/></d:report></d:supported-report>"
);

/// `<d:supported-report-set>` of the principal collection and a principal (RFC 3744 9).
pub const PRINCIPAL_REPORTS: &str = concat!(
    "<d:supported-report><d:report><d:principal-property-search/></d:report></d:supported-report>",
    "<d:supported-report><d:report><d:principal-search-property-set/></d:report></d:supported-report>",
    "<d:supported-report><d:report><d:principal-match/></d:report></d:supported-report>",
    "<d:supported-report><d:report><d:acl-principal-prop-set/></d:report></d:supported-report>"
);

/// `<d:supported-report-set>` of an address-book home.
pub const HOME_REPORTS: &str = concat!(
    "<d:supported-report><d:report><d:principal-match/></d:report></d:supported-report>",
    "<d:supported-report><d:report><d:acl-principal-prop-set/></d:report></d:supported-report>"
);

/// `<card:supported-address-data>` content.
pub const ADDRESS_DATA_TYPES: &str = concat!(
    "<card:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>",
    "<card:address-data-type content-type=\"text/vcard\" version=\"4.0\"/>"
);

/// `<d:current-user-privilege-set>` content: the owner may do everything on their resources.
pub const OWNER_PRIVILEGES: &str = concat!(
    "<d:privilege><d:read/></d:privilege>",
    "<d:privilege><d:write/></d:privilege>",
    "<d:privilege><d:write-properties/></d:privilege>",
    "<d:privilege><d:write-content/></d:privilege>",
    "<d:privilege><d:bind/></d:privilege>",
    "<d:privilege><d:unbind/></d:privilege>",
    "<d:privilege><d:read-current-user-privilege-set/></d:privilege>"
);

/// `<d:current-user-privilege-set>` content for the DAV root and collections of principals /
/// homes, which nobody can write to.
pub const READ_PRIVILEGES: &str = concat!(
    "<d:privilege><d:read/></d:privilege>",
    "<d:privilege><d:read-current-user-privilege-set/></d:privilege>"
);
