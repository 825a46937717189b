//! Diesel table definitions, kept in step with `migrations/` (as `diesel print-schema` would
//! write them). The integration tests run every query against the migrated database, so a drift
//! between this file and the SQL fails there.

diesel::table! {
    users (id) {
        id -> Int8,
        name -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    credentials (id) {
        id -> Int8,
        user_id -> Int8,
        kind -> Text,
        label -> Text,
        secret_hash -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    address_books (id) {
        id -> Int8,
        user_id -> Int8,
        slug -> Text,
        display_name -> Text,
        description -> Text,
        revision -> Int8,
        oldest_revision -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    contacts (id) {
        id -> Int8,
        address_book_id -> Int8,
        uid -> Text,
        href -> Text,
        kind -> Text,
        vcard -> Text,
        vcard_version -> Int2,
        etag -> Text,
        revision -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        display_name -> Nullable<Text>,
        prefix -> Nullable<Text>,
        first_name -> Nullable<Text>,
        middle_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        suffix -> Nullable<Text>,
        phonetic_first_name -> Nullable<Text>,
        phonetic_middle_name -> Nullable<Text>,
        phonetic_last_name -> Nullable<Text>,
        nickname -> Nullable<Text>,
        company -> Nullable<Text>,
        department -> Nullable<Text>,
        job_title -> Nullable<Text>,
        username -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        has_inline_photo -> Bool,
        conversation_id -> Nullable<Text>,
        last_active_at -> Nullable<Timestamptz>,
        public_key -> Nullable<Text>,
        owner_identity -> Nullable<Text>,
        drop_urls -> Array<Text>,
        module_data -> Jsonb,
        categories -> Array<Text>,
        note -> Nullable<Text>,
        search_text -> Text,
        sort_name -> Text,
        match_text -> Nullable<Text>,
        details -> Nullable<Jsonb>,
    }
}

diesel::table! {
    contact_emails (contact_id, position) {
        contact_id -> Int8,
        position -> Int4,
        kind -> Text,
        address -> Text,
        address_folded -> Text,
        label -> Nullable<Text>,
    }
}

diesel::table! {
    contact_phones (contact_id, position) {
        contact_id -> Int8,
        position -> Int4,
        kind -> Text,
        number -> Text,
        normalized -> Nullable<Text>,
        digits -> Text,
        label -> Nullable<Text>,
    }
}

diesel::table! {
    contact_addresses (contact_id, position) {
        contact_id -> Int8,
        position -> Int4,
        kind -> Text,
        street -> Nullable<Text>,
        city -> Nullable<Text>,
        state -> Nullable<Text>,
        zip -> Nullable<Text>,
        country -> Nullable<Text>,
        label -> Nullable<Text>,
    }
}

diesel::table! {
    group_members (group_id, position) {
        group_id -> Int8,
        position -> Int4,
        member_ref -> Text,
        member_uid -> Text,
    }
}

diesel::table! {
    changes (id) {
        id -> Int8,
        address_book_id -> Int8,
        revision -> Int8,
        contact_id -> Int8,
        uid -> Text,
        href -> Text,
        op -> Text,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    dead_properties (id) {
        id -> Int8,
        address_book_id -> Int8,
        contact_id -> Nullable<Int8>,
        namespace -> Text,
        name -> Text,
        xml -> Text,
    }
}

diesel::joinable!(credentials -> users (user_id));
diesel::joinable!(address_books -> users (user_id));
diesel::joinable!(contacts -> address_books (address_book_id));
diesel::joinable!(contact_emails -> contacts (contact_id));
diesel::joinable!(contact_phones -> contacts (contact_id));
diesel::joinable!(contact_addresses -> contacts (contact_id));
diesel::joinable!(group_members -> contacts (group_id));
diesel::joinable!(changes -> address_books (address_book_id));
diesel::joinable!(dead_properties -> address_books (address_book_id));
diesel::joinable!(dead_properties -> contacts (contact_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    credentials,
    address_books,
    contacts,
    contact_emails,
    contact_phones,
    contact_addresses,
    group_members,
    changes,
    dead_properties,
);
