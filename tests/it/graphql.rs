//! The GraphQL API over HTTP against a real PostgreSQL: every operation of the three seed specs,
//! search, the change feed, error codes, limits, tenant isolation and the N+1 guard.

use crate::common;

use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    url: String,
    auth: Option<String>,
}

impl Client {
    async fn new(base: &str, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: format!("{base}/graphql"),
            auth: Some(format!("Bearer {token}")),
        }
    }

    async fn post(&self, query: &str, variables: Value) -> (u16, Value) {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// `data`, asserting the response has no errors.
    async fn data(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// The `extensions.code` of the first error, asserting there is one.
    async fn error(&self, query: &str, variables: Value) -> Value {
        let (_, body) = self.post(query, variables).await;
        let error = body["errors"][0].clone();
        assert!(!error.is_null(), "expected an error: {body}");
        error
    }
}

const CONTACT_FIELDS: &str =
    "id databaseId uid etag displayName alias prefix firstName middleName lastName suffix
    phoneticFirstName phoneticMiddleName phoneticLastName nickname company department jobTitle
    emails { type email } email phoneNumbers { type number normalized } phoneNumber
    addresses { type street city state zip country } username avatarUrl conversationId
    lastActiveAt publicKey ownerIdentity dropUrls moduleData categories note
    groups { id name } group { id name } createdAt updatedAt deletedAt";

async fn setup() -> (rolodex::store::Store, rolodex::store::Principal, Client) {
    let store = common::store().await;
    let user = common::user(&store, "gql").await;
    let token = common::token(&store, &user).await;
    let base = common::serve(&store).await;
    let client = Client::new(&base, &token).await;
    (store, user, client)
}

#[tokio::test]
async fn protocol_chat_contacts_flow() {
    let (_store, _user, client) = setup().await;
    // Create with username + phone (+ avatar), as Protocol's POST /v1/contacts.
    let created = client
        .data(
            "mutation($input: ContactInput!) { createContact(input: $input) { etag contact { id username phoneNumber avatarUrl displayName conversationId lastActiveAt createdAt } } }",
            json!({ "input": {
                "username": "FrankMcCallister",
                "phoneNumbers": [{ "number": "1-800-759-3000" }],
                "avatarUrl": "https://assets.protocol.chat/avatars/frank.jpg",
                "conversationId": "xgQQXg3hrtjh7AvZ",
                "lastActiveAt": "1992-05-06T22:00:00Z"
            }}),
        )
        .await;
    let contact = &created["createContact"]["contact"];
    let id = contact["id"].as_str().unwrap().to_owned();
    assert_eq!(contact["username"], "FrankMcCallister");
    assert_eq!(contact["phoneNumber"], "1-800-759-3000");
    assert_eq!(
        contact["avatarUrl"],
        "https://assets.protocol.chat/avatars/frank.jpg"
    );
    // By default the display name is just the username.
    assert_eq!(contact["displayName"], "FrankMcCallister");
    assert_eq!(contact["conversationId"], "xgQQXg3hrtjh7AvZ");
    assert_eq!(contact["lastActiveAt"], "1992-05-06T22:00:00+00:00");

    // Retrieve.
    let got = client
        .data(
            "query($id: ID!) { contact(id: $id) { id username phoneNumbers { normalized } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        got["contact"]["phoneNumbers"][0]["normalized"],
        "+18007593000"
    );

    // Update the display name only.
    let etag = created["createContact"]["etag"].as_str().unwrap();
    let updated = client
        .data(
            "mutation($id: ID!, $etag: String) { updateContact(id: $id, input: { displayName: \"UncleFrank\" }, ifMatch: $etag) { etag contact { displayName username avatarUrl phoneNumber } } }",
            json!({ "id": id, "etag": etag }),
        )
        .await;
    let after = &updated["updateContact"]["contact"];
    assert_eq!(after["displayName"], "UncleFrank");
    assert_eq!(after["username"], "FrankMcCallister");
    assert_eq!(
        after["avatarUrl"],
        "https://assets.protocol.chat/avatars/frank.jpg"
    );
    assert_ne!(
        updated["updateContact"]["etag"],
        created["createContact"]["etag"]
    );

    // List with a limit and has-more paging.
    for name in ["Kevin", "Harry", "Marv"] {
        client
            .data("mutation($n: String!) { createContact(input: { username: $n, phoneNumbers: [{ number: \"555 0100\" }] }) { etag } }", json!({ "n": name }))
            .await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = client
            .data(
                "query($after: String) { contacts(first: 3, after: $after, orderBy: { field: CREATED_AT }) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { username } } } }",
                json!({ "after": after }),
            )
            .await;
        let connection = &page["contacts"];
        assert_eq!(connection["totalCount"], 4);
        for edge in connection["edges"].as_array().unwrap() {
            seen.push(edge["node"]["username"].as_str().unwrap().to_owned());
        }
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(seen, ["FrankMcCallister", "Kevin", "Harry", "Marv"]);
    let last_two = client
        .data("{ contacts(last: 2, orderBy: { field: CREATED_AT }) { pageInfo { hasPreviousPage hasNextPage } edges { node { username } } } }", json!({}))
        .await;
    assert_eq!(
        last_two["contacts"]["edges"][0]["node"]["username"],
        "Harry"
    );
    assert_eq!(last_two["contacts"]["pageInfo"]["hasPreviousPage"], true);

    // Delete, then it is gone.
    let deleted = client
        .data(
            "mutation($id: ID!) { deleteContact(id: $id) { deletedId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["deleteContact"]["deletedId"], id.as_str());
    let error = client
        .error(
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND");
}

const PICARD: &str = r#"{
    "prefix": "Captain", "firstName": "Jean-luc", "lastName": "Picard", "nickname": "Captain Picard",
    "company": "United Federation of Planets", "department": "Starfleet", "jobTitle": "Ship's Captain",
    "phoneticFirstName": "zhahn luke", "phoneticLastName": "pee-card",
    "emails": [{ "type": "PRIMARY", "email": "jean-luc.picard@example.com" }, { "type": "ALTERNATE", "email": "locutus@borg.example" }],
    "phoneNumbers": [{ "type": "BUSINESS", "number": "(999) 999-9999" }, { "type": "MOBILE", "number": "+49 170 1234567" }],
    "addresses": [{ "type": "HOME", "street": "1212 Federation Way", "city": "San Francisco", "state": "CA", "zip": "99999", "country": "USA" }]
}"#;

#[tokio::test]
async fn phonecom_address_book_flow() {
    let (_store, _user, client) = setup().await;
    let input: Value = serde_json::from_str(PICARD).unwrap();
    let created = client
        .data(
            &format!("mutation($input: ContactInput!) {{ createContact(input: $input) {{ etag contact {{ {CONTACT_FIELDS} }} }} }}"),
            json!({ "input": input }),
        )
        .await;
    let picard = &created["createContact"]["contact"];
    let id = picard["id"].as_str().unwrap().to_owned();
    let database_id = picard["databaseId"].as_i64().unwrap();
    assert_eq!(picard["phoneNumbers"][0]["normalized"], "+19999999999");
    assert_eq!(picard["phoneNumbers"][1]["type"], "MOBILE");
    assert_eq!(picard["phoneticLastName"], "pee-card");
    assert_eq!(picard["emails"][1]["type"], "ALTERNATE");
    assert_eq!(picard["addresses"][0]["zip"], "99999");
    insta::assert_json_snapshot!("phonecom_contact", picard, {
        ".id" => "[id]", ".databaseId" => "[databaseId]", ".uid" => "[uid]", ".etag" => "[etag]",
        ".createdAt" => "[time]", ".updatedAt" => "[time]"
    });

    // Groups with the summary object on the contact.
    let group = client
        .data(
            "mutation($m: [ID!]!) { createGroup(name: \"NCC 1701-D Bridge Crew\", memberIds: $m) { etag group { id name memberCount members { lastName } vcard } } }",
            json!({ "m": [id] }),
        )
        .await;
    let group_id = group["createGroup"]["group"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        group["createGroup"]["group"]["members"][0]["lastName"],
        "Picard"
    );
    assert!(
        group["createGroup"]["group"]["vcard"]
            .as_str()
            .unwrap()
            .contains("KIND:group")
    );
    let with_group = client
        .data(
            "query($id: ID!) { contact(id: $id) { group { id name } groups { name } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        with_group["contact"]["group"]["name"],
        "NCC 1701-D Bridge Crew"
    );
    assert_eq!(with_group["contact"]["group"]["id"], group_id.as_str());
    let riker = client
        .data("mutation { createContact(input: { firstName: \"William\", lastName: \"Riker\" }) { contact { id } } }", json!({}))
        .await["createContact"]["contact"]["id"]
        .clone();
    client
        .data("mutation($g: ID!, $c: [ID!]!) { addGroupMembers(groupId: $g, contactIds: $c) { group { memberCount } } }", json!({ "g": group_id, "c": [riker] }))
        .await;
    let members = client
        .data("query($g: ID!) { contacts(filter: { groupId: $g }) { totalCount edges { node { lastName } } } }", json!({ "g": group_id }))
        .await;
    assert_eq!(members["contacts"]["totalCount"], 2);
    client
        .data(
            "mutation($g: ID!) { renameGroup(id: $g, name: \"Senior Staff\") { group { name } } }",
            json!({ "g": group_id }),
        )
        .await;
    let removed = client
        .data("mutation($g: ID!, $c: [ID!]!) { removeGroupMembers(groupId: $g, contactIds: $c) { group { name memberCount } } }", json!({ "g": group_id, "c": [id] }))
        .await;
    assert_eq!(
        removed["removeGroupMembers"]["group"]["name"],
        "Senior Staff"
    );
    assert_eq!(removed["removeGroupMembers"]["group"]["memberCount"], 1);
    let groups = client
        .data("{ groups { name memberCount } }", json!({}))
        .await;
    assert_eq!(
        groups["groups"],
        json!([{ "name": "Senior Staff", "memberCount": 1 }])
    );

    // Lookup in its three forms.
    let by_id = client
        .data(
            "query($l: ContactLookup!) { lookupContacts(lookup: $l) { lastName } }",
            json!({ "l": { "id": database_id } }),
        )
        .await;
    assert_eq!(by_id["lookupContacts"], json!([{ "lastName": "Picard" }]));
    let by_fields = client
        .data(
            "query($l: ContactLookup!) { lookupContacts(lookup: $l) { lastName } }",
            json!({ "l": { "first_name": "jean-luc", "last_name": "PICARD" } }),
        )
        .await;
    assert_eq!(
        by_fields["lookupContacts"],
        json!([{ "lastName": "Picard" }])
    );
    let mismatch = client
        .data(
            "query($l: ContactLookup!) { lookupContacts(lookup: $l) { lastName } }",
            json!({ "l": { "first_name": "Jean-luc", "last_name": "Riker" } }),
        )
        .await;
    assert_eq!(mismatch["lookupContacts"], json!([]));
    let by_scalar = client
        .data(
            "query($l: ContactLookup!) { lookupContacts(lookup: $l) { lastName } }",
            json!({ "l": "Captain Picard" }),
        )
        .await;
    assert_eq!(
        by_scalar["lookupContacts"],
        json!([{ "lastName": "Picard" }])
    );
    let by_scalar_id = client
        .data(
            "query($l: ContactLookup!) { lookupContacts(lookup: $l) { lastName } }",
            json!({ "l": database_id }),
        )
        .await;
    assert_eq!(
        by_scalar_id["lookupContacts"],
        json!([{ "lastName": "Picard" }])
    );

    // Full replace: what is not given is cleared.
    let replaced = client
        .data(
            "mutation($id: ID!) { replaceContact(id: $id, input: { firstName: \"Jean-Luc\", lastName: \"Picard\", emails: [{ email: \"jlp@example.com\" }] }) { contact { firstName company nickname emails { type email } phoneNumbers { number } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        replaced["replaceContact"]["contact"],
        json!({ "firstName": "Jean-Luc", "company": null, "nickname": null, "emails": [{ "type": "PRIMARY", "email": "jlp@example.com" }], "phoneNumbers": [] })
    );
}

#[tokio::test]
async fn drop_messenger_fields_round_trip() {
    let (_store, _user, client) = setup().await;
    let created = client
        .data(
            "mutation($input: ContactInput!) { createContact(input: $input) { contact { id alias email phoneNumber publicKey ownerIdentity dropUrls moduleData vcard(version: V3) } } }",
            json!({ "input": {
                "displayName": "Alice",
                "emails": [{ "email": "alice@example.org" }],
                "phoneNumbers": [{ "number": "+49123456789012" }],
                "publicKey": "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
                "ownerIdentity": "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
                "dropUrls": ["example.org/jkl", "example.net/xyz"],
                "moduleData": { "person": { "mail_address": "example@example.org", "tags": ["a,b", "c;d"] } }
            }}),
        )
        .await;
    let alice = &created["createContact"]["contact"];
    assert_eq!(alice["alias"], "Alice");
    assert_eq!(alice["email"], "alice@example.org");
    assert_eq!(alice["phoneNumber"], "+49123456789012");
    assert_eq!(
        alice["publicKey"],
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
    );
    assert_eq!(
        alice["ownerIdentity"],
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    );
    assert_eq!(
        alice["dropUrls"],
        json!(["example.org/jkl", "example.net/xyz"])
    );
    assert_eq!(
        alice["moduleData"],
        json!({ "person": { "mail_address": "example@example.org", "tags": ["a,b", "c;d"] } })
    );
    assert!(
        alice["vcard"]
            .as_str()
            .unwrap()
            .starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    );
    // Re-read from the database, not from the mutation's echo.
    let got = client
        .data(
            "query($id: ID!) { contact(id: $id) { moduleData dropUrls } }",
            json!({ "id": alice["id"] }),
        )
        .await;
    assert_eq!(got["contact"]["moduleData"], alice["moduleData"]);
    assert_eq!(got["contact"]["dropUrls"], alice["dropUrls"]);
}

#[tokio::test]
async fn birthdays_websites_related_people_and_labels_round_trip() {
    let (_store, _user, client) = setup().await;
    const FIELDS: &str = "id birthday anniversary websites { type url label } \
        relatedPeople { type name label } emails { email label } phoneNumbers { number label } \
        addresses { city label }";
    let created = client
        .data(
            &format!("mutation($input: ContactInput!) {{ createContact(input: $input) {{ contact {{ {FIELDS} vcard(version: V3) }} }} }}"),
            json!({ "input": {
                "displayName": "Ann Smith",
                "birthday": "--04-12",
                "anniversary": "2004-06-12",
                "websites": [{ "type": "WORK", "url": "https://work.example" },
                             { "url": "https://blog.example", "label": "Blog" }],
                "relatedPeople": [{ "type": "SPOUSE", "name": "Bob" },
                                  { "type": "ASSISTANT", "name": "Dee" },
                                  { "name": "Carol", "label": "Godmother" }],
                "emails": [{ "email": "ann@uni.example", "label": "University" }],
                "phoneNumbers": [{ "number": "+1 415 555 0100", "type": "OTHER", "label": "Boat" }],
                "addresses": [{ "city": "Cambridge", "type": "OTHER", "label": "Lab" }]
            }}),
        )
        .await;
    let ann = &created["createContact"]["contact"];
    let vcard = ann["vcard"].as_str().unwrap();
    assert!(
        vcard.contains("BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-12"),
        "{vcard}"
    );
    assert!(vcard.contains("X-ABLabel:_$!<Anniversary>!$_"), "{vcard}");
    assert!(vcard.contains("X-ABLabel:University"), "{vcard}");
    // Re-read from the database, not from the mutation's echo.
    let got = client
        .data(
            &format!("query($id: ID!) {{ contact(id: $id) {{ {FIELDS} }} }}"),
            json!({ "id": ann["id"] }),
        )
        .await;
    let got = &got["contact"];
    assert_eq!(got, ann_without_vcard(ann).as_ref().unwrap());
    assert_eq!(got["birthday"], "--04-12");
    assert_eq!(got["anniversary"], "2004-06-12");
    assert_eq!(
        got["relatedPeople"],
        json!([{ "type": "SPOUSE", "name": "Bob", "label": null },
               { "type": "ASSISTANT", "name": "Dee", "label": null },
               { "type": "OTHER", "name": "Carol", "label": "Godmother" }])
    );
    assert_eq!(
        got["websites"][1],
        json!({ "type": "OTHER", "url": "https://blog.example", "label": "Blog" })
    );
    assert_eq!(got["emails"][0]["label"], "University");
    assert_eq!(got["phoneNumbers"][0]["label"], "Boat");
    assert_eq!(got["addresses"][0]["label"], "Lab");

    // A patch changes one detail and leaves the others; null clears.
    let patched = client
        .data(
            &format!("mutation($id: ID!, $patch: ContactPatchInput!) {{ updateContact(id: $id, input: $patch) {{ contact {{ {FIELDS} }} }} }}"),
            json!({ "id": ann["id"], "patch": { "birthday": "1990-04-12", "anniversary": null } }),
        )
        .await;
    let patched = &patched["updateContact"]["contact"];
    assert_eq!(patched["birthday"], "1990-04-12");
    assert_eq!(patched["anniversary"], Value::Null);
    assert_eq!(patched["relatedPeople"], got["relatedPeople"]);

    // A date that is no date is refused with the field named, and nothing is written.
    let (status, body) = client
        .post(
            "mutation($id: ID!) { updateContact(id: $id, input: { birthday: \"1990-02-30\" }) { contact { id } } }",
            json!({ "id": ann["id"] }),
        )
        .await;
    assert_eq!(status, 200);
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("no such day"), "{body}");
}

fn ann_without_vcard(contact: &Value) -> Option<Value> {
    let mut contact = contact.as_object()?.clone();
    contact.remove("vcard");
    Some(Value::Object(contact))
}

#[tokio::test]
async fn search_by_any_part_ignoring_format_case_and_accents() {
    let (_store, _user, client) = setup().await;
    let input: Value = serde_json::from_str(PICARD).unwrap();
    client
        .data(
            "mutation($i: ContactInput!) { createContact(input: $i) { etag } }",
            json!({ "i": input }),
        )
        .await;
    client
        .data("mutation { createContact(input: { firstName: \"José\", lastName: \"Müller\", emails: [{ email: \"jm@Example.com\" }], phoneNumbers: [{ number: \"+1 212 555 0199\" }] }) { etag } }", json!({}))
        .await;
    let search = |q: &'static str| {
        let client = &client;
        async move {
            let data = client
                .data(
                    "query($q: String) { contacts(search: $q) { edges { node { lastName } } } }",
                    json!({ "q": q }),
                )
                .await;
            data["contacts"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["lastName"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("+1 (999) 999-9999").await, ["Picard"]);
    assert_eq!(search("9999999999").await, ["Picard"]);
    assert_eq!(search("999-9999").await, ["Picard"]);
    assert_eq!(search("(212) 555-0199").await, ["Müller"]);
    assert_eq!(search("jose muller").await, ["Müller"]);
    assert_eq!(search("MÜLL").await, ["Müller"]);
    assert_eq!(search("starfleet").await, ["Picard"]);
    assert_eq!(search("federation").await, ["Picard"]);
    assert_eq!(search("captain").await, ["Picard"]);
    assert_eq!(search("example.com").await, ["Müller", "Picard"]);
    assert_eq!(search("borg").await, ["Picard"]);
    assert!(search("nobody-like-this").await.is_empty());
}

#[tokio::test]
async fn change_feed_reports_changes_and_deletions() {
    let (_store, _user, client) = setup().await;
    let book = client
        .data("{ viewer { addressBooks { id changeToken } } }", json!({}))
        .await;
    let book_id = book["viewer"]["addressBooks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = book["viewer"]["addressBooks"][0]["changeToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for name in ["One", "Two", "Three"] {
        let c = client
            .data("mutation($n: String) { createContact(input: { displayName: $n }) { contact { id } } }", json!({ "n": name }))
            .await;
        ids.push(
            c["createContact"]["contact"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let first = client
        .data("query($b: ID!, $s: String) { changes(addressBookId: $b, since: $s) { token changed { displayName } deletedIds } }", json!({ "b": book_id, "s": start }))
        .await;
    assert_eq!(
        first["changes"]["changed"],
        json!([{ "displayName": "One" }, { "displayName": "Two" }, { "displayName": "Three" }])
    );
    let token = first["changes"]["token"].as_str().unwrap().to_owned();

    client
        .data(
            "mutation($id: ID!) { deleteContact(id: $id) { deletedId } }",
            json!({ "id": ids[1] }),
        )
        .await;
    client
        .data(
            "mutation($id: ID!) { updateContact(id: $id, input: { nickname: \"Uno\" }) { etag } }",
            json!({ "id": ids[0] }),
        )
        .await;
    let second = client
        .data("query($b: ID!, $s: String) { changes(addressBookId: $b, since: $s) { token changed { displayName nickname } deleted { id uid } deletedIds } }", json!({ "b": book_id, "s": token }))
        .await;
    assert_eq!(
        second["changes"]["changed"],
        json!([{ "displayName": "One", "nickname": "Uno" }])
    );
    assert_eq!(second["changes"]["deletedIds"], json!([ids[1]]));
    let unchanged = client
        .data("query($b: ID!, $s: String) { changes(addressBookId: $b, since: $s) { changed { id } deletedIds } }", json!({ "b": book_id, "s": second["changes"]["token"] }))
        .await;
    assert_eq!(
        unchanged["changes"],
        json!({ "changed": [], "deletedIds": [] })
    );

    for bad in ["999999", "not-a-token"] {
        let error = client
            .error(
                "query($b: ID!, $s: String) { changes(addressBookId: $b, since: $s) { token } }",
                json!({ "b": book_id, "s": bad }),
            )
            .await;
        assert_eq!(error["extensions"]["code"], "INVALID_SYNC_TOKEN", "{bad}");
    }
}

#[tokio::test]
async fn errors_carry_codes_and_limits_hold() {
    let (_store, _user, client) = setup().await;
    // No credentials: HTTP 401 with a challenge.
    let anonymous = Client {
        auth: None,
        ..Client::new(&client.url.replace("/graphql", ""), "x").await
    };
    let response = reqwest::Client::new()
        .post(&anonymous.url)
        .json(&json!({ "query": "{ viewer { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("Bearer"))
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let wrong = Client {
        auth: Some("Bearer rdx_wrong".into()),
        ..Client::new(&client.url.replace("/graphql", ""), "x").await
    };
    assert_eq!(wrong.post("{ viewer { name } }", json!({})).await.0, 401);

    // VALIDATION names the field; nothing is stored.
    let error = client
        .error(
            "mutation { createContact(input: { emails: [{ email: \"  \" }] }) { etag } }",
            json!({}),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "VALIDATION");
    assert_eq!(error["extensions"]["field"], "emails");
    let error = client
        .error(
            "mutation { createContact(input: { avatarUrl: \"not a url\" }) { etag } }",
            json!({}),
        )
        .await;
    assert_eq!(error["extensions"]["field"], "avatarUrl");
    let count = client.data("{ contacts { totalCount } }", json!({})).await;
    assert_eq!(count["contacts"]["totalCount"], 0);

    // CONFLICT on a stale ETag, with the current one.
    let created = client
        .data(
            "mutation { createContact(input: { displayName: \"A\" }) { etag contact { id } } }",
            json!({}),
        )
        .await;
    let id = created["createContact"]["contact"]["id"].clone();
    let old = created["createContact"]["etag"].clone();
    let now = client
        .data(
            "mutation($id: ID!) { updateContact(id: $id, input: { nickname: \"B\" }) { etag } }",
            json!({ "id": id }),
        )
        .await["updateContact"]["etag"]
        .clone();
    let error = client
        .error("mutation($id: ID!, $e: String) { updateContact(id: $id, input: { nickname: \"C\" }, ifMatch: $e) { etag } }", json!({ "id": id, "e": old }))
        .await;
    assert_eq!(error["extensions"]["code"], "CONFLICT");
    assert_eq!(error["extensions"]["currentEtag"], now);
    let error = client
        .error(
            "mutation($id: ID!, $e: String) { deleteContact(id: $id, ifMatch: $e) { deletedId } }",
            json!({ "id": id, "e": old }),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "CONFLICT");

    // NOT_FOUND for an id that does not exist; VALIDATION for one that is not an id.
    let error = client
        .error("{ contact(id: \"999999999\") { id } }", json!({}))
        .await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND");
    let error = client
        .error("{ contact(id: \"@@@\") { id } }", json!({}))
        .await;
    assert_eq!(error["extensions"]["code"], "VALIDATION");

    // Page size, depth and complexity limits.
    let error = client
        .error("{ contacts(first: 500) { totalCount } }", json!({}))
        .await;
    assert_eq!(error["extensions"]["code"], "VALIDATION");
    let deep = "{ viewer { addressBooks { groups { members { addressBook { groups { members { addressBook { groups { members { addressBook { groups { members { addressBook { id } } } } } } } } } } } } } } }";
    let (status, body) = client.post(deep, json!({})).await;
    assert_eq!(status, 200);
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("nested too deep") || message.contains("complex"),
        "{body}"
    );
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    // Malformed GraphQL: an error response, not a crash.
    let (_, body) = client.post("{ contacts { ", json!({})).await;
    assert!(body["errors"][0]["message"].as_str().is_some(), "{body}");

    // Oversized bodies are refused before parsing.
    let huge = "x".repeat(2 * 1024 * 1024);
    let (status, _) = client
        .post(
            "mutation($t: String!) { importVCards(text: $t) { created } }",
            json!({ "t": huge }),
        )
        .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn another_users_data_is_never_visible() {
    let (store, _alice, alice_client) = setup().await;
    let mallory = common::user(&store, "mallory").await;
    let mallory_token = common::token(&store, &mallory).await;
    let base = alice_client.url.trim_end_matches("/graphql").to_owned();
    let mallory_client = Client::new(&base, &mallory_token).await;

    let created = alice_client
        .data("mutation { createContact(input: { displayName: \"Alice's Secret\", phoneNumbers: [{ number: \"212 555 0100\" }] }) { etag contact { id databaseId } } }", json!({}))
        .await;
    let id = created["createContact"]["contact"]["id"].clone();
    let database_id = created["createContact"]["contact"]["databaseId"].clone();
    let book = alice_client
        .data("{ addressBooks { id } }", json!({}))
        .await["addressBooks"][0]["id"]
        .clone();

    for (query, vars) in [
        (
            "query($id: ID!) { contact(id: $id) { displayName } }",
            json!({ "id": id }),
        ),
        (
            "query($id: ID!) { updateContact: contact(id: $id) { id } }",
            json!({ "id": database_id.to_string() }),
        ),
        (
            "mutation($id: ID!) { updateContact(id: $id, input: { displayName: \"pwned\" }) { etag } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { replaceContact(id: $id, input: { displayName: \"pwned\" }) { etag } }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { deleteContact(id: $id) { deletedId } }",
            json!({ "id": id }),
        ),
        (
            "query($b: ID!) { addressBook(id: $b) { slug } }",
            json!({ "b": book }),
        ),
        (
            "query($b: ID!) { changes(addressBookId: $b) { token } }",
            json!({ "b": book }),
        ),
        (
            "mutation($b: ID!) { createContact(addressBookId: $b, input: { displayName: \"x\" }) { etag } }",
            json!({ "b": book }),
        ),
        (
            "mutation($b: ID!) { deleteAddressBook(id: $b) { deletedId } }",
            json!({ "b": book }),
        ),
        (
            "mutation($c: [ID!]!) { createGroup(name: \"g\", memberIds: $c) { etag } }",
            json!({ "c": [id] }),
        ),
    ] {
        let error = mallory_client.error(query, vars).await;
        assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{query}: {error}");
    }
    let node = mallory_client
        .data(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(node["node"].is_null());
    let listed = mallory_client
        .data("{ contacts(search: \"secret\", filter: { includeDeleted: true }) { totalCount } lookupContacts(lookup: \"Alice's Secret\") { id } }", json!({}))
        .await;
    assert_eq!(listed["contacts"]["totalCount"], 0);
    assert_eq!(listed["lookupContacts"], json!([]));
    let phone = mallory_client
        .data(
            "{ contacts(search: \"2125550100\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(phone["contacts"]["totalCount"], 0);

    // Alice's contact is untouched.
    let still = alice_client
        .data(
            "query($id: ID!) { contact(id: $id) { displayName etag } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(still["contact"]["displayName"], "Alice's Secret");
    assert_eq!(still["contact"]["etag"], created["createContact"]["etag"]);
}

#[tokio::test]
async fn a_page_costs_a_fixed_number_of_queries() {
    let (store, user, client) = setup().await;
    let book = common::default_book(&store, &user).await;
    let group = store
        .create_contact(
            &user,
            book,
            &rolodex::domain::contact::ContactPatch {
                kind: Some(rolodex::domain::contact::CardKind::Group),
                display_name: Some(Some("Everyone".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..100 {
        let record = store
            .create_contact(
                &user,
                book,
                &rolodex::domain::contact::ContactPatch {
                    first_name: Some(Some(format!("First{i:03}"))),
                    last_name: Some(Some("Tester".into())),
                    emails: Some(vec![rolodex::domain::contact::Email {
                        label: None,
                        kind: Default::default(),
                        address: format!("t{i}@example.com"),
                    }]),
                    phones: Some(vec![rolodex::domain::contact::Phone {
                        label: None,
                        kind: Default::default(),
                        number: format!("212555{i:04}"),
                        normalized: None,
                    }]),
                    addresses: Some(vec![rolodex::domain::contact::Address {
                        city: Some("Paris".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        ids.push(record.id);
    }
    store
        .add_group_members(&user, group.id, &ids, None)
        .await
        .unwrap();

    let page = |n: i64| {
        format!(
            "{{ contacts(first: {n}) {{ totalCount edges {{ node {{ displayName emails {{ email }} phoneNumbers {{ normalized }} addresses {{ city }} groups {{ name }} addressBook {{ slug }} }} }} }} }}"
        )
    };
    // Warm up: the pool's connections run setup statements the first time only.
    client.data(&page(100), json!({})).await;
    let before = store.queries_executed();
    let small = client.data(&page(10), json!({})).await;
    let small_cost = store.queries_executed() - before;
    let before = store.queries_executed();
    let large = client.data(&page(50), json!({})).await;
    let large_cost = store.queries_executed() - before;
    assert_eq!(small["contacts"]["edges"].as_array().unwrap().len(), 10);
    assert_eq!(large["contacts"]["edges"].as_array().unwrap().len(), 50);
    assert_eq!(large["contacts"]["totalCount"], 100);
    assert_eq!(
        large["contacts"]["edges"][49]["node"]["groups"],
        json!([{ "name": "Everyone" }])
    );
    assert_eq!(small_cost, large_cost, "query count grows with page size");
    assert_eq!(
        large["contacts"]["edges"][49]["node"]["addressBook"]["slug"],
        "contacts"
    );
    // Books in scope, count, rows, one query per nested list, the books for `addressBook`.
    assert!(large_cost <= 12, "a page costs {large_cost} queries");

    // Without `totalCount` nothing is counted; `hasNextPage` still tells whether more follow.
    let uncounted = page(50).replace("totalCount", "pageInfo { hasNextPage }");
    let before = store.queries_executed();
    let unc = client.data(&uncounted, json!({})).await;
    let uncounted_cost = store.queries_executed() - before;
    assert_eq!(unc["contacts"]["pageInfo"]["hasNextPage"], true);
    assert!(
        uncounted_cost < large_cost,
        "{uncounted_cost} queries without totalCount, {large_cost} with it"
    );
    let last = client
        .data(
            &page(100).replace("totalCount", "pageInfo { hasNextPage }"),
            json!({}),
        )
        .await;
    assert_eq!(last["contacts"]["pageInfo"]["hasNextPage"], false);
    let empty = client
        .data(
            "{ contacts(first: 0) { pageInfo { hasNextPage } edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(empty["contacts"]["edges"], json!([]));
    assert_eq!(empty["contacts"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn import_vcards_gives_per_card_results() {
    let (_store, _user, client) = setup().await;
    let text = format!(
        "{}{}BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\nthis is not a property\r\nEND:VCARD\r\n",
        common::fixture("google-3.0.vcf"),
        common::fixture("android-2.1-qp.vcf"),
    );
    let first = client
        .data("mutation($t: String!) { importVCards(text: $t) { created updated unchanged failed results { position status error repairs contact { lastName } } } }", json!({ "t": text }))
        .await;
    let payload = &first["importVCards"];
    assert_eq!(payload["created"], 2);
    assert_eq!(payload["failed"], 1);
    assert_eq!(payload["results"][2]["status"], "FAILED");
    assert_eq!(payload["results"][2]["position"], 3);
    assert!(
        payload["results"][2]["error"]
            .as_str()
            .unwrap()
            .contains("line"),
        "{payload}"
    );
    assert!(
        payload["results"][0]["repairs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("UID"))
    );
    // Importing again updates nothing and duplicates nothing.
    let second = client
        .data(
            "mutation($t: String!) { importVCards(text: $t) { created updated unchanged failed } }",
            json!({ "t": text }),
        )
        .await;
    assert_eq!(
        second["importVCards"],
        json!({ "created": 0, "updated": 0, "unchanged": 2, "failed": 1 })
    );
    let total = client.data("{ contacts { totalCount } }", json!({})).await;
    assert_eq!(total["contacts"]["totalCount"], 2);
}

#[tokio::test]
async fn committed_schema_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        committed == rolodex::graphql::sdl(),
        "schema.graphql is stale: run `cargo run -- print-schema > schema.graphql`"
    );
}

#[tokio::test]
async fn playground_is_served() {
    let (_store, _user, client) = setup().await;
    let page = reqwest::get(&client.url).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("graphiql"), "{html}");
    // Served by the binary itself: a self-hosted box may not reach a CDN.
    assert!(html.contains("/graphql/assets/"), "{html}");
    assert!(
        !html.contains("unpkg.com") && !html.contains("cdn."),
        "{html}"
    );
}

// ---- Hardening: what one request may cost (issue 11) ----

/// Serves the real router with these options (limits, allowed origins) on a loopback port.
async fn serve_with(store: &rolodex::store::Store, options: rolodex::app::AppOptions) -> String {
    // No test here waits for a change event.
    let changes = rolodex::store::ChangeHub::unheard();
    let state = rolodex::app::AppState::new(store.clone(), options, changes);
    let router = rolodex::app::build_router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    format!("http://{address}")
}

/// Sends `POST /graphql` with a chunked body (no `Content-Length`) of `total` bytes of `{`,
/// over a raw connection; returns the response's status, read while the body is still being
/// written (the server may answer before reading it, and close).
async fn post_chunked(base: &str, authorization: Option<&str>, total: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n{authorization}Connection: close\r\n\r\n"
    );
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'{'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(&chunk).await?;
            writer.write_all(b"\r\n").await?;
            sent += chunk.len();
        }
        writer.write_all(b"0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(())
    });
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    let status_line = loop {
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(60), reader.read(&mut buffer))
                .await
                .expect("an answer")
                .unwrap_or(0);
        response.extend_from_slice(&buffer[..read]);
        if let Some(end) = response.windows(2).position(|w| w == b"\r\n") {
            break String::from_utf8_lossy(&response[..end]).into_owned();
        }
        assert!(read > 0, "connection closed without an answer");
    };
    writing.abort();
    status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {status_line}"))
}

#[tokio::test]
async fn search_text_is_limited_and_many_words_never_crash() {
    let (_store, _user, client) = setup().await;
    let words: Vec<String> = (1..=16).map(|i| format!("w{i:02}x")).collect();
    client
        .data(
            "mutation($c: String) { createContact(input: { displayName: \"Many\", company: $c }) { etag } }",
            json!({ "c": words.join(" ") }),
        )
        .await;
    let search = "query($q: String) { contacts(search: $q) { edges { node { displayName } } } }";

    // Thousands of words once overflowed the stack (one nested SQL condition per word).
    let error = client
        .error(search, json!({ "q": "ab ".repeat(8_000) }))
        .await;
    assert_eq!(error["extensions"]["code"], "VALIDATION", "{error}");
    assert_eq!(error["extensions"]["field"], "search", "{error}");
    let twenty = ["ab"; 20].join(" ");
    let error = client.error(search, json!({ "q": twenty })).await;
    assert_eq!(error["extensions"]["code"], "VALIDATION", "{error}");
    assert!(error["message"].as_str().unwrap().contains("16"), "{error}");
    let error = client.error(search, json!({ "q": "a".repeat(257) })).await;
    assert_eq!(error["extensions"]["code"], "VALIDATION", "{error}");

    // Sixteen words are searched, every one of them must match.
    let found = client.data(search, json!({ "q": words.join(" ") })).await;
    assert_eq!(found["contacts"]["edges"][0]["node"]["displayName"], "Many");
    let mut missing = words.clone();
    missing[15] = "nowhere".into();
    let found = client.data(search, json!({ "q": missing.join(" ") })).await;
    assert_eq!(found["contacts"]["edges"].as_array().unwrap().len(), 0);
    // Repeated words count towards the limit but are searched once.
    let found = client.data(search, json!({ "q": "w01x W01X w01x" })).await;
    assert_eq!(found["contacts"]["edges"].as_array().unwrap().len(), 1);

    // Phone.com's lookup values are limited the same way.
    let error = client
        .error(
            "query($v: ContactLookup!) { lookupContacts(lookup: $v) { id } }",
            json!({ "v": "x".repeat(300) }),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "VALIDATION", "{error}");
    let error = client
        .error(
            "query($v: ContactLookup!) { lookupContacts(lookup: $v) { id } }",
            json!({ "v": { "first_name": "a ".repeat(40) } }),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "VALIDATION", "{error}");

    // The server is still there.
    client.data("{ viewer { name } }", json!({})).await;
}

#[tokio::test]
async fn whole_book_fields_and_root_fields_are_costed() {
    let (_store, _user, client) = setup().await;
    let code = |body: &Value| body["errors"][0]["extensions"]["code"].clone();

    // 500 aliased exports: each would hold a whole book in memory.
    let exports: String = (0..500)
        .map(|i| format!("e{i}: exportContacts(format: VCF4) "))
        .collect();
    let (status, body) = client.post(&format!("{{ {exports} }}"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    // Five exports cost more than the budget, four fit.
    let five: String = (0..5)
        .map(|i| format!("e{i}: exportContacts(format: CSV) "))
        .collect();
    let (_, body) = client.post(&format!("{{ {five} }}"), json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    let four: String = (0..4)
        .map(|i| format!("e{i}: exportContacts(format: CSV) "))
        .collect();
    client.data(&format!("{{ {four} }}"), json!({})).await;

    // Change feeds are whole-book reads too.
    let book = client.data("{ addressBooks { id } }", json!({})).await["addressBooks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let feeds: String = (0..4)
        .map(|i| format!("c{i}: changes(addressBookId: \"{book}\") {{ token changed {{ id }} }} "))
        .collect();
    let (_, body) = client.post(&format!("{{ {feeds} }}"), json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");

    // Root fields (aliases included) are limited to 32 per operation, also behind fragments.
    let roots = |n: usize| -> String {
        (0..n)
            .map(|i| format!("v{i}: viewer {{ name }} "))
            .collect()
    };
    client
        .data(&format!("{{ {} }}", roots(32)), json!({}))
        .await;
    let (_, body) = client
        .post(&format!("{{ {} }}", roots(33)), json!({}))
        .await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(body.to_string().contains("root fields"), "{body}");
    let (_, body) = client
        .post(
            &format!("{{ ...F }} fragment F on Query {{ {} }}", roots(40)),
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");

    // Fragments that each spread the next twice: 2^40 fields from a tiny document, refused
    // without expanding them (it once kept a core busy for many minutes).
    let mut doubling = String::from("{ ...F0 }\n");
    for i in 0..40 {
        doubling.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    doubling.push_str("fragment F40 on Query { viewer { name } }\n");
    let (_, body) = client.post(&doubling, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");

    // Validation errors carry a code too.
    let (_, body) = client.post("{ noSuchField }", json!({})).await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
}

#[tokio::test]
async fn limits_come_from_the_configuration() {
    let store = common::store().await;
    let user = common::user(&store, "gql").await;
    let token = common::token(&store, &user).await;
    let base = serve_with(
        &store,
        rolodex::app::AppOptions {
            limits: rolodex::limits::Limits {
                graphql_max_page_size: 5,
                graphql_max_root_fields: 2,
                max_search_terms: 2,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let client = Client::new(&base, &token).await;
    let error = client
        .error("{ contacts(first: 6) { totalCount } }", json!({}))
        .await;
    assert_eq!(error["extensions"]["code"], "VALIDATION", "{error}");
    client
        .data("{ contacts(first: 5) { totalCount } }", json!({}))
        .await;
    let error = client
        .error(
            "{ a: viewer { name } b: viewer { name } c: viewer { name } }",
            json!({}),
        )
        .await;
    assert_eq!(error["extensions"]["code"], "QUERY_TOO_COMPLEX", "{error}");
    let error = client
        .error("{ contacts(search: \"a b c\") { totalCount } }", json!({}))
        .await;
    assert_eq!(error["extensions"]["code"], "VALIDATION", "{error}");
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let store = common::store().await;
    let user = common::user(&store, "gql").await;
    let token = common::token(&store, &user).await;
    let base = serve_with(
        &store,
        rolodex::app::AppOptions {
            allowed_origins: vec!["https://app.example".to_owned()],
            ..Default::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let url = format!("{base}/graphql");
    let body = json!({ "query": "mutation { createAddressBook(slug: \"csrf\", displayName: \"CSRF\") { id } }" }).to_string();
    let send = |content_type: &'static str, origin: Option<String>| {
        let mut request = http
            .post(&url)
            .bearer_auth(&token)
            .header("Content-Type", content_type)
            .body(body.clone());
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    // What a plain HTML form can send: refused before anything runs.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, body) = send(content_type, Some("https://evil.example".into())).await;
        assert!(
            status == 415 || status == 403,
            "{content_type}: {status} {body}"
        );
        let (status, body) = send(content_type, None).await;
        assert_eq!(status, 415, "{content_type}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "UNSUPPORTED_MEDIA_TYPE"
        );
    }
    // JSON from another site's page: refused.
    let (status, body) = send("application/json", Some("https://evil.example".into())).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let (status, _) = send("application/json", Some("null".into())).await;
    assert_eq!(status, 403);
    let books = rolodex::store::Store::list_address_books(&store, &user)
        .await
        .unwrap();
    assert!(
        books.iter().all(|b| b.slug != "csrf"),
        "a refused request ran"
    );

    // The server's own origin, a configured one, and no Origin at all (curl, apps) pass.
    let own = base.clone();
    let (status, body) = send("application/json", Some(own)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let query = json!({ "query": "{ viewer { name } }" }).to_string();
    for origin in [
        Some("https://app.example"),
        Some("HTTPS://APP.EXAMPLE"),
        None,
    ] {
        let mut request = http
            .post(&url)
            .bearer_auth(&token)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(query.clone());
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{origin:?}");
    }

    // A WebSocket upgrade from another site's page is refused; from the allowed one it is not.
    let ws_url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let upgrade = |origin: &'static str| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = ws_url.clone().into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    match upgrade("https://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!(
            "a cross-origin upgrade was not refused: {:?}",
            other.map(|_| ())
        ),
    }
    assert!(upgrade("https://app.example").await.is_ok());
}

#[tokio::test]
async fn the_body_is_read_only_after_authentication() {
    let (_store, _user, client) = setup().await;
    let base = client.url.trim_end_matches("/graphql").to_owned();
    let http = reqwest::Client::new();

    // Unauthenticated: 401, whatever the body; it is not parsed (this one would be a 400).
    let junk = "{".repeat(900 * 1024);
    let response = http
        .post(&client.url)
        .header("Content-Type", "application/json")
        .body(junk.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Nor read: a streamed body larger than the limit gets the same answer.
    assert_eq!(post_chunked(&base, None, 4 * 1024 * 1024).await, 401);

    // Authenticated: an oversized streamed body is 413, a malformed one 400, with codes.
    let bearer = client.auth.clone().unwrap();
    assert_eq!(
        post_chunked(&base, Some(&bearer), 2 * 1024 * 1024).await,
        413
    );
    let response = http
        .post(&client.url)
        .header("Authorization", &bearer)
        .header("Content-Type", "application/json")
        .body(junk)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );
    for bad in [
        "not json",
        "[]",
        "{\"query\": 5}",
        "[{\"query\": \"{ viewer { name } }\"}]",
    ] {
        let response = http
            .post(&client.url)
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{bad}: {body}"
        );
    }
    // A GraphQL syntax error is a 400 too, with a short message.
    let (status, body) = client
        .post(
            &format!("{{ contacts {}", "{ viewer ".repeat(10_000)),
            json!({}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
    assert!(body["errors"][0]["message"].as_str().unwrap().len() < 2_000);
}

/// Issue 15 over GraphQL: the same person imported from two sources is one duplicate set; a
/// merge with stale ETags is refused, with the current ones it keeps the primary and deletes
/// the other; dismissed contacts are not suggested again; another user's ids are NOT_FOUND.
#[tokio::test]
async fn duplicates_are_found_merged_and_dismissed() {
    let (store, _user, client) = setup().await;
    let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g-1\r\nFN:Maria García\r\nN:García;Maria;;;\r\nEMAIL:MARIA.GARCIA@EXAMPLE.ORG\r\nTEL:(415) 555-0101\r\nEND:VCARD\r\n\
                BEGIN:VCARD\r\nVERSION:3.0\r\nUID:i-1\r\nFN:Maria Garcia\r\nN:Garcia;Maria;;;\r\nEMAIL:maria.garcia@example.org\r\nTEL:+1 415 555 0101\r\nEND:VCARD\r\n\
                BEGIN:VCARD\r\nVERSION:3.0\r\nUID:s-1\r\nFN:Wei Zhang\r\nN:Zhang;Wei;;;\r\nEND:VCARD\r\n\
                BEGIN:VCARD\r\nVERSION:3.0\r\nUID:s-2\r\nFN:Zhang Wei\r\nN:Wei;Zhang;;;\r\nEND:VCARD\r\n";
    client
        .data(
            "mutation($t: String!) { importVCards(text: $t) { created } }",
            json!({ "t": text }),
        )
        .await;
    let query = "query($min: Float!) { duplicateContacts(minScore: $min) { score reasons contacts { id uid etag } } }";
    let found = client.data(query, json!({ "min": 0.5 })).await;
    let sets = found["duplicateContacts"].as_array().unwrap().clone();
    assert_eq!(sets.len(), 1, "{found}");
    assert_eq!(
        sets[0]["reasons"],
        json!(["SAME_EMAIL", "SAME_PHONE", "SAME_NAME"])
    );
    let contacts = sets[0]["contacts"].as_array().unwrap();
    let ids: Vec<Value> = contacts.iter().map(|c| c["id"].clone()).collect();
    let primary = contacts.iter().find(|c| c["uid"] == "g-1").unwrap();

    let stale = client
        .error(
            "mutation($ids: [ID!]!, $p: ID, $m: [String!]) { mergeContacts(ids: $ids, primaryId: $p, ifMatch: $m) { etag } }",
            json!({ "ids": ids, "p": primary["id"], "m": ["\"old\"", "\"old\""] }),
        )
        .await;
    assert_eq!(stale["extensions"]["code"], "CONFLICT");
    let etags: Vec<Value> = contacts.iter().map(|c| c["etag"].clone()).collect();
    let merged = client
        .data(
            "mutation($ids: [ID!]!, $p: ID, $m: [String!]) { mergeContacts(ids: $ids, primaryId: $p, ifMatch: $m) { contact { uid emails { email } phoneNumbers { normalized } } } }",
            json!({ "ids": ids, "p": primary["id"], "m": etags }),
        )
        .await;
    let contact = &merged["mergeContacts"]["contact"];
    assert_eq!(contact["uid"], "g-1");
    assert_eq!(contact["emails"].as_array().unwrap().len(), 1, "{contact}");
    assert_eq!(contact["phoneNumbers"].as_array().unwrap().len(), 1);
    let gone = ids.iter().find(|id| **id != primary["id"]).unwrap();
    let node = client
        .data(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": gone }),
        )
        .await;
    assert!(node["node"].is_null());

    // The swapped name alone is weak: only below the default threshold.
    let weak = client.data(query, json!({ "min": 0.0 })).await;
    let swapped = weak["duplicateContacts"].as_array().unwrap();
    assert_eq!(swapped.len(), 1, "{weak}");
    assert!(swapped[0]["score"].as_f64().unwrap() < 0.5);
    let pair: Vec<Value> = swapped[0]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    let dismissed = client
        .data(
            "mutation($ids: [ID!]!) { dismissDuplicates(ids: $ids) }",
            json!({ "ids": pair }),
        )
        .await;
    assert_eq!(dismissed["dismissDuplicates"], true);
    let after = client.data(query, json!({ "min": 0.0 })).await;
    assert_eq!(after["duplicateContacts"], json!([]));

    // Another user cannot touch these contacts.
    let other = common::user(&store, "gql-other").await;
    let token = common::token(&store, &other).await;
    let intruder = Client::new(&client.url.replace("/graphql", ""), &token).await;
    let refused = intruder
        .error(
            "mutation($ids: [ID!]!) { dismissDuplicates(ids: $ids) }",
            json!({ "ids": pair }),
        )
        .await;
    assert_eq!(refused["extensions"]["code"], "NOT_FOUND");
}
