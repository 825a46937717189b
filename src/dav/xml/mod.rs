//! Pure XML for WebDAV/CardDAV with quick-xml: reading request bodies into typed requests and
//! writing multistatus and error bodies. No IO, no store, no HTTP plumbing beyond status codes.
//!
//! - [`names`]: namespaces, the known properties, element-name safety;
//! - [`tree`]: a defensive reader (no DTDs, bounded depth and size) into an element tree;
//! - [`request`]: PROPFIND / PROPPATCH / MKCOL / REPORT bodies as typed requests;
//! - [`filter`]: the addressbook-query filter inside a REPORT;
//! - [`principal`]: the WebDAV ACL principal REPORTs (RFC 3744 9);
//! - [`dead`]: PROPPATCH property elements kept verbatim as dead properties;
//! - [`write`]: multistatus and `DAV:error` bodies;
//! - [`values`]: fixed property values (supported reports, privileges, address-data types);
//! - `fuzz` (tests only): property-based fuzzing of all of the above.

pub mod dead;
pub mod filter;
#[cfg(test)]
mod fuzz;
pub mod names;
pub mod principal;
pub mod request;
pub mod tree;
pub mod values;
pub mod write;
